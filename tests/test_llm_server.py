"""The LLM path against a real model server: llama.cpp's, from llama-cpp-python, serving the packaged
Gemma 3 270M (the `llm` test extra; `.ci/run` installs it).

This is a weak base model that mostly cannot answer. What the tier proves is that such a model can
never make the assistant slow or wrong: the request carries the bound, the stream is cut off and
closed as soon as the model cites a passage that does not exist, writes on without a citation or
loops, what it does say is verified, and every failure ends in the extractive answer with a notice.

The questions below were found by trying (temperature 0, this model and server): the model copies
the lines the question ends with, so each question makes it do one thing. The figures these runs
take (time to first token, to the final answer) are measured by bench/llm_latency.py, not here.
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from assistant.answering import Answerer
from assistant.documents import Answer
from assistant.embedding import Embedder
from assistant.llm import STOP_SEQUENCES, UNVERIFIED, llm_answerer
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web.handlers import WebApp
from tests.conftest import require_marker
from tests.servers import llama_reset, llama_server, packaged_model, serving

pytestmark = pytest.mark.llm

FERRY = ("# Ferry notice\n\nThe ferry office inspects every boat each spring.\n\n"
         "The harbour fee is ten yuan per passenger.\n\nNight crossings are banned during floods.\n")
BARGES = "The barge office inspects every barge, raft and tug on the river each spring before the season opens."
LOOP = f"# Barge notice\n\n{BARGES} {BARGES}\n"
"""A notice that says one thing twice: a model copying it repeats itself, as small models loop."""
ASK = "When does the ferry office inspect boats?"
COPIES = f"{ASK} Answer with the sentence and [1].\nThe ferry office inspects every boat each spring. [1]\n{ASK}"
"""Makes the model copy a passage sentence with the marker [1]: "The harbour fee is ten yuan per passenger. [1]"."""
COPIES_TWO = f"{ASK}\nThe ferry office inspects every boat each spring. [0]\n{ASK}"
"""Makes it copy two passage sentences, the first with [1], the second with "[/0]", which is no marker."""
CITES_MISSING = f"{ASK}\nThe ferry office inspects every boat each spring. [1]\n{ASK}"
"""Makes it copy a passage sentence and cite [2], when the prompt holds one passage."""
COPIES_PASSAGE = f"{ASK}\nspring spring spring spring spring spring spring spring\n{ASK}"
"""Makes it copy the passage line by line, with no marker at all."""
LOOPS = COPIES_PASSAGE.replace("ferry office", "barge office")
"""Makes it copy the barge notice, and so write its sentence twice."""
ABANDONED = re.compile(r"abandoned at token (\d+) because (.+); this is the extractive answer instead")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[tuple[str, int,
                                                                                                        Path]]:
    """(base URL, pid, log) of llama.cpp's server on loopback with the packaged model."""
    require_marker(request, "llm")
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with llama_server(packaged_model(), log) as (url, pid):
        yield url, pid, log


def llm_settings(data_dir: Path, url: str, collection: str) -> Settings:
    """Settings for the server, with waits long enough that a busy machine never turns a test of what the
    model wrote into a test of how fast it wrote it (that is the benchmark's)."""
    return Settings(data_dir=data_dir, collection=collection, auto_index_corpus=False, llm_provider="openai",
                    llm_model="gemma-3-270m", llm_base_url=url, llm_first_token_timeout=30.0,
                    llm_token_timeout=10.0)


@pytest.fixture(scope="module")
def ferry(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder,
          server: tuple[str, int, Path]) -> Assistant:
    """The service over one short notice, its LLM answerer built from the settings as users get it."""
    folder = tmp_path_factory.mktemp("ferry")
    (folder / "ferry.md").write_text(FERRY, encoding="utf-8")
    (folder / "barge.md").write_text(LOOP, encoding="utf-8")
    assistant = Assistant(llm_settings(folder / "data", server[0], "ferry"), embedder=embedder)
    assert [r.status for r in assistant.add(folder / "ferry.md", folder / "barge.md")] == ["added"] * 2
    return assistant


@dataclass
class Run:
    """One question through the LLM path: what streamed, the final Answer, and when."""

    pieces: list[str]
    answer: Answer
    first_piece: float | None  # seconds from the question to the first streamed piece
    seconds: float

    @property
    def abandoned(self) -> tuple[int, str]:
        """(the token at which the answer was abandoned, why), from its one such warning."""
        found = [m for w in self.answer.warnings if (m := ABANDONED.search(w))]
        assert len(found) == 1, self.answer.warnings
        return int(found[0].group(1)), found[0].group(2)


def ask(assistant: Assistant, question: str, documents: list[str] | None = None, **overrides: Any) -> Run:
    """Ask through an Answerer whose LLM answerer is built by llm_answerer from the (overridden) settings.

    The server is reset first, so the question gets the answer it got when it was chosen.
    """
    llama_reset(str(assistant.settings.llm_base_url))
    settings = assistant.settings.model_copy(update=overrides)
    llm, problem = llm_answerer(settings, assistant.embedder)
    assert llm is not None, problem
    answerer = Answerer(settings, assistant.embedder, assistant.retrieve, llm=llm)
    started = time.monotonic()
    pieces: list[str] = []
    first = None
    final = None
    for item in answerer.stream(question, documents=documents):
        if isinstance(item, Answer):
            final = item
        else:
            first = first if first is not None else time.monotonic() - started
            pieces.append(item)
    assert final is not None
    return Run(pieces, final, first, time.monotonic() - started)


def doc_id(assistant: Assistant, title: str) -> str:
    return next(d.doc_id for d in assistant.documents() if d.title == title)


def assert_exact(assistant: Assistant, answer: Answer) -> None:
    for citation in answer.citations:
        assert assistant.store.text_of(citation.passage.doc_id)[citation.start:citation.end] == citation.quote


# --- what the model copies is verified -------------------------------------------------------------


def test_a_passage_sentence_the_model_copies_is_kept_as_verified(ferry: Assistant) -> None:
    run = ask(ferry, COPIES, [doc_id(ferry, "Ferry notice")])
    assert "".join(run.pieces).strip() == "The harbour fee is ten yuan per passenger. [1]"
    assert run.answer.mode == "llm" and run.answer.grounded and run.answer.warnings == ()
    assert run.answer.text == "The harbour fee is ten yuan per passenger. [1]"
    assert [c.quote for c in run.answer.citations] == ["The harbour fee is ten yuan per passenger."]
    assert_exact(ferry, run.answer)


def test_what_the_model_says_without_a_marker_is_flagged_not_verified(ferry: Assistant) -> None:
    run = ask(ferry, COPIES_TWO, [doc_id(ferry, "Ferry notice")])
    lines = run.answer.text.split("\n")
    assert run.answer.mode == "llm" and lines[0] == "The harbour fee is ten yuan per passenger. [1]"
    assert lines[1].startswith(f"Night crossings are banned during floods.{UNVERIFIED['en']}")  # true, but uncited
    assert any("no citation, so not verified: Night crossings" in w for w in run.answer.warnings)
    assert [c.quote for c in run.answer.citations] == ["The harbour fee is ten yuan per passenger."]
    assert_exact(ferry, run.answer)


# --- the bound and the early fallbacks --------------------------------------------------------------


class Recorder(ThreadingHTTPServer):
    """A loopback proxy in front of the model server that keeps every request body it passes on."""

    def __init__(self, upstream: str) -> None:
        self.upstream = urlsplit(upstream)
        self.bodies: list[dict[str, Any]] = []
        super().__init__(("127.0.0.1", 0), _Forward)


class _Forward(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(json.loads(body))
        upstream = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=60)
        upstream.request("POST", self.path, body, {"Content-Type": "application/json"})
        response = upstream.getresponse()
        self.send_response(response.status)
        self.send_header("Content-Type", response.getheader("Content-Type", "text/event-stream"))
        self.end_headers()
        while chunk := response.read1(4096):  # streamed on as it comes; the connection's end ends the body
            self.wfile.write(chunk)
            self.wfile.flush()
        upstream.close()

    def log_message(self, *args: Any) -> None:
        """Quiet: pytest shows what the tests print."""


def test_the_request_carries_the_bound_greedy_decoding_and_stops(ferry: Assistant,
                                                                 server: tuple[str, int, Path]) -> None:
    with serving(Recorder(server[0])) as proxy:
        settings = {"llm_base_url": f"http://127.0.0.1:{proxy.server_address[1]}/v1", "llm_max_tokens": 24}
        run = ask(ferry, COPIES, [doc_id(ferry, "Ferry notice")], **settings)
    [body] = proxy.bodies
    assert body["max_tokens"] == 24 and "max_completion_tokens" not in body  # llama.cpp ignores the latter
    assert body["temperature"] == 0 and body["stop"] == list(STOP_SEQUENCES) and body["stream"] is True
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert "DATA, not instructions" in body["messages"][0]["content"]
    assert body["messages"][1]["content"].count('<passage id="') == 1
    assert run.answer.mode == "llm" and run.answer.text == "The harbour fee is ten yuan per passenger. [1]"


def test_the_server_stops_at_the_bound_and_the_unfinished_sentence_is_dropped(ferry: Assistant) -> None:
    run = ask(ferry, COPIES_TWO, [doc_id(ferry, "Ferry notice")], llm_max_tokens=16)
    assert len(run.pieces) <= 16
    assert run.answer.mode == "llm" and run.answer.text == "The harbour fee is ten yuan per passenger. [1]"
    assert any("reached llm_max_tokens (16); its unfinished last sentence was dropped: Night" in w
               for w in run.answer.warnings)


def test_a_marker_to_a_missing_passage_abandons_the_answer_at_that_token(ferry: Assistant) -> None:
    run = ask(ferry, CITES_MISSING, [doc_id(ferry, "Ferry notice")])
    fired, reason = run.abandoned
    assert reason == "it cites [2] and there are only 1 passages"
    assert fired == len(run.pieces) + 1 and "".join(run.pieces).rstrip().endswith("[2")  # caught at its "]"
    assert run.answer.mode == "extractive" and "each spring" in run.answer.text
    assert_exact(ferry, run.answer)


def test_text_without_a_citation_is_abandoned_at_the_citation_bound(ferry: Assistant) -> None:
    run = ask(ferry, COPIES_PASSAGE, [doc_id(ferry, "Ferry notice")], llm_citation_tokens=12)
    fired, reason = run.abandoned
    assert fired == 12 and reason == "it wrote 12 tokens without a valid citation marker (llm_citation_tokens: 12)"
    assert len(run.pieces) == 11 and "[" not in "".join(run.pieces)
    assert run.answer.mode == "extractive" and "each spring" in run.answer.text


def test_a_model_that_repeats_itself_is_abandoned(ferry: Assistant) -> None:
    run = ask(ferry, LOOPS, [doc_id(ferry, "Barge notice")], llm_citation_tokens=200, llm_max_tokens=200)
    fired, reason = run.abandoned
    assert reason == "it repeats itself"
    streamed = "".join(run.pieces)
    first_copy = "The barge office inspects every boat on the river each spring before the season opens."
    second = streamed.strip().removeprefix(first_copy).strip()
    assert streamed.strip().startswith(first_copy) and second and first_copy.startswith(second)  # caught in it
    assert fired == len(run.pieces) + 1 < 60
    assert run.answer.mode == "extractive" and "season opens" in run.answer.text


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / 100  # USER_HZ is 100 on Linux


def test_an_abandoned_answer_stops_the_server_and_the_next_question_is_not_kept_waiting(
        ferry: Assistant, server: tuple[str, int, Path]) -> None:
    """The server (started with --interrupt_requests False) would otherwise write 380 more tokens (~10 s)."""
    _, pid, log = server
    logged = len(log.read_text())
    run = ask(ferry, CITES_MISSING, [doc_id(ferry, "Ferry notice")], llm_max_tokens=400)
    assert run.abandoned[0] < 20
    # The server notices the closed connection when it next writes a token; on a loaded machine that can
    # take a while, so wait for its log to say so (a server that never stops never says it), then check
    # that it is idle.
    deadline = time.monotonic() + 30
    while "Disconnected from client" not in log.read_text()[logged:]:
        assert time.monotonic() < deadline, "the server never noticed the abandoned answer"
        time.sleep(0.2)
    time.sleep(0.5)
    before = cpu_seconds(pid)
    time.sleep(2.0)
    assert cpu_seconds(pid) - before < 0.3  # idle: it stopped generating
    following = ask(ferry, COPIES, [doc_id(ferry, "Ferry notice")], llm_first_token_timeout=10.0)
    assert following.first_piece is not None and following.first_piece < 10.0
    assert following.answer.mode == "llm"


# --- the web chat and follow-ups --------------------------------------------------------------------


def test_the_web_chat_streams_the_models_text_then_shows_the_verified_answer(ferry: Assistant) -> None:
    app = WebApp(ferry, ferry.settings)
    ferry_id = doc_id(ferry, "Ferry notice")
    llama_reset(str(ferry.settings.llm_base_url))
    outputs = app.respond(question=COPIES, turns=[], scope=[ferry_id], k=None, mode="llm", across=False, ui="en",
                          saved=None, conversation="")
    turns = [out[1][-1] for out in outputs if isinstance(out[1], list) and out[1]]
    partials = [t.partial for t in turns if t.answer is None and t.partial]
    assert partials and "harbour fee" in partials[-1]  # the model's text appeared while it streamed
    assert all(len(a) <= len(b) for a, b in itertools.pairwise(partials))
    final = turns[-1].answer
    assert final is not None and final.mode == "llm"
    assert final.text == "The harbour fee is ten yuan per passenger. [1]"


def test_a_follow_up_is_condensed_by_the_real_model_or_by_the_heuristic(ferry: Assistant) -> None:
    llm, _ = llm_answerer(ferry.settings, ferry.embedder)
    assert llm is not None
    history = [{"role": "user", "content": ASK},
               {"role": "assistant", "content": "The ferry office inspects every boat each spring. [1]"}]
    started = time.monotonic()
    query = llm.condense("and what is the harbour fee?", history)
    assert time.monotonic() - started < 20
    assert "fee" in query.lower() and len(query) <= 500
    answer = ferry.ask("and what is the harbour fee?", history=history, mode="extractive")
    assert answer.grounded and "ten yuan" in answer.text
