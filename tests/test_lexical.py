"""The BM25 side: tokenization per language, and the index kept in step with the Chroma store."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from assistant.lexical import (
    CONTEXT_MARK,
    BM25Params,
    LexicalIndex,
    Postings,
    Tokenizer,
    context_text,
    index_text,
    tokenize,
)
from assistant.service import Assistant
from assistant.settings import Settings
from tests.conftest import CORPUS, LAWS, ROOT, YANGTZE_LAW


def _write(path: Path, title: str, body: str) -> Path:
    path.write_text(f"# {title}\n\n{body}\n", encoding="utf-8")
    return path


# --- tokenization ------------------------------------------------------------------------
def test_english_is_stemmed_and_stop_words_are_dropped() -> None:
    terms = tokenize("What are the regulations about fishing bans in the cities?")
    assert terms == ["regul", "fish", "ban", "citi"]


def test_inflections_meet_at_one_stem() -> None:
    assert tokenize("protects protecting protection")[0] == tokenize("protected")[0] == "protect"


def test_chinese_is_segmented_by_jieba_in_search_mode() -> None:
    terms = tokenize("长江保护法关于禁止捕捞的规定是什么？")
    # search mode keeps the whole word and its parts, so "保护法" and "长江" both match
    assert {"长江", "保护", "保护法", "禁止", "捕捞", "规定"} <= set(terms)
    assert "的" not in terms and "什么" not in terms and "？" not in terms


def test_mixed_text_stems_latin_runs_and_segments_cjk_runs() -> None:
    terms = tokenize("宜昌2035年建成model cities的长江大保护典范")
    assert "2035" in terms and "model" in terms and "citi" in terms
    assert {"宜昌", "建成", "长江", "典范"} <= set(terms)
    assert "的" not in terms


def test_full_width_forms_match_ascii() -> None:
    assert tokenize("ＡＤＧＭ　２０３５") == tokenize("ADGM 2035") == ["adgm", "2035"]


def test_tokenizer_without_stemming_keeps_words() -> None:
    assert Tokenizer(stem=False).tokenize("Fishing bans") == ["fishing", "bans"]


def test_first_chinese_tokenization_prints_nothing() -> None:
    """jieba announces its dictionary on stderr by default; ours must stay quiet."""
    code = "from assistant.lexical import tokenize; print(' '.join(tokenize('长江流域禁止捕捞')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert "捕捞" in result.stdout.split()


def test_index_text_is_the_chunk_text_alone() -> None:
    from assistant.documents import Passage

    passage = Passage("国家对长江流域重点水域实行严格捕捞管理。", 0.0, "d", "中华人民共和国长江保护法", "d:00001",
                      0, 10, heading="中华人民共和国长江保护法 > 第五章 > 第五十三条")
    assert index_text(passage) == passage.text


def test_context_field_is_the_title_and_headings_once() -> None:
    from assistant.documents import Passage

    law = "中华人民共和国长江保护法"
    passage = Passage("国家对长江流域重点水域实行严格捕捞管理。", 0.0, "d", law, "d:00001", 0, 10,
                      heading=f"{law} > 第五章 > 第五十三条")
    assert context_text(passage) == f"{law} 第五章 第五十三条"


def test_context_terms_do_not_lengthen_the_body_and_score_without_length_normalisation() -> None:
    mark = CONTEXT_MARK
    postings = Postings().appended([["fish", "ban", mark + "yangtz"], ["fish", mark + "yangtz", mark + "law"]])
    assert postings.lengths.tolist() == [2.0, 1.0]
    body = postings.scores(["fish"], BM25Params())
    assert body[1] > body[0] > 0  # the shorter body wins, whatever its title
    assert not postings.scores([mark + "law"], BM25Params()).any()  # the field is off by default
    field = postings.scores([mark + "law"], BM25Params(context_weight=0.5))
    assert field[0] == 0 and field[1] > 0
    assert postings.scores([mark + "law"], BM25Params(context_weight=0.25))[1] == pytest.approx(field[1] / 2)
    assert postings.scores([mark + "law"], BM25Params(context_weight=0.25, b=0.0))[1] == pytest.approx(field[1] / 2)


def test_a_group_of_alternatives_scores_as_one_term() -> None:
    """A question word's translations (Pirkola's structured query): counts summed, document frequency of the union.

    Scored apart, a word with many translations outweighs a word with one, whatever they match.
    """
    postings = Postings().appended([["工作", "报告"], ["劳动", "作品"], ["赤字", "预算"], ["预算"]])
    params = BM25Params()
    group = postings.scores([("工作", "劳动", "作品")], params)
    apart = postings.scores(["工作", "劳动", "作品"], params)
    assert group[0] > 0 and group[1] > 0 and not group[2:].any()
    assert apart[1] > group[1]  # two members in one row add up apart, not in the group
    # the union's document frequency (2 of 4 rows) sets the group's idf: as one term present in 2 rows
    as_one = Postings().appended([["w", "报告"], ["w", "w"], ["赤字", "预算"], ["预算"]]).scores(["w"], params)
    assert group.tolist() == pytest.approx(as_one.tolist())
    assert postings.scores([("工作",)], params).tolist() == postings.scores(["工作"], params).tolist()
    assert not postings.scores([("无此词", "也无")], params).any()


def test_a_word_only_the_title_holds_finds_the_document_with_the_context_field(make_assistant, tmp_path: Path) -> None:
    for context in (True, False):
        assistant = make_assistant(retrieval_mode="bm25", keyword_context_weight=0.5 if context else 0.0)
        assistant.add(_write(tmp_path / f"w{context}.md", "Wombat husbandry code",
                             "Burrows are inspected by wardens every single spring."),
                      _write(tmp_path / f"o{context}.md", "Otter rules", "Burrows are mapped."))
        found = _titles(assistant, "wombat burrows")  # the shorter body wins on its words alone
        wombat_first = ["Wombat husbandry code", "Otter rules"]
        assert found == (wombat_first if context else wombat_first[::-1])


# --- BM25 itself ---------------------------------------------------------------------------
def _policy_chunks() -> list[list[str]]:
    from assistant.ingest import chunk_for
    from assistant.loading import load_document

    settings = Settings(auto_index_corpus=False)
    paths = [YANGTZE_LAW, *sorted(CORPUS.glob("*.md"))]
    paths = [p for p in paths if p.name != "README.md"]
    return [tokenize(c.text) for p in paths for c in chunk_for(load_document(p), settings)]


def test_bm25_scores_equal_the_bm25s_library_on_policy_text() -> None:
    """bm25s (Lucene variant) is the reference: it cannot add or delete rows, so the index is our own."""
    import bm25s

    chunks = _policy_chunks()
    reference = bm25s.BM25(k1=0.9, b=0.75, method="lucene")
    reference.index(chunks, show_progress=False)
    ours = Postings().appended(chunks[:40]).appended(chunks[40:])  # two segments, as after a write
    assert ours.rows == len(chunks) > 50
    for query in ("长江流域 生态环境 保护", "禁止 在 长江 干流 岸线 一公里 范围内 新建 化工园区",
                  "Yangtze River model city ecological protection", "green development water quality 2035"):
        terms = tokenize(query)
        expected = np.asarray(reference.get_scores_from_ids(reference.get_tokens_ids(terms)), dtype=np.float32)
        got = ours.scores(terms, BM25Params())
        assert expected.max() > 0, query
        assert np.allclose(got, expected, rtol=1e-5, atol=1e-5), query


def test_deleting_rows_gives_the_scores_of_an_index_without_them() -> None:
    chunks = _policy_chunks()
    dead = set(range(0, len(chunks), 3))
    kept = [c for i, c in enumerate(chunks) if i not in dead]
    grown = Postings().appended(chunks).without(sorted(dead))
    fresh = Postings().appended(kept)
    alive = [i for i in range(len(chunks)) if i not in dead]
    for query in ("长江 保护 修复", "model city Yangtze"):
        terms = tokenize(query)
        assert np.array_equal(grown.scores(terms, BM25Params())[alive], fresh.scores(terms, BM25Params()))
        assert np.array_equal(grown.compacted().scores(terms, BM25Params()), fresh.scores(terms, BM25Params()))
        assert not grown.scores(terms, BM25Params())[sorted(dead)].any()


def test_empty_postings_score_nothing() -> None:
    assert Postings().scores(["长江"], BM25Params()).shape == (0,)
    assert not Postings().appended([["a"], ["b"]]).without([0, 1]).scores(["a"], BM25Params()).any()


# --- the index kept in step with the store ---------------------------------------------
@pytest.fixture
def bm25_assistant(make_assistant: Callable[..., Assistant]) -> Assistant:
    return make_assistant(retrieval_mode="bm25")


def _titles(assistant: Assistant, query: str, **kwargs: object) -> list[str]:
    return [p.title for p in assistant.retrieve(query, k=5, **kwargs)]


def test_added_document_is_found_by_keyword_and_removed_one_is_gone(bm25_assistant: Assistant, tmp_path: Path) -> None:
    a = _write(tmp_path / "a.md", "Quokka rules", "Every quokka sanctuary must publish its xylophone inventory.")
    b = _write(tmp_path / "b.md", "River rules", "Sand mining in the river channel requires a permit.")
    results = bm25_assistant.add(a, b)
    assert _titles(bm25_assistant, "xylophone inventory") == ["Quokka rules"]
    assert _titles(bm25_assistant, "sand mining permit") == ["River rules"]
    bm25_assistant.remove(results[0].doc_id)
    assert _titles(bm25_assistant, "xylophone inventory") == []
    assert _titles(bm25_assistant, "sand mining permit") == ["River rules"]


def test_a_write_tokenizes_only_the_new_document(bm25_assistant: Assistant, tmp_path: Path) -> None:
    first = bm25_assistant.add(_write(tmp_path / "a.md", "Quokka rules", "The quokka sanctuary opens at dawn."))[0]
    index = bm25_assistant.retriever.lexical
    for _ in range(3):
        bm25_assistant.retrieve("quokka sanctuary")
    assert (index.builds, index.tokenized) == (1, first.chunks)
    second = bm25_assistant.add(_write(tmp_path / "b.md", "Heron rules", "The heron colony is closed in spring."))[0]
    assert _titles(bm25_assistant, "heron colony") == ["Heron rules"]
    assert (index.builds, index.updates) == (1, 1)
    assert index.tokenized == first.chunks + second.chunks  # the first document was not tokenized again
    bm25_assistant.remove(first.doc_id)
    assert _titles(bm25_assistant, "quokka sanctuary") == []
    assert index.tokenized == first.chunks + second.chunks and index.builds == 1


def test_index_grown_by_writes_ranks_like_one_built_from_scratch(
        bm25_assistant: Assistant, tmp_path: Path) -> None:
    """Additions and deletions change N, the average length and document frequencies; scores must follow."""
    grown = bm25_assistant.retriever.lexical
    grown.refresh()  # built while the store is empty; every write below is then caught up with on its own
    results = []
    for law in sorted(LAWS.glob("*.md"))[:3]:
        results.append(bm25_assistant.add(law)[0])
        grown.refresh()
    bm25_assistant.add(_write(tmp_path / "en.md", "River rules", "Sand mining in the river channel needs a permit."))
    grown.refresh()
    bm25_assistant.remove(results[1].doc_id)
    grown.refresh()
    assert (grown.builds, grown.updates) == (1, 5)
    scratch = LexicalIndex(bm25_assistant.store, None)
    for query in ("长江流域 生态环境保护", "水污染防治 排污许可", "禁止 非法采砂", "river sand mining permit"):
        mine = [(h.chunk_id, round(h.score, 4)) for h in grown.search(query, 10)]
        assert mine, query
        assert mine == [(h.chunk_id, round(h.score, 4)) for h in scratch.search(query, 10)], query


def test_deleted_rows_are_compacted_away_without_changing_results(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = make_assistant(retrieval_mode="bm25")
    index = assistant.retriever.lexical
    index.compact_ratio = 0.1
    kept = assistant.add(_write(tmp_path / "a.md", "Heron rules", "The heron colony is closed in spring."))[0]
    gone = [assistant.add(_write(tmp_path / f"q{i}.md", f"Quokka rules {i}", f"Quokka sanctuary {i} opens at dawn "
                                 "and closes at dusk; heron watchers keep to the path."))[0] for i in range(3)]
    before = index.search("heron colony spring", 5)
    for result in gone:
        assistant.remove(result.doc_id)
    snapshot = index.current()
    assert snapshot.dead == 0 and snapshot.ids == [c for c in snapshot.ids if c.startswith(kept.doc_id)]
    assert [h.chunk_id for h in index.search("heron colony spring", 5)] == [before[0].chunk_id]
    reloaded = LexicalIndex(assistant.store, index.directory)  # what was saved after compaction loads back
    assert [h.chunk_id for h in reloaded.search("heron colony spring", 5)] == [before[0].chunk_id]
    assert reloaded.tokenized == 0


def test_reindex_keeps_keyword_search_consistent(bm25_assistant: Assistant, tmp_path: Path) -> None:
    bm25_assistant.add(_write(tmp_path / "a.md", "Quokka rules", "The quokka sanctuary opens at dawn."))
    before = bm25_assistant.retrieve("quokka sanctuary")
    bm25_assistant.reindex()
    after = bm25_assistant.retrieve("quokka sanctuary")
    assert [p.chunk_id for p in after] == [p.chunk_id for p in before]
    assert after[0].text == before[0].text
    assert bm25_assistant.retriever.lexical.size == bm25_assistant.store.count_chunks()


def test_persisted_index_is_reused_by_a_new_process_view(bm25_assistant: Assistant, tmp_path: Path) -> None:
    bm25_assistant.add(_write(tmp_path / "a.md", "Quokka rules", "The quokka sanctuary opens at dawn."))
    bm25_assistant.retrieve("quokka")
    fresh = LexicalIndex(bm25_assistant.store, bm25_assistant.retriever.lexical.directory)
    hits = fresh.search("quokka sanctuary", 5)
    assert [h.doc_id for h in hits] == [bm25_assistant.documents()[0].doc_id]
    assert (fresh.builds, fresh.tokenized) == (0, 0)  # loaded from disk, nothing re-tokenized


def test_a_restart_catches_up_from_the_persisted_index(bm25_assistant: Assistant, tmp_path: Path) -> None:
    """Writes made while this view was not looking: it loads the saved index and tokenizes only those."""
    bm25_assistant.add(_write(tmp_path / "a.md", "Quokka rules", "The quokka sanctuary opens at dawn."))
    bm25_assistant.retrieve("quokka")
    directory = bm25_assistant.retriever.lexical.directory
    added = bm25_assistant.add(_write(tmp_path / "b.md", "Heron rules", "Herons nest in spring."))[0]  # no query
    fresh = LexicalIndex(bm25_assistant.store, directory)
    assert [h.doc_id for h in fresh.search("heron nest", 5)] == [added.doc_id]
    assert (fresh.builds, fresh.updates, fresh.tokenized) == (0, 1, added.chunks)


def test_second_assistant_on_the_same_store_sees_the_first_ones_writes(
        make_settings: Callable[..., Settings], embedder: object, tmp_path: Path) -> None:
    """Two app instances share one store (in server mode: one Chroma server, two lexical copies)."""
    first = Assistant(make_settings(retrieval_mode="bm25"), embedder=embedder)  # type: ignore[arg-type]
    # in server mode the second app has its own data folder, so its keyword index is its own copy
    own_folder = {"data_dir": tmp_path / "other"} if first.settings.server_mode else {}
    second = Assistant(make_settings(retrieval_mode="bm25", **own_folder), embedder=embedder)  # type: ignore[arg-type]
    assert second.retrieve("heron colony") == []
    first.add(_write(tmp_path / "h.md", "Heron rules", "The heron colony is closed in spring."))
    assert _titles(second, "heron colony") == ["Heron rules"]
    first.remove(first.documents()[0].doc_id)
    assert _titles(second, "heron colony") == []


def test_concurrent_queries_share_one_rebuild(bm25_assistant: Assistant, tmp_path: Path) -> None:
    bm25_assistant.add(_write(tmp_path / "a.md", "Quokka rules", "The quokka sanctuary opens at dawn."))
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            results.append(_titles(bm25_assistant, "quokka sanctuary"))
        except BaseException as exc:  # collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == [["Quokka rules"]] * 8
    assert bm25_assistant.retriever.lexical.builds == 1


def test_keyword_filters_follow_chroma_where(bm25_assistant: Assistant, tmp_path: Path) -> None:
    en = _write(tmp_path / "en.md", "Quokka rules", "The quokka sanctuary protects river wetlands.")
    zh = _write(tmp_path / "zh.md", "湿地规则", "湿地保护区禁止捕捞。river wetlands 保护。")
    other = _write(tmp_path / "other.md", "Heron rules", "Heron wetlands by the river are closed.")
    ids = {r.title: r.doc_id for r in bm25_assistant.add(en, zh, other)}
    query = "river wetlands"
    assert set(_titles(bm25_assistant, query)) == {"Quokka rules", "湿地规则", "Heron rules"}
    assert _titles(bm25_assistant, query, where={"language": "zh"}) == ["湿地规则"]
    assert set(_titles(bm25_assistant, query, where={"language": {"$ne": "zh"}})) == {"Quokka rules", "Heron rules"}
    assert set(_titles(bm25_assistant, query, documents=[ids["Quokka rules"], ids["湿地规则"]])) == \
        {"Quokka rules", "湿地规则"}
    both = {"$or": [{"doc_id": ids["Heron rules"]}, {"doc_id": {"$eq": ids["湿地规则"]}}]}
    assert set(_titles(bm25_assistant, query, where=both)) == {"Heron rules", "湿地规则"}
    narrow = {"$and": [{"language": "en"}, {"doc_id": {"$in": [ids["Heron rules"]]}}]}
    assert _titles(bm25_assistant, query, where=narrow) == ["Heron rules"]


@pytest.mark.server
def test_a_second_os_process_adds_and_this_one_finds_it(chroma_server: tuple[str, int], embedder: object,
                                                         tmp_path: Path) -> None:
    """The cross-process path: another `assistant` process writes through the Chroma server; the
    revision stamp tells this process to bring its keyword index up to date.

    Against the server only: Chroma's embedded (file) store is not meant for two processes at once.
    """
    host, port = chroma_server
    settings = Settings(data_dir=tmp_path / "here", chroma_host=host, chroma_port=port, collection="crossproc",
                        auto_index_corpus=False, retrieval_mode="bm25")
    here = Assistant(settings, embedder=embedder)  # type: ignore[arg-type]
    assert here.retrieve("xylophone quokka") == []
    doc = _write(tmp_path / "q.md", "Quokka rules", "Every quokka sanctuary must publish its xylophone inventory.")
    env = {**os.environ, "ASSISTANT_CHROMA_HOST": host, "ASSISTANT_CHROMA_PORT": str(port),
           "ASSISTANT_COLLECTION": "crossproc", "ASSISTANT_AUTO_INDEX_CORPUS": "false",
           "ASSISTANT_EMBEDDING_BACKEND": embedder.backend}  # type: ignore[attr-defined]
    result = subprocess.run([sys.executable, "-m", "assistant.cli", "--data-dir", str(tmp_path / "there"), "add",
                             str(doc)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert _titles(here, "xylophone quokka") == ["Quokka rules"]
    lexical = here.retriever.lexical
    assert (lexical.builds, lexical.updates) == (1, 1)  # built once empty, then caught up with the other write
