"""A one-shot re-index knows unchanged files by their stat; any change to one is still seen."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from indexer import stat_cache
from indexer.stat_cache import StatCache


def _hash_with(cache_path: Path, file: Path, racy_s: float | None = 0.0, salt: bytes = b"s"):
    """(the hash, whether it had to be computed) through a fresh cache, closed after."""
    calls = []

    def compute() -> str:
        calls.append(1)
        side = file.parent / "side"
        return "h:" + file.read_text() + ":" + (side.read_text() if side.exists() else "-")

    cache = StatCache(cache_path, racy_s=racy_s)
    try:
        return cache.source_hash(file, "doc", salt, file.parent / "side", compute), bool(calls)
    finally:
        cache.close()


def _rewrite(path: Path, text: str) -> None:
    time.sleep(0.05)  # past the file system's timestamp tick, as any later edit is
    path.write_text(text)


def test_an_unchanged_file_is_known_by_its_stat_and_any_change_is_seen(tmp_path: Path) -> None:
    db, f, side = tmp_path / "c.sqlite", tmp_path / "a.md", tmp_path / "side"
    f.write_text("one")
    side.write_text("meta")
    assert _hash_with(db, f) == ("h:one:meta", True)
    assert _hash_with(db, f) == ("h:one:meta", False)  # remembered across processes

    _rewrite(f, "two")  # same size, new bytes
    assert _hash_with(db, f) == ("h:two:meta", True)
    _rewrite(side, "mota")  # the sidecar alone
    assert _hash_with(db, f) == ("h:two:mota", True)
    assert _hash_with(db, f, salt=b"other loader") == ("h:two:mota", True)
    assert _hash_with(db, f) == ("h:two:mota", False)

    side.unlink()  # a sidecar that goes away is a change too
    assert _hash_with(db, f) == ("h:two:-", True)
    assert _hash_with(db, f) == ("h:two:-", False)


def test_a_file_changed_just_before_hashing_is_not_remembered(tmp_path: Path) -> None:
    db, f = tmp_path / "c.sqlite", tmp_path / "a.md"
    f.write_text("fresh")
    (tmp_path / "side").write_text("")
    # a second write in the same timestamp tick would keep the stat: so no entry yet
    assert _hash_with(db, f, racy_s=None)[1]
    assert _hash_with(db, f, racy_s=None)[1]
    assert _hash_with(db, f, racy_s=0.0)[1]  # recorded now that it is old enough (here: 0 s)
    assert not _hash_with(db, f, racy_s=None)[1]


def test_entries_long_unused_are_dropped(tmp_path: Path, monkeypatch) -> None:
    db, f = tmp_path / "c.sqlite", tmp_path / "a.md"
    f.write_text("x")
    (tmp_path / "side").write_text("")
    _hash_with(db, f)
    later = time.time() + stat_cache.KEEP_S + 10
    monkeypatch.setattr(stat_cache.time, "time", lambda: later)
    other = tmp_path / "b.md"
    other.write_text("y")
    _hash_with(db, other)  # any build's close sweeps the old entries
    monkeypatch.undo()
    assert _hash_with(db, f)[1]


@pytest.fixture
def old_enough(monkeypatch) -> None:
    """Files written by the test count as settled (the racy margin is for real edits)."""
    monkeypatch.setattr(stat_cache, "RACY_S", 0.0)


def test_a_one_shot_reindex_reads_only_the_changed_file(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch, old_enough
) -> None:
    import indexer.loaders as loaders
    from indexer.build import build_index

    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"

    def build():
        return build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8,
                           cache_path=cache)  # fmt: skip

    first = build()
    hashed: list[str] = []
    real = loaders.source_hash
    monkeypatch.setattr(loaders, "source_hash", lambda p, *a: hashed.append(p.name) or real(p, *a))
    assert build().unchanged and hashed == []  # not one file read

    md = sample_kb / "policies" / "coin-refunds.md"
    _rewrite(md, md.read_text().replace("refund", "refond", 1))
    edited = build()
    assert hashed == ["coin-refunds.md"] and not edited.unchanged
    assert edited.documents == first.documents
