"""The Chroma store, on the embedded folder and on a real server."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.store import EmbeddingMismatch, Store, chunk_id, doc_id_of
from tests.conftest import CORPUS, YANGTZE_LAW


def test_collection_records_the_embedding_model(corpus_assistant):
    recorded = corpus_assistant.store.indexed_with()
    embedder = corpus_assistant.embedder
    assert recorded == {"embedding_backend": embedder.backend, "embedding_model": embedder.model,
                        "embedding_dim": embedder.dim}


def test_opening_with_another_model_names_reindex(corpus_assistant, make_settings):
    from assistant.embedding import SentenceTransformerEmbedder

    with pytest.raises(EmbeddingMismatch) as err:
        Store(make_settings(embedding_backend="sentence-transformers"), SentenceTransformerEmbedder())
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
    stored = corpus_assistant.documents()[0]
    document = corpus_assistant.store.load(stored.doc_id)
    assert document.language == "en"
    assert document.metadata["kind"] == "commentary"
    assert document.metadata["issuer"] == "Yichang Municipal Party Committee"
    assert "machine translation" in document.metadata["note"]
    assert chunk_id(stored.doc_id, 0) in {p.chunk_id for p in corpus_assistant.store.get_chunks()}


def test_unreachable_server_is_a_clear_error(tmp_path):
    from assistant.embedding import make_embedder
    from assistant.settings import Settings
    from assistant.store import StoreError
    from tests.conftest import free_port

    settings = Settings(data_dir=tmp_path, chroma_host="127.0.0.1", chroma_port=free_port())
    with pytest.raises(StoreError, match="chroma run"):
        Store(settings, make_embedder(settings))
