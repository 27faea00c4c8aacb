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

Target = Path | str  # an index folder, or a PostgreSQL URL


def _target(settings: Settings) -> Target:
    return settings.database_url if _in_database(settings.database_url) else settings.index_dir


def _in_database(target: Target) -> bool:
    from indexer import pgstore

    return isinstance(target, str) and pgstore.is_database_url(target)


def read_overrides(settings: Settings) -> dict[str, list[str]]:
    """{doc_id: access groups} as currently overridden."""
    return _read(_target(settings))


def write_overrides(settings: Settings, overrides: dict[str, list[str]]) -> None:
    """Replace every override at once: readers see the old set or the new one, never a mix."""
    _write(_target(settings), overrides)


def indexed_documents(settings: Settings) -> set[str] | None:
    """The document ids the current index holds, or None when there is no index yet (an
    override may then be set ahead of the first build)."""
    hashes = _indexed_hashes(_target(settings))
    return None if hashes is None else set(hashes)


def _read(target: Target) -> dict[str, list[str]]:
    from indexer import pgstore

    if _in_database(target):
        return pgstore.read_access_overrides(str(target))
    return store.read_access_overrides(Path(target))[1]


def _write(target: Target, overrides: dict[str, list[str]]) -> None:
    from indexer import pgstore

    if _in_database(target):
        pgstore.write_access_overrides(str(target), overrides)
        return
    Path(target).mkdir(parents=True, exist_ok=True)
    store.write_access_overrides(Path(target), overrides)


def _indexed_hashes(target: Target) -> dict[str, str] | None:
    """{doc_id: content hash} of the index as it is served now; None when there is none."""
    from indexer import pgstore
    from indexer.errors import IndexNotFoundError, KBError

    if _in_database(target):
        import psycopg

        try:
            with pgstore.connect(str(target)) as con:
                return dict(con.execute("SELECT doc_id, content_hash FROM kb_documents").fetchall())
        except (psycopg.errors.UndefinedTable, IndexNotFoundError):  # no schema yet
            return None
        # A role without SELECT on kb_documents, or no server, is said as such (one line);
        # read as "no index" it sent the manager to --index-dir and --force.
    try:
        con = store.connect_table(store.current_generation(Path(target)))
    except KBError:
        return None
    try:
        return dict(con.execute("SELECT doc_id, content_hash FROM documents").fetchall())
    except sqlite3.Error:
        return None
    finally:
        con.close()


def follow_renames(target: Target, documents: list[Document]) -> tuple[dict[str, str], list[str]]:
    """Before a build publishes: an override whose document is no longer there but whose
    exact content is, under one new id (a file renamed or moved), is set on the new id too,
    so the restriction follows the file. Returns ({old id: new id}, warnings for overrides
    left naming no document).

    Keyed by id alone, `mv restricted.md restricted-v2.md` made a tns-leads SOP visible to
    every agent at the next build, without a word. The old id keeps its override until the
    build is published (:func:`drop_moved`): until then agents are still served it.
    """
    overrides = _read(target)
    ids = {d.doc_id for d in documents}
    orphaned = [doc_id for doc_id in overrides if doc_id not in ids]
    if not orphaned:
        return {}, []
    indexed = _indexed_hashes(target) or {}
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
        _write(target, {**overrides, **{new: overrides[old] for old, new in moved.items()}})
    warnings = [
        f"access override for {old} (groups {', '.join(overrides[old])}) names no document in "
        "this build: if the file was renamed or moved and edited, its new id is visible to every "
        f"access group; set it again with `kb access set NEW_ID --groups ...` (`kb access clear "
        f"{old}` drops the old one)"
        for old in orphaned
        if old not in moved
    ]
    return moved, warnings


def drop_moved(target: Target, moved: dict[str, str]) -> None:
    """After the build is published: the overrides of the old ids :func:`follow_renames`
    copied are dropped (else a later file given that id would inherit them)."""
    if not moved:
        return
    _write(target, {k: v for k, v in _read(target).items() if k not in moved})
