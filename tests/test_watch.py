"""`kb index --watch`: change detection, debouncing and survival of a failing rebuild."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from indexer.errors import KBError
from indexer.watch import changed_paths, snapshot, watch


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@pytest.fixture(params=["notify", "poll"])
def how(request) -> str:
    """Every watcher test runs on the kernel's change events and on polling."""
    return request.param


@contextmanager
def _watching(root: Path, rebuild, how: str = "poll", **kwargs) -> Iterator[None]:
    """``watch`` in a background thread for the duration of the block."""
    stop = threading.Event()
    thread = threading.Thread(
        target=watch,
        args=(root, rebuild),
        kwargs={**kwargs, "stop": stop, "polling": how == "poll"},
        daemon=True,
    )
    thread.start()
    if how == "notify":
        time.sleep(0.3)  # the kernel watch is set up on the thread: let it start
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_snapshot_sees_edits_additions_removals_and_sidecars(tmp_path: Path) -> None:
    (tmp_path / "a.md").write_text("one")
    (tmp_path / "b.md").write_text("two")
    (tmp_path / ".hidden.md").write_text("ignored")
    before = snapshot(tmp_path)
    assert sorted(Path(p).name for p in before) == ["a.md", "b.md"]
    (tmp_path / "a.md").write_text("one, longer")
    (tmp_path / "b.md").unlink()
    (tmp_path / "c.md").write_text("three")
    (tmp_path / "c.md.meta.yaml").write_text("markets: [gb]\n")
    after = snapshot(tmp_path)
    names = [Path(p).name for p in changed_paths(before, after)]
    assert names == ["a.md", "b.md", "c.md", "c.md.meta.yaml"]
    assert changed_paths(after, snapshot(tmp_path)) == []


def test_a_burst_of_saves_triggers_one_rebuild(tmp_path: Path, how: str) -> None:
    doc = tmp_path / "policy.md"
    doc.write_text("v0")
    calls: list[list[str]] = []
    with _watching(tmp_path, calls.append, how, interval_s=0.02, debounce_s=0.3):
        time.sleep(0.1)
        for i in range(4):  # an editor saving repeatedly, faster than the debounce
            doc.write_text(f"v{i + 1}" * (i + 1))
            time.sleep(0.05)
        assert _wait_for(lambda: len(calls) >= 1)
        time.sleep(0.5)
        assert len(calls) == 1
        assert calls[0] == [str(doc)]
        doc.unlink()
        assert _wait_for(lambda: len(calls) == 2)
        assert calls[1] == [str(doc)]


def test_a_failing_rebuild_is_retried_on_the_next_change(tmp_path: Path, how: str) -> None:
    doc = tmp_path / "policy.md"
    doc.write_text("v0")
    attempts: list[int] = []

    def rebuild(_changes: list[str]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise KBError("half-written file")

    with _watching(tmp_path, rebuild, how, interval_s=0.02, debounce_s=0.05):
        time.sleep(0.1)
        doc.write_text("v1")
        assert _wait_for(lambda: len(attempts) == 1)
        doc.write_text("v2, complete")
        assert _wait_for(lambda: len(attempts) == 2)


@pytest.mark.parametrize(
    "error", [RuntimeError("faiss::write_index: No space left on device"), OSError(30, "ro")]
)
def test_a_rebuild_failing_with_any_error_is_retried_without_a_change(
    tmp_path: Path, how: str, error: Exception, monkeypatch
) -> None:
    """A full disk (faiss' RuntimeError) or a read-only index (OSError) ended the watcher for
    good, and a failed rebuild waited for another edit: the edit that failed was lost."""
    monkeypatch.setattr("indexer.watch.RETRY_FIRST_S", 0.1)
    doc = tmp_path / "policy.md"
    doc.write_text("v0")
    attempts: list[list[str]] = []

    def rebuild(changes: list[str]) -> None:
        attempts.append(changes)
        if len(attempts) < 3:
            raise error

    with _watching(tmp_path, rebuild, how, interval_s=0.02, debounce_s=0.05):
        time.sleep(0.1)
        doc.write_text("v1")
        assert _wait_for(lambda: len(attempts) == 3)  # the disk was freed: no edit needed
        time.sleep(0.3)
        assert len(attempts) == 3  # and once it succeeded, no more tries
    assert attempts == [[str(doc)]] * 3


def test_a_failed_first_build_is_retried_before_any_change(tmp_path: Path, how: str) -> None:
    """`kb index --watch` whose first build failed (the index locked by another writer) went
    on to wait for an edit; it now builds as soon as it can."""
    (tmp_path / "policy.md").write_text("v0")
    calls: list[list[str]] = []
    with _watching(tmp_path, calls.append, how, interval_s=0.02, debounce_s=0.05, pending=[]):
        assert _wait_for(lambda: len(calls) == 1)
    assert calls == [[]]


def test_an_edit_made_during_the_first_build_is_not_missed(tmp_path: Path, how: str) -> None:
    doc = tmp_path / "policy.md"
    doc.write_text("v0")
    before = snapshot(tmp_path)  # taken before the first build, as `kb index --watch` does
    doc.write_text("v1, saved while the first build ran")
    calls: list[list[str]] = []
    with _watching(tmp_path, calls.append, how, interval_s=0.02, debounce_s=0.05, initial=before):
        assert _wait_for(lambda: len(calls) == 1)
        assert calls[0] == [str(doc)]


def test_new_folders_are_watched_and_hidden_files_ignored(tmp_path: Path, how: str) -> None:
    (tmp_path / "policy.md").write_text("v0")
    calls: list[list[str]] = []
    with _watching(tmp_path, calls.append, how, interval_s=0.02, debounce_s=0.05):
        (tmp_path / ".policy.md.swp").write_text("an editor's swap file")
        time.sleep(0.5)
        assert calls == []  # only a hidden file changed
        (tmp_path / "sops" / "new").mkdir(parents=True)
        time.sleep(0.2)  # the new folder is watched once created
        (tmp_path / "sops" / "new" / "escalation.md").write_text("# Escalation\n")
        assert _wait_for(lambda: len(calls) == 1)
        assert calls[0] == [str(tmp_path / "sops" / "new" / "escalation.md")]


def test_without_change_events_the_watcher_falls_back_to_polling(
    tmp_path: Path, monkeypatch
) -> None:
    import watchfiles

    def refused(*_args, **_kwargs):
        raise OSError("OS file watch limit reached")
        yield  # a generator, like the real one

    monkeypatch.setattr(watchfiles, "watch", refused)
    doc = tmp_path / "policy.md"
    doc.write_text("v0")
    calls: list[list[str]] = []
    with _watching(tmp_path, calls.append, "notify", interval_s=0.02, debounce_s=0.05):
        doc.write_text("v1, seen by polling")
        assert _wait_for(lambda: len(calls) == 1)
        assert calls[0] == [str(doc)]


def test_an_edit_to_a_linked_file_kept_elsewhere_is_seen(tmp_path: Path, how: str) -> None:
    """The kernel reports an edit where the file is: a FAQ linked into the knowledge base from
    another folder was edited, and the watcher (on change events) never rebuilt."""
    kb, elsewhere = tmp_path / "kb", tmp_path / "shared"
    kb.mkdir()
    elsewhere.mkdir()
    target = elsewhere / "faq.md"
    target.write_text("v0")
    (kb / "faq.md").symlink_to(target)
    calls: list[list[str]] = []
    with _watching(kb, calls.append, how, interval_s=0.02, debounce_s=0.05):
        time.sleep(0.1)
        target.write_text("v1, edited where it lives")
        assert _wait_for(lambda: len(calls) == 1)
    assert calls == [[str(kb / "faq.md")]]
