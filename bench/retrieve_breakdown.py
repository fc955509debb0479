"""Where retrieve() spends its time on a benchmark store: query embedding, dense search, BM25, the rest.

    python bench/retrieve_breakdown.py --size 100000 --mode embedded [--queries 200]

For each ObliQA test question (a slice no other script times): the bare query embedding (fresh
text, so not cached), the Chroma nearest-neighbour search at the depth hybrid retrieval uses
(settings.candidates) with ids and distances only (what retrieval does) and with texts and
metadata (what it did before), the BM25 search, the store's revision check, and the whole
retrieve() of the same question (its embedding now comes from the embedder's query cache, so
"retrieve with cached embedding" is everything but the model).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_facts, mode_server, obliqa_questions, save_result, store_settings, summary_ms


def run(size: int, mode: str, server: tuple[str, int, int] | None, queries: int) -> dict:
    from assistant.service import Assistant

    assistant = Assistant(store_settings(mode, size, server))
    retriever = assistant.retriever
    depth = assistant.settings.candidates
    assistant.retrieve("warm-up: how are suspicious transactions reported?")
    parts: dict[str, list[float]] = {"embedding": [], "dense_with_texts": [], "dense_ids_only": [],
                                     "bm25_search": [], "revision_check": [], "retrieve_with_cached_embedding": []}
    for question in obliqa_questions("test", limit=queries, offset=1500):
        start = time.perf_counter()
        vector = assistant.embedder.encode([question], query=True)[0]
        parts["embedding"].append(time.perf_counter() - start)
        start = time.perf_counter()
        assistant.store.collection.query(query_embeddings=[vector], n_results=depth,
                                         include=["documents", "metadatas", "distances"])
        parts["dense_with_texts"].append(time.perf_counter() - start)
        start = time.perf_counter()
        assistant.store.nearest(vector, depth)
        parts["dense_ids_only"].append(time.perf_counter() - start)
        start = time.perf_counter()
        assistant.store.revision()
        parts["revision_check"].append(time.perf_counter() - start)
        start = time.perf_counter()
        retriever.lexical.search(question, depth)
        parts["bm25_search"].append(time.perf_counter() - start)
        start = time.perf_counter()
        assistant.retrieve(question)
        parts["retrieve_with_cached_embedding"].append(time.perf_counter() - start)
    return {"size": size, "mode": mode, "depth": depth,
            **{k: summary_ms(v) for k, v in parts.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--mode", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    facts = machine_facts()
    with mode_server(args.mode) as server:
        result = run(args.size, args.mode, server, args.queries)
    result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save_result(f"breakdown-{args.mode}-{args.size}", {**result, "machine": facts})


if __name__ == "__main__":
    main()
