"""The conversation a page holds: one :class:`Turn` per question, and its JSON form for the browser.

It lives apart because several sides need it and none owns it: the renderer draws the turns, the
chat handlers append to them and send the finished ones back to the assistant as history, and the
browser keeps them (``gr.BrowserState``) so a conversation survives a reload and can be reopened.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from assistant.documents import Answer, Citation, Passage

STOPPED = "stopped"  # Turn.error of a turn whose answer the user stopped
SAVED_CONVERSATIONS = 20  # conversations kept in the browser (each holds its passages; localStorage is ~5 MB)
TITLE_CHARS = 60


@dataclass(frozen=True)
class Turn:
    """One question and what came back: the final Answer, the text streamed so far, or an error."""

    question: str
    answer: Answer | None = None
    partial: str = ""
    error: str = ""

    @property
    def finished(self) -> bool:
        return self.answer is not None or bool(self.error)


def history_of(turns: Sequence[Turn]) -> list[dict[str, str]]:
    """The chat history ask/stream expect: alternating user/assistant messages of finished turns."""
    messages: list[dict[str, str]] = []
    for turn in turns:
        if turn.answer is None:
            continue
        messages.append({"role": "user", "content": turn.question})
        messages.append({"role": "assistant", "content": turn.answer.text})
    return messages


def turn_index(message_index: int) -> int:
    """The turn of a chat message: every turn is exactly two messages, the question and its reply."""
    return message_index // 2


# --- the browser's copy ------------------------------------------------------------------


def _passage(data: dict[str, Any]) -> Passage:
    fields = {k: data[k] for k in Passage.__dataclass_fields__ if k in data}
    return Passage(**fields)


def answer_to_json(answer: Answer) -> dict[str, Any]:
    """Everything needed to show the answer again and open its sources, as plain JSON."""
    data = asdict(answer)
    data["citations"] = [{**asdict(c), "passage": asdict(c.passage)} for c in answer.citations]
    return data


def answer_from_json(data: dict[str, Any]) -> Answer:
    citations = tuple(Citation(marker=int(c["marker"]), passage=_passage(c["passage"]), quote=str(c["quote"]),
                               start=int(c["start"]), end=int(c["end"])) for c in data.get("citations", ()))
    return Answer(text=str(data["text"]), citations=citations,
                  passages=tuple(_passage(p) for p in data.get("passages", ())), grounded=bool(data["grounded"]),
                  query=str(data.get("query", "")), mode=str(data.get("mode", "extractive")),
                  language=str(data.get("language", "en")), warnings=tuple(data.get("warnings", ())))


def turns_to_json(turns: Sequence[Turn]) -> list[dict[str, Any]]:
    """Finished turns only: a reload mid-answer keeps the question, marked as interrupted."""
    return [{"question": t.question, "answer": answer_to_json(t.answer) if t.answer else None,
             "error": t.error or ("" if t.finished else STOPPED)} for t in turns]


def turns_from_json(data: Sequence[dict[str, Any]]) -> list[Turn]:
    """Turns read back from the browser; a malformed entry is dropped rather than breaking the page."""
    turns: list[Turn] = []
    for item in data or ():
        try:
            answer = answer_from_json(item["answer"]) if item.get("answer") else None
            turns.append(Turn(str(item["question"]), answer=answer, error=str(item.get("error") or "")))
        except (KeyError, TypeError, ValueError):
            continue
    return turns


@dataclass
class Saved:
    """The conversations a browser keeps: the one open, and up to SAVED_CONVERSATIONS in all."""

    current: str = ""
    conversations: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, data: Any) -> Saved:
        if not isinstance(data, dict):
            return cls()
        conversations = [c for c in data.get("conversations") or [] if isinstance(c, dict) and c.get("id")]
        return cls(str(data.get("current") or ""), conversations)

    def to_json(self) -> dict[str, Any]:
        return {"current": self.current, "conversations": self.conversations}

    def find(self, conversation_id: str) -> dict[str, Any] | None:
        return next((c for c in self.conversations if c["id"] == conversation_id), None)

    def turns(self, conversation_id: str) -> list[Turn]:
        found = self.find(conversation_id)
        return turns_from_json(found.get("turns", [])) if found else []

    def put(self, conversation_id: str, turns: Sequence[Turn]) -> Saved:
        """Record the conversation's turns (newest conversation first); an empty one is not kept."""
        others = [c for c in self.conversations if c["id"] != conversation_id]
        if not turns:
            return Saved(conversation_id, others)
        entry = {"id": conversation_id, "title": title_of(turns), "updated": time.strftime("%Y-%m-%d %H:%M"),
                 "turns": turns_to_json(turns)}
        return Saved(conversation_id, [entry, *others][:SAVED_CONVERSATIONS])

    def remove(self, conversation_id: str) -> Saved:
        return Saved("" if self.current == conversation_id else self.current,
                     [c for c in self.conversations if c["id"] != conversation_id])


def new_conversation_id() -> str:
    return uuid.uuid4().hex[:12]


def title_of(turns: Sequence[Turn]) -> str:
    flat = " ".join(turns[0].question.split()) if turns else ""
    return flat if len(flat) <= TITLE_CHARS else flat[:TITLE_CHARS - 1] + "…"
