"""Which stored documents a question points to: a law or report it names, and the year that qualifies it.

In a library of related texts the same sentence stands in several documents (every government
work report restates a growth target), so "the 2024 report" or 长江保护法 decides which passage
answers. Names are matched against what the store holds, never against a list of known titles:

- a Chinese question names a document when it contains a suffix of the document's title that
  starts at a word boundary (长江保护法 in 中华人民共和国长江保护法); the longest such suffix wins;
- an English question names one with a phrase that ends in a kind of document ("Law",
  "Regulations", "Report"), whose words are looked up in the dictionary and must all be found in
  the title (or in the document's English title, when its front matter gives one);
- a year qualifies a name only when it stands right beside it ("the 2024 Government Work
  Report", "2023年政府工作报告"); a year inside the fact asked about ("growth in 2020") is content.

A name or a qualified year that no stored document matches is *missing*: the question is then
about something the library does not hold, and must be refused naming it, never answered from
another year or law.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.metadata import parse_kind
from assistant.relevance import is_chinese, lexicon, segment, stem, years_in

# Kinds of document, by the word that ends their names (what a document *is*, not which one).
KIND_WORDS_ZH = ("法", "条例", "规定", "办法", "报告", "决定", "意见", "通知", "规划", "纲要", "细则", "方案")
KIND_WORDS_EN = ("law", "laws", "regulation", "regulations", "provisions", "measures", "rules", "report", "act",
                 "code")
# Words that say which state a name belongs to, not which law it is: an English name may drop them.
_ALWAYS_OMITTED = {"prc", "people", "republic", "china", "chinese", "the", "of", "on", "for", "and", "in", "to", "s"}
# Words English renderings add or drop at will: 自然保护区条例 is "Regulations on Nature Reserves" or "… on
# Nature Reserve Management", 排污许可管理条例 "Regulations on (the Administration of) Pollutant Discharge Permits".
_OPTIONAL = {"manag", "administr"}
_UNCHECKED = _ALWAYS_OMITTED | _OPTIONAL
# The state's name before a national law's title ("中华人民共和国河道管理条例"): no name leaves it unexplained,
# so it must not make a national title lose to a local one ("河道管理条例" is not 长江河道采砂管理条例).
_STATE_PREFIX = "中华人民共和国"
# A name of this many matched words may have one more that the dictionary cannot place (移民 is glossed
# "immigrant", not "resettlement"), never its subject (_subject); a shorter one must match in full ("Marine
# Environment Protection Law" is not 环境保护法). Chosen on the dev questions.
UNMATCHED_TOLERANCE_FROM = 4
_NAME_LINKS = {"of", "on", "for", "the", "and", "concerning", "regarding"}
# ... and inside a name after its kind word: "Law on the Prevention of … Pollution by Solid Waste", "… in the Yangtze"
_INNER_LINKS = _NAME_LINKS | {"in", "by"}

_ZH_YEAR = re.compile(r"((?:19|20)\d\d)\s*年度?(?:的|《|\s)*$")
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+[A-Za-z]*")
# A Chinese law or regulation named in a question: a run of characters ending in 法 or 条例, between
# a boundary (start, punctuation, 根据, 依照…) and what follows a name (规定, 第…条, 自, 对, 的…).
_ZH_NAME = re.compile(
    r"(?:^|[，。？、：；《\s]|根据|依据|按照|依照|关于|对于|在|我国)"
    r"([\u4e00-\u9fff]{2,14}?(?:法|条例))"
    r"(?=》|规定|第|对|自|中|关于|的|是|有|所|要求|明确|提出|里|上|何时|什么|哪|[，。？、：；\s]|$)"
)
_ZH_NOT_NAMES = ("方法", "办法", "依法", "合法", "非法", "违法", "立法", "执法", "司法", "无法", "设法", "做法")


@dataclass(frozen=True)
class Profile:
    """What a stored document is called and when it is from, as the question side needs it."""

    doc_id: str
    title: str
    english_title: str = ""
    years: frozenset[int] = frozenset()
    suffixes: tuple[str, ...] = ()  # title suffixes starting at a word boundary, longest first
    # English stem -> where the title says it, and the other words of that sense a name must also hold
    glosses: dict[str, tuple[tuple[range, frozenset[str]], ...]] = field(default_factory=dict)
    kind: str = ""  # the document's kind (assistant.metadata.KINDS), when known


@dataclass(frozen=True)
class Scope:
    """The documents a question points to (None: no pointer) and what it names that the library lacks."""

    documents: tuple[str, ...] | None = None
    missing: str = ""
    named: tuple[str, ...] = field(default=())  # the phrases that pointed, for messages and debugging
    unselected: bool = False  # the named documents exist but are outside the documents chosen to search
    years: tuple[int, ...] = ()  # when a year is missing: the years the named kind of document does have
    spans: tuple[tuple[int, int], ...] = ()  # where the question names the documents (year included)

    def unnamed(self, question: str) -> str:
        """The question without the names of the documents it points to (the scope already stands for them).

        "What deficit ratio does the 2025 Government Work Report propose?" asks for a sentence about
        a deficit ratio; the report's name is in its title, not in that sentence.
        """
        if not self.documents:
            return question
        out = question
        for start, end in sorted(self.spans, reverse=True):
            out = out[:start] + " " + out[end:]
        return out


def profile(doc_id: str, title: str, source: str = "", metadata: dict[str, object] | None = None) -> Profile:
    """A document's names and years, from its title, its front matter and its file name."""
    metadata = metadata or {}
    english = str(metadata.get("title_en") or "")
    if not english and not is_chinese(title):
        english = title
    return Profile(doc_id, title, english, _years_of(title, source, metadata), _suffixes(title), _glosses(title),
                   str(metadata.get("kind") or ""))


def _years_of(title: str, source: str, metadata: dict[str, object]) -> frozenset[int]:
    """Years the title states; failing that, the front matter's date or year; failing that, the file name's."""
    for text in (title, str(metadata.get("year") or metadata.get("date") or ""), Path(source).name):
        years = years_in(text)
        if years:
            return years
    return frozenset()


def _suffixes(title: str) -> tuple[str, ...]:
    """Title endings a Chinese question may use as the document's name (not a bare kind word like 条例)."""
    if not is_chinese(title):
        return ()
    tokens = segment(title.strip())
    out = []
    for i in range(len(tokens)):
        suffix = "".join(tokens[i:]).strip()
        if len(suffix) >= 2 and suffix not in KIND_WORDS_ZH and not years_in(suffix[:4]):
            out.append(suffix)
    return tuple(sorted(set(out), key=len, reverse=True))


def _glosses(title: str) -> dict[str, tuple[tuple[range, frozenset[str]], ...]]:
    """The English stems that the title's dictionary words mean, each with where those words stand and what
    else the name must say for that word to count as explained.

    Read from the Chinese side, 防治 ("prevention and cure") explains "Prevention" in a name even
    though no gloss of "prevention" is 防治. A word of three characters or more explains itself only to a
    name that holds every word of its sense: 水污染防治 ("water pollution prevention and control") is no
    part of the "Water Law", nor of the "Air Pollution Prevention and Control Law", while 水土保持 ("soil and
    water conservation") is all of "Soil and Water Conservation"; its parts (水, 污染, 防治) explain themselves.
    """
    lex = lexicon()
    if lex is None or not is_chinese(title):
        return {}
    found: dict[str, list[tuple[range, frozenset[str]]]] = {}
    for start in range(len(title)):
        for size in range(1, 7):
            word = title[start:start + size]
            if len(word) < size or (size > 1 and word not in lex):
                continue
            senses = lex.english_for(word)
            for sense in senses if size > 1 else senses[:3]:
                for key in sense:
                    needs = sense - {key} if size > 2 else frozenset()
                    found.setdefault(key, []).append((range(start, start + size), needs))
    return {key: tuple(spans) for key, spans in found.items()}


def resolve(question: str, profiles: Sequence[Profile]) -> Scope:
    """The documents ``question`` names (and the year that qualifies them), or what it names that is missing."""
    pointers = _chinese_pointers(question, profiles) if is_chinese(question) else \
        _english_pointers(question, profiles)
    pointers = pointers or _kind_pointers(question, profiles)
    if not pointers:
        return Scope()
    documents: list[str] = []
    named: list[str] = []
    for pointer in pointers:
        named.append(pointer.phrase)
        if not pointer.documents:
            return Scope((), pointer.phrase, tuple(named), years=pointer.other_years)
        documents.extend(d for d in pointer.documents if d not in documents)
    return Scope(tuple(documents), "", tuple(named), spans=tuple(p.span for p in pointers))


@dataclass(frozen=True)
class _Pointer:
    phrase: str  # as the question puts it, year included
    span: tuple[int, int]  # where it stands in the question
    documents: tuple[str, ...]  # the stored documents it names (none: missing)
    other_years: tuple[int, ...] = ()  # a year-qualified name: the years the name's documents are from


def _qualified(phrase: str, span: tuple[int, int], named: Sequence[Profile], year: int | None) -> _Pointer:
    """The pointer of a name, narrowed to the documents of ``year`` when a year qualifies it."""
    if year is None:
        return _Pointer(phrase, span, tuple(p.doc_id for p in named))
    return _Pointer(phrase, span, tuple(p.doc_id for p in named if year in p.years),
                    tuple(sorted({y for p in named for y in p.years})))


# --- a kind of document that one word names ("According to the commentary, …") -----------------

# Kinds a library rarely holds more than a few of, so "the commentary" or 这篇评论 means the ones it holds. Laws,
# regulations and reports are many, and are named (above); "the law" alone names none.
_KIND_REFERENCE = re.compile(
    r"\b(?:the|this|that)\s+(?P<en>commentary|editorial|speech|remarks|notice|circular)\b(?!\s+(?:on|of|by)\b)"
    r"|(?:这篇|该|此|本)(?P<zh>评论员文章|评论|社论|讲话|通知)",
    re.I,
)


def _kind_pointers(question: str, profiles: Sequence[Profile]) -> list[_Pointer]:
    """The documents of the kind the question refers to by that word alone (none held: that kind is missing)."""
    match = _KIND_REFERENCE.search(question)
    if match is None:
        return []
    word = match.group("en") or match.group("zh")
    kind = parse_kind(word)
    return [_Pointer(word, match.span(), tuple(p.doc_id for p in profiles if p.kind == kind))]


# --- Chinese questions ----------------------------------------------------------------------


def _chinese_pointers(question: str, profiles: Sequence[Profile]) -> list[_Pointer]:
    found = _title_suffix_matches(question, profiles)
    if found and _inside_longer_name(question, found[0], found[1]):
        found = None  # 土壤污染防治法 is not 水污染防治法, though both end in 防治法
    if not found:
        name = _unknown_chinese_name(question)
        return [_Pointer(name, (0, 0), ())] if name else []
    start, suffix, docs = found
    end = start + len(suffix)
    year = _ZH_YEAR.search(question[:start])
    if year:
        return [_qualified(f"{year.group(1)}年{suffix}", (year.start(), end), docs, int(year.group(1)))]
    return [_qualified(suffix, (start, end), docs, None)]


def _title_suffix_matches(question: str, profiles: Sequence[Profile]) -> tuple[int, str, list[Profile]] | None:
    """Where the longest title suffix found in the question stands, the suffix, and every document it names."""
    best: tuple[int, str, list[Profile]] | None = None
    for p in profiles:
        for suffix in p.suffixes:
            at = question.find(suffix)
            if at < 0:
                continue
            if best is None or len(suffix) > len(best[1]):
                best = (at, suffix, [p])
            elif len(suffix) == len(best[1]) and suffix == best[1]:
                best[2].append(p)
            break  # suffixes are longest first
    return best


def _inside_longer_name(question: str, at: int, suffix: str) -> bool:
    """Whether the question's name around this title suffix is longer than the suffix (another law)."""
    end = at + len(suffix)
    return any(m.start(1) < at and m.end(1) == end for m in _ZH_NAME.finditer(question))


def _unknown_chinese_name(question: str) -> str:
    """A law or regulation the question names that no stored title ends with ('' when it names none)."""
    for match in _ZH_NAME.finditer(question):
        name = match.group(1)
        if not any(name.endswith(word) and len(name) <= len(word) + 1 for word in _ZH_NOT_NAMES):
            return name
    return ""


# --- English questions ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Phrase:
    words: tuple[str, ...]  # as written, kind word included
    year: int | None
    span: tuple[int, int]  # in the question, the year beside it included

    @property
    def text(self) -> str:
        name = " ".join(self.words)
        return f"{self.year} {name}" if self.year else name


def _english_pointers(question: str, profiles: Sequence[Profile]) -> list[_Pointer]:
    out = []
    for phrase in _english_phrases(question):
        content = [w for w in phrase.words if _key(w) not in _UNCHECKED]
        matched = _documents_named(content, profiles, year_given=phrase.year is not None)
        if matched is None:
            continue  # nothing in the name can be checked against the library
        if not matched and phrase.year is None and not _capitalised(phrase.words[-1]):
            continue  # "an EIA report" is a thing the question talks about, not a document it names
        out.append(_qualified(phrase.text, phrase.span, matched, phrase.year))
    return out


def _english_phrases(question: str) -> list[_Phrase]:
    """Names ending in a kind word: capitalised words before it (and "on/for …" after it), with a year beside."""
    found = list(_EN_WORD.finditer(question))
    words = [m.group() for m in found]
    phrases = []
    for i, word in enumerate(words):
        if word.lower() not in KIND_WORDS_EN:
            continue
        start = i
        while start > 0 and _in_name(words[start - 1]):
            start -= 1
        end = i + 1
        ahead = end + 2 if end + 1 < len(words) and words[end + 1].lower() == "the" else end + 1
        if end < len(words) and words[end].lower() in ("on", "for", "of", "concerning") \
                and ahead < len(words) and _capitalised(words[ahead]):
            end = ahead
            while end < len(words) and (_capitalised(words[end]) or words[end].lower() in _INNER_LINKS):
                end += 1
        while end > i + 1 and words[end - 1].lower() in _INNER_LINKS:
            end -= 1
        # Lower-case words before the kind word belong to the name only behind a year that qualifies it
        # ("the 2024 government work report"); else they are the question's ("fishing under the … Law").
        dated = start > 0 and _is_year(words[start - 1])
        while start < i and (words[start].lower() in _NAME_LINKS or not (dated or _capitalised(words[start]))):
            start += 1
        year, first, last = _year_beside(words, start, end)
        phrases.append(_Phrase(tuple(words[start:end]), year, (found[first].start(), found[last - 1].end())))
    return phrases


def _in_name(word: str) -> bool:
    """Whether a word read backwards from a kind word still belongs to the name ("Water" in "the Water Law")."""
    if _is_year(word) or word.lower() in _NOT_IN_NAMES:
        return False
    return _capitalised(word) or word.isalpha()


# Words that end a name read backwards, capitalised at a question's start or not ("the fine under the
# water law" must not name "fine under water law"): question words, the verbs and the prepositions
# that stand before a name.
_NOT_IN_NAMES_WORDS = """
what which who whom how when where why does did do is was are were be been has have had can could may might
must shall should will would set sets say says said state states propose proposed aim require requires apply
applies under in to by from with about according as at its their this that these those the a an new first
planned plan reviewed """
_NOT_IN_NAMES = frozenset(_NOT_IN_NAMES_WORDS.split())


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def _is_year(word: str) -> bool:
    return len(word) == 4 and bool(years_in(word))


def _year_beside(words: list[str], start: int, end: int) -> tuple[int | None, int, int]:
    """A year right before the name ("the 2024 report") or right after it ("report of 2019"), and the
    name's word range widened to hold it."""
    if start > 0 and _is_year(words[start - 1]):
        return int(words[start - 1]), start - 1, end
    if end + 1 < len(words) and words[end].lower() in ("of", "for", "in") and _is_year(words[end + 1]):
        return int(words[end + 1]), start, end + 2
    return None, start, end


def _key(word: str) -> str:
    return stem(word.replace("’", "'"))


def _documents_named(words: Sequence[str], profiles: Sequence[Profile], *, year_given: bool) -> list[Profile] | None:
    """The documents whose title holds every word of the name (in Chinese, through the dictionary).

    Among them, those whose title the name leaves least unexplained (水法, not 水污染防治法, for "Water Law").
    None when no word of the name can be checked (no dictionary entry, no English title has it).
    """
    lex = lexicon()
    keys = [_key(w) for w in words]
    forms = {key: (lex.chinese_for(key) if lex is not None else ()) for key in keys}
    english = {p.doc_id: {_key(w) for w in _EN_WORD.findall(p.english_title)} for p in profiles}
    glossed = {key for p in profiles for key in p.glosses}
    checkable = [k for k in keys if forms[k] or k in glossed or any(k in e for e in english.values())]
    if len(checkable) < (1 if year_given else 2):
        return None  # "the law", "an EIA report": too little to tell which document
    full: list[tuple[int, Profile]] = []
    for p in profiles:
        explained = _explained(checkable, forms, english[p.doc_id], p)
        if explained is not None:
            full.append((explained, p))
    if not full:
        return []
    best = min(e for e, _ in full)
    return [p for e, p in full if e == best]


def _explained(keys: Sequence[str], forms: dict[str, tuple[str, ...]], english: set[str],
               profile: Profile) -> tuple[int, int] | None:
    """How many of the name's words the title lacks, then how many of the title's characters the name leaves
    unexplained ((0, 0) when its English title has all its words); None when a word is not in the title (two,
    when the name has UNMATCHED_TOLERANCE_FROM matched). A title holding every word of the name beats one that
    lacks one, however short: "Law on the Prevention and Control of Environmental Pollution" is 固体废物污染环境防治法
    (all five words), not 水污染防治法 (no 环境)."""
    if english and all(key in english for key in keys):
        return 0, 0
    covered: set[int] = set()
    unmatched = 0
    for key in keys:
        spans = [s for s in (_span(form, profile.title) for form in forms[key]) if s is not None]
        spans += [s for stem_, found in profile.glosses.items() if _same_stem(stem_, key)
                  for s, needs in found if all(any(_same_stem(n, k) for k in keys) for n in needs)]
        if spans:
            covered.update(max(spans, key=len))
        elif key == _subject(keys):
            return None  # the word that says which law it is: "Air" is not in 水污染防治法, however much else is
        else:
            unmatched += 1
    if unmatched > (1 if len(keys) - unmatched >= UNMATCHED_TOLERANCE_FROM else 0):
        return None
    state = len(_STATE_PREFIX) if profile.title.startswith(_STATE_PREFIX) else 0
    return unmatched, len(profile.title) - state - sum(1 for i in covered if i >= state)


_KIND_KEYS = frozenset(_key(word) for word in KIND_WORDS_EN)


def _subject(keys: Sequence[str]) -> str:
    """The first word of a name that is not its kind: what tells "Air Pollution Prevention and Control Law"
    from the Water one, and "Regulations on Nature Reserves" from other regulations."""
    return next((key for key in keys if key not in _KIND_KEYS), "")


def _same_stem(a: str, b: str) -> bool:
    """Equal stems, or long ones sharing their first six letters (circular / circulate, not water / waterway)."""
    return a == b or (min(len(a), len(b)) >= 6 and a[:6] == b[:6])


def _span(form: str, title: str) -> range | None:
    """Where ``form`` (or, for a form of 3+ characters, two characters of it) stands in the title."""
    at = title.find(form)
    if at >= 0:
        return range(at, at + len(form))
    if len(form) >= 3:
        for i in range(len(form) - 1):
            at = title.find(form[i:i + 2])
            if at >= 0:
                return range(at, at + 2)
    return None
