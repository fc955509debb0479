"""Ingestion through the Assistant API: statuses, idempotence, replacement, bad input, progress."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import CORPUS, YANGTZE_LAW


def _snapshot(assistant) -> tuple[list[tuple[str, str, int]], int]:
    docs = [(d.doc_id, d.content_hash, d.chunks) for d in assistant.documents()]
    return docs, assistant.store.count_chunks()


def test_add_corpus_then_same_file_again_is_a_reported_no_op(make_assistant):
    assistant = make_assistant()
    first = assistant.add(CORPUS)
    assert [(r.status, r.chunks > 0) for r in first] == [("added", True)]
    before = _snapshot(assistant)
    again = assistant.add(CORPUS / "yichang-model-city-commentary.md")
    assert again[0].status == "unchanged"
    assert again[0].doc_id == first[0].doc_id
    assert "already stored" in again[0].reason
    assert _snapshot(assistant) == before


def test_same_content_under_another_name_is_not_a_duplicate(make_assistant, tmp_path):
    assistant = make_assistant()
    assistant.add(CORPUS)
    copy = tmp_path / "copy.md"
    shutil.copy(CORPUS / "yichang-model-city-commentary.md", copy)
    result = assistant.add(copy)[0]
    assert result.status == "unchanged"
    assert "same content as" in result.reason
    assert len(assistant.documents()) == 1


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
    from assistant.store import UnknownDocument

    assistant = make_assistant()
    added = assistant.add(CORPUS, YANGTZE_LAW)
    law = next(r for r in added if r.path.endswith(".md") and "L01" in r.path)
    assert assistant.store.get_chunks(where={"doc_id": law.doc_id})
    removed = assistant.remove(law.doc_id)
    assert removed.chunks == law.chunks
    assert assistant.store.get_chunks(where={"doc_id": law.doc_id}) == []
    assert len(assistant.documents()) == 1
    with pytest.raises(UnknownDocument, match="unknown document id"):
        assistant.remove("no-such-id")


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
    assert next(d.title for d in assistant.documents()).startswith("Continue to break the ice")


def test_reindex_rebuilds_from_stored_texts_with_another_model(make_assistant, make_settings, tmp_path):
    from assistant.embedding import SentenceTransformerEmbedder
    from assistant.ingest import reindex
    from assistant.service import Assistant
    from assistant.store import EmbeddingMismatch, Store

    assistant = make_assistant()
    source = tmp_path / "gone.txt"
    source.write_text("Flood season\n\nThe flood season on the Yangtze runs from June to September.\n")
    assistant.add(CORPUS, source)
    source.unlink()  # reindex must not need the original files
    chunks_before = assistant.store.count_chunks()
    minilm = SentenceTransformerEmbedder()
    settings = make_settings(embedding_backend="sentence-transformers")
    with pytest.raises(EmbeddingMismatch, match="assistant reindex"):
        Assistant(settings, embedder=minilm)
    total = reindex(Store(settings, minilm, check_model=False), settings)
    assert total == chunks_before
    switched = Assistant(settings, embedder=minilm)
    assert switched.store.indexed_with()["embedding_backend"] == "sentence-transformers"
    hit = switched.retrieve("When is the flood season?", k=1)[0]
    assert "June to September" in hit.text
