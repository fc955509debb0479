"""The web chat: a Gradio app over the Assistant API (chat with cited sources, documents, settings).

Everything that comes from documents or answers is HTML-escaped before it reaches the page:
the conversation and the sources panel are our own HTML (not Chatbot markdown), so a document
holding ``<script>`` or ``onerror=`` shows as text. Citation markers are ``<button>``s carrying
their turn and index; a small ``js_on_load`` handler turns a click into a custom ``open_source``
event whose Python callback renders the passage with its supporting span in ``<mark>``.

Every write (upload, delete, re-index, ``/add_documents``) is checked on the server by
:meth:`WebApp.may_manage`: nobody when the settings are read-only, else admins when sign-in is on.
Uploads are read where Gradio stored them and recorded under :func:`safe_source_name`.

Build with :func:`build_app`, run with :func:`serve` (``python ui.py`` / ``assistant serve``).
"""

from __future__ import annotations

import html
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home; set before gradio reads it

import gradio as gr

from assistant.documents import Answer, Citation, Passage
from assistant.ingest import AddResult
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import StoredDocument, StoreError, UnknownDocument

log = logging.getLogger(__name__)
ASSETS = Path(__file__).resolve().parent / "web_assets"
EXAMPLES: tuple[str, ...] = (
    "By what year will the model city be built?",
    "长江大保护典范城市计划在哪一年基本建成？",
    "What mechanisms should be improved for cadres?",
)
REFUSAL_BADGE = "Not found in the documents"
DOC_HEADERS = ("Title", "Language", "Chunks", "Added at", "Source", "ID")
LANGUAGES = {"zh": "Chinese (zh)", "en": "English (en)"}
_MARKER = re.compile(r"\[(\d{1,3})\]")
_MB = 1024 * 1024
READ_ONLY_NOTE = ("This assistant is read-only: you can ask questions and read the documents, "
                  "but nobody can add, delete or re-index them.")
_SEPARATORS = re.compile(r"[\\/]")
# Characters no file name should carry into the store: control characters (terminal escapes when the
# CLI prints a source), Windows-reserved ones (drive colons, wildcards) and the shell-expanding `$!{}.
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*`$!{}]')
_MAX_NAME_CHARS = 200

# Delegated click handler on the conversation: any element with data-kind opens a source.
CONVERSATION_JS = """
element.addEventListener('click', (event) => {
  const target = event.target.closest('[data-kind]');
  if (!target || !element.contains(target)) return;
  event.preventDefault();
  element.querySelectorAll('.is-open').forEach((node) => node.classList.remove('is-open'));
  target.classList.add('is-open');
  trigger('open_source', {
    turn: Number(target.dataset.turn), kind: target.dataset.kind, index: Number(target.dataset.index)
  });
});
"""
# Delete… buttons in the documents table ask for confirmation through a custom event.
DOCUMENTS_JS = """
element.addEventListener('click', (event) => {
  const target = event.target.closest('button.delete-doc');
  if (!target || !element.contains(target)) return;
  trigger('delete_doc', {doc_id: target.dataset.doc});
});
"""
# Bring the highlighted span into view whenever the panel shows a new passage.
PANEL_JS = """
watch('value', () => {
  const mark = element.querySelector('mark');
  if (mark) mark.scrollIntoView({block: 'nearest', behavior: 'smooth'});
});
"""


def esc(value: object) -> str:
    """HTML-escape anything shown on the page (quotes too, so it is safe inside attributes)."""
    return html.escape(str(value), quote=True)


# --------------------------------------------------------------------------- conversation state


@dataclass(frozen=True)
class Turn:
    """One question and what came back: the final Answer, the text streamed so far, or an error."""

    question: str
    answer: Answer | None = None
    partial: str = ""
    error: str = ""


def history_of(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The chat history ask/stream expect: alternating user/assistant messages of finished turns."""
    messages: list[dict[str, str]] = []
    for turn in turns:
        if turn.answer is None:
            continue
        messages.append({"role": "user", "content": turn.question})
        messages.append({"role": "assistant", "content": turn.answer.text})
    return messages


# --------------------------------------------------------------------------- rendering (pure functions)


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


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


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


def safe_source_name(path: str | Path) -> str:
    """The name an upload is recorded under: the last part of its name only, minus unsafe characters.

    Gradio already stores uploads as ``<cache>/<hash>/<name>``; this is the second line of defence,
    because the source is shown on the page, printed by the CLI and compared to recognise a re-upload.
    A name carrying directories (``../``, ``/tmp/x``, ``..\\..\\x``) must not look like a path on this
    server, and one that is empty or just dots after cleaning becomes ``upload``.
    """
    name = _SEPARATORS.split(str(path))[-1]
    name = _UNSAFE_NAME_CHARS.sub("", name).strip().rstrip(".")
    if not name.strip("."):
        return "upload"
    stem, suffix = os.path.splitext(name)
    return stem[: max(1, _MAX_NAME_CHARS - len(suffix))] + suffix[:_MAX_NAME_CHARS // 2]


# --------------------------------------------------------------------------- access


def parse_auth(spec: str | None) -> list[tuple[str, str]]:
    """'user:password[,user:password...]' → [(user, password), ...]; a malformed entry is an error."""
    if not spec:
        return []
    pairs: list[tuple[str, str]] = []
    for entry in spec.split(","):
        user, sep, password = entry.strip().partition(":")
        if not sep or not user or not password:
            raise ValueError(f"auth entry {entry.strip()!r} is not 'user:password'")
        pairs.append((user, password))
    return pairs


def parse_admins(spec: str | None) -> set[str]:
    return {name.strip() for name in (spec or "").split(",") if name.strip()}


def upload_problem(path: Path, limit_mb: float) -> str:
    """Why an uploaded path cannot be added ("" when it can): not a plain file, or over the size cap."""
    if path.is_symlink() or not path.is_file():
        return "not an uploaded file"
    size = path.stat().st_size
    if size > limit_mb * _MB:
        return f"{size / _MB:.1f} MB is over the {limit_mb:g} MB upload limit"
    return ""


def _waiting_shown_in(progress: gr.Progress) -> Callable[[str], None]:
    """Show in the progress bar whom a write waits for (another process writing to the store)."""
    return lambda message: progress(0.0, desc=message[:1].upper() + message[1:] + "…")


@contextmanager
def store_errors_for_users() -> Iterator[None]:
    """Turn a store refusal (read-only, write lock busy) into a message on the page or in the API error."""
    try:
        yield
    except StoreError as exc:
        raise gr.Error(str(exc)) from exc


# --------------------------------------------------------------------------- the app's behaviour


class WebApp:
    """The handlers behind the page, kept apart from the layout so each does one thing."""

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        self.assistant = assistant
        self.settings = settings
        self.auth_required = bool(settings.auth)
        self.admins = parse_admins(settings.admins)

    # --- access -------------------------------------------------------------------
    @property
    def read_only(self) -> bool:
        """Read-only in either the page's or the assistant's settings (they can differ when built by hand)."""
        return bool(self.settings.read_only or self.assistant.settings.read_only)

    def may_manage(self, request: gr.Request | None) -> bool:
        """Adding, deleting and re-indexing: nobody when read-only; else anyone without sign-in, or admins.

        Every write handler asks this, so hiding the controls is a courtesy, never the protection.
        """
        if self.read_only:
            return False
        if not self.auth_required:
            return True
        user = getattr(request, "username", None) if request is not None else None
        if not user:
            return False
        return not self.admins or user in self.admins

    def _require_manager(self, request: gr.Request | None) -> None:
        """Refuse a write before it starts, saying why (read-only, or not an administrator)."""
        if self.read_only:
            raise gr.Error(READ_ONLY_NOTE)
        if not self.may_manage(request):
            raise gr.Error("Only administrators can add, delete or re-index documents.")

    # --- chat -------------------------------------------------------------------
    @staticmethod
    def answer_options(k: float | None, mode: str | None) -> dict[str, Any]:
        """Keyword arguments for ask/stream from the UI controls (unset ones fall back to settings)."""
        return {"k": int(k) if k else None, "mode": mode or None}

    def respond(self, question: str, turns: list[Turn], scope: list[str] | None, k: float | None,
                mode: str | None) -> Iterator[tuple[Any, ...]]:
        """Stream one answer into the conversation: partial text first, then the cited Answer."""
        question = (question or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        history = history_of(turns)
        turns = [*turns, Turn(question)]
        yield render_conversation(turns), turns, "", gr.Row(visible=False)
        documents = list(scope) if scope else None
        current = turns[-1]
        try:
            for item in self.assistant.stream(question, history=history, documents=documents,
                                              **self.answer_options(k, mode)):
                if isinstance(item, Answer):
                    current = replace(current, answer=item, partial="")
                else:
                    current = replace(current, partial=current.partial + str(item))
                turns[-1] = current
                yield render_conversation(turns), turns, gr.skip(), gr.skip()
        except (ValueError, StoreError, KeyError) as exc:  # EmptyQuery, UnknownDocument, store problems
            turns[-1] = replace(current, error=str(exc) or exc.__class__.__name__)
        except Exception as exc:  # the page must show a failure, not hang on "Searching…"
            log.exception("answering %r failed", question)
            turns[-1] = replace(current, error=f"internal error ({exc.__class__.__name__}); see the server log")
        if turns[-1].answer is None and not turns[-1].error:
            turns[-1] = replace(turns[-1], error="the assistant returned no answer")
        yield render_conversation(turns), turns, gr.skip(), gr.skip()

    def new_chat(self) -> tuple[Any, ...]:
        return render_conversation([]), [], "", gr.Row(visible=True), render_panel_placeholder()

    def open_source(self, turns: list[Turn], evt: gr.EventData) -> str:
        """Render the passage behind a clicked marker ("c", marker number) or listed passage ("p", index)."""
        data = getattr(evt, "_data", None) or {}
        try:
            position, index = int(data.get("turn", -1)), int(data.get("index", -1))
        except (TypeError, ValueError):
            return render_panel_placeholder()
        answer = turns[position].answer if 0 <= position < len(turns) else None
        if answer is None:
            return render_panel_placeholder()
        if data.get("kind") == "c":
            cited = [c for c in answer.citations if c.marker == index]  # one marker may quote several spans
            if not cited:
                return render_panel_placeholder()
            passage = cited[0].passage
            spans = [(c.start, c.end, c.quote) for c in cited if c.passage.chunk_id == passage.chunk_id]
            return render_panel(passage, kicker=f"Source [{index}]", spans=spans, document=self._stored(passage.doc_id))
        if 0 <= index < len(answer.passages):
            passage = answer.passages[index]
            kicker = "Nearest passage" if not answer.grounded else "Retrieved passage"
            return render_panel(passage, kicker=f"{kicker} {index + 1}", document=self._stored(passage.doc_id))
        return render_panel_placeholder()

    def _stored(self, doc_id: str) -> StoredDocument | None:
        try:
            return self.assistant.store.get(doc_id)
        except (UnknownDocument, StoreError):
            return None  # deleted since the answer was given: the passage itself is still shown

    # --- documents ----------------------------------------------------------------
    def refresh(self, scope: list[str] | None, request: gr.Request | None = None) -> tuple[Any, ...]:
        """Documents table, scope choices, settings info and access note, all read fresh from the store."""
        documents = self.assistant.documents()
        known = {d.doc_id for d in documents}
        kept = [d for d in (scope or []) if d in known]
        manage = self.may_manage(request)
        return (
            render_documents(documents, manage, read_only=self.read_only),
            gr.Dropdown(choices=document_choices(documents), value=kept),
            render_info(self.assistant.describe(), self.settings),
            self.access_note(request),
            gr.File(interactive=manage, visible=not self.read_only),
            gr.Button(interactive=manage, visible=not self.read_only),
        )

    def access_note(self, request: gr.Request | None) -> str:
        """Why the write controls are missing or disabled, if they are."""
        if self.read_only:
            return render_notice(READ_ONLY_NOTE, "warn")
        if self.may_manage(request):
            return ""
        user = getattr(request, "username", None) or "this user"
        return render_notice(f"Signed in as {user}: only administrators can add, delete or re-index documents.", "warn")

    def upload(self, files: list[str] | None, request: gr.Request | None = None,
               progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008 - Gradio injects the tracker
        """Add uploaded files; the per-file results (oversized files are refused before reading)."""
        self._require_manager(request)

        def report(done: int, total: int, message: str) -> None:
            progress((done, total), desc=f"Embedding {message}", unit="chunks")

        progress(0.0, desc=f"Reading and chunking {_count(len(files or []), 'file')}")
        with store_errors_for_users():
            return render_upload_results(self.add_files(files or [], report, _waiting_shown_in(progress)))

    def add_files(self, files: Sequence[str], progress: Callable[[int, int, str], None] | None = None,
                  waiting: Callable[[str], None] | None = None) -> list[tuple[str, AddResult]]:
        """Add uploaded files under their own safe names (so a changed re-upload replaces the old version).

        Only regular files are read, in place: a folder (say Gradio's whole upload cache, named in a
        crafted request) would otherwise be walked and every other user's uploads indexed.
        """
        names = {str(f): safe_source_name(f) for f in files}
        limit = self.settings.max_upload_mb
        rows: list[tuple[str, AddResult]] = []
        accepted: list[str] = []
        for f, name in names.items():
            problem = upload_problem(Path(f), limit)
            if problem:
                rows.append((name, AddResult(f, None, "failed", problem)))
            else:
                accepted.append(f)
        if accepted:
            results = self.assistant.add(*accepted, progress=progress, sources={f: names[f] for f in accepted},
                                         waiting=waiting)
            rows.extend((names.get(r.path) or safe_source_name(r.path), r) for r in results)
        return rows

    def ask_delete(self, evt: gr.EventData, request: gr.Request | None = None) -> tuple[Any, ...]:
        """First step of deleting (a row's Delete… button): name the document and ask for confirmation."""
        self._require_manager(request)
        doc_id = str((getattr(evt, "_data", None) or {}).get("doc_id", ""))
        stored = self._stored(doc_id) if doc_id else None
        if stored is None:
            return None, gr.Group(visible=False), "", render_notice("That document is no longer stored.", "warn")
        question = (f"Delete “{stored.title}” and its {_count(stored.chunks, 'passage')}? "
                    "Answers will no longer cite it. This cannot be undone.")
        return doc_id, gr.Group(visible=True), render_notice(question, "bad"), ""

    def confirm_delete(self, doc_id: str | None, request: gr.Request | None = None) -> tuple[Any, ...]:
        self._require_manager(request)
        hidden = gr.Group(visible=False)
        if not doc_id:
            return None, hidden, "", render_notice("Nothing was deleted.", "warn")
        try:
            removed = self.assistant.remove(doc_id)
        except UnknownDocument as exc:
            return None, hidden, "", render_notice(str(exc), "warn")
        except StoreError as exc:  # read-only, or another process holding the write lock
            return None, hidden, "", render_notice(str(exc), "bad")
        message = f"Deleted “{removed.title}” ({_count(removed.chunks, 'passage')})."
        return None, hidden, "", render_notice(message, "ok")

    def cancel_delete(self) -> tuple[Any, ...]:
        return None, gr.Group(visible=False), "", render_notice("Nothing was deleted.", "ok")

    def reindex(self, request: gr.Request | None = None,
                progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008 - Gradio injects the tracker
        """Rebuild every chunk from the stored texts, with progress."""
        self._require_manager(request)

        def report(done: int, total: int, message: str) -> None:
            progress((done, total), desc=f"Re-indexing {message}", unit="chunks")

        progress(0.0, desc="Re-chunking the stored texts")
        with store_errors_for_users():
            total = self.assistant.reindex(progress=report, waiting=_waiting_shown_in(progress))
        count = len(self.assistant.documents())
        return render_notice(f"Re-indexed {count} documents into {total} chunks.", "ok")

    # --- named API endpoints (gradio_client) ---------------------------------------
    def api_ask(self, question: str, documents: list[str] | None = None, k: int | None = None,
                history: list[dict[str, str]] | None = None) -> dict[str, Any]:
        """Answer a question with citations; the same JSON as `assistant ask --json`."""
        try:
            options = self.answer_options(k, None)
            answer = self.assistant.ask(question, history=history or None, documents=documents or None, **options)
        except (ValueError, StoreError, KeyError) as exc:
            raise gr.Error(str(exc)) from exc
        return answer.to_dict()

    def api_retrieve(self, query: str, k: int = 5, documents: list[str] | None = None) -> list[dict[str, Any]]:
        """The passages most relevant to the query, best first."""
        try:
            passages = self.assistant.retrieve(query, k=k, documents=documents or None)
        except (ValueError, StoreError, KeyError) as exc:
            raise gr.Error(str(exc)) from exc
        return [p.to_dict() for p in passages]

    def api_documents(self) -> list[dict[str, Any]]:
        """The stored documents (ids for scoping questions)."""
        return [d.to_dict() for d in self.assistant.documents()]

    def api_add_documents(self, files: list[str] | None, request: gr.Request | None = None) -> list[dict[str, Any]]:
        """Add uploaded files; one AddResult dict per file, with ``file`` (the uploaded name) instead of ``path``.

        (A ``path`` key would make gradio_client treat each result as a file to download.)
        """
        self._require_manager(request)
        rows = []
        with store_errors_for_users():
            added = self.add_files(files or [])
        for name, result in added:
            data = result.to_dict()
            data.pop("path", None)
            rows.append({"file": name, **data})
        return rows


# --------------------------------------------------------------------------- layout


@dataclass
class ChatTab:
    conversation: gr.HTML
    examples: gr.Row
    example_buttons: list[gr.Button]
    question: gr.Textbox
    send: gr.Button
    new_chat: gr.Button
    scope: gr.Dropdown
    k: gr.Slider
    mode: gr.Radio
    info: gr.HTML
    panel: gr.HTML


@dataclass
class DocumentsTab:
    access: gr.HTML
    upload: gr.File
    results: gr.HTML
    table: gr.HTML
    confirm_box: gr.Group
    confirm_text: gr.HTML
    yes: gr.Button
    no: gr.Button
    reindex: gr.Button
    refresh: gr.Button
    status: gr.HTML


def _chat_column(settings: Settings) -> dict[str, Any]:
    """Conversation, example questions, the question box, scope and answer settings."""
    ui: dict[str, Any] = {}
    ui["conversation"] = gr.HTML(render_conversation([]), js_on_load=CONVERSATION_JS, elem_id="conversation",
                                 autoscroll=True, max_height=640)
    with gr.Row(elem_id="examples") as ui["examples"]:
        ui["example_buttons"] = [gr.Button(q, size="sm", elem_classes="example") for q in EXAMPLES]
    with gr.Row():
        ui["question"] = gr.Textbox(placeholder="Ask a question about the documents…", show_label=False, lines=1,
                                    max_lines=6, scale=6, elem_id="question", autofocus=True)
        ui["send"] = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="send")
        ui["new_chat"] = gr.Button("New chat", scale=1, min_width=130, elem_id="new-chat")
    ui["scope"] = gr.Dropdown(choices=[], value=[], multiselect=True, label="Only search these documents",
                              info="Leave empty to search all documents.", elem_id="scope")
    with gr.Accordion("Answer settings", open=False, elem_id="answer-settings"):
        ui["k"] = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages retrieved per question",
                            elem_id="top-k")
        modes = ["extractive"] + (["llm"] if settings.llm_provider != "none" else [])
        ui["mode"] = gr.Radio(modes, value=modes[-1], label="Answer mode", elem_id="mode", interactive=len(modes) > 1,
                              info="extractive quotes the documents; llm writes an answer whose citations are "
                                   "verified (set ASSISTANT_LLM_PROVIDER to enable it).")
        ui["info"] = gr.HTML(elem_id="system-info")
    return ui


def _chat_tab(settings: Settings) -> ChatTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            ui = _chat_column(settings)
        with gr.Column(scale=2, min_width=320):
            ui["panel"] = gr.HTML(render_panel_placeholder(), js_on_load=PANEL_JS, elem_id="source-panel")
    return ChatTab(**ui)


def _documents_tab(settings: Settings, read_only: bool) -> DocumentsTab:
    """Upload, table, delete confirmation and re-index; a read-only app never shows the write controls."""
    access = gr.HTML(render_notice(READ_ONLY_NOTE, "warn") if read_only else "", elem_id="access-note")
    upload = gr.File(file_count="multiple", elem_id="upload", height=150, visible=not read_only,
                     label=f"Add documents (.txt .md .pdf .docx .html), up to {settings.max_upload_mb:g} MB each")
    results = gr.HTML(elem_id="upload-results", min_height=70, visible=not read_only)  # room for the progress bar
    gr.HTML("<h3 style=\"margin:8px 0 0\">Stored documents</h3>")
    table = gr.HTML(js_on_load=DOCUMENTS_JS, elem_id="documents-table")
    with gr.Group(visible=False, elem_id="confirm-delete-box") as confirm_box:
        confirm_text = gr.HTML(elem_id="confirm-text", padding=True)
        with gr.Row():
            yes = gr.Button("Yes, delete", variant="stop", elem_id="confirm-delete")
            no = gr.Button("Cancel", elem_id="cancel-delete")
    with gr.Row():
        reindex = gr.Button("Re-index all", size="sm", elem_id="reindex", visible=not read_only)
        refresh = gr.Button("Refresh", size="sm", elem_id="refresh")
    status = gr.HTML(elem_id="documents-status", min_height=50)
    return DocumentsTab(access, upload, results, table, confirm_box, confirm_text, yes, no, reindex, refresh, status)


def build_app(assistant: Assistant, settings: Settings | None = None) -> gr.Blocks:
    """The Gradio Blocks app: Chat and Documents tabs plus the /ask, /retrieve, /add_documents endpoints."""
    settings = settings or assistant.settings
    web = WebApp(assistant, settings)
    with gr.Blocks(title="Policy assistant", analytics_enabled=False) as app:
        turns = gr.State([])
        pending_delete = gr.State(None)
        gr.HTML('<h1 style="margin:0">Policy assistant</h1><p style="margin:2px 0 0;opacity:.75">Answers quote '
                "the documents and cite the exact passages. English and Chinese.</p>", elem_id="header")
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab("Chat", id="chat", elem_id="chat-tab") as chat_tab:
                chat = _chat_tab(settings)
            with gr.Tab("Documents", id="documents", elem_id="documents-tab") as documents_tab:
                docs = _documents_tab(settings, web.read_only)
        _wire_chat(web, chat, turns)
        _wire_documents(web, chat, docs, pending_delete, app, [chat_tab, documents_tab])
        _api_endpoints(web)
    return app


_PRIVATE: dict[str, Any] = {"api_visibility": "private"}  # UI events stay out of the API page and clients


def _wire_chat(web: WebApp, chat: ChatTab, turns: gr.State) -> None:
    inputs = [chat.question, turns, chat.scope, chat.k, chat.mode]
    outputs = [chat.conversation, turns, chat.question, chat.examples]
    chat.question.submit(web.respond, inputs, outputs, **_PRIVATE)
    chat.send.click(web.respond, inputs, outputs, **_PRIVATE)
    for button, text in zip(chat.example_buttons, EXAMPLES, strict=True):
        button.click(lambda t=text: t, None, chat.question, **_PRIVATE).then(web.respond, inputs, outputs, **_PRIVATE)
    chat.new_chat.click(web.new_chat, None, [*outputs, chat.panel], **_PRIVATE)
    chat.conversation.open_source(web.open_source, [turns], chat.panel, **_PRIVATE)


def _wire_documents(web: WebApp, chat: ChatTab, docs: DocumentsTab, pending: gr.State, app: gr.Blocks,
                    tabs: list[gr.Tab]) -> None:
    synced = [docs.table, chat.scope, chat.info, docs.access, docs.upload, docs.reindex]
    refresh: dict[str, Any] = {"fn": web.refresh, "inputs": [chat.scope], "outputs": synced, **_PRIVATE}
    app.load(**refresh)
    for tab in tabs:
        tab.select(**refresh)
    docs.refresh.click(**refresh)
    docs.upload.upload(web.upload, [docs.upload], docs.results, **_PRIVATE).then(**refresh).then(
        lambda: None, None, docs.upload, **_PRIVATE)
    confirm = [pending, docs.confirm_box, docs.confirm_text, docs.status]
    docs.table.delete_doc(web.ask_delete, None, confirm, **_PRIVATE)
    docs.no.click(web.cancel_delete, None, confirm, **_PRIVATE)
    docs.yes.click(web.confirm_delete, [pending], confirm, **_PRIVATE).then(**refresh)
    docs.reindex.click(web.reindex, None, docs.status, **_PRIVATE).then(**refresh)


def _api_endpoints(web: WebApp) -> None:
    """/ask, /retrieve, /documents (typed, JSON out) and /add_documents (real file uploads)."""
    gr.api(web.api_ask, api_name="ask")
    gr.api(web.api_retrieve, api_name="retrieve")
    gr.api(web.api_documents, api_name="documents")
    files = gr.File(file_count="multiple", visible=False)
    results = gr.JSON(visible=False)
    trigger = gr.Button(visible=False)
    trigger.click(web.api_add_documents, [files], results, api_name="add_documents",
                  api_description="Add files (gradio_client.handle_file); one result per file.")


# --------------------------------------------------------------------------- serving


def launch_options(settings: Settings) -> dict[str, Any]:
    """Everything `launch` needs besides host/port/auth: styles, upload cap, no SSR, quiet logs."""
    return {
        "css": (ASSETS / "web.css").read_text(encoding="utf-8"),
        "max_file_size": int(settings.max_upload_mb * _MB),
        "ssr_mode": False,
        "footer_links": ["api"],
        "show_error": False,
    }


def serve(assistant: Assistant, *, host: str | None = None, port: int | None = None, auth: str | None = None,
          share: bool = False, block: bool = True, quiet: bool = False) -> gr.Blocks:
    """Run the web app; loopback unless ``host`` or settings.host say otherwise, never shared unless asked.

    Args:
        assistant: the service to serve (its settings give the defaults).
        host, port: override settings.host / settings.port.
        auth: 'user:password[,…]' overriding settings.auth; sign-in is then required for everything.
        share: create a public gradio.live link (only ever on when explicitly asked for).
        block: wait until interrupted (False: return the running app, for tests and scripts).
    """
    settings = assistant.settings
    if auth is not None:
        settings = settings.model_copy(update={"auth": auth or None})
    credentials = parse_auth(settings.auth)
    assistant.ensure_corpus()  # index the shipped corpus now rather than on the first page load
    # Load the Chinese segmenter and dictionary in the background, not on the first Chinese question.
    threading.Thread(target=assistant.warm_up, name="warm-up", daemon=True).start()
    app = build_app(assistant, settings)
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=host or settings.host, server_port=port or settings.port, share=share,
               auth=credentials or None, auth_message="Sign in to use the policy assistant.",
               prevent_thread_lock=not block, quiet=quiet, **launch_options(settings))
    return app
