"""Ingestion: files → Documents → Chunks → vectors → store, and reindexing from stored texts.

Every file is loaded and chunked before anything is written, so a bad file fails alone and
leaves the store untouched. A document is registered only after all its chunks are written
under deterministic ids, so an interrupted run can simply be run again: nothing is duplicated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from assistant.chunking import chunk_document
from assistant.documents import Chunk, Document
from assistant.loading import LoadError, discover, load_document
from assistant.settings import Settings
from assistant.store import Store, StoredDocument

Status = Literal["added", "unchanged", "replaced", "failed"]
Progress = Callable[[int, int, str], None]
"""Called as progress(done, total, message) while chunks are embedded and stored."""


@dataclass(frozen=True)
class AddResult:
    """The outcome of adding one file, as users see it in the CLI and the documents tab."""

    path: str
    doc_id: str | None
    status: Status
    reason: str = ""
    title: str = ""
    chunks: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Pending:
    path: str
    document: Document
    chunks: list[Chunk]
    content_hash: str
    replaces: list[StoredDocument] = field(default_factory=list)

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
) -> list[AddResult]:
    """Add files and folders; one AddResult per file (or per path that could not be read).

    ``sources`` maps a path to the name recorded as its source (uploads keep the user's
    file name rather than a temporary path, so a re-upload replaces the earlier version).
    """
    files, errors = discover(paths)
    results = [AddResult(e.path, None, "failed", e.reason) for e in errors]
    pending: list[_Pending] = []
    for path in files:
        outcome = _prepare(store, settings, path, (sources or {}).get(str(path)), pending)
        if isinstance(outcome, AddResult):
            results.append(outcome)
        else:
            pending.append(outcome)
    total = sum(len(p.chunks) for p in pending)
    done = 0
    for item in pending:
        results.append(_store_one(store, settings, item, done, total, progress))
        done += len(item.chunks)
    position = {str(f): i for i, f in enumerate(files)}  # results in the order of the files found
    return sorted(results, key=lambda r: position.get(r.path, -1))


def _prepare(store: Store, settings: Settings, path: Path, source: str | None,
             pending: list[_Pending]) -> _Pending | AddResult:
    """Load and chunk one file and decide what adding it means, writing nothing."""
    try:
        document = load_document(path, max_mb=settings.max_file_mb, source=source)
    except LoadError as exc:
        return AddResult(str(path), None, "failed", exc.reason)
    digest = content_hash(document.text)
    twin = store.find(content_hash=digest) or [p for p in pending if p.content_hash == digest]
    if twin:
        other = twin[0]
        where = other.source if isinstance(other, StoredDocument) else other.path
        reason = "already stored" if where == document.source else f"same content as {where}, already stored"
        return AddResult(str(path), digest[:16], "unchanged", reason, document.title)
    chunks = chunk_for(document, settings)
    if not chunks:
        return AddResult(str(path), None, "failed", "no text to index after chunking")
    replaces = [d for d in store.find(source=document.source) if d.content_hash != digest]
    return _Pending(str(path), document, chunks, digest, replaces)


def _store_one(store: Store, settings: Settings, item: _Pending, done: int, total: int,
               progress: Progress | None) -> AddResult:
    try:
        write_document(store, settings, item.doc_id, item.document, item.chunks, item.content_hash,
                       progress=progress, done=done, total=total)
    except Exception as exc:  # one document's failure must not stop the batch
        store.delete_chunks(item.doc_id)
        return AddResult(item.path, None, "failed", f"could not embed or store: {exc}", item.document.title)
    for old in item.replaces:
        store.delete_document(old.doc_id)
    status: Status = "replaced" if item.replaces else "added"
    reason = f"replaced {', '.join(d.doc_id for d in item.replaces)}" if item.replaces else ""
    return AddResult(item.path, item.doc_id, status, reason, item.document.title, len(item.chunks))


def write_document(store: Store, settings: Settings, doc_id: str, document: Document, chunks: Sequence[Chunk],
                   digest: str, *, progress: Progress | None = None, done: int = 0, total: int = 0,
                   added_at: str | None = None) -> None:
    """Embed in batches and write chunks, then register the document (the commit point)."""
    store.delete_chunks(doc_id)  # leftovers of an interrupted run
    batch = settings.embedding_batch_size
    parts: list[np.ndarray] = []
    for lo in range(0, len(chunks), batch):
        parts.append(store.embedder.encode([c.text for c in chunks[lo:lo + batch]]))
        if progress:
            progress(done + min(lo + batch, len(chunks)), total or len(chunks), document.title)
    store.write_chunks(doc_id, document, chunks, np.concatenate(parts))
    store.commit_document(doc_id, document, digest, len(chunks), added_at=added_at)


def reindex(store: Store, settings: Settings, *, progress: Progress | None = None) -> int:
    """Rebuild every chunk from the stored texts with the current chunking and embedding settings."""
    stored = store.documents()
    plans = [(d, store.load(d.doc_id)) for d in stored]
    chunked = [(d, doc, chunk_for(doc, settings)) for d, doc in plans]
    total = sum(len(c) for _, _, c in chunked)
    store.reset_vectors()
    done = 0
    for entry, document, chunks in chunked:
        write_document(store, settings, entry.doc_id, document, chunks, entry.content_hash,
                       progress=progress, done=done, total=total, added_at=entry.added_at)
        done += len(chunks)
    return total
