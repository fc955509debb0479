"""The labelled library question set (tests/data/library_questions.json) is well formed and honest.

No model and no store: these checks read the JSON and the texts it cites. They make sure every
answerable item's evidence stands verbatim in the one document it names (inside the named article
for laws), that the set has the categories, pairs, splits and held-out laws its protocol
(tests/data/library_questions.md) promises, and that no dev question leaks a held-out law.

Set LIBRARY_QUESTIONS=/path/to/other.json to check another copy of the set (e.g. a corrupted one,
to see these tests fail).
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections import Counter, defaultdict
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = Path(os.environ.get("LIBRARY_QUESTIONS", ROOT / "tests" / "data" / "library_questions.json"))
INDEX = ROOT / "tests" / "data" / "policy-texts-zh" / "index.csv"

TAGS = {"year-document", "year-content", "law-named", "report-named", "cross-language", "paraphrase", "figure",
        "same-language"}
REASONS = {"absent-year", "absent-law", "partial-text", "not-stated"}
SPLITS = ("dev", "test")
LATER_BATCH = re.compile(r"d\d+-")  # ids of the dev batches written after tuning began
COMMON_KEYS = {"id", "split", "language", "question", "answerable", "tags", "pair"}
ANSWERABLE_KEYS = COMMON_KEYS | {"document", "documents", "evidence", "fact", "article"}
UNANSWERABLE_KEYS = COMMON_KEYS | {"reason", "near"}

ARTICLE = re.compile(r"^第[一二三四五六七八九十百千零〇]+条(?=[ \u3000\t])", re.MULTILINE)
YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")
REPORT_YEAR = re.compile(r"GWR_(\d{4})_")
CJK = re.compile(r"[\u4e00-\u9fff]")
PRC = "中华人民共和国"


# --------------------------------------------------------------------------- loading
@cache
def data() -> dict[str, Any]:
    return json.loads(QUESTIONS.read_text("utf-8"))


def questions() -> list[dict[str, Any]]:
    return data()["questions"]


@cache
def text_of(path: str) -> str:
    """A document's text as the assistant indexes it: UTF-8, without the YAML front matter of a .md file."""
    text = (ROOT / path).read_text("utf-8")
    if path.endswith(".md") and text.startswith("---\n"):
        lines = text.split("\n")
        closing = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
        text = "\n".join(lines[closing + 1:])
    return text


def cited(item: dict[str, Any]) -> list[str]:
    """Keys of the documents an answerable item accepts."""
    return list(item["documents"]) if "documents" in item else [item["document"]]


def is_law(key: str) -> bool:
    return len(ARTICLE.findall(text_of(data()["documents"][key]))) >= 3


def language_of(key: str) -> str:
    text = text_of(data()["documents"][key])
    return "zh" if len(CJK.findall(text)) > 0.3 * len(text.strip()) else "en"


def report_years() -> dict[int, str]:
    """Year -> key of that year's government work report, for every report in the library."""
    years = {}
    for key, path in data()["documents"].items():
        match = REPORT_YEAR.search(Path(path).name)
        if match:
            years[int(match.group(1))] = key
    return years


def years_named(question: str) -> set[int]:
    return {int(y) for y in YEAR.findall(question)}


def article_span(text: str, label: str) -> tuple[int, int] | None:
    """Start and end of the article that begins with ``label`` at a line start (end: the next article)."""
    match = re.search(rf"^{re.escape(label)}(?=[ \u3000\t])", text, re.MULTILINE)
    if match is None:
        return None
    following = ARTICLE.search(text, match.end())
    return match.start(), following.start() if following else len(text)


def law_titles(path: str) -> set[str]:
    """A law's title from its first `# ` line, with and without the PRC prefix, plus its English title."""
    first = next(line for line in (ROOT / path).read_text("utf-8").splitlines() if line.startswith("# "))
    title = first[2:].strip()
    titles = {title, title.removeprefix(PRC)}
    with INDEX.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if path.endswith(row["file"]):
                titles.add(row["title_en"])
    return {t for t in titles if t}


# --------------------------------------------------------------------------- shape
def test_top_level_shape_and_paths() -> None:
    d = data()
    assert set(d) == {"description", "documents", "held_out", "questions"}
    assert isinstance(d["description"], str) and len(d["description"]) > 100
    assert isinstance(d["documents"], dict) and d["documents"]
    for key, path in d["documents"].items():
        assert isinstance(key, str) and isinstance(path, str)
        assert (ROOT / path).is_file(), f"documents[{key!r}] = {path} does not exist"
    assert isinstance(d["held_out"], list) and len(d["held_out"]) == 3
    assert len(set(d["held_out"])) == 3
    for path in d["held_out"]:
        assert (ROOT / path).is_file(), f"held-out {path} does not exist"
        assert path in d["documents"].values(), f"held-out {path} has no key in documents"
    assert isinstance(d["questions"], list)


def test_items_have_the_required_fields() -> None:
    problems = []
    keys = data()["documents"]
    ids = Counter(item.get("id") for item in questions())
    problems += [f"duplicate id {i!r}" for i, n in ids.items() if n > 1]
    for item in questions():
        name = item.get("id", item)
        if not isinstance(item.get("id"), str) or not item["id"]:
            problems.append(f"{name}: id")
        if item.get("split") not in SPLITS:
            problems.append(f"{name}: split {item.get('split')!r}")
        if item.get("language") not in ("en", "zh"):
            problems.append(f"{name}: language {item.get('language')!r}")
        question = item.get("question")
        if not isinstance(question, str) or len(question) < 5:
            problems.append(f"{name}: question")
            continue
        if item.get("language") == "zh" and not CJK.search(question):
            problems.append(f"{name}: a zh question without Chinese")
        if item.get("language") == "en" and CJK.search(question):
            problems.append(f"{name}: an en question with Chinese in it")
        tags = item.get("tags")
        if not isinstance(tags, list) or not tags or not set(tags) <= TAGS or len(set(tags)) != len(tags):
            problems.append(f"{name}: tags {tags!r}")
        if "pair" in item and not (isinstance(item["pair"], str) and item["pair"]):
            problems.append(f"{name}: pair")
        if not isinstance(item.get("answerable"), bool):
            problems.append(f"{name}: answerable")
            continue
        if item["answerable"]:
            extra = set(item) - ANSWERABLE_KEYS
            if ("document" in item) == ("documents" in item):
                problems.append(f"{name}: exactly one of document / documents")
            elif "document" in item and item["document"] not in keys:
                problems.append(f"{name}: unknown document {item['document']!r}")
            elif "documents" in item and (not isinstance(item["documents"], list) or len(item["documents"]) < 2
                                          or not set(item["documents"]) <= set(keys)):
                problems.append(f"{name}: documents {item['documents']!r}")
            for field in ("evidence", "fact"):
                if not isinstance(item.get(field), str) or not item[field]:
                    problems.append(f"{name}: {field}")
            if isinstance(item.get("evidence"), str) and not 10 <= len(item["evidence"]) <= 80:
                problems.append(f"{name}: evidence has {len(item['evidence'])} characters, not 10-80")
            if "article" in item and not (isinstance(item["article"], str) and ARTICLE.match(item["article"] + " ")):
                problems.append(f"{name}: article {item['article']!r}")
        else:
            extra = set(item) - UNANSWERABLE_KEYS
            if item.get("reason") not in REASONS:
                problems.append(f"{name}: reason {item.get('reason')!r}")
            if "near" in item and item["near"] not in keys:
                problems.append(f"{name}: unknown near {item['near']!r}")
        if extra:
            problems.append(f"{name}: unexpected fields {sorted(extra)} (labels are for judging, not hints)")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- evidence
def test_evidence_is_verbatim_in_the_labelled_document_and_article() -> None:
    problems = []
    documents = data()["documents"]
    for item in questions():
        if not item["answerable"]:
            continue
        name, evidence, fact = item["id"], item["evidence"], item["fact"]
        if fact not in evidence:
            problems.append(f"{name}: fact {fact!r} is not inside the evidence")
        for key in cited(item):
            text = text_of(documents[key])
            if evidence not in text:
                problems.append(f"{name}: evidence {evidence!r} is not verbatim in {documents[key]}")
                continue
            if not is_law(key):
                if "article" in item:
                    problems.append(f"{name}: an article label for {key}, which has no articles")
                continue
            if "article" not in item:
                problems.append(f"{name}: {key} is a law, so the item needs its article")
                continue
            span = article_span(text, item["article"])
            if span is None:
                problems.append(f"{name}: {item['article']} does not start a line in {documents[key]}")
                continue
            start, end = span
            if evidence not in text[start:end]:
                problems.append(f"{name}: evidence is in {documents[key]} but not inside {item['article']}")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- categories and counts
def test_counts() -> None:
    items = questions()
    assert len(items) >= 120
    assert sum(not i["answerable"] for i in items) >= 25
    cross_en = [i for i in items if i["answerable"] and i["language"] == "en" and "cross-language" in i["tags"]
                and all(language_of(k) == "zh" for k in cited(i))]
    assert len(cross_en) >= 25, f"only {len(cross_en)} answerable English questions about Chinese texts"
    cross_zh = [i for i in items if i["answerable"] and i["language"] == "zh"
                and all(language_of(k) == "en" for k in cited(i))]
    assert len(cross_zh) >= 3, "a few Chinese questions about the English commentary"
    same = [i for i in items if i["answerable"] and "same-language" in i["tags"]]
    assert {i["language"] for i in same} == {"en", "zh"}
    reasons = Counter(i["reason"] for i in items if not i["answerable"])
    assert set(reasons) == REASONS, reasons


def test_language_tags_match_the_documents() -> None:
    problems = []
    for item in questions():
        tags = set(item["tags"])
        if len(tags & {"same-language", "cross-language"}) != 1:
            problems.append(f"{item['id']}: needs exactly one of same-language / cross-language")
            continue
        keys = cited(item) if item["answerable"] else [item["near"]] if "near" in item else []
        if keys:
            cross = any(language_of(k) != item["language"] for k in keys)
            if cross != ("cross-language" in tags):
                problems.append(f"{item['id']}: language tag does not match {keys}")
    assert not problems, "\n".join(problems)


def test_pairs_contrast_a_year_as_content_with_the_same_year_as_document() -> None:
    pairs: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in questions():
        if "pair" in item:
            pairs[item["pair"]].append(item)
    assert len(pairs) >= 10
    for pair, members in pairs.items():
        assert len(members) == 2, f"pair {pair} has {len(members)} items"
        kinds = sorted(("year-content" in m["tags"], "year-document" in m["tags"]) for m in members)
        assert kinds == [(False, True), (True, False)], f"pair {pair}: one year-content and one year-document item"
        assert members[0]["split"] == members[1]["split"], f"pair {pair} is split across dev and test"
        shared = years_named(members[0]["question"]) & years_named(members[1]["question"])
        assert shared, f"pair {pair}: the two questions do not name the same year"


def test_year_questions_are_labelled_with_the_right_report() -> None:
    reports = report_years()
    problems = []
    for item in questions():
        years = years_named(item["question"])
        tags = set(item["tags"])
        if ("year-document" in tags or "year-content" in tags) and not years:
            problems.append(f"{item['id']}: a year tag but no year in the question")
        if item["answerable"] and "year-document" in tags:
            wanted = {reports[y] for y in years if y in reports}
            if cited(item) != [item.get("document")] or item["document"] not in wanted:
                problems.append(f"{item['id']}: names {sorted(years)} as the document but cites {cited(item)}")
        if item["answerable"] and "year-content" in tags:
            own = [k for k in cited(item) if k in reports.values() and
                   int(REPORT_YEAR.search(data()["documents"][k]).group(1)) in years]
            if own:
                problems.append(f"{item['id']}: a year as content answered from that same year's report {own}")
        if not item["answerable"] and item["reason"] == "absent-year":
            if "year-document" not in tags:
                problems.append(f"{item['id']}: absent-year without the year-document tag")
            if not years or years & set(reports):
                problems.append(f"{item['id']}: absent-year must name only years with no report ({sorted(years)})")
    assert not problems, "\n".join(problems)


# --------------------------------------------------------------------------- splits and held-out laws
def test_splits_are_stratified() -> None:
    """The split made when the set was written is balanced; the batches written later (ids d2-…, d3-…, fresh
    questions to tune on once the first dev items had been read too often) are all dev."""
    items = questions()
    batches = [i for i in items if LATER_BATCH.match(i["id"])]
    assert {i["split"] for i in batches} <= {"dev"}, "a later batch may only add dev questions"
    original = [i for i in items if i not in batches]
    for split in SPLITS:
        first = [i for i in original if i["split"] == split]
        assert 0.35 * len(original) <= len(first) <= 0.65 * len(original), f"{split}: {len(first)} of {len(original)}"
        part = [i for i in items if i["split"] == split]
        tags = {t for i in part for t in i["tags"]}
        assert tags == TAGS, f"{split} lacks tags {sorted(TAGS - tags)}"
        assert {i["answerable"] for i in part} == {True, False}
        assert {i["language"] for i in part} == {"en", "zh"}
        reasons = {i["reason"] for i in part if not i["answerable"]}
        assert reasons == REASONS, f"{split} lacks reasons {sorted(REASONS - reasons)}"


def test_held_out_laws_appear_only_in_test() -> None:
    d = data()
    held_paths = d["held_out"]
    held_keys = {k for k, p in d["documents"].items() if p in held_paths}
    for path in held_paths:
        assert "/laws-regulations/" in path, f"{path} is not a law or regulation"
        assert not Path(path).name.startswith(("L01_", "L14_")), f"{path} must not be held out"
    about_held = [i for i in questions() if i["answerable"] and set(cited(i)) & held_keys]
    in_test = [i for i in about_held if i["split"] == "test"]
    assert len(in_test) >= 5, f"only {len(in_test)} test questions answered by held-out laws"
    assert {i["language"] for i in in_test} == {"en", "zh"}
    assert {k for i in in_test for k in cited(i)} >= held_keys, "every held-out law is asked about"
    titles = {t for path in held_paths for t in law_titles(path)}
    problems = []
    for item in questions():
        if item["split"] != "dev":
            continue
        keys = set(cited(item)) if item["answerable"] else {item.get("near")}
        if keys & held_keys:
            problems.append(f"{item['id']}: a dev item citing a held-out law {sorted(keys & held_keys)}")
        named = [t for t in titles if t.lower() in item["question"].lower()]
        if named:
            problems.append(f"{item['id']}: a dev question naming a held-out law {named}")
    assert not problems, "\n".join(problems)
