"""A postgres searcher that stays open across a re-index (an API replica between two polls, or
one that never reopens) answers from the new data as soon as it is committed: citations,
titles, filters and the document list all come from the same snapshot as the passages."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.search import open_searcher
from indexer.settings import Settings

OPTIONS = {"max_tokens": 60, "min_tokens": 8}
COIN = Path("policies") / "coin-refunds.md"
RESTRUCTURED_BODY = """# Coin Refund Policy

This policy explains when coins can be refunded.

## Scope

It covers coin purchases made in the app on any platform, including gifts bought for others.

## Chargeback handling

Chargebacks are never refunded twice.

## Refund windows

Users in Germany may withdraw from a coin purchase within 14 days. Users elsewhere have 7 days.
"""


def _restructure(kb: Path) -> None:
    """Move the chargeback sentence under a new heading, after a new section: new spans and
    new heading paths for the same evidence."""
    path = kb / COIN
    front = path.read_text().split("---\n")[1]
    path.write_text(f"---\n{front}---\n{RESTRUCTURED_BODY}")


def _cited(response) -> list[tuple]:
    return [
        (r.chunk_id, r.title, tuple(r.heading_path), r.page, r.highlight.start,
         r.highlight.end, r.metadata.get("version"), r.metadata.get("markets"))
        for r in response.results
    ]  # fmt: skip


@pytest.fixture
def opened_then_reindexed(sample_kb: Path, fake_embedder, pg_database: str):
    """A searcher opened on the first index, then the knowledge base edited and re-indexed."""
    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    stale = open_searcher(pg_database, fake_embedder, Settings())
    yield stale, sample_kb
    stale.close()


def _fresh_after(stale, sample_kb: Path, fake_embedder, pg_database: str):
    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    return open_searcher(pg_database, fake_embedder, Settings())


def test_citations_follow_a_restructured_document_at_once(
    opened_then_reindexed, fake_embedder, pg_database: str
) -> None:
    stale, kb = opened_then_reindexed
    before = stale.search("chargebacks refunded twice", top_k=1, mode="bm25").results[0]
    assert before.heading_path == ["Coin Refund Policy", "Exceptions"]
    _restructure(kb)
    fresh = _fresh_after(stale, kb, fake_embedder, pg_database)
    try:
        for mode in ("bm25", "hybrid", "dense"):
            got = stale.search("chargebacks refunded twice", top_k=3, mode=mode)
            want = fresh.search("chargebacks refunded twice", top_k=3, mode=mode)
            assert got.index_version == want.index_version
            assert _cited(got) == _cited(want)
        top = stale.search("chargebacks refunded twice", top_k=1, mode="bm25").results[0]
        assert top.heading_path == ["Coin Refund Policy", "Chargeback handling"]
        text = stale.get_document(top.doc_id)["text"]
        assert text[top.highlight.start : top.highlight.end] == top.highlight.text
    finally:
        fresh.close()


def test_filters_and_titles_see_new_and_edited_documents_at_once(
    opened_then_reindexed, fake_embedder, pg_database: str
) -> None:
    stale, kb = opened_then_reindexed
    coin = kb / COIN
    # A renamed document (new doc_id) whose markets and title changed as well.
    renamed = kb / "policies" / "coin-refunds-2026.md"
    renamed.write_text(
        coin.read_text()
        .replace("markets: [DE, FR]", "markets: [JP]")
        .replace("title: Coin Refund Policy", "title: Coin Refund Policy 2026")
    )
    coin.unlink()
    fresh = _fresh_after(stale, kb, fake_embedder, pg_database)
    try:
        query = "chargebacks refunded twice"
        for filters in ({"markets": ["JP"]}, {"doc_id": ["policies/coin-refunds-2026.md"]},
                        {"markets": ["DE"]}, None):  # fmt: skip
            got = stale.search(query, top_k=3, mode="hybrid", filters=filters)
            want = fresh.search(query, top_k=3, mode="hybrid", filters=filters)
            assert _cited(got) == _cited(want), filters
            assert (got.answerable, got.reason) == (want.answerable, want.reason)
        top = stale.search(query, top_k=1, filters={"markets": ["JP"]}).results[0]
        assert top.doc_id == "policies/coin-refunds-2026.md"
        assert top.title == "Coin Refund Policy 2026" and top.source.endswith("2026.md")
        listed = {d["doc_id"] for d in stale.list_documents()}
        assert listed == {d["doc_id"] for d in fresh.list_documents()}
        assert "policies/coin-refunds.md" not in listed
    finally:
        fresh.close()


def test_health_names_the_access_version_a_client_may_cache_by(
    sample_kb: Path, fake_embedder, pg_database: str, tmp_path: Path
) -> None:
    """/health's access_version changes with `kb access` on both backends, so the UI asks
    again for what its key may see (it showed a restricted document's conflicts for an hour)."""
    from indexer import pgstore, store

    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    build_index(sample_kb, tmp_path / "ix", fake_embedder, **OPTIONS)
    local = open_searcher(tmp_path / "ix", fake_embedder, Settings())
    remote = open_searcher(pg_database, fake_embedder, Settings())
    try:
        before = (local.health()["access_version"], remote.health()["access_version"])
        assert before == (local.health()["access_version"], remote.health()["access_version"])
        change = {str(COIN): ["tns-specialists"]}
        store.write_access_overrides(tmp_path / "ix", change)
        pgstore.write_access_overrides(pg_database, change)
        after = (local.health()["access_version"], remote.health()["access_version"])
        assert after[0] != before[0] and after[1] != before[1]
    finally:
        local.close()
        remote.close()


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_documents_name_a_restricted_version_only_as_such(
    sample_kb: Path, fake_embedder, tmp_path: Path, request, backend: str
) -> None:
    """GET /documents showed `superseded_by: policies/coin-refunds.md` to a key that may not
    see that version (GET /documents/{id} then said it does not exist): its id leaked."""
    from indexer import pgstore, store
    from indexer.search import OUTSIDE_ACCESS
    from tests.fixture_files import write_superseded_coin_policy

    write_superseded_coin_policy(sample_kb)
    target = request.getfixturevalue("pg_database") if backend == "postgres" else tmp_path / "ix"
    build_index(sample_kb, target, fake_embedder, **OPTIONS)
    restrict = {str(COIN): ["tns-specialists"]}
    if backend == "postgres":
        pgstore.write_access_overrides(target, restrict)
    else:
        store.write_access_overrides(target, restrict)
    searcher = open_searcher(target, fake_embedder, Settings())
    try:
        agent = {d["doc_id"]: d for d in searcher.list_documents(["all-agents"])}
        old = "policies/coin-refunds-old.md"
        assert str(COIN) not in agent
        assert agent[old]["metadata"]["superseded_by"] == f"a version {OUTSIDE_ACCESS}"
        one = searcher.get_document(old, ["all-agents"])
        assert one["metadata"]["superseded_by"] == f"a version {OUTSIDE_ACCESS}"
        everyone = {d["doc_id"]: d for d in searcher.list_documents(None)}
        assert everyone[old]["metadata"]["superseded_by"] == str(COIN)
        specialist = searcher.get_document(old, ["tns-specialists", "all-agents"])
        assert specialist["metadata"]["superseded_by"] == str(COIN)
    finally:
        searcher.close()
