"""What the format readers and ``files`` share: the shape of a reader's result (``Parsed``), the
per-file ``Limits``, and the text rules that keep offsets valid and text storable.

It imports no other module of the package, so every reader can build on it without the readers
knowing about each other or about the dispatch in ``files``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from assistant.documents import PageSpan
from assistant.errors import LoadError

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


@dataclass(frozen=True)
class Limits:
    """How much one file may cost: bytes on disk (and, via them, unpacked DOCX size) and PDF pages."""

    max_mb: float
    max_pages: int


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
