"""Answers across documents (issue 13): the right row for each document, and how long an answer takes.

    python bench/across.py                  # dev and test splits of bench/across_questions.json
    python bench/across.py --split dev      # the dev split alone, while tuning assistant/across.py

The library is the 32 texts of ../shared/data/policy-texts-zh (23 laws and regulations, 9 government
work reports), added through `Assistant.add` into a store under bench/out/stores/across (documents
from anywhere else are removed from it first). Every question is asked through
`Assistant.ask(question, across=True)` with default settings.

Per split:
  questions right  every scored row right and the rows exactly the documents of the question's scope, in date order
  rows right       rows whose figure is the labelled one (and stands in the quote), or that state no
                   figure where the document states none (bench/across_questions.json says how rows are labelled)
  wrong rows       the rows that are not, with what they held
Latency: p50 / p95 ms of an across answer, the store and models warm, every question asked `--repeat` times.
Results go to bench/out/results/across.json (and are printed).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, STORES, machine_facts, save_result, summary_ms

from assistant.documents import Answer
from assistant.service import Assistant
from assistant.settings import Settings

QUESTIONS = ROOT / "bench" / "across_questions.json"
TEXTS = ROOT.parent / "shared" / "data" / "policy-texts-zh"


def library() -> list[Path]:
    return [*sorted((TEXTS / "laws-regulations").glob("*.md")), *sorted((TEXTS / "gov-work-reports").glob("*.txt"))]


def scope_of(rule: str, names: list[str]) -> set[str]:
    """The file names a question's rows must cover, from the labels' own reading of the file names."""
    kind, _, span = rule.partition(":")
    if kind == "reports":
        first, last = (int(y) for y in span.split("-")) if span else (0, 9999)
        return {n for n in names if n.startswith("GWR_") and first <= int(n[4:8]) <= last}
    if kind == "laws":
        return {n for n in names if re.match(r"L\d\d_", n)}
    if kind == "regulations":
        return {n for n in names if re.match(r"L\d\d_.*(?:条例|规定)\(", n)}
    raise ValueError(f"unknown scope {rule!r}")


def norm(text: str) -> str:
    return text.replace("％", "%").replace(" ", "")


def judge(item: dict[str, Any], answer: Answer, sources: dict[str, str], aliases: dict[str, str]) -> dict[str, Any]:
    """Which rows of ``answer`` are right (see the module docstring)."""
    names = sorted(set(aliases.get(n, n) for n in sources.values()))
    wanted = scope_of(item["scope"], names)
    rows = [(aliases.get(sources[r.doc_id], sources[r.doc_id]), r) for r in answer.rows]
    dates = [r.date for _, r in rows]
    in_order = dates == sorted(dates)
    same_documents = {name for name, _ in rows} == wanted and len(rows) == len(wanted)
    scored, wrong = 0, []
    for name, row in rows:
        expected = item["expect"].get(name, None if item["others"] == "null" else "any")
        if expected == "any":
            continue
        scored += 1
        held = row.figure.text if row.figure else None
        if expected is None:
            right = held is None
        else:
            choices = {norm(e) for e in ([expected] if isinstance(expected, str) else expected)}
            right = held is not None and norm(held) in choices and held in row.quote
        if not right:
            wrong.append({"document": name, "expected": expected, "figure": held, "quote": row.quote[:160]})
    return {"id": item["id"], "right": same_documents and in_order and not wrong, "rows": len(rows),
            "rows_scored": scored, "rows_right": scored - len(wrong), "documents_right": same_documents,
            "in_order": in_order, "wrong": wrong}


def run_split(assistant: Assistant, items: list[dict[str, Any]], aliases: dict[str, str]) -> dict[str, Any]:
    sources = {d.doc_id: Path(d.source).name for d in assistant.documents()}
    judged = []
    for item in items:
        answer = assistant.ask(item["question"], across=True)
        judged.append(judge(item, answer, sources, aliases))
    scored = sum(j["rows_scored"] for j in judged)
    right_rows = sum(j["rows_right"] for j in judged)
    unnamed = [j for j, i in zip(judged, items, strict=True) if "unnamed-figure" in i["tags"]]
    return {
        "questions": len(judged),
        "questions_right": f"{sum(j['right'] for j in judged)}/{len(judged)}",
        "rows_right": f"{right_rows}/{scored}",
        "rows_right_share": round(right_rows / scored, 3) if scored else None,
        "unnamed_figure_questions_right": f"{sum(j['right'] for j in unnamed)}/{len(unnamed)}",
        "judged": judged,
    }


def latency(assistant: Assistant, items: list[dict[str, Any]], repeat: int) -> dict[str, float]:
    seconds = []
    for _ in range(repeat):
        for item in items:
            started = time.perf_counter()
            assistant.ask(item["question"], across=True)
            seconds.append(time.perf_counter() - started)
    return summary_ms(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3, help="times each question is asked for the latency")
    args = parser.parse_args()
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    texts = library()
    settings = Settings(data_dir=STORES / "across", collection="across", auto_index_corpus=False)
    assistant = Assistant(settings)
    names = {p.name for p in texts}
    for stored in assistant.documents():  # a store kept from another run may hold other texts
        if Path(stored.source).name not in names:
            assistant.remove(stored.doc_id)
    started = time.perf_counter()
    added = assistant.add(*texts)
    result: dict[str, Any] = {"machine": machine_facts(), "documents": len(assistant.documents()),
                              "chunks": assistant.store.count_chunks(),
                              "build_s": round(time.perf_counter() - started, 1),
                              "failed": [r.path for r in added if r.status == "failed"]}
    assistant.warm_up()
    splits = ("dev", "test") if args.split == "both" else (args.split,)
    asked: list[dict[str, Any]] = []
    for split in splits:
        items = [i for i in data["questions"] if i["split"] == split]
        result[split] = run_split(assistant, items, data["aliases"])
        asked.extend(items)
    result["latency"] = latency(assistant, asked, args.repeat)
    save_result("across" if args.split == "both" else f"across-{args.split}", result)
    for split in splits:
        print(split, {k: v for k, v in result[split].items() if k != "judged"})
        for judged in result[split]["judged"]:
            for wrong in judged["wrong"]:
                print("  ", judged["id"], wrong)
    print("latency", result["latency"])


if __name__ == "__main__":
    main()
