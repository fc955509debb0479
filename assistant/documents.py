"""The data that flows through the pipeline: a loaded Document, its Chunks, and retrieved Passages.

They are plain frozen dataclasses so that every step (load, chunk, embed, store, retrieve,
answer, present) can be tested on its own and so that the UI, the CLI and the Python API
all hand the same objects around.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class PageSpan:
    """Where one page of a paginated source (PDF) lies in the document's text."""

    number: int
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """A loaded file: its full text plus what we know about it.

    ``text`` is the one string every offset in the system refers to, so it is never
    altered after loading (chunks and citations are slices of it).
    """

    text: str
    source: str
    title: str
    language: str  # "zh" or "en"
    metadata: dict[str, Any] = field(default_factory=dict)
    pages: tuple[PageSpan, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding ``offset``, or None for unpaginated sources."""
        for page in self.pages:
            if page.start <= offset < page.end or (offset == page.end == len(self.text)):
                return page.number
        return None


@dataclass(frozen=True)
class Chunk:
    """A slice of a Document, the unit that is embedded, stored and retrieved.

    Invariant: ``document.text[start:end] == text``.
    """

    text: str
    index: int
    start: int
    end: int
    paragraph: int  # 1-based paragraph number in the document
    page: int | None = None
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its score and enough provenance to cite it."""

    text: str
    score: float
    doc_id: str
    title: str
    chunk_id: str
    start: int
    end: int
    page: int | None = None
    source: str = ""
    paragraph: int | None = None
    heading: str = ""
    language: str = ""
    ocr: bool = False  # some of the text was read by OCR from a scanned page or image, and may misread it
    date: str = ""  # the document's date at its stated precision ("2024", "2024-03-05"); "" when unknown
    kind: str = ""  # law, regulation, work report, speech, commentary, notice or other (assistant.metadata)

    def cite(self) -> str:
        """A human citation label: the law's article for structured texts, else page or paragraph.

        Text read by OCR says so, with its page ("p. 3, OCR"), so a reader knows to check the scan.
        """
        if self.heading:
            parts = [p for p in self.heading.split(" > ") if p]
            article = parts[-1] if parts else ""
            if article and article != self.title:
                cited = f"{self.title} {article}" if self.language == "zh" else f"{self.title}, {article}"
                return f"{cited} (p. {self.page}, OCR)" if self.ocr and self.page is not None else cited
        if self.page is not None:
            return f"{self.title}, p. {self.page}{', OCR' if self.ocr else ''}"
        if self.paragraph is not None:
            return f"{self.title}, ¶{self.paragraph}"
        return self.title

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with the citation label included."""
        data = asdict(self)
        data["citation"] = self.cite()
        return data


@dataclass(frozen=True)
class Citation:
    """One inline marker of an answer and the exact span of the passage that supports it.

    ``start``/``end`` are offsets in the cited document's text (not in the passage), so the
    UI can highlight the span inside the full passage and anyone can check the quote.
    """

    marker: int
    passage: Passage
    quote: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "marker": self.marker,
            "doc_id": self.passage.doc_id,
            "title": self.passage.title,
            "citation": self.passage.cite(),
            "date": self.passage.date,
            "quote": self.quote,
            "text": self.passage.text,
            "start": self.start,
            "end": self.end,
            "passage_start": self.passage.start,
            "chunk_id": self.passage.chunk_id,
        }


@dataclass(frozen=True)
class Answer:
    """What ``ask`` returns: text with inline [n] markers, their citations, and what was retrieved.

    ``grounded`` is False when the corpus does not answer the question; the text then says so
    and ``passages`` still holds the nearest passages so users can judge for themselves.
    """

    text: str
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    grounded: bool
    query: str = ""  # the standalone query actually searched (after follow-up rewriting)
    mode: str = "extractive"  # or "llm"
    language: str = "en"
    warnings: tuple[str, ...] = ()  # e.g. LLM sentences that failed verification
    across: bool = False  # an across-documents answer: ``rows`` holds one row per matching document
    rows: tuple[Row, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = {
            "answer": self.text,
            "grounded": self.grounded,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "query": self.query,
            "mode": self.mode,
            "language": self.language,
            "warnings": list(self.warnings),
        }
        if self.across:
            data.update(across=True, rows=[r.to_dict() for r in self.rows])
        return data


@dataclass(frozen=True)
class Figure:
    """A figure as a quote states it: its exact words, its value (or range) and unit, and its qualifier.

    A range keeps both ends (6.5%－7% is low 6.5, high 7) and is never averaged; ``qualifier`` is the
    word that bounds the figure (左右 about, 以上 at least, 以内 at most), "" when there is none.
    """

    text: str
    low: float
    high: float
    unit: str
    qualifier: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Row:
    """One document's line in an across-documents answer: its best cited sentence, or "not stated".

    ``citation`` is None when the document does not address the question; ``figure`` is None when
    the quote (or the question) holds no figure of the kind asked for. Nothing is ever filled in.
    """

    doc_id: str
    title: str
    date: str  # "" when the document's date is unknown
    kind: str
    citation: Citation | None = None
    figure: Figure | None = None

    @property
    def stated(self) -> bool:
        return self.citation is not None

    @property
    def quote(self) -> str:
        return self.citation.quote if self.citation else ""

    @property
    def label(self) -> str:
        """The citation label ("2024年…政府工作报告, ¶38", "长江河道采砂管理条例 第十八条"), or the title."""
        return self.citation.passage.cite() if self.citation else self.title

    def to_dict(self) -> dict[str, Any]:
        citation = self.citation
        return {
            "doc_id": self.doc_id, "title": self.title, "date": self.date, "kind": self.kind,
            "stated": self.stated, "quote": self.quote, "citation": self.label,
            "marker": citation.marker if citation else None,
            "start": citation.start if citation else None, "end": citation.end if citation else None,
            "figure": self.figure.to_dict() if self.figure else None,
        }


Status = Literal["added", "unchanged", "replaced", "failed"]
@dataclass(frozen=True)
class StoredDocument:
    """A registry entry: what the documents table and ``assistant list`` show."""

    doc_id: str
    title: str
    source: str
    language: str
    chunks: int
    added_at: str
    content_hash: str
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "language": self.language,
            "chunks": self.chunks,
            "added_at": self.added_at,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class AddResult:
    """The outcome of adding one file, as users see it in the CLI and the documents tab."""

    path: str
    doc_id: str | None
    status: Status
    reason: str = ""
    title: str = ""
    chunks: int = 0

    def to_dict(self) -> dict[str, object]:
        return asdict(self)
