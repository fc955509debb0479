"""How many tokens the LLM's prompt asks the server to read: the human message (passages, their source
tags, the question) for each of bench/llm_latency.py's 202 questions, as the answerer builds it.

    python bench/prompt_size.py                       # the settings' llm_prompt_tokens (190)
    python bench/prompt_size.py --prompt-tokens 100000   # no bound on the whole, passages alone bounded

Counts are the answerer's own estimate (`llm.estimated_tokens`: a Chinese character one token, four
other characters one; it errs high for Gemma's tokenizer). No model server is needed, so the figures
do not depend on the machine's load: on a CPU server the time to the first token is these tokens over
the server's prompt speed. Reads the store bench/llm_latency.py built (run that first).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import STORES, save_result
from llm_latency import prompt_messages, questions

from assistant.evaluation import percentile
from assistant.llm import estimated_tokens
from assistant.service import Assistant
from assistant.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompt-tokens", type=int, help="llm_prompt_tokens to measure (default: the settings')")
    args = parser.parse_args()
    settings = Settings(data_dir=STORES / "llm-library", collection="llmlib", auto_index_corpus=False)
    if args.prompt_tokens:
        settings = settings.model_copy(update={"llm_prompt_tokens": args.prompt_tokens})
    assistant = Assistant(settings)
    if not assistant.documents():
        raise SystemExit("no store yet: run python bench/llm_latency.py first")
    sizes = []
    for question in questions(None):
        sizes.append(estimated_tokens(prompt_messages(assistant, question)[1][1]))
    save_result(f"prompt_size-{settings.llm_prompt_tokens}", {
        "llm_prompt_tokens": settings.llm_prompt_tokens, "llm_passages": settings.llm_passages,
        "llm_passage_tokens": settings.llm_passage_tokens, "questions": len(sizes),
        "estimated_tokens": {"p50": percentile(sizes, 50), "p95": percentile(sizes, 95), "max": max(sizes)}})


if __name__ == "__main__":
    main()
