"""Access-group overrides set by `kb access`: who may see a document, changed without a re-index.

Local backend: a JSON file beside the index generations, read by every Searcher per query.
Postgres backend: the ``kb_access`` table, replaced in one transaction that also bumps
``kb_access_version``, which every replica's searcher watches. Either way they outlive
re-indexing, and the caller does not know which backend holds them.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from indexer import store
from indexer.documents import Document
from indexer.settings import Settings


def read_overrides(settings: Settings) -> dict[str, list[str]]:
    """{doc_id: access groups} as currently overridden."""
    from indexer import pgstore

    if pgstore.is_database_url(settings.database_url):
        return pgstore.read_access_overrides(settings.database_url)
    return store.read_access_overrides(settings.index_dir)[1]


def write_overrides(settings: Settings, overrides: dict[str, list[str]]) -> None:
    """Replace every override at once: readers see the old set or the new one, never a mix."""
    from indexer import pgstore

    if pgstore.is_database_url(settings.database_url):
        pgstore.write_access_overrides(settings.database_url, overrides)
        return
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    store.write_access_overrides(settings.index_dir, overrides)


def indexed_documents(settings: Settings) -> set[str] | None:
    """The document ids the current index holds, or None when there is no index yet (an
    override may then be set ahead of the first build)."""
    from indexer import pgstore
    from indexer.errors import KBError

    if pgstore.is_database_url(settings.database_url):
        import psycopg

        try:
            with pgstore.connect(settings.database_url) as con:
                return {r[0] for r in con.execute("SELECT doc_id FROM kb_documents")}
        except (psycopg.Error, KBError):  # no schema yet, or no server: nothing to check
            return None
    try:
        con = store.connect_table(store.current_generation(settings.index_dir))
    except KBError:
        return None
    try:
        return {r[0] for r in con.execute("SELECT doc_id FROM documents")}
    finally:
        con.close()


def _read_target(target: Path | str) -> dict[str, list[str]]:
    from indexer import pgstore

    if isinstance(target, str) and pgstore.is_database_url(target):
        return pgstore.read_access_overrides(target)
    return store.read_access_overrides(Path(target))[1]


def _write_target(target: Path | str, overrides: dict[str, list[str]]) -> None:
    from indexer import pgstore

    if isinstance(target, str) and pgstore.is_database_url(target):
        pgstore.write_access_overrides(target, overrides)
    else:
        store.write_access_overrides(Path(target), overrides)


def _indexed_hashes(target: Path | str) -> dict[str, str]:
    """{doc_id: content hash} of the index as it is served now (empty when there is none)."""
    from indexer import pgstore
    from indexer.errors import KBError

    try:
        if isinstance(target, str) and pgstore.is_database_url(target):
            with pgstore.connect(target) as con:
                rows = con.execute("SELECT doc_id, content_hash FROM kb_documents").fetchall()
            return dict(rows)
        con = store.connect_table(store.current_generation(Path(target)))
    except Exception:  # noqa: BLE001 - no index or schema yet: no override can be orphaned
        return {}
    try:
        return dict(con.execute("SELECT doc_id, content_hash FROM documents").fetchall())
    except (sqlite3.Error, KBError):
        return {}
    finally:
        con.close()


def follow_renames(
    target: Path | str, documents: list[Document]
) -> tuple[dict[str, str], list[str]]:
    """Before a build publishes: an override whose document is no longer there but whose
    exact content is, under one new id (a file renamed or moved), is set on the new id too,
    so the restriction follows the file. Returns ({old id: new id}, warnings for overrides
    left naming no document).

    Keyed by id alone, `mv restricted.md restricted-v2.md` made a tns-leads SOP visible to
    every agent at the next build, without a word. The old id keeps its override until the
    build is published (:func:`drop_moved`): until then agents are still served it.
    """
    overrides = _read_target(target)
    ids = {d.doc_id for d in documents}
    orphaned = [doc_id for doc_id in overrides if doc_id not in ids]
    if not orphaned:
        return {}, []
    indexed = _indexed_hashes(target)
    moved: dict[str, str] = {}
    for old in orphaned:
        same = [
            d.doc_id
            for d in documents
            if indexed.get(old) == d.content_hash
            and d.doc_id not in indexed
            and d.doc_id not in overrides
        ]
        if len(same) == 1:
            moved[old] = same[0]
    if moved:
        _write_target(target, {**overrides, **{new: overrides[old] for old, new in moved.items()}})
    warnings = [
        f"access override for {old} (groups {', '.join(overrides[old])}) names no document in "
        "this build: if the file was renamed or moved and edited, its new id is visible to every "
        f"access group; set it again with `kb access set NEW_ID --groups ...` (`kb access clear "
        f"{old}` drops the old one)"
        for old in orphaned
        if old not in moved
    ]
    return moved, warnings


def drop_moved(target: Path | str, moved: dict[str, str]) -> None:
    """After the build is published: the overrides of the old ids :func:`follow_renames`
    copied are dropped (else a later file given that id would inherit them)."""
    if not moved:
        return
    overrides = _read_target(target)
    _write_target(target, {k: v for k, v in overrides.items() if k not in moved})
