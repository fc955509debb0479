"""What the format readers and ``files`` share: the shape of a reader's result (``Parsed``), the
per-file ``Limits``, and the text rules that keep offsets valid and text storable.

It imports no other module of the package, so every reader can build on it without the readers
knowing about each other or about the dispatch in ``files``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.documents import PageSpan
from assistant.errors import LoadError

if TYPE_CHECKING:
    from assistant.settings import Settings

MB = 1024 * 1024
BLOCK_SEP = "\n\n"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: SQLite, Chroma and JSON reject them


@dataclass
class Parsed:
    """What a format reader found, before the shared title/language rules are applied."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    title: str | None = None  # the format's own title (PDF info, DOCX Title style, HTML <title>)
    pages: tuple[PageSpan, ...] = ()


PageProgress = Callable[[int, int, str], None]
"""Called as progress(done, total, message) while the pages of one file are recognised by OCR."""


@dataclass(frozen=True)
class OcrOptions:
    """How pages without a text layer are recognised, and the budget one file's OCR may spend.

    The budgets exist because OCR costs seconds per page where every other reader costs
    milliseconds: a 500-page scanned book must not hold a worker (or a web request) for an hour.
    """

    languages: str = "chi_sim+eng"  # Tesseract's: each page is read with the first, again with all if mostly Latin
    dpi: int = 300  # PDF pages are rendered at this resolution for OCR
    max_pages: int = 100  # pages recognised per file; the rest are named in a warning
    timeout: float = 600.0  # seconds of OCR per file; pages not reached by then are named in a warning
    min_confidence: float = 40.0  # a page whose mean word confidence is lower counts as unreadable

    @classmethod
    def from_settings(cls, settings: Settings) -> OcrOptions:
        return cls(languages=settings.ocr_languages, dpi=settings.ocr_dpi, max_pages=settings.ocr_max_pages,
                   timeout=settings.ocr_timeout, min_confidence=settings.ocr_min_confidence)


@dataclass(frozen=True)
class Limits:
    """What reading one file may cost (bytes on disk, and via them unpacked DOCX size; PDF pages; OCR's
    budget) and whom to tell about the slow part: the readers that run OCR report each page to ``progress``."""

    max_mb: float
    max_pages: int
    ocr: OcrOptions = OcrOptions()
    progress: PageProgress | None = None


def human_size(size: int) -> str:
    if size >= MB / 10:
        return f"{size / MB:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} bytes"


def short(exc: BaseException) -> str:
    """An exception as one short line for a user-facing message."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return message[:160]


def require_text(text: str, label: str) -> str:
    """The text with trailing whitespace removed, refusing files that hold nothing else."""
    text = text.rstrip()
    if not text.strip():
        raise LoadError(label, "the file holds only whitespace, no text")
    return text


def normalize(text: str) -> str:
    """Unify line ends and drop a BOM, so offsets mean the same on every platform.

    NUL characters (which some PDF fonts extract) are removed here, before any offset is
    recorded, because no store or UI can hold them.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    return clean(text.replace("\r\n", "\n").replace("\r", "\n"))


def storable(text: str) -> str:
    """``text`` with any NUL or lone surrogate replaced one-for-one by U+FFFD, so offsets stay valid.

    The readers remove NULs already; this is the last guard before text reaches the store.
    """
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def clean(value: str) -> str:
    """A metadata string or title without NULs and lone surrogates (no offsets point into these)."""
    return storable(value.replace("\x00", ""))


def join_pages(page_texts: list[str]) -> tuple[str, tuple[PageSpan, ...]]:
    """Join non-empty pages with a blank line; blank pages get no span (nothing to cite there).

    Page numbers are positions in ``page_texts`` (1-based), so a skipped page keeps the numbers
    of the pages after it true to the file.
    """
    parts: list[str] = []
    spans: list[PageSpan] = []
    pos = 0
    for number, raw in enumerate(page_texts, start=1):
        page = normalize(raw).strip()
        if not page:
            continue
        if parts:
            pos += len(BLOCK_SEP)
        spans.append(PageSpan(number=number, start=pos, end=pos + len(page)))
        parts.append(page)
        pos += len(page)
    return BLOCK_SEP.join(parts), tuple(spans)
