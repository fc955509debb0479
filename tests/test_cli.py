"""The `assistant` command: its commands, output and exit codes through `assistant.cli.main`, and, end to end,
as users run it: a separate process per command."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from assistant.across import rows_from_csv, rows_from_markdown
from assistant.cli import main
from tests.conftest import COMMENTARY, CORPUS, ROOT, dated_reports

QUESTION = "By what year will the model city be built?"
Run = Callable[..., subprocess.CompletedProcess[str]]


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` replaced by ``values`` for the duration, as a new process would see them."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def environ(tmp_path: Path, store_mode: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment of `assistant` commands on a fresh store in the current mode."""
    base = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
            "ASSISTANT_COLLECTION": f"cli{uuid.uuid4().hex[:10]}"}
    base.pop("ASSISTANT_CHROMA_HOST", None)
    if store_mode == "server":
        host, port = request.getfixturevalue("chroma_server")
        base.update(ASSISTANT_CHROMA_HOST=host, ASSISTANT_CHROMA_PORT=str(port))
    return base


@pytest.fixture
def run(environ: dict[str, str], session_model: None) -> Run:
    """`assistant ...` through ``main`` in this process (settings read from the environment it is given, output
    and exit code as a process would give them), on the session's model. The end-to-end tests below use real
    processes."""

    def call(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        out, err = io.StringIO(), io.StringIO()
        with environment({**environ, **(env or {})}), redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse's usage errors
                code = exc.code if isinstance(exc.code, int) else 1
        return subprocess.CompletedProcess(["assistant", *args], code, out.getvalue(), err.getvalue())

    return call


@pytest.fixture
def run_process(environ: dict[str, str]) -> Run:
    """`assistant ...` as a separate process, as users run it."""

    def call(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                              env={**environ, **(env or {})}, cwd=ROOT, timeout=300)

    return call


def test_a_first_search_indexes_the_corpus_and_the_next_process_finds_it(run_process: Run, tmp_path: Path) -> None:
    """End to end, in separate processes, as a new user starts: the first `search` on an empty store indexes
    the corpus folder, and what that process stored the next one finds, with every field of ``--json``.
    (`add` in a process of its own: the scan test of test_ocr.py.)

    The folder holds the commentary alone: a new process embeds it without the session's kept
    vectors, and the regulation's 29 chunks would add 5 s; that the shipped folder indexes whole,
    both documents, is test_api.py's, in this process.
    """
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(COMMENTARY, corpus)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return run_process(*args, env={"ASSISTANT_CORPUS_DIR": str(corpus)})

    first = run("search", "model city Yangtze", "-k", "2", "--json")
    assert first.returncode == 0, first.stderr
    assert len(json.loads(first.stdout)) == 2
    found = run("search", QUESTION, "--json")
    assert found.returncode == 0, found.stderr
    passages = json.loads(found.stdout)
    assert "by 2035" in passages[0]["text"]
    for field in ("text", "score", "doc_id", "title", "chunk_id", "start", "end", "page", "source", "citation"):
        assert field in passages[0]
    assert passages[0]["citation"].endswith("¶1")


def test_failed_files_make_the_command_fail_but_the_rest_is_added(run, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = run("add", str(CORPUS), str(empty))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("failed") and "empty.txt" in line and "empty" in line for line in lines)
    assert any(line.startswith("added") for line in lines)
    listed = json.loads(run("list", "--json").stdout)
    assert sorted(d["language"] for d in listed) == ["en", "zh"]  # the corpus: commentary and regulation


def test_list_remove_and_unknown_id(run):
    run("add", str(CORPUS))
    listed = json.loads(run("list", "--json").stdout)
    doc_id = listed[0]["doc_id"]
    removed = run("remove", doc_id)
    assert removed.returncode == 0 and doc_id in removed.stdout
    assert json.loads(run("list", "--json").stdout) == listed[1:]
    missing = run("remove", doc_id)
    assert missing.returncode == 1
    assert "unknown document id" in missing.stderr


def test_empty_query_is_refused(run):
    result = run("search", "   ")
    assert result.returncode == 1
    assert "empty" in result.stderr


def test_reindex_reports_what_it_rebuilt(run):
    run("add", str(CORPUS))
    result = run("reindex")
    assert result.returncode == 0, result.stderr
    assert "reindexed 2 documents" in result.stdout


@pytest.mark.parametrize("store_mode", ["embedded"])
def test_console_script_is_installed(store_mode):
    exe = Path(sys.executable).parent / "assistant"
    result = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "search" in result.stdout


def test_read_only_refuses_add_remove_and_reindex(run, tmp_path):
    assert run("add", str(CORPUS)).returncode == 0
    listed = json.loads(run("list", "--json").stdout)
    note = tmp_path / "extra.txt"
    note.write_text("Notice on ferries\n\nThe ferry office issues permits each quarter.\n", encoding="utf-8")
    for command in (("add", str(note)), ("remove", listed[0]["doc_id"]), ("reindex",)):
        done = run(*command, env={"ASSISTANT_READ_ONLY": "true"})
        assert done.returncode != 0 and "read-only" in done.stderr, command
    assert json.loads(run("list", "--json").stdout) == listed
    assert run("search", "model city 2035", env={"ASSISTANT_READ_ONLY": "true"}).returncode == 0


def test_meta_shows_where_values_came_from_and_a_correction_survives_reindex(run, tmp_path):
    assert run("add", *map(str, dated_reports(tmp_path))).returncode == 0
    listed = {Path(d["source"]).name: d for d in json.loads(run("list", "--json").stdout)}
    doc_id = listed["report-a.md"]["doc_id"]
    assert listed["report-a.md"]["metadata"]["date"] == "2018-03-05"
    shown = run("meta", doc_id)
    assert shown.returncode == 0 and "2018-03-05   (from front matter)" in shown.stdout
    assert "work report   (from title" in shown.stdout
    fixed = run("meta", doc_id, "--date", "2024-03-05", "--kind", "Speech")
    assert fixed.returncode == 0, fixed.stderr
    assert "2024-03-05   (from corrected)" in fixed.stdout and "speech   (from corrected)" in fixed.stdout
    assert run("reindex").returncode == 0
    after = {d["doc_id"]: d for d in json.loads(run("list", "--json").stdout)}[doc_id]["metadata"]
    assert (after["date"], after["kind"], after["year"]) == ("2024-03-05", "speech", 2024)
    for bad, message in ((("--date", "2024-13-01"), "not a date"), (("--kind", "poem"), "unknown kind")):
        refused = run("meta", doc_id, *bad)
        assert refused.returncode == 1 and message in refused.stderr
    assert run("meta", "nope", "--date", "2024").stderr.startswith("error: unknown document id")
    assert {d["doc_id"]: d for d in json.loads(run("list", "--json").stdout)}[doc_id]["metadata"] == after


def test_ask_across_prints_dated_rows_and_exports_them(run, tmp_path):
    assert run("add", *map(str, dated_reports(tmp_path))).returncode == 0
    question = "历年政府工作报告提出的国内生产总值增长目标是多少？"
    shown = run("ask", question, "--across")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == "共2份文件，按日期排列，其中2份有相关表述："
    assert lines[1].startswith("- 2018-03-05 · 《政府工作报告》：6.5%左右 — “") and lines[2].startswith("- 2019-03-05")
    rows = json.loads(run("ask", question, "--across", "--json").stdout)["rows"]
    assert [r["figure"]["text"] for r in rows] == ["6.5%左右", "6%左右"]
    exported = run("ask", question, "--across", "--export", "csv")
    assert exported.returncode == 0
    assert [(r["date"], r["figure"], r["doc_id"]) for r in rows_from_csv(exported.stdout)] == \
        [(r["date"], r["figure"]["text"], r["doc_id"]) for r in rows]
    table = run("ask", question, "--across", "--export", "md", "--since", "2019")
    assert [r["figure"] for r in rows_from_markdown(table.stdout)] == ["6%左右"]
    assert run("ask", question, "--export", "md").returncode == 2  # rows come from an answer across documents


def test_search_and_ask_take_document_filters(run, tmp_path):
    assert run("add", *map(str, dated_reports(tmp_path))).returncode == 0
    found = json.loads(run("search", "国内生产总值增长", "--since", "2019", "--kind", "work report", "--json").stdout)
    assert found and {p["date"] for p in found} == {"2019-03-05"}
    assert json.loads(run("search", "国内生产总值增长", "--kind", "law", "--json").stdout) == []
    refused = run("ask", "国内生产总值增长目标", "--until", "2019-02-30")
    assert refused.returncode == 1 and "not a date" in refused.stderr
