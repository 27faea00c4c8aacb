"""Source hashes remembered by file stat, so a one-shot ``kb index`` need not read every file.

A file's source hash (``loaders.source_hash``) decides whether it is parsed again; computing it
reads the whole file, about 1.2 s per GB here, every run. This map from a file's stat (device,
inode, size, mtime and ctime, and its sidecar's) to the hash it had lets an unchanged file be
recognised from one ``stat`` call, as git recognises unchanged files in its index.

A write always moves ctime, which no tool can set back, so a changed file never matches. A
file changed within ``RACY_S`` of being hashed is not remembered (git's "racy" rule): a second
write in the same timestamp tick, on a file system with coarse timestamps, would otherwise go
unseen. It shares the indexer's cache file (``var/embed-cache.sqlite``) and, like it, is safe
to delete at any time: it only saves work, so a damaged file is set aside and started again.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from indexer.embed_cache import is_damaged, open_cache, set_aside

RACY_S = 2.0  # seconds between a file's last change and its hash before the stat is trusted
KEEP_S = 30 * 86400  # an entry no build has used for this long is dropped (the file changed)
TOUCH_S = 86400  # a used entry's time is refreshed at most this often (no write every run)


def _stat(name: str) -> tuple[int, ...] | None:
    """The stat a file's cached hash is keyed by; None for a file that cannot be stat'ed
    (gone, a link loop, a folder it may not enter): its reader then says why, instead of
    the stat ending the whole build."""
    try:
        st = os.stat(name)
    except OSError:
        return None
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS source_stats "
    "(key BLOB PRIMARY KEY, source_hash TEXT NOT NULL, used INTEGER NOT NULL)"
)


class StatCache:
    """A persistent map from (file stat, place, loader salt) to the file's source hash."""

    def __init__(self, path: Path, racy_s: float | None = None) -> None:
        self._racy_ns = int((RACY_S if racy_s is None else racy_s) * 1e9)
        self._path = Path(path)
        self._con = open_cache(self._path, _SCHEMA)
        self._now = int(time.time())
        self._new: list[tuple[bytes, str, int]] = []
        self._used: list[tuple[int, bytes]] = []

    def source_hash(
        self,
        path: Path,
        doc_id: str,
        salt: bytes,
        sidecar: Path,
        compute: Callable[[], str],
    ) -> str:
        """``compute()``'s hash of the file, or the one it had when its stat was last seen."""
        stats = (_stat(str(path)), _stat(str(sidecar)))
        if stats[0] is None:  # gone, or unreadable: let the caller find out
            return compute()
        key = hashlib.sha256(salt + repr((str(path.absolute()), doc_id, stats)).encode()).digest()
        try:
            row = self._con.execute(
                "SELECT source_hash, used FROM source_stats WHERE key = ?", (key,)
            ).fetchone()
        except sqlite3.DatabaseError as exc:  # damaged: hash the file, start a new cache
            self._start_again(exc)
            row = None
        if row is not None:
            if row[1] < self._now - TOUCH_S:
                self._used.append((self._now, key))
            return str(row[0])
        digest = compute()
        newest = max(max(s[3], s[4]) for s in stats if s is not None)
        if digest and newest < time.time_ns() - self._racy_ns:
            self._new.append((key, digest, self._now))
        return digest

    def _start_again(self, exc: sqlite3.DatabaseError) -> None:
        """The file broke while in use: set it aside and carry on with a new, empty cache."""
        if not is_damaged(exc):
            raise exc
        self._con.close()
        set_aside(self._path, exc)
        self._con = open_cache(self._path, _SCHEMA)
        self._used = []  # their rows went with the old file

    def __enter__(self) -> StatCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Write what was learnt (one transaction), drop entries long unused, and close."""
        try:
            if self._new or self._used:
                self._write()
        except sqlite3.DatabaseError as exc:  # damaged since it was read: lose what it learnt
            self._start_again(exc)
        finally:
            self._con.close()

    def _write(self) -> None:
        with self._con:
            self._con.executemany("INSERT OR REPLACE INTO source_stats VALUES (?, ?, ?)", self._new)
            self._con.executemany("UPDATE source_stats SET used = ? WHERE key = ?", self._used)
            self._con.execute("DELETE FROM source_stats WHERE used < ?", (self._now - KEEP_S,))
