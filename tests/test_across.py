"""Answers across documents (issue 13): one cited row per matching document in date order, the figure each
states (never invented, never averaged), filters, both languages, and the rows as Markdown, CSV and a chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.across import (
    NOT_STATED,
    by_date,
    chart_series,
    figures_in,
    read_question,
    row_record,
    rows_from_csv,
    rows_from_markdown,
    rows_to_csv,
    rows_to_markdown,
)
from assistant.documents import Answer, Citation, Figure, Passage, Row, StoredDocument
from assistant.errors import EmptyQuery, InvalidMetadata, UnknownDocument
from assistant.service import Assistant
from assistant.settings import Settings
from tests.conftest import GDP_TARGETS, JOB_TARGETS, REPORTS, ROOT

# --- reading questions and figures (pure) --------------------------------------------------------------

@pytest.mark.parametrize(("question", "since", "until", "kinds", "aim"), [
    ("How did the GDP growth target change from 2016 to 2025?", "2016", "2025", (), "target"),
    ("历年政府工作报告提出的城镇新增就业目标是多少？", None, None, ("work report",), "target"),
    ("2018年至2022年政府工作报告的赤字率是多少", "2018", "2022", ("work report",), ""),
    ("Which laws set fines for illegal sand mining, and how large?", None, None, ("law", "regulation"), ""),
    ("What did the regulations since 2019 say about ferries?", "2019", None, ("regulation",), ""),
    ("How much did GDP actually grow, according to the Government Work Reports?", None, None, ("work report",),
     "result"),
    ("What does the environmental impact report require?", None, None, (), ""),  # a report, not a work report
])
def test_a_question_names_its_span_kinds_and_aim(question, since, until, kinds, aim) -> None:
    reading = read_question(question)
    assert (reading.since, reading.until, reading.kinds, reading.aim) == (since, until, kinds, aim)
    assert not {"2016", "2025", "change", "历年", "laws"} & set(reading.asked.split())


def _figures(text: str) -> list[tuple[str, float, float, str, str]]:
    return [(f.figure.text, f.figure.low, f.figure.high, f.figure.unit, f.figure.qualifier) for f in figures_in(text)]


def test_figures_keep_their_qualifier_and_both_ends_of_a_range() -> None:
    targets = "国内生产总值增长6.5%－7%，居民消费价格涨幅3%左右，城镇新增就业1000万人以上，城镇登记失业率4.5%以内"
    assert _figures(targets) == [
        ("6.5%－7%", 6.5, 7.0, "%", ""), ("3%左右", 3.0, 3.0, "%", "左右"),
        ("1000万人以上", 1000.0, 1000.0, "万人", "以上"), ("4.5%以内", 4.5, 4.5, "%", "以内")]
    assert _figures("并处十万元以上一百万元以下的罚款，货值金额不足10万元的") == [
        ("十万元以上一百万元以下", 10.0, 100.0, "万元", ""), ("10万元", 10.0, 10.0, "万元", "")]
    assert _figures("处总投资额百分之一以上百分之五以下的罚款；城镇调查失业率降到5.2％") == [
        ("百分之一以上百分之五以下", 1.0, 5.0, "%", ""), ("5.2％", 5.2, 5.2, "％", "")]
    assert _figures("赤字规模4.06万亿元，比上年增加1800亿元") == [
        ("4.06万亿元", 4.06, 4.06, "万亿元", ""), ("1800亿元", 1800.0, 1800.0, "亿元", "")]
    assert _figures("growth of about 6.5 percent and a 6.5-7% range") == [
        ("about 6.5 percent", 6.5, 6.5, "percent", "about"), ("6.5-7%", 6.5, 7.0, "%", "")]
    assert _figures("千方百计稳就业，第十八条，2024年") == []  # words, article numbers and years are not figures


# --- rows, exports and the chart (pure) -------------------------------------------------------------------

def _row(date: str, figure: Figure | None, quote: str = "", marker: int = 1, title: str = "报告") -> Row:
    if not quote:
        return Row(f"d{date}", title, date, "work report")
    passage = Passage(text=f"前文。{quote}", score=0.9, doc_id=f"d{date}", title=title, chunk_id=f"d{date}:00001",
                      start=100, end=103 + len(quote), paragraph=12, language="zh", date=date, kind="work report")
    citation = Citation(marker, passage, quote, 103, 103 + len(quote))
    return Row(f"d{date}", title, date, "work report", citation, figure)


ROWS = [
    _row("2016", Figure("6.5%－7%", 6.5, 7.0, "%"), "国内生产总值增长6.5%－7%，“稳”字|当头", 1, "2016 | 报告"),
    _row("2019", None),
    _row("2021-03-05", Figure("6%以上", 6.0, 6.0, "%", "以上"), "国内生产总值增长6%以上；\n居民消费价格涨幅3%左右", 2),
    _row("2024", None, "今年经济工作，要坚持稳中求进", 3),
]


def test_csv_and_markdown_exports_parse_back_to_the_same_rows() -> None:
    records = [row_record(r) for r in ROWS]
    assert rows_from_csv(rows_to_csv(ROWS)) == records
    table = rows_to_markdown(ROWS, "zh")
    assert table.splitlines()[0] == "| 日期 | 文件 | 数字 | 原文 | 出处 |"
    assert rows_from_markdown(table) == [{k: r[k] for k in ("date", "document", "figure", "quote", "citation")}
                                        for r in [row_record(r, "zh") for r in ROWS]]
    assert records[1]["quote"] == NOT_STATED["en"] and records[1]["citation"] == ""
    assert records[3]["figure"] == NOT_STATED["en"] and records[3]["quote"] == "今年经济工作，要坚持稳中求进"
    assert (records[0]["low"], records[0]["high"]) == ("6.5", "7")  # a range stays a range


def test_a_chart_draws_comparable_figures_as_ranges_and_nothing_else() -> None:
    series = chart_series(ROWS)
    assert series is not None and series.unit == "%"
    assert [(p.date, p.low, p.high) for p in series.points] == [("2016", 6.5, 7.0), ("2021-03-05", 6.0, 6.0)]
    money = [_row("2023", Figure("3.8万亿元", 3.8, 3.8, "万亿元"), "专项债券3.8万亿元"),
             _row("2016", Figure("4000亿元", 4000.0, 4000.0, "亿元"), "专项债券4000亿元"),
             _row("2017", Figure("8000亿元", 8000.0, 8000.0, "亿元"), "专项债券8000亿元")]
    converted = chart_series(money)
    assert converted is not None and converted.unit == "亿元"
    assert [p.low for p in converted.points] == [38000.0, 4000.0, 8000.0]
    assert chart_series([ROWS[0], money[0]]) is None  # percentages and money share no axis
    assert chart_series(ROWS[:1]) is None  # one figure is no line


def test_documents_are_ordered_by_date_at_any_precision_undated_last() -> None:
    def stored(name: str, date: str | None) -> StoredDocument:
        return StoredDocument(name, name, name, "zh", 1, "", "", {"date": date} if date else {})

    ordered = by_date([stored("c", "2017"), stored("u", None), stored("a", "2016-03-05"), stored("b", "2016"),
                       stored("d", "2016-12")])
    assert [d.doc_id for d in ordered] == ["b", "a", "d", "c", "u"]


# --- over the work reports --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, embedder) -> Assistant:
    """The nine government work reports 2016-2025 (2020 is missing from the source), in an embedded store."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("across") / "data", collection="reports",
                        auto_index_corpus=False)
    assistant = Assistant(settings, embedder=embedder)
    results = assistant.add(*sorted(REPORTS.glob("*.txt")))
    assert [r.status for r in results] == ["added"] * 9
    return assistant


def _years(answer: Answer) -> list[str]:
    return [row.date[:4] for row in answer.rows]


def test_the_gdp_target_across_reports_is_one_row_per_report_in_year_order(reports: Assistant) -> None:
    answer = reports.ask("How did the GDP growth target change from 2016 to 2025?", across=True)
    assert answer.across and answer.grounded and answer.language == "en"
    assert _years(answer) == list(GDP_TARGETS)  # 2020 absent, not invented
    for row in answer.rows:
        assert row.stated and row.figure is not None and row.figure.text == GDP_TARGETS[row.date[:4]]
        assert row.figure.text in row.quote and row.kind == "work report"
        document = reports.read(row.doc_id).text
        assert document[row.citation.start:row.citation.end] == row.quote  # verbatim, where the citation says
    assert [r.citation.marker for r in answer.rows] == list(range(1, 10))
    first = answer.rows[0].figure
    assert (first.low, first.high) == (6.5, 7.0)
    assert answer.text.startswith("9 of 9 documents, in date order:")  # framed in English, quoted in Chinese
    assert "“" in answer.text and "6.5%－7%" in answer.text
    data = answer.to_dict()
    assert data["across"] and [r["figure"]["text"] for r in data["rows"]] == list(GDP_TARGETS.values())
    json.dumps(data, ensure_ascii=False)


def test_the_jobs_target_in_chinese_holds_this_years_target_not_last_years_result(reports: Assistant) -> None:
    answer = reports.ask("历年政府工作报告提出的城镇新增就业目标是多少？", across=True)
    assert answer.language == "zh" and answer.text.startswith("共9份文件")
    assert {row.date[:4]: row.figure.text for row in answer.rows if row.figure} == JOB_TARGETS
    assert "1312万人" not in answer.text  # 2015's result, reported beside 2016's target


def test_a_report_that_does_not_state_the_figure_says_so(reports: Assistant) -> None:
    answer = reports.ask("What grain output target did the Government Work Reports set?", across=True)
    by_year = {row.date[:4]: row for row in answer.rows}
    assert set(by_year) == set(GDP_TARGETS)
    assert by_year["2024"].figure is not None and by_year["2024"].figure.text == "1.3万亿斤以上"
    assert by_year["2025"].figure is not None and by_year["2025"].figure.text == "1.4万亿斤左右"
    silent = [y for y, row in by_year.items() if row.figure is None]
    assert {"2016", "2018"} <= set(silent)
    records = [row_record(row) for row in answer.rows]
    assert all(r["figure"] == "not stated" for r in records if r["date"][:4] in silent)


def test_filters_and_the_questions_own_span_choose_the_rows(reports: Assistant) -> None:
    question = "历年政府工作报告提出的国内生产总值增长目标是多少？"
    assert _years(reports.ask(question, across=True, since=2018, until="2022-12")) == ["2018", "2019", "2021", "2022"]
    assert _years(reports.ask("国内生产总值增长目标 2019年至2022年", across=True)) == ["2019", "2021", "2022"]
    assert _years(reports.ask(question, across=True, issuer="国务院", language="zh")) == list(GDP_TARGETS)
    none = reports.ask(question, across=True, kind="law")
    assert not none.grounded and none.rows == () and "没有符合条件" in none.text and "kind law" in none.text
    assert reports.ask("What was the GDP growth target?", language="en").text.startswith("No document matches")


def test_filters_narrow_retrieval_and_the_langchain_retriever(reports: Assistant) -> None:
    passages = reports.retrieve("国内生产总值增长目标", k=10, since=2024)
    assert passages and {p.date[:4] for p in passages} <= {"2024", "2025"}
    retriever = reports.as_retriever(k=5, until=2017)
    assert {d.metadata["date"][:4] for d in retriever.invoke("国内生产总值增长目标")} <= {"2016", "2017"}
    assert reports.retrieve("国内生产总值增长目标", kind="speech") == []


def test_bad_input_is_refused_with_a_clear_error(reports: Assistant) -> None:
    with pytest.raises(InvalidMetadata, match="not a date"):
        reports.ask("GDP target", across=True, since="2024-13")
    with pytest.raises(InvalidMetadata, match="unknown kind"):
        reports.retrieve("GDP target", kind="poem")
    with pytest.raises(UnknownDocument, match="nope"):
        reports.ask("GDP target", across=True, documents=["nope"])
    with pytest.raises(EmptyQuery):
        reports.ask("  ", across=True)


def test_streaming_an_across_answer_gives_its_text_then_the_answer(reports: Assistant) -> None:
    items = list(reports.stream("历年政府工作报告提出的国内生产总值增长目标是多少？", across=True, since=2024))
    assert len(items) == 2 and isinstance(items[1], Answer) and items[0] == items[1].text
    assert [row.figure.text for row in items[1].rows if row.figure] == ["5%左右", "5%左右"]


def test_the_held_out_question_set_is_labelled_from_the_texts() -> None:
    """Every figure bench/across_questions.json expects stands in the document it is expected from."""
    data = json.loads((ROOT / "bench" / "across_questions.json").read_text(encoding="utf-8"))
    files = {p.name: p for p in (ROOT / "tests" / "data" / "policy-texts-zh").rglob("*") if p.is_file()}
    test = [q for q in data["questions"] if q["split"] == "test"]
    assert len(test) >= 15
    assert sum(bool({"prices", "deficits", "bond quotas", "fines"} & set(q["tags"])) for q in test) >= 5
    for question in data["questions"]:
        for name, expected in question["expect"].items():
            for figure in [expected] if isinstance(expected, str) else expected or []:
                assert figure == "any" or figure in files[name].read_text(encoding="utf-8"), (question["id"], name)
    assert Path(data["aliases"]["yangtze-sand-mining-regulation.md"]).name in files
