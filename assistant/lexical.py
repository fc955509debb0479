"""Keyword search: a BM25 index (bm25s) beside Chroma, tokenized per language, kept in step with the store.

Dense vectors miss exact terms (rule numbers, names, rare words) and BM25 misses paraphrase, so
hybrid retrieval fuses both. This module is the BM25 side:

* ``Tokenizer`` turns English and Chinese (and mixed) text into index terms: Latin runs are
  lower-cased, stripped of English stop words and Snowball-stemmed (PyStemmer); CJK runs are
  segmented by jieba in search mode (words plus their sub-words, so 长江保护法 also matches 保护法).
* ``LexicalIndex`` holds the BM25 model for one Chroma collection. Chroma stays the source of
  truth: the index records the store's ``revision()`` stamp and is rebuilt from the stored chunks
  whenever the stamp differs (a write by this or any other process), checked once per query.
  It is persisted under ``data_dir/lexical/<collection>/`` so a restart does not re-tokenize
  an unchanged store.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bm25s
import numpy as np

from assistant.documents import Passage

if TYPE_CHECKING:
    from assistant.store import Store

log = logging.getLogger(__name__)

TOKENIZER_VERSION = 2  # bump when tokenization or the indexed text changes: persisted indexes are rebuilt

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

_CJK_RUN = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]+"
_WORD_RUN = r"[0-9a-z\u00c0-\u024f]+"
_RUNS = re.compile(f"({_CJK_RUN})|({_WORD_RUN})")

_jieba_lock = threading.Lock()
_jieba_tokenizer: Any = None
_stemmers = threading.local()


def _jieba() -> Any:
    """jieba's segmenter, built once per process with its log chatter silenced."""
    global _jieba_tokenizer
    if _jieba_tokenizer is None:
        with _jieba_lock:
            if _jieba_tokenizer is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)  # it prints "Building prefix dict..." on stderr otherwise
                segmenter = jieba.Tokenizer()
                segmenter.initialize()
                _jieba_tokenizer = segmenter
    return _jieba_tokenizer


def _stemmer() -> Any:
    """One Snowball stemmer per thread: PyStemmer objects must not be shared across threads."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        import Stemmer

        stemmer = _stemmers.english = Stemmer.Stemmer("english")
    return stemmer


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
            terms.extend(t for t in _jieba().lcut_for_search(cjk) if t not in self.chinese_stop_words)
        terms.extend(self._latin(words))
        return terms

    def _latin(self, words: list[str]) -> list[str]:
        if not words or not self.stem:
            return words
        return list(_stemmer().stemWords(words))

    @property
    def signature(self) -> str:
        """Identity of the tokenization, recorded with a persisted index."""
        digest = hashlib.sha1(
            " ".join([*sorted(self.english_stop_words), "|", *sorted(self.chinese_stop_words)]).encode()
        ).hexdigest()[:10]
        return f"v{TOKENIZER_VERSION}-stem{int(self.stem)}-{digest}"


def index_text(passage: Passage) -> str:
    """What BM25 sees of a chunk: its text alone.

    Adding the heading path (document title, chapter, article or rule number) was measured and
    lowered nDCG@10 on both dev splits (ObliQA 0.688 → 0.676, LeCoQA 0.501 → 0.491, see
    docs/retrieval.md): a title repeated on hundreds of chunks adds length, not discrimination.
    The title still counts through the dense side, whose embedded text carries it.
    """
    return passage.text


@dataclass(frozen=True)
class BM25Params:
    """BM25 parameters (Lucene variant); tuned on the dev splits, see docs/retrieval.md."""

    k1: float = 0.9
    b: float = 0.75
    method: str = "lucene"

    def to_dict(self) -> dict[str, Any]:
        return {"k1": self.k1, "b": self.b, "method": self.method}


@dataclass
class _Snapshot:
    """An immutable view of the index for one store revision; queries read it without locking."""

    revision: str
    ids: list[str]
    doc_ids: list[str]
    model: bm25s.BM25 | None
    position: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = {chunk: i for i, chunk in enumerate(self.ids)}


@dataclass(frozen=True)
class LexicalHit:
    """One BM25 result: a chunk id, its document and its score."""

    chunk_id: str
    doc_id: str
    score: float


class LexicalIndex:
    """BM25 over one store's chunks, rebuilt from Chroma when the store's revision stamp changes.

    Thread-safe: a rebuild happens under a lock while concurrent queries wait for it; the
    finished snapshot is swapped in whole, so a query never sees half an index.
    """

    def __init__(self, store: Store, directory: Path | None, *, tokenizer: Tokenizer | None = None,
                 params: BM25Params | None = None) -> None:
        self.store = store
        self.directory = directory
        self.tokenizer = tokenizer or Tokenizer()
        self.params = params or BM25Params()
        self._snapshot: _Snapshot | None = None
        self._lock = threading.Lock()
        self._token_cache: dict[str, list[str]] = {}
        self.rebuilds = 0  # how many times the index was built from the store (for tests and logs)

    # --- keeping in step with the store ---------------------------------------------
    def current(self) -> _Snapshot:
        """The snapshot for the store's current revision, loading or rebuilding it if needed.

        Reads the revision stamp once (one cheap metadata read); nothing else happens when the
        stamp is unchanged.
        """
        revision = self.store.revision()
        snapshot = self._snapshot
        if snapshot is not None and snapshot.revision == revision:
            return snapshot
        with self._lock:
            snapshot = self._snapshot
            if snapshot is not None and snapshot.revision == revision:
                return snapshot  # another thread rebuilt it while we waited
            snapshot = self._load(revision) or self._build(revision)
            self._snapshot = snapshot
            return snapshot

    def refresh(self) -> str:
        """Bring the index in step with the store now (e.g. right after an add); returns the revision."""
        return self.current().revision

    def _build(self, revision: str) -> _Snapshot:
        """Tokenize every stored chunk (reusing tokens of unchanged texts) and index them with bm25s.

        The revision is read before the chunks, so a write that lands in between makes the next
        query see a newer stamp and rebuild again: the index can lag a write, never hide it.
        """
        passages = self.store.get_chunks()
        passages.sort(key=lambda p: p.chunk_id)
        ids = [p.chunk_id for p in passages]
        doc_ids = [p.doc_id for p in passages]
        tokens = self._tokenize_all([index_text(p) for p in passages])
        model = self._fit(tokens)
        self.rebuilds += 1
        snapshot = _Snapshot(revision, ids, doc_ids, model)
        self._save(snapshot)
        return snapshot

    def _tokenize_all(self, texts: Sequence[str]) -> list[list[str]]:
        cache: dict[str, list[str]] = {}
        out: list[list[str]] = []
        for text in texts:
            key = hashlib.sha1(text.encode("utf-8")).hexdigest()
            terms = cache.get(key) or self._token_cache.get(key)
            if terms is None:
                terms = self.tokenizer.tokenize(text)
            cache[key] = terms
            out.append(terms)
        self._token_cache = cache  # keep only what the current store holds
        return out

    def _fit(self, tokens: list[list[str]]) -> bm25s.BM25 | None:
        if not tokens:
            return None
        model = bm25s.BM25(k1=self.params.k1, b=self.params.b, method=self.params.method)
        model.index(tokens, show_progress=False)
        return model

    # --- persistence ----------------------------------------------------------------
    def _manifest(self, snapshot: _Snapshot, folder: str) -> dict[str, Any]:
        return {"revision": snapshot.revision, "folder": folder, "tokenizer": self.tokenizer.signature,
                "params": self.params.to_dict(), "count": len(snapshot.ids)}

    def _save(self, snapshot: _Snapshot) -> None:
        """Write a new version folder, then switch ``current.json`` to it atomically.

        Several processes may share a data folder, so a version is never modified in place and
        a reader sees either the old manifest or the new one.
        """
        if self.directory is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            folder = f"v-{uuid.uuid4().hex[:12]}"
            staging = self.directory / f".tmp-{folder}"
            staging.mkdir()
            if snapshot.model is not None:
                snapshot.model.save(str(staging), show_progress=False)
            (staging / "ids.json").write_text(json.dumps({"ids": snapshot.ids, "doc_ids": snapshot.doc_ids}),
                                              encoding="utf-8")
            os.replace(staging, self.directory / folder)
            manifest = self.directory / f".tmp-{folder}.json"
            manifest.write_text(json.dumps(self._manifest(snapshot, folder)), encoding="utf-8")
            os.replace(manifest, self.directory / "current.json")
            self._prune(keep=folder)
        except OSError as exc:  # a read-only or full disk costs a rebuild next start, nothing more
            log.warning("could not save the keyword index in %s: %s", self.directory, exc)

    def _prune(self, keep: str) -> None:
        for old in self.directory.glob("v-*") if self.directory else []:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)

    def _load(self, revision: str) -> _Snapshot | None:
        """The persisted index, if it was built for this very revision with the same tokenization."""
        if self.directory is None:
            return None
        try:
            manifest = json.loads((self.directory / "current.json").read_text(encoding="utf-8"))
            if (manifest.get("revision") != revision or manifest.get("tokenizer") != self.tokenizer.signature
                    or manifest.get("params") != self.params.to_dict()):
                return None
            folder = self.directory / manifest["folder"]
            stored = json.loads((folder / "ids.json").read_text(encoding="utf-8"))
            model = bm25s.BM25.load(str(folder), show_progress=False) if stored["ids"] else None
        except (OSError, ValueError, KeyError) as exc:  # missing, half-pruned by another process, or corrupt
            log.debug("no usable keyword index in %s (%s); rebuilding", self.directory, exc)
            return None
        return _Snapshot(revision, list(stored["ids"]), list(stored["doc_ids"]), model)

    # --- searching ------------------------------------------------------------------
    def search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[LexicalHit]:
        """The ``k`` best chunks by BM25 (score > 0 only), within the Chroma ``where`` filter."""
        snapshot = self.current()
        if snapshot.model is None or k <= 0:
            return []
        term_ids = snapshot.model.get_tokens_ids(self.tokenizer.tokenize(query))
        if not term_ids:
            return []
        scores = np.asarray(snapshot.model.get_scores_from_ids(term_ids), dtype=np.float32)
        if where:
            scores = scores * self._mask(snapshot, where)
        return _top(snapshot, scores, k)

    def _mask(self, snapshot: _Snapshot, where: dict[str, Any]) -> np.ndarray:
        """1 for chunks the filter admits, 0 elsewhere. Chroma evaluates the filter, so every
        operator it supports means exactly what it means on the dense side."""
        allowed = self.store.collection.get(where=where, include=[])["ids"]
        mask = np.zeros(len(snapshot.ids), dtype=np.float32)
        rows = [snapshot.position[i] for i in allowed if i in snapshot.position]
        mask[rows] = 1.0
        return mask

    @property
    def size(self) -> int:
        """Chunks in the index as last built (without checking the store)."""
        return len(self._snapshot.ids) if self._snapshot else 0


def _top(snapshot: _Snapshot, scores: np.ndarray, k: int) -> list[LexicalHit]:
    positive = int(np.count_nonzero(scores > 0))
    k = min(k, positive)
    if k == 0:
        return []
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.lexsort((best, -scores[best]))]  # by score, ties by index order (deterministic)
    return [LexicalHit(snapshot.ids[i], snapshot.doc_ids[i], float(scores[i])) for i in best]


def tokenize(text: str) -> list[str]:
    """The default tokenization (module-level shortcut)."""
    return _DEFAULT_TOKENIZER.tokenize(text)


_DEFAULT_TOKENIZER = Tokenizer()
