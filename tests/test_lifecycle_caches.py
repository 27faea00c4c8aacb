"""The embedding cache only saves work: one that is damaged, truncated or not a database at
all must cost a re-embed, never a failed `kb index`, and must heal for the next run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from indexer.build import build_index
from indexer.search import Searcher

OPTIONS = {"max_tokens": 60, "min_tokens": 8}


def _edit(kb: Path, words: str) -> None:
    md = kb / "policies" / "coin-refunds.md"
    md.write_text(md.read_text(encoding="utf-8") + f"\n{words}\n", encoding="utf-8")


def _same_as_fresh(kb: Path, ix: Path, embedder, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    build_index(kb, fresh, embedder, **OPTIONS)
    got, want = Searcher(ix, embedder), Searcher(fresh, embedder)
    assert got.chunks() == want.chunks()
    np.testing.assert_allclose(got._matrix, want._matrix, atol=1e-6)


def _cache_works_again(kb: Path, embedder, cache: Path, tmp_path: Path) -> None:
    """What one new index directory embeds through the cache, a second one finds there."""
    build_index(kb, tmp_path / "other", embedder, cache_path=cache, **OPTIONS)
    again = build_index(kb, tmp_path / "another", embedder, cache_path=cache, **OPTIONS)
    assert again.embedded == 0 and again.reused > 0


def test_a_cache_file_that_is_not_a_database_is_set_aside_and_started_again(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    build_index(sample_kb, ix, fake_embedder, cache_path=cache, **OPTIONS)
    cache.write_bytes(b"not a database " * 300)  # a torn copy, a disk error, a wrong path
    _edit(sample_kb, "Refunds of gifted coins need a manager's approval.")

    report = build_index(sample_kb, ix, fake_embedder, cache_path=cache, **OPTIONS)
    assert not report.unchanged and report.embedded > 0
    _same_as_fresh(sample_kb, ix, fake_embedder, tmp_path)
    assert cache.with_name(cache.name + ".corrupt").read_bytes().startswith(b"not a database")

    _cache_works_again(sample_kb, fake_embedder, cache, tmp_path)


def test_a_cache_damaged_inside_is_set_aside_and_started_again(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    build_index(sample_kb, ix, fake_embedder, cache_path=cache, **OPTIONS)
    data = bytearray(cache.read_bytes())
    page = 4096
    assert len(data) > 3 * page  # the header page stays intact, the vectors' pages do not
    data[page:] = b"\xa5" * (len(data) - page)
    cache.write_bytes(bytes(data))
    _edit(sample_kb, "Refunds of gifted coins need a manager's approval.")

    report = build_index(sample_kb, ix, fake_embedder, cache_path=cache, **OPTIONS)
    assert report.embedded > 0
    _same_as_fresh(sample_kb, ix, fake_embedder, tmp_path)
    _cache_works_again(sample_kb, fake_embedder, cache, tmp_path)


def test_a_truncated_cached_vector_is_embedded_again(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.sqlite"
    build_index(sample_kb, tmp_path / "first", fake_embedder, cache_path=cache, **OPTIONS)
    con = sqlite3.connect(cache)
    with con:
        damaged = con.execute("UPDATE vectors SET vec = substr(vec, 1, 12)").rowcount
    con.close()
    assert damaged > 0

    ix = tmp_path / "ix"  # no generation to copy from: every vector comes from the cache
    report = build_index(sample_kb, ix, fake_embedder, cache_path=cache, **OPTIONS)
    assert report.embedded > 0
    _same_as_fresh(sample_kb, ix, fake_embedder, tmp_path)
    again = build_index(sample_kb, tmp_path / "other", fake_embedder, cache_path=cache, **OPTIONS)
    assert again.embedded == 0  # the damaged rows were replaced
