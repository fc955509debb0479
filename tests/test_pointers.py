"""Which documents a question names: pointers.py, on the titles of the library in tests/data."""

from __future__ import annotations

import pytest

from assistant.pointers import Profile, profile, resolve

REPORTS = {year: profile(f"gwr{year}", f"{year}年中华人民共和国国务院政府工作报告", f"GWR_{year}_政府工作报告.txt")
           for year in (2016, 2017, 2018, 2019, 2021, 2022, 2023, 2024, 2025)}
LAWS = {
    "L01": profile("L01", "中华人民共和国长江保护法", "L01_长江保护法(2020-12-26).md"),
    "L03": profile("L03", "中华人民共和国环境保护法", "L03_环境保护法(2014-04-24).md"),
    "L04": profile("L04", "中华人民共和国水污染防治法", "L04_水污染防治法(2017-06-27).md"),
    "L05": profile("L05", "中华人民共和国水法", "L05_水法(2016-07-02).md"),
    "L09": profile("L09", "中华人民共和国航道法", "L09_航道法(2016-07-02).md"),
    "L10": profile("L10", "中华人民共和国环境影响评价法", "L10_环境影响评价法(2018-12-29).md"),
    "L11": profile("L11", "中华人民共和国固体废物污染环境防治法", "L11_固体废物污染环境防治法(2020-04-29).md"),
    "L12": profile("L12", "中华人民共和国水土保持法", "L12_水土保持法(2010-12-25).md"),
    "L14": profile("L14", "长江河道采砂管理条例", "L14.md",
                   {"title_en": "Regulation on the Management of Sand Mining in the Yangtze River Channel"}),
    "L21": profile("L21", "中华人民共和国河道管理条例", "L21_河道管理条例(2018-03-19).md"),
    "L19": profile("L19", "排污许可管理条例", "L19_排污许可管理条例(2021-01-24).md"),
    "L22": profile("L22", "中华人民共和国自然保护区条例", "L22_自然保护区条例(2017-10-07).md"),
}
COMMENTARY = profile("com", "Continue to break the ice and raise energy to set off a hot wave", "commentary.md",
                     {"kind": "commentary"})
LIBRARY: list[Profile] = [*REPORTS.values(), *LAWS.values(), COMMENTARY]


def test_years_come_from_the_title_then_the_front_matter_then_the_file_name() -> None:
    assert REPORTS[2016].years == {2016}
    assert LAWS["L01"].years == {2020}  # from the file name
    assert profile("x", "条例", "x.md", {"date": "2023-07-20"}).years == {2023}
    assert COMMENTARY.years == frozenset()


@pytest.mark.parametrize(("question", "expected"), [
    ("2019年政府工作报告提出的GDP增长目标是多少？", ["gwr2019"]),
    ("What GDP growth target did the 2022 Government Work Report set?", ["gwr2022"]),
    ("what deficit did the 2017 government work report plan?", ["gwr2017"]),  # typed in lower case, behind a year
    ("How much was the debt swap, as reviewed in the 2025 report?", ["gwr2025"]),  # a kind word and a year
    ("长江保护法规定由什么机制统一指导长江保护工作？", ["L01"]),
    ("Under the Environmental Protection Law, how long must an organisation have worked before it can sue?", ["L03"]),
    ("Under the Water Law, what fine applies to a sewage outlet?", ["L05"]),  # not 水污染防治法
    ("Under the Waterway Law, what fine applies to sand mining?", ["L09"]),  # "waterway" is not "water"
    ("According to its final article, when is the Water Pollution Prevention and Control Law in force?", ["L04"]),
    ("河道管理条例对河道采砂有什么规定？", ["L21"]),  # the longest title ending wins
    # 排污 glossed "to discharge pollutants" (policy_terms.u8): else two words of five unplaced, and "missing"
    ("Under the Regulations on the Administration of Pollutant Discharge Permits, what fine applies?", ["L19"]),
    # the state's name leaves no title less explained: 河道管理条例, not 长江河道采砂管理条例 (which lacks it)
    ("What do the Regulations on River Course Management say about dredging?", ["L21"]),
    ("What do the Regulations on Nature Reserve Management say about core zones?", ["L22"]),  # 管理 not in title
    ("What does the Regulation on the Management of Sand Mining in the Yangtze River Channel require?", ["L14"]),
    # 水土保持 is "soil and water conservation": the long word explains the name that says all of it
    ("Under the Soil and Water Conservation Law, who pays the compensation fee?", ["L12"]),
    # "by" inside a name; and a title with every word of it beats a shorter one lacking one (水污染防治法: no 环境)
    ("When did the Law on the Prevention and Control of Environmental Pollution by Solid Waste take effect?",
     ["L11"]),
    ("What does the Law on the Prevention and Control of Environmental Pollution say?", ["L11"]),
])
def test_a_named_document_and_its_year_scope_the_question(question: str, expected: list[str]) -> None:
    scope = resolve(question, LIBRARY)
    assert scope.documents == tuple(expected) and not scope.missing


@pytest.mark.parametrize("question", [
    "How many new urban jobs were created in China in 2020?",  # a year as content, not as a document
    "2016年全年国内生产总值增长了多少？",
    "By what year will the model city be built?",
    "What does the law say about fishing?",  # a kind word alone names nothing
    "What does the fishing law say about 2020?",  # lower-case words without a year beside them are the question's
    "Under the Environmental Impact Assessment Law, what fine applies without an approved EIA report?",
])
def test_years_and_kinds_that_do_not_name_a_document_leave_the_question_open(question: str) -> None:
    scope = resolve(question, LIBRARY)
    assert not scope.missing
    assert scope.documents is None or scope.documents == ("L10",)


@pytest.mark.parametrize(("question", "missing", "years"), [
    ("What target for new urban jobs did the 2020 Government Work Report set?", "2020 Government Work Report",
     (2016, 2017, 2018, 2019, 2021, 2022, 2023, 2024, 2025)),
    ("what bonds did the 2020 government work report plan?", "2020 government work report",
     (2016, 2017, 2018, 2019, 2021, 2022, 2023, 2024, 2025)),
    ("2026年政府工作报告提出的国内生产总值增长目标是多少？", "2026年政府工作报告", (2016, 2017, 2018, 2019, 2021, 2022,
                                                                2023, 2024, 2025)),
    ("森林法规定林木采伐许可证由哪个部门核发？", "森林法", ()),
    ("土壤污染防治法自何时起施行？", "土壤污染防治法", ()),  # ends like 水污染防治法, names another law
    ("What does the Marine Environment Protection Law say about ships?", "Marine Environment Protection Law", ()),
    # four of five words are in 水污染防治法 ("prevention and control" is 防治), but not the subject, "Air"
    ("What does the Air Pollution Prevention and Control Law say?", "Air Pollution Prevention and Control Law", ()),
    ("What do the Regulations on Inland River Traffic Safety Management say?",
     "Regulations on Inland River Traffic Safety Management", ()),
])
def test_a_document_or_year_the_library_lacks_is_named_as_missing(question: str, missing: str,
                                                                 years: tuple[int, ...]) -> None:
    scope = resolve(question, LIBRARY)
    assert scope.documents == () and scope.missing == missing and scope.years == years


def test_the_question_without_the_names_it_points_with() -> None:
    question = "What deficit ratio does the 2025 Government Work Report propose?"
    scope = resolve(question, LIBRARY)
    assert scope.unnamed(question).split() == ["What", "deficit", "ratio", "does", "the", "propose?"]
    zh = "2023年政府工作报告拟按多少安排赤字率？"
    assert resolve(zh, LIBRARY).unnamed(zh).strip() == "拟按多少安排赤字率？"
    assert resolve("What is a deficit?", LIBRARY).unnamed("What is a deficit?") == "What is a deficit?"


def test_an_empty_library_holds_nothing_a_question_names() -> None:
    assert resolve("What did the 2024 Government Work Report say?", []).missing == "2024 Government Work Report"
    assert resolve("What does the law say?", []).documents is None


@pytest.mark.parametrize(("question", "documents", "missing"), [
    ("According to the commentary, what is the only way to improve ability?", ("com",), ""),
    ("这篇评论要求坚持哪几个导向？", ("com",), ""),
    ("What does the speech say about the Yangtze?", (), "speech"),  # the library holds no speech
    ("该讲话提出了什么？", (), "讲话"),
    ("What does the notice on fishing bans say?", None, ""),  # "the notice on …" is a name, not the kind alone
    ("What did the commentator argue?", None, ""),
])
def test_a_kind_the_library_holds_few_of_is_named_by_its_word_alone(question: str, documents: tuple[str, ...] | None,
                                                                    missing: str) -> None:
    """"the commentary" or 这篇评论 means the library's commentaries; "the speech" in a library with none is missing."""
    scope = resolve(question, LIBRARY)
    assert (scope.documents, scope.missing) == (documents, missing)
