"""Answer quality and latency of the extractive answerer (no LLM), and the refusal calibration.

    python bench/answers.py                      # labelled set on the shipped corpus (fresh temporary store)
    python bench/answers.py --calibrate          # also the relevance margins used to pick the threshold (dev half)
    python bench/answers.py --store-size 10000   # also ask() latency on the 10k-chunk benchmark store
                                                 # (built by bench/build_store.py; read, never written)

Figures on tests/data/shipped_corpus_questions.json:
  fact share        answerable questions whose answer is grounded, contains the expected fact and cites
                    the labelled paragraph (or article) with a quote holding the fact
  citation precision  citations whose quote is verbatim in the cited passage AND equals the document text
                    at [start:end] (target 100%)
  refusal precision / recall  "refused" = grounded False; positives are the unanswerable questions
  latency           ask() wall time per question, p50/p95, after Answerer.warm_up() (jieba and the
                    CC-CEDICT lexicon, ~2 s once per process) and one warm-up question; split into the
                    retrieval part (the retrieve() call inside ask) and the answering part (the rest)
The set is also scored in halves: dev (even-numbered items of each class), on which the refusal
threshold is calibrated, and test (odd-numbered), whose figures are the ones to report.
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
    candidates,
    score,
)
from assistant.evaluation import labelled_answer_correct
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


class TimedRetrieve:
    """The assistant's retrieve(), timing each call, so ask() time splits into retrieval + answering."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.last = 0.0

    def __call__(self, query: str, k: int, documents: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return self.assistant.retrieve(query, k=k, documents=documents)
        finally:
            self.last = time.perf_counter() - started


def timed_asks(answerer: Answerer, retrieve: TimedRetrieve, questions: list[str]) -> tuple[dict[str, Any], list]:
    """ask() each question once: total, retrieval and answering (total minus retrieval) latencies."""
    total, retrieval, answers = [], [], []
    for question in questions:
        started = time.perf_counter()
        answers.append(answerer.ask(question))
        total.append(time.perf_counter() - started)
        retrieval.append(retrieve.last)
    answering = [t - r for t, r in zip(total, retrieval, strict=True)]
    return {"ask": summary_ms(total), "retrieval_part": summary_ms(retrieval),
            "answering_part": summary_ms(answering)}, list(zip(answers, total, strict=True))


def evaluate(assistant: Assistant, labelled: dict[str, Any]) -> dict[str, Any]:
    """Run every labelled question once through a fresh Answerer; quality figures and latencies."""
    retrieve = TimedRetrieve(assistant)
    answerer = Answerer(assistant.settings, assistant.embedder, retrieve)
    answerer.warm_up()  # jieba and CC-CEDICT, as the app does at start-up
    answerer.ask(WARM_UP)
    texts = {d.doc_id: assistant.store.text_of(d.doc_id) for d in assistant.store.documents()}
    items = [(kind, item) for kind in ("answerable", "unanswerable") for item in labelled[kind]]
    latency, results = timed_asks(answerer, retrieve, [item["question"] for _, item in items])
    rows: list[dict[str, Any]] = []
    citations = exact = 0
    for (kind, item), (answer, seconds) in zip(items, results, strict=True):
        for c in answer.citations:
            citations += 1
            exact += c.quote in c.passage.text and texts[c.passage.doc_id][c.start:c.end] == c.quote
        row = {"id": item["id"], "kind": kind, "grounded": answer.grounded, "answer": answer.text,
               "ms": round(seconds * 1000, 1)}
        if kind == "answerable":
            row["correct"] = labelled_answer_correct(item, answer)
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
        "latency": latency,
        "rows": rows,
    }


def split(labelled: dict[str, Any], part: str) -> dict[str, Any]:
    """The dev (even-numbered items of each class) or test (odd-numbered) half of the labelled set.

    The threshold is calibrated on dev only; the test half's figures are the ones to report.
    """
    start = 0 if part == "dev" else 1
    return {kind: labelled[kind][start::2] for kind in ("answerable", "unanswerable")}


def calibrate(assistant: Assistant, labelled: dict[str, Any]) -> dict[str, Any]:
    """Best relevance per question (threshold ignored), the margin between the classes, and the midpoint."""
    best: dict[str, list[tuple[float, str]]] = {"answerable": [], "unanswerable": []}
    for kind in best:
        for item in labelled[kind]:
            passages = assistant.retrieve(item["question"], k=8)
            weighted, found = candidates(analyze(item["question"]), passages)
            ranked = score(weighted, found, assistant.embedder, item["question"], threshold=-math.inf, embed_all=True)
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
    """ask() latency on the benchmark store of ``size`` chunks, split into retrieval and answering.

    ObliQA test questions, each asked once (the embedder caches query vectors). Two runs on disjoint
    questions: the calibrated threshold (most ObliQA questions are refused, usually without embedding
    a sentence), and the threshold disabled (every question is answered: the cost of an answer).
    """
    settings = store_settings("embedded", size)
    if not Path(settings.data_dir).is_dir():
        return {"skipped": f"no store at {settings.data_dir}; run python bench/build_store.py --size {size}"}
    assistant = Assistant(settings)
    retrieve = TimedRetrieve(assistant)
    answerer = Answerer(settings, assistant.embedder, retrieve)
    always = Answerer(settings.model_copy(update={"refusal_threshold": -1e9}), assistant.embedder, retrieve)
    asked = obliqa_questions("test", limit=questions + 1)
    answerer.warm_up()
    answerer.ask(asked[0])  # warm-up: store, keyword index, model
    half = len(asked[1:]) // 2
    default, results = timed_asks(answerer, retrieve, asked[1:1 + half])
    answering, _ = timed_asks(always, retrieve, asked[1 + half:])
    grounded = sum(a.grounded for a, _ in results)
    return {"chunks": assistant.store.count_chunks(), "grounded_with_default_threshold": f"{grounded}/{half}",
            "default_threshold": default, "threshold_disabled": answering}


def encode_yardstick(assistant: Assistant) -> float:
    """Median ms to embed one 40-character sentence now: the load-dependent unit every figure scales with."""
    samples = []
    for i in range(7):
        started = time.perf_counter()
        assistant.embedder.encode([f"The model city will be built by 20{30 + i}."])
        samples.append((time.perf_counter() - started) * 1000)
    return round(sorted(samples)[len(samples) // 2], 1)


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
        result["encode_one_short_sentence_ms"] = encode_yardstick(assistant)
        result["labelled_set"] = evaluate(assistant, labelled)
        for part in ("dev", "test"):
            figures = evaluate(assistant, split(labelled, part))
            result[f"labelled_{part}"] = {k: v for k, v in figures.items() if k not in ("rows", "latency")}
        if args.calibrate:
            result["calibration_dev"] = calibrate(assistant, split(labelled, "dev"))
            result["calibration_all"] = calibrate(assistant, labelled)
    if args.store_size:
        result["large_store"] = large_store_latency(args.store_size, args.questions)
    save_result("answers", result)


if __name__ == "__main__":
    main()
