"""Small file helpers shared by the model check, the index store, the loaders and the watcher."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def visible_files(
    root: Path,
    linked_dirs: list[Path] | None = None,
    unreadable_dirs: dict[Path, str] | None = None,
) -> list[tuple[Path, os.stat_result]]:
    """Every regular file under ``root`` with its stat, sorted by path; hidden names skipped,
    and the lock files Word and Excel write beside an open document (``~$policy.docx``: not a
    document, and under --watch opening a file in Word triggered a rebuild).

    One ``os.scandir`` walk, whose entries carry their stat: about 6x faster than
    ``rglob`` plus a ``stat`` per path (7 ms against 43 ms for 1,000 files), which matters to
    a watcher polling the tree several times a second. Like ``rglob``, it does not descend into
    symlinked directories (appended to ``linked_dirs`` when given, for a build to name them);
    a symlinked file counts with its target's stat, and a dangling link or a link loop with
    its own, so a build reports it instead of passing over it in silence. A folder that
    cannot be listed (its permissions) goes into ``unreadable_dirs`` with the reason, when
    given: its files are not gone, and a build must not drop them as if they were.
    """
    root = Path(root)
    if root.is_file():
        return [(root, root.stat())]
    found: list[tuple[str, os.stat_result]] = []
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.name.startswith((".", "~$")):  # hidden; an Office lock file
                        continue
                    try:
                        if entry.is_dir():
                            if not entry.is_symlink():
                                stack.append(entry.path)
                            elif linked_dirs is not None:
                                linked_dirs.append(Path(entry.path))
                            continue
                        st = entry.stat()
                        if stat.S_ISREG(st.st_mode):  # not a FIFO or device a read would block on
                            found.append((entry.path, st))
                    except OSError:
                        # a dangling link or a link loop: listed, so the build can report it;
                        # anything else vanished between listing and stat (the next look sees it)
                        if (link := _link_stat(entry)) is not None:
                            found.append((entry.path, link))
        except (FileNotFoundError, NotADirectoryError):  # removed mid-walk
            continue
        except OSError as exc:  # there but unreadable (permissions): the caller reports it
            if unreadable_dirs is not None:
                unreadable_dirs[Path(folder)] = exc.strerror or str(exc)
            continue
    # Path order (component by component), sorted on split strings: Path's own comparison
    # took 0.13 s of a 5,000-file re-index.
    found.sort(key=lambda item: item[0].split(os.sep))
    return [(Path(p), st) for p, st in found]


def _link_stat(entry: os.DirEntry) -> os.stat_result | None:
    """The link's own stat when ``entry`` is a symbolic link still there, else None."""
    try:
        return entry.stat(follow_symlinks=False) if entry.is_symlink() else None
    except OSError:  # the link itself vanished
        return None
