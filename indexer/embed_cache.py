"""Embeddings remembered by (model fingerprint, exact text), so a re-index embeds only what changed.

Plain SQLite with float32 bytes; never pickle. Safe to delete at any time: it only saves work.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np


class EmbeddingCache:
    """A persistent map from text to its vector under one model."""

    def __init__(self, path: Path, fingerprint: str, dimension: int | None = None) -> None:
        self.path = Path(path)
        self.fingerprint = fingerprint
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.path)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute(
            "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dim INTEGER, vec BLOB)"
        )

    def _key(self, text: str) -> bytes:
        return hashlib.sha256(f"{self.fingerprint}\x00{text}".encode()).digest()

    def lookup(self, texts: list[str]) -> tuple[dict[int, np.ndarray], list[int]]:
        """Vectors found, by position in ``texts``, and the positions still to embed."""
        keys = [self._key(t) for t in texts]
        found: dict[bytes, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            marks = ",".join("?" * len(batch))
            for key, dim, vec in self._con.execute(
                f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", batch
            ):
                found[key] = np.frombuffer(vec, dtype=np.float32, count=dim)
        hits = {i: found[k] for i, k in enumerate(keys) if k in found}
        return hits, [i for i in range(len(texts)) if i not in hits]

    def store(self, texts: list[str], vectors: np.ndarray) -> None:
        rows = [
            (self._key(t), int(v.shape[0]), np.ascontiguousarray(v, np.float32).tobytes())
            for t, v in zip(texts, vectors, strict=True)
        ]
        with self._con:
            self._con.executemany("INSERT OR REPLACE INTO vectors VALUES (?,?,?)", rows)

    def close(self) -> None:
        self._con.close()
