"""The `assistant` command line: a thin shell over the Assistant API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from tqdm import tqdm

from assistant.documents import Passage
from assistant.errors import USER_ERRORS
from assistant.settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _progress_bar(description: str, unit: str = "chunk") -> tuple[Callable[[int, int, str], None], Callable[[], None]]:
    """A tqdm bar (rate and ETA) fed by the API's progress callback, on stderr so stdout stays parseable."""
    bar: dict[str, tqdm] = {}

    def update(done: int, total: int, message: str) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, desc=description, unit=unit, file=sys.stderr, leave=False)
        bar["bar"].total = total
        bar["bar"].set_postfix_str(message[:40], refresh=False)
        bar["bar"].update(done - bar["bar"].n)  # update() (not setting n) keeps tqdm's rate and ETA right

    def close() -> None:
        if "bar" in bar:
            bar["bar"].close()

    return update, close


def _tell_waiting(message: str) -> None:
    print(f"{message}…", file=sys.stderr, flush=True)


def _assistant(args: argparse.Namespace, *, check_model: bool = True) -> Any:
    from assistant.service import Assistant

    overrides = {k: v for k, v in {"data_dir": args.data_dir}.items() if v is not None}
    return Assistant(Settings.load(args.config, **overrides), check_model=check_model)


def cmd_add(args: argparse.Namespace) -> int:
    assistant = _assistant(args)
    read, close_reading = _progress_bar("reading", unit="file")  # with OCR, a scanned page takes seconds
    update, close = _progress_bar("embedding")
    try:
        results = assistant.add(*args.paths, progress=update, waiting=_tell_waiting, reading=read)
    finally:
        close_reading()
        close()
    for r in results:
        detail = f" ({r.reason})" if r.reason else ""
        chunks = f", {r.chunks} chunks" if r.chunks else ""
        print(f"{r.status:9} {r.path}{chunks}{detail}" + (f" [{r.doc_id}]" if r.doc_id else ""))
    return EXIT_FAILED if any(r.status == "failed" for r in results) else EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    docs = _assistant(args).documents()
    if args.json:
        print(json.dumps([d.to_dict() for d in docs], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not docs:
        print("no documents; add some with `assistant add PATH`")
    for d in docs:
        date, kind = str(d.metadata.get("date") or "-"), str(d.metadata.get("kind") or "-")
        print(f"{d.doc_id}  {d.language}  {date:10}  {kind:11}  {d.chunks:5d} chunks  {d.title[:60]}  ({d.source})")
    return EXIT_OK


META_FIELDS = ("title", "date", "year", "kind", "issuer", "promulgated", "revised", "effective")


def cmd_meta(args: argparse.Namespace) -> int:
    """Show a document's date, kind, issuer... and where each was read; with options, correct them."""
    assistant = _assistant(args)
    given = {"date": args.date, "kind": args.kind, "issuer": args.issuer, "title": args.title,
             "promulgated": args.promulgated, "effective": args.effective}
    if any(v is not None for v in given.values()) or args.reset:
        stored = assistant.correct(args.doc_id, **given, reset=args.reset or (), waiting=_tell_waiting)
    else:
        stored = assistant.document(args.doc_id)
    if args.json:
        print(json.dumps(stored.to_dict(), ensure_ascii=False, indent=2))
        return EXIT_OK
    provenance = stored.metadata.get("provenance") or {}
    print(f"{stored.doc_id}  ({stored.source})")
    for field in META_FIELDS:
        value = stored.title if field == "title" else stored.metadata.get(field)
        if value in (None, ""):
            continue
        origin = provenance.get(field) or {}
        where = f"from {origin.get('from')}" if origin.get("from") else ""
        if origin.get("evidence"):
            where += f": {' '.join(str(origin['evidence']).split())[:80]}"
        print(f"  {field:12} {value}" + (f"   ({where})" if where else ""))
    return EXIT_OK


def cmd_remove(args: argparse.Namespace) -> int:
    removed = _assistant(args).remove(args.doc_id, waiting=_tell_waiting)
    print(f"removed {removed.doc_id} ({removed.title}, {removed.chunks} chunks)")
    return EXIT_OK


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    """The document filters given on the command line, as keyword arguments of retrieve and ask."""
    return {"since": args.since, "until": args.until, "kind": args.kind or None, "issuer": args.issuer,
            "language": args.language}


def cmd_search(args: argparse.Namespace) -> int:
    passages = _assistant(args).retrieve(args.query, k=args.k, documents=args.document or None, **_filters(args))
    if args.json:
        print(json.dumps([p.to_dict() for p in passages], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not passages:
        print("no passages found")
    for rank, p in enumerate(passages, 1):
        _print_passage(rank, p)
    return EXIT_OK


def _print_passage(rank: int, p: Passage) -> None:
    print(f"[{rank}] {p.cite()}  (score {p.score:.3f}, doc {p.doc_id})")
    print("    " + p.text.replace("\n", "\n    "))
    print()


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.answering import format_answer

    if args.export and not args.across:
        print("error: --export writes the rows of an answer across documents; add --across", file=sys.stderr)
        return EXIT_USAGE
    answer = _assistant(args).ask(args.question, documents=args.document or None, across=args.across,
                                  **_filters(args))
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    elif args.export:
        from assistant.across import rows_to_csv, rows_to_markdown

        export = rows_to_csv if args.export == "csv" else rows_to_markdown
        print(export(answer.rows, answer.language), end="")
    else:
        print(format_answer(answer))
    return EXIT_OK


def cmd_reindex(args: argparse.Namespace) -> int:
    assistant = _assistant(args, check_model=False)  # re-indexing is how a store changes model
    update, close = _progress_bar("reindexing")
    try:
        total = assistant.reindex(progress=update, waiting=_tell_waiting)
    finally:
        close()
    print(f"reindexed {len(assistant.documents())} documents into {total} chunks with {assistant.embedder.label}")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.web import serve

    serve(_assistant(args), host=args.host, port=args.port, auth=args.auth, share=args.share)
    return EXIT_OK


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.evaluation import run_eval

    return run_eval(args, Settings.load(args.config, **({"data_dir": args.data_dir} if args.data_dir else {})))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="assistant", description="Ask questions about policy texts, with citations.")
    parser.add_argument("--config", help="TOML settings file (default: $ASSISTANT_CONFIG)")
    parser.add_argument("--data-dir", help="data folder (default: $ASSISTANT_DATA_DIR or ./data)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("add", help="add files or folders (.txt .md .pdf .docx .html .png .jpg .tif)")
    p.add_argument("paths", nargs="+")
    p.set_defaults(func=cmd_add)

    p = sub.add_parser("list", help="list stored documents")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("remove", help="remove a document and all its chunks")
    p.add_argument("doc_id")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("meta", help="show a document's date, kind and issuer (and where each was read); correct them")
    p.add_argument("doc_id")
    p.add_argument("--date", help="the date of this version: 2024, 2024-03 or 2024-03-05")
    p.add_argument("--kind", help="law, regulation, work report, speech, commentary, notice or other")
    p.add_argument("--issuer", help="who issued it (国务院, Yichang Municipal Party Committee...)")
    p.add_argument("--title", help="the document's title")
    p.add_argument("--promulgated", help="when it was promulgated (a date, as --date)")
    p.add_argument("--effective", help="when it took effect (a date, as --date)")
    p.add_argument("--reset", action="append", choices=("date", "kind", "issuer", "title", "promulgated", "effective"),
                   help="drop an earlier correction of this field: the value read from the document comes back")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_meta)

    p = sub.add_parser("search", help="show the passages most relevant to a query")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="number of passages")
    p.add_argument("--document", action="append", help="restrict to this doc id (repeatable)")
    _filter_arguments(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with cited passages")
    p.add_argument("question")
    p.add_argument("--document", action="append", help="answer only from this doc id (repeatable)")
    _filter_arguments(p)
    p.add_argument("--across", action="store_true",
                   help="one cited sentence (and the figure it states) per matching document, in date order")
    p.add_argument("--export", choices=("md", "csv"), help="with --across: print the rows as a Markdown table or CSV")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("serve", help="run the web chat (default http://127.0.0.1:7860)")
    p.add_argument("--host", help="interface to listen on (default: settings.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: settings.port, 7860)")
    p.add_argument("--auth", help="require sign-in: 'user:password[,user:password...]'")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    p.set_defaults(func=cmd_serve)

    from assistant.evaluation import add_eval_arguments

    p = sub.add_parser("eval", help="measure retrieval on a benchmark (Recall@k, MRR@10, nDCG@10, latency)")
    add_eval_arguments(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("reindex", help="rebuild all chunks and vectors from the stored texts")
    p.set_defaults(func=cmd_reindex)
    return parser


def _filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="documents dated from then on: 2020, 2020-03 or 2020-03-05")
    parser.add_argument("--until", help="documents dated up to then (inclusive), as --since")
    parser.add_argument("--kind", action="append",
                        help="documents of this kind (repeatable): law, regulation, work report, speech, commentary, "
                             "notice, other")
    parser.add_argument("--issuer", help="documents whose issuer contains this")
    parser.add_argument("--language", choices=("zh", "en"), help="documents in this language")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except USER_ERRORS as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
