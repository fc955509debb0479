"""How fast the web chat feels: page load, example question to cited answer, marker click to passage.

    python bench/web_latency.py [--runs 5]

Starts the real app on loopback over a throw-away store holding the shipped corpus and drives
Debian's Chromium with Playwright, timing each step from the user's side (browser clock).
Prints medians and writes bench/out/web_latency.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, free_port

from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web import serve

QUESTION = "By what year will the model city be built?"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def measure(url: str, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    timings: dict[str, list[float]] = {"page_load_s": [], "answer_s": [], "passage_panel_s": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for _ in range(runs + 1):  # the first run warms the answering stack and is reported apart
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.set_default_timeout(120_000)
            page = context.new_page()
            start = time.perf_counter()
            page.goto(url)
            page.wait_for_selector("#question textarea")
            loaded = time.perf_counter()
            page.fill("#question textarea", QUESTION)
            page.click("#send")
            page.wait_for_selector("#chatbot .answer.grounded a.cite")
            answered = time.perf_counter()
            page.locator("#chatbot a.cite").first.click()
            page.wait_for_selector("#source-panel mark")
            shown = time.perf_counter()
            timings["page_load_s"].append(loaded - start)
            timings["answer_s"].append(answered - loaded)
            timings["passage_panel_s"].append(shown - answered)
            context.close()
        browser.close()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        assistant = Assistant(Settings(data_dir=Path(tmp) / "data", auto_index_corpus=True))
        port = free_port()
        app = serve(assistant, host="127.0.0.1", port=port, block=False, quiet=True)
        startup = time.perf_counter() - started
        try:
            timings = measure(f"http://127.0.0.1:{port}/", args.runs)
        finally:
            app.close()
    report = {
        "startup_s (models, corpus indexing, server)": round(startup, 2),
        "first_answer_s (cold answering stack)": round(timings["answer_s"][0], 3),
        **{f"median_{k}": round(statistics.median(v[1:]), 3) for k, v in timings.items()},
        "runs": args.runs,
        "embedding": assistant.embedder.label,
    }
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "web_latency.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    for key, value in report.items():
        print(f"{key:45} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
