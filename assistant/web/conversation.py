"""The conversation a page holds in its ``gr.State``: one :class:`Turn` per question.

It lives apart because both sides need it and neither owns it: the renderer draws the turns,
the chat handler appends to them and sends the finished ones back to the assistant as history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistant.documents import Answer


@dataclass(frozen=True)
class Turn:
    """One question and what came back: the final Answer, the text streamed so far, or an error."""

    question: str
    answer: Answer | None = None
    partial: str = ""
    error: str = ""


def history_of(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The chat history ask/stream expect: alternating user/assistant messages of finished turns."""
    messages: list[dict[str, str]] = []
    for turn in turns:
        if turn.answer is None:
            continue
        messages.append({"role": "user", "content": turn.question})
        messages.append({"role": "assistant", "content": turn.answer.text})
    return messages
