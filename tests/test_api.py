"""The Python API as users call it: `from assistant import retrieve, Assistant`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import assistant as api
from assistant import service
from assistant.errors import InvalidMetadata
from tests.conftest import CORPUS, CORPUS_FILES, YANGTZE_LAW


@pytest.fixture
def default_env(monkeypatch, tmp_path, store_mode, request, session_model):
    """Point the module-level functions at a fresh store through the environment, as a user would."""
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ASSISTANT_COLLECTION", f"api{abs(hash(request.node.name)) % 10**8}")
    monkeypatch.delenv("ASSISTANT_CHROMA_HOST", raising=False)
    if store_mode == "server":
        host, port = request.getfixturevalue("chroma_server")
        monkeypatch.setenv("ASSISTANT_CHROMA_HOST", host)
        monkeypatch.setenv("ASSISTANT_CHROMA_PORT", str(port))
    monkeypatch.setattr(service, "_default", None)
    yield
    monkeypatch.setattr(service, "_default", None)


def test_module_level_retrieve_indexes_the_corpus_and_returns_passages(default_env):
    passages = api.retrieve("model city for the protection of the Yangtze River", k=2)
    assert len(passages) == 2
    top = passages[0]
    assert isinstance(top, api.Passage) and dataclasses.is_dataclass(top)
    with pytest.raises(dataclasses.FrozenInstanceError):
        top.score = 1.0  # type: ignore[misc]
    text = service.default_assistant().store.text_of(top.doc_id)
    assert text[top.start:top.end] == top.text
    assert top.cite().startswith(top.title) and "¶" in top.cite()
    indexed = sorted(Path(d.source).name for d in service.default_assistant().documents())
    assert indexed == sorted(p.name for p in CORPUS_FILES)  # the shipped folder, whole: both documents


def test_documents_filter_and_where_filter(make_assistant):
    assistant = make_assistant()
    results = {r.path: r for r in assistant.add(CORPUS, YANGTZE_LAW)}
    law_id = next(r.doc_id for p, r in results.items() if "L01" in p)
    only_law = assistant.retrieve("protection of the Yangtze River", k=5, documents=[law_id])
    assert only_law and {p.doc_id for p in only_law} == {law_id}
    english = assistant.retrieve("长江保护", k=5, where={"language": "en"})
    assert english and {p.language for p in english} == {"en"}
    assert assistant.retrieve("长江保护", k=3, documents=[]) == []


def test_unknown_document_ids_and_empty_queries_are_errors(corpus_assistant):
    from assistant.errors import EmptyQuery, UnknownDocument

    with pytest.raises(UnknownDocument, match="nope"):
        corpus_assistant.retrieve("Yangtze", documents=["nope"])
    with pytest.raises(EmptyQuery):
        corpus_assistant.retrieve("  \n")


def test_law_articles_are_cited_by_article_number(make_assistant):
    assistant = make_assistant()
    assistant.add(YANGTZE_LAW)
    passages = assistant.retrieve("长江流域重点水域禁止天然渔业资源的生产性捕捞", k=3)
    labels = [p.cite() for p in passages]
    assert "中华人民共和国长江保护法 第五十三条" in labels


def test_a_read_only_assistant_refuses_every_write_and_changes_nothing(corpus_assistant, tmp_path):
    from assistant.errors import ReadOnlyStore
    from assistant.service import Assistant

    settings = corpus_assistant.settings.model_copy(update={"read_only": True})
    reader = Assistant(settings, embedder=corpus_assistant.embedder)
    before = ([d.doc_id for d in reader.documents()], reader.store.count_chunks(), reader.store.revision())
    extra = tmp_path / "extra.txt"
    extra.write_text("Notice on ferries\n\nThe ferry office issues permits each quarter.\n", encoding="utf-8")
    doc_id = before[0][0]
    for attempt in (lambda: reader.add(extra), lambda: reader.remove(doc_id), reader.reindex):
        with pytest.raises(ReadOnlyStore, match="read-only"):
            attempt()
    assert ([d.doc_id for d in reader.documents()], reader.store.count_chunks(), reader.store.revision()) == before
    assert reader.ask("By what year will the model city be built?").grounded  # reading still works


def test_a_read_only_assistant_on_an_empty_store_does_not_index_the_corpus(make_assistant):
    reader = make_assistant(read_only=True, auto_index_corpus=True)
    assert reader.documents() == [] and reader.store.count_chunks() == 0


def test_the_chunks_are_a_langchain_vectorstore_under_the_same_embedder(corpus_assistant):
    """LangChain users read the same chunks through langchain-chroma; its hits are the dense search's."""
    store = corpus_assistant.as_vectorstore()
    question = "By what year will Yichang become a model city for the protection of the Yangtze River?"
    hits = store.similarity_search(question, k=3)
    dense = corpus_assistant.retrieve(question, k=3, where=None)
    assert len(hits) == 3 and all(h.metadata["doc_id"] for h in hits)
    assert hits[0].page_content in {p.text for p in corpus_assistant.store.get_chunks()}
    assert "2035" in " ".join(h.page_content for h in hits)
    assert {h.id for h in hits} & {p.chunk_id for p in dense}


def test_module_level_ask_across_and_filtered_retrieve(default_env):
    """The Python API users call: across-documents answers and document filters on the shipped corpus."""
    answer = api.ask("Which laws set fines for illegal sand mining, and how large?", across=True)
    assert answer.across and [row.kind for row in answer.rows] == ["regulation"]  # the commentary is no law
    [row] = answer.rows
    assert row.stated and row.figure is not None and row.figure.text in row.quote
    assert row.date == "2023-07-20" and row.label.startswith("长江河道采砂管理条例 第")
    passages = api.retrieve("Yangtze River", k=3, kind="commentary")
    assert passages and {p.kind for p in passages} == {"commentary"}
    assert api.retrieve("Yangtze River", k=3, since=2030) == []
    with pytest.raises(InvalidMetadata):
        api.retrieve("Yangtze River", language="fr")


def test_a_read_only_assistant_refuses_corrections(corpus_assistant):
    from assistant.errors import ReadOnlyStore
    from assistant.service import Assistant

    reader = Assistant(corpus_assistant.settings.model_copy(update={"read_only": True}),
                       embedder=corpus_assistant.embedder)
    doc_id = reader.documents()[0].doc_id
    with pytest.raises(ReadOnlyStore, match="read-only"):
        reader.correct(doc_id, date="2020")
    assert "corrections" not in reader.document(doc_id).metadata


def test_the_dictionary_cache_is_kept_where_the_settings_say(make_assistant, tmp_path, monkeypatch):
    """ASSISTANT_CACHE_DIR: stores that share one parse the dictionary once between them; default DATA_DIR/cache."""
    from assistant import relevance

    fresh = relevance.Lexicon({"水": "water"}, {})  # stands for the real parse (~2.5 s)
    monkeypatch.setattr(relevance, "parse_cedict", lambda lines: fresh)
    monkeypatch.setattr(relevance, "_lexicon_cache", None)
    try:
        for shared in (tmp_path / "shared", None):
            assistant = make_assistant(cache_dir=shared)
            folder = shared or assistant.settings.data_dir / "cache"
            relevance.lexicon.cache_clear()
            assert relevance.lexicon() is fresh
            assert [p.name.startswith("cedict-") for p in folder.iterdir()] == [True]
    finally:
        relevance.lexicon.cache_clear()  # the next test reads the real dictionary back (its kept cache, or a parse)
