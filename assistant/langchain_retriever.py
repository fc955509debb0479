"""The assistant's search as a LangChain retriever (``Assistant.as_retriever``).

Kept apart from retrieval.py so that the command line, which never hands out a LangChain retriever,
does not import LangChain's retriever and tracing machinery (~0.3-0.5 s of every command's start).
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForRetrieverRun, CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field

from assistant.documents import Passage
from assistant.metadata import Filters
from assistant.retrieval import Retriever


class PolicyRetriever(BaseRetriever):
    """LangChain retriever over the assistant's search (same modes, fusion and filters).

    Returns LangChain Documents whose ``page_content`` is the passage text and whose metadata is
    ``Passage.to_dict()`` without the text (doc_id, title, chunk_id, start, end, page, heading,
    citation, score...). Build it with ``Assistant.as_retriever(k=..., documents=..., where=...)``
    or directly: ``PolicyRetriever(retriever=Retriever(store, settings), k=5)``.

    ``k``, ``documents``, ``where`` and ``filters`` can also be given per call, to ``invoke`` and
    ``ainvoke`` alike (``retriever.invoke(query, k=1)``); a per-call value overrides the field for
    that call, and ``k`` left unset everywhere means ``settings.top_k``. ``filters`` (date range,
    kinds, issuer, language: ``assistant.metadata.Filters``) are checked against the registry at
    each call, so documents added later are filtered too.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int | None = Field(default=None, ge=1)
    documents: list[str] | None = None
    where: dict[str, Any] | None = None
    filters: Filters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: int | None = None, documents: list[str] | None = None,
                                where: dict[str, Any] | None = None,
                                filters: Filters | None = None) -> list[LCDocument]:
        """Per call, ``retriever.invoke(query, k=1, documents=[...], where={...})`` overrides the fields."""
        if k is not None and k < 1:  # 0 would otherwise fall back to settings.top_k in Retriever.search
            raise ValueError(f"k must be at least 1 (got {k!r})")
        passages = self.retriever.retrieve(query, k=self.k if k is None else k,
                                           documents=self.documents if documents is None else documents,
                                           where=self.where if where is None else where,
                                           filters=self.filters if filters is None else filters)
        return [to_langchain(p) for p in passages]

    async def _aget_relevant_documents(self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun,
                                       k: int | None = None, documents: list[str] | None = None,
                                       where: dict[str, Any] | None = None,
                                       filters: Filters | None = None) -> list[LCDocument]:
        """``ainvoke`` with the same per-call overrides; the (blocking) search runs in an executor thread.

        LangChain's default would call ``_get_relevant_documents`` without the per-call arguments
        (a TypeError when any is given).
        """
        return await run_in_executor(None, self._get_relevant_documents, query, run_manager=run_manager.get_sync(),
                                     k=k, documents=documents, where=where, filters=filters)


def to_langchain(passage: Passage) -> LCDocument:
    """A LangChain Document for a passage (metadata: everything but the text, plus the citation)."""
    metadata = {key: value for key, value in passage.to_dict().items() if key != "text" and value is not None}
    return LCDocument(page_content=passage.text, metadata=metadata, id=passage.chunk_id)
