"""The Store: documents and their embedded chunks in Chroma, read and written by any process.

Chroma is the single source of truth. The registry keeps each document's full text (so
``reindex`` can rebuild every chunk without the original files) and its metadata; the chunk
collection records which embedding model filled it (identity.py). Writes hold the store's
write lock (locking.py), are journaled (journal.py) and move the revision stamp (revisions.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import chromadb
import numpy as np

from assistant.documents import Chunk, Document, PageSpan, Passage, StoredDocument
from assistant.embedding import Embedder
from assistant.errors import ReadOnlyStore, UnknownDocument
from assistant.settings import Settings
from assistant.store.connection import connection_for, uses_chroma
from assistant.store.identity import CollectionIdentity
from assistant.store.journal import Journal
from assistant.store.records import (
    UNIT_VECTOR,
    chunk_from,
    chunk_id,
    chunk_metadata,
    passage_from,
    read_pages,
    stored_document,
)
from assistant.store.reindex import Reindexing
from assistant.store.revisions import Revisions, first_revision

if TYPE_CHECKING:
    from assistant.locking import Waiting, WriteLock


def require_writable(settings: Settings, action: str) -> None:
    """Refuse ``action`` (e.g. "add documents") when the settings make the assistant read-only."""
    if settings.read_only:
        raise ReadOnlyStore(f"cannot {action}: this assistant is read-only (unset ASSISTANT_READ_ONLY to allow writes)")


class Store(CollectionIdentity, Revisions, Journal, Reindexing):
    """Chunks and documents in Chroma; the mixins hold identity, revisions, the journal and re-indexing."""

    def __init__(self, settings: Settings, embedder: Embedder, *, check_model: bool = True) -> None:
        self.settings = settings
        self.embedder = embedder
        self.docs_name = f"{settings.collection}_docs"
        self.chunks_name = f"{settings.collection}_chunks"  # until the registry names another (after a reindex)
        self._connection = connection_for(settings)
        self._generation = -1
        self._marked_used = False
        with self._connection.gate.shared():
            self._rebind()
        self.lock = self._make_lock()
        if check_model:
            self.check_model()

    def _rebind(self) -> None:
        """Collections of the connection's current client (after another process's write reopened it)."""
        if self._generation == self._connection.generation:
            return
        self.client = self._connection.client
        self.registry = self.client.get_or_create_collection(self.docs_name, embedding_function=None,
                                                             metadata={"revision": first_revision()})
        meta = self._registry_meta()
        first = self._generation < 0
        if first and self.docs_name not in self._connection.known:
            self._connection.note(self.docs_name, str(meta.get("revision", "")))  # the view opened at this state
        self._generation = self._connection.generation
        if first:
            self.chunks_name = str(meta.get("chunks") or self.chunks_name)
            self.collection = self._open_chunks(self.chunks_name)
        else:
            self._follow(meta, reopened=True)

    def _follow(self, meta: dict[str, Any], *, reopened: bool = False) -> None:
        """Switch to the chunk collection the registry names, if a reindex (here or elsewhere) replaced it.

        It is opened, never created: a name read just before a reindex retired it must not come
        back as an empty collection. A reindex with another embedding model makes this process's
        questions unanswerable, which is said as such.
        """
        active = str(meta.get("chunks") or self.chunks_name)
        if active != self.chunks_name or reopened:
            self.collection = self._open_chunks(active, create=False)
        if active != self.chunks_name:
            self.chunks_name = active
            self._check_identity()

    def _make_lock(self) -> WriteLock:
        from assistant.locking import LocalWriteLock, ServerWriteLock

        if self.settings.server_mode:
            return ServerWriteLock(self.client, f"{self.settings.collection}_writelock")
        return LocalWriteLock(self.settings.data_dir)

    @contextmanager
    def writing(self, action: str, waiting: Waiting | None = None) -> Iterator[None]:
        """Hold the store's write lock for ``action``, with a view that includes every earlier write.

        On taking the lock, a write a dead process left half done (marked pending) is finished or
        undone first, so nothing half-ingested survives a crash. The client is reopened before that
        repair: the dead writer may have changed the store without moving the revision stamp, and
        writing from a stale embedded view would save its index over the dead writer's vectors.
        """
        with self.lock.hold(action, self.settings.write_lock_timeout, waiting):
            self.revision()
            if self._pending():
                self._connection.reopen()
                self.recover()
            yield

    def refresh(self) -> None:
        """Reopen an embedded store's client now (after a read found chunks its view did not have)."""
        self._connection.reopen()

    # --- writing -----------------------------------------------------------------
    @uses_chroma
    def write_chunks(self, doc_id: str, document: Document, chunks: Sequence[Chunk],
                     vectors: np.ndarray | Sequence[Sequence[float]]) -> None:
        """Upsert chunks under deterministic ids, in batches under Chroma's limit.

        ``vectors`` may be a float32 matrix (what the embedders return): it goes to Chroma as is,
        without a detour through Python lists of floats.
        """
        self._upsert(self.collection, doc_id, document, chunks, vectors)

    def _upsert(self, collection: chromadb.Collection, doc_id: str, document: Document, chunks: Sequence[Chunk],
                vectors: np.ndarray | Sequence[Sequence[float]]) -> None:
        matrix = np.asarray(vectors, dtype=np.float32)
        if len(matrix) != len(chunks):
            raise ValueError(f"{len(chunks)} chunks but {len(matrix)} vectors")
        ids = [chunk_id(doc_id, c.index) for c in chunks]
        metas = [chunk_metadata(doc_id, document, c) for c in chunks]
        texts = [c.text for c in chunks]
        step = self.client.get_max_batch_size()
        for lo in range(0, len(chunks), step):
            hi = lo + step
            collection.upsert(ids=ids[lo:hi], documents=texts[lo:hi], metadatas=metas[lo:hi], embeddings=matrix[lo:hi])

    @uses_chroma
    def commit_document(self, doc_id: str, document: Document, content_hash: str, n_chunks: int,
                        added_at: str | None = None) -> None:
        """Register the document last, so a crash mid-ingestion leaves it unregistered and re-runnable."""
        metadata = {
            "title": document.title,
            "source": document.source,
            "language": document.language,
            "content_hash": content_hash,
            "chunks": n_chunks,
            "added_at": added_at or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "extra": json.dumps(document.metadata, ensure_ascii=False, default=str),
            "pages": json.dumps([[p.number, p.start, p.end] for p in document.pages]),
        }
        self.registry.upsert(ids=[doc_id], documents=[document.text], metadatas=[metadata], embeddings=[UNIT_VECTOR])
        self._bump_revision()
        self.mark_used()

    @uses_chroma
    def put_document(self, doc_id: str, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray,
                     content_hash: str, *, added_at: str | None = None,
                     replaces: Sequence[str] = ()) -> None:
        """Write a document's chunks, register it, then delete the versions it replaces (write lock held).

        The write is marked pending throughout, so if this process dies at any step the next
        writer finishes (registered) or undoes (not registered) exactly this document.
        """
        self._set_pending(add=doc_id, drop=list(replaces))
        self.delete_chunks(doc_id)  # leftovers of an earlier interrupted run
        self.write_chunks(doc_id, document, chunks, vectors)
        self.lock.ensure_held()  # a server lease lost meanwhile: stop before the commit point
        self.commit_document(doc_id, document, content_hash, len(chunks), added_at=added_at)
        for old in replaces:
            self._drop(old)
        self._set_pending()

    @uses_chroma
    def rewrite_document(self, doc_id: str, document: Document, chunks: Sequence[Chunk],
                         vectors: np.ndarray) -> StoredDocument:
        """Give a registered document new metadata (title, date, kind...), in its registry entry and in every chunk.

        For a user's correction (write lock held). The chunks keep their ids, texts and boundaries
        (``stored_chunks``); their metadata, and ``vectors``, are written in place. The write is marked
        pending until the registry, the commit point, holds the new metadata: if this process dies
        midway, the next writer rewrites the chunks from whatever the registry then holds (``recover``).
        The ``updated_at`` stamp tells derived indexes (keyword search) that the document changed.
        """
        self.get(doc_id)  # an unknown id is an error before anything is written
        self.lock.ensure_held()
        self._set_pending(refresh=doc_id)
        self.write_chunks(doc_id, document, chunks, vectors)
        self.lock.ensure_held()  # a server lease lost meanwhile: stop before the commit point
        self._register_metadata({doc_id: document}, updated_at=f"{time.time():.6f}")  # two in a second differ
        self._set_pending()
        return self.get(doc_id)

    @uses_chroma
    def update_metadata(self, documents: Mapping[str, Document]) -> None:
        """Write the title and metadata of registered documents (write lock held), e.g. after a re-index read
        their dates and kinds again; one revision bump for them all. Their chunks are the caller's to write."""
        self.lock.ensure_held()
        if documents:
            self._register_metadata(documents)

    def _register_metadata(self, documents: Mapping[str, Document], **extra: str) -> None:
        """Registry entries' title and metadata (each entry one write, so each is old or new, never half)."""
        for doc_id, document in documents.items():
            self.registry.update(ids=[doc_id], metadatas=[{
                "title": document.title,
                "extra": json.dumps(document.metadata, ensure_ascii=False, default=str),
                **extra,
            }])
        self._bump_revision()

    @uses_chroma
    def stored_chunks(self, doc_id: str, title: str) -> tuple[list[Chunk], np.ndarray]:
        """A document's chunks as stored (by index) with their vectors, each headed by ``title``.

        What a metadata rewrite writes back: the same cuts and texts, the title in the heading path
        that every chunk starts with (chunking.py), and the vectors to keep or to replace.
        """
        found = {key: (text, meta, vector) for page in read_pages(self.collection, ["documents", "metadatas",
                                                                                    "embeddings"],
                                                                  where={"doc_id": doc_id})
                 for key, text, meta, vector in zip(page["ids"], page["documents"], page["metadatas"],
                                                    page["embeddings"], strict=True)}
        keys = sorted(found)
        chunks = []
        for key in keys:
            chunk = chunk_from(passage_from(key, found[key][0], found[key][1], 0.0))
            chunks.append(replace(chunk, heading_path=(title, *chunk.heading_path[1:])))
        vectors = np.asarray([found[key][2] for key in keys], dtype=np.float32).reshape(len(keys), -1)
        return chunks, vectors

    @uses_chroma
    def recover(self) -> None:
        """Journal.recover, plus a metadata rewrite left half done: its chunks take the registry's metadata.

        The registry entry is either the old one or the new one (its update is a single write), so
        every chunk ends as it says; a title rewrite may leave some vectors embedded under the old
        title, which still find the chunk's own text (``assistant reindex`` re-embeds them all).
        """
        refreshed = self._pending().get("refresh")
        if refreshed and self.registry.get(ids=[refreshed], include=[])["ids"]:
            document = self.load(refreshed)
            chunks, vectors = self.stored_chunks(refreshed, document.title)
            self.write_chunks(refreshed, document, chunks, vectors)
        super().recover()

    @uses_chroma
    def delete_chunks(self, doc_id: str) -> None:
        self.collection.delete(where={"doc_id": doc_id})

    @uses_chroma
    def delete_document(self, doc_id: str) -> StoredDocument:
        """Delete a document and all its chunks (write lock held); unknown ids are an error, not a no-op."""
        stored = self.get(doc_id)
        self.lock.ensure_held()
        self._set_pending(drop=[doc_id])
        self._drop(doc_id)
        self._set_pending()
        return stored

    def _drop(self, doc_id: str) -> None:
        """Unregister first (it disappears from answers at once), then delete its chunks; both idempotent."""
        self.registry.delete(ids=[doc_id])
        self._bump_revision()
        self.delete_chunks(doc_id)

    @uses_chroma
    def delete_all(self) -> None:
        """Delete the registry and the chunk collection (write lock held): a benchmark index rebuilt from
        scratch. Through Chroma, because deleting its files under a live client leaves a stale database;
        the Store is not usable afterwards."""
        self.lock.ensure_held()
        for name in (self.chunks_name, self.docs_name):
            self.client.delete_collection(name)

    # --- reading -----------------------------------------------------------------
    @uses_chroma
    def get(self, doc_id: str) -> StoredDocument:
        result = self.registry.get(ids=[doc_id], include=["metadatas"])
        if not result["ids"]:
            raise UnknownDocument(f"unknown document id {doc_id!r}; `assistant list` shows the stored ones")
        return stored_document(result["ids"][0], result["metadatas"][0])

    @uses_chroma
    def text_of(self, doc_id: str) -> str:
        result = self.registry.get(ids=[doc_id], include=["documents"])
        if not result["ids"]:
            raise UnknownDocument(f"unknown document id {doc_id!r}")
        return result["documents"][0]

    @uses_chroma
    def load(self, doc_id: str) -> Document:
        """Rebuild the Document from the registry (reindex needs no original file)."""
        result = self.registry.get(ids=[doc_id], include=["documents", "metadatas"])
        if not result["ids"]:
            raise UnknownDocument(f"unknown document id {doc_id!r}")
        meta = result["metadatas"][0]
        spans = tuple(PageSpan(*p) for p in json.loads(str(meta.get("pages") or "[]")))
        return Document(text=result["documents"][0], source=str(meta["source"]), title=str(meta["title"]),
                        language=str(meta["language"]), metadata=json.loads(str(meta.get("extra") or "{}")),
                        pages=spans)

    @uses_chroma
    def known_ids(self, doc_ids: Iterable[str]) -> set[str]:
        """Which of ``doc_ids`` are registered: one lookup by id, without reading every entry."""
        return {i for page in read_pages(self.registry, [], ids=list(dict.fromkeys(doc_ids))) for i in page["ids"]}

    @uses_chroma
    def document_stamps(self) -> dict[str, str]:
        """Every registered document id with the time it was added (metadata only, in pages).

        A document's chunks never change while it stays registered but by a metadata rewrite, which
        stamps ``updated_at``, so (id, that time) pairs are enough for a derived index to find what
        came, went or changed since it last looked.
        """
        return {i: str(m.get("updated_at") or m.get("added_at", ""))
                for page in read_pages(self.registry, ["metadatas"])
                for i, m in zip(page["ids"], page["metadatas"], strict=True)}

    @uses_chroma
    def documents(self) -> list[StoredDocument]:
        result = self.registry.get(include=["metadatas"])
        docs = [stored_document(i, m) for i, m in zip(result["ids"], result["metadatas"], strict=True)]
        return sorted(docs, key=lambda d: (d.added_at, d.title))

    @uses_chroma
    def find(self, **equals: str) -> list[StoredDocument]:
        """Registry entries whose metadata equal the given values (content_hash=..., source=...)."""
        where: dict[str, Any] = {k: v for k, v in equals.items()}
        if len(where) > 1:
            where = {"$and": [{k: v} for k, v in equals.items()]}
        result = self.registry.get(where=where, include=["metadatas"])
        return [stored_document(i, m) for i, m in zip(result["ids"], result["metadatas"], strict=True)]

    @uses_chroma
    def count_chunks(self) -> int:
        return self.collection.count()

    @uses_chroma
    def is_new(self) -> bool:
        """True until the first document is added: a store emptied by its users stays empty."""
        return not self._registry_meta().get("used") and self.registry.count() == 0

    @uses_chroma
    def mark_used(self) -> None:
        """Record that documents were added once (a flag that is never unset, so written once per Store)."""
        if not self._marked_used:
            self._update_registry_meta(used=True)
            self._marked_used = True

    @uses_chroma
    def nearest(self, vector: Sequence[float] | np.ndarray, k: int,
                where: dict[str, Any] | None = None) -> list[tuple[str, float]]:
        """(chunk id, cosine similarity) of the ``k`` nearest chunks, best first, without texts or metadata.

        Reading texts and metadata is most of a Chroma query's cost (100k chunks, 50 hits: 1.9 ms
        p50 for ids and distances, 9.5 ms with them, bench/retrieve_breakdown.py); retrieval needs
        them only for the passages it returns. No count() first: an empty collection simply yields
        no hits, and in server mode every extra call is a network round trip on the query path.
        """
        query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
        result = self.collection.query(query_embeddings=query, n_results=k, where=where, include=["distances"])
        return [(chunk, 1.0 - float(distance))
                for chunk, distance in zip(result["ids"][0], result["distances"][0], strict=True)]

    @uses_chroma
    def fetch(self, ids: Sequence[str], include: Any) -> dict[str, Any]:
        """Chunks by id with the fields in ``include`` (texts, metadata, embeddings), in one call."""
        return self.collection.get(ids=list(ids), include=include)

    @uses_chroma
    def ids_where(self, where: dict[str, Any]) -> list[str]:
        """Ids of the chunks a metadata filter allows (no texts read)."""
        return [i for page in read_pages(self.collection, [], where=where) for i in page["ids"]]

    @uses_chroma
    def get_chunks(self, where: dict[str, Any] | None = None, ids: Iterable[str] | None = None) -> list[Passage]:
        """Chunks by filter or id, score 0 (for the keyword index and for showing a passage)."""
        found = read_pages(self.collection, ["documents", "metadatas"], where=where,
                           ids=None if ids is None else list(ids))
        return [passage_from(i, t, m, 0.0) for page in found
                for i, t, m in zip(page["ids"], page["documents"], page["metadatas"], strict=True)]
