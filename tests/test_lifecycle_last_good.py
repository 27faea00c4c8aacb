"""A document whose file starts failing to read keeps its last indexed version, said loudly.

A half-synced DOCX or a one-character slip in a date took a live policy out of every answer
while `kb index` reported success (a QA pass on messy folders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.memo import RebuildMemo
from indexer.search import Searcher
from kb_cli.main import _print_build_report

OPTIONS = {"max_tokens": 60, "min_tokens": 8}
COIN = "policies/coin-refunds.md"
DOCX = "sops/seller-dispute.docx"


def _docs(ix: Path, fake_embedder) -> dict[str, dict]:
    return {d["doc_id"]: d for d in Searcher(ix, fake_embedder).list_documents()}


@pytest.mark.parametrize("watching", [False, True], ids=["one-shot", "watch"])
def test_a_file_that_stops_reading_keeps_what_agents_read_before(
    sample_kb: Path, fake_embedder, tmp_path: Path, capsys, watching: bool
) -> None:
    ix = tmp_path / "ix"
    memo = RebuildMemo() if watching else None
    build_index(sample_kb, ix, fake_embedder, memo=memo, **OPTIONS)
    before = _docs(ix, fake_embedder)
    coin = sample_kb / COIN
    coin.write_text(coin.read_text().replace("2026-03-01", "2026-13-01"), encoding="utf-8")
    (sample_kb / DOCX).write_bytes((sample_kb / DOCX).read_bytes()[:200])  # half-synced

    report = build_index(sample_kb, ix, fake_embedder, memo=memo, **OPTIONS)
    assert sorted(x.path for x in report.kept) == [COIN, DOCX]
    after = _docs(ix, fake_embedder)
    assert after[COIN]["metadata"] == before[COIN]["metadata"]
    hits = Searcher(ix, fake_embedder).search("chargebacks refunded twice", mode="bm25").results
    assert COIN in {r.doc_id for r in hits}
    _print_build_report(report)
    out = capsys.readouterr().out
    assert "Kept 2 document(s) as last indexed" in out and "2026-13-01" in out

    # Unchanged and still failing: nothing to do, and still said.
    again = build_index(sample_kb, ix, fake_embedder, memo=memo, **OPTIONS)
    assert sorted(x.path for x in again.kept) == [COIN, DOCX]
    assert set(_docs(ix, fake_embedder)) == set(after)

    # Fixed: the new text; deleted: gone, as any deleted file.
    coin.write_text(coin.read_text().replace("2026-13-01", "2026-04-01"), encoding="utf-8")
    (sample_kb / DOCX).unlink()
    fixed = build_index(sample_kb, ix, fake_embedder, memo=memo, **OPTIONS)
    assert fixed.kept == []
    docs = _docs(ix, fake_embedder)
    assert docs[COIN]["metadata"]["effective_date"] == "2026-04-01" and DOCX not in docs


def test_a_file_that_never_read_is_only_skipped(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    (sample_kb / "policies" / "new-draft.md").write_text(
        "---\ntitle: Draft\neffective_date: 2026-13-01\n---\n# Draft\n\nNothing yet.\n",
        encoding="utf-8",
    )
    report = build_index(sample_kb, tmp_path / "ix", fake_embedder, **OPTIONS)
    assert report.kept == []
    assert "policies/new-draft.md" in {x.path for x in report.skipped}
    assert "policies/new-draft.md" not in _docs(tmp_path / "ix", fake_embedder)


def test_the_database_backend_keeps_it_too(sample_kb: Path, fake_embedder, pg_database) -> None:
    from indexer.search import open_searcher
    from indexer.settings import Settings

    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    coin = sample_kb / COIN
    coin.write_text(coin.read_text().replace("2026-03-01", "2026-13-01"), encoding="utf-8")
    report = build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    assert [x.path for x in report.kept] == [COIN]
    searcher = open_searcher(pg_database, fake_embedder, Settings())
    try:
        docs = {d["doc_id"]: d for d in searcher.list_documents()}
    finally:
        searcher.close()
    assert docs[COIN]["metadata"]["effective_date"] == "2026-03-01"
