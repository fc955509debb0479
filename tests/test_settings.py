"""Settings come from defaults, an optional TOML file and ASSISTANT_* variables, in that order."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from assistant.settings import Settings


def test_defaults_are_local_and_safe(monkeypatch):
    for name in ("ASSISTANT_HOST", "ASSISTANT_CHROMA_HOST", "ASSISTANT_DATA_DIR", "ASSISTANT_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.load()
    assert settings.host == "127.0.0.1"
    assert settings.data_dir == Path("data")
    assert not settings.server_mode
    assert settings.corpus_dir.name == "corpus" and settings.corpus_dir.is_dir()


def test_environment_overrides_file_and_overrides_win(monkeypatch, tmp_path):
    config = tmp_path / "assistant.toml"
    config.write_text('top_k = 7\nchroma_host = "10.0.0.9"\nchunk_chars_zh = 300\n')
    monkeypatch.setenv("ASSISTANT_CONFIG", str(config))
    monkeypatch.setenv("ASSISTANT_TOP_K", "9")
    settings = Settings.load(chunk_chars_zh=250)
    assert settings.top_k == 9
    assert settings.chroma_host == "10.0.0.9" and settings.server_mode
    assert settings.chunk_chars_zh == 250


def test_blank_environment_values_mean_unset(monkeypatch):
    monkeypatch.setenv("ASSISTANT_CHROMA_HOST", "  ")
    assert Settings.load().server_mode is False


def test_invalid_values_are_rejected_with_the_field_name(monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOP_K", "0")
    with pytest.raises(ValidationError, match="top_k"):
        Settings.load()
    monkeypatch.delenv("ASSISTANT_TOP_K")
    monkeypatch.setenv("ASSISTANT_EMBEDDING_BACKEND", "word2vec")
    with pytest.raises(ValidationError, match="embedding_backend"):
        Settings.load()
