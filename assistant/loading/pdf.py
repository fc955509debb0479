"""The PDF reader: page texts joined into one text, with each page's span kept so answers can cite pages.

Pages without a text layer (scans) are rendered with PDFium and recognised by OCR (``ocr``);
pages with one are never OCR'd, so a mixed PDF keeps its exact text where it has it. pypdf is
slow on large files and raises many kinds of exceptions on damaged ones, so the page limit is
enforced before extraction and every pypdf failure becomes a LoadError here.
"""

from __future__ import annotations

import io
import math
import re
import threading
from typing import TYPE_CHECKING, Any

from assistant.errors import LoadError
from assistant.loading.common import Limits, Parsed, clean, join_pages, normalize, short
from assistant.loading.ocr import MAX_PIXELS, OcrResult, find_tesseract, recognise_pages
from assistant.text import CJK_CHARS

if TYPE_CHECKING:
    from PIL import Image

# PDFium is not thread-safe, not even across documents, and the web app loads uploads in threads.
_PDFIUM = threading.Lock()


def read_pdf(data: bytes, label: str, limits: Limits) -> Parsed:
    """PDF: page texts joined by blank lines, with each page's span recorded for page citations.

    A page without a text layer but with something drawn on it is read by OCR; a page with
    nothing on it stays blank. Pages OCR could not read are named in the metadata's warning.
    """
    if b"%PDF" not in data[:1024]:
        raise LoadError(label, "not a PDF file (no %PDF header)")
    if b"%%EOF" not in data:
        raise LoadError(label, "corrupt or truncated PDF: the end-of-file marker is missing (incomplete download?)")
    page_texts, info = _pdf_pages(data, label, limits.max_pages)
    page_texts = [unwrap_lines(normalize(raw)) for raw in page_texts]
    textless = [number for number, raw in enumerate(page_texts, start=1) if not normalize(raw).strip()]
    ocr = _scan(data, label, textless, limits) if textless else None
    for page in ocr.pages if ocr else ():
        page_texts[page.number - 1] = page.text
    text, spans = join_pages(page_texts)
    if not text:
        raise LoadError(label, _nothing_read(ocr))
    metadata: dict[str, Any] = {"format": "pdf", "page_count": len(page_texts)}
    for key in ("author", "subject"):
        if info.get(key):
            metadata[key] = info[key]
    if ocr:
        metadata.update(ocr.metadata(len(page_texts)))
    return Parsed(text, metadata, title=info.get("title"), pages=spans)


_CJK = f"[{CJK_CHARS}]"
# A line break inside a Chinese sentence: a Chinese character (or a comma-like mark) before it, a Chinese
# character or opening mark after it, and the next line is not the start of an article, item or paragraph.
_NEW_LINE_STARTS = (r"[ \u3000]|第[一二三四五六七八九十百千零〇\d]+[条章节编]|[一二三四五六七八九十]+、"
                    r"|（[一二三四五六七八九十]+）")
_WRAPPED_ZH = re.compile(f"(?<=(?:{_CJK}|[，、（“《]))\n(?!{_NEW_LINE_STARTS})(?={_CJK}|[（“《])")
_HYPHENATED = re.compile(r"(?<=[a-z])-\n(?=[a-z])")  # "environ-\nment": a word broken at the line end


def unwrap_lines(page: str) -> str:
    """A page's text with the line breaks that only wrapped the layout removed.

    PDF text comes out line by line: a Chinese word broken at a line end ("城镇新增就\n业") would
    be quoted broken, and an English word hyphenated at a line end would not be found. A break
    after sentence-final punctuation, or before an article, an item or an indented line, is a
    real one and stays. This runs before any offset is recorded, so offsets stay exact.
    """
    return _HYPHENATED.sub("", _WRAPPED_ZH.sub("", page))


def _nothing_read(ocr: OcrResult | None) -> str:
    """Why a PDF gave no text at all: no page has anything on it, or OCR read none of its scans."""
    if ocr is None:
        return "PDF has no text: its pages are blank"
    return f"PDF has no text layer (scanned?) and OCR read none of it: {ocr.details()}"


def _scan(data: bytes, label: str, numbers: list[int], limits: Limits) -> OcrResult | None:
    """OCR the pages ``numbers`` (1-based, no text layer) that have anything drawn on them; None if none has."""
    import pypdfium2 as pdfium

    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            raise LoadError(label, f"cannot render the PDF's pages for OCR ({short(exc)})") from None
    try:
        with _PDFIUM:
            drawn = [number for number in numbers if _has_content(document, number)]
        if not drawn:
            return None
        engine = find_tesseract(limits.ocr.languages)
        if isinstance(engine, str):
            return OcrResult(None, unread=dict.fromkeys(drawn, engine))

        def render(number: int) -> Image.Image | str:
            with _PDFIUM:
                return _render(document, number, limits.ocr.dpi)

        return recognise_pages(drawn, render, label, limits, engine)
    finally:
        with _PDFIUM:
            document.close()


def _has_content(document: Any, number: int) -> bool:
    """Whether page ``number`` draws anything at all (an image, paths, shapes): a blank page has no objects.

    A page PDFium cannot load counts as drawn, so that OCR names it as unreadable rather than skip it.
    """
    import pypdfium2 as pdfium

    try:
        page = document[number - 1]
    except pdfium.PdfiumError:
        return True
    try:
        return next(iter(page.get_objects(max_depth=1)), None) is not None
    finally:
        page.close()


def _render(document: Any, number: int, dpi: int) -> Image.Image | str:
    """Page ``number`` as a greyscale image at ``dpi``, or at less when that would exceed MAX_PIXELS
    (a hostile page a few metres wide must not cost gigabytes); for a damaged page, why it cannot be.

    Image smoothing is off: PDFium's smoothing of a scanned page blurred Hanzi strokes enough to
    cost 7 points of character accuracy on a clean page (0.93 against 0.995, bench/ocr.py).
    """
    import pypdfium2 as pdfium

    try:
        page = document[number - 1]
    except pdfium.PdfiumError as exc:
        return f"a damaged page that cannot be rendered: {short(exc)}"
    try:
        width, height = page.get_size()  # points: 1/72 inch
        scale = min(dpi / 72, 0.99 * math.sqrt(MAX_PIXELS / max(width * height, 1.0)))  # 1% for rounding up
        return page.render(scale=scale, grayscale=True, no_smoothimage=True).to_pil().copy()
    except pdfium.PdfiumError as exc:
        return f"a damaged page that cannot be rendered: {short(exc)}"
    finally:
        page.close()


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
