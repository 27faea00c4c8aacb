"""Request and response bodies of the HTTP API (the OpenAPI docs are generated from these)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationInfo,
    create_model,
    field_validator,
)
from pydantic_core import PydanticCustomError

from indexer.inputs import is_blank, is_plain_date, is_text
from indexer.settings import SearchMode, Settings

NOT_TEXT = "holds an unpaired surrogate (broken UTF-16), so it is not text"


def text_only(value: str, info: ValidationInfo) -> str:
    """The value if it is text (see :func:`is_text`); the error names the field."""
    if not is_text(value):
        raise ValueError(f"{info.field_name or 'the text'} {NOT_TEXT}")
    return value


def plain_date(value: object, name: str = "as_of") -> object:
    """``as_of`` (or the parameter ``name``) is a calendar date, written YYYY-MM-DD, as the CLI
    takes it.

    Date-times (even at midnight), timestamps and other ISO forms are refused rather than cut
    to a date: which day "2026-01-01T23:00:00-05:00" means depends on a time zone we would
    have to guess, and effective dates are plain dates.
    """
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if not isinstance(value, str) or not is_plain_date(value):
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, got {value!r}")
    try:  # else pydantic's message asks for "a valid date or datetime"
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} {value!r} is not a calendar date: {exc}") from None


def plain_today(value: object) -> object:
    """:func:`plain_date` for a ``today`` parameter (the review list's day)."""
    return plain_date(value, "today")


def json_type(value: object) -> str:
    """How a JSON value reads to the caller who sent it ("a number", "a list holding ...")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        odd = next((v for v in value if not isinstance(v, str)), None)
        return "a list" if odd is None else f"a list holding {json_type(odd)}"
    return type(value).__name__


def filter_shapes(value: object) -> object:
    """Each filter is a string or a non-empty list of strings: one message naming the filter,
    instead of pydantic's one error per branch of the union (loc "str" and "list[str]")."""
    if not isinstance(value, dict):
        return value  # pydantic says it must be an object
    for name, wanted in value.items():
        if isinstance(wanted, list) and not wanted:
            raise ValueError(
                f"filter {name!r} lists no value; give one or more, or leave the filter out"
            )
        if not isinstance(wanted, str | list) or not all(isinstance(v, str) for v in wanted):
            raise ValueError(
                f"filter {name!r} takes a string or a list of strings, not {json_type(wanted)}"
            )
    return value


Text = Annotated[str, AfterValidator(text_only)]
# A length limit on a Text field goes inside the type: as Field(max_length=...) on the
# validated type, pydantic counted "items after validation" instead of characters.
SearchId = Annotated[str, StringConstraints(max_length=64), AfterValidator(text_only)]


class SearchRequest(BaseModel):
    """A question and how to narrow it.

    The query length and ``top_k`` limits are the settings' (``KB_MAX_QUERY_CHARS``,
    ``KB_MAX_TOP_K``): :func:`search_request_model` adds them for the running app, and the
    Searcher checks them again for every caller (the CLI too).
    """

    model_config = ConfigDict(extra="forbid")

    query: Text = Field(
        ...,
        description="The agent's question, as typed (at most KB_MAX_QUERY_CHARS characters, "
        "1000 by default; this server's limit is the maxLength here).",
        examples=["refund coins bought by minor MY"],
    )
    top_k: StrictInt | None = Field(
        None,
        ge=1,
        description="How many passages to return (default KB_DEFAULT_TOP_K, 5; at most "
        "KB_MAX_TOP_K, 50 by default; this server's limit is the maximum here).",
    )
    filters: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Metadata filters (any-of within a field): doc_type, markets, product_area, "
        "language, access_groups, tags, status, owner_team, doc_id.",
        examples=[{"markets": ["MY"], "product_area": "payments"}],
    )
    as_of: dt.date | None = Field(
        None, description="Answer as of this date, YYYY-MM-DD (default: today)."
    )
    include_superseded: StrictBool = Field(False, description="Also return superseded versions.")
    mode: SearchMode | None = Field(
        None, description="Retrieval mode (default: the configured best, hybrid)."
    )
    context: StrictInt = Field(
        0, ge=0, le=3, description="Neighbouring passages to add per result."
    )
    replay_of: SearchId | None = Field(
        None,
        description="The search_id of a logged search of the same question that this request "
        "shows again (a reloaded link): it is answered but not logged a second time.",
    )

    @field_validator("query")
    @classmethod
    def _query_not_blank(cls, value: str) -> str:
        if is_blank(value):
            raise ValueError("query is empty")
        return value

    @field_validator("filters", mode="before")
    @classmethod
    def _filters_have_their_shape(cls, value: object) -> object:
        return filter_shapes(value)

    @field_validator("filters")
    @classmethod
    def _filters_are_text(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        """One error naming the filter, rather than one per branch of the value's union."""
        for name, wanted in value.items():
            if not is_text(name):  # repr() escapes the surrogate, so the message encodes
                raise ValueError(f"filter name {name!r} {NOT_TEXT}")
            if not all(map(is_text, [wanted] if isinstance(wanted, str) else wanted)):
                raise ValueError(f"a value of filter {name!r} {NOT_TEXT}")
        return value

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of_is_a_plain_date(cls, value: object) -> object:
        return plain_date(value)


def _at_most_chars(limit: int) -> AfterValidator:
    """The query length limit, counted as typed (as the UI's box counts it)."""

    def check(value: str) -> str:
        if len(value) > limit:
            raise PydanticCustomError(
                "string_too_long",
                "query is {length} characters; the limit is {max_length} (KB_MAX_QUERY_CHARS)",
                {"max_length": limit, "length": len(value)},
            )
        return value

    return AfterValidator(check)


def _at_most_top_k(limit: int) -> AfterValidator:
    def check(value: int) -> int:
        if value > limit:
            raise PydanticCustomError(
                "less_than_equal", "top_k must be between 1 and {le} (KB_MAX_TOP_K)", {"le": limit}
            )
        return value

    return AfterValidator(check)


def search_request_model(settings: Settings) -> type[SearchRequest]:
    """:class:`SearchRequest` with this server's limits, declared in the OpenAPI document
    (``maxLength``, ``maximum``) and checked before the search starts.

    They are settings, read when the app is built: a model fixed at import could not state
    them, so a generated client learnt of them from its first 422. The error names the
    setting, like the Searcher's own check (which still guards the CLI and the NFKC form of a
    query, which can be longer than what was typed).
    """
    base = SearchRequest.model_fields
    query = Annotated[
        Text,
        Field(json_schema_extra={"maxLength": settings.max_query_chars}),
        _at_most_chars(settings.max_query_chars),
    ]
    top_k = Annotated[
        StrictInt,
        Field(ge=1, json_schema_extra={"maximum": settings.max_top_k}),
        _at_most_top_k(settings.max_top_k),
    ]
    return create_model(
        "SearchRequest",
        __base__=SearchRequest,
        __module__=__name__,
        __doc__=SearchRequest.__doc__,
        query=(query, Field(..., description=base["query"].description,
                            examples=base["query"].examples)),
        top_k=(top_k | None, Field(None, description=base["top_k"].description)),
    )  # fmt: skip


class HighlightOut(BaseModel):
    start: int
    end: int
    text: str
    table_header: str | None = Field(
        None,
        description="For a highlighted table row, its table's header line (which column is "
        "which; it may sit in an earlier passage); null otherwise.",
    )


class SearchResultOut(BaseModel):
    """One passage with everything needed to cite it."""

    rank: int
    score: float
    chunk_id: str
    doc_id: str
    title: str
    heading_path: list[str]
    page: int | None
    pages: list[int]
    start: int = Field(description="Start of the passage in the document text (characters).")
    end: int = Field(description="End of the passage in the document text (exclusive).")
    text: str
    highlight: HighlightOut
    source: str
    metadata: dict[str, Any]
    citation: str = Field(
        description="Title, version and effective date, heading path, page, character span "
        "and document id in one line: what to paste into a ticket."
    )
    context_before: list[dict[str, Any]] = []
    context_after: list[dict[str, Any]] = []
    in_force: bool = Field(
        True,
        description="Whether this version applied on the search's as_of date; false when "
        "include_superseded asked for versions that did not, or when the question named an "
        "earlier version or a date (see versions); the citation then says why.",
    )
    in_force_note: str = ""
    link_params: str = Field(
        "",
        description="With API keys on: query parameters (kid, exp, sig) that let a browser "
        "open this document's /source and /source-file views as the caller, for 12 hours.",
    )


class AcronymOut(BaseModel):
    short: str
    long: str


class VersionPickOut(BaseModel):
    doc_id: str = Field(description="The version searched.")
    instead_of: str = Field(
        description="The version in force: ranked below doc_id (its scores times "
        "KB_IN_FORCE_WEIGHT), or left out when that weight is 0."
    )
    why: str


class SpellingOut(BaseModel):
    typed: str = Field(description="A keyword as the question typed it, with a slip.")
    read_as: str = Field(description="The knowledge base's word it was searched as.")


class MarketOut(BaseModel):
    name: str = Field(description="The country as the question typed it.")
    code: str = Field(description="The market code it was also searched by.")


class SearchResponseOut(BaseModel):
    query: str
    results: list[SearchResultOut]
    took_ms: float
    index_version: str
    filters: dict[str, list[str]]
    as_of: str | None
    mode: str
    answerable: bool = Field(description="False when the evidence is too weak to call an answer.")
    reason: str
    acronyms: list[AcronymOut] = Field(
        [], description="Short forms the question used, read to the model with their long form."
    )
    markets: list[MarketOut] = Field(
        [],
        description="Countries the question named, also searched by the market code the "
        "documents' metadata uses (KB_MARKET_NAMES).",
    )
    versions: list[VersionPickOut] = Field(
        [],
        description="Versions searched besides, and ranked ahead of, those in force because "
        "the question names a version, a date or an earlier policy (KB_QUESTION_VERSIONS); "
        "not when as_of or include_superseded is set.",
    )
    spellings: list[SpellingOut] = Field(
        [],
        description="Keywords typed with one slip, searched as the knowledge base's word "
        "(KB_SPELL_CORRECTION).",
    )
    unlisted_markets: list[MarketOut] = Field(
        [],
        description="Countries the question named, or markets the filter gave, that no "
        "document the caller may see lists among its markets: no result is a rule specific to "
        'that market. A filter naming a country ("Germany", "UK") is searched by the code '
        "the documents list (DE, GB), as `filters` in the response shows.",
    )
    search_id: str | None = Field(
        None, description="Id of this search in the query log, for POST /feedback."
    )


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    source: str
    metadata: dict[str, Any]


class DocumentOut(DocumentSummary):
    format: str
    text: str
    sections: list[dict[str, Any]]
    pages: list[dict[str, Any]]


class EvalProgressOut(BaseModel):
    stage: str = Field(
        description="queued, starting, load, index (chunk, embed, write while the set's "
        "documents are indexed the first time), questions, report: where the run is, or where "
        "it ended."
    )
    done: int = Field(description="Steps of this stage done.")
    total: int = Field(description="Steps of this stage in all.")
    questions_done: int = Field(description="Questions answered, over every mode.")
    questions_total: int | None = Field(
        description="Questions in the run (the set's questions times the modes); null until "
        "the questions start."
    )


class EvalRunOut(BaseModel):
    """An evaluation run started with POST /eval/runs: poll it until done, failed or cancelled
    (DELETE /eval/runs/{run_id}; not a failure)."""

    run_id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
    dataset: str
    split: str | None
    modes: list[str]
    progress: EvalProgressOut
    queue_position: int | None = Field(
        description="While queued: 1 when this run is next (the API computes one at a time)."
    )
    joined: int = Field(description="Identical requests that followed this run.")
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: str | None = Field(
        description="Why the run failed (status failed), or that a caller cancelled it (status "
        "cancelled, or running while it stops)."
    )
    result: dict[str, Any] | None = Field(
        description="Once done, what POST /eval/run answers: metrics per mode, table_md, "
        "chart_png (base64), per-query rows and warnings (what the set's labels warn of, as "
        "kb eval prints it); null in run lists."
    )


# -- analytics (GET /analytics/*, JSON rows; ?format=csv gives the same rows as CSV) ----------


class SummaryOut(BaseModel):
    """Headline counts of the period (the searches the caller may see the flags of)."""

    searches: int
    unanswered: int = Field(description="No passage, or none close enough to answer.")
    low_confidence: int = Field(description="Answered, the best passage under the margin.")
    negative_feedback: int = Field(description="Searches with a not-helpful or wrong verdict.")
    feedback: dict[str, int] = Field(description="Latest verdicts by rating.")
    first: str | None = Field(description="The period's first search (UTC, ISO 8601).")
    last: str | None = Field(description="Its last search.")


class GapTopicOut(BaseModel):
    """Unanswered, weak or disliked searches about one topic, the worst topic first."""

    topic_id: int = Field(description="Its rank in this answer (1: the worst).")
    count: int = Field(description="Searches in the topic.")
    unanswered: int
    low_confidence: int
    negative_feedback: int
    trend: dict[str, int] = Field(description="Searches per day (YYYY-MM-DD).")
    first_seen: str
    last_seen: str
    label: str = Field(description="Words its questions share, or its most typical question.")
    keywords: list[str]
    examples: list[str] = Field(description="Its most typical questions (redacted).")
    distinct_queries: int
    closest_docs: list[str] = Field(description="Documents its searches ranked first.")


class UnretrievedOut(BaseModel):
    """A document no search of the period returned (within the first ``top``, if given)."""

    doc_id: str
    title: str
    doc_type: str | None
    owner_team: str | None
    status: str | None
    not_in_force: str = Field(
        "",
        description="Why search does not serve this version ('superseded by ... from ...', "
        "'not yet in force on ...'), listed with include_superseded; '' when in force.",
    )


class StaleOut(BaseModel):
    """A document due for review, the most overdue first."""

    doc_id: str
    title: str
    review_date: str | None = Field(description="None: it has no review date.")
    days_overdue: int
    owner_team: str | None
    status: str | None
    reason: str = Field(description="Why it is due (review date passed, in force a year...).")
    not_in_force: str = Field(
        "",
        description="Why search no longer serves this version ('superseded by ... from ...'), "
        "listed with include_superseded; '' when in force.",
    )


class DocumentFeedbackOut(BaseModel):
    """Agents' latest verdicts on passages of one document version, the most wrong first."""

    doc_id: str
    title: str
    version: str | None = Field(description="The version rated; None for ratings logged before "
                                "versions were kept.")  # fmt: skip
    helpful: int
    not_helpful: int
    wrong_or_outdated: int
    comments: list[str] = Field(description="What agents wrote, latest first (at most 5).")


class ConflictOut(BaseModel):
    """Two similar passages of different documents that state different values."""

    similarity: float
    doc_a: str
    title_a: str
    section_a: str = Field(description="Heading path where sentence_a stands, ' > ' between.")
    sentence_a: str = Field(description="The first sentence of a that disagrees with b.")
    text_a: str
    doc_b: str
    title_b: str
    section_b: str
    sentence_b: str
    text_b: str
    differences: dict[str, list[list[str]]] = Field(
        description="Per kind of value (amount, duration, date, count, rule...): [values only "
        "a states, values only b states]."
    )
    sentences: list[list[str]] = Field(description="Every [sentence of a, sentence of b] pair "
                                       "that disagrees.")  # fmt: skip
    sections: list[list[str]] = Field(
        default_factory=list,
        description="For each pair of sentences, [section of a, section of b] where they stand.",
    )


class SearchLogOut(BaseModel):
    """One logged search (redacted), with what it returned and its latest verdicts."""

    ts: str = Field(description="When (UTC, ISO 8601).")
    query: str | None = Field(description="None when withheld.")
    answerable: bool | None = Field(description="None when withheld.")
    confidence: float | None = Field(description="Best passage similarity; None when withheld.")
    top_doc: str | None
    results: list[str] = Field(
        description="Documents returned (the caller may see), in rank order."
    )
    feedback: list[str] = Field(description="Latest rating per passage or search.")
    comments: list[str] = Field(description="What the agent wrote with them.")
    filters: dict[str, Any]
    search_id: str
    withheld: bool = Field(
        description="Results of documents the caller may not see were removed: the question, "
        "answerable and confidence are not shown."
    )


class EvalDatasetOut(BaseModel):
    """A labelled set the evaluator can run."""

    name: str
    splits: list[str | None] = Field(description="Its splits; null is queries.jsonl itself.")


class HealthOut(BaseModel):
    """GET /health: whether the API serves, and what (200 ok or degraded, 503 unavailable)."""

    status: Literal["ok", "degraded", "unavailable"]
    reason: str = Field("", description="Why degraded or unavailable; empty when ok.")
    backend: str | None = Field(None, description="'postgres' for the database backend.")
    model: str | None = None
    model_fingerprint: str | None = None
    dimension: int | None = None
    index_version: str | None = None
    index_created_at: str | None = None
    access_version: str | None = Field(
        None, description="Changes with every `kb access`: what a key may see changed."
    )
    chunker: dict[str, Any] | None = None
    counts: dict[str, Any] | None = Field(
        None, description="Documents, passages and files skipped; only for a key that sees all."
    )


class ErrorOut(BaseModel):
    """Every error but a 422: what went wrong, in words."""

    detail: str = Field(description="What went wrong.")


class ValidationErrorItem(BaseModel):
    """One problem with a request, as FastAPI reports one (and the API reports its own)."""

    type: str = Field(description='What kind of problem: "less_than_equal", "missing"...')
    loc: list[str | int] = Field(
        description='Where: "body", "query", "path" or "header", then the field ("top_k").'
    )
    msg: str = Field(description="What is wrong, with the limit and the setting that sets it.")
    input: Any = Field(None, description="The value refused, when it can be shown.")
    ctx: dict[str, Any] | None = Field(None, description='The limit broken, e.g. {"le": 50}.')


class ValidationErrorOut(BaseModel):
    """Every 422: one entry per problem, whether FastAPI's checks or the Searcher's found it."""

    detail: list[ValidationErrorItem]


ERROR_MEANINGS = {
    401: "No API key, or an unknown, revoked or expired one (keys on).",
    403: "The key's role does not allow this call.",
    404: "No such document, search or labelled set (or not one the key may see).",
    409: "The index is being written; try again.",
    413: "The request body is larger than KB_MAX_BODY_BYTES.",
    422: "Invalid input, or a query parameter this route does not take: one entry (loc, "
    "msg, type) per problem.",
    429: "Too many requests for this key; see Retry-After.",
    503: "No index is loaded (run `kb index`), or it cannot be read.",
    504: "The search took longer than KB_REQUEST_TIMEOUT_S.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer: :class:`ValidationErrorOut`
    for a 422, :class:`ErrorOut` for the rest.

    The app maps domain errors and FastAPI's validation errors to these two shapes, so a
    generated client must not be told FastAPI's default 422 instead.
    """
    return {
        code: {
            "model": ValidationErrorOut if code == 422 else ErrorOut,
            "description": ERROR_MEANINGS[code],
        }
        for code in codes
    }


GUARDED = (401, 403, 422, 429)  # any route behind the key check (422: a bad parameter or
# body, or a query parameter the route does not take)
