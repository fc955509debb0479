"""Ingestion through the Assistant API: statuses, idempotence, replacement, bad input, progress."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import (
    COMMENTARY,
    CORPUS,
    ROOT,
    TOPICS,
    YANGTZE_LAW,
    child_env,
    note,
    searchable_in_a_new_process,
)


def _snapshot(assistant) -> tuple[list[tuple[str, str, int]], int]:
    docs = [(d.doc_id, d.content_hash, d.chunks) for d in assistant.documents()]
    return docs, assistant.store.count_chunks()


def test_add_corpus_then_same_file_again_is_a_reported_no_op(make_assistant):
    assistant = make_assistant()
    first = [r for r in assistant.add(CORPUS) if r.path == str(COMMENTARY)]
    assert [(r.status, r.chunks > 0) for r in first] == [("added", True)]
    before = _snapshot(assistant)
    again = assistant.add(COMMENTARY)
    assert again[0].status == "unchanged"
    assert again[0].doc_id == first[0].doc_id
    assert "already stored" in again[0].reason
    assert _snapshot(assistant) == before


def test_same_content_under_another_name_is_not_a_duplicate(make_assistant, tmp_path):
    assistant = make_assistant()
    assistant.add(CORPUS)
    before = _snapshot(assistant)
    copy = tmp_path / "copy.md"
    shutil.copy(COMMENTARY, copy)
    result = assistant.add(copy)[0]
    assert result.status == "unchanged"
    assert "same content as" in result.reason
    assert _snapshot(assistant) == before


def test_changed_file_from_same_source_replaces_its_chunks(make_assistant, tmp_path):
    assistant = make_assistant()
    path = tmp_path / "notice.txt"
    path.write_text("River notice\n\nThe ferry to the island runs every Monday in spring.\n", encoding="utf-8")
    old = assistant.add(path)[0]
    path.write_text("River notice\n\nThe ferry to the island now runs every Friday in autumn.\n", encoding="utf-8")
    new = assistant.add(path)[0]
    assert new.status == "replaced" and old.doc_id in new.reason
    assert [d.doc_id for d in assistant.documents()] == [new.doc_id]
    texts = [c.text for c in assistant.store.get_chunks()]
    assert any("Friday" in t for t in texts)
    assert not any("Monday" in t for t in texts)


def test_remove_deletes_every_chunk_and_unknown_id_is_an_error(make_assistant):
    from assistant.errors import UnknownDocument

    assistant = make_assistant()
    added = assistant.add(CORPUS, YANGTZE_LAW)
    law = next(r for r in added if r.path.endswith(".md") and "L01" in r.path)
    others = {d.doc_id for d in assistant.documents()} - {law.doc_id}
    assert assistant.store.get_chunks(where={"doc_id": law.doc_id})
    removed = assistant.remove(law.doc_id)
    assert removed.chunks == law.chunks
    assert assistant.store.get_chunks(where={"doc_id": law.doc_id}) == []
    assert {d.doc_id for d in assistant.documents()} == others and len(others) == 2
    with pytest.raises(UnknownDocument, match="unknown document id"):
        assistant.remove("no-such-id")


UNIQUE_WORDS = ["quokka", "narwhal", "axolotl", "pangolin", "okapi", "tapir", "wombat", "ibex", "kinkajou", "gharial",
                "saola", "dugong", "fossa", "numbat", "quoll", "serval"]


def test_no_first_line_or_one_line_file_is_lost(make_assistant, tmp_path):
    """A first line that is a sentence is body text, and a one-line note is one chunk: each word is found."""
    assistant = make_assistant()
    folder = tmp_path / "notes"
    folder.mkdir()
    for i, word in enumerate(UNIQUE_WORDS):
        if i % 2:  # a one-line note
            (folder / f"n{i}.txt").write_text(f"Rules for the {word} enclosure\n", encoding="utf-8")
        else:  # its first line, taken as the title, is the only place its word stands
            (folder / f"n{i}.txt").write_text(f"The {word} enclosure opens at dawn.\n\nVisitors keep to the "
                                              f"paths and leave no litter behind them.\n", encoding="utf-8")
    results = assistant.add(folder)
    assert [r.status for r in results] == ["added"] * len(UNIQUE_WORDS), [r.reason for r in results]
    for mode in ("bm25", "hybrid"):
        for word in UNIQUE_WORDS:
            top = assistant.retriever.search(f"{word} enclosure", 1, mode=mode)[0].passage
            assert word in top.text, (mode, word, top.text)


@pytest.mark.parametrize("context", [True, False])
def test_chunks_are_embedded_under_their_title_and_heading_but_stored_bare(make_assistant, context):
    """The vector carries the law's name and the article (a chunk never names its own law); the text
    that is stored, cited and shown is the exact slice. ``index_context=False`` embeds bare text."""
    assistant = make_assistant(index_context=context)
    assistant.add(YANGTZE_LAW)
    stored = assistant.store.get_chunks()
    chunk = next(p for p in stored if p.heading.endswith("第四条"))
    assert assistant.store.text_of(chunk.doc_id)[chunk.start:chunk.end] == chunk.text
    vector = assistant.store.fetch([chunk.chunk_id], include=["embeddings"])["embeddings"][0]
    labelled = assistant.embedder.encode([f"中华人民共和国长江保护法 第四条\n{chunk.text}"])[0]
    bare = assistant.embedder.encode([chunk.text])[0]
    expected, other = (labelled, bare) if context else (bare, labelled)
    assert abs(float(np.dot(vector, expected)) - 1.0) < 1e-4 < abs(float(np.dot(vector, other)) - 1.0)


def test_bad_files_fail_alone_and_change_nothing(make_assistant, tmp_path):
    assistant = make_assistant()
    assistant.add(CORPUS)
    before = _snapshot(assistant)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_text("")
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00" * 20)
    (bad / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me policy".encode("latin-1"))
    (bad / "scan.pdf").write_bytes(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<")
    (bad / "broken.docx").write_bytes(b"this is not a zip archive")
    (bad / "table.xlsx").write_bytes(b"PK\x03\x04")
    good = tmp_path / "good.txt"
    good.write_text("Ferry timetable\n\nBoats leave the Yichang pier at nine.\n", encoding="utf-8")
    results = assistant.add(bad, good, tmp_path / "missing.md")
    by_name = {Path(r.path).name: r for r in results}
    assert by_name["good.txt"].status == "added"
    for name in ("empty.txt", "binary.txt", "latin1.txt", "scan.pdf", "broken.docx", "missing.md"):
        assert by_name[name].status == "failed", name
        assert by_name[name].reason, name
    assert "empty" in by_name["empty.txt"].reason
    assert "UTF-8" in by_name["latin1.txt"].reason
    docs, _ = _snapshot(assistant)
    assert set(before[0]) <= set(docs) and len(docs) == len(before[0]) + 1


def test_unsupported_extension_named_explicitly_fails_with_the_supported_list(make_assistant, tmp_path):
    assistant = make_assistant()
    sheet = tmp_path / "table.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    result = assistant.add(sheet)[0]
    assert result.status == "failed"
    assert ".xlsx" in result.reason and ".pdf" in result.reason
    assert assistant.documents() == []


def test_progress_reports_every_chunk(make_assistant):
    assistant = make_assistant(embedding_batch_size=2)
    calls: list[tuple[int, int]] = []
    results = assistant.add(CORPUS, progress=lambda done, total, _msg: calls.append((done, total)))
    total = sum(r.chunks for r in results)
    assert calls[-1] == (total, total)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) == -(-total // 2)


def test_interrupted_ingestion_can_be_rerun_without_duplicates(make_assistant, tmp_path):
    """A crash after chunks were written but before the document was registered."""
    from assistant import ingest

    assistant = make_assistant()
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(3):
        (folder / f"n{i}.txt").write_text(f"Notice {i}\n\nSluice gate {i} opens at {i + 6} o'clock.\n")
    original = assistant.store.commit_document
    calls = {"n": 0}

    def crash_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated crash")
        return original(*args, **kwargs)

    assistant.store.commit_document = crash_on_second
    with pytest.raises(KeyboardInterrupt):
        ingest.add_paths(assistant.store, assistant.settings, [folder])
    assistant.store.commit_document = original
    results = assistant.add(folder)
    assert sorted(r.status for r in results) == ["added", "added", "unchanged"]
    docs = assistant.documents()
    assert len(docs) == 3
    assert assistant.store.count_chunks() == sum(d.chunks for d in docs)


def test_first_use_of_an_empty_store_indexes_the_shipped_corpus(make_assistant):
    assistant = make_assistant(auto_index_corpus=True)
    passages = assistant.retrieve("model city for the protection of the Yangtze River", k=1)
    assert passages and "Yangtze" in passages[0].text
    titles = sorted(d.title for d in assistant.documents())
    assert len(titles) == 2 and titles[0].startswith("Continue to break the ice")
    assert titles[1] == "长江河道采砂管理条例"


def test_reindex_rebuilds_from_stored_texts_with_another_model(make_assistant, make_settings, minilm, tmp_path):
    from assistant.errors import EmbeddingMismatch
    from assistant.ingest import reindex
    from assistant.service import Assistant
    from assistant.store import Store

    assistant = make_assistant()
    source = tmp_path / "gone.txt"
    source.write_text("Flood season\n\nThe flood season on the Yangtze runs from June to September.\n")
    assistant.add(CORPUS, source)
    source.unlink()  # reindex must not need the original files
    chunks_before = assistant.store.count_chunks()
    settings = make_settings(embedding_backend="sentence-transformers")
    with pytest.raises(EmbeddingMismatch, match="assistant reindex"):
        Assistant(settings, embedder=minilm)
    total = reindex(Store(settings, minilm, check_model=False), settings)
    assert total == chunks_before
    switched = Assistant(settings, embedder=minilm)
    assert switched.store.indexed_with()["embedding_backend"] == "sentence-transformers"
    hit = switched.retrieve("When is the flood season?", k=1)[0]
    assert "June to September" in hit.text
    with pytest.raises(EmbeddingMismatch, match="assistant reindex"):  # the old process, still on the old model
        assistant.retrieve("When is the flood season?")


# --- crash safety: processes killed with SIGKILL ------------------------------------------------
DIE_INSIDE_A_WRITE = textwrap.dedent("""
    import sys, time
    from assistant.service import Assistant
    from assistant.store import Store
    def stall(self, *args, **kwargs):  # chunks are written, the document not yet registered
        print("chunks written", flush=True)
        time.sleep(600)
    Store.commit_document = stall
    Assistant().add(sys.argv[1])
""")


def _consistent(assistant, *, debris_allowed: bool = False) -> None:
    """What users can see agrees everywhere: list, keyword index, search; no duplicate chunk of a listed document."""
    docs = assistant.documents()
    listed = {d.doc_id for d in docs}
    stored = assistant.store.get_chunks()
    registered_chunks = [p for p in stored if p.doc_id in listed]
    assert len(registered_chunks) == len({p.chunk_id for p in registered_chunks}) == sum(d.chunks for d in docs)
    if not debris_allowed:
        assert len(stored) == len(registered_chunks)
    assert sorted(assistant.retriever.lexical.current().live_ids) == sorted(p.chunk_id for p in registered_chunks)


def test_a_writer_killed_inside_a_write_leaves_nothing_visible_and_the_next_add_recovers(make_assistant, tmp_path):
    assistant = make_assistant()
    assistant.add(note(tmp_path, "kept", TOPICS[0]))
    victim = note(tmp_path, "victim", TOPICS[1], paragraphs=6)
    child = subprocess.Popen([sys.executable, "-c", DIE_INSIDE_A_WRITE, str(victim)], cwd=ROOT,
                             env=child_env(assistant.settings), stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "chunks written"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    assert [d.title for d in assistant.documents()] == [f"Notice on {TOPICS[0]}"]
    assert assistant.store.count_chunks() > assistant.documents()[0].chunks  # the debris is really there
    for mode in ("dense", "hybrid", "bm25"):
        hits = assistant.retriever.search(f"{TOPICS[1]} office permits", k=10, mode=mode)
        assert all(h.passage.title == f"Notice on {TOPICS[0]}" for h in hits), mode
    _consistent(assistant, debris_allowed=True)

    [again] = assistant.add(victim)
    assert again.status == "added"
    _consistent(assistant)
    assert assistant.retrieve(f"{TOPICS[1]} office permits", k=1)[0].title == f"Notice on {TOPICS[1]}"


def test_assistant_add_killed_midway_can_be_run_again_without_duplicates(make_assistant, tmp_path):
    """The issue's scenario: `assistant add` on many files, SIGKILL once some are in, then the same command."""
    watcher = make_assistant()
    folder = tmp_path / "many"
    folder.mkdir()
    for i, topic in enumerate(TOPICS):
        note(folder, f"n{i:02d}", topic)  # three chunks each: quick to embed twice in new processes
    env = child_env(watcher.settings)
    command = [sys.executable, "-m", "assistant.cli", "add", str(folder)]
    child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(watcher.documents()) < 3 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    partial = len(watcher.documents())
    assert 3 <= partial < len(TOPICS), "the kill did not land midway"
    _consistent(watcher, debris_allowed=True)

    rerun = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    statuses = [line.split()[0] for line in rerun.stdout.splitlines()]
    assert statuses.count("unchanged") == partial and statuses.count("added") == len(TOPICS) - partial
    assert len(watcher.documents()) == len(TOPICS)
    _consistent(watcher)


DIE_INSIDE_A_REINDEX = textwrap.dedent("""
    import time
    from assistant import ingest
    from assistant.service import Assistant
    embed, calls = ingest.embed_chunks, []
    def stall_on_second(*args, **kwargs):  # the new index holds one document; the old one is untouched
        calls.append(1)
        if len(calls) == 2:
            print("half rebuilt", flush=True)
            time.sleep(600)
        return embed(*args, **kwargs)
    ingest.embed_chunks = stall_on_second
    Assistant().reindex()
""")


def test_a_reindex_killed_midway_leaves_the_index_in_use_intact(make_assistant, tmp_path):
    assistant = make_assistant()
    assistant.add(*[note(tmp_path, f"r{i}", topic) for i, topic in enumerate(TOPICS[:3])])
    before = assistant.store.revision()
    child = subprocess.Popen([sys.executable, "-c", DIE_INSIDE_A_REINDEX], cwd=ROOT,
                             env=child_env(assistant.settings), stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "half rebuilt"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()

    def chunk_collections() -> set[str]:
        return {c.name for c in assistant.store.client.list_collections() if c.name.startswith(
            f"{assistant.settings.collection}_chunks")}

    assert len(chunk_collections()) == 2  # the partial new index is still there...
    assert assistant.store.revision() == before  # ...but nothing switched to it
    for topic in TOPICS[:3]:
        for mode in ("dense", "bm25", "hybrid"):
            assert assistant.retriever.search(f"{topic} office permits", k=1, mode=mode)[0].passage.title \
                == f"Notice on {topic}", (topic, mode)
    _consistent(assistant)

    [added] = assistant.add(note(tmp_path, "after", TOPICS[3]))  # the next writer cleans up
    assert added.status == "added" and chunk_collections() == {assistant.store.chunks_name}
    assert assistant.reindex() == sum(d.chunks for d in assistant.documents())
    assert chunk_collections() == {assistant.store.chunks_name}
    _consistent(assistant)
    assert assistant.retrieve(f"{TOPICS[3]} office permits", k=1)[0].title == f"Notice on {TOPICS[3]}"


def test_searches_keep_answering_from_the_old_index_while_a_reindex_runs(make_assistant, tmp_path):
    """Reindex builds beside the index in use and switches in one write: no moment with a partial index."""
    assistant = make_assistant()
    assistant.add(*[note(tmp_path, f"s{i}", topic) for i, topic in enumerate(TOPICS[:4])])
    seen: list[list[str]] = []

    def search_during(done: int, total: int, message: str) -> None:
        seen.append([assistant.retrieve(f"{topic} office permits", k=1)[0].title for topic in TOPICS[:4]])

    old = assistant.store.chunks_name
    assistant.reindex(progress=search_during)
    assert seen and all(titles == [f"Notice on {topic}" for topic in TOPICS[:4]] for titles in seen)
    assert assistant.store.chunks_name != old
    _consistent(assistant)


STALL_IN = textwrap.dedent("""
    import sys, time
    from assistant.service import Assistant
    from assistant.store import Store
    step, action, target = sys.argv[1], sys.argv[2], sys.argv[3]
    def stall(self, *args, **kwargs):
        print("stalled", flush=True)
        time.sleep(600)
    setattr(Store, step, stall)
    assistant = Assistant()
    assistant.add(target) if action == "add" else assistant.remove(target)
""")


def _kill_inside(assistant, step: str, action: str, target: str) -> None:
    """Run `add` or `remove` in another process and SIGKILL it when it reaches ``step`` of the store."""
    child = subprocess.Popen([sys.executable, "-c", STALL_IN, step, action, target], cwd=ROOT,
                             env=child_env(assistant.settings), stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline().strip() == "stalled"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()


def test_a_writer_killed_between_registering_and_moving_the_stamp_loses_no_vectors(make_assistant, tmp_path):
    """The registry already lists the document, but no reader was told: the next writer must not write
    from its stale view (an embedded store would save its old vector index over the new chunks)."""
    watcher = make_assistant()
    watcher.add(note(tmp_path, "first", TOPICS[0]))
    assert watcher.retrieve(f"{TOPICS[0]} office", k=1)  # the watcher's vector index is loaded
    _kill_inside(watcher, "_bump_revision", "add", str(note(tmp_path, "second", TOPICS[1], paragraphs=6)))
    [third] = watcher.add(note(tmp_path, "third", TOPICS[2]))
    assert third.status == "added"
    assert sorted(d.title for d in watcher.documents()) == sorted(f"Notice on {t}" for t in TOPICS[:3])
    _consistent(watcher)
    assert searchable_in_a_new_process(watcher.settings) == watcher.store.count_chunks()
    for topic in TOPICS[:3]:
        hit = watcher.retriever.search(f"{topic} office permits", k=1, mode="dense")[0]
        assert hit.passage.title == f"Notice on {topic}"


def test_a_removal_killed_midway_is_finished_by_the_next_writer(make_assistant, tmp_path):
    assistant = make_assistant()
    kept, doomed = assistant.add(note(tmp_path, "kept", TOPICS[0]), note(tmp_path, "doomed", TOPICS[1]))
    _kill_inside(assistant, "delete_chunks", "remove", doomed.doc_id)  # unregistered, chunks still there
    assert [d.doc_id for d in assistant.documents()] == [kept.doc_id]
    assert all(h.passage.doc_id == kept.doc_id for h in assistant.retriever.search(
        f"{TOPICS[1]} office permits", k=5, mode="dense"))
    _consistent(assistant, debris_allowed=True)
    assistant.add(note(tmp_path, "later", TOPICS[2]))
    _consistent(assistant)
