"""`kb index --watch`: re-index when files under the knowledge base change, debounced.

The kernel's change notifications (inotify, through watchfiles) say when to look; polling
(``--poll``) works the same on network shares where they do not arrive, at the cost of one
scandir walk per interval (~7 ms per 1,000 files). Either way a burst of saves (an editor
writing a temp file, then renaming it) triggers one rebuild once the tree has been quiet for
``debounce_s``, and a snapshot of each file's stat decides what changed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from indexer.errors import KBError
from indexer.files import visible_files

logger = logging.getLogger(__name__)

Snapshot = dict[str, tuple[int, int, int, int]]


def snapshot(source: Path) -> Snapshot:
    """(mtime in ns, size, inode, ctime in ns) of every visible file under ``source``
    (metadata sidecars too).

    mtime and size alone miss a save that keeps both (a sync or copy tool restoring mtimes,
    an editor's atomic save of a temp file stamped with the old time): every write moves
    ctime, which no tool can set, and an atomic save brings a new inode.
    """
    return {
        str(path): (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
        for path, st in visible_files(source)
    }


def changed_paths(before: Snapshot, after: Snapshot) -> list[str]:
    """Paths added, removed or modified between two snapshots, sorted."""
    return sorted(p for p in before.keys() | after.keys() if before.get(p) != after.get(p))


RETRY_FIRST_S = 1.0
RETRY_MAX_S = 300.0  # a failing rebuild (disk full, index locked) is retried at least this often


def watch(
    source: Path,
    rebuild: Callable[[list[str]], None],
    *,
    interval_s: float = 0.2,
    debounce_s: float = 0.1,
    stop: threading.Event | None = None,
    initial: Snapshot | None = None,
    polling: bool = False,
    pending: list[str] | None = None,
) -> None:
    """Call ``rebuild(changed paths)`` after each quiet change to the tree, until ``stop``.

    A failing rebuild (a full disk, a read-only or locked index, a half-written file) is
    logged and tried again, sooner when the tree changes, until the tree as it stands is
    indexed; the index keeps serving its last good generation meanwhile. Any error counts: a
    watcher that exited on faiss' RuntimeError left every later edit unindexed, unnoticed.
    ``initial`` is the tree as the caller last indexed it (taken before that build), so an
    edit made while the first build ran is not mistaken for the starting state; ``pending``
    says that build failed, so the tree is rebuilt (and retried) before waiting for changes.
    ``polling`` walks the tree every ``interval_s`` instead of waiting for the kernel's
    notifications (network shares).
    """
    stop = stop or threading.Event()
    current = snapshot(source) if initial is None else initial
    if pending is not None:
        current = _until_indexed(source, rebuild, pending, current, interval_s, stop)
    quiet = _polled if polling else _notified
    for latest in quiet(source, current, interval_s, debounce_s, stop):
        changes = changed_paths(current, latest)
        current = _until_indexed(source, rebuild, changes, latest, interval_s, stop)


def _until_indexed(
    source: Path,
    rebuild: Callable[[list[str]], None],
    changes: list[str],
    current: Snapshot,
    interval_s: float,
    stop: threading.Event,
) -> Snapshot:
    """Rebuild until it succeeds (or ``stop``); returns the tree as last rebuilt. Between
    tries it waits, doubling from RETRY_FIRST_S to RETRY_MAX_S, but goes again as soon as the
    tree changes (the fix is often an edit: a file restored, a folder filled)."""
    delay = RETRY_FIRST_S
    while True:
        try:
            rebuild(changes)
            return current
        except Exception as exc:  # noqa: BLE001 - logged; any failure must not end the watch
            detail = str(exc) if isinstance(exc, KBError) else f"{type(exc).__name__}: {exc}"
            logger.error(
                "re-index after %d change(s) failed: %s (trying again within %.0f s)",
                len(changes), detail, delay,
            )  # fmt: skip
        deadline = time.monotonic() + delay
        delay = min(delay * 2, RETRY_MAX_S)
        while not stop.wait(min(max(interval_s, 0.05), max(deadline - time.monotonic(), 0))):
            latest = snapshot(source)
            if latest != current:
                changes = sorted(set(changes) | set(changed_paths(current, latest)))
                current = latest
                break
            if time.monotonic() >= deadline:
                break
        if stop.is_set():
            return current


def _notified(
    source: Path, current: Snapshot, interval_s: float, debounce_s: float, stop: threading.Event
) -> Iterator[Snapshot]:
    """Snapshots that differ from the last one yielded, each once the kernel's change events
    have been quiet for ``debounce_s`` (inotify through watchfiles: no polling cost, and a
    save is seen at once rather than up to a polling interval later).

    Events say only that something happened; the snapshot decides what changed, so hidden
    files and changes undone within the quiet period trigger nothing. The kernel watches a
    folder, not its name: a sync that swaps the whole folder (``mv kb kb.old && mv kb.new
    kb``) left every later edit unseen, so the folder's identity is checked on each event and
    every half second, and the new folder is watched. When the kernel refuses (the inotify
    watch limit of a huge tree, say), it falls back to polling.
    """
    import watchfiles

    latest = snapshot(source)
    if latest != current:  # changed while the caller's first build ran
        current = latest
        yield latest
    while not stop.is_set():
        root = _identity(source)
        while root is None and not stop.wait(max(interval_s, 0.05)):  # mid-swap: no folder
            root = _identity(source)
        if stop.is_set():
            return
        events = watchfiles.watch(
            source,
            *_linked_from(source),
            watch_filter=None,
            step=max(1, round(debounce_s * 1000)),  # quiet this long after the last event
            debounce=max(1600, round(debounce_s * 8000)),  # but never hold a change longer
            stop_event=stop,
            rust_timeout=500,  # so ``stop`` and a replaced folder are noticed within 0.5 s
            yield_on_timeout=True,
            raise_interrupt=True,  # Ctrl-C or SIGTERM: "Stopped watching.", not its warning
        )
        replaced = False
        try:
            for batch in events:
                replaced = _identity(source) != root
                if not batch and not replaced:
                    continue  # a timeout: nothing happened
                if replaced:
                    logger.warning(
                        "%s was replaced by another folder: watching the new one", source
                    )
                latest = snapshot(source)
                if latest != current:
                    current = latest
                    yield latest
                if replaced:
                    break
        except (OSError, RuntimeError) as exc:  # watchfiles' own errors derive from these
            if stop.is_set():
                return
            logger.warning("change events unavailable (%s): polling %s instead", exc, source)
            yield from _polled(source, current, interval_s, debounce_s, stop)
            return
        finally:
            events.close()
        if not replaced:
            return  # stopped


def _identity(source: Path) -> tuple[int, int] | None:
    """(device, inode) of the folder at ``source`` now; None while there is none."""
    try:
        st = os.stat(source)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _linked_from(source: Path) -> list[Path]:
    """Folders outside ``source`` holding the targets of its file links: the kernel reports
    an edit where the file is, so an edit to a linked FAQ kept elsewhere went unseen (polling
    saw it, by the target's stat). Links made later are watched from the next start."""
    root = Path(source).resolve()
    folders = set()
    for path, _stat in visible_files(source):
        if path.is_symlink():
            try:
                target = path.resolve(strict=True)
            except OSError:  # dangling or looping: reported by the build
                continue
            if not target.is_relative_to(root):
                folders.add(target.parent)
    return sorted(folders)


def _polled(
    source: Path, current: Snapshot, interval_s: float, debounce_s: float, stop: threading.Event
) -> Iterator[Snapshot]:
    """Snapshots that differ from the last one yielded, polled every ``interval_s`` and each
    taken once the tree has been quiet for ``debounce_s`` (checked in quarter steps, so the
    quiet period ends close to ``debounce_s`` after the last save)."""
    while not stop.wait(interval_s):
        latest = snapshot(source)
        if latest == current:
            continue
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < debounce_s and not stop.is_set():
            stop.wait(min(interval_s, debounce_s / 4))
            newer = snapshot(source)
            if newer != latest:
                latest, quiet_since = newer, time.monotonic()
        current = latest
        yield latest
