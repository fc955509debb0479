"""Scanned documents made on the spot: real texts typeset into page images, optionally degraded, wrapped as PDFs.

OCR is tested against text we know exactly, so the pages are rendered here from the committed
Chinese law (tests/data) and the shipped English commentary (corpus/) with the WenQuanYi font,
never downloaded. ``tests/test_ocr.py`` and ``bench/ocr.py`` share these builders, so the
figures reported in the benchmark are measured on the same kind of page the tests assert on.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fpdf import FPDF
from PIL import Image, ImageChops, ImageDraw, ImageFont

from tests.conftest import COMMENTARY, YANGTZE_LAW

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # Debian fonts-wqy-microhei (.ci/run installs it)
A4_INCHES = (8.27, 11.69)
FONT_PT = 12
SEAL_RED = (215, 35, 35)


@dataclass(frozen=True)
class ScannedPage:
    """One rendered page and the exact text typeset on it (paragraphs joined by blank lines)."""

    image: Image.Image
    text: str


def law_paragraphs() -> list[str]:
    """The Yangtze law as a printed copy shows it: title, chapter lines and articles, without markdown marks."""
    source = YANGTZE_LAW.read_text(encoding="utf-8")
    body = source.split("<!-- INFO END -->", 1)[1]
    title = source.split("\n", 1)[0].lstrip("# ").strip()
    paragraphs = [p.strip().lstrip("#").strip() for p in body.split("\n\n")]
    return [title, *(p for p in paragraphs if p)]


def commentary_paragraphs() -> list[str]:
    """The English commentary's body, below its front matter, one entry per paragraph."""
    body = COMMENTARY.read_text(encoding="utf-8").split("\n---\n", 1)[1]
    return [p.strip() for p in body.split("\n\n") if p.strip()]


def typeset(paragraphs: Sequence[str], *, pages: int, dpi: int = 300, chinese: bool) -> list[ScannedPage]:
    """The first ``pages`` A4 pages of ``paragraphs`` at ``dpi``, 12 pt, one-inch margins, black on white.

    A paragraph that does not fit ends the page and starts the next one whole, so that each
    page's text is a run of whole paragraphs (what a page's OCR output is compared with).
    """
    width, height = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    font = ImageFont.truetype(str(FONT), round(FONT_PT * dpi / 72))
    line_height = round(FONT_PT * dpi / 72 * 1.7)
    margin = dpi
    result: list[ScannedPage] = []
    queue = list(paragraphs)
    while queue and len(result) < pages:
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        y, placed = margin, []
        while queue:
            lines = _wrap(queue[0], font, width - 2 * margin, chinese)
            if y + len(lines) * line_height > height - margin and placed:
                break
            for line in lines:
                draw.text((margin, y), line, font=font, fill="black")
                y += line_height
            y += line_height // 2
            placed.append(queue.pop(0))
        result.append(ScannedPage(image, "\n\n".join(placed)))
    return result


def _wrap(paragraph: str, font: ImageFont.FreeTypeFont, width: int, chinese: bool) -> list[str]:
    """Lines of at most ``width`` pixels: Chinese breaks between any two characters, English between words."""
    units = list(paragraph) if chinese else paragraph.split(" ")
    joiner = "" if chinese else " "
    lines: list[str] = []
    line = ""
    for unit in units:
        candidate = f"{line}{joiner}{unit}" if line else unit
        if line and font.getlength(candidate) > width:
            lines.append(line)
            line = unit
        else:
            line = candidate
    return [*lines, line] if line else lines


def degrade(page: Image.Image, *, skew: float = 1.5, jpeg_quality: int = 50, seal: bool = True) -> bytes:
    """A page as a poor office scan stores it: a red seal stamped over the text, turned by ``skew`` degrees,
    saved as a JPEG of ``jpeg_quality``; the JPEG's bytes (typeset at 200 dpi for the low resolution)."""
    if seal:
        page = ImageChops.multiply(page, _seal(page.size, round(page.width * 0.22)))
    page = page.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor="white")
    buffer = io.BytesIO()
    page.save(buffer, "JPEG", quality=jpeg_quality)
    return buffer.getvalue()


def _seal(size: tuple[int, int], diameter: int) -> Image.Image:
    """A white sheet with a red official seal (ring, star, issuer's name) over the upper text, as stamps sit."""
    sheet = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(sheet)
    left, top = round(size[0] * 0.55), round(size[1] * 0.12)
    ring = max(diameter // 25, 3)
    draw.ellipse((left, top, left + diameter, top + diameter), outline=SEAL_RED, width=ring)
    cx, cy, r = left + diameter / 2, top + diameter / 2, diameter * 0.16
    star = [(cx + (r if i % 2 == 0 else r * 0.4) * math.sin(i * math.pi / 5),
             cy - (r if i % 2 == 0 else r * 0.4) * math.cos(i * math.pi / 5)) for i in range(10)]
    draw.polygon(star, fill=SEAL_RED)
    font = ImageFont.truetype(str(FONT), diameter // 9)
    name = "长江保护委员会"
    draw.text((cx - font.getlength(name) / 2, cy + r * 1.3), name, font=font, fill=SEAL_RED)
    return sheet


def image_pdf(images: Sequence[Image.Image | bytes], path: Path, dpi: int = 300) -> Path:
    """An image-only PDF (no text layer at all), one page per image at ``dpi``, as a scanner writes it.

    Images are stored losslessly; JPEG bytes (a degraded page) are embedded as they are, artefacts and all.
    """
    pdf = FPDF(unit="pt")
    for image in images:
        add_image_page(pdf, image, dpi)
    path.write_bytes(bytes(pdf.output()))
    return path


def add_image_page(pdf: FPDF, image: Image.Image | bytes, dpi: int = 300) -> None:
    """Append a page the size of ``image`` at ``dpi`` that holds only that image (a scanned page)."""
    picture = Image.open(io.BytesIO(image)) if isinstance(image, bytes) else image.convert("RGB")
    width, height = picture.width * 72 / dpi, picture.height * 72 / dpi
    pdf.add_page(format=(width, height))
    pdf.image(io.BytesIO(image) if isinstance(image, bytes) else picture, x=0, y=0, w=width, h=height)


# --------------------------------------------------------------------------- measuring OCR against the source


def comparable(text: str, chinese: bool) -> str:
    """Text as a reader compares it: NFKC (full-width ；→ ;), and without the whitespace that layout decides.

    Chinese has no spaces between words, so all whitespace goes; English keeps single spaces.
    """
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", text) if chinese else re.sub(r"\s+", " ", text).strip()


def character_accuracy(recognised: str, source: str, *, chinese: bool) -> float:
    """1 - (edit distance / source length) on ``comparable`` forms: the share of source characters OCR got right."""
    hypothesis, reference = comparable(recognised, chinese), comparable(source, chinese)
    return 1 - edit_distance(hypothesis, reference) / max(len(reference), 1)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions), two rows at a time."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
