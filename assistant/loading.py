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
from typing import Any

import yaml

from assistant.documents import Document, PageSpan
from assistant.text import detect_language

SUPPORTED_SUFFIXES: frozenset[str] = frozenset({".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm"})

_MB = 1024 * 1024
_TITLE_MAX = 200
_BLOCK_SEP = "\n\n"
_ALLOWED_CONTROLS = frozenset("\n\t\r\f")


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


# --------------------------------------------------------------------------- public API


def load_document(path: str | Path, *, max_mb: float = 50.0, source: str | None = None) -> Document:
    """Load one file into a Document, or raise LoadError saying why it cannot be used.

    ``source`` defaults to the absolute path; the web UI passes the uploaded file's name
    instead, and that name is then also what error messages show (the temp path would mean
    nothing to the user).
    """
    file = Path(path).expanduser()
    label = source if source is not None else str(path)
    _check_file(file, label, max_mb)
    data = _read_bytes(file, label, max_mb)
    reader = _READERS[file.suffix.lower()]
    parsed = reader(data, label)
    if not parsed.text:
        raise LoadError(label, "no text found in the file")
    metadata = {**parsed.metadata, "size_bytes": len(data)}
    return Document(
        text=parsed.text,
        source=source if source is not None else str(file.resolve()),
        title=_choose_title(parsed),
        language=_choose_language(parsed),
        metadata=metadata,
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
            data = handle.read(limit + 1)
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
    """Unify line ends and drop a BOM, so offsets mean the same on every platform."""
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _control_count(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in _ALLOWED_CONTROLS)


def _decode_text(data: bytes, label: str, suffix: str) -> tuple[str, str]:
    """Decode a plain-text file as UTF-8, falling back to GB18030 only for text that is clearly Chinese.

    Other legacy encodings are refused rather than guessed: a wrong guess would index mojibake.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoadError(label, "the file is saved as UTF-16; save it as UTF-8")
    if b"\x00" in data:
        raise LoadError(label, f"binary data in a text file (NUL bytes); is it really {suffix}?")
    try:
        text, encoding = _normalize(data.decode("utf-8-sig")), "utf-8"
    except UnicodeDecodeError as exc:
        text, encoding = _decode_chinese(data, label, exc), "gb18030"
    if text and _control_count(text) > 0.1 * len(text):
        raise LoadError(label, f"binary data in a text file (control characters); is it really {suffix}?")
    return text, encoding


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


def _read_txt(data: bytes, label: str) -> _Parsed:
    """Plain text: decoded, line ends unified, nothing else changed."""
    text, encoding = _decode_text(data, label, ".txt")
    return _Parsed(_require_text(text, label), {"format": "txt", "encoding": encoding})


def _read_markdown(data: bytes, label: str) -> _Parsed:
    """Markdown: YAML front matter becomes metadata, the body is the text (markup kept, for headings)."""
    text, encoding = _decode_text(data, label, ".md")
    front, body = _split_front_matter(text, label)
    blank = _LEADING_BLANK_LINES.match(body)
    body = body[blank.end() :] if blank else body
    if not body.strip() and front:
        raise LoadError(label, "the file has front matter but no text")
    metadata = {**front, "format": "markdown", "encoding": encoding}
    return _Parsed(_require_text(body, label), metadata, title=_markdown_h1(body))


def _split_front_matter(text: str, label: str) -> tuple[dict[str, Any], str]:
    """(front matter as JSON-safe metadata, body). Without a closing fence, it is all body."""
    opening = _FRONT_MATTER_OPEN.match(text)
    if not opening:
        return {}, text
    closing = _FRONT_MATTER_CLOSE.search(text, opening.end())
    if not closing:
        return {}, text
    try:
        loaded = yaml.safe_load(text[opening.end() : closing.start()])
    except yaml.YAMLError as exc:
        raise LoadError(label, f"invalid YAML front matter: {_yaml_problem(exc)}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise LoadError(label, f"invalid YAML front matter: expected 'key: value' pairs, got a {type(loaded).__name__}")
    front = {str(key): _jsonable(value) for key, value in loaded.items()}
    return front, text[closing.end() :].removeprefix("\n")


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


def _read_pdf(data: bytes, label: str) -> _Parsed:
    """PDF: page texts joined by blank lines, with each page's span recorded for page citations."""
    if b"%PDF" not in data[:1024]:
        raise LoadError(label, "not a PDF file (no %PDF header)")
    if b"%%EOF" not in data:
        raise LoadError(label, "corrupt or truncated PDF: the end-of-file marker is missing (incomplete download?)")
    page_texts, info = _pdf_pages(data, label)
    text, spans = _join_pages(page_texts)
    if not text:
        raise LoadError(label, "PDF has no text layer (scanned image?); run OCR first")
    metadata: dict[str, Any] = {"format": "pdf", "page_count": len(page_texts)}
    for key in ("author", "subject"):
        if info.get(key):
            metadata[key] = info[key]
    return _Parsed(text, metadata, title=info.get("title"), pages=spans)


def _pdf_pages(data: bytes, label: str) -> tuple[list[str], dict[str, str]]:
    """Extracted text of every page plus the document info, mapping pypdf's failures to LoadErrors."""
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError(label, "PDF is password-protected; remove the password and try again")
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
            info[key] = " ".join(value.split())
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


def _read_docx(data: bytes, label: str) -> _Parsed:
    """DOCX: paragraphs and table rows in body order, one block each; headings stay plain lines."""
    document = _open_docx(data, label)
    blocks, title_style, heading1 = _docx_blocks(document, label)
    core_title = (document.core_properties.title or "").strip()
    metadata: dict[str, Any] = {"format": "docx"}
    author = (document.core_properties.author or "").strip()
    if author:
        metadata["author"] = author
    title = title_style or heading1 or core_title or None
    return _Parsed(_require_text(_BLOCK_SEP.join(blocks), label), metadata, title=title)


def _open_docx(data: bytes, label: str) -> Any:
    """The python-docx Document, or a LoadError that says what the file really is."""
    import docx

    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise LoadError(label, "this is an old binary Word (.doc) or other Office file, not DOCX; save it as .docx")
    try:
        return docx.Document(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise LoadError(label, "corrupt DOCX (not a zip archive)") from None
    except KeyError as exc:
        missing = exc.args[0] if exc.args else exc
        raise LoadError(label, f"corrupt DOCX (a zip archive, but not a Word document: {missing})") from None
    except Exception as exc:  # python-docx/lxml raise assorted types on damaged packages
        raise LoadError(label, f"corrupt DOCX ({_short(exc)})") from None


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
_BR = "\x00"  # marks <br> inside a block; NUL cannot come from the page, which was refused if it held one


def _read_html(data: bytes, label: str) -> _Parsed:
    """HTML: readable blocks of the main content, without scripts, styles and page chrome."""
    from bs4 import BeautifulSoup

    if b"\x00" in data:
        raise LoadError(label, "binary data in an HTML file (NUL bytes); is it really HTML?")
    try:
        markup: str | bytes = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        markup = data  # let BeautifulSoup honour the page's declared charset
    soup = BeautifulSoup(markup, "lxml")
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


_READERS: dict[str, Callable[[bytes, str], _Parsed]] = {
    ".txt": _read_txt,
    ".md": _read_markdown,
    ".markdown": _read_markdown,
    ".pdf": _read_pdf,
    ".docx": _read_docx,
    ".html": _read_html,
    ".htm": _read_html,
}
