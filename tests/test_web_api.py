"""The web app's named API endpoints, called the way users call them: through gradio_client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from conftest import ROOT, free_port, running_app, stop_process, wait_for_http
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from assistant.embedding import Embedder
from assistant.service import Assistant

QUESTION = "By what year will the model city be built?"


def client(url: str, auth: tuple[str, str] | None = None) -> Client:
    return Client(url, auth=auth, verbose=False, analytics_enabled=False, download_files=False)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[str, Assistant]]:
    with running_app(tmp_path_factory.mktemp("web-api") / "data", embedder) as served:
        yield served


def test_only_the_named_endpoints_are_offered(served: tuple[str, Assistant]) -> None:
    info = client(served[0]).view_api(print_info=False, return_format="dict")
    assert isinstance(info, dict)
    assert set(info["named_endpoints"]) == {"/ask", "/retrieve", "/add_documents", "/documents"}
    assert not info["unnamed_endpoints"]


def test_ask_returns_a_cited_answer_as_json(served: tuple[str, Assistant]) -> None:
    result = client(served[0]).predict(question=QUESTION, api_name="/ask")
    assert result["grounded"] is True
    assert result["citations"], result
    first = result["citations"][0]
    assert f"[{first['marker']}]" in result["answer"]
    assert "2035" in "".join(c["quote"] for c in result["citations"])
    # the quote is the document span the offsets name, inside the cited passage
    offset = first["start"] - first["passage_start"]
    assert first["text"][offset:offset + len(first["quote"])] == first["quote"]
    assert result["passages"] and all("citation" in p for p in result["passages"])


def test_ask_scoped_to_an_unknown_document_is_a_clear_error(served: tuple[str, Assistant]) -> None:
    with pytest.raises(AppError, match="unknown document"):
        client(served[0]).predict(question=QUESTION, documents=["no-such-doc"], api_name="/ask")


def test_retrieve_returns_passages_best_first(served: tuple[str, Assistant]) -> None:
    passages = client(served[0]).predict(query=QUESTION, k=3, api_name="/retrieve")
    assert 1 <= len(passages) <= 3
    assert any("2035" in p["text"] for p in passages)
    assert all({"doc_id", "title", "start", "end", "citation", "score"} <= set(p) for p in passages)


def test_add_documents_adds_then_recognises_then_replaces(served: tuple[str, Assistant], tmp_path: Path) -> None:
    url, assistant = served
    api = client(url)
    note = tmp_path / "ferry-note.md"
    note.write_text("# Ferry note\n\nThe Zhijiang ferry timetable adds a night crossing at 23:40 from 2031.\n",
                    encoding="utf-8")
    first = api.predict(files=[handle_file(str(note))], api_name="/add_documents")
    assert [(r["file"], r["status"]) for r in first] == [("ferry-note.md", "added")]
    assert first[0]["chunks"] >= 1
    doc_id = first[0]["doc_id"]
    try:
        again = api.predict(files=[handle_file(str(note))], api_name="/add_documents")
        assert [r["status"] for r in again] == ["unchanged"]
        stored = {d["doc_id"]: d for d in api.predict(api_name="/documents")}
        assert stored[doc_id]["source"] == "ferry-note.md"  # the upload's name, not a temporary path
        hits = api.predict(query="night ferry crossing", k=2, documents=[doc_id], api_name="/retrieve")
        assert hits and "23:40" in hits[0]["text"]

        note.write_text("# Ferry note\n\nThe Zhijiang ferry timetable adds a night crossing at 23:55 from 2032.\n",
                        encoding="utf-8")
        replaced = api.predict(files=[handle_file(str(note))], api_name="/add_documents")
        assert [r["status"] for r in replaced] == ["replaced"]
        assert doc_id in replaced[0]["reason"]
        doc_id = replaced[0]["doc_id"]
        assert [d.doc_id for d in assistant.documents() if d.source == "ferry-note.md"] == [doc_id]
    finally:
        assistant.remove(doc_id)


def test_add_documents_reports_unsupported_files_per_file(served: tuple[str, Assistant], tmp_path: Path) -> None:
    url, assistant = served
    before = [d.doc_id for d in assistant.documents()]
    bad = tmp_path / "table.xyz"
    bad.write_text("not a policy text", encoding="utf-8")
    results = client(url).predict(files=[handle_file(str(bad))], api_name="/add_documents")
    assert [(r["file"], r["status"]) for r in results] == [("table.xyz", "failed")]
    assert results[0]["reason"]
    assert [d.doc_id for d in assistant.documents()] == before


def test_add_documents_refuses_server_paths_that_were_not_uploaded(served: tuple[str, Assistant],
                                                                   tmp_path: Path) -> None:
    """A raw call naming a file on the server (not an upload) must not index it."""
    url, assistant = served
    secret = tmp_path / "secret.txt"
    secret.write_text("The server-side secret says the sky is green.", encoding="utf-8")
    before = [d.doc_id for d in assistant.documents()]
    payloads = [[{"path": str(secret), "meta": {"_type": "gradio.FileData"}}], [str(secret)]]
    for payload in payloads:
        posted = httpx.post(f"{url}gradio_api/call/add_documents", json={"data": [payload]}, timeout=30)
        assert posted.status_code == 200
        events = httpx.get(f"{url}gradio_api/call/add_documents/{posted.json()['event_id']}", timeout=60).text
        assert "event: error" in events
    assert [d.doc_id for d in assistant.documents()] == before


def test_auth_guards_the_api_and_only_admins_add(tmp_path: Path, embedder: Embedder) -> None:
    note = tmp_path / "admin-note.md"
    note.write_text("# Admin note\n\nThe Xiling bridge inspection happens every April.\n", encoding="utf-8")
    with running_app(tmp_path / "data", embedder, auth="alice:wonderland,bob:builder", admins="alice") as (url, _):
        with pytest.raises(Exception):  # noqa: B017 - refused at connection, the exact type is gradio_client's
            client(url).predict(query=QUESTION, api_name="/retrieve")
        bob = client(url, auth=("bob", "builder"))
        assert bob.predict(query=QUESTION, k=1, api_name="/retrieve")
        with pytest.raises(AppError, match="Only administrators"):
            bob.predict(files=[handle_file(str(note))], api_name="/add_documents")
        alice = client(url, auth=("alice", "wonderland"))
        assert [r["status"] for r in alice.predict(files=[handle_file(str(note))], api_name="/add_documents")] \
            == ["added"]


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a TCP socket listening on ``port`` (from /proc/net/tcp, tcp6)."""
    found: set[str] = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not os.path.exists(table):
            continue
        with open(table) as handle:
            for line in handle.readlines()[1:]:
                local, state = line.split()[1], line.split()[3]
                address, hex_port = local.split(":")
                if state == "0A" and int(hex_port, 16) == port:
                    raw = bytes.fromhex(address)
                    # /proc stores each 32-bit word in host (little-endian) order
                    raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
                    found.add(socket.inet_ntop(family, raw))
    return found


def test_ui_launcher_serves_the_corpus_on_loopback_only(tmp_path: Path) -> None:
    """`python ui.py` on a fresh data folder: indexes the shipped corpus and listens on 127.0.0.1 only."""
    port = free_port()
    env = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_COLLECTION": "uitest"}
    env.pop("ASSISTANT_HOST", None)
    log = open(tmp_path / "ui.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, str(ROOT / "ui.py"), "--port", str(port)], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=180)
        assert listening_addresses(port) == {"127.0.0.1"}
        passages = client(f"http://127.0.0.1:{port}/").predict(query=QUESTION, k=2, api_name="/retrieve")
        assert any("2035" in p["text"] for p in passages)
    finally:
        stop_process(proc)
        log.close()
    output = (tmp_path / "ui.log").read_text()
    assert f"http://127.0.0.1:{port}" in output
    assert "gradio.live" not in output  # no public share link unless --share
