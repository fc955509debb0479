"""Hybrid retrieval: fusion math, the answer-type prior, MMR, the per-document cap, filters, and
the acceptance questions over the shipped corpus and the Yangtze River Protection Law."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from assistant.embedding import Embedder
from assistant.errors import UnknownDocument
from assistant.langchain_retriever import PolicyRetriever
from assistant.relevance import answer_type, satisfies
from assistant.retrieval import (
    EmptyQuery,
    Retriever,
    cap_per_document,
    fuse,
    merge_languages,
    mmr,
    order,
    rrf,
    score_fusion,
)
from assistant.service import Assistant
from assistant.settings import Settings
from tests.conftest import COMMENTARY, CORPUS, LAWS, YANGTZE_LAW

MODEL_CITY_QUESTION = "By what year will the model city be built?"
FISHING_ARTICLE = "第五十三条"
# the Yangtze law plus three distractors: another fishing law and two other Yangtze regulations
LAW_FILES = [YANGTZE_LAW, *sorted(LAWS.glob("L08_*.md")), *sorted(LAWS.glob("L14_*.md")),
             *sorted(LAWS.glob("L17_*.md"))]


# --- fusion math on hand-made rankings ------------------------------------------------------
def test_rrf_sums_weighted_reciprocal_ranks() -> None:
    fused = rrf([(["a", "b", "c"], 1.0), (["c", "a"], 1.0)], k=60)
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)
    assert fused["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert order(fused) == ["a", "c", "b"]


def test_rrf_weights_shift_the_order() -> None:
    dense, lexical = ["a", "b", "c"], ["c", "b", "a"]
    assert order(rrf([(dense, 1.0), (lexical, 0.0)], k=60)) == ["a", "b", "c"]
    assert order(rrf([(dense, 1.0), (lexical, 2.0)], k=60))[0] == "c"
    assert rrf([(dense, 0.5)], k=10)["a"] == pytest.approx(0.5 / 11)


def test_rrf_small_k_favours_the_head_of_a_list() -> None:
    # x is 1st on one list and 9th on the other; y is 4th on both
    rankings = [(["x", "p1", "p2", "y"], 1.0), (["q1", "q2", "q3", "y", "q4", "q5", "q6", "q7", "x"], 1.0)]
    assert order(rrf(rankings, k=1))[0] == "x"  # 1/2 + 1/10 beats 1/5 + 1/5
    assert order(rrf(rankings, k=60))[0] == "y"  # 1/61 + 1/69 loses to 2/64


def test_rrf_counts_a_repeated_item_once_per_list() -> None:
    assert rrf([(["a", "a", "b"], 1.0)], k=60)["b"] == pytest.approx(1 / 62)


def test_score_fusion_keeps_a_clear_leader_that_rank_fusion_loses() -> None:
    # BM25's first hit is far ahead (an exact rule number); the dense head is four near-equal cosines
    others = [f"o{i}" for i in range(6)]
    lexical = (["rule", "b", "c", "d", *others], [30.0, 5.0, 4.9, 4.8, 4.5, 4.4, 4.3, 4.2, 4.1, 4.0], 1.0)
    dense = (["b", "c", "d", "rule", *others], [0.812, 0.811, 0.810, 0.809, 0.80, 0.79, 0.78, 0.77, 0.76, 0.75], 1.0)
    assert order(fuse([dense, lexical], method="scores"))[0] == "rule"
    assert order(fuse([dense, lexical], method="rrf", rrf_k=60))[0] == "b"


def test_score_fusion_gives_a_missed_item_the_lists_lowest_score() -> None:
    fused = score_fusion([(["a", "b"], [3.0, 1.0], 1.0), (["c"], [0.5], 1.0)])
    # z of [3, 1] is [1, -1]; a list of one item has no spread (z = 0)
    assert fused == pytest.approx({"a": 1.0, "b": -1.0, "c": -1.0})
    assert score_fusion([(["a", "b"], [3.0, 1.0], 0.0), (["b", "a"], [2.0, 1.0], 1.0)]) == \
        pytest.approx({"a": -1.0, "b": 1.0})  # a zero weight silences a list


def test_answer_type_prior_is_in_the_units_of_the_fusion() -> None:
    rankings = [(["a", "b"], [2.0, 1.0], 1.0)]
    assert fuse(rankings, method="scores", boosted=["b"], prior=0.5)["b"] == pytest.approx(-1.0 + 0.5)
    assert fuse(rankings, method="rrf", rrf_k=60, boosted=["b"], prior=0.5)["b"] == pytest.approx(1 / 62 + 0.5 / 61)


def test_order_keeps_first_seen_on_ties() -> None:
    assert order({"dense-first": 0.5, "lexical-first": 0.5}) == ["dense-first", "lexical-first"]


def test_mmr_prefers_a_diverse_second_pick() -> None:
    vectors = np.array([[1.0, 0.0], [0.999, 0.0447], [0.0, 1.0]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    relevance = [1.0, 0.95, 0.8]
    assert mmr(relevance, vectors, 2, lam=0.5) == [0, 2]  # the near-duplicate of the first is skipped
    assert mmr(relevance, vectors, 3, lam=1.0) == [0, 1, 2]  # lambda 1: pure relevance
    assert mmr([], np.zeros((0, 2), dtype=np.float32), 3, lam=0.5) == []


def test_cap_per_document_skips_extra_passages_of_one_document() -> None:
    items = ["a1", "a2", "b1", "a3", "c1", "b2"]
    doc_of = {i: i[0] for i in items}
    assert cap_per_document(items, doc_of, 1) == ["a1", "b1", "c1"]
    assert cap_per_document(items, doc_of, 2) == ["a1", "a2", "b1", "c1", "b2"]
    assert cap_per_document(items, doc_of, None) == items


# --- the answer-type prior ---------------------------------------------------------------
@pytest.mark.parametrize(("question", "kind"), [
    (MODEL_CITY_QUESTION, "time"),
    ("长江禁渔几年？", "period"),  # a span of years (once "time" for retrieval, "number" for answering)
    ("In which year was the law adopted?", "time"),
    ("Which year was the law adopted?", "time"),
    ("When does the ban start?", "time"),
    ("长江十年禁渔从什么时候开始？", "time"),
    ("宜昌哪一年建成典范城市？", "time"),
    ("How many stages are planned?", "count"),  # a count of things, which no period answers
    ("禁渔期有多少年？", "period"),
    ("What does the law say about fishing?", None),
    ("长江保护法关于禁止捕捞的规定是什么？", None),
])
def test_answer_type_of_questions(question: str, kind: str | None) -> None:
    assert answer_type(question) == kind


def test_answer_type_matches_in_passages() -> None:
    assert satisfies("time", "build a model city by 2035.")
    assert satisfies("time", "自2021年1月1日起实行禁捕")
    assert satisfies("time", "on 26 December the law took effect")
    assert not satisfies("time", "Build a model city for the protection of the river.")
    assert satisfies("number", "divide into three stages")
    assert satisfies("number", "罚款五万元以下")
    assert not satisfies("number", "第五十三条 国家对长江流域重点水域实行严格捕捞管理。")  # an article number
    assert not satisfies("measure", "（二）第二十二条 报有审批权的部门审批。")  # item and article numbers
    assert satisfies(None, "anything")


def test_languages_merge_by_the_next_items_cosine_and_keep_their_own_order() -> None:
    english = [("e1", 0.90), ("e2", 0.70), ("e3", 0.88)]  # hybrid order, not cosine order
    chinese = [("z1", 0.85), ("z2", 0.84)]
    assert merge_languages([english, chinese]) == ["e1", "z1", "z2", "e2", "e3"]
    assert merge_languages([english, []]) == ["e1", "e2", "e3"]
    assert merge_languages([[("a", 0.5)], [("b", 0.5)]]) == ["a", "b"]  # a tie goes to the first (own) language


# --- acceptance over the shipped corpus -------------------------------------------------
def test_model_city_year_question_puts_by_2035_first(corpus_assistant: Assistant) -> None:
    assert corpus_assistant.settings.retrieval_mode == "hybrid"
    passages = corpus_assistant.retrieve(MODEL_CITY_QUESTION)
    assert "by 2035" in passages[0].text


def test_each_language_answers_its_own_questions_in_the_bilingual_corpus(corpus_assistant: Assistant) -> None:
    """The shipped corpus holds an English commentary and a Chinese regulation: neither crowds out the other."""
    named = corpus_assistant.retrieve("model city for the protection of the Yangtze River", k=3)
    assert named[0].language == "en" and [p.language for p in named].count("en") >= 2
    penalties = corpus_assistant.retrieve("What penalties apply to illegal sand mining on the Yangtze?", k=3)
    assert penalties[0].title == "长江河道采砂管理条例" and ("罚款" in penalties[0].text or "处罚" in penalties[0].text)
    year = corpus_assistant.retrieve("长江大保护典范城市计划在哪一年基本建成？", k=3)
    assert any("by 2035" in p.text for p in year)


def test_prior_is_what_separates_the_near_tie(corpus_assistant: Assistant) -> None:
    hits = corpus_assistant.retriever.search(MODEL_CITY_QUESTION, 3)
    assert hits[0].answer_type_match and "by 2035" in hits[0].passage.text
    assert not any(h.answer_type_match for h in hits[1:])
    assert hits[0].rank_score > hits[1].rank_score


def test_hybrid_score_is_the_dense_cosine(corpus_assistant: Assistant) -> None:
    hybrid = corpus_assistant.retriever.search(MODEL_CITY_QUESTION, 5)
    dense = {h.passage.chunk_id: h.passage.score for h in corpus_assistant.retriever.search(
        MODEL_CITY_QUESTION, corpus_assistant.store.count_chunks(), mode="dense")}
    for hit in hybrid:
        assert hit.passage.score == pytest.approx(dense[hit.passage.chunk_id], abs=1e-4)
        assert hit.dense == pytest.approx(hit.passage.score)


def test_modes_rank_differently_and_score_in_their_own_terms(corpus_assistant: Assistant) -> None:
    bm25 = corpus_assistant.retriever.search("model city 2035", 3, mode="bm25")
    assert bm25 and all(h.dense is None and h.lexical == h.passage.score for h in bm25)
    assert [h.lexical for h in bm25] == sorted((h.lexical for h in bm25), reverse=True)
    dense = corpus_assistant.retriever.search("model city 2035", 3, mode="dense")
    assert all(h.lexical is None and h.dense == h.passage.score for h in dense)


def test_blank_question_is_refused(corpus_assistant: Assistant) -> None:
    with pytest.raises(EmptyQuery):
        corpus_assistant.retrieve("   ")


def test_unknown_document_scope_is_an_error(corpus_assistant: Assistant) -> None:
    with pytest.raises(UnknownDocument, match="nope"):
        corpus_assistant.retrieve("model city", documents=["nope"])


def test_empty_store_returns_nothing_in_every_mode(make_assistant: Callable[..., Assistant]) -> None:
    assistant = make_assistant()
    for mode in ("dense", "bm25", "hybrid"):
        assert assistant.retriever.search("model city", 3, mode=mode) == []


# --- filters, MMR and the cap, end to end -------------------------------------------------
@pytest.fixture
def two_doc_assistant(make_assistant: Callable[..., Assistant], tmp_path: Path) -> Iterator[Assistant]:
    assistant = make_assistant()
    assistant.add(COMMENTARY)
    other = tmp_path / "heron.md"
    other.write_text("# Heron wetland rules\n\nThe model city plan protects heron wetlands along the river.\n\n"
                     "Heron colonies near the model city are closed to visitors in spring.\n", encoding="utf-8")
    assistant.add(other)
    yield assistant


def test_document_filter_applies_to_both_sides(two_doc_assistant: Assistant) -> None:
    heron = next(d.doc_id for d in two_doc_assistant.documents() if d.title.startswith("Heron"))
    for mode in ("dense", "bm25", "hybrid"):
        hits = two_doc_assistant.retriever.search("model city heron", 10, documents=[heron], mode=mode)
        assert hits and {h.passage.doc_id for h in hits} == {heron}, mode
        hits = two_doc_assistant.retriever.search("model city heron", 10, where={"doc_id": {"$ne": heron}}, mode=mode)
        assert hits and heron not in {h.passage.doc_id for h in hits}, mode


def test_hybrid_finds_what_only_one_side_finds(two_doc_assistant: Assistant) -> None:
    hits = two_doc_assistant.retriever.search("heron colonies closed in spring", 10)
    top = hits[0]
    assert "Heron colonies" in top.passage.text
    assert top.dense_rank is not None and top.lexical_rank is not None


def test_max_per_document_caps_passages(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = make_assistant(max_per_document=1)
    assistant.add(CORPUS)
    other = tmp_path / "heron.md"
    other.write_text("# Heron rules\n\nHeron colonies near the model city are closed in spring.\n", encoding="utf-8")
    assistant.add(other)
    passages = assistant.retrieve("model city", k=5)
    assert len(passages) == len(assistant.documents()) == 3  # the corpus's two documents and the heron rules
    assert len({p.doc_id for p in passages}) == 3


def test_mmr_returns_the_same_pool_reordered(make_assistant: Callable[..., Assistant]) -> None:
    plain = make_assistant()
    plain.add(COMMENTARY)
    diverse = Assistant(plain.settings.model_copy(update={"mmr": True, "mmr_lambda": 0.3}), embedder=plain.embedder)
    base = plain.retrieve("model city Yangtze protection", k=8)
    reranked = diverse.retrieve("model city Yangtze protection", k=8)
    assert {p.chunk_id for p in reranked} == {p.chunk_id for p in base}  # all 8 chunks either way
    assert reranked[0].chunk_id == base[0].chunk_id  # the most relevant stays first
    assert [p.chunk_id for p in reranked] != [p.chunk_id for p in base]


# --- LangChain --------------------------------------------------------------------------
def test_langchain_retriever_returns_documents_with_citations(corpus_assistant: Assistant) -> None:
    retriever = PolicyRetriever(retriever=corpus_assistant.retriever, k=2)
    docs = retriever.invoke(MODEL_CITY_QUESTION)
    assert len(docs) == 2
    assert "by 2035" in docs[0].page_content
    meta = docs[0].metadata
    assert meta["doc_id"] == next(d.doc_id for d in corpus_assistant.documents() if d.language == "en")
    assert meta["citation"].endswith("¶2") or "¶" in meta["citation"]
    assert docs[0].id == meta["chunk_id"] and "text" not in meta


def test_langchain_retriever_takes_k_and_filters_per_call(corpus_assistant: Assistant) -> None:
    retriever = PolicyRetriever(retriever=corpus_assistant.retriever, k=5)
    assert len(retriever.invoke(MODEL_CITY_QUESTION)) == 5
    assert len(retriever.invoke(MODEL_CITY_QUESTION, k=1)) == 1
    english = next(d.doc_id for d in corpus_assistant.documents() if d.language == "en")
    scoped = retriever.invoke("采砂", k=3, documents=[english])
    assert scoped and {d.metadata["doc_id"] for d in scoped} == {english}
    assert {d.metadata["language"] for d in retriever.invoke("采砂", where={"language": "zh"})} == {"zh"}


def test_langchain_retriever_keeps_filters(two_doc_assistant: Assistant) -> None:
    heron = next(d.doc_id for d in two_doc_assistant.documents() if d.title.startswith("Heron"))
    retriever = PolicyRetriever(retriever=two_doc_assistant.retriever, k=5, documents=[heron])
    docs = retriever.invoke("model city")
    assert docs and {d.metadata["doc_id"] for d in docs} == {heron}


# --- Chinese law and cross-lingual acceptance (embedded store, indexed once) --------------------
@pytest.fixture(scope="module")
def laws_retriever(tmp_path_factory: pytest.TempPathFactory, embedder: object) -> Retriever:
    settings = Settings(data_dir=tmp_path_factory.mktemp("laws"), collection="laws", auto_index_corpus=False)
    assistant = Assistant(settings, embedder=embedder)  # type: ignore[arg-type]
    results = assistant.add(*LAW_FILES)
    assert [r.status for r in results] == ["added"] * len(LAW_FILES)
    return assistant.retriever


def _articles(retriever: Retriever, query: str, k: int) -> list[str]:
    return [p.cite() for p in retriever.retrieve(query, k=k)]


@pytest.mark.parametrize("question", ["长江保护法关于禁止捕捞的规定是什么？", "长江流域禁止捕捞的规定是什么？"])
def test_chinese_fishing_ban_question_finds_article_53(laws_retriever: Retriever, question: str) -> None:
    assert f"中华人民共和国长江保护法 {FISHING_ARTICLE}" in _articles(laws_retriever, question, 3)


def test_english_question_finds_the_chinese_article(laws_retriever: Retriever) -> None:
    cited = _articles(laws_retriever, "What does the Yangtze River Protection Law say about fishing bans?", 5)
    assert f"中华人民共和国长江保护法 {FISHING_ARTICLE}" in cited


def test_language_filter_applies_to_both_sides(laws_retriever: Retriever) -> None:
    for mode in ("bm25", "hybrid", "dense"):
        assert laws_retriever.search("长江 捕捞", 5, where={"language": "en"}, mode=mode) == []


def test_hybrid_uses_keywords_alone_for_a_language_the_model_cannot_read(tmp_path: Path, minilm: Embedder) -> None:
    """With the English-only MiniLM, a Chinese question's vector is noise: hybrid must not fuse it in."""
    settings = Settings(data_dir=tmp_path / "data", collection="minilm", auto_index_corpus=False)
    assistant = Assistant(settings, embedder=minilm)
    assistant.add(YANGTZE_LAW, CORPUS)
    chinese = "长江流域禁止捕捞的规定是什么？"
    hits = assistant.retriever.search(chinese, 5)
    assert hits and all(h.dense_rank is None for h in hits)
    assert [h.passage.chunk_id for h in hits] == [h.passage.chunk_id for h in assistant.retriever.search(chinese, 5,
                                                                                                          mode="bm25")]
    english = assistant.retriever.search("By what year will Yichang become a model city?", 5)
    assert any(h.dense_rank is not None for h in english)  # English questions still get the dense side


# --- document filters and the per-document search of across-documents answers -------------------------
def test_search_each_gives_each_document_its_own_best_passages(laws_retriever: Retriever) -> None:
    ids = [d.doc_id for d in laws_retriever.registered()]
    found = laws_retriever.search_each("违法采砂 罚款", ids, 2)
    assert set(found) <= set(ids) and len(found) >= 3  # documents no search reaches are left out, not padded
    assert all(len(passages) <= 2 and {p.doc_id for p in passages} == {doc} for doc, passages in found.items())
    sand = next(d.doc_id for d in laws_retriever.registered() if "采砂" in d.title)
    assert any("罚款" in p.text for p in found[sand])
    assert laws_retriever.search_each("违法采砂 罚款", [], 2) == {}
    with pytest.raises(UnknownDocument):
        laws_retriever.search_each("采砂", ["nope"], 2)


def test_filters_become_a_document_scope_decided_on_the_registry(laws_retriever: Retriever) -> None:
    from assistant.metadata import Filters

    kinds = {d.doc_id: d.metadata["kind"] for d in laws_retriever.registered()}
    regulations = laws_retriever.within(Filters.of(kind="regulation"))
    assert regulations and {kinds[d] for d in regulations} == {"regulation"}
    assert laws_retriever.within(Filters.of(since=2020, kind="law")) == \
        [d for d, kind in kinds.items() if kind == "law" and d in laws_retriever.within(Filters.of(since=2020))]
    assert laws_retriever.within(Filters.of(), None) is None
    with pytest.raises(UnknownDocument):
        laws_retriever.within(Filters.of(kind="law"), ["nope"])
    hits = laws_retriever.retrieve("长江 采砂 罚款", k=5, filters=Filters.of(kind="regulation"))
    assert hits and {p.kind for p in hits} == {"regulation"}
    retriever = PolicyRetriever(retriever=laws_retriever, k=5, filters=Filters.of(kind="law"))
    assert {d.metadata["kind"] for d in retriever.invoke("长江 捕捞")} == {"law"}
    assert {d.metadata["kind"] for d in retriever.invoke("长江 捕捞", filters=Filters.of(kind="regulation"))} == \
        {"regulation"}
