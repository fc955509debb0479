"""The Chroma store, on the embedded folder and on a real server."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from assistant.errors import EmbeddingMismatch
from assistant.store import Store, chunk_id, doc_id_of
from tests.conftest import (
    CORPUS,
    ROOT,
    YANGTZE_LAW,
    HashedEmbedder,
    child_env,
    searchable_in_a_new_process,
    synthetic_document,
)


def test_collection_records_the_embedding_model(corpus_assistant):
    recorded = corpus_assistant.store.indexed_with()
    embedder = corpus_assistant.embedder
    assert recorded == {"embedding_backend": embedder.backend, "embedding_model": embedder.model,
                        "embedding_dim": embedder.dim}


def test_chunk_collections_search_wide_enough_to_be_exact_and_repeatable(make_assistant):
    """Chroma's default HNSW breadth (100) dropped a passage from the 50 dense candidates in some processes and
    not others; new and re-indexed collections search at SEARCH_EF."""
    from assistant.store.identity import SEARCH_EF

    assistant = make_assistant()
    hnsw = assistant.store.collection.configuration["hnsw"]
    assert hnsw["ef_search"] == SEARCH_EF >= 4 * assistant.settings.candidates
    assistant.reindex()
    assert assistant.store.collection.configuration["hnsw"]["ef_search"] == SEARCH_EF


def test_opening_with_another_model_names_reindex(corpus_assistant, make_settings, minilm):
    with pytest.raises(EmbeddingMismatch) as err:
        Store(make_settings(embedding_backend="sentence-transformers"), minilm)
    assert "assistant reindex" in str(err.value)
    assert corpus_assistant.embedder.model in str(err.value)


def test_every_stored_chunk_is_an_exact_slice_of_its_stored_document(make_assistant):
    assistant = make_assistant()
    assistant.add(CORPUS, YANGTZE_LAW)
    for doc in assistant.documents():
        text = assistant.store.text_of(doc.doc_id)
        chunks = assistant.store.get_chunks(where={"doc_id": doc.doc_id})
        assert len(chunks) == doc.chunks
        for passage in chunks:
            assert text[passage.start:passage.end] == passage.text
            assert passage.chunk_id.startswith(doc.doc_id + ":")


def test_revision_changes_on_every_write_and_delete(make_assistant):
    assistant = make_assistant()
    first = assistant.store.revision()
    added = assistant.add(CORPUS)[0]
    second = assistant.store.revision()
    assistant.remove(added.doc_id)
    third = assistant.store.revision()
    assert len({first, second, third}) == 3


def test_writes_are_batched_under_chromas_limit(make_assistant, monkeypatch):
    assistant = make_assistant()
    monkeypatch.setattr(assistant.store.client, "get_max_batch_size", lambda: 3)
    sizes: list[int] = []
    upsert = assistant.store.collection.upsert

    def counting_upsert(**kwargs):
        sizes.append(len(kwargs["ids"]))
        return upsert(**kwargs)

    monkeypatch.setattr(assistant.store.collection, "upsert", counting_upsert)
    result = assistant.add(YANGTZE_LAW)[0]
    assert max(sizes) == 3
    assert sum(sizes) == result.chunks
    assert assistant.store.count_chunks() == result.chunks


def test_nearest_gives_cosine_similarities_best_first(corpus_assistant):
    vector = corpus_assistant.embedder.encode(["Yangtze River model city"], query=True)[0]
    hits = corpus_assistant.store.nearest(vector, k=3)
    scores = [score for _, score in hits]
    assert len(hits) == 3 and scores == sorted(scores, reverse=True)
    assert all(0.0 < s <= 1.0 for s in scores)
    stored = corpus_assistant.store.get_chunks(ids=[chunk for chunk, _ in hits])
    vectors = corpus_assistant.store.collection.get(ids=[chunk for chunk, _ in hits], include=["embeddings"])
    by_id = dict(zip(vectors["ids"], vectors["embeddings"], strict=True))
    for chunk, score in hits:  # the score is the cosine of the query and the stored vector
        assert abs(float(np.dot(vector, by_id[chunk])) - score) < 1e-4
    assert {doc_id_of(chunk) for chunk, _ in hits} <= {p.doc_id for p in stored}


def test_document_round_trips_through_the_registry(corpus_assistant):
    by_language = {d.language: d for d in corpus_assistant.documents()}
    stored = by_language["en"]
    document = corpus_assistant.store.load(stored.doc_id)
    assert document.language == "en"
    assert document.metadata["kind"] == "commentary"
    assert document.metadata["issuer"] == "Yichang Municipal Party Committee"
    assert "machine translation" in document.metadata["note"]
    assert chunk_id(stored.doc_id, 0) in {p.chunk_id for p in corpus_assistant.store.get_chunks()}
    regulation = corpus_assistant.store.load(by_language["zh"].doc_id)  # dates as stated, kept apart
    assert regulation.title == "长江河道采砂管理条例" and regulation.metadata["kind"] == "regulation"
    assert (regulation.metadata["promulgated"], regulation.metadata["effective"], regulation.metadata["date"]) == (
        "2001-10-25", "2002-01-01", "2023-07-20")


def test_unreachable_server_is_a_clear_error(tmp_path):
    from assistant.embedding import make_embedder
    from assistant.errors import StoreError
    from assistant.settings import Settings
    from tests.conftest import free_port

    settings = Settings(data_dir=tmp_path, chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(StoreError, match="chroma run"):
        Store(settings, make_embedder(settings))


def test_a_stamp_this_process_already_saw_never_reopens_the_client(tmp_path):
    """A reader that read the stamp just before this process's own write must not take it for news."""
    from assistant.settings import Settings
    from assistant.store.connection import Connection

    connection = Connection(Settings(data_dir=tmp_path))
    connection.observe("docs", "e/1")  # the state the view was opened at
    connection.note("docs", "e/2")  # this process's own write
    for stamp in ("e/1", "e/2"):
        connection.observe("docs", stamp)
    assert connection.generation == 0
    connection.observe("docs", "e/3")  # another process's write
    assert connection.generation == 1


KILLED_BEFORE_THE_STAMP = textwrap.dedent("""
    import os, signal
    from assistant.settings import Settings
    from assistant.store import Store
    from tests.conftest import HashedEmbedder, synthetic_document
    Store._bump_revision = lambda self: os.kill(os.getpid(), signal.SIGKILL)  # registered, readers not told
    store = Store(Settings(), HashedEmbedder())
    document, chunks, vectors = synthetic_document("D", 600)
    with store.writing("add documents"):
        store.put_document("D", document, chunks, vectors, "hash-D")
""")


def test_a_writer_killed_between_registering_and_moving_the_stamp_loses_no_vectors(make_settings):
    """Embedded Chroma keeps a collection's vector index per process; 600-chunk writes make it save that
    index. The next writer must reload before writing, or its save drops the dead writer's vectors."""
    settings = make_settings()
    store = Store(settings, HashedEmbedder())

    def put(name: str) -> None:
        document, chunks, vectors = synthetic_document(name, 600)
        with store.writing("add documents"):
            store.put_document(name, document, chunks, vectors, f"hash-{name}")

    put("E0")
    assert store.nearest(HashedEmbedder().encode(["E0 paragraph 1."])[0], 1)[0][0] == "E0:00001"  # index loaded
    child = subprocess.run([sys.executable, "-c", KILLED_BEFORE_THE_STAMP], cwd=ROOT, env=child_env(settings),
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    put("E1")
    assert sorted(d.doc_id for d in store.documents()) == ["D", "E0", "E1"]
    assert store.count_chunks() == 1800 == searchable_in_a_new_process(settings)
    for name in ("D", "E1"):
        for i in (0, 299, 599):
            query = HashedEmbedder().encode([f"{name} paragraph {i}."])[0]
            assert store.nearest(query, 1)[0][0] == f"{name}:{i:05d}"
