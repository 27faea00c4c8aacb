"""Per-key rate limits shared by every API worker: the buckets live beside the keys (SQLite
file or the postgres backend's database), so two workers grant the limit once, not twice."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from api.security import KEYS_SCHEMA, RateLimitedError, RateLimiter
from indexer.sqldb import PostgresDb, SqliteDb


def _allowed(limiter: RateLimiter, key_id: str, attempts: int) -> int:
    allowed = 0
    for _ in range(attempts):
        try:
            limiter.check(key_id)
            allowed += 1
        except RateLimitedError:
            pass
    return allowed


def _burst(limiters: list[RateLimiter], key_id: str, attempts: int) -> tuple[int, float]:
    """Every limiter tries ``attempts`` times at once (a thread each); allowed in all, seconds."""
    counts = [0] * len(limiters)

    def run(i: int) -> None:
        counts[i] = _allowed(limiters[i], key_id, attempts)

    start = time.monotonic()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(limiters))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts), time.monotonic() - start


def test_workers_on_one_keys_file_share_the_budget(tmp_path: Path) -> None:
    # Four connections to one file stand in for four worker processes (each has its own).
    path = tmp_path / "keys.sqlite"
    limiters = [RateLimiter(30, SqliteDb(path, KEYS_SCHEMA)) for _ in range(4)]
    allowed, took = _burst(limiters, "k1", 20)
    assert took < 2.0  # a refill of 0.5 a second adds at most one request
    assert 30 <= allowed <= 31  # 80 tried; kept in memory each worker let 30 through: 80
    assert _allowed(limiters[0], "k2", 5) == 5  # a bucket per key


def test_the_shared_bucket_refills_and_says_how_long_to_wait(tmp_path: Path) -> None:
    limiter = RateLimiter(60, SqliteDb(tmp_path / "keys.sqlite", KEYS_SCHEMA))  # one a second
    assert _allowed(limiter, "k", 60) == 60
    with pytest.raises(RateLimitedError) as refused:
        limiter.check("k")
    assert 0 < refused.value.retry_after <= 1.0
    time.sleep(refused.value.retry_after + 0.05)
    limiter.check("k")  # refilled: one more


def test_a_clock_that_went_back_neither_refills_nor_fails(tmp_path: Path) -> None:
    db = SqliteDb(tmp_path / "keys.sqlite", KEYS_SCHEMA)
    limiter = RateLimiter(3, db)
    assert _allowed(limiter, "k", 3) == 3
    db.execute("UPDATE rate_buckets SET updated = updated + 3600 WHERE key_id = 'k'")
    with pytest.raises(RateLimitedError) as refused:
        limiter.check("k")
    assert refused.value.retry_after == pytest.approx(20.0, abs=1.0)  # one token at 3 a minute


def test_limiters_on_the_postgres_database_share_the_budget(pg_database: str) -> None:
    limiters = [RateLimiter(30, PostgresDb(pg_database, ("rate_buckets",))) for _ in range(3)]
    allowed, took = _burst(limiters, "k1", 20)
    assert took < 2.0
    assert 30 <= allowed <= 31
    with pytest.raises(RateLimitedError):
        limiters[1].check("k1")


class _ReadOnly(SqliteDb):
    """A keys database that can be read but not written (a read-only mount)."""

    def execute(self, sql: str, params=()) -> int:
        raise sqlite3.OperationalError("attempt to write a readonly database")


def test_a_keys_database_that_cannot_be_written_still_limits_each_worker(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limiter = RateLimiter(3, _ReadOnly(tmp_path / "keys.sqlite", KEYS_SCHEMA))
    with caplog.at_level("WARNING", logger="api.security"):
        assert _allowed(limiter, "k", 5) == 3  # not a 500 on every request, and still limited
    assert "count per API worker" in caplog.text
