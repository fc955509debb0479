"""Which embedding model filled a chunk collection, so two vector spaces are never mixed.

The identity (backend, model, dimension) is written on the collection when it is created and
checked whenever a Store opens or follows a collection; a mismatch is an error that says to re-index.
"""

from __future__ import annotations

from typing import Any

import chromadb

from assistant.errors import EmbeddingMismatch
from assistant.store.connection import uses_chroma

SEARCH_EF = 512
"""HNSW's search breadth for chunk collections. Chroma's default (100) for the 50 candidates a hybrid search
asks for was approximate in a way that changed between processes: on the library store one question's
best keyword passage (dense rank 32) was missing from the dense list in 1 run of 5, and the answer changed
with it. At 512 the list is the same in every run; our stores are small enough for the cost to be a few ms.
Set when a collection is created, so a store made before takes it at its next `assistant reindex`."""


class CollectionIdentity:
    """The Store's side of collection identity (mixed into Store, which provides client and embedder)."""

    def _identity(self) -> dict[str, Any]:
        return {
            "embedding_backend": self.embedder.backend,
            "embedding_model": self.embedder.model,
            "embedding_dim": self.embedder.dim,
        }

    def _open_chunks(self, name: str, *, create: bool = True) -> chromadb.Collection:
        """The chunk collection ``name``, through chromadb itself (we always pass our own vectors).

        Created with this model's identity and cosine distance unless ``create`` is off: a name read
        just before a reindex retired it must not come back as an empty collection.
        """
        if not create:
            return self.client.get_collection(name, embedding_function=None)
        return self.client.get_or_create_collection(name, embedding_function=None, metadata=self._identity(),
                                                    configuration={"hnsw": {"space": "cosine", "ef_search": SEARCH_EF}})

    @uses_chroma
    def indexed_with(self) -> dict[str, Any]:
        """The identity recorded on the chunk collection (fresh from Chroma)."""
        metadata = self.client.get_collection(self.chunks_name).metadata or {}
        return {key: metadata.get(key) for key in self._identity()}

    @uses_chroma
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
