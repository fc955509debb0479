"""Tests for assistant.loading: real files of every format, built in tmp_path, plus the shared corpus."""

from __future__ import annotations

import io
import json
import os
import pickle
import random
import time
import tracemalloc
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from assistant.documents import Document
from assistant.errors import LoadError
from assistant.loading import SUPPORTED_SUFFIXES, discover, load_document
from tests.conftest import DOCX_CONTENT_TYPES, MB, YANGTZE_LAW, seed_text_file, zip_of_zeros, zip_with_members

# --------------------------------------------------------------------------- helpers


def _pdf(path: Path, pages: list[str], title: str | None = None) -> Path:
    """A real PDF with one page per entry (an empty entry makes a blank page)."""
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.set_font("helvetica", size=12)
            pdf.multi_cell(0, 10, text)
    path.write_bytes(bytes(pdf.output()))
    return path


def _raises(path: Path, fragment: str, **kwargs: object) -> LoadError:
    """Load ``path`` expecting a LoadError whose reason contains ``fragment``."""
    with pytest.raises(LoadError) as info:
        load_document(path, **kwargs)  # type: ignore[arg-type]
    assert fragment in info.value.reason, info.value.reason
    return info.value


def _assert_json_safe(document: Document) -> None:
    assert json.loads(json.dumps(document.metadata)) == document.metadata


# --------------------------------------------------------------------------- LoadError and the public constants


def test_supported_suffixes() -> None:
    expected = {".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm", ".png", ".jpg", ".jpeg", ".tif", ".tiff"}
    assert expected == SUPPORTED_SUFFIXES
    assert isinstance(SUPPORTED_SUFFIXES, frozenset)


def test_load_error_shape_and_pickle() -> None:
    err = LoadError("a/b.txt", "the file is empty")
    assert (err.path, err.reason, str(err)) == ("a/b.txt", "the file is empty", "a/b.txt: the file is empty")
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.path, copy.reason, str(copy)) == (err.path, err.reason, str(err))


# --------------------------------------------------------------------------- PDF


def test_pdf_pages_map_to_text(tmp_path: Path) -> None:
    pages = ["Page one says hello.\nSecond line of one.", "Page two talks about rivers.", "Page three ends it."]
    doc = load_document(_pdf(tmp_path / "paper.pdf", pages, title="Policy Paper"))
    assert [span.number for span in doc.pages] == [1, 2, 3]
    assert [doc.text[span.start : span.end] for span in doc.pages] == pages
    assert doc.text == "\n\n".join(pages)
    assert doc.title == "Policy Paper"
    assert doc.language == "en"
    assert doc.metadata["format"] == "pdf"
    assert doc.metadata["page_count"] == 3
    assert doc.page_at(doc.text.index("rivers")) == 2
    assert doc.source == str((tmp_path / "paper.pdf").resolve())
    _assert_json_safe(doc)


def test_pdf_blank_page_keeps_real_page_numbers(tmp_path: Path) -> None:
    doc = load_document(_pdf(tmp_path / "gap.pdf", ["First page text.", "", "Third page text."]))
    assert [span.number for span in doc.pages] == [1, 3]
    assert doc.text[doc.pages[1].start : doc.pages[1].end] == "Third page text."
    assert doc.title == "First page text."  # no PDF title: the first line stands in


def test_pdf_without_text_layer_and_nothing_ocr_can_read(tmp_path: Path) -> None:
    """A drawing without words: OCR is tried (tests/test_ocr.py has the scans it reads) and finds nothing."""
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60)
    path = tmp_path / "scan.pdf"
    path.write_bytes(bytes(pdf.output()))
    _raises(path, "PDF has no text layer (scanned?) and OCR read none of it: page 1 (no text recognised)")


def test_pdf_of_blank_pages(tmp_path: Path) -> None:
    _raises(_pdf(tmp_path / "blank.pdf", ["", ""]), "PDF has no text: its pages are blank")


def test_truncated_pdf(tmp_path: Path) -> None:
    whole = _pdf(tmp_path / "whole.pdf", ["Some text " * 40, "More text " * 40]).read_bytes()
    path = tmp_path / "half.pdf"
    path.write_bytes(whole[: len(whole) // 2])
    _raises(path, "corrupt or truncated PDF")


def test_pdf_with_broken_body(tmp_path: Path) -> None:
    """Header and end marker intact, garbage between: pypdf's own failure becomes a LoadError."""
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\n" + bytes(random.Random(1).randrange(256) for _ in range(500)) + b"\n%%EOF\n")
    _raises(path, "corrupt or truncated PDF: ")


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_text("just some words, not a PDF")
    _raises(path, "not a PDF file")


def _many_pages(path: Path, count: int, text: str = "") -> Path:
    """A PDF of ``count`` pages, cheap to build: blank pages, or one text page repeated."""
    writer = PdfWriter()
    if text:
        template = PdfReader(_pdf(path.with_suffix(".one.pdf"), [text])).pages[0]
        for _ in range(count):
            writer.add_page(template)
    else:
        for _ in range(count):
            writer.add_blank_page(612, 792)
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def test_pdf_with_thousands_of_pages_is_refused_before_extraction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _many_pages(tmp_path / "phone-book.pdf", 5000, "A page of the phone book.")

    def no_extraction(*args: object, **kwargs: object) -> str:
        raise AssertionError("text was extracted before the page count was checked")

    monkeypatch.setattr("pypdf._page.PageObject.extract_text", no_extraction)
    started = time.perf_counter()
    err = _raises(path, "PDF has 5000 pages, over the 2000-page limit (ASSISTANT_MAX_PAGES)")
    assert time.perf_counter() - started < 10
    assert "split it" in err.reason and str(err).startswith(str(path))


def test_pdf_page_limit_is_a_parameter(tmp_path: Path) -> None:
    path = _pdf(tmp_path / "three.pdf", ["Page one.", "Page two.", "Page three."])
    _raises(path, "PDF has 3 pages, over the 2-page limit", max_pages=2)
    assert load_document(path, max_pages=3).metadata["page_count"] == 3
    blank = _many_pages(tmp_path / "blank.pdf", 2001)
    _raises(blank, "PDF has 2001 pages, over the 2000-page limit")


# --------------------------------------------------------------------------- DOCX


def test_docx_paragraphs_tables_and_title(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("River Protection Rules", style="Title")
    document.add_heading("Chapter 1 General", level=1)
    document.add_paragraph("Article 1 The rivers shall be protected.")
    document.add_paragraph("   ")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Region", "Quota"
    table.cell(1, 0).text, table.cell(1, 1).text = "Upper", "40"
    document.add_paragraph("Article 2 Closing words.")
    path = tmp_path / "rules.docx"
    document.save(str(path))

    doc = load_document(path)
    assert doc.text == (
        "River Protection Rules\n\nChapter 1 General\n\nArticle 1 The rivers shall be protected.\n\n"
        "Region | Quota\n\nUpper | 40\n\nArticle 2 Closing words."
    )
    assert doc.title == "River Protection Rules"
    assert doc.metadata["format"] == "docx"
    assert doc.pages == ()
    _assert_json_safe(doc)


def test_docx_heading_gives_title(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_paragraph("A preface line before the heading.")
    document.add_heading("Water Law", level=1)
    document.add_paragraph("Body text.")
    path = tmp_path / "law.docx"
    document.save(str(path))
    assert load_document(path).title == "Water Law"


def test_corrupt_docx(tmp_path: Path) -> None:
    path = tmp_path / "broken.docx"
    path.write_bytes(bytes(random.Random(7).randrange(256) for _ in range(2048)))
    _raises(path, "corrupt DOCX (not a zip archive)")


def test_zip_that_is_not_docx(tmp_path: Path) -> None:
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "hi")
    _raises(path, "corrupt DOCX")


def test_empty_docx(tmp_path: Path) -> None:
    path = tmp_path / "blank.docx"
    docx.Document().save(str(path))
    _raises(path, "only whitespace")






def test_docx_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    path = zip_of_zeros(tmp_path / "bomb.docx", {"word/document.xml": 300 * MB})
    assert path.stat().st_size < 2 * MB
    tracemalloc.start()
    try:
        err = _raises(path, "DOCX looks like a zip bomb: word/document.xml would expand")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "300.0 MB" in err.reason and "refused" in err.reason
    assert peak < 4 * path.stat().st_size + MB, f"refusing the bomb allocated {peak} bytes"


def test_docx_expanding_past_the_total_limit_is_refused(tmp_path: Path) -> None:
    """Many members, each too small for the ratio check, but 245 MB together."""
    path = zip_of_zeros(tmp_path / "spread.docx", {f"word/media/part{i}.bin": 4_900_000 for i in range(50)})
    _raises(path, "DOCX would expand to 233.7 MB when unpacked, over the 200 MB limit")


def test_docx_with_too_many_members_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "swarm.docx"
    zip_with_members(path, 10_001)
    _raises(path, "DOCX holds 10002 files, over the 10000 a Word document needs")


def test_docx_with_unusual_compression_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lzma.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_LZMA) as archive:
        archive.writestr("[Content_Types].xml", DOCX_CONTENT_TYPES)
    _raises(path, "uses a compression method Word never writes")


def test_large_repetitive_docx_is_not_mistaken_for_a_bomb(tmp_path: Path) -> None:
    document = docx.Document()
    for i in range(1500):
        document.add_paragraph(f"Article {i} The river shall be protected and restored by every county.")
    path = tmp_path / "long.docx"
    document.save(str(path))
    doc = load_document(path)
    assert doc.text.count("Article ") == 1500


# --------------------------------------------------------------------------- HTML


PAGE = """<!doctype html>
<html><head><title>  Green   Policy </title><style>body { color: red; }</style>
<script>alert(1)</script></head>
<body>
<nav><a href="/">Home</a> <a href="/x">Navigation link</a></nav>
<header>Site banner</header>
<main>
  <h1>Main heading</h1>
  <p>The first
     paragraph   wraps.</p>
  <ul><li>Point one</li><li>Point <b>two</b></li></ul>
  <script>alert(1)</script>
  <p>Line a<br>Line b</p>
  <!-- a hidden comment -->
</main>
<aside>Related stuff</aside>
<footer>Copyright footer</footer>
</body></html>
"""


def test_html_main_content_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(PAGE, encoding="utf-8")
    doc = load_document(path)
    assert doc.text == "Main heading\n\nThe first paragraph wraps.\n\nPoint one\n\nPoint two\n\nLine a\nLine b"
    for junk in ("alert", "color", "Navigation", "banner", "Related", "footer", "comment"):
        assert junk not in doc.text
    assert doc.title == "Green Policy"
    assert doc.metadata["format"] == "html"


def test_html_without_main_uses_body_and_h1_title(tmp_path: Path) -> None:
    path = tmp_path / "plain.htm"
    path.write_text("<html><body><h1>Only  Heading</h1><div>Leaf text<div>Nested block</div></div></body></html>")
    doc = load_document(path)
    assert doc.title == "Only Heading"
    assert doc.text == "Only Heading\n\nLeaf text\n\nNested block"


def test_html_with_nothing_readable(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><head><script>var x = 1;</script></head><body><nav>Menu</nav></body></html>")
    _raises(path, "no readable text")


@pytest.mark.parametrize(
    "markup",
    [
        "<div>" * 100_000 + "deep text" + "</div>" * 100_000,
        "<span><b>" * 50_000 + "deep text",  # never closed
        "<table><tr><td>" * 30_000 + "deep text",
    ],
    ids=["100k-divs", "unclosed-inline", "nested-tables"],
)
def test_deeply_nested_html_does_not_crash(tmp_path: Path, markup: str) -> None:
    path = tmp_path / "deep.html"
    path.write_text(f"<html><body><p>Intro.</p>{markup}</body></html>", encoding="utf-8")
    try:
        doc = load_document(path)
    except LoadError as exc:  # refusing is acceptable; a RecursionError or a crash is not
        assert str(exc).startswith(str(path))
    else:
        assert doc.text.startswith("Intro.") and "deep text" in doc.text


def test_html_stray_nuls_and_nul_entities_never_reach_the_text(tmp_path: Path) -> None:
    path = tmp_path / "nul.html"
    body = "<p>" + "Clean water for every town. " * 20 + "</p>"
    path.write_bytes(f"<html><body>{body}<p>a&#0;b</p></body></html>".encode().replace(b"every", b"ev\x00ery", 2))
    doc = load_document(path)
    assert "\x00" not in doc.text and "every town" in doc.text
    binary = tmp_path / "binary.html"
    binary.write_bytes(b"<html>" + b"\x00\x01" * 100 + b"</html>")
    _raises(binary, "binary data in an HTML file (NUL bytes); is it really HTML?")


def test_utf16_html_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "wide.html"
    path.write_bytes("<html><body><p>长江保护 River</p></body></html>".encode("utf-16"))
    assert load_document(path).text == "长江保护 River"


# --------------------------------------------------------------------------- Markdown


def test_markdown_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "notice.md"
    path.write_text(
        "---\ntitle: Official Notice\ndate: 2020-12-26\ntags: [water, river]\nlanguage: en\n"
        "issuer: {name: Ministry, level: 1}\n---\n\n\n# Heading In Body\n\nBody paragraph.\n",
        encoding="utf-8",
    )
    doc = load_document(path)
    assert doc.text == "# Heading In Body\n\nBody paragraph."
    assert doc.title == "Official Notice"
    assert doc.metadata["date"] == "2020-12-26"
    assert doc.metadata["tags"] == ["water", "river"]
    assert doc.metadata["format"] == "markdown"
    assert isinstance(doc.metadata["issuer"], str)
    assert doc.language == "en"
    _assert_json_safe(doc)


def test_markdown_title_from_heading_and_declared_language(tmp_path: Path) -> None:
    path = tmp_path / "plain.markdown"
    path.write_text("---\nlanguage: zh\n---\nIntro line\n\n```\n# not a heading\n```\n\n# Real Title\n\ntext\n")
    doc = load_document(path)
    assert doc.title == "Real Title"
    assert doc.language == "zh"  # declared in the front matter, though the text is English
    assert doc.text.startswith("Intro line")


def test_markdown_invalid_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "bad.md"
    path.write_text("---\ntitle: [unclosed\n---\nBody\n")
    _raises(path, "invalid YAML front matter")


def test_markdown_front_matter_must_be_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.md"
    path.write_text("---\n- a\n- b\n---\nBody\n")
    _raises(path, "invalid YAML front matter")


@pytest.mark.parametrize(
    ("front", "fragment"),
    [
        ('x: !!python/object/apply:os.system ["touch {marker}"]', "python/object/apply:os.system"),
        ("x: !!python/object/new:os.system [touch {marker}]", "python/object/new:os.system"),
        ("x: !!python/name:os.system", "python/name:os.system"),
        ("x: !!python/module:os", "python/module:os"),
        ("x: !shell touch {marker}", "!shell"),
    ],
    ids=["object-apply", "object-new", "name", "module", "custom-tag"],
)
def test_yaml_tags_in_front_matter_are_never_executed(tmp_path: Path, front: str, fragment: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "tagged.md"
    path.write_text(f"---\n{front.format(marker=marker)}\n---\n\nBody text.\n", encoding="utf-8")
    err = _raises(path, "invalid YAML front matter: could not determine a constructor for the tag")
    assert fragment in err.reason and str(err).startswith(str(path))
    assert not marker.exists()


def test_yaml_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
    path = tmp_path / "laughs.md"
    path.write_text("---\n" + "\n".join(lines) + "\n---\nBody.\n", encoding="utf-8")
    started = time.perf_counter()
    _raises(path, "YAML aliases (*a) are not supported in front matter")
    assert time.perf_counter() - started < 5


def test_yaml_deep_nesting_and_size_are_bounded(tmp_path: Path) -> None:
    deep = tmp_path / "deep.md"
    deep.write_text("---\nx: " + "[" * 5000 + "]" * 5000 + "\n---\nBody.\n", encoding="utf-8")
    _raises(deep, "front matter is nested more than 32 levels deep")
    big = tmp_path / "big.md"
    big.write_text("---\n" + "".join(f"k{i}: {'v' * 60}\n" for i in range(2000)) + "---\nBody.\n")
    _raises(big, "over the 64 KB limit")


def test_nul_and_surrogate_escapes_in_front_matter_are_cleaned(tmp_path: Path) -> None:
    path = tmp_path / "escapes.md"
    path.write_text('---\ntitle: "Wa\\0ter \\ud800Law"\ntags: ["a\\0b"]\n---\n\nBody.\n', encoding="utf-8")
    doc = load_document(path)
    assert doc.title == "Water \ufffdLaw"
    assert doc.metadata["tags"] == ["ab"]
    json.dumps(doc.metadata, ensure_ascii=False).encode("utf-8")


def test_markdown_unclosed_fence_is_body(tmp_path: Path) -> None:
    path = tmp_path / "rule.md"
    path.write_text("---\nNot front matter after all.\n")
    assert load_document(path).text == "---\nNot front matter after all."


# --------------------------------------------------------------------------- plain text


def test_txt_utf8_normalized(tmp_path: Path) -> None:
    path = tmp_path / "win.txt"
    path.write_bytes("\ufeffFirst line\r\nSecond line\rThird  \r\n\r\n  ".encode())
    doc = load_document(path)
    assert doc.text == "First line\nSecond line\nThird"
    assert doc.title == "First line"
    assert doc.metadata["format"] == "txt"
    assert doc.metadata["encoding"] == "utf-8"


def test_txt_gb18030_chinese(tmp_path: Path) -> None:
    text = "第一条 为了加强长江流域生态环境保护和修复，制定本法。\n第二条 本法适用于长江流域。"
    path = tmp_path / "gbk.txt"
    path.write_bytes(text.encode("gb18030"))
    doc = load_document(path)
    assert doc.text == text
    assert doc.metadata["encoding"] == "gb18030"
    assert doc.language == "zh"


def test_txt_invalid_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"hello \xff world")
    _raises(path, "not valid UTF-8 (invalid byte 0xff at offset 6); save it as UTF-8")


def test_txt_latin1_is_not_mistaken_for_chinese(tmp_path: Path) -> None:
    path = tmp_path / "german.txt"
    path.write_bytes("Grüße aus München, schöne Straße".encode("latin-1"))
    _raises(path, "not valid UTF-8 (invalid byte 0xfc at offset 2)")


_UTF16_HINT = "binary data in a text file (NUL bytes); is it really .txt? (if it is UTF-16 text without a byte-order"
CHINESE = "第一条 为了加强长江流域生态环境保护和修复，制定本法。\n第二条 本法适用于长江流域。"


@pytest.mark.parametrize(
    ("codec", "encoding"),
    [("utf-16", "utf-16"), ("utf-16-be-bom", "utf-16"), ("utf-32", "utf-32")],
)
@pytest.mark.parametrize("suffix", [".txt", ".md"])
def test_utf16_and_utf32_with_bom_are_decoded(tmp_path: Path, codec: str, encoding: str, suffix: str) -> None:
    text = "Water Law 水法\n\n" + CHINESE
    data = b"\xfe\xff" + text.encode("utf-16-be") if codec == "utf-16-be-bom" else text.encode(codec)
    path = tmp_path / f"wide{suffix}"
    path.write_bytes(data)
    doc = load_document(path)
    assert doc.text == text
    assert doc.metadata["encoding"] == encoding
    assert doc.language == "zh"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_bom_is_recognised_by_its_zero_bytes(tmp_path: Path, codec: str) -> None:
    text = "Article 1. The rivers shall be protected.\nArticle 2. 长江 is the Yangtze.\n"
    path = tmp_path / "nobom.txt"
    path.write_bytes(text.encode(codec))
    doc = load_document(path)
    assert doc.text == text.rstrip()
    assert doc.metadata["encoding"] == codec


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"\xff\xfe" + "Odd length".encode("utf-16-le") + b"A", "marked as UTF-16 but its length is not a whole"),
        (b"\xff\xfe" + "Lone ".encode("utf-16-le") + b"\x00\xd8" + "x".encode("utf-16-le"), "invalid UTF-16: "),
        (b"\xfe\xff" + b"\xdc\x00\x00A", "invalid UTF-16: illegal encoding at byte"),
        (b"\xff\xfe\x00\x00" + "Wide".encode("utf-32-le") + b"\x00\xd8\x00\x00", "invalid UTF-32: "),
        ("No mark, odd length".encode("utf-16-le") + b"A", _UTF16_HINT),
        ("No mark, surrogate".encode("utf-16-le") + b"\x00\xdc", _UTF16_HINT),
    ],
    ids=["odd-length", "lone-high-surrogate", "lone-low-surrogate", "utf32-surrogate", "no-bom-odd", "no-bom-lone"],
)
def test_invalid_utf16_is_refused(tmp_path: Path, data: bytes, fragment: str) -> None:
    path = tmp_path / "broken.txt"
    path.write_bytes(data)
    err = _raises(path, fragment)
    assert "save it as UTF-8" in err.reason


@pytest.mark.parametrize(
    "data",
    [b"caf\xc3", b"\xc3\x28 broken", b"ok \xe2\x82 cut", b"\xed\xa0\x80 surrogate", b"\xf8\x88\x80\x80\x80"],
    ids=["truncated-at-end", "bad-continuation", "truncated-inside", "encoded-surrogate", "five-byte-form"],
)
def test_invalid_utf8_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.md"
    path.write_bytes(data)
    _raises(path, "not valid UTF-8 (invalid byte 0x")


def test_stray_nul_bytes_are_removed(tmp_path: Path) -> None:
    text = "The river law protects the Yangtze. " * 20
    path = tmp_path / "glitch.txt"
    path.write_bytes(text.encode().replace(b"law", b"l\x00aw", 3))
    doc = load_document(path)
    assert doc.text == text.strip()
    assert doc.metadata["nul_bytes_removed"] == 3
    wide = tmp_path / "glitch16.txt"
    wide.write_bytes(("长江" * 200 + "\x00" + "保护").encode("utf-16"))
    assert load_document(wide).text == "长江" * 200 + "保护"


def test_mostly_nul_files_are_refused(tmp_path: Path) -> None:
    padded = tmp_path / "padded.txt"
    padded.write_bytes(b"Some text before the crash." + bytes(4096))
    _raises(padded, "binary data in a text file (NUL bytes); is it really .txt?")
    utf32ish = tmp_path / "utf32.md"
    utf32ish.write_bytes("No byte-order mark here.".encode("utf-32-le"))
    _raises(utf32ish, "binary data in a text file (NUL bytes); is it really .md?")


def test_txt_empty_and_whitespace(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    _raises(empty, "the file is empty")
    blank = tmp_path / "blank.txt"
    blank.write_bytes(b"  \n\t\r\n ")
    _raises(blank, "whitespace")


def test_txt_binary(tmp_path: Path) -> None:
    path = tmp_path / "image.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    _raises(path, "binary data in a text file (NUL bytes); is it really .txt?")
    controls = tmp_path / "controls.txt"
    controls.write_bytes(b"ab\x01\x02\x03\x04cd")
    _raises(controls, "binary data in a text file")


def test_unsupported_suffix(tmp_path: Path) -> None:
    path = tmp_path / "sheet.xlsx"
    path.write_bytes(b"PK\x03\x04 whatever")
    err = _raises(path, "unsupported file type '.xlsx' (supported: ")
    assert ".docx" in err.reason and ".pdf" in err.reason


def test_oversize_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.txt"
    path.write_text("word " * 100)
    sparse = tmp_path / "huge.txt"  # 3 GB on paper, no blocks on disk
    with sparse.open("wb") as handle:
        handle.truncate(3 * 1024**3)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    err = _raises(path, "over the 0.0001 MB limit", max_mb=0.0001)
    assert err.reason.startswith("file is ")
    tracemalloc.start()
    try:
        err = _raises(sparse, "file is 3072.0 MB, over the 1 MB limit", max_mb=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024, f"refusing a 3 GB file allocated {peak} bytes"
    assert str(err).startswith(str(sparse))


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_zero_byte_file_of_every_type(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    err = _raises(path, "the file is empty")
    assert str(err) == f"{path}: the file is empty"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)
    _raises(pipe, "not a regular file (a pipe, socket or device)")
    files, errors = discover([pipe])
    assert files == [] and [e.reason for e in errors] == [
        "not a regular file (a pipe, socket or device); save its contents to a file"
    ]


def test_missing_path_and_folder(tmp_path: Path) -> None:
    _raises(tmp_path / "nope.txt", "no such file or folder")
    _raises(tmp_path, "folder")


def test_source_override(tmp_path: Path) -> None:
    path = tmp_path / "tmp123.txt"
    path.write_text("Uploaded content.")
    assert load_document(path, source="report.txt").source == "report.txt"
    path.write_text("")
    err = _raises(path, "the file is empty", source="report.txt")
    assert str(err) == "report.txt: the file is empty"


# --------------------------------------------------------------------------- discover


def test_discover_folder(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    for name in (
        "b.md",
        "a.txt",
        "sub/c.pdf",
        "sub/d.HTML",
        "README.md",
        "sub/Readme.MD",
        ".hidden.txt",
        ".git/e.txt",
        "data.xlsx",
        "~$lock.docx",
        "notes.csv",
        "sub/scan.JPG",
        "sub/logo.gif",
    ):
        (root / name).write_text("x")
    explicit = tmp_path / "sheet.xlsx"
    explicit.write_text("x")

    files, errors = discover([root, explicit, tmp_path / "missing", root / "a.txt", str(root)])
    found = [root / "a.txt", root / "b.md", root / "sub" / "c.pdf", root / "sub" / "d.HTML", root / "sub" / "scan.JPG"]
    assert files == [*found, explicit]  # scans in a folder are documents too (read by OCR)
    assert [(e.path, e.reason) for e in errors] == [(str(tmp_path / "missing"), "no such file or folder")]


def test_discover_folder_without_supported_files(tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    (empty / "table.xlsx").write_text("x")
    (empty / "README.md").write_text("about this folder")
    good = tmp_path / "good.txt"
    good.write_text("fine")
    files, errors = discover([empty, good])
    assert files == [good]
    assert len(errors) == 1
    assert errors[0].path == str(empty)
    assert errors[0].reason.startswith("folder holds no supported files")


# --------------------------------------------------------------------------- real texts (tests/data, corpus/)


def test_real_chinese_law() -> None:
    doc = load_document(YANGTZE_LAW)
    assert doc.title == "中华人民共和国长江保护法"
    assert doc.language == "zh"
    assert "第一条" in doc.text
    assert "\r" not in doc.text and doc.text == doc.text.rstrip()
    _assert_json_safe(doc)


def test_real_english_seed(tmp_path: Path) -> None:
    doc = load_document(seed_text_file(tmp_path))
    assert doc.language == "en"
    assert doc.title and len(doc.title) <= 200
    assert doc.metadata["format"] == "txt"


# --------------------------------------------------------------------------- property: hostile bytes


def _seed_pdf() -> bytes:
    pdf = FPDF()
    pdf.set_title("Seed")
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 10, "Article 1. Rivers are protected.\nArticle 2. Fishing is banned.")
    return bytes(pdf.output())


def _seed_docx() -> bytes:
    document = docx.Document()
    document.add_heading("Water Law", level=1)
    document.add_paragraph("Article 1 The rivers shall be protected.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _seed_image(fmt: str) -> bytes:
    """A small picture of one line of text (WenQuanYi, as tests/scans.py uses) in ``fmt``."""
    from PIL import Image, ImageDraw, ImageFont

    from tests.scans import FONT

    image = Image.new("L", (420, 60), 255)
    ImageDraw.Draw(image).text((10, 10), "Rivers are protected.", font=ImageFont.truetype(str(FONT), 32), fill=0)
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


# Images are seeds of their own: a damaged image that still decodes costs a Tesseract run, not milliseconds.
IMAGE_SEEDS: dict[str, bytes] = {".png": _seed_image("PNG"), ".jpg": _seed_image("JPEG"), ".tif": _seed_image("TIFF")}

SEEDS: dict[str, bytes] = {
    ".txt": "Water Law\n\n第一条 长江保护。\nArticle 1. Rivers are protected.\n".encode(),
    ".md": "---\ntitle: Water Law\ntags: [a, b]\n---\n# Water Law\n\nArticle 1. 长江保护。\n".encode(),
    ".html": b"<html><head><title>T</title></head><body><main><h1>Law</h1><p>Rivers <br>are protected.</p>"
    b"<pre>a\n b</pre></main></body></html>",
    ".pdf": _seed_pdf(),
    ".docx": _seed_docx(),
}


_NASTY_BYTES = [b"\x00", b"\xff\xfe", b"\xed\xa0\x80", b"&#0;", b"<div>" * 40, b"]]>", b"\xf0\x9f"]


@st.composite
def _mutated_member(draw: st.DrawFn, seed: bytes) -> bytes:
    """A DOCX with one XML part damaged and re-zipped, so python-docx and lxml, not zipfile, meet the damage."""
    with zipfile.ZipFile(io.BytesIO(seed)) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    name = draw(st.sampled_from(sorted(n for n in members if n.endswith((".xml", ".rels")))))
    members[name] = draw(_mutated(members[name]))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, content in members.items():
            archive.writestr(member, content)
    return buffer.getvalue()


@st.composite
def _mutated(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` after a few truncations, byte flips, insertions and deletions: damaged but plausible files."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16) | st.sampled_from(_NASTY_BYTES))
        else:
            del data[at : at + draw(st.integers(1, 64))]
    return bytes(data)


def _load_or_refuse(path: Path, data: bytes) -> None:
    """The loader's contract on any input: a clean Document or a LoadError naming the file, nothing else."""
    path.write_bytes(data)
    try:
        doc = load_document(path)
    except LoadError as exc:
        assert str(exc).startswith(f"{path}: ") and exc.reason
        return
    assert doc.text.strip() and "\x00" not in doc.text
    doc.text.encode("utf-8")  # no lone surrogates: the store could not hold them
    doc.title.encode("utf-8")
    assert "\x00" not in doc.title
    json.dumps(doc.metadata, ensure_ascii=False).encode("utf-8")
    assert all(0 <= span.start < span.end <= len(doc.text) for span in doc.pages)


_HOSTILE_SETTINGS = settings(max_examples=150, deadline=None, database=None)


@pytest.mark.parametrize("suffix", sorted({**SEEDS, **IMAGE_SEEDS}))
@_HOSTILE_SETTINGS
@given(data=st.binary(max_size=4096))
def test_arbitrary_bytes_load_or_raise_load_error(tmp_path_factory: pytest.TempPathFactory, suffix: str,
                                                 data: bytes) -> None:
    _load_or_refuse(tmp_path_factory.getbasetemp() / f"fuzz{suffix}", data)


@pytest.mark.parametrize("suffix", sorted(SEEDS))
@_HOSTILE_SETTINGS
@given(choice=st.data())
def test_damaged_files_load_or_raise_load_error(tmp_path_factory: pytest.TempPathFactory, suffix: str,
                                               choice: st.DataObject) -> None:
    strategy = _mutated(SEEDS[suffix])
    if suffix == ".docx":
        strategy = strategy | _mutated_member(SEEDS[suffix])
    _load_or_refuse(tmp_path_factory.getbasetemp() / f"damaged{suffix}", choice.draw(strategy))


@pytest.mark.parametrize("suffix", sorted(IMAGE_SEEDS))
@settings(max_examples=25, deadline=None, database=None)
@given(choice=st.data())
def test_damaged_images_load_or_raise_load_error(tmp_path_factory: pytest.TempPathFactory, suffix: str,
                                                 choice: st.DataObject) -> None:
    _load_or_refuse(tmp_path_factory.getbasetemp() / f"damaged{suffix}", choice.draw(_mutated(IMAGE_SEEDS[suffix])))


@pytest.mark.parametrize("suffix", sorted({**SEEDS, **IMAGE_SEEDS}))
def test_seeds_load(tmp_path: Path, suffix: str) -> None:
    """The mutation seeds are valid files, so mutations start from something the loader accepts."""
    path = tmp_path / f"seed{suffix}"
    path.write_bytes({**SEEDS, **IMAGE_SEEDS}[suffix])
    assert load_document(path).text


def test_chinese_pdf_lines_join_without_spaces_and_english_hyphenation_is_undone(tmp_path: Path) -> None:
    """Issue 15, defect 4: "城镇新增就 / 业1244万人" — a Chinese word broken at a PDF line end was quoted broken."""
    font = Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")  # fonts-wqy-microhei, installed by .ci/run
    assert font.is_file(), "apt-get install fonts-wqy-microhei"
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("wqy", fname=str(font))
    pdf.set_font("wqy", size=12)
    sentence = "城镇新增就业1244万人，调查失业率保持在较低水平，特色优势产业加快发展。"
    pdf.multi_cell(60, 8, sentence)  # a narrow column: the sentence wraps inside words
    pdf.multi_cell(0, 8, "第二条 国家对长江采砂实行统一规划。")
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(40, 8, "The protection of the environ-\nment matters.")
    path = tmp_path / "wrapped.pdf"
    pdf.output(str(path))
    text = load_document(path).text
    assert sentence in text
    assert "\n第二条 国家对长江采砂实行统一规划。" in text  # an article still starts its own line
    assert "environment" in text and "environ-" not in text
