"""Request guards: who is calling (API key -> Principal), role checks, body size limit.

Kept apart from the routes so every router uses the same checks.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.security import (
    ANONYMOUS_ADMIN,
    LINK_TTL_S,
    AuthError,
    ForbiddenError,
    KeyStore,
    Principal,
    RateLimiter,
)
from indexer.errors import IndexNotFoundError
from indexer.search import Searcher


def signed_links(request: Request) -> Callable[[str], str]:
    """doc_id -> query parameters that let a browser open that document's source views as
    this caller ("" when keys are off: the views need no key then)."""
    keystore: KeyStore | None = request.app.state.keystore
    principal: Principal | None = getattr(request.state, "principal", None)
    if keystore is None or principal is None:
        return lambda _doc_id: ""
    expires = int(time.time()) + LINK_TTL_S
    sign = keystore.link_signer(principal.key_id)
    return lambda doc_id: urlencode(
        {"kid": principal.key_id, "exp": expires, "sig": sign(doc_id, expires)}
    )


def presented_key(request: Request) -> str:
    """The API key the request sends (Authorization: Bearer, else X-API-Key), "" if none."""
    header = request.headers.get("authorization", "")
    key = header[7:].strip() if header.lower().startswith("bearer ") else ""
    return key or request.headers.get("x-api-key", "").strip()


def caller(request: Request) -> Principal:
    """The Principal of this request; every caller is an admin when auth is switched off."""
    keystore: KeyStore | None = request.app.state.keystore
    if keystore is None:
        return ANONYMOUS_ADMIN
    key = presented_key(request)
    if not key:
        raise AuthError("an API key is required (Authorization: Bearer KEY or X-API-Key)")
    principal = keystore.verify(key)
    limiter: RateLimiter = request.app.state.limiter
    limiter.check(principal.key_id)
    return principal


def sees_every_document(request: Request) -> bool:
    """Whether this request may see every document: keys off, or a valid key with no access
    groups (an admin's). For open routes, which check no key: a missing, revoked or forged one
    is simply not such a key."""
    keystore: KeyStore | None = request.app.state.keystore
    if keystore is None:
        return True
    key = presented_key(request)
    if not key:
        return False
    try:
        return keystore.verify(key).groups is None
    except AuthError:
        return False


LINK_PATHS = ("/source/", "/source-file/")  # opened by a browser: a signed link stands in
# for the key header (see KeyStore.sign_link)


def route_path(request: Request) -> str:
    """The path the routes match, as they read it: decoded, without the app's root path.

    ``request.url.path`` is neither: served under ``--root-path /kb`` it starts with "/kb"
    (so "/kb/analytics/..." missed the manager-only prefix), and it re-encodes "?", "#" and
    "\\" (so a document id holding one was not the id its link was signed for).
    """
    path: str = request.scope["path"]
    root: str = request.scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :] or "/"
    return path


def link_caller(request: Request) -> Principal | None:
    """The Principal of a signed source link (``kid``, ``exp``, ``sig``), None if unsigned."""
    query = request.query_params
    keystore: KeyStore | None = request.app.state.keystore
    path = route_path(request)
    if keystore is None or not path.startswith(LINK_PATHS) or "sig" not in query:
        return None
    prefix = next(p for p in LINK_PATHS if path.startswith(p))
    doc_id = path[len(prefix) :]
    exp = query.get("exp", "")
    # As this API writes it: int() also reads " 1", "+1" and "01", the same signed number.
    if not (exp.isascii() and exp.isdigit()) or len(exp) > 12 or exp != str(int(exp)):
        raise AuthError("invalid link: exp must be a time in seconds")
    expires = int(exp)
    signature = query["sig"]
    if not signature.isascii():  # no hex digest; hmac.compare_digest raises on it (a 500)
        raise AuthError("invalid link signature")
    principal = keystore.verify_link(query.get("kid", ""), doc_id, expires, signature)
    request.app.state.limiter.check(principal.key_id)
    return principal


def require(role: str) -> Callable[[Request], Principal]:
    """A dependency that lets through callers whose role is at least ``role``."""

    def dependency(request: Request) -> Principal:
        # A key sent in a header speaks for itself: a tool that sends its key and keeps a
        # citation's link parameters is not refused once those have expired.
        linked = None if presented_key(request) else link_caller(request)
        principal = caller(request) if linked is None else linked
        if not principal.allows(role):
            raise ForbiddenError(f"this call needs the {role} role")
        return principal

    return dependency


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` (413), chunked ones without Content-Length too.

    The body is read (up to the limit) before the app sees it, then replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send) -> None:
        body = b'{"detail":"request body too large (limit %d bytes)"}' % self.max_bytes
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class PrivateResponses:
    """Mark every answer ``Cache-Control: private, no-store`` (unless the route set its own)
    and ``Vary: Authorization, X-API-Key``; the source pages and searches had neither.

    What the API answers depends on who asks (a key's access groups filter documents, source
    pages, searches and analytics; a signed link stands in for a key) and may stop being
    allowed at any time (a key revoked, ``kb access`` changed). no-store, not no-cache:
    nothing here answers 304 (no ETag, no Last-Modified), so no-cache would save no transfer
    and would still leave restricted policy text in the browser cache of a shared agent
    machine, on disk and past the link's expiry. Vary names the key headers for any cache
    that keeps a response anyway, so it is never served to another key.
    """

    CACHE_CONTROL = b"private, no-store"
    VARY = (b"Authorization", b"X-API-Key")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = self._headers(list(message.get("headers") or []))
            await send(message)

        await self.app(scope, receive, marked)

    def _headers(self, headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        names = [name.lower() for name, _ in headers]
        if b"cache-control" not in names:
            headers.append((b"cache-control", self.CACHE_CONTROL))
        varies = [
            v.strip() for n, value in headers if n.lower() == b"vary" for v in value.split(b",")
        ]
        missing = [v for v in self.VARY if v.lower() not in {x.lower() for x in varies}]
        if missing:
            headers = [(n, v) for n, v in headers if n.lower() != b"vary"]
            headers.append((b"vary", b", ".join([v for v in varies if v] + missing)))
        return headers


OPEN_PATHS = ("/health", "/docs", "/redoc", "/openapi.json")
# Minimum role by path prefix; anything else needs at least an agent key.
ROLE_FOR_PREFIX = (
    ("/analytics", "knowledge_manager"),
    ("/eval", "knowledge_manager"),
    ("/admin", "admin"),
)


LOOPBACK_ONLY = (
    "with authentication off the API answers only this machine (a loopback address, "
    "reached as localhost or 127.0.0.1); set KB_AUTH_REQUIRED=true and use API keys to serve "
    "other callers"
)


def _loopback_ip(host: str) -> bool | None:
    """Whether ``host`` is a loopback address; None when it is not an IP address at all."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return (mapped or ip).is_loopback


def local_only(request: Request) -> None:
    """With keys off every caller is an admin who sees every document, so only this machine
    may call: a client with a non-loopback address is refused, and so is a Host header that
    names another machine, which is what a web page sends after re-pointing its own name at
    127.0.0.1 (DNS rebinding) to read the API from the user's browser.

    Names that are no IP address pass as clients (Starlette's test client is "testclient"; a
    Unix socket has none), and so do single-label Host names ("testserver"), which no outside
    party can point at this machine.
    """
    client = request.client.host if request.client else ""
    if _loopback_ip(client) is False:
        raise ForbiddenError(LOOPBACK_ONLY)
    host = request.headers.get("host", "")
    try:
        name = (urlsplit(f"//{host}").hostname or "").rstrip(".") if host else ""
    except ValueError:  # a malformed Host header ("[::1")
        raise ForbiddenError(LOOPBACK_ONLY) from None
    if not name or name == "localhost" or name.endswith(".localhost"):
        return
    local = _loopback_ip(name)
    if local is False or (local is None and "." in name):
        raise ForbiddenError(LOOPBACK_ONLY)


async def guard(request: Request) -> None:
    """App-wide dependency: authenticate, rate-limit and check the role for the path.

    The Principal is left on ``request.state.principal`` for routes that filter by groups.
    Async, so a request without keys to check costs no hop to a worker thread (FastAPI runs
    a plain ``def`` dependency on one); the key lookup, which reads SQLite, still runs there.
    """
    if request.app.state.keystore is None:
        local_only(request)
    path = route_path(request)
    if path in OPEN_PATHS or path.startswith("/docs"):
        request.state.principal = None
        return
    role = next((r for prefix, r in ROLE_FOR_PREFIX if path.startswith(prefix)), "agent")
    check = require(role)
    if request.app.state.keystore is None:  # no keys to look up: nothing that blocks
        request.state.principal = check(request)
    else:
        request.state.principal = await run_in_threadpool(check, request)


def groups_of(request: Request) -> tuple[str, ...] | None:
    """Access groups of the caller (None: no restriction)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return None if principal is None else principal.groups


def searcher_of(request: Request) -> Searcher:
    """The Searcher serving this request, or the reason there is none (503)."""
    found: Searcher | None = request.app.state.searcher
    if found is None:
        raise request.app.state.load_error or IndexNotFoundError("the index is not loaded")
    return found
