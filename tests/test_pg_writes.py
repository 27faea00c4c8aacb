"""What the postgres backend's writer does with input the local files take but PostgreSQL
cannot store."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.errors import KBError
from indexer.search import open_searcher
from indexer.settings import Settings

OPTIONS = {"max_tokens": 60, "min_tokens": 8}


def test_a_nul_character_is_refused_by_name_and_leaves_the_index_as_it_was(
    sample_kb: Path, fake_embedder, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loaders replace NULs, but a document built by other code can still carry one to the
    writer (here in its text, and in a heading path): PostgreSQL's text and JSONB cannot hold
    it, so the build must say which document, not fail on a driver error."""
    import dataclasses

    from indexer import build
    from indexer.documents import Section

    first = build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    real_load = build.load_directory

    for poisoned in ("text", "heading"):

        def load_with_nul(*args, _kind=poisoned, **kwargs):
            documents, skipped = real_load(*args, **kwargs)
            doc = next(d for d in documents if d.doc_id == "policies/coin-refunds.md")
            if _kind == "text":
                changed = dataclasses.replace(doc, text=doc.text + "A stray \x00 byte.")
            else:
                changed = dataclasses.replace(
                    doc, sections=[Section(("Coins\x00",), 0, len(doc.text))]
                )
            return [changed if d is doc else d for d in documents], skipped

        monkeypatch.setattr(build, "load_directory", load_with_nul)
        with pytest.raises(KBError, match=r"policies/coin-refunds\.md: .*NUL character"):
            build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    s = open_searcher(pg_database, fake_embedder, Settings())
    try:
        assert s.manifest.index_version == first.manifest.index_version
        assert s.search("gift coin refund", top_k=1).results
    finally:
        s.close()


def test_a_role_without_privileges_gets_one_line_naming_them(
    sample_kb: Path, fake_embedder, pg_server: str, pg_database: str
) -> None:
    """`kb index` as a role that does not own the tables crashed with a psycopg traceback."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    from indexer import pgstore

    role = f"reader_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_database, autocommit=True) as con:
        con.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'pw'")
        grant = "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public"
        con.execute(f"{grant} TO {role}")
    parts = urlsplit(pg_database)
    host = parts.hostname or ""
    netloc = f"{role}:pw@{host}" + (f":{parts.port}" if parts.port else "")
    limited = urlunsplit(parts._replace(netloc=netloc))
    with pytest.raises(KBError, match=r"the database refused: .*docs/postgres\.md"):
        build_index(sample_kb, limited, fake_embedder, **OPTIONS)
    fresh = f"kb_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {fresh}")
    with pytest.raises(KBError, match=r"the database refused"):
        pgstore.migrate(urlunsplit(urlsplit(limited)._replace(path=f"/{fresh}")))


def test_migrations_run_at_once_on_a_fresh_database_all_succeed(pg_server: str) -> None:
    """Two operators (or two deploy hooks) running `kb db migrate` on a new database: each
    succeeds and every migration is applied once (one used to fail on PostgreSQL's catalog)."""
    import threading
    import uuid

    import psycopg

    from indexer import pgstore
    from tests.conftest import _with_database

    for _ in range(3):
        name = f"kb_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(pg_server, autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name}")
        url = _with_database(pg_server, name)
        applied: list[list[str]] = []
        errors: list[BaseException] = []

        def run(
            url: str = url,
            applied: list[list[str]] = applied,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                applied.append(pgstore.migrate(url))
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        files = sorted(p.name for p in pgstore.MIGRATIONS.glob("*.sql"))
        assert sorted(n for names in applied for n in names) == files
        with psycopg.connect(url) as con:
            rows = con.execute("SELECT name FROM kb_schema_migrations ORDER BY name").fetchall()
        assert [r[0] for r in rows] == files
