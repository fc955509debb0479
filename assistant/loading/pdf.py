"""The PDF reader: page texts joined into one text, with each page's span kept so answers can cite pages.

pypdf is slow on large files and raises many kinds of exceptions on damaged ones, so the page
limit is enforced before extraction and every pypdf failure becomes a LoadError here.
"""

from __future__ import annotations

import io
from typing import Any

from assistant.documents import PageSpan
from assistant.errors import LoadError
from assistant.loading.common import BLOCK_SEP, Limits, Parsed, clean, normalize, short


def read_pdf(data: bytes, label: str, limits: Limits) -> Parsed:
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
    return Parsed(text, metadata, title=info.get("title"), pages=spans)


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
        reason = f"PDF is encrypted and cannot be opened ({short(exc)}); save an unprotected copy"
        raise LoadError(label, reason) from None
    except Exception as exc:  # pypdf raises PdfReadError and many other types on damaged files
        raise LoadError(label, f"corrupt or truncated PDF: {short(exc)}") from None
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
            info[key] = " ".join(clean(value).split())
    return info


def _join_pages(page_texts: list[str]) -> tuple[str, tuple[PageSpan, ...]]:
    """Join non-empty pages with a blank line; blank pages get no span (nothing to cite there)."""
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
