"""Answers across documents: one cited sentence per matching document, in date order, as structured rows.

"How did the GDP growth target change from 2016 to 2025?" is not answered by five passages from
wherever: it is answered by each year's report, quoted. So an across-documents answer
(``Assistant.ask(question, across=True)``) takes every document that passes the filters and is of
the kind the question names (a work report, a law...), finds its best sentence for the question,
and returns one ``Row`` per document, ordered by date: the document, its date, the verbatim quote
and its citation, and the figure the quote states with its qualifier (5%左右, 6%以上, 6.5%－7%).

Nothing is filled in. A document that does not address the question gets a row saying so; a row
whose quote holds no figure of the kind asked for says "not stated" in the figure column; a range
stays a range (its two ends, never their mean). When a report states last year's result beside
this year's target (2018: 6.9% achieved, 6.5%左右 targeted), the question's words decide which one
the row holds: a question about a target prefers sentences outside the review of last year's work
and figures bounded by 左右/以上/以内, one about results the reverse.

Besides the answer, this module holds the pure functions the faces need: the rows as Markdown or
CSV (and read back), and the series a chart can draw when the rows' figures are comparable.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from assistant.answering import ITEM_MARK, Candidate, candidates, quote_for, source_label
from assistant.documents import Answer, Citation, Figure, Passage, Row, StoredDocument
from assistant.evidence import injection_warnings
from assistant.metadata import date_bounds
from assistant.relevance import Question, Text, analyze, matched_terms
from assistant.text import clause_spans, detect_language, sentence_spans

# --- calibrated constants (chosen on the dev questions of bench/across_questions.json; docs/answering.md) ----

ROW_THRESHOLD = 0.75
"""Coverage a document's best sentence needs for its row to quote it; below it the row says "not stated".
On the dev questions every labelled figure's sentence scored 0.78 or more, and the sentences that would
have put an unrelated fine in a law's row (the question's generic words, 罚款 and 违法, alone) 0.54-0.72."""
REVIEW_PENALTY = 0.3
"""Taken off a sentence in a review of past work (一、2017年工作回顾) when the question asks for a target."""
QUALIFIED_BONUS = 0.1
"""Added for a figure bounded by 左右/以上/以内 or a range when the question asks for a target (targets are so
stated, results are exact), or for an exact figure when it asks for a result."""
AFTER_WORDS = 0.5
"""A figure in a later clause than the question's words, with no other figure between, counts them at this
share of their weight (its own clause's words count fully)."""
FIGURE_MARGIN = 0.25
"""A sentence stating the figure asked for is quoted over a better-covering one without it if it is within this."""
ROW_PASSAGES = 4
"""Passages searched per document for its row."""

NOT_STATED = {"en": "not stated", "zh": "未提及"}

# --- reading the question -----------------------------------------------------------------------

_KIND_NAMES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"(?:government\s+)?work\s+reports?|reports?\s+on\s+the\s+work\s+of\s+the\s+government"
                r"|government\s+reports?|(?:政府)?工作报告", re.I), ("work report",)),
    (re.compile(r"\blaws?\b|\blegislation\b|\bstatutes?\b|法律|法规", re.I), ("law", "regulation")),
    (re.compile(r"\bregulations?\b|条例", re.I), ("regulation",)),
    (re.compile(r"\bspeech(?:es)?\b|讲话", re.I), ("speech",)),
    (re.compile(r"\bcommentar(?:y|ies)\b|评论", re.I), ("commentary",)),
    (re.compile(r"\bnotices?\b|通知", re.I), ("notice",)),
)
_SPANS = (
    re.compile(r"\b(?:from|between)\s+((?:19|20)\d\d)\s+(?:to|and|until|through|till)\s+((?:19|20)\d\d)\b", re.I),
    re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年?\s*(?:至|到|—|–|-|－|~|～)\s*((?:19|20)\d\d)\s*年?(?:间|期间|以来)?"),
    re.compile(r"\bsince\s+((?:19|20)\d\d)()\b", re.I),
    re.compile(r"(?:自|从)?((?:19|20)\d\d)\s*年(?:以来|起)()"),
)
# Words that frame a question about change over documents but never stand in the sentences that answer it.
_FRAME = re.compile(
    r"\bhow\s+(?:did|has|have|do|does)\b|\b(?:change[sd]?|evolve[sd]?|vary|varied|over\s+(?:the\s+)?(?:years|time)"
    r"|each|every|annual(?:ly)?|successive|respective(?:ly)?|year\s+by\s+year|set|propose[sd]?|state[sd]?"
    r"|give[sn]?|across|documents?)\b"
    r"|历年|历次|每年|各年|逐年|各自|分别|有何变化|如何变化|怎么变化|怎样变化|变化|怎么提|如何提|是怎么|提出的|提出|各份|历届",
    re.I,
)
_TARGET = re.compile(r"\btargets?\b|\bgoals?\b|\baim(?:ed|s)?\b|\bexpected\b|\bplann?(?:ed)?\b|\bprojected\b"
                     r"|目标|预期|计划|力争", re.I)
_RESULT = re.compile(r"\bachiev|\bactual|\bresults?\b|\boutcomes?\b|\bgrew\b|\brealized\b|实际|完成|实现了|达到了",
                     re.I)
_FIGURE_QUESTION = re.compile(
    r"\bhow\s+(?:much|many|large|big|high|low|fast)\b|\bwhat\s+(?:percentage|percent|share|rate|ratio|amount|level|size)"
    r"|\b(?:targets?|rates?|ratios?|quotas?|amounts?|fines?|penalt(?:y|ies)|prices?|deficits?|figures?|percent|"
    r"growth|number|budget|spending|scale|volume)\b|多少|几|目标|比例|比率|率|额度|规模|罚款|赤字|价格|多大|多高|数额|增速|增长",
    re.I,
)


@dataclass(frozen=True)
class Reading:
    """What an across-documents question asks, read from its words.

    ``asked`` is what a sentence must answer: the question without its span of years, the names of
    the kinds of document and the words that frame change ("how did … change", 历年); ``kinds`` the
    kinds it names; ``since``/``until`` the years it spans; ``aim`` "target", "result" or "";
    ``figure`` whether it asks for a figure.
    """

    asked: str
    kinds: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    aim: str = ""
    figure: bool = False


def read_question(question: str) -> Reading:
    """The kinds, span, aim and figure an across-documents question asks about (see ``Reading``)."""
    text = question.strip()
    since = until = None
    for pattern in _SPANS:
        match = pattern.search(text)
        if match:
            first, last = match.group(1), match.group(2) or None
            since, until = (min(first, last), max(first, last)) if last else (first, None)
            text = text[:match.start()] + " " + text[match.end():]
            break
    kinds: list[str] = []
    for pattern, named in _KIND_NAMES:
        if pattern.search(text):
            kinds.extend(k for k in named if k not in kinds)
            text = pattern.sub(" ", text)
    aim = "target" if _TARGET.search(text) else "result" if _RESULT.search(text) else ""
    figure = bool(_FIGURE_QUESTION.search(text))
    asked = " ".join(_FRAME.sub(" ", text).split())
    return Reading(asked or question.strip(), tuple(kinds), since, until, aim, figure)


# --- figures ---------------------------------------------------------------------------------------

_DIGITS = r"(?:[0-9０-９]+(?:[.．][0-9０-９]+)?)"
_CN_DIGITS = r"[零〇一二两三四五六七八九十百千]+"
_NUMBER = rf"(?:{_DIGITS}|{_CN_DIGITS})"
_UNITS = ("个百分点", "万亿元", "亿元", "万元", "元", "万亿斤", "亿斤", "万亿立方米", "亿立方米", "万吨", "亿吨", "吨",
          "万人次", "万人", "亿人", "万户", "万千瓦", "亿千瓦", "平方公里", "公里", "公顷", "万亩", "亿亩", "亩", "倍",
          "%", "％", "万", "亿")
_UNIT = "|".join(re.escape(u) for u in _UNITS)
_SUFFIX = r"左右|以上|以下|以内|上下|多"
_PREFIX = r"约|近|超过|不低于|不少于|不超过|不高于|至少|力争"
_RANGE_SEP = r"[－\-—–～~至到]"
_ZH_FIGURE = re.compile(
    rf"(?P<prefix>{_PREFIX})?(?P<low>{_NUMBER})"
    rf"(?:(?:{_UNIT})?(?:(?P<between>以上){_RANGE_SEP}?|{_RANGE_SEP})(?P<high>{_NUMBER})(?=(?:{_UNIT})))?(?P<unit>{_UNIT})"
    rf"(?P<suffix>{_SUFFIX})?"
)
_ZH_PERCENT = re.compile(  # 百分之一以上百分之五以下: percentages in words, as laws write them
    rf"(?P<prefix>{_PREFIX})?百分之(?P<low>{_NUMBER})(?:(?P<between>以上)?(?:{_RANGE_SEP})?百分之(?P<high>{_NUMBER}))?"
    rf"(?P<unit>)(?P<suffix>{_SUFFIX})?"
)
_EN_NUMBER = r"\d+(?:,\d{3})*(?:\.\d+)?"
_EN_SCALE = r"(?:\s*(?:million|billion|trillion))?"
_EN_UNIT = (r"(?:%|\s*percent(?:age\s+points?)?|\s*per\s+cent|\s*(?:yuan|RMB|dollars?|tons?|tonnes?|people|jobs|"
            r"kilomet(?:er|re)s?|hectares?)|\s*times)")
_EN_FIGURE = re.compile(
    rf"(?P<prefix>\b(?:about|around|approximately|over|more\s+than|at\s+least|above|under|below|up\s+to|no\s+less\s+"
    rf"than|no\s+more\s+than|nearly)\s+)?(?:RMB\s*|¥\s*|\$\s*)?(?P<low>{_EN_NUMBER})(?:{_EN_SCALE}{_EN_UNIT})?"
    rf"(?:\s*(?:-|–|to)\s*(?P<high>{_EN_NUMBER}))?(?P<unit>{_EN_SCALE}{_EN_UNIT})(?P<suffix>\s+or\s+(?:more|above))?",
    re.I,
)
_CN_VALUES = dict(zip("零〇一二两三四五六七八九", (0, 0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9), strict=True))
_CN_SCALES = {"十": 10, "百": 100, "千": 1000}
_WIDE = str.maketrans("０１２３４５６７８９．", "0123456789.")


def cn_number(text: str) -> float | None:
    """The value of a Chinese numeral under ten thousand (十 10, 二十 20, 一百 100, 一千二百 1200), or None.

    One that starts with 百 or 千 is None: those stand in words (千方百计, 千万), not in figures.
    """
    if not text or text[0] in "百千":
        return None
    total, digit = 0, None
    for char in text:
        if char in _CN_VALUES:
            digit = _CN_VALUES[char]
        elif char in _CN_SCALES:
            total += (1 if digit is None else digit) * _CN_SCALES[char]
            digit = None
        else:
            return None
    return float(total + (digit or 0))


def _value(text: str) -> float | None:
    plain = text.translate(_WIDE).replace(",", "")
    try:
        return float(plain)
    except ValueError:
        return cn_number(text)


@dataclass(frozen=True)
class _Found:
    figure: Figure
    start: int
    end: int


def figures_in(text: str) -> list[_Found]:
    """Every figure with a unit in ``text`` (a percentage, an amount of money, a count of people...),
    with its qualifier and, for a range (6.5%－7%, 10万元以上30万元以下), both ends."""
    found: list[_Found] = []
    for pattern in (_ZH_FIGURE, _ZH_PERCENT, _EN_FIGURE):
        for match in pattern.finditer(text):
            low = _value(match.group("low"))
            high = _value(match.group("high")) if match.group("high") else low
            if low is None or high is None:
                continue
            unit = " ".join(match.group("unit").split()) if pattern is not _ZH_PERCENT else "%"
            qualifier = " ".join(((match.group("prefix") or "") + " " + (match.group("suffix") or "")).split())
            if match.group("high") and pattern is not _EN_FIGURE and qualifier == "以下" and match.group("between"):
                qualifier = ""  # 10万元以上30万元以下: a range, its bounds in its ends
            found.append(_Found(Figure(match.group(0).strip(), min(low, high), max(low, high), unit, qualifier),
                                match.start(), match.end()))
    kept: list[_Found] = []  # "5%" is read by both patterns: the longer reading of a span wins
    for item in sorted(found, key=lambda f: (f.start, f.start - f.end)):
        if not kept or item.start >= kept[-1].end:
            kept.append(item)
    return kept


_GROWTH_WORDS = re.compile(r"\bgrowth\b|\bgrow|增长|增速|涨幅", re.I)
_MONEY_WORDS = re.compile(
    r"fines?|penalt|yuan|budget|spending|amount|bonds?|quota|funds?|罚款|金额|资金|元|债|额度|投资|补助", re.I)
_COUNT_WORDS = re.compile(r"\b(?:jobs|people|persons|population|employ(?:ment|ed)?)\b|就业|人口|人数|岗位", re.I)
_RATE_WORDS = re.compile(r"\b(?:rates?|ratios?|percent(?:age)?|shares?)\b|率|比例|比重", re.I)
_WEIGHT_WORDS = re.compile(r"grain|harvest|output\s+of\s+grain|粮食|产量", re.I)


def unit_class(unit: str) -> str:
    """"percent", "money", "count", "weight" or the unit itself: which figures can stand on one axis."""
    if unit in ("%", "％") or "percent" in unit.lower() or unit == "per cent":
        return "percent"
    if unit.endswith("元") or re.search(r"yuan|rmb|dollar", unit, re.I):
        return "money"
    if unit.endswith(("人", "人次")) or re.search(r"people|jobs", unit, re.I):
        return "count"
    if unit.endswith(("斤", "吨")) or re.search(r"tons?|tonnes?", unit, re.I):
        return "weight"
    return unit


def expected_unit(question: str) -> str:
    """The class of figure a question's words ask for ("" when they do not say)."""
    for pattern, kind in ((_MONEY_WORDS, "money"), (_RATE_WORDS, "percent"), (_COUNT_WORDS, "count"),
                          (_WEIGHT_WORDS, "weight"), (_GROWTH_WORDS, "percent")):
        if pattern.search(question):
            return kind
    return ""


def _fits(unit: str, expected: str) -> bool:
    """Whether a figure of ``unit`` can answer a question asking for ``expected`` (a fine may be a multiple
    of the value involved: 货值金额2倍以上20倍以下); a bare count (1000万) answers only a question that names
    no class."""
    found = unit_class(unit)
    return not expected or found == expected or (expected == "money" and found == "倍")


_DELTA = re.compile(r"比(?:去年|上年|前年|上一年)[^，；。]{0,8}?(?:增加|减少|提高|降低|下降|上升|增长|多|少|高|低)$")


def _figure_for(text: str, question: Question, expected: str) -> _Found | None:
    """The figure in ``text`` the question's words point at: the one whose clause holds most of them (a target
    sentence lists several: 国内生产总值增长6.5%－7%，…，城镇新增就业1000万人以上), of the class asked for
    when the question says (a fine, a rate, a number of people); None when no figure's clause holds any."""
    clauses = list(clause_spans(text, 0, len(text)))
    best: tuple[float, int, _Found] | None = None
    previous = 0  # where the figure before this one ends
    for found in figures_in(text):
        start, end = next(((s, e) for s, e in clauses if s <= found.start < e), (0, len(text)))
        lead, previous = text[previous:found.start], found.end
        if _DELTA.search(text[start:found.start]):
            continue  # 比去年增加5600亿元: a difference from last year, not the level asked about
        weight = sum(t.weight for t in matched_terms(question, Text.of(text[start:max(end, found.end)])))
        if weight <= 0:  # its words in an earlier clause, no figure between: …发行超长期特别国债，…，今年先发行1万亿元
            weight = AFTER_WORDS * sum(t.weight for t in matched_terms(question, Text.of(lead)))
        if weight <= 0 or not _fits(found.figure.unit, expected):
            continue  # a count of people never answers a question about grain, nor a rate one about money
        if expected and unit_class(found.figure.unit) == expected:
            weight += 0.5
        if best is None or (weight, -found.start) > best[:2]:
            best = (weight, -found.start, found)
    return best[2] if best is not None else None


# --- choosing each document's sentence ------------------------------------------------------------

_REVIEW = re.compile(r"回顾|过去一年|过去五年|review", re.I)


@dataclass
class _Choice:
    candidate: Candidate
    score: float
    figure: _Found | None  # offsets in the candidate's sentence


def _choose(weighted: Question, reading: Reading, found: Sequence[Candidate], expected: str) -> _Choice | None:
    """A document's best sentence for the question (with the figure it states), if one clears ROW_THRESHOLD.

    ``found`` are the document's candidate sentences, scored against ``weighted``, the question whose
    words were weighed by their rarity among every document's sentences: a word all the laws share
    (罚款) says little about which of them answers, the topic's words (采砂) say much. A figure question
    prefers a sentence holding a figure the question's words point at; without one, the document's
    best sentence is quoted and its figure is "not stated".
    """
    choices: list[_Choice] = []
    for candidate in found:
        if not candidate.typed:  # a year-bound question and a sentence about another year
            continue
        figure = _figure_for(candidate.text, weighted, expected) if reading.figure else None
        if reading.figure and figure is None:
            lead = _chapeau(candidate)
            figure = _figure_for(lead.text, weighted, expected) if lead is not None else None
            candidate = lead if figure is not None and lead is not None else candidate
        score = candidate.coverage + _aim_bonus(reading.aim, candidate.passage, figure)
        choices.append(_Choice(candidate, score, figure))
    if not choices:
        return None
    top = max(c.score for c in choices)
    floor = max(ROW_THRESHOLD, top - FIGURE_MARGIN)
    figured = [c for c in choices if c.figure is not None and c.score >= floor]
    best = max(figured or choices, key=lambda c: (c.score, -c.candidate.rank))
    return best if best.score >= ROW_THRESHOLD else None


_LEADS_ITEMS = re.compile(r"下列|如下|following", re.I)


def _chapeau(candidate: Candidate) -> Candidate | None:
    """For an item of a law article's list ("（一）未依法取得排污许可证排放水污染物的；"), the sentence that leads the
    list ("违反本法规定，有下列行为之一的，…并处十万元以上一百万元以下的罚款"), which states what the item entails.

    It is scored as the item (the item is what matched the question); None for any other sentence.
    """
    text = candidate.passage.text
    if not ITEM_MARK.match(candidate.text):
        return None
    leads = [(s, e) for s, e in sentence_spans(text, 0, candidate.start) if _LEADS_ITEMS.search(text[s:e])]
    if not leads:
        return None
    start, end = leads[-1]
    return replace(candidate, start=start, end=end)


def _aim_bonus(aim: str, passage: Passage, figure: _Found | None) -> float:
    review = any(_REVIEW.search(part) for part in passage.heading.split(" > ")[1:])
    qualified = figure is not None and (figure.figure.qualifier != "" or figure.figure.low != figure.figure.high)
    if aim == "target":
        return (-REVIEW_PENALTY if review else 0.0) + (QUALIFIED_BONUS if qualified else 0.0)
    if aim == "result":
        return (QUALIFIED_BONUS if review else 0.0) + (QUALIFIED_BONUS if figure is not None and not qualified else 0.0)
    return 0.0


def _quote(choice: _Choice, question: Question) -> tuple[int, int]:
    """Offsets (in the passage) of the quote: the sentence, trimmed like any answer's, always holding the figure."""
    quote = quote_for(choice.candidate, question)
    start, end = quote.start, quote.end
    if choice.figure is not None:
        at = choice.candidate.start + choice.figure.start
        until = choice.candidate.start + choice.figure.end
        if not (start <= at and until <= end):
            text = choice.candidate.passage.text
            clauses = list(clause_spans(text, choice.candidate.start, choice.candidate.end))
            holding = [i for i, (s, e) in enumerate(clauses) if s <= at < e]
            first = max(0, holding[0] - 1) if holding else 0
            last = holding[0] if holding else len(clauses) - 1
            while clauses[last][1] < until and last + 1 < len(clauses):
                last += 1
            start, end = clauses[first][0], clauses[last][1]
    return start, end


# --- the answer ---------------------------------------------------------------------------------

Search = Callable[[str, Sequence[str]], Mapping[str, Sequence[Passage]]]
"""``search(query, doc_ids) -> {doc_id: passages}``: the best passages of each document for the query."""

INTRO = {
    "en": "{stated} of {total} documents, in date order:",
    "zh": "共{total}份文件，按日期排列，其中{stated}份有相关表述：",
}
NONE_STATED = {
    "en": "None of the {total} matching documents addresses this question.",
    "zh": "{total}份相关文件均未涉及这个问题。",
}
NO_DOCUMENTS = {
    "en": "No document matches{what}, so there is nothing to answer from.",
    "zh": "没有符合条件{what}的文件，无法作答。",
}
MISSING = {"en": "The library holds no {name}.", "zh": "资料库中没有{name}。"}


def no_documents(question: str, filters: str = "", *, query: str = "", across: bool = False) -> Answer:
    """The answer when no document passes the filters (``filters`` in words, said in the message)."""
    language = detect_language(question)
    what = f" ({filters})" if filters else ""
    return Answer(NO_DOCUMENTS[language].format(what=what), (), (), False, query=query or question,
                  language=language, across=across)


def by_date(documents: Sequence[StoredDocument]) -> list[StoredDocument]:
    """Documents in date order (at the precision stated: 2016 before 2016-03-05 before 2017); undated last."""
    def key(document: StoredDocument) -> tuple[int, int, int, str]:
        date = str(document.metadata.get("date") or "")
        try:
            first, _ = date_bounds(date)
        except ValueError:
            return (1, 0, 0, document.title)
        return (0, first, len(date), document.title)

    return sorted(documents, key=key)


def across_answer(question: str, documents: Sequence[StoredDocument], search: Search, *, query: str = "",
                  missing: str = "", filters: str = "", kinds_named: bool = False) -> Answer:
    """The across-documents answer to ``question`` over ``documents`` (already filtered): one row each, by date.

    ``query`` is the standalone question searched (a follow-up rewritten), ``missing`` a document the
    question names that the library lacks (said in a warning), ``filters`` the filters in words (for
    the message when no document matches). When no kind of document was named (``kinds_named``, by
    the question or a filter), the matching documents are those of the kinds that address the
    question: "How did the GDP growth target change?" gets a row for every work report, the ones
    that do not state it included, and none for the laws, none of which does.
    """
    query = query or question
    language = detect_language(question)
    reading = read_question(query)
    ordered = by_date(documents)
    if not ordered:
        return no_documents(question, filters, query=query, across=True)
    question_terms = analyze(reading.asked, type_source=query)
    question_terms = replace(question_terms, answer_type=None)  # a figure is asked for per row, below
    expected = expected_unit(reading.asked)
    searched = search(reading.asked, [d.doc_id for d in ordered])
    weighted, found = candidates(question_terms, [p for d in ordered for p in searched.get(d.doc_id, ())])
    by_document: dict[str, list[Candidate]] = {}
    for candidate in found:
        by_document.setdefault(candidate.passage.doc_id, []).append(candidate)
    rows: list[Row] = []
    citations: list[Citation] = []
    passages: list[Passage] = []
    for document in ordered:
        choice = _choose(weighted, reading, by_document.get(document.doc_id, ()), expected)
        row = Row(document.doc_id, document.title, str(document.metadata.get("date") or ""),
                  str(document.metadata.get("kind") or ""))
        if choice is not None:
            passage = choice.candidate.passage
            start, end = _quote(choice, weighted)
            citation = Citation(len(citations) + 1, passage, passage.text[start:end],
                                passage.start + start, passage.start + end)
            citations.append(citation)
            passages.append(passage)
            row = replace(row, citation=citation, figure=choice.figure.figure if choice.figure else None)
        rows.append(row)
    if not kinds_named and citations:
        addressed = {r.kind for r in rows if r.stated}
        rows = [r for r in rows if r.kind in addressed]
    warnings = [MISSING[language].format(name=missing)] if missing else []
    return Answer(text=compose(rows, language, reading.figure), citations=tuple(citations),
                  passages=tuple(passages), grounded=bool(citations), query=query, language=language,
                  warnings=tuple([*warnings, *injection_warnings(passages)]), across=True, rows=tuple(rows))


def compose(rows: Sequence[Row], language: str, figures: bool = True) -> str:
    """The answer's text: one line per row, in the question's language, quotes verbatim with their markers."""
    stated = sum(r.stated for r in rows)
    if not stated:
        return NONE_STATED[language].format(total=len(rows))
    lines = [INTRO[language].format(stated=stated, total=len(rows))]
    for row in rows:
        when = (f"{row.date}年" if language == "zh" and len(row.date) == 4 else row.date) if row.date else ""
        name = source_label(row.citation.passage, language) if row.citation else \
            (f"《{row.title}》" if language == "zh" else row.title)
        head = " · ".join(p for p in (when, name) if p)
        if row.citation is None:
            lines.append(f"- {head}{'：' if language == 'zh' else ': '}{NOT_STATED[language]}")
            continue
        figure = (row.figure.text if row.figure else NOT_STATED[language]) if figures else ""
        figure_part = f"{figure} — " if figure else ""
        opening, closing = ("“", "”")
        lines.append(f"- {head}{'：' if language == 'zh' else ': '}{figure_part}{opening}{row.quote}{closing} "
                     f"[{row.citation.marker}]")
    return "\n".join(lines)


# --- export and chart (pure, for the CLI and the web) -------------------------------------------------

EXPORT_FIELDS = ("date", "document", "figure", "low", "high", "unit", "qualifier", "quote", "citation", "doc_id")
TABLE_FIELDS = ("date", "document", "figure", "quote", "citation")
HEADERS = {
    "en": {"date": "Date", "document": "Document", "figure": "Figure", "quote": "Quote", "citation": "Citation"},
    "zh": {"date": "日期", "document": "文件", "figure": "数字", "quote": "原文", "citation": "出处"},
}


def row_record(row: Row, language: str = "en") -> dict[str, str]:
    """A row as the strings an export holds (``EXPORT_FIELDS``); "not stated" where the document says nothing."""
    figure = row.figure
    return {
        "date": row.date,
        "document": row.title,
        "figure": figure.text if figure else NOT_STATED[language],
        "low": _number(figure.low) if figure else "",
        "high": _number(figure.high) if figure else "",
        "unit": figure.unit if figure else "",
        "qualifier": figure.qualifier if figure else "",
        "quote": row.quote if row.stated else NOT_STATED[language],
        "citation": row.label if row.stated else "",
        "doc_id": row.doc_id,
    }


def _number(value: float) -> str:
    return f"{value:g}"


def rows_to_csv(rows: Sequence[Row], language: str = "en") -> str:
    """The rows as CSV (a header of ``EXPORT_FIELDS``, then one line per row), for spreadsheets."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row_record(row, language))
    return out.getvalue()


def rows_from_csv(text: str) -> list[dict[str, str]]:
    """The records a ``rows_to_csv`` export holds."""
    return [dict(record) for record in csv.DictReader(io.StringIO(text))]


def rows_to_markdown(rows: Sequence[Row], language: str = "en") -> str:
    """The rows as a Markdown table (``TABLE_FIELDS``); a line break inside a quote is written <br>."""
    headers = HEADERS[language]
    lines = ["| " + " | ".join(headers[f] for f in TABLE_FIELDS) + " |",
             "|" + "|".join("---" for _ in TABLE_FIELDS) + "|"]
    for row in rows:
        record = row_record(row, language)
        lines.append("| " + " | ".join(_cell(record[f]) for f in TABLE_FIELDS) + " |")
    return "\n".join(lines) + "\n"


def _cell(value: str) -> str:
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("\r\n", "\n").replace("\n", "<br>")


def rows_from_markdown(text: str) -> list[dict[str, str]]:
    """The records (``TABLE_FIELDS``) of a ``rows_to_markdown`` table."""
    records = []
    for line in text.strip().splitlines()[2:]:
        body = line.strip()[1:-1] if line.strip().startswith("|") else line
        cells = _split_cells(body)
        records.append({f: _uncell(c.strip()) for f, c in zip(TABLE_FIELDS, cells, strict=True)})
    return records


def _split_cells(body: str) -> list[str]:
    cells, current, i = [], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            current.append(body[i:i + 2])
            i += 2
            continue
        if body[i] == "|":
            cells.append("".join(current))
            current = []
        else:
            current.append(body[i])
        i += 1
    cells.append("".join(current))
    return cells


def _uncell(value: str) -> str:
    out, i = [], 0
    value = value.replace("<br>", "\n")
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in "\\|":
            out.append(value[i + 1])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


_TO_BASE = {"元": 1.0, "万元": 1e4, "亿元": 1e8, "万亿元": 1e12, "人": 1.0, "万人": 1e4, "亿人": 1e8, "万人次": 1e4}


@dataclass(frozen=True)
class Point:
    """One row's figure on a chart: its date, and its range (low == high for a single value), in ``Series.unit``."""

    date: str
    low: float
    high: float
    label: str  # the figure as the quote states it
    doc_id: str


@dataclass(frozen=True)
class Series:
    unit: str
    points: tuple[Point, ...]


def chart_series(rows: Sequence[Row]) -> Series | None:
    """The rows' figures on one axis, when they are comparable: two or more dated figures of one class
    (percentages, money or counts of people), converted to the unit most rows use (万亿元 to 亿元...).

    None when fewer than two rows have a dated figure, or their units cannot share an axis.
    Ranges stay ranges (low and high); nothing is averaged or filled in for a row without a figure.
    """
    dated = [r for r in rows if r.figure is not None and r.date]
    if len(dated) < 2 or len({unit_class(r.figure.unit) for r in dated if r.figure}) != 1:
        return None
    units = [r.figure.unit for r in dated if r.figure]
    unit = max(set(units), key=units.count)
    points = []
    for row in dated:
        assert row.figure is not None
        factor = _factor(row.figure.unit, unit)
        if factor is None:
            return None
        points.append(Point(row.date, row.figure.low * factor, row.figure.high * factor, row.figure.text, row.doc_id))
    return Series(unit, tuple(points))


def _factor(unit: str, target: str) -> float | None:
    if unit == target or {unit, target} <= {"%", "％"}:
        return 1.0
    if unit in _TO_BASE and target in _TO_BASE and unit_class(unit) == unit_class(target):
        return _TO_BASE[unit] / _TO_BASE[target]
    return None
