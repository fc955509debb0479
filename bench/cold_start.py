"""Cold start: from process start to the first answer, for the CLI and for the web chat.

    python bench/cold_start.py --size 10000 --mode embedded [--repeats 3] [--no-web]

CLI: `python -m assistant.cli ask QUESTION --json` on an existing benchmark store (bench/build_store.py),
timed from spawn to exit (the answer is printed just before). Web: `python ui.py --port P`, timed from
spawn until a gradio_client /ask call returns an answer (polling every 0.25 s); also when the page
first answered HTTP. Each repeat is a new process with a new question; the OS page cache is warm
(files read by an earlier run stay cached), which is the usual case on a server.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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
    percentile,
    save_result,
    store_env,
    store_settings,
)


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
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--mode", choices=["embedded", "server"], default="embedded")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-web", dest="web", action="store_false")
    args = parser.parse_args()
    facts = machine_facts()
    with mode_server(args.mode) as server:
        result = run(args.size, args.mode, server, args)
    result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save_result(f"cold-start-{args.mode}-{args.size}", {**result, "machine": facts})


if __name__ == "__main__":
    main()
