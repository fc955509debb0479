"""Main-text extraction from government web pages: the page-markup reader against trafilatura.

    python bench/html_extract.py

Issue 14 asked whether pages added by URL should go through trafilatura, keeping the HTML reader
of the time unless another extractor wins on pages like those users will add. Three are measured:

- markup: the reader before issue 14, now the fallback (assistant/loading/html.py
  ``_marked_up_content``): <main> or a lone <article>, else <body>, without <nav>, <header>,
  <footer>, <aside> and forms;
- trafilatura: its plain-text output with its defaults (tables kept);
- read_html: what ships, trafilatura's pick as HTML walked into blocks by the reader, the markup
  reader where trafilatura picks under 250 characters.

The pages are tests/data/html/*.html (tests/data/SOURCES.md): policy-text passages wrapped in
government-site boilerplate, each beside the passage it wraps; pages.json lists them.

Scores are token-level, on the multiset of tokens (each Hanzi one token, each Latin word or number
one token, punctuation ignored), as article-extraction benchmarks score: precision is the share of
extracted tokens that are the passage's, recall the share of the passage's tokens extracted, F1
their harmonic mean. Lines equal to the page's headline are left out of the extraction first:
the markup reader keeps the headline as the first block, trafilatura moves it to metadata, and
either is fine. "whole" is the share of the passage's paragraphs that come out as a line of their
own (chunks and citations are cut at block boundaries, so a paragraph run into its neighbours
costs even when every token is there). Means are over pages, each page counting once; the time
is per page. Results go to bench/out/results/html_extract.json.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, machine_facts, save_result

from assistant.loading.common import Limits
from assistant.loading.html import _marked_up_content, _markup, _parse_html, read_html

PAGES = ROOT / "tests" / "data" / "html"
_TOKENS = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+", re.UNICODE)
_HANZI = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def tokens(text: str) -> Counter[str]:
    """Hanzi one by one, other letters and digits as words (lower-cased)."""
    found: list[str] = []
    for match in _TOKENS.finditer(text):
        word = match.group(0)
        if _HANZI.fullmatch(word):
            found.append(word)
        else:  # a run of word characters may hold Hanzi and Latin together ("2024年"): split it
            found.extend(piece.lower() for piece in re.split(r"([\u3400-\u9fff\uf900-\ufaff])", word) if piece)
    return Counter(found)


def score(extracted: str, passage: str, headline: str) -> dict[str, float]:
    """Token precision, recall and F1 of ``extracted`` against ``passage``, the headline's lines left out,
    and the share of the passage's paragraphs extracted whole."""
    lines = [" ".join(line.split()) for line in extracted.splitlines()]
    kept = [line for line in lines if line != headline]
    got, want = tokens("\n".join(kept)), tokens(passage)
    common = sum((got & want).values())
    precision = common / max(1, sum(got.values()))
    recall = common / max(1, sum(want.values()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    paragraphs = [" ".join(p.split()) for p in passage.split("\n\n") if p.strip()]
    whole = sum(p in set(kept) for p in paragraphs) / len(paragraphs)
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "whole": round(whole, 4)}


def markup(data: bytes) -> str:
    """The reader before issue 14, kept as the fallback."""
    return _marked_up_content(_parse_html(_markup(data, "page.html"), "page.html"), "page.html", "").text


def shipped(data: bytes) -> str:
    """read_html as a file added by path or URL goes through it."""
    return read_html(data, "page.html", Limits(50.0, 2000)).text


def trafilatura_text(data: bytes) -> str:
    """trafilatura's main text with its defaults (precision and recall balanced), tables kept."""
    import trafilatura

    return trafilatura.extract(data.decode("utf-8"), include_comments=False, include_tables=True) or ""


EXTRACTORS: dict[str, Callable[[bytes], str]] = {"markup": markup, "trafilatura": trafilatura_text,
                                                 "read_html": shipped}


def main() -> None:
    import trafilatura

    pages = json.loads((PAGES / "pages.json").read_text(encoding="utf-8"))
    result: dict[str, Any] = {"machine": machine_facts(), "trafilatura": trafilatura.__version__,
                              "pages": len(pages), "extractors": {}}
    for name, extract in EXTRACTORS.items():
        rows = []
        for page in pages:
            data = (PAGES / page["page"]).read_bytes()
            passage = (PAGES / page["passage"]).read_text(encoding="utf-8")
            started = time.perf_counter()
            text = extract(data)
            seconds = time.perf_counter() - started
            rows.append({"page": page["page"], **score(text, passage, page["headline"]), "ms": round(seconds * 1e3, 1)})
        means = {key: round(statistics.mean(r[key] for r in rows), 4) for key in ("precision", "recall", "f1", "whole")}
        result["extractors"][name] = {"mean": means, "ms_per_page": round(statistics.mean(r["ms"] for r in rows), 1),
                                      "pages": rows}
    print(f"{'page':26}" + "".join(f"{n:>31}" for n in EXTRACTORS))
    for i, page in enumerate(pages):
        cells = [result["extractors"][n]["pages"][i] for n in EXTRACTORS]
        print(f"{page['page']:26}" + "".join(
            f"P {c['precision']:.2f} R {c['recall']:.2f} F {c['f1']:.2f} W {c['whole']:.2f}".rjust(31) for c in cells))
    for name in EXTRACTORS:
        mean = result["extractors"][name]["mean"]
        print(f"{name}: precision {mean['precision']:.3f}, recall {mean['recall']:.3f}, F1 {mean['f1']:.3f}, "
              f"paragraphs whole {mean['whole']:.3f}; {result['extractors'][name]['ms_per_page']} ms/page")
    save_result("html_extract", result)


if __name__ == "__main__":
    main()
