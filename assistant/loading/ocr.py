"""OCR with Tesseract: page images in, cleaned page texts with the engine's confidence out.

Scanned PDF pages and image files reach the index only through here. Tesseract runs as a
separate process for each page (through pytesseract), so a page that runs past the file's time
budget is killed rather than holding the caller; pages are recognised one at a time and each is
reported to the caller's progress callback; a page that cannot be read is named in a warning,
never dropped in silence. The PDF and image readers decide which pages need OCR and how to get
their pictures; this module decides everything about the engine and the text it returns.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.loading.common import Limits, OcrOptions, PageProgress

if TYPE_CHECKING:
    from PIL import Image

MAX_PIXELS = 50_000_000  # an A4 page at 600 dpi is 35 MP; more only costs memory and Tesseract time
INSTALL_HINT = (
    "install it with its Chinese and English language data (Debian/Ubuntu: apt-get install tesseract-ocr "
    "tesseract-ocr-chi-sim tesseract-ocr-eng; macOS: brew install tesseract tesseract-lang) and add the file again"
)
# Han, CJK punctuation and full-width forms: between two of these a space is never part of the text.
_CJK = "\u2e80-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"
_SPACE_IN_CJK = re.compile(rf"(?<=[{_CJK}])[ \t]+(?=[{_CJK}])")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_NUMERAL = "[零〇一二三四五六七八九十百千万0-9][ \t]*"
_STRUCTURE_MARK = re.compile(rf"^第[ \t]*(?:{_NUMERAL})+[编章节条](?:[ \t]*之[ \t]*(?:{_NUMERAL})+)?(?=[ \t])")
_SPACES = re.compile(r"[ \t]+")
_HEAD_START = re.compile(rf"第[ \t]*(?:{_NUMERAL})+[编章节条]")
_SENTENCE_END = frozenset("。！？；：")
_BLANK_LINES = re.compile(r"\n{3,}")
_INK_LEVEL = 128  # a grey value below this is ink
_BLANK_INK_SHARE = 0.0005  # a page with less ink than this share of its pixels holds nothing to read


@dataclass(frozen=True)
class Tesseract:
    """The engine found on this machine, with the languages it will read."""

    version: str
    languages: str

    @property
    def name(self) -> str:
        return f"Tesseract {self.version} ({self.languages})"


@dataclass(frozen=True)
class OcrPage:
    """One recognised page: its cleaned text and the engine's mean word confidence (0-100)."""

    number: int
    text: str
    confidence: float


@dataclass
class OcrResult:
    """The pages OCR read and, for every other page it was given, why it was not read."""

    engine: Tesseract | None
    pages: list[OcrPage] = field(default_factory=list)
    unread: dict[int, str] = field(default_factory=dict)  # page number -> reason

    def metadata(self, page_count: int) -> dict[str, Any]:
        """What the Document records: which pages are OCR text, how sure the engine was, and what is missing.

        ``ocr_pages`` and ``ocr_confidence`` are parallel lists (page number, mean confidence), kept in
        the document's metadata so that they are stored with its text and survive a re-index.
        """
        metadata: dict[str, Any] = {}
        if self.engine is not None and self.pages:
            metadata["ocr_engine"] = self.engine.name
            metadata["ocr_pages"] = [page.number for page in self.pages]
            metadata["ocr_confidence"] = [round(page.confidence, 1) for page in self.pages]
        if self.unread:
            metadata["unread_pages"] = sorted(self.unread)
            metadata["warnings"] = [self.warning(page_count)]
        return metadata

    def warning(self, page_count: int) -> str:
        """One sentence naming every page that was not read, grouped by reason."""
        count = len(self.unread)
        return f"stored without {count} of {page_count} page{'s' if page_count != 1 else ''}: {self.details()}"

    def details(self) -> str:
        """'page 3 (no text recognised); pages 5–7 (...)': the unread pages, grouped by reason."""
        by_reason: dict[str, list[int]] = {}
        for number in sorted(self.unread):
            by_reason.setdefault(self.unread[number], []).append(number)
        return "; ".join(f"{page_list(numbers)} ({reason})" for reason, numbers in by_reason.items())


def page_list(numbers: Sequence[int]) -> str:
    """'page 3' or 'pages 2, 5–7': sorted page numbers with runs collapsed."""
    runs = []
    for _, group in groupby(enumerate(sorted(numbers)), key=lambda pair: pair[1] - pair[0]):
        run = [number for _, number in group]
        runs.append(str(run[0]) if len(run) == 1 else f"{run[0]}–{run[-1]}")
    return f"page {runs[0]}" if len(numbers) == 1 else f"pages {', '.join(runs)}"


def find_tesseract(languages: str) -> Tesseract | str:
    """The engine with every language asked for, or why it cannot run and how to install what is missing.

    Asked once per file, not once per process: Tesseract may be installed while the app runs.
    """
    import pytesseract

    try:
        installed = set(pytesseract.get_languages())
        version = str(pytesseract.get_tesseract_version(cached=True))
    except pytesseract.TesseractNotFoundError:
        return f"Tesseract, which reads scanned pages, is not installed; {INSTALL_HINT}"
    missing = [name for name in languages.split("+") if name not in installed]
    if missing:
        packages = " ".join(f"tesseract-ocr-{name.replace('_', '-')}" for name in missing)
        return (f"Tesseract has no language data for {', '.join(missing)} (ASSISTANT_OCR_LANGUAGES={languages}); "
                f"install it (Debian/Ubuntu: apt-get install {packages}) and add the file again")
    return Tesseract(version, languages)


def recognise_pages(numbers: Sequence[int], render: Callable[[int], Image.Image | str], label: str,
                    limits: Limits, engine: Tesseract) -> OcrResult:
    """OCR the pages ``numbers``, pictured by ``render`` (or not: it says why), within the file's budgets.

    Pages past the page budget, and pages not finished when the time budget runs out, are
    recorded as unread with the setting to raise; those read so far are kept.
    """
    options = limits.ocr
    result = OcrResult(engine)
    deadline = time.monotonic() + options.timeout
    name = Path(label).name or label
    _report(limits.progress, 0, len(numbers), f"OCR of {name}")
    for done, number in enumerate(numbers):
        if done >= options.max_pages:
            reason = f"not reached: the OCR page budget, ASSISTANT_OCR_MAX_PAGES, is {options.max_pages} per file"
            result.unread.update(dict.fromkeys(numbers[done:], reason))
            break
        outcome = _read_page(render, number, engine, options, deadline)
        if outcome is None:
            reason = f"not reached: the OCR time budget, ASSISTANT_OCR_TIMEOUT, is {options.timeout:g} s per file"
            result.unread.update(dict.fromkeys(numbers[done:], reason))
            break
        if isinstance(outcome, OcrPage):
            result.pages.append(outcome)
        elif outcome:
            result.unread[number] = outcome
        _report(limits.progress, done + 1, len(numbers), f"OCR of {name}, page {number}")
    return result


def _report(progress: PageProgress | None, done: int, total: int, message: str) -> None:
    if progress is not None:
        progress(done, total, message)


def _read_page(render: Callable[[int], Image.Image | str], number: int, engine: Tesseract, options: OcrOptions,
               deadline: float) -> OcrPage | str | None:
    """The page read, or why it is unread ("" for a blank page, which needs no warning), or None when
    the time budget ran out before or while Tesseract read it (it is killed then).

    The page is read with the first language alone, and read again with all of them when that
    reading is mostly Latin letters; the reading with the higher confidence is kept. Tesseract given
    chi_sim+eng at once misread whole short Chinese lines as English ("AM GAT ATA we."): on clean law
    pages chi_sim alone scored 0.982 against 0.951, while English pages need eng (0.999 against 0.989).
    """
    if time.monotonic() >= deadline:
        return None
    picture = render(number)
    if isinstance(picture, str):
        return picture
    primary = engine.languages.split("+")[0]
    reading = _tesseract(picture, primary, deadline)
    if isinstance(reading, tuple) and primary != engine.languages and _mostly_latin(reading[0]):
        again = _tesseract(picture, engine.languages, deadline)
        if isinstance(again, tuple) and (again[1] or 0) > (reading[1] or 0):
            reading = again
    if not isinstance(reading, tuple):
        return reading
    text, confidence = reading
    if not text or confidence is None:
        return "" if is_blank(picture) else "no text recognised"
    if confidence < options.min_confidence:
        return (f"recognised with {confidence:.0f}% confidence, under the ASSISTANT_OCR_MIN_CONFIDENCE "
                f"of {options.min_confidence:g}%")
    return OcrPage(number, text, confidence)


def _tesseract(image: Image.Image, languages: str, deadline: float) -> tuple[str, float | None] | str | None:
    """One Tesseract run: (cleaned text, mean confidence), why it failed, or None when it ran out of time."""
    import pytesseract

    seconds = deadline - time.monotonic()
    if seconds <= 0:
        return None
    # pytesseract starts Tesseract with this environment. One thread: Tesseract's OpenMP threads
    # compete with the encoder and other requests for the cores, which made a page 2.6x slower
    # (11.7 s against 4.5 s on 2 cores, bench/ocr.py); the environment is taken afresh so PATH changes count.
    pytesseract.pytesseract.environ = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    try:
        raw, tsv = pytesseract.run_and_get_multiple_output(
            image, extensions=["txt", "tsv"], lang=languages, timeout=seconds)
    except pytesseract.TesseractNotFoundError:
        return f"Tesseract is no longer installed; {INSTALL_HINT}"
    except pytesseract.TesseractError as exc:
        return f"Tesseract failed: {' '.join(str(exc.message).split())[:160]}"
    except RuntimeError:  # pytesseract's "Tesseract process timeout", after killing it
        return None
    return clean_text(raw), mean_confidence(tsv)


def _mostly_latin(text: str) -> bool:
    """Whether a reading holds more Latin letters than CJK characters: an English page, or a misread one."""
    latin = sum(1 for ch in text if ch.isascii() and ch.isalpha())
    return latin > len(_CJK_CHAR.findall(text))


def clean_text(raw: str) -> str:
    """Tesseract's text as the document stores it: no spaces between Hanzi, Chinese lines unwrapped.

    Tesseract separates the characters it recognised as separate words by spaces, and ends every
    printed line with a line break; in Chinese both split words that the keyword index and the
    reader expect whole ("长 江 流\n域"). So spaces between two CJK characters go, and so does a
    line break between two, unless the line ends a sentence (。！？；：) or the next one starts a
    heading. A space after a leading 第…条/章/节/编 is kept: printed laws set one there, and it is
    what marks an article (or chapter) heading for chunking and citations. Everything is decided
    here, before any offset exists, so the stored text is this cleaned text and every page span,
    chunk and citation is an exact slice of it.
    """
    lines: list[str] = []
    for line in raw.replace("\r\n", "\n").replace("\f", "\n").split("\n"):
        line = line.strip()
        mark = _STRUCTURE_MARK.match(line)
        if mark:  # "第 一 条 为 了" -> "第一条 为了"
            line = f"{_SPACES.sub('', mark.group())} {_SPACE_IN_CJK.sub('', line[mark.end():].lstrip())}"
        else:
            line = _SPACE_IN_CJK.sub("", line)
        if lines and _wrapped(lines[-1], line):
            lines[-1] += line
        else:
            lines.append(line)
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _wrapped(line: str, following: str) -> bool:
    """Whether ``following`` continues a Chinese sentence that the printed line broke."""
    return (bool(line) and bool(following) and _CJK_CHAR.match(line[-1]) is not None
            and line[-1] not in _SENTENCE_END and _CJK_CHAR.match(following[0]) is not None
            and not _HEAD_START.match(following))


def mean_confidence(tsv: str) -> float | None:
    """Tesseract's mean word confidence (0-100) from its TSV output; None when it found no words."""
    scores = []
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) == 12 and cells[0] == "5" and cells[11].strip():
            score = float(cells[10])
            if score >= 0:
                scores.append(score)
    return sum(scores) / len(scores) if scores else None


def is_blank(image: Image.Image) -> bool:
    """Whether a page holds (almost) no ink: an empty scan, which needs no warning when no text is found."""
    histogram = image.convert("L").histogram()
    return sum(histogram[:_INK_LEVEL]) < _BLANK_INK_SHARE * sum(histogram)
