"""The DOCX reader: paragraphs and table rows in body order, and the title Word recorded.

A DOCX is a zip archive, so this module also refuses zip bombs from the archive's directory
before python-docx (imported lazily as ``docx``) unpacks anything.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from assistant.errors import LoadError
from assistant.loading.common import BLOCK_SEP, MB, Limits, Parsed, human_size, normalize, require_text, short

_DOCX_MAX_ENTRIES = 10_000
_DOCX_MIN_UNPACKED_MB = 200  # a real DOCX, images and all, unpacks to little more than its own size
_DOCX_MAX_RATIO = 100  # Word XML compresses about 10:1; 100:1 over a few MB is a bomb
_DOCX_RATIO_FLOOR = 5 * 1024 * 1024  # members smaller than this may compress any amount (styles, repeated rows)


def read_docx(data: bytes, label: str, limits: Limits) -> Parsed:
    """DOCX: paragraphs and table rows in body order, one block each; headings stay plain lines."""
    document = _open_docx(data, label, limits)
    blocks, title_style, heading1 = _docx_blocks(document, label)
    core_title, author = _docx_core(document)
    metadata: dict[str, Any] = {"format": "docx"}
    if author:
        metadata["author"] = author
    title = title_style or heading1 or core_title or None
    return Parsed(require_text(BLOCK_SEP.join(blocks), label), metadata, title=title)


def _docx_core(document: Any) -> tuple[str, str]:
    """(title, author) from the core properties; a damaged properties part must not cost us the text."""
    try:
        core = document.core_properties
        return (core.title or "").strip(), (core.author or "").strip()
    except Exception:  # python-docx fails with AttributeError, ValueError... on a malformed docProps/core.xml
        return "", ""


def _open_docx(data: bytes, label: str, limits: Limits) -> Any:
    """The python-docx Document, or a LoadError that says what the file really is."""
    import docx  # python-docx (an absolute import, not this module)

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
        raise LoadError(label, f"corrupt DOCX ({short(exc)})") from None


def _check_zip(data: bytes, label: str, limits: Limits) -> None:
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
        raise LoadError(label, f"corrupt DOCX ({short(exc)})") from None
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
                f"{human_size(entry.file_size)}; refused (if the document is genuine, split it or save it as PDF)"
            )
            raise LoadError(label, reason)
    total = sum(entry.file_size for entry in entries)
    limit_mb = max(_DOCX_MIN_UNPACKED_MB, 4 * limits.max_mb)
    if total > limit_mb * MB:
        reason = f"DOCX would expand to {human_size(total)} when unpacked, over the {limit_mb:g} MB limit; refused"
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
            text = normalize(item.text).strip()
            if not text:
                continue
            style = (item.style.name if item.style is not None else "") or ""
            if style == "Title" and title_style is None:
                title_style = " ".join(text.split())
            elif style == "Heading 1" and heading1 is None:
                heading1 = " ".join(text.split())
            blocks.append(text)
    except Exception as exc:
        raise LoadError(label, f"corrupt DOCX ({short(exc)})") from None
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
            text = " ".join(normalize(cell.text).split())
            if text:
                cells.append(text)
        if cells:
            rows.append(" | ".join(cells))
    return rows
