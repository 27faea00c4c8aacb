"""The FastAPI application: routes translate HTTP to Searcher calls and KBErrors to statuses.

The model and index are loaded once in the lifespan, never at import. If no index exists yet,
the API still starts: /health says so and /search answers 503 with how to fix it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.guards import (
    BodySizeLimit,
    PrivateResponses,
    groups_of,
    guard,
    searcher_of,
    sees_every_document,
    signed_links,
)
from api.inputs import DuplicateKeyError, StrictJsonRoute, known_query_parameters, loc_of
from api.insights_routes import install as install_insights
from api.insights_routes import record_search
from api.schemas import (
    GUARDED,
    DocumentOut,
    DocumentSummary,
    HealthOut,
    SearchRequest,
    SearchResponseOut,
    error_responses,
    search_request_model,
)
from api.security import (
    AuthError,
    ForbiddenError,
    KeyStore,
    RateLimitedError,
    RateLimiter,
    retry_seconds,
)
from indexer.errors import (
    BackendUnavailableError,
    DatasetError,
    DeadlineExceeded,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQueryError,
    KBError,
    ModelIntegrityError,
    NotFoundError,
)
from indexer.search import Searcher
from indexer.settings import Settings, get_settings
from insights.evaluation import RunCancelledError

logger = logging.getLogger(__name__)


STATUS_FOR_ERROR: list[tuple[type[KBError], int]] = [
    (AuthError, 401),
    (ForbiddenError, 403),
    (RateLimitedError, 429),
    (DeadlineExceeded, 504),
    (InvalidQueryError, 422),
    (DatasetError, 422),
    (NotFoundError, 404),
    (IndexNotFoundError, 503),
    (BackendUnavailableError, 503),
    (IndexMismatchError, 503),
    (ModelIntegrityError, 503),
    (IndexCorruptError, 503),
    (IndexLockedError, 409),
    (RunCancelledError, 409),
    (KBError, 500),
]


def status_for(exc: KBError) -> int:
    """The HTTP status for a domain error (first matching class wins)."""
    return next(code for cls, code in STATUS_FOR_ERROR if isinstance(exc, cls))


def _encodes(value: Any) -> bool:
    """Whether ``value`` survives the JSON response encoder (no NaN, no lone surrogates)."""
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError):  # UnicodeEncodeError is a ValueError
        return False
    return True


def _printable(value: object) -> str | int:
    """A location part or message as encodable text: lone surrogates become ``\\udXXX``."""
    if isinstance(value, int):
        return value
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def json_safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Validation errors a JSON response can carry: ``type``, ``loc`` and ``msg`` always,
    ``input`` and ``ctx`` only when they encode.

    FastAPI's own handler echoes the input as it came, so a NaN or a lone surrogate (both
    parse from JSON) made the error response itself fail with a 500.
    """
    out = []
    for error in errors:
        item: dict[str, Any] = {
            "type": str(error.get("type", "")),
            "loc": [_printable(part) for part in error.get("loc", ())],
            "msg": _printable(error.get("msg", "")),
        }
        extras: dict[str, Any] = {}
        if "input" in error:
            extras["input"] = error["input"]
        ctx = {k: v for k, v in error.get("ctx", {}).items() if not isinstance(v, Exception)}
        if ctx:  # e.g. {"le": 3}; a validator's own exception is already in msg
            extras["ctx"] = ctx
        for key, value in extras.items():
            try:
                safe = jsonable_encoder(value)
            except (TypeError, ValueError):
                continue
            if _encodes(safe):
                item[key] = safe
        out.append(item)
    return out


def invalid_input(request: Request, exc: KBError) -> dict[str, Any]:
    """A domain error answered 422 as one entry of the validation-error list, ``loc`` naming
    the field at fault (``InvalidQueryError.field``) where the caller sent it.

    Every 422 then reads one way: a ``top_k`` over KB_MAX_TOP_K, caught by the Searcher, was
    ``{"detail": "a message"}`` beside FastAPI's list for a ``top_k`` of 0.
    """
    return {
        "type": "value_error",
        "loc": loc_of(request, getattr(exc, "field", None)),
        "msg": _printable(str(exc)),
    }


def shown_source(source: str, doc_id: str) -> str:
    """The file a document was read from as the indexed folder names it (its id's path), not
    the server's absolute path: callers need the file's name and type, and an agent's key has
    no business learning where the server keeps the knowledge base."""
    path = Path(source)
    return doc_id if path.as_posix().endswith("/" + doc_id) else path.name


def unreadable_body(exc: ValueError | RecursionError) -> dict[str, Any]:
    """The validation error for JSON the parser refuses past its limits: a number of over
    4,300 digits, or nesting deeper than the interpreter recurses. FastAPI answered both with
    a bare 400 the API does not document; bad input is a 422 saying what is wrong."""
    why = "it nests too deeply" if isinstance(exc, RecursionError) else str(exc)
    return {"type": "json_invalid", "loc": ["body"], "msg": f"the JSON body cannot be read: {why}"}


def undecodable_body(exc: UnicodeDecodeError) -> dict[str, Any]:
    """The validation error for a JSON body that is not UTF-8 (a Latin-1 "café", say).

    FastAPI answers such a body with a bare 400 "There was an error parsing the body"; the
    API's promise for text that is not valid Unicode is a 422 saying what is wrong.
    """
    return {
        "type": "unicode_decode",
        "loc": ["body"],
        "msg": (
            f"the body is not valid UTF-8: byte 0x{exc.object[exc.start]:02x} at position "
            f"{exc.start} cannot be decoded; send the JSON encoded as UTF-8"
        ),
    }


KEY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerKey": {"type": "http", "scheme": "bearer", "description": "the same API key"},
}
# A browser opening a citation comes with the signed link the search handed out, not a key.
SIGNED_PATHS = ("/source/{doc_id}", "/source-file/{doc_id}")


def declare_keys(schema: dict[str, Any]) -> None:
    """Say in the OpenAPI document how a caller authenticates when keys are required: it
    said nothing, so a generated client had no way to send a key and the /docs page no
    Authorize button. /health needs none; the citation pages take a key or a signed link."""
    schema.setdefault("components", {})["securitySchemes"] = KEY_SCHEMES
    either = [{name: []} for name in KEY_SCHEMES]
    schema["security"] = either
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if path == "/health":
                operation["security"] = []
            elif path in SIGNED_PATHS:
                operation["security"] = [*either, {}]


# CORS (KB_CORS_ORIGINS): what a browser app on a listed origin may send and read. Keys go in
# headers, never cookies, so no credentials mode; a preflight (OPTIONS) is answered by the
# middleware before the key check, which a browser cannot satisfy (it sends no key with one).
CORS_METHODS = ("GET", "HEAD", "POST", "DELETE")
CORS_HEADERS = ("Authorization", "X-API-Key", "Content-Type")
CORS_EXPOSED = (
    "Retry-After", "X-Total-Count", "Link", "Location", "X-Citation-Changed",
    "Content-Disposition", "WWW-Authenticate",
)  # fmt: skip


def openapi_url(request: Request) -> str:
    """Where a browser fetches the OpenAPI document: under the root path the API is served at
    (``kb serve --root-path /kb`` behind a proxy), where "/openapi.json" was another app's."""
    return request.scope.get("root_path", "") + "/openapi.json"


def _unparsed_body(error: dict[str, Any]) -> bool:
    """A validation error saying the whole body is not an object, because it was not parsed."""
    return list(error.get("loc") or []) == ["body"] and isinstance(error.get("input"), str | bytes)


def refresh_searcher(app: FastAPI, settings: Settings) -> bool:
    """Open the newest index generation if one was published; True when the searcher changed.

    Requests already running keep the Searcher they started with; the old one is released
    (files closed) when the last of them lets go of it.
    """
    current: Searcher | None = app.state.searcher
    try:
        stale = current is None or current.is_stale()
    except BackendUnavailableError as exc:  # the database is down: /health says so, and the
        if getattr(app.state, "backend_error", "") != str(exc):  # log once (it was a
            logger.error("%s", exc)  # traceback every reload interval)
        app.state.backend_error = str(exc)
        return False
    app.state.backend_error = ""
    if not stale:
        return False
    try:
        fresh = Searcher.from_settings(settings) if current is None else current.reopen()
        fresh.warm_up()
    except Exception as exc:  # noqa: BLE001 - any failure refuses that generation, once
        if not isinstance(exc, KBError):  # said once, not a traceback every reload interval
            # (ten a second), as an unexpected error of one generation was
            said = f"{type(exc).__name__}: {exc}"
            if current is not None or str(app.state.load_error) != said:
                logger.exception("loading the newest index generation failed")
            exc = IndexCorruptError(said)
        if current is None:
            app.state.load_error = exc
        else:
            latest = current.latest_name()
            current.mark_refused(latest, str(exc))
            logger.error(
                "keeping index %s: %s failed to load: %s",
                current.manifest.index_version,
                latest,
                exc,
            )
        return False
    app.state.searcher = fresh
    app.state.load_error = None
    logger.info("now serving index %s", fresh.manifest.index_version)
    return True


def _watch_generations(app: FastAPI, settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(settings.reload_interval_s):
        try:
            refresh_searcher(app, settings)
        except Exception:  # the watcher must outlive any one bad generation
            logger.exception("index refresh failed")


def _one_thread_per_request() -> None:
    """Cap numpy's BLAS at one thread in this process (threads serve requests instead)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> FastAPI:
    """Build the app; tests pass a ready Searcher, production lets the lifespan load one.

    The API serves many requests at once on few cores, so each request computes on one
    thread: per-request BLAS and ONNX thread pools only fight each other under load
    (measured: 8 clients at 100k chunks, ~60 req/s with them, see bench/RESULTS.md).
    """
    settings = settings or get_settings()
    if settings.embed_threads == 0:
        settings = settings.model_copy(update={"embed_threads": 1})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.searcher = searcher
        app.state.load_error = None
        app.state.backend_error = ""  # the database unreachable since the index loaded
        app.state.search_slots = anyio.CapacityLimiter(settings.search_slot_count())
        if searcher is None:
            _one_thread_per_request()
            try:
                app.state.searcher = await run_in_threadpool(Searcher.from_settings, settings)
                await run_in_threadpool(app.state.searcher.warm_up)
            except KBError as exc:
                logger.error("search is unavailable: %s", exc)
                app.state.load_error = exc
            except Exception as exc:  # noqa: BLE001 - the API still starts and says why
                # ("Application startup failed. Exiting." left nothing to ask /health)
                logger.exception("search is unavailable")
                app.state.load_error = IndexCorruptError(f"{type(exc).__name__}: {exc}")
        stop = threading.Event()
        watcher = threading.Thread(
            target=_watch_generations,
            args=(app, settings, stop),
            daemon=True,
            name="kb-generation-watcher",
        )
        if settings.reload_interval_s > 0:
            watcher.start()
        yield
        stop.set()
        if watcher.is_alive():
            watcher.join(timeout=5)
        if app.state.searcher is not None and searcher is None:
            app.state.searcher.close()
        app.state.insights.close()
        if app.state.keystore is not None:
            app.state.keystore.close()

    app = FastAPI(
        title="kb-assistant",
        description="Cited passages from support SOPs and policies for agents mid-ticket.",
        version="0.1.0",
        lifespan=lifespan,
        # The key check first: an unknown query parameter is named only to a caller let in.
        dependencies=[Depends(guard), Depends(known_query_parameters)],
        # Served below as routes of this app, so the guard's loopback check covers them too:
        # FastAPI's own docs routes bypass app dependencies and answered any Host header.
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.router.route_class = StrictJsonRoute  # a key named twice in a JSON body is a 422

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_schema(request: Request) -> JSONResponse:
        fresh = app.openapi_schema is None
        schema = app.openapi()  # built once, then kept by FastAPI
        if fresh and settings.auth_required:
            declare_keys(schema)
        root = request.scope.get("root_path", "")
        if root:  # behind a proxy's prefix: "Try it out" and generated clients call under it
            schema = {**schema, "servers": [{"url": root}]}
        return JSONResponse(schema)

    @app.get("/docs", include_in_schema=False)
    def swagger_page(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url(request), title="kb-assistant - docs"
        )  # fmt: skip

    @app.get("/redoc", include_in_schema=False)
    def redoc_page(request: Request) -> HTMLResponse:
        return get_redoc_html(openapi_url=openapi_url(request), title="kb-assistant - ReDoc")

    app.state.keystore = KeyStore.from_settings(settings) if settings.auth_required else None
    app.state.limiter = (  # kept with the keys: every worker draws on the same buckets
        app.state.keystore.rate_limiter(settings.rate_limit_per_minute)
        if app.state.keystore is not None
        else RateLimiter(settings.rate_limit_per_minute)
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(PrivateResponses)  # outside the size limit: its 413 is marked too
    if settings.cors_origins:  # outermost: preflights never reach the key check
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            allow_private_network=True,  # a listed site may call an API on the intranet
            max_age=600,
        )

    @app.exception_handler(KBError)
    async def _kb_error(request: Request, exc: KBError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimitedError):
            headers["Retry-After"] = str(retry_seconds(exc.retry_after))
        elif isinstance(exc, AuthError):
            headers["WWW-Authenticate"] = "Bearer"
        status = status_for(exc)
        detail: Any = str(exc)
        if status == 422:
            detail = [invalid_input(request, exc)]
        return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = json_safe_errors(exc.errors())
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json" and any(_unparsed_body(e) for e in errors):
            # A JSON body sent as curl's default form type (or none) was read as text: "Input
            # should be a valid dictionary", beside valid JSON, sent integrators astray.
            errors = [
                {
                    "type": "content_type",
                    "loc": ["header", "content-type"],
                    "msg": f"send the body as JSON with the header Content-Type: "
                    f"application/json (this request said {kind or 'nothing'})",
                }
            ]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, DuplicateKeyError):  # {"query": "a", "query": "b"}
            return JSONResponse(status_code=422, content={"detail": [exc.__cause__.error()]})
        if isinstance(exc.__cause__, UnicodeDecodeError):  # raised while reading the JSON body
            return JSONResponse(
                status_code=422, content={"detail": [undecodable_body(exc.__cause__)]}
            )
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            detail = [unreadable_body(exc.__cause__)]
            return JSONResponse(status_code=422, content={"detail": detail})
        return await http_exception_handler(request, exc)

    @app.api_route(
        "/health",
        methods=["GET", "HEAD"],
        response_model=HealthOut,
        response_model_exclude_none=True,
        responses={
            503: {"model": HealthOut, "description": "Not serving: unavailable, and why."},
            **error_responses(422),
        },
    )
    def health(request: Request) -> Any:
        """Model, index version and counts; 'unavailable' with the reason when not serving.

        Open to every caller, so with keys on the counts, which include documents some keys
        may not see, are shown only to a key that sees every document. Unavailable is a 503
        (it was a 200, which load balancers and uptime checks read as healthy); HEAD answers
        as GET does, without the body."""
        # No searcher, or one whose model would not load at start (a model cache it may not
        # write): every search fails, where /health said "ok"
        if request.app.state.searcher is None or request.app.state.load_error is not None:
            return JSONResponse(
                status_code=503,
                content={"status": "unavailable", "reason": str(request.app.state.load_error)},
            )
        gone = getattr(request.app.state, "backend_error", "")
        if gone:  # the database went away since the index loaded: every search is a 503, so
            # the check says unavailable too ("degraded", a 200, kept it in a load balancer
            # and had the UI tell agents their answers came from an older index)
            return JSONResponse(status_code=503, content={"status": "unavailable", "reason": gone})
        out = request.app.state.searcher.health()
        if not sees_every_document(request):
            out.pop("counts", None)
        return out

    async def search(body: SearchRequest, request: Request) -> Response:
        """Ranked passages with citations (document, version, heading path, page, span)."""
        searcher = searcher_of(request)
        groups = groups_of(request)
        principal = getattr(request.state, "principal", None)
        caller_secret = principal.secret if principal is not None else ""

        def answer() -> Response:
            # Searching, logging and serialising all run on a worker thread: the event loop
            # only parses and sends, so one slow step never holds up other requests. The
            # response is checked against its schema here too, so FastAPI, handed bytes,
            # does not check and encode it again on the loop. The links are signed before
            # searching: a key revoked while its search runs gets the answer it was let in
            # for (its links already refused), not a 401 for a search that was logged.
            link_params = signed_links(request)  # with keys on, what a browser needs
            out = searcher.search(
                body.query,
                top_k=body.top_k,
                filters=body.filters,
                as_of=body.as_of,
                include_superseded=body.include_superseded,
                mode=body.mode,
                context=body.context,
                groups=groups,
            ).to_dict()
            out["search_id"] = record_search(request.app, out, body.replay_of, caller_secret)
            for result in out["results"]:
                result["link_params"] = link_params(result["doc_id"])
                result["source"] = shown_source(result["source"], result["doc_id"])
            payload = SearchResponseOut.model_validate(out).model_dump_json()
            return Response(payload, media_type="application/json")

        try:
            return await asyncio.wait_for(
                anyio.to_thread.run_sync(answer, limiter=request.app.state.search_slots),
                settings.request_timeout_s,
            )
        except TimeoutError as exc:
            raise DeadlineExceeded(
                f"the search took longer than {settings.request_timeout_s:g}s"
            ) from exc

    # The body's model states this server's limits (KB_MAX_QUERY_CHARS, KB_MAX_TOP_K) in the
    # OpenAPI document and checks them: a class built here, which FastAPI could not find by
    # the name this module's postponed annotations give it, so it is handed over as a class.
    search.__annotations__["body"] = search_request_model(settings)
    app.post(
        "/search",
        response_model=SearchResponseOut,
        responses=error_responses(*GUARDED, 409, 413, 503, 504),
    )(search)

    @app.get(
        "/documents",
        response_model=list[DocumentSummary],
        responses=error_responses(*GUARDED, 503),
    )
    def documents(request: Request) -> list[dict]:
        """Every indexed document with its metadata."""
        docs = searcher_of(request).list_documents(groups_of(request))
        return [{**d, "source": shown_source(d["source"], d["doc_id"])} for d in docs]

    @app.get(
        "/documents/{doc_id:path}",
        response_model=DocumentOut,
        responses=error_responses(*GUARDED, 404, 503),
    )
    def document(doc_id: str, request: Request) -> dict:
        """A document's metadata, text and structure: slice ``text[start:end]`` to cite."""
        doc = searcher_of(request).get_document(doc_id, groups_of(request))
        return {**doc, "source": shown_source(doc["source"], doc["doc_id"])}

    install_insights(app, settings)
    return app


def check_app(settings: Settings) -> None:
    """Build the app as a worker would, then release what it opened (key store, query log):
    a setting it refuses raises here, in the process that can report it in one line."""
    app = create_app(settings)
    app.state.insights.close()
    if app.state.keystore is not None:
        app.state.keystore.close()


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory api.app:app_factory``."""
    return create_app()
