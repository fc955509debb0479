"""The web chat: a Gradio app over the Assistant API (chat with cited sources, documents, settings).

Split by concern, each module importing only those before it:

- :mod:`~assistant.web.i18n`: every string of the app in English and Chinese.
- :mod:`~assistant.web.conversation`: the turns a page keeps, their history, and their copy in the browser.
- :mod:`~assistant.web.render`: pure functions from answers, passages and documents to escaped HTML.
- :mod:`~assistant.web.export`: a conversation as Markdown or DOCX, citations as footnotes.
- :mod:`~assistant.web.uploads`: the plain name an upload is stored under, and which uploads may be read.
- :mod:`~assistant.web.handlers`: :class:`WebApp`, whose methods the page's events call; every write is
  checked there, on the server. It talks only to :class:`assistant.service.Assistant`.
- :mod:`~assistant.web.layout`: the ``gr.Blocks`` page, its JS and CSS, and the wiring of its events.
- :mod:`~assistant.web.server`: :func:`serve` (``python ui.py`` / ``assistant serve``) and sign-in.

This package re-exports the names the launchers, benchmarks and tests use.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home; set before gradio reads it

from assistant.web.conversation import Turn, history_of
from assistant.web.handlers import READ_ONLY_NOTE, WebApp, parse_admins
from assistant.web.render import highlight_span, highlight_spans, render_answer, render_documents
from assistant.web.server import parse_auth, serve
from assistant.web.uploads import safe_source_name

__all__ = [
    "READ_ONLY_NOTE",
    "Turn",
    "WebApp",
    "highlight_span",
    "highlight_spans",
    "history_of",
    "parse_admins",
    "parse_auth",
    "render_answer",
    "render_documents",
    "safe_source_name",
    "serve",
]
