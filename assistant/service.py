"""The Assistant: the one service the CLI, the web app and Python users all call.

It owns the settings, the embedder, the store and the retriever, so each is built once per
process (models load once, one Chroma client is reused) and every entry point behaves alike.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from assistant import ingest
from assistant.documents import AddResult, Answer, Document, Passage, StoredDocument
from assistant.embedding import Embedder, make_embedder
from assistant.errors import InvalidMetadata, UnknownDocument
from assistant.ingest import Progress
from assistant.locking import Waiting
from assistant.metadata import Filters
from assistant.relevance import cache_lexicon_in
from assistant.retrieval import Retriever
from assistant.settings import Settings
from assistant.store import Store, require_writable

DateLike = str | int | None
"""A date as users give it: 2024, "2024", "2024-03" or "2024-03-05" (assistant.metadata.parse_date)."""

_ARTICLE_LABEL = re.compile(r"^(?:第[一二三四五六七八九十百千零〇\d]+条|Article\s+\d+)")


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
        cache_lexicon_in(self.settings.cache_dir or self.settings.data_dir / "cache")
        self.embedder = embedder or make_embedder(self.settings)
        self.store = Store(self.settings, self.embedder, check_model=check_model)
        self.retriever = Retriever(self.store, self.settings)
        self._lock = threading.RLock()
        self._corpus_checked = False

    # --- documents -------------------------------------------------------------------
    def add(self, *paths: str | Path, progress: Progress | None = None,
            sources: dict[str, str] | None = None, waiting: Waiting | None = None,
            reading: Progress | None = None) -> list[AddResult]:
        """Add files, folders or http(s) URLs; returns one result per file or URL (added, unchanged, replaced or
        failed).

        A URL is fetched first (assistant/fetching.py: public addresses only unless allow-listed, within the
        fetch_* limits) and becomes the document's source; one that cannot be fetched is a failed result
        whose reason says why. ``progress`` follows embedding (chunks), ``reading`` the files read and
        chunked before it; ``waiting`` is told when another process is writing to the store (see locking.py).
        """
        from assistant.fetching import fetch_urls  # http and TLS are loaded only when something is added

        require_writable(self.settings, "add documents")
        with fetch_urls(paths, self.settings) as fetched:  # outside the lock: a slow site holds up no one
            with self._lock:
                self._corpus_checked = True
                results = ingest.add_paths(self.store, self.settings, fetched.paths, progress=progress,
                                           sources={**(sources or {}), **fetched.sources}, waiting=waiting,
                                           reading=reading)
            return fetched.report(results)

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

    def read(self, doc_id: str) -> Document:
        """A stored document's whole text, pages and metadata (for reading it, or citing beyond a passage)."""
        return self.store.load(doc_id)

    def headings(self, doc_id: str, limit: int = 5) -> list[str]:
        """The first distinct section headings of a document, in document order (a law's article numbers are
        labels, not topics, so they are left out)."""
        found: list[str] = []
        for passage in sorted(self.store.get_chunks(where={"doc_id": doc_id}), key=lambda p: p.start):
            for heading in (h.strip() for h in passage.heading.split(" > ") if h.strip()):
                if heading not in found and heading != passage.title and not _ARTICLE_LABEL.match(heading):
                    found.append(heading)
            if len(found) >= limit:
                break
        return found[:limit]

    @staticmethod
    def gloss(quote: str, language: str) -> str:
        """A word-by-word dictionary gloss of ``quote`` for a reader of ``language`` ("" when none is needed)."""
        from assistant.glossing import gloss

        return gloss(quote, language)

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
                 where: dict[str, Any] | None = None, *, since: DateLike = None, until: DateLike = None,
                 kind: str | Sequence[str] | None = None, issuer: str | None = None,
                 language: str | None = None) -> list[Passage]:
        """The passages most relevant to ``query``, best first.

        Args:
            query: the question or keywords, in English or Chinese.
            k: how many passages (default: settings.top_k).
            documents: doc ids to search within (None: all documents).
            where: a Chroma metadata filter on chunks, e.g. ``{"year": {"$gte": 2020}}``.
            since, until: documents dated in this range, inclusive, at any precision (2020, "2020-03",
                "2020-03-05"); a document of unknown date is left out by either.
            kind: a kind or kinds of document (law, regulation, work report, speech, commentary, notice, other).
            issuer: documents whose issuer contains this (国务院 matches 中华人民共和国国务院).
            language: "zh" or "en".
        Raises InvalidMetadata for a date, kind or language that cannot be read.
        """
        filters = Filters.of(since=since, until=until, kind=kind, issuer=issuer, language=language)
        self.ensure_corpus()
        return self.retriever.retrieve(query, k=k, documents=documents, where=where, filters=filters)

    def as_retriever(self, *, k: int | None = None, documents: Sequence[str] | None = None,
                     where: dict[str, Any] | None = None, since: DateLike = None, until: DateLike = None,
                     kind: str | Sequence[str] | None = None, issuer: str | None = None,
                     language: str | None = None) -> Any:
        """A LangChain ``BaseRetriever`` over the same hybrid search and filters (as ``retrieve``), for any chain."""
        from assistant.langchain_retriever import PolicyRetriever

        filters = Filters.of(since=since, until=until, kind=kind, issuer=issuer, language=language)
        self.ensure_corpus()
        return PolicyRetriever(retriever=self.retriever, k=k, documents=documents, where=where,
                               filters=filters or None)

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
                        statements=self._statements, llm=llm, llm_problem=problem)

    def warm_up(self) -> None:
        """Load what the first question would otherwise wait for (Chinese segmenter, dictionary, keyword index)."""
        self.answerer.warm_up()
        self.retriever.warm_up()

    def _retrieve_for_answer(self, query: str, k: int, documents: Sequence[str] | None) -> list[Passage]:
        return self.retrieve(query, k=k, documents=documents)

    def _statements(self, doc_ids: Sequence[str], fact: str) -> list[tuple[Passage, str]]:
        """(passage, line) where each document states ``fact`` about itself: the line its metadata was read
        from ("本法自2008年6月1日起施行" for "effective"), found in its chunks. Search may rank that short
        last article 14th within the law: it shares no word with "from what date is it in force?"."""
        found: list[tuple[Passage, str]] = []
        for doc_id in dict.fromkeys(doc_ids):
            try:
                provenance = self.store.get(doc_id).metadata.get("provenance")
            except UnknownDocument:  # removed by another process since the question was scoped
                continue
            line = (provenance.get(fact) or {}).get("evidence") if isinstance(provenance, dict) else None
            if line:
                found += [(p, line) for p in self.store.get_chunks(where={"doc_id": doc_id}) if line in p.text][:1]
        return found

    def ask(self, question: str, history: list[dict[str, Any]] | None = None,
            documents: Sequence[str] | None = None, *, k: int | None = None, mode: str | None = None,
            across: bool = False, since: DateLike = None, until: DateLike = None,
            kind: str | Sequence[str] | None = None, issuer: str | None = None,
            language: str | None = None) -> Answer:
        """Answer ``question`` from the documents, citing the exact supporting sentences.

        Args:
            question: in English or Chinese; a follow-up is resolved against ``history``.
            history: earlier turns as ``{"role": "user"|"assistant", "content": str}`` dicts.
            documents: doc ids to answer from (None: all documents).
            k: passages to retrieve and show (default: settings.top_k).
            mode: "extractive" to skip a configured LLM for this question.
            across: answer across documents: one row per matching document (``Answer.rows``), in date
                order, each the document's best cited sentence and the figure it states, or "not
                stated" (assistant/across.py). Matching: passing the filters below and of the kind the
                question names ("历年政府工作报告…", "Which laws…"); always extractive.
            since, until, kind, issuer, language: filters on the documents, as for ``retrieve``.
        Raises InvalidMetadata for a filter value that cannot be read, UnknownDocument for an unknown id.
        """
        filters = Filters.of(since=since, until=until, kind=kind, issuer=issuer, language=language)
        self.ensure_corpus()
        if across:
            return self._ask_across(question, history, documents, filters)
        scope = self.retriever.within(filters, documents)
        if filters and not scope:
            from assistant.across import no_documents

            return no_documents(question, filters.describe())
        return self.answerer.ask(question, history=history, documents=scope, k=k, mode=mode)

    def stream(self, question: str, history: list[dict[str, Any]] | None = None,
               documents: Sequence[str] | None = None, *, k: int | None = None, mode: str | None = None,
               across: bool = False, since: DateLike = None, until: DateLike = None,
               kind: str | Sequence[str] | None = None, issuer: str | None = None,
               language: str | None = None) -> Iterator[str | Answer]:
        """Like ``ask`` but yields the answer text as it is produced, then the final ``Answer``.

        An across-documents answer (or one refused for want of matching documents) comes whole: its
        text once, then the Answer.
        """
        filters = Filters.of(since=since, until=until, kind=kind, issuer=issuer, language=language)
        self.ensure_corpus()
        scope = None if across else self.retriever.within(filters, documents)
        if across or (filters and not scope):
            answer = self.ask(question, history, documents, k=k, mode=mode, across=across, since=since, until=until,
                              kind=kind, issuer=issuer, language=language)
            return iter((answer.text, answer))
        return self.answerer.stream(question, history=history, documents=scope, k=k, mode=mode)

    def _ask_across(self, question: str, history: list[dict[str, Any]] | None, documents: Sequence[str] | None,
                    filters: Filters) -> Answer:
        """The across-documents answer: the documents the filters, the question's kinds and years and the
        documents it names allow, each searched for its best passages (Retriever.search_each)."""
        from assistant.across import ROW_PASSAGES, across_answer, read_question
        from assistant.errors import EmptyQuery
        from assistant.followup import is_followup, standalone_query

        if not isinstance(question, str) or not question.strip():
            raise EmptyQuery("the question is empty; type what you want to ask")
        question = question.strip()
        query = standalone_query(question, history) if history and is_followup(question) else question
        reading = read_question(query)
        asked = Filters.of(since=reading.since, until=reading.until, kind=reading.kinds)
        allowed = self.retriever.within(filters, documents)
        scope = self.retriever.scope(reading.asked, allowed)
        chosen = [d for d in self.retriever.registered()
                  if (allowed is None or d.doc_id in allowed) and asked.admits(d.metadata, d.language)
                  and (not scope.documents or d.doc_id in scope.documents)]

        def search(text: str, ids: Sequence[str]) -> dict[str, list[Passage]]:
            return self.retriever.search_each(text, ids, ROW_PASSAGES)

        described = ", ".join(p for p in (filters.describe(), asked.describe()) if p)
        return across_answer(question, chosen, search, query=query, missing=scope.missing, filters=described,
                             kinds_named=bool(filters.kinds or reading.kinds or scope.documents))

    def correct(self, doc_id: str, *, date: DateLike = None, kind: str | None = None, issuer: str | None = None,
                title: str | None = None, promulgated: DateLike = None, effective: DateLike = None,
                reset: Sequence[str] = (), waiting: Waiting | None = None) -> StoredDocument:
        """Correct what the assistant read about a document (its date, kind, issuer, title, dates of promulgation
        and entry into force); ``reset`` names fields whose earlier correction is dropped.

        The correction is kept with the document, so re-indexing keeps it; its chunks are rewritten
        in place (re-embedded when the title changes, since every chunk is embedded under it).
        Raises UnknownDocument or InvalidMetadata, having changed nothing, for an unknown id or a
        value that cannot be read (a date such as 2024-13-01, a kind not in the list).
        """
        from assistant.corrections import correct_document

        require_writable(self.settings, "correct documents")
        given = {"date": date, "kind": kind, "issuer": issuer, "title": title, "promulgated": promulgated,
                 "effective": effective}
        changes: dict[str, str | None] = {key: str(value) for key, value in given.items() if value is not None}
        overlap = sorted(set(changes) & set(reset))
        if overlap:
            raise InvalidMetadata(f"cannot both set and reset {', '.join(overlap)}")
        changes.update({field: None for field in reset})
        if not changes:
            return self.store.get(doc_id)
        with self._lock:
            return correct_document(self.store, self.settings, doc_id, changes, waiting=waiting)

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
        documents: Sequence[str] | None = None, **options: Any) -> Answer:
    """Module-level shortcut: ``Assistant().ask`` on the default settings (``options``: across, since, kind...)."""
    return default_assistant().ask(question, history=history, documents=documents, **options)


def retrieve(query: str, k: int = 5, documents: Sequence[str] | None = None,
             where: dict[str, Any] | None = None, **filters: Any) -> list[Passage]:
    """Module-level shortcut: ``Assistant().retrieve`` on the default settings (``filters``: since, kind...)."""
    return default_assistant().retrieve(query, k=k, documents=documents, where=where, **filters)
