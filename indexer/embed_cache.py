"""Embeddings remembered by (model fingerprint, exact text), so a re-index embeds only what changed.

Plain SQLite with float32 bytes; never pickle. Safe to delete at any time: it only saves work,
so a damaged file (a torn copy, a disk error) is set aside as ``<name>.corrupt`` and a new
cache started, and a row that does not hold a whole vector is embedded again.

It does not grow for ever: a vector no build has stored, found or kept for ``KEEP_S`` (the text
of an edit long since replaced, every text of a model no longer used) is dropped, at most once
a day (:meth:`EmbeddingCache.prune`). The texts of the index being built are always kept, even
when the build took their vectors from the previous generation and never asked the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# SQLite's result codes for a file that is damaged or is no database at all; busy, locked or
# read-only files are not damaged and are never set aside.
_DAMAGED = frozenset({11, 26})  # SQLITE_CORRUPT, SQLITE_NOTADB


def is_damaged(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file itself is broken (as opposed to busy or locked)."""
    return (getattr(exc, "sqlite_errorcode", 0) & 0xFF) in _DAMAGED


def set_aside(path: Path, exc: sqlite3.DatabaseError) -> None:
    """Move a damaged cache file to ``<name>.corrupt`` (kept for a look, replaced next time)
    and drop its WAL files, which SQLite would otherwise replay into the new cache."""
    path = Path(path)
    aside = path.with_name(path.name + ".corrupt")
    logger.warning("cache %s is damaged (%s): moved to %s, starting a new one", path, exc, aside)
    try:
        os.replace(path, aside)
    except FileNotFoundError:  # another process set it aside first
        pass
    for suffix in ("-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def open_cache(
    path: Path, schema: str, upgrade: Callable[[sqlite3.Connection], None] | None = None
) -> sqlite3.Connection:
    """A connection to a cache database holding ``schema`` (then brought up to date by
    ``upgrade``); a damaged file is set aside and the cache started again rather than failing
    the build it only speeds up."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        con = sqlite3.connect(path)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(schema)
            if upgrade is not None:
                upgrade(con)
            return con
        except sqlite3.DatabaseError as exc:
            con.close()
            if attempt == 2 or not is_damaged(exc):
                raise
            set_aside(path, exc)
    raise AssertionError("unreachable")  # pragma: no cover


def cache_problem(path: Path) -> str:
    """Why the cache file at ``path`` cannot be opened or created ("" when it can): a folder
    this user may not write, a path under a file. The cache only saves work, so a build goes
    on without it, warned; `kb index` failed with sqlite's traceback ("unable to open
    database file"), naming neither the file nor the setting."""
    try:
        open_cache(path, _SCHEMA).close()
    except (sqlite3.Error, OSError) as exc:
        return f"{path} cannot be opened ({exc}); check KB_EMBED_CACHE_PATH"
    return ""


_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dim INTEGER, vec BLOB)"
KEEP_S = 30 * 86400  # a vector no build has used for this long is dropped
TOUCH_S = 86400  # how often a used vector's time is refreshed (not a write on every build)
_clock = time.time  # the cache's "now" (tests move it)


def _upgrade(con: sqlite3.Connection, now: int) -> None:
    """Give a cache written before vectors had a last-used time one (``now``: a fresh start
    for every vector it holds), and the index and the note that pruning needs."""
    columns = {row[1] for row in con.execute("PRAGMA table_info(vectors)")}
    with con:
        if "used" not in columns:
            con.execute(f"ALTER TABLE vectors ADD COLUMN used INTEGER NOT NULL DEFAULT {int(now)}")
        con.execute("CREATE INDEX IF NOT EXISTS vectors_used ON vectors (used)")
        con.execute("CREATE TABLE IF NOT EXISTS cache_notes (name TEXT PRIMARY KEY, value INTEGER)")


def _in_batches(keys: list[bytes], size: int = 500) -> Iterator[tuple[list[bytes], str]]:
    """``keys`` in slices of ``size`` with their "?,?,..." placeholders (SQLite caps the
    parameters of one statement)."""
    for i in range(0, len(keys), size):
        batch = keys[i : i + size]
        yield batch, ",".join("?" * len(batch))


class EmbeddingCache:
    """A persistent map from text to its vector under one model."""

    def __init__(
        self, path: Path, fingerprint: str, dimension: int | None = None, now: float | None = None
    ) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.dimension = dimension  # when known, rows of another width are not vectors of it
        self._now = int(_clock() if now is None else now)
        self._con = self._open()

    def _open(self) -> sqlite3.Connection:
        return open_cache(self.path, _SCHEMA, lambda con: _upgrade(con, self._now))

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.fingerprint}\x00{text}".encode()).digest()

    def _start_again(self, exc: sqlite3.DatabaseError) -> None:
        """The file broke while in use: set it aside and carry on with a new, empty cache."""
        if not is_damaged(exc):
            raise exc
        self._con.close()
        set_aside(self.path, exc)
        self._con = self._open()

    def _vector(self, dim: object, vec: object) -> np.ndarray | None:
        """The row's vector, or None when the row does not hold one whole, finite vector."""
        if not isinstance(dim, int) or not isinstance(vec, bytes) or dim <= 0:
            return None
        if len(vec) != 4 * dim or (self.dimension is not None and dim != self.dimension):
            return None
        out = np.frombuffer(vec, dtype=np.float32, count=dim)
        return out if np.isfinite(out).all() else None

    def lookup(self, texts: list[str]) -> tuple[dict[int, np.ndarray], list[int]]:
        """Vectors found, by position in ``texts``, and the positions still to embed."""
        keys = [self._key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        try:
            for batch, marks in _in_batches(keys):
                for key, dim, vec in self._con.execute(
                    f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", batch
                ):
                    vector = self._vector(dim, vec)
                    if vector is not None:
                        found[key] = vector
        except sqlite3.DatabaseError as exc:
            self._start_again(exc)
            found = {}
        hits = {i: found[k] for i, k in enumerate(keys) if k in found}
        self._touch(list(found))
        return hits, [i for i in range(len(texts)) if i not in hits]

    def _touch(self, keys: list[bytes]) -> None:
        """Mark ``keys`` used now, where their time is older than ``TOUCH_S``."""
        try:
            with self._con:
                for batch, marks in _in_batches(keys):
                    self._con.execute(
                        f"UPDATE vectors SET used = ? WHERE used < ? AND key IN ({marks})",
                        (self._now, self._now - TOUCH_S, *batch),
                    )
        except sqlite3.DatabaseError as exc:
            self._housekeeping_failed(exc)

    def _housekeeping_failed(self, exc: sqlite3.DatabaseError) -> None:
        """Last-used times and pruning only keep the file small: a cache that is busy or
        read-only must not fail the build over them (a damaged one is started again)."""
        if is_damaged(exc):
            self._start_again(exc)
        else:
            logger.warning("embedding cache %s: not pruned or marked used (%s)", self.path, exc)

    def store(self, texts: list[str], vectors: np.ndarray) -> None:
        rows = [
            (
                self._key(t),
                int(v.shape[0]),
                np.ascontiguousarray(v, np.float32).tobytes(),
                self._now,
            )
            for t, v in zip(texts, vectors, strict=True)
        ]
        for attempt in (1, 2):
            try:
                with self._con:
                    self._con.executemany(
                        "INSERT OR REPLACE INTO vectors (key, dim, vec, used) VALUES (?,?,?,?)",
                        rows,
                    )
                return
            except sqlite3.DatabaseError as exc:
                if attempt == 2:
                    raise
                self._start_again(exc)

    def prune(self, keep: Iterable[str]) -> int:
        """Drop vectors no build has used for ``KEEP_S``, except those of the texts in ``keep``
        (the index just built: its vectors may have come from the previous generation without
        asking the cache). Runs at most once per ``TOUCH_S``; returns how many were dropped."""
        try:
            done = self._con.execute(
                "SELECT value FROM cache_notes WHERE name = 'pruned'"
            ).fetchone()
            if done is not None and done[0] > self._now - TOUCH_S:
                return 0
            cutoff = self._now - KEEP_S
            stale = [
                k for (k,) in self._con.execute("SELECT key FROM vectors WHERE used < ?", (cutoff,))
            ]
            kept = {self._key(t) for t in keep} if stale else set()
            drop = [k for k in stale if k not in kept]
            # The index's own stay as they are: marking them used would rewrite every row.
            with self._con:
                self._con.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in drop])
                self._con.execute(
                    "INSERT OR REPLACE INTO cache_notes VALUES ('pruned', ?)", (self._now,)
                )
        except sqlite3.DatabaseError as exc:
            self._housekeeping_failed(exc)
            return 0
        if drop:
            logger.info(
                "embedding cache: dropped %d vectors unused for %d days", len(drop), KEEP_S // 86400
            )
        return len(drop)

    def close(self) -> None:
        self._con.close()
