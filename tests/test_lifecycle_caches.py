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


DAY = 86400


def _keys(cache: Path) -> set[bytes]:
    with sqlite3.connect(cache) as con:
        return {k for (k,) in con.execute("SELECT key FROM vectors")}


def test_vectors_long_unused_are_dropped_and_those_in_use_kept(tmp_path: Path) -> None:
    from indexer.embed_cache import KEEP_S, EmbeddingCache

    path, t0 = tmp_path / "cache.sqlite", 1_700_000_000
    vecs = np.eye(3, dtype=np.float32)
    first = EmbeddingCache(path, "fp", 3, now=t0)
    first.store(["asked again", "in the index", "replaced long ago"], vecs)
    assert first.prune([]) == 0  # nothing is old yet
    first.close()

    later = EmbeddingCache(path, "fp", 3, now=t0 + KEEP_S + DAY)
    assert len(later.lookup(["asked again"])[0]) == 1  # a hit counts as a use
    assert later.prune(["in the index"]) == 1
    assert _keys(path) == {later._key("asked again"), later._key("in the index")}
    later.store(["replaced long ago"], vecs[2:])
    assert later.prune([]) == 0  # once a day at most
    later.close()

    # a text kept only for being in the index goes once no index holds it; one found or
    # stored is marked used, and goes only when unused for long again
    assert EmbeddingCache(path, "fp", 3, now=t0 + KEEP_S + 2 * DAY).prune([]) == 1
    assert EmbeddingCache(path, "fp", 3, now=t0 + 2 * KEEP_S + 3 * DAY).prune([]) == 2
    assert _keys(path) == set()


def test_a_cache_from_before_last_used_times_keeps_its_vectors(tmp_path: Path) -> None:
    from indexer.embed_cache import KEEP_S, EmbeddingCache

    path = tmp_path / "cache.sqlite"
    key = EmbeddingCache(tmp_path / "probe.sqlite", "fp", 3)._key("old text")
    with sqlite3.connect(path) as con:  # the layout written before vectors had a time
        con.execute("CREATE TABLE vectors (key BLOB PRIMARY KEY, dim INTEGER, vec BLOB)")
        con.execute("INSERT INTO vectors VALUES (?, 3, ?)", (key, np.ones(3, np.float32).tobytes()))
    cache = EmbeddingCache(path, "fp", 3, now=1_700_000_000)
    hits, _ = cache.lookup(["old text"])
    np.testing.assert_array_equal(hits[0], np.ones(3, np.float32))
    assert cache.prune([]) == 0  # its time starts at the upgrade, not at zero
    cache.close()
    assert EmbeddingCache(path, "fp", 3, now=1_700_000_000 + KEEP_S + DAY).prune([]) == 1


def test_a_build_keeps_what_its_index_holds_and_drops_replaced_texts(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """Vectors the previous generation gave a build (the cache never asked) stay; the vectors
    of a text an edit replaced a month ago go."""
    from indexer import embed_cache

    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    build_index(sample_kb, ix, fake_embedder, cache_path=cache, **OPTIONS)
    _edit(sample_kb, "Refunds of gifted coins need a manager's approval.")
    build_index(sample_kb, ix, fake_embedder, cache_path=cache, **OPTIONS)
    before = _keys(cache)

    now = embed_cache._clock()
    monkeypatch.setattr(embed_cache, "_clock", lambda: now + embed_cache.KEEP_S + DAY)
    _edit(sample_kb, "Zebra parcels are refunded only on Tuesdays.")
    report = build_index(sample_kb, ix, fake_embedder, cache_path=cache, **OPTIONS)
    assert 0 < report.embedded < report.reused  # the rest came from the previous generation

    # exactly the texts of the index now built: the same keys a fresh cache would hold
    fresh = tmp_path / "fresh.sqlite"
    build_index(sample_kb, tmp_path / "ix2", fake_embedder, cache_path=fresh, **OPTIONS)
    assert _keys(cache) == _keys(fresh)
    assert before - _keys(cache)  # the passage as it was before the edits is gone
    _cache_works_again(sample_kb, fake_embedder, cache, tmp_path)


def test_a_read_only_cache_still_gives_its_vectors(tmp_path: Path, caplog) -> None:
    """Marking vectors used is housekeeping: a cache the build may not write to still serves."""
    from indexer.embed_cache import KEEP_S, EmbeddingCache

    path = tmp_path / "cache.sqlite"
    cache = EmbeddingCache(path, "fp", 3, now=1_700_000_000)
    cache.store(["a"], np.ones((1, 3), np.float32))
    cache.close()
    later = EmbeddingCache(path, "fp", 3, now=1_700_000_000 + KEEP_S + DAY)
    later._con.execute("PRAGMA query_only = ON")  # as a read-only file or mount behaves
    hits, missing = later.lookup(["a"])
    assert len(hits) == 1 and missing == []
    assert later.prune([]) == 0
    assert "not pruned or marked used" in caplog.text
