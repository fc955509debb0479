"""A word-by-word dictionary gloss, for a quote in another language than the question.

An English reader of a Chinese quote (or the reverse) gets each word with its first CC-CEDICT
sense beside it. It is a reading aid, never a translation: it is labelled as a gloss, shown
under the quote as it stands, and never cited or used as evidence.
"""

from __future__ import annotations

import functools
import re

from assistant.relevance import lexicon, segment, stem
from assistant.text import CJK_CHARS, detect_language

_CJK_WORD = re.compile(f"[{CJK_CHARS}]")
_ENGLISH_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_COMMON = re.compile("[\u4e00-\u9fff]+")  # the common ideographs: rare variants make no gloss
_SENSE_CHARS = 40  # a long dictionary sense is cut: the gloss must stay readable beside the word


@functools.lru_cache(maxsize=1024)
def gloss(text: str, language: str) -> str:
    """``text`` glossed for a reader of ``language`` ("en" or "zh"); "" when it is already in that language
    or the dictionary is not installed."""
    lex = lexicon()
    if lex is None or not text.strip() or detect_language(text) == language:
        return ""
    if language == "en":
        parts = []
        for token in segment(text):
            sense = lex.first_sense(token) if _CJK_WORD.search(token) else ""
            parts.append(f"{token} ({_short(sense)})" if sense else token)
        return " ".join(parts)
    return _ENGLISH_WORD.sub(lambda m: _with_chinese(m.group(0)), text)


def _with_chinese(word: str) -> str:
    lex = lexicon()
    words = [w for w in (lex.chinese_for(stem(word.lower())) if lex is not None else ()) if _COMMON.fullmatch(w)]
    return f"{word}（{words[0]}）" if words else word


def _short(sense: str) -> str:
    return sense if len(sense) <= _SENSE_CHARS else sense[:_SENSE_CHARS - 1].rstrip() + "…"
