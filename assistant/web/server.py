"""Running the app: :func:`serve` (``python ui.py`` / ``assistant serve``), sign-in and launch options.

Kept apart from the layout so building the page never starts a server, and so the launcher can
check ``--auth`` with :func:`parse_auth` before any model is loaded.
"""

from __future__ import annotations

import threading
from typing import Any

import gradio as gr

from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web.i18n import I18N
from assistant.web.layout import build_app, script, stylesheet
from assistant.web.uploads import MB


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


def launch_options(settings: Settings) -> dict[str, Any]:
    """Everything `launch` needs besides host/port/auth: styles, script, translations, upload cap, no SSR."""
    return {
        "css": stylesheet(),
        "js": script(),
        "i18n": I18N,
        "max_file_size": int(settings.max_upload_mb * MB),
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
