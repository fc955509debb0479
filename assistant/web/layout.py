"""The page itself: the ``gr.Blocks`` with its Chat and Documents tabs, the JS/CSS it needs, the wiring.

Components are built here and every event is wired to a :class:`~assistant.web.handlers.WebApp`
method; what the page does lives in the handlers, what it shows in the renderers. The small
``js_on_load`` handlers turn clicks into custom events (``open_source``, ``delete_doc``), and the
styles come from ``assistant/web_assets/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web.handlers import READ_ONLY_NOTE, WebApp
from assistant.web.render import render_conversation, render_notice, render_panel_placeholder

ASSETS = Path(__file__).resolve().parent.parent / "web_assets"
EXAMPLES: tuple[str, ...] = (
    "By what year will the model city be built?",
    "长江大保护典范城市计划在哪一年基本建成？",
    "What mechanisms should be improved for cadres?",
)

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


def stylesheet() -> str:
    """The page's styles; Gradio 6 takes them at launch rather than in ``gr.Blocks``."""
    return (ASSETS / "web.css").read_text(encoding="utf-8")


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
