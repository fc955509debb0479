"""The web app's named API endpoints, called the way users call them: through gradio_client."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, remove_by_source, running_app
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from assistant.embedding import Embedder
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.web import READ_ONLY_NOTE, safe_source_name
from tests.servers import free_port, stop_process, wait_for_http

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
        posted = httpx.post(f"{url}gradio_api/call/add_documents", json={"data": [payload, None]}, timeout=30)
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


def test_ui_launcher_serves_the_corpus_on_loopback_only(tmp_path: Path, embedder: Embedder) -> None:
    """`python ui.py` serves the store's corpus and listens on 127.0.0.1 only.

    The folder holds the corpus already (indexed here on the session's model): that a first start
    indexes it is test_cli.py's first-search test, through the same ``ensure_corpus``.
    """
    port = free_port()
    settings = Settings(data_dir=tmp_path / "data", collection="uitest")
    assert Assistant(settings, embedder=embedder).ensure_corpus(), "the shipped corpus was not indexed"
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


# --------------------------------------------------------------------------- read-only mode


@contextmanager
def read_only_app(data_dir: Path, embedder: Embedder) -> Iterator[tuple[str, Assistant]]:
    """A read-only app over a store that already holds the shipped corpus.

    A writable assistant fills the store first, because a read-only one never indexes anything;
    the served assistant then opens the same folder and collection with ``read_only=True``.
    """
    collection = f"ro{uuid.uuid4().hex[:10]}"
    writer = Assistant(Settings(data_dir=data_dir, collection=collection, auto_index_corpus=True), embedder=embedder)
    assert writer.ensure_corpus(), "the shipped corpus was not indexed"
    with running_app(data_dir, embedder, collection=collection, read_only=True) as served:
        yield served


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[tuple[str, Assistant]]:
    with read_only_app(tmp_path_factory.mktemp("web-ro") / "data", embedder) as served:
        yield served


def snapshot(assistant: Assistant) -> tuple[list[tuple[str, str]], int]:
    """What a write would change: each document's id and added-at stamp, and the chunk count."""
    return [(d.doc_id, d.added_at) for d in assistant.store.documents()], assistant.store.count_chunks()


def upload_raw(url: str, named: dict[str, bytes]) -> list[str]:
    """Upload files under exactly these names (as a crafted request would); the server paths Gradio chose."""
    files = [("files", (name, data, "text/plain")) for name, data in named.items()]
    response = httpx.post(f"{url}gradio_api/upload", files=files, timeout=60)
    response.raise_for_status()
    return list(response.json())


def file_data(path: str, name: str | None = None) -> dict[str, Any]:
    return {"path": path, "orig_name": name or Path(path).name, "meta": {"_type": "gradio.FileData"}}


def call_add_documents(url: str, payload: list[Any]) -> tuple[str, Any]:
    """POST /add_documents the raw way; ("complete", results) or ("error", message)."""
    posted = httpx.post(f"{url}gradio_api/call/add_documents", json={"data": [payload, None]}, timeout=30)
    assert posted.status_code == 200, posted.text
    events = httpx.get(f"{url}gradio_api/call/add_documents/{posted.json()['event_id']}", timeout=120).text
    kind = data = None
    for line in events.splitlines():
        if line.startswith("event: "):
            kind = line.removeprefix("event: ")
        elif line.startswith("data: ") and kind in ("complete", "error"):
            data = json.loads(line.removeprefix("data: "))
            return kind, data[0] if kind == "complete" and isinstance(data, list) else data
    raise AssertionError(f"no result in {events!r}")


def call_ui_event(url: str, elem_id: str, event: str, data: list[Any], session: str,
                  event_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fire a page event the way the browser does (queue/join by fn_index), skipping the page entirely.

    The UI handlers are private to API clients but not to the queue, so this is what a crafted
    request can reach; the final ``process_completed`` message is returned.
    """
    config = httpx.get(f"{url}config", timeout=30).json()
    component = next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id)
    fn_index = next(d["id"] for d in config["dependencies"] if [component, event] in d["targets"])
    body = {"data": data, "fn_index": fn_index, "trigger_id": component, "session_hash": session,
            "event_data": event_data}
    joined = httpx.post(f"{url}gradio_api/queue/join", json=body, timeout=30)
    assert joined.status_code == 200, joined.text
    params = {"session_hash": session}
    with httpx.stream("GET", f"{url}gradio_api/queue/data", params=params, timeout=120) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                message = json.loads(line.removeprefix("data: "))
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError(f"{elem_id}.{event} never completed")


def test_read_only_refuses_add_documents_and_changes_nothing(read_only: tuple[str, Assistant],
                                                             tmp_path: Path) -> None:
    url, assistant = read_only
    before = snapshot(assistant)
    assert before[0], "the read-only store should already hold the corpus"
    note = tmp_path / "ro-note.md"
    note.write_text("# Read-only note\n\nThe Xiling ferry adds a dawn crossing at 05:10 from 2033.\n",
                    encoding="utf-8")
    with pytest.raises(AppError, match="read-only"):
        client(url).predict(files=[handle_file(str(note))], api_name="/add_documents")
    assert snapshot(assistant) == before
    assert len(client(url).predict(api_name="/documents")) == len(before[0])


def test_read_only_refuses_crafted_requests_to_the_page_handlers(read_only: tuple[str, Assistant]) -> None:
    """Upload, delete and re-index fail server-side even when called directly, without the page."""
    url, assistant = read_only
    before = snapshot(assistant)
    victim = before[0][0][0]
    [uploaded] = upload_raw(url, {"crafted.md": b"# Crafted\n\nThe crafted upload says the toll is 9 yuan.\n"})
    session = uuid.uuid4().hex
    outcomes = {
        "upload": call_ui_event(url, "upload", "upload", [[file_data(uploaded)], "en"], session),
        "ask delete": call_ui_event(url, "documents-table", "delete_doc", ["en"], session, {"doc_id": victim}),
        "confirm delete": call_ui_event(url, "confirm-delete", "click", [victim, "en"], session),
        "re-index": call_ui_event(url, "reindex", "click", ["en"], session),
    }
    for what, message in outcomes.items():
        assert message["success"] is False, f"{what} was not refused: {message}"
        assert READ_ONLY_NOTE in json.dumps(message, ensure_ascii=False), f"{what}: {message}"
    assert snapshot(assistant) == before


def test_read_only_still_answers_with_citations(read_only: tuple[str, Assistant]) -> None:
    result = client(read_only[0]).predict(question=QUESTION, api_name="/ask")
    assert result["grounded"] is True and result["citations"]
    assert "2035" in "".join(c["quote"] for c in result["citations"])


def test_ui_read_only_flag_serves_a_read_only_assistant(monkeypatch: pytest.MonkeyPatch) -> None:
    """`python ui.py --read-only` must reach the settings the assistant is built with."""
    import importlib.util

    import assistant.service
    import assistant.web

    spec = importlib.util.spec_from_file_location("ui_launcher", ROOT / "ui.py")
    assert spec and spec.loader
    ui = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ui)
    built: list[Settings] = []

    class Recorder:
        def __init__(self, settings: Settings) -> None:
            built.append(settings)

    monkeypatch.setattr(assistant.service, "Assistant", Recorder)
    monkeypatch.setattr(assistant.web, "serve", lambda *args, **kwargs: None)
    monkeypatch.delenv("ASSISTANT_READ_ONLY", raising=False)
    assert ui.main(["--read-only"]) == 0
    assert ui.main([]) == 0
    assert [s.read_only for s in built] == [True, False]


# --------------------------------------------------------------------------- upload file names


HOSTILE_NAMES = {  # name sent by the client → the plain name the store must record
    "../../{t}-up.txt": "{t}-up.txt",
    "/tmp/{t}-abs.txt": "{t}-abs.txt",
    "..\\..\\{t}-win.txt": "....{t}-win.txt",
    "{t} a;rm -rf ~ $(id) `x`.txt": "{t} a;rm -rf ~ (id) x.txt",
    "{t} pipe|tee.txt": "{t} pipetee.txt",
    "{t} amp&bg.txt": "{t} amp&bg.txt",
}


def test_safe_source_name_keeps_only_a_plain_file_name() -> None:
    """Names no filesystem here can hold (a '/' inside a name) are checked on the function itself."""
    cases = {
        "../../etc/passwd": "passwd",
        "/tmp/evil.txt": "evil.txt",
        "..\\..\\win.txt": "win.txt",
        "C:\\Users\\x\\report.md": "report.md",
        "a;rm -rf ~ $(id) `x`.txt": "a;rm -rf ~ (id) x.txt",
        "name|with|pipes.md": "namewithpipes.md",
        "bell\x07and\x1b[31mred.txt": "belland[31mred.txt",
        "..": "upload",
        "../": "upload",
        " ... ": "upload",
        "x" * 300 + ".pdf": "x" * 196 + ".pdf",
    }
    for raw, expected in cases.items():
        assert safe_source_name(raw) == expected, raw
        assert safe_source_name(expected) == expected  # already safe names are kept as they are


def test_add_documents_records_plain_names_for_hostile_upload_names(served: tuple[str, Assistant],
                                                                    tmp_path: Path) -> None:
    """Crafted multipart names with directories and shell characters: stored under plain names, nothing escapes."""
    url, assistant = served
    token = f"n{uuid.uuid4().hex[:8]}"
    top_before = {p.name for p in Path(tempfile.gettempdir()).iterdir()}
    named = {name.format(t=token): f"# Name test {i}\n\nThe {token} notice number {i} sets the fee at {i} yuan.\n"
             .encode() for i, name in enumerate(HOSTILE_NAMES)}
    paths = upload_raw(url, named)
    cache = Path(paths[0]).parent.parent
    assert all(Path(p).parent.parent == cache for p in paths), paths  # each in <cache>/<hash>/<name>
    kind, results = call_add_documents(url, [file_data(p, n) for p, n in zip(paths, named, strict=True)])
    assert kind == "complete", results
    try:
        expected = sorted(v.format(t=token) for v in HOSTILE_NAMES.values())
        assert sorted(r["file"] for r in results) == expected
        assert {r["status"] for r in results} == {"added"}
        sources = sorted(d.source for d in assistant.documents() if token in d.source)
        assert sources == expected
        assert all("/" not in s and "\\" not in s and s == safe_source_name(s) for s in sources)
    finally:
        remove_by_source(assistant, token)
    assert_nothing_escaped(token, top_before, cache, assistant.settings.data_dir, tmp_path)


def test_add_documents_keeps_shell_named_files_from_the_client(served: tuple[str, Assistant], tmp_path: Path) -> None:
    """gradio_client uploading real files whose names hold shell and Windows path characters."""
    url, assistant = served
    token = f"c{uuid.uuid4().hex[:8]}"
    folder = tmp_path / "client-files"
    folder.mkdir()
    top_before = {p.name for p in Path(tempfile.gettempdir()).iterdir()}
    files, expected = [], []
    for i, name in enumerate(n for n in HOSTILE_NAMES if "/" not in n):  # the ones this filesystem can hold
        expected.append(HOSTILE_NAMES[name].format(t=token))
        path = folder / name.format(t=token)
        path.write_text(f"# Client name test {i}\n\nThe {token} client notice {i} sets the fee at {i + 10} yuan.\n",
                        encoding="utf-8")
        files.append(path)
    results = client(url).predict(files=[handle_file(str(f)) for f in files], api_name="/add_documents")
    try:
        assert [r["status"] for r in results] == ["added"] * len(files)
        sources = sorted(d.source for d in assistant.documents() if token in d.source)
        assert sources == sorted(r["file"] for r in results)
        assert sources == sorted(expected)
        assert all("/" not in s and "\\" not in s and s == safe_source_name(s) for s in sources)
    finally:
        remove_by_source(assistant, token)
    cache = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()
    assert_nothing_escaped(token, top_before, cache, assistant.settings.data_dir, tmp_path, allowed=folder)


def assert_nothing_escaped(token: str, top_before: set[str], cache: Path, data_dir: Path, tmp_path: Path,
                           allowed: Path | None = None) -> None:
    """No file named after this test's uploads exists outside Gradio's upload cache (and the client's folder).

    Looks where a name with ``../`` or an absolute path would land: the system temp folder, the
    pytest temp tree around this test (which holds the data folder) and the data folder itself.
    """
    tmp = Path(tempfile.gettempdir())
    new_top = {p.name for p in tmp.iterdir()} - top_before
    assert not [n for n in new_top if token in n], new_top
    for root in {tmp_path.parent, data_dir}:
        stray = [p for p in root.rglob(f"*{token}*") if not (allowed and p.is_relative_to(allowed))]
        assert not stray, stray
    # inside the cache, uploads sit exactly one folder down, under their sanitised names
    for found in cache.rglob(f"*{token}*"):
        assert found.parent.parent == cache, found
        assert found.name == safe_source_name(found.name), found


def test_add_documents_refuses_a_folder_in_the_upload_cache(served: tuple[str, Assistant]) -> None:
    """Naming Gradio's upload folder itself (or one upload's folder) must not index everything in it."""
    url, assistant = served
    before = snapshot(assistant)
    [uploaded] = upload_raw(url, {"folder-probe.md": b"# Folder probe\n\nThe probe says the toll is 3 yuan.\n"})
    for folder in (Path(uploaded).parent, Path(uploaded).parent.parent):
        kind, results = call_add_documents(url, [file_data(str(folder), "folder-probe.md")])
        if kind == "complete":
            assert [r["status"] for r in results] == ["failed"], results
            assert "not an uploaded file" in results[0]["reason"]
    assert snapshot(assistant) == before
