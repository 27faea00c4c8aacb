"""One writer per index directory, counted per thread: two builds in one process (two eval
runs the API serves at once) must not both write, or one deletes the other's generation."""

from __future__ import annotations

import threading
from pathlib import Path

from indexer.build import build_index, index_documents
from indexer.errors import IndexLockedError
from indexer.loaders import load_directory
from indexer.search import Searcher
from indexer.store import writer_lock


def test_another_thread_of_the_same_process_is_refused_while_one_writes(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    documents, _ = load_directory(sample_kb)
    ix = tmp_path / "ix"
    outcome: list[BaseException | str] = []

    def second_writer() -> None:
        try:
            index_documents(documents, ix, fake_embedder, max_tokens=60, min_tokens=8)
            outcome.append("wrote")
        except BaseException as exc:  # what the second writer met is what this test checks
            outcome.append(exc)

    with writer_lock(ix):  # this thread is writing
        thread = threading.Thread(target=second_writer)
        thread.start()
        thread.join(timeout=60)
    assert len(outcome) == 1 and isinstance(outcome[0], IndexLockedError)
    assert not (ix / "CURRENT").exists()  # it wrote nothing

    # Once the lock is free, a writer on another thread goes ahead.
    outcome.clear()
    thread = threading.Thread(target=second_writer)
    thread.start()
    thread.join(timeout=60)
    assert outcome == ["wrote"]
    assert Searcher(ix, fake_embedder).manifest.counts["documents"] == len(documents)


def test_the_same_thread_may_still_nest_its_own_writes(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    with writer_lock(ix):
        report = build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    assert report.documents > 0
    assert Searcher(ix, fake_embedder).manifest.counts["documents"] == report.documents
