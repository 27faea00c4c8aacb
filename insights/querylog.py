"""The query log and feedback store, personal data redacted before anything is written.

Each search is stored with what it returned (document, chunk, rank, score), whether it was
answerable and how confident the best passage was; feedback refers to a search and optionally
to one of its results. Every free-text field goes through :func:`insights.redact.redact` here,
so no caller can write raw text by mistake.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import uuid
from pathlib import Path
from typing import Any

from indexer.errors import InvalidQueryError, NotFoundError
from indexer.settings import Settings
from indexer.sqldb import SqlDb, as_db, open_db
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
TABLES = ("searches", "feedback")  # in PostgreSQL: indexer/migrations/002_records.sql
SEARCH_COLUMNS = (
    "search_id", "ts", "query", "filters", "as_of", "mode", "answerable", "reason",
    "confidence", "top_score", "n_results", "results", "took_ms", "index_version",
)  # fmt: skip
FEEDBACK_COLUMNS = ("feedback_id", "ts", "search_id", "chunk_id", "doc_id", "rating", "comment")


def confidence_from_reason(reason: str) -> float | None:
    """The best passage similarity the Searcher states in its ``reason``."""
    found = _SIMILARITY.search(reason or "")
    return float(found.group(1)) if found else None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _caller_mark(caller: str, nonce: str) -> str:
    """16 hex digits that tie ``nonce`` to ``caller`` and do not reveal the caller."""
    return hmac.new(caller.encode("utf-8"), nonce.encode("ascii"), hashlib.sha256).hexdigest()[:16]


def new_search_id(caller: str = "") -> str:
    """A fresh search id (32 hex digits) that only ``caller`` can later replay.

    Its second half is a keyed hash of the first under the caller's secret, so whose search it
    was is checked from the id itself: no column holds who searched (the log stays anonymous,
    and its schema and the PostgreSQL migration are unchanged).
    """
    nonce = secrets.token_hex(8)
    return nonce + _caller_mark(caller, nonce)


def made_by(search_id: str, caller: str = "") -> bool:
    """Whether ``search_id`` was handed to ``caller`` by :func:`new_search_id`."""
    if len(search_id) != 32 or not search_id.isascii():
        return False
    return hmac.compare_digest(search_id[16:], _caller_mark(caller, search_id[:16]))


class QueryLog:
    """Append-only store of searches and feedback; safe to share between threads.

    ``QueryLog(path)`` keeps it in a SQLite file; :meth:`from_settings` puts it in the postgres
    backend's database when one is configured, so every API replica shares one log.
    """

    def __init__(self, path_or_db: Path | str | SqlDb) -> None:
        self._db: SqlDb = as_db(path_or_db, SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLog:
        return cls(open_db(settings, settings.log_path, SCHEMA, TABLES))

    def close(self) -> None:
        self._db.close()

    # -- writing ---------------------------------------------------------------------------

    def log_search(self, response: dict[str, Any], ts: str | None = None, caller: str = "") -> str:
        """Store one search response (as the API returns it); returns its ``search_id``.

        ``caller`` is a secret of whoever searched (see :func:`new_search_id`); it is not
        stored, only used to mark the id so that a reload by someone else is logged anew.
        """
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
        search_id = new_search_id(caller)
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
        self._db.execute(
            f"INSERT INTO searches ({', '.join(SEARCH_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(row))})",
            row,
        )
        return search_id

    def logged(self, search_id: str, response: dict[str, Any], caller: str = "") -> bool:
        """Whether ``search_id`` is a logged search of ``caller`` that ``response`` repeats
        exactly: the same question (as redacted), filters, date and mode, returning the same
        passages in the same order. Anything else, another caller's search opened from a
        shared link included, is a new search, and is logged as one."""
        if not made_by(search_id, caller):
            return False
        found = self._db.query(
            "SELECT query, filters, as_of, mode, results FROM searches WHERE search_id = ?",
            (search_id,),
        )
        if not found:
            return False
        row = found[0]
        return (
            row["query"] == redact(response["query"])
            and json.loads(row["filters"]) == (response.get("filters") or {})
            and row["as_of"] == response.get("as_of")
            and row["mode"] == response.get("mode")
            and [r["chunk_id"] for r in json.loads(row["results"])]
            == [r["chunk_id"] for r in response.get("results", [])]
        )

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
        found = self._db.query("SELECT results FROM searches WHERE search_id = ?", (search_id,))
        if not found:
            raise NotFoundError(f"no search {search_id!r} in the query log")
        doc_id = None
        if chunk_id is not None:
            returned = {r["chunk_id"]: r["doc_id"] for r in json.loads(found[0]["results"])}
            if chunk_id not in returned:
                raise InvalidQueryError(f"search {search_id} did not return chunk {chunk_id!r}")
            doc_id = returned[chunk_id]
        feedback_id = uuid.uuid4().hex
        self._db.execute(
            "INSERT INTO feedback (feedback_id, ts, search_id, chunk_id, doc_id, rating, comment) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (feedback_id, ts or _now(), search_id, chunk_id, doc_id, rating, redact(comment)),
        )
        return feedback_id

    # -- reading ---------------------------------------------------------------------------

    def searches(self, since: str | None = None) -> list[dict[str, Any]]:
        """Every logged search (oldest first) with its results decoded and feedback attached."""
        columns = ", ".join(SEARCH_COLUMNS)
        rows = self._db.query(
            f"SELECT {columns} FROM searches WHERE ts >= ? ORDER BY ts, rowid", (since or "",)
        )
        by_search: dict[str, list[dict[str, Any]]] = {}
        for f in self.feedback():
            by_search.setdefault(f["search_id"], []).append(f)
        for item in rows:
            item["answerable"] = bool(item["answerable"])
            item["filters"] = json.loads(item["filters"])
            item["results"] = json.loads(item["results"])
            item["feedback"] = by_search.get(item["search_id"], [])
        return rows

    def feedback(self) -> list[dict[str, Any]]:
        columns = ", ".join(FEEDBACK_COLUMNS)
        return self._db.query(f"SELECT {columns} FROM feedback ORDER BY ts, rowid")

    def counts(self) -> dict[str, int]:
        searches = self._db.query("SELECT COUNT(*) AS n FROM searches")[0]["n"]
        feedback = self._db.query("SELECT COUNT(*) AS n FROM feedback")[0]["n"]
        return {"searches": searches, "feedback": feedback}
