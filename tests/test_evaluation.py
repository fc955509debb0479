"""Evaluation: metrics on toy qrels, the dataset readers on verbatim excerpts of the benchmarks' files, and a tiny
end-to-end run."""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
from pathlib import Path

import pytest

from assistant.documents import Chunk, Passage
from assistant.evaluation import (
    Dataset,
    EvalError,
    Record,
    add_eval_arguments,
    article_key,
    build_index,
    chunk_records,
    group_document,
    labelled_passage,
    lecoqa_dev_qids,
    mrr_at,
    ndcg_at,
    percentile,
    rank_records,
    read_beir,
    read_lecoqa,
    read_obliqa,
    read_qrels,
    recall_at,
    run_eval,
    score_run,
    split_article_name,
)
from assistant.settings import Settings

# A few rows of each benchmark's files, copied verbatim (their READMEs say which and why); full benchmark
# runs (bench/, `assistant eval --dataset`) read the whole datasets outside the repository.
DATA = Path(__file__).resolve().parent / "data"
OBLIQA = DATA / "obliqa-excerpt"
LECOQA = DATA / "lecoqa-excerpt"
LAWS = DATA / "policy-texts-zh" / "laws-regulations"
TWIN_LAW = "L03_环境保护法(2014-04-24).md"  # two of its articles are gold articles of the LeCoQA excerpt
PLAIN_LAW = "L08_渔业法(2013-12-28).md"  # none of its articles is a LeCoQA gold article
ARTICLE_LINE = re.compile(r"^(第[一二三四五六七八九十百千零〇]+条(?:之[一二三四五六七八九十]+)?)\s", re.MULTILINE)


# --- metrics -------------------------------------------------------------------------------
def test_recall_counts_the_share_of_relevant_records_found() -> None:
    qrels = {"a": 1, "b": 1, "c": 0}
    ranked = ["x", "a", "y", "c", "b"]
    assert recall_at(ranked, qrels, 1) == 0.0
    assert recall_at(ranked, qrels, 2) == 0.5
    assert recall_at(ranked, qrels, 5) == 1.0  # c has relevance 0: not wanted


def test_mrr_is_the_reciprocal_rank_of_the_first_hit_within_k() -> None:
    assert mrr_at(["x", "y", "a"], {"a": 1}) == pytest.approx(1 / 3)
    assert mrr_at(["a"], {"a": 1}) == 1.0
    assert mrr_at(["x"] * 10 + ["a"], {"a": 1}, k=10) == 0.0


def test_ndcg_by_hand() -> None:
    qrels = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b"], qrels) == pytest.approx(1.0)
    # hits at ranks 2 and 3: (1/log2(3) + 1/log2(4)) / (1 + 1/log2(3))
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at(["x", "a", "b"], qrels) == pytest.approx(expected)
    assert ndcg_at(["x", "y"], qrels) == 0.0
    graded = {"a": 2, "b": 1}
    assert ndcg_at(["b", "a"], graded) < ndcg_at(["a", "b"], graded) == pytest.approx(1.0)


def test_score_run_averages_over_judged_queries_only() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}, "q3": {"c": 0}}
    metrics = score_run({"q1": ["a"], "q2": ["x", "b"], "q3": ["c"]}, qrels)
    assert metrics["recall@1"] == pytest.approx(0.5)
    assert metrics["recall@5"] == pytest.approx(1.0)
    assert metrics["mrr@10"] == pytest.approx(0.75)


def test_labelled_passages_match_by_file_then_article_or_paragraph() -> None:
    law = Passage("第十八条 违反本条例规定……罚款。", 0.8, "d1", "长江河道采砂管理条例", "d1:19", 0, 9,
                  source="/srv/corpus/yangtze-sand-mining-regulation.md", paragraph=20,
                  heading="长江河道采砂管理条例 > 第十八条", language="zh")
    commentary = Passage("… by 2035.", 0.8, "d2", "Commentary", "d2:0", 0, 9,
                         source="/srv/corpus/yichang-model-city-commentary.md", paragraph=1, language="en")
    sand = {"document": "yangtze-sand-mining-regulation.md", "articles": ["第十八条", "第十九条"]}
    assert labelled_passage(sand, law) and not labelled_passage(sand, commentary)
    assert not labelled_passage({**sand, "articles": ["第二十条"]}, law)
    assert labelled_passage({"documents": ["L14.md", "yangtze-sand-mining-regulation.md"], "article": "第十八条"}, law)
    assert not labelled_passage({"documents": ["L14.md"], "article": "第十八条"}, law)  # another file
    assert labelled_passage({"paragraph": 1}, commentary) and not labelled_passage({"paragraph": 2}, commentary)
    assert labelled_passage({"documents": ["yichang-model-city-commentary.md"]}, commentary)  # any paragraph


def test_percentile_interpolates() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)
    assert percentile([5.0], 95) == 5.0
    assert percentile(list(map(float, range(101))), 95) == pytest.approx(95.0)


# --- readers on excerpts of the real files ---------------------------------------------------
def test_qrels_reader_skips_the_header_and_filters(tmp_path: Path) -> None:
    path = tmp_path / "qrels.tsv"
    path.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n", encoding="utf-8")
    assert read_qrels(path) == {"q1": {"d1": 1}, "q2": {"d2": 2}}
    assert read_qrels(path, keep={"q2"}) == {"q2": {"d2": 2}}
    path.write_text("q1 d1 1\n", encoding="utf-8")
    with pytest.raises(EvalError, match=r"qrels.tsv:1"):
        read_qrels(path)


def _jsonl_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _tsv_rows(path: Path) -> list[list[str]]:
    """The data rows of a TSV file (its header line dropped), split on tabs."""
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]


def test_obliqa_reader_drops_empty_passages_and_keeps_ids() -> None:
    rows = _jsonl_rows(OBLIQA / "corpus.jsonl")
    kept = [row for row in rows if row["Passage"].strip()]
    empty = len(rows) - len(kept)
    assert empty >= 3  # the excerpt does hold empty passages to drop
    aliases = {doc: names.split(" | ") for doc, _, names in _tsv_rows(OBLIQA / "documents.tsv")}
    titles = {doc: max(names, key=len) for doc, names in aliases.items()}
    assert any(titles[doc] != names[0] for doc, names in aliases.items())  # so "longest alias" is really tested
    for split in ("dev", "test"):
        dataset = read_obliqa(split, OBLIQA)
        # every non-empty passage, in file order, under its own ID; nothing else
        assert [r.id for r in dataset.corpus] == [row["ID"] for row in kept]
        assert f"dropped {empty} empty passages" in dataset.notes[0]
        for record, row in zip(dataset.corpus, kept, strict=True):
            title = titles[str(row["DocumentID"])]
            assert record.text == row["Passage"] and record.title == title
            assert record.heading == (title, row["PassageID"]) and record.group == f"obliqa-{row['DocumentID']:02d}"
        questions = json.loads((OBLIQA / f"{split}.json").read_text(encoding="utf-8"))
        assert dataset.queries == {q["QuestionID"]: q["Question"] for q in questions}
        pairs = _tsv_rows(OBLIQA / "qrels" / f"{split}.tsv")
        assert sum(len(rel) for rel in dataset.qrels.values()) == len(pairs)
        assert {(q, doc) for q, rel in dataset.qrels.items() for doc in rel} == {(q, doc) for q, doc, _ in pairs}
        indexed = {r.id: r for r in dataset.corpus}
        for question in questions:
            gold = dataset.qrels.get(question["QuestionID"], {})
            assert gold and set(gold) <= set(indexed)  # every question is judged and its gold passages are indexed
            # the qrels point at exactly the passages the question file quotes as its evidence
            assert sorted((indexed[doc].heading[-1], indexed[doc].text) for doc in gold) == sorted(
                (p["PassageID"], p["Passage"]) for p in question["Passages"])


@pytest.fixture(scope="module")
def laws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A laws folder of two real laws, one with gold twins in the LeCoQA excerpt and one without."""
    folder = tmp_path_factory.mktemp("laws")
    for name in (TWIN_LAW, PLAIN_LAW):
        shutil.copyfile(LAWS / name, folder / name)
    return folder


def _lecoqa_split(dataset: Dataset, qids: list[str]) -> None:
    """The dataset asks exactly ``qids``, with their texts from queries.json and their rows of qrels/all.tsv."""
    wanted = set(qids)
    raw = json.loads((LECOQA / "queries.json").read_text(encoding="utf-8"))
    assert dataset.queries == {str(q["query_id"]): q["问题"] for q in raw if str(q["query_id"]) in wanted}
    assert set(dataset.queries) == wanted
    pairs = {(q, doc) for q, doc, _ in _tsv_rows(LECOQA / "qrels" / "all.tsv") if q in wanted}
    assert {(q, doc) for q, rel in dataset.qrels.items() for doc in rel} == pairs
    assert set(dataset.qrels) == wanted  # every query is judged, and only the split's queries are


def test_lecoqa_reader_adds_distractor_articles_but_no_gold_twins(laws: Path) -> None:
    dataset = read_lecoqa("test", LECOQA, laws=laws)
    _lecoqa_split(dataset, (LECOQA / "split_test_qids.txt").read_text(encoding="utf-8").split())
    records = {r.id: r for r in dataset.corpus}
    assert len(records) == len(dataset.corpus)  # ids are unique
    gold = {row["id"]: row["content"] for row in _jsonl_rows(LECOQA / "corpus_gold_articles.jsonl")}
    assert set(gold) <= set(records)  # every gold article is indexed, as written, under its law and article
    for name, content in gold.items():
        cut = name.rindex("第")
        assert records[name].text == content and records[name].heading == (name[:cut], name[cut:])
    gold_keys = {name.removeprefix("中华人民共和国") for name in gold}
    expected: set[str] = set()
    twins: set[str] = set()
    for path in sorted(laws.glob("*.md")):  # the laws' articles, read from their text: '第…条 ' opens a line
        text = path.read_text(encoding="utf-8")
        title = text.splitlines()[0].removeprefix("# ").strip()
        articles = ARTICLE_LINE.findall(text)
        assert articles and len(articles) == len(set(articles))
        for article in articles:
            name = title + article
            (twins if name.removeprefix("中华人民共和国") in gold_keys else expected).add(name)
    assert twins and expected  # the fixture exercises both: twins to drop, other articles to keep
    distractors = [r for r in dataset.corpus if r.id not in gold]
    assert {r.id for r in distractors} == expected  # every article of the laws except the gold twins
    assert f"{len(gold)} gold articles + {len(expected)} distractor articles" in dataset.notes[0]
    assert f"({len(twins)} dropped as gold names)" in dataset.notes[0]
    texts = {path.read_text(encoding="utf-8") for path in laws.glob("*.md")}
    for record in distractors:  # each is one whole article, cut verbatim from its law
        law, article = record.heading
        assert record.id == law + article and record.text.startswith(article + " ")
        assert ARTICLE_LINE.findall(record.text) == [article] and any(record.text in text for text in texts)
    assert "中华人民共和国环境保护法第五十八条" in twins and "中华人民共和国环境保护法第五十八条" not in records
    kept = records["中华人民共和国环境保护法第五十七条"]
    assert kept.text.startswith("第五十七条 公民、法人和其他组织发现任何单位和个人有污染环境和破坏生态行为的")
    assert kept.heading == ("中华人民共和国环境保护法", "第五十七条")
    fishery = records["中华人民共和国渔业法第一条"]
    assert fishery.text.startswith("第一条") and fishery.heading == ("中华人民共和国渔业法", "第一条")


def test_lecoqa_dev_is_held_out_of_train_and_test(laws: Path) -> None:
    train_ids = (LECOQA / "split_train_qids.txt").read_text(encoding="utf-8").split()
    test_ids = (LECOQA / "split_test_qids.txt").read_text(encoding="utf-8").split()
    dev = read_lecoqa("dev", LECOQA, laws=laws)
    train = read_lecoqa("train", LECOQA, laws=laws)
    held_out = train_ids[::4]  # every fourth train query, by position
    assert set(dev.queries) == set(lecoqa_dev_qids(train_ids)) == set(held_out)
    assert 0 < len(held_out) < len(train_ids)
    _lecoqa_split(dev, held_out)
    _lecoqa_split(train, [q for q in train_ids if q not in held_out])
    assert not set(dev.queries) & set(train.queries) and not set(dev.queries) & set(test_ids)
    assert set(dev.queries) | set(train.queries) == set(train_ids)


def test_article_names_split_and_compare_without_the_prc_prefix() -> None:
    assert split_article_name("中华人民共和国民法典第五十四条") == ("中华人民共和国民法典", "第五十四条")
    assert split_article_name("个体工商户条例第二条之一") == ("个体工商户条例", "第二条之一")
    assert article_key("中华人民共和国环境保护法第六条") == article_key("环境保护法第六条")


def test_beir_reader_and_its_errors(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "title": "T", "text": "hello"}\n{"_id": "d2", "text": ""}\n', encoding="utf-8")
    queries = tmp_path / "queries.jsonl"
    queries.write_text('{"_id": "q1", "text": "hi"}\n', encoding="utf-8")
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq9\td1\t1\n", encoding="utf-8")
    dataset = read_beir(corpus, queries, qrels, name="toy")
    assert [r.id for r in dataset.corpus] == ["d1"] and dataset.notes == ["dropped 1 records with empty text"]
    assert dataset.qrels == {"q1": {"d1": 1}}  # judgements for unknown queries are ignored
    corpus.write_text('{"_id": "d1", "text": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(EvalError, match=r"corpus.jsonl:2: not valid JSON"):
        read_beir(corpus, queries, qrels)
    with pytest.raises(EvalError, match="does not exist"):
        read_beir(tmp_path / "missing.jsonl", queries, qrels)


def test_records_join_into_one_document_and_chunks_trace_back_to_them() -> None:
    group = [Record("r1", "First rule.", "g", "Rulebook", ("Rulebook", "1.1")),
             Record("r2", "Second rule.", "g", "Rulebook", ("Rulebook", "1.2"))]
    document, spans = group_document(group)
    assert [document.text[start:end] for _, start, end in spans] == ["First rule.", "Second rule."]
    assert document.title == "Rulebook"
    whole = Chunk(document.text, 0, 0, len(document.text), 1)
    second = Chunk("rule.", 1, spans[1][2] - 5, spans[1][2], 2)
    assert chunk_records([whole, second], spans) == [["r2", "r1"], ["r2"]]  # most overlap first


def test_a_chunk_overlapping_a_gold_record_is_a_hit_once() -> None:
    owners = {"c1": ["r1", "r2"], "c2": ["r2"], "c3": ["r3"]}
    passages = [Passage("", 0.0, "d", "", c, 0, 0) for c in ("c1", "c2", "c3")]
    assert rank_records(passages, owners, {"r2": 1}) == ["r2", "r3"]
    assert rank_records(passages, owners) == ["r1", "r2", "r3"]


# --- end to end on a tiny BEIR-style benchmark -----------------------------------------------
TOY_CORPUS = [
    ("d1", "Fishing rules", "Commercial fishing is banned in the river basin from 2021 for ten years."),
    ("d2", "Sand mining", "Sand mining in the river channel requires a permit from the water authority."),
    ("d3", "Wetlands", "Wetland reserves protect migratory birds and their habitat."),
    ("d4", "Pollution", "Factories must treat wastewater before discharging it into rivers."),
    ("d5", "Forests", "Shelter forests along the river banks may not be cut down."),
    ("d6", "Shipping", "Foreign ships need a pilot to navigate the river."),
]
TOY_QUERIES = [("q1", "When does the fishing ban start?", "d1"), ("q2", "Do I need a permit to dig sand?", "d2"),
               ("q3", "Which rules protect birds?", "d3"), ("q4", "Can factories discharge dirty water?", "d4")]


def _toy_files(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": i, "title": t, "text": x})
                                                   for i, t, x in TOY_CORPUS), encoding="utf-8")
    (folder / "queries.jsonl").write_text("\n".join(json.dumps({"_id": q, "text": t}) for q, t, _ in TOY_QUERIES),
                                          encoding="utf-8")
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n"
                                                                             for q, _, d in TOY_QUERIES))
    return ["--corpus", str(folder / "corpus.jsonl"), "--queries", str(folder / "queries.jsonl"),
            "--qrels", str(folder / "qrels.tsv")]


def _args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_eval_arguments(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_run_eval_end_to_end_and_index_reuse(tmp_path: Path, mode: str, capsys: pytest.CaptureFixture[str]) -> None:
    files = _toy_files(tmp_path / "toy")
    settings = Settings(data_dir=tmp_path / "data", auto_index_corpus=False)
    argv = [*files, "--name", "toy", "--mode", mode, "--eval-dir", str(tmp_path / "eval"), "--json"]
    assert run_eval(_args(argv), settings) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["mode"] == mode and report["queries"] == 4
    assert report["index"]["records"] == 6 and report["index"]["chunks"] == 6 and not report["index"]["reused"]
    assert report["metrics"]["recall@10"] == 1.0  # six records: everything relevant is in the top 10
    assert report["metrics"]["ndcg@10"] >= 0.6
    assert report["latency_ms"]["p50"] > 0
    assert run_eval(_args(argv[:-1]), settings) == 0  # the second run reuses the index, prints a table
    table = capsys.readouterr().out
    assert "(reused)" in table and "nDCG@10" in table
    assert not (tmp_path / "data" / "chroma").exists()  # the user's store was never touched


def test_changed_corpus_rebuilds_the_eval_index(tmp_path: Path, embedder: object) -> None:
    settings = Settings(data_dir=tmp_path / "toy-index", collection="eval", auto_index_corpus=False)
    first = Dataset("toy", [Record("a", "alpha text", "g")], {"q": "alpha"}, {"q": {"a": 1}})
    _, info, owners = build_index(first, settings, embedder)
    assert not info.reused and list(owners.values()) == [["a"]]
    _, info, _ = build_index(first, settings, embedder)
    assert info.reused
    second = Dataset("toy", [Record("a", "alpha text", "g"), Record("b", "beta text", "g2")], {}, {})
    store, info, owners = build_index(second, settings, embedder)
    assert not info.reused and sorted(owners.values()) == [["a"], ["b"]] and store.count_chunks() == 2


def test_missing_inputs_are_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=tmp_path / "data", auto_index_corpus=False)
    assert run_eval(_args(["--corpus", str(tmp_path / "c.jsonl")]), settings) == 1
    assert "missing: --queries, --qrels" in capsys.readouterr().err
