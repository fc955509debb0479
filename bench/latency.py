"""retrieve() and ask() latency (p50/p95) and peak memory on a benchmark store, embedded or server mode.

    python bench/build_store.py --size 10000 --mode embedded     # once
    python bench/latency.py --size 10000 --mode embedded [--queries 300] [--asks 100] [--profile]

Questions are ObliQA test questions: retrieve() times the first --queries of them, ask() the next
--asks (so no question is asked twice and no cache flatters ask), each through the public
Assistant API with default settings (hybrid retrieval, top_k 5; extractive answers). The query
embedding alone is timed on a third slice: it is the floor of retrieve(). The first calls (keyword
index load, lexicon, jieba) are reported apart as "first_*" and not mixed into the percentiles.
Peak RSS is this process's VmHWM after all queries (plus, in server mode, the Chroma server's).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    OUT,
    PACKAGES,
    ROOT,
    machine_facts,
    mode_server,
    obliqa_questions,
    peak_rss_mb,
    rss_mb,
    save_result,
    store_env,
    store_settings,
    summary_ms,
)


def timed(fn, items):  # type: ignore[no-untyped-def]
    durations, outputs = [], []
    for item in items:
        start = time.perf_counter()
        outputs.append(fn(item))
        durations.append(time.perf_counter() - start)
    return durations, outputs


def after_write_ms(assistant) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """The first retrieve() after a one-paragraph document is added (then removed again), here and by
    another process: what a user waits for when someone else has just changed the store (the keyword
    index catches up; after another process's write an embedded store also reopens its client)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        note = Path(tmp) / "bench-note.txt"
        note.write_text("Benchmark note\n\nA short note added to measure the first query after a write.\n")
        added = assistant.add(note)[0]
        start = time.perf_counter()
        assistant.retrieve("How should a Relevant Person report suspicious activity?")
        after_add = time.perf_counter() - start
        assistant.remove(added.doc_id)
        start = time.perf_counter()
        assistant.retrieve("What records must an Authorised Person keep about its clients?")
        after_remove = time.perf_counter() - start
        other = Path(tmp) / "other-note.txt"
        other.write_text("Another note\n\nA note another process adds while this one serves questions.\n")
        done = subprocess.run([sys.executable, "-m", "assistant.cli", "add", str(other)], env=store_env(
            assistant.settings), cwd=ROOT, capture_output=True, text=True, check=True)
        start = time.perf_counter()
        assistant.retrieve("How should a Relevant Person report suspicious activity?")
        after_other = time.perf_counter() - start
        assistant.remove(done.stdout.rsplit("[", 1)[1].split("]")[0])
    return {"after_add": round(after_add * 1000, 1), "after_remove": round(after_remove * 1000, 1),
            "after_another_process_added": round(after_other * 1000, 1)}


def run(size: int, mode: str, server: tuple[str, int, int] | None, args: argparse.Namespace) -> dict:
    from assistant.service import Assistant

    settings = store_settings(mode, size, server)
    started = time.perf_counter()
    assistant = Assistant(settings)
    open_s = time.perf_counter() - started
    chunks = assistant.store.count_chunks()
    if chunks != size:
        raise SystemExit(f"the {mode} store holds {chunks} chunks, not {size}: run bench/build_store.py first")
    questions = obliqa_questions("test", limit=args.queries + args.asks + args.floor)
    retrieve_q = questions[: args.queries]
    ask_q = questions[args.queries: args.queries + args.asks]
    floor_q = questions[args.queries + args.asks:]

    first_retrieve, _ = timed(assistant.retrieve, ["How should a Relevant Person report suspicious activity?"])
    first_ask, _ = timed(assistant.ask, ["What records must an Authorised Person keep about its clients?"])
    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    retrieve_s, _ = timed(assistant.retrieve, retrieve_q)
    ask_s, answers = timed(assistant.ask, ask_q)
    if profiler is not None:
        profiler.stop()
        folder = OUT / "profiles"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"latency-{mode}-{size}.txt"
        path.write_text(profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8")
        print(f"profile written to {path}")
    embed_s, _ = timed(lambda q: assistant.embedder.encode([q], query=True), floor_q)
    memory = {"rss_mb": rss_mb(), "peak_rss_mb": peak_rss_mb()}  # open + queries, before any write
    after_write = after_write_ms(assistant) if args.after_write else None
    result = {
        "size": size, "mode": mode, "chunks": chunks, "open_s": round(open_s, 2),
        "first_retrieve_ms": round(first_retrieve[0] * 1000, 1), "first_ask_ms": round(first_ask[0] * 1000, 1),
        "retrieve": summary_ms(retrieve_s), "ask": summary_ms(ask_s), "query_embedding": summary_ms(embed_s),
        "ask_grounded_share": round(sum(a.grounded for a in answers) / len(answers), 3) if answers else None,
        "ask_modes": sorted({a.mode for a in answers}),
        **memory,
    }
    if after_write:
        result["retrieve_after_a_write_ms"] = after_write
        result["peak_rss_mb_after_writes"] = peak_rss_mb()  # includes the keyword index rebuilds
    if server:
        result.update(server_rss_mb=rss_mb(server[2]), server_peak_rss_mb=peak_rss_mb(server[2]))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--mode", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--queries", type=int, default=300, help="questions timed with retrieve()")
    parser.add_argument("--asks", type=int, default=100, help="further questions timed with ask()")
    parser.add_argument("--floor", type=int, default=100, help="further questions timed as bare query embeddings")
    parser.add_argument("--profile", action="store_true", help="profile the timed loops with pyinstrument")
    parser.add_argument("--after-write", action="store_true",
                        help="also time the first retrieve() after a document is added and after it is removed")
    parser.add_argument("--tag", default="", help="suffix of the result file (e.g. 'spin' for an OpenMP variant)")
    args = parser.parse_args()
    facts = machine_facts()
    with mode_server(args.mode) as server:
        result = run(args.size, args.mode, server, args)
    result["loadavg_at_end"] = [round(x, 2) for x in __import__("os").getloadavg()]
    name = f"latency-{args.mode}-{args.size}" + (f"-{args.tag}" if args.tag else "")
    result["omp_env"] = {k: v for k, v in __import__("os").environ.items() if k.startswith(("OMP_", "GOMP_"))}
    save_result(name, {**result, "machine": facts, "packages_checked": PACKAGES})


if __name__ == "__main__":
    main()
