"""One small SQL interface for the operational records: query log, feedback, API keys, access.

With the local backend they live in SQLite files; with the postgres backend in the same
database as the index, so every API replica reads and writes one source of truth. Callers write
portable SQL with ``?`` placeholders and get rows as dicts; nothing above this module knows
which engine answered. The tables are the same on both (PostgreSQL's come from
``indexer/migrations``); each PostgreSQL table has an identity column named ``rowid`` so the
same ``ORDER BY ts, rowid`` keeps insertion order on both engines.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from indexer.errors import IndexNotFoundError, KBError
from indexer.settings import Settings


class SqlDb(Protocol):
    """What the records stores need: statements that commit on their own, queries as dicts."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; returns the number of rows it changed."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class SqliteDb:
    """One SQLite file shared by the process's threads (one connection behind a lock)."""

    def __init__(self, path: Path | str, schema: str, private: bool = False) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            if private:
                owner_only(Path(path))
        self._con = sqlite3.connect(str(path), check_same_thread=False)
        # WAL without a sync per commit: a write costs microseconds, not two fsyncs, on every
        # search; a power cut can lose the last few entries but never corrupts the file.
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock, self._con:
            self._con.executescript(schema)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock, self._con:
            return self._con.execute(sql, tuple(params)).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._con.execute(sql, tuple(params)).fetchall()]

    def close(self) -> None:
        self._con.close()


class PostgresDb:
    """Pooled autocommit connections to the postgres backend's database."""

    def __init__(self, url: str, tables: Sequence[str]) -> None:
        from indexer.pgstore import ConnectionPool

        self._pool = ConnectionPool(lambda: _autocommit(url))
        missing = [t for t in tables if not self._table_exists(t)]
        if missing:
            raise IndexNotFoundError(
                f"the database has no table {missing[0]!r}: run `kb db migrate`"
            )

    def _table_exists(self, table: str) -> bool:
        rows = self.query("SELECT to_regclass(?) IS NOT NULL AS found", (table,))
        return bool(rows[0]["found"])

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._pool.connection() as con:
            return con.execute(_placeholders(sql), tuple(params)).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._pool.connection() as con:
            return list(con.execute(_placeholders(sql), tuple(params)).fetchall())

    def close(self) -> None:
        self._pool.close()


def _autocommit(url: str) -> Any:
    import psycopg
    from psycopg.rows import dict_row

    try:
        return psycopg.connect(url, autocommit=True, row_factory=dict_row)
    except psycopg.OperationalError as exc:
        raise KBError(f"cannot connect to the database: {exc}".strip()) from exc


def _placeholders(sql: str) -> str:
    """SQLite's ``?`` placeholders as psycopg's ``%s`` (our SQL has no literal ? or %)."""
    return sql.replace("?", "%s")


def owner_only(path: Path) -> None:
    """Create ``path`` readable and writable by its owner alone, or take group and others'
    access away from it and its WAL files. SQLite gives the WAL files the database's mode."""
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if name.stat().st_mode & 0o077:
                name.chmod(0o600)
        except OSError:  # absent, or not ours to change: the owner set it on purpose
            continue


def as_db(path_or_db: Path | str | SqlDb, schema: str, private: bool = False) -> SqlDb:
    """A path opens (or creates) that SQLite file with ``schema`` (``private``: its owner's
    alone); a database is used as is."""
    if isinstance(path_or_db, (str, Path)):
        return SqliteDb(path_or_db, schema, private)
    return path_or_db


def open_db(
    settings: Settings,
    sqlite_path: Path | str,
    schema: str,
    tables: Sequence[str],
    private: bool = False,
):
    """The records database for these settings: the backend's PostgreSQL, or a SQLite file
    (``private``: readable by its owner alone)."""
    from indexer.pgstore import is_database_url

    if is_database_url(settings.database_url):
        return PostgresDb(settings.database_url, tables)
    return SqliteDb(sqlite_path, schema, private)
