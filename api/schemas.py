"""Request and response bodies of the HTTP API (the OpenAPI docs are generated from these)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUERY_CHARS = 1000
MAX_TOP_K = 50


class SearchRequest(BaseModel):
    """A question and how to narrow it."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(
        ...,
        description="The agent's question, as typed.",
        examples=["refund coins bought by minor MY"],
    )
    top_k: int = Field(5, ge=1, le=MAX_TOP_K, description="How many passages to return.")
    filters: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Metadata filters (any-of within a field): doc_type, markets, product_area, "
        "language, access_groups, tags, status, owner_team, doc_id.",
        examples=[{"markets": ["MY"], "product_area": "payments"}],
    )
    as_of: dt.date | None = Field(None, description="Answer as of this date (default: today).")
    include_superseded: bool = Field(False, description="Also return superseded versions.")
    mode: Literal["dense", "bm25", "hybrid"] | None = Field(
        None, description="Retrieval mode (default: the configured best, hybrid)."
    )
    context: int = Field(0, ge=0, le=3, description="Neighbouring passages to add per result.")

    @field_validator("query")
    @classmethod
    def _query_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("query is empty")
        return value


class HighlightOut(BaseModel):
    start: int
    end: int
    text: str


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


class AcronymOut(BaseModel):
    short: str
    long: str


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


class ErrorOut(BaseModel):
    detail: str
