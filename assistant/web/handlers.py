"""The functions the page's events call: :class:`WebApp`, which talks only to the Assistant service.

Every write (upload, delete, re-index, ``/add_documents``) is checked here, on the server, by
:meth:`WebApp.may_manage`: nobody when the settings are read-only, else admins when sign-in is on.
Hiding the controls in the layout is a courtesy, never the protection. Uploads are read where
Gradio stored them and recorded under :func:`~assistant.web.uploads.safe_source_name`.

One answer at a time per browser session: a second submission while one is being made (Enter and
Ask at once) is dropped on the server, whatever the page's own busy state let through.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from assistant.across import chart_series, rows_to_csv, rows_to_markdown
from assistant.documents import AddResult, Answer, StoredDocument
from assistant.errors import InvalidMetadata, StoreError, UnknownDocument
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web.conversation import STOPPED, Saved, Turn, history_of, new_conversation_id, turn_index
from assistant.web.export import to_docx, to_markdown
from assistant.web.i18n import language_of, text
from assistant.web.render import (
    display_source,
    document_choices,
    example_questions,
    filter_documents,
    messages_of,
    render_document_text,
    render_documents,
    render_info,
    render_notice,
    render_panel,
    render_panel_placeholder,
    render_progress,
    render_upload_results,
    render_welcome,
)
from assistant.web.uploads import safe_source_name, upload_problem

log = logging.getLogger(__name__)
READ_ONLY_NOTE = text("en", "read_only")
# Enter and Ask pressed together make two submissions of one question. When the first answer is quick
# (a cached question), the browser sends the second only after it ended, with the new turn in its history.
REPEAT_WINDOW = 1.0  # seconds after an answer ends in which the same question again counts as a repeat
_TARGET = re.compile(r"^(src)/(\d{1,4})/([cp])/(\d{1,4})$|^(doc)/([0-9a-f]{1,64})/(\d{1,9})/(\d{1,9})$")


def parse_admins(spec: str | None) -> set[str]:
    return {name.strip() for name in (spec or "").split(",") if name.strip()}


def _waiting_shown_in(progress: gr.Progress) -> Callable[[str], None]:
    """Show in the progress bar whom a write waits for (another process writing to the store)."""
    return lambda message: progress(0.0, desc=_sentence(message))


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + "…"


@contextmanager
def store_errors_for_users() -> Iterator[None]:
    """Turn a store refusal (read-only, write lock busy) into a message on the page or in the API error."""
    try:
        yield
    except StoreError as exc:
        raise gr.Error(str(exc)) from exc


def _coalesced(updates: queue.Queue[tuple[str, float] | None]) -> Iterator[tuple[str, float]]:
    """Progress updates until the end mark: every file read is shown; a burst of embedding steps only by its last."""
    while (item := updates.get()) is not None:
        while not updates.empty():
            following = updates.get()
            if following is None:
                yield item
                return
            if following[0].split(" ")[0] != item[0].split(" ")[0]:  # another stage: show this one first
                yield item
            item = following
        yield item


def _row_doc_id(evt: gr.EventData) -> str:
    """The document id a documents-table button sent, or "" when what came is not one (a crafted event)."""
    doc_id = str((getattr(evt, "_data", None) or {}).get("doc_id", ""))
    return doc_id if re.fullmatch(r"[0-9a-f]{1,64}", doc_id) else ""


def _details(stored: StoredDocument) -> tuple[str, str, str | None, str]:
    """What the details form shows of a document: title, date, kind, issuer."""
    meta = stored.metadata
    return stored.title, str(meta.get("date") or ""), meta.get("kind") or None, str(meta.get("issuer") or "")


def _session(request: gr.Request | None) -> str:
    return getattr(request, "session_hash", None) or "local"


def controls(busy: bool) -> tuple[Any, Any, Any]:
    """The question box, Ask and Stop while an answer is made (busy) and after."""
    return (gr.Textbox(interactive=not busy), gr.Button(interactive=not busy, visible=True),
            gr.Button(visible=busy))


Options = tuple[float | None, str | None, bool, dict[str, Any]]  # passages, mode, across, document filters


def _submission(question: str, scope: list[str] | None, options: Options, conversation: str, turns: int) -> str:
    """A question with what shapes its answer and where it lands: under other filters, or in a new chat, it is new."""
    return json.dumps([(question or "").strip(), sorted(scope or []), options, conversation or "", turns],
                      sort_keys=True, default=str)


def document_filters(since: str | None = None, until: str | None = None, kinds: Sequence[str] | None = None,
                     issuer: str | None = None, language: str | None = None) -> dict[str, Any]:
    """The chat's filter controls as keyword arguments of ``Assistant.ask``; blank controls filter nothing.

    The values are checked by the service, whose error (say, "the range is empty") is shown in the turn.
    """
    return {"since": (since or "").strip() or None, "until": (until or "").strip() or None,
            "kind": [k for k in kinds or () if k] or None, "issuer": (issuer or "").strip() or None,
            "language": language or None}


class WebApp:
    """The handlers behind the page, kept apart from the layout so each does one thing."""

    def __init__(self, assistant: Assistant, settings: Settings) -> None:
        self.assistant = assistant
        self.settings = settings
        self.auth_required = bool(settings.auth)
        self.admins = parse_admins(settings.admins)
        self._busy: dict[str, object] = {}  # browser session -> the answer it is making
        self._busy_lock = threading.Lock()
        self._answered: dict[str, tuple[str, float]] = {}  # session -> its last submission answered, and when
        self._titles: dict[str, str] = {}  # doc id -> title, to name a scoped document after it is deleted
        self._headings: dict[tuple[str, str, str], list[str]] = {}  # (doc id, added at, title) -> first headings
        self._feedback_lock = threading.Lock()

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

    def _require_manager(self, request: gr.Request | None, ui: str = "en") -> None:
        """Refuse a write before it starts, saying why (read-only, or not an administrator)."""
        if self.read_only:
            raise gr.Error(text(ui, "read_only"))
        if not self.may_manage(request):
            raise gr.Error(text(ui, "admins_only"))

    # --- chat -------------------------------------------------------------------
    @staticmethod
    def answer_options(k: float | None, mode: str | None, across: bool = False) -> dict[str, Any]:
        """Keyword arguments for ask/stream from the UI controls (unset ones fall back to settings)."""
        return {"k": int(k) if k else None, "mode": mode or None, "across": bool(across)}

    def messages(self, turns: Sequence[Turn], ui: str) -> list[dict[str, str]]:
        return messages_of(turns, ui, self.assistant.gloss)

    def respond(self, question: str, turns: list[Turn], scope: list[str] | None, k: float | None,
                mode: str | None, across: bool, ui: str, saved: Any, conversation: str, since: str | None = None,
                until: str | None = None, kinds: list[str] | None = None, issuer: str | None = None,
                language: str | None = None, request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Ask ``question`` in this conversation, within the filters; outputs: chatbot, turns, saved, conversation,
        box, Ask, Stop, announcement."""
        options = (k, mode, across, document_filters(since, until, kinds, issuer, language))
        if self._repeated(_submission(question, scope, options, conversation, len(turns or [])), request):
            yield (gr.skip(),) * 8
            return
        yield from self._answer(question, list(turns or []), scope, options, ui, saved, conversation, request)

    def retry(self, turns: list[Turn], scope: list[str] | None, k: float | None, mode: str | None, across: bool,
              ui: str, saved: Any, conversation: str, since: str | None = None, until: str | None = None,
              kinds: list[str] | None = None, issuer: str | None = None, language: str | None = None,
              request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """Ask the last question again (the Chatbot's retry button)."""
        turns = list(turns or [])
        if not turns:
            yield (gr.skip(),) * 8
            return
        options = (k, mode, across, document_filters(since, until, kinds, issuer, language))
        yield from self._answer(turns[-1].question, turns[:-1], scope, options, ui, saved, conversation, request)

    def edit(self, turns: list[Turn], scope: list[str] | None, k: float | None, mode: str | None, across: bool,
             ui: str, saved: Any, conversation: str, since: str | None, until: str | None, kinds: list[str] | None,
             issuer: str | None, language: str | None, evt: gr.EditData,
             request: gr.Request | None = None) -> Iterator[tuple[Any, ...]]:
        """An edited question replaces that turn and everything after it, and is answered anew."""
        turns = list(turns or [])
        index = turn_index(int(evt.index if isinstance(evt.index, int) else evt.index[0]))
        edited = evt.value if isinstance(evt.value, str) else str((evt.value or {}).get("text", ""))
        options = (k, mode, across, document_filters(since, until, kinds, issuer, language))
        yield from self._answer(edited, turns[:index], scope, options, ui, saved, conversation, request)

    def _answer(self, question: str, turns: list[Turn], scope: list[str] | None, options: Options, ui: str,
                saved: Any, conversation: str, request: gr.Request | None) -> Iterator[tuple[Any, ...]]:
        question = (question or "").strip()
        session, ticket = _session(request), object()
        with self._busy_lock:
            if not question or session in self._busy:  # blank, or a second submission of a turn in progress
                yield (gr.skip(),) * 8
                return
            self._busy[session] = ticket
        conversation = conversation or new_conversation_id()
        try:
            history = history_of(turns)
            turns = [*turns, Turn(question)]
            yield (self.messages(turns, ui), turns, gr.skip(), conversation, gr.Textbox(value="", interactive=False),
                   *controls(True)[1:], "")
            for current in self._stream(question, history, scope, options, ui):
                turns[-1] = current
                yield (self.messages(turns, ui), turns, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                       gr.skip())
            saved_now = Saved.of(saved).put(conversation, turns).to_json()
            answer = turns[-1].answer
            announce = text(ui, "announce_answer" if answer is not None and answer.grounded else "announce_refusal")
            yield (gr.skip(), gr.skip(), saved_now, gr.skip(), *controls(False), announce)
            self._remember_answered(session, _submission(question, scope, options, conversation, len(turns)))
        finally:
            with self._busy_lock:
                if self._busy.get(session) is ticket:  # not an answer stopped and since replaced by another
                    del self._busy[session]

    def _remember_answered(self, session: str, submission: str) -> None:
        """Keep what the session just had answered, and forget what no longer counts (sessions come and go)."""
        with self._busy_lock:
            now = time.monotonic()
            self._answered = {s: last for s, last in self._answered.items() if now - last[1] < REPEAT_WINDOW}
            self._answered[session] = (submission, now)

    def _repeated(self, submission: str, request: gr.Request | None) -> bool:
        """Whether the box sent what this session had answered a moment ago (Retry and Edit are meant)."""
        with self._busy_lock:
            last = self._answered.get(_session(request))
        return last is not None and last[0] == submission and time.monotonic() - last[1] < REPEAT_WINDOW

    def _stream(self, question: str, history: list[dict[str, str]], scope: list[str] | None, options: Options,
                ui: str) -> Iterator[Turn]:
        """The turn as it grows: streamed text, then the Answer (or the error users see)."""
        current = Turn(question)
        k, mode, across, filters = options
        try:
            for item in self.assistant.stream(question, history=history, documents=list(scope) if scope else None,
                                              **self.answer_options(k, mode, across), **filters):
                if isinstance(item, Answer):
                    current = replace(current, answer=item, partial="")
                else:
                    current = replace(current, partial=current.partial + str(item))
                yield current
        except (ValueError, StoreError, KeyError) as exc:  # EmptyQuery, UnknownDocument, store problems
            current = replace(current, error=str(exc) or exc.__class__.__name__)
        except Exception as exc:  # the page must show a failure, not hang on "Searching…"
            log.exception("answering %r failed", question)
            current = replace(current, error=text(ui, "internal_error", name=exc.__class__.__name__))
        if current.answer is None and not current.error:
            current = replace(current, error=text(ui, "no_answer"))
        yield current

    def stop(self, turns: list[Turn], ui: str, saved: Any, conversation: str,
             request: gr.Request | None = None) -> tuple[Any, ...]:
        """The Stop button: the answer being made is abandoned, marked as stopped, and the box is free again."""
        with self._busy_lock:
            self._busy.pop(_session(request), None)
        turns = list(turns or [])
        if turns and not turns[-1].finished:
            turns[-1] = replace(turns[-1], error=STOPPED)
        saved_now = Saved.of(saved).put(conversation, turns).to_json() if conversation else gr.skip()
        return (self.messages(turns, ui), turns, saved_now, *controls(False), text(ui, "badge_stopped"))

    def new_chat(self, ui: str) -> tuple[Any, ...]:
        """A fresh conversation (the old one stays in the list); outputs: chatbot, turns, conversation, panel."""
        return [], [], new_conversation_id(), render_panel_placeholder(ui)

    def feedback(self, turns: list[Turn], ui: str, evt: gr.LikeData) -> str:
        """Record a like or dislike with the question, the answer and the passages it cited."""
        index = turn_index(int(evt.index if isinstance(evt.index, int) else evt.index[0]))
        turns = list(turns or [])
        if not 0 <= index < len(turns) or turns[index].answer is None:
            return ""
        turn, answer = turns[index], turns[index].answer
        liked = evt.liked is True or evt.liked == "Like"
        record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "liked": liked, "question": turn.question,
                  "answer": answer.text, "grounded": answer.grounded, "mode": answer.mode, "query": answer.query,
                  "citations": [c.to_dict() for c in answer.citations]}
        path = self.feedback_path
        with self._feedback_lock:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        return render_notice(text(ui, "thanks_like" if liked else "thanks_dislike"), "ok")

    @property
    def feedback_path(self) -> Path:
        return self.assistant.settings.data_dir / "feedback.jsonl"

    def feedback_file(self, request: gr.Request | None = None) -> Any:
        """The feedback download, for those who manage the documents (it holds every user's questions).

        A copy in a temporary folder: Gradio serves files from there, not from the data folder.
        """
        if not self.may_manage(request) or not self.feedback_path.is_file():
            return gr.DownloadButton(value=None)
        copy = Path(tempfile.mkdtemp(prefix="feedback-")) / self.feedback_path.name
        with self._feedback_lock:
            copy.write_bytes(self.feedback_path.read_bytes())
        return gr.DownloadButton(value=str(copy))

    def exports(self, turns: list[Turn], ui: str) -> tuple[Any, Any, Any, Any]:
        """Markdown and DOCX files of the conversation, and the last across-documents table as CSV and Markdown."""
        turns = [t for t in turns or [] if t.finished]
        none = gr.DownloadButton(value=None)
        if not turns:
            return none, none, none, none
        folder = Path(tempfile.mkdtemp(prefix="conversation-"))
        markdown = folder / "conversation.md"
        markdown.write_text(to_markdown(turns, ui), encoding="utf-8")
        word = to_docx(turns, ui, folder / "conversation.docx")
        last = turns[-1].answer
        if last is None or not last.across or not last.rows:
            return gr.DownloadButton(value=str(markdown)), gr.DownloadButton(value=str(word)), none, none
        csv, table = folder / "table.csv", folder / "table.md"
        csv.write_text(rows_to_csv(last.rows, last.language), encoding="utf-8")
        table.write_text(rows_to_markdown(last.rows, last.language), encoding="utf-8")
        return (gr.DownloadButton(value=str(markdown)), gr.DownloadButton(value=str(word)),
                gr.DownloadButton(value=str(csv)), gr.DownloadButton(value=str(table)))

    def chart(self, turns: list[Turn], ui: str) -> Any:
        """The last across-documents answer's figures over the dates, when they share one axis; else hidden."""
        last = turns[-1].answer if turns else None
        series = chart_series(last.rows) if last is not None and last.across else None
        if series is None:
            return gr.LinePlot(visible=False)
        # The unit is the y column's name and in the label too: a chart redrawn for another question
        # must never keep the previous question's unit on its axis.
        points = [{"date": p.date, series.unit: value, "bound": text(ui, bound)}
                  for p in series.points for bound, value in (("low", p.low), ("high", p.high))]
        return gr.LinePlot(value=pd.DataFrame(points), x="date", y=series.unit, color="bound", visible=True,
                           y_title=series.unit, label=f"{text(ui, 'chart')} · {series.unit}")

    # --- conversations kept in the browser ---------------------------------------------
    def conversation_choices(self, saved: Any) -> list[tuple[str, str]]:
        return [(f"{c.get('title', '')} · {c.get('updated', '')}", c["id"]) for c in Saved.of(saved).conversations]

    def open_conversation(self, chosen: str | None, saved: Any, ui: str) -> tuple[Any, ...]:
        kept = Saved.of(saved)
        if not chosen or kept.find(chosen) is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        turns = kept.turns(chosen)
        return (self.messages(turns, ui), turns, chosen, Saved(chosen, kept.conversations).to_json(),
                render_panel_placeholder(ui))

    def delete_conversation(self, chosen: str | None, saved: Any, conversation: str,
                            ui: str) -> tuple[Any, ...]:
        """Forget a conversation in this browser; deleting the open one starts a new one."""
        if not chosen:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        kept = Saved.of(saved).remove(chosen)
        listing = gr.Dropdown(choices=self.conversation_choices(kept.to_json()), value=None)
        if chosen != conversation:
            return gr.skip(), gr.skip(), gr.skip(), kept.to_json(), listing
        return [], [], new_conversation_id(), kept.to_json(), listing

    # --- sources -------------------------------------------------------------------
    def open_source(self, target: str, turns: list[Turn], ui: str) -> tuple[Any, Any]:
        """A clicked marker or listed source ("src/turn/c|p/n") into the panel, or "doc/id/start/end" into the
        whole-document viewer; outputs: panel, viewer."""
        match = _TARGET.match((target or "").split("|")[0])
        if not match:
            return gr.skip(), gr.skip()
        if match.group(5):
            return gr.skip(), self.view_document(match.group(6), ui, int(match.group(7)), int(match.group(8)))
        position, kind, index = int(match.group(2)), match.group(3), int(match.group(4))
        turns = list(turns or [])
        answer = turns[position].answer if 0 <= position < len(turns) else None
        if answer is None:
            return render_panel_placeholder(ui), gr.skip()
        if kind == "c":
            cited = [c for c in answer.citations if c.marker == index]  # one marker may quote several spans
            if not cited:
                return render_panel_placeholder(ui), gr.skip()
            passage = cited[0].passage
            spans = [(c.start, c.end, c.quote) for c in cited if c.passage.chunk_id == passage.chunk_id]
            kicker = text(ui, "panel_source", n=index)
        elif 0 <= index < len(answer.passages):
            passage, spans = answer.passages[index], []
            kicker = text(ui, "panel_nearest" if not answer.grounded else "panel_retrieved", n=index + 1)
        else:
            return render_panel_placeholder(ui), gr.skip()
        document = self._stored(passage.doc_id)
        panel = render_panel(passage, kicker=kicker, ui=ui, spans=spans, document=document, deleted=document is None)
        if document is not None:
            first = min(spans, default=(passage.start, passage.end, ""))
            panel += (f'<p><button type="button" class="open-document" value="doc/{passage.doc_id}/{first[0]}/'
                      f'{first[1]}">{text(ui, "open_document")}</button></p>')
        return panel, gr.skip()

    def view_document(self, doc_id: str, ui: str, start: int = 0, end: int = 0) -> str:
        """The whole document, opened at the span [start, end) (the cited passage), with page headings."""
        document = self._stored(doc_id)
        if document is None:
            return render_notice(text(ui, "gone"), "warn")
        loaded = self.assistant.read(doc_id)
        pages = [(p.number, p.start, p.end) for p in loaded.pages]
        spans = [(start, end)] if 0 <= start < end <= len(loaded.text) else []
        return render_document_text(document, loaded.text, ui, spans, pages)

    def _stored(self, doc_id: str) -> StoredDocument | None:
        try:
            return self.assistant.document(doc_id)
        except (UnknownDocument, StoreError):
            return None  # deleted since the answer was given: the passage itself is still shown

    # --- documents ----------------------------------------------------------------
    def refresh(self, scope: list[str] | None, ui: str, query: str | None = "", order: str | None = "added",
                request: gr.Request | None = None) -> tuple[Any, ...]:
        """Everything read fresh from the store: documents table, scope (and what left it), settings info,
        access note, write controls, and the first screen with its example questions."""
        documents = self.assistant.documents()
        return (*self._synced(documents, scope, ui, query, order, request), gr.Chatbot(**self._welcome(documents, ui)))

    def open_page(self, locale: str, saved: Any, request: gr.Request | None = None) -> tuple[Any, ...]:
        """On page load: the interface language from the browser's, the conversation that was open, everything
        else fresh; outputs: ui, chatbot, turns, conversation, past conversations, panel, then :meth:`_synced`."""
        ui = language_of(locale)
        kept = Saved.of(saved)
        turns = kept.turns(kept.current) if kept.current else []
        documents = self.assistant.documents()
        chatbot = gr.Chatbot(value=self.messages(turns, ui), label=text(ui, "chat_label"),
                             **self._welcome(documents, ui))
        return (ui, chatbot, turns, kept.current if turns else new_conversation_id(),
                gr.Dropdown(choices=self.conversation_choices(saved), value=None), render_panel_placeholder(ui),
                *self._synced(documents, None, ui, "", "added", request))

    def switch_language(self, ui: str, turns: list[Turn], scope: list[str] | None,
                        request: gr.Request | None = None) -> tuple[Any, ...]:
        """The interface in ``ui``: the conversation and every rendered part again; outputs as open_page's
        from the chatbot on, without turns, conversation and the list."""
        documents = self.assistant.documents()
        chatbot = gr.Chatbot(value=self.messages(turns or [], ui), label=text(ui, "chat_label"),
                             **self._welcome(documents, ui))
        return (chatbot, render_panel_placeholder(ui), *self._synced(documents, scope, ui, "", "added", request))

    def _synced(self, documents: Sequence[StoredDocument], scope: list[str] | None, ui: str, query: str | None,
                order: str | None, request: gr.Request | None) -> tuple[Any, ...]:
        """Documents table, scope, settings info, access note, upload, re-index button, chat notice, feedback file,
        the documents whose details can be corrected."""
        self._titles.update({d.doc_id: d.title for d in documents})
        known = {d.doc_id for d in documents}
        kept = [d for d in (scope or []) if d in known]
        dropped = [d for d in (scope or []) if d not in known]
        manage = self.may_manage(request)
        return (
            render_documents(filter_documents(documents, query, order), manage, read_only=self.read_only, ui=ui,
                             query=(query or "") if documents else ""),
            gr.Dropdown(choices=document_choices(documents), value=kept),
            render_info(self.assistant.describe(), self.settings, ui),
            self.access_note(request, ui),
            gr.File(interactive=manage, visible=not self.read_only),
            gr.Button(interactive=manage, visible=not self.read_only),
            self._scope_note(dropped, bool(kept), ui),
            self.feedback_file(request),
            gr.Dropdown(choices=document_choices(documents)),
        )

    def _welcome(self, documents: Sequence[StoredDocument], ui: str) -> dict[str, Any]:
        return {"placeholder": render_welcome(documents, ui), "examples": self._examples(documents, ui)}

    def _scope_note(self, dropped: list[str], any_left: bool, ui: str) -> Any:
        """Say so when documents chosen for the scope were deleted (the scope never widens silently); the
        notice stays until something else is said there."""
        if not dropped:
            return gr.skip()
        if not any_left:
            return render_notice(text(ui, "scope_dropped_all"), "warn")
        names = ", ".join(self._titles.get(d, d) for d in dropped)
        return render_notice(text(ui, "scope_dropped", title=names), "warn")

    def _examples(self, documents: Sequence[StoredDocument], ui: str) -> list[dict[str, str]]:
        recent = list(documents)[-3:]
        for d in recent:  # a stored version's headings do not change: read them from the store once
            if (d.doc_id, d.added_at, d.title) not in self._headings:
                self._headings[(d.doc_id, d.added_at, d.title)] = self.assistant.headings(d.doc_id)
        headings = {d.doc_id: self._headings[(d.doc_id, d.added_at, d.title)] for d in recent}
        return [{"text": q} for q in example_questions(recent, headings, ui)]

    def documents_table(self, query: str | None, order: str | None, ui: str, request: gr.Request | None = None) -> str:
        documents = self.assistant.documents()
        return render_documents(filter_documents(documents, query, order), self.may_manage(request),
                                read_only=self.read_only, ui=ui, query=(query or "") if documents else "")

    def access_note(self, request: gr.Request | None, ui: str = "en") -> str:
        """Why the write controls are missing or disabled, if they are."""
        if self.read_only:
            return render_notice(text(ui, "read_only"), "warn")
        if self.may_manage(request):
            return ""
        user = getattr(request, "username", None) or "?"
        return render_notice(text(ui, "signed_in_not_admin", user=user), "warn")

    def upload(self, files: list[str] | None, ui: str,
               request: gr.Request | None = None) -> Iterator[tuple[Any, Any]]:
        """Add uploaded files, showing each file being read and chunked, then the chunks embedded; outputs: the
        progress line and the per-file results (which stay visible until the new ones replace them)."""
        self._require_manager(request, ui)
        yield from self._adding(lambda reading, embedding, waiting: self.add_files(files or [], embedding, waiting,
                                                                                  reading), ui)

    def add_urls(self, urls: str | None, ui: str, request: gr.Request | None = None) -> Iterator[tuple[Any, Any]]:
        """Fetch and add the pages (http/https, one per line or space), with the same progress and results as an
        upload; the fetcher refuses private and metadata addresses (``assistant.fetching``)."""
        self._require_manager(request, ui)
        wanted = [u for u in re.split(r"\s+", urls or "") if u]
        if not wanted:
            yield render_notice(text(ui, "no_url"), "warn"), gr.skip()
            return
        yield from self._adding(lambda reading, embedding, waiting: self.add_pages(wanted, embedding, waiting,
                                                                                  reading), ui, fetching=True)

    def add_pages(self, urls: Sequence[str], progress: Callable[[int, int, str], None] | None = None,
                  waiting: Callable[[str], None] | None = None,
                  reading: Callable[[int, int, str], None] | None = None) -> list[tuple[str, AddResult]]:
        """Add web pages by URL: each result under its URL (only http and https are accepted)."""
        accepted = [u for u in urls if re.match(r"^https?://", u, re.I)]
        rows = [(u, AddResult(u, None, "failed", "only http:// and https:// addresses can be added"))
                for u in urls if u not in accepted]
        if accepted:
            results = self.assistant.add(*accepted, progress=progress, waiting=waiting, reading=reading)
            rows.extend((display_source(r.path), r) for r in results)
        return rows

    def _adding(self, add: Callable[..., list[tuple[str, AddResult]]], ui: str,
                fetching: bool = False) -> Iterator[tuple[Any, Any]]:
        """Run ``add(reading, embedding, waiting)`` in a thread and show its progress as it comes."""
        updates: queue.Queue[tuple[str, float] | None] = queue.Queue()
        outcome: dict[str, Any] = {}

        def reading(done: int, total: int, name: str) -> None:
            updates.put((text(ui, "reading", name=f"{safe_source_name(name)} ({done + 1}/{total})"), done / total / 2))

        def embedding(done: int, total: int, message: str) -> None:
            updates.put((text(ui, "embedding", message=f"{message} ({done}/{total})"), 0.5 + done / max(total, 1) / 2))

        def work() -> None:
            try:
                outcome["rows"] = add(reading, embedding, lambda m: updates.put((_sentence(m), 0.0)))
            except Exception as exc:  # reported on the page below, whatever it is
                outcome["error"] = exc
            finally:
                updates.put(None)

        threading.Thread(target=work, name="adding", daemon=True).start()
        if fetching:
            yield render_progress(text(ui, "fetching"), 0.0), gr.skip()
        for message, fraction in _coalesced(updates):
            yield render_progress(message, fraction), gr.skip()
        error = outcome.get("error")
        if isinstance(error, StoreError):
            raise gr.Error(str(error)) from error
        if error is not None:
            log.error("adding documents failed", exc_info=error)
            raise gr.Error(text(ui, "internal_error", name=error.__class__.__name__)) from error
        yield "", render_upload_results(outcome["rows"], ui)

    def add_files(self, files: Sequence[str], progress: Callable[[int, int, str], None] | None = None,
                  waiting: Callable[[str], None] | None = None,
                  reading: Callable[[int, int, str], None] | None = None) -> list[tuple[str, AddResult]]:
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
                                         waiting=waiting, reading=reading)
            rows.extend((names.get(r.path) or safe_source_name(r.path), r) for r in results)
        return rows

    def ask_delete(self, ui: str, evt: gr.EventData, request: gr.Request | None = None) -> tuple[Any, ...]:
        """First step of deleting (a row's Delete… button): name the document and ask for confirmation."""
        self._require_manager(request, ui)
        doc_id = _row_doc_id(evt)
        stored = self._stored(doc_id) if doc_id else None
        if stored is None:
            return None, gr.Group(visible=False), "", render_notice(text(ui, "gone"), "warn")
        question = text(ui, "confirm_delete_text", title=stored.title, n=stored.chunks)
        return doc_id, gr.Group(visible=True), render_notice(question, "bad"), ""

    def view_row(self, ui: str, evt: gr.EventData) -> str:
        """A row's View button: the whole document in the Documents tab's viewer."""
        doc_id = _row_doc_id(evt)
        return self.view_document(doc_id, ui) if doc_id else ""

    @staticmethod
    def edit_row(evt: gr.EventData) -> tuple[Any, Any]:
        """A row's Edit… button: open the details form on that document."""
        doc_id = _row_doc_id(evt)
        if not doc_id:
            return gr.skip(), gr.skip()
        return gr.Accordion(open=True), gr.Dropdown(value=doc_id)

    def details_of(self, doc_id: str | None) -> tuple[str, str, str | None, str]:
        """The details form filled with what is stored for the document: title, date, kind, issuer."""
        stored = self._stored(doc_id) if doc_id else None
        return _details(stored) if stored is not None else ("", "", None, "")

    def save_details(self, doc_id: str | None, title: str | None, date: str | None, kind: str | None,
                     issuer: str | None, ui: str, request: gr.Request | None = None) -> str:
        """Correct the fields the user changed (``assistant meta`` from the page); a blank field is left as read.

        Only changed fields are sent, so saving the form untouched writes nothing, and a correction
        of the title alone does not pin the date that was read.
        """
        self._require_manager(request, ui)
        stored = self._stored(doc_id) if doc_id else None
        if stored is None:
            return render_notice(text(ui, "pick_document" if not doc_id else "gone"), "warn")
        now = dict(zip(("title", "date", "kind", "issuer"), _details(stored), strict=True))
        given = {"title": title, "date": date, "kind": kind, "issuer": issuer}
        changes = {key: " ".join(str(value).split()) for key, value in given.items()
                   if value and " ".join(str(value).split()) != (now[key] or "")}
        if not changes:
            return render_notice(text(ui, "no_details_change"), "warn")
        try:
            corrected = self.assistant.correct(stored.doc_id, **changes)
        except (InvalidMetadata, UnknownDocument, StoreError) as exc:
            return render_notice(str(exc), "bad")
        fields = ", ".join(f"{text(ui, key)} {value}" for key, value in changes.items())
        return render_notice(text(ui, "details_saved", title=corrected.title, fields=fields), "ok")

    def confirm_delete(self, doc_id: str | None, ui: str, request: gr.Request | None = None) -> tuple[Any, ...]:
        self._require_manager(request, ui)
        hidden = gr.Group(visible=False)
        if not doc_id:
            return None, hidden, "", render_notice(text(ui, "nothing_deleted"), "warn")
        try:
            removed = self.assistant.remove(doc_id)
        except UnknownDocument as exc:
            return None, hidden, "", render_notice(str(exc), "warn")
        except StoreError as exc:  # read-only, or another process holding the write lock
            return None, hidden, "", render_notice(str(exc), "bad")
        return None, hidden, "", render_notice(text(ui, "deleted", title=removed.title, n=removed.chunks), "ok")

    def cancel_delete(self, ui: str) -> tuple[Any, ...]:
        return None, gr.Group(visible=False), "", render_notice(text(ui, "nothing_deleted"), "ok")

    def reindex(self, ui: str, request: gr.Request | None = None,
                progress: gr.Progress = gr.Progress()) -> str:  # noqa: B008 - Gradio injects the tracker
        """Rebuild every chunk from the stored texts, with progress."""
        self._require_manager(request, ui)

        def report(done: int, total: int, message: str) -> None:
            progress((done, total), desc=text(ui, "reindexing", message=message), unit="chunks")

        progress(0.0, desc=text(ui, "rechunking"))
        with store_errors_for_users():
            total = self.assistant.reindex(progress=report, waiting=_waiting_shown_in(progress))
        count = len(self.assistant.documents())
        return render_notice(text(ui, "reindexed", n=count, chunks=total), "ok")

    # --- named API endpoints (gradio_client) ---------------------------------------
    def api_ask(self, question: str, documents: list[str] | None = None, k: int | None = None,
                history: list[dict[str, str]] | None = None, across: bool = False, since: str | None = None,
                until: str | None = None, kind: list[str] | None = None, issuer: str | None = None,
                language: str | None = None) -> dict[str, Any]:
        """Answer a question with citations; the same JSON as `assistant ask --json` (``across``: one dated row per
        matching document; ``since``/``until``/``kind``/``issuer``/``language`` filter the documents)."""
        try:
            options = self.answer_options(k, None, across)
            answer = self.assistant.ask(question, history=history or None, documents=documents or None, since=since,
                                        until=until, kind=kind or None, issuer=issuer, language=language, **options)
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

    def api_add_documents(self, files: list[str] | None, urls: list[str] | None = None,
                          request: gr.Request | None = None) -> list[dict[str, Any]]:
        """Add uploaded files and web pages; one AddResult dict per file or URL, with ``file`` (the uploaded name or
        the URL) instead of ``path``.

        (A ``path`` key would make gradio_client treat each result as a file to download.)
        """
        self._require_manager(request)
        rows = []
        with store_errors_for_users():
            added = self.add_files(files or []) + (self.add_pages(urls) if urls else [])
        for name, result in added:
            data = result.to_dict()
            data.pop("path", None)
            rows.append({"file": name, **data})
        return rows
