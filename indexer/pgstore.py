"""The postgres backend's storage: schema migrations and incremental, transactional writes.

Selected by ``KB_DATABASE_URL`` (a ``postgresql://`` URL); the local FAISS files stay the
default. Several API processes can serve one database: a re-index changes only the documents
whose content changed, in one transaction, so every reader sees the old index or the new one.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import queue
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import numpy as np

from indexer.documents import Chunk, Document
from indexer.errors import BackendUnavailableError, IndexNotFoundError, KBError
from indexer.lexical import tokenize
from indexer.quantise import dequantise, quantise
from indexer.store import Manifest

P = ParamSpec("P")
R = TypeVar("R")

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
HNSW_M, HNSW_EF_CONSTRUCTION = 24, 200
BM25_K1, BM25_B = 1.5, 0.75  # bm25s' defaults (method "lucene"), as the local backend uses
WRITE_LOCK = 0x6B62  # pg_advisory_xact_lock key: one writer at a time, like the local flock


def is_database_url(value: str) -> bool:
    return value.startswith(("postgresql://", "postgres://"))


def shown(target: Path | str) -> str:
    """An index folder, or a database URL with its password masked: `kb index` printed
    'postgresql://kb_owner:ownerpw@...' into terminals and CI logs."""
    text = str(target)
    if not is_database_url(text):
        return text
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(text)
    if parts.password is None:
        return text
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def open_connection(url: str) -> Any:
    """A psycopg connection with pgvector's numpy adapters registered (caller closes it)."""
    import psycopg
    from pgvector.psycopg import register_vector

    try:
        con = psycopg.connect(url)
    except psycopg.OperationalError as exc:
        raise BackendUnavailableError(f"cannot connect to the database: {exc}".strip()) from exc
    try:
        register_vector(con)
    except psycopg.ProgrammingError as exc:  # the extension is not there yet
        con.close()
        raise IndexNotFoundError(
            "the database has no kb-assistant schema: run `kb db migrate`"
        ) from exc
    return con


class ConnectionPool:
    """Connections kept open for reuse (up to ``size`` idle); each concurrent caller gets its
    own. One that failed is closed rather than reused; one left mid-transaction is rolled back.
    """

    CHECK_AFTER_S = 2.0  # an idle connection older than this is checked before it is used

    def __init__(self, opener: Callable[[], Any], size: int = 8) -> None:
        self._open = opener
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._size = size

    def _take(self) -> Any:
        """An idle connection that still answers, else a new one. After the database restarted,
        every pooled connection was dead: each failed the request it was handed (a 500, and a
        search answered but never logged) before the pool learnt it."""
        import psycopg

        while True:
            try:
                con, since = self._idle.get_nowait()
            except queue.Empty:
                return self._open()
            if time.monotonic() - since < self.CHECK_AFTER_S:
                return con
            try:
                con.execute("SELECT 1")
                if con.info.transaction_status != 0:
                    con.rollback()
                return con
            except psycopg.Error:
                con.close()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        import psycopg

        con = self._take()
        try:
            yield con
        except psycopg.OperationalError as exc:  # the server went away mid-request
            con.close()
            raise BackendUnavailableError(f"the database is unavailable: {exc}".strip()) from exc
        except BaseException:
            con.close()
            raise
        if con.info.transaction_status != 0:  # not idle
            con.rollback()
        if self._idle.qsize() < self._size:
            self._idle.put((con, time.monotonic()))
        else:
            con.close()

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait()[0].close()
            except queue.Empty:
                return


@contextmanager
def connect(url: str) -> Iterator[Any]:
    """``open_connection`` for one block."""
    con = open_connection(url)
    try:
        yield con
    finally:
        con.close()


def _privileges_named(fn: Callable[P, R]) -> Callable[P, R]:
    """A role without a needed privilege ("must be owner of table kb_chunks", "permission
    denied for schema public") stops the command with one line saying so, not a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import psycopg

        try:
            return fn(*args, **kwargs)
        except psycopg.errors.InsufficientPrivilege as exc:
            message = exc.diag.message_primary or str(exc).strip()
            raise KBError(
                f"the database refused: {message}; docs/postgres.md lists the privileges "
                "`kb db migrate` and `kb index` need"
            ) from exc

    return wrapper


@_privileges_named
def migrate(url: str) -> list[str]:
    """Apply the SQL files in indexer/migrations/ that the database has not seen, in order."""
    import psycopg

    applied: list[str] = []
    try:
        con = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as exc:
        raise KBError(f"cannot connect to the database: {exc}".strip()) from exc
    with con:
        with con.transaction():
            # The lock comes first: two CREATE TABLE IF NOT EXISTS at once both see no table
            # and one fails on PostgreSQL's catalog (two `kb db migrate` on a fresh database).
            con.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            con.execute(
                "CREATE TABLE IF NOT EXISTS kb_schema_migrations "
                "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in con.execute("SELECT name FROM kb_schema_migrations")}
            for path in sorted(MIGRATIONS.glob("*.sql")):
                if path.name in done:
                    continue
                con.execute(path.read_text(encoding="utf-8"))
                con.execute("INSERT INTO kb_schema_migrations (name) VALUES (%s)", (path.name,))
                applied.append(path.name)
    return applied


def pending_migrations(con: Any) -> list[str]:
    """Migration files this database has not applied (all of them before ``kb db migrate``)."""
    import psycopg

    try:
        with con.transaction():
            done = {r[0] for r in con.execute("SELECT name FROM kb_schema_migrations")}
    except psycopg.errors.UndefinedTable:
        done = set()
    return [p.name for p in sorted(MIGRATIONS.glob("*.sql")) if p.name not in done]


def _require_schema(con: Any) -> None:
    """Writers need every column this version writes: say how to get them, not a SQL error."""
    pending = pending_migrations(con)
    if pending:
        raise KBError(
            f"the database schema is older than this version ({', '.join(pending)} not "
            "applied): run `kb db migrate`"
        )


def previous_documents(url: str) -> dict[str, Document | str]:
    """The database's documents, and the reasons files were skipped, by the source hash they
    were loaded from, as ``store.previous_documents`` gives them for the local files."""
    from psycopg.rows import dict_row

    try:
        with connect(url) as con:
            _require_schema(con)
            skipped = con.execute(
                "SELECT reason, source_hash FROM kb_skipped WHERE source_hash != ''"
            ).fetchall()
            rows = con.cursor(row_factory=dict_row).execute(
                "SELECT * FROM kb_documents WHERE source_hash != ''"
            )
            documents = [Document.from_record(r) for r in rows]
    except IndexNotFoundError:
        return {}
    out: dict[str, Document | str] = {digest: reason for reason, digest in skipped}
    out.update((d.source_hash, d) for d in documents)
    return out


def read_manifest(url: str) -> Manifest:
    """What the database's index was built from (IndexNotFoundError before the first build)."""
    with connect(url) as con:
        row = _state(con)
    if row is None:
        raise IndexNotFoundError("the database holds no index yet: build one with `kb index`")
    return row


def _state(con: Any) -> Manifest | None:
    import psycopg

    try:
        row = con.execute(
            "SELECT index_version, model, model_fingerprint, dimension, chunker, counts, "
            "sources, build_seconds, created_at, acronyms, acronym_sources FROM kb_state"
        ).fetchone()
    except psycopg.errors.UndefinedTable as exc:
        raise IndexNotFoundError(
            "the database has no kb-assistant schema: run `kb db migrate`"
        ) from exc
    except psycopg.errors.UndefinedColumn as exc:
        raise KBError(
            "the database schema is older than this version: run `kb db migrate`"
        ) from exc
    if row is None:
        return None
    (version, model, fingerprint, dim, chunker, counts, sources, seconds, created, acronyms,
     defined) = row  # fmt: skip
    return Manifest(
        index_version=version,
        model=model,
        model_fingerprint=fingerprint,
        dimension=dim,
        chunker=chunker,
        counts=counts,
        build_seconds=seconds,
        created_at=created.isoformat(timespec="seconds"),
        sources=sources,
        acronyms=acronyms,
        acronym_sources=defined,
    )


def previous_chunks(
    url: str, fingerprint: str, chunker: dict[str, Any]
) -> dict[str, tuple[str, list[tuple[Chunk, str]]]]:
    """Chunks of unchanged documents to reuse, as ``store.previous_chunks`` does for files."""
    try:
        manifest = read_manifest(url)
    except KBError:
        return {}
    if manifest.model_fingerprint != fingerprint or manifest.chunker != chunker:
        return {}
    out: dict[str, tuple[str, list[tuple[Chunk, str]]]] = {}
    with connect(url) as con:
        rows = con.execute(
            'SELECT c.doc_id, d.content_hash, c.start, c."end", c.text, c.heading_path, c.pages, '
            "c.ordinal, c.embed_text FROM kb_chunks c JOIN kb_documents d USING (doc_id) "
            "ORDER BY c.doc_id, c.ordinal"
        ).fetchall()
    for doc_id, digest, start, end, text, path, pages, ordinal, embed_text in rows:
        chunk = Chunk(doc_id, start, end, text, tuple(path), tuple(pages), ordinal)
        out.setdefault(doc_id, (digest, []))[1].append((chunk, embed_text))
    return out


@_privileges_named
def write_index(
    url: str,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    skipped: list[tuple[str, str, str]],  # path, reason, source hash
    *,
    lexical_texts: list[str],
    windows: tuple[np.ndarray, np.ndarray],
    model: str,
    model_fingerprint: str,
    chunker: dict[str, Any],
    build_seconds: float,
    acronyms: dict[str, list] | None = None,
    acronym_sources: dict[str, dict[str, list]] | None = None,
) -> Manifest:
    """Bring the database's index to exactly ``documents``, changing only what changed.

    Documents whose content hash is unchanged keep their rows; new and edited ones are
    replaced, removed ones deleted (their chunks, windows and postings cascade). All of it,
    and the new index version, commit together.
    """
    if not len(chunks) == len(vectors) == len(lexical_texts):
        raise ValueError(
            f"{len(chunks)} chunks, {len(vectors)} vectors, {len(lexical_texts)} texts"
        )
    _refuse_nul(documents)
    dimension = int(vectors.shape[1]) if vectors.ndim == 2 and len(vectors) else 0
    spans, window_vectors = windows
    if len(spans):  # the values the local files keep, so both backends score windows alike
        window_vectors = dequantise(*quantise(window_vectors))
    wanted = {d.doc_id: d.content_hash for d in documents}
    created = dt.datetime.now(dt.UTC)
    version = created.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6]
    with connect(url) as con, con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        _require_schema(con)
        state = _state(con)
        same_build = (
            state is not None
            and state.model_fingerprint == model_fingerprint
            and state.chunker == chunker
            and state.dimension == dimension
        )
        rows = con.execute("SELECT doc_id, content_hash, source_hash, source FROM kb_documents")
        have = {doc_id: (content, origin) for doc_id, content, *origin in rows.fetchall()}
        keep = {d for d, (h, _) in have.items() if same_build and wanted.get(d) == h}
        con.execute("DELETE FROM kb_documents WHERE NOT (doc_id = ANY(%s))", (list(keep),))
        # A kept document's file may have new bytes that parse to the same text and metadata
        # (or come from before source hashes were kept), or lie in a moved knowledge base (the
        # API opens `source`): record what it was read from now, and where.
        moved = [(d.source_hash, d.source, d.doc_id) for d in documents if d.doc_id in keep
                 and have[d.doc_id][1] != [d.source_hash, d.source]]  # fmt: skip
        if moved:
            con.cursor().executemany(
                "UPDATE kb_documents SET source_hash = %s, source = %s WHERE doc_id = %s", moved
            )
        fresh_docs = [d for d in documents if d.doc_id not in keep]
        _insert(con, fresh_docs, chunks, vectors, lexical_texts, spans, window_vectors, keep)
        # A denser graph than pgvector's default (m 16, ef_construction 64): on 100k passages
        # with many near-duplicates it lifts recall@10 at ef_search 400 from 0.91 to 0.98
        # (bench/RESULTS.md). Built once, after the first rows are in, in memory.
        con.execute("SET LOCAL maintenance_work_mem = '1GB'")
        con.execute(f"CREATE INDEX IF NOT EXISTS kb_chunks_hnsw_{dimension} ON kb_chunks "
                    f"USING hnsw ((embedding::vector({dimension})) vector_ip_ops) "
                    f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})")  # fmt: skip
        con.execute("DELETE FROM kb_skipped")
        if skipped:
            con.cursor().executemany(
                "INSERT INTO kb_skipped (path, reason, source_hash) VALUES (%s, %s, %s)", skipped
            )
        avg_terms = con.execute("SELECT coalesce(avg(n_terms), 1) FROM kb_chunks").fetchone()[0]
        counts = {
            "documents": len(documents),
            "chunks": len(chunks),
            "windows": len(spans),
            "skipped": len(skipped),
            "documents_rewritten": len(fresh_docs),
        }
        con.execute("DELETE FROM kb_state")
        con.execute(
            "INSERT INTO kb_state (index_version, model, model_fingerprint, dimension, chunker, "
            "counts, sources, build_seconds, created_at, avg_terms, acronyms, acronym_sources) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (version, model, model_fingerprint, dimension, json.dumps(chunker),
             json.dumps(counts), json.dumps(wanted), round(build_seconds, 3), created,
             float(avg_terms), json.dumps(acronyms or {}), json.dumps(acronym_sources or {})),
        )  # fmt: skip
    logger.info("database index %s: %d documents rewritten", version, len(fresh_docs))
    if fresh_docs or have.keys() - keep:
        _vacuum(url)
    return read_manifest(url)


def _refuse_nul(documents: list[Document]) -> None:
    """PostgreSQL's text and JSONB cannot hold U+0000 (the local files can): name the documents
    that have one before anything is written, instead of failing mid-transaction on a driver
    error that names none. The index in the database stays as it was. The loaders already
    replace NULs (``loaders.common.without_nul``): this guards documents built by other code."""
    bad = [d.doc_id for d in documents if _has_nul((d.text, d.title, d.metadata, d.structure()))]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise KBError(
            f"{shown}: text or metadata holds a NUL character (U+0000), which PostgreSQL cannot "
            "store; remove it from the file (the database index was left unchanged)"
        )


def _has_nul(value: Any) -> bool:
    """Whether a string anywhere in ``value`` (strings, lists, tuples, dict keys and values)
    holds U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


def _vacuum(url: str) -> None:
    """Refresh planner statistics and the visibility map of the rewritten tables.

    Without it, the first searches after a large write read the heap for every posting their
    index-only scans touch (measured at 100k passages: 660 ms a hybrid search, 71 ms after).
    """
    with connect(url) as con:
        con.autocommit = True
        con.execute("VACUUM (ANALYZE) kb_documents, kb_chunks, kb_windows, kb_postings")


def _insert(
    con: Any,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    texts: list[str],
    spans: np.ndarray,
    window_vectors: np.ndarray,
    keep: set[str],
) -> None:
    """Rows of the documents being (re)written: documents, chunks, postings, windows."""
    with con.cursor() as cur:
        cur.executemany(
            "INSERT INTO kb_documents (doc_id, title, source, format, text, metadata, "
            "sections, pages, content_hash, source_hash) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (d.doc_id, d.title, d.source, d.format, d.text, json.dumps(d.metadata),
                 *(json.dumps(part) for part in d.structure()), d.content_hash, d.source_hash)
                for d in documents
            ],
        )  # fmt: skip
        rows = [r for r, c in enumerate(chunks) if c.doc_id not in keep]
        tokens = {r: tokenize(texts[r]) for r in rows}
        mean = _mean_terms(con, [len(t) for t in tokens.values()])
        chunk_rows, postings = [], []
        for r in rows:
            c = chunks[r]
            n = len(tokens[r])
            chunk_rows.append(
                (c.chunk_id, c.doc_id, c.ordinal, c.start, c.end, json.dumps(list(c.pages)),
                 json.dumps(list(c.heading_path)), c.text, texts[r], n, vectors[r])
            )  # fmt: skip
            norm = BM25_K1 * (1 - BM25_B + BM25_B * n / mean)
            postings += [
                (t, c.chunk_id, tf, c.doc_id, n, tf / (tf + norm))
                for t, tf in Counter(tokens[r]).items()
            ]
        cur.executemany(
            "INSERT INTO kb_chunks VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", chunk_rows
        )
        columns = "term, chunk_id, tf, doc_id, n_terms, weight"
        with cur.copy(f"COPY kb_postings ({columns}) FROM STDIN") as copy:
            for row in postings:
                copy.write_row(row)
        wanted_rows = set(rows)
        window_rows = [
            (chunks[int(r)].chunk_id, int(a), int(b), window_vectors[w])
            for w, (r, a, b) in enumerate(spans)
            if int(r) in wanted_rows
        ]
        cur.executemany("INSERT INTO kb_windows VALUES (%s, %s, %s, %s)", window_rows)


def _mean_terms(con: Any, new_lengths: list[int]) -> float:
    """The corpus's mean passage length in tokens for posting weights: the current index's,
    or the rows being written when there is none yet (weights only order a term's postings)."""
    row = con.execute("SELECT avg_terms FROM kb_state").fetchone()
    if row is not None and row[0]:
        return float(row[0])
    return max(1.0, sum(new_lengths) / max(1, len(new_lengths)))


def read_access_overrides(url: str) -> dict[str, list[str]]:
    """{doc_id: access groups} set by `kb access` (the ``kb_access`` table)."""
    with connect(url) as con:
        rows = con.execute("SELECT doc_id, groups FROM kb_access ORDER BY doc_id").fetchall()
    return {doc_id: [str(g) for g in groups] for doc_id, groups in rows}


def write_access_overrides(url: str, overrides: dict[str, list[str]]) -> None:
    """Replace every override and bump the version replicas watch, in one transaction."""
    with connect(url) as con, con.transaction():
        con.execute("DELETE FROM kb_access")
        con.cursor().executemany(
            "INSERT INTO kb_access (doc_id, groups) VALUES (%s, %s)",
            [(doc_id, json.dumps(list(groups))) for doc_id, groups in overrides.items()],
        )
        con.execute("UPDATE kb_access_version SET version = version + 1")
