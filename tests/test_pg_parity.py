"""The postgres backend gives the same answers as the local files where they could drift
apart: tie-breaking between identical passages, and documents whose files moved."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.search import open_searcher
from indexer.settings import Settings

OPTIONS = {"max_tokens": 60, "min_tokens": 8}
COIN = Path("policies") / "coin-refunds.md"
DUPLICATE = """---
title: Duty manager escalation
---
# Duty manager escalation

Escalate wombat disputes to the duty manager within one hour.
"""


@contextmanager
def both_backends(kb: Path, embedder, tmp_path: Path, database: str) -> Iterator[tuple]:
    """``kb`` indexed into local files and into postgres: (local searcher, postgres searcher)."""
    build_index(kb, tmp_path / "local", embedder, **OPTIONS)
    build_index(kb, database, embedder, **OPTIONS)
    local = open_searcher(tmp_path / "local", embedder, Settings())
    pg = open_searcher(database, embedder, Settings())
    try:
        yield local, pg
    finally:
        local.close()
        pg.close()


def test_identical_passages_rank_in_the_same_order_on_both_backends(
    sample_kb: Path, fake_embedder, tmp_path: Path, pg_database: str
) -> None:
    """The same SOP copied into two folders scores exactly alike: which copy an agent sees
    first must not depend on the backend ('policies-old/' sorts before 'policies/' as a
    string, after it as a path)."""
    (sample_kb / "policies-old").mkdir()
    (sample_kb / "policies-old" / "escalation.md").write_text(DUPLICATE)
    (sample_kb / "policies" / "escalation.md").write_text(DUPLICATE)
    with both_backends(sample_kb, fake_embedder, tmp_path, pg_database) as (local, pg):
        for mode in ("dense", "bm25", "hybrid"):
            want = local.search("wombat disputes duty manager", top_k=2, mode=mode).results
            got = pg.search("wombat disputes duty manager", top_k=2, mode=mode).results
            assert want[0].score == want[1].score  # a tie, broken by position
            assert [r.doc_id for r in got] == [r.doc_id for r in want]
            assert [r.score for r in got] == [r.score for r in want]
        assert [c["chunk_id"] for c in pg.chunks()] == [c["chunk_id"] for c in local.chunks()]
        assert pg.passage_vectors() == pytest.approx(local.passage_vectors(), abs=1e-6)
        assert pg.list_documents() == local.list_documents()


def test_a_moved_knowledge_base_updates_every_source_path(
    sample_kb: Path, fake_embedder, tmp_path: Path, pg_database: str
) -> None:
    """Re-indexing the same files from a new folder (a new checkout, a moved share) must point
    every document at the files that exist now: the API serves the original file from there."""
    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    moved = tmp_path / "moved-kb"
    shutil.copytree(sample_kb, moved)
    shutil.rmtree(sample_kb)
    build_index(moved, pg_database, fake_embedder, **OPTIONS)
    build_index(moved, tmp_path / "local", fake_embedder, **OPTIONS)
    pg = open_searcher(pg_database, fake_embedder, Settings())
    local = open_searcher(tmp_path / "local", fake_embedder, Settings())
    try:
        listed = pg.list_documents()
        assert listed == local.list_documents()
        for doc in listed:
            assert Path(doc["source"]).is_file() and moved in Path(doc["source"]).parents
            assert pg.get_document(doc["doc_id"])["source"] == doc["source"]
        top = pg.search("chargebacks refunded twice", top_k=1).results[0]
        assert top.source == str(moved / COIN)
    finally:
        pg.close()
        local.close()


MARKET_NOTES = """---
title: Wombat refund windows
---
# Wombat refund windows

Notes on markets. MY and ID: the wombat refund window is 7 days.
EU/EEA (including DE and FR): users have 14 days to withdraw. KR: unused wombat coins only.

Kind regards,
{{agent_name}}
Wombat Support
"""


def test_both_backends_highlight_the_same_sentence(
    sample_kb: Path, fake_embedder, tmp_path: Path, pg_database: str
) -> None:
    """The highlighter weighs the question's words by how rare they are in the index: the
    local files and postgres count them from different stores, and must still mark the same
    sentence, the one naming the market the agent typed."""
    (sample_kb / "policies" / "wombat.md").write_text(MARKET_NOTES)
    with both_backends(sample_kb, fake_embedder, tmp_path, pg_database) as (local, pg):
        for query in ("wombat refund window in DE", "wombat refund window", "wombat support"):
            for mode in ("dense", "hybrid"):
                want = local.search(query, top_k=3, mode=mode).results
                got = pg.search(query, top_k=3, mode=mode).results
                assert [r.highlight for r in got] == [r.highlight for r in want], (query, mode)
        first = local.search("wombat refund window in DE", top_k=1).results[0]
        assert first.highlight.text.startswith("EU/EEA (including DE and FR)")
        shown = [r.highlight.text for r in local.search("wombat support", top_k=3).results]
        assert "Wombat Support" not in shown
