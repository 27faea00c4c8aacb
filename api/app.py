"""The FastAPI application: routes translate HTTP to Searcher calls and KBErrors to statuses.

The model and index are loaded once in the lifespan, never at import. If no index exists yet,
the API still starts: /health says so and /search answers 503 with how to fix it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.schemas import (
    DocumentOut,
    DocumentSummary,
    ErrorOut,
    SearchRequest,
    SearchResponseOut,
)
from indexer.errors import (
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQueryError,
    KBError,
    ModelIntegrityError,
    NotFoundError,
)
from indexer.search import Searcher
from indexer.settings import Settings, get_settings

logger = logging.getLogger(__name__)

STATUS_FOR_ERROR: list[tuple[type[KBError], int]] = [
    (InvalidQueryError, 422),
    (NotFoundError, 404),
    (IndexNotFoundError, 503),
    (IndexMismatchError, 503),
    (ModelIntegrityError, 503),
    (KBError, 500),
]


def status_for(exc: KBError) -> int:
    """The HTTP status for a domain error (first matching class wins)."""
    return next(code for cls, code in STATUS_FOR_ERROR if isinstance(exc, cls))


def create_app(settings: Settings | None = None, searcher: Searcher | None = None) -> FastAPI:
    """Build the app; tests pass a ready Searcher, production lets the lifespan load one."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.searcher = searcher
        app.state.load_error = None
        if searcher is None:
            try:
                app.state.searcher = await run_in_threadpool(Searcher.from_settings, settings)
                await run_in_threadpool(app.state.searcher.warm_up)
            except KBError as exc:
                logger.error("search is unavailable: %s", exc)
                app.state.load_error = exc
        yield
        if app.state.searcher is not None and searcher is None:
            app.state.searcher.close()

    app = FastAPI(
        title="kb-assistant",
        description="Cited passages from support SOPs and policies for agents mid-ticket.",
        version="0.1.0",
        lifespan=lifespan,
    )

    @app.exception_handler(KBError)
    async def _kb_error(_request: Request, exc: KBError) -> JSONResponse:
        return JSONResponse(status_code=status_for(exc), content={"detail": str(exc)})

    def ready(request: Request) -> Searcher:
        found: Searcher | None = request.app.state.searcher
        if found is None:
            raise request.app.state.load_error or IndexNotFoundError("the index is not loaded")
        return found

    errors = {422: {"model": ErrorOut}, 503: {"model": ErrorOut}}

    @app.get("/health")
    def health(request: Request) -> dict:
        """Model, index version and counts; 'unavailable' with the reason when not serving."""
        if request.app.state.searcher is None:
            return {"status": "unavailable", "reason": str(request.app.state.load_error)}
        return request.app.state.searcher.health()

    @app.post("/search", response_model=SearchResponseOut, responses=errors)
    def search(body: SearchRequest, request: Request) -> dict:
        """Ranked passages with citations (document, version, heading path, page, span)."""
        response = ready(request).search(
            body.query,
            top_k=body.top_k,
            filters=body.filters,
            as_of=body.as_of,
            include_superseded=body.include_superseded,
            mode=body.mode,
            context=body.context,
        )
        return response.to_dict()

    @app.get("/documents", response_model=list[DocumentSummary], responses=errors)
    def documents(request: Request) -> list[dict]:
        """Every indexed document with its metadata."""
        return ready(request).list_documents()

    @app.get(
        "/documents/{doc_id:path}",
        response_model=DocumentOut,
        responses={404: {"model": ErrorOut}, 503: {"model": ErrorOut}},
    )
    def document(doc_id: str, request: Request) -> dict:
        """A document's metadata, text and structure: slice ``text[start:end]`` to cite."""
        return ready(request).get_document(doc_id)

    return app


def app_factory() -> FastAPI:
    """Entry point for ``uvicorn --factory api.app:app_factory``."""
    return create_app()
