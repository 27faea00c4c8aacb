"""Indexing one file or subfolder of the knowledge base into its index is refused: it would
publish an index of that part alone (under other ids, relative to its own folder), and every
agent would lose the rest at the next search. ``replace`` makes the part the whole knowledge
base on purpose."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from indexer.build import build_index, dropped_from_elsewhere
from indexer.documents import Document
from indexer.errors import KBError
from indexer.search import Searcher

OPTIONS = {"max_tokens": 60, "min_tokens": 8}


def _ids(ix: Path, embedder) -> set[str]:
    return {d["doc_id"] for d in Searcher(ix, embedder).list_documents()}


@pytest.mark.parametrize("part", ["policies", "policies/coin-refunds.md"])
def test_a_part_of_the_indexed_folder_is_refused_and_the_index_kept(
    sample_kb: Path, fake_embedder, tmp_path: Path, part: str
) -> None:
    ix = tmp_path / "ix"
    first = build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    everything = _ids(ix, fake_embedder)
    assert len(everything) > 2 and "policies/coin-refunds.md" in everything

    with pytest.raises(KBError, match=rf"would remove \d+ of the index's {len(everything)} "
                       rf"documents.*index the folder the index was built from \({sample_kb}\)"
                       r".*--replace"):  # fmt: skip
        build_index(sample_kb / part, ix, fake_embedder, **OPTIONS)
    assert Searcher(ix, fake_embedder).manifest.index_version == first.manifest.index_version
    assert _ids(ix, fake_embedder) == everything

    build_index(sample_kb / part, ix, fake_embedder, replace=True, **OPTIONS)
    assert _ids(ix, fake_embedder) and _ids(ix, fake_embedder).isdisjoint(everything)


def test_deleted_files_and_a_moved_knowledge_base_are_not_refused(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    everything = _ids(ix, fake_embedder)
    (sample_kb / "policies" / "coin-refunds.md").unlink()  # an edit: the file is withdrawn
    build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    assert _ids(ix, fake_embedder) == everything - {"policies/coin-refunds.md"}

    moved = tmp_path / "moved-kb"
    shutil.move(sample_kb, moved)  # the same documents under the same ids, elsewhere
    build_index(moved, ix, fake_embedder, **OPTIONS)
    assert _ids(ix, fake_embedder) == everything - {"policies/coin-refunds.md"}


def _doc(doc_id: str, source: str) -> Document:
    return Document(doc_id=doc_id, title=doc_id, source=source, format="md", text="x")


def test_only_documents_from_outside_the_source_that_the_build_drops_count(
    tmp_path: Path,
) -> None:
    root = tmp_path / "kb"
    indexed = [
        _doc("a.md", str(root / "a.md")),
        _doc("sub/b.md", str(root / "sub" / "b.md")),
        _doc("sub/c.md", str(root / "sub" / "c.md")),
    ]
    new = [_doc("b.md", str(root / "sub" / "b.md"))]
    # Indexing kb/sub: a.md lies outside it; sub/b.md and sub/c.md lie inside (c was deleted).
    assert [d.doc_id for d in dropped_from_elsewhere(root / "sub", new, indexed)] == ["a.md"]
    assert dropped_from_elsewhere(root, [_doc("a.md", str(root / "a.md"))], indexed) == []
    assert dropped_from_elsewhere(tmp_path / "other", indexed, indexed) == []
