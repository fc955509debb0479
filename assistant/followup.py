"""Follow-up questions → standalone retrieval queries.

In a chat, "and by when?" or "违反的话怎么处罚？" means nothing to a search index: the subject is in an
earlier turn. Without an LLM the rewrite is a heuristic, and it must err neither way: a standalone
question merged with the previous one ("How should cadres learn?") is searched, and answered, as the
previous question; a follow-up left alone is searched for a bare predicate.

The test is whether the question names its own subject. A follow-up opens with a connective ("and",
"what about", "那么", "还有"), points back with a pronoun that has no antecedent in the question ("it",
"they", "这个", "其", "该"), or names no subject at all. "Names a subject" is read from the question's
salient terms (``relevance.analyze``): in English, without a part-of-speech tagger, two content words
("cadres" + "learn"; one is only the topic or only what is asked of it: "How many stages?"); in Chinese,
one noun by jieba's dictionary tags, since a bare predicate ("怎么处罚？", "违反的话怎么处罚？",
"什么时候开始？") holds content words but no subject. A follow-up gets the content words of the previous
user question(s) put in front of it. With an LLM configured, the model condenses the history and the
follow-up into one question, and the heuristic is its fallback.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from typing import Any

from assistant.relevance import analyze, english_words, segment
from assistant.text import detect_language

log = logging.getLogger(__name__)

_EN_OPENER = re.compile(
    r"^\s*(?:and|but|so|also|then|plus|or|what\s+about|how\s+about|and\s+what\s+about|what\s+of|same\s+for|"
    r"why\s+so|how\s+so|in\s+that\s+case)\b",
    re.I,
)
# Words that point back at something. "there" and "such" are not among them: "are there …?" and "such as"
# are how standalone questions are phrased.
_EN_POINTERS = frozenset({"it", "its", "they", "them", "their", "theirs", "this", "that", "these", "those",
                          "he", "she", "him", "her", "his"})
_ZH_OPENERS = frozenset({"那么", "那", "还有", "另外", "此外", "以及", "并且", "而且", "而", "再", "又"})
# Personal and demonstrative pronouns; jieba's pronouns in 这/那 (这个, 这项, 那些) are pointers too.
_ZH_POINTERS = frozenset({"他", "她", "它", "他们", "她们", "它们", "其", "此", "该", "上述", "前者", "后者"})
# Chinese asks with a question word or 吗; "X呢？" without one is "what about X?", asking the previous question.
_ZH_ASKS = re.compile(r"什么|啥|怎|如何|哪|谁|为何|多少|几|多久|吗|是否")
_ZH_WORD = re.compile(r"\w")  # a jieba token that is a word, not punctuation
SUBJECT_TERMS = 2  # an English question with fewer content words than this leaves its subject to the context
PRONOUN_TERMS = 4  # a question with a pronoun and at most this many content words leans on context
MAX_TURNS = 3  # user turns walked back to find the subject


def user_turns(history: Sequence[dict[str, Any]] | None, question: str = "") -> list[str]:
    """The user's earlier messages, oldest first (the current question dropped if the UI included it)."""
    turns = [str(m.get("content", "")).strip() for m in history or ()
             if isinstance(m, dict) and m.get("role") == "user" and isinstance(m.get("content"), str)]
    turns = [t for t in turns if t]
    if turns and question and turns[-1] == question.strip():
        turns.pop()
    return turns


def is_followup(question: str) -> bool:
    """True when ``question`` probably depends on an earlier turn for its subject."""
    asked = analyze(question)
    salient = {t.text.lower() for t in asked.terms}
    if asked.language == "zh":
        return _chinese_followup(question, salient)
    return _english_followup(question, salient)


def _english_followup(question: str, salient: set[str]) -> bool:
    """An opener, fewer than two content words, or a pointer in a question of a few content words.

    A "that" right after a content word is a relative pronoun or conjunction ("the law that protects …"),
    whose antecedent is in the question.
    """
    if _EN_OPENER.search(question) or len(salient) < SUBJECT_TERMS:
        return True
    words = [w.lower() for w in english_words(question)]
    points_back = any(w in _EN_POINTERS and not (w == "that" and i > 0 and words[i - 1] in salient)
                      for i, w in enumerate(words))
    return points_back and len(salient) <= PRONOUN_TERMS


def _chinese_followup(question: str, salient: set[str]) -> bool:
    """An opener, a pointer before any subject noun, no subject noun at all, or "X呢？" asking nothing itself.

    Words are jieba's (as ``analyze`` cut them), so 应该 holds no 该 and 那曲 (a place) opens with no 那; a
    pointer after a noun has its antecedent ("干部犯了错误，他们该怎么办", "干部该怎么学习").
    """
    words = _chinese_words(question)
    if not words or words[0] in _ZH_OPENERS:
        return True
    named = False
    for word in words:
        if not named and (word in _ZH_POINTERS or (word[0] in "这那" and _word_tags().get(word) == "r")):
            return True
        named = named or (word.lower() in salient and _is_noun(word))
    return not named or (words[-1] == "呢" and not _ZH_ASKS.search(question))


def _chinese_words(question: str) -> list[str]:
    return [w for w in segment(question) if _ZH_WORD.search(w)]


def _is_noun(word: str) -> bool:
    """A noun (n…), place word (s) or abbreviation (j) by jieba's tags, or a Latin name or acronym (GDP).

    Verbal nouns (vn: 违法, 管理) are left out: alone they are as often the bare predicate ("违法怎么处罚？").
    """
    tag = _word_tags().get(word, "")
    return tag.startswith("n") or tag in ("s", "j") or (word.isascii() and word.isalpha())


@functools.lru_cache(maxsize=1)
def _word_tags() -> dict[str, str]:
    """jieba's part-of-speech dictionary (word → tag), the one ``segment`` cuts with; read (~0.7 s) on the
    first Chinese question that comes with a history."""
    import jieba.posseg

    return jieba.posseg.dt.word_tag_tab


def standalone_query(question: str, history: Sequence[dict[str, Any]] | None = None) -> str:
    """``question`` made searchable on its own: earlier subjects prepended when it is a follow-up."""
    question = question.strip()
    turns = user_turns(history, question)
    if not turns or not is_followup(question):
        return question
    subject: list[str] = []
    for turn in reversed(turns[-MAX_TURNS:]):
        words = [t.text for t in analyze(turn).terms if t.text not in subject]
        subject = words + subject
        if not is_followup(turn):
            break
    if not subject:
        return question
    rest = _strip_opener(question)
    return f"{' '.join(subject)} {rest}".strip()


def _strip_opener(question: str) -> str:
    if detect_language(question) == "zh":
        words = _chinese_words(question)
        stripped = question.split(words[0], 1)[1] if words and words[0] in _ZH_OPENERS else question
    else:
        stripped = _EN_OPENER.sub("", question, count=1)
    return stripped.lstrip(" ,，、") or question


def warm_up() -> None:
    """Read jieba's part-of-speech table now (~0.7 s), not on the first Chinese follow-up."""
    _word_tags()
