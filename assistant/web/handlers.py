"""The functions the page's events call: :class:`WebApp`, which talks only to the Assistant service.

Every write (upload, delete, re-index, ``/add_documents``) is checked here, on the server, by
:meth:`WebApp.may_manage`: nobody when the settings are read-only, else admins when sign-in is on.
Hiding the controls in the layout is a courtesy, never the protection. Uploads are read where
Gradio stored them and recorded under :func:`~assistant.web.uploads.safe_source_name`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.documents import AddResult, Answer, StoredDocument
from assistant.errors import StoreError, UnknownDocument
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web.conversation import Turn, history_of
from assistant.web.render import (
    document_choices,
    render_conversation,
    render_documents,
    render_info,
    render_notice,
    render_panel,
    render_panel_placeholder,
    render_upload_results,
)
from assistant.web.uploads import safe_source_name, upload_problem

log = logging.getLogger(__name__)
READ_ONLY_NOTE = ("This assistant is read-only: you can ask questions and read the documents, "
                  "but nobody can add, delete or re-index them.")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def parse_admins(spec: str | None) -> set[str]:
    return {name.strip() for name in (spec or "").split(",") if name.strip()}


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
            return self.assistant.document(doc_id)
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
