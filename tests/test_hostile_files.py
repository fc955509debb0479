"""Hostile files through the real pipeline: each is either stored correctly or fails alone, leaving the store as it was.

Every file is generated here, in tmp_path, and added with ``Assistant.add`` to a real embedded
Chroma store (real embedding model) that already holds one good document. A failure must come
back as an AddResult with status "failed" and a reason naming the problem, and the documents,
the chunk count and the store revision must not move. Inputs that are merely unusual (UTF-16,
right-to-left text, emoji, a 2 MB line) must be stored with every chunk an exact slice of the
stored text and no NUL anywhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fpdf import FPDF

from assistant.service import Assistant
from tests.conftest import MB, zip_of_zeros, zip_with_members

MARKER = "pwned-marker"  # a YAML payload would create this file if it were ever executed

GOOD_TEXT = "Water Rules\n\nArticle 1. Every county shall keep its rivers clean.\n\nArticle 2. Fishing is banned."
CHINESE = "长江保护条例\n\n第一条 为了加强长江流域生态环境保护和修复，制定本条例。\n\n第二条 本条例适用于长江流域。"
RTL_EMOJI = (
    "قانون المياه\n\nالمادة 1. تحمي الدولة الأنهار والبحيرات. 🌊 يجب الحفاظ على المياه؟ نعم!\n\n"
    "חוק המים. כל אדם זכאי למים נקיים. 👨‍👩‍👧‍👦 המשפחה שותה מים.\n\n"
    "Emoji 🏳️‍🌈 and 👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 and 𠀀𠀁 stay whole."
)
WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu "


@pytest.fixture
def store_mode() -> str:
    """Embedded store only: these files fail (or pass) in the loader, before either store mode matters."""
    return "embedded"


# --------------------------------------------------------------------------- builders


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _sparse(path: Path) -> Path:
    """3 GB on paper, no blocks on disk: refusing it must not read it."""
    with path.open("wb") as handle:
        handle.truncate(3 * 1024**3)
    return path


def _pdf_pages(path: Path, count: int) -> Path:
    pdf = FPDF()
    pdf.set_font("helvetica", size=12)
    for number in range(1, count + 1):
        pdf.add_page()
        pdf.multi_cell(0, 10, f"Page {number}. The river rules continue here.")
    return _write(path, bytes(pdf.output()))


def _front_matter(path: Path, front: str) -> Path:
    marker = path.parent / MARKER
    return _write(path, f"---\n{front.format(marker=marker)}\n---\n\nBody text.\n".encode())


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _laughs(path: Path) -> Path:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
    return _write(path, ("---\n" + "\n".join(lines) + "\n---\nBody.\n").encode())


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One hostile input: how to build it, and what adding it must give."""

    name: str
    build: Callable[[Path], Path]
    status: str  # "failed" or "added"
    fragment: str = ""  # must appear in the failure reason
    stored: str | None = None  # the exact text the store must hold, when it is known
    settings: dict[str, object] = field(default_factory=dict)
    marks: tuple[pytest.MarkDecorator, ...] = ()


_EMPTY = [
    Case(f"empty{suffix}", lambda d, s=suffix: _write(d / f"empty{s}", b""), "failed", "the file is empty")
    for suffix in (".txt", ".md", ".pdf", ".docx", ".html")
]

CASES: list[Case] = [
    *_EMPTY,
    Case("sparse-3gb.txt", lambda d: _sparse(d / "huge.txt"), "failed", "file is 3072.0 MB, over the 50 MB limit"),
    Case(
        "pdf-over-page-limit",
        lambda d: _pdf_pages(d / "long.pdf", 12),
        "failed",
        "PDF has 12 pages, over the 5-page limit (ASSISTANT_MAX_PAGES)",
        settings={"max_pages": 5},
    ),
    Case("docx-zip-bomb-300mb", lambda d: zip_of_zeros(d / "bomb.docx", {"word/document.xml": 300 * MB}), "failed",
         "DOCX looks like a zip bomb: word/document.xml would expand"),
    Case("docx-245mb-spread-over-50-members",
         lambda d: zip_of_zeros(d / "spread.docx", {f"word/media/p{i}.bin": 4_900_000 for i in range(50)}), "failed",
         "when unpacked, over the 200 MB limit"),
    Case("docx-10002-members", lambda d: zip_with_members(d / "swarm.docx", 10_001), "failed",
         "DOCX holds 10002 files"),
    Case("html-100k-nested-divs",
         lambda d: _write(d / "deep.html", f"<title>Deep</title><p>Intro.</p>{'<div>' * 100_000}Deep text.".encode()),
         "added", stored="Intro.\n\nDeep text."),
    Case("invalid-utf8.txt", lambda d: _write(d / "latin1.txt", "Grüße aus München".encode("latin-1")), "failed",
         "not valid UTF-8 (invalid byte 0xfc at offset 2); save it as UTF-8"),
    Case("utf16-le-bom-chinese.txt", lambda d: _write(d / "zh16.txt", CHINESE.encode("utf-16")), "added",
         stored=CHINESE),
    Case("utf16-be-bom-chinese.md", lambda d: _write(d / "zh16be.md", b"\xfe\xff" + CHINESE.encode("utf-16-be")),
         "added", stored=CHINESE),
    Case("utf16-le-without-bom.txt", lambda d: _write(d / "nobom.txt", GOOD_TEXT.replace("Water", "Lake")
                                                      .encode("utf-16-le")), "added",
         stored=GOOD_TEXT.replace("Water", "Lake")),
    Case("utf16-odd-byte-count.txt", lambda d: _write(d / "odd.txt", CHINESE.encode("utf-16") + b"!"), "failed",
         "marked as UTF-16 but its length is not a whole number of characters"),
    Case("utf16-lone-surrogate.txt",
         lambda d: _write(d / "surrogate.txt", "Lone ".encode("utf-16") + b"\x00\xd8" + "here".encode("utf-16-le")),
         "failed", "invalid UTF-16: illegal"),
    Case("stray-nuls.txt",
         lambda d: _write(d / "nuls.txt", (GOOD_TEXT.replace("Water", "River") + " More words.").encode()
                          .replace(b"county", b"cou\x00nty")),
         "added", stored=GOOD_TEXT.replace("Water", "River") + " More words."),
    Case("mostly-nuls.txt", lambda d: _write(d / "padded.txt", b"Text before the crash." + bytes(4096)), "failed",
         "binary data in a text file (NUL bytes); is it really .txt?"),
    Case("two-mb-single-line.txt", lambda d: _write(d / "line.txt", (WORDS * (2 * MB // len(WORDS))).encode()),
         "added"),
    Case("rtl-and-emoji.md", lambda d: _write(d / "rtl.md", RTL_EMOJI.encode()), "added", stored=RTL_EMOJI),
    Case("yaml-python-object-apply.md",
         lambda d: _front_matter(d / "apply.md", 'x: !!python/object/apply:os.system ["touch {marker}"]'),
         "failed", "invalid YAML front matter: could not determine a constructor for the tag"),
    Case("yaml-python-name.md", lambda d: _front_matter(d / "name.md", "x: !!python/name:os.system"),
         "failed", "tag:yaml.org,2002:python/name:os.system"),
    Case("yaml-custom-tag.md", lambda d: _front_matter(d / "custom.md", "x: !shell touch {marker}"),
         "failed", "could not determine a constructor for the tag '!shell'"),
    Case("yaml-alias-bomb.md", lambda d: _laughs(d / "laughs.md"), "failed",
         "YAML aliases (*a) are not supported in front matter"),
    Case("yaml-5000-deep.md", lambda d: _front_matter(d / "deep.md", "x: " + "[" * 5000 + "]" * 5000), "failed",
         "front matter is nested more than 32 levels deep"),
    Case("named-pipe.txt", lambda d: _fifo(d / "pipe.txt"), "failed", "not a regular file (a pipe, socket or device)",
         marks=(pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes"),)),
]


def _store_state(assistant: Assistant) -> tuple[list[tuple[str, str]], int, str]:
    """What a failed add must leave alone: the registered documents, the chunk count and the revision."""
    documents = [(d.doc_id, d.content_hash) for d in assistant.documents()]
    return documents, assistant.store.count_chunks(), assistant.store.revision()


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name, marks=c.marks) for c in CASES])
def test_hostile_file_is_stored_correctly_or_fails_alone(make_assistant: Callable[..., Assistant],
                                                         tmp_path: Path, case: Case) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    assistant = make_assistant(**case.settings)
    good = _write(inbox / "good.txt", GOOD_TEXT.encode())
    assert [r.status for r in assistant.add(good)] == ["added"]
    before = _store_state(assistant)

    path = case.build(inbox)
    results = assistant.add(path)

    assert len(results) == 1, results
    result = results[0]
    assert not (inbox / MARKER).exists(), "a YAML tag was executed"
    if case.status == "failed":
        assert (result.status, result.doc_id) == ("failed", None), result
        assert case.fragment in result.reason, result.reason
        assert result.path == str(path)
        assert _store_state(assistant) == before, "a failed add changed the store"
        return
    assert result.status == "added", result
    _assert_stored_exactly(assistant, result.doc_id, result.chunks, before, case.stored)


def _assert_stored_exactly(assistant: Assistant, doc_id: str | None, n_chunks: int,
                           before: tuple[list[tuple[str, str]], int, str], expected: str | None) -> None:
    """The new document is registered once, its text is clean, and every chunk is an exact slice of it."""
    assert doc_id is not None and n_chunks > 0
    documents, count, revision = _store_state(assistant)
    assert set(before[0]) < set(documents) and len(documents) == len(before[0]) + 1
    assert count == before[1] + n_chunks and revision != before[2]
    text = assistant.store.text_of(doc_id)
    assert "\x00" not in text
    if expected is not None:
        assert text == expected
    chunks = assistant.store.get_chunks(where={"doc_id": doc_id})
    assert len(chunks) == n_chunks
    assert all(text[c.start : c.end] == c.text and "\x00" not in c.text for c in chunks)


def test_every_case_has_a_unique_name() -> None:
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
