"""The index directory: FAISS vectors + SQLite chunk table + BM25 + windows + manifest. No pickle.

Layout: ``INDEX_DIR/CURRENT`` names the live generation ``INDEX_DIR/gen-<version>/``. A build
writes a new generation beside it, syncs it and swaps the pointer, so readers never see a
half-written index and a running API can move to the new one between requests.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.ann import ANN_FILE, build_ivf, write_faiss, write_ivf
from indexer.documents import Chunk, Document
from indexer.errors import (
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    KBError,
)
from indexer.files import sha256_file
from indexer.lexical import (
    TERM_FILES,
    TERMS_VERSION,
    ChunkTerms,
    bm25_from_terms,
    chunk_terms,
    read_terms,
    save_bm25,
    save_terms,
)
from indexer.memo import RebuildMemo
from indexer.quantise import Int8Rows, quantise

logger = logging.getLogger(__name__)

# 2: BM25 index added; 3: sentence windows; 4: embedded text kept; 5: int8 window vectors;
# 6: the acronyms the documents define, in the manifest
FORMAT_VERSION = 6
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
TABLE = "chunks.sqlite"
WINDOW_SPANS = "window_spans.npy"  # rows of (chunk row, start, end in the document text)
WINDOW_VECTORS = "window_codes.npy"  # int8 codes, one row per window (indexer/quantise.py)
WINDOW_SCALES = "window_scales.npy"  # float32, the scale of each row's codes
CURRENT = "CURRENT"  # pointer file: the name of the generation readers should use
GEN_PREFIX = "gen-"
TMP_PREFIX = ".tmp-"
LOCK = ".lock"

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    source TEXT NOT NULL,
    format TEXT NOT NULL,
    text TEXT NOT NULL,
    metadata TEXT NOT NULL,
    sections TEXT NOT NULL,
    pages TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    source_hash TEXT NOT NULL DEFAULT ''
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    ordinal INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    pages TEXT NOT NULL,
    heading_path TEXT NOT NULL,
    text TEXT NOT NULL,
    embed_text TEXT NOT NULL
);
CREATE INDEX chunks_doc ON chunks(doc_id);
CREATE TABLE skipped (
    path TEXT NOT NULL, reason TEXT NOT NULL, source_hash TEXT NOT NULL DEFAULT ''
);
"""


@dataclass
class Manifest:
    """What an index was built from; checked before an index is used."""

    index_version: str
    model: str
    model_fingerprint: str
    dimension: int
    chunker: dict[str, Any]
    counts: dict[str, int]
    build_seconds: float
    created_at: str
    format_version: int = FORMAT_VERSION
    sources: dict[str, str] = field(default_factory=dict)  # doc_id -> content hash
    files: dict[str, str] = field(default_factory=dict)  # file -> sha256, checked before loading
    # Short forms the documents define: {short: [long form, any_case]} (indexer/acronyms.py)
    # as a caller who sees every document reads them; None: not known yet (a database written
    # before migration 005).
    acronyms: dict[str, list] | None = None
    # Which documents define each short form, as ``acronyms.acronym_sources`` gives them:
    # searches spell out only what the caller's documents define. None: written before they
    # were kept (no expansion until the next `kb index`, which then rewrites the index).
    acronym_sources: dict[str, dict[str, list]] | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def warm_up() -> None:
    """Import what writing a generation needs (faiss, bm25s and scipy: about half a second),
    so a watching indexer's first rebuild after an edit is as quick as the later ones."""
    import bm25s  # noqa: F401
    import faiss  # noqa: F401


def write_index(
    index_dir: Path,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    skipped: list[tuple[str, str, str]],
    *,
    lexical_texts: list[str],
    windows: tuple[np.ndarray, np.ndarray],
    model: str,
    model_fingerprint: str,
    chunker: dict[str, Any],
    build_seconds: float,
    acronyms: dict[str, list] | None = None,
    acronym_sources: dict[str, dict[str, list]] | None = None,
    ann_min_chunks: int = 0,
    memo: RebuildMemo | None = None,
    previous: PreviousVectors | None = None,
) -> Manifest:
    """Write a complete index to ``index_dir``, replacing any previous one at once.

    With ``ann_min_chunks`` set and at least that many chunks, an IVF index is written too;
    the BM25 terms of passages the ``previous`` generation indexed are taken from it, and
    ``memo`` keeps the others for the next build of a watching indexer.
    """
    import faiss

    if not len(chunks) == len(vectors) == len(lexical_texts):
        raise ValueError(
            f"{len(chunks)} chunks, {len(vectors)} vectors, {len(lexical_texts)} texts"
        )
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(index_dir)
    tmp = index_dir / f"{TMP_PREFIX}{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        dimension = int(vectors.shape[1]) if vectors.ndim == 2 and len(vectors) else 0
        flat = faiss.IndexFlatIP(dimension or 1)
        if len(vectors):
            flat.add(np.ascontiguousarray(vectors, dtype=np.float32))
        write_faiss(flat, tmp / VECTORS)
        if ann_min_chunks and len(vectors) >= ann_min_chunks:
            write_ivf(build_ivf(vectors, _previous_file(index_dir, ANN_FILE)), tmp / ANN_FILE)
        _write_table(tmp / TABLE, documents, chunks, lexical_texts, skipped)
        old = None if previous is None else previous.terms
        known = None if previous is None or old is None else previous.lexical_terms
        terms = chunk_terms(lexical_texts, memo, known, None if old is None else old.vocab)
        save_bm25(bm25_from_terms(terms), tmp)
        save_terms(terms, tmp)
        spans, window_vectors = windows
        np.save(
            tmp / WINDOW_SPANS, np.asarray(spans, dtype=np.int64).reshape(-1, 3), allow_pickle=False
        )
        window_vectors = np.asarray(window_vectors, dtype=np.float32)
        if window_vectors.ndim != 2:  # no windows at all
            window_vectors = window_vectors.reshape(0, dimension)
        codes, scales = quantise(window_vectors)
        np.save(tmp / WINDOW_VECTORS, codes, allow_pickle=False)
        np.save(tmp / WINDOW_SCALES, scales, allow_pickle=False)
        created = dt.datetime.now(dt.UTC)
        manifest = Manifest(
            # Microseconds first, so generation names sort by time.
            index_version=created.strftime("%Y%m%dT%H%M%S%fZ") + "-" + uuid.uuid4().hex[:6],
            model=model,
            model_fingerprint=model_fingerprint,
            dimension=dimension,
            chunker=chunker,
            counts={
                "documents": len(documents),
                "chunks": len(chunks),
                "windows": len(windows[0]),
                "skipped": len(skipped),
            },
            build_seconds=round(build_seconds, 3),
            created_at=created.isoformat(timespec="seconds"),
            sources={d.doc_id: d.content_hash for d in documents},
            files=_checksums(tmp),
            acronyms=acronyms or {},
            acronym_sources=acronym_sources or {},
        )
        (tmp / MANIFEST).write_text(json.dumps(manifest.__dict__, indent=2), encoding="utf-8")
        _publish(tmp, index_dir, manifest.index_version)
        _remember_written(index_dir / f"{GEN_PREFIX}{manifest.index_version}", manifest.files)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.filename:
            raise
        # A write that fails mid-file (a full disk, a quota) names no file: "kb: No space left
        # on device" did not say which disk. The index folder is the one to free or move.
        raise OSError(exc.errno, exc.strerror or str(exc), str(index_dir)) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _previous_file(index_dir: Path, name: str) -> Path | None:
    """A file of the current generation, if there is one (a rebuild may reuse it)."""
    try:
        return current_generation(index_dir) / name
    except IndexNotFoundError:
        return None


def _write_table(
    path: Path,
    documents: list[Document],
    chunks: list[Chunk],
    texts: list[str],
    skipped: list[tuple[str, str, str]],
) -> None:
    con = sqlite3.connect(path)
    try:
        con.executescript(_SCHEMA)
        con.executemany(
            "INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    d.doc_id,
                    d.title,
                    d.source,
                    d.format,
                    d.text,
                    json.dumps(d.metadata),
                    *(json.dumps(part) for part in d.structure()),
                    d.content_hash,
                    d.source_hash,
                )
                for d in documents
            ],
        )
        con.executemany(
            "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?)",
            [
                (
                    row,
                    c.chunk_id,
                    c.doc_id,
                    c.ordinal,
                    c.start,
                    c.end,
                    json.dumps(list(c.pages)),
                    json.dumps(list(c.heading_path)),
                    c.text,
                    text,
                )
                for row, (c, text) in enumerate(zip(chunks, texts, strict=True))
            ],
        )
        con.executemany("INSERT INTO skipped VALUES (?,?,?)", skipped)
        con.commit()
    finally:
        con.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _publish(tmp: Path, index_dir: Path, version: str) -> None:
    """Make a fully written generation current with one atomic rename of the pointer.

    Files are synced first, so a crash leaves either the old pointer or the new one, each
    naming a complete generation. Older generations are pruned; a reader that still holds
    one keeps its open files and in-memory copies until it lets go.
    """
    for path in tmp.rglob("*"):
        if path.is_file():
            _fsync(path)
    generation = index_dir / f"{GEN_PREFIX}{version}"
    try:
        served = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        served = ""
    os.replace(tmp, generation)
    pointer_tmp = index_dir / f"{TMP_PREFIX}{CURRENT}"
    pointer_tmp.write_text(generation.name, encoding="utf-8")
    _fsync(pointer_tmp)
    os.replace(pointer_tmp, index_dir / CURRENT)
    _fsync(index_dir)
    # Keep the generation served until now: the fallback if the new one is ever found
    # corrupt. Any other goes, including one a build killed between its rename and the
    # pointer's left unpublished: kept as "the newest", it became the fallback, and a
    # damaged current generation then served text that was never published.
    keep = _fallback(index_dir, served)
    for old in previous_generations(index_dir):
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def _fallback(index_dir: Path, served: str) -> str:
    """The generation to keep beside a new one: the one served until now, unless it fails its
    checksums; then the newest intact one before it, which readers were falling back to (a
    rebuild that heals a damaged index deleted that one and kept the damaged one, leaving no
    intact fallback behind the new generation)."""
    if not served or _intact(index_dir, index_dir / served):
        return served
    for older in previous_generations(index_dir):
        if older.name < served and _intact(index_dir, older):
            return older.name
    return served


def _intact(index_dir: Path, generation: Path) -> bool:
    """Whether ``generation`` passes its checksums (a file a build already hashed is not
    hashed again)."""
    return not _problem(index_dir, generation)


def _remove_leftovers(index_dir: Path) -> None:
    """Half-written generations of an earlier build that died before publishing."""
    for leftover in index_dir.glob(f"{TMP_PREFIX}*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)


def previous_generations(index_dir: Path) -> list[Path]:
    """Generations other than the current one, newest first."""
    index_dir = Path(index_dir)
    try:
        current = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
    except OSError:
        current = ""
    others = [p for p in index_dir.glob(f"{GEN_PREFIX}*") if p.name != current and p.is_dir()]
    return sorted(others, key=lambda p: p.name, reverse=True)


def _checksums(generation: Path) -> dict[str, str]:
    return {
        p.relative_to(generation).as_posix(): sha256_file(p)
        for p in sorted(generation.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def verify_generation(generation: Path, manifest: Manifest) -> None:
    """Refuse a generation whose files are missing, truncated or altered (before any load)."""
    _verify_files(generation, manifest, list(manifest.files))


def damage(index_dir: Path) -> str:
    """Why the current generation would be refused by a reader ("" when it is intact): a build
    must not call such an index up to date, or the API serves the previous generation for
    good (checked as the rebuild's own readers do, so one build hashes a file once)."""
    try:
        generation = current_generation(index_dir)
    except KBError as exc:
        return str(exc)
    return _problem(index_dir, generation)


def _problem(index_dir: Path, generation: Path) -> str:
    """Why ``generation`` fails its checksums or its manifest cannot be read ("" if neither)."""
    try:
        manifest = read_manifest(index_dir, generation)
        _verify_files(generation, manifest, list(manifest.files), for_reuse=True)
    except KBError as exc:
        return str(exc)
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


# Files a rebuild already checked, by path, inode, size and mtime: the readers that reuse the
# current generation (its documents, then its vectors) hash its chunk table once per build,
# not once each (0.3-0.55 s at 100k passages). Generations are written once and never
# edited, so a later build of the same process meets a new generation and hashes it anew.
_CHECKED: dict[tuple[str, int, int, int], str] = {}


def _verify_files(
    generation: Path, manifest: Manifest, names: list[str], for_reuse: bool = False
) -> None:
    """Refuse ``names`` of a generation unless each is present with its recorded checksum.

    ``for_reuse``: a file this process checked unchanged since is not hashed again (the API
    opening a generation always hashes).
    """
    if not manifest.files:
        raise IndexCorruptError(f"{generation.name} has no checksums: rebuild it with `kb index`")
    for name in names:
        expected = manifest.files.get(name)
        if expected is None:
            raise IndexCorruptError(f"{generation.name}: {name} has no checksum")
        path = generation / name
        if not path.is_file():
            raise IndexCorruptError(f"{generation.name}: {name} is missing")
        st = path.stat()
        key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
        if for_reuse and _CHECKED.get(key) == expected:
            continue
        try:
            digest = sha256_file(path)
        except OSError as exc:  # refused like a damaged file (the API then serves an older
            # generation, or says why not); it crashed the API's start-up with a traceback
            raise IndexCorruptError(
                f"{generation.name}: {name} cannot be read ({exc.strerror or exc}): the user "
                "running kb needs read access to the index"
            ) from exc
        if digest != expected:
            raise IndexCorruptError(f"{generation.name}: {name} fails its checksum")
        if for_reuse:
            _note_checked(key, expected)


def _note_checked(key: tuple[str, int, int, int], digest: str) -> None:
    if len(_CHECKED) >= 64:
        _CHECKED.pop(next(iter(_CHECKED)))  # the oldest: a long-running watcher
    _CHECKED[key] = digest


def _remember_written(generation: Path, files: dict[str, str]) -> None:
    """The files of a generation this process has just written and hashed: the next build's
    checks of its current generation (a watcher's, every edit) need not hash them again."""
    for name, digest in files.items():
        path = generation / name
        try:
            st = path.stat()
        except OSError:
            continue
        _note_checked((str(path), st.st_ino, st.st_size, st.st_mtime_ns), digest)


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer per index directory; a second one fails at once with who holds the lock."""
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    # Re-entrant within one thread only (build_index -> index_documents): another thread of
    # this process (two eval runs in the API) must take the file lock like any other writer,
    # or its build would delete this one's half-written generation as a leftover.
    key = (str(index_dir.resolve()), threading.get_ident())
    if key in _HELD:
        yield
        return
    fh = open(index_dir / LOCK, "a+")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            raise IndexLockedError(
                f"another indexer (pid {holder}) is writing to {index_dir}; wait for it to "
                "finish or stop it"
            ) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        _HELD.add(key)
        try:
            yield
        finally:
            _HELD.discard(key)
            fcntl.flock(fh, fcntl.LOCK_UN)
    finally:
        fh.close()


_HELD: set[tuple[str, int]] = set()


def current_generation(index_dir: Path) -> Path:
    """The directory of the generation the pointer names; IndexNotFoundError if none."""
    index_dir = Path(index_dir)
    try:
        name = (index_dir / CURRENT).read_text(encoding="utf-8").strip()
        if name:
            (index_dir / name / MANIFEST).stat()
    except (FileNotFoundError, NotADirectoryError):
        name = ""
    except OSError as exc:  # there, but this user may not read it: not "build one"
        raise IndexNotFoundError(
            f"cannot read the index at {index_dir} ({exc.strerror or exc}: {exc.filename}): "
            "the user running kb needs read access to it (a build under another user or "
            "umask?)"
        ) from exc
    if not name or not (index_dir / name / MANIFEST).is_file():
        raise IndexNotFoundError(
            f"no index at {index_dir}: build one with `kb index` (or set KB_INDEX_DIR)"
        )
    return index_dir / name


def read_manifest(index_dir: Path, generation: Path | None = None) -> Manifest:
    """The manifest of a generation (default: the current one at ``index_dir``)."""
    path = (generation or current_generation(index_dir)) / MANIFEST
    try:
        manifest = Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:  # truncated, not JSON, fields missing: the file
        # that holds the others' checksums has none of its own. Refused like a damaged file
        # (an older generation is served, `kb index` writes a new one), not a traceback.
        raise IndexCorruptError(
            f"{path.parent.name}: {MANIFEST} cannot be read ({type(exc).__name__}: {exc})"
        ) from exc
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} has format {manifest.format_version}, this version reads "
            f"{FORMAT_VERSION}: rebuild it with `kb index`"
        )
    return manifest


def check_terms(manifest: Manifest, where: Path | str) -> None:
    """Refuse an index whose BM25 postings were tokenised another way than questions are now:
    its keyword matches would quietly miss words the new tokeniser stems differently."""
    built = manifest.chunker.get("terms", 1)
    if built != TERMS_VERSION:
        raise IndexMismatchError(
            f"the index in {where} was tokenised for keyword search by version {built}, this "
            f"version tokenises questions with {TERMS_VERSION}: rebuild it with `kb index`"
        )


def _backend_of(fingerprint: str) -> tuple[str, str]:
    """(the source model's fingerprint, the backend that embedded with it): the int8 export
    appends '+onnx-int8.N', torch nothing."""
    source, _, export = fingerprint.partition("+")
    return source, export.rsplit(".", 1)[0] if export else "torch"


def check_model(manifest: Manifest, model: str, fingerprint: str, where: Path | str) -> None:
    """Refuse an index whose vectors came from another model than the one configured."""
    if manifest.model_fingerprint != fingerprint:
        built, now = _backend_of(manifest.model_fingerprint), _backend_of(fingerprint)
        if manifest.model == model and built[0] == now[0] and built[1] != now[1]:
            raise IndexMismatchError(  # the same model, another backend
                f"the index in {where} was built with the {built[1]} embedding backend, but "
                f"KB_EMBED_BACKEND is {now[1]}: set KB_EMBED_BACKEND={built[1]}, or rebuild "
                "the index with `kb index`"
            )
        raise IndexMismatchError(
            f"the index in {where} was built with model {manifest.model!r} "
            f"({manifest.model_fingerprint}), but the configured model is {model!r} "
            f"({fingerprint}): rebuild the index with `kb index` or configure that model"
        )


def previous_chunks(
    index_dir: Path, fingerprint: str, chunker: dict[str, Any]
) -> dict[str, tuple[str, list[tuple[Chunk, str]]]]:
    """Chunks of the current generation by document: {doc_id: (content hash, [(chunk, text)])}.

    Only when it was chunked the same way with the same tokenizer, so a rebuild can reuse the
    chunks of unchanged documents instead of cutting them again (chunking counts tokens, the
    slowest part of a one-document re-index). Empty when there is nothing safe to reuse.
    """
    try:
        manifest = read_manifest(index_dir)
        generation = current_generation(index_dir)
    except KBError:
        return {}
    if manifest.model_fingerprint != fingerprint or manifest.chunker != chunker:
        return {}
    out: dict[str, tuple[str, list[tuple[Chunk, str]]]] = {}
    con = connect_table(generation)
    try:
        hashes = dict(con.execute("SELECT doc_id, content_hash FROM documents"))
        for r in con.execute("SELECT * FROM chunks ORDER BY row"):
            chunk = Chunk(
                r["doc_id"], r["start"], r["end"], r["text"],
                tuple(json.loads(r["heading_path"])), tuple(json.loads(r["pages"])), r["ordinal"],
            )  # fmt: skip
            out.setdefault(r["doc_id"], (hashes[r["doc_id"]], []))[1].append(
                (chunk, r["embed_text"])
            )
    except sqlite3.Error:
        return {}
    finally:
        con.close()
    return out


def previous_documents(index_dir: Path) -> dict[str, Document | str]:
    """The current generation's documents, and the reasons its files were skipped, by the
    source hash they were loaded from (indexer.loaders.source_hash), for a one-shot
    ``kb index`` to reuse instead of parsing unchanged files again. Empty when there is none
    (or it was written before source hashes were kept)."""
    try:
        generation = current_generation(index_dir)
        _verify_files(generation, read_manifest(index_dir), [TABLE], for_reuse=True)
    except (KBError, OSError) as exc:
        if not isinstance(exc, IndexNotFoundError):
            logger.warning("parsing every file again: %s", exc)
        return {}
    out: dict[str, Document | str] = {}
    con = connect_table(generation)
    try:
        for r in con.execute("SELECT reason, source_hash FROM skipped WHERE source_hash != ''"):
            out[r["source_hash"]] = r["reason"]
        for r in con.execute("SELECT * FROM documents WHERE source_hash != ''"):
            out[r["source_hash"]] = Document.from_record(r, json.loads)
    except (sqlite3.Error, ValueError, TypeError):
        return {}
    finally:
        con.close()
    return out


@dataclass
class PreviousVectors:
    """The current generation's vectors, found by what they embed, for the next build.

    A re-index takes an unchanged passage's vector (keyed by its exact embedding text) and its
    sentence windows' vectors (keyed by the document title and passage text, from which the
    windows are cut) from here: no hashing and no cache queries for the texts that did not
    change, which at 100k passages and 600k windows is most of a one-edit re-index. Its BM25
    terms and the spans of its windows come from here too, so they are not computed again.
    """

    passages: dict[str, int]  # embedding text -> row
    # (title, passage text) -> its window rows and where the passage starts in its document
    windows: dict[tuple[str, str], tuple[int, int, int]]
    matrix: np.ndarray
    window_matrix: Int8Rows
    window_spans_in_doc: np.ndarray  # (row, start, end) of every window
    terms: ChunkTerms | None = None  # BM25 terms by row; None for generations saved without

    def window_spans(self, title: str, text: str) -> list[tuple[int, int]] | None:
        """Sentence windows of a passage indexed before, as spans of its text: what
        ``sentence_windows(text)`` returns, without cutting the sentences again."""
        found = self.windows.get((title, text))
        if found is None:
            return None
        first, last, start = found
        spans = self.window_spans_in_doc[first:last, 1:] - start
        return [(int(a), int(b)) for a, b in spans]

    def lexical_terms(self, text: str) -> np.ndarray | None:
        """BM25 term ids (into ``terms.vocab``) of a passage indexed with exactly this text."""
        row = self.passages.get(text)
        return None if row is None or self.terms is None else self.terms.of(row)

    def passage_vectors(self, texts: list[str]) -> dict[int, np.ndarray]:
        """Vectors known for ``texts``, by position."""
        return {
            i: self.matrix[row]
            for i, t in enumerate(texts)
            if (row := self.passages.get(t)) is not None
        }

    def window_vectors(self, title: str, text: str, count: int) -> np.ndarray | None:
        """The ``count`` window vectors of a passage, or None when it was not indexed before
        with exactly these windows."""
        found = self.windows.get((title, text))
        if found is None or found[1] - found[0] != count:
            return None
        return self.window_matrix[found[0] : found[1]]


def previous_vectors(
    index_dir: Path, fingerprint: str, chunker: dict[str, Any]
) -> PreviousVectors | None:
    """The current generation's vectors when it was built with this model, window method
    (pooled windows are not the vectors of separately embedded ones) and chunker version (its
    window spans come from that version's sentence splitter), else None. Passage sizes may
    differ: vectors are looked up by text."""
    try:
        manifest = read_manifest(index_dir)
        generation = current_generation(index_dir)
    except KBError:  # no index yet: nothing to reuse
        return None
    if manifest.model_fingerprint != fingerprint or any(
        manifest.chunker.get(key) != chunker.get(key) for key in ("windows", "version")
    ):
        return None
    try:
        # Copied into the next generation, a flipped byte here would get fresh checksums there.
        _verify_files(
            generation,
            manifest,
            [VECTORS, WINDOW_SPANS, WINDOW_VECTORS, WINDOW_SCALES, TABLE],
            for_reuse=True,
        )
        vectors = read_vectors(generation)
        matrix = (
            vectors.reconstruct_n(0, vectors.ntotal)
            if vectors.ntotal
            else np.zeros((0, manifest.dimension), np.float32)
        )
        spans, window_matrix = read_windows(generation)
        terms = None
        if all(name in manifest.files for name in TERM_FILES):
            _verify_files(generation, manifest, list(TERM_FILES), for_reuse=True)
            terms = read_terms(generation)
        con = connect_table(generation)
        try:
            titles = dict(con.execute("SELECT doc_id, title FROM documents"))
            rows = con.execute(
                "SELECT row, doc_id, text, embed_text, start FROM chunks ORDER BY row"
            ).fetchall()
        finally:
            con.close()
    except (KBError, OSError, ValueError, sqlite3.Error) as exc:
        logger.warning("not reusing the current generation's vectors: %s", exc)
        return None
    owner = spans[:, 0] if len(spans) else np.zeros(0, np.int64)
    if len(owner) and np.any(np.diff(owner) < 0):
        return None  # windows not grouped by passage: cannot be sliced per passage
    starts = np.searchsorted(owner, np.arange(len(rows) + 1)) if len(rows) else []
    by_passage: dict[tuple[str, str], tuple[int, int, int]] = {}
    passages: dict[str, int] = {}
    for r in rows:
        row = r["row"]
        passages[r["embed_text"]] = row
        by_passage[(titles[r["doc_id"]], r["text"])] = (
            int(starts[row]), int(starts[row + 1]), int(r["start"])
        )  # fmt: skip
    if terms is not None and len(terms) != len(rows):
        terms = None  # not this table's rows: tokenise again rather than trust them
    return PreviousVectors(passages, by_passage, matrix, window_matrix, spans, terms)


def read_vectors(index_dir: Path):
    """The FAISS index of an index directory."""
    import faiss

    return faiss.read_index(str(Path(index_dir) / VECTORS))


def connect_table(index_dir: Path) -> sqlite3.Connection:
    """A read-only connection to the chunk table, shareable across the API's threads."""
    uri = f"file:{(Path(index_dir) / TABLE).resolve()}?mode=ro"
    con = sqlite3.connect(uri, uri=True, check_same_thread=False)
    con.row_factory = sqlite3.Row
    return con


def read_windows(index_dir: Path) -> tuple[np.ndarray, Int8Rows]:
    """(window spans, window vectors) of an index directory.

    The vectors' int8 codes (most of an index's bytes) are mapped read-only from the file, so
    every API worker process shares one copy in the page cache instead of holding its own;
    rows are decoded to float32 as they are read.
    """
    index_dir = Path(index_dir)
    spans = np.load(index_dir / WINDOW_SPANS, allow_pickle=False)
    codes = np.asarray(np.load(index_dir / WINDOW_VECTORS, mmap_mode="r"))
    return spans, Int8Rows(codes, np.load(index_dir / WINDOW_SCALES, allow_pickle=False))


ACCESS_OVERRIDES = "ACCESS.json"  # beside the generations: survives rebuilds, read per query


def read_access_overrides(index_dir: Path) -> tuple[int, dict[str, list[str]]]:
    """(file mtime in ns or 0, {doc_id: access groups}) set by `kb access`, without a rebuild."""
    path = Path(index_dir) / ACCESS_OVERRIDES
    try:
        stamp = path.stat().st_mtime_ns
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return 0, {}
    return stamp, {str(k): [str(g) for g in v] for k, v in data.items()}


def write_access_overrides(index_dir: Path, overrides: dict[str, list[str]]) -> None:
    """Replace the overrides atomically (readers see the old or the new file, never half)."""
    index_dir = Path(index_dir)
    tmp = index_dir / f"{TMP_PREFIX}{ACCESS_OVERRIDES}"
    tmp.write_text(json.dumps(overrides, indent=2, sort_keys=True), encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, index_dir / ACCESS_OVERRIDES)
