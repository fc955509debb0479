"""Document metadata (issue 13): dates at their stated precision, kinds, issuers, where each was read, the
user's corrections (checked, kept through re-indexing, re-embedding when the title changes) and filters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

from assistant.documents import Document
from assistant.errors import InvalidMetadata, UnknownDocument
from assistant.loading import load_document
from assistant.metadata import (
    Filters,
    annotate,
    chunk_fields,
    corrected,
    date_bounds,
    kind_from_title,
    parse_date,
    parse_kind,
)
from tests.conftest import CORPUS, LAWS, REPORTS, YANGTZE_LAW, dated_reports

SAND_REGULATION = CORPUS / "yangtze-sand-mining-regulation.md"
TODAY = dt.date(2026, 1, 1)


def _note(text: str, source: str = "note.txt", title: str = "Note", **metadata: object) -> Document:
    return Document(text=text, source=source, title=title, language="en", metadata=dict(metadata))


# --- dates ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("given", "expected"), [
    (2016, "2016"), ("2016", "2016"), ("2024-3", "2024-03"), ("2024-03-05", "2024-03-05"), ("2024/3/5", "2024-03-05"),
    ("2024年", "2024"), ("2024年3月", "2024-03"), ("2024年3月5日", "2024-03-05"), ("March 5, 2024", "2024-03-05"),
    ("5 March 2024", "2024-03-05"), ("2024-03-05T10:00:00", "2024-03-05"), ("２０２４－０３－０５", "2024-03-05"),
])
def test_a_date_keeps_the_precision_it_was_given_at(given: object, expected: str) -> None:
    assert parse_date(given) == expected


@pytest.mark.parametrize("given", ["2024-13-01", "2023-02-29", "spring 2020", "", "24", "20240305x", True, None])
def test_a_date_that_is_not_one_is_refused_saying_how_to_write_one(given: object) -> None:
    with pytest.raises(InvalidMetadata, match="not a date"):
        parse_date(given)


def test_date_bounds_span_the_precision_never_a_made_up_day() -> None:
    assert date_bounds("2016") == (20160101, 20161231)
    assert date_bounds("2024-02") == (20240201, 20240229)
    assert date_bounds("2023-12") == (20231201, 20231231)
    assert date_bounds("2024-03-05") == (20240305, 20240305)


# --- what the texts say ----------------------------------------------------------------------------

REPORT_DATES = {"2016": "2016", "2017": "2017-03-05", "2018": "2018", "2019": "2019", "2021": "2021-03-05",
                "2022": "2022-03-05", "2023": "2023-03-05", "2024": "2024-03-05", "2025": "2025"}


def test_every_work_report_gets_its_date_kind_and_issuer_with_where_each_was_read() -> None:
    reports = sorted(REPORTS.glob("*.txt"))
    assert len(reports) == 9
    for path in reports:
        meta = annotate(load_document(path), today=TODAY).metadata
        year = path.name[4:8]
        assert meta["date"] == REPORT_DATES[year], path.name
        assert meta["year"] == int(year) and meta["kind"] == "work report" and meta["issuer"] == "国务院"
        origin = meta["provenance"]["date"]
        if len(meta["date"]) == 4:  # no header line: the file name's year, never an invented day
            assert origin == {"from": "file name", "evidence": path.name}
        else:  # the header line: ——2024年3月5日在第十四届全国人民代表大会第二次会议上
            assert origin["from"] == "text" and origin["evidence"].startswith(f"——{year}年3月5日在第")
        assert meta["provenance"]["kind"]["from"] == "title"


def test_a_law_keeps_promulgation_revision_and_entry_into_force_apart_from_its_date() -> None:
    meta = annotate(load_document(LAWS / "L14_长江河道采砂管理条例(2023-07-20).md"), today=TODAY).metadata
    assert (meta["date"], meta["promulgated"], meta["revised"], meta["effective"]) == \
        ("2023-07-20", "2001-10-25", "2023-07-20", "2002-01-01")
    assert meta["kind"] == "regulation" and meta["issuer"] == "国务院"
    assert meta["provenance"]["date"]["from"] == "file name"
    assert meta["provenance"]["effective"] == {"from": "text", "evidence": "本条例自2002年1月1日起施行"}
    assert meta["provenance"]["promulgated"]["evidence"].startswith("2001年10月25日")


def test_what_a_text_does_not_state_stays_unknown() -> None:
    law = annotate(load_document(YANGTZE_LAW), today=TODAY).metadata  # the copy stops at Article 79
    assert law["kind"] == "law" and law["issuer"] == "全国人民代表大会常务委员会" and "effective" not in law
    note = annotate(_note("Ferries\n\nThe ferry runs daily.", title="Ferries"), today=TODAY).metadata
    assert note["kind"] == "other" and note["provenance"]["kind"] == {"from": "default"}
    assert not {"date", "year", "issuer", "promulgated", "effective"} & set(note)


def test_front_matter_wins_and_an_unreadable_front_matter_date_is_left_out_with_a_warning() -> None:
    meta = annotate(load_document(SAND_REGULATION), today=TODAY).metadata
    assert meta["date"] == "2023-07-20" and meta["issuer"] == "中华人民共和国国务院"
    assert {meta["provenance"][k]["from"] for k in ("date", "kind", "issuer", "effective")} == {"front matter"}
    odd = annotate(_note("Plan\n\nText.", source="plan (2021-06-30).txt", date="spring 2020", kind="State Council "
                         "administrative regulation"), today=TODAY).metadata
    assert odd["date"] == "2021-06-30" and odd["provenance"]["date"]["from"] == "file name"
    assert odd["kind"] == "regulation" and odd["provenance"]["kind"]["evidence"].startswith("State Council")
    assert [w for w in odd["warnings"] if "spring 2020" in w and "left out" in w]
    once = annotate(_note("Plan\n\nText.", date="spring 2020"), today=TODAY)
    assert annotate(once, today=TODAY) == once  # re-indexing annotates again: no second warning


def test_header_lines_of_an_english_text_and_file_names_give_dates_but_never_future_or_ambiguous_ones() -> None:
    adopted = _note("Measures on ferries\nAdopted on March 5, 2024\n\nThe ferry runs daily.",
                    title="Measures on ferries")
    assert annotate(adopted, today=TODAY).metadata["date"] == "2024-03-05"
    assert annotate(adopted, today=TODAY).metadata["kind"] == "regulation"
    assert annotate(_note("x", source="GWR_2023_report.txt"), today=TODAY).metadata["date"] == "2023"
    assert "date" not in annotate(_note("x", source="vision_2035.txt"), today=TODAY).metadata
    assert "date" not in annotate(_note("x", source="plan_2021_2025.txt"), today=TODAY).metadata


@pytest.mark.parametrize(("title", "kind"), [
    ("中华人民共和国长江保护法", "law"), ("长江河道采砂管理条例", "regulation"),
    ("中华人民共和国外国籍船舶航行长江水域管理规定", "regulation"),
    ("2024年中华人民共和国国务院政府工作报告", "work report"), ("在全省生态环境保护大会上的讲话", "speech"),
    ("关于做好汛期安全工作的通知", "notice"), ("Yangtze River Protection Law", "law"),
    ("Regulations on the Administration of River Courses", "regulation"),
    ("Report on the Work of the Government", "work report"),
    ("The Ferry Method", None), ("工作方法", None),
])
def test_kinds_are_read_from_the_words_of_titles(title: str, kind: str | None) -> None:
    found = kind_from_title(title)
    assert (found.value if found else None) == kind


# --- corrections -----------------------------------------------------------------------------------

def test_a_correction_wins_is_kept_through_annotation_and_can_be_dropped() -> None:
    report = annotate(load_document(REPORTS / "GWR_2024_政府工作报告.txt"), today=TODAY)
    fixed = corrected(report, date="2024-03", kind="Speech", title="Report 2024")
    assert (fixed.metadata["date"], fixed.metadata["year"], fixed.metadata["kind"], fixed.title) == \
        ("2024-03", 2024, "speech", "Report 2024")
    assert fixed.metadata["provenance"]["date"] == {"from": "corrected"}
    assert annotate(fixed) == fixed  # re-indexing annotates again: the correction stays
    back = corrected(fixed, date=None, title=None)
    assert back.metadata["date"] == "2024-03-05" and back.title == report.title and back.metadata["kind"] == "speech"
    assert corrected(back, kind=None) == report


@pytest.mark.parametrize(("changes", "message"), [
    ({"date": "2024-02-30"}, "not a date"), ({"kind": "poem"}, "unknown kind"), ({"colour": "red"}, "cannot correct"),
    ({"issuer": "   "}, "empty issuer"),
])
def test_a_bad_correction_is_refused_and_changes_nothing(changes: dict[str, str], message: str) -> None:
    report = annotate(load_document(REPORTS / "GWR_2016_政府工作报告.txt"), today=TODAY)
    with pytest.raises(InvalidMetadata, match=message):
        corrected(report, **changes)


def test_kinds_as_users_write_them() -> None:
    assert [parse_kind(k) for k in ("Work Report", "regulations", "条例", " law ")] == \
        ["work report", "regulation", "regulation", "law"]


# --- filters and what chunks carry --------------------------------------------------------------------

def test_filters_compare_dates_at_their_precision_and_leave_out_undated_documents() -> None:
    filters = Filters.of(since="2016-06", until=2024, kind=["law", "Regulation"], issuer="国务院", language="ZH")
    assert filters.kinds == ("law", "regulation") and filters.language == "zh"
    admits = lambda **meta: filters.admits({"kind": "law", "issuer": "中华人民共和国国务院", **meta}, "zh")  # noqa: E731
    assert admits(date="2016") and admits(date="2024-12-31") and admits(date="2020-01")
    assert not admits(date="2016-05-31") and not admits(date="2025") and not admits()
    assert not filters.admits({"kind": "law", "issuer": "国务院", "date": "2020"}, "en")
    assert not filters.admits({"kind": "speech", "issuer": "国务院", "date": "2020"}, "zh")
    assert not Filters.of() and Filters.of(language="en")


@pytest.mark.parametrize(("options", "message"), [
    ({"since": "2024-13"}, "not a date"), ({"since": 2025, "until": 2020}, "range is empty"),
    ({"kind": "decree"}, "unknown kind"), ({"language": "fr"}, "unknown language"),
])
def test_bad_filters_are_refused(options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidMetadata, match=message):
        Filters.of(**options)


def test_chunks_carry_ints_for_range_filters() -> None:
    assert chunk_fields({"date": "2016", "kind": "work report", "issuer": "国务院", "provenance": {}}) == {
        "kind": "work report", "issuer": "国务院", "date": "2016", "date_start": 20160101, "date_end": 20161231,
        "year": 2016}
    assert chunk_fields({"date": "someday"}) == {"date": "someday"}  # a store filled before dates were checked


# --- in the store ------------------------------------------------------------------------------------

def test_stored_documents_and_passages_carry_date_and_kind(make_assistant, tmp_path) -> None:
    assistant = make_assistant()
    assistant.add(*dated_reports(tmp_path))
    listed = {Path(d.source).name: d for d in assistant.documents()}
    assert listed["report-a.md"].metadata["date"] == "2018-03-05"
    assert listed["report-a.md"].metadata["kind"] == "work report"
    passage = assistant.retrieve("国内生产总值增长目标", k=1, documents=[listed["report-b.md"].doc_id])[0]
    assert (passage.date, passage.kind) == ("2019-03-05", "work report")
    assert passage.to_dict()["date"] == "2019-03-05"
    assert {p.doc_id for p in assistant.store.get_chunks(where={"year": 2018})} == {listed["report-a.md"].doc_id}


def test_a_corrected_year_changes_which_passages_a_year_question_retrieves_and_survives_reindexing(
        make_assistant, tmp_path) -> None:
    assistant = make_assistant()
    assistant.add(*dated_reports(tmp_path))
    ids = {Path(d.source).name: d.doc_id for d in assistant.documents()}
    question = "2019年政府工作报告提出的国内生产总值增长目标是多少？"
    assert {p.doc_id for p in assistant.retrieve(question, k=1)} == {ids["report-b.md"]}
    assistant.correct(ids["report-b.md"], date="2021-03-05")
    assistant.correct(ids["report-a.md"], date="2019")
    assert {p.doc_id for p in assistant.retrieve(question, k=1)} == {ids["report-a.md"]}
    answer = assistant.ask(question)
    assert answer.grounded and {c.passage.doc_id for c in answer.citations} == {ids["report-a.md"]}
    assert "6.5%左右" in answer.text
    assistant.reindex()
    stored = assistant.document(ids["report-a.md"])
    assert stored.metadata["date"] == "2019" and stored.metadata["corrections"] == {"date": "2019"}
    assert {p.doc_id for p in assistant.retrieve(question, k=1)} == {ids["report-a.md"]}
    assert {p.doc_id for p in assistant.store.get_chunks(where={"year": 2021})} == {ids["report-b.md"]}


def test_a_title_correction_re_embeds_the_chunks_and_a_date_correction_keeps_their_vectors(make_assistant) -> None:
    assistant = make_assistant()
    [added] = assistant.add(REPORTS / "GWR_2024_政府工作报告.txt")
    doc_id = added.doc_id

    def vectors() -> np.ndarray:
        found = assistant.store.collection.get(where={"doc_id": doc_id}, include=["embeddings"])
        return np.asarray(found["embeddings"])[np.argsort(found["ids"])]

    before, chunks = vectors(), assistant.store.count_chunks()
    stored = assistant.correct(doc_id, date="2023", kind="speech")
    assert stored.metadata["kind"] == "speech" and stored.chunks == added.chunks
    assert np.allclose(vectors(), before, atol=1e-6) and assistant.store.count_chunks() == chunks
    assert {p.kind for p in assistant.store.get_chunks(where={"doc_id": doc_id})} == {"speech"}
    retitled = assistant.correct(doc_id, title="Government Work Report 2024")
    assert retitled.title == "Government Work Report 2024" and assistant.store.count_chunks() == chunks
    assert not np.allclose(vectors(), before, atol=1e-3)
    passages = assistant.store.get_chunks(where={"doc_id": doc_id})
    assert {p.title for p in passages} == {"Government Work Report 2024"}
    assert all(p.heading.split(" > ")[0] == "Government Work Report 2024" for p in passages)
    assert assistant.correct(doc_id, reset=["title"]).title == "2024年中华人民共和国国务院政府工作报告"


def test_corrections_of_unknown_documents_or_with_bad_values_change_nothing(make_assistant) -> None:
    assistant = make_assistant()
    [added] = assistant.add(REPORTS / "GWR_2016_政府工作报告.txt")
    before = (assistant.document(added.doc_id), assistant.store.revision())
    with pytest.raises(UnknownDocument, match="nope"):
        assistant.correct("nope", date="2020")
    for bad in ({"date": "2016-02-30"}, {"kind": "poem"}, {"title": " "}):
        with pytest.raises(InvalidMetadata):
            assistant.correct(added.doc_id, **bad)
    with pytest.raises(InvalidMetadata, match="both set and reset"):
        assistant.correct(added.doc_id, date="2016", reset=["date"])
    assert (assistant.document(added.doc_id), assistant.store.revision()) == before


def test_a_correction_interrupted_midway_is_finished_from_the_registry(make_assistant) -> None:
    """The next writer rewrites the chunks of a half-done correction from what the registry holds."""
    assistant = make_assistant()
    [added] = assistant.add(REPORTS / "GWR_2016_政府工作报告.txt")
    assistant.correct(added.doc_id, kind="speech")
    store = assistant.store
    some = store.collection.get(where={"doc_id": added.doc_id}, limit=3, include=["metadatas"])
    stale = [{**meta, "kind": "work report", "year": 1999} for meta in some["metadatas"]]
    store.collection.update(ids=some["ids"], metadatas=stale)  # as if the process died after these chunks
    store._set_pending(refresh=added.doc_id)
    with store.writing("test"):
        pass
    assert not store._pending()
    chunks = store.get_chunks(where={"doc_id": added.doc_id})
    assert {p.kind for p in chunks} == {"speech"}
    assert store.get_chunks(where={"year": 1999}) == []


def test_list_json_still_carries_the_metadata_the_web_reads(make_assistant) -> None:
    assistant = make_assistant()
    assistant.add(SAND_REGULATION)
    [entry] = [d.to_dict() for d in assistant.documents()]
    assert {"kind", "date", "issuer", "provenance"} <= set(entry["metadata"])
    json.dumps(entry, ensure_ascii=False)
