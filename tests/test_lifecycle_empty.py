"""A knowledge base emptied (every file deleted, or every file now unreadable) is refused by
default, naming the way out: an empty mount or a failed sync looks the same as every SOP
withdrawn. Asked for (``allow_empty``), the index is emptied too: the documents it held stop
being answered, as one deleted file would."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.errors import KBError
from indexer.search import Searcher

OPTIONS = {"max_tokens": 60, "min_tokens": 8}


def _answers(ix: Path, embedder) -> set[str]:
    searcher = Searcher(ix, embedder)
    found = {d["doc_id"] for d in searcher.list_documents()}
    for mode in ("dense", "bm25", "hybrid"):
        found |= {r.doc_id for r in searcher.search("refund coins", top_k=5, mode=mode).results}
    return found


def test_deleting_every_document_empties_the_index(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    assert "policies/coin-refunds.md" in _answers(ix, fake_embedder)
    for child in sample_kb.iterdir():
        shutil.rmtree(child)

    with pytest.raises(KBError, match="no readable documents.*kb index --allow-empty"):
        build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    assert "policies/coin-refunds.md" in _answers(ix, fake_embedder)
    report = build_index(sample_kb, ix, fake_embedder, allow_empty=True, **OPTIONS)
    assert (report.documents, report.chunks) == (0, 0)
    assert _answers(ix, fake_embedder) == set()
    assert build_index(sample_kb, ix, fake_embedder, allow_empty=True, **OPTIONS).unchanged

    # Documents coming back are indexed as usual.
    (sample_kb / "back.md").write_text("# Back\n\nRefund coins within 3 days.\n", encoding="utf-8")
    build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    assert _answers(ix, fake_embedder) == {"back.md"}


def test_a_knowledge_base_whose_every_file_is_skipped_answers_nothing_stale(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    first = build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    assert first.documents > 0
    for path in sample_kb.rglob("*"):
        if path.is_file() and path.suffix in {".md", ".txt", ".html", ".pdf", ".docx"}:
            path.write_bytes(b"")  # every file truncated, say by a failed sync

    with pytest.raises(KBError, match="--allow-empty"):
        build_index(sample_kb, ix, fake_embedder, **OPTIONS)  # a failed sync: keep answering
    assert _answers(ix, fake_embedder)
    report = build_index(sample_kb, ix, fake_embedder, allow_empty=True, **OPTIONS)
    assert report.documents == 0
    assert {s.reason for s in report.skipped} == {"empty file"}
    assert _answers(ix, fake_embedder) == set()
    assert Searcher(ix, fake_embedder).manifest.counts["skipped"] == len(report.skipped)


def test_an_empty_folder_other_than_the_one_indexed_is_refused(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    first = build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    elsewhere = tmp_path / "mistyped"
    elsewhere.mkdir()
    with pytest.raises(KBError, match="no readable documents"):
        build_index(elsewhere, ix, fake_embedder, allow_empty=True, **OPTIONS)
    assert Searcher(ix, fake_embedder).manifest.index_version == first.manifest.index_version


def test_a_first_build_of_an_empty_folder_still_says_there_is_nothing(
    fake_embedder, tmp_path: Path
) -> None:
    empty = tmp_path / "kb"
    empty.mkdir()
    (empty / "blank.md").write_bytes(b"")
    with pytest.raises(KBError, match="no readable documents.*blank.md: empty file"):
        build_index(empty, tmp_path / "ix", fake_embedder, allow_empty=True, **OPTIONS)
    assert not (tmp_path / "ix" / "CURRENT").exists()
