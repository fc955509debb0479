"""From paths to Documents: the package's public API and the steps every format goes through.

``discover`` turns what the user named into the files to load. ``load_document`` checks a file
before reading a byte, reads it within the size limit, hands the bytes to the reader for its
suffix, and applies the shared rules to what the reader found: the title, the language and
text and metadata that every store can hold.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from assistant.documents import Document
from assistant.errors import LoadError
from assistant.loading.common import MB, Limits, OcrOptions, PageProgress, Parsed, clean, human_size, storable
from assistant.loading.docx import read_docx
from assistant.loading.html import read_html
from assistant.loading.image import read_image
from assistant.loading.pdf import read_pdf
from assistant.loading.text import read_markdown, read_txt
from assistant.text import detect_language

IMAGE_SUFFIXES: frozenset[str] = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm", *IMAGE_SUFFIXES})
_READERS: dict[str, Callable[[bytes, str, Limits], Parsed]] = {
    ".txt": read_txt,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".html": read_html,
    ".htm": read_html,
    **dict.fromkeys(IMAGE_SUFFIXES, read_image),
}

_TITLE_MAX = 200


# --------------------------------------------------------------------------- public API


def load_document(
    path: str | Path, *, max_mb: float = 50.0, max_pages: int = 2000, source: str | None = None,
    ocr: OcrOptions | None = None, progress: PageProgress | None = None,
) -> Document:
    """Load one file into a Document, or raise LoadError saying why it cannot be used.

    ``max_mb`` bounds the file on disk (checked before reading) and ``max_pages`` a PDF's
    page count (checked before any text is extracted), so a hostile file costs little.
    ``source`` defaults to the absolute path; the web UI passes the uploaded file's name
    instead, and that name is then also what error messages show (the temp path would mean
    nothing to the user). Scanned PDF pages and images are read by OCR as ``ocr`` says
    (``OcrOptions.from_settings``), within its page and time budget, telling ``progress`` after
    each page: OCR takes seconds a page, so a caller shows it. Pages OCR could not read are
    named in ``metadata["warnings"]``, and the Document holds the others.
    """
    file = Path(path).expanduser()
    label = source if source is not None else str(path)
    _check_file(file, label, max_mb)
    data = _read_bytes(file, label, max_mb)
    reader = _READERS[file.suffix.lower()]
    parsed = reader(data, label, Limits(max_mb, max_pages, ocr or OcrOptions(), progress))
    if not parsed.text:
        raise LoadError(label, "no text found in the file")
    metadata = {**parsed.metadata, "size_bytes": len(data)}
    return Document(
        text=storable(parsed.text),
        source=source if source is not None else str(file.resolve()),
        title=clean(_choose_title(parsed)),
        language=_choose_language(parsed),
        metadata=_clean_metadata(metadata),
        pages=parsed.pages,
    )


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[LoadError]]:
    """Expand files and folders into the files to load, plus an error per unusable path.

    Folders are walked recursively in sorted order, keeping supported types only and
    skipping hidden entries, Office lock files and README.md (it describes the folder, it
    is not a policy text). Explicitly named files are always kept so that load_document can
    explain what is wrong with them. One bad path never stops the others. Paths keep the
    form they were given in (callers key upload names by them); duplicates are detected on
    the resolved path.
    """
    files: list[Path] = []
    errors: list[LoadError] = []
    seen: set[Path] = set()
    for raw in paths:
        for file in _expand(raw, errors):
            key = file.resolve()
            if key not in seen:  # the same file named twice, or via a folder and directly
                seen.add(key)
                files.append(file)
    return files, errors


# --------------------------------------------------------------------------- discovery


def _expand(raw: str | Path, errors: list[LoadError]) -> list[Path]:
    """The files one user-given path stands for; problems are appended to ``errors``."""
    if str(raw).strip() == "":
        errors.append(LoadError(str(raw), "empty path"))
        return []
    path = Path(raw).expanduser()
    if path.is_dir():
        found = _walk(path, errors)
        if not found:
            errors.append(LoadError(str(raw), f"folder holds no supported files (looked for {_suffix_list()})"))
        return found
    if path.is_file():
        return [path]
    if path.exists():  # a pipe, socket or device: reading it could block or never end
        errors.append(LoadError(str(raw), "not a regular file (a pipe, socket or device); save its contents to a file"))
        return []
    errors.append(LoadError(str(raw), "no such file or folder"))
    return []


def _walk(folder: Path, errors: list[LoadError]) -> list[Path]:
    """Supported, non-hidden, non-README files under ``folder``, sorted by relative path."""

    def on_error(exc: OSError) -> None:
        errors.append(LoadError(str(exc.filename or folder), f"cannot open folder ({exc.strerror or exc})"))

    found: list[Path] = []
    for root, dirs, names in os.walk(folder, onerror=on_error):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(root) / name for name in names if _wanted_in_folder(name))
    return sorted(found, key=lambda p: p.relative_to(folder).parts)


def _wanted_in_folder(name: str) -> bool:
    """Whether a file met while walking a folder is a document we should load."""
    if name.startswith((".", "~$")) or name.lower() == "readme.md":
        return False
    return Path(name).suffix.lower() in SUPPORTED_SUFFIXES


def _suffix_list() -> str:
    return ", ".join(sorted(SUPPORTED_SUFFIXES))


# --------------------------------------------------------------------------- reading


def _check_file(file: Path, label: str, max_mb: float) -> None:
    """Refuse missing paths, folders, unknown types and oversized files before reading a byte."""
    if not file.exists():
        raise LoadError(label, "no such file or folder")
    if file.is_dir():
        raise LoadError(label, "is a folder, not a file (pass it to discover() to load what it holds)")
    suffix = file.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = f"'{suffix}'" if suffix else "without an extension"
        raise LoadError(label, f"unsupported file type {shown} (supported: {_suffix_list()})")
    if not file.is_file():  # a pipe or device would block or never end when read
        raise LoadError(label, "not a regular file (a pipe, socket or device); save its contents to a file")
    size = file.stat().st_size
    if size > max_mb * MB:
        raise LoadError(label, f"file is {human_size(size)}, over the {max_mb:g} MB limit")
    if size == 0:
        raise LoadError(label, "the file is empty")


def _read_bytes(file: Path, label: str, max_mb: float) -> bytes:
    """Read the file, never more than the limit even if it grew since it was checked."""
    limit = int(max_mb * MB)
    try:
        with file.open("rb") as handle:
            expected = os.fstat(handle.fileno()).st_size
            data = handle.read(min(expected, limit) + 1)  # read(n) allocates n bytes up front: never ask for more
            if expected < len(data) <= limit:  # it grew since it was checked
                data += handle.read(limit + 1 - len(data))
    except OSError as exc:
        raise LoadError(label, f"cannot read the file ({exc.strerror or exc})") from exc
    if len(data) > limit:
        raise LoadError(label, f"file is over the {max_mb:g} MB limit")
    if not data:
        raise LoadError(label, "the file is empty")
    return data


# --------------------------------------------------------------------------- title, language and metadata


def _choose_title(parsed: Parsed) -> str:
    """Front matter title, else the format's own title, else the first line of text."""
    given = parsed.metadata.get("title")
    if given is not None and str(given).strip():
        return " ".join(str(given).split())[:_TITLE_MAX]
    if parsed.title:
        return parsed.title[:_TITLE_MAX]
    return _first_line(parsed.text)


def _first_line(text: str) -> str:
    for line in text.split("\n"):
        line = line.strip().lstrip("#").strip()
        if line:
            return line[:_TITLE_MAX]
    return ""


def _choose_language(parsed: Parsed) -> str:
    """The declared language when it is one we support (zh-CN counts as zh), else detected."""
    declared = str(parsed.metadata.get("language") or "").strip().lower().replace("_", "-").split("-")[0]
    return declared if declared in {"zh", "en"} else detect_language(parsed.text)


def _clean_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata whose keys and string values the store can hold (front matter may contain anything)."""

    def clean_value(value: Any) -> Any:
        if isinstance(value, str):
            return clean(value)
        if isinstance(value, list):
            return [clean_value(item) for item in value]
        return value

    return {clean(str(key)): clean_value(value) for key, value in metadata.items()}
