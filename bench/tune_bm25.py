"""Tune the keyword side on the dev splits: BM25 k1/b, the heading in the indexed text, stemming.

No embeddings needed: the benchmark records become Passages exactly as the eval store holds them
and go through the assistant's own Tokenizer, index_text and BM25 (Postings), so the numbers are the ones
``assistant eval --mode bm25`` would give.

    python bench/tune_bm25.py --dataset obliqa --split dev > bench/out/tune-bm25-obliqa-dev.txt
    python bench/tune_bm25.py --dataset lecoqa --split dev > bench/out/tune-bm25-lecoqa-dev.txt
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.documents import Passage
from assistant.evaluation import Dataset, load_named, score_run
from assistant.lexical import BM25Params, Postings, Tokenizer, index_text


def passages(dataset: Dataset) -> list[Passage]:
    """The records as stored chunks: title = their document's title, heading = their heading path."""
    return [Passage(r.text, 0.0, r.group, r.title, r.id, 0, len(r.text), heading=" > ".join(r.heading))
            for r in dataset.corpus]


def run(dataset: Dataset, tokens: list[list[str]], ids: list[str], tokenizer: Tokenizer, k1: float,
        b: float) -> dict[str, float]:
    postings = Postings().appended(tokens)
    params = BM25Params(k1=k1, b=b)
    ranking: dict[str, list[str]] = {}
    for qid, text in dataset.judged_queries():
        scores = postings.scores(tokenizer.tokenize(text), params)
        top = np.argsort(-scores)[:10]
        ranking[qid] = [ids[i] for i in top if scores[i] > 0]
    return score_run(ranking, dataset.qrels)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=["obliqa", "lecoqa"], required=True)
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    dataset = load_named(args.dataset, args.split)
    chunks = passages(dataset)
    ids = [p.chunk_id for p in chunks]
    print(f"{dataset.name} {args.split}: {len(chunks)} records, {len(dataset.judged_queries())} questions")
    print("text      stem  k1    b     R@1    R@5    R@10   MRR@10 nDCG@10")
    for heading, stem in itertools.product((True, False), (True, False)):
        tokenizer = Tokenizer(stem=stem)
        started = time.perf_counter()
        texts = [index_text(p) if heading else p.text for p in chunks]
        tokens = [tokenizer.tokenize(t) for t in texts]
        tokenize_s = time.perf_counter() - started
        for k1, b in ((0.9, 0.4), (1.2, 0.75), (1.5, 0.75), (1.2, 0.5), (0.9, 0.75), (1.5, 0.9)):
            m = run(dataset, tokens, ids, tokenizer, k1, b)
            print(f"{'heading' if heading else 'text':8}  {stem!s:5} {k1:<5} {b:<5} {m['recall@1']:.3f}  "
                  f"{m['recall@5']:.3f}  {m['recall@10']:.3f}  {m['mrr@10']:.3f}  {m['ndcg@10']:.3f}", flush=True)
        print(f"# tokenizing took {tokenize_s:.1f}s", flush=True)


if __name__ == "__main__":
    main()
