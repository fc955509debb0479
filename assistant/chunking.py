"""Split a Document into structure-aware Chunks whose offsets are exact slices of its text.

Citations point at character offsets, so every chunk must be ``document.text[start:end]``
verbatim: nothing is normalised, re-joined or overlapped. Structure decides the cut points
because retrieval quality and citation labels depend on it: a Chinese law is cut per article
(第…条, so an answer can cite "长江保护法 第五十三条"), other texts per paragraph under their
headings, and only overlong units fall back to sentences, clauses and finally a hard split.

Heading lines (markdown ``#`` lines, 第…编/章/节 lines, government-report ``一、`` lines), the
title line and ``<!-- … -->`` comment lines are not chunk text: headings live on in
``Chunk.heading_path`` and comments are loader bookkeeping. Everything else is covered.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from assistant.documents import Chunk, Document
from assistant.text import clause_spans, sentence_spans

_NUMERALS = "零〇一二三四五六七八九十百千万两0-9０-９"
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)(?:\s+#+)?\s*$")
_CN_STRUCTURE = re.compile(rf"^第[{_NUMERALS}]+([编章节])")
_ARTICLE = re.compile(rf"^第[{_NUMERALS}]+条(?:之[{_NUMERALS}]+)?(?=\s|$)")
_REPORT_HEADING = re.compile(r"^[一二三四五六七八九十百]+、")
_SUBHEADING = re.compile(r"^[（(][一二三四五六七八九十百]+[）)]")
_COMMENT = re.compile(r"^<!--.*-->$")
_SENTENCE_ENDS = "。！？；：…!?;:"  # a line ending in one of these (then closers) is a complete line
_TITLE_NOT = _SENTENCE_ENDS + "."  # a first line ending so is a sentence, not a title (titles end bare)
_CLOSERS = "”’」』）)\"'"
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_SENTENCE_PUNCT = re.compile(r"[。！？；，：,;!?]")
_LINE = re.compile(r"[^\n]*\n|[^\n]+$")
_HAS_SPACE = re.compile(r"\s")

# Ranks order the heading stack: a new heading closes every open heading of equal or
# higher rank. Markdown headings use their number of '#'s (1-6), except that 第…编/章/节
# always rank 2/3/4 (with or without '#'s), so a new 章 closes the open 节 whatever the markup.
_CN_RANK = {"编": 2, "章": 3, "节": 4}
_REPORT_RANK = 7  # 一、…
_SUBHEADING_RANK = 8  # （一）…
_ARTICLE_RANK = 9  # 第…条
_MAX_HEADING_LINE = 40  # a bare structural line longer than this is body text
_MAX_SUBHEADING = 80


@dataclass(frozen=True)
class _Heading:
    """One open heading; a lower ``rank`` is a larger division."""

    rank: int
    text: str


@dataclass(frozen=True)
class _Paragraph:
    """A body paragraph with the headings in force; ``section`` changes at every heading."""

    start: int
    end: int
    number: int
    path: tuple[str, ...]
    section: int


def chunk_document(document: Document, *, max_chars_en: int = 1000, max_chars_zh: int = 400) -> list[Chunk]:
    """Cut ``document`` into ordered, non-overlapping chunks of at most the language's size."""
    limit = max_chars_zh if document.language == "zh" else max_chars_en
    if limit < 1:
        raise ValueError(f"chunk size must be positive, got {limit}")
    paragraphs = _Outline(document).paragraphs()
    spans = [span for section in _sections(paragraphs) for span in _chunk_section(document.text, section, limit)]
    spans = [(*_trim(document.text, start, end), paragraph) for start, end, paragraph in spans]
    spans = [(start, end, paragraph) for start, end, paragraph in spans if start < end]
    return [
        Chunk(
            text=document.text[start:end],
            index=index,
            start=start,
            end=end,
            paragraph=paragraph.number,
            page=document.page_at(start),
            heading_path=paragraph.path,
        )
        for index, (start, end, paragraph) in enumerate(spans)
    ]


class _Outline:
    """Walks the lines once, tracking open headings, and yields numbered body paragraphs.

    English .txt files hard-wrap, so there only blank lines (and headings) end a paragraph.
    Chinese sources do not wrap, so there a single newline ends a paragraph too, unless the
    line stops mid-sentence (no closing 。！？；： etc.): scraped Wikisource reports break lines
    at every hyperlink ("国内生产总值达到74.4" / "万亿元，…"), and those fragments are one paragraph.
    Lines holding only zero-width characters (more scraping residue) are ignored.
    """

    def __init__(self, document: Document) -> None:
        self.text = document.text
        self.title = document.title
        self.lines_are_paragraphs = document.language == "zh"
        self.stack: list[_Heading] = []
        self.section = 0
        self.found: list[_Paragraph] = []
        self.pending: tuple[int, int] | None = None
        self.seen_content = False
        self.title_span: tuple[int, int] | None = None  # the title line(s), left out of the body
        self.only_title = True  # nothing but the title seen so far (no other heading or comment)

    def paragraphs(self) -> list[_Paragraph]:
        """All body paragraphs of the document, in order.

        A document that is nothing but its title (a one-line note) is that line: leaving it out
        would leave nothing to search.
        """
        for start, end in _trimmed_lines(self.text):
            self._line(start, end)
        self._flush()
        if not self.found and self.only_title and self.title_span is not None:
            self.found.append(_Paragraph(*self.title_span, 1, (self.title,), self.section))
        return self.found

    def _is_title(self, start: int, end: int) -> bool:
        """Whether the text at the top is the title line: the title's words, and not a sentence.

        A first line that ends like a sentence ("The ferry runs daily.") is body text even when
        the loader took it as the title: it may be the only place its words stand.
        """
        if _same_text(self.text[start:end], self.title) and not _ends_complete(self.text, start, end, _TITLE_NOT):
            self.title_span = (start, end)
            return True
        return False

    def _line(self, start: int, end: int) -> None:
        if start == end:
            self._flush()
            return
        line = self.text[start:end]
        if not line.strip(_INVISIBLE):
            return
        first, self.seen_content = not self.seen_content, True
        heading = self._heading(line)
        if first and heading is None and self._is_title(start, end):
            self._close_section()  # the title line, already heading_path[0]
        elif heading is not None:
            self._flush()
            markdown = _MD_HEADING.match(line)
            if first and markdown and heading.rank == 1 and _same_text(heading.text, self.title):
                self.title_span = (start + markdown.start(2), start + markdown.end(2))  # "# Title": the words
            self._open(heading)
        elif _COMMENT.match(line):
            self.only_title = False
            self._close_section()
        elif self.pending is not None and self._continues(line):
            self.pending = (self.pending[0], end)
        else:
            self._flush()
            self.pending = (start, end)

    def _continues(self, line: str) -> bool:
        """Whether ``line`` carries on the pending paragraph rather than starting a new one."""
        if not self.lines_are_paragraphs:
            return True
        ended = self.pending is not None and _ends_complete(self.text, *self.pending)
        return not ended and not _ARTICLE.match(line) and not _SUBHEADING.match(line)

    def _heading(self, line: str) -> _Heading | None:
        """The heading a whole line declares, if it is a heading line."""
        markdown = _MD_HEADING.match(line)
        if markdown:
            text = markdown.group(2).strip()
            return _Heading(_cn_rank(text) or len(markdown.group(1)), text)
        rank = _cn_rank(line)
        if rank and _is_short_title(line):
            return _Heading(rank, line)
        if _REPORT_HEADING.match(line) and _is_short_title(line) and not self._in_article():
            return _Heading(_REPORT_RANK, line)
        return None

    def _flush(self) -> None:
        """Emit the pending paragraph, first opening any article or subheading it starts."""
        if self.pending is None:
            return
        start, end = self.pending
        self.pending = None
        body = self.text[start:end]
        if not self.found and self.title_span is None and self._is_title(start, end):
            self._close_section()  # a (wrapped) title block; the title once taken, a repeat of it is body text
            return
        heading = self._paragraph_heading(body)
        if heading is not None:
            self._open(heading)
        path = (self.title, *(h.text for h in self.stack))
        self.found.append(_Paragraph(start, end, len(self.found) + 1, path, self.section))

    def _paragraph_heading(self, body: str) -> _Heading | None:
        """An article (第…条) or report subheading (（一）…) that begins this paragraph."""
        article = _ARTICLE.match(body)
        if article:
            return _Heading(_ARTICLE_RANK, article.group(0))
        if _SUBHEADING.match(body) and not self._in_article():
            text = _subheading_text(body)
            return _Heading(_SUBHEADING_RANK, text) if text else None
        return None

    def _open(self, heading: _Heading) -> None:
        """Close headings at or below ``heading``'s level, then open it (an H1 equal to the title is implicit)."""
        keep = 0
        while keep < len(self.stack) and self.stack[keep].rank < heading.rank:
            keep += 1
        del self.stack[keep:]
        if not (heading.rank == 1 and _same_text(heading.text, self.title)):
            self.stack.append(heading)
            self.only_title = False
        self.section += 1

    def _close_section(self) -> None:
        self._flush()
        self.section += 1

    def _in_article(self) -> bool:
        return any(h.rank == _ARTICLE_RANK for h in self.stack)


def _ends_complete(text: str, start: int, end: int, ends: str = _SENTENCE_ENDS) -> bool:
    """Whether ``text[start:end]`` ends a sentence (。 ！ ? etc., then closing quotes or brackets).

    Reads backwards from ``end`` instead of slicing the paragraph: a paragraph of many
    continued lines would otherwise be copied once per line.
    """
    while end > start and text[end - 1] in _INVISIBLE + " \t\u3000":
        end -= 1
    while end > start and text[end - 1] in _CLOSERS:
        end -= 1
    return end > start and text[end - 1] in ends


def _cn_rank(text: str) -> int:
    """The rank of a 第…编, 第…章 or 第…节 heading; 0 for anything else."""
    match = _CN_STRUCTURE.match(text)
    return _CN_RANK[match.group(1)] if match else 0


def _is_short_title(line: str) -> bool:
    """Heading lines are short and carry no sentence punctuation, unlike body text."""
    return len(line) <= _MAX_HEADING_LINE and not _SENTENCE_PUNCT.search(line)


def _subheading_text(body: str) -> str:
    """The label of a （一） paragraph: its first line up to the first 。, or that whole line if short."""
    first_line = body.split("\n", 1)[0].strip()
    stop = first_line.find("。")
    if 0 < stop <= _MAX_SUBHEADING:
        return first_line[:stop]
    return first_line if len(first_line) <= _MAX_SUBHEADING else ""


def _same_text(a: str, b: str) -> bool:
    """Equality ignoring whitespace runs, so a wrapped or padded title still matches."""
    return bool(b.strip()) and " ".join(a.split()) == " ".join(b.split())


def _trimmed_lines(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every line with surrounding whitespace trimmed; blank lines give start == end."""
    for match in _LINE.finditer(text):
        yield _trim(text, match.start(), match.end(), also="")


def _trim(text: str, start: int, end: int, also: str = _INVISIBLE) -> tuple[int, int]:
    """The span without leading and trailing whitespace or ``also`` characters (empty: start == end)."""
    while start < end and (text[start].isspace() or text[start] in also):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in also):
        end -= 1
    return start, end


def _sections(paragraphs: list[_Paragraph]) -> Iterator[list[_Paragraph]]:
    """Group consecutive paragraphs that share a section, so chunks never cross a heading."""
    group: list[_Paragraph] = []
    for paragraph in paragraphs:
        if group and paragraph.section != group[0].section:
            yield group
            group = []
        group.append(paragraph)
    if group:
        yield group


def _chunk_section(text: str, paragraphs: list[_Paragraph], limit: int) -> Iterator[tuple[int, int, _Paragraph]]:
    """Merge whole paragraphs up to ``limit``; an overlong paragraph is split on its own."""
    run: list[_Paragraph] = []
    for paragraph in paragraphs:
        if paragraph.end - paragraph.start > limit:
            if run:
                yield run[0].start, run[-1].end, run[0]
                run = []
            for start, end in _split_long(text, paragraph.start, paragraph.end, limit):
                yield start, end, paragraph
            continue
        if run and paragraph.end - run[0].start > limit:
            yield run[0].start, run[-1].end, run[0]
            run = []
        run.append(paragraph)
    if run:
        yield run[0].start, run[-1].end, run[0]


def _split_long(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Pieces of ``text[start:end]`` no longer than ``limit``: whole sentences where possible,
    else clauses of an overlong sentence, else a hard split of an overlong clause."""
    units: list[tuple[int, int]] = []
    for sentence in sentence_spans(text, start, end):
        if sentence[1] - sentence[0] <= limit:
            units.append(sentence)
            continue
        for clause in clause_spans(text, *sentence):
            units.extend([clause] if clause[1] - clause[0] <= limit else _hard_split(text, *clause, limit))
    return _pack(units, limit)


def _pack(units: Iterable[tuple[int, int]], limit: int) -> list[tuple[int, int]]:
    """Greedily join consecutive spans while the joined slice stays within ``limit``."""
    packed: list[tuple[int, int]] = []
    for start, end in units:
        if packed and end - packed[-1][0] <= limit:
            packed[-1] = (packed[-1][0], end)
        else:
            packed.append((start, end))
    return packed


def _hard_split(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Split an unbreakable run: at spaces via langchain's recursive splitter when its
    offsets check out exactly, else at every ``limit`` characters."""
    if not _HAS_SPACE.search(text, start, end):  # nothing for the splitter to find (and it is slow on megabytes)
        return _fixed_split(text, start, end, limit)
    # Imported here: it pulls in langchain-core's runnables (~0.3 s), which no other command needs.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=limit, chunk_overlap=0, separators=["\n", " ", ""], add_start_index=True
    )
    spans = [
        (start + doc.metadata["start_index"], start + doc.metadata["start_index"] + len(doc.page_content))
        for doc in splitter.create_documents([text[start:end]])
    ]
    if _exact_cover(text, start, end, spans, limit):
        return spans
    return _fixed_split(text, start, end, limit)


def _fixed_split(text: str, start: int, end: int, limit: int) -> list[tuple[int, int]]:
    """Trimmed pieces of every ``limit`` characters: the last resort for a run without any break."""
    pieces = (_trim(text, pos, min(pos + limit, end)) for pos in range(start, end, limit))
    return [piece for piece in pieces if piece[0] < piece[1]]


def _exact_cover(text: str, start: int, end: int, spans: list[tuple[int, int]], limit: int) -> bool:
    """True if ``spans`` are ordered, non-empty, within ``limit``, trimmed, and leave only whitespace uncovered."""
    position = start
    for span_start, span_end in spans:
        if not (position <= span_start < span_end <= end and span_end - span_start <= limit):
            return False
        piece = text[span_start:span_end]
        if piece != piece.strip() or text[position:span_start].strip():
            return False
        position = span_end
    return bool(spans) and not text[position:end].strip()
