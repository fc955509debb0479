"""What an upload may be: the plain name it is recorded under, and whether it may be read at all.

Kept apart from the handlers because these rules stand on their own (the upload size cap is also
Gradio's launch limit) and are tested without a running app.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

MB = 1024 * 1024
_SEPARATORS = re.compile(r"[\\/]")
# Characters no file name should carry into the store: control characters (terminal escapes when the
# CLI prints a source), Windows-reserved ones (drive colons, wildcards) and the shell-expanding `$!{}.
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*`$!{}]')
_MAX_NAME_CHARS = 200


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


def upload_problem(path: Path, limit_mb: float) -> str:
    """Why an uploaded path cannot be added ("" when it can): not a plain file, or over the size cap."""
    if path.is_symlink() or not path.is_file():
        return "not an uploaded file"
    size = path.stat().st_size
    if size > limit_mb * MB:
        return f"{size / MB:.1f} MB is over the {limit_mb:g} MB upload limit"
    return ""
