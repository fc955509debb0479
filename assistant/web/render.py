"""Pure functions that turn answers, citations, passages, documents and upload results into HTML.

Everything that comes from documents or answers is HTML-escaped here, before it reaches the page:
the conversation and the sources panel are our own HTML (not Chatbot markdown), so a document
holding ``<script>`` or ``onerror=`` shows as text. Citation markers are ``<button>``s carrying
their turn and index (digits only), which the layout's click handler turns into ``open_source``
events. Nothing here touches Gradio or the Assistant service, so the escaping rules are tested alone.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from assistant.documents import AddResult, Answer, Citation, Passage, StoredDocument
from assistant.settings import Settings
from assistant.web.conversation import Turn

REFUSAL_BADGE = "Not found in the documents"
DOC_HEADERS = ("Title", "Language", "Chunks", "Added at", "Source", "ID")
LANGUAGES = {"zh": "Chinese (zh)", "en": "English (en)"}
_MARKER = re.compile(r"\[(\d{1,3})\]")


def esc(value: object) -> str:
    """HTML-escape anything shown on the page (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def render_conversation(turns: Sequence[Turn]) -> str:
    """The whole conversation as escaped HTML; an invitation when it is empty."""
    if not turns:
        return (
            '<div class="conversation"><div class="empty-state"><strong>Ask about your policy documents.</strong><br>'
            "Answers quote the documents and cite them with markers like [1]; click a marker or a source to read "
            "the passage. Questions in English or Chinese.</div></div>"
        )
    body = "".join(render_turn(i, t) for i, t in enumerate(turns))
    return f'<div class="conversation">{body}</div>'


def render_turn(index: int, turn: Turn) -> str:
    question = f'<div class="question">{esc(turn.question)}</div>'
    if turn.error:
        reply = (f'<div class="answer failed"><span class="badge error">Could not answer</span>'
                 f'<div class="answer-text">{esc(turn.error)}</div></div>')
    elif turn.answer is None:
        reply = (f'<div class="answer pending"><span class="badge working">Searching the documents…</span>'
                 f'<div class="answer-text">{esc(turn.partial)}</div></div>')
    else:
        reply = render_answer(index, turn.answer, turn.question)
    return f'<div class="turn" data-turn="{index}">{question}{reply}</div>'


def render_answer(turn: int, answer: Answer, question: str = "") -> str:
    """A finished answer: badge, text with clickable markers, then its sources (or nearest passages)."""
    markers = {c.marker for c in answer.citations}
    text = _link_markers(turn, answer.text, markers)
    warnings = "".join(f"<li>{esc(w)}</li>" for w in answer.warnings)
    warnings_html = f'<ul class="warnings">{warnings}</ul>' if warnings else ""
    if answer.grounded:
        badge = f'<span class="badge grounded">Answer from the documents · {esc(answer.mode)}</span>'
        first_per_marker = {c.marker: c for c in reversed(answer.citations)}
        items = [_citation_item(turn, first_per_marker[m]) for m in sorted(first_per_marker)]
        sources = _sources_list(turn, "Sources", items)
        css = "answer grounded"
    else:
        badge = f'<span class="badge refused">{REFUSAL_BADGE}</span>'
        items = [_passage_item(turn, i, p) for i, p in enumerate(answer.passages)]
        sources = _sources_list(turn, "Nearest passages", items) if items else ""
        css = "answer refusal"
    lang = esc(answer.language)
    searched = ""
    if answer.query and answer.query.strip() != question.strip():  # a follow-up rewritten with the history
        searched = f'<div class="searched">Searched for: <q>{esc(answer.query)}</q></div>'
    return (f'<div class="{css}" lang="{lang}">{badge}<div class="answer-text">{text}</div>'
            f"{warnings_html}{sources}{searched}</div>")


def _link_markers(turn: int, text: str, markers: set[int]) -> str:
    """Escape the text, then turn each known [n] into a button (digits only, so nothing unescaped slips in)."""

    def button(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in markers:
            return match.group(0)
        return (f'<button type="button" class="cite" data-kind="c" data-turn="{turn}" data-index="{number}" '
                f'title="Show source [{number}]" aria-label="Show source {number}">[{number}]</button>')

    return _MARKER.sub(button, esc(text))


def _sources_list(turn: int, title: str, items: list[str]) -> str:
    return (f'<div class="sources" data-turn="{turn}"><div class="sources-title">{esc(title)}</div>'
            f'<ol>{"".join(items)}</ol></div>')


def short_cite(passage: Passage, limit: int = 70) -> str:
    """The citation label with a long title shortened, keeping the article, page or paragraph part."""
    label = passage.cite()
    if passage.title and label.startswith(passage.title) and len(passage.title) > limit:
        return _shorten(passage.title, limit) + label[len(passage.title):]
    return label


def _citation_item(turn: int, citation: Citation) -> str:
    passage = citation.passage
    return (f'<li><button type="button" class="source" data-kind="c" data-turn="{turn}" '
            f'data-index="{citation.marker}" title="{esc(passage.cite())}"><span class="label">[{citation.marker}] '
            f'{esc(short_cite(passage))}</span> <span class="snippet">“{esc(_shorten(citation.quote, 110))}”</span>'
            "</button></li>")


def _passage_item(turn: int, index: int, passage: Passage) -> str:
    return (f'<li><button type="button" class="source" data-kind="p" data-turn="{turn}" data-index="{index}" '
            f'title="{esc(passage.cite())}"><span class="label">{esc(short_cite(passage))}</span> '
            f'<span class="score">relevance {passage.score:.2f}</span><br>'
            f'<span class="snippet">{esc(_shorten(passage.text, 140))}</span></button></li>')


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def render_panel_placeholder() -> str:
    return ('<div class="panel placeholder">Sources appear here. Click a marker such as [1] in an answer, or one of '
            "the sources listed under it, to read the full passage with the supporting words highlighted.</div>")


def highlight_span(passage: Passage, start: int | None, end: int | None, quote: str = "") -> str:
    """The passage text, escaped, with one cited span (document offsets) wrapped in <mark>."""
    if start is None or end is None:
        return esc(passage.text)
    return highlight_spans(passage, [(start, end, quote)])


def highlight_spans(passage: Passage, spans: Sequence[tuple[int, int, str]]) -> str:
    """The passage text, escaped, with every cited span (document offsets) wrapped in <mark>.

    A span whose offsets do not point at its quote inside the passage is found by its quote
    instead; one that cannot be found is left unmarked rather than marking the wrong words.
    """
    text = passage.text
    located: list[tuple[int, int]] = []
    for start, end, quote in spans:
        lo, hi = start - passage.start, end - passage.start
        if not (0 <= lo < hi <= len(text)) or (quote and text[lo:hi] != quote):
            found = text.find(quote) if quote else -1
            if found < 0:
                continue
            lo, hi = found, found + len(quote)
        located.append((lo, hi))
    pieces: list[str] = []
    cursor = 0
    for lo, hi in sorted(located):
        lo = max(lo, cursor)
        if lo >= hi:
            continue  # overlaps a span already marked
        pieces.append(f"{esc(text[cursor:lo])}<mark>{esc(text[lo:hi])}</mark>")
        cursor = hi
    pieces.append(esc(text[cursor:]))
    return "".join(pieces)


def render_panel(passage: Passage, *, kicker: str, spans: Sequence[tuple[int, int, str]] = (),
                 document: StoredDocument | None = None) -> str:
    """The side panel: which document the passage comes from, and the passage with its span marked."""
    language = passage.language or (document.language if document else "")
    rows = [("Cited as", passage.cite()), ("Source", passage.source or (document.source if document else "")),
            ("Language", LANGUAGES.get(language, language or "unknown"))]
    if document:
        for key in ("kind", "issuer", "date"):
            if document.metadata.get(key):
                rows.append((key.capitalize(), str(document.metadata[key])))
        rows.append(("Added", document.added_at))
    if passage.score:
        rows.append(("Relevance", f"{passage.score:.3f}"))
    details = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows if v)
    body = highlight_spans(passage, spans)
    return (f'<div class="panel" data-doc="{esc(passage.doc_id)}" data-chunk="{esc(passage.chunk_id)}">'
            f'<div class="panel-kicker">{esc(kicker)}</div><div class="panel-title">{esc(passage.title)}</div>'
            f'<dl>{details}</dl><blockquote class="passage" lang="{esc(language)}">{body}</blockquote></div>')


def render_upload_results(rows: Sequence[tuple[str, AddResult]]) -> str:
    """Per-file outcome of an upload: file name, status, chunks and the reason when there is one."""
    if not rows:
        return ""
    body = "".join(
        f'<tr><td>{esc(name)}</td><td><span class="status {esc(r.status)}">{esc(r.status)}</span></td>'
        f"<td>{r.chunks or ''}</td><td>{esc(r.title)}</td><td>{esc(r.reason)}</td></tr>"
        for name, r in rows
    )
    return ('<div class="upload-results"><table><thead><tr><th>File</th><th>Result</th><th>Chunks</th>'
            f"<th>Title</th><th>Detail</th></tr></thead><tbody>{body}</tbody></table></div>")


def render_notice(message: str, tone: str = "ok") -> str:
    return f'<div class="notice {esc(tone)}">{esc(message)}</div>' if message else ""


def render_info(info: dict[str, Any], settings: Settings) -> str:
    """What is in use: embedding model (and its fallback notice), store, retrieval, LLM."""
    llm = "not configured (extractive answers)" if settings.llm_provider == "none" else \
        f"{settings.llm_provider}: {settings.llm_model or 'default model'}"
    rows = [("Embedding model", info.get("embedding", "")), ("Store", info.get("store", "")),
            ("Retrieval", info.get("retrieval_mode", "")), ("LLM", llm),
            ("Documents", f"{info.get('documents', 0)} ({info.get('chunks', 0)} chunks)")]
    notice = info.get("embedding_notice")
    notice_html = render_notice(str(notice), "warn") if notice else ""
    details = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return f'<div class="system-info"><dl>{details}</dl>{notice_html}</div>'


def render_documents(documents: Sequence[StoredDocument], manage: bool, *, read_only: bool = False) -> str:
    """The documents table; each row has a Delete… button (hidden for users who may not delete)."""
    if not documents:
        hint = "" if read_only or not manage else ": upload some above"
        return f'<div class="notice warn">No documents yet{hint}.</div>'
    head = "".join(f"<th>{esc(h)}</th>" for h in DOC_HEADERS) + ("<th></th>" if manage else "")
    rows = []
    for d in documents:
        action = (f'<td><button type="button" class="delete-doc" data-doc="{esc(d.doc_id)}" '
                  f'aria-label="Delete {esc(d.title)}">Delete…</button></td>') if manage else ""
        cells = [d.title, LANGUAGES.get(d.language, d.language), d.chunks, d.added_at.replace("T", " "), d.source,
                 d.doc_id]
        rows.append(f'<tr data-doc="{esc(d.doc_id)}">' + "".join(f"<td>{esc(c)}</td>" for c in cells)
                    + f"{action}</tr>")
    return (f'<div class="documents"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def document_choices(documents: Sequence[StoredDocument]) -> list[tuple[str, str]]:
    """Dropdown choices: a readable label per document, its id as the value."""
    return [(f"{_shorten(d.title, 80)} ({d.language}, {d.doc_id[:8]})", d.doc_id) for d in documents]
