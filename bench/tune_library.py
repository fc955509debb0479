"""Choose the answerer's cross-language lift on the library's dev split (never the test split).

    python bench/tune_library.py 0 0.1 0.2 0.3      # after `python bench/library.py --split dev` built the store

For each value of ``answering.CROSS_LANGUAGE_LIFT`` the dev questions of
tests/data/library_questions.json are asked through ``Assistant.ask`` (the held-out laws are not in
the store), and the figures of bench/library.py are printed, plus how many answerable questions got
a grounded but wrong answer (the price of a larger lift). Results: bench/out/results/tune-library.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import STORES, machine_facts, save_result
from library import QUESTIONS, resolved, run_split

from assistant import answering
from assistant.service import Assistant
from assistant.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lifts", nargs="+", type=float, help="values of CROSS_LANGUAGE_LIFT to try")
    args = parser.parse_args()
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    dev = [item for item in resolved(data) if item["split"] == "dev"]
    held_out = {Path(p).name for p in data["held_out"]}
    assistant = Assistant(Settings(data_dir=STORES / "library", collection="library", auto_index_corpus=False))
    if any(Path(d.source).name in held_out for d in assistant.documents()):
        raise SystemExit("the library store holds the held-out laws; run `python bench/library.py --split dev` first")
    assistant.warm_up()
    rows = []
    for lift in args.lifts:
        answering.CROSS_LANGUAGE_LIFT = lift
        result = run_split(assistant, dev)
        wrong = sum(r["answerable"] and r["grounded"] and not r["right"] for r in result["rows"])
        row = {"lift": lift, **{k: result[k] for k in ("right", "en_zh_right", "refused", "wrong_source")},
               "answered_wrong": wrong, "p50_ms": result["ask_latency"]["p50_ms"]}
        rows.append(row)
        print(row, flush=True)
    save_result("tune-library", {"machine": machine_facts(), "split": "dev", "rows": rows})


if __name__ == "__main__":
    main()
