"""Pure functions that turn answers, citations, passages, documents and upload results into HTML.

Everything that comes from documents or answers is escaped here, before it reaches the page. Chat
messages go through Gradio's Chatbot, which renders Markdown and sanitises HTML (it drops ``data-``
and ``aria-`` attributes and event handlers), so escaping covers both: HTML entities for ``<>&"'``
and for the characters Markdown acts on (``[]()!*_`#~|``), so a passage holding ``![x](url)`` or
``<script>`` shows as text. Citation markers are buttons whose value names the turn and the source
(``src/<turn>/<c|p>/<n>``, digits only; the sanitiser keeps ``value``); the page's script turns a
click into ``open_source``.
Nothing here touches Gradio or the Assistant service, so the escaping rules are tested alone.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from assistant.documents import AddResult, Answer, Citation, Passage, StoredDocument
from assistant.metadata import KINDS
from assistant.settings import Settings
from assistant.web.conversation import STOPPED, Turn
from assistant.web.i18n import text

_MARKER = re.compile(r"\[(\d{1,3})\]")
# One pass, character by character: HTML's specials and every character Markdown acts on become numeric
# entities (escaping HTML first and Markdown after would break the entities' own "#" and "&").
_ESCAPES = str.maketrans({c: f"&#{ord(c)};" for c in "&<>\"'[]()!*_`#~|\\{}+-"})
_CITED = ' id="cited"'  # the first cited mark in the whole-document viewer, scrolled into view
Gloss = Callable[[str, str], str]  # (quote, reader's language) -> word-by-word gloss, "" for none


def esc(value: object) -> str:
    """HTML-escape anything shown on the page (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


def esc_md(value: object) -> str:
    """Escape for a Chatbot message: every character HTML or Markdown would act on, as a numeric entity."""
    return str(value).translate(_ESCAPES)


def display_source(source: str) -> str:
    """What users see of a source: a URL as it is, a file by its name only (never a path on the server)."""
    if re.match(r"^https?://", source):
        return source
    return PureWindowsPath(PurePosixPath(source).name).name


def language_name(language: str, ui: str) -> str:
    return text(ui, f"lang_{language}") if language in ("zh", "en") else text(ui, "lang_unknown")


# --- the conversation ----------------------------------------------------------------------


def messages_of(turns: Sequence[Turn], ui: str, gloss: Gloss | None = None) -> list[dict[str, str]]:
    """The Chatbot's messages: every turn is exactly its question and its reply (see turn_index)."""
    messages: list[dict[str, str]] = []
    for index, turn in enumerate(turns):
        messages.append({"role": "user", "content": esc_md(turn.question)})
        messages.append({"role": "assistant", "content": render_reply(index, turn, ui, gloss)})
    return messages


def render_reply(index: int, turn: Turn, ui: str, gloss: Gloss | None = None) -> str:
    if turn.error == STOPPED:
        partial = f'<div class="answer-text">{esc_md(turn.partial)}</div>' if turn.partial else ""
        return (f'<div class="answer stopped"><span class="badge stopped">{esc(text(ui, "badge_stopped"))}</span>'
                f'{partial}<div class="answer-note">{esc(text(ui, "stopped_text"))}</div></div>')
    if turn.error:
        return (f'<div class="answer failed"><span class="badge error">{esc(text(ui, "badge_error"))}</span>'
                f'<div class="answer-text">{esc_md(turn.error)}</div></div>')
    if turn.answer is None:
        return (f'<div class="answer pending"><span class="badge working">{esc(text(ui, "badge_working"))}</span>'
                f'<div class="answer-text">{esc_md(turn.partial)}</div></div>')
    return render_answer(index, turn.answer, turn.question, ui, gloss)


def render_answer(turn: int, answer: Answer, question: str = "", ui: str = "en", gloss: Gloss | None = None) -> str:
    """A finished answer: badge, text with linked markers, glosses, then its sources (or nearest passages)."""
    markers = {c.marker for c in answer.citations}
    body = _link_markers(turn, answer.text, markers)
    warnings = "".join(f"<li>{esc_md(w)}</li>" for w in answer.warnings)
    warnings_html = f'<ul class="warnings">{warnings}</ul>' if warnings else ""
    if answer.grounded:
        badge = f'<span class="badge grounded">{esc(text(ui, "badge_grounded", mode=answer.mode))}</span>'
        items = [_citation_item(turn, marker, cited) for marker, cited in _by_marker(answer.citations)]
        sources = _sources_list(text(ui, "sources"), "", items)
        css = "answer grounded"
    else:
        badge = f'<span class="badge refused">{esc(text(ui, "badge_refused"))}</span>'
        items = [_passage_item(turn, i, p) for i, p in enumerate(answer.passages)]
        sources = _sources_list(text(ui, "nearest"), text(ui, "nearest_note"), items) if items else ""
        css = "answer refusal"
    glosses = _glosses(answer, question, ui, gloss)
    table = _rows_table(turn, answer, ui) if answer.across else ""
    searched = ""
    if answer.query and answer.query.strip() != question.strip():  # a follow-up rewritten with the history
        searched = f'<div class="searched">{esc(text(ui, "searched_for"))} <q>{esc_md(answer.query)}</q></div>'
    actions = (f'<div class="answer-actions"><button type="button" class="copy-answer">{esc(text(ui, "copy"))}'
               "</button></div>")
    return (f'<div class="{css} lang-{esc(answer.language)}" lang="{esc(answer.language)}">{badge}'
            f'<div class="answer-text">{body}</div>{table}{glosses}{warnings_html}{sources}{searched}{actions}</div>')


def _rows_table(turn: int, answer: Answer, ui: str) -> str:
    """An across-documents answer's rows: date, document, the figure as stated, the quote with its marker."""
    head = "".join(f"<th>{esc(text(ui, k))}</th>" for k in ("col_date", "col_document", "col_figure", "col_quote"))
    rows = []
    for row in answer.rows:
        if row.citation is None:
            quote = f'<span class="not-stated">{esc(text(ui, "not_stated"))}</span>'
        else:
            marker = row.citation.marker
            quote = (f"{esc_md(row.quote)} <button type=\"button\" class=\"cite\" value=\"{_link(turn, 'c', marker)}\" "
                     f'title="[{marker}]">&#91;{marker}&#93;</button>')
        figure = esc_md(row.figure.text) if row.figure else ""
        rows.append(f"<tr><td>{esc_md(row.date)}</td><td>{esc_md(_shorten(row.label, 60))}</td><td>{figure}</td>"
                    f"<td>{quote}</td></tr>")
    return (f'<div class="rows table-scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table></div>")


def _by_marker(citations: Sequence[Citation]) -> list[tuple[int, list[Citation]]]:
    """Every quote under each marker, markers in order: one marker may quote several sentences."""
    grouped: dict[int, list[Citation]] = {}
    for citation in citations:
        grouped.setdefault(citation.marker, []).append(citation)
    return sorted(grouped.items())


def _glosses(answer: Answer, question: str, ui: str, gloss: Gloss | None) -> str:
    """A gloss under each quote in another language than the question's, labelled as such."""
    if gloss is None or not answer.grounded:
        return ""
    reader = answer.language
    rows = []
    for citation in answer.citations:
        glossed = gloss(citation.quote, reader)
        if glossed:
            rows.append(f"<li>[{citation.marker}] {esc_md(glossed)}</li>")
    if not rows:
        return ""
    return (f'<div class="gloss" lang="{esc(reader)}"><div class="gloss-title">{esc(text(ui, "gloss"))}</div>'
            f'<ul>{"".join(rows)}</ul></div>')


def _link(turn: int, kind: str, index: int) -> str:
    return f"src/{int(turn)}/{kind}/{int(index)}"


def _link_markers(turn: int, body: str, markers: set[int]) -> str:
    """Escape the text, then turn each known [n] into a link (digits only, so nothing unescaped slips in)."""

    def link(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if number not in markers:
            return esc_md(match.group(0))
        return (f'<button type="button" class="cite" value="{_link(turn, "c", number)}" title="[{number}]">'
                f"&#91;{number}&#93;</button>")

    pieces, cursor = [], 0
    for match in _MARKER.finditer(body):
        pieces.append(esc_md(body[cursor:match.start()]))
        pieces.append(link(match))
        cursor = match.end()
    pieces.append(esc_md(body[cursor:]))
    return "".join(pieces)


def _sources_list(title: str, note: str, items: list[str]) -> str:
    note_html = f' <span class="sources-note">({esc(note)})</span>' if note else ""
    return (f'<div class="sources"><div class="sources-title">{esc(title)}{note_html}</div>'
            f'<ol>{"".join(items)}</ol></div>')


def short_cite(passage: Passage, limit: int = 70) -> str:
    """The citation label with a long title shortened, keeping the article, page or paragraph part."""
    label = passage.cite()
    if passage.title and label.startswith(passage.title) and len(passage.title) > limit:
        return _shorten(passage.title, limit) + label[len(passage.title):]
    return label


def _citation_item(turn: int, marker: int, cited: list[Citation]) -> str:
    passage = cited[0].passage
    quotes = " ".join(f'<span class="snippet">“{esc_md(_shorten(c.quote, 110))}”</span>' for c in cited)
    return (f'<li><button type="button" class="source" value="{_link(turn, "c", marker)}" '
            f'title="{esc(passage.cite())}"><span class="label">&#91;{marker}&#93; {esc_md(short_cite(passage))}'
            f"</span></button> {quotes}</li>")


def _passage_item(turn: int, index: int, passage: Passage) -> str:
    return (f'<li><button type="button" class="source" value="{_link(turn, "p", index)}" '
            f'title="{esc(passage.cite())}"><span class="label">{esc_md(short_cite(passage))}</span></button><br>'
            f'<span class="snippet">{esc_md(_shorten(passage.text, 140))}</span></li>')


def _shorten(value: str, limit: int) -> str:
    flat = " ".join(value.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def render_welcome(documents: Sequence[StoredDocument], ui: str) -> str:
    """The first screen: what is loaded (title, kind, date, language), so users know what they can ask."""
    intro = (f'<div class="welcome"><strong>{esc(text(ui, "empty_title"))}</strong>'
             f'<p>{esc(text(ui, "empty_body"))}</p>')
    if not documents:
        return f'{intro}<p class="loaded">{esc(text(ui, "loaded_none"))}</p></div>'
    rows = []
    for d in documents[:12]:
        facts = [kind_name(d, ui), str(d.metadata.get("date") or ""), language_name(d.language, ui)]
        rows.append(f'<li><span class="doc-title">{esc_md(_shorten(d.title, 90))}</span> '
                    f'<span class="doc-facts">{esc_md(" · ".join(f for f in facts if f))}</span></li>')
    more = "<li>…</li>" if len(documents) > 12 else ""
    return (f'{intro}<p class="loaded">{esc(text(ui, "loaded", n=len(documents)))}</p>'
            f'<ul class="loaded-documents">{"".join(rows)}{more}</ul></div>')


def kind_name(document: StoredDocument, ui: str) -> str:
    kind = str(document.metadata.get("kind") or "")
    return text(ui, f"kind_{kind}") if kind in KINDS else kind


def kind_choices(ui: str) -> list[tuple[str, str]]:
    """Dropdown choices for a document kind: the name in the interface's language, the stored kind as value."""
    return [(text(ui, f"kind_{k}"), k) for k in KINDS]


def language_choices(ui: str) -> list[tuple[str, str]]:
    """Dropdown choices for the document-language filter; "" means any language."""
    return [(text(ui, "any_language"), ""), (text(ui, "lang_zh"), "zh"), (text(ui, "lang_en"), "en")]


def example_questions(documents: Sequence[StoredDocument], headings: dict[str, list[str]], ui: str,
                      limit: int = 3) -> list[str]:
    """Example questions made from the stored documents' titles and headings (newest documents first)."""
    examples: list[str] = []
    for document in reversed(documents):
        title = _shorten(re.split(r"[—–:：]", document.title)[0].strip() or document.title, 50)
        topics = [h for h in headings.get(document.doc_id, []) if h and h != document.title]
        if topics:
            examples.append(text(ui, "example_about", title=title, topic=_shorten(topics[0], 40)))
        else:
            examples.append(text(ui, "example_main", title=title))
        if len(examples) == limit:
            break
    return examples


# --- the sources panel ------------------------------------------------------------------------


def render_panel_placeholder(ui: str = "en") -> str:
    return f'<div class="panel placeholder">{esc(text(ui, "panel_placeholder"))}</div>'


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
    source = passage.text
    located: list[tuple[int, int]] = []
    for start, end, quote in spans:
        lo, hi = start - passage.start, end - passage.start
        if not (0 <= lo < hi <= len(source)) or (quote and source[lo:hi] != quote):
            found = source.find(quote) if quote else -1
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
        pieces.append(f"{esc(source[cursor:lo])}<mark>{esc(source[lo:hi])}</mark>")
        cursor = hi
    pieces.append(esc(source[cursor:]))
    return "".join(pieces)


def render_panel(passage: Passage, *, kicker: str, ui: str = "en", spans: Sequence[tuple[int, int, str]] = (),
                 document: StoredDocument | None = None, deleted: bool = False) -> str:
    """The side panel: which document the passage comes from, and the passage with its span marked."""
    language = passage.language or (document.language if document else "")
    rows = [(text(ui, "cited_as"), passage.cite()),
            (text(ui, "source"), display_source(passage.source or (document.source if document else ""))),
            (text(ui, "language"), language_name(language, ui))]
    if passage.page is not None:
        rows.append((text(ui, "page"), str(passage.page)))
    if document:
        for key in ("kind", "issuer", "date"):
            value = kind_name(document, ui) if key == "kind" else document.metadata.get(key)
            if value:
                rows.append((text(ui, key), str(value)))
        rows.append((text(ui, "added"), document.added_at.replace("T", " ")))
    details = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows if v)
    gone = f'<div class="notice warn deleted">{esc(text(ui, "panel_deleted"))}</div>' if deleted else ""
    body = highlight_spans(passage, spans)
    return (f'<div class="panel" data-doc="{esc(passage.doc_id)}" data-chunk="{esc(passage.chunk_id)}">'
            f'<div class="panel-kicker">{esc(kicker)}</div><div class="panel-title">{esc(passage.title)}</div>'
            f'{gone}<dl>{details}</dl><blockquote class="passage" lang="{esc(language)}">{body}</blockquote></div>')


# --- the documents tab ------------------------------------------------------------------------


def render_upload_results(rows: Sequence[tuple[str, AddResult]], ui: str = "en") -> str:
    """Per-file outcome of an upload: file name, status, chunks and the reason when there is one."""
    if not rows:
        return ""
    body = "".join(
        f'<tr><td>{esc(name)}</td><td><span class="status {esc(r.status)}">{esc(text(ui, "status_" + r.status))}'
        f"</span></td><td>{r.chunks or ''}</td><td>{esc(r.title)}</td><td>{esc(r.reason)}</td></tr>"
        for name, r in rows
    )
    head = "".join(f"<th>{esc(text(ui, k))}</th>" for k in ("file", "result", "chunks", "title", "detail"))
    return (f'<div class="upload-results table-scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")


def render_progress(message: str, fraction: float) -> str:
    """One line of upload progress: a bar and what is being done (read aloud politely by screen readers)."""
    value = min(1.0, max(0.0, fraction))
    return (f'<div class="upload-progress" role="status" aria-live="polite"><progress max="1" value="{value:.3f}">'
            f'</progress> <span>{esc(message)}</span></div>')


def render_notice(message: str, tone: str = "ok") -> str:
    return f'<div class="notice {esc(tone)}" role="status">{esc(message)}</div>' if message else ""


def render_info(info: dict[str, Any], settings: Settings, ui: str = "en") -> str:
    """What is in use: embedding model (and its fallback notice), store, retrieval, LLM."""
    llm = text(ui, "llm_none") if settings.llm_provider == "none" else \
        f"{settings.llm_provider}: {settings.llm_model or 'default model'}"
    rows = [(text(ui, "embedding_model"), info.get("embedding", "")), (text(ui, "store"), info.get("store", "")),
            (text(ui, "retrieval"), info.get("retrieval_mode", "")), (text(ui, "llm"), llm),
            (text(ui, "documents"), text(ui, "documents_count", n=info.get("documents", 0),
                                          chunks=info.get("chunks", 0)))]
    notice = info.get("embedding_notice")
    notice_html = render_notice(str(notice), "warn") if notice else ""
    details = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return f'<div class="system-info"><dl>{details}</dl>{notice_html}</div>'


DOC_COLUMNS = ("title", "kind", "date", "issuer", "language", "chunks", "added", "source", "id")


def render_documents(documents: Sequence[StoredDocument], manage: bool, *, read_only: bool = False,
                     ui: str = "en", query: str = "") -> str:
    """The documents table (in a box that scrolls sideways); View per row, and Edit… and Delete… for those who
    may change the store."""
    if not documents:
        key = "no_documents" if read_only or not manage else "no_documents_upload"
        message = text(ui, "no_match", query=query) if query else text(ui, key)
        return f'<div class="notice warn">{esc(message)}</div>'
    head = "".join(f"<th>{esc(text(ui, h))}</th>" for h in DOC_COLUMNS) + "<th></th>"
    rows = []
    for d in documents:
        view = (f'<button type="button" class="view-doc" data-doc="{esc(d.doc_id)}" '
                f'aria-label="{esc(text(ui, "view_label", title=d.title))}">{esc(text(ui, "view_button"))}</button>')
        delete = (f'<button type="button" class="edit-doc" data-doc="{esc(d.doc_id)}" '
                  f'aria-label="{esc(text(ui, "edit_label", title=d.title))}">{esc(text(ui, "edit_button"))}</button>'
                  f'<button type="button" class="delete-doc" data-doc="{esc(d.doc_id)}" '
                  f'aria-label="{esc(text(ui, "delete_label", title=d.title))}">{esc(text(ui, "delete_button"))}'
                  "</button>") if manage else ""
        cells = [d.title, kind_name(d, ui), d.metadata.get("date") or "", d.metadata.get("issuer") or "",
                 language_name(d.language, ui), d.chunks, d.added_at.replace("T", " "), display_source(d.source),
                 d.doc_id]
        rows.append(f'<tr data-doc="{esc(d.doc_id)}">' + "".join(f"<td>{esc(c)}</td>" for c in cells)
                    + f"<td>{view}{delete}</td></tr>")
    return (f'<div class="documents table-scroll" tabindex="0"><table><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def document_choices(documents: Sequence[StoredDocument]) -> list[tuple[str, str]]:
    """Dropdown choices: a readable label per document, its id as the value."""
    return [(f"{_shorten(d.title, 80)} ({d.language}, {d.doc_id[:8]})", d.doc_id) for d in documents]


def filter_documents(documents: Sequence[StoredDocument], query: str | None,
                     order: str | None) -> list[StoredDocument]:
    """The documents whose title, source, kind, issuer or date hold ``query``, sorted by ``order``."""
    needle = (query or "").strip().lower()
    kept = [d for d in documents if not needle or needle in " ".join(
        [d.title, d.source, d.doc_id, *(str(d.metadata.get(k) or "") for k in ("kind", "issuer", "date"))]).lower()]
    if order == "title":
        return sorted(kept, key=lambda d: d.title)
    if order == "date":
        return sorted(kept, key=lambda d: str(d.metadata.get("date") or ""), reverse=True)
    return sorted(kept, key=lambda d: d.added_at, reverse=True)


def render_document_text(document: StoredDocument, body: str, ui: str, spans: Sequence[tuple[int, int]] = (),
                         pages: Sequence[tuple[int, int, int]] = ()) -> str:
    """The whole document, escaped, with page headings for paginated sources and the cited spans marked.

    The first mark carries ``id="cited"`` so the viewer opens scrolled to it.
    """
    cuts = sorted({0, len(body), *(p for s in spans for p in s), *(start for _, start, _ in pages)})
    marked = {(a, b) for a, b in spans}
    page_at = {start: number for number, start, _ in pages}
    pieces: list[str] = []
    first = True
    for lo, hi in itertools.pairwise(cuts):
        if lo in page_at:
            pieces.append(f'<h4 class="page-heading">{esc(text(ui, "page"))} {page_at[lo]}</h4>')
        chunk = esc(body[lo:hi])
        if any(a <= lo and hi <= b for a, b in marked):
            chunk = f"<mark{_CITED if first else ''}>{chunk}</mark>"
            first = False
        pieces.append(chunk)
    return (f'<div class="document-viewer" lang="{esc(document.language)}"><div class="panel-title">'
            f'{esc(document.title)}</div><div class="document-body">{"".join(pieces)}</div></div>')
