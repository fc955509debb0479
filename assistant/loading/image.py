"""The image reader: PNG, JPEG and TIFF files (a photographed or scanned page) read by OCR, one page per frame.

Pillow decodes the picture lazily, so the pixel and frame counts are checked from the header
before anything is decoded: a small file that claims a billion pixels is refused, not unpacked.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from assistant.errors import LoadError
from assistant.loading.common import Limits, Parsed, join_pages, short
from assistant.loading.ocr import MAX_PIXELS, find_tesseract, recognise_pages

if TYPE_CHECKING:
    from PIL import Image


def read_image(data: bytes, label: str, limits: Limits) -> Parsed:
    """An image file: every frame (a TIFF may hold several pages) recognised by OCR as one page."""
    image = _open_image(data, label, limits)
    frames = getattr(image, "n_frames", 1)
    engine = find_tesseract(limits.ocr.languages)
    if isinstance(engine, str):
        raise LoadError(label, f"an image is read by OCR, but {engine}")

    def render(number: int) -> Image.Image | str:
        return _frame(image, number)

    result = recognise_pages(range(1, frames + 1), render, label, limits, engine)
    texts = [""] * frames
    for page in result.pages:
        texts[page.number - 1] = page.text
    text, spans = join_pages(texts)
    if not text:
        raise LoadError(label, f"OCR read none of the image: {result.details() or 'it is blank'}")
    metadata: dict[str, Any] = {"format": str(image.format or "image").lower(), "page_count": frames,
                                **result.metadata(frames)}
    return Parsed(text, metadata, pages=spans)


def _open_image(data: bytes, label: str, limits: Limits) -> Image.Image:
    """The image, opened but not decoded, or a LoadError when it is no image, too large or has too many pages."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        frames = getattr(image, "n_frames", 1)
    except UnidentifiedImageError:
        raise LoadError(label, "not an image Pillow can read (PNG, JPEG or TIFF expected); is it damaged or misnamed?"
                        ) from None
    except Image.DecompressionBombError:
        raise LoadError(label, f"image has more pixels than Pillow opens safely, over the {_megapixels(MAX_PIXELS)} "
                        "limit; scale it down") from None
    except Exception as exc:  # damaged headers raise assorted types (SyntaxError, ValueError, OSError)
        raise LoadError(label, f"corrupt image ({short(exc)})") from None
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise LoadError(label, f"image is {width}×{height} pixels ({_megapixels(width * height)}), over the "
                        f"{_megapixels(MAX_PIXELS)} limit; scale it down")
    if frames > limits.max_pages:
        raise LoadError(label, f"image holds {frames} pages, over the {limits.max_pages}-page limit "
                        "(ASSISTANT_MAX_PAGES); split it into parts or raise the limit")
    return image


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.0f} megapixels"


def _frame(image: Image.Image, number: int) -> Image.Image | str:
    """Frame ``number`` (1-based) decoded, turned upright as its EXIF says, transparency laid on white;
    for a damaged frame, why it cannot be read (the other frames of a TIFF may still be fine)."""
    from PIL import Image, ImageOps

    try:
        image.seek(number - 1)
        frame = ImageOps.exif_transpose(image)
        if frame.mode in ("RGBA", "LA", "PA") or (frame.mode == "P" and "transparency" in frame.info):
            rgba = frame.convert("RGBA")
            frame = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba)
        if frame.mode in ("L", "RGB"):
            return frame
        return frame.convert("L" if frame.mode in ("1", "I", "I;16", "F") else "RGB")  # bilevel fax scans, 16-bit
    except Exception as exc:  # a truncated or damaged frame fails only when decoded, with assorted types
        return f"corrupt or truncated image: {short(exc)}"
