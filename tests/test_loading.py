"""Tests for assistant.loading: real files of every format, built in tmp_path, plus the shared corpus."""

from __future__ import annotations

import json
import pickle
import random
import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from assistant.documents import Document
from assistant.loading import SUPPORTED_SUFFIXES, LoadError, discover, load_document

SHARED = Path(__file__).resolve().parents[2] / "shared"


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
    assert {".txt", ".md", ".markdown", ".pdf", ".docx", ".html", ".htm"} == SUPPORTED_SUFFIXES
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


def test_pdf_without_text_layer(tmp_path: Path) -> None:
    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 60)
    path = tmp_path / "scan.pdf"
    path.write_bytes(bytes(pdf.output()))
    _raises(path, "PDF has no text layer (scanned image?); run OCR first")


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

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened")

    monkeypatch.setattr(Path, "open", no_reading)
    monkeypatch.setattr(Path, "read_bytes", no_reading)
    err = _raises(path, "over the 0.0001 MB limit", max_mb=0.0001)
    assert err.reason.startswith("file is ")


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
    ):
        (root / name).write_text("x")
    explicit = tmp_path / "sheet.xlsx"
    explicit.write_text("x")

    files, errors = discover([root, explicit, tmp_path / "missing", root / "a.txt", str(root)])
    assert files == [root / "a.txt", root / "b.md", root / "sub" / "c.pdf", root / "sub" / "d.HTML", explicit]
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


# --------------------------------------------------------------------------- the shared corpus


def test_real_chinese_law() -> None:
    path = SHARED / "data" / "policy-texts-zh" / "laws-regulations" / "L01_长江保护法(2020-12-26).md"
    doc = load_document(path)
    assert doc.title == "中华人民共和国长江保护法"
    assert doc.language == "zh"
    assert "第一条" in doc.text
    assert "\r" not in doc.text and doc.text == doc.text.rstrip()
    _assert_json_safe(doc)


def test_real_english_seed() -> None:
    doc = load_document(SHARED / "seeds" / "000_8729011ff7a210bb.txt")
    assert doc.language == "en"
    assert doc.title and len(doc.title) <= 200
    assert doc.metadata["format"] == "txt"
