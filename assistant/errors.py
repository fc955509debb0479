"""Every error a user of the assistant can act on, in one place.

The CLI, the web app and Python callers catch these without importing the modules that raise
them, so the face of the application never reaches into the store, ingestion or the LLM code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


class StoreError(RuntimeError):
    """A store problem users can act on; the message says what to do."""


class EmbeddingMismatch(StoreError):
    """The index was built with another embedding model than the settings ask for."""


class ReadOnlyStore(StoreError):
    """A write asked of an assistant configured read-only."""


class StoreBusy(StoreError):
    """Another process kept the store's write lock past the wait allowed."""


class UnknownDocument(StoreError, KeyError):
    """A document id that is not in the store."""

    def __str__(self) -> str:
        return str(self.args[0])


class LoadError(Exception):
    """A file that cannot become a Document, with a reason meant for the person who supplied it."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")

    def __reduce__(self) -> tuple[Any, ...]:
        """Keep (path, reason) when pickled, e.g. across a process pool."""
        return (type(self), (self.path, self.reason))


class FetchError(LoadError):
    """A URL that cannot become a Document: refused (scheme, credentials, a private address, a limit) or failed
    to download; ``path`` is the URL and ``reason`` names why, so it reads like a file that cannot be loaded."""


class EmbeddingUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded on this machine."""


class EmptyQuery(ValueError):
    """A blank question: nothing to search for."""


class InvalidMetadata(ValueError):
    """A date, kind, language or field name that cannot be read (a filter or a correction); nothing was changed."""


class LLMConfigError(ValueError):
    """The LLM settings are incomplete (no model name, no API key)."""


class LLMFailure(RuntimeError):
    """The model raised, returned nothing usable, or ran past settings.llm_timeout."""


class EvalError(ValueError):
    """Bad benchmark input (missing file, malformed record); the message names the file and line."""


# What a user's command or click can end in; the CLI and the web app report these and carry on.
USER_ERRORS: tuple[type[Exception], ...] = (StoreError, EmptyQuery, EmbeddingUnavailable, LLMConfigError,
                                            InvalidMetadata)
