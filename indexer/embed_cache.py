"""Embeddings remembered by (model fingerprint, exact text), so a re-index embeds only what changed.

Plain SQLite with float32 bytes; never pickle. Safe to delete at any time: it only saves work,
so a damaged file (a torn copy, a disk error) is set aside as ``<name>.corrupt`` and a new
cache started, and a row that does not hold a whole vector is embedded again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
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


def open_cache(path: Path, schema: str) -> sqlite3.Connection:
    """A connection to a cache database holding ``schema``; a damaged file is set aside and
    the cache started again rather than failing the build it only speeds up."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        con = sqlite3.connect(path)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(schema)
            return con
        except sqlite3.DatabaseError as exc:
            con.close()
            if attempt == 2 or not is_damaged(exc):
                raise
            set_aside(path, exc)
    raise AssertionError("unreachable")  # pragma: no cover


_SCHEMA = "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dim INTEGER, vec BLOB)"


class EmbeddingCache:
    """A persistent map from text to its vector under one model."""

    def __init__(self, path: Path, fingerprint: str, dimension: int | None = None) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.dimension = dimension  # when known, rows of another width are not vectors of it
        self._con = open_cache(self.path, _SCHEMA)

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.fingerprint}\x00{text}".encode()).digest()

    def _start_again(self, exc: sqlite3.DatabaseError) -> None:
        """The file broke while in use: set it aside and carry on with a new, empty cache."""
        if not is_damaged(exc):
            raise exc
        self._con.close()
        set_aside(self.path, exc)
        self._con = open_cache(self.path, _SCHEMA)

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
            for i in range(0, len(keys), 500):
                batch = keys[i : i + 500]
                marks = ",".join("?" * len(batch))
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
        return hits, [i for i in range(len(texts)) if i not in hits]

    def store(self, texts: list[str], vectors: np.ndarray) -> None:
        rows = [
            (self._key(t), int(v.shape[0]), np.ascontiguousarray(v, np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        for attempt in (1, 2):
            try:
                with self._con:
                    self._con.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?,?)", rows)
                return
            except sqlite3.DatabaseError as exc:
                if attempt == 2:
                    raise
                self._start_again(exc)

    def close(self) -> None:
        self._con.close()
