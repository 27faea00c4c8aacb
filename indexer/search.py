"""The read side: a Searcher answers a query with ranked, cited passages from one index.

Filters and the in-force rule (superseded or not-yet-effective versions left out) are applied
inside the vector search through a FAISS id selector, so a narrow filter still gets top_k.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
import threading
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, NamedTuple, get_args

import numpy as np

from indexer import fusion
from indexer.acronyms import expand_for
from indexer.ann import read_ivf, search_ivf
from indexer.embedding import Embedder
from indexer.errors import (
    IndexCorruptError,
    IndexMismatchError,
    InvalidQueryError,
    KBError,
    NotFoundError,
)
from indexer.highlight import best_sentence, idf_of, pick_window, within_section
from indexer.inputs import (
    as_typed_plainly,
    is_blank,
    is_plain_date,
    is_text,
    without_controls,
)
from indexer.lexical import bm25_scores, doc_freq_of, load_bm25, visible_doc_freqs
from indexer.markets import filter_markets, market_codes, unlisted_markets, with_market_codes
from indexer.quantise import Int8Rows
from indexer.render import primary_language, table_header
from indexer.settings import SearchMode, Settings
from indexer.spelling import model_spellings, query_terms, read_as, recording, respelled
from indexer.store import (
    ACCESS_OVERRIDES,
    Manifest,
    check_model,
    check_terms,
    connect_table,
    current_generation,
    previous_generations,
    read_access_overrides,
    read_manifest,
    read_vectors,
    read_windows,
    verify_generation,
)
from indexer.versions import Pick, asked_versions, families

logger = logging.getLogger(__name__)

# Filterable metadata fields; list-valued ones match when any value is shared.
FILTER_FIELDS = (
    "doc_id", "doc_type", "markets", "product_area", "language", "access_groups", "tags",
    "status", "owner_team",
)  # fmt: skip
CITED_FIELDS = (
    "doc_type",
    "version",
    "effective_date",
    "review_date",
    "markets",
    "status",
    "product_area",
    "owner_team",
    "access_groups",
    "language",
    "tags",
)  # not the version links: a successor the caller may not see is named only as such
GLOBAL_MARKET = "global"
MODES: tuple[str, ...] = get_args(SearchMode)  # one list: settings validate it too
NO_KEYWORD_MATCH = "no passage shares a word with the question (keyword search)"
# No answer because of what was asked for, not what the knowledge base holds (not a gap).
FILTERED_OUT = "no document passes the filters and date"
MAX_FILTER_VALUES = 50  # per field; the fields themselves are the closed list above


@dataclass
class Highlight:
    """The sentence of a passage that best matches the query, as a span into the document;
    for a table row, the header line of its table (a row alone does not say which column is
    which, and the header may sit in an earlier passage)."""

    start: int
    end: int
    text: str
    table_header: str | None = None


HEADER_LOOKBACK = 20_000  # characters of a document read back from a row for its table's header


def row_header(start: int, end: int, text: str, before: Callable[[int], str]) -> str | None:
    """The header line of the table whose row the highlight ``[start, end)`` (document
    offsets; ``text`` its words) marks, else None. ``before(at)`` gives the document's text
    from ``at`` up to the row's end, read only for a table row: the passage may begin inside
    its table, whose header is then in an earlier passage (a first data row read alone
    would pass for one)."""
    if " | " not in text:
        return None
    at = max(0, start - HEADER_LOOKBACK)
    header = table_header(before(at), start - at, end - at)
    return " ".join(header.split()) if header else None


def version_label(metadata: dict[str, Any]) -> str:
    """'v3.0 (effective 2026-03-01)', saying so where the document records neither: a
    citation must not pass off a missing version or date as a '?' to be guessed."""
    version = metadata.get("version")
    effective = metadata.get("effective_date")
    return (
        f"{'v' + str(version) if version else 'no version'} "
        f"({'effective ' + str(effective) if effective else 'no effective date'})"
    )


def cited_place(
    sections: list[list[Any]],
    pages: list[list[int]],
    pos: int,
    path: list[str],
    page: int | None,
) -> tuple[list[str], int | None]:
    """Heading path and page of the section and page holding ``pos`` (the highlight), else
    ``path`` and ``page`` (the passage's own).

    A passage can run over a page break, or absorb a short section after its own: the citation
    names where the highlighted evidence is, so the agent who opens it lands on that sentence.
    ``sections`` and ``pages`` are stored in text order and do not overlap.
    """
    i = bisect.bisect_right(sections, pos, key=lambda s: s[1]) - 1  # a log-time lookup: a
    if i >= 0 and pos < sections[i][2]:  # long manual has tens of thousands of sections
        path = list(sections[i][0])
    j = bisect.bisect_right(pages, pos, key=lambda p: p[1]) - 1
    if j >= 0 and pos < pages[j][2]:
        page = pages[j][0]
    return path, page


def inner_boundaries(
    sections: list[list[Any]], pages: list[list[int]], start: int, length: int
) -> tuple[list[str], list[int]]:
    """Titles of the sections that begin inside a passage, and the offsets (relative to the
    passage) where those sections and its later pages begin.

    A PDF's headings are plain lines, and a passage can absorb the next section or run over
    a page: the highlight must not straddle either, or its citation names only one side.
    """
    end = start + length
    inner = sections[
        bisect.bisect_right(sections, start, key=lambda s: s[1]) : bisect.bisect_left(
            sections, end, key=lambda s: s[1]
        )
    ]
    later_pages = pages[
        bisect.bisect_right(pages, start, key=lambda p: p[1]) : bisect.bisect_left(
            pages, end, key=lambda p: p[1]
        )
    ]
    titles = [str(s[0][-1]) for s in inner if s[0]]
    return titles, sorted([s[1] - start for s in inner] + [p[1] - start for p in later_pages])


_OPEN_ATTEMPTS = 3  # loads of a generation pruned by newer publishes before one is believed


@dataclass
class SearchResult:
    """One cited passage."""

    rank: int
    score: float
    chunk_id: str
    doc_id: str
    title: str
    heading_path: list[str]
    page: int | None
    pages: list[int]
    start: int
    end: int
    text: str
    highlight: Highlight
    source: str
    metadata: dict[str, Any]
    context_before: list[dict[str, Any]] = field(default_factory=list)
    context_after: list[dict[str, Any]] = field(default_factory=list)
    # Whether this version applied on the search's date; only a search that asks for
    # superseded versions can return one that did not, and its citation then says why.
    in_force: bool = True
    in_force_note: str = ""

    @property
    def citation(self) -> str:
        """One line to paste into a ticket and defend later: which text, which version in
        force from when, where in it. Every client shows this same line."""
        where = " > ".join(self.heading_path) or "(top of document)"
        page = f", page {self.page}" if self.page else ""
        caveat = "" if self.in_force else f" (NOT IN FORCE: {self.in_force_note})"
        return (
            f"{self.title} {version_label(self.metadata)}, {where}{page}, "
            f"chars {self.start}-{self.end} [{self.doc_id}]{caveat}"
        )

    def to_dict(self) -> dict[str, Any]:
        """This result as plain dicts and lists. The highlight and metadata are copied (the
        metadata's lists belong to the index's documents); the rest was built for this search."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["citation"] = self.citation
        out["highlight"] = {"start": self.highlight.start, "end": self.highlight.end,
                            "text": self.highlight.text,
                            "table_header": self.highlight.table_header}  # fmt: skip
        out["metadata"] = {
            k: list(v) if isinstance(v, list) else v for k, v in self.metadata.items()
        }
        return out


@dataclass
class SearchResponse:
    """Results plus what a caller needs to trust and reproduce them."""

    query: str
    results: list[SearchResult]
    took_ms: float
    index_version: str
    filters: dict[str, list[str]] = field(default_factory=dict)
    as_of: str | None = None
    mode: str = "hybrid"
    answerable: bool = True
    reason: str = ""
    # (short form, long form) pairs the question used, read to the model spelled out.
    acronyms: list[tuple[str, str]] = field(default_factory=list)
    # (country as typed, market code) pairs the question was also searched by.
    markets: list[tuple[str, str]] = field(default_factory=list)
    # Versions searched ahead of the one in force, because the question asks about them.
    versions: list[Pick] = field(default_factory=list)
    # (word as typed, as read) pairs: keywords typed with a slip, read as the knowledge
    # base's word (indexer/spelling.py).
    spellings: list[tuple[str, str]] = field(default_factory=list)
    # (country as typed, market code) pairs the question names that no document it may see
    # lists among its markets: the results hold no rule specific to that market.
    unlisted_markets: list[tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dicts, built field by field: ``dataclasses.asdict`` deep-copies every
        value and cost ~1 ms per response on the API's event loop (profiled under load)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["results"] = [r.to_dict() for r in self.results]
        out["filters"] = {k: list(v) for k, v in self.filters.items()}
        out["acronyms"] = [{"short": s, "long": lf} for s, lf in self.acronyms]
        out["markets"] = [{"name": n, "code": c} for n, c in self.markets]
        out["versions"] = [
            {"doc_id": p.doc_id, "instead_of": p.instead_of, "why": p.why} for p in self.versions
        ]
        out["spellings"] = [{"typed": t, "read_as": r} for t, r in self.spellings]
        out["unlisted_markets"] = [{"name": n, "code": c} for n, c in self.unlisted_markets]
        return out


@dataclass
class _Signals:
    """Per-chunk dense evidence for one query."""

    passage: np.ndarray  # cosine of the whole passage
    dense: np.ndarray  # passage mixed with its best sentence window
    window_scores: np.ndarray  # cosine of every sentence window


class _CallerView(NamedTuple):
    """The knowledge base as one caller's access groups see it (:meth:`Searcher._view`)."""

    market_codes: frozenset[str]
    term_counts: np.ndarray | None  # per BM25 term: passages the caller may see holding it


@dataclass
class _DocInfo:
    doc_id: str
    title: str
    source: str
    metadata: dict[str, Any]
    sections: list[list[Any]] = field(default_factory=list)  # as stored: [path, start, end, anchor]
    pages: list[list[int]] = field(default_factory=list)  # as stored: [number, start, end]


def normalise_filters(filters: dict[str, Any] | None) -> dict[str, list[str]]:
    """Validate filter fields and turn every value into a list of strings."""
    out: dict[str, list[str]] = {}
    for name, value in (filters or {}).items():
        if name not in FILTER_FIELDS:
            raise InvalidQueryError(
                f"unknown filter field {name!r}; allowed: {', '.join(FILTER_FIELDS)}", "filters"
            )
        values = value if isinstance(value, (list, tuple)) else [value]
        if not values or not all(isinstance(v, str) and is_text(v) for v in values):
            raise InvalidQueryError(
                f"filter {name!r} takes a string or a list of strings", "filters"
            )
        if len(values) > MAX_FILTER_VALUES:
            raise InvalidQueryError(
                f"filter {name!r} has {len(values)} values; the limit is {MAX_FILTER_VALUES}",
                "filters",
            )
        cleaned = [" ".join(v.split()) for v in values]
        if not all(cleaned):
            raise InvalidQueryError(f"filter {name!r} has an empty value", "filters")
        out[name] = cleaned
    return out


def matches(metadata: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """Whether a document's metadata passes every filter (any-of within a field).

    A document for the 'global' market applies in every market. Values match without regard
    to case ('de' finds a 'DE' document: otherwise a typed filter silently finds only global
    ones), except document ids, which are paths.
    """
    for name, wanted in filters.items():
        have = metadata.get(name)
        if have is None:  # a field the document does not set matches no value (not "None")
            return False
        have_set = {str(v) for v in have} if isinstance(have, list) else {str(have)}
        if name != "doc_id":
            have_set = {v.casefold() for v in have_set}
            wanted = [v.casefold() for v in wanted]
        if name == "language":  # "pt" finds "pt-BR" and "pt_BR" documents, "de-DE" finds "de"
            have_set = {primary_language(v) for v in have_set}
            wanted = [primary_language(v) for v in wanted]
        if name == "markets" and GLOBAL_MARKET in have_set:
            continue
        if not have_set & set(wanted):
            return False
    return True


def spellings_of(doc_id: str) -> list[str]:
    """``doc_id`` as given, then in Unicode's other normal forms: a file a Mac or a sync tool
    named in decomposed form ("Ru\u0308ckgabe.md") looks the same as the composed id a client
    types, and was "no document" to it."""
    if doc_id.isascii():
        return [doc_id]
    forms = [doc_id, unicodedata.normalize("NFC", doc_id), unicodedata.normalize("NFD", doc_id)]
    return list(dict.fromkeys(forms))


def visible(metadata: dict[str, Any], groups: Iterable[str] | None) -> bool:
    """Whether a caller in ``groups`` may see a document (None: no restriction, e.g. admin).

    A caller sees a document when it shares at least one access group with it.
    """
    if groups is None:
        return True
    return bool(set(metadata.get("access_groups") or []) & set(groups))


def in_force(doc: dict[str, Any], successors: list[dict[str, Any]], as_of: str) -> bool:
    """A version applies on ``as_of`` if it is effective and has not been retired."""
    effective = doc.get("effective_date")
    if effective and effective > as_of:
        return False
    return not retired(doc, successors, as_of)


def not_in_force(
    doc: dict[str, Any], successors: list[dict[str, Any]], as_of: str, hidden: bool = False
) -> str:
    """Why a version did not apply on ``as_of`` ('' when it did), in words for its citation:
    a version returned because superseded ones were asked for must not read as current.

    ``hidden``: the caller may not see every version that supersedes it; the note then names
    none of them, nor when they took over (that would tell what a hidden document holds).
    """
    effective = doc.get("effective_date")
    if effective and str(effective) > as_of:
        return f"not yet in force on {as_of}, effective {effective}"
    took_over = sorted(
        str(s.get("effective_date") or "")
        for s in successors
        if (s.get("effective_date") or "") <= as_of
    )
    if took_over and hidden:
        return f"superseded by a newer version {OUTSIDE_ACCESS}, as of {as_of}"
    newer = doc.get("superseded_by") or "a newer version"
    if took_over:
        since = f" from {took_over[0]}" if took_over[0] else ""
        return f"superseded by {newer}{since}, as of {as_of}"
    if doc.get("status") == "superseded" and not successors:
        return f"marked superseded, as of {as_of}"
    return ""


def mark_in_force(
    results: list[SearchResult],
    metadata_of: Callable[[str], dict[str, Any]],
    successors_of: Callable[[str], list[dict[str, Any]]],
    as_of: str,
    hidden: Callable[[str], bool] = lambda doc_id: False,
) -> None:
    """Set each result's ``in_force`` and the note its citation carries (both backends);
    ``hidden(doc_id)``: whether a version superseding it is one the caller may not see."""
    for result in results:
        meta, after = metadata_of(result.doc_id), successors_of(result.doc_id)
        note = not_in_force(meta, after, as_of, hidden(result.doc_id))
        result.in_force, result.in_force_note = not note, note


OUTSIDE_ACCESS = "outside your access groups"  # how a version the caller may not see is named


def hidden_successors(
    successor_ids: dict[str, list[str]], may_see: Callable[[str], bool] | None
) -> Callable[[str], bool]:
    """For :func:`mark_in_force`: whether a document has a successor ``may_see`` refuses."""
    if may_see is None:
        return lambda doc_id: False
    return lambda doc_id: not all(may_see(x) for x in successor_ids.get(doc_id, []))


def shown_links(meta: dict[str, Any], may_see: Callable[[str], bool] | None) -> dict[str, Any]:
    """A document's metadata as a caller may read it: a version link (``superseded_by``,
    ``supersedes``) to a document they may not see names it only as such. GET /documents
    showed the id of a restricted newer version that GET /documents/{id} then denied."""
    if may_see is None:
        return meta
    hidden = {
        field: f"a version {OUTSIDE_ACCESS}"
        for field in ("superseded_by", "supersedes")
        if meta.get(field) and not may_see(str(meta[field]))
    }
    return {**meta, **hidden} if hidden else meta


def shown_picks(picks: list[Pick], may_see: Callable[[str], bool] | None) -> list[Pick]:
    """The version picks as a caller may read them: the version in force is not named when
    they may not see it (the response would tell them it exists and is in force)."""
    if may_see is None:
        return picks
    return [
        p if may_see(p.instead_of) else Pick(p.doc_id, f"a version {OUTSIDE_ACCESS}", p.why)
        for p in picks
    ]


def retired(doc: dict[str, Any], successors: list[dict[str, Any]], as_of: str) -> bool:
    """A version is retired on ``as_of`` once a successor has taken over, or when it is
    marked superseded and names no successor to wait for."""
    if any((s.get("effective_date") or "") <= as_of for s in successors):
        return True
    return doc.get("status") == "superseded" and not successors


def spelling_dictionary(embedder: Embedder, settings: Settings) -> frozenset[str] | None:
    """The words slips are told from (indexer/spelling.py), None when correction is off or
    the model has no word list."""
    return getattr(embedder, "words", None) if settings.spell_correction else None


def judge(best: float, threshold: float) -> tuple[bool, str]:
    """Whether the best passage is close enough to the question to present as an answer.

    The threshold on the best dense similarity is calibrated on labelled answerable and
    unanswerable questions (see docs/retrieval.md).
    """
    # Three decimals: the query log reads the similarity back from this text, and at two a
    # 0.3962 read as 0.40 (past the low-confidence line) and a 0.3496 as the threshold itself.
    if best < threshold:
        return False, (
            f"weak evidence: the closest passage has similarity {best:.3f}, "
            f"below {threshold:.2f}; the knowledge base may not cover this"
        )
    return True, f"closest passage similarity {best:.3f} (threshold {threshold:.2f})"


def open_searcher(target: Path | str, embedder: Embedder, settings: Settings):
    """The searcher for an index directory, or for a postgresql:// URL (the postgres backend).

    Both answer the same calls with the same shapes; nothing above this knows which it got.
    """
    from indexer.pgstore import is_database_url

    if is_database_url(str(target)):
        from indexer.pgsearch import PgSearcher

        return PgSearcher(str(target), embedder, settings)
    return Searcher.open_best(Path(target), embedder, settings)


MASK_CACHE_BYTES = 32 * 2**20  # memoised masks per Searcher: 256 of them up to 128k rows


class MaskCache:
    """Allowed masks memoised per (filters, date, groups): most searches repeat a few.

    Masks are returned read-only, since every search with the same key shares one.
    """

    def __init__(self, size: int = 256, mask_bytes: int = 1) -> None:
        self._masks: dict[tuple, np.ndarray] = {}
        self._size = max(8, min(size, MASK_CACHE_BYTES // max(mask_bytes, 1)))

    def get(
        self,
        filters: dict[str, list[str]],
        as_of: str,
        include_superseded: bool,
        groups: Iterable[str] | None,
        compute,
    ) -> np.ndarray:
        key = (
            tuple(sorted((k, tuple(v)) for k, v in filters.items())),
            as_of,
            include_superseded,
            None if groups is None else tuple(sorted(groups)),
        )
        mask = self._masks.get(key)
        if mask is None:
            if len(self._masks) >= self._size:
                self._masks.clear()
            mask = self._masks[key] = compute()
            mask.flags.writeable = False
        return mask

    def clear(self) -> None:
        self._masks.clear()


def prepare_search(
    settings: Settings,
    query: str,
    top_k: int | None,
    mode: str | None,
    context: int,
    filters: dict[str, Any] | None,
    as_of: dt.date | str | None,
) -> tuple[str, int, str, dict[str, list[str]], str]:
    """Checked (query, top_k, mode, filters, as_of) of a search, the same for every backend."""
    top_k = settings.default_top_k if top_k is None else top_k
    query = validate_query(query, top_k, settings)
    mode = mode or settings.search_mode
    if mode not in MODES:
        raise InvalidQueryError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}", "mode")
    if not 0 <= int(context) <= 3:
        raise InvalidQueryError("context must be between 0 and 3 passages", "context")
    return query, top_k, mode, normalise_filters(filters), as_of_date(as_of)


def model_text(
    query: str,
    sources: dict[str, dict[str, list]] | None,
    settings: Settings,
    may_see: Callable[[str], bool] | None = None,
) -> tuple[str, list[tuple[str, str]]]:
    """What the embedding model reads for ``query``: the short forms spelled out as the
    documents ``may_see`` allows (None: all) define them, so a document the caller may not
    see changes neither their ranking nor what they are told was spelled out.

    ``sources`` None (an index written before definitions were kept per document) spells out
    nothing: the map cannot say whose definitions it holds.
    """
    if not settings.expand_acronyms or not sources:
        return query, []
    return expand_for(query, sources, may_see)


UNREAD_SHARE = 0.5  # more of a question's tokens than this unknown to the model: unread
UNREAD = (
    "the embedding model cannot read most of this question (a script its vocabulary lacks): "
    "it was searched by its keywords alone, so check that the passages answer it"
)


def unread_question(embedder: Any, query: str, asked: str | None, mode: str) -> tuple[str, bool]:
    """(mode, unread): a question whose tokens are mostly unknown to the model (Thai, much
    Chinese and Japanese for all-MiniLM-L6-v2) is searched by BM25 alone unless a mode was
    asked for. Its vector, a row of unknown tokens, lands near any other such text: "支付宝"
    ranked a Thai page first and called it answerable, the page holding the word eighth."""
    share = getattr(embedder, "unknown_share", None)
    if share is None or query.isascii():  # the model's own alphabet: nothing to check
        return mode, False
    unread = share(query) > UNREAD_SHARE
    return ("bm25" if unread and asked is None else mode), unread


def with_filter_markets(
    flt: dict[str, list[str]], codes: frozenset[str]
) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    """``flt`` with its markets as the documents list them, and the markets no document
    lists (:func:`indexer.markets.filter_markets`)."""
    if "markets" not in flt:
        return flt, []
    markets, unlisted = filter_markets(flt["markets"], codes)
    return {**flt, "markets": markets}, unlisted


def said_once(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """(name, code) pairs, each code once, in order."""
    seen: set[str] = set()
    return [p for p in pairs if not (p[1] in seen or seen.add(p[1]))]


def keyword_text(
    query: str, codes: frozenset[str], settings: Settings
) -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]]:
    """The question as searched: ``query`` with the market code of each country it names
    among ``codes`` (indexer/markets.py), those (name, code) pairs, and the countries it names
    that no document lists (:func:`indexer.markets.unlisted_markets`). BM25, the highlight
    and the model all read it: the country's row was in the first three results for 10 of 10
    new kb/ questions, 7 with the code for BM25 only, 1 without (retrieval-experiments.md)."""
    if not settings.market_names:
        return query, [], []
    return (*with_market_codes(query, codes), unlisted_markets(query, codes))


def version_picks(
    query: str,
    meta: dict[str, dict[str, Any]],
    linked: list[list[str]],
    as_of: dt.date | str | None,
    as_of_s: str,
    include_superseded: bool,
    settings: Settings,
) -> list[Pick]:
    """The versions the question asks about instead of those in force (indexer/versions.py),
    unless the caller chose the date or asked for every version: what they set wins.
    ``linked`` is computed once per index (:func:`indexer.versions.families`)."""
    if not settings.question_versions or as_of is not None or include_superseded or not linked:
        return []
    return asked_versions(query, meta, linked, as_of_s, settings.date_order)


def swap_versions(
    allowed: np.ndarray,
    any_version: np.ndarray,
    picks: list[Pick],
    rows_of: Callable[[str], Any],
    keep_in_force: bool = True,
) -> tuple[np.ndarray, list[Pick]]:
    """``allowed`` with each pick's version added (and the version in force kept, or left
    out when not ``keep_in_force``), and the picks made.

    A pick is made only where ``any_version`` (the same filters and access, every version)
    allows its version: a version the caller may not see, or that the filters leave out, is
    neither searched nor named, and the version in force stays. ``rows_of`` gives a document's
    positions in the masks (chunk rows, or a document's index: both backends)."""
    allowed = allowed.copy()
    made = [p for p in picks if np.any(any_version[rows_of(p.doc_id)])]
    for pick in made:
        if not keep_in_force:
            allowed[rows_of(pick.instead_of)] = False
        rows = rows_of(pick.doc_id)
        allowed[rows] = any_version[rows]
    return allowed, made


def behind_asked_versions(scores: np.ndarray, lowered: np.ndarray, weight: float) -> np.ndarray:
    """``scores`` with the ``lowered`` rows (those of a version in force that a pick names
    ``instead_of``) times ``weight``: the version the question asks about leads, and today's
    rule is still found, below it, when the question's date was about something else ("account
    created in march 2025, can they go LIVE now?"). Measured in retrieval-experiments.md."""
    if weight >= 1 or not lowered.any():
        return scores
    return np.where(lowered, scores * weight, scores).astype(np.float32)


def warn_unexpandable(manifest: Manifest, settings: Settings, where: Path | str) -> None:
    """Say why an index written before definitions were kept per document spells nothing out
    although ``KB_EXPAND_ACRONYMS`` is on (searches still work; `kb index` rewrites it)."""
    if settings.expand_acronyms and manifest.acronym_sources is None:
        logger.warning(
            "%s predates per-document acronym definitions: no short form is spelled out "
            "until it is rebuilt with `kb index`",
            where,
        )


def access_check(
    groups: Iterable[str] | None, metadata_of: Callable[[str], dict[str, Any] | None]
) -> Callable[[str], bool] | None:
    """Whether a caller in ``groups`` may see a document, by id (None: no restriction).

    ``metadata_of`` gives a document's metadata with `kb access` overrides applied, or None
    for one the index does not hold (then not visible).
    """
    if groups is None:
        return None
    groups = list(groups)

    def may_see(doc_id: str) -> bool:
        metadata = metadata_of(doc_id)
        return metadata is not None and visible(metadata, groups)

    return may_see


def validate_query(query: str, top_k: int, settings: Settings) -> str:
    """The query with whitespace collapsed, or InvalidQueryError naming the broken limit."""
    text = without_controls(str(query or ""))
    if is_blank(text):  # zero-width or control characters only: nothing to search for
        raise InvalidQueryError("query is empty", "query")
    if not is_text(text):
        raise InvalidQueryError(
            "query contains an unpaired surrogate (broken UTF-16), not text", "query"
        )
    query = " ".join(as_typed_plainly(text).split())
    if len(query) > settings.max_query_chars:
        raise InvalidQueryError(
            f"query is {len(query)} characters; the limit is {settings.max_query_chars} "
            "(KB_MAX_QUERY_CHARS)",
            "query",
        )
    if not 1 <= int(top_k) <= settings.max_top_k:
        raise InvalidQueryError(
            f"top_k must be between 1 and {settings.max_top_k} (KB_MAX_TOP_K)", "top_k"
        )
    return query


def successor_map(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """For each document, the metadata of the versions that supersede it."""
    by_id = dict(docs)
    return {doc_id: [by_id[x] for x in ids] for doc_id, ids in successor_ids(docs).items()}


def successor_ids(docs: list[tuple[str, dict[str, Any]]]) -> dict[str, list[str]]:
    """For each document, the ids of the versions that supersede it (one entry per distinct
    metadata: two ids naming one version are one)."""
    by_id = dict(docs)
    succ: dict[str, list[str]] = {doc_id: [] for doc_id, _ in docs}
    for doc_id, metadata in docs:
        # str(): an index written before the loader checked these fields may hold a list
        newer = str(metadata.get("superseded_by"))
        if newer in by_id and all(by_id[x] is not by_id[newer] for x in succ[doc_id]):
            succ[doc_id].append(newer)
        older = str(metadata.get("supersedes"))
        if older in succ and all(by_id[x] is not metadata for x in succ[older]):
            succ[older].append(doc_id)
    return succ


def allowed_mask(
    docs: list[tuple[str, dict[str, Any]]],
    filters: dict[str, list[str]],
    as_of: str,
    include_superseded: bool = False,
    groups: Iterable[str] | None = None,
    access: dict[str, list[str]] | None = None,
    successors: dict[str, list[dict[str, Any]]] | None = None,
) -> np.ndarray:
    """Per document: may the caller see it, does it pass the filters, is it in force?

    ``access`` overrides a document's access groups (`kb access`); both backends use this.
    """
    access = access or {}
    successors = successors if successors is not None else successor_map(docs)
    return np.array(
        [
            visible(effective, groups)
            and matches(effective, filters)
            and (include_superseded or in_force(metadata, successors[doc_id], as_of))
            for doc_id, metadata in docs
            for effective in [filterable(doc_id, metadata, access)]
        ],
        dtype=bool,
    )


def with_groups(metadata: dict[str, Any], override: list[str] | None) -> dict[str, Any]:
    """A document's metadata as callers see it and access checks test it: its access groups
    as `kb access` last set them (``override``, None when never set)."""
    return metadata if override is None else {**metadata, "access_groups": list(override)}


def filterable(
    doc_id: str, metadata: dict[str, Any], access: dict[str, list[str]]
) -> dict[str, Any]:
    """What filters see: the metadata as callers see it, with its id (not a metadata field,
    yet agents filter by it)."""
    return {**with_groups(metadata, access.get(doc_id)), "doc_id": doc_id}


class Searcher:
    """Ranked passages with citations from one index directory, for API, CLI and eval."""

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder,
        settings: Settings | None = None,
        generation: Path | None = None,
    ):
        self.settings = settings or Settings()
        self.index_dir = Path(index_dir)
        self.embedder = embedder
        self.generation = generation or current_generation(self.index_dir)
        self.manifest: Manifest = read_manifest(self.index_dir, self.generation)
        check_model(self.manifest, embedder.model_name, embedder.fingerprint, self.index_dir)
        check_terms(self.manifest, self.index_dir)
        warn_unexpandable(self.manifest, self.settings, self.index_dir)
        self._words = spelling_dictionary(embedder, self.settings)
        verify_generation(self.generation, self.manifest)  # before any file is deserialised
        self.degraded = ""  # set when serving an older generation because the newest is bad
        self._refused = ""  # a newer generation that failed to load: not retried
        self._access_stamp, self._access = read_access_overrides(self.index_dir)
        vectors = read_vectors(self.generation)
        # Exact scores for every chunk: a matrix product is a few ms up to ~100k chunks.
        self._matrix = (
            vectors.reconstruct_n(0, vectors.ntotal)
            if vectors.ntotal
            else np.zeros((0, self.manifest.dimension), np.float32)
        )
        self._bm25 = load_bm25(self.generation)
        spans, windows = read_windows(self.generation)
        if len(spans) and np.any(np.diff(spans[:, 0]) < 0):  # group windows by chunk row
            order = np.argsort(spans[:, 0], kind="stable")
            spans, windows = spans[order], windows.take(order)
        self._ivf = read_ivf(self.generation)  # None: small enough to score every passage
        self._windows: Int8Rows = windows  # int8 codes, mapped: a large index decodes only
        # its candidates' windows. A small one scores every window per query, so it decodes
        # them once (below ann_min_chunks, at most a few tens of MB).
        self._window_dense = windows[:] if self._ivf is None else None
        self._window_chunk = spans[:, 0]
        self._window_span = spans[:, 1:]
        # Per chunk row: its windows are [start, end) in the window arrays (empty if none).
        rows_with = np.unique(self._window_chunk)
        self._window_rows = rows_with
        self._window_starts = np.searchsorted(self._window_chunk, rows_with, side="left")
        self._window_ends = np.append(self._window_starts[1:], len(spans)).astype(np.int64)
        self._db = connect_table(self.generation)
        self._lock = threading.Lock()
        self._docs: list[_DocInfo] = []
        doc_row: dict[str, int] = {}
        for r in self._db.execute(
            "SELECT doc_id, title, source, metadata, sections, pages FROM documents ORDER BY doc_id"
        ):
            doc_row[r["doc_id"]] = len(self._docs)
            self._docs.append(
                _DocInfo(r["doc_id"], r["title"], r["source"], json.loads(r["metadata"]),
                         json.loads(r["sections"]), json.loads(r["pages"]))
            )  # fmt: skip
        rows = self._db.execute(
            "SELECT row, doc_id, heading_path FROM chunks ORDER BY row"
        ).fetchall()
        self._chunk_doc = np.array([doc_row[r["doc_id"]] for r in rows], dtype=np.int64)
        self._doc_row = doc_row
        # Passages that are their document's only one support themselves (fusion.document_support).
        self._lone = np.bincount(self._chunk_doc, minlength=len(self._docs))[self._chunk_doc] == 1
        self._masks = MaskCache(mask_bytes=len(self._chunk_doc))  # one bool per chunk row
        # Results are diversified by section: (document, heading path) of every chunk.
        self._section_of = [f"{r['doc_id']}\x00{r['heading_path']}" for r in rows]
        self._successors = successor_map([(d.doc_id, d.metadata) for d in self._docs])
        self._successor_ids = successor_ids([(d.doc_id, d.metadata) for d in self._docs])
        self._meta = {d.doc_id: d.metadata for d in self._docs}
        self._market_codes = market_codes(self._meta.values())
        # Per caller's access groups: term counts and market codes of what they may see.
        self._views: dict[tuple[str, ...], _CallerView] = {}
        self._families = families(self._meta.items())  # versions of one document
        bm25_rows = int(self._bm25.scores["num_docs"])
        if not len(self._matrix) == len(rows) == bm25_rows == self.manifest.counts["chunks"]:
            raise IndexMismatchError(
                f"index at {self.index_dir} is inconsistent: {len(self._matrix)} vectors, "
                f"{bm25_rows} BM25 rows, {len(rows)} chunks; rebuild it with `kb index`"
            )

    @classmethod
    def from_settings(cls, settings: Settings, index_dir: Path | None = None):
        """The configured backend's searcher: ``index_dir`` (default: settings) with the
        configured model, or the database at ``KB_DATABASE_URL`` when one is set."""
        embedder = Embedder.from_settings(settings)
        target = index_dir or settings.database_url or settings.index_dir
        return open_searcher(target, embedder, settings)

    @classmethod
    def open_best(cls, index_dir: Path, embedder: Embedder, settings: Settings) -> Searcher:
        """The current generation, or if it is corrupt the newest intact older one (degraded).

        A generation that failed because newer builds published and pruned it while it was
        loading is not corrupt: the pointer has moved, so the newest one is tried instead.
        """
        for _attempt in range(_OPEN_ATTEMPTS):
            wanted = current_generation(index_dir)
            try:
                return cls(index_dir, embedder, settings, generation=wanted)
            except IndexCorruptError as exc:
                if current_generation(index_dir) != wanted:
                    continue
                # Only older ones: a newer one was never published (a build killed between
                # its rename and the pointer's), and its text was never served.
                for older in (g for g in previous_generations(index_dir) if g.name < wanted.name):
                    try:
                        fallback = cls(index_dir, embedder, settings, generation=older)
                    except KBError:
                        continue
                    fallback._refused = wanted.name
                    fallback.degraded = (
                        f"serving {older.name}: the current generation is refused ({exc})"
                    )
                    logger.error("%s", fallback.degraded)
                    return fallback
                raise
        return cls(index_dir, embedder, settings)  # publishes keep racing: the plain attempt

    def reopen(self) -> Searcher:
        """A Searcher over the newest generation (or the newest intact one)."""
        return Searcher.open_best(self.index_dir, self.embedder, self.settings)

    def latest_name(self) -> str:
        """Name of the generation the pointer names now."""
        return current_generation(self.index_dir).name

    def is_stale(self) -> bool:
        """Whether a newer generation has been published since this Searcher was opened."""
        try:
            current = current_generation(self.index_dir)
        except KBError:
            return False
        return current != self.generation and current.name != self._refused

    def mark_refused(self, generation: str, reason: str) -> None:
        """Remember a newer generation that failed to load, and report it in /health."""
        self._refused = generation
        self.degraded = f"still serving {self.generation.name}: {generation} was refused ({reason})"

    def warm_up(self) -> None:
        """Load the model before the first query is waiting on it."""
        self.embedder.warm_up()

    # -- queries -------------------------------------------------------------------------

    def _refresh_access(self) -> None:
        """Pick up `kb access` changes: one stat per query, a reload only when they change."""
        try:
            stamp = (self.index_dir / ACCESS_OVERRIDES).stat().st_mtime_ns
        except OSError:
            stamp = 0
        if stamp != self._access_stamp:
            self._access_stamp, self._access = read_access_overrides(self.index_dir)
            self._masks.clear()
            self._views.clear()

    def _view(self, groups: Iterable[str] | None) -> _CallerView:
        """What the caller's access groups let the knowledge base tell them about itself: the
        market codes its documents list and how many of its passages hold each term (None:
        every passage, as for a caller who sees every document). Computed once per groups."""
        if groups is None:
            return _CallerView(self._market_codes, None)
        key = tuple(sorted(groups))
        view = self._views.get(key)
        if view is None:
            rows = self.allowed_rows({}, "", True, groups)  # access alone, every version
            if rows.all():
                view = _CallerView(self._market_codes, None)
            else:
                seen = np.unique(self._chunk_doc[rows])
                codes = market_codes(self._docs[i].metadata for i in seen.tolist())
                view = _CallerView(codes, visible_doc_freqs(self._bm25, rows))
            self._views[key] = view
        return view

    def _access_of(self, doc_id: str, metadata: dict[str, Any]) -> dict[str, Any]:
        """A document's metadata with its access groups as overridden, if they are."""
        return with_groups(metadata, self._access.get(doc_id))

    def _metadata_of(self, doc_id: str) -> dict[str, Any] | None:
        """A document's metadata as access checks see it, or None if the index lacks it."""
        row = self._doc_row.get(doc_id)
        return None if row is None else self._access_of(doc_id, self._docs[row].metadata)

    def allowed_rows(
        self,
        filters: dict[str, list[str]],
        as_of: str,
        include_superseded: bool = False,
        groups: Iterable[str] | None = None,
        refresh: bool = True,
    ) -> np.ndarray:
        """Per chunk row, whether its document may be seen, passes the filters and is in force.

        Masks are memoised per (filters, date, groups): most searches repeat a handful, and
        spreading a document mask over 100k rows costs more than the memo lookup. ``refresh``
        False: `kb access` as the caller last read it (a search reads it once).
        """
        if refresh:
            self._refresh_access()

        def compute() -> np.ndarray:
            docs = allowed_mask(
                [(d.doc_id, d.metadata) for d in self._docs],
                filters, as_of, include_superseded, groups, self._access, self._successors,
            )  # fmt: skip
            return docs[self._chunk_doc] if len(self._chunk_doc) else np.zeros(0, bool)

        return self._masks.get(filters, as_of, include_superseded, groups, compute)

    def search(
        self,
        query: str,
        top_k: int | None = None,
        filters: dict[str, Any] | None = None,
        as_of: dt.date | str | None = None,
        include_superseded: bool = False,
        mode: str | None = None,
        context: int = 0,
        groups: Iterable[str] | None = None,
    ) -> SearchResponse:
        """The ``top_k`` best passages for ``query`` among documents that pass, diversified.

        ``context`` adds that many neighbouring passages of the same document before and after
        each result, for an agent who needs to read on.
        """
        started = time.perf_counter()
        asked = mode
        query, top_k, mode, flt, as_of_s = prepare_search(
            self.settings, query, top_k, mode, context, filters, as_of
        )
        mode, unread = unread_question(self.embedder, query, asked, mode)
        self._refresh_access()  # the caller's view (market codes) as `kb access` now has it
        view = self._view(groups)
        flt, unlisted_filter = with_filter_markets(flt, view.market_codes)
        allowed = self.allowed_rows(flt, as_of_s, include_superseded, groups, refresh=False)
        picks = version_picks(
            query, self._meta, self._families, as_of, as_of_s, include_superseded, self.settings
        )
        if picks:
            allowed, picks = swap_versions(
                allowed, self.allowed_rows(flt, as_of_s, True, groups, refresh=False), picks,
                lambda doc_id: self._chunk_doc == self._doc_row[doc_id],
                self.settings.in_force_weight > 0,
            )  # fmt: skip
        may_see = access_check(groups, self._metadata_of)
        keywords, markets, unlisted = keyword_text(query, view.market_codes, self.settings)
        unlisted = said_once(unlisted + unlisted_filter)
        spelled, acronyms = model_text(
            keywords, self.manifest.acronym_sources, self.settings, may_see
        )  # fmt: skip
        # BM25 reads slips as index terms, the model as its own words (indexer/spelling.py).
        doc_freq, looked_up = recording(doc_freq_of(self._bm25, view.term_counts))
        found, slips = query_terms(keywords, doc_freq, self._words)
        words = model_spellings(slips, self._words)
        spelled = respelled(spelled, words)
        results: list[SearchResult] = []
        if allowed.any():
            signals, lexical, scored = self._signals(found, spelled, mode, allowed)
            # Fusion runs over the scored rows only (a large index's candidates), not over
            # arrays the size of the index: the same scores, a few hundred values instead.
            scores = fusion.combine(
                mode, signals.dense[scored], None if lexical is None else lexical[scored],
                None, self.settings.lexical_boost, self.settings.lexical_reach,
                self._chunk_doc[scored], self.settings.document_support,
                self.settings.lexical_peak_floor, self._lone[scored],
            )  # fmt: skip
            if picks:
                in_force = [self._doc_row[p.instead_of] for p in picks]
                scores = behind_asked_versions(
                    scores, np.isin(self._chunk_doc[scored], in_force),
                    self.settings.in_force_weight,
                )  # fmt: skip
            best = fusion.ranked(mode, scores, None, top_k * 4 + 10)
            pool = scored[best]
            score_of = dict(zip(pool.tolist(), scores[best].tolist(), strict=True))
            rows = fusion.diversify(pool, self._section_of, top_k, self.settings.per_section)
            records = self._chunk_records(rows, context)
            weights = idf_of(looked_up, len(self._chunk_doc))  # the question's terms, counted
            results = [
                self._result(
                    rank,
                    row,
                    *records[row],
                    score_of[row],
                    keywords,
                    self._row_windows(row, signals.window_scores),
                    weights,
                )
                for rank, row in enumerate(rows, start=1)
            ]
            if include_superseded or picks:
                mark_in_force(
                    results,
                    lambda d: self._docs[self._doc_row[d]].metadata,
                    self._successors.__getitem__,
                    as_of_s,
                    hidden_successors(self._successor_ids, may_see),
                )
            answerable, reason = judge(
                float(signals.passage[scored].max()), self.settings.answerable_threshold
            )
            if not results:
                answerable, reason = False, NO_KEYWORD_MATCH
            elif unread:
                answerable, reason = False, UNREAD
        else:
            answerable, reason = False, FILTERED_OUT
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(
            query,
            results,
            round(took, 2),
            self.manifest.index_version,
            flt,
            as_of_s,
            mode,
            answerable,
            reason,
            acronyms,
            markets,
            shown_picks(picks, may_see),
            read_as(slips, words),
            unlisted,
        )

    def _signals(
        self, found: list[str], spelled: str, mode: str, allowed: np.ndarray
    ) -> tuple[_Signals, np.ndarray | None, np.ndarray]:
        """Dense signals (always: they also decide answerability and highlights), BM25, and
        the rows that were scored, ascending (all allowed ones, or the ANN candidates, which
        are allowed ones too). The model reads ``spelled``, BM25 the terms ``found`` (of the
        question as searched, :func:`keyword_text`, without the model's spelled-out short
        forms)."""
        vector = self.embedder.encode([spelled])[0]
        lexical = bm25_scores(self._bm25, found, len(self._matrix)) if mode != "dense" else None
        rows = self._candidates(vector, lexical, allowed)
        if rows is None:  # exact: every passage and every window
            passage = self._matrix @ vector
            windows = self._window_dense  # an index without IVF decoded them when it opened
            window_scores = windows @ vector if len(windows) else np.zeros(0)
            dense = passage.astype(np.float32, copy=True)
            if len(window_scores):
                best = np.maximum.reduceat(window_scores, self._window_starts)  # one pass, O(n)
                dense[self._window_rows] = fusion.mix(
                    passage[self._window_rows], best, self.settings.window_weight
                )
            return _Signals(passage, dense, window_scores), lexical, np.flatnonzero(allowed)
        passage = np.full(len(self._matrix), -1.0, np.float32)
        passage[rows] = self._matrix[rows] @ vector
        dense = passage.copy()
        # Only the candidates' windows are written, and only candidates can become results, so
        # the rest of this array is never read: left uninitialised (no 4 bytes x windows fill).
        window_scores = np.empty(len(self._windows), np.float32)
        pos = np.searchsorted(self._window_rows, rows)
        has = pos < len(self._window_rows)
        has[has] = self._window_rows[pos[has]] == rows[has]
        if has.any():
            starts, ends = self._window_starts[pos[has]], self._window_ends[pos[has]]
            lengths = ends - starts
            offsets = np.cumsum(lengths) - lengths
            gather = np.arange(lengths.sum()) - np.repeat(offsets - starts, lengths)
            scored = self._windows.score(vector, gather)
            window_scores[gather] = scored
            best = np.maximum.reduceat(scored, offsets)
            dense[rows[has]] = fusion.mix(passage[rows[has]], best, self.settings.window_weight)
        return _Signals(passage, dense, window_scores), lexical, rows

    def _candidates(
        self, vector: np.ndarray, lexical: np.ndarray | None, allowed: np.ndarray
    ) -> np.ndarray | None:
        """Rows worth scoring exactly in a large index; None means score all (small index).

        The IVF index proposes the nearest passages, BM25 its best matches; a narrow filter
        leaves so few rows that scoring them all is cheaper than asking the IVF index.
        """
        if self._ivf is None:
            return None
        k = self.settings.ann_candidates
        n_allowed = int(np.count_nonzero(allowed))
        if n_allowed <= 20 * k:
            return np.flatnonzero(allowed)
        dense_rows = search_ivf(
            self._ivf, vector, k, self.settings.ann_nprobe, None if allowed.all() else allowed,
            self._matrix,
        )  # fmt: skip
        if lexical is None:
            return np.unique(dense_rows)
        # At least the BM25 rows the hybrid normalises over, so its scale matches exact search.
        depth = max(k, fusion.LEXICAL_DEPTH)
        lexical_rows = fusion.top_rows(lexical, allowed & (lexical > 0), depth)
        return np.union1d(dense_rows, lexical_rows)

    def _row_windows(self, row: int, window_scores: np.ndarray) -> list[tuple[float, int, int]]:
        """(cosine to the query, start, end in the document) of one chunk row's sentence
        windows, in order; empty if it has none."""
        i = int(np.searchsorted(self._window_rows, row))
        if i >= len(self._window_rows) or self._window_rows[i] != row:
            return []
        start, end = int(self._window_starts[i]), int(self._window_ends[i])
        spans = self._window_span[start:end].tolist()
        return [(float(c), a, b) for c, (a, b) in zip(window_scores[start:end], spans, strict=True)]

    def _chunk_records(self, rows: list[int], context: int) -> dict[int, tuple]:
        """Per row: its chunk record and the ``context`` passages before and after it.

        One query for all rows: the connection is shared behind a lock, so every extra round
        trip is a turn other requests wait for.
        """
        with self._lock:
            found = self._db.execute(
                f"SELECT * FROM chunks WHERE row IN ({', '.join('?' * len(rows))})", rows
            ).fetchall()
            return {
                r["row"]: (r, *self._neighbours(r["doc_id"], r["ordinal"], context)) for r in found
            }

    def _result(
        self,
        rank: int,
        row: int,
        r: Any,
        before: list[dict[str, Any]],
        after: list[dict[str, Any]],
        score: float,
        query: str,
        windows: list[tuple[float, int, int]],
        weights: dict[str, float],
    ) -> SearchResult:
        doc = self._docs[int(self._chunk_doc[row])]
        text = r["text"]
        heading_path = json.loads(r["heading_path"])
        if windows:  # the sentence window that answers best is what the agent should read
            spans = [(c, a - r["start"], b - r["start"]) for c, a, b in windows]
            _, a, b = spans[pick_window(text, spans, query, weights)]
            titles, breaks = inner_boundaries(doc.sections, doc.pages, r["start"], len(text))
            a, b = within_section(text, a, b, query, [*heading_path, *titles], breaks)
        else:
            a, b = best_sentence(text, query, weights)  # rare: a passage without windows
        pages = json.loads(r["pages"])
        meta = self._access_of(doc.doc_id, doc.metadata)
        heading_path, page = cited_place(
            doc.sections, doc.pages, r["start"] + a, heading_path, pages[0] if pages else None
        )
        return SearchResult(
            rank=rank,
            score=round(score, 4),
            chunk_id=r["chunk_id"],
            doc_id=doc.doc_id,
            title=doc.title,
            heading_path=heading_path,
            page=page,
            pages=pages,
            start=r["start"],
            end=r["end"],
            text=text,
            highlight=Highlight(
                r["start"] + a,
                r["start"] + b,
                text[a:b],
                row_header(
                    r["start"] + a,
                    r["start"] + b,
                    text[a:b],
                    lambda at: self._text_between(doc.doc_id, at, r["start"] + b),
                ),
            ),  # fmt: skip
            source=doc.source,
            metadata={k: meta[k] for k in CITED_FIELDS if k in meta},
            context_before=before,
            context_after=after,
        )

    def _neighbours(self, doc_id: str, ordinal: int, context: int) -> tuple[list[dict], list[dict]]:
        """Up to ``context`` passages before and after one, in document order (lock held)."""
        if not context:
            return [], []
        rows = self._db.execute(
            'SELECT ordinal, start, "end", text FROM chunks WHERE doc_id = ? '
            "AND ordinal BETWEEN ? AND ? AND ordinal != ? ORDER BY ordinal",
            (doc_id, ordinal - context, ordinal + context, ordinal),
        ).fetchall()
        out = [{"start": x["start"], "end": x["end"], "text": x["text"]} for x in rows]
        split = sum(1 for x in rows if x["ordinal"] < ordinal)
        return out[:split], out[split:]

    # -- documents -----------------------------------------------------------------------

    def list_documents(self, groups: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every document the caller may see: id, title, source and metadata (no text)."""
        self._refresh_access()
        may_see = access_check(groups, self._metadata_of)
        return [
            {
                "doc_id": d.doc_id,
                "title": d.title,
                "source": d.source,
                "metadata": shown_links(meta, may_see),
            }
            for d in self._docs
            for meta in [self._access_of(d.doc_id, d.metadata)]
            if visible(meta, groups)
        ]

    def _text_between(self, doc_id: str, start: int, end: int) -> str:
        """``text[start:end]`` of a document, read without the rest of it."""
        with self._lock:
            r = self._db.execute(
                "SELECT substr(text, ?, ?) FROM documents WHERE doc_id = ?",
                (start + 1, end - start, doc_id),
            ).fetchone()
        return r[0] if r else ""

    def get_document(self, doc_id: str, groups: Iterable[str] | None = None) -> dict[str, Any]:
        """A document with its full text and structure, so a citation span can be opened.

        A document the caller may not see is reported exactly like one that does not exist.
        """
        self._refresh_access()
        with self._lock:
            for spelling in spellings_of(doc_id):
                r = self._db.execute(
                    "SELECT * FROM documents WHERE doc_id = ?", (spelling,)
                ).fetchone()
                if r is not None:
                    break
        if r is None or not visible(
            meta := self._access_of(r["doc_id"], json.loads(r["metadata"])), groups
        ):
            raise NotFoundError(f"no document {doc_id!r} in the index")
        return {
            "doc_id": r["doc_id"],
            "title": r["title"],
            "source": r["source"],
            "format": r["format"],
            "metadata": shown_links(meta, access_check(groups, self._metadata_of)),
            "text": r["text"],
            "sections": [
                {"heading_path": p, "start": s, "end": e, "anchor": a}
                for p, s, e, a in json.loads(r["sections"])
            ],
            "pages": [{"page": n, "start": s, "end": e} for n, s, e in json.loads(r["pages"])],
        }

    def chunks(self) -> list[dict[str, Any]]:
        """Every chunk row (for checks and exports)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM chunks ORDER BY row").fetchall()
        return [dict(r) for r in rows]

    def passage_vectors(self) -> np.ndarray:
        """The passage embeddings, one row per chunk in ``chunks()`` order (read-only view)."""
        view = self._matrix.view()
        view.flags.writeable = False
        return view

    def skipped(self) -> list[dict[str, str]]:
        with self._lock:
            rows = self._db.execute("SELECT path, reason FROM skipped").fetchall()
        return [dict(r) for r in rows]

    def health(self) -> dict[str, Any]:
        """What /health reports: model, index version, access version and counts.

        ``access_version`` changes whenever `kb access` does, so a client caching what a key
        may see (the UI) knows to ask again."""
        self._refresh_access()
        m = self.manifest
        return {
            "status": "degraded" if self.degraded else "ok",
            "reason": self.degraded,
            "model": m.model,
            "model_fingerprint": m.model_fingerprint,
            "dimension": m.dimension,
            "index_version": m.index_version,
            "index_created_at": m.created_at,
            "access_version": str(self._access_stamp),
            "chunker": m.chunker,
            "counts": m.counts,
        }

    def close(self) -> None:
        self._db.close()


def as_of_date(value: dt.date | str | None) -> str:
    """An ISO date string; today when none is given."""
    if value is None or value == "":
        return dt.date.today().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        if not is_plain_date(str(value)):
            raise ValueError(value)
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError as exc:
        raise InvalidQueryError(
            f"as_of must be a date written YYYY-MM-DD, got {value!r}", "as_of"
        ) from exc
