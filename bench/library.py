"""Answers over a library of related policy texts: the right fact from the right document (issue 12).

    python bench/library.py                 # dev and test splits of tests/data/library_questions.json

The library is the shipped corpus plus the 23 laws and regulations and the 9 government work reports
of tests/data/policy-texts-zh, added through `Assistant.add` into a store under bench/out/stores/library.
The dev split is asked first, with the three held-out laws (the set's "held_out") not yet in the
store; then they are added and the test split is asked, so no tuning on dev can know them.

Per split, through `Assistant.ask` with default settings (extractive answers):
  right        answerable questions answered (grounded) with the expected fact, citing the labelled
               document (and article, for laws) with a quote that holds the fact
  en→zh right  the same, over English questions whose document is Chinese
  refused      unanswerable questions refused (grounded False)
  wrong source answers to a question that names a year or a law (tags year-document, law-named) that
               quote any other document: the misattribution the issue forbids
  ask latency  p50 / p95 ms per question (the store and models warm)
  en→zh evidence  for the English questions about Chinese texts, how many have the labelled evidence
               in the top 3 / 8 / 20 passages of `Assistant.retrieve` (asked after the timed answers,
               so the timing is not helped by cached question vectors)
Results go to bench/out/results/library.json (and are printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, STORES, machine_facts, save_result, summary_ms

from assistant.documents import Answer
from assistant.evaluation import labelled_answer_correct
from assistant.service import Assistant
from assistant.settings import Settings

QUESTIONS = ROOT / "tests" / "data" / "library_questions.json"
TEXTS = ROOT / "tests" / "data" / "policy-texts-zh"


def resolved(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The questions with document keys turned into the file names that passages carry as sources."""
    names = {key: Path(path).name for key, path in data["documents"].items()}
    items = []
    for item in data["questions"]:
        item = dict(item)
        if "document" in item:
            item["documents"] = [names[item.pop("document")]]
        elif "documents" in item:
            item["documents"] = [names[key] for key in item["documents"]]
        items.append(item)
    return items


def library(held_out: set[str]) -> tuple[list[Path], list[Path]]:
    """(the library without the held-out laws, the held-out laws)."""
    texts = [ROOT / "corpus", *sorted((TEXTS / "laws-regulations").glob("*.md")),
             *sorted((TEXTS / "gov-work-reports").glob("*.txt"))]
    return [p for p in texts if p.name not in held_out], [p for p in texts if p.name in held_out]


def wrong_source(item: dict[str, Any], answer: Answer) -> bool:
    """An answer to a question naming a year or law that quotes another report or law."""
    if not answer.grounded or not {"year-document", "law-named"} & set(item.get("tags", [])):
        return False
    wanted = set(item.get("documents", []))
    return any(Path(c.passage.source).name not in wanted for c in answer.citations) if wanted else True


EVIDENCE_DEPTHS = (3, 8, 20)


def evidence_ranks(assistant: Assistant, items: list[dict[str, Any]]) -> list[int | None]:
    """Where each item's labelled evidence first stands among the passages retrieved for it (None: not
    in the top 20): whether retrieval brings the answer to the answerer at all."""
    ranks = []
    for item in items:
        evidence = "".join(item["evidence"].split())
        passages = assistant.retrieve(item["question"], k=max(EVIDENCE_DEPTHS))
        ranks.append(next((i for i, p in enumerate(passages) if evidence in "".join(p.text.split())), None))
    return ranks


def run_split(assistant: Assistant, items: list[dict[str, Any]]) -> dict[str, Any]:
    rows, seconds = [], []
    for item in items:
        started = time.perf_counter()
        answer = assistant.ask(item["question"])
        seconds.append(time.perf_counter() - started)
        rows.append({"id": item["id"], "answerable": item["answerable"], "grounded": answer.grounded,
                     "right": item["answerable"] and labelled_answer_correct(item, answer),
                     "wrong_source": wrong_source(item, answer),
                     "en_zh": item["language"] == "en" and item["answerable"] and "cross-language" in item["tags"],
                     "cited": sorted({Path(c.passage.source).name for c in answer.citations})})
    evidence = evidence_ranks(assistant, [i for i in items if i["language"] == "en" and i["answerable"]
                                          and "cross-language" in i["tags"]])
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    en_zh = [r for r in answerable if r["en_zh"]]
    return {
        "questions": len(rows),
        "right": f"{sum(r['right'] for r in answerable)}/{len(answerable)}",
        "right_share": round(sum(r["right"] for r in answerable) / len(answerable), 3),
        "en_zh_right": f"{sum(r['right'] for r in en_zh)}/{len(en_zh)}",
        "refused": f"{sum(not r['grounded'] for r in unanswerable)}/{len(unanswerable)}",
        "wrong_source": [r["id"] for r in rows if r["wrong_source"]],
        "ask_latency": summary_ms(seconds),
        "en_zh_evidence_in_top": {k: f"{sum(r is not None and r < k for r in evidence)}/{len(evidence)}"
                                  for k in EVIDENCE_DEPTHS},
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "both"), default="both",
                        help="dev alone while tuning (the held-out laws are then never added)")
    args = parser.parse_args()
    data = json.loads(QUESTIONS.read_text(encoding="utf-8"))
    items = resolved(data)
    held_out = {Path(p).name for p in data["held_out"]}
    kept, later = library(held_out)
    settings = Settings(data_dir=STORES / "library", collection="library", auto_index_corpus=False)
    assistant = Assistant(settings)
    for stored in assistant.documents():  # a store kept from an earlier run holds them: dev must not see them
        if Path(stored.source).name in held_out:
            assistant.remove(stored.doc_id)
    started = time.perf_counter()
    added = assistant.add(*kept)
    result: dict[str, Any] = {"machine": machine_facts(), "documents": len(assistant.documents()),
                              "build_s": round(time.perf_counter() - started, 1),
                              "failed": [r.path for r in added if r.status == "failed"]}
    assistant.warm_up()
    splits = ("dev", "test") if args.split == "both" else (args.split,)
    if "dev" in splits:
        result["dev"] = run_split(assistant, [i for i in items if i["split"] == "dev"])
    if "test" in splits:
        assistant.add(*later)
        result["test"] = run_split(assistant, [i for i in items if i["split"] == "test"])
    result["chunks"] = assistant.store.count_chunks()
    save_result("library" if args.split == "both" else f"library-{args.split}", result)
    for split in splits:
        print(split, {k: v for k, v in result[split].items() if k != "rows"})


if __name__ == "__main__":
    main()
