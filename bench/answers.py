"""Answer quality and latency of the extractive answerer (no LLM), and the refusal calibration.

    python bench/answers.py                      # labelled set on the shipped corpus (fresh temporary store)
    python bench/answers.py --calibrate          # also print the relevance margins used to pick the threshold
    python bench/answers.py --store-size 10000   # also ask() latency on the 10k-chunk benchmark store
                                                 # (built by bench/build_store.py; read, never written)

Figures on tests/data/shipped_corpus_questions.json:
  fact share        answerable questions whose answer is grounded, contains the expected fact and cites
                    the labelled paragraph with a quote holding the fact
  citation precision  citations whose quote is verbatim in the cited passage AND equals the document text
                    at [start:end] (target 100%)
  refusal precision / recall  "refused" = grounded False; positives are the unanswerable questions
  latency           ask() wall time per question, p50/p95, after one warm-up question (which loads
                    jieba and the CC-CEDICT lexicon, ~1-2 s once per process)
Results go to bench/out/results/answers.json (and are printed).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine_facts, obliqa_questions, save_result, store_settings, summary_ms

from assistant.answering import (
    DEFAULT_REFUSAL_THRESHOLD,
    Answerer,
    VectorCache,
    candidates,
    score,
)
from assistant.relevance import analyze
from assistant.service import Assistant
from assistant.settings import Settings

QUESTIONS = ROOT / "tests" / "data" / "shipped_corpus_questions.json"
WARM_UP = "What does the commentary say about learning?"


def shipped_assistant(data_dir: Path) -> Assistant:
    settings = Settings(data_dir=data_dir, collection="benchanswers", auto_index_corpus=False)
    assistant = Assistant(settings)
    assistant.add(ROOT / "corpus")
    return assistant


def evaluate(assistant: Assistant, labelled: dict[str, Any]) -> dict[str, Any]:
    """Run every labelled question once through a fresh Answerer; quality figures and latencies."""
    answerer = Answerer(assistant.settings, assistant.embedder, assistant.retrieve)
    answerer.ask(WARM_UP)
    texts = {d.doc_id: assistant.store.text_of(d.doc_id) for d in assistant.store.documents()}
    seconds: list[float] = []
    rows: list[dict[str, Any]] = []
    citations = exact = 0
    for kind in ("answerable", "unanswerable"):
        for item in labelled[kind]:
            started = time.perf_counter()
            answer = answerer.ask(item["question"])
            seconds.append(time.perf_counter() - started)
            for c in answer.citations:
                citations += 1
                exact += c.quote in c.passage.text and texts[c.passage.doc_id][c.start:c.end] == c.quote
            row = {"id": item["id"], "kind": kind, "grounded": answer.grounded, "answer": answer.text}
            if kind == "answerable":
                row["correct"] = answer.grounded and item["fact"] in answer.text and any(
                    c.passage.paragraph == item["paragraph"] and item["fact"] in c.quote for c in answer.citations)
            rows.append(row)
    answerable = [r for r in rows if r["kind"] == "answerable"]
    refused = [r for r in rows if not r["grounded"]]
    true_refusals = [r for r in refused if r["kind"] == "unanswerable"]
    unanswerable = [r for r in rows if r["kind"] == "unanswerable"]
    return {
        "answerable": len(answerable), "unanswerable": len(unanswerable),
        "fact_share": round(sum(r["correct"] for r in answerable) / len(answerable), 3),
        "missed": [r["id"] for r in answerable if not r["correct"]],
        "citations": citations,
        "citation_precision": round(exact / citations, 3) if citations else math.nan,
        "refusal_precision": round(len(true_refusals) / len(refused), 3) if refused else math.nan,
        "refusal_recall": round(len(true_refusals) / len(unanswerable), 3),
        "wrongly_answered": [r["id"] for r in unanswerable if r["grounded"]],
        "wrongly_refused": [r["id"] for r in answerable if not r["grounded"]],
        "latency": summary_ms(seconds),
        "rows": rows,
    }


def calibrate(assistant: Assistant, labelled: dict[str, Any]) -> dict[str, Any]:
    """Best relevance per question (threshold ignored), the margin between the classes, and the midpoint."""
    vectors = VectorCache(assistant.embedder)
    best: dict[str, list[tuple[float, str]]] = {"answerable": [], "unanswerable": []}
    for kind in best:
        for item in labelled[kind]:
            passages = assistant.retrieve(item["question"], k=8)
            weighted, found = candidates(analyze(item["question"]), passages)
            ranked = score(weighted, found, vectors, item["question"], threshold=-math.inf)
            best[kind].append((ranked[0].relevance if ranked else -math.inf, item["id"]))
    lowest = min(best["answerable"])
    highest = max(best["unanswerable"])
    return {
        "lowest_answerable": [round(lowest[0], 3), lowest[1]],
        "highest_unanswerable": [round(highest[0], 3), highest[1]],
        "margin": round(lowest[0] - highest[0], 3),
        "midpoint": round((lowest[0] + highest[0]) / 2, 3),
        "default_threshold": DEFAULT_REFUSAL_THRESHOLD,
        "answerable_sorted": sorted((round(v, 3), i) for v, i in best["answerable"])[:6],
        "unanswerable_sorted": sorted(((round(v, 3), i) for v, i in best["unanswerable"]), reverse=True)[:6],
    }


def large_store_latency(size: int, questions: int) -> dict[str, Any]:
    """ask() and retrieve() latency on the benchmark store of ``size`` chunks (ObliQA test questions)."""
    settings = store_settings("embedded", size)
    if not Path(settings.data_dir).is_dir():
        return {"skipped": f"no store at {settings.data_dir}; run python bench/build_store.py --size {size}"}
    assistant = Assistant(settings)
    chunks = assistant.store.count_chunks()
    answerer = Answerer(settings, assistant.embedder, assistant.retrieve)
    asked = obliqa_questions("test", limit=questions)
    answerer.ask(asked[0])
    assistant.retrieve(asked[0], k=answerer.k)
    ask_s: list[float] = []
    retrieve_s: list[float] = []
    grounded = 0
    for question in asked[1:]:
        started = time.perf_counter()
        assistant.retrieve(question, k=answerer.k)
        retrieve_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        grounded += answerer.ask(question).grounded
        ask_s.append(time.perf_counter() - started)
    return {"chunks": chunks, "questions": len(ask_s), "grounded": grounded,
            "ask": summary_ms(ask_s), "retrieve_only": summary_ms(retrieve_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calibrate", action="store_true", help="print the relevance margins per class")
    parser.add_argument("--store-size", type=int, default=0, help="also time ask() on this benchmark store")
    parser.add_argument("--questions", type=int, default=60, help="ObliQA questions for --store-size")
    args = parser.parse_args()
    labelled = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    result: dict[str, Any] = {"machine": machine_facts()}
    with tempfile.TemporaryDirectory(prefix="bench-answers-") as tmp:
        assistant = shipped_assistant(Path(tmp))
        result["labelled_set"] = evaluate(assistant, labelled)
        if args.calibrate:
            result["calibration"] = calibrate(assistant, labelled)
    if args.store_size:
        result["large_store"] = large_store_latency(args.store_size, args.questions)
    save_result("answers", result)


if __name__ == "__main__":
    main()
