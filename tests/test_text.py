"""Tests for the language primitives: detection, sentence spans and clause spans."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.text import cjk_ratio, clause_spans, detect_language, sentence_spans


def _sentences(text: str, start: int = 0, end: int | None = None) -> list[str]:
    spans = list(sentence_spans(text, start, end))
    for a, b in spans:  # every span is an exact, trimmed slice
        assert 0 <= a < b <= len(text)
        assert text[a:b] == text[a:b].strip()
    return [text[a:b] for a, b in spans]


def _clauses(text: str) -> list[str]:
    return [text[a:b] for a, b in clause_spans(text, 0, len(text))]


# --- language detection -------------------------------------------------------------


def test_cjk_ratio_counts_ideographs_against_latin_letters() -> None:
    assert cjk_ratio("长江") == 1.0
    assert cjk_ratio("river") == 0.0
    assert cjk_ratio("长江 river") == pytest.approx(2 / 7)
    assert cjk_ratio("123 。，") == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("中华人民共和国长江保护法第五十三条规定禁止捕捞。", "zh"),
        ("The Yangtze River protection law bans fishing.", "en"),
        ("长江保护法 Yangtze Law", "zh"),  # 5 ideographs vs 11 letters: above a fifth
        ("长江保护法 Yangtze River Protection Law", "en"),  # 5 vs 25: below a fifth
        ("The 长江 is the longest river in China and Asia overall.", "en"),  # 2 ideographs in an English sentence
        ("", "en"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


# --- English sentences ----------------------------------------------------------------


def test_english_sentences_split_at_terminators() -> None:
    assert _sentences("One. Two!  Three?\nFour") == ["One.", "Two!", "Three?", "Four"]


@pytest.mark.parametrize(
    "text",
    [
        "Mr. Li met Dr. Wang in Beijing.",
        "See No. 5 of the list.",
        "Under Art. 53 fishing is banned.",
        "Rivers, e.g. the Yangtze, need care.",
        "Protection, i.e. restoration, comes first.",
        "The U.S. delegation arrived.",
        "Growth was 5.2 percent in 2023.",
        "J. Smith wrote it.",
        "It rose approx. five percent.",
        "Officials etc. were there.",
    ],
)
def test_english_abbreviations_and_decimals_do_not_end_sentences(text: str) -> None:
    assert _sentences(text) == [text]


def test_abbreviation_only_applies_where_it_is_one() -> None:
    # "no." before a capitalised word with no number ends the sentence.
    assert _sentences("The answer was no. Then we left.") == ["The answer was no.", "Then we left."]
    assert _sentences("It grew by 5.2%. The end.") == ["It grew by 5.2%.", "The end."]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert _sentences('He said "stop." Then "go!" Done.') == ['He said "stop."', 'Then "go!"', "Done."]


def test_sentence_offsets_respect_start_and_end() -> None:
    text = "Skip this. Keep one. Keep two. Skip too."
    start = text.index("Keep one")
    end = text.index(" Skip too")
    spans = list(sentence_spans(text, start, end))
    assert [text[a:b] for a, b in spans] == ["Keep one.", "Keep two."]
    assert spans[0][0] == start


def test_blank_line_ends_a_sentence() -> None:
    assert _sentences("Heading without stop\n\nBody text.") == ["Heading without stop", "Body text."]


# --- Chinese sentences ----------------------------------------------------------------


def test_chinese_sentences_split_after_each_terminator() -> None:
    text = "国家建立协调机制。禁止捕捞！是否可行？分工负责；依法执行"
    assert _sentences(text) == ["国家建立协调机制。", "禁止捕捞！", "是否可行？", "分工负责；", "依法执行"]


def test_chinese_closing_quote_follows_terminator() -> None:
    assert _sentences("坚持“共抓大保护。”然后执行。") == ["坚持“共抓大保护。”", "然后执行。"]


def test_chinese_decimal_is_not_a_sentence_end() -> None:
    assert _sentences("增长5.2%，粮食产量1.39万亿斤。") == ["增长5.2%，粮食产量1.39万亿斤。"]


def test_mixed_text_offsets_are_exact() -> None:
    text = "  第一条 本法适用于长江流域。 The law applies. 第二条 禁止捕捞。  "
    sentences = _sentences(text)
    assert sentences == ["第一条 本法适用于长江流域。", "The law applies.", "第二条 禁止捕捞。"]


def test_whitespace_only_text_has_no_sentences() -> None:
    assert _sentences("   \n\n  ") == []


# --- clauses --------------------------------------------------------------------------


def test_english_clauses_split_after_marks_followed_by_space() -> None:
    text = "First, 1,000 people came; at 10:30 they left: all of them"
    assert _clauses(text) == ["First,", "1,000 people came;", "at 10:30 they left:", "all of them"]


def test_chinese_clauses_split_after_full_width_marks() -> None:
    text = "统一指导，统筹协调、审议政策：督促检查；落实"
    assert _clauses(text) == ["统一指导，", "统筹协调、", "审议政策：", "督促检查；", "落实"]


def test_clause_offsets_stay_inside_the_range() -> None:
    text = "xx 甲，乙，丙 yy"
    start, end = text.index("甲"), text.index(" yy")
    spans = list(clause_spans(text, start, end))
    assert [text[a:b] for a, b in spans] == ["甲，", "乙，", "丙"]
    assert spans[0][0] == start and spans[-1][1] == end


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(alphabet="ab 。！；,.?\n长江 Mr.5", max_size=80))
def test_sentence_and_clause_spans_cover_all_text_in_order(text: str) -> None:
    position = 0
    for start, end in sentence_spans(text):
        assert position <= start < end and not text[position:start].strip()
        assert text[start:end] == text[start:end].strip()
        clause_position = start
        for clause_start, clause_end in clause_spans(text, start, end):
            assert clause_position <= clause_start < clause_end <= end
            assert not text[clause_position:clause_start].strip()
            clause_position = clause_end
        assert not text[clause_position:end].strip()
        position = end
    assert not text[position:].strip()


def test_one_segmenter_per_process_and_one_stemmer_per_thread() -> None:
    """Keyword search and answering share jieba's dictionary; PyStemmer objects must not cross threads."""
    import threading

    from assistant.text import english_stemmer, segmenter

    assert segmenter() is segmenter()
    assert segmenter().lcut("长江保护法", HMM=False) and "保护法" in segmenter().lcut_for_search("长江保护法")
    mine, theirs = english_stemmer(), []
    worker = threading.Thread(target=lambda: theirs.append(english_stemmer()))
    worker.start()
    worker.join()
    assert english_stemmer() is mine and theirs[0] is not mine
    assert mine.stemWord("protection") == theirs[0].stemWord("protection") == "protect"
