"""Blue/green re-indexing: a new chunk collection is filled beside the live one and switched to in one write.

Searches keep using the current collection until the switch; a failed or interrupted rebuild
leaves it untouched (the journal drops the partial one).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np

from assistant.documents import Chunk, Document
from assistant.store.connection import uses_chroma
from assistant.store.revisions import first_revision, pending_mark


class Reindexing:
    """The Store's rebuild and switch of the chunk collection (mixed into Store)."""

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
            staging = self._open_chunks(name)
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

    @uses_chroma
    def _switch(self, name: str, counts: dict[str, int]) -> None:
        """Make ``name`` the chunk collection in use (the commit point), then retire the old one."""
        old = self.chunks_name
        self.lock.ensure_held()
        self._update_registry_meta(chunks=name, revision=first_revision(), pending=pending_mark(switched=old))
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
