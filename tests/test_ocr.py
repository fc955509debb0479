"""OCR through the real Tesseract: scanned PDFs and images made here from texts we know exactly.

The pages are typeset by ``tests/scans.py`` from the committed Yangtze law and the shipped English
commentary with the WenQuanYi font, so every test can say what OCR should have read. Tesseract
costs seconds a page, so each test OCRs as few and as small pages as its point needs; the three
full documents are read once, by the end-to-end test that adds and asks about them.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import struct
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from assistant.chunking import chunk_document
from assistant.documents import Document, Passage
from assistant.errors import LoadError
from assistant.loading import OcrOptions, load_document
from assistant.loading.ocr import MAX_PIXELS, OcrResult, clean_text, mean_confidence, page_list
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store.records import chunk_metadata, passage_from
from tests.conftest import ROOT
from tests.scans import (
    FONT,
    add_image_page,
    character_accuracy,
    commentary_paragraphs,
    degrade,
    image_pdf,
    law_paragraphs,
    typeset,
)

HAN_SPACE_HAN = re.compile(r"[\u4e00-\u9fff][ \t]+[\u4e00-\u9fff]")
STRUCTURE_HEAD = re.compile(r"^第[一二三四五六七八九十百]+[编章节条] ", re.MULTILINE)  # where a space is printed
INSTALL = "apt-get install tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-eng"


@pytest.fixture
def store_mode() -> str:
    """Embedded store only: OCR happens in the loader, before either store mode matters."""
    return "embedded"


def _lines_image(lines: list[str], *, size: int = 40, width: int = 1400) -> Image.Image:
    """A small white picture of a few lines of text: a page fragment that Tesseract reads in about a second."""
    font = ImageFont.truetype(str(FONT), size)
    pitch = round(size * 1.5)  # single spacing: wider gaps would read as paragraph breaks
    image = Image.new("RGB", (width, pitch * len(lines) + 2 * size), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((size, size + row * pitch), line, font=font, fill="black")
    return image


LAW_LINES = ["第一条 为了加强长江流域生态环境保护和修复，", "促进资源合理高效利用，保障生态安全，制定本法。"]
RIVER_LINES = ["River Board Notice", "Article 9. The river board publishes the flood", "warning register every spring."]


def _noise(width: int = 900, height: int = 700, seed: int = 7) -> Image.Image:
    rng = random.Random(seed)
    return Image.frombytes("L", (width, height), bytes(rng.randrange(256) for _ in range(width * height)))


def _store_state(assistant: Assistant) -> tuple[list[tuple[str, str]], int, str]:
    documents = [(d.doc_id, d.content_hash) for d in assistant.documents()]
    return documents, assistant.store.count_chunks(), assistant.store.revision()


def _assert_exact_slices(document: Document) -> None:
    """Every page span and chunk is an exact slice of the stored text: offsets survived the cleaning."""
    for span in document.pages:
        assert 0 <= span.start < span.end <= len(document.text)
    for chunk in chunk_document(document):
        assert document.text[chunk.start : chunk.end] == chunk.text


# --------------------------------------------------------------------------- the text rules, without Tesseract


def test_spaces_between_hanzi_go_and_the_article_space_stays() -> None:
    raw = "第 一 条  为 了 加 强 长 江 流 域 生 态 ， 制 定 本 法 。\n\n\n\nThe river  board, 2020 年\f"
    assert clean_text(raw) == "第一条 为了加强长江流域生态，制定本法。\n\nThe river  board, 2020 年"
    wrapped = "第 二 条 国 家 建 立 长 江 流\n域 协 调 机 制 。\n第三条 国家\n统筹。\n本法自\n2021年施行。\nThe\nend."
    # lines of a Chinese sentence join; a sentence end, a heading, a digit or English keeps its line break
    unwrapped = "第二条 国家建立长江流域协调机制。\n第三条 国家统筹。\n本法自\n2021年施行。\nThe\nend."
    assert clean_text(wrapped) == unwrapped
    assert clean_text("第十二条国家设立") == "第十二条国家设立"  # no space in the scan: none invented
    assert clean_text("本法第 三 条 规定") == "本法第三条规定"  # a reference inside a line is no heading


def test_mean_confidence_counts_words_only() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = ["1\t1\t0\t0\t0\t0\t0\t0\t10\t10\t-1\t", "5\t1\t1\t1\t1\t1\t0\t0\t5\t5\t90.5\t长江",
            "5\t1\t1\t1\t1\t2\t0\t0\t5\t5\t70.5\t流域", "5\t1\t1\t1\t1\t3\t0\t0\t5\t5\t95\t "]
    assert mean_confidence("\n".join([header, *rows])) == pytest.approx(80.5)
    assert mean_confidence(header) is None


def test_unread_pages_are_named_in_runs_grouped_by_reason() -> None:
    assert page_list([3]) == "page 3"
    assert page_list([7, 2, 5, 6]) == "pages 2, 5–7"
    result = OcrResult(None, unread={4: "no text recognised", 5: "budget", 6: "budget", 9: "no text recognised"})
    assert result.warning(10) == "stored without 4 of 10 pages: pages 4, 9 (no text recognised); pages 5–6 (budget)"
    assert result.metadata(10) == {"unread_pages": [4, 5, 6, 9], "warnings": [result.warning(10)]}


def test_citations_of_ocr_text_say_so_with_the_page() -> None:
    base = {"text": "x", "score": 1.0, "doc_id": "d", "chunk_id": "d:00000", "start": 0, "end": 1}
    assert Passage(**base, title="Notice", page=3, ocr=True).cite() == "Notice, p. 3, OCR"
    assert Passage(**base, title="Notice", page=3).cite() == "Notice, p. 3"  # a text layer: as before
    law = Passage(**base, title="长江保护法", page=2, heading="第一章 > 第八条", language="zh", ocr=True)
    assert law.cite() == "长江保护法 第八条 (p. 2, OCR)"
    assert law.to_dict()["ocr"] is True and law.to_dict()["citation"] == law.cite()


def test_ocr_settings_reach_the_loader_options(monkeypatch: pytest.MonkeyPatch) -> None:
    assert OcrOptions.from_settings(Settings()) == OcrOptions()
    monkeypatch.setenv("ASSISTANT_OCR_TIMEOUT", "42")
    monkeypatch.setenv("ASSISTANT_OCR_LANGUAGES", "eng")
    options = OcrOptions.from_settings(Settings.load())
    assert (options.timeout, options.languages, options.max_pages, options.dpi) == (42.0, "eng", 100, 300)
    with pytest.raises(ValueError, match="ocr_dpi"):
        Settings(ocr_dpi=10)


# --------------------------------------------------------------------------- scanned documents, end to end


@dataclass(frozen=True)
class Scans:
    law: Path  # the Yangtze law, pages 1-2, clean, 300 dpi, image-only PDF
    commentary: Path  # the English commentary's first two paragraphs, clean, 300 dpi, image-only PDF
    # (an English page is read twice, so its page holds only what the question needs: ~2 s less)
    degraded: Path  # the law's page 3 at 200 dpi, skewed 1.5°, red seal, JPEG quality 50, as a .jpg
    law_pages: tuple[str, ...]


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Scans:
    folder = tmp_path_factory.mktemp("scans")
    law = typeset(law_paragraphs(), pages=2, chinese=True)
    commentary = typeset(commentary_paragraphs()[:2], pages=1, chinese=False)
    third = typeset(law_paragraphs(), pages=3, chinese=True, dpi=200)[2]
    degraded = folder / "长江保护法-第3页.jpg"
    degraded.write_bytes(degrade(third.image))
    return Scans(image_pdf([p.image for p in law], folder / "长江保护法-扫描件.pdf"),
                 image_pdf([p.image for p in commentary], folder / "commentary-scan.pdf"), degraded,
                 tuple(p.text for p in law))


def test_scans_are_added_answered_and_cited_with_their_page(make_assistant: Callable[..., Assistant],
                                                           scans: Scans) -> None:
    assistant = make_assistant()
    results = assistant.add(scans.law, scans.commentary)  # the degraded .jpg: the command-line test below
    assert [r.status for r in results] == ["added"] * 2, results

    law = assistant.read(results[0].doc_id)
    assert [p.number for p in law.pages] == [1, 2]
    assert law.metadata["ocr_pages"] == [1, 2] and law.metadata["format"] == "pdf"
    assert all(score > 80 for score in law.metadata["ocr_confidence"])
    assert law.metadata["ocr_engine"].startswith("Tesseract 5")
    for span, source in zip(law.pages, scans.law_pages, strict=True):
        assert character_accuracy(law.text[span.start : span.end], source, chinese=True) >= 0.97
    assert len(STRUCTURE_HEAD.findall(law.text)) >= 12  # article headings survive, so citations name articles
    assert not HAN_SPACE_HAN.search(STRUCTURE_HEAD.sub("", law.text))  # Tesseract's spaces between Hanzi are gone
    _assert_exact_slices(law)

    cases = [
        ("长江流域专家咨询委员会由谁设立？", "设立专家咨询委员会", "p. 2, OCR"),
        ("How many stages did the plenary session divide the building of the model city into?",
         "divide into three stages", "p. 1, OCR"),
    ]
    for rebuilt in (False, True):
        if rebuilt:
            assistant.reindex()  # from the stored texts: the OCR marks come from the stored metadata
        for question, fact, where in cases:
            answer = assistant.ask(question)
            assert answer.grounded, (question, answer.text)
            cited = [c for c in answer.citations if fact.replace(" ", "") in re.sub(r"\s+", "", c.quote)]
            assert cited, (question, answer.text, [c.quote for c in answer.citations])
            assert where in cited[0].passage.cite(), cited[0].passage.cite()
            stored = assistant.store.text_of(cited[0].passage.doc_id)
            assert stored[cited[0].start : cited[0].end] == cited[0].quote


def test_scanned_image_through_the_command_line(scans: Scans, tmp_path: Path) -> None:
    """What a new user types: `assistant add` a scan, then `assistant ask`, and gets the page cited."""
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_AUTO_INDEX_CORPUS": "false",
           "ASSISTANT_COLLECTION": f"ocr{uuid.uuid4().hex[:10]}"}
    env.pop("ASSISTANT_CHROMA_HOST", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                              env=env, cwd=ROOT, timeout=300)

    added = run("add", str(scans.degraded))
    assert added.returncode == 0 and added.stdout.startswith("added"), (added.stdout, added.stderr)
    asked = run("ask", "长江流域国土空间规划由哪个部门组织编制？", "--json")
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["grounded"] and "自然资源主管部门" in answer["answer"], answer["answer"]
    assert answer["citations"][0]["citation"].endswith("第十九条 (p. 1, OCR)")


# --------------------------------------------------------------------------- mixed, partly unreadable, budgets


def _mixed_pdf(path: Path) -> tuple[Path, str, str]:
    """Page 1 and 3 with a text layer, page 2 a scanned picture of two lines of the law."""
    first, last = "Scanned annex follows.\nThe board adopted it in May.", "End of the annex, signed by the board."
    pdf = FPDF()
    for text in (first, None, last):
        if text is None:
            add_image_page(pdf, _lines_image(LAW_LINES), dpi=300)
        else:
            pdf.add_page(format="A4")
            pdf.set_font("helvetica", size=12)
            pdf.multi_cell(0, 10, text)
    path.write_bytes(bytes(pdf.output()))
    return path, first, last


def test_mixed_pdf_keeps_its_text_layer_and_reads_only_the_scanned_page(tmp_path: Path) -> None:
    path, first, last = _mixed_pdf(tmp_path / "mixed.pdf")
    reports: list[tuple[int, int, str]] = []
    document = load_document(path, progress=lambda done, total, message: reports.append((done, total, message)))

    assert [p.number for p in document.pages] == [1, 2, 3]
    page = {p.number: document.text[p.start : p.end] for p in document.pages}
    assert (page[1], page[3]) == (first, last)  # text layers are never OCR'd
    assert character_accuracy(page[2], "".join(LAW_LINES), chinese=True) >= 0.95
    assert page[2].startswith("第一条 为了加强长江流域")
    assert document.metadata["ocr_pages"] == [2] and "warnings" not in document.metadata
    assert [(done, total) for done, total, _ in reports] == [(0, 1), (1, 1)]
    assert reports[-1][2] == "OCR of mixed.pdf, page 2"
    _assert_exact_slices(document)

    labels = {}
    for chunk in chunk_document(document, max_chars_en=60):
        passage = passage_from("d:0", chunk.text, chunk_metadata("d", document, chunk), 1.0)
        labels[chunk.page] = passage.cite()
    assert labels[1].endswith(", p. 1")  # text layer: no OCR mark
    assert labels[2].endswith(" 第一条 (p. 2, OCR)")  # the scanned article is cited by name, page and OCR


def _partly_unreadable_pdf(path: Path) -> Path:
    """Page 1 readable, page 2 a scan too blurred to read, page 3 blank (no warning due), page 4 noise."""
    readable = _lines_image(RIVER_LINES)
    blurred = _lines_image(LAW_LINES * 3, size=30).filter(ImageFilter.GaussianBlur(3))
    pdf = FPDF()
    add_image_page(pdf, readable)
    add_image_page(pdf, blurred)
    pdf.add_page()
    add_image_page(pdf, _noise())
    path.write_bytes(bytes(pdf.output()))
    return path


def test_partly_unreadable_pdf_is_stored_with_the_pages_read_and_a_warning(
        make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = make_assistant()
    [result] = assistant.add(_partly_unreadable_pdf(tmp_path / "poor-scan.pdf"))
    assert result.status == "added", result
    document = assistant.read(result.doc_id)
    assert [p.number for p in document.pages] == [1]
    assert character_accuracy(document.text, " ".join(RIVER_LINES), chinese=False) >= 0.95
    assert document.metadata["unread_pages"] == [2, 4]
    [warning] = document.metadata["warnings"]
    assert re.fullmatch(r"stored without 2 of 4 pages: page 2 \(recognised with \d+% confidence, under the "
                        r"ASSISTANT_OCR_MIN_CONFIDENCE of 40%\); page 4 \(no text recognised\)", warning), warning
    answer = assistant.ask("How often does the river board publish the flood warning register?")
    assert answer.grounded and answer.citations[0].passage.cite().endswith("p. 1, OCR")


def test_a_scan_with_nothing_readable_fails_alone(make_assistant: Callable[..., Assistant], tmp_path: Path) -> None:
    assistant = make_assistant()
    good = tmp_path / "good.txt"
    good.write_text("Water Rules\n\nArticle 1. Every county shall keep its rivers clean.\n", encoding="utf-8")
    assert [r.status for r in assistant.add(good)] == ["added"]
    before = _store_state(assistant)
    noise = image_pdf([_noise()], tmp_path / "noise.pdf")
    photo = tmp_path / "noise.png"
    _noise(400, 300).save(photo)
    results = assistant.add(noise, photo)
    assert [(r.status, r.doc_id) for r in results] == [("failed", None)] * 2
    assert results[0].reason == "PDF has no text layer (scanned?) and OCR read none of it: page 1 (no text recognised)"
    assert results[1].reason == "OCR read none of the image: page 1 (no text recognised)"
    assert _store_state(assistant) == before


def test_page_budget_keeps_the_first_pages_and_names_the_rest(tmp_path: Path) -> None:
    path = image_pdf([_lines_image(RIVER_LINES), _lines_image(LAW_LINES)], tmp_path / "two.pdf")
    document = load_document(path, ocr=OcrOptions(max_pages=1))
    assert [p.number for p in document.pages] == [1] and document.metadata["ocr_pages"] == [1]
    assert document.metadata["warnings"] == ["stored without 1 of 2 pages: page 2 (not reached: the OCR page budget, "
                                             "ASSISTANT_OCR_MAX_PAGES, is 1 per file)"]


def test_time_budget_stops_tesseract(tmp_path: Path) -> None:
    page = typeset(law_paragraphs(), pages=1, chinese=True)[0]
    path = image_pdf([page.image], tmp_path / "slow.pdf")
    started = time.monotonic()
    with pytest.raises(LoadError) as info:
        load_document(path, ocr=OcrOptions(timeout=0.5))
    assert time.monotonic() - started < 6  # a full Chinese page takes Tesseract several seconds: it was killed
    assert info.value.reason == ("PDF has no text layer (scanned?) and OCR read none of it: page 1 (not reached: the "
                                 "OCR time budget, ASSISTANT_OCR_TIMEOUT, is 0.5 s per file)")


# --------------------------------------------------------------------------- images


def test_png_with_transparency_and_a_two_page_tiff(tmp_path: Path) -> None:
    transparent = _lines_image(RIVER_LINES).convert("L")
    rgba = Image.new("RGBA", transparent.size, (0, 0, 0, 0))  # black ink on a fully transparent sheet
    rgba.putalpha(transparent.point(lambda v: 255 - v))
    rgba.save(tmp_path / "notice.png")
    png = load_document(tmp_path / "notice.png")
    assert character_accuracy(png.text, " ".join(RIVER_LINES), chinese=False) >= 0.95
    assert png.metadata["format"] == "png" and png.metadata["ocr_pages"] == [1]
    assert png.title == "River Board Notice"

    frames = [_lines_image(LAW_LINES), _lines_image(RIVER_LINES)]
    frames[0].save(tmp_path / "fax.tif", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    tiff = load_document(tmp_path / "fax.tif")
    assert [p.number for p in tiff.pages] == [1, 2] and tiff.metadata["page_count"] == 2
    assert tiff.page_at(tiff.text.index("flood")) == 2 and tiff.page_at(tiff.text.index("长江")) == 1
    _assert_exact_slices(tiff)


def test_jpeg_turned_by_its_exif_orientation(tmp_path: Path) -> None:
    """A phone photo stored on its side with an EXIF tag saying so is read upright."""
    sideways = _lines_image(RIVER_LINES).transpose(Image.Transpose.ROTATE_90)  # turned a quarter anticlockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to view
    sideways.save(tmp_path / "photo.jpg", quality=90, exif=exif)
    document = load_document(tmp_path / "photo.jpg")
    assert document.metadata["format"] == "jpeg"
    assert character_accuracy(document.text, " ".join(RIVER_LINES), chinese=False) >= 0.95


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width``×``height`` pixels: decoding it would cost gigabytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + \
        chunk(b"IEND", b"")


def _png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "build", "fragment"), [
    ("words.png", lambda: b"these are words, not pixels", "not an image Pillow can read"),
    ("cut.png", lambda: _png_bytes(_lines_image(RIVER_LINES))[:900], "corrupt or truncated image"),
    ("bomb.png", lambda: _png_claiming(60_000, 60_000), "limit; scale it down"),
    ("big.png", lambda: _png_claiming(8_000, 8_000), "image is 8000×8000 pixels (64 megapixels), over the 50 "
                                                     "megapixels limit; scale it down"),
])
def test_hostile_images_fail_alone(make_assistant: Callable[..., Assistant], tmp_path: Path, name: str,
                                   build: Callable[[], bytes], fragment: str) -> None:
    assistant = make_assistant()
    good = tmp_path / "good.txt"
    good.write_text("Water Rules\n\nArticle 1. Every county shall keep its rivers clean.\n", encoding="utf-8")
    assistant.add(good)
    before = _store_state(assistant)
    path = tmp_path / name
    path.write_bytes(build())
    [result] = assistant.add(path)
    assert (result.status, result.doc_id) == ("failed", None)
    assert fragment in result.reason, result.reason
    assert _store_state(assistant) == before


def test_tiff_with_more_pages_than_allowed_is_refused_before_ocr(tmp_path: Path) -> None:
    frames = [Image.new("L", (50, 50), 255) for _ in range(4)]
    frames[0].save(tmp_path / "many.tif", save_all=True, append_images=frames[1:])
    with pytest.raises(LoadError, match=r"image holds 4 pages, over the 3-page limit \(ASSISTANT_MAX_PAGES\)"):
        load_document(tmp_path / "many.tif", max_pages=3)


def test_a_page_metres_wide_is_rendered_within_the_pixel_limit() -> None:
    import pypdfium2 as pdfium

    from assistant.loading.pdf import _render

    pdf = FPDF(unit="pt", format=(14_000, 14_000))  # 194 inches square: 1.7 gigapixels at 300 dpi
    pdf.add_page()
    pdf.rect(10, 10, 100, 100)
    document = pdfium.PdfDocument(bytes(pdf.output()))
    try:
        image = _render(document, 1, 300)
    finally:
        document.close()
    assert isinstance(image, Image.Image)
    assert MAX_PIXELS * 0.97 <= image.width * image.height <= MAX_PIXELS


# --------------------------------------------------------------------------- without Tesseract


def test_without_tesseract_scans_say_how_to_install_it_and_nothing_else_changes(
        make_assistant: Callable[..., Assistant], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text_pdf = tmp_path / "text.pdf"
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 10, "Article 1. Every county shall keep its rivers clean.")
    text_pdf.write_bytes(bytes(pdf.output()))
    mixed, first, last = _mixed_pdf(tmp_path / "mixed.pdf")
    scan = image_pdf([_lines_image(LAW_LINES)], tmp_path / "scan.pdf")
    photo = tmp_path / "photo.png"
    _lines_image(RIVER_LINES).save(photo)
    with_tesseract = load_document(text_pdf)

    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no tesseract anywhere on PATH
    assert load_document(text_pdf) == with_tesseract
    with pytest.raises(LoadError) as info:
        load_document(scan)
    assert info.value.reason.startswith("PDF has no text layer (scanned?) and OCR read none of it: page 1 "
                                        "(Tesseract, which reads scanned pages, is not installed; install it")
    assert INSTALL in info.value.reason
    with pytest.raises(LoadError, match="an image is read by OCR, but Tesseract, which reads scanned pages, is not"):
        load_document(photo)
    partial = load_document(mixed)
    assert [p.number for p in partial.pages] == [1, 3] and partial.text == f"{first}\n\n{last}"
    assert partial.metadata["warnings"][0].startswith("stored without 1 of 3 pages: page 2 (Tesseract, which ")
    assert "ocr_pages" not in partial.metadata

    assistant = make_assistant()
    before = _store_state(assistant)
    [result] = assistant.add(scan)
    assert result.status == "failed" and INSTALL in result.reason
    assert _store_state(assistant) == before


def test_missing_language_data_names_the_package(tmp_path: Path) -> None:
    photo = tmp_path / "photo.png"
    _lines_image(RIVER_LINES).save(photo)
    with pytest.raises(LoadError) as info:
        load_document(photo, ocr=OcrOptions(languages="eng+klingon"))
    assert "Tesseract has no language data for klingon (ASSISTANT_OCR_LANGUAGES=eng+klingon)" in info.value.reason
    assert "apt-get install tesseract-ocr-klingon" in info.value.reason
