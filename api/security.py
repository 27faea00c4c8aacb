"""API keys, roles and per-key rate limits. Keys are stored hashed and shown once at creation.

Roles are ordered: agent < knowledge_manager < admin. A key's access groups decide which
documents its holder sees (enforced inside retrieval by the Searcher); an admin key created
without groups sees every document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.errors import KBError
from indexer.settings import Settings
from indexer.sqldb import SqlDb, as_db, open_db

logger = logging.getLogger(__name__)

ROLES = ("agent", "knowledge_manager", "admin")
KEY_PREFIX = "kb_"


class AuthError(KBError):
    """Missing, unknown or revoked API key (HTTP 401)."""


class ForbiddenError(KBError):
    """The key's role does not allow this call (HTTP 403)."""


def retry_seconds(retry_after: float) -> int:
    """Whole seconds to wait, at least 1: the Retry-After header and the message agree (the
    message said "retry in 0s" beside a header of 1)."""
    return max(1, round(retry_after))


class RateLimitedError(KBError):
    """Too many requests for this key; ``retry_after`` seconds until the next is allowed."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit exceeded; retry in {retry_seconds(retry_after)}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    """Who is calling: key id, role and access groups (None: every document).

    ``secret`` is known to the server only (derived from the key's stored digest): the query
    log marks this caller's search ids with it, so that only this caller's reload of a search
    is not counted twice, and nobody can tell from an id whose search it was.
    """

    key_id: str
    role: str
    groups: tuple[str, ...] | None
    secret: str = field(default="", repr=False, compare=False)

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


ANONYMOUS_ADMIN = Principal("local", "admin", None)  # auth switched off (loopback only)


def _digest(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash cannot be brute-forced; no salt needed.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (key_id TEXT PRIMARY KEY, digest TEXT UNIQUE, role TEXT NOT NULL,
    groups TEXT, created_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS rate_buckets (key_id TEXT PRIMARY KEY, tokens REAL NOT NULL,
    updated REAL NOT NULL);
"""
KEYS_TABLES = ("keys", "rate_buckets")


class KeyStore:
    """Hashed API keys: a SQLite file, or the postgres backend's database (shared by replicas)."""

    def __init__(self, path_or_db: Path | str | SqlDb) -> None:
        # Owner-only: a digest also signs that key's source links (see link_signer).
        self._db: SqlDb = as_db(path_or_db, KEYS_SCHEMA, private=True)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        return cls(open_db(settings, settings.keys_path, KEYS_SCHEMA, KEYS_TABLES, private=True))

    def rate_limiter(self, per_minute: int) -> RateLimiter:
        """A rate limiter whose buckets live beside the keys, so every API worker process
        (and, on the postgres backend, every replica) draws on the same ones."""
        return RateLimiter(per_minute, self._db)

    def create(self, role: str, groups: list[str] | None) -> tuple[str, str]:
        """A new key for ``role``: returns (key_id, the key itself, which is not stored)."""
        if role not in ROLES:
            raise KBError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = secrets.token_hex(4)
        self._db.execute(
            "INSERT INTO keys (key_id, digest, role, groups, created_at, revoked) "
            "VALUES (?, ?, ?, ?, ?, 0)",
            (
                key_id,
                _digest(key),
                role,
                None if groups is None else json.dumps(groups),
                dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            ),
        )
        return key_id, key

    def listing(self) -> list[dict[str, Any]]:
        """Every key's id, role, groups, creation time and whether it is revoked (never its
        digest): what an admin needs to find the id to revoke."""
        rows = self._db.query(
            "SELECT key_id, role, groups, created_at, revoked FROM keys ORDER BY created_at, key_id"
        )
        return [
            {
                "key_id": r["key_id"],
                "role": r["role"],
                "groups": None if r["groups"] is None else json.loads(r["groups"]),
                "created_at": r["created_at"],
                "revoked": bool(r["revoked"]),
            }
            for r in rows
        ]

    def revoke(self, key_id: str) -> bool:
        return self._db.execute("UPDATE keys SET revoked = 1 WHERE key_id = ?", (key_id,)) > 0

    def verify(self, key: str) -> Principal:
        """The principal of a valid key, or AuthError."""
        rows = self._db.query(
            "SELECT key_id, digest, role, groups FROM keys WHERE digest = ? AND revoked = 0",
            (_digest(key),),
        )
        if not rows:
            raise AuthError("invalid or revoked API key")
        return _principal(rows[0]["key_id"], rows[0])

    def link_signer(self, key_id: str) -> Callable[[str, int], str]:
        """Signs links to a document, until a time, for the holder of ``key_id`` (one lookup
        for all the results of a search).

        A browser opening a citation cannot send the key in a header, so the link carries this
        instead. It is keyed by the key's stored digest: it grants exactly that key's access,
        to one document, until it expires or the key is revoked.
        """
        digest = self._active(key_id)["digest"]
        return lambda doc_id, expires: _link_mac(digest, doc_id, expires)

    def sign_link(self, key_id: str, doc_id: str, expires: int) -> str:
        """The signature of one link (see :meth:`link_signer`)."""
        return self.link_signer(key_id)(doc_id, expires)

    def verify_link(self, key_id: str, doc_id: str, expires: int, signature: str) -> Principal:
        """The principal a signed link speaks for, or AuthError (bad, expired or revoked)."""
        now = time.time()
        if expires < now:
            raise AuthError("this link has expired; open the citation again from a search")
        if expires > now + LINK_TTL_S + LINK_CLOCK_SLACK_S:  # never handed out: forged
            raise AuthError("invalid link: it outlives every link this API signs")
        row = self._active(key_id)
        if not hmac.compare_digest(_link_mac(row["digest"], doc_id, expires), signature):
            raise AuthError("invalid link signature")
        return _principal(key_id, row)

    def _active(self, key_id: str) -> Any:
        rows = self._db.query(
            "SELECT digest, role, groups FROM keys WHERE key_id = ? AND revoked = 0", (key_id,)
        )
        if not rows:
            raise AuthError("invalid or revoked API key")
        return rows[0]

    def close(self) -> None:
        self._db.close()


LINK_TTL_S = 12 * 3600  # a shift: a citation pasted into a ticket is opened the same day
LINK_CLOCK_SLACK_S = 300  # API replicas whose clocks differ a little still accept each other's


def _principal(key_id: str, row: Any) -> Principal:
    groups = None if row["groups"] is None else tuple(json.loads(row["groups"]))
    secret = hmac.new(row["digest"].encode("ascii"), b"query-log", hashlib.sha256).hexdigest()
    return Principal(key_id, row["role"], groups, secret)


def _link_mac(digest: str, doc_id: str, expires: int) -> str:
    message = f"{doc_id}\0{expires}".encode()
    return hmac.new(digest.encode("ascii"), message, hashlib.sha256).hexdigest()


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts up to that many.

    With ``db`` (the key store's database) the buckets are rows there, taken from by one
    conditional UPDATE, so that concurrent processes cannot both spend the last token. Kept
    in each process's memory, they let N API workers serve N times the limit: uvicorn hands
    a client's connections to whichever worker accepts them.
    """

    def __init__(self, per_minute: int, db: SqlDb | None = None) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._db = db
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str) -> None:
        """Take one request from ``key_id``'s bucket, or raise RateLimitedError."""
        if self.rate <= 0:
            return
        if self._db is not None:
            try:
                self._check_shared(key_id, time.time())  # wall clock: the same in every process
                return
            except sqlite3.OperationalError as exc:  # a keys file mounted read-only, say
                logger.warning(
                    "rate limits count per API worker from now on: the keys database "
                    "cannot keep them (%s)",
                    exc,
                )
                self._db = None
        self._check_here(key_id, time.monotonic())

    def _check_here(self, key_id: str, now: float) -> None:
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                raise RateLimitedError((1.0 - tokens) / self.rate)
            self._buckets[key_id] = (tokens - 1.0, now)

    def _check_shared(self, key_id: str, now: float) -> None:
        assert self._db is not None
        for _ in range(2):  # a second try when another process created the row meanwhile
            if self._db.execute(_TAKE, _take_params(key_id, now, self.rate, self.capacity)):
                return
            if self._db.execute(_NEW_BUCKET, (key_id, self.capacity - 1.0, now)):
                return
        rows = self._db.query(
            "SELECT tokens, updated FROM rate_buckets WHERE key_id = ?", (key_id,)
        )
        tokens = rows[0]["tokens"] + max(0.0, now - rows[0]["updated"]) * self.rate
        raise RateLimitedError((1.0 - min(self.capacity, tokens)) / self.rate)


# The bucket refilled up to now (never past its capacity, never drained by a clock that went
# back), in SQL both SQLite and PostgreSQL run: one statement, so the row is locked while it
# is read and written.
_REFILLED = (
    "CASE WHEN tokens + (CASE WHEN ? > updated THEN ? - updated ELSE 0 END) * ? > ? THEN ? "
    "ELSE tokens + (CASE WHEN ? > updated THEN ? - updated ELSE 0 END) * ? END"
)
_TAKE = (
    f"UPDATE rate_buckets SET tokens = ({_REFILLED}) - 1, updated = ? "
    f"WHERE key_id = ? AND ({_REFILLED}) >= 1"
)
_NEW_BUCKET = (
    "INSERT INTO rate_buckets (key_id, tokens, updated) VALUES (?, ?, ?) "
    "ON CONFLICT (key_id) DO NOTHING"
)


def _take_params(key_id: str, now: float, rate: float, capacity: float) -> tuple[Any, ...]:
    refilled = (now, now, rate, capacity, capacity, now, now, rate)
    return (*refilled, now, key_id, *refilled)
