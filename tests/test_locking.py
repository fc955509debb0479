"""One writer at a time, across processes: the file lock, the server lease, and writers racing for real."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from assistant.errors import StoreBusy
from assistant.locking import LocalWriteLock, ServerWriteLock
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import make_client
from tests.conftest import ROOT, TOPICS, child_env, hold_in_other_process, note, searchable_in_a_new_process


@pytest.fixture
def embedded(tmp_path, embedder):
    """A fresh embedded store (the file lock is what these tests are about)."""
    def build(**overrides: object) -> Assistant:
        settings = Settings(data_dir=tmp_path / "data", collection="locking", auto_index_corpus=False, **overrides)
        return Assistant(settings, embedder=embedder)
    return build


# --- the embedded store's file lock ------------------------------------------------------
def test_a_busy_store_refuses_a_write_naming_the_holder_and_changes_nothing(embedded, tmp_path):
    assistant = embedded(write_lock_timeout=1)
    assistant.add(note(tmp_path, "first", "wetlands"))
    before = (assistant.store.count_chunks(), assistant.store.revision())
    holder = hold_in_other_process(assistant.settings.data_dir, 8)
    try:
        started = time.monotonic()
        [result] = assistant.add(note(tmp_path, "second", "sluices"))
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.status == "failed"
    assert "the store is busy" in result.reason and f"process {holder.pid}" in result.reason
    assert "add documents" in result.reason
    assert 0.9 <= waited < 6
    assert [d.title for d in assistant.documents()] == ["Notice on wetlands"]
    assert (assistant.store.count_chunks(), assistant.store.revision()) == before


def test_a_waiting_writer_is_told_who_writes_and_goes_ahead_when_the_lock_is_free(embedded, tmp_path):
    assistant = embedded(write_lock_timeout=60)
    holder = hold_in_other_process(assistant.settings.data_dir, 2)
    told: list[str] = []
    try:
        [result] = assistant.add(note(tmp_path, "third", "fisheries"), waiting=told.append)
    finally:
        holder.wait()
    assert result.status == "added"
    assert len(told) == 1 and f"process {holder.pid}" in told[0] and "add documents" in told[0]


def test_a_lock_held_by_a_killed_process_is_free_at_once(tmp_path):
    holder = hold_in_other_process(tmp_path, 60)
    holder.kill()
    holder.wait()
    started = time.monotonic()
    with LocalWriteLock(tmp_path).hold("re-index", timeout=0):
        assert (tmp_path / "write.lock.json").exists()
    assert time.monotonic() - started < 1
    assert not (tmp_path / "write.lock.json").exists()


def test_nested_writes_in_one_process_do_not_wait_on_themselves(tmp_path):
    lock = LocalWriteLock(tmp_path)
    with lock.hold("re-index", timeout=0), lock.hold("add documents", timeout=0):
        assert (tmp_path / "write.lock.json").exists()
    with LocalWriteLock(tmp_path).hold("add documents", timeout=0):  # released by the outer exit
        pass


# --- the server lease ---------------------------------------------------------------------
@pytest.fixture
def server_client(chroma_server):
    host, port = chroma_server
    return make_client(Settings(chroma_host=host, chroma_port=port))


def test_server_lease_admits_one_writer_and_names_it(server_client):
    name = f"lease{time.time_ns()}"
    first, second = ServerWriteLock(server_client, name), ServerWriteLock(server_client, name)
    told: list[str] = []
    busy = pytest.raises(StoreBusy, match=rf"process {os.getpid()} .*re-index")
    with first.hold("re-index", timeout=0), busy, second.hold("add documents", timeout=0.5, waiting=told.append):
        pass
    assert told and "re-index" in told[0]
    with second.hold("add documents", timeout=0):  # released: free at once
        pass


def test_server_lease_of_a_dead_writer_is_taken_over_once_unrenewed_for_a_whole_lease(server_client):
    """Judged by the waiter's own clock: a lease stamped two minutes ago (another machine's clock) is not stale yet."""
    name = f"lease{time.time_ns()}"
    server_client.create_collection(name, metadata={"pid": "999999", "action": "add documents", "token": "dead",
                                                    "renewed": time.time() - 120}, embedding_function=None)
    started = time.monotonic()
    with ServerWriteLock(server_client, name, lease_seconds=1.5).hold("add documents", timeout=10):
        assert server_client.get_collection(name).metadata["token"] != "dead"
    assert 1.5 <= time.monotonic() - started < 5
    assert not [c.name for c in server_client.list_collections() if c.name.startswith(name)]  # nothing left


def test_a_writer_whose_lease_was_taken_over_stops_before_committing(server_client):
    name = f"lease{time.time_ns()}"
    first = ServerWriteLock(server_client, name)
    with first.hold("add documents", timeout=0):
        first.ensure_held()
        server_client.delete_collection(name)  # as a waiter does once it judged the lease dead
        with ServerWriteLock(server_client, name).hold("re-index", timeout=0):
            with pytest.raises(StoreBusy, match=r"lost its write lease .*re-index"):
                first.ensure_held()
            assert server_client.get_collection(name).metadata["action"] == "re-index"  # the live lease survives


@pytest.mark.parametrize("renewing", [True, False], ids=["renewing", "renewal-off"])
def test_server_lease_is_renewed_while_a_long_write_runs(server_client, monkeypatch, renewing):
    """The contender waits 2.5 leases: long enough to take over a lease nobody renews.

    With renewal switched off (the second case) the same contender does take the lease over, so the
    first case's refusal can only come from the renewals.
    """
    import assistant.locking as locking

    monkeypatch.setattr(locking, "_RENEW_EVERY", 0.2)
    if not renewing:
        monkeypatch.setattr(ServerWriteLock, "_renew", lambda self, token, stop: stop.wait())
    name = f"lease{time.time_ns()}"
    with ServerWriteLock(server_client, name, lease_seconds=1).hold("re-index", timeout=0):
        time.sleep(1.5)  # longer than the lease: only renewal keeps it
        contender = ServerWriteLock(server_client, name, lease_seconds=1).hold("add documents", timeout=2.5)
        if renewing:
            with pytest.raises(StoreBusy), contender:
                pass
        else:
            with contender:
                assert server_client.get_collection(name).metadata["action"] == "add documents"


# --- two processes writing at once ----------------------------------------------------------
WRITER = textwrap.dedent("""
    import sys, time
    from assistant.service import Assistant
    folder, removals = sys.argv[1], sys.argv[2:]
    assistant = Assistant()
    started = time.time()
    files = sorted(__import__("pathlib").Path(folder).glob("*.txt"))
    for i, path in enumerate(files):
        [result] = assistant.add(path)
        assert result.status == "added", result
        if i < len(removals):
            assistant.remove(removals[i])
    print(started, time.time(), flush=True)
""")


def test_two_processes_adding_and_removing_at_once_lose_and_duplicate_nothing(make_assistant, tmp_path):
    """Each process adds its own notes and removes some of the ones added first; this one watches."""
    watcher = make_assistant()
    seed = tmp_path / "seed"
    seed.mkdir()
    doomed = [r.doc_id for r in watcher.add(*[note(seed, f"old{i}", TOPICS[16 + i]) for i in range(4)])]
    assert watcher.retrieve(f"{TOPICS[16]} office", k=1)[0].doc_id == doomed[0]  # this process's index is loaded
    folders = []
    for side in ("a", "b"):
        folder = tmp_path / side
        folder.mkdir()
        for i in range(8):
            note(folder, f"{side}{i}", TOPICS[i + (8 if side == "b" else 0)], paragraphs=4)
        folders.append(folder)
    env = child_env(watcher.settings)
    children = [subprocess.Popen([sys.executable, "-c", WRITER, str(folder), *removals], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for folder, removals in zip(folders, (doomed[:2], doomed[2:]), strict=True)]
    spans = []
    for child in children:
        out, err = child.communicate(timeout=600)
        assert child.returncode == 0, err[-3000:]
        spans.append([float(x) for x in out.split()])
    assert max(s for s, _ in spans) < min(e for _, e in spans), "the two writers never ran at the same time"

    docs = watcher.documents()
    assert sorted(d.title for d in docs) == sorted(f"Notice on {topic}" for topic in TOPICS[:16])
    stored = watcher.store.get_chunks()
    assert len(stored) == len({p.chunk_id for p in stored}) == sum(d.chunks for d in docs)
    assert {p.doc_id for p in stored} == {d.doc_id for d in docs}
    # every stored chunk is searchable in a fresh process's vector index, and in this older one
    assert searchable_in_a_new_process(watcher.settings) == len(stored)
    for topic in (TOPICS[7], TOPICS[15], TOPICS[0]):
        assert watcher.retrieve(f"{topic} office permits", k=1)[0].title == f"Notice on {topic}"
        assert watcher.retriever.search(f"{topic} office permits", k=1, mode="dense")[0].passage.title \
            == f"Notice on {topic}"
    lexical = watcher.retriever.lexical.current()
    assert sorted(lexical.live_ids) == sorted(p.chunk_id for p in stored)


def test_the_cli_says_whom_it_waits_for_and_fails_clearly_when_the_store_stays_busy(embedded, tmp_path):
    assistant = embedded()
    holder = hold_in_other_process(assistant.settings.data_dir, 30)
    try:
        env = {**child_env(assistant.settings), "ASSISTANT_WRITE_LOCK_TIMEOUT": "1"}
        done = subprocess.run([sys.executable, "-m", "assistant.cli", "add", str(note(tmp_path, "x", TOPICS[2]))],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    finally:
        holder.kill()
        holder.wait()
    assert done.returncode != 0
    assert f"waiting for process {holder.pid}" in done.stderr
    assert done.stdout.startswith("failed") and "the store is busy" in done.stdout
    assert assistant.documents() == []
