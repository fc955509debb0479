"""The page itself: the ``gr.Blocks`` with its Chat and Documents tabs, the script it needs, the wiring.

Components are built here and every event is wired to a :class:`~assistant.web.handlers.WebApp`
method; what the page does lives in the handlers, what it shows in the renderers. The chat is a
``gr.Chatbot`` (roles, copy, retry, edit, like and dislike); the sources panel beside it opens
from the answers' markers through the page script (``web_assets/chat.js``), which turns a click on
a marker button into a ``change`` of a hidden box. Labels are ``gr.I18n`` keys; the language
switch re-labels them with plain strings (:func:`relabel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web.conversation import new_conversation_id
from assistant.web.handlers import WebApp
from assistant.web.i18n import I18N, text
from assistant.web.render import kind_choices, language_choices, render_panel_placeholder

ASSETS = Path(__file__).resolve().parent.parent / "web_assets"
STORAGE_KEY = "policy-assistant-conversations"
LANGUAGE_CHOICES = [("English", "en"), ("中文", "zh")]

# View, Edit… and Delete… buttons in the documents table become custom events (Gradio finds the event
# names by their quoted literals in this script).
DOCUMENTS_JS = """
element.addEventListener('click', (event) => {
  const target = event.target.closest('button.delete-doc, button.view-doc, button.edit-doc');
  if (!target || !element.contains(target)) return;
  const events = {'delete-doc': 'delete_doc', 'view-doc': 'view_doc', 'edit-doc': 'edit_doc'};
  const kind = Object.keys(events).find((name) => target.classList.contains(name));
  trigger(events[kind], {doc_id: target.dataset.doc});
});
"""
# Bring the highlighted span into view whenever the panel or a viewer shows new text.
SCROLL_TO_MARK_JS = """
watch('value', () => {
  const mark = element.querySelector('mark');
  if (mark) mark.scrollIntoView({block: 'nearest', behavior: 'smooth'});
});
"""
LOCALE_JS = "(locale, saved) => [navigator.language || 'en', saved]"


def stylesheet() -> str:
    """The page's styles; Gradio 6 takes them at launch rather than in ``gr.Blocks``."""
    return (ASSETS / "web.css").read_text(encoding="utf-8")


def script() -> str:
    """The page script (marker clicks, copying an answer with its citations); Gradio 6 takes it at launch."""
    return (ASSETS / "chat.js").read_text(encoding="utf-8")


@dataclass
class ChatTab:
    chatbot: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    stop: gr.Button
    new_chat: gr.Button
    across: gr.Checkbox
    chart: gr.LinePlot
    announcer: gr.HTML
    notice: gr.HTML
    scope: gr.Dropdown
    filters: gr.Accordion
    since: gr.Textbox
    until: gr.Textbox
    kinds: gr.Dropdown
    issuer: gr.Textbox
    doc_language: gr.Dropdown
    past: gr.Dropdown
    open_past: gr.Button
    delete_past: gr.Button
    export_md: gr.DownloadButton
    export_docx: gr.DownloadButton
    export_csv: gr.DownloadButton
    export_table_md: gr.DownloadButton
    conversations: gr.Accordion
    settings_box: gr.Accordion
    k: gr.Slider
    mode: gr.Radio
    info: gr.HTML
    panel: gr.HTML
    viewer: gr.HTML
    target: gr.Textbox


@dataclass
class DocumentsTab:
    access: gr.HTML
    upload: gr.File
    url_row: gr.Row
    url: gr.Textbox
    url_button: gr.Button
    progress: gr.HTML
    results: gr.HTML
    heading: gr.HTML
    search: gr.Textbox
    order: gr.Dropdown
    table: gr.HTML
    details: gr.Accordion
    details_doc: gr.Dropdown
    details_title: gr.Textbox
    details_date: gr.Textbox
    details_kind: gr.Dropdown
    details_issuer: gr.Textbox
    details_save: gr.Button
    confirm_box: gr.Group
    confirm_text: gr.HTML
    yes: gr.Button
    no: gr.Button
    reindex: gr.Button
    refresh: gr.Button
    feedback: gr.DownloadButton
    status: gr.HTML
    viewer: gr.HTML


@dataclass
class Page:
    header: gr.HTML
    language: gr.Radio
    chat_tab: gr.Tab
    documents_tab: gr.Tab
    chat: ChatTab
    docs: DocumentsTab


def _chat_column(settings: Settings) -> dict[str, Any]:
    """Conversation, question box, scope, past conversations and answer settings."""
    ui: dict[str, Any] = {}
    ui["chatbot"] = gr.Chatbot(elem_id="conversation", label=I18N("chat_label"), height=560, autoscroll=True,
                               editable="user", feedback_options=("Like", "Dislike"), sanitize_html=True,
                               render_markdown=True, group_consecutive_messages=False, layout="bubble",
                               placeholder=render_panel_placeholder())
    with gr.Row(elem_id="ask-row"):
        ui["question"] = gr.Textbox(placeholder=I18N("question_placeholder"), show_label=False, lines=1,
                                    max_lines=6, scale=6, elem_id="question", autofocus=True)
        ui["send"] = gr.Button(I18N("ask"), variant="primary", scale=1, min_width=80, elem_id="send")
        ui["stop"] = gr.Button(I18N("stop"), variant="stop", scale=1, min_width=80, elem_id="stop", visible=False)
        ui["new_chat"] = gr.Button(I18N("new_chat"), scale=1, min_width=110, elem_id="new-chat")
    ui["across"] = gr.Checkbox(False, label=I18N("across"), info=I18N("across_info"), elem_id="across")
    ui["chart"] = gr.LinePlot(visible=False, elem_id="chart", label=I18N("chart"), x="date", y="value")
    ui["announcer"] = gr.HTML(elem_id="announcer", elem_classes="sr-only")
    ui["notice"] = gr.HTML(elem_id="chat-notice")
    ui["scope"] = gr.Dropdown(choices=[], value=[], multiselect=True, label=I18N("scope"), info=I18N("scope_info"),
                              elem_id="scope")
    with gr.Accordion(I18N("filters"), open=False, elem_id="filters") as ui["filters"]:
        with gr.Row():
            ui["since"] = gr.Textbox(label=I18N("since"), placeholder=I18N("date_placeholder"), max_lines=1,
                                     elem_id="filter-since", min_width=120)
            ui["until"] = gr.Textbox(label=I18N("until"), placeholder=I18N("date_placeholder"), max_lines=1,
                                     elem_id="filter-until", min_width=120)
            ui["kinds"] = gr.Dropdown(choices=kind_choices("en"), value=[], multiselect=True, label=I18N("kinds"),
                                      elem_id="filter-kind", min_width=160)
        with gr.Row():
            ui["issuer"] = gr.Textbox(label=I18N("issuer_contains"), max_lines=1, elem_id="filter-issuer")
            ui["doc_language"] = gr.Dropdown(choices=language_choices("en"), value="", label=I18N("doc_language"),
                                             elem_id="filter-language")
    with gr.Accordion(I18N("conversations"), open=False, elem_id="conversations") as ui["conversations"]:
        ui["past"] = gr.Dropdown(choices=[], value=None, label=I18N("conversation_pick"), elem_id="past")
        with gr.Row():
            ui["open_past"] = gr.Button(I18N("open_conversation"), size="sm", elem_id="open-conversation")
            ui["delete_past"] = gr.Button(I18N("delete_conversation"), size="sm", elem_id="delete-conversation")
        with gr.Row():
            ui["export_md"] = gr.DownloadButton(I18N("export_markdown"), size="sm", elem_id="export-md")
            ui["export_docx"] = gr.DownloadButton(I18N("export_docx"), size="sm", elem_id="export-docx")
            ui["export_csv"] = gr.DownloadButton(I18N("export_csv"), size="sm", elem_id="export-csv")
            ui["export_table_md"] = gr.DownloadButton(I18N("export_table_md"), size="sm", elem_id="export-table-md")
    with gr.Accordion(I18N("answer_settings"), open=False, elem_id="answer-settings") as ui["settings_box"]:
        ui["k"] = gr.Slider(1, 20, value=settings.top_k, step=1, label=I18N("top_k"), elem_id="top-k")
        modes = ["extractive"] + (["llm"] if settings.llm_provider != "none" else [])
        ui["mode"] = gr.Radio(modes, value=modes[-1], label=I18N("mode"), elem_id="mode", interactive=len(modes) > 1,
                              info=I18N("mode_info"))
        ui["info"] = gr.HTML(elem_id="system-info")
    ui["target"] = gr.Textbox(visible="hidden", elem_id="cite-target", show_label=False)
    return ui


def _chat_tab(settings: Settings) -> ChatTab:
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=340):
            ui = _chat_column(settings)
        with gr.Column(scale=2, min_width=300):
            ui["panel"] = gr.HTML(render_panel_placeholder(), js_on_load=SCROLL_TO_MARK_JS, elem_id="source-panel")
            ui["viewer"] = gr.HTML(js_on_load=SCROLL_TO_MARK_JS, elem_id="document-viewer", max_height=520)
    return ChatTab(**ui)


def _documents_tab(settings: Settings, read_only: bool) -> DocumentsTab:
    """Upload, search and sort, table, delete confirmation, re-index; a read-only app shows no write controls."""
    access = gr.HTML(elem_id="access-note")
    upload = gr.File(file_count="multiple", elem_id="upload", height=150, visible=not read_only,
                     label=text("en", "upload", mb=f"{settings.max_upload_mb:g}"))
    with gr.Row(elem_id="add-url-row", visible=not read_only) as url_row:
        url = gr.Textbox(label=I18N("add_url"), placeholder=I18N("add_url_placeholder"), elem_id="add-url", scale=4,
                         lines=1, max_lines=4)
        url_button = gr.Button(I18N("add_url_button"), elem_id="add-url-button", scale=1, min_width=100)
    progress = gr.HTML(elem_id="upload-progress", min_height=40, visible=not read_only)
    results = gr.HTML(elem_id="upload-results", visible=not read_only)
    heading = gr.HTML(f"<h3>{text('en', 'stored_documents')}</h3>", elem_id="documents-heading")
    with gr.Row(elem_id="documents-tools"):
        search = gr.Textbox(label=I18N("search_documents"), placeholder=I18N("search_documents_placeholder"),
                            elem_id="doc-search", scale=3)
        order = gr.Dropdown(choices=_orders("en"), value="added", label=I18N("sort_by"), elem_id="doc-sort", scale=1)
    table = gr.HTML(js_on_load=DOCUMENTS_JS, elem_id="documents-table")
    with gr.Accordion(I18N("correct_details"), open=False, visible=not read_only, elem_id="details") as details:
        details_doc = gr.Dropdown(choices=[], value=None, label=I18N("correct_document"), elem_id="details-doc")
        with gr.Row():
            details_title = gr.Textbox(label=I18N("title"), max_lines=1, elem_id="details-title", scale=3)
            details_date = gr.Textbox(label=I18N("date"), placeholder=I18N("date_placeholder"), max_lines=1,
                                      elem_id="details-date", min_width=120)
            details_kind = gr.Dropdown(choices=kind_choices("en"), value=None, label=I18N("kind"),
                                       elem_id="details-kind", min_width=140)
            details_issuer = gr.Textbox(label=I18N("issuer"), max_lines=1, elem_id="details-issuer", scale=2)
        details_save = gr.Button(I18N("save_details"), size="sm", elem_id="details-save")
    with gr.Group(visible=False, elem_id="confirm-delete-box") as confirm_box:
        confirm_text = gr.HTML(elem_id="confirm-text", padding=True)
        with gr.Row():
            yes = gr.Button(I18N("confirm_delete"), variant="stop", elem_id="confirm-delete")
            no = gr.Button(I18N("cancel"), elem_id="cancel-delete")
    with gr.Row():
        reindex = gr.Button(I18N("reindex"), size="sm", elem_id="reindex", visible=not read_only)
        refresh = gr.Button(I18N("refresh"), size="sm", elem_id="refresh")
        feedback = gr.DownloadButton(I18N("export_feedback"), size="sm", elem_id="export-feedback",
                                     visible=not read_only)
    status = gr.HTML(elem_id="documents-status", min_height=50)
    viewer = gr.HTML(js_on_load=SCROLL_TO_MARK_JS, elem_id="documents-viewer", max_height=600)
    return DocumentsTab(access, upload, url_row, url, url_button, progress, results, heading, search, order, table,
                        details, details_doc, details_title, details_date, details_kind, details_issuer, details_save,
                        confirm_box, confirm_text, yes, no, reindex, refresh, feedback, status, viewer)


def _orders(ui: str) -> list[tuple[str, str]]:
    return [(text(ui, "sort_added"), "added"), (text(ui, "sort_title"), "title"), (text(ui, "sort_date"), "date")]


def _header(ui: str) -> str:
    return (f'<h1 style="margin:0">{text(ui, "app_title")}</h1>'
            f'<p style="margin:2px 0 0;opacity:.75">{text(ui, "app_subtitle")}</p>')


def relabel(page: Page, ui: str, settings: Settings) -> list[Any]:
    """Every labelled component in ``ui``'s language (the chatbot's label goes with its messages), in the order
    of :func:`relabelled`; the last is the language switch."""
    return [
        _header(ui), gr.Tab(label=text(ui, "tab_chat")), gr.Tab(label=text(ui, "tab_documents")),
        gr.Textbox(placeholder=text(ui, "question_placeholder")),
        gr.Button(value=text(ui, "ask")), gr.Button(value=text(ui, "stop")), gr.Button(value=text(ui, "new_chat")),
        gr.Dropdown(label=text(ui, "scope"), info=text(ui, "scope_info")),
        gr.Accordion(label=text(ui, "filters")),
        gr.Textbox(label=text(ui, "since"), placeholder=text(ui, "date_placeholder")),
        gr.Textbox(label=text(ui, "until"), placeholder=text(ui, "date_placeholder")),
        gr.Dropdown(label=text(ui, "kinds"), choices=kind_choices(ui)),
        gr.Textbox(label=text(ui, "issuer_contains")),
        gr.Dropdown(label=text(ui, "doc_language"), choices=language_choices(ui)),
        gr.Accordion(label=text(ui, "conversations")), gr.Dropdown(label=text(ui, "conversation_pick")),
        gr.Button(value=text(ui, "open_conversation")), gr.Button(value=text(ui, "delete_conversation")),
        gr.DownloadButton(label=text(ui, "export_markdown")), gr.DownloadButton(label=text(ui, "export_docx")),
        gr.Checkbox(label=text(ui, "across"), info=text(ui, "across_info")),
        gr.DownloadButton(label=text(ui, "export_csv")), gr.DownloadButton(label=text(ui, "export_table_md")),
        gr.LinePlot(label=text(ui, "chart")),
        gr.Accordion(label=text(ui, "answer_settings")), gr.Slider(label=text(ui, "top_k")),
        gr.Radio(label=text(ui, "mode"), info=text(ui, "mode_info")),
        gr.File(label=text(ui, "upload", mb=f"{settings.max_upload_mb:g}")),
        gr.Textbox(label=text(ui, "add_url"), placeholder=text(ui, "add_url_placeholder")),
        gr.Button(value=text(ui, "add_url_button")),
        f"<h3>{text(ui, 'stored_documents')}</h3>",
        gr.Textbox(label=text(ui, "search_documents"), placeholder=text(ui, "search_documents_placeholder")),
        gr.Dropdown(label=text(ui, "sort_by"), choices=_orders(ui)),
        gr.Accordion(label=text(ui, "correct_details")), gr.Dropdown(label=text(ui, "correct_document")),
        gr.Textbox(label=text(ui, "title")),
        gr.Textbox(label=text(ui, "date"), placeholder=text(ui, "date_placeholder")),
        gr.Dropdown(label=text(ui, "kind"), choices=kind_choices(ui)), gr.Textbox(label=text(ui, "issuer")),
        gr.Button(value=text(ui, "save_details")),
        gr.Button(value=text(ui, "confirm_delete")), gr.Button(value=text(ui, "cancel")),
        gr.Button(value=text(ui, "reindex")), gr.Button(value=text(ui, "refresh")),
        gr.DownloadButton(label=text(ui, "export_feedback")), gr.Radio(label=text(ui, "interface_language")),
    ]


def relabelled(page: Page) -> list[Any]:
    """The components :func:`relabel` updates, in its order."""
    chat, docs = page.chat, page.docs
    return [page.header, page.chat_tab, page.documents_tab, chat.question, chat.send, chat.stop,
            chat.new_chat, chat.scope, chat.filters, chat.since, chat.until, chat.kinds, chat.issuer,
            chat.doc_language, chat.conversations, chat.past, chat.open_past, chat.delete_past,
            chat.export_md, chat.export_docx, chat.across, chat.export_csv, chat.export_table_md, chat.chart,
            chat.settings_box, chat.k, chat.mode, docs.upload, docs.url, docs.url_button, docs.heading,
            docs.search, docs.order, docs.details, docs.details_doc, docs.details_title, docs.details_date,
            docs.details_kind, docs.details_issuer, docs.details_save, docs.yes, docs.no, docs.reindex, docs.refresh,
            docs.feedback, page.language]


def build_app(assistant: Assistant, settings: Settings | None = None) -> gr.Blocks:
    """The Gradio Blocks app: Chat and Documents tabs plus the /ask, /retrieve, /add_documents endpoints."""
    settings = settings or assistant.settings
    web = WebApp(assistant, settings)
    with gr.Blocks(title="Policy assistant", analytics_enabled=False) as app:
        state = _State(turns=gr.State([]), ui=gr.State("en"), conversation=gr.State(new_conversation_id()),
                       saved=gr.BrowserState({"current": "", "conversations": []}, storage_key=STORAGE_KEY),
                       pending_delete=gr.State(None), locale=gr.Textbox(visible="hidden", elem_id="locale"))
        with gr.Row(elem_id="top"):
            header = gr.HTML(_header("en"), elem_id="header")
            language = gr.Radio(LANGUAGE_CHOICES, value="en", label=I18N("interface_language"),
                                elem_id="interface-language", scale=0, min_width=200)
        with gr.Tabs(elem_id="tabs"):
            with gr.Tab(I18N("tab_chat"), id="chat", elem_id="chat-tab") as chat_tab:
                chat = _chat_tab(settings)
            with gr.Tab(I18N("tab_documents"), id="documents", elem_id="documents-tab") as documents_tab:
                docs = _documents_tab(settings, web.read_only)
        page = Page(header, language, chat_tab, documents_tab, chat, docs)
        _wire_chat(web, page, state)
        _wire_documents(web, page, state)
        _wire_language(web, page, state, app, settings)
        _api_endpoints(web)
    return app


@dataclass
class _State:
    turns: gr.State
    ui: gr.State
    conversation: gr.State
    saved: gr.BrowserState
    pending_delete: gr.State
    locale: gr.Textbox


_PRIVATE: dict[str, Any] = {"api_visibility": "private"}  # UI events stay out of the API page and clients


def _wire_chat(web: WebApp, page: Page, state: _State) -> None:
    chat = page.chat
    options = [chat.scope, chat.k, chat.mode, chat.across, state.ui, state.saved, state.conversation, chat.since,
               chat.until, chat.kinds, chat.issuer, chat.doc_language]
    outputs = [chat.chatbot, state.turns, state.saved, state.conversation, chat.question, chat.send, chat.stop,
               chat.announcer]
    exports = {"fn": web.exports, "inputs": [state.turns, state.ui],
               "outputs": [chat.export_md, chat.export_docx, chat.export_csv, chat.export_table_md], **_PRIVATE}
    # "multiple": a stopped answer may still be winding down in its thread, and must not block the next
    # question; a second submission of the same question is dropped by the handler's per-session guard.
    asked = gr.on([chat.question.submit, chat.send.click], web.respond, [chat.question, state.turns, *options],
                  outputs, trigger_mode="multiple", **_PRIVATE)
    retried = chat.chatbot.retry(web.retry, [state.turns, *options], outputs, **_PRIVATE)
    edited = chat.chatbot.edit(web.edit, [state.turns, *options], outputs, **_PRIVATE)
    picked = chat.chatbot.example_select(_example_text, None, chat.question, **_PRIVATE).then(
        web.respond, [chat.question, state.turns, *options], outputs, **_PRIVATE)
    running = [asked, retried, edited, picked]
    for event in running:
        event.then(**exports).then(web.chart, [state.turns, state.ui], chat.chart, **_PRIVATE).then(
            lambda saved: gr.Dropdown(choices=web.conversation_choices(saved)), state.saved, chat.past, **_PRIVATE)
    chat.stop.click(web.stop, [state.turns, state.ui, state.saved, state.conversation],
                    [chat.chatbot, state.turns, state.saved, chat.question, chat.send, chat.stop, chat.announcer],
                    cancels=running, **_PRIVATE)
    gr.on([chat.new_chat.click, chat.chatbot.clear], web.new_chat, state.ui,
          [chat.chatbot, state.turns, state.conversation, chat.panel], **_PRIVATE).then(**exports)
    chat.chatbot.like(web.feedback, [state.turns, state.ui], chat.notice, **_PRIVATE).then(
        web.feedback_file, None, page.docs.feedback, **_PRIVATE)
    chat.target.change(web.open_source, [chat.target, state.turns, state.ui], [chat.panel, chat.viewer], **_PRIVATE)
    chat.open_past.click(web.open_conversation, [chat.past, state.saved, state.ui],
                         [chat.chatbot, state.turns, state.conversation, state.saved, chat.panel],
                         **_PRIVATE).then(**exports)
    chat.delete_past.click(web.delete_conversation, [chat.past, state.saved, state.conversation, state.ui],
                           [chat.chatbot, state.turns, state.conversation, state.saved, chat.past],
                           **_PRIVATE).then(**exports)


def _example_text(evt: gr.SelectData) -> str:
    value = evt.value
    return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")


def _wire_documents(web: WebApp, page: Page, state: _State) -> None:
    chat, docs = page.chat, page.docs
    synced = [docs.table, chat.scope, chat.info, docs.access, docs.upload, docs.reindex, chat.notice, docs.feedback,
              docs.details_doc, chat.chatbot]
    refresh: dict[str, Any] = {"fn": web.refresh, "inputs": [chat.scope, state.ui, docs.search, docs.order],
                               "outputs": synced, **_PRIVATE}
    for tab in (page.chat_tab, page.documents_tab):
        tab.select(**refresh)
    docs.refresh.click(**refresh)
    gr.on([docs.search.change, docs.order.change], web.documents_table, [docs.search, docs.order, state.ui],
          docs.table, **_PRIVATE)
    docs.upload.upload(web.upload, [docs.upload, state.ui], [docs.progress, docs.results], show_progress="hidden",
                       **_PRIVATE).then(**refresh).then(lambda: None, None, docs.upload, **_PRIVATE)
    gr.on([docs.url_button.click, docs.url.submit], web.add_urls, [docs.url, state.ui],
          [docs.progress, docs.results], show_progress="hidden", **_PRIVATE).then(**refresh)
    confirm = [state.pending_delete, docs.confirm_box, docs.confirm_text, docs.status]
    docs.table.delete_doc(web.ask_delete, state.ui, confirm, **_PRIVATE)
    docs.table.view_doc(web.view_row, state.ui, docs.viewer, **_PRIVATE)
    docs.table.edit_doc(web.edit_row, None, [docs.details, docs.details_doc], **_PRIVATE)
    fields = [docs.details_title, docs.details_date, docs.details_kind, docs.details_issuer]
    docs.details_doc.change(web.details_of, docs.details_doc, fields, **_PRIVATE)
    docs.details_save.click(web.save_details, [docs.details_doc, *fields, state.ui], docs.status,
                            **_PRIVATE).then(**refresh)
    docs.no.click(web.cancel_delete, state.ui, confirm, **_PRIVATE)
    docs.yes.click(web.confirm_delete, [state.pending_delete, state.ui], confirm, **_PRIVATE).then(**refresh)
    docs.reindex.click(web.reindex, state.ui, docs.status, **_PRIVATE).then(**refresh)


def _wire_language(web: WebApp, page: Page, state: _State, app: gr.Blocks, settings: Settings) -> None:
    """The browser's language and the open conversation on load; the language switch afterwards."""
    chat, docs = page.chat, page.docs
    targets = relabelled(page)
    synced = [docs.table, chat.scope, chat.info, docs.access, docs.upload, docs.reindex, chat.notice, docs.feedback,
              docs.details_doc]

    def start(locale: str, saved: Any, request: gr.Request) -> list[Any]:
        opened = web.open_page(locale, saved, request)
        ui = opened[0]
        return [ui, *relabel(page, ui, settings)[:-1], gr.Radio(value=ui), *opened[1:]]

    def switch(ui: str, turns: list[Any], scope: list[str] | None, request: gr.Request) -> list[Any]:
        return [ui, *relabel(page, ui, settings), *web.switch_language(ui, turns, scope, request)]

    exports = {"fn": web.exports, "inputs": [state.turns, state.ui],
               "outputs": [chat.export_md, chat.export_docx, chat.export_csv, chat.export_table_md], **_PRIVATE}
    app.load(start, [state.locale, state.saved],
             [state.ui, *targets, chat.chatbot, state.turns, state.conversation, chat.past, chat.panel, *synced],
             js=LOCALE_JS, **_PRIVATE).then(**exports)
    page.language.input(switch, [page.language, state.turns, chat.scope],
                        [state.ui, *targets, chat.chatbot, chat.panel, *synced], **_PRIVATE).then(**exports)


def _api_endpoints(web: WebApp) -> None:
    """/ask, /retrieve, /documents (typed, JSON out) and /add_documents (real file uploads)."""
    gr.api(web.api_ask, api_name="ask")
    gr.api(web.api_retrieve, api_name="retrieve")
    gr.api(web.api_documents, api_name="documents")
    files = gr.File(file_count="multiple", visible=False)
    urls = gr.JSON(visible=False)
    results = gr.JSON(visible=False)
    trigger = gr.Button(visible=False)
    trigger.click(web.api_add_documents, [files, urls], results, api_name="add_documents",
                  api_description="Add files (gradio_client.handle_file) and web pages (urls=[...]); one result each.")

