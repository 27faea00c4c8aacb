"""Feedback, analytics, source views and evaluation runs: thin routes over ``insights``.

``install(app, settings)`` adds the routes and the (lazily opened) query log; the /search route
calls :func:`record_search` after building its response. Analytics answer JSON by default and
CSV with ``?format=csv`` for spreadsheets and other tools.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as FastAPIPath
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from api.guards import groups_of, searcher_of, signed_links
from api.inputs import StrictJsonRoute
from api.schemas import (
    GUARDED,
    ConflictOut,
    DocumentFeedbackOut,
    EvalDatasetOut,
    EvalRunOut,
    GapTopicOut,
    SearchLogOut,
    StaleOut,
    SummaryOut,
    Text,
    UnretrievedOut,
    error_responses,
    plain_today,
)
from api.security import ForbiddenError, RateLimitedError
from indexer import errors
from indexer.build import Progress
from indexer.documents import chunk_id_of
from indexer.errors import (
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQueryError,
    KBError,
    NotFoundError,
)
from indexer.render import marked_html, text_direction
from indexer.search import cited_place, version_label
from indexer.settings import Settings
from insights import conflicts, evaluation, gaps
from insights.querylog import RATINGS, QueryLog
from insights.redact import csv_text

logger = logging.getLogger(__name__)

Format = Annotated[
    Literal["json", "csv"], Query(alias="format", description="json (default) or csv")
]
Days = Annotated[int | None, Query(ge=1, le=3650, description="Only the last N days.")]
Unit = Annotated[float, Query(ge=0.0, le=1.0)]
Superseded = Annotated[
    bool, Query(description="Also list superseded versions (left out by default).")
]


class FeedbackRequest(BaseModel):
    """An agent's verdict on a search, or on one of its results (``chunk_id``)."""

    model_config = ConfigDict(extra="forbid")

    search_id: str = Field(..., min_length=8, max_length=64, description="From /search.")
    rating: Literal["helpful", "not_helpful", "wrong_or_outdated"]
    chunk_id: str | None = Field(None, max_length=128, description="A result of that search.")
    comment: str = Field("", max_length=2000, description="Optional; personal data is redacted.")


class FeedbackOut(BaseModel):
    feedback_id: str


class EvalRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: Text = Field(..., description="A name from GET /eval/datasets.")
    split: Text | None = None
    modes: list[Literal["default", "dense", "bm25", "hybrid"]] = Field(
        default_factory=lambda: ["default"], min_length=1, max_length=4
    )


class InsightsState:
    """Settings and the query log, opened on first use (the API starts without touching disk)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._log: QueryLog | None = None
        self._lock = threading.Lock()
        self.eval_runs: evaluation.EvalRuns  # set by install(), which knows the app

    @property
    def log(self) -> QueryLog:
        """The query log, or BackendUnavailableError (503) naming KB_LOG_PATH when its file
        cannot be opened: feedback and analytics were bare 500s, and each search's traceback
        said only "unable to open database file". Tried again at the next call."""
        with self._lock:
            if self._log is None:
                try:
                    self._log = QueryLog.from_settings(self.settings)
                except (sqlite3.Error, OSError) as exc:
                    raise errors.BackendUnavailableError(
                        f"the query log {self.settings.log_path} cannot be opened ({exc}): "
                        "check KB_LOG_PATH, and that the API may write to its folder"
                    ) from exc
            return self._log

    def close(self) -> None:
        if self._log is not None:
            self._log.close()


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the insights routes on ``app`` with their state."""
    app.state.insights = InsightsState(settings)
    app.state.insights.eval_runs = evaluation.EvalRuns(
        Path(settings.eval_cache_dir) / evaluation.RUNS_FILE,
        partial(_evaluate, app, settings),
        max_active=settings.eval_max_runs,
        keep_s=settings.eval_keep_s,
    )
    app.include_router(router)


def record_search(
    app: FastAPI, response: dict[str, Any], replay_of: str | None = None, caller: str = ""
) -> str | None:
    """Log a search response (redacted); a logging failure never fails the search.

    ``replay_of`` names a logged search that this one repeats exactly (a reloaded link): it
    keeps that id instead of counting the search twice in analytics, but only when the same
    ``caller`` (a Principal's secret; "" with keys off) made it: a colleague opening a shared
    link is another search.
    """
    try:
        log = app.state.insights.log
        if replay_of and log.logged(replay_of, response, caller):
            return replay_of
        return log.log_search(response, caller=caller)
    except KBError as exc:  # one line, not a traceback per search
        logger.error("search not logged: %s", exc)
        return None
    except Exception:  # the log is a side channel: keep answering agents
        logger.exception("could not write the query log")
        return None


router = APIRouter(route_class=StrictJsonRoute)
ANALYTICS = error_responses(*GUARDED, 503)
TABLE = {  # JSON rows by default; ?format=csv answers the same rows as a CSV file
    **ANALYTICS,
    200: {
        "description": "The rows as JSON, or as CSV with ?format=csv.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
}


def _state(request: Request) -> InsightsState:
    return request.app.state.insights


def _visibility(request: Request) -> set[str] | None:
    """Ids of the documents the caller may see; None when auth is off (all of them)."""
    if groups_of(request) is None:
        return None
    return {d["doc_id"] for d in _visible_documents(request)}


def _visible(searches: list[dict[str, Any]], seen: set[str] | None) -> list[dict[str, Any]]:
    """Searches as a caller who sees only ``seen`` may: results and feedback on documents
    outside the caller's access groups are removed, so analytics never reveal one.

    ``withheld`` marks a search that lost results so: its confidence came from its best
    passage, which may be one of them, so the score must not be shown either; nor its
    question (``query`` None). It was answered from documents above the caller's access
    groups, so it tells what their readers were working on ("steps for the leaked CEO
    account"), which redaction does not hide."""
    if seen is None:
        return [{**search, "withheld": False} for search in searches]
    shown = []
    for search in searches:
        results = [r for r in search["results"] if r.get("doc_id") in seen]
        withheld = len(results) < len(search["results"])
        shown.append(
            {
                **search,
                "query": None if withheld else search["query"],
                "results": results,
                "feedback": _visible_verdicts(search["feedback"], seen),
                "withheld": withheld,
            }
        )
    return shown


def _visible_verdicts(feedback: list[dict[str, Any]], seen: set[str] | None) -> list[dict]:
    """Feedback on the whole search, or on a passage of a document the caller may see."""
    if seen is None:
        return feedback
    return [f for f in feedback if not f.get("doc_id") or f["doc_id"] in seen]


def _comments(feedback: list[dict[str, Any]]) -> list[str]:
    return [f["comment"].strip() for f in feedback if (f.get("comment") or "").strip()]


def _visible_filters(filters: dict[str, Any], seen: set[str] | None) -> dict[str, Any]:
    """A search's filters as typed, less the ids of documents the caller may not see (a
    doc_id filter names the document it asked for)."""
    if seen is None or "doc_id" not in filters:
        return filters
    ids = filters["doc_id"] if isinstance(filters["doc_id"], list) else [filters["doc_id"]]
    return {**filters, "doc_id": [d for d in ids if d in seen]}


def _without_withheld(
    stats: dict[str, Any],
    log: QueryLog,
    seen: set[str] | None,
    since: str | None,
    threshold: float,
    low_margin: float = gaps.LOW_MARGIN,
) -> dict[str, Any]:
    """Summary counts less the unanswered and weak searches withheld from this caller: else
    the counts minus what /analytics/searches shows would give their hidden flags away."""
    if seen is None:
        return stats
    hidden = log.hidden_flag_counts(since, threshold + low_margin, seen)
    return {**stats, **{k: stats[k] - n for k, n in hidden.items()}}


def _visible_documents(request: Request) -> list[dict[str, Any]]:
    """Documents the caller may see (all of them when auth is off)."""
    return searcher_of(request).list_documents(groups_of(request))


# The columns of each CSV export, so an empty one still has its header row (a spreadsheet or
# script reading last week's export must find the same columns on a quiet week).
COLUMNS = {
    "coverage-gaps": (
        "topic_id", "count", "unanswered", "low_confidence", "negative_feedback", "trend",
        "first_seen", "last_seen", "label", "keywords", "examples", "distinct_queries",
        "closest_docs",
    ),
    "never-retrieved": ("doc_id", "title", "doc_type", "owner_team", "status", "not_in_force"),
    "past-review": (
        "doc_id", "title", "review_date", "days_overdue", "owner_team", "status", "reason",
        "not_in_force",
    ),
    "doc-feedback": (
        "doc_id", "title", "version", "helpful", "not_helpful", "wrong_or_outdated", "comments",
    ),
    "conflicts": (
        "similarity", "doc_a", "title_a", "section_a", "sentence_a", "text_a",
        "doc_b", "title_b", "section_b", "sentence_b", "text_b", "differences", "sentences",
        "sections",
    ),
    "searches": (
        "ts", "query", "answerable", "confidence", "top_doc", "results", "feedback", "comments",
        "filters", "search_id", "withheld",
    ),
}  # fmt: skip


def _table(rows: list[dict[str, Any]], fmt: str, name: str) -> Any:
    """The rows as JSON, or as a CSV download whose header is there even with no rows."""
    if fmt == "json":
        return rows
    columns = list(COLUMNS[name])
    for row in rows:  # a column added upstream is exported, not dropped
        columns += [k for k in row if k not in columns]
    return Response(
        csv_text(rows, columns),  # text cells formula-safe: queries are typed by anyone
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


@router.post(
    "/feedback",
    status_code=201,
    response_model=FeedbackOut,
    responses=error_responses(*GUARDED, 404, 413),
    tags=["feedback"],
)
def feedback(body: FeedbackRequest, request: Request) -> dict:
    """Helpful / not helpful / wrong or outdated, on a search or one of its results."""
    seen = _visibility(request) if body.chunk_id is not None else None
    principal = getattr(request.state, "principal", None)
    feedback_id = _state(request).log.add_feedback(
        body.search_id, body.rating, body.comment, body.chunk_id,
        may_see=None if seen is None else seen.__contains__,
        caller=principal.secret if principal is not None else "",
    )  # fmt: skip
    return {"feedback_id": feedback_id}


@router.get("/feedback/ratings", responses=error_responses(*GUARDED), tags=["feedback"])
def ratings() -> list[str]:
    return list(RATINGS)


MAX_OFFSET = 2**63 - 1  # SQLite's largest integer; past it the query failed with a 500


def _utc_seconds(moment: dt.datetime) -> str:
    """A time as the log stores it (UTC, ISO 8601 to the second); naive means UTC. A time
    whose UTC form falls outside years 1-9999 ("9999-12-31T23:59:59-12:00") is bad input."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    try:
        return moment.astimezone(dt.UTC).isoformat(timespec="seconds")
    except OverflowError:
        raise errors.InvalidQueryError(
            f"since {moment.isoformat()} is outside the years 1-9999 in UTC", "since"
        ) from None


def _since(days: int | None) -> str | None:
    if not days:
        return None
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat(timespec="seconds")


@router.get(
    "/analytics/summary", response_model=SummaryOut, responses=ANALYTICS, tags=["analytics"]
)
def analytics_summary(
    request: Request, days: Days = None, low_margin: Unit = gaps.LOW_MARGIN
) -> dict:
    """Searches, unanswered, low-confidence and negative-feedback counts (``low_margin`` as on
    /analytics/gaps, so the two count low confidence alike)."""
    state, since = _state(request), _since(days)
    threshold = state.settings.answerable_threshold
    stats = state.log.search_stats(since, threshold + low_margin)  # counted in SQL
    seen = _visibility(request)
    stats = _without_withheld(stats, state.log, seen, since, threshold, low_margin)
    verdicts = _visible_verdicts(state.log.verdicts(since), seen)
    return gaps.summary_of(stats, verdicts)


@router.get(
    "/analytics/gaps", response_model=list[GapTopicOut], responses=TABLE, tags=["analytics"]
)
def analytics_gaps(
    request: Request,
    fmt: Format = "json",
    days: Days = None,
    cluster_threshold: Unit = gaps.CLUSTER_THRESHOLD,
    low_margin: Unit = gaps.LOW_MARGIN,
) -> Any:
    """Unanswered, low-confidence and disliked searches grouped into topics."""
    state, searcher = _state(request), searcher_of(request)
    threshold = state.settings.answerable_threshold
    topics = gaps.gap_topics(
        _latest_signals(request, _since(days), threshold, low_margin),
        searcher.embedder.encode,
        threshold,
        low_margin=low_margin,
        cluster_threshold=cluster_threshold,
        max_queries=gaps.MAX_QUERIES,
    )
    return _table(topics, fmt, "coverage-gaps")


def _latest_signals(
    request: Request, since: str | None, threshold: float, low_margin: float
) -> list[dict[str, Any]]:
    """The latest gap signals the caller may see (at most gaps.MAX_QUERIES), oldest first:
    what gap_topics keeps of the whole log, read without decoding the rest of it."""
    seen = _visibility(request)
    found: list[dict[str, Any]] = []
    for batch in _state(request).log.signal_candidates(since, threshold + low_margin):
        # a withheld search has no question to group, and its verdict came from passages
        # the caller may not see: it is no gap of theirs
        shown = [s for s in _visible(batch, seen) if not s["withheld"]]
        found += [s for s in shown if gaps.signal_reasons(s, threshold, low_margin)]
        if len(found) >= gaps.MAX_QUERIES:
            break
    return found[: gaps.MAX_QUERIES][::-1]


@router.get(
    "/analytics/unretrieved",
    response_model=list[UnretrievedOut],
    responses=TABLE,
    tags=["analytics"],
)
def analytics_unretrieved(
    request: Request,
    fmt: Format = "json",
    days: Days = None,
    include_superseded: Superseded = False,
    top: Annotated[
        int | None,
        Query(
            ge=1,
            le=1000,
            description="Only count results in the first N (agents read the first few); "
            "default: any rank.",
        ),
    ] = None,
) -> Any:
    """Documents that no logged search has returned (superseded versions left out), or none
    returned within its first ``top`` results."""
    rows = gaps.not_retrieved(
        _visible_documents(request),
        _state(request).log.retrieved_doc_ids(_since(days), top),
        include_superseded=include_superseded,
        every=searcher_of(request).list_documents(None),  # versions retire for everyone
    )
    return _table(rows, fmt, "never-retrieved")


@router.get("/analytics/stale", response_model=list[StaleOut], responses=TABLE, tags=["analytics"])
def analytics_stale(
    request: Request,
    fmt: Format = "json",
    today: Annotated[dt.date | None, BeforeValidator(plain_today)] = None,
    include_superseded: Superseded = False,
) -> Any:
    """Documents past their review date (superseded versions left out)."""
    every = searcher_of(request).list_documents(None)  # versions retire for everyone
    rows = gaps.past_review(_visible_documents(request), today, include_superseded, every)
    return _table(rows, fmt, "past-review")


@router.get(
    "/analytics/document-feedback",
    response_model=list[DocumentFeedbackOut],
    responses=TABLE,
    tags=["analytics"],
)
def analytics_document_feedback(request: Request, fmt: Format = "json", days: Days = None) -> Any:
    """Ratings per document and version rated, the most often 'wrong or outdated' first."""
    log = _state(request).log
    verdicts = _visible_verdicts(log.verdicts(_since(days)), _visibility(request))
    rows = gaps.feedback_by_document(verdicts, *log.rated_results(verdicts))
    return _table(rows, fmt, "doc-feedback")


@router.get(
    "/analytics/conflicts",
    response_model=list[ConflictOut],
    responses={**TABLE, **error_responses(422, 504)},
    tags=["analytics"],
)
def analytics_conflicts(
    request: Request,
    fmt: Format = "json",
    min_similarity: Unit = 0.5,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    include_versions: bool = False,
) -> Any:
    """Near-duplicate passages in different documents whose numbers, durations or dates differ.

    Bounded by KB_REQUEST_TIMEOUT_S like a search (504), and refused (422) when the threshold
    lets through more pairs than one request may compare."""
    started = time.monotonic()
    searcher = searcher_of(request)
    documents = searcher.list_documents(groups_of(request))
    seen = {d["doc_id"] for d in documents}
    chunks, vectors = _passages_with_vectors(searcher)
    keep = [i for i, c in enumerate(chunks) if c["doc_id"] in seen]  # only what the caller may see
    rows = conflicts.find_conflicts(
        [chunks[i] for i in keep],
        vectors[keep],
        documents,
        min_similarity=min_similarity,
        limit=limit,
        include_versions=include_versions,
        retired=gaps.superseded(searcher.list_documents(None)),  # for everyone, as search
        deadline=started + _state(request).settings.request_timeout_s,
        section_of=_sections_reader(searcher, groups_of(request)),
    )
    return _table(rows, fmt, "conflicts")


def _sections_reader(searcher: Any, groups: Any) -> Callable[[str, int], list[str] | None]:
    """``section_of(doc_id, offset)``: the document's heading path at ``offset``, each
    document's sections read once (a conflict names the section of its sentence)."""
    read: dict[str, list[list[Any]]] = {}

    def section_of(doc_id: str, offset: int) -> list[str] | None:
        if doc_id not in read:
            doc = searcher.get_document(doc_id, groups)
            read[doc_id] = [[s["heading_path"], s["start"], s["end"]] for s in doc["sections"]]
        path, _ = cited_place(read[doc_id], [], offset, [], None)
        return path or None

    return section_of


def _passages_with_vectors(searcher: Any, attempts: int = 2) -> tuple[list[dict], np.ndarray]:
    """Every passage and its vector, row for row, from one version of the index.

    The postgres backend reads passages and vectors in separate snapshots, so a re-index
    committing in between would pair vectors with the wrong passages (or run past the end).
    The passages are read again after the vectors: the same chunk ids (content hashes) in the
    same order, and as many vectors, mean nothing changed in between. Otherwise read once more,
    then give up with a 503 rather than report conflicts between mismatched passages.
    """
    for _ in range(attempts):
        chunks = searcher.chunks()
        vectors = searcher.passage_vectors()
        if len(vectors) == len(chunks) and _ids(searcher.chunks()) == _ids(chunks):
            return chunks, vectors
        logger.warning("the index changed while conflicts read it; reading it again")
    raise IndexMismatchError(
        "the index changed (a re-index is running) while its passages were read; "
        "try again in a moment"
    )


def _ids(chunks: list[dict[str, Any]]) -> list[str]:
    return [c["chunk_id"] for c in chunks]


DEFAULT_PAGE = 1000  # searches per page of /analytics/searches unless a limit is given
MAX_PAGE = 100_000
PAGED = {
    **TABLE,
    200: {
        **TABLE[200],
        "headers": {
            "X-Total-Count": {
                "description": "Searches in the period, on all pages.",
                "schema": {"type": "integer"},
            },
            "Link": {
                "description": 'The next page as <url>; rel="next", while there is one.',
                "schema": {"type": "string"},
            },
        },
    },
}


@router.get(
    "/analytics/searches", response_model=list[SearchLogOut], responses=PAGED, tags=["analytics"]
)
def analytics_searches(
    request: Request,
    response: Response,
    fmt: Format = "json",
    days: Days = None,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            le=MAX_PAGE,
            description=f"Searches per page (default {DEFAULT_PAGE} as JSON, {MAX_PAGE} as CSV).",
        ),
    ] = None,
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="Searches to skip, oldest first.")
    ] = 0,
    since: Annotated[
        dt.datetime | None,
        Query(
            description="Only searches at or after this time (ISO 8601, UTC when no offset is "
            "given; instead of days). The next-page link carries it, so pages do not shift."
        ),
    ] = None,
) -> Any:
    """The (redacted) query log, oldest first, one page at a time, with what each search
    returned and its feedback. ``X-Total-Count`` has the number of searches in the period;
    ``Link: <...>; rel="next"`` the next page while there is one, over the same fixed period
    (``days`` is turned into ``since`` once, so a later page does not start from a later now)."""
    if days is not None and since is not None:  # one would silently win over the other
        raise InvalidQueryError("give days or since, not both", "since")
    log = _state(request).log
    start = _since(days) if since is None else _utc_seconds(since)
    # A spreadsheet download is one file: it gets everything up to the page cap by default.
    limit = limit or (MAX_PAGE if fmt == "csv" else DEFAULT_PAGE)
    read = log.searches(start, limit=limit, offset=offset)
    seen = _visibility(request)
    page = _visible(read, seen)
    rows = [
        {
            "ts": s["ts"],
            "query": s["query"],
            "answerable": None if s["withheld"] else s["answerable"],
            "confidence": None if s["withheld"] else s["confidence"],
            "top_doc": s["results"][0]["doc_id"] if s["results"] else None,
            "results": [r["doc_id"] for r in s["results"]],
            "feedback": [f["rating"] for f in s["feedback"]],
            # what the searcher wrote with a rating ("nothing about crypto payouts"): a count
            # of ratings does not say what was missing
            # (none of a withheld search: they could tell its hidden question)
            "comments": [] if s["withheld"] else _comments(s["feedback"]),
            "filters": _visible_filters(s["filters"], seen),
            "search_id": s["search_id"],
            "withheld": s["withheld"],
        }
        for s in page
    ]
    total = log.count_searches(start)
    headers = {"X-Total-Count": str(total)}
    if offset + len(read) < total:  # read, not shown: hidden searches still take their place
        following = request.url.remove_query_params("days").include_query_params(
            offset=offset + len(read), limit=limit, **({"since": start} if start else {})
        )
        # Relative (RFC 8288 allows it): the Host header is the caller's to write, and an
        # absolute link built from it would point a cache's readers elsewhere.
        headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'
    out = _table(rows, fmt, "searches")
    (out if isinstance(out, Response) else response).headers.update(headers)
    return out


# -- opening a citation --------------------------------------------------------------------


def _answers(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """A route that answers ``media_type`` when it succeeds and ErrorOut JSON when not.

    The route's response class stays the plain ``Response`` (no media type of its own):
    with ``HTMLResponse`` there, FastAPI documented the JSON errors as text/html.
    """
    ok = {"description": description, "content": {media_type: {"schema": {"type": "string"}}}}
    return {200: ok, **error_responses(*GUARDED, 404, 503)}


CHANGED_SINCE_CITED = (
    '<p class="changed"><strong>This document has changed since the citation was made:</strong> '
    "the cited passage is no longer at that place, so nothing is marked. Search again to cite "
    "the current text.</p>"
)


def _cited_page(
    pages: list[dict[str, Any]], start: int | None, end: int | None, asked: int | None
) -> int | None:
    """The page a PDF viewer should open: the one the citation names when the span reaches
    it (the highlighted sentence may sit on the span's second page), else the span's first."""
    if start is None or end is None:
        return None
    spanned = [p["page"] for p in pages if p["start"] < end and p["end"] > start]
    first = [p["page"] for p in pages if p["start"] <= start]
    if asked in spanned:
        return asked
    return first[-1] if first else None


async def signed_link(
    kid: Annotated[
        str | None,
        Query(
            description="With API keys on, a signed link (a search result's link_params) "
            "stands in for the key: the key's id, ..."
        ),
    ] = None,
    exp: Annotated[
        str | None, Query(description="... when the link expires (Unix time) ...")
    ] = None,
    sig: Annotated[str | None, Query(description="... and its signature.")] = None,
) -> None:
    """The parameters of a signed link, which a browser opening a citation sends instead of a
    key. The app's guard reads and checks them (api.guards.link_caller); they are declared
    here so the document lists them and the unknown-parameter check knows them."""


@router.get(
    "/source/{doc_id:path}",
    response_class=Response,
    dependencies=[Depends(signed_link)],
    responses=_answers("text/html", "The document as an HTML page, the cited span marked."),
    tags=["documents"],
)
def source_view(
    doc_id: str,
    request: Request,
    start: Annotated[int | None, Query(ge=0)] = None,
    end: Annotated[int | None, Query(ge=0)] = None,
    chunk: Annotated[
        str | None,
        Query(
            pattern="^[0-9a-f]{20}$",
            description="The cited passage's chunk_id: when the document no longer holds that "
            "passage at start-end (it changed since the search), the page says so (and the "
            "X-Citation-Changed: true header) and marks nothing, instead of marking whatever "
            "text now sits there.",
        ),
    ] = None,
    page: Annotated[
        int | None,
        Query(
            ge=1,
            description="The page the citation names (a search result's page: where its "
            "highlighted sentence is), for the original PDF's link; default: the page the "
            "span starts on. A page the span does not reach is ignored.",
        ),
    ] = None,
) -> HTMLResponse:
    """The document as text, with section and page anchors and the cited span marked."""
    doc = searcher_of(request).get_document(doc_id, groups_of(request))
    text = doc["text"]
    marked = start is not None or end is not None  # a span needs both ends, not one ignored
    changed = chunk is not None and (
        start is None or end is None or chunk != chunk_id_of(doc_id, start, end, text[start:end])
    )
    if changed:
        start = end = None
    elif marked and (start is None or end is None or not start < end <= len(text)):
        raise InvalidQueryError(
            "start and end must satisfy 0 <= start < end <= document length",
            "start" if start is None else "end",
        )
    events: list[tuple[int, int, str]] = []
    for s in doc["sections"]:
        if s.get("anchor"):
            events.append((s["start"], 1, f'<span id="{html.escape(s["anchor"])}"></span>'))
    if len(doc["pages"]) > 1 or doc["format"] == "pdf":
        for p in doc["pages"]:
            events.append(
                (p["start"], 0, f'<span class="page" id="page-{p["page"]}">page {p["page"]}</span>')
            )
    # Escaped as written, tables as tables, the cited span marked (the first mark is #passage).
    shown = marked_html(
        text, start or 0, end or 0, events, None if start is None else "passage"
    )  # fmt: skip
    meta = doc["metadata"]
    original = ""
    if doc["format"] == "pdf" and Path(doc["source"]).is_file():
        signed = signed_links(request)(doc_id)  # the browser came with a link, not a key
        root = request.scope.get("root_path", "")  # behind a proxy's prefix, under it
        href = f"{root}/source-file/{quote(doc_id)}" + (f"?{signed}" if signed else "")
        href += f"#page={n}" if (n := _cited_page(doc["pages"], start, end, page)) else ""
        original = f' · <a href="{html.escape(href)}">original PDF</a>'
    language = str(meta.get("language") or "")
    body = (
        f"<!doctype html><html lang='{html.escape(language or 'und', quote=True)}'>"
        "<head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(doc['title'])}</title><style>"
        "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
        "line-height:1.5}"
        ".text{white-space:pre-wrap;overflow-wrap:anywhere}mark{background:#ffe58a}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}"
        ".page{display:block;color:#888;border-top:1px dashed #bbb;margin-top:1em;font-size:.8em}"
        ".changed{background:#fde2e1;padding:.5em 1em;border-left:4px solid #c0392b}"
        "</style></head><body>"
        f"<h1 dir='auto'>{html.escape(doc['title'])}</h1><p>{html.escape(doc_id)} · "
        f"{html.escape(version_label(meta))}{original}</p>"
        + (CHANGED_SINCE_CITED if changed else "")
        + f"<div class='text' dir='{text_direction(language)}'>{shown}</div></body></html>"
    )
    # Escaped text and one inline style sheet: a policy that allows nothing else keeps it so,
    # even if an escaping slip ever let markup through.
    return HTMLResponse(
        body,
        headers={
            **({"X-Citation-Changed": "true"} if changed else {}),
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
            "base-uri 'none'; form-action 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


@router.get(
    "/source-file/{doc_id:path}",
    response_class=Response,
    dependencies=[Depends(signed_link)],
    responses=_answers("application/octet-stream", "The file as indexed (PDF, HTML, ...)."),
    tags=["documents"],
)
def source_file(doc_id: str, request: Request) -> FileResponse:
    """The original file of an indexed document (PDF viewers honour ``#page=N``)."""
    doc = next((d for d in _visible_documents(request) if d["doc_id"] == doc_id), None)
    if doc is None or not Path(doc["source"]).is_file():
        raise NotFoundError(f"no original file for {doc_id!r}")
    return FileResponse(doc["source"], headers=original_file_headers(doc["source"]))


def original_file_headers(source: str) -> dict[str, str]:
    """Headers for serving a knowledge-base file from the API's own origin.

    An HTML or SVG document is whatever its author saved, scripts included: sandboxed, it is
    shown but runs nothing as the API. PDFs are left out of the sandbox, which Chromium's
    viewer refuses to render in. Never sniffed as another type; never sent as a Referer
    (the address may carry a signed link).
    """
    headers = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
    if Path(source).suffix.lower() != ".pdf":
        headers["Content-Security-Policy"] = "sandbox"
    return headers


# -- evaluation ----------------------------------------------------------------------------


@router.get(
    "/eval/datasets",
    response_model=list[EvalDatasetOut],
    responses=error_responses(*GUARDED),
    tags=["evaluation"],
)
def eval_datasets(request: Request) -> list[dict[str, Any]]:
    """Labelled sets the evaluator can run: kb/ and each folder of the datasets directory, by
    name and splits (not the server's paths: the API never shows them)."""
    s = _state(request).settings
    found = evaluation.available_datasets(s.kb_dir, s.datasets_dir).values()
    return [{k: v for k, v in d.items() if k != "path"} for d in found]


EVAL_RESPONSES = {
    **error_responses(*GUARDED, 404, 413, 503),
    429: {
        **error_responses(429)[429],
        "description": "Too many requests for this key, or too many evaluation runs running "
        "or queued (the message says which); see Retry-After.",
    },
}
RUN_GONE = (
    "finished runs are kept for {minutes:g} minutes (the newest {count}); start the "
    "evaluation again"
)


class EvalBusyError(RateLimitedError):
    """Too many evaluation runs are running or queued (HTTP 429, with Retry-After)."""

    def __init__(self, message: str, retry_after: float) -> None:
        KBError.__init__(self, message)  # its own message, not the per-key rate limit's
        self.retry_after = retry_after


def _evaluate(
    app: FastAPI,
    settings: Settings,
    dataset: str,
    split: str | None,
    modes: list[str],
    progress: Progress,
) -> dict[str, Any]:
    """Compute one run in this process, with the model this process serves (the evaluator
    measures what agents get); any API worker may be the one that computes a run."""
    found = evaluation.available_datasets(settings.kb_dir, settings.datasets_dir)
    if dataset not in found:
        raise NotFoundError(f"no labelled set {dataset!r}; see GET /eval/datasets")
    searcher = app.state.searcher
    if searcher is None:
        raise app.state.load_error or IndexNotFoundError("the index is not loaded")
    return evaluation.run(
        Path(found[dataset]["path"]),
        split,
        modes,
        searcher.embedder,
        settings,
        settings.eval_cache_dir,
        progress,
    )


KB_DATASET = "kb"  # the knowledge base's own labelled set (evaluation.available_datasets)


def _may_read(request: Request, dataset: str) -> None:
    """A run on the knowledge base's own set searches with no access groups and reports the
    passages it ranked: only a caller who sees every indexed document may start or read one."""
    if dataset != KB_DATASET or groups_of(request) is None:
        return
    searcher = searcher_of(request)
    if len(searcher.list_documents(groups_of(request))) < len(searcher.list_documents()):
        raise ForbiddenError(
            "an evaluation of the knowledge base's own set shows passages of every document; "
            "it needs a key whose access groups cover all of them"
        )


def _submit(body: EvalRequest, request: Request) -> tuple[dict[str, Any], bool]:
    """Start the requested run, or join an identical one queued or running."""
    state = _state(request)
    searcher_of(request)  # no index loaded: a 503 now, not a failed run later
    settings = state.settings
    found = evaluation.available_datasets(settings.kb_dir, settings.datasets_dir)
    if body.dataset not in found:
        raise NotFoundError(f"no labelled set {body.dataset!r}; see GET /eval/datasets")
    _may_read(request, body.dataset)
    splits = found[body.dataset]["splits"]
    if body.split not in splits:
        named = ", ".join(repr(s) for s in splits if s is not None)
        asked = "queries.jsonl (split null)" if body.split is None else f"split {body.split!r}"
        raise InvalidQueryError(
            f"{body.dataset} has no {asked}; its splits: {named or 'none'}"
            + (" or null, for queries.jsonl" if None in splits else ""),
            "split",
        )
    try:
        return state.eval_runs.submit(body.dataset, body.split, list(dict.fromkeys(body.modes)))
    except evaluation.RunsBusyError as exc:
        raise EvalBusyError(str(exc), exc.retry_after) from exc


def _failure(view: dict[str, Any]) -> KBError:
    """A failed run's error as the domain error it was, for its HTTP status (a run may have
    failed in another worker process: only its message and error class name are stored)."""
    name = view.get("error_type") or ""
    cls = getattr(errors, name, None) or getattr(evaluation, name, None)
    if isinstance(cls, type) and issubclass(cls, KBError):
        try:
            return cls(view["error"])
        except TypeError:  # a constructor that takes more than a message
            pass
    return KBError(view["error"])


WAIT_POLL_S = 0.2  # how often a waiting POST /eval/run looks at its run


@router.post("/eval/run", responses=EVAL_RESPONSES, tags=["evaluation"])
async def eval_run(body: EvalRequest, request: Request) -> Any:
    """Evaluate one labelled set in the chosen modes with the serving model, and wait for it.

    The same run as POST /eval/runs (an identical one already running is joined), answered
    when it ends: minutes on a shared set, so interactive callers should start a run there
    and poll it instead.

    It waits on the event loop, not on a worker thread: forty waiting callers held every
    thread of the pool, and searches, key checks and /health queued behind them for minutes.
    A caller that goes away stops waiting (the run goes on, for whoever follows it).
    """
    started, _joined = await run_in_threadpool(_submit, body, request)
    runs = _state(request).eval_runs
    while (view := await run_in_threadpool(runs.finished, started["run_id"])) is None:
        if await request.is_disconnected():
            return Response(status_code=499)  # "client closed request": nobody reads this
        await asyncio.sleep(WAIT_POLL_S)
    if view["status"] != "done":  # failed, or cancelled (a 409)
        raise _failure(view)
    return view["result"]


@router.post(
    "/eval/runs",
    status_code=202,
    response_model=EvalRunOut,
    responses={
        **EVAL_RESPONSES,
        200: {
            "model": EvalRunOut,
            "description": "An identical run was already queued or "
            "running: this request follows it (same run_id).",
        },
        202: {"model": EvalRunOut, "description": "A new run, queued or running."},
    },
    tags=["evaluation"],
)
def eval_runs_start(body: EvalRequest, request: Request, response: Response) -> dict[str, Any]:
    """Start an evaluation in the background and answer at once with its ``run_id``.

    Poll GET /eval/runs/{run_id} for its status and progress, and its result once done. A
    request for the same set, split and modes as a run still queued or running joins it
    (answered 200, not 202). The API computes one run at a time and queues a few; past that
    it answers 429 with Retry-After.
    """
    view, joined = _submit(body, request)
    if joined:
        response.status_code = 200
    response.headers["Location"] = f"/eval/runs/{view['run_id']}"
    return view


@router.get(
    "/eval/runs",
    response_model=list[EvalRunOut],
    responses=error_responses(*GUARDED),
    tags=["evaluation"],
)
def eval_runs_list(request: Request) -> list[dict[str, Any]]:
    """Runs queued, running or finished lately, newest first (without their results)."""
    return _state(request).eval_runs.runs()


RunId = Annotated[str, FastAPIPath(pattern="^[0-9a-f]{32}$", description="From POST.")]


def _held(runs: evaluation.EvalRuns, run_id: str, view: dict[str, Any] | None) -> dict[str, Any]:
    """The run's view, or a 404 saying how long finished runs are kept."""
    if view is None:
        gone = RUN_GONE.format(minutes=runs.keep_s / 60, count=runs.keep_finished)
        raise NotFoundError(f"no evaluation run {run_id!r}: {gone}")
    return view


@router.delete(
    "/eval/runs/{run_id}",
    response_model=EvalRunOut,
    responses=error_responses(*GUARDED, 404),
    tags=["evaluation"],
)
def eval_runs_cancel(run_id: RunId, request: Request) -> dict[str, Any]:
    """Cancel a run: a queued one at once, a running one within about a second (its status is
    then ``cancelled`` for everyone following it, not ``failed``: nothing went wrong), so a
    mistaken run on a big set does not hold the one computing slot. A finished run is
    answered as it is."""
    runs = _state(request).eval_runs
    _may_read(request, _held(runs, run_id, runs.get(run_id, with_result=False))["dataset"])
    return _held(runs, run_id, runs.cancel(run_id))


@router.get(
    "/eval/runs/{run_id}",
    response_model=EvalRunOut,
    responses=error_responses(*GUARDED, 404),
    tags=["evaluation"],
)
def eval_runs_get(run_id: RunId, request: Request) -> dict[str, Any]:
    """A run's status and progress; its result once done, its error if it failed or why it
    stopped if it was cancelled."""
    runs = _state(request).eval_runs
    view = _held(runs, run_id, runs.get(run_id))
    _may_read(request, view["dataset"])
    return view
