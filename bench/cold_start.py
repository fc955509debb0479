"""Cold start: from process start to the first answer, for the CLI and for the web chat.

    python bench/cold_start.py --size 10000 --mode embedded [--repeats 3] [--no-web]
    python bench/cold_start.py --first-start [--repeats 3]    # a fresh data folder: indexes corpus/ first

CLI: `python -m assistant.cli ask QUESTION --json` on an existing benchmark store (bench/build_store.py),
timed from spawn to exit (the answer is printed just before). Web: `python ui.py --port P`, timed from
spawn until a gradio_client /ask call returns an answer (polling every 0.25 s); also when the page
first answered HTTP. Each repeat is a new process with a new question; the OS page cache is warm
(files read by an earlier run stay cached), which is the usual case on a server.

``--first-start`` is the README's quick start: each repeat starts on a new, empty data folder, so the
process indexes the shipped corpus (corpus/) before it answers a question about it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    free_port,
    machine_facts,
    mode_server,
    obliqa_questions,
    save_result,
    stop_process,
    store_env,
    store_settings,
)

from assistant.evaluation import percentile


def cli_once(env: dict[str, str], question: str) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "assistant.cli", "ask", question, "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"assistant ask failed: {done.stderr[-2000:]}")
    json.loads(done.stdout)["answer"]  # a real answer came back
    return elapsed


def web_once(env: dict[str, str], question: str, timeout: float = 300) -> tuple[float, float]:
    """(seconds to first HTTP response, seconds to first /ask answer) of a fresh `python ui.py`."""
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "ui.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    http_s = None
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise SystemExit(f"ui.py exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    http_s = http_s or time.perf_counter() - start
                client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
                answer = client.predict(question=question, api_name="/ask")
                if answer.get("answer"):
                    return http_s, time.perf_counter() - start
            except Exception:  # not up yet: connection refused, config not served yet
                time.sleep(0.25)
        raise SystemExit(f"the web app gave no answer within {timeout:.0f}s")
    finally:
        stop_process(proc)


def run(size: int, mode: str, server: tuple[str, int, int] | None, args: argparse.Namespace) -> dict:
    env = store_env(store_settings(mode, size, server))
    questions = obliqa_questions("test", limit=2 * args.repeats, offset=2000)
    cli = [cli_once(env, q) for q in questions[: args.repeats]]
    result: dict = {"size": size, "mode": mode, "cli_s": [round(s, 2) for s in cli],
                    "cli_median_s": round(percentile(cli, 50), 2)}
    if args.web:
        web = [web_once(env, q) for q in questions[args.repeats:]]
        result.update(web_http_s=[round(h, 2) for h, _ in web], web_first_answer_s=[round(a, 2) for _, a in web],
                      web_median_s=round(percentile([a for _, a in web], 50), 2))
    return result


FIRST_QUESTIONS = ["By what year will the model city be built?", "非法采砂会受到什么处罚？",
                   "What is the only way to improve our ability?", "长江采砂实行什么规划制度？",
                   "What kind of test is building the model city?", "采砂船舶应当停放在哪里？"]


def first_start(args: argparse.Namespace) -> dict:
    """Spawn to first answer on an empty data folder, CLI and web, each repeat in a new folder."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    questions = FIRST_QUESTIONS * args.repeats
    timings: dict[str, list[float]] = {"cli_s": [], "web_first_answer_s": []}
    with tempfile.TemporaryDirectory(prefix="first-start-") as tmp:
        for i in range(args.repeats):
            env = {**base, "ASSISTANT_DATA_DIR": str(Path(tmp) / f"cli{i}"), "PYTHONUNBUFFERED": "1"}
            timings["cli_s"].append(round(cli_once(env, questions[2 * i]), 2))
            if args.web:
                env = {**env, "ASSISTANT_DATA_DIR": str(Path(tmp) / f"web{i}")}
                timings["web_first_answer_s"].append(round(web_once(env, questions[2 * i + 1])[1], 2))
    return {"mode": "first-start", **timings, "cli_median_s": round(percentile(timings["cli_s"], 50), 2),
            **({"web_median_s": round(percentile(timings["web_first_answer_s"], 50), 2)} if args.web else {})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--mode", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-web", dest="web", action="store_false")
    parser.add_argument("--first-start", action="store_true", help="start on an empty data folder (indexes corpus/)")
    args = parser.parse_args()
    facts = machine_facts()
    if args.first_start:
        result, name = first_start(args), "cold-start-first"
    else:
        with mode_server(args.mode) as server:
            result, name = run(args.size, args.mode, server, args), f"cold-start-{args.mode}-{args.size}"
    result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save_result(name, {**result, "machine": facts})


if __name__ == "__main__":
    main()
