"""Concurrent chat: N simulated users asking through gradio_client against the running web app.

    python bench/concurrent_chat.py --size 10000 --mode embedded [--users 20] [--seconds 60] [--think 0]

Starts `python ui.py` on a free loopback port over a benchmark store (bench/build_store.py), waits
until it answers, then runs N user threads for --seconds. Each user has its own gradio_client
Client and its own ObliQA test questions (no question is asked twice, so no cache flatters the
figures) and loops: ask through the named /ask endpoint (extractive answers), wait a think time
drawn uniformly from [0, 2*think] seconds, repeat. Users stop by themselves at the deadline; a
request still running then is waited for (at most 120 s) and counted. Reports throughput, latency
percentiles, errors and the web process's peak RSS. Loopback only.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    cpu_seconds,
    free_port,
    machine_facts,
    mode_server,
    obliqa_questions,
    peak_rss_mb,
    save_result,
    stop_process,
    store_env,
    store_settings,
    summary_ms,
)


class User(threading.Thread):
    """One chat user: ask, read (think), ask again, until the deadline."""

    def __init__(self, url: str, questions: list[str], deadline: float, think: float, seed: int) -> None:
        super().__init__(daemon=True)
        from gradio_client import Client

        self.client = Client(url, verbose=False, analytics_enabled=False, download_files=False,
                             httpx_kwargs={"timeout": 120})
        self.questions = questions
        self.deadline = deadline
        self.think = think
        self.random = random.Random(seed)
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.grounded = 0

    def run(self) -> None:
        for question in self.questions:
            if time.perf_counter() >= self.deadline:
                return
            start = time.perf_counter()
            try:
                answer = self.client.predict(question=question, api_name="/ask")
                self.latencies.append(time.perf_counter() - start)
                self.grounded += bool(answer.get("grounded"))
                if not answer.get("answer"):
                    self.errors.append("empty answer")
            except Exception as exc:  # every failure counts as an error, whatever its type
                self.latencies.append(time.perf_counter() - start)
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
            if self.think:
                time.sleep(min(self.random.uniform(0, 2 * self.think), max(0.0, self.deadline - time.perf_counter())))


def start_web(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = subprocess.Popen([sys.executable, "ui.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"ui.py exited with {proc.returncode}")
        try:
            Client(url, verbose=False, analytics_enabled=False).predict(
                question="What is a Relevant Person?", api_name="/ask")
            return proc, url
        except Exception:  # not up yet
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the web app did not answer within 300 s")


def run(size: int, mode: str, server: tuple[str, int, int] | None, args: argparse.Namespace) -> dict:
    env = store_env(store_settings(mode, size, server))
    proc, url = start_web(env)
    try:
        per_user = max(50, int(args.seconds * 4))
        questions = obliqa_questions("test", limit=args.users * per_user, offset=0)
        deadline = time.perf_counter() + 10**6  # set for real once every client is connected
        users = [User(url, questions[i::args.users], deadline, args.think, seed=i) for i in range(args.users)]
        start = time.perf_counter()
        cpu_before = {"web": cpu_seconds(proc.pid), "clients": cpu_seconds()}
        for user in users:
            user.deadline = start + args.seconds
        for user in users:
            user.start()
        for user in users:
            user.join(timeout=args.seconds + 130)
        wall = time.perf_counter() - start
        latencies = [s for u in users for s in u.latencies]
        errors = [e for u in users for e in u.errors]
        web_peak = peak_rss_mb(proc.pid)
        cpu = {"web": cpu_seconds(proc.pid) - cpu_before["web"], "clients": cpu_seconds() - cpu_before["clients"]}
    finally:
        stop_process(proc)
    return {"size": size, "mode": mode, "users": args.users, "seconds": args.seconds, "think_s": args.think,
            "wall_s": round(wall, 1), "requests": len(latencies), "errors": len(errors),
            "error_examples": sorted(set(errors))[:5], "throughput_per_s": round(len(latencies) / wall, 2),
            "latency": summary_ms(latencies), "grounded": sum(u.grounded for u in users),
            "still_running": sum(u.is_alive() for u in users), "web_peak_rss_mb": web_peak,
            # CPU per request on the two cores: the web app's, and the simulated users' own (gradio_client)
            "cpu_ms_per_request": {k: round(v * 1000 / max(len(latencies), 1), 1) for k, v in cpu.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--mode", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=0.0, help="mean think time between a user's questions (s)")
    parser.add_argument("--tag", default="", help="suffix of the result file (e.g. 'spin' for an OpenMP variant)")
    args = parser.parse_args()
    facts = machine_facts()
    with mode_server(args.mode) as server:
        result = run(args.size, args.mode, server, args)
    result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    name = f"concurrent-{args.mode}-{args.size}-u{args.users}-think{args.think:g}"
    name += f"-{args.tag}" if args.tag else ""
    result["omp_env"] = {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_"))}
    save_result(name, {**result, "machine": facts})


if __name__ == "__main__":
    main()
