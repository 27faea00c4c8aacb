"""`kb index --watch` must see every save, including one that leaves a file's size and
modification time as they were (a tool that restores mtimes, a clock set back, a file system
whose timestamps are too coarse to tell two saves apart)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from indexer.watch import changed_paths, snapshot, watch


def _same_size_edit_keeping_mtime(path: Path, old: str, new: str) -> None:
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    assert len(old) == len(new) and old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_a_same_size_edit_that_keeps_the_mtime_is_a_change(tmp_path: Path) -> None:
    doc = tmp_path / "refunds.md"
    doc.write_text("Refunds within 14 days.\n", encoding="utf-8")
    before = snapshot(tmp_path)
    _same_size_edit_keeping_mtime(doc, "14 days", "30 days")
    assert changed_paths(before, snapshot(tmp_path)) == [str(doc)]


def test_an_atomic_save_that_keeps_size_and_mtime_is_a_change(tmp_path: Path) -> None:
    doc = tmp_path / "refunds.md"
    doc.write_text("Refunds within 14 days.\n", encoding="utf-8")
    before = snapshot(tmp_path)
    stamp = doc.stat()
    temp = tmp_path / ".refunds.md.swp"  # an editor's temp file, renamed over the original
    temp.write_text("Refunds within 30 days.\n", encoding="utf-8")
    os.utime(temp, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    os.replace(temp, doc)
    assert changed_paths(before, snapshot(tmp_path)) == [str(doc)]


@pytest.mark.parametrize("how", ["notify", "poll"])
def test_the_watcher_rebuilds_after_such_an_edit(tmp_path: Path, how: str) -> None:
    doc = tmp_path / "refunds.md"
    doc.write_text("Refunds within 14 days.\n", encoding="utf-8")
    calls: list[list[str]] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch,
        args=(tmp_path, calls.append),
        kwargs={"stop": stop, "polling": how == "poll", "interval_s": 0.05, "debounce_s": 0.1},
        daemon=True,
    )
    thread.start()
    try:
        time.sleep(0.3)  # the watch is set up on its thread
        _same_size_edit_keeping_mtime(doc, "14 days", "30 days")
        deadline = time.monotonic() + 5
        while not calls and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join(5)
    assert calls == [[str(doc)]]


def test_a_file_stopped_by_a_parse_limit_is_tried_again_by_the_watcher(
    tmp_path: Path, monkeypatch
) -> None:
    """A PDF that timed out while the machine was busy stayed skipped in a long-running
    watcher until it was edited: its failure was remembered like a broken file's."""
    import shutil

    from indexer.loaders import load_directory
    from indexer.loaders.common import ParseLimitError
    from indexer.memo import RebuildMemo
    from tests.conftest import KB_DIR

    pdf = next(KB_DIR.rglob("*.pdf"))
    shutil.copy(pdf, tmp_path / pdf.name)
    from indexer import loaders

    original = loaders.parse_isolated
    calls: list[int] = []

    def busy_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ParseLimitError("parsing took longer than 20s and was stopped")
        return original(*args, **kwargs)

    monkeypatch.setattr(loaders, "parse_isolated", busy_once)
    memo = RebuildMemo()
    memo.start_build()
    documents, skipped = load_directory(tmp_path, memo=memo)
    assert not documents and "longer than" in skipped[0].reason
    memo.start_build()
    documents, skipped = load_directory(tmp_path, memo=memo)
    assert [d.doc_id for d in documents] == [pdf.name] and not skipped


def test_the_watcher_follows_a_folder_swapped_in_under_its_name(tmp_path: Path) -> None:
    """A sync that replaces the whole folder (mv kb kb.old && mv kb.new kb) left inotify on
    the moved-away folder: later edits were never indexed, and nothing said so."""
    import shutil

    root = tmp_path / "kb"
    root.mkdir()
    (root / "refunds.md").write_text("Refunds within 14 days.\n", encoding="utf-8")
    calls: list[list[str]] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=watch,
        args=(root, calls.append),
        kwargs={"stop": stop, "interval_s": 0.05, "debounce_s": 0.1},
        daemon=True,
    )
    thread.start()

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + 8
        while len(calls) < count and time.monotonic() < deadline:
            time.sleep(0.02)

    try:
        time.sleep(0.3)
        staged = tmp_path / "kb.new"
        shutil.copytree(root, staged)
        (staged / "refunds.md").write_text("Refunds within 30 days.\n", encoding="utf-8")
        root.rename(tmp_path / "kb.old")
        staged.rename(root)
        wait_for(1)
        assert calls and str(root / "refunds.md") in calls[-1]
        time.sleep(0.3)
        (root / "payouts.md").write_text("Payouts are weekly.\n", encoding="utf-8")
        wait_for(2)
    finally:
        stop.set()
        thread.join(5)
    assert len(calls) >= 2 and calls[-1] == [str(root / "payouts.md")]
