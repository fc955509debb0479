"""OCR quality and cost: character accuracy against the source text, seconds per page, and adding a scanned PDF.

    python bench/ocr.py [--pages N] [--languages chi_sim+eng chi_sim ...] [--add-pages 10] [--threads]

Pages are typeset from the committed Yangtze law (Chinese) and the shipped commentary (English)
by tests/scans.py, the builders the tests use, so the text each page must give back is known
exactly. Each language setting reads, for Chinese and English:

- clean pages: 300 dpi, black on white, stored losslessly in an image-only PDF;
- degraded pages: typeset at 200 dpi, a red seal stamped over the upper text, turned 1.5°, stored
  as JPEG quality 50 in the PDF.

Accuracy is 1 - edit distance / source length, on NFKC text without layout whitespace (Chinese:
none at all, English: single spaces), per page, through ``load_document`` as users' files go.
A page OCR did not keep counts as 0. ``--add-pages`` times ``Assistant.add`` of that many clean
law pages as one scanned PDF into a fresh embedded store (OCR, chunking, embedding, writing).
``--threads`` times one page with Tesseract's OpenMP threads unlimited and limited to one (the
loader's choice). Results go to bench/out/results/ocr.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine_facts, save_result

from assistant.loading import OcrOptions, load_document
from assistant.service import Assistant
from assistant.settings import Settings
from tests.scans import (
    ScannedPage,
    character_accuracy,
    commentary_paragraphs,
    degrade,
    image_pdf,
    law_paragraphs,
    typeset,
)


def pages_of(language: str, condition: str, count: int) -> tuple[list[ScannedPage], list[Any], int]:
    """The source pages, the pictures to store (images or JPEG bytes) and their resolution."""
    chinese = language == "zh"
    paragraphs = law_paragraphs() if chinese else commentary_paragraphs()
    if condition == "clean":
        pages = typeset(paragraphs, pages=count, chinese=chinese)
        return pages, [p.image for p in pages], 300
    pages = typeset(paragraphs, pages=count, chinese=chinese, dpi=200)
    return pages, [degrade(p.image) for p in pages], 200


def read(folder: Path, language: str, condition: str, count: int, languages: str) -> dict[str, Any]:
    """OCR ``count`` pages of one kind through load_document: accuracy per page and seconds per page."""
    pages, pictures, dpi = pages_of(language, condition, count)
    path = image_pdf(pictures, folder / f"{language}-{condition}.pdf", dpi)
    started = time.perf_counter()
    document = load_document(path, ocr=OcrOptions(languages=languages, max_pages=1000, timeout=3600))
    seconds = time.perf_counter() - started
    texts = {span.number: document.text[span.start : span.end] for span in document.pages}
    accuracy = [round(character_accuracy(texts.get(n, ""), page.text, chinese=language == "zh"), 4)
                for n, page in enumerate(pages, start=1)]
    return {"language": language, "condition": condition, "ocr_languages": languages, "pages": len(pages),
            "accuracy_per_page": accuracy, "accuracy_mean": round(statistics.mean(accuracy), 4),
            "accuracy_min": min(accuracy), "confidence": document.metadata.get("ocr_confidence", []),
            "seconds_per_page": round(seconds / len(pages), 2), "load_avg_1min": round(os.getloadavg()[0], 2)}


def thread_cost(folder: Path) -> dict[str, float]:
    """Seconds for one clean Chinese page with Tesseract's OpenMP threads unlimited, then limited to one."""
    import pytesseract

    page = typeset(law_paragraphs(), pages=1, chinese=True)[0].image
    result = {}
    for label, limit in (("threads_unlimited", None), ("threads_1", "1")):
        environment = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
        pytesseract.pytesseract.environ = {**environment, **({"OMP_THREAD_LIMIT": limit} if limit else {})}
        started = time.perf_counter()
        pytesseract.image_to_string(page, lang="chi_sim+eng")
        result[f"{label}_seconds"] = round(time.perf_counter() - started, 2)
    result["cpus"] = os.cpu_count() or 0
    result["load_avg_1min"] = round(os.getloadavg()[0], 2)
    return result


def add_scanned(folder: Path, count: int) -> dict[str, Any]:
    """Time to add a ``count``-page scanned PDF of the law to a fresh store, and what the store got."""
    pages = typeset(law_paragraphs(), pages=count, chinese=True)
    path = image_pdf([p.image for p in pages], folder / f"law-{count}-pages.pdf")
    settings = Settings(data_dir=folder / "store", collection=f"ocrbench{int(time.time())}", auto_index_corpus=False)
    assistant = Assistant(settings)
    assistant.store.embedder.encode(["warm up"])  # the model's load is not part of adding a file
    started = time.perf_counter()
    [result] = assistant.add(path)
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    load_document(path)
    ocr_seconds = time.perf_counter() - started
    return {"pages": len(pages), "status": result.status, "chunks": result.chunks,
            "add_seconds": round(seconds, 1), "ocr_only_seconds": round(ocr_seconds, 1),
            "load_avg_1min": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=3, help="pages per language and condition")
    parser.add_argument("--languages", nargs="+", default=["chi_sim+eng"], help="Tesseract language settings")
    parser.add_argument("--add-pages", type=int, default=10, help="pages of the scanned PDF added (0: skip)")
    parser.add_argument("--threads", action="store_true", help="also time Tesseract's threads")
    args = parser.parse_args()
    result: dict[str, Any] = {"machine": machine_facts(), "reads": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for languages in args.languages:
            for language in ("zh", "en"):
                for condition in ("clean", "degraded"):
                    row = read(folder, language, condition, args.pages, languages)
                    result["reads"].append(row)
                    print(f"{languages:12} {language} {condition:8} accuracy {row['accuracy_mean']:.4f} "
                          f"(min {row['accuracy_min']:.4f}) {row['seconds_per_page']:.2f} s/page", flush=True)
        if args.threads:
            result["threads"] = thread_cost(folder)
        if args.add_pages:
            result["add"] = add_scanned(folder, args.add_pages)
    save_result("ocr", result)


if __name__ == "__main__":
    main()
