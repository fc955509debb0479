"""How chunks and documents are laid out in Chroma: ids, metadata, and reading in bounded pages.

The chunk collection holds one record per chunk (text, vector, provenance metadata); the registry
holds one record per document (its full text and metadata, under a unit vector it is never
searched by). These functions are the only place that knows the record shapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import chromadb

from assistant.documents import Chunk, Document, Passage, StoredDocument
from assistant.metadata import chunk_fields

UNIT_VECTOR = [1.0]  # the registry is looked up by id and filter only, never by similarity
READ_PAGE = 5000  # records per read: under SQLite's variable limit, and bounded responses from a server


def read_pages(collection: chromadb.Collection, include: Any, *, where: dict[str, Any] | None = None,
           ids: list[str] | None = None) -> Iterator[dict[str, Any]]:
    """A collection read in pages of READ_PAGE records: by id batches when ``ids`` is given, else by offset.

    One unbounded ``get`` of a large collection fails in embedded Chroma ("too many SQL variables"
    at 100k chunks) and is one huge response from a server.
    """
    if ids is not None:
        for lo in range(0, len(ids), READ_PAGE):
            yield collection.get(ids=ids[lo:lo + READ_PAGE], where=where, include=include)
        return
    offset = 0
    while True:
        page = collection.get(where=where, limit=READ_PAGE, offset=offset, include=include)
        yield page
        if len(page["ids"]) < READ_PAGE:
            return
        offset += READ_PAGE


def chunk_id(doc_id: str, index: int) -> str:
    return f"{doc_id}:{index:05d}"


def doc_id_of(chunk_key: str) -> str:
    """The document of a chunk id made by ``chunk_id``."""
    return chunk_key.rpartition(":")[0]


def chunk_metadata(doc_id: str, document: Document, chunk: Chunk) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "doc_id": doc_id,
        "title": document.title,
        "source": document.source,
        "language": document.language,
        "index": chunk.index,
        "paragraph": chunk.paragraph,
        "start": chunk.start,
        "end": chunk.end,
        "heading": " > ".join(chunk.heading_path),
    }
    if chunk.page is not None:
        meta["page"] = chunk.page
    if read_by_ocr(document, chunk):
        meta["ocr"] = True
    meta.update(chunk_fields(document.metadata))  # kind, issuer, date, year, date_start/date_end: for filters
    return meta


def chunk_from(passage: Passage) -> Chunk:
    """The Chunk a stored passage was written from (its index, offsets, paragraph, page and heading path).

    A metadata correction rewrites a document's chunks in place, under the same ids: rebuilt from
    what is stored, they keep the boundaries they were cut at.
    """
    return Chunk(text=passage.text, index=int(passage.chunk_id.rpartition(":")[2]), start=passage.start,
                 end=passage.end, paragraph=passage.paragraph or 0, page=passage.page,
                 heading_path=tuple(passage.heading.split(" > ")) if passage.heading else ())


def read_by_ocr(document: Document, chunk: Chunk) -> bool:
    """Whether any of the chunk's text lies on a page the loader read by OCR (its ``ocr_pages`` metadata).

    Decided from the document's metadata, which is stored with its text, so a re-index from the
    store marks the same chunks.
    """
    listed = document.metadata.get("ocr_pages")
    ocr_pages = set(listed) if isinstance(listed, list) else set()  # front matter may hold anything under any key
    return any(page.number in ocr_pages and page.start < chunk.end and chunk.start < page.end
               for page in document.pages)


def passage_from(chunk_key: str, text: str, meta: dict[str, Any], score: float) -> Passage:
    """A Passage from a chunk's stored text and metadata."""
    page = meta.get("page")
    return Passage(
        text=text,
        score=float(score),
        doc_id=str(meta["doc_id"]),
        title=str(meta.get("title", "")),
        chunk_id=chunk_key,
        start=int(meta["start"]),
        end=int(meta["end"]),
        page=int(page) if page is not None else None,
        source=str(meta.get("source", "")),
        paragraph=int(meta["paragraph"]) if meta.get("paragraph") is not None else None,
        heading=str(meta.get("heading", "")),
        language=str(meta.get("language", "")),
        ocr=bool(meta.get("ocr", False)),
        date=str(meta.get("date") or ""),
        kind=str(meta.get("kind") or ""),
    )


def stored_document(doc_id: str, meta: dict[str, Any]) -> StoredDocument:
    return StoredDocument(
        doc_id=doc_id,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        language=str(meta.get("language", "")),
        chunks=int(meta.get("chunks", 0)),
        added_at=str(meta.get("added_at", "")),
        content_hash=str(meta.get("content_hash", "")),
        metadata=json.loads(str(meta.get("extra") or "{}")),
    )
