"""The `assistant` command, run as users run it: a separate process per command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import CORPUS, ROOT

QUESTION = "By what year will the model city be built?"


@pytest.fixture
def run(tmp_path, store_mode, request):
    """Run `assistant ...` with a fresh store in the current mode; returns the CompletedProcess."""
    base = {**os.environ, "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
            "ASSISTANT_COLLECTION": f"cli{uuid.uuid4().hex[:10]}"}
    base.pop("ASSISTANT_CHROMA_HOST", None)
    if store_mode == "server":
        host, port = request.getfixturevalue("chroma_server")
        base.update(ASSISTANT_CHROMA_HOST=host, ASSISTANT_CHROMA_PORT=str(port))

    def call(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assistant.cli", *args], capture_output=True, text=True,
                              env={**base, **(env or {})}, cwd=ROOT, timeout=300)

    return call


def test_add_then_search_puts_the_2035_passage_first(run):
    added = run("add", str(CORPUS))
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added")
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


def test_search_on_an_empty_store_indexes_the_shipped_corpus_first(run):
    found = run("search", "model city Yangtze", "-k", "2", "--json")
    assert found.returncode == 0, found.stderr
    assert len(json.loads(found.stdout)) == 2


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
