"""Access-group overrides set by `kb access`: who may see a document, changed without a re-index.

Local backend: a JSON file beside the index generations, read by every Searcher per query.
Postgres backend: the ``kb_access`` table, replaced in one transaction that also bumps
``kb_access_version``, which every replica's searcher watches. Either way they outlive
re-indexing, and the caller does not know which backend holds them.
"""

from __future__ import annotations

from indexer import store
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
