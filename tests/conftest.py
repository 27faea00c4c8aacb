"""Shared fixtures: a fake encoder for fast unit tests, the real bundled model for integration.

Every index a test builds lives in tmp_path; binary fixtures (PDF, DOCX) are generated here by
``tests/fixture_files.py`` rather than committed.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import numpy as np
import pytest

from tests import fixture_files

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parent.parent
KB_DIR = REPO / "kb"
_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


class FakeEmbedder:
    """Hashed bag-of-words vectors: lexical similarity without a model, in microseconds."""

    model_name = "fake-hash-64"
    fingerprint = "fake-hash-64@v1"
    batch_size = 16
    max_tokens = 128
    dimension = 64
    export_sha256 = None  # no int8 file

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN_RE.findall(text)) + 2

    def encode(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                out[i, h % self.dimension] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out

    def encode_with_spans(
        self, texts: list[str], spans: list[list[tuple[int, int]]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Span vectors are the spans' own bag-of-words vectors (the real one pools tokens)."""
        pooled = [self.encode([text[a:b] for a, b in text_spans]) for text, text_spans in
                  zip(texts, spans, strict=True)]  # fmt: skip
        return self.encode(texts), pooled

    def warm_up(self) -> None:
        pass


@pytest.fixture(autouse=True)
def _query_log_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every API a test builds logs searches into tmp_path, never into the repo's var/."""
    monkeypatch.setenv("KB_LOG_PATH", str(tmp_path / "querylog.sqlite"))


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def sample_kb(tmp_path: Path) -> Path:
    """A small knowledge base with one file per format plus broken files."""
    root = tmp_path / "kb"
    fixture_files.write_sample_kb(root)
    return root


@pytest.fixture(scope="module")
def indexed_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample knowledge base indexed once per test module (fake encoder, local files)."""
    from indexer.build import build_index

    root = tmp_path_factory.mktemp("sample")
    fixture_files.write_sample_kb(root / "kb")
    build_index(root / "kb", root / "ix", FakeEmbedder(), max_tokens=60, min_tokens=8)
    return root / "ix"


@pytest.fixture(scope="session")
def real_embedder():
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    from indexer.embedding import Embedder

    embedder = Embedder()
    embedder.warm_up()
    return embedder


@pytest.fixture(scope="session")
def kb_index(real_embedder, tmp_path_factory) -> Path:
    """The real kb/ indexed with the real model, once per session."""
    from indexer.build import build_index

    index_dir = tmp_path_factory.mktemp("kb-index") / "index"
    build_index(KB_DIR, index_dir, real_embedder)
    return index_dir


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory) -> str:
    """An embedded PostgreSQL with pgvector for the whole session (stopped at exit)."""
    from indexer import pgdev

    return pgdev.start(tmp_path_factory.mktemp("pg") / "data", keep_running=False)


@pytest.fixture
def pg_database(pg_server: str) -> str:
    """A fresh, migrated database on the session's server: one per test, nothing shared."""
    import uuid

    import psycopg

    from indexer import pgstore

    name = f"kb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    url = _with_database(pg_server, name)
    pgstore.migrate(url)
    return url


def _with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))
