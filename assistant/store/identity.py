"""Which embedding model filled a chunk collection, so two vector spaces are never mixed.

The identity (backend, model, dimension) is written on the collection when it is created and
checked whenever a Store opens or follows a collection; a mismatch is an error that says to re-index.
"""

from __future__ import annotations

from typing import Any

import chromadb

from assistant.errors import EmbeddingMismatch
from assistant.store.connection import uses_chroma


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
                                                    configuration={"hnsw": {"space": "cosine"}})

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
