"""Turn files on disk into Documents: the first step of load → chunk → embed → store → retrieve → answer.

Every later step indexes into ``Document.text``, so this module decides that text once,
per format, and never touches it again. Anything a user can hand us by mistake (a scanned
PDF, a renamed spreadsheet, a GBK text file, a truncated download) must end in a
``LoadError`` whose reason tells them what is wrong and what to do, never in a traceback
or, worse, in silently indexed garbage.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import os
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, AnyStr

import yaml

from assistant.documents import Document, PageSpan
from assistant.text import detect_language

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm"})

_MB = 1024 * 1024
_TITLE_MAX = 200
_BLOCK_SEP = "\n\n"
_ALLOWED_CONTROLS = frozenset("\n\t\r\f")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: SQLite, Chroma and JSON reject them
_MAX_NUL_SHARE = 0.01  # more NUL bytes than this share of a text file means binary data, not stray NULs
_UTF16_MIN_NUL_SHARE = 0.2  # UTF-16 text without BOM: this share of 2-byte units holds a zero byte on one side
_FRONT_MATTER_MAX_CHARS = 64 * 1024
_FRONT_MATTER_MAX_DEPTH = 32
_DOCX_MAX_ENTRIES = 10_000
_DOCX_MIN_UNPACKED_MB = 200  # a real DOCX, images and all, unpacks to little more than its own size
_DOCX_MAX_RATIO = 100  # Word XML compresses about 10:1; 100:1 over a few MB is a bomb
_DOCX_RATIO_FLOOR = 5 * 1024 * 1024  # members smaller than this may compress any amount (styles, repeated rows)


class LoadError(Exception):
    """A file that cannot become a Document, with a reason meant for the person who supplied it."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Keep (path, reason) when pickled, e.g. across a process pool."""
        return (type(self), (self.path, self.reason))


@dataclass
class _Parsed:
    """What a format reader found, before the shared title/language rules are applied."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)
    title: str | None = None  # the format's own title (PDF info, DOCX Title style, HTML <title>)
    pages: tuple[PageSpan, ...] = ()


@dataclass(frozen=True)
class _Limits:
    """How much one file may cost: bytes on disk (and, via them, unpacked DOCX size) and PDF pages."""

    max_mb: float
    max_pages: int


# --------------------------------------------------------------------------- public API


def load_document(
    path: str | Path, *, max_mb: float = 50.0, max_pages: int = 2000, source: str | None = None
) -> Document:
    """Load one file into a Document, or raise LoadError saying why it cannot be used.

    ``max_mb`` bounds the file on disk (checked before reading) and ``max_pages`` a PDF's
    page count (checked before any text is extracted), so a hostile file costs little.
    ``source`` defaults to the absolute path; the web UI passes the uploaded file's name
    instead, and that name is then also what error messages show (the temp path would mean
    nothing to the user).
    """
    file = Path(path).expanduser()
    label = source if source is not None else str(path)
    _check_file(file, label, max_mb)
    data = _read_bytes(file, label, max_mb)
    reader = _READERS[file.suffix.lower()]
    parsed = reader(data, label, _Limits(max_mb, max_pages))
    if not parsed.text:
        raise LoadError(label, "no text found in the file")
    metadata = {**parsed.metadata, "size_bytes": len(data)}
    return Document(
        text=_storable(parsed.text),
        source=source if source is not None else str(file.resolve()),
        title=_clean(_choose_title(parsed)),
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
    if size > max_mb * _MB:
        raise LoadError(label, f"file is {_human_size(size)}, over the {max_mb:g} MB limit")
    if size == 0:
        raise LoadError(label, "the file is empty")


def _read_bytes(file: Path, label: str, max_mb: float) -> bytes:
    """Read the file, never more than the limit even if it grew since it was checked."""
    limit = int(max_mb * _MB)
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


def _human_size(size: int) -> str:
    if size >= _MB / 10:
        return f"{size / _MB:.1f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} bytes"


# --------------------------------------------------------------------------- text helpers


def _normalize(text: str) -> str:
    """Unify line ends and drop a BOM, so offsets mean the same on every platform.

    NUL characters (which some PDF fonts extract) are removed here, before any offset is
    recorded, because no store or UI can hold them.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    return _clean(text.replace("\r\n", "\n").replace("\r", "\n"))


def _storable(text: str) -> str:
    """``text`` with any NUL or lone surrogate replaced one-for-one by U+FFFD, so offsets stay valid.

    The readers remove NULs already; this is the last guard before text reaches the store.
    """
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


def _clean(value: str) -> str:
    """A metadata string or title without NULs and lone surrogates (no offsets point into these)."""
    return _storable(value.replace("\x00", ""))


def _clean_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata whose keys and string values the store can hold (front matter may contain anything)."""

    def clean_value(value: Any) -> Any:
        if isinstance(value, str):
            return _clean(value)
        if isinstance(value, list):
            return [clean_value(item) for item in value]
        return value

    return {_clean(str(key)): clean_value(value) for key, value in metadata.items()}


def _control_count(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS)


def _decode_text(data: bytes, label: str, suffix: str) -> tuple[str, dict[str, Any]]:
    """Decode a plain-text file: (text, metadata saying how), or a LoadError saying what to do.

    UTF-16/32 are decoded when a byte-order mark (or, for UTF-16, the telltale zero bytes of
    mostly-ASCII text) says so. Otherwise the text is UTF-8, falling back to GB18030 only for
    text that is clearly Chinese: other legacy encodings are refused rather than guessed, since
    a wrong guess would index mojibake. A few stray NUL bytes are dropped; more mean binary data.
    """
    unicode = _decode_unicode(data, label)
    if unicode is not None:
        text, removed = _drop_stray_nuls(unicode[0], label, "a text file", suffix)
        encoding = unicode[1]
    else:
        data, removed = _drop_stray_nuls(data, label, "a text file", suffix)
        try:
            text, encoding = data.decode("utf-8-sig"), "utf-8"
        except UnicodeDecodeError as exc:
            text, encoding = _decode_chinese(data, label, exc), "gb18030"
    text = _normalize(text)
    if text and _control_count(text) > 0.1 * len(text):
        raise LoadError(label, f"binary data in a text file (control characters); is it really {suffix}?")
    metadata: dict[str, Any] = {"encoding": encoding}
    if removed:
        metadata["nul_bytes_removed"] = removed
    return text, metadata


_UNICODE_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xfe\x00\x00", "utf-32"),  # before UTF-16 LE, whose mark it starts with
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _decode_unicode(data: bytes, label: str) -> tuple[str, str] | None:
    """(text, encoding) for UTF-16/UTF-32 data, None for anything else (UTF-8 and legacy encodings).

    With a byte-order mark the file says what it is, so invalid UTF-16 (odd length, lone
    surrogate) is a LoadError rather than text with holes. Without one, UTF-16 is only a
    guess from the zero bytes; a guess that does not decode cleanly is dropped, and the NUL
    check that follows then refuses the file as binary, hinting at UTF-16.
    """
    for bom, codec in _UNICODE_BOMS:
        if data.startswith(bom):
            if codec == "utf-32" and len(data) % 4:
                continue  # a UTF-16 LE file whose first character is U+0000, or garbage: try UTF-16
            return _decode_strict(data, codec, label)
    guessed = _sniff_utf16(data)
    if guessed is None or len(data) % 2:
        return None  # a guess that cannot hold: treated as 8-bit data (whose NULs mean binary)
    try:
        text = data.decode(guessed)
    except UnicodeDecodeError:
        return None
    return (text, guessed) if _control_count(text) <= 0.1 * len(text) else None


def _decode_strict(data: bytes, codec: str, label: str) -> tuple[str, str]:
    """Decode UTF-16/32 that has a byte-order mark strictly, naming the problem (odd length, bad surrogate)."""
    unit = 4 if codec == "utf-32" else 2
    name = codec.upper()
    if len(data) % unit:
        reason = f"the file is marked as {name} but its length is not a whole number of characters (truncated?)"
        raise LoadError(label, f"{reason}; save it as UTF-8")
    try:
        return data.decode(codec), codec
    except UnicodeDecodeError as exc:
        reason = f"invalid {name}: {exc.reason} at byte {exc.start}; save it as UTF-8"
        raise LoadError(label, reason) from None


def _sniff_utf16(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when zero bytes fill one side of many 2-byte units and almost never the other.

    That pattern is what ASCII-heavy UTF-16 looks like; random binary data has zeros on both sides.
    """
    units = len(data) // 2
    if b"\x00" not in data:  # the common case, without copying the data twice
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    if units and odd >= _UTF16_MIN_NUL_SHARE * units and even * 8 <= odd:
        return "utf-16-le"
    if units and even >= _UTF16_MIN_NUL_SHARE * units and odd * 8 <= even:
        return "utf-16-be"
    return None


def _looks_like_utf16(data: bytes) -> bool:
    """A weaker hint than _sniff_utf16, only used to word an error: zeros sit on one side of the units."""
    even, odd = data[0::2].count(0), data[1::2].count(0)
    return max(even, odd) >= 2 and min(even, odd) * 8 <= max(even, odd)


def _drop_stray_nuls(content: AnyStr, label: str, kind: str, expected: str) -> tuple[AnyStr, int]:
    """``content`` without NULs when they are a few strays (an editor glitch); refused when they are many.

    Works on raw bytes and on text decoded from UTF-16/32 (where NUL is a character). NUL never
    reaches the stored text: SQLite, Chroma and browsers all mishandle it.
    """
    nul = b"\x00" if isinstance(content, bytes) else "\x00"
    count = content.count(nul)  # type: ignore[arg-type]
    if not count:
        return content, 0
    if count > _MAX_NUL_SHARE * len(content):
        utf16 = isinstance(content, bytes) and _looks_like_utf16(content)
        hint = " (if it is UTF-16 text without a byte-order mark, save it as UTF-8)" if utf16 else ""
        raise LoadError(label, f"binary data in {kind} (NUL bytes); is it really {expected}?{hint}")
    return content.replace(nul, content[:0]), count  # type: ignore[arg-type]


def _decode_chinese(data: bytes, label: str, utf8_error: UnicodeDecodeError) -> str:
    """GB18030 text, or a LoadError pointing at the first byte that is not UTF-8."""
    bad = data[utf8_error.start]
    reason = f"not valid UTF-8 (invalid byte 0x{bad:02x} at offset {utf8_error.start}); save it as UTF-8"
    try:
        text = _normalize(data.decode("gb18030"))
    except UnicodeDecodeError:
        raise LoadError(label, reason) from None
    strange_controls = any(unicodedata.category(ch) == "Cc" and ch not in "\n\t" for ch in text)
    if strange_controls or detect_language(text) != "zh":
        raise LoadError(label, reason)
    return text


def _require_text(text: str, label: str) -> str:
    """The text with trailing whitespace removed, refusing files that hold nothing else."""
    text = text.rstrip()
    if not text.strip():
        raise LoadError(label, "the file holds only whitespace, no text")
    return text


def _jsonable(value: Any) -> Any:
    """A metadata value that any store accepts: a scalar, or a list of scalars."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_scalar(item) for item in value]
    return _scalar(value)


def _scalar(value: Any) -> Any:
    """A JSON scalar for one value; dates become ISO strings, mappings JSON text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return json.dumps(value, ensure_ascii=False, default=_json_default, sort_keys=isinstance(value, dict))
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)


# --------------------------------------------------------------------------- plain text and markdown

_FRONT_MATTER_OPEN = re.compile(r"---[ \t]*\n")
_FRONT_MATTER_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*\n)+")
_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def _read_txt(data: bytes, label: str, limits: _Limits) -> _Parsed:
    """Plain text: decoded, line ends unified, stray NULs dropped, nothing else changed."""
    text, decoding = _decode_text(data, label, ".txt")
    return _Parsed(_require_text(text, label), {"format": "txt", **decoding})


def _read_markdown(data: bytes, label: str, limits: _Limits) -> _Parsed:
    """Markdown: YAML front matter becomes metadata, the body is the text (markup kept, for headings)."""
    text, decoding = _decode_text(data, label, ".md")
    front, body = _split_front_matter(text, label)
    blank = _LEADING_BLANK_LINES.match(body)
    body = body[blank.end() :] if blank else body
    if not body.strip() and front:
        raise LoadError(label, "the file has front matter but no text")
    metadata = {**front, "format": "markdown", **decoding}
    return _Parsed(_require_text(body, label), metadata, title=_markdown_h1(body))


def _split_front_matter(text: str, label: str) -> tuple[dict[str, Any], str]:
    """(front matter as JSON-safe metadata, body). Without a closing fence, it is all body."""
    opening = _FRONT_MATTER_OPEN.match(text)
    if not opening:
        return {}, text
    closing = _FRONT_MATTER_CLOSE.search(text, opening.end())
    if not closing:
        return {}, text
    source = text[opening.end() : closing.start()]
    try:
        _check_yaml_shape(source, label)
        loaded = yaml.safe_load(source)  # safe: tags such as !!python/object are refused, never run
    except yaml.YAMLError as exc:
        raise LoadError(label, f"invalid YAML front matter: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise LoadError(label, "invalid YAML front matter: nested too deeply") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise LoadError(label, f"invalid YAML front matter: expected 'key: value' pairs, got a {type(loaded).__name__}")
    front = {str(key): _jsonable(value) for key, value in loaded.items()}
    return front, text[closing.end() :].removeprefix("\n")


def _check_yaml_shape(source: str, label: str) -> None:
    """Refuse front matter that would be costly to build: too long, nested too deep, or using aliases.

    PyYAML builds nested collections recursively (deep nesting is a RecursionError), and
    aliases let a few lines expand into gigabytes of metadata (a "billion laughs"). Front
    matter holds a title and a few tags, so none of this is needed; the events are read
    without building anything.
    """
    if len(source) > _FRONT_MATTER_MAX_CHARS:
        size = _human_size(len(source.encode("utf-8")))
        reason = f"front matter is {size}, over the {_FRONT_MATTER_MAX_CHARS // 1024} KB limit; move the text below it"
        raise LoadError(label, reason)
    depth = 0
    for event in yaml.parse(source, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            reason = f"YAML aliases (*{event.anchor}) are not supported in front matter; write the value out"
            raise LoadError(label, reason)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > _FRONT_MATTER_MAX_DEPTH:
                reason = f"front matter is nested more than {_FRONT_MATTER_MAX_DEPTH} levels deep; flatten it"
                raise LoadError(label, reason)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A one-line YAML error with its line number inside the front matter."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 2} of the file)" if mark is not None else str(problem)


def _markdown_h1(body: str) -> str | None:
    """Text of the first level-1 ATX heading outside code fences."""
    in_fence = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _ATX_H1.match(line)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return None


# --------------------------------------------------------------------------- PDF


def _read_pdf(data: bytes, label: str, limits: _Limits) -> _Parsed:
    """PDF: page texts joined by blank lines, with each page's span recorded for page citations."""
    if b"%PDF" not in data[:1024]:
        raise LoadError(label, "not a PDF file (no %PDF header)")
    if b"%%EOF" not in data:
        raise LoadError(label, "corrupt or truncated PDF: the end-of-file marker is missing (incomplete download?)")
    page_texts, info = _pdf_pages(data, label, limits.max_pages)
    text, spans = _join_pages(page_texts)
    if not text:
        raise LoadError(label, "PDF has no text layer (scanned image?); run OCR first")
    metadata: dict[str, Any] = {"format": "pdf", "page_count": len(page_texts)}
    for key in ("author", "subject"):
        if info.get(key):
            metadata[key] = info[key]
    return _Parsed(text, metadata, title=info.get("title"), pages=spans)


def _pdf_pages(data: bytes, label: str, max_pages: int) -> tuple[list[str], dict[str, str]]:
    """Extracted text of every page plus the document info, mapping pypdf's failures to LoadErrors.

    The page count is checked before any text is extracted: extraction is the slow part, and
    a PDF of many thousand pages would hold a worker for minutes.
    """
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(label, "PDF is password-protected; remove the password and try again")
        count = len(reader.pages)
        if count > max_pages:
            reason = (
                f"PDF has {count} pages, over the {max_pages}-page limit (ASSISTANT_MAX_PAGES); "
                "split it into parts or raise the limit"
            )
            raise LoadError(label, reason)
        texts = [page.extract_text() or "" for page in reader.pages]
        info = _pdf_info(reader)
    except LoadError:
        raise
    except (FileNotDecryptedError, DependencyError) as exc:
        reason = f"PDF is encrypted and cannot be opened ({_short(exc)}); save an unprotected copy"
        raise LoadError(label, reason) from None
    except Exception as exc:  # pypdf raises PdfReadError and many other types on damaged files
        raise LoadError(label, f"corrupt or truncated PDF: {_short(exc)}") from None
    if not texts:
        raise LoadError(label, "PDF has no pages")
    return texts, info


def _pdf_info(reader: Any) -> dict[str, str]:
    """Title/author/subject from the PDF info dictionary, ignoring empty or placeholder values."""
    try:
        meta = reader.metadata
    except Exception:  # a broken info dictionary must not cost us the text
        return {}
    info: dict[str, str] = {}
    for key in ("title", "author", "subject"):
        value = getattr(meta, key, None) if meta is not None else None
        if isinstance(value, str) and value.strip() and value.strip().lower() not in {"untitled", "title"}:
            info[key] = " ".join(_clean(value).split())
    return info


def _join_pages(page_texts: list[str]) -> tuple[str, tuple[PageSpan, ...]]:
    """Join non-empty pages with a blank line; blank pages get no span (nothing to cite there)."""
    parts: list[str] = []
    spans: list[PageSpan] = []
    pos = 0
    for number, raw in enumerate(page_texts, start=1):
        page = _normalize(raw).strip()
        if not page:
            continue
        if parts:
            pos += len(_BLOCK_SEP)
        spans.append(PageSpan(number=number, start=pos, end=pos + len(page)))
        parts.append(page)
        pos += len(page)
    return _BLOCK_SEP.join(parts), tuple(spans)


def _short(exc: BaseException) -> str:
    """An exception as one short line for a user-facing message."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return message[:160]


# --------------------------------------------------------------------------- DOCX


def _read_docx(data: bytes, label: str, limits: _Limits) -> _Parsed:
    """DOCX: paragraphs and table rows in body order, one block each; headings stay plain lines."""
    document = _open_docx(data, label, limits)
    blocks, title_style, heading1 = _docx_blocks(document, label)
    core_title, author = _docx_core(document)
    metadata: dict[str, Any] = {"format": "docx"}
    if author:
        metadata["author"] = author
    title = title_style or heading1 or core_title or None
    return _Parsed(_require_text(_BLOCK_SEP.join(blocks), label), metadata, title=title)


def _docx_core(document: Any) -> tuple[str, str]:
    """(title, author) from the core properties; a damaged properties part must not cost us the text."""
    try:
        core = document.core_properties
        return (core.title or "").strip(), (core.author or "").strip()
    except Exception:  # python-docx fails with AttributeError, ValueError... on a malformed docProps/core.xml
        return "", ""


def _open_docx(data: bytes, label: str, limits: _Limits) -> Any:
    """The python-docx Document, or a LoadError that says what the file really is."""
    import docx

    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise LoadError(label, "this is an old binary Word (.doc) or other Office file, not DOCX; save it as .docx")
    _check_zip(data, label, limits)
    try:
        return docx.Document(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise LoadError(label, "corrupt DOCX (not a zip archive)") from None
    except KeyError as exc:
        missing = exc.args[0] if exc.args else exc
        raise LoadError(label, f"corrupt DOCX (a zip archive, but not a Word document: {missing})") from None
    except Exception as exc:  # python-docx/lxml raise assorted types on damaged packages
        raise LoadError(label, f"corrupt DOCX ({_short(exc)})") from None


def _check_zip(data: bytes, label: str, limits: _Limits) -> None:
    """Refuse a zip bomb from its directory alone, before python-docx unpacks anything.

    The declared sizes can be trusted as an upper bound: Python's zipfile never returns more
    bytes than an entry declares. A few KB on disk must not become gigabytes in memory.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except zipfile.BadZipFile:
        raise LoadError(label, "corrupt DOCX (not a zip archive)") from None
    except Exception as exc:  # a damaged central directory raises assorted types
        raise LoadError(label, f"corrupt DOCX ({_short(exc)})") from None
    if len(entries) > _DOCX_MAX_ENTRIES:
        reason = f"DOCX holds {len(entries)} files, over the {_DOCX_MAX_ENTRIES} a Word document needs; refused"
        raise LoadError(label, reason)
    for entry in entries:
        if entry.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            reason = f"corrupt DOCX ({entry.filename} uses a compression method Word never writes)"
            raise LoadError(label, reason)
        ratio = entry.file_size / max(entry.compress_size, 1)
        if entry.file_size > _DOCX_RATIO_FLOOR and ratio > _DOCX_MAX_RATIO:
            reason = (
                f"DOCX looks like a zip bomb: {entry.filename} would expand {ratio:,.0f}:1 to "
                f"{_human_size(entry.file_size)}; refused (if the document is genuine, split it or save it as PDF)"
            )
            raise LoadError(label, reason)
    total = sum(entry.file_size for entry in entries)
    limit_mb = max(_DOCX_MIN_UNPACKED_MB, 4 * limits.max_mb)
    if total > limit_mb * _MB:
        reason = f"DOCX would expand to {_human_size(total)} when unpacked, over the {limit_mb:g} MB limit; refused"
        raise LoadError(label, reason)


def _docx_blocks(document: Any, label: str) -> tuple[list[str], str | None, str | None]:
    """(text blocks, text of the first Title paragraph, text of the first Heading 1)."""
    from docx.table import Table

    blocks: list[str] = []
    title_style: str | None = None
    heading1: str | None = None
    try:
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                blocks.extend(_docx_table_rows(item))
                continue
            text = _normalize(item.text).strip()
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            if style == "Title" and title_style is None:
                title_style = " ".join(text.split())
            elif style == "Heading 1" and heading1 is None:
                heading1 = " ".join(text.split())
            blocks.append(text)
    except Exception as exc:
        raise LoadError(label, f"corrupt DOCX ({_short(exc)})") from None
    return blocks, title_style, heading1


def _docx_table_rows(table: Any) -> list[str]:
    """One block per table row, cells joined by ' | ' (merged cells counted once)."""
    rows: list[str] = []
    for row in table.rows:
        cells: list[str] = []
        seen: set[int] = set()
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            text = " ".join(_normalize(cell.text).split())
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows


# --------------------------------------------------------------------------- HTML

_HTML_DROP = ("script", "style", "noscript", "template", "nav", "footer", "header", "aside", "form", "svg")
_HTML_BLOCKS = frozenset(
    {
        *("address", "article", "blockquote", "body", "caption", "dd", "details", "dialog", "div", "dl", "dt"),
        *("fieldset", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "main", "ol", "p"),
        *("section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"),
    }
)
_SPACES = re.compile(r"\s+")
_BR = "\x00"  # marks <br> inside a block; NUL cannot come from the page: its NUL bytes are dropped or refused


def _read_html(data: bytes, label: str, limits: _Limits) -> _Parsed:
    """HTML: readable blocks of the main content, without scripts, styles and page chrome."""
    soup = _parse_html(data, label)
    page_title = _collapse(soup.title.get_text()) if soup.title else ""
    for tag in soup.find_all(_HTML_DROP):
        tag.decompose()
    for tag in soup.find_all(attrs={"hidden": True}):
        tag.decompose()
    root = _html_root(soup)
    blocks = _html_blocks(root)
    if not blocks and root is not soup:
        blocks = _html_blocks(soup.body or soup)
    if not blocks:
        raise LoadError(label, "HTML page has no readable text (after removing scripts, navigation and forms)")
    heading = root.find("h1") or soup.find("h1")
    title = page_title or (_collapse(heading.get_text(" ")) if heading else "") or None
    return _Parsed(_BLOCK_SEP.join(blocks).rstrip(), {"format": "html"}, title=title)


def _parse_html(data: bytes, label: str) -> Any:
    """The parsed page: UTF-16/32 by byte-order mark, else UTF-8, else the page's declared charset.

    Stray NUL bytes are dropped (many mean binary data), so none reaches the text.
    """
    from bs4 import BeautifulSoup

    unicode = _decode_unicode(data, label)
    markup: str | bytes
    if unicode is not None:
        markup, _ = _drop_stray_nuls(unicode[0], label, "an HTML file", "HTML")
    else:
        data, _ = _drop_stray_nuls(data, label, "an HTML file", "HTML")
        try:
            markup = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            markup = data  # let BeautifulSoup honour the page's declared charset
    try:
        return BeautifulSoup(markup, "lxml")
    except Exception as exc:  # lxml and bs4 raise assorted types on pathological markup
        raise LoadError(label, f"cannot parse the HTML ({_short(exc)})") from None


def _html_root(soup: Any) -> Any:
    """<main>, else a single <article>, else <body>: where the page's own content lives."""
    main = soup.find("main")
    if main is not None:
        return main
    articles = soup.find_all("article")
    if len(articles) == 1:
        return articles[0]
    return soup.body or soup


def _html_blocks(root: Any) -> list[str]:
    """Texts of block-level elements in document order, walked iteratively (deep pages cannot overflow)."""
    from bs4 import CData, NavigableString, Tag

    blocks: list[str] = []
    buffer: list[str] = []
    flush_marker = object()

    def flush() -> None:
        text = _collapse("".join(buffer))
        buffer.clear()
        if text:
            blocks.append(text)

    stack: list[Any] = list(reversed(list(root.children)))
    while stack:
        node = stack.pop()
        if node is flush_marker:
            flush()
        elif isinstance(node, NavigableString):
            if type(node) in (NavigableString, CData):  # skips comments, doctypes, processing instructions
                buffer.append(str(node))
        elif isinstance(node, Tag):
            _visit_tag(node, stack, buffer, blocks, flush, flush_marker)
    flush()
    return blocks


def _visit_tag(
    node: Any, stack: list[Any], buffer: list[str], blocks: list[str], flush: Callable[[], None], marker: object
) -> None:
    """Handle one element: <br> breaks a line, <pre> keeps its layout, blocks are fenced by flushes."""
    if node.name == "br":
        buffer.append(_BR)
    elif node.name == "pre":
        flush()
        text = "\n".join(line.rstrip() for line in _normalize(node.get_text()).split("\n")).strip("\n")
        if text.strip():
            blocks.append(text)
    elif node.name in _HTML_BLOCKS:
        flush()
        stack.append(marker)
        stack.extend(reversed(list(node.children)))
    else:
        stack.extend(reversed(list(node.children)))


def _collapse(text: str) -> str:
    """Collapse whitespace inside a block (source line wrapping is not structure), keeping <br> breaks."""
    lines = []
    for piece in text.split(_BR):
        line = _SPACES.sub(" ", piece).strip()
        if line:
            lines.append(line)
    return "\n".join(lines)


# --------------------------------------------------------------------------- title and language


def _choose_title(parsed: _Parsed) -> str:
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


def _choose_language(parsed: _Parsed) -> str:
    """The declared language when it is one we support (zh-CN counts as zh), else detected."""
    declared = str(parsed.metadata.get("language") or "").strip().lower().replace("_", "-").split("-")[0]
    return declared if declared in {"zh", "en"} else detect_language(parsed.text)


_READERS: dict[str, Callable[[bytes, str, _Limits], _Parsed]] = {
    ".txt": _read_txt,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
    ".html": _read_html,
    ".htm": _read_html,
}
