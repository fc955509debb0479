"""Follow-up questions → standalone retrieval queries.

In a chat, "and by when?" or "他们怎么处理？" means nothing to a search index: the subject is in
an earlier turn. Without an LLM the rewrite is a heuristic: a question that is short, opens
with a connective ("and", "what about", "那么") or leans on a pronoun ("it", "they", "他们",
"其") gets the content words of the previous user question(s) put in front of it. With an LLM
configured, the model condenses the history and the follow-up into one question, and the
heuristic is its fallback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from assistant.relevance import analyze
from assistant.text import detect_language

log = logging.getLogger(__name__)

_EN_OPENER = re.compile(
    r"^\s*(?:and|but|so|also|then|plus|or|what\s+about|how\s+about|and\s+what\s+about|what\s+of|same\s+for|"
    r"why\s+so|how\s+so|in\s+that\s+case)\b",
    re.I,
)
_EN_PRONOUN = re.compile(
    r"\b(?:it|its|they|them|their|theirs|this|that|these|those|he|she|him|her|his|there|such)\b", re.I
)
_ZH_OPENER = re.compile(r"^\s*(?:那么|那|还有|另外|此外|以及|并且|而且|而|那它|那他们|再|又|其)")
_ZH_PRONOUN = re.compile(r"他们|她们|它们|他|她|它|其|这些|那些|这个|那个|这|此|该|上述|前者|后者")
SHORT_TERMS = 2  # a question naming at most this many content words is treated as a follow-up
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
    terms = len(analyze(question).terms)
    if detect_language(question) == "zh":
        opener, pronoun = _ZH_OPENER.search(question), _ZH_PRONOUN.search(question)
    else:
        opener, pronoun = _EN_OPENER.search(question), _EN_PRONOUN.search(question)
    return bool(opener) or terms <= SHORT_TERMS or (bool(pronoun) and terms <= PRONOUN_TERMS)


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
    pattern = _ZH_OPENER if detect_language(question) == "zh" else _EN_OPENER
    stripped = pattern.sub("", question, count=1).lstrip(" ,，、")
    return stripped or question
