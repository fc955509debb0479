"""Tests for structure-aware chunking: exact offsets on every real file, and each rule on small texts."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from assistant.chunking import chunk_document
from assistant.documents import Chunk, Document, PageSpan
from assistant.text import sentence_spans
from tests.conftest import LAWS, REPORTS, seed_text_file

LAW_FILES = sorted(LAWS.glob("*.md"))
REPORT_FILES = sorted(REPORTS.glob("*.txt"))

_NUM = "零〇一二三四五六七八九十百千0-9"
ARTICLE_START = re.compile(rf"(?m)^第[{_NUM}]+条(?:之[{_NUM}]+)?(?=\s)")
_STRUCTURAL_LINE = re.compile(
    rf"^(?:#{{1,6}}\s.*|<!--.*-->|第[{_NUM}]+[编章节][^。，；]{{0,37}}|[一二三四五六七八九十]+、[^。，；]{{0,37}})$"
)
YANGTZE_TITLE = "中华人民共和国长江保护法"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
_CLOSING_MARKS = "”’」』）)\"' \t\u3000" + ZERO_WIDTH


# --- helpers --------------------------------------------------------------------------


def _law(path: Path) -> Document:
    text = path.read_text(encoding="utf-8")
    title = text.split("\n", 1)[0].removeprefix("# ").strip()
    return Document(text=text, source=str(path), title=title, language="zh")


def _report(path: Path) -> Document:
    text = path.read_text(encoding="utf-8")
    return Document(text=text, source=str(path), title=text.split("\n", 1)[0].strip(), language="zh")


def _seed(folder: Path) -> Document:
    path = seed_text_file(folder)
    text = path.read_text(encoding="utf-8")
    return Document(text=text, source=str(path), title=text.split("\n", 1)[0].strip(), language="en")


def _doc(text: str, language: str = "en", title: str = "Doc", pages: tuple[PageSpan, ...] = ()) -> Document:
    return Document(text=text, source="mem", title=title, language=language, pages=pages)


def _lost_lines(document: Document, chunks: list[Chunk]) -> list[str]:
    """Visible pieces of text that no chunk covers, line by line (zero-width residue is invisible)."""
    gaps, position = [], 0
    for chunk in chunks:
        gaps.append(document.text[position : chunk.start])
        position = chunk.end
    gaps.append(document.text[position:])
    return [line.strip() for gap in gaps for line in gap.split("\n") if re.sub(f"[\\s{ZERO_WIDTH}]", "", line)]


def assert_invariants(document: Document, chunks: list[Chunk], limit: int) -> None:
    """The contract every chunking must keep, whatever the text."""
    position = 0
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert chunk.text, "empty chunk"
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert chunk.start >= position, "chunks overlap or are out of order"
        assert len(chunk.text) <= limit
        assert chunk.text == chunk.text.strip()
        assert chunk.heading_path[0] == document.title
        assert chunk.paragraph >= 1
        position = chunk.end
    paragraphs = [c.paragraph for c in chunks]
    assert paragraphs == sorted(paragraphs)
    headings = {h for c in chunks for h in c.heading_path}
    for line in _lost_lines(document, chunks):
        kept = line.lstrip("#").strip() in headings or line == document.title
        assert kept or _STRUCTURAL_LINE.match(line), f"text lost: {line!r}"


# --- the real files -------------------------------------------------------------------


def test_real_files_are_present() -> None:
    assert len(LAW_FILES) == 23
    assert len(REPORT_FILES) == 9


@pytest.mark.parametrize("path", LAW_FILES + REPORT_FILES, ids=lambda p: p.name)
def test_invariants_on_every_chinese_file(path: Path) -> None:
    document = _law(path) if path.suffix == ".md" else _report(path)
    chunks = chunk_document(document)
    assert len(chunks) > 5
    assert_invariants(document, chunks, 400)


@pytest.mark.parametrize("limit", [120, 400, 2000])
def test_invariants_on_the_yangtze_law_at_several_sizes(limit: int) -> None:
    document = _law(LAW_FILES[0])
    assert_invariants(document, chunk_document(document, max_chars_zh=limit), limit)


@pytest.mark.parametrize("limit", [80, 200, 1000])
def test_invariants_on_the_english_seed(limit: int, tmp_path: Path) -> None:
    document = _seed(tmp_path)
    assert_invariants(document, chunk_document(document, max_chars_en=limit), limit)


def test_yangtze_article_53_is_one_chunk_with_its_citation_label() -> None:
    document = _law(LAW_FILES[0])
    assert document.title == YANGTZE_TITLE
    chunks = [c for c in chunk_document(document) if c.heading_path[-1] == "第五十三条"]
    assert len(chunks) == 1
    chunk = chunks[0]
    assert chunk.text.startswith("第五十三条")
    assert "禁止" in chunk.text and "禁捕执法" in chunk.text  # both of its paragraphs
    assert "第五十四条" not in chunk.text
    assert chunk.heading_path == (YANGTZE_TITLE, "第五章　生态环境修复", "第五十三条")
    assert document.title + " " + chunk.heading_path[-1] == "中华人民共和国长江保护法 第五十三条"


@pytest.mark.parametrize("path", LAW_FILES, ids=lambda p: p.name)
def test_law_chunks_hold_at_most_one_article(path: Path) -> None:
    chunks = chunk_document(_law(path))
    articles = 0
    for chunk in chunks:
        starts = ARTICLE_START.findall(chunk.text)
        assert len(starts) <= 1, f"two articles in chunk {chunk.index}"
        if starts:
            articles += 1
            assert chunk.text.startswith(starts[0])
            assert chunk.heading_path[-1] == starts[0]
    assert articles == len(ARTICLE_START.findall(path.read_text(encoding="utf-8")))


def test_law_front_matter_is_dropped_and_not_counted() -> None:
    document = _law(LAW_FILES[0])
    chunks = chunk_document(document)
    assert all("<!--" not in c.text and "# " not in c.text for c in chunks)
    assert not any(c.text.startswith("## ") for c in chunks)
    # The adoption-history line is body paragraph 1; article 1 is paragraph 2.
    assert chunks[0].paragraph == 1 and chunks[0].text.startswith("2020年12月26日")
    assert chunks[1].paragraph == 2 and chunks[1].text.startswith("第一条")


def test_overlong_real_article_is_split_but_keeps_its_article() -> None:
    document = _law(LAW_FILES[0])
    pieces = [c for c in chunk_document(document, max_chars_zh=100) if c.heading_path[-1] == "第五十三条"]
    assert len(pieces) > 2
    assert pieces[0].text.startswith("第五十三条")
    assert all(len(p.text) <= 100 for p in pieces)
    joined = re.sub(r"\s", "", "".join(p.text for p in pieces))
    assert joined == re.sub(r"\s", "", document.text[pieces[0].start : pieces[-1].end])
    assert all(p.text.endswith(("。", "；")) for p in pieces)  # this article's sentences all fit in 100


def test_government_report_headings() -> None:
    document = _report(next(p for p in REPORT_FILES if "2024" in p.name))
    chunks = chunk_document(document)
    paths = [c.heading_path for c in chunks]
    assert any("一、2023年工作回顾" in p for p in paths)
    assert any(p[-2:] == ("三、2024年政府工作任务", "（三）着力扩大国内需求，推动经济实现良性循环") for p in paths)
    subheaded = [c for c in chunks if c.heading_path[-1].startswith("（一）")]
    assert subheaded and subheaded[0].text.startswith("（一）大力推进现代化产业体系建设")  # body text stays
    # heading lines are not body text
    assert not any(c.text.startswith(("一、2023", "二、2024", "三、2024")) for c in chunks)
    assert "2024年中华人民共和国国务院政府工作报告" not in chunks[0].text  # the title line


def test_english_seed_paragraph_numbers(tmp_path: Path) -> None:
    document = _seed(tmp_path)
    chunks = chunk_document(document)
    assert {c.paragraph for c in chunks} == {1, 2, 3, 4, 5}
    assert all(c.heading_path == (document.title,) for c in chunks)
    assert not any(document.title in c.text for c in chunks)
    (by_2035,) = [c for c in chunks if "by 2035" in c.text]
    assert by_2035.paragraph == 1
    (last,) = [c for c in chunks if "Modernization has made due contributions" in c.text]
    assert last.paragraph == 5


def test_english_seed_pieces_end_at_sentence_ends(tmp_path: Path) -> None:
    document = _seed(tmp_path)
    chunks = chunk_document(document, max_chars_en=300)
    sentences = list(sentence_spans(document.text))
    too_long = [(s, e) for s, e in sentences if e - s > 300]
    assert too_long  # the seed has one run-on sentence, which alone may be cut inside
    starts, ends = {s for s, _ in sentences}, {e for _, e in sentences}
    for chunk in chunks:
        assert chunk.start in starts or any(s < chunk.start < e for s, e in too_long)
        assert chunk.end in ends or any(s < chunk.end < e for s, e in too_long)


# --- paragraphs and merging -----------------------------------------------------------


def test_short_paragraphs_merge_with_the_blank_lines_between() -> None:
    text = "Title\n\nFirst short one.\n\n\nSecond short one.\n \nThird."
    document = _doc(text, title="Title")
    chunks = chunk_document(document, max_chars_en=1000)
    assert [c.text for c in chunks] == ["First short one.\n\n\nSecond short one.\n \nThird."]
    assert chunks[0].paragraph == 1


def test_merging_stops_at_the_size_limit() -> None:
    paragraphs = [f"Paragraph number {i} is here." for i in range(1, 7)]  # 28 characters each
    chunks = chunk_document(_doc("\n\n".join(paragraphs)), max_chars_en=60)
    assert [c.text for c in chunks] == ["\n\n".join(paragraphs[i : i + 2]) for i in (0, 2, 4)]
    assert [c.paragraph for c in chunks] == [1, 3, 5]


def test_english_wrapped_lines_are_one_paragraph() -> None:
    text = "Doc\n\nThis sentence is\nhard wrapped here.\n\nSecond paragraph."
    chunks = chunk_document(_doc(text), max_chars_en=40)
    assert [(c.text, c.paragraph) for c in chunks] == [
        ("This sentence is\nhard wrapped here.", 1),
        ("Second paragraph.", 2),
    ]


def test_chinese_single_newlines_separate_paragraphs() -> None:
    text = "标题\n第一段。\n第二段。\n\n\n\n第三段。"
    chunks = chunk_document(_doc(text, "zh", title="标题"), max_chars_zh=6)
    assert [(c.text, c.paragraph) for c in chunks] == [("第一段。", 1), ("第二段。", 2), ("第三段。", 3)]


def test_chinese_line_fragments_cut_mid_sentence_stay_one_paragraph() -> None:
    text = (
        "报告\n国内生产总值达到74.4\n\u200b\n万亿元，增长6.7%。\n国务院总理\n李克强\n\n\u200b\n\n"
        "各位代表：\n第二段的内容比较长。"
    )
    chunks = chunk_document(_doc(text, "zh", title="报告"), max_chars_zh=14)
    assert [(c.text, c.paragraph) for c in chunks] == [
        ("国内生产总值达到74.4", 1),  # the 22-character paragraph is split at its clause end
        ("万亿元，增长6.7%。", 1),  # the zero-width line is trimmed off the piece
        ("国务院总理\n李克强", 2),  # a line without a closing mark continues on the next line
        ("各位代表：", 3),  # a line ending in ： is complete
        ("第二段的内容比较长。", 4),
    ]


def test_scraped_2017_report_joins_hyperlink_fragments() -> None:
    document = _report(next(p for p in REPORT_FILES if "2017" in p.name))
    chunks = chunk_document(document)
    (chunk,) = [c for c in chunks if "万亿元，增长6.7%" in c.text]
    assert chunk.text.startswith("——经济运行缓中趋稳、稳中向好。国内生产总值达到74.4")
    assert not any(c.text.strip(ZERO_WIDTH) != c.text for c in chunks)


def test_title_block_only_counts_when_it_is_the_title() -> None:
    chunks = chunk_document(_doc("Not the title\n\nBody.", title="Other"), max_chars_en=15)
    assert [(c.text, c.paragraph) for c in chunks] == [("Not the title", 1), ("Body.", 2)]


def test_a_first_line_that_is_a_sentence_is_body_text_even_when_it_is_the_title() -> None:
    """Loaders take the first line as the title; a sentence there may be the only place its words stand."""
    text = "The quokka rule applies to every ferry.\n\nFerries leave hourly."
    chunks = chunk_document(_doc(text, title="The quokka rule applies to every ferry."), max_chars_en=40)
    assert [c.text for c in chunks] == ["The quokka rule applies to every ferry.", "Ferries leave hourly."]
    zh = chunk_document(_doc("渡口每天开放。\n其他规定另行公布。", "zh", title="渡口每天开放。"), max_chars_zh=9)
    assert [c.text for c in zh] == ["渡口每天开放。", "其他规定另行公布。"]
    titled = chunk_document(_doc("Notice on ferries\n\nThe ferry runs daily.", title="Notice on ferries"))
    assert [c.text for c in titled] == ["The ferry runs daily."]  # a title line stays a title


@pytest.mark.parametrize(("text", "title", "chunk"), [
    ("Notice on ferries", "Notice on ferries", "Notice on ferries"),
    ("  Notice on ferries  \n", "Notice on ferries", "Notice on ferries"),
    ("# Notice on ferries ##\n", "Notice on ferries", "Notice on ferries"),
    ("宜昌市渡口管理通知", "宜昌市渡口管理通知", "宜昌市渡口管理通知"),
])
def test_a_one_line_document_is_one_chunk(text: str, title: str, chunk: str) -> None:
    language = "zh" if "宜" in text else "en"
    (only,) = chunk_document(_doc(text, language, title=title))
    assert only.text == chunk == text[only.start:only.end] and only.paragraph == 1 and only.heading_path == (title,)


def test_long_paragraph_splits_only_at_sentence_ends() -> None:
    sentences = [
        "Mr. Li reported on Art. 53 of the law, e.g. the fishing ban, in detail.",
        "Growth reached 5.2 percent in 2023 according to No. 7 of the bulletin.",
        "The U.S. delegation and others asked questions.",
        "Short one.",
        "Officials agreed that the ten-year ban must be enforced along the whole river.",
        "It worked!",
        "Did it?",
    ]
    text = " ".join(sentences)
    chunks = chunk_document(_doc(text), max_chars_en=200)
    assert len(chunks) > 1
    assert all(len(c.text) <= 200 for c in chunks)
    for chunk in chunks:
        covered = [s for s in sentences if s in chunk.text]
        assert chunk.text == " ".join(covered), f"cut mid-sentence: {chunk.text!r}"
    assert all(c.paragraph == 1 for c in chunks)


def test_overlong_sentence_splits_at_clauses_then_hard() -> None:
    clause = "a clause of some words, "
    sentence = clause * 20 + "end."
    token = "x" * 250
    text = f"Start. {sentence} {token} Final."
    document = _doc(text)
    chunks = chunk_document(document, max_chars_en=100)
    assert_invariants(document, chunks, 100)
    assert chunks[0].text.startswith("Start.")
    assert all(c.text.endswith(",") or "end." in c.text or "x" in c.text for c in chunks if "clause" in c.text)
    assert sum(c.text.count("x") for c in chunks) == 250 and len([c for c in chunks if "x" in c.text]) == 3


def test_overlong_chinese_sentence_without_punctuation_is_hard_split() -> None:
    text = "标题\n" + "长" * 950 + "。"
    document = _doc(text, "zh", title="标题")
    chunks = chunk_document(document)
    assert [len(c.text) for c in chunks] == [400, 400, 151]
    assert_invariants(document, chunks, 400)


# --- headings --------------------------------------------------------------------------


def test_markdown_headings_nest_and_are_not_chunk_text() -> None:
    text = "# Guide\n\nIntro.\n\n## Background\nContext here.\n\n### Detail\n\nFine print.\n\n## Next\n\nMore."
    document = _doc(text, title="Guide")
    chunks = chunk_document(document)
    assert [(c.text, c.heading_path, c.paragraph) for c in chunks] == [
        ("Intro.", ("Guide",), 1),
        ("Context here.", ("Guide", "Background"), 2),
        ("Fine print.", ("Guide", "Background", "Detail"), 3),
        ("More.", ("Guide", "Next"), 4),
    ]


def test_h1_that_differs_from_title_is_kept_in_the_path() -> None:
    chunks = chunk_document(_doc("# Part A\n\nBody.", title="Doc"))
    assert chunks[0].heading_path == ("Doc", "Part A")


def test_chinese_book_chapter_section_nesting() -> None:
    text = (
        "某法\n第一编 总则\n第一章 一般规定\n第一节 定义\n第一条 甲。\n第二节 范围\n第二条 乙。\n"
        "第二章 管理\n第三条 丙。\n第三条之一 丁。\n## 第三章　附则\n第五十三条 戊。"
    )
    chunks = chunk_document(_doc(text, "zh", title="某法"))
    assert [(c.text, c.heading_path[1:]) for c in chunks] == [
        ("第一条 甲。", ("第一编 总则", "第一章 一般规定", "第一节 定义", "第一条")),
        ("第二条 乙。", ("第一编 总则", "第一章 一般规定", "第二节 范围", "第二条")),
        ("第三条 丙。", ("第一编 总则", "第二章 管理", "第三条")),
        ("第三条之一 丁。", ("第一编 总则", "第二章 管理", "第三条之一")),
        ("第五十三条 戊。", ("第一编 总则", "第三章　附则", "第五十三条")),
    ]
    assert [c.paragraph for c in chunks] == [1, 2, 3, 4, 5]


def test_short_articles_are_never_merged_but_their_paragraphs_are() -> None:
    text = "某法\n\n第一条 甲。\n\n（一）项一；\n\n（二）项二。\n\n第二条 乙。"
    chunks = chunk_document(_doc(text, "zh", title="某法"))
    assert [c.text for c in chunks] == ["第一条 甲。\n\n（一）项一；\n\n（二）项二。", "第二条 乙。"]
    assert [c.heading_path[-1] for c in chunks] == ["第一条", "第二条"]  # items inside an article are not subheadings
    assert [c.paragraph for c in chunks] == [1, 4]


def test_article_reference_is_not_an_article_start() -> None:
    text = "某法\n第一条 甲。\n第一条规定的事项，依照本法执行。"
    chunks = chunk_document(_doc(text, "zh", title="某法"))
    assert len(chunks) == 1 and chunks[0].heading_path[-1] == "第一条"


def test_long_article_is_split_at_sentence_ends_and_keeps_its_label() -> None:
    body = "".join(f"第{i}句的内容比较长一些。" for i in range(1, 13))  # 12 sentences of 11-12 chars
    text = f"某法\n第二十条 {body}\n第二十一条 短。"
    chunks = chunk_document(_doc(text, "zh", title="某法"), max_chars_zh=50)
    article = [c for c in chunks if c.heading_path[-1] == "第二十条"]
    assert len(article) >= 3
    assert all(c.text.endswith("。") and len(c.text) <= 50 for c in article)
    assert chunks[-1].text == "第二十一条 短。"


def test_report_headings_and_subheadings() -> None:
    text = (
        "报告\n各位代表：\n一、工作回顾\n过去一年很好。\n二、今年任务\n"
        "（一）着力扩大国内需求。把恢复消费放在优先位置。\n更多内容。\n(二)加强生态文明建设\n内容。\n三、其他\n结语。"
    )
    chunks = chunk_document(_doc(text, "zh", title="报告"))
    assert [(c.text, c.heading_path[1:], c.paragraph) for c in chunks] == [
        ("各位代表：", (), 1),
        ("过去一年很好。", ("一、工作回顾",), 2),
        ("（一）着力扩大国内需求。把恢复消费放在优先位置。\n更多内容。", ("二、今年任务", "（一）着力扩大国内需求"), 3),
        ("(二)加强生态文明建设\n内容。", ("二、今年任务", "(二)加强生态文明建设"), 5),
        ("结语。", ("三、其他",), 6),
    ]


def test_long_numbered_line_is_body_not_heading() -> None:
    line = "一、" + "这是一个很长的正文段落，" * 5 + "并不是标题。"
    chunks = chunk_document(_doc(f"报告\n{line}", "zh", title="报告"))
    assert chunks[0].text == line and chunks[0].heading_path == ("报告",)


def test_comment_lines_are_dropped_and_break_sections() -> None:
    text = "Doc\n\nBefore.\n\n<!-- INFO END -->\n\nAfter."
    chunks = chunk_document(_doc(text))
    assert [c.text for c in chunks] == ["Before.", "After."]
    assert [c.paragraph for c in chunks] == [1, 2]


def test_paragraphs_do_not_merge_across_a_heading() -> None:
    chunks = chunk_document(_doc("Doc\n\nOne.\n\n## H\n\nTwo."))
    assert [c.text for c in chunks] == ["One.", "Two."]


# --- pages, sizes, edge cases ------------------------------------------------------------


def test_pages_follow_the_chunk_start() -> None:
    page_texts = ["First page text. " * 5, "Second page text. " * 5, "Third page text. " * 5]
    text, pages, position = "", [], 0
    for number, body in enumerate(page_texts, start=1):
        text += body.strip() + "\n\n"
        pages.append(PageSpan(number, position, len(text)))
        position = len(text)
    document = _doc(text, pages=tuple(pages))
    chunks = chunk_document(document, max_chars_en=100)
    assert [c.page for c in chunks] == [1, 2, 3]
    assert all(c.text.split()[0].lower() == ["first", "second", "third"][c.page - 1] for c in chunks)


def test_unpaginated_document_has_no_pages() -> None:
    assert chunk_document(_doc("Doc\n\nBody."))[0].page is None


def test_language_selects_the_size() -> None:
    text = "标题\n" + "河流保护。" * 200
    zh = chunk_document(_doc(text, "zh", title="标题"), max_chars_zh=100, max_chars_en=1000)
    en = chunk_document(_doc(text, "en", title="标题"), max_chars_zh=100, max_chars_en=1000)
    assert max(len(c.text) for c in zh) == 100
    assert max(len(c.text) for c in en) == 1000


def test_empty_and_heading_only_documents_have_no_chunks() -> None:
    assert chunk_document(_doc("")) == []
    assert chunk_document(_doc("# Doc\n\n## Part\n\n<!-- x -->\n", title="Doc")) == []  # more than a title


def test_non_positive_size_is_rejected() -> None:
    with pytest.raises(ValueError):
        chunk_document(_doc("Body."), max_chars_en=0)


def test_crlf_text_keeps_exact_offsets() -> None:
    text = "Doc\r\n\r\nFirst line.\r\n\r\n## Head\r\n\r\nSecond."
    document = _doc(text)
    chunks = chunk_document(document)
    assert [(c.text, c.heading_path) for c in chunks] == [("First line.", ("Doc",)), ("Second.", ("Doc", "Head"))]
    assert_invariants(document, chunks, 1000)


_PIECES = st.sampled_from(
    [
        "第一条 ",
        "第二章 总则\n",
        "## 标题\n",
        "一、回顾\n",
        "（一）任务。",
        "<!-- c -->\n",
        "长江",
        "保护",
        "。",
        "，",
        "；",
        "The river",
        " ",
        ". ",
        "Mr. ",
        "\n",
        "\n\n",
        "x" * 30,
        "\u200b",
        "\u200b\n",
        "\r\n",
    ]
)


@settings(max_examples=300, deadline=None, database=None)
@given(
    pieces=st.lists(_PIECES, max_size=60),
    language=st.sampled_from(["zh", "en"]),
    limit=st.integers(min_value=1, max_value=60),
)
def test_invariants_hold_for_arbitrary_text(pieces: list[str], language: str, limit: int) -> None:
    text = "".join(pieces)
    document = _doc(text, language, title="Doc")
    assert_invariants(document, chunk_document(document, max_chars_en=limit, max_chars_zh=limit), limit)


# --- arbitrary text: nothing visible is lost ------------------------------------------------

# No heading, comment or title can be formed from these (no '#', '第', '、', '<'), so every
# visible character must end up in some chunk.
_PLAIN = st.sampled_from(
    [
        *"abcXYZ019 .,;:!?'\"()",
        *"长江保护修复。，；：！？“”（）",
        *"مرحبا بالعالم שלום עולם ؟ ، ۔",
        "\u200f", "\u200e", "\u200d", "\u200b", "\u3000", "\t",
        "😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "𝔘", "𠀀",  # astral characters and ZWJ sequences
        "\n", "\n\n", " ", "  ", "Mr. ", "e.g. ", "No. 5 ",
    ]
)


def _assert_nothing_visible_lost(document: Document, chunks: list[Chunk]) -> None:
    """Between and around the chunks there is only whitespace and zero-width residue."""
    position = 0
    for chunk in chunks:
        assert not re.sub(f"[\\s{ZERO_WIDTH}]", "", document.text[position : chunk.start]), "visible text lost"
        position = chunk.end
    assert not re.sub(f"[\\s{ZERO_WIDTH}]", "", document.text[position:]), "visible text lost at the end"


@settings(max_examples=300, deadline=None, database=None)
@given(
    pieces=st.lists(_PLAIN, max_size=400),
    language=st.sampled_from(["zh", "en"]),
    limit=st.integers(min_value=1, max_value=80),
)
def test_plain_text_of_any_script_is_covered_exactly(pieces: list[str], language: str, limit: int) -> None:
    """English, Chinese, RTL and emoji mixed: exact offsets, sizes within bounds, nothing visible lost."""
    document = _doc("".join(pieces), language, title="@")
    chunks = chunk_document(document, max_chars_en=limit, max_chars_zh=limit)
    assert_invariants(document, chunks, limit)
    _assert_nothing_visible_lost(document, chunks)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.split("\n") if line.strip()), "")


@settings(max_examples=300, deadline=None, database=None)
@given(
    pieces=st.lists(_PLAIN, max_size=200),
    language=st.sampled_from(["zh", "en"]),
    limit=st.integers(min_value=1, max_value=80),
)
@example(pieces=["a", "\n", "a", "\n\n", "a"], language="zh", limit=1)  # found once: the title line repeated
def test_only_a_first_line_that_reads_as_a_title_is_left_out(pieces: list[str], language: str, limit: int) -> None:
    """As loaders do, the first line is the title: it may be left out of the chunks only when it is
    not a sentence, and never when it is all there is."""
    text = "".join(pieces)
    document = _doc(text, language, title=_first_line(text))
    chunks = chunk_document(document, max_chars_en=limit, max_chars_zh=limit)
    assert_invariants(document, chunks, limit)
    lost = _lost_lines(document, chunks)
    assert lost in ([], [document.title]), lost
    if lost:
        assert chunks, "a document that is only its title must still be searchable"
        assert not document.title.rstrip(_CLOSING_MARKS).endswith(tuple(".。！？；：…!?;:"))


# --- hostile sizes and scripts -------------------------------------------------------------

_TEN_MB = 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("unit", "language", "limit"),
    [
        ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu ", "en", 1000),
        ("The river is long. Mr. Li said so, e.g. in No. 5 of the bulletin. ", "en", 1000),
        ("x", "en", 1000),
        ("长江保护修复，", "zh", 400),
        ("长江流域生态环境保护\n", "zh", 400),  # hard-wrapped Chinese: every line continues the paragraph
    ],
    ids=["words", "sentences", "no-spaces", "chinese-clauses", "chinese-wrapped-lines"],
)
def test_ten_megabytes_in_one_paragraph_chunk_in_linear_time(unit: str, language: str, limit: int) -> None:
    text = unit * (_TEN_MB // len(unit.encode()))
    document = _doc(text, language, title="@")
    started = time.perf_counter()
    chunks = chunk_document(document, max_chars_en=limit, max_chars_zh=limit)
    elapsed = time.perf_counter() - started
    assert elapsed < 30, f"{elapsed:.1f}s: chunking is not linear on this input"
    assert len(chunks) >= len(text) // limit
    assert all(len(c.text) <= limit and text[c.start : c.end] == c.text for c in chunks)
    _assert_nothing_visible_lost(document, chunks)


RTL_AND_EMOJI = (
    "قانون المياه\n\n"
    "المادة 1. تحمي الدولة الأنهار والبحيرات. 🌊 يجب على الجميع الحفاظ على المياه؟ نعم!\n\n"
    "חוק המים. כל אדם זכאי למים נקיים. 👨‍👩‍👧‍👦 המשפחה שותה מים.\n\n"
    "Emoji 🏳️‍🌈 and 👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 𠀀𠀁 stay whole. \u200fمرحبا\u200f שלום"
)


@pytest.mark.parametrize("limit", [5, 17, 40, 1000])
def test_rtl_and_emoji_offsets_are_exact(limit: int) -> None:
    document = _doc(RTL_AND_EMOJI, title="Water law")
    chunks = chunk_document(document, max_chars_en=limit)
    assert_invariants(document, chunks, limit)
    _assert_nothing_visible_lost(document, chunks)
    if limit == 1000:
        assert [c.text for c in chunks] == [RTL_AND_EMOJI]
