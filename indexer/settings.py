"""One settings object for the whole product, read from ``KB_*`` environment variables."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BUNDLED_MODEL = "bundled:all-MiniLM-L6-v2"


def _project_root() -> Path | None:
    """The checkout this code runs from (pyproject.toml beside the packages), else None (an
    installed copy, whose relative paths stay relative to the working folder)."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "kb_cli").is_dir() else None


PROJECT_ROOT = _project_root()
_ORIGIN = re.compile(r"https?://[^/?#\s@]+", re.IGNORECASE)  # a browser's Origin header
# The retrieval modes the Searcher knows (indexer.search.MODES); the API's schema uses it too.
SearchMode = Literal["dense", "bm25", "hybrid"]


class Settings(BaseSettings):
    """Validated configuration; tests build their own instead of touching the environment."""

    model_config = SettingsConfigDict(env_prefix="KB_", env_file=None, extra="ignore")

    # Embedding model: the bundled all-MiniLM-L6-v2, or any sentence-transformers name or path.
    model: str = BUNDLED_MODEL
    device: str = "cpu"
    embed_batch_size: int = Field(0, ge=0, le=1024)  # 0: the backend's best
    # onnx-int8 (exported once into model_cache_dir; ~2x faster, ndcg within 0.01 of fp32) or
    # torch (sentence-transformers fp32). embed_threads 0: the runtime's default (all cores).
    embed_backend: Literal["onnx-int8", "torch"] = "onnx-int8"
    model_cache_dir: Path = Path("var/models")
    embed_threads: int = Field(0, ge=0, le=256)
    # Sentence-window vectors: embedded as their own short texts (best first-passage quality),
    # or pooled from the passage's own model pass (~2x faster builds, lower evidence_hit@1;
    # measured in docs/retrieval.md and bench/RESULTS.md).
    window_vectors: Literal["separate", "pooled"] = "separate"
    # A build with at least this many separate windows to embed first publishes a generation
    # whose new windows are pooled, searchable in about half the time, then the complete one
    # (indexer/build.py; bench/RESULTS.md). 0: one generation per build.
    early_windows: int = Field(2000, ge=0)

    # Backend: empty for the local files below (the default), or a postgresql:// URL to keep
    # the index in PostgreSQL with pgvector (several API processes can then share it).
    database_url: str = ""
    pg_data_dir: Path = Path("var/pgdata")  # where `kb db start` keeps a local server's data
    # pgvector's HNSW proposes pg_candidates passages (searching pg_ef_search wide) that are then
    # scored exactly; recall@10 against exact search at 100k passages: 0.905 with 400 and
    # ef_search 400, 0.963 with 400/1000, 0.972 with 800/1000 (bench/RESULTS.md has the latest).
    pg_candidates: int = Field(800, ge=10, le=10_000)
    pg_ef_search: int = Field(1000, ge=10, le=1000)  # pgvector allows at most 1000

    # Where indexes live and what gets indexed by default.
    index_dir: Path = Path("var/index")
    # Vectors by (model, text): re-indexing embeds only new or changed passages. None: off.
    embed_cache_path: Path | None = Path("var/embed-cache.sqlite")
    kb_dir: Path = Path("kb")

    # Chunking, in the embedding model's own tokens.
    chunk_max_tokens: int = Field(200, ge=16, le=2048)
    chunk_min_tokens: int = Field(64, ge=0, le=512)

    # Retrieval: dense, bm25 or hybrid. Dense scores mix the passage's similarity with its best
    # sentence window's (window_weight); hybrid boosts them by normalised BM25 (lexical_boost),
    # fully at the best dense score and not at all lexical_reach (cosine) below it (0: no limit;
    # measured trade-off of a limit in docs/retrieval-experiments.md).
    # Checked here, so a mistyped KB_SEARCH_MODE stops the start instead of failing every search.
    search_mode: SearchMode = "hybrid"
    window_weight: float = Field(0.5, ge=0.0, le=1.0)
    lexical_boost: float = Field(0.3, ge=0.0, le=5.0)
    lexical_reach: float = Field(0.0, ge=0.0, le=2.0)
    # The boost counts fully when BM25's best passage stands out of its top ten, and down to
    # this share of it when the question's words score many passages alike (1: always fully).
    lexical_peak_floor: float = Field(0.5, ge=0.0, le=1.0)
    # Hybrid raises a document's passages by this share of its second-best passage's score.
    document_support: float = Field(0.05, ge=0.0, le=1.0)
    # Results show at most this many passages of one section while other sections remain.
    per_section: int = Field(2, ge=1, le=50)
    # Read short forms the knowledge base defines ("BSP") to the model with their long form
    # (indexer/acronyms.py); the keyword index still matches what was typed. Off: on the shared
    # sets it moved a few questions each way (docs/retrieval-experiments.md).
    expand_acronyms: bool = False
    # Search a country the question names ("user in malaysia") also by the market code the
    # documents' `markets` metadata uses ("MY"), for keywords, the highlight and the model
    # (indexer/markets.py).
    market_names: bool = True
    # A question that names a version ("v2.1"), a date ("delivered 25 aug 2026") or an "old"
    # policy is searched in the version it asks about, unless the caller set as_of or asked for
    # superseded versions (indexer/versions.py).
    question_versions: bool = True
    # How a date in digits that reads both ways ("02/10/2026") is read: day first (dmy), month
    # first (mdy), or auto: only when one reading is possible or on or before today, else not.
    date_order: Literal["auto", "dmy", "mdy"] = "auto"
    # The version in force stays searchable beside the one the question asks about, its scores
    # times this weight, so the asked version leads and a misread date never hides today's
    # rule; 0 leaves it out (docs/retrieval-experiments.md).
    in_force_weight: float = Field(0.75, ge=0.0, le=1.0)
    # Read a keyword typed with one slip ("refnd") as the index term one edit away for BM25,
    # and as the model's word for it, when the typed word is in no dictionary the model knows
    # (indexer/spelling.py).
    spell_correction: bool = True
    # Past ann_min_chunks passages an IVF index proposes ann_candidates passages (probing
    # ann_nprobe lists) that are then scored exactly; below it every passage is scored.
    ann_min_chunks: int = Field(5_000, ge=0)
    ann_nprobe: int = Field(64, ge=1, le=4096)
    ann_candidates: int = Field(400, ge=10, le=10_000)
    # Below this best dense similarity a search says answerable=false (calibrated on kb/).
    answerable_threshold: float = Field(0.35, ge=-1.0, le=1.0)

    # Query limits, enforced by the Searcher so the API and CLI agree.
    max_query_chars: int = Field(1000, ge=1)
    default_top_k: int = Field(5, ge=1)
    max_top_k: int = Field(50, ge=1)

    # HTTP.
    api_host: str = "127.0.0.1"
    api_port: int = Field(8000, ge=1, le=65535)
    ui_port: int = Field(8501, ge=1, le=65535)
    # The API the UI calls; "" is this machine's KB_API_PORT (ui/common.py reads it per call,
    # so a test or `kb ui --api-url` can point one UI process elsewhere).
    api_url: str = ""
    # API worker processes (0: one per core). Each computes on its own cores without sharing a
    # GIL (measured at 100k chunks on 2 cores: ~1.5x the requests/s of one process); window
    # vectors are memory-mapped, so workers share them. Rate-limit buckets are rows beside the
    # keys (api/security.py), so workers share those too.
    api_workers: int = Field(0, ge=0, le=64)
    # Security. Without auth every caller is an admin, so the server then listens on loopback
    # only. Keys live hashed in keys_path; limits bound what one request or key can cost.
    auth_required: bool = False
    keys_path: Path = Path("var/keys.sqlite")
    rate_limit_per_minute: int = Field(600, ge=0)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    request_timeout_s: float = Field(10.0, gt=0)
    # Browser apps on other origins that may call the API (CORS), comma-separated origins
    # ("https://kb-tools.example.com,http://localhost:3000"), or "*" with keys on. Empty (the
    # default): no CORS headers, so browsers let only pages of the API's own origin read it.
    cors_origins: Annotated[list[str], NoDecode] = []
    # Searches one API worker computes at once (0: one per core); the rest wait their turn in
    # order instead of all sharing the cores and the worker's GIL (bench/PROFILE.md).
    search_slots: int = Field(0, ge=0, le=256)
    # How often the API looks for a newly published index generation (0: never).
    reload_interval_s: float = Field(0.1, ge=0.0)

    # Query log and feedback (SQLite; personal data is redacted before anything is written),
    # and where the evaluator page finds labelled sets and caches their indexes.
    log_path: Path = Path("var/querylog.sqlite")
    datasets_dir: Path = Path("../shared/datasets")
    eval_cache_dir: Path = Path("var/eval-cache")
    # Evaluation runs started from the API (POST /eval/runs): how many may run or wait their
    # turn (more get a 429), and how long a finished one and its result are kept for its page.
    eval_max_runs: int = Field(4, ge=1, le=100)
    eval_keep_s: float = Field(3600.0, gt=0)

    @field_validator("embed_cache_path", mode="before")
    @classmethod
    def _cache_off(cls, value: object) -> object:
        """An empty value, 'off' or 'none' switches the embedding cache off."""
        if value is None or str(value).strip().lower() in ("", "off", "none"):
            return None
        return value

    @field_validator(
        "index_dir", "kb_dir", "log_path", "datasets_dir", "eval_cache_dir", "model_cache_dir",
        "embed_cache_path", "keys_path", "pg_data_dir",
    )  # fmt: skip
    @classmethod
    def _expand(cls, value: Path | None) -> Path | None:
        """``~`` expanded, and a relative path read from the project folder: `kb` run from
        another folder made a second var/ there (a fresh model export, an empty embedding
        cache, no index or keys found)."""
        if value is None:
            return None
        path = Path(value).expanduser()
        if path.is_absolute() or PROJECT_ROOT is None:
            return path
        return Path(os.path.normpath(PROJECT_ROOT / path))  # '../shared' read as its folder

    @field_validator("max_top_k")
    @classmethod
    def _admits_default(cls, value: int, info: ValidationInfo) -> int:
        """Else every search naming no top_k failed, with a 422 that blamed the caller."""
        default = info.data.get("default_top_k")
        if default is not None and value < default:
            raise ValueError(f"must be at least KB_DEFAULT_TOP_K ({default})")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins_listed(cls, value: object) -> object:
        """A comma-separated list, as an environment variable gives it."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """Origins as browsers send them (scheme://host[:port], lower case): one written with a
        path or a trailing slash would never match, and CORS would fail with no clue why.
        "*" needs keys on: with keys off every caller is an admin, so any page the user
        opens could read the whole knowledge base through their browser."""
        out = []
        for origin in value:
            if origin == "*":
                if not info.data.get("auth_required"):
                    raise ValueError(
                        "'*' lets any web page read the API from a browser; with "
                        "KB_AUTH_REQUIRED=false every caller is an admin: name the origins, or "
                        "require API keys"
                    )
                out.append(origin)
                continue
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin: write scheme://host[:port], such as "
                    "https://kb-tools.example.com, without a path or a trailing slash"
                )
            out.append(origin.lower())
        return out

    @field_validator("chunk_min_tokens")
    @classmethod
    def _below_max(cls, value: int, info: ValidationInfo) -> int:
        """A passage cannot be both under the maximum and over a larger minimum."""
        most = info.data.get("chunk_max_tokens")
        if most is not None and value >= most:
            raise ValueError(f"must be below KB_CHUNK_MAX_TOKENS ({most})")
        return value

    def api_local_url(self) -> str:
        """Where a process on this machine reaches the API ``kb serve`` starts: its host, or
        127.0.0.1 when it listens on every interface (0.0.0.0, ::). A UI and a health check
        that always called 127.0.0.1 found nothing when the API listened on one address only
        (KB_API_HOST=10.0.0.5)."""
        host = self.api_host.strip() or "127.0.0.1"
        if host in ("0.0.0.0", "::", "[::]"):
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):  # an IPv6 address goes in brackets
            host = f"[{host}]"
        return f"http://{host}:{self.api_port}"

    def worker_count(self) -> int:
        """API worker processes: ``api_workers``, or one per core."""
        return self.api_workers or usable_cores()

    def search_slot_count(self) -> int:
        """Searches an API worker runs at once: ``search_slots``, or one per core (a worker
        that was handed more connections than the other can still use both cores)."""
        return self.search_slots or usable_cores()


def usable_cores() -> int:
    """Cores this process may run on: the affinity mask, not the host's count (a container may
    be given 2 of 64)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # no affinity call on this platform (macOS)
        return os.cpu_count() or 1


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; tests call ``get_settings.cache_clear()``."""
    return Settings()
