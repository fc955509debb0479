"""Regenerate the README screenshots of the web chat: `python docs/make_screenshots.py`.

Starts the real app on a free loopback port over a throw-away store (the shipped corpus, plus the
Yangtze River Protection Law from ../shared when it is there), drives Debian's Chromium with
Playwright, and writes docs/screenshots/answer-with-sources.png (English interface),
docs/screenshots/answer-zh.png (Chinese interface) and docs/screenshots/documents.png.
Chinese text needs a CJK font on the machine (e.g. `apt-get install fonts-wqy-microhei`).
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant.service import Assistant  # noqa: E402 - the checkout must be importable first
from assistant.settings import Settings  # noqa: E402
from assistant.web import serve  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LAWS = ROOT.parent / "shared" / "data" / "policy-texts-zh" / "laws-regulations"
EXTRA_DOCUMENT = LAWS / "L01_长江保护法(2020-12-26).md"


QUESTIONS = {"en": "By what year will the model city be built?", "zh": "长江河道采砂实行什么制度？"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def has_cjk_font() -> bool:
    if not shutil.which("fc-list"):
        return False
    return bool(subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True).stdout.strip())


def capture(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for locale, name in (("en-US", "answer-with-sources.png"), ("zh-CN", "answer-zh.png")):
            page = browser.new_page(viewport={"width": 1400, "height": 900}, device_scale_factor=1, locale=locale)
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_selector("#conversation .welcome")
            page.fill("#question textarea", QUESTIONS[locale[:2]])
            page.click("#send")
            page.wait_for_selector("#conversation .answer.grounded button.cite")
            page.locator("#conversation button.cite").first.click()
            page.wait_for_selector("#source-panel mark")
            page.wait_for_timeout(600)  # let the scroll into view settle
            page.screenshot(path=str(out / name))
            if locale == "en-US":
                page.get_by_role("tab", name="Documents").click()
                page.wait_for_selector("#documents-table tr[data-doc]")
                page.wait_for_timeout(300)
                page.screenshot(path=str(out / "documents.png"))
            page.close()
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    if not has_cjk_font():
        print("note: no CJK font found; Chinese text will show as boxes (apt-get install fonts-wqy-microhei)")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        assistant = Assistant(Settings(data_dir=Path(tmp) / "data", auto_index_corpus=True))
        assistant.ensure_corpus()
        if EXTRA_DOCUMENT.is_file():
            assistant.add(EXTRA_DOCUMENT, sources={str(EXTRA_DOCUMENT): EXTRA_DOCUMENT.name})
        port = free_port()
        app = serve(assistant, host="127.0.0.1", port=port, block=False, quiet=True)
        try:
            capture(f"http://127.0.0.1:{port}/", args.out)
        finally:
            app.close()
    for name in ("answer-with-sources.png", "documents.png"):
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
