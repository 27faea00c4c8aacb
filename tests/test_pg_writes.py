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
    sample_kb: Path, fake_embedder, pg_database: str
) -> None:
    """A NUL past the loader's binary sniff (the first 8 KiB) reaches the writer: PostgreSQL's
    text cannot hold it, so the build must say which file, not fail on a driver error."""
    first = build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    filler = "Coins bought as gifts follow the refund policy of the buyer. " * 200
    (sample_kb / "policies" / "long-notes.md").write_text(
        f"# Long notes\n\n{filler}\n\nA stray \x00 byte from an export tool.\n"
    )
    with pytest.raises(KBError, match=r"policies/long-notes\.md: .*NUL character"):
        build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    s = open_searcher(pg_database, fake_embedder, Settings())
    try:
        assert s.manifest.index_version == first.manifest.index_version
        assert "policies/long-notes.md" not in {d["doc_id"] for d in s.list_documents()}
        assert s.search("gift coin refund", top_k=1).results
    finally:
        s.close()
