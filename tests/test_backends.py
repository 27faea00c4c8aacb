"""Backend contract, part two: incremental updates, deletes and agreement between backends.

The searcher-level contract (citations, filters, access, context, bad input) runs on both
backends in tests/test_search.py; these cover what a re-index must do to either store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.errors import NotFoundError
from indexer.search import open_searcher
from indexer.settings import Settings

OPTIONS = {"max_tokens": 60, "min_tokens": 8}
QUERIES = [
    "escalate imminent risk guardian queue",
    "refund coins after purchase days",
    "seller dispute evidence deadline",
    "account recovery hacked email",
    "refund coins for a german user",  # searched with DE, a code the sample lists in markets
]


@pytest.fixture(params=["local", "postgres"])
def target(request, tmp_path: Path):
    if request.param == "local":
        return tmp_path / "index"
    return request.getfixturevalue("pg_database")


def test_edits_and_deletions_reach_every_part(target, sample_kb: Path, fake_embedder) -> None:
    first = build_index(sample_kb, target, fake_embedder, **OPTIONS)
    again = build_index(sample_kb, target, fake_embedder, **OPTIONS)
    assert again.unchanged and again.manifest.index_version == first.manifest.index_version
    assert str(again.index_dir) == str(first.index_dir) == str(target)  # a URL stays a URL

    md = sample_kb / "policies" / "coin-refunds.md"
    md.write_text(md.read_text() + "\nZebra parcels are refunded only on Tuesdays.\n")
    (sample_kb / "sops" / "seller-dispute.docx").unlink()
    edited = build_index(sample_kb, target, fake_embedder, **OPTIONS)
    assert edited.manifest.index_version != first.manifest.index_version
    s = open_searcher(target, fake_embedder, Settings())
    try:
        top = s.search("zebra parcels refunded tuesdays", top_k=1, mode="bm25").results[0]
        assert "Zebra parcels" in top.text and top.doc_id == "policies/coin-refunds.md"
        assert "sops/seller-dispute.docx" not in {d["doc_id"] for d in s.list_documents()}
        assert all(c["doc_id"] != "sops/seller-dispute.docx" for c in s.chunks())
        for mode in ("dense", "bm25", "hybrid"):
            hits = s.search("seller dispute evidence deadline", top_k=10, mode=mode).results
            assert all(r.doc_id != "sops/seller-dispute.docx" for r in hits)
        with pytest.raises(NotFoundError):
            s.get_document("sops/seller-dispute.docx")
        assert len(s.passage_vectors()) == len(s.chunks()) == edited.chunks
    finally:
        s.close()


def test_backends_rank_alike(sample_kb: Path, fake_embedder, tmp_path: Path, pg_database) -> None:
    """The same documents give the same passages, scores and highlights on both backends."""
    # a one-passage entry, which supports itself in the hybrid (fusion.document_support)
    (sample_kb / "coin-faq.txt").write_text("Coins bought by mistake are refunded if unused.\n")
    build_index(sample_kb, tmp_path / "index", fake_embedder, **OPTIONS)
    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    # the default, a limit on how far below the best dense score keywords may lift, and one
    # keyword weight for every question
    for settings in (
        Settings(),
        Settings(lexical_reach=0.15),
        Settings(lexical_peak_floor=1.0),
    ):
        local = open_searcher(tmp_path / "index", fake_embedder, settings)
        pg = open_searcher(pg_database, fake_embedder, settings)
        try:
            assert pg.manifest.counts["chunks"] == local.manifest.counts["chunks"]
            ranked = local.search("coins bought by mistake refunded", top_k=3).results
            assert "coin-faq.txt" in [r.doc_id for r in ranked]
            for query in [*QUERIES, "coins bought by mistake refunded"]:
                for mode in ("dense", "bm25", "hybrid"):
                    want = local.search(query, top_k=3, mode=mode)
                    got = pg.search(query, top_k=3, mode=mode)
                    assert [r.chunk_id for r in got.results] == [r.chunk_id for r in want.results]
                    assert [r.score for r in got.results] == pytest.approx(
                        [r.score for r in want.results], abs=2e-4
                    )
                    assert [r.highlight.text for r in got.results] == [
                        r.highlight.text for r in want.results
                    ]
                    assert got.answerable == want.answerable
                    assert (
                        got.markets
                        == want.markets
                        == ([("german", "DE")] if "german" in query else [])
                    )
        finally:
            local.close()
            pg.close()


def test_a_reindex_is_seen_whole_by_a_running_searcher(
    sample_kb: Path, fake_embedder, pg_database
) -> None:
    """A searcher opened before a re-index notices it and reopens onto the new version."""
    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    s = open_searcher(pg_database, fake_embedder, Settings())
    assert not s.is_stale()
    md = sample_kb / "policies" / "coin-refunds.md"
    md.write_text(md.read_text() + "\nQuokka refunds need a manager.\n")
    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    assert s.is_stale()
    fresh = s.reopen()
    assert not fresh.is_stale()
    assert "Quokka" in fresh.search("quokka refunds manager", top_k=1, mode="bm25").results[0].text
    s.close()
    fresh.close()


def test_truncated_postings_still_score_exactly(
    sample_kb: Path, fake_embedder, tmp_path: Path, pg_database, monkeypatch
) -> None:
    """With few postings read per term (as for common terms in a large index), the passages
    proposed are still scored with full BM25: the same scores as the local backend's."""
    import indexer.pgsearch as pgsearch

    build_index(sample_kb, tmp_path / "index", fake_embedder, **OPTIONS)
    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    monkeypatch.setattr(pgsearch, "POSTINGS_PER_TERM", 2)
    local = open_searcher(tmp_path / "index", fake_embedder, Settings())
    pg = open_searcher(pg_database, fake_embedder, Settings())
    try:
        for query in QUERIES:
            exact = {
                r.chunk_id: r.score for r in local.search(query, top_k=50, mode="bm25").results
            }
            got = pg.search(query, top_k=3, mode="bm25").results
            assert got and all(r.chunk_id in exact for r in got)
            assert [r.score for r in got] == pytest.approx(
                [exact[r.chunk_id] for r in got], abs=2e-4
            )
            assert got[0].chunk_id == max(exact, key=exact.get)
    finally:
        local.close()
        pg.close()


def test_an_index_tokenised_the_old_way_is_refused_then_rebuilt(
    target, sample_kb: Path, fake_embedder, monkeypatch
) -> None:
    """BM25 postings and questions must be tokenised alike: an index from before the stemmer
    changed is refused by name, and the next `kb index` re-tokenises every passage."""
    import indexer.build as build
    from indexer.errors import IndexMismatchError
    from indexer.lexical import TERMS_VERSION

    with monkeypatch.context() as old:
        old.setattr(build, "TERMS_VERSION", TERMS_VERSION - 1)
        build_index(sample_kb, target, fake_embedder, **OPTIONS)
    with pytest.raises(IndexMismatchError, match="tokenised for keyword search"):
        open_searcher(target, fake_embedder, Settings())

    again = build_index(sample_kb, target, fake_embedder, **OPTIONS)
    assert not again.unchanged and again.manifest.chunker["terms"] == TERMS_VERSION
    s = open_searcher(target, fake_embedder, Settings())
    try:  # "escalated" reaches "Escalate ..." only through the shared stem
        top = s.search("escalated", top_k=1, mode="bm25").results[0]
        assert "Escalate" in top.text
    finally:
        s.close()


def test_a_table_row_highlight_names_its_header_on_both_backends(
    target, tmp_path: Path, fake_embedder
) -> None:
    """A highlighted row of a long table split between passages came without its header
    (only `kb ask` looked for it): API clients could not tell which column is which."""
    kb = tmp_path / "kb"
    kb.mkdir()
    rows = "\n".join(
        f"| {code} | {cur} | {cur} {n * 5} |"
        for n, (code, cur) in enumerate(
            [("US", "USD"), ("GB", "GBP"), ("DE", "EUR"), ("FR", "EUR"), ("JP", "JPY"),
             ("BR", "BRL"), ("MX", "MXN"), ("IN", "INR"), ("KR", "KRW"), ("ZA", "ZAR"),
             ("MY", "MYR"), ("ID", "IDR"), ("PH", "PHP"), ("TH", "THB"), ("VN", "VND")],
            start=2,
        )
    )  # fmt: skip
    (kb / "payouts.md").write_text(
        "# Payout thresholds\n\nCreators are paid once their balance reaches the threshold "
        "of their market.\n\n| Market | Currency | Threshold |\n|---|---|---|\n" + rows + "\n",
        encoding="utf-8",
    )
    build_index(kb, target, fake_embedder, **OPTIONS)
    s = open_searcher(target, fake_embedder, Settings())
    try:
        top = s.search("VND payout threshold VN", top_k=1, mode="bm25").results[0]
        assert top.highlight.text.startswith("| VN |")
        assert "| Market |" not in top.text  # the header is in an earlier passage
        assert top.highlight.table_header == "| Market | Currency | Threshold |"
        assert top.to_dict()["highlight"]["table_header"] == top.highlight.table_header
        prose = s.search("creators are paid once their balance", top_k=1, mode="bm25").results[0]
        assert prose.highlight.table_header is None
    finally:
        s.close()


def test_backends_rank_alike_for_a_caller_who_sees_some_documents(
    sample_kb: Path, fake_embedder, tmp_path: Path, pg_database
) -> None:
    """A key restricted to some access groups got other BM25 scores, and orders, on postgres:
    its IDF came from the passages the caller may see, the local backend's from all."""
    build_index(sample_kb, tmp_path / "index", fake_embedder, **OPTIONS)
    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    local = open_searcher(tmp_path / "index", fake_embedder, Settings())
    pg = open_searcher(pg_database, fake_embedder, Settings())
    try:
        for groups in (["all-agents"], ["tns-specialists"]):
            for query in QUERIES:
                for mode in ("bm25", "hybrid"):
                    want = local.search(query, top_k=3, mode=mode, groups=groups)
                    got = pg.search(query, top_k=3, mode=mode, groups=groups)
                    assert [r.chunk_id for r in got.results] == [r.chunk_id for r in want.results]
                    assert [r.score for r in got.results] == pytest.approx(
                        [r.score for r in want.results], abs=2e-4
                    ), (groups, query, mode)
    finally:
        local.close()
        pg.close()


def test_a_database_restart_costs_no_request_and_an_outage_is_a_503(
    sample_kb: Path, fake_embedder, pg_database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the database restarted, each pooled connection failed the request it was handed
    (a 500, and a search answered but never logged); a database down was a 500, not a 503."""
    from api.app import status_for
    from indexer.errors import BackendUnavailableError
    from indexer.pgstore import ConnectionPool, connect

    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    pg = open_searcher(pg_database, fake_embedder, Settings())

    def restart() -> None:  # every other session ends, as when the server restarts
        with connect(pg_database) as con:
            con.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            con.commit()

    try:
        assert pg.search("refund coins", top_k=1).results
        restart()
        monkeypatch.setattr(ConnectionPool, "CHECK_AFTER_S", 0.0)
        assert pg.search("refund coins", top_k=1).results  # a new connection, no failure
        restart()
        monkeypatch.setattr(ConnectionPool, "CHECK_AFTER_S", 3600.0)  # used unchecked
        with pytest.raises(BackendUnavailableError) as failed:
            pg.search("refund coins", top_k=1)
        assert status_for(failed.value) == 503
        assert pg.search("refund coins", top_k=1).results  # the dead one was dropped
    finally:
        pg.close()
