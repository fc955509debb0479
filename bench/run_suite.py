"""Run the whole benchmark suite one step at a time, each when the machine is quiet.

    python bench/run_suite.py [--only NAME ...] [--max-load 1.5] [--wait 1200]

Before each step it waits (up to --wait seconds) for the 1-minute load average to fall under
--max-load, then runs the step as its own process and records the load before and after in
bench/out/results/suite-log.jsonl. The stores must exist (bench/build_store.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import RESULTS, ROOT, wait_for_quiet

PY = sys.executable
STEPS: dict[str, list[str]] = {
    "encoder-idle": [PY, "bench/encoder_threads.py"],
    "encoder-busy": [PY, "bench/encoder_threads.py", "--busy", "2"],
    "ingest-embedded": [PY, "bench/ingest_throughput.py"],
    "ingest-server": [PY, "bench/ingest_throughput.py", "--server", "auto"],
    "latency-embedded-1000": [PY, "bench/latency.py", "--size", "1000", "--mode", "embedded"],
    "latency-embedded-10000": [PY, "bench/latency.py", "--size", "10000", "--mode", "embedded", "--after-write"],
    "latency-embedded-100000": [PY, "bench/latency.py", "--size", "100000", "--mode", "embedded", "--after-write"],
    "breakdown-embedded-100000": [PY, "bench/retrieve_breakdown.py", "--size", "100000", "--mode", "embedded"],
    "breakdown-server-100000": [PY, "bench/retrieve_breakdown.py", "--size", "100000", "--mode", "server"],
    "latency-server-1000": [PY, "bench/latency.py", "--size", "1000", "--mode", "server"],
    "latency-server-10000": [PY, "bench/latency.py", "--size", "10000", "--mode", "server", "--after-write"],
    "latency-server-100000": [PY, "bench/latency.py", "--size", "100000", "--mode", "server", "--after-write"],
    "cold-embedded-10000": [PY, "bench/cold_start.py", "--size", "10000", "--mode", "embedded"],
    "cold-embedded-100000": [PY, "bench/cold_start.py", "--size", "100000", "--mode", "embedded"],
    "chat-embedded-10000-think0": [PY, "bench/concurrent_chat.py", "--size", "10000", "--mode", "embedded"],
    "chat-embedded-10000-think3": [PY, "bench/concurrent_chat.py", "--size", "10000", "--mode", "embedded",
                                   "--think", "3"],
    "chat-server-10000-think0": [PY, "bench/concurrent_chat.py", "--size", "10000", "--mode", "server"],
}
# The same measurements with libgomp's default spinning instead of the passive wait the app sets.
SPIN = {"GOMP_SPINCOUNT": "300000"}
VARIANTS: dict[str, tuple[list[str], dict[str, str]]] = {
    "latency-embedded-100000-spin": ([*STEPS["latency-embedded-100000"][:-1], "--tag", "spin"], SPIN),
    "latency-embedded-10000-spin": ([*STEPS["latency-embedded-10000"][:-1], "--tag", "spin"], SPIN),
    "chat-embedded-10000-think0-spin": (STEPS["chat-embedded-10000-think0"] + ["--tag", "spin"], SPIN),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", nargs="*", choices=sorted([*STEPS, *VARIANTS]),
                        help="steps to run (default: all of STEPS, in order)")
    parser.add_argument("--max-load", type=float, default=1.5)
    parser.add_argument("--wait", type=float, default=1200, help="longest wait for a quiet machine per step (s)")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    log = RESULTS / "suite-log.jsonl"
    for name in args.only or list(STEPS):
        load_before = wait_for_quiet(args.max_load, args.wait)
        started = time.time()
        print(f"== {name} (load {load_before})", flush=True)
        command, extra = VARIANTS[name] if name in VARIANTS else (STEPS[name], {})
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env={**os.environ, **extra})
        shown = " ".join([*(f"{k}={v}" for k, v in extra.items()), "python", *command[1:]])
        entry = {"step": name, "command": shown, "returncode": done.returncode,
                 "load_before": load_before, "load_after": round(os.getloadavg()[0], 2),
                 "seconds": round(time.time() - started, 1), "at": time.strftime("%H:%M:%S", time.localtime(started)),
                 "stdout_tail": done.stdout[-1500:], "stderr_tail": done.stderr[-1500:] if done.returncode else ""}
        with log.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        print(f"   rc={done.returncode} {entry['seconds']}s load {load_before} -> {entry['load_after']}", flush=True)


if __name__ == "__main__":
    main()
