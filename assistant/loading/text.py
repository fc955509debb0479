"""The plain-text and markdown readers: decoded text kept as it is; markdown's YAML front matter becomes metadata.

Front matter is where a user's file becomes structured data that we parse, so the guards against
costly or hostile YAML (aliases, deep nesting, tags) and the conversion of its values to what a
store accepts live here with it.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

import yaml

from assistant.errors import LoadError
from assistant.loading.common import Limits, Parsed, human_size, require_text
from assistant.loading.decoding import decode_text

_FRONT_MATTER_MAX_CHARS = 64 * 1024
_FRONT_MATTER_MAX_DEPTH = 32
_FRONT_MATTER_OPEN = re.compile(r"---[ \t]*\n")
_FRONT_MATTER_CLOSE = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_LEADING_BLANK_LINES = re.compile(r"(?:[ \t]*\n)+")
_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def read_txt(data: bytes, label: str, limits: Limits) -> Parsed:
    """Plain text: decoded, line ends unified, stray NULs dropped, nothing else changed."""
    text, decoding = decode_text(data, label, ".txt")
    return Parsed(require_text(text, label), {"format": "txt", **decoding})


def read_markdown(data: bytes, label: str, limits: Limits) -> Parsed:
    """Markdown: YAML front matter becomes metadata, the body is the text (markup kept, for headings)."""
    text, decoding = decode_text(data, label, ".md")
    front, body = _split_front_matter(text, label)
    blank = _LEADING_BLANK_LINES.match(body)
    body = body[blank.end() :] if blank else body
    if not body.strip() and front:
        raise LoadError(label, "the file has front matter but no text")
    metadata = {**front, "format": "markdown", **decoding}
    return Parsed(require_text(body, label), metadata, title=_markdown_h1(body))


def _split_front_matter(text: str, label: str) -> tuple[dict[str, Any], str]:
    """(front matter as JSON-safe metadata, body). Without a closing fence, it is all body."""
    opening = _FRONT_MATTER_OPEN.match(text)
    if not opening:
        return {}, text
    closing = _FRONT_MATTER_CLOSE.search(text, opening.end())
    if not closing:
        return {}, text
    source = text[opening.end() : closing.start()]
    try:
        _check_yaml_shape(source, label)
        loaded = yaml.safe_load(source)  # safe: tags such as !!python/object are refused, never run
    except yaml.YAMLError as exc:
        raise LoadError(label, f"invalid YAML front matter: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise LoadError(label, "invalid YAML front matter: nested too deeply") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise LoadError(label, f"invalid YAML front matter: expected 'key: value' pairs, got a {type(loaded).__name__}")
    front = {str(key): _jsonable(value) for key, value in loaded.items()}
    return front, text[closing.end() :].removeprefix("\n")


def _check_yaml_shape(source: str, label: str) -> None:
    """Refuse front matter that would be costly to build: too long, nested too deep, or using aliases.

    PyYAML builds nested collections recursively (deep nesting is a RecursionError), and
    aliases let a few lines expand into gigabytes of metadata (a "billion laughs"). Front
    matter holds a title and a few tags, so none of this is needed; the events are read
    without building anything.
    """
    if len(source) > _FRONT_MATTER_MAX_CHARS:
        size = human_size(len(source.encode("utf-8")))
        reason = f"front matter is {size}, over the {_FRONT_MATTER_MAX_CHARS // 1024} KB limit; move the text below it"
        raise LoadError(label, reason)
    depth = 0
    for event in yaml.parse(source, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            reason = f"YAML aliases (*{event.anchor}) are not supported in front matter; write the value out"
            raise LoadError(label, reason)
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > _FRONT_MATTER_MAX_DEPTH:
                reason = f"front matter is nested more than {_FRONT_MATTER_MAX_DEPTH} levels deep; flatten it"
                raise LoadError(label, reason)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A one-line YAML error with its line number inside the front matter."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} (line {mark.line + 2} of the file)" if mark is not None else str(problem)


def _markdown_h1(body: str) -> str | None:
    """Text of the first level-1 ATX heading outside code fences."""
    in_fence = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        match = None if in_fence else _ATX_H1.match(line)
        if match and match.group(1).strip():
            return match.group(1).strip()
    return None


def _jsonable(value: Any) -> Any:
    """A metadata value that any store accepts: a scalar, or a list of scalars."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_scalar(item) for item in value]
    return _scalar(value)


def _scalar(value: Any) -> Any:
    """A JSON scalar for one value; dates become ISO strings, mappings JSON text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        return json.dumps(value, ensure_ascii=False, default=_json_default, sort_keys=isinstance(value, dict))
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    return str(value)
