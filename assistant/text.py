"""Language-aware text primitives shared by chunking, keyword search and answering.

Chinese needs different rules from English at every step (no spaces between words,
。！？； as sentence ends, character-based sizes), so these helpers are the single
place that knows the difference.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # the CJK ideograph blocks (a regex class body)
_CJK = re.compile(f"[{CJK_CHARS}]")
_LATIN = re.compile(r"[A-Za-z]")
_VISIBLE = re.compile(r"\S")

# A sentence ends at an English terminator followed by space/end, or right after a
# Chinese terminator (optionally followed by closing quotes or brackets), or at a blank line.
_SENTENCE_END = re.compile(r"""(?:[.!?]+["'”’)\]]*(?=\s|$))|(?:[。！？；…]+[”’」』）)]*)|(?:\n\s*\n)""")
# English clause marks only count before whitespace (so "1,000" and "10:30" stay whole);
# the full-width CJK marks never have a space after them.
_CLAUSE_END = re.compile(r"[,;:](?:\s+|$)|[，、：；]\s*")

# Words that end in a period without ending the sentence ("Mr. Li", "e.g. rivers", "the U.S.
# and"). Company suffixes and "etc." are left out: they often do end a sentence, and when they
# do not, the next word is usually lowercase, which is checked separately.
_ABBREVIATION_WORDS = """
mr mrs ms dr prof sr jr st mt rev hon gen col capt lt sgt gov pres sen rep dept
e.g i.e cf vs viz al approx u.s u.k u.n e.u p.r.c
"""
# Words that are abbreviations only before a number ("No. 5", "Art. 12", "p. 3", "Jan. 1"),
# so "the answer was no." still ends a sentence.
_NUMBERED_WORDS = """
no nos art arts sec secs para paras ch chap cl fig figs vol vols pp p
jan feb mar apr jun jul aug sep sept oct nov dec
"""
ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
NUMBERED_ABBREVIATIONS = frozenset(_NUMBERED_WORDS.split())
_NUMBER_AHEAD = re.compile(r"\s*(?:\d|[IVXLC]+\b)")
_OPENERS = "\"'“‘([{"


def cjk_ratio(text: str) -> float:
    """Share of letters that are CJK ideographs, counting Latin letters as the rest."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    total = cjk + latin
    return cjk / total if total else 0.0


def detect_language(text: str) -> str:
    """'zh' or 'en'. Ideographs carry ~4x the information of Latin letters, so a text
    counts as Chinese once a fifth of its letters are CJK."""
    return "zh" if cjk_ratio(text[:20000]) >= 0.2 else "en"


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Yield (start, end) offsets of the sentences in ``text[start:end]``.

    Offsets index into ``text`` itself, with surrounding whitespace trimmed, so a
    sentence can always be cited as an exact slice of its source. A period after a
    known abbreviation, an initial, or before a lowercase word is not a sentence end.
    """
    end = len(text) if end is None else end
    pos = start
    for match in _SENTENCE_END.finditer(text, start, end):
        if _is_false_stop(text, match.start(), match.end(), end):
            continue
        span = _trim(text, pos, match.end())
        if span:
            yield span
        pos = match.end()
    span = _trim(text, pos, end)
    if span:
        yield span


def clause_spans(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Yield clause offsets inside one sentence (split after , ; : and their CJK forms)."""
    pos = start
    for match in _CLAUSE_END.finditer(text, start, end):
        span = _trim(text, pos, match.start() + 1)
        if span:
            yield span
        pos = match.end()
    span = _trim(text, pos, end)
    if span:
        yield span


def _is_false_stop(text: str, stop_start: int, stop_end: int, limit: int) -> bool:
    """True when a lone '.' ends an abbreviation or an initial rather than a sentence."""
    if text[stop_start:stop_end] != ".":
        return False
    word = _word_before(text, stop_start).lower()
    if word in ABBREVIATIONS or (len(word) == 1 and word.isalpha() and text[stop_start - 1].isupper()):
        return True
    if word in NUMBERED_ABBREVIATIONS and _NUMBER_AHEAD.match(text, stop_end, limit):
        return True
    following = _VISIBLE.search(text, stop_end, limit)  # a search, not a slice: linear on megabyte lines
    return bool(following) and following.group().isascii() and following.group().islower()


def _word_before(text: str, pos: int) -> str:
    """The run of non-space characters ending at ``pos``, without leading quotes/brackets."""
    begin = pos
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
    return text[begin:pos].lstrip(_OPENERS)


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


_ADDRESSED_TO_A_MODEL = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+)?(?:previous|prior|above|earlier|"
    r"preceding|your|these|those|my)\s+(?:instructions?|rules|prompts?|messages|directions|guidelines)\b|"
    r"\b(?:you are now|pretend to be|new instructions?\s*:|system prompt|as an ai(?: language)? model)|"
    r"^\s*(?:system|assistant)\s*:|"
    r"(?:忽略|无视|忘记|忘掉|不要理会)(?:以上|上述|之前|前面|先前|你的|所有|全部|一切)?.{0,6}?(?:指令|指示|提示词)|"
    r"你现在是|系统提示",
    re.I | re.M,
)


def addressed_to_a_model(text: str) -> bool:
    """Whether text reads as an instruction to an AI ("ignore previous instructions", "你现在是…").

    Such a sentence in a passage is a prompt injection or, at best, not a statement of policy;
    either way it is not evidence for anything the model says.
    """
    return bool(_ADDRESSED_TO_A_MODEL.search(text))


# --- word analysis shared by keyword search and answering ---------------------------------------

_segmenter_lock = threading.Lock()
_segmenter: Any = None
_stemmers = threading.local()


def segmenter() -> Any:
    """jieba's segmenter, built once per process (its dictionary is ~1 s and tens of MB) and quiet.

    Keyword search cuts with ``lcut_for_search`` and answering with ``lcut``; both use this one.
    """
    global _segmenter
    if _segmenter is None:
        with _segmenter_lock:
            if _segmenter is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)  # it prints "Building prefix dict..." on stderr otherwise
                built = jieba.Tokenizer()
                built.initialize()
                _segmenter = built
    return _segmenter


def english_stemmer() -> Any:
    """The Snowball English stemmer of this thread: PyStemmer objects must not be shared across threads."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import Stemmer

        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer
