"""The Assistant: the one service the CLI, the web app and Python users all call.

It owns the settings, the embedder, the store and the retriever, so each is built once per
process (models load once, one Chroma client is reused) and every entry point behaves alike.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from assistant import ingest
from assistant.documents import AddResult, Answer, Passage, StoredDocument
from assistant.embedding import Embedder, make_embedder
from assistant.ingest import Progress
from assistant.locking import Waiting
from assistant.relevance import cache_lexicon_in
from assistant.retrieval import Retriever
from assistant.settings import Settings
from assistant.store import Store, require_writable


class Assistant:
    """Policy-text assistant over one store.

    Args:
        settings: all configuration; ``Settings.load()`` (environment and optional file) when omitted.
        embedder: an already-built embedder to share between assistants (tests, benchmarks).
        check_model: refuse a store indexed with another embedding model (off only to re-index it).
    """

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None,
                 check_model: bool = True) -> None:
        self.settings = settings or Settings.load()
        cache_lexicon_in(self.settings.data_dir / "cache")
        self.embedder = embedder or make_embedder(self.settings)
        self.store = Store(self.settings, self.embedder, check_model=check_model)
        self.retriever = Retriever(self.store, self.settings)
        self._lock = threading.RLock()
        self._corpus_checked = False

    # --- documents -------------------------------------------------------------------
    def add(self, *paths: str | Path, progress: Progress | None = None,
            sources: dict[str, str] | None = None, waiting: Waiting | None = None) -> list[AddResult]:
        """Add files or folders; returns one result per file (added, unchanged, replaced or failed).

        ``waiting`` is told when another process is writing to the store (see locking.py).
        """
        require_writable(self.settings, "add documents")
        with self._lock:
            self._corpus_checked = True
            return ingest.add_paths(self.store, self.settings, paths, progress=progress, sources=sources,
                                    waiting=waiting)

    def remove(self, doc_id: str, waiting: Waiting | None = None) -> StoredDocument:
        """Delete a document and all its chunks; raises UnknownDocument for an unknown id."""
        require_writable(self.settings, "remove documents")
        with self._lock, self.store.writing("remove a document", waiting):
            return self.store.delete_document(doc_id)

    def documents(self) -> list[StoredDocument]:
        self.ensure_corpus()
        return self.store.documents()

    def document(self, doc_id: str) -> StoredDocument:
        """One registry entry; raises UnknownDocument for an id the store does not hold."""
        return self.store.get(doc_id)

    def reindex(self, progress: Progress | None = None, waiting: Waiting | None = None) -> int:
        """Rebuild all chunks and vectors from the stored texts (after a model or chunking change)."""
        require_writable(self.settings, "re-index")
        with self._lock:
            return ingest.reindex(self.store, self.settings, progress=progress, waiting=waiting)

    def ensure_corpus(self, progress: Progress | None = None) -> list[AddResult]:
        """On first use of an empty store, index the shipped corpus so there is something to ask."""
        if self._corpus_checked or not self.settings.auto_index_corpus or self.settings.read_only:
            return []
        with self._lock:
            self._corpus_checked = True
            if self.store.is_new() and self.settings.corpus_dir.is_dir():
                return ingest.add_paths(self.store, self.settings, [self.settings.corpus_dir], progress=progress)
        return []

    # --- questions -------------------------------------------------------------------
    def retrieve(self, query: str, k: int | None = None, documents: Sequence[str] | None = None,
                 where: dict[str, Any] | None = None) -> list[Passage]:
        """The passages most relevant to ``query``, best first.

        Args:
            query: the question or keywords, in English or Chinese.
            k: how many passages (default: settings.top_k).
            documents: doc ids to search within (None: all documents).
            where: a Chroma metadata filter, e.g. ``{"language": "zh"}``.
        """
        self.ensure_corpus()
        return self.retriever.retrieve(query, k=k, documents=documents, where=where)

    def as_retriever(self, *, k: int | None = None, documents: Sequence[str] | None = None,
                     where: dict[str, Any] | None = None) -> Any:
        """A LangChain ``BaseRetriever`` over the same hybrid search and filters, for anyone's chain."""
        from assistant.retrieval import PolicyRetriever

        self.ensure_corpus()
        return PolicyRetriever(retriever=self.retriever, k=k, documents=documents, where=where)

    def as_vectorstore(self) -> Any:
        """The chunk collection as a LangChain ``VectorStore`` (langchain-chroma), for reading from anyone's chain.

        Searches see the chunks ``add`` stored, under the same embedder. Add and remove documents
        through the Assistant: the wrapper's own writes would bypass the registry, the write lock and
        the keyword index.
        """
        from langchain_chroma import Chroma

        self.ensure_corpus()
        self.store.revision()  # follow a reindex done here or by another process
        return Chroma(client=self.store.client, collection_name=self.store.chunks_name,
                      embedding_function=self.embedder, create_collection_if_not_exists=False)

    @cached_property
    def answerer(self) -> Any:
        """Built on first question, so adding documents never pays for the answering stack."""
        from assistant.answering import Answerer

        llm, problem = None, ""
        if self.settings.llm_provider != "none":
            from assistant.llm import llm_answerer  # the LLM stack is imported only when one is configured

            llm, problem = llm_answerer(self.settings, self.embedder)
        return Answerer(self.settings, self.embedder, self._retrieve_for_answer, scope=self.retriever.scope,
                        llm=llm, llm_problem=problem)

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (Chinese segmenter, dictionary, keyword index)."""
        self.answerer.warm_up()
        self.retriever.warm_up()

    def _retrieve_for_answer(self, query: str, k: int, documents: Sequence[str] | None) -> list[Passage]:
        return self.retrieve(query, k=k, documents=documents)

    def ask(self, question: str, history: list[dict[str, Any]] | None = None,
            documents: Sequence[str] | None = None, *, k: int | None = None, mode: str | None = None) -> Answer:
        """Answer ``question`` from the documents, citing the exact supporting sentences.

        Args:
            question: in English or Chinese; a follow-up is resolved against ``history``.
            history: earlier turns as ``{"role": "user"|"assistant", "content": str}`` dicts.
            documents: doc ids to answer from (None: all documents).
            k: passages to retrieve and show (default: settings.top_k).
            mode: "extractive" to skip a configured LLM for this question.
        """
        self.ensure_corpus()
        return self.answerer.ask(question, history=history, documents=documents, k=k, mode=mode)

    def stream(self, question: str, history: list[dict[str, Any]] | None = None,
               documents: Sequence[str] | None = None, *, k: int | None = None,
               mode: str | None = None) -> Iterator[str | Answer]:
        """Like ``ask`` but yields the answer text as it is produced, then the final ``Answer``."""
        self.ensure_corpus()
        return self.answerer.stream(question, history=history, documents=documents, k=k, mode=mode)

    def describe(self) -> dict[str, Any]:
        """What is in use, for the UI's settings panel and `assistant info`."""
        store = f"Chroma server {self.settings.chroma_host}:{self.settings.chroma_port}" if self.settings.server_mode \
            else f"embedded Chroma in {self.settings.data_dir.resolve()}"
        return {
            "embedding": self.embedder.label,
            "embedding_notice": self.embedder.notice,
            "store": store,
            "retrieval_mode": self.settings.retrieval_mode,
            "top_k": self.settings.top_k,
            "documents": len(self.store.documents()),
            "chunks": self.store.count_chunks(),
        }


_default: Assistant | None = None
_default_lock = threading.Lock()


def default_assistant() -> Assistant:
    """The process-wide Assistant behind the module-level functions."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Assistant()
        return _default


def ask(question: str, history: list[dict[str, Any]] | None = None,
        documents: Sequence[str] | None = None) -> Answer:
    """Module-level shortcut: ``Assistant().ask`` on the default settings."""
    return default_assistant().ask(question, history=history, documents=documents)


def retrieve(query: str, k: int = 5, documents: Sequence[str] | None = None,
             where: dict[str, Any] | None = None) -> list[Passage]:
    """Module-level shortcut: ``Assistant().retrieve`` on the default settings."""
    return default_assistant().retrieve(query, k=k, documents=documents, where=where)
