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
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from indexer.errors import InvalidQueryError, NotFoundError
from indexer.search import FILTERED_OUT
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
-- Analytics over a large log: the headline counts read this index alone, not the rows, and
-- feedback finds its search's time without opening the row (results are most of its bytes).
CREATE INDEX IF NOT EXISTS searches_counts ON searches(ts, answerable, n_results, confidence);
CREATE INDEX IF NOT EXISTS searches_id_ts ON searches(search_id, ts);
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


# A search left unanswered by the knowledge base: no passage, or none close enough. One whose
# filters or date let no document through says nothing of what the knowledge base covers.
UNANSWERED_SQL = (
    "((answerable = 0 OR n_results = 0) AND COALESCE(reason, '') <> '"
    + FILTERED_OUT.replace("'", "''")
    + "')"
)


def unanswered(search: dict[str, Any]) -> bool:
    """:data:`UNANSWERED_SQL` for one logged search (a row or its decoded dict)."""
    return (not search["answerable"] or not search.get("n_results")) and (
        search.get("reason") or ""
    ) != FILTERED_OUT


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
                # the version read: a rating of v2.0 must not count against its fix, v2.1
                "version": (r.get("metadata") or {}).get("version") or None,
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
        may_see: Callable[[str], bool] | None = None,
        caller: str = "",
    ) -> str:
        """Feedback on a whole search (no ``chunk_id``) or on one of its results.

        Only the ``caller`` who searched (a Principal's secret; "" with keys off) may rate it:
        the latest verdict counts, so another key must not overwrite an agent's. A search of
        someone else is answered like one the log does not hold. A result of a document the
        caller may not see (``may_see``; None: all) is refused exactly like one the search
        never returned, so the answer tells nothing of it."""
        if rating not in RATINGS:
            raise InvalidQueryError(f"rating must be one of {', '.join(RATINGS)}", "rating")
        found = self._db.query("SELECT results FROM searches WHERE search_id = ?", (search_id,))
        if not found or not made_by(search_id, caller):
            raise NotFoundError(f"no search {search_id!r} in the query log")
        doc_id = None
        if chunk_id is not None:
            returned = {r["chunk_id"]: r["doc_id"] for r in json.loads(found[0]["results"])}
            if chunk_id not in returned or (
                may_see is not None and not may_see(returned[chunk_id])
            ):
                raise InvalidQueryError(
                    f"search {search_id} did not return chunk {chunk_id!r}", "chunk_id"
                )
            doc_id = returned[chunk_id]
        feedback_id = uuid.uuid4().hex
        self._db.execute(
            "INSERT INTO feedback (feedback_id, ts, search_id, chunk_id, doc_id, rating, comment) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (feedback_id, ts or _now(), search_id, chunk_id, doc_id, rating, redact(comment)),
        )
        return feedback_id

    # -- reading ---------------------------------------------------------------------------
    # Analytics run over the whole log (200k searches on a busy team), so each reader asks the
    # database for what its answer needs: counts in SQL, a page of rows, or the few rows that
    # can be gap signals, never every row decoded.

    def searches(
        self, since: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Logged searches (oldest first) with their results decoded and their feedback (the
        latest verdict per passage) attached; ``limit`` and ``offset`` select one page."""
        columns = ", ".join(SEARCH_COLUMNS)
        sql = f"SELECT {columns} FROM searches WHERE ts >= ? ORDER BY ts, rowid"
        params: tuple[Any, ...] = (since or "",)
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += (limit, offset)
        elif offset:
            raise ValueError("offset needs a limit")
        rows = self._db.query(sql, params)
        if limit is None:  # the whole window: one query for its feedback
            feedback = self._window_feedback(since, FEEDBACK_COLUMNS)
        else:
            feedback = self._feedback_of([r["search_id"] for r in rows])
        return [_decoded(row) for row in _with_feedback(rows, feedback)]

    def count_searches(self, since: str | None = None) -> int:
        """How many searches were logged at or after ``since``."""
        rows = self._db.query("SELECT COUNT(*) AS n FROM searches WHERE ts >= ?", (since or "",))
        return int(rows[0]["n"])

    def search_stats(self, since: str | None, low_below: float) -> dict[str, Any]:
        """Counts of the window, in SQL: searches, unanswered (no result or not answerable),
        low confidence (answered, best similarity under ``low_below``), first and last time.

        The same rules as :func:`insights.gaps.signal_reasons`, which the tests hold it to.
        """
        unanswered = UNANSWERED_SQL
        row = self._db.query(
            "SELECT COUNT(*) AS searches, "
            f"SUM(CASE WHEN {unanswered} THEN 1 ELSE 0 END) AS unanswered, "
            f"SUM(CASE WHEN NOT {unanswered} AND confidence < ? THEN 1 ELSE 0 END) "
            "AS low_confidence, MIN(ts) AS first, MAX(ts) AS last "
            "FROM searches WHERE ts >= ?",
            (low_below, since or ""),
        )[0]
        return {
            "searches": int(row["searches"]),
            "unanswered": int(row["unanswered"] or 0),
            "low_confidence": int(row["low_confidence"] or 0),
            "first": row["first"],
            "last": row["last"],
        }

    def verdicts(self, since: str | None = None) -> list[dict[str, Any]]:
        """The feedback on the window's searches, the latest verdict per (search, passage),
        in the order given: ``search_id``, ``chunk_id``, ``doc_id``, ``rating`` and the
        (redacted) ``comment``."""
        return self._window_feedback(
            since, ("search_id", "chunk_id", "doc_id", "rating", "comment")
        )

    def retrieved_doc_ids(self, since: str | None = None, top: int | None = None) -> set[str]:
        """Every document any search of the window returned, in any rank, or within the first
        ``top`` results (agents read the first few: a document only ever found at rank 8 is
        one nobody finds).

        Only the stored results text is read, and each distinct one once: for any rank the
        document ids are picked out of it rather than every row decoded.
        """
        rows = self._db.query("SELECT results FROM searches WHERE ts >= ?", (since or "",))
        texts = {r["results"] for r in rows}
        if top is None:
            return result_doc_ids("\n".join(texts))
        return {r["doc_id"] for text in texts for r in json.loads(text) if r["rank"] <= top}

    def rated_results(
        self, verdicts: list[dict[str, Any]]
    ) -> tuple[dict[str, str], dict[tuple[str, str], str | None]]:
        """What :func:`insights.gaps.feedback_by_document` needs of the rated searches, in one
        read of their rows: each rated document's title (as the first search in ``verdicts``
        rating it showed it) and the version each rated passage had, by (search, chunk), which
        tells ratings of v2.0 from ratings of its fix (None when logged before versions were
        kept)."""
        first: dict[str, str] = {}
        for v in verdicts:
            if v.get("doc_id"):
                first.setdefault(v["doc_id"], v["search_id"])
        rated = {(v["search_id"], v["chunk_id"]) for v in verdicts if v.get("chunk_id")}
        ids = sorted(set(first.values()) | {search_id for search_id, _ in rated})
        titles: dict[str, str] = {}
        versions: dict[tuple[str, str], str | None] = {}
        for row in self._rows_of(ids, ("search_id", "results")):
            for r in json.loads(row["results"]):
                if first.get(r["doc_id"]) == row["search_id"]:
                    titles.setdefault(r["doc_id"], r.get("title", ""))
                if (row["search_id"], r["chunk_id"]) in rated:
                    versions[(row["search_id"], r["chunk_id"])] = r.get("version")
        return titles, versions

    def hidden_flag_counts(
        self, since: str | None, low_below: float, seen: set[str]
    ) -> dict[str, int]:
        """How many of the window's unanswered and low-confidence searches (the rules of
        :meth:`search_stats`) returned a document outside ``seen``: the flags a caller who
        sees only ``seen`` must not be able to count. Only the flag columns and the results
        text are read, each distinct results text once, so a whole log costs one scan."""
        rows = self._db.query(
            "SELECT answerable, n_results, confidence, reason, results FROM searches "
            "WHERE ts >= ? AND (answerable = 0 OR n_results = 0 OR confidence < ?)",
            (since or "", low_below),
        )
        hidden: dict[str, bool] = {}
        counts = {"unanswered": 0, "low_confidence": 0}
        for r in rows:
            text = r["results"]
            if text not in hidden:
                hidden[text] = not result_doc_ids(text) <= seen
            if hidden[text] and (unanswered(r) or r["confidence"] is not None):
                counts["unanswered" if unanswered(r) else "low_confidence"] += 1
        return counts

    def signal_candidates(
        self, since: str | None, low_below: float, batch: int = 2000
    ) -> Iterator[list[dict[str, Any]]]:
        """Searches that may be gap signals, newest first, in batches (decoded, with feedback).

        A superset: unanswered, under ``low_below`` or with any negative feedback at all; the
        caller decides on each with the feedback it may see. Read by position (ts, rowid)
        rather than by offset, so searches logged meanwhile neither repeat nor skip a row.
        """
        columns = ", ".join(("rowid", *SEARCH_COLUMNS))
        negative = ", ".join("?" * len(NEGATIVE))
        signal = (
            "(answerable = 0 OR n_results = 0 OR confidence < ? OR search_id IN "
            f"(SELECT search_id FROM feedback WHERE rating IN ({negative})))"
        )
        after: tuple[Any, ...] = ()
        while True:
            where = f"ts >= ? AND {signal}"
            params: tuple[Any, ...] = (since or "", low_below, *NEGATIVE)
            if after:
                where += " AND (ts < ? OR (ts = ? AND rowid < ?))"
                params += (after[0], after[0], after[1])
            rows = self._db.query(
                f"SELECT {columns} FROM searches WHERE {where} "
                "ORDER BY ts DESC, rowid DESC LIMIT ?",
                (*params, batch),
            )
            if not rows:
                return
            after = (rows[-1]["ts"], rows[-1]["rowid"])
            feedback = self._feedback_of([r["search_id"] for r in rows])
            out = []
            for row in _with_feedback(rows, feedback):
                del row["rowid"]
                out.append(_decoded(row))
            yield out
            if len(rows) < batch:
                return

    def feedback(self) -> list[dict[str, Any]]:
        """Every feedback row as given, repeats included (oldest first)."""
        columns = ", ".join(FEEDBACK_COLUMNS)
        return self._db.query(f"SELECT {columns} FROM feedback ORDER BY ts, rowid")

    def counts(self) -> dict[str, int]:
        searches = self._db.query("SELECT COUNT(*) AS n FROM searches")[0]["n"]
        feedback = self._db.query("SELECT COUNT(*) AS n FROM feedback")[0]["n"]
        return {"searches": searches, "feedback": feedback}

    def _window_feedback(self, since: str | None, columns: Sequence[str]) -> list[dict[str, Any]]:
        """Latest verdicts on the searches at or after ``since``, in the order they were given.

        Feedback is looked up in the searches' (search_id, ts) index, never joined row by row
        over every search: the whole log has far more searches than feedback.
        """
        picked = ", ".join(f"f.{c}" for c in columns)
        if not since:
            rows = self._db.query(f"SELECT {picked} FROM feedback f ORDER BY f.ts, f.rowid")
        else:
            rows = self._db.query(
                f"SELECT {picked} FROM feedback f CROSS JOIN searches s "
                "WHERE s.search_id = f.search_id AND s.ts >= ? ORDER BY f.ts, f.rowid",
                (since,),
            )
        return latest_verdicts(rows)

    def _feedback_of(self, search_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Latest verdicts on these searches (oldest first)."""
        rows = self._rows_of(search_ids, FEEDBACK_COLUMNS, table="feedback")
        rows.sort(key=lambda f: (f["ts"], f["_rowid"]))
        for f in rows:
            del f["_rowid"]
        return latest_verdicts(rows)

    def _rows_of(
        self, search_ids: Sequence[str], columns: Sequence[str], table: str = "searches"
    ) -> list[dict[str, Any]]:
        """Rows of ``table`` for these search ids, read in slices (databases cap parameters)."""
        picked = ", ".join(columns) + (", rowid AS _rowid" if table == "feedback" else "")
        out: list[dict[str, Any]] = []
        for start in range(0, len(search_ids), _IN_SLICE):
            ids = list(search_ids[start : start + _IN_SLICE])
            marks = ", ".join("?" * len(ids))
            out += self._db.query(f"SELECT {picked} FROM {table} WHERE search_id IN ({marks})", ids)
        return out


_IN_SLICE = 500
# json.dumps writes each result as {"rank": 1, "doc_id": "...", ...}: the key's quotes are never
# inside a string value (there they are escaped), so these find exactly the doc_id values.
_DOC_ID = re.compile(r'"doc_id": "([^"\\]*)"')
_ESCAPED_DOC_ID = re.compile(r'"doc_id": "[^"\\]*\\')


def result_doc_ids(results_text: str) -> set[str]:
    """The ``doc_id`` values in stored results JSON (one or many arrays, one per line)."""
    found = set(_DOC_ID.findall(results_text))
    if _ESCAPED_DOC_ID.search(results_text):  # an id with a quote, backslash or non-ASCII
        for line in results_text.split("\n"):
            if _ESCAPED_DOC_ID.search(line):
                found.update(r["doc_id"] for r in json.loads(line))
    return found


def latest_verdicts(feedback: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One verdict per (search, passage): the last one given, in the order they came, with the
    latest comment written on it.

    A feedback link opened twice, or a verdict changed, leaves the earlier rows in the log;
    analytics count what the agent last said, once. The comment is the latest one that says
    something: a repeat without one (the rating changed, the button pressed again, a client
    that sends the rating alone) dropped what the agent had written, the one thing a
    knowledge manager can act on. A newer comment replaces an older: only the agent who
    searched may rate, and the page keeps the comment box's text between submits, so a second
    comment is that agent's edit of the first, not a second opinion to list beside it.
    """
    latest: dict[tuple[str | None, str | None], dict[str, Any]] = {}
    for f in feedback:
        key = (f.get("search_id"), f.get("chunk_id"))
        before = latest.pop(key, None)
        said = (before or {}).get("comment") or ""
        if said.strip() and not (f.get("comment") or "").strip():
            f = {**f, "comment": said}
        latest[key] = f
    return list(latest.values())


def _with_feedback(
    rows: list[dict[str, Any]], feedback: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    by_search: dict[str, list[dict[str, Any]]] = {}
    for f in feedback:
        by_search.setdefault(f["search_id"], []).append(f)
    for row in rows:
        row["feedback"] = by_search.get(row["search_id"], [])
    return rows


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    row["answerable"] = bool(row["answerable"])
    row["filters"] = json.loads(row["filters"])
    row["results"] = json.loads(row["results"])
    return row
