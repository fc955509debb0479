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

    def cite(self) -> str:
        """A human citation label: the law's article for structured texts, else page or paragraph."""
        if self.heading:
            parts = [p for p in self.heading.split(" > ") if p]
            article = parts[-1] if parts else ""
            if article and article != self.title:
                return f"{self.title} {article}" if self.language == "zh" else f"{self.title}, {article}"
        if self.page is not None:
            return f"{self.title}, p. {self.page}"
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.text,
            "grounded": self.grounded,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "query": self.query,
            "mode": self.mode,
            "language": self.language,
            "warnings": list(self.warnings),
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
