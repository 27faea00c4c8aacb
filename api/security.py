"""API keys, roles and per-key rate limits. Keys are stored hashed and shown once at creation.

Roles are ordered: agent < knowledge_manager < admin. A key's access groups decide which
documents its holder sees (enforced inside retrieval by the Searcher); an admin key created
without groups sees every document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from indexer.errors import KBError

ROLES = ("agent", "knowledge_manager", "admin")
KEY_PREFIX = "kb_"


class AuthError(KBError):
    """Missing, unknown or revoked API key (HTTP 401)."""


class ForbiddenError(KBError):
    """The key's role does not allow this call (HTTP 403)."""


class RateLimitedError(KBError):
    """Too many requests for this key; ``retry_after`` seconds until the next is allowed."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limit exceeded; retry in {retry_after:.0f}s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Principal:
    """Who is calling: key id, role and access groups (None: every document)."""

    key_id: str
    role: str
    groups: tuple[str, ...] | None

    def allows(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


ANONYMOUS_ADMIN = Principal("local", "admin", None)  # auth switched off (loopback only)


def _digest(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash cannot be brute-forced; no salt needed.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyStore:
    """Hashed API keys in SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._con = sqlite3.connect(self.path, check_same_thread=False)
        with self._con:
            self._con.execute(
                "CREATE TABLE IF NOT EXISTS keys (key_id TEXT PRIMARY KEY, digest TEXT UNIQUE, "
                "role TEXT NOT NULL, groups TEXT, created_at TEXT NOT NULL, revoked INTEGER "
                "NOT NULL DEFAULT 0)"
            )

    def create(self, role: str, groups: list[str] | None) -> tuple[str, str]:
        """A new key for ``role``: returns (key_id, the key itself, which is not stored)."""
        if role not in ROLES:
            raise KBError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        key_id = secrets.token_hex(4)
        with self._lock, self._con:
            self._con.execute(
                "INSERT INTO keys VALUES (?,?,?,?,?,0)",
                (
                    key_id,
                    _digest(key),
                    role,
                    None if groups is None else json.dumps(groups),
                    dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                ),
            )
        return key_id, key

    def revoke(self, key_id: str) -> bool:
        with self._lock, self._con:
            return (
                self._con.execute(
                    "UPDATE keys SET revoked = 1 WHERE key_id = ?", (key_id,)
                ).rowcount
                > 0
            )

    def verify(self, key: str) -> Principal:
        """The principal of a valid key, or AuthError."""
        with self._lock:
            row = self._con.execute(
                "SELECT key_id, role, groups FROM keys WHERE digest = ? AND revoked = 0",
                (_digest(key),),
            ).fetchone()
        if row is None:
            raise AuthError("invalid or revoked API key")
        groups = None if row[2] is None else tuple(json.loads(row[2]))
        return Principal(row[0], row[1], groups)

    def close(self) -> None:
        self._con.close()


class RateLimiter:
    """A token bucket per key: ``per_minute`` requests a minute, bursts up to that many."""

    def __init__(self, per_minute: int) -> None:
        self.rate = per_minute / 60.0
        self.capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, key_id: str) -> None:
        if self.rate <= 0:
            return
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                raise RateLimitedError((1.0 - tokens) / self.rate)
            self._buckets[key_id] = (tokens - 1.0, now)
