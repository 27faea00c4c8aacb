"""One loader per format behind a dispatch table; ``load_directory`` walks a knowledge base.

A file that cannot be read is reported with its reason and skipped; the batch goes on.
"""

from __future__ import annotations

import dataclasses
import errno
import functools
import hashlib
import importlib
import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from indexer.documents import Document
from indexer.errors import DocumentLoadError
from indexer.files import visible_files
from indexer.loaders import docx, html, markdown, metadata, pdf, text
from indexer.loaders.common import (
    NUL,
    Parsed,
    ParseError,
    ParseLimitError,
    is_own_name,
    sections_from_headings,
    without_nul,
)
from indexer.loaders.isolation import ParseLimits, parse_isolated
from indexer.memo import RebuildMemo
from indexer.stat_cache import StatCache

logger = logging.getLogger(__name__)

PARSERS: dict[str, Callable[[bytes], Parsed]] = {
    ".md": markdown.parse,
    ".markdown": markdown.parse,
    ".txt": text.parse,
    ".html": html.parse,
    ".htm": html.parse,
    ".docx": docx.parse,
    ".pdf": pdf.parse,
}
MAX_FILE_BYTES = 50 * 1024 * 1024
# Binary formats whose parsers decompress untrusted data run in an isolated child process.
ISOLATED = frozenset({".pdf", ".docx"})
# Their libraries are imported here before the first fork, so each child starts with them
# loaded instead of importing them itself: on kb/'s PDF and DOCX files, 110-138 ms a file
# against 245-275 ms (bench/PROFILE.md).
PRELOAD = {".pdf": "pypdf", ".docx": "docx"}


@dataclass(frozen=True)
class Skipped:
    """A file left out of the index, and why (shown in `kb index`'s summary)."""

    path: str
    reason: str
    source_hash: str = ""  # source_hash(): a failed file is not parsed again until it changes


# On a log record the build summary lists anyway (a skipped file): not repeated with warnings.
LISTED = {"in_summary": True}


def doc_id_for(path: Path, root: Path) -> str:
    """The document id: its path relative to the knowledge-base root, with '/' separators."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def iter_source_files(root: Path, listed: list[Path] | None = None) -> Iterator[Path]:
    """Files under ``root`` with a supported extension, in a stable order; hidden ones skipped.
    ``listed``: the tree's visible files, when the caller has walked it already."""
    if root.is_file():
        yield root
        return
    for path in [p for p, _stat in visible_files(root)] if listed is None else listed:
        if path.suffix.lower() in PARSERS:
            yield path


@dataclass(frozen=True)
class Source:
    """A file's bytes and its sidecar's, read once: what is hashed is what is parsed, so a save
    landing between the two cannot pair one version's hash with another's text."""

    data: bytes | None  # None: the file is missing (a broken symbolic link)
    size: int  # len(data); over MAX_FILE_BYTES the bytes are not read (data is b"")
    sidecar: bytes | None  # None: it has no sidecar


def read_source(path: Path) -> Source:
    """Read ``path`` and its sidecar; OSError if either exists but cannot be read."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read() if size <= MAX_FILE_BYTES else b""  # refused by size alone
            size = len(data) if size <= MAX_FILE_BYTES else size  # what was read, if it moved
    except FileNotFoundError:
        data, size = None, -1
    try:
        sidecar: bytes | None = metadata.sidecar_path(path).read_bytes()
    except (FileNotFoundError, IsADirectoryError):
        sidecar = None  # a directory of that name is not a sidecar
    return Source(data, size, sidecar)


def load_file(
    path: Path,
    root: Path | None = None,
    limits: ParseLimits | None = None,
    source: Source | None = None,
) -> Document:
    """Load one file into a Document, or raise DocumentLoadError with the reason.

    ``source`` is the file as already read (and hashed) by the caller; else it is read here.
    """
    root = root if root is not None else path.parent
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        raise DocumentLoadError(str(path), f"unsupported file type {path.suffix or '(none)'}")
    try:
        source = source if source is not None else read_source(path)
        if source.data is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
        if source.size == 0:
            raise ParseError("empty file")
        if source.size > MAX_FILE_BYTES:
            raise ParseError(f"file too large ({source.size} bytes > {MAX_FILE_BYTES})")
        if path.suffix.lower() in ISOLATED:
            importlib.import_module(PRELOAD[path.suffix.lower()])
            parsed = parse_isolated(parser, source.data, limits or ParseLimits(), str(path))
        else:
            parsed = parser(source.data)
        if not parsed.text.replace(NUL, "").strip():
            raise ParseError("no text content")
        side_name = metadata.sidecar_path(path).name
        side = {} if source.sidecar is None else metadata.sidecar_fields(source.sidecar, side_name)
        meta = metadata.normalise({**parsed.metadata, **side})
        for name, own, theirs in metadata.overridden(parsed.metadata, side):
            logger.warning(
                "%s: %s is %r in the file and %r in %s; the sidecar's is used",
                path, name, own, theirs, side_name,
            )  # fmt: skip
        _check_own_links(meta, doc_id_for(path, root))
        for field_name in metadata.unknown_fields(meta):
            logger.warning("%s: unknown metadata field %s", path, field_name)
        for problem in metadata.timed_dates({**parsed.metadata, **side}):
            logger.warning("%s: %s", path, problem)
    except ParseError as exc:
        raise DocumentLoadError(str(path), without_nul(str(exc))) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DocumentLoadError(
                str(path), "symbolic link loop (the link leads back to itself)"
            ) from exc
        if path.is_symlink() and not path.exists():
            raise DocumentLoadError(
                str(path), "broken symbolic link (its target is missing)"
            ) from exc
        raise DocumentLoadError(str(path), f"cannot read file: {exc.strerror or exc}") from exc
    title = str(meta.pop("title", "") or _own_title(parsed, path) or _name_title(path))
    # every loader's output passes here: NUL-free, both backends store the same document
    return Document(
        doc_id=doc_id_for(path, root),
        title=without_nul(title),
        text=without_nul(parsed.text),
        source=str(path.absolute()),  # the API opens it, whatever its working directory
        format=path.suffix.lower().lstrip("."),
        sections=[
            dataclasses.replace(s, path=without_nul(s.path), anchor=without_nul(s.anchor))
            for s in sections_from_headings(parsed.text, parsed.headings)
        ],
        pages=parsed.pages,
        metadata=without_nul(meta),
    )


def _check_own_links(meta: dict, doc_id: str) -> None:
    """Refuse a version link to the document itself: the in-force rule would retire it in
    favour of itself, and the document would be indexed but never shown."""
    for name in ("supersedes", "superseded_by"):
        if meta.get(name) == doc_id:
            raise ParseError(f"{name} names the document itself ({doc_id})")


def _name_title(path: Path) -> str:
    """The title of a document that names none: its file name, 'refund-sop' -> 'Refund Sop'."""
    return path.stem.replace("-", " ").title()


def _own_title(parsed: Parsed, path: Path) -> str:
    """The parsed title, unless it is only the file's own name ('refund-sop' in refund-sop.pdf),
    which PDF and DOCX tools write when the author set no title: then the parser's fallback
    (a DOCX's Title paragraph), else "" (the file-name fallback reads better)."""
    if path.suffix.lower() in (".pdf", ".docx") and is_own_name(parsed.title, path.stem):
        return parsed.fallback_title
    return parsed.title


def load_directory(
    root: Path,
    on_file: Callable[[Path], None] | None = None,
    limits: ParseLimits | None = None,
    *,
    paths: list[Path] | None = None,
    memo: RebuildMemo | None = None,
    previous: Mapping[str, Document | str] | None = None,
    stats: StatCache | None = None,
) -> tuple[list[Document], list[Skipped]]:
    """Load every supported file under ``root``; unreadable ones are returned as Skipped.

    ``paths`` saves a second walk when the caller already listed them. With a ``memo`` (a
    watching indexer), a file whose stat and sidecar's stat are unchanged since the previous
    build is not read or parsed again, the same test the watcher uses to notice a change.
    ``previous`` (the current generation's documents and skip reasons by :func:`source_hash`)
    saves a one-shot ``kb index`` the parse of every file whose bytes did not change: parsing
    a PDF or DOCX takes 0.1-0.5 s here, hashing it well under a millisecond. ``stats`` saves
    even the hashing of files whose stat it has seen before.
    """
    documents: list[Document] = []
    skipped: list[Skipped] = []
    base = root if root.is_dir() else root.parent
    limits = limits or ParseLimits()
    known = previous or {}
    salt = loader_stamp() + repr(limits).encode()  # once, not per file
    for path in iter_source_files(root) if paths is None else paths:
        doc_id = doc_id_for(path, base)
        if not _encodable(doc_id):
            # an id with undecodable bytes could be neither stored nor cited: say which file
            shown = doc_id.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            logger.warning("skipped %s: file name is not valid UTF-8", shown)
            skipped.append(Skipped(shown, "file name is not valid UTF-8; rename the file", ""))
            if on_file is not None:
                on_file(path)
            continue
        memo_key = None if memo is None else _load_key(path, base, limits)
        key, loaded = (
            _load(path, base, doc_id, limits, salt, known, stats)
            if memo is None
            else memo.get(memo_key, lambda p=path, d=doc_id: _load(p, base, d, limits, salt, known))
        )
        if memo is not None and isinstance(loaded, DocumentLoadError) and not key:
            memo.forget(memo_key)  # stopped by a limit (a busy machine): tried at the next build
        if isinstance(loaded, DocumentLoadError):
            # a file that failed before and did not change is in the report, not news
            again = isinstance(known.get(key), str) if key else False
            logger.log(logging.DEBUG if again else logging.WARNING,
                       "skipped %s: %s", loaded.path, loaded.reason,
                       extra=LISTED)  # fmt: skip
            skipped.append(Skipped(doc_id, loaded.reason, key))
        else:
            documents.append(loaded)
        if on_file is not None:
            on_file(path)
    return documents, skipped


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _stamp(path: Path) -> tuple[int, int, int, int] | None:
    """What tells one version of a file from the next without reading it, as the watcher's
    snapshot does: mtime and size alone miss a save that keeps both (``cp -p``, ``rsync -t``,
    an atomic save whose temporary file carries the old mtime); such a save brings a new inode
    or moves ctime, which no tool can set back."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns


def _load_key(path: Path, base: Path, limits: ParseLimits) -> tuple:
    """What a loaded file depends on: its stat, its sidecar's, the root and the parse limits."""
    return ("load", str(path), str(base), _stamp(path), _stamp(metadata.sidecar_path(path)), limits)


@functools.cache
def loader_stamp() -> bytes:
    """A digest of the code that turns bytes into Documents: these modules' source and the
    parser libraries' versions. A new release or a fixed loader makes every file parse again."""
    h = hashlib.sha256()
    for module in sorted(Path(__file__).parent.glob("*.py")):
        h.update(module.name.encode() + b"\0" + module.read_bytes())
    h.update(Path(__file__).parents[1].joinpath("documents.py").read_bytes())
    for package in ("pypdf", "python-docx", "PyYAML"):
        try:
            h.update(f"{package}={importlib.metadata.version(package)}".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{package}=none".encode())
    return h.digest()


def source_hash(path: Path, doc_id: str, salt: bytes, keep: list[Source] | None = None) -> str:
    """sha256 of everything a file's Document (or its skip reason) is made from: its bytes,
    its sidecar's, where it lies, and ``salt`` (:func:`loader_stamp` and the parse limits).
    "" if the file cannot be read. ``keep`` receives what was read, for the caller to parse
    exactly what was hashed."""
    try:
        source = read_source(path)
    except OSError:
        return ""
    if keep is not None:
        keep.append(source)
    return _hash_source(source, path, doc_id, salt)


def _hash_source(source: Source, path: Path, doc_id: str, salt: bytes) -> str:
    """:func:`source_hash` of the bytes as read. The path as the Document stores it
    (absolute): "kb/a.md" typed in the project and the default folder's "/srv/kb/a.md" are
    one file, and hashing it as typed rebuilt the whole index when `kb index` followed
    `kb index kb`."""
    h = hashlib.sha256(salt)
    h.update(f"{path.absolute()}\0{doc_id}\0".encode("utf-8", "surrogateescape"))
    too_large = f"too large:{source.size}".encode()
    for data in (too_large if source.size > MAX_FILE_BYTES else source.data, source.sidecar):
        if data is None:
            h.update(b"\x00absent")
        else:
            h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()


def _load(
    path: Path,
    base: Path,
    doc_id: str,
    limits: ParseLimits,
    salt: bytes,
    previous: Mapping[str, Document | str],
    stats: StatCache | None = None,
) -> tuple[str, Document | DocumentLoadError]:
    """The file's source hash and its document, or why it could not be read: a file that
    failed stays failed (and is not parsed again) until it changes.

    The file is read once, and that read is both hashed and parsed. ``stats`` may know the
    hash without a read; a file that must be parsed is read and hashed again all the same.
    """
    read: list[Source] = []

    def hash_read() -> str:
        return source_hash(path, doc_id, salt, read)  # "" unreadable: load_file reports why

    if stats is None:
        key = hash_read()
    else:
        side = metadata.sidecar_path(path)
        try:
            key = stats.source_hash(path, doc_id, salt, side, hash_read)
        except OSError:  # a stat it cannot take (a link loop): load_file says why
            key = hash_read()
    found = previous.get(key) if key else None
    if found is None and key and not read:  # known by its stat, but not as it is now: read it
        key = hash_read()
        found = previous.get(key) if key else None
    if isinstance(found, Document):
        return key, found
    if isinstance(found, str):
        return key, DocumentLoadError(str(path), found)
    try:
        document = load_file(path, base, limits, source=read[0] if read else None)
        return key, dataclasses.replace(document, source_hash=key)
    except DocumentLoadError as exc:
        # stopped by a limit: not remembered as failed, so the next run tries it again
        return ("" if isinstance(exc.__cause__, ParseLimitError) else key), exc


__all__ = [
    "PARSERS",
    "ParseLimits",
    "Skipped",
    "Source",
    "doc_id_for",
    "iter_source_files",
    "load_directory",
    "load_file",
    "loader_stamp",
    "read_source",
    "source_hash",
]
