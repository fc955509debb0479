"""Local servers for the tooling: a free loopback port, waiting for HTTP, stopping a process, `chroma run`.

The one implementation the test suite and the benchmarks share: both start real `chroma run`
servers and real `python ui.py` processes on loopback.

Why here, in tests/:
- not in the `assistant` package, because it is tooling the product never runs (and the wheel
  ships `assistant*` only);
- not in bench/, because the tests must not depend on the benchmarks: bench already builds on
  the tests (it reads tests/data), never the reverse, and a clone must be able to test itself;
- a module of its own rather than conftest.py, so that a benchmark gets these helpers without
  loading pytest, numpy or an embedding model: it imports the standard library only.

How it is found on a clean clone (no install step, and no __init__.py in tests/ or bench/):
- by the tests as ``servers``: pytest puts tests/ itself on sys.path to import conftest.py, under
  `python -m pytest` and plain `pytest` alike (modules that import ``tests.conftest`` use
  ``tests.servers``: `python -m pytest` from the checkout also has the checkout on sys.path);
- by the benchmarks as ``tests.servers`` through bench/common.py, which puts the checkout on
  sys.path and re-exports these names (scripts run as `python bench/NAME.py` from the checkout).
It keeps no state, so being imported under two names is harmless.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on loopback."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 60.0) -> None:
    """Return once ``url`` answers an HTTP GET (any status); TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing answered at {url} within {timeout:.0f}s")


def stop_process(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Terminate a process the tooling started, killing it if it has not stopped within ``timeout`` s."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def chroma_server(path: Path, port: int | None = None, timeout: float = 120.0) -> Iterator[tuple[str, int, int]]:
    """A `chroma run` server on loopback over ``path``: yields (host, port, pid), stops it afterwards.

    The database is ``path/db`` and the server's output is appended to ``path/server.log``;
    ``port`` is a free one unless given. Raises TimeoutError if no heartbeat within ``timeout`` s.
    """
    exe = shutil.which("chroma")
    if not exe:
        raise FileNotFoundError("the `chroma` command (from the chromadb package) is not on PATH")
    path.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    with (path / "server.log").open("a") as log:
        proc = subprocess.Popen([exe, "run", "--path", str(path / "db"), "--host", HOST, "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
        try:
            wait_for_http(f"http://{HOST}:{port}/api/v2/heartbeat", timeout=timeout)
            yield HOST, port, proc.pid
        finally:
            stop_process(proc, timeout=30)
