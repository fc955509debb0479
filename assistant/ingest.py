"""Ingestion: files → Documents → Chunks → vectors → store, and reindexing from stored texts.

Every file is loaded and chunked before anything is written, so a bad file fails alone and
leaves the store untouched. A document is embedded first, then written under the store's write
lock (see locking.py) and registered only after all its chunks are written under deterministic
ids; a process killed midway leaves its document marked pending, and the next writer removes
the debris, so an interrupted run can simply be run again: nothing is duplicated or half there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.chunking import chunk_document
from assistant.documents import AddResult, Chunk, Document, Status, StoredDocument
from assistant.embedding import embedding_text
from assistant.errors import LoadError, StoreBusy
from assistant.loading import OcrOptions, discover, load_document
from assistant.locking import Waiting
from assistant.metadata import annotate
from assistant.settings import Settings
from assistant.store import Store

Progress = Callable[[int, int, str], None]
"""Called as progress(done, total, message) while chunks are embedded and stored, and (a separate
callback, ``reading``) as reading(files done, files, file name) while files are read and chunked."""


@dataclass
class _Pending:
    path: str
    document: Document
    chunks: list[Chunk]
    content_hash: str

    @property
    def doc_id(self) -> str:
        return self.content_hash[:16]


def content_hash(text: str) -> str:
    """Identity of a document's content: the same text is the same document, whatever its file name."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def chunk_for(document: Document, settings: Settings) -> list[Chunk]:
    return chunk_document(document, max_chars_en=settings.chunk_chars_en, max_chars_zh=settings.chunk_chars_zh)


def add_paths(
    store: Store,
    settings: Settings,
    paths: Iterable[str | Path],
    *,
    progress: Progress | None = None,
    sources: dict[str, str] | None = None,
    waiting: Waiting | None = None,
    reading: Progress | None = None,
) -> list[AddResult]:
    """Add files and folders; one AddResult per file (or per path that could not be read).

    ``sources`` maps a path to the name recorded as its source (uploads keep the user's
    file name rather than a temporary path, so a re-upload replaces the earlier version).
    ``waiting`` is told when another process holds the store's write lock; ``reading`` before
    each file is read and chunked (a large PDF takes seconds before there is anything to embed).
    """
    files, errors = discover(paths)
    results = [AddResult(e.path, None, "failed", e.reason) for e in errors]
    pending: list[_Pending] = []
    for number, path in enumerate(files):
        name = (sources or {}).get(str(path)) or path.name
        if reading:
            reading(number, len(files), name)
        pages = _pages_read(reading, number, len(files), name)
        outcome = _prepare(store, settings, path, (sources or {}).get(str(path)), pending, pages)
        if isinstance(outcome, AddResult):
            results.append(outcome)
        else:
            pending.append(outcome)
    total = sum(len(p.chunks) for p in pending)
    done = 0
    busy: StoreBusy | None = None
    for item in pending:
        if busy is None:
            try:
                results.append(_store_one(store, settings, item, done, total, progress, waiting))
            except StoreBusy as exc:  # the rest would only wait as long again
                busy = exc
        if busy is not None:
            results.append(AddResult(item.path, None, "failed", str(busy), item.document.title))
        done += len(item.chunks)
    position = {str(f): i for i, f in enumerate(files)}  # results in the order of the files found
    return sorted(results, key=lambda r: position.get(r.path, -1))


def _pages_read(reading: Progress | None, number: int, files: int, name: str) -> Progress | None:
    """OCR's page-by-page progress, told as progress of reading the file (it takes seconds a page)."""
    if reading is None:
        return None
    return lambda done, total, _message: reading(number, files, f"{name} (OCR {done}/{total})")


def _prepare(store: Store, settings: Settings, path: Path, source: str | None,
             pending: list[_Pending], pages: Progress | None = None) -> _Pending | AddResult:
    """Load and chunk one file and decide what adding it means, writing nothing."""
    try:
        document = load_document(path, max_mb=settings.max_file_mb, max_pages=settings.max_pages, source=source,
                                 ocr=OcrOptions.from_settings(settings), progress=pages)
    except LoadError as exc:
        return AddResult(str(path), None, "failed", exc.reason)
    document = annotate(document)  # date, year, kind, issuer, each with where it was read (metadata.py)
    digest = content_hash(document.text)
    twin = store.find(content_hash=digest) or [p for p in pending if p.content_hash == digest]
    if twin:
        other = twin[0]
        where = other.source if isinstance(other, StoredDocument) else other.path
        return _unchanged(str(path), digest[:16], document, where)
    chunks = chunk_for(document, settings)
    if not chunks:
        return AddResult(str(path), None, "failed", "no text to index after chunking")
    return _Pending(str(path), document, chunks, digest)


def _unchanged(path: str, doc_id: str, document: Document, stored_as: str) -> AddResult:
    reason = "already stored" if stored_as == document.source else f"same content as {stored_as}, already stored"
    return AddResult(path, doc_id, "unchanged", reason, document.title)


def _store_one(store: Store, settings: Settings, item: _Pending, done: int, total: int,
               progress: Progress | None, waiting: Waiting | None) -> AddResult:
    """Embed without the lock, then write under it, re-checking what another process may have added meanwhile."""
    title = item.document.title
    try:
        vectors = embed_chunks(store, settings, item.document, item.chunks, progress=progress, done=done, total=total)
    except Exception as exc:  # one document's failure must not stop the batch
        return AddResult(item.path, None, "failed", f"could not embed: {exc}", title)
    with store.writing("add documents", waiting):
        twin = store.find(content_hash=item.content_hash)
        if twin:  # another process stored the same text while this one was embedding
            return _unchanged(item.path, item.doc_id, item.document, twin[0].source)
        replaces = [d.doc_id for d in store.find(source=item.document.source) if d.content_hash != item.content_hash]
        try:
            store.put_document(item.doc_id, item.document, item.chunks, vectors, item.content_hash, replaces=replaces)
        except Exception as exc:
            store.recover()
            return AddResult(item.path, None, "failed", f"could not store: {exc}", title)
    status: Status = "replaced" if replaces else "added"
    notes = ([f"replaced {', '.join(replaces)}"] if replaces else []) + list(item.document.metadata.get("warnings", []))
    reason = "; ".join(notes)  # pages OCR could not read are named here
    return AddResult(item.path, item.doc_id, status, reason, title, len(item.chunks))


def embed_chunks(store: Store, settings: Settings, document: Document, chunks: Sequence[Chunk], *,
                 progress: Progress | None = None, done: int = 0, total: int = 0) -> np.ndarray:
    """Vectors of ``chunks`` in batches, reporting progress after each batch.

    Each chunk is embedded under its document's title and its heading (``embedding_text``): a
    chunk rarely names its own law or report, and a question often does. What is stored, cited
    and shown stays the chunk's exact text.
    """
    batch = settings.embedding_batch_size
    parts: list[np.ndarray] = []
    for lo in range(0, len(chunks), batch):
        texts = [embedding_text(document.title, c.heading_path, c.text) if settings.index_context else c.text
                 for c in chunks[lo:lo + batch]]
        parts.append(store.embedder.encode(texts))
        if progress:
            progress(done + min(lo + batch, len(chunks)), total or len(chunks), document.title)
    return np.concatenate(parts)


def reindex(store: Store, settings: Settings, *, progress: Progress | None = None,
            waiting: Waiting | None = None) -> int:
    """Rebuild every chunk from the stored texts with the current chunking and embedding settings.

    The new index is built beside the one in use, which keeps answering questions until the
    switch (Store.rebuilding). Holds the write lock throughout: other writers wait meanwhile.
    Dates, kinds and issuers are read again with the current rules (a store filled before them gets
    them now), the user's corrections kept; the registry takes the new values after the switch.
    """
    with store.writing("re-index", waiting):
        stored = store.documents()
        loaded = {d.doc_id: store.load(d.doc_id) for d in stored}
        annotated = {doc_id: annotate(document) for doc_id, document in loaded.items()}  # corrections kept
        chunked = [(d, annotated[d.doc_id], chunk_for(annotated[d.doc_id], settings)) for d in stored]
        total = sum(len(c) for _, _, c in chunked)
        done = 0
        with store.rebuilding() as write:
            for entry, document, chunks in chunked:
                vectors = embed_chunks(store, settings, document, chunks, progress=progress, done=done, total=total)
                write(entry.doc_id, document, chunks, vectors)
                done += len(chunks)
        store.update_metadata({doc_id: document for doc_id, document in annotated.items()
                               if document != loaded[doc_id]})
        return total
