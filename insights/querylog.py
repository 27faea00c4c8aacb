"""The query log and feedback store: one SQLite file, personal data redacted before writing.

Each search is stored with what it returned (document, chunk, rank, score), whether it was
answerable and how confident the best passage was; feedback refers to a search and optionally
to one of its results. Every free-text field goes through :func:`insights.redact.redact` here,
so no caller can write raw text by mistake.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

from indexer.errors import InvalidQueryError, NotFoundError
from insights.redact import redact

RATINGS = ("helpful", "not_helpful", "wrong_or_outdated")
NEGATIVE = ("not_helpful", "wrong_or_outdated")
_SIMILARITY = re.compile(r"similarity (-?\d+(?:\.\d+)?)")

SCHEMA = """
CREATE TABLE IF NOT EXISTS searches (
    search_id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    query TEXT NOT NULL,
    filters TEXT NOT NULL,
    as_of TEXT,
    mode TEXT,
    answerable INTEGER NOT NULL,
    reason TEXT,
    confidence REAL,
    top_score REAL,
    n_results INTEGER NOT NULL,
    results TEXT NOT NULL,
    took_ms REAL,
    index_version TEXT
);
CREATE INDEX IF NOT EXISTS searches_ts ON searches(ts);
CREATE TABLE IF NOT EXISTS feedback (
    feedback_id TEXT PRIMARY KEY,
    ts TEXT NOT NULL,
    search_id TEXT NOT NULL REFERENCES searches(search_id),
    chunk_id TEXT,
    doc_id TEXT,
    rating TEXT NOT NULL,
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_search ON feedback(search_id);
"""


def confidence_from_reason(reason: str) -> float | None:
    """The best passage similarity the Searcher states in its ``reason``."""
    found = _SIMILARITY.search(reason or "")
    return float(found.group(1)) if found else None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class QueryLog:
    """Append-only store of searches and feedback; safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        # WAL without a sync per commit: a log write costs microseconds, not two fsyncs, on
        # every search; a power cut can lose the last few entries but never corrupts the file.
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    # -- writing ---------------------------------------------------------------------------

    def log_search(self, response: dict[str, Any], ts: str | None = None) -> str:
        """Store one search response (as the API returns it); returns its ``search_id``."""
        results = [
            {
                "rank": r["rank"],
                "doc_id": r["doc_id"],
                "chunk_id": r["chunk_id"],
                "title": r.get("title", ""),
                "score": r["score"],
            }
            for r in response.get("results", [])
        ]
        search_id = uuid.uuid4().hex
        row = (
            search_id,
            ts or _now(),
            redact(response["query"]),
            json.dumps(response.get("filters") or {}, sort_keys=True),
            response.get("as_of"),
            response.get("mode"),
            int(bool(response.get("answerable", True)) and bool(results)),
            redact(response.get("reason", "")),
            confidence_from_reason(response.get("reason", "")),
            results[0]["score"] if results else None,
            len(results),
            json.dumps(results),
            response.get("took_ms"),
            response.get("index_version"),
        )
        with self._lock, self._db:
            self._db.execute(f"INSERT INTO searches VALUES ({','.join('?' * len(row))})", row)
        return search_id

    def add_feedback(
        self,
        search_id: str,
        rating: str,
        comment: str = "",
        chunk_id: str | None = None,
        ts: str | None = None,
    ) -> str:
        """Feedback on a whole search (no ``chunk_id``) or on one of its results."""
        if rating not in RATINGS:
            raise InvalidQueryError(f"rating must be one of {', '.join(RATINGS)}")
        with self._lock:
            found = self._db.execute(
                "SELECT results FROM searches WHERE search_id = ?", (search_id,)
            ).fetchone()
        if found is None:
            raise NotFoundError(f"no search {search_id!r} in the query log")
        doc_id = None
        if chunk_id is not None:
            returned = {r["chunk_id"]: r["doc_id"] for r in json.loads(found["results"])}
            if chunk_id not in returned:
                raise InvalidQueryError(f"search {search_id} did not return chunk {chunk_id!r}")
            doc_id = returned[chunk_id]
        feedback_id = uuid.uuid4().hex
        with self._lock, self._db:
            self._db.execute(
                "INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?)",
                (feedback_id, ts or _now(), search_id, chunk_id, doc_id, rating, redact(comment)),
            )
        return feedback_id

    # -- reading ---------------------------------------------------------------------------

    def searches(self, since: str | None = None) -> list[dict[str, Any]]:
        """Every logged search (oldest first) with its results decoded and feedback attached."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM searches WHERE ts >= ? ORDER BY ts, rowid", (since or "",)
            ).fetchall()
            feedback = self._db.execute("SELECT * FROM feedback ORDER BY ts").fetchall()
        by_search: dict[str, list[dict[str, Any]]] = {}
        for f in feedback:
            by_search.setdefault(f["search_id"], []).append(dict(f))
        out = []
        for r in rows:
            item = dict(r)
            item["answerable"] = bool(item["answerable"])
            item["filters"] = json.loads(item["filters"])
            item["results"] = json.loads(item["results"])
            item["feedback"] = by_search.get(item["search_id"], [])
            out.append(item)
        return out

    def feedback(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM feedback ORDER BY ts, rowid").fetchall()
        return [dict(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            searches = self._db.execute("SELECT COUNT(*) FROM searches").fetchone()[0]
            feedback = self._db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
        return {"searches": searches, "feedback": feedback}
