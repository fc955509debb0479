"""Start the web chat: `python ui.py [--host H] [--port P] [--auth user:pass] [--read-only] [--share]`.

A thin shell: settings come from the environment / ASSISTANT_CONFIG, the app from assistant.web.
It listens on 127.0.0.1 unless told otherwise and is never shared publicly without --share.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Web chat over your policy documents.")
    parser.add_argument("--host", help="interface to listen on (default: settings.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: settings.port, 7860)")
    parser.add_argument("--auth", help="require sign-in: 'user:password[,user:password...]'")
    parser.add_argument("--config", help="TOML settings file (default: $ASSISTANT_CONFIG)")
    parser.add_argument("--read-only", action="store_true",
                        help="serve the stored documents without allowing anyone to add, delete or re-index")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    args = parser.parse_args(argv)

    from assistant.errors import USER_ERRORS
    from assistant.service import Assistant
    from assistant.settings import Settings
    from assistant.web import parse_auth, serve

    try:
        parse_auth(args.auth)  # a malformed --auth fails before any model is loaded
        overrides = {"read_only": True} if args.read_only else {}  # the flag can only tighten the settings
        assistant = Assistant(Settings.load(args.config, **overrides))
        serve(assistant, host=args.host, port=args.port, auth=args.auth, share=args.share)
    except (*USER_ERRORS, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
