"""The postgres backend's read side: the same ranked, cited passages as ``Searcher``, from SQL.

pgvector's HNSW index proposes the nearest passages and BM25, computed in SQL over the same
tokens as the local bm25s index, the best keyword matches, both restricted to the documents
the caller may see that pass the filters and are in force. Only those candidates are then
scored exactly as the local backend scores them (passage, best sentence window, BM25 boost),
so the two backends agree wherever the candidates hold the answer. Every search reads one
snapshot (REPEATABLE READ), so a re-index committing meanwhile is seen whole or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import numpy as np

from indexer import fusion, spelling
from indexer.embedding import Embedder
from indexer.errors import BackendUnavailableError, NotFoundError
from indexer.highlight import best_sentence, idf_of, pick_window, within_section
from indexer.markets import market_codes
from indexer.pgstore import BM25_B, BM25_K1, ConnectionPool, open_connection, read_manifest
from indexer.search import (
    CITED_FIELDS,
    NO_KEYWORD_MATCH,
    UNREAD,
    Highlight,
    MaskCache,
    SearchResponse,
    SearchResult,
    access_check,
    allowed_mask,
    behind_asked_versions,
    cited_place,
    hidden_successors,
    inner_boundaries,
    judge,
    keyword_text,
    mark_in_force,
    model_text,
    prepare_search,
    row_header,
    said_once,
    shown_links,
    shown_picks,
    spelling_dictionary,
    spellings_of,
    successor_ids,
    successor_map,
    swap_versions,
    unread_question,
    version_picks,
    visible,
    warn_unexpandable,
    with_filter_markets,
    with_groups,
)
from indexer.settings import Settings
from indexer.store import check_model, check_terms
from indexer.versions import families

# BM25 candidates read at most this many postings per query term, best weight first (exact
# whenever a term occurs in fewer passages); the candidates' scores are then computed exactly.
POSTINGS_PER_TERM = 2000

_Q = "q AS (SELECT * FROM unnest(%(terms)s::text[], %(counts)s::int[], %(idf)s::float8[]) " \
     "AS q(term, qn, idf))"  # fmt: skip
_SCORE = "sum(q.qn * q.idf * t.tf / (t.tf + %(k1)s * (1 - %(b)s + %(b)s * t.n_terms / %(avg)s)))"
_BM25_TOP_SQL = f"""
WITH {_Q}
SELECT t.chunk_id, {_SCORE} AS score
FROM q CROSS JOIN LATERAL (
    SELECT p.chunk_id, p.tf, p.n_terms FROM kb_postings p
    WHERE p.term = q.term {{docs}}
    ORDER BY p.weight DESC LIMIT %(per_term)s
) t
GROUP BY t.chunk_id
ORDER BY score DESC, t.chunk_id
LIMIT %(limit)s
"""
_BM25_ONLY_SQL = f"""
WITH {_Q}
SELECT t.chunk_id, {_SCORE} AS score
FROM kb_postings t JOIN q USING (term)
WHERE t.chunk_id = ANY(%(only)s)
GROUP BY t.chunk_id
"""


class PgSearcher:
    """Ranked passages with citations from the index in a PostgreSQL database."""

    def __init__(self, url: str, embedder: Embedder, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.url = url
        self.embedder = embedder
        self.index_dir = None
        self.degraded = ""
        self.manifest = read_manifest(url)
        check_model(self.manifest, embedder.model_name, embedder.fingerprint, "the database")
        check_terms(self.manifest, "the database")
        warn_unexpandable(self.manifest, self.settings, "the database")
        self._words = spelling_dictionary(embedder, self.settings)
        self._pool = ConnectionPool(lambda: open_connection(url))
        with self._snapshot() as con:
            self._catalog = _Catalog.load(con)

    @classmethod
    def from_settings(cls, settings: Settings) -> PgSearcher:
        return cls(settings.database_url, Embedder.from_settings(settings), settings)

    def reopen(self) -> PgSearcher:
        """A searcher over the database's current index (after a re-index committed)."""
        return PgSearcher(self.url, self.embedder, self.settings)

    def is_stale(self) -> bool:
        """True after a re-index committed (replicas poll this; access changes apply per query)."""
        with self._connection() as con:
            row = con.execute("SELECT index_version FROM kb_state").fetchone()
        return row is not None and row[0] != self.manifest.index_version

    def latest_name(self) -> str:
        return read_manifest(self.url).index_version

    def mark_refused(self, generation: str, reason: str) -> None:
        self.degraded = f"still serving {self.manifest.index_version}: {generation} ({reason})"

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def _connection(self):
        """A pooled connection: each concurrent request gets its own."""
        return self._pool.connection()

    @contextmanager
    def _snapshot(self) -> Iterator[Any]:
        """A pooled connection inside one read-only REPEATABLE READ transaction: every
        statement sees the same committed index, whatever a writer commits meanwhile."""
        with self._connection() as con, con.transaction():
            con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield con

    def _catalog_at(self, con: Any, version: str, access: int) -> _Catalog:
        """The catalog of the snapshot ``con`` reads (index ``version``, overrides ``access``).

        Reloaded when a re-index or `kb access` committed since the cached one was read, so
        citations (sections, pages), titles and filters always match the passages read in the
        same snapshot, not the document structure this process saw first.
        """
        catalog = self._catalog
        if catalog.key != (version, access):
            catalog = self._catalog = _Catalog.load(con)
        return catalog

    # -- queries -------------------------------------------------------------------------

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
        """See ``Searcher.search``: same arguments, same response."""
        started = time.perf_counter()
        asked = mode
        query, top_k, mode, flt, as_of_s = prepare_search(
            self.settings, query, top_k, mode, context, filters, as_of
        )
        mode, unread = unread_question(self.embedder, query, asked, mode)
        # Short forms as the catalog last read defines them for this caller; checked against
        # this snapshot's (a re-index or `kb access` since) below.
        codes = self._catalog.market_codes_for(groups)
        keywords, markets, unlisted = keyword_text(query, codes, self.settings)
        spelled, acronyms = self._catalog.model_text(keywords, groups, self.settings)
        vector = self.embedder.encode([spelled])[0]
        results: list[SearchResult] = []
        answerable, reason = False, "no document passes the filters and date"
        spellings: list[tuple[str, str]] = []
        with self._snapshot() as con:
            # The version, chunk count and mean length this snapshot holds: reported and used
            # for BM25, so a re-index committed mid-request is never half seen. The catalog
            # (structure, metadata, `kb access` overrides) is this snapshot's too.
            version, avg_terms, counts, access = con.execute(
                "SELECT s.index_version, s.avg_terms, s.counts, v.version "
                "FROM kb_state s, kb_access_version v"
            ).fetchone()
            catalog = self._catalog_at(con, version, access)
            may_see = catalog.may_see(groups)
            codes = catalog.market_codes_for(groups)
            keywords, markets, unlisted = keyword_text(query, codes, self.settings)
            flt, unlisted_filter = with_filter_markets(flt, codes)
            unlisted = said_once(unlisted + unlisted_filter)
            now, acronyms = catalog.model_text(keywords, groups, self.settings)
            # BM25 reads slips as index terms, the model as its own words (indexer/spelling.py):
            # terms of documents the caller may see only.
            visible = catalog.visible(groups)
            doc_freq, looked_up = spelling.recording(partial(self._doc_freq, con, visible=visible))
            found, slips = spelling.query_terms(keywords, doc_freq, self._words)
            words = spelling.model_spellings(slips, self._words)
            now = spelling.respelled(now, words)
            spellings = spelling.read_as(slips, words)
            if now != spelled:
                spelled, vector = now, self.embedder.encode([now])[0]
            mask = catalog.allowed(flt, as_of_s, include_superseded, groups)
            picks = version_picks(
                query, catalog.meta, catalog.families, as_of, as_of_s, include_superseded,
                self.settings,
            )  # fmt: skip
            if picks:
                mask, picks = swap_versions(
                    mask, catalog.allowed(flt, as_of_s, True, groups), picks,
                    catalog.position.__getitem__, self.settings.in_force_weight > 0,
                )  # fmt: skip
            docs = list(catalog.doc_ids[mask])
            # Everything allowed (the common case): no document list to ship and test per row.
            restrict = None if mask.all() else docs
            if docs:
                snapshot = {"avg_terms": float(avg_terms), "chunks": int(counts["chunks"])}
                behind = frozenset(p.instead_of for p in picks)
                results, answerable, reason = self._ranked(
                    con, catalog, keywords, vector, restrict, mode, top_k, context, groups,
                    snapshot, (found, looked_up), behind,
                )  # fmt: skip
                if unread and results:
                    answerable, reason = False, UNREAD
                if include_superseded or picks:
                    mark_in_force(
                        results,
                        lambda d: catalog.by_id[d]["metadata"],
                        catalog.successors.__getitem__,
                        as_of_s,
                        hidden_successors(catalog.successor_ids, may_see),
                    )
            picks = shown_picks(picks, may_see)
        took = (time.perf_counter() - started) * 1000
        return SearchResponse(
            query, results, round(took, 2), version, flt, as_of_s, mode, answerable, reason,
            acronyms, markets, picks, spellings, unlisted,
        )  # fmt: skip

    def _ranked(
        self,
        con: Any,
        catalog: _Catalog,
        query: str,
        vector: np.ndarray,
        docs: list[str] | None,
        mode: str,
        top_k: int,
        context: int,
        groups: Iterable[str] | None,
        snapshot: dict[str, float],
        lexical_terms: tuple[list[str], dict[str, int]],
        behind: frozenset[str] = frozenset(),
    ) -> tuple[list[SearchResult], bool, str]:
        """Ranked results; ``lexical_terms``: the question's BM25 terms (slips read as index
        terms) and the passage counts of every term looked up; ``behind``: versions in force
        ranked below the versions a question asks about (:func:`behind_asked_versions`)."""
        k = self.settings.pg_candidates
        dim = int(self.manifest.dimension)
        # More candidates than ef_search: the iterative scan goes on past it (pgvector >= 0.8).
        con.execute(f"SET LOCAL hnsw.ef_search = {min(1000, max(k, self.settings.pg_ef_search))}")
        con.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        where, params = ("WHERE doc_id = ANY(%s) ", [docs]) if docs is not None else ("", [])
        dense_ids = [
            r[0]
            for r in con.execute(
                f"SELECT chunk_id FROM kb_chunks {where}"
                f"ORDER BY embedding::vector({dim}) <#> %s::vector({dim}) LIMIT %s",
                (*params, vector, k),
            )
        ]
        lexical: dict[str, float] = {}
        bm25 = None
        query_terms, looked_up = lexical_terms
        if mode != "dense":  # repeated words weigh more, as in bm25s; slips read as terms
            # IDF over the whole index, as the local backend's BM25 matrix has it: the counts
            # looked up for a restricted caller (spelling) are of the passages they may see,
            # and gave their keys other scores, and orders, than on local files
            seen_all = catalog.visible(groups) is None
            whole = looked_up if seen_all else self._doc_freq(con, set(query_terms))
            bm25 = self._bm25_params(query_terms, snapshot, whole)
        if bm25:
            sql = _BM25_TOP_SQL.format(docs="AND p.doc_id = ANY(%(docs)s)" if docs else "")
            limit = max(self.settings.ann_candidates, fusion.LEXICAL_DEPTH)  # as locally
            lexical = self._scores(con, sql, {**bm25, "docs": docs, "limit": limit})
        candidates = sorted(set(dense_ids) | set(lexical))
        if bm25:  # exact BM25 of the candidates the top postings did not score (fully)
            unscored = [c for c in candidates if bm25["truncated"] or c not in lexical]
            if unscored:
                lexical.update(self._scores(con, _BM25_ONLY_SQL, {**bm25, "only": unscored}))
        # Scoring needs only ids, similarities, sections and access; text for the chosen few.
        rows = con.execute(
            "SELECT c.chunk_id, c.doc_id, c.heading_path, -(c.embedding <#> %s) AS cos, "
            "d.metadata, a.groups, c.ordinal, NOT EXISTS (SELECT 1 FROM kb_chunks o "
            "WHERE o.doc_id = c.doc_id AND o.chunk_id <> c.chunk_id) AS lone FROM kb_chunks c "
            "JOIN kb_documents d USING (doc_id) LEFT JOIN kb_access a USING (doc_id) "
            "WHERE c.chunk_id = ANY(%s)",
            (vector, candidates),
        ).fetchall()
        rows.sort(key=lambda r: row_order(r[1], r[6]))  # ties break as in the local backend
        # (chunk_id, doc_id, heading_path, cos, metadata as callers see it, lone)
        rows = [(*r[:4], with_groups(r[4], r[5]), r[7]) for r in rows]
        if groups is not None:  # access re-checked on the snapshot itself, not on our cache
            rows = [r for r in rows if visible(r[4], groups)]
        if not rows:
            return [], False, "no passage matches"
        ids = [r[0] for r in rows]
        passage = np.array([r[3] for r in rows], np.float32)
        dense = passage.copy()
        best_window = {
            chunk_id: (score, a, b)
            for chunk_id, a, b, score in con.execute(
                'SELECT DISTINCT ON (chunk_id) chunk_id, start, "end", -(embedding <#> %s) AS s '
                "FROM kb_windows WHERE chunk_id = ANY(%s) "
                "ORDER BY chunk_id, s DESC, start",  # the first best wins, as locally
                (vector, ids),
            )
        }
        windowed = [i for i, c in enumerate(ids) if c in best_window]
        best = np.array([best_window[ids[i]][0] for i in windowed], np.float32)
        dense[windowed] = fusion.mix(passage[windowed], best, self.settings.window_weight)
        scored = np.ones(len(ids), bool)
        lex = None if mode == "dense" else np.array([lexical.get(c, 0.0) for c in ids], np.float32)
        doc_of = np.unique([r[1] for r in rows], return_inverse=True)[1]
        scores = fusion.combine(
            mode, dense, lex, scored, self.settings.lexical_boost, self.settings.lexical_reach,
            doc_of, self.settings.document_support, self.settings.lexical_peak_floor,
            np.array([r[5] for r in rows], bool),
        )  # fmt: skip
        if behind:
            scores = behind_asked_versions(
                scores, np.array([r[1] in behind for r in rows]), self.settings.in_force_weight
            )
        pool = fusion.ranked(mode, scores, scored, top_k * 4 + 10)
        if not len(pool):
            return [], False, NO_KEYWORD_MATCH
        sections = [f"{r[1]}\x00{_json_list(r[2])}" for r in rows]
        chosen = fusion.diversify(pool, sections, top_k, self.settings.per_section)
        full = {
            r[0]: r
            for r in con.execute(
                'SELECT chunk_id, doc_id, ordinal, start, "end", pages, heading_path, text '
                "FROM kb_chunks WHERE chunk_id = ANY(%s)",
                ([ids[i] for i in chosen],),
            )
        }
        windows = self._windows(con, vector, [ids[i] for i in chosen])
        # The question's terms were looked up with its slips (the highlight weighs them).
        weights = idf_of(looked_up, int(snapshot["chunks"]))
        results = [
            self._result(con, catalog, rank, (*full[ids[i]], rows[i][4]), float(scores[i]),
                         query, context, windows.get(ids[i], []), weights)
            for rank, i in enumerate(chosen, start=1)
        ]  # fmt: skip
        return (results, *judge(float(passage.max()), self.settings.answerable_threshold))

    @staticmethod
    def _bm25_params(
        query_terms: list[str], snapshot: dict[str, float], df: dict[str, int]
    ) -> dict[str, Any] | None:
        """Query terms with their counts and IDF (bm25s' lucene variant) in this snapshot, whose
        document counts of them are ``df`` (terms it lacks left out)."""
        counts = Counter(query_terms)
        if not counts:
            return None
        found = [t for t in counts if df.get(t)]
        if not found:
            return None
        idf = idf_of({t: df[t] for t in found}, int(snapshot["chunks"]))  # bm25s' lucene idf
        return {
            "terms": found,
            "counts": [counts[t] for t in found],
            "idf": [idf[t] for t in found],
            "truncated": any(df[t] > POSTINGS_PER_TERM for t in found),
            "per_term": POSTINGS_PER_TERM,
            "avg": snapshot["avg_terms"],
            "k1": BM25_K1,
            "b": BM25_B,
        }

    @staticmethod
    def _doc_freq(
        con: Any, wanted: Collection[str], visible: list[str] | None = None
    ) -> dict[str, int]:
        """How many passages of this snapshot hold each of ``wanted`` (absent terms left out);
        only passages of the ``visible`` documents when given (``lexical.doc_freq_of``)."""
        if visible is None:
            sql, params = (
                "SELECT term, count(*) FROM kb_postings WHERE term = ANY(%s) GROUP BY term",
                (list(wanted),),
            )
        else:
            sql, params = (
                "SELECT p.term, count(*) FROM kb_postings p JOIN kb_chunks c USING (chunk_id) "
                "WHERE p.term = ANY(%s) AND c.doc_id = ANY(%s) GROUP BY p.term",
                (list(wanted), visible),
            )
        return dict(con.execute(sql, params).fetchall())

    @staticmethod
    def _windows(
        con: Any, vector: np.ndarray, chunk_ids: list[str]
    ) -> dict[str, list[tuple[float, int, int]]]:
        """Per chunk: (cosine to the query, start, end) of each of its sentence windows, in
        order, for the highlighter to choose from."""
        out: dict[str, list[tuple[float, int, int]]] = {}
        for chunk_id, a, b, score in con.execute(
            'SELECT chunk_id, start, "end", -(embedding <#> %s) FROM kb_windows '
            'WHERE chunk_id = ANY(%s) ORDER BY chunk_id, start, "end"',
            (vector, chunk_ids),
        ):
            out.setdefault(chunk_id, []).append((float(score), a, b))
        return out

    @staticmethod
    def _scores(con: Any, sql: str, params: dict[str, Any]) -> dict[str, float]:
        return {cid: float(score) for cid, score in con.execute(sql, params)}

    def _result(
        self,
        con: Any,
        catalog: _Catalog,
        rank: int,
        row: tuple,
        score: float,
        query: str,
        context: int,
        windows: list[tuple[float, int, int]],
        weights: dict[str, float],
    ) -> SearchResult:
        chunk_id, doc_id, ordinal, start, end, pages, heading_path, text = row[:8]
        doc = catalog.by_id[doc_id]  # the same snapshot: every passage's document is there
        if windows:
            spans = [(c, a - start, b - start) for c, a, b in windows]
            _, a, b = spans[pick_window(text, spans, query, weights)]
            titles, breaks = inner_boundaries(
                doc.get("sections", []), doc.get("pages", []), start, len(text)
            )
            a, b = within_section(text, a, b, query, [*heading_path, *titles], breaks)
        else:
            a, b = best_sentence(text, query, weights)
        before, after = self._neighbours(con, doc_id, ordinal, context)
        metadata = row[8]
        cited_path, page = cited_place(
            doc.get("sections", []), doc.get("pages", []), start + a, list(heading_path),
            pages[0] if pages else None,
        )  # fmt: skip
        return SearchResult(
            rank=rank,
            score=round(score, 4),
            chunk_id=chunk_id,
            doc_id=doc_id,
            title=doc["title"],
            heading_path=cited_path,
            page=page,
            pages=list(pages),
            start=start,
            end=end,
            text=text,
            highlight=Highlight(
                start + a,
                start + b,
                text[a:b],
                row_header(
                    start + a,
                    start + b,
                    text[a:b],
                    lambda at: con.execute(
                        "SELECT substr(text, %s, %s) FROM kb_documents WHERE doc_id = %s",
                        (at + 1, start + b - at, doc_id),
                    ).fetchone()[0],
                ),
            ),  # fmt: skip
            source=doc["source"],
            metadata={k: metadata[k] for k in CITED_FIELDS if k in metadata},
            context_before=before,
            context_after=after,
        )

    def _neighbours(self, con: Any, doc_id: str, ordinal: int, context: int):
        if not context:
            return [], []
        rows = con.execute(
            'SELECT ordinal, start, "end", text FROM kb_chunks WHERE doc_id = %s '
            "AND ordinal BETWEEN %s AND %s AND ordinal != %s ORDER BY ordinal",
            (doc_id, ordinal - context, ordinal + context, ordinal),
        ).fetchall()
        out = [{"start": s, "end": e, "text": t} for _o, s, e, t in rows]
        split = sum(1 for o, *_ in rows if o < ordinal)
        return out[:split], out[split:]

    # -- documents -----------------------------------------------------------------------

    def list_documents(self, groups: Iterable[str] | None = None) -> list[dict[str, Any]]:
        with self._snapshot() as con:
            catalog = self._catalog_at(con, *_versions(con))
        may_see = catalog.may_see(groups)
        return [
            {
                **{k: d[k] for k in ("doc_id", "title", "source")},
                "metadata": shown_links(d["metadata"], may_see),
            }
            for d in catalog.docs
            if visible(d["metadata"], groups)
        ]

    def get_document(self, doc_id: str, groups: Iterable[str] | None = None) -> dict[str, Any]:
        with self._snapshot() as con:  # the row and who may see its links, read together
            r = con.execute(
                "SELECT d.doc_id, title, source, format, metadata, text, sections, pages, "
                "a.groups FROM kb_documents d LEFT JOIN kb_access a USING (doc_id) "
                "WHERE d.doc_id = ANY(%s) ORDER BY d.doc_id = %s DESC LIMIT 1",
                (spellings_of(doc_id), doc_id),
            ).fetchone()
            if r is None or not visible(metadata := with_groups(r[4], r[8]), groups):
                raise NotFoundError(f"no document {doc_id!r} in the index")
            may_see = self._catalog_at(con, *_versions(con)).may_see(groups)
        return {
            "doc_id": r[0],
            "title": r[1],
            "source": r[2],
            "format": r[3],
            "metadata": shown_links(metadata, may_see),
            "text": r[5],
            "sections": [
                {"heading_path": p, "start": s, "end": e, "anchor": a} for p, s, e, a in r[6]
            ],
            "pages": [{"page": n, "start": s, "end": e} for n, s, e in r[7]],
        }

    def chunks(self) -> list[dict[str, Any]]:
        with self._connection() as con:
            rows = con.execute(
                'SELECT chunk_id, doc_id, ordinal, start, "end", pages, heading_path, text '
                "FROM kb_chunks"
            ).fetchall()
        rows.sort(key=lambda r: row_order(r[1], r[2]))
        keys = ("chunk_id", "doc_id", "ordinal", "start", "end", "pages", "heading_path", "text")
        out = []
        for row, r in enumerate(rows):
            item = dict(zip(keys, r, strict=True))
            item.update(row=row, pages=_json_list(r[5]), heading_path=_json_list(r[6]))
            out.append(item)
        return out

    def passage_vectors(self) -> np.ndarray:
        with self._connection() as con:
            rows = con.execute("SELECT doc_id, ordinal, embedding FROM kb_chunks").fetchall()
        rows.sort(key=lambda r: row_order(r[0], r[1]))  # chunks() order
        dim = int(self.manifest.dimension)
        vectors = [r[2].to_numpy() if hasattr(r[2], "to_numpy") else r[2] for r in rows]
        return np.array(vectors, np.float32).reshape(-1, dim)

    def skipped(self) -> list[dict[str, str]]:
        with self._connection() as con:
            rows = con.execute("SELECT path, reason FROM kb_skipped").fetchall()
        return [{"path": p, "reason": r} for p, r in rows]

    def health(self) -> dict[str, Any]:
        """As the local backend's; the access version is the database's, read now (the last
        one read while the database is down: /health then says so from the app's state)."""
        try:
            with self._snapshot() as con:
                access = _versions(con)[1]
        except BackendUnavailableError:
            access = self._catalog.access_version
        m = self.manifest
        return {
            "status": "degraded" if self.degraded else "ok",
            "reason": self.degraded,
            "backend": "postgres",
            "model": m.model,
            "model_fingerprint": m.model_fingerprint,
            "dimension": m.dimension,
            "index_version": m.index_version,
            "index_created_at": m.created_at,
            "access_version": str(access),
            "chunker": m.chunker,
            "counts": m.counts,
        }

    def close(self) -> None:
        self._pool.close()


@dataclass(frozen=True)
class _Catalog:
    """Every document's title, source, structure and metadata with `kb access` overrides
    applied, and the allowed-document masks computed from them, as of one snapshot; replaced
    whole when a re-index or the overrides change."""

    index_version: str
    access_version: int
    docs: list[dict[str, Any]]
    doc_ids: np.ndarray
    by_id: dict[str, dict[str, Any]]
    masks: MaskCache
    # Which documents define each short form (indexer/acronyms.py); None: not kept yet.
    acronym_sources: dict[str, dict[str, list]] | None = None
    # Per caller's access groups: (ids of the documents they may see, their market codes).
    views: dict[tuple[str, ...], tuple[list[str] | None, frozenset[str]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def load(cls, con: Any) -> _Catalog:
        """The catalog ``con``'s transaction sees (call it inside one snapshot)."""
        index_version, access_version = _versions(con)
        defined = con.execute("SELECT acronym_sources FROM kb_state").fetchone()[0]
        rows = con.execute(
            "SELECT d.doc_id, d.title, d.source, d.metadata, a.groups, d.sections, d.pages "
            "FROM kb_documents d LEFT JOIN kb_access a USING (doc_id)"
        ).fetchall()
        rows.sort(key=lambda r: r[0])  # code point order, as SQLite's: not the database's collation
        docs = [
            {"doc_id": d, "title": t, "source": s, "metadata": with_groups(m, a),
             "sections": sec, "pages": pg}
            for d, t, s, m, a, sec, pg in rows
        ]  # fmt: skip
        ids = np.array([d["doc_id"] for d in docs], dtype=object)
        by_id = {d["doc_id"]: d for d in docs}
        return cls(index_version, access_version, docs, ids, by_id, MaskCache(), defined)

    @property
    def key(self) -> tuple[str, int]:
        return self.index_version, self.access_version

    @cached_property
    def meta(self) -> dict[str, dict[str, Any]]:
        return {d["doc_id"]: d["metadata"] for d in self.docs}

    @cached_property
    def families(self) -> list[list[str]]:
        """Versions of one document (indexer/versions.py), once per catalog."""
        return families(self.meta.items())

    @cached_property
    def position(self) -> dict[str, int]:
        """Each document's index in ``doc_ids`` and the masks."""
        return {d: i for i, d in enumerate(self.doc_ids)}

    @cached_property
    def market_codes(self) -> frozenset[str]:
        """The market codes the documents' metadata lists (indexer/markets.py)."""
        return market_codes(self.meta.values())

    def visible(self, groups: Iterable[str] | None) -> list[str] | None:
        """Ids of the documents ``groups`` may see (any version, any date); None when they see
        every one."""
        return self._view(groups)[0]

    def market_codes_for(self, groups: Iterable[str] | None) -> frozenset[str]:
        """:attr:`market_codes` of the documents ``groups`` may see: a code only hidden
        documents list is not searched for them (it would tell them such documents exist)."""
        return self._view(groups)[1]

    def _view(self, groups: Iterable[str] | None) -> tuple[list[str] | None, frozenset[str]]:
        """(:meth:`visible`, :meth:`market_codes_for`), computed once per groups."""
        if groups is None:
            return None, self.market_codes
        key = tuple(sorted(groups))
        if key not in self.views:
            mask = self.allowed({}, "", True, groups)
            ids = None if mask.all() else self.doc_ids[mask].tolist()
            codes = self.market_codes if ids is None else market_codes(self.meta[d] for d in ids)
            self.views[key] = ids, codes
        return self.views[key]

    @cached_property
    def successors(self) -> dict[str, list[dict[str, Any]]]:
        """For each document, the metadata of the versions that supersede it."""
        return successor_map([(d["doc_id"], d["metadata"]) for d in self.docs])

    @cached_property
    def successor_ids(self) -> dict[str, list[str]]:
        """For each document, the ids of the versions that supersede it."""
        return successor_ids([(d["doc_id"], d["metadata"]) for d in self.docs])

    def may_see(self, groups: Iterable[str] | None) -> Callable[[str], bool] | None:
        """``search.access_check`` over this catalog's documents (None: no restriction)."""

        def metadata_of(doc_id: str) -> dict[str, Any] | None:
            doc = self.by_id.get(doc_id)
            return None if doc is None else doc["metadata"]

        return access_check(groups, metadata_of)

    def model_text(
        self, query: str, groups: Iterable[str] | None, settings: Settings
    ) -> tuple[str, list[tuple[str, str]]]:
        """``search.model_text`` with the definitions of the documents ``groups`` may see."""
        return model_text(query, self.acronym_sources, settings, self.may_see(groups))

    def allowed(
        self,
        filters: dict[str, list[str]],
        as_of: str,
        include_superseded: bool,
        groups: Iterable[str] | None,
    ) -> np.ndarray:
        return self.masks.get(
            filters, as_of, include_superseded, groups,
            lambda: allowed_mask(
                [(d["doc_id"], d["metadata"]) for d in self.docs],
                filters, as_of, include_superseded, groups,
            ),
        )  # fmt: skip


def row_order(doc_id: str, ordinal: int) -> tuple[list[str], int]:
    """Where a passage stands in the local backend's chunk rows: documents in path order,
    folder by folder (indexer/files.py), then passages in document order.

    Exact score ties (the same passage in two documents) break by this order on both backends;
    sorting here rather than in SQL also keeps the database's collation out of it.
    """
    return doc_id.split("/"), ordinal


def _versions(con: Any) -> tuple[str, int]:
    """(index version, access-override version) of the snapshot ``con`` reads."""
    return con.execute(
        "SELECT s.index_version, v.version FROM kb_state s, kb_access_version v"
    ).fetchone()


def _json_list(value: Any) -> str:
    """A heading path or page list as the local backend's chunk table stores it (JSON text)."""
    return json.dumps(list(value))
