"""Chroma storage: one collection of embedded chunks and one registry of whole documents.

Chroma is the single source of truth. The registry keeps each document's full text (so
``reindex`` can rebuild every chunk without the original files) and its metadata; the
chunk collection records which embedding model filled it, so a model change can never
silently mix vector spaces. Both work the same on an embedded folder and a Chroma server.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma

from assistant.documents import Chunk, Document, Passage
from assistant.embedding import Embedder
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.locking import Waiting, WriteLock

log = logging.getLogger(__name__)
T = TypeVar("T")

_UNIT_VECTOR = [1.0]  # the registry is looked up by id and filter only, never by similarity
_KNOWN_STAMPS = 256  # revision stamps a process remembers having seen or written (see _Connection.observe)
READ_PAGE = 5000  # records per read: under SQLite's variable limit, and bounded responses from a server


class StoreError(RuntimeError):
    """A store problem users can act on; the message says what to do."""


class EmbeddingMismatch(StoreError):
    """The index was built with another embedding model than the settings ask for."""


class ReadOnlyStore(StoreError):
    """A write asked of an assistant configured read-only."""


def require_writable(settings: Settings, action: str) -> None:
    """Refuse ``action`` (e.g. "add documents") when the settings make the assistant read-only."""
    if settings.read_only:
        raise ReadOnlyStore(f"cannot {action}: this assistant is read-only (unset ASSISTANT_READ_ONLY to allow writes)")


class StoreBusy(StoreError):
    """Another process kept the store's write lock past the wait allowed."""


class UnknownDocument(StoreError, KeyError):
    """A document id that is not in the store."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class StoredDocument:
    """A registry entry: what the documents table and ``assistant list`` show."""

    doc_id: str
    title: str
    source: str
    language: str
    chunks: int
    added_at: str
    content_hash: str
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "language": self.language,
            "chunks": self.chunks,
            "added_at": self.added_at,
            "metadata": self.metadata,
        }


def make_client(settings: Settings) -> chromadb.ClientAPI:
    """An HTTP client for a configured server, else a persistent client on the data folder."""
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.server_mode:
        try:
            return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        except Exception as exc:  # connection errors come in many types
            raise StoreError(
                f"cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} ({exc}); "
                "start it with `chroma run` or unset ASSISTANT_CHROMA_HOST to use the embedded store"
            ) from exc
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma_settings)


class _Gate:
    """Many Chroma calls at once, or one reopening of the client once they have finished.

    Reopening closes the old client, and a call still running on it would fail; calls made
    by a thread inside another call (nested) do not count twice, so they never wait on themselves.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._users = 0
        self._local = threading.local()

    @contextmanager
    def shared(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if not depth:
            with self._cond:
                self._users += 1
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if not depth:
                with self._cond:
                    self._users -= 1
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0):
            raise RuntimeError("a Chroma call cannot reopen the client it is running on")
        with self._cond:
            self._cond.wait_for(lambda: self._users == 0)
            yield


class _Connection:
    """The Chroma client of one data folder (or server), shared by every Store of the process.

    Embedded Chroma loads a collection's vector index once per process and never re-reads it:
    after another process writes, searches here miss its chunks, and this process's next write
    saves its stale index over the other's (measured: 3,800 chunks stored, 2,800 searchable).
    So when a collection's revision stamp moves without this process having moved it, the
    client is closed and reopened, which reloads every index from disk. A server has one
    index for all clients, so server connections never reopen.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = make_client(settings)
        self.generation = 0
        self.gate = _Gate()
        self.known: dict[str, dict[str, None]] = {}  # registry -> stamps this process saw or wrote (oldest first)
        self._reopening = threading.Lock()

    def note(self, collection: str, stamp: str) -> None:
        """Record a stamp this process's view already holds (its own write, or the state after a reopen).

        Several are remembered, not just the latest: a reader that read the stamp just before this
        process's own write must not take that older stamp for news from another process.
        """
        stamps = self.known.setdefault(collection, {})
        stamps[stamp] = None
        while len(stamps) > _KNOWN_STAMPS:
            del stamps[next(iter(stamps))]

    def observe(self, collection: str, stamp: str) -> None:
        """Reopen the embedded client if ``stamp`` shows a write this process has not seen."""
        if collection not in self.known or self.settings.server_mode:
            self.note(collection, stamp)  # the view was opened at this state (or a server has one index)
            return
        if stamp in self.known[collection]:
            return
        self.reopen()
        self.note(collection, stamp)

    def reopen(self) -> None:
        """A fresh embedded client, once the calls in flight on the old one have finished (no-op for a server)."""
        if self.settings.server_mode:
            return
        with self._reopening, self.gate.exclusive():
            self.client.close()
            self.client = make_client(self.settings)
            self.generation += 1


_connections: dict[str, _Connection] = {}
_connections_lock = threading.Lock()


def _connection_for(settings: Settings) -> _Connection:
    """One shared connection per embedded folder; a fresh one per Store for a server."""
    if settings.server_mode:
        return _Connection(settings)
    key = str((settings.data_dir / "chroma").resolve())
    with _connections_lock:
        if key not in _connections:
            _connections[key] = _Connection(settings)
        return _connections[key]


def _uses_chroma(method: Callable[..., T]) -> Callable[..., T]:
    """Run a Store method on the current client, never on one being reopened."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> T:
        with self._connection.gate.shared():
            self._rebind()
            return method(self, *args, **kwargs)

    return wrapper


class Store:
    """Chunks and documents in Chroma, through langchain-chroma for the vector side."""

    def __init__(self, settings: Settings, embedder: Embedder, *, check_model: bool = True) -> None:
        self.settings = settings
        self.embedder = embedder
        self.docs_name = f"{settings.collection}_docs"
        self.chunks_name = f"{settings.collection}_chunks"  # until the registry names another (after a reindex)
        self._connection = _connection_for(settings)
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
                                                             metadata={"revision": _first_revision()})
        meta = self._registry_meta()
        first = self._generation < 0
        if first and self.docs_name not in self._connection.known:
            self._connection.note(self.docs_name, str(meta.get("revision", "")))  # the view opened at this state
        self._generation = self._connection.generation
        if first:
            self.chunks_name = str(meta.get("chunks") or self.chunks_name)
            self.vectors = self._open_vectors(self.chunks_name)
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
            self.vectors = self._open_vectors(active, create=False)
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

    # --- collection identity -------------------------------------------------------
    def _identity(self) -> dict[str, Any]:
        return {
            "embedding_backend": self.embedder.backend,
            "embedding_model": self.embedder.model,
            "embedding_dim": self.embedder.dim,
        }

    def _open_vectors(self, name: str, *, create: bool = True) -> Chroma:
        return Chroma(
            client=self.client,
            collection_name=name,
            embedding_function=self.embedder,
            collection_metadata=self._identity(),
            collection_configuration={"hnsw": {"space": "cosine"}},
            create_collection_if_not_exists=create,
        )

    @property
    def collection(self) -> chromadb.Collection:
        return self.vectors._collection

    @_uses_chroma
    def indexed_with(self) -> dict[str, Any]:
        """The identity recorded on the chunk collection (fresh from Chroma)."""
        metadata = self.client.get_collection(self.chunks_name).metadata or {}
        return {key: metadata.get(key) for key in self._identity()}

    @_uses_chroma
    def check_model(self) -> None:
        """Refuse to mix vector spaces: the index must have been built with the current model."""
        self._check_identity()

    def _check_identity(self) -> None:
        recorded = self.indexed_with()
        wanted = self._identity()
        if recorded != wanted:
            raise EmbeddingMismatch(
                f"the index in '{self.chunks_name}' was built with {recorded['embedding_backend']}:"
                f"{recorded['embedding_model']} ({recorded['embedding_dim']} dims) but the settings ask for "
                f"{self.embedder.label} ({self.embedder.dim} dims); run `assistant reindex` to rebuild it "
                "from the stored texts, or change the embedding settings back"
            )

    def revision(self) -> str:
        """A stamp that changes whenever a document is committed or deleted, by any process.

        Its first part (``epoch_of``) changes only when a reindex switches to a new chunk collection,
        so a reader can tell documents coming and going (same epoch) from a rebuilt index.
        It lives in the registry's metadata beside the name of the active chunk collection: one read
        gives both. Reading it also keeps this process's view current: the chunk collection a
        reindex switched to, and an embedded store's indexes after another process wrote
        (see ``_Connection``).
        """
        with self._connection.gate.shared():
            self._rebind()
            meta = self._registry_meta()
            self._follow(meta)
        stamp = str(meta.get("revision", ""))
        self._connection.observe(self.docs_name, stamp)
        return stamp

    def _bump_revision(self) -> None:
        """A new stamp in the same epoch: documents came or went."""
        epoch = epoch_of(str(self._registry_meta().get("revision", "")))
        self._update_registry_meta(revision=f"{epoch}/{_new_revision()}")

    # --- crash recovery ------------------------------------------------------------------
    def _registry_meta(self) -> dict[str, Any]:
        """The registry's own metadata: revision stamp, active chunk collection, pending write, used flag."""
        metadata = dict(self.client.get_collection(self.docs_name).metadata or {})
        metadata.pop("hnsw:space", None)
        return metadata

    def _update_registry_meta(self, **changes: Any) -> None:
        """Change some keys of the registry's metadata in one write (Chroma's modify replaces it whole).

        Only the write-lock holder calls this, so reading and writing back loses nobody's change.
        """
        metadata = {**self._registry_meta(), **changes}
        self.registry.modify(metadata=metadata)
        if "revision" in changes:
            self._connection.note(self.docs_name, str(metadata["revision"]))

    def _set_pending(self, **mark: Any) -> None:
        """Record the write under way (nothing: none), so the next writer can repair it if this process dies.

        Marks: ``add`` (a document being written) with ``drop`` (the versions it replaces); ``drop``
        alone (documents being removed); ``rebuild`` (a reindex's new collection, before its switch);
        ``switched`` (the collection a finished switch retires).
        """
        self._update_registry_meta(pending=_pending_mark(**mark))

    @_uses_chroma
    def _pending(self) -> dict[str, Any]:
        raw = str(self._registry_meta().get("pending") or "")
        return json.loads(raw) if raw.startswith("{") else {}

    @_uses_chroma
    def recover(self) -> None:
        """Finish or undo the write a dead process left pending (called with the write lock held).

        A document being added stays if it was registered (the versions it replaces are then
        dropped) and its chunks go if it was not; documents being removed are removed; a reindex
        is undone before its switch and finished after it. The revision moves on afterwards, so
        every reader re-reads what changed.
        """
        mark = self._pending()
        if not mark:
            return
        added = mark.get("add")
        if "rebuild" in mark:
            self._drop_collection(str(mark["rebuild"]))
        elif "switched" in mark:
            counts = Counter(doc_id_of(i) for page in _pages(self.collection, []) for i in page["ids"])
            self._retire(str(mark["switched"]), counts)
        elif added and not self.registry.get(ids=[added], include=[])["ids"]:
            self.delete_chunks(added)  # never committed: its chunks are debris
        else:
            for doc_id in mark.get("drop", []):
                self._drop(doc_id)
        log.warning("repaired a write interrupted by the end of its process: %s", mark)
        self._set_pending()
        self._bump_revision()

    # --- rebuilding the chunk index (reindex) ----------------------------------------------
    @contextmanager
    def rebuilding(self) -> Iterator[Callable[[str, Document, Sequence[Chunk], np.ndarray], None]]:
        """A new chunk collection for the current model, filled by the caller, switched to in one write.

        Yields ``write(doc_id, document, chunks, vectors)``. Searches keep using the current
        collection until the block ends; then a single registry write makes the new one current.
        If the block fails, or its process dies, the current index is untouched (the next writer
        drops the partial one). Called with the write lock held.
        """
        name = f"{self.settings.collection}_chunks_{uuid.uuid4().hex[:8]}"
        with self._connection.gate.shared():
            self._rebind()
            self._set_pending(rebuild=name)
            staging = self._open_vectors(name)._collection
        counts: dict[str, int] = {}

        def write(doc_id: str, document: Document, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
            with self._connection.gate.shared():
                self._upsert(staging, doc_id, document, chunks, vectors)
            counts[doc_id] = len(chunks)

        try:
            yield write
        except BaseException:
            with self._connection.gate.shared():
                self._drop_collection(name)
                self._set_pending()
            raise
        self._switch(name, counts)

    @_uses_chroma
    def _switch(self, name: str, counts: dict[str, int]) -> None:
        """Make ``name`` the chunk collection in use (the commit point), then retire the old one."""
        old = self.chunks_name
        self.lock.ensure_held()
        self._update_registry_meta(chunks=name, revision=_first_revision(), pending=_pending_mark(switched=old))
        self._follow(self._registry_meta())
        self._retire(old, counts)

    def _retire(self, old: str, counts: dict[str, int]) -> None:
        """Record each document's new chunk count and drop the retired collection (after a switch)."""
        ids = list(counts)
        step = self.client.get_max_batch_size()
        for lo in range(0, len(ids), step):
            batch = ids[lo:lo + step]
            self.registry.update(ids=batch, metadatas=[{"chunks": counts[i]} for i in batch])
        self._drop_collection(old)
        self._set_pending()

    def _drop_collection(self, name: str) -> None:
        if name != self.chunks_name and name in {c.name for c in self.client.list_collections()}:
            self.client.delete_collection(name)

    # --- writing -----------------------------------------------------------------
    @_uses_chroma
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
        metas = [_chunk_metadata(doc_id, document, c) for c in chunks]
        texts = [c.text for c in chunks]
        step = self.client.get_max_batch_size()
        for lo in range(0, len(chunks), step):
            hi = lo + step
            collection.upsert(ids=ids[lo:hi], documents=texts[lo:hi], metadatas=metas[lo:hi], embeddings=matrix[lo:hi])

    @_uses_chroma
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
        self.registry.upsert(ids=[doc_id], documents=[document.text], metadatas=[metadata], embeddings=[_UNIT_VECTOR])
        self._bump_revision()
        self.mark_used()

    @_uses_chroma
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

    @_uses_chroma
    def delete_chunks(self, doc_id: str) -> None:
        self.collection.delete(where={"doc_id": doc_id})

    @_uses_chroma
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

    # --- reading -----------------------------------------------------------------
    @_uses_chroma
    def get(self, doc_id: str) -> StoredDocument:
        result = self.registry.get(ids=[doc_id], include=["metadatas"])
        if not result["ids"]:
            raise UnknownDocument(f"unknown document id {doc_id!r}; `assistant list` shows the stored ones")
        return _stored(result["ids"][0], result["metadatas"][0])

    @_uses_chroma
    def text_of(self, doc_id: str) -> str:
        result = self.registry.get(ids=[doc_id], include=["documents"])
        if not result["ids"]:
            raise UnknownDocument(f"unknown document id {doc_id!r}")
        return result["documents"][0]

    @_uses_chroma
    def load(self, doc_id: str) -> Document:
        """Rebuild the Document from the registry (reindex needs no original file)."""
        result = self.registry.get(ids=[doc_id], include=["documents", "metadatas"])
        if not result["ids"]:
            raise UnknownDocument(f"unknown document id {doc_id!r}")
        from assistant.documents import PageSpan

        meta = result["metadatas"][0]
        pages = tuple(PageSpan(*p) for p in json.loads(str(meta.get("pages") or "[]")))
        return Document(text=result["documents"][0], source=str(meta["source"]), title=str(meta["title"]),
                        language=str(meta["language"]), metadata=json.loads(str(meta.get("extra") or "{}")),
                        pages=pages)

    @_uses_chroma
    def known_ids(self, doc_ids: Iterable[str]) -> set[str]:
        """Which of ``doc_ids`` are registered: one lookup by id, without reading every entry."""
        return {i for page in _pages(self.registry, [], ids=list(dict.fromkeys(doc_ids))) for i in page["ids"]}

    @_uses_chroma
    def document_stamps(self) -> dict[str, str]:
        """Every registered document id with the time it was added (metadata only, in pages).

        A document's chunks never change while it stays registered, so (id, added_at) pairs are
        enough for a derived index to find what came and went since it last looked.
        """
        return {i: str(m.get("added_at", "")) for page in _pages(self.registry, ["metadatas"])
                for i, m in zip(page["ids"], page["metadatas"], strict=True)}

    @_uses_chroma
    def documents(self) -> list[StoredDocument]:
        result = self.registry.get(include=["metadatas"])
        docs = [_stored(i, m) for i, m in zip(result["ids"], result["metadatas"], strict=True)]
        return sorted(docs, key=lambda d: (d.added_at, d.title))

    @_uses_chroma
    def find(self, **equals: str) -> list[StoredDocument]:
        """Registry entries whose metadata equal the given values (content_hash=..., source=...)."""
        where: dict[str, Any] = {k: v for k, v in equals.items()}
        if len(where) > 1:
            where = {"$and": [{k: v} for k, v in equals.items()]}
        result = self.registry.get(where=where, include=["metadatas"])
        return [_stored(i, m) for i, m in zip(result["ids"], result["metadatas"], strict=True)]

    @_uses_chroma
    def count_chunks(self) -> int:
        return self.collection.count()

    @_uses_chroma
    def is_new(self) -> bool:
        """True until the first document is added: a store emptied by its users stays empty."""
        return not self._registry_meta().get("used") and self.registry.count() == 0

    @_uses_chroma
    def mark_used(self) -> None:
        """Record that documents were added once (a flag that is never unset, so written once per Store)."""
        if not self._marked_used:
            self._update_registry_meta(used=True)
            self._marked_used = True

    @_uses_chroma
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

    @_uses_chroma
    def fetch(self, ids: Sequence[str], include: Any) -> dict[str, Any]:
        """Chunks by id with the fields in ``include`` (texts, metadata, embeddings), in one call."""
        return self.collection.get(ids=list(ids), include=include)

    @_uses_chroma
    def ids_where(self, where: dict[str, Any]) -> list[str]:
        """Ids of the chunks a metadata filter allows (no texts read)."""
        return [i for page in _pages(self.collection, [], where=where) for i in page["ids"]]

    @_uses_chroma
    def get_chunks(self, where: dict[str, Any] | None = None, ids: Iterable[str] | None = None) -> list[Passage]:
        """Chunks by filter or id, score 0 (for the keyword index and for showing a passage)."""
        pages = _pages(self.collection, ["documents", "metadatas"], where=where, ids=None if ids is None else list(ids))
        return [passage_from(i, t, m, 0.0) for page in pages
                for i, t, m in zip(page["ids"], page["documents"], page["metadatas"], strict=True)]


def _pages(collection: chromadb.Collection, include: Any, *, where: dict[str, Any] | None = None,
           ids: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """A collection read in pages of READ_PAGE records: by id batches when ``ids`` is given, else by offset.

    One unbounded ``get`` of a large collection fails in embedded Chroma ("too many SQL variables"
    at 100k chunks) and is one huge response from a server.
    """
    if ids is not None:
        for lo in range(0, len(ids), READ_PAGE):
            yield collection.get(ids=ids[lo:lo + READ_PAGE], where=where, include=include)
        return
    offset = 0
    while True:
        page = collection.get(where=where, limit=READ_PAGE, offset=offset, include=include)
        yield page
        if len(page["ids"]) < READ_PAGE:
            return
        offset += READ_PAGE


def chunk_id(doc_id: str, index: int) -> str:
    return f"{doc_id}:{index:05d}"


def doc_id_of(chunk_key: str) -> str:
    """The document of a chunk id made by ``chunk_id``."""
    return chunk_key.rpartition(":")[0]


def _new_revision() -> str:
    return f"{time.time():.6f}-{uuid.uuid4().hex[:8]}"


def _first_revision() -> str:
    stamp = _new_revision()
    return f"{stamp}/{stamp}"


def _pending_mark(**mark: Any) -> str:
    """The registry's ``pending`` value for a write under way ("" for none); see Store._set_pending."""
    return json.dumps(mark) if mark else ""


def epoch_of(revision: str) -> str:
    """The part of a revision stamp that changes only when a reindex switches to a new chunk collection."""
    return revision.partition("/")[0]


def _chunk_metadata(doc_id: str, document: Document, chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": doc_id,
        "title": document.title,
        "source": document.source,
        "language": document.language,
        "index": chunk.index,
        "paragraph": chunk.paragraph,
        "start": chunk.start,
        "end": chunk.end,
        "heading": " > ".join(chunk.heading_path),
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    for key in ("kind", "issuer", "date"):
        value = document.metadata.get(key)
        if isinstance(value, str | int | float | bool):
            meta[key] = value
    return meta


def passage_from(chunk_key: str, text: str, meta: dict[str, Any], score: float) -> Passage:
    """A Passage from a chunk's stored text and metadata."""
    page = meta.get("page")
    return Passage(
        text=text,
        score=float(score),
        doc_id=str(meta["doc_id"]),
        title=str(meta.get("title", "")),
        chunk_id=chunk_key,
        start=int(meta["start"]),
        end=int(meta["end"]),
        page=int(page) if page is not None else None,
        source=str(meta.get("source", "")),
        paragraph=int(meta["paragraph"]) if meta.get("paragraph") is not None else None,
        heading=str(meta.get("heading", "")),
        language=str(meta.get("language", "")),
    )


def _stored(doc_id: str, meta: dict[str, Any]) -> StoredDocument:
    return StoredDocument(
        doc_id=doc_id,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        language=str(meta.get("language", "")),
        chunks=int(meta.get("chunks", 0)),
        added_at=str(meta.get("added_at", "")),
        content_hash=str(meta.get("content_hash", "")),
        metadata=json.loads(str(meta.get("extra") or "{}")),
    )
