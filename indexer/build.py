"""The write side: load a knowledge base, chunk it, embed it and write an index directory."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer import pgstore, store
from indexer.access import drop_moved, follow_renames
from indexer.acronyms import acronym_sources, resolved
from indexer.ann import ANN_FILE
from indexer.chunking import (
    CHUNKER_VERSION,
    chunk_document,
    embedding_text,
    model_view,
    sentence_windows,
)
from indexer.documents import Chunk, Document
from indexer.embed_cache import EmbeddingCache, cache_problem
from indexer.embedding import Embedder
from indexer.errors import KBError
from indexer.files import visible_files
from indexer.lexical import TERMS_VERSION
from indexer.loaders import LISTED, ParseLimits, Skipped, iter_source_files, load_directory
from indexer.loaders.metadata import SIDECAR_SUFFIX
from indexer.memo import RebuildMemo, remembered
from indexer.stat_cache import StatCache
from indexer.store import Manifest

logger = logging.getLogger(__name__)

# How sentence windows get vectors: pooled from their passage's own token states (one model
# pass per passage: "late chunking") or embedded as separate short texts (a pass per window).
WINDOW_METHODS = ("pooled", "separate")


@dataclass
class BuildReport:
    """What `kb index` prints at the end: what went in, what was left out, how long it took."""

    index_dir: Path | str  # or a postgresql:// URL
    documents: int
    chunks: int
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    manifest: Manifest | None = None
    embedded: int = 0  # texts (passages and sentence windows) that had to be embedded
    reused: int = 0  # texts whose vectors came from the embedding cache
    unchanged: bool = False  # nothing to do: the index already holds exactly these documents
    # Seconds until a first generation with pooled sentence windows was searchable, when the
    # build published one before embedding the windows apart (``early_windows``); else None.
    searchable_seconds: float | None = None
    # Files that failed to read whose earlier indexed version was kept (also in ``skipped``).
    kept: list[Skipped] = field(default_factory=list)
    # Files of types no loader reads, by extension ("" for none): left out, and said so.
    ignored: dict[str, int] = field(default_factory=dict)


@dataclass
class Progress:
    """Callbacks for progress bars; the CLI passes tqdm-backed ones, the library none."""

    on_start: Callable[[str, int], None] = lambda stage, total: None
    on_advance: Callable[[int], None] = lambda n: None


def chunk_all(
    documents: list[Document],
    embedder: Embedder,
    max_tokens: int,
    min_tokens: int,
    on_document: Callable[[int], None] = lambda n: None,
    reuse: dict[str, tuple[str, list[tuple[Chunk, str]]]] | None = None,
) -> tuple[list[Chunk], list[str]]:
    """Chunks of every document and the text each is embedded as.

    ``reuse`` (from the previous generation) supplies the chunks of documents whose content
    hash is unchanged, so only new or edited documents are cut again.
    """
    reuse = reuse or {}
    limit = embedder.max_tokens
    if max_tokens > limit:
        raise KBError(f"chunk_max_tokens={max_tokens} exceeds the model's limit of {limit}")
    count = embedder.count_tokens
    chunks: list[Chunk] = []
    texts: list[str] = []
    for doc in documents:
        previous = reuse.get(doc.doc_id)
        if previous is not None and previous[0] == doc.content_hash:
            for chunk, text in previous[1]:
                chunks.append(chunk)
                texts.append(text)
            on_document(1)
            continue
        for chunk in chunk_document(doc, count, max_tokens, min_tokens):
            chunks.append(chunk)
            texts.append(embedding_text(doc.title, chunk.heading_path, chunk.text, count, limit))
        on_document(1)
    return chunks, texts


def build_index(source: Path, index_dir: Path | str, embedder: Embedder, **options) -> BuildReport:
    """Index every readable document under ``source`` into ``index_dir`` (one writer at a time).

    When the index already holds exactly these documents, built the same way, nothing is
    rewritten; otherwise only passages whose text is new to both the current generation and
    ``cache_path`` get embedded.
    Options: ``max_tokens``, ``min_tokens``, ``progress``, ``cache_path``, ``limits``,
    ``windows``, ``ann_min_chunks``, ``memo`` (a RebuildMemo kept by a watching indexer),
    ``allow_empty`` (an emptied folder empties its index instead of being refused),
    ``replace`` (``source`` becomes the whole knowledge base even where the index holds
    documents read from outside it, which are otherwise kept by refusing the build),
    ``early_windows`` (see :func:`index_documents`).
    """
    with _writer(index_dir):
        return _build_index(source, index_dir, embedder, **options)


def _build_index(
    source: Path,
    index_dir: Path | str,
    embedder: Embedder,
    *,
    max_tokens: int = 200,
    min_tokens: int = 64,
    progress: Progress | None = None,
    cache_path: Path | None = None,
    limits: ParseLimits | None = None,
    windows: str = "separate",
    ann_min_chunks: int = 0,
    memo: RebuildMemo | None = None,
    allow_empty: bool = False,
    replace: bool = False,
    early_windows: int = 0,
) -> BuildReport:
    progress = progress or Progress()
    started = time.perf_counter()
    source = Path(source)
    if not source.exists():
        raise KBError(f"nothing to index: {source} does not exist")
    if memo is not None:
        memo.start_build()
    if cache_path and (problem := cache_problem(Path(cache_path))):
        logger.warning("building without the embedding cache: %s", problem)
        cache_path = None
    # One walk of the tree: the files to load, and the sidecars and linked folders to warn of.
    linked: list[Path] = []
    unreadable: dict[Path, str] = {}
    listed = (
        [path for path, _stat in visible_files(source, linked, unreadable)]
        if source.is_dir()
        else []
    )
    files = list(iter_source_files(source, listed if source.is_dir() else None))
    ignored = ignored_kinds(listed, files)
    progress.on_start("load", len(files))
    # Unchanged files come back from the current generation instead of being parsed again;
    # a watching indexer's memo already knows them after its first build.
    previous = None
    if memo is None or not len(memo):
        previous = (
            pgstore.previous_documents(str(index_dir))
            if _in_database(index_dir)
            else store.previous_documents(Path(index_dir))
        )
    # A one-shot run knows unchanged files by their stat, without reading them to hash.
    use_stats = bool(cache_path) and previous is not None
    with StatCache(cache_path) if use_stats else contextlib.nullcontext() as stats:
        documents, skipped = load_directory(
            source,
            on_file=lambda _p: progress.on_advance(1),
            limits=limits,
            paths=files,
            memo=memo,
            previous=previous,
            stats=stats,
        )
    skipped += unreadable_folders(source, unreadable)
    # Every file failing is a failed sync or mount, refused below as a whole (and with
    # --allow-empty, a withdrawal): only a failing file among readable ones is kept.
    kept = _last_good(index_dir, documents, skipped, previous) if documents else []
    kept_files = [why_kept(d.doc_id, skipped) for d in kept]  # the report's, with reasons
    if kept:
        documents = sorted([*documents, *kept], key=lambda d: d.doc_id.split("/"))
    for item in kept_files:
        logger.warning(
            "%s: kept as last indexed, its file now fails to read (%s): agents see the "
            "earlier version until the file is fixed or deleted",
            item.path,
            " ".join(item.reason.split()),
            extra=LISTED,
        )
    if not documents:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:5])
        problem = f"no readable documents under {source}" + (f" ({reasons})" if reasons else "")
        # A first build of nothing, or of an empty folder other than the one indexed (a
        # mistyped path), is a mistake worth stopping for. So is, by default, this very folder
        # found empty: a share mounted empty or a failed sync looks the same as every SOP
        # withdrawn, and only the second should stop agents' answers. Asked for, the index
        # loses them all, as it would any one deleted file.
        if _in_database(index_dir) or not _emptied(Path(index_dir), source):
            raise KBError(problem)
        if not allow_empty:
            raise KBError(
                f"{problem}; the index keeps answering from its last build of this folder. "
                "If every document was withdrawn on purpose, run `kb index --allow-empty`"
            )
        logger.warning("%s: the index now holds no documents", problem)
    elif previous and not replace:
        _refuse_narrowing(
            source, documents, [d for d in previous.values() if isinstance(d, Document)]
        )
    for problem in [
        *dangling_versions(documents),
        *not_yet_in_force(documents, dt.date.today().isoformat()),
        *unusual_languages(documents),
        *version_cycles(documents),
        *orphaned_sidecars(source, set(listed)),
        *linked_folders(source, linked),
        *identical_documents(documents),
    ]:
        logger.warning("%s", problem)
    chunker = chunker_config(max_tokens, min_tokens, windows)
    # A generation that does not know every file's source hash yet (written by an older
    # version) is written once more, so the next run can skip parsing them.
    recorded = previous is None or all(
        not x.source_hash or x.source_hash in previous for x in [*documents, *skipped]
    )
    if recorded and _up_to_date(
        index_dir, documents, skipped, embedder.fingerprint, chunker, ann_min_chunks
    ):
        if memo is not None:
            memo.keep_unused()  # tokens and windows were not needed this time; still valid
        manifest = _read_manifest(index_dir)
        return BuildReport(
            _target(index_dir),
            len(documents),
            manifest.counts["chunks"],
            skipped,
            time.perf_counter() - started,
            manifest,
            unchanged=True,
            kept=kept_files,
            ignored=ignored,
        )
    moved, orphaned = follow_renames(index_dir, documents)  # a restriction follows its file
    for problem in orphaned:
        logger.warning("%s", problem)
    report = _index_documents(
        documents,
        index_dir,
        embedder,
        skipped=skipped,
        max_tokens=max_tokens,
        min_tokens=min_tokens,
        progress=progress,
        started=started,
        cache_path=cache_path,
        windows=windows,
        ann_min_chunks=ann_min_chunks,
        memo=memo,
        early_windows=early_windows,
    )
    drop_moved(index_dir, moved)
    report.kept, report.ignored = kept_files, ignored
    return report


def ignored_kinds(listed: list[Path], files: list[Path]) -> dict[str, int]:
    """Files of a type no loader reads, counted by extension ("" for none), sidecars aside:
    a spreadsheet or image in the folder was left out without a word."""
    read = set(files)
    counts: dict[str, int] = {}
    for path in listed:
        if path not in read and not path.name.endswith(SIDECAR_SUFFIX):
            kind = path.suffix.lower()
            counts[kind] = counts.get(kind, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _last_good(
    index_dir: Path | str,
    documents: list[Document],
    skipped: list[Skipped],
    previous: dict[str, Document | str] | None,
) -> list[Document]:
    """The indexed version of each document whose file now fails to read.

    A half-synced DOCX or a one-character slip in a date took a live policy out of every
    answer while `kb index` reported success; keeping what agents read before (and saying so)
    loses nothing. A file that never read, or was deleted, has no earlier version to keep.
    """
    loaded = {d.doc_id for d in documents}
    failing = {x.path for x in skipped if x.path not in loaded}
    folders = tuple(path for path in failing if path.endswith("/"))  # unreadable_folders
    if not failing:
        return []
    if previous is None:  # a watching indexer's memo: read the current generation once
        previous = (
            pgstore.previous_documents(str(index_dir))
            if _in_database(index_dir)
            else store.previous_documents(Path(index_dir))
        )
    return sorted(
        (
            d
            for d in previous.values()
            if isinstance(d, Document)
            and d.doc_id not in loaded
            and (d.doc_id in failing or d.doc_id.startswith(folders))
        ),
        key=lambda d: d.doc_id,
    )


def unreadable_folders(source: Path, folders: dict[Path, str]) -> list[Skipped]:
    """A skip entry per folder the walk could not list (``path/``, ending in a slash), from
    ``visible_files``' folder -> reason.

    Such a folder was passed over in silence: its documents dropped out of the index as if
    deleted (a sync that left a folder mode 000 withdrew every SOP in it from answers, while
    `kb index` reported success). Listed, its indexed documents are kept as last indexed.
    """
    out = []
    for folder, reason in sorted(folders.items()):
        shown = folder.relative_to(source).as_posix() if folder != source else str(source)
        item = Skipped(f"{shown.rstrip('/')}/", f"cannot read folder: {reason}")
        logger.warning("skipped %s: %s", item.path, item.reason, extra=LISTED)
        out.append(item)
    return out


def why_kept(doc_id: str, skipped: list[Skipped]) -> Skipped:
    """The skip entry that kept ``doc_id`` as last indexed: its file's, or its folder's."""
    for item in skipped:
        if item.path == doc_id:
            return item
    folder = next(x for x in skipped if x.path.endswith("/") and doc_id.startswith(x.path))
    return Skipped(doc_id, f"in {folder.path}: {folder.reason}")


def dangling_versions(documents: list[Document]) -> list[str]:
    """Version links (``superseded_by``, ``supersedes``) that name no loaded document.

    Such a link is ignored by the in-force rule, so an old policy would stay in force; the
    knowledge manager hears about it at build time instead of from a wrong answer.
    """
    ids = {d.doc_id for d in documents}
    return [
        f"{d.doc_id}: {field} names {d.metadata[field]!r}, which is not in the knowledge base"
        for d in documents
        for field in ("superseded_by", "supersedes")
        if d.metadata.get(field) and d.metadata[field] not in ids
    ]


def not_yet_in_force(documents: list[Document], today: str) -> list[str]:
    """Documents whose effective date is after ``today``: searches leave them out until then
    (the version in force answers meanwhile), so a year typed wrong (2062 for 2026) hid a new
    policy with nothing said at build time."""
    later = sorted(
        (str(d.metadata["effective_date"]), d.doc_id)
        for d in documents
        if str(d.metadata.get("effective_date") or "") > today
    )
    return [
        f"{doc_id}: takes effect on {date}; searches leave it out until then (as_of before "
        "that date), so check the year if that is a slip"
        for date, doc_id in later
    ]


_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")


def unusual_languages(documents: list[Document]) -> list[str]:
    """Documents whose ``language`` is not a language code ("Deutsch", "Portuguese"): a
    language filter reads codes (de, pt, pt-BR), so they were left out of filtered searches
    without a word."""
    return [
        f"{d.doc_id}: language {lang!r} is not a language code (de, fr, pt-BR...); a "
        "language filter will not find it"
        for d in documents
        if (lang := str(d.metadata.get("language") or "en")) and not _LANGUAGE_TAG.fullmatch(lang)
    ]


def version_cycles(documents: list[Document]) -> list[str]:
    """Documents whose version links (``supersedes`` / ``superseded_by``) lead back to them.

    Each version in such a loop has a successor in force, so the in-force rule retires every
    one of them and no search shows any (two policies that each say they supersede the other).
    """
    newer: dict[str, set[str]] = {}  # document -> the versions that replace it
    ids = {d.doc_id for d in documents}
    for d in documents:
        after, before = d.metadata.get("superseded_by"), d.metadata.get("supersedes")
        if isinstance(after, str) and after in ids:
            newer.setdefault(d.doc_id, set()).add(after)
        if isinstance(before, str) and before in ids:
            newer.setdefault(before, set()).add(d.doc_id)

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in newer.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reached = {d: reach(d) for d in newer}
    looped = sorted(d for d, seen in reached.items() if d in seen)
    problems, told = [], set()
    for d in looped:
        if d not in told:
            loop = sorted(x for x in looped if x in reached[d] and d in reached[x])
            told.update(loop)
            problems.append(
                f"{', '.join(loop)}: their supersedes / superseded_by links form a loop, so "
                "each version retires another and no search shows any of them; fix one link"
            )
    return problems


def identical_documents(documents: list[Document]) -> list[str]:
    """Documents whose text is the same as another's (a copy left in another folder): each
    passage then comes back once per copy, filling an agent's first results with one answer,
    and an edit to one copy leaves the others as they were."""
    by_text: dict[str, list[str]] = {}
    for doc in documents:
        digest = hashlib.sha256(doc.text.encode("utf-8")).hexdigest()
        by_text.setdefault(digest, []).append(doc.doc_id)
    groups = [ids for ids in by_text.values() if len(ids) > 1]
    shown = [
        f"{ids[0]}: the same text as {', '.join(ids[1:4])}"
        + (f" and {len(ids) - 4} more" if len(ids) > 4 else "")
        + "; copies fill the first results with one answer (keep one, or link to it)"
        for ids in groups[:SHOWN_PROBLEMS]
    ]
    if len(groups) > SHOWN_PROBLEMS:
        shown.append(f"... and {len(groups) - SHOWN_PROBLEMS} more sets of identical documents")
    return shown


SHOWN_PROBLEMS = 10  # per kind: a knowledge base of copies must not bury the build's summary


def linked_folders(source: Path, linked: list[Path] | None = None) -> list[str]:
    """Folders under ``source`` that are symbolic links (``linked``, when the caller's walk
    of the tree collected them): not followed (a link can loop, or lead out of the
    knowledge base), and no longer passed over in silence."""
    if linked is None:
        linked = []
        if source.is_dir():
            visible_files(source, linked)
    return [
        f"{path.relative_to(source).as_posix()}: a link to a folder is not followed; "
        "its files are not indexed (copy or move them into the knowledge base)"
        for path in sorted(linked)
    ]


def orphaned_sidecars(source: Path, present: set[Path] | None = None) -> list[str]:
    """Metadata sidecars whose file is gone: the file was renamed or moved without them.

    The renamed file is indexed with default metadata (every agent may read it, always in
    force, no version links) while its access groups and dates sit unread; one line at build
    time beats finding out from a restricted SOP shown to everyone.
    """
    if not source.is_dir():
        return []
    if present is None:  # the caller's walk of the tree, else one of its own
        present = {path for path, _stat in visible_files(source)}
    problems = []
    for path in sorted(present):
        if path.name.endswith(SIDECAR_SUFFIX) and len(path.name) > len(SIDECAR_SUFFIX):
            owner = path.with_name(path.name[: -len(SIDECAR_SUFFIX)])
            if owner not in present:
                sidecar, gone = (p.relative_to(source).as_posix() for p in (path, owner))
                problems.append(
                    f"{sidecar}: metadata for {gone}, which is not in the knowledge base; a file "
                    "renamed or moved without its sidecar is indexed with default metadata"
                )
    return problems


def chunker_config(
    max_tokens: int, min_tokens: int, windows: str = "separate"
) -> dict[str, object]:
    """What the manifest records about chunking; a change means a rebuild."""
    if windows not in WINDOW_METHODS:
        raise KBError(f"unknown window method {windows!r}; choose {', '.join(WINDOW_METHODS)}")
    return {
        "version": CHUNKER_VERSION,
        "max_tokens": max_tokens,
        "min_tokens": min_tokens,
        "windows": windows,
        "terms": TERMS_VERSION,  # BM25 postings and questions must be tokenised alike
    }


def _up_to_date(
    index_dir: Path | str,
    documents: list[Document],
    skipped: list[Skipped],
    fingerprint: str,
    chunker: dict[str, object],
    ann_min_chunks: int = 0,
) -> bool:
    """True when the index holds exactly these documents, built the same way, and (local
    files) its current generation passes its checksums: a damaged one is refused by the API,
    which then serves the previous generation until a build writes a new one."""
    try:
        manifest = _read_manifest(index_dir)
    except KBError:
        return False
    if not _in_database(index_dir) and (problem := store.damage(Path(index_dir))):
        logger.warning("%s: writing the index again", problem)
        return False
    return (
        manifest.model_fingerprint == fingerprint
        and manifest.chunker == chunker
        and manifest.sources == {d.doc_id: d.content_hash for d in documents}
        and manifest.counts.get("skipped") == len(skipped)
        and manifest.acronyms is not None
        and manifest.acronym_sources is not None
        and (_in_database(index_dir) or _ann_as_configured(manifest, ann_min_chunks))
    )


def _ann_as_configured(manifest: Manifest, ann_min_chunks: int) -> bool:
    """Whether a generation has its IVF index exactly when a build now would write one, so a
    changed ``KB_ANN_MIN_CHUNKS`` takes effect without waiting for a document to change."""
    wanted = bool(ann_min_chunks) and manifest.counts.get("chunks", 0) >= ann_min_chunks
    return (ANN_FILE in manifest.files) == wanted


def index_documents(
    documents: list[Document], index_dir: Path | str, embedder: Embedder, **options
) -> BuildReport:
    """Chunk, embed and write already-loaded documents (the eval harness starts here).

    With ``early_windows`` > 0, a build that has at least that many sentence windows to embed
    apart first publishes a generation whose new windows are pooled from their passage's own
    model pass (the passages are about half of what the model reads), then embeds the windows
    and publishes the complete generation: a large first build is searchable in about half the
    time, at pooled windows' quality, while the rest runs (docs/retrieval-experiments.md). Not
    for a database target, where a second write costs more than it saves.
    """
    with _writer(index_dir):
        return _index_documents(documents, index_dir, embedder, **options)


def _index_documents(
    documents: list[Document],
    index_dir: Path | str,
    embedder: Embedder,
    *,
    skipped: list[Skipped] | None = None,
    max_tokens: int = 200,
    min_tokens: int = 64,
    progress: Progress | None = None,
    started: float | None = None,
    cache_path: Path | None = None,
    windows: str = "separate",
    ann_min_chunks: int = 0,
    memo: RebuildMemo | None = None,
    allow_empty: bool = False,
    early_windows: int = 0,
) -> BuildReport:
    progress = progress or Progress()
    started = time.perf_counter() if started is None else started
    skipped = skipped or []
    _check_unique_ids(documents)
    progress.on_start("chunk", len(documents))
    chunks_of = pgstore.previous_chunks if _in_database(index_dir) else store.previous_chunks
    chunker = chunker_config(max_tokens, min_tokens, windows)
    reuse = chunks_of(index_dir, embedder.fingerprint, chunker)
    chunks, texts = chunk_all(
        documents, embedder, max_tokens, min_tokens, progress.on_advance, reuse
    )
    titles = {d.doc_id: d.title for d in documents}
    previous = (
        None
        if _in_database(index_dir)
        else store.previous_vectors(Path(index_dir), embedder.fingerprint, chunker)
    )
    spans, window_texts = windows_of(chunks, titles, memo, previous)
    defined = acronym_sources((c.doc_id, c.text) for c in chunks)
    # Both generations of a build tokenise the same passages for BM25: once is enough.
    terms_memo = memo if memo is not None else RebuildMemo()

    def write(
        vectors: np.ndarray, windows: tuple[np.ndarray, np.ndarray], chunker: dict[str, object]
    ) -> tuple[Manifest, float]:
        """Write one generation (the whole build, or its early one with pooled windows);
        returns its manifest and the seconds from the build's start to the embedding's end."""
        seconds = time.perf_counter() - started
        progress.on_start("write", 1)
        written = dict(
            lexical_texts=texts,
            windows=windows,
            model=embedder.model_name,
            model_fingerprint=embedder.fingerprint,
            chunker=chunker,
            build_seconds=seconds,
            acronyms=resolved(defined),
            acronym_sources=defined,
        )
        args = (documents, chunks, vectors, [(s.path, s.reason, s.source_hash) for s in skipped])
        if _in_database(index_dir):  # pgvector's HNSW index replaces the IVF file
            manifest = pgstore.write_index(str(index_dir), *args, **written)
        else:
            manifest = store.write_index(
                index_dir, *args, **written, ann_min_chunks=ann_min_chunks, memo=terms_memo,
                previous=previous,
            )  # fmt: skip
        progress.on_advance(1)
        return manifest, seconds

    cache = (
        EmbeddingCache(cache_path, embedder.fingerprint, embedder.dimension) if cache_path else None
    )
    searchable = None
    try:
        if windows == "pooled":
            # The bar counts every text the model reads: pooled windows come with their passage.
            progress.on_start("embed", len(texts))
            vectors, window_vectors, fresh = _embed_pooled(
                embedder, chunks, texts, spans, window_texts, progress, cache
            )
        else:
            # One pass over passages and windows together, so a window that is its whole
            # passage (no heading trail) runs once, like any other repeated text.
            known = previous.passage_vectors(texts) if previous is not None else {}
            n = len(texts)
            known.update(
                (n + j, v) for j, v in _known_windows(previous, chunks, titles, spans).items()
            )
            first = 0
            asked = early_windows > 0 and not _in_database(index_dir)
            if asked:
                known.update(_cached(cache, texts + window_texts, known))
                if len(window_texts) - sum(j >= n for j in known) >= early_windows:
                    progress.on_start("embed", len(texts))
                    vectors, early, first = _embed_pooled(
                        embedder, chunks, texts, spans, window_texts, progress, cache,
                        known, keep_windows=False,
                    )  # fmt: skip
                    write(vectors, (spans, early), chunker_config(max_tokens, min_tokens, "pooled"))
                    searchable = time.perf_counter() - started
                    known.update(enumerate(vectors))  # passages: not read twice
            # After an early generation, its own stage: the bar then counts from zero again.
            stage = "embed" if searchable is None else "embed-windows"
            progress.on_start(stage, len(texts) + len(window_texts))
            both, fresh = _embed(embedder, texts + window_texts, progress, cache, known, asked)
            vectors, window_vectors = both[:n], both[n:]
            fresh += first
        manifest, seconds = write(vectors, (spans, window_vectors), chunker)
        if cache is not None:  # after publishing: what this index holds stays, long-unused goes
            cache.prune(texts + window_texts)
    finally:
        if cache is not None:
            cache.close()
    logger.info("indexed %d documents, %d chunks in %.1fs", len(documents), len(chunks), seconds)
    # Pooled windows come with their passage: only separately embedded ones count as texts.
    total = len(texts) + (len(window_texts) if windows == "separate" else 0)
    return BuildReport(
        _target(index_dir),
        len(documents),
        len(chunks),
        skipped,
        seconds,
        manifest,
        embedded=fresh,
        reused=total - fresh,
        searchable_seconds=searchable,
    )


def windows_of(
    chunks: list[Chunk],
    titles: dict[str, str],
    memo: RebuildMemo | None = None,
    previous: store.PreviousVectors | None = None,
) -> tuple[np.ndarray, list[str]]:
    """(rows of chunk row, start, end in the document) and the texts to embed, per window.

    Passages the ``previous`` generation indexed keep their windows; only new ones are cut
    into sentences again.
    """
    spans: list[tuple[int, int, int]] = []
    texts: list[str] = []
    for row, chunk in enumerate(chunks):
        title = titles[chunk.doc_id]
        found = None if previous is None else previous.window_spans(title, chunk.text)
        if found is None:
            found = remembered(
                memo, ("windows", chunk.text), lambda t=chunk.text: sentence_windows(t)
            )
        seen = model_view(chunk.text)  # a row is known by its neighbours: view the passage
        for a, b in found:
            spans.append((row, chunk.start + a, chunk.start + b))
            texts.append(f"{title}\n{seen[a:b]}")
    return np.array(spans, dtype=np.int64).reshape(-1, 3), texts


def _embed(
    embedder: Embedder,
    texts: list[str],
    progress: Progress,
    cache: EmbeddingCache | None,
    known: dict[int, np.ndarray] | None = None,
    cache_asked: bool = False,
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` and how many had to be computed.

    ``known`` (by position, from the previous generation) is used first, then the cache
    (unless ``cache_asked``: ``known`` already holds its hits); only the rest runs through the
    model.
    """
    known = known or {}
    hits = known if cache_asked else {**known, **_cached(cache, texts, known)}
    missing = [i for i in range(len(texts)) if i not in hits]
    progress.on_advance(len(hits))
    # Longest first over the whole corpus, not per slice: each batch holds texts of nearly one
    # length, so the model pads (and computes) little beyond the real tokens. A text repeated
    # in the corpus (boilerplate, a sentence two sections share) runs once: 1-5% of the
    # shared sets' passages and windows.
    missing = sorted(missing, key=lambda i: -len(texts[i]))
    slot: dict[str, int] = {}
    for i in missing:
        slot.setdefault(texts[i], len(slot))
    todo = list(slot)
    batches = []
    step = max(32, embedder.batch_size * 4)
    for i in range(0, len(todo), step):
        batches.append(embedder.encode(todo[i : i + step]))
        progress.on_advance(len(todo[i : i + step]))
    progress.on_advance(len(missing) - len(todo))
    fresh = np.concatenate(batches) if batches else None
    if cache is not None and fresh is not None:
        cache.store(todo, fresh)
    if not texts:
        return np.zeros((0, embedder.dimension), np.float32), 0
    dim = fresh.shape[1] if fresh is not None else len(next(iter(hits.values())))
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for i, vec in hits.items():
        out[i] = vec
    if fresh is not None:
        out[missing] = fresh[[slot[texts[i]] for i in missing]]
    return out, len(todo)


def _known_windows(
    previous: store.PreviousVectors | None,
    chunks: list[Chunk],
    titles: dict[str, str],
    spans: np.ndarray,
) -> dict[int, np.ndarray]:
    """Window vectors (by window position) of passages the previous generation already had."""
    if previous is None or not len(spans):
        return {}
    first = np.searchsorted(spans[:, 0], np.arange(len(chunks) + 1))  # windows_of: row order
    known: dict[int, np.ndarray] = {}
    for row, chunk in enumerate(chunks):
        a, b = int(first[row]), int(first[row + 1])
        if b > a:
            found = previous.window_vectors(titles[chunk.doc_id], chunk.text, b - a)
            if found is not None:
                known.update(zip(range(a, b), found, strict=True))
    return known


def _embed_pooled(
    embedder: Embedder,
    chunks: list[Chunk],
    texts: list[str],
    spans: np.ndarray,
    window_texts: list[str],
    progress: Progress,
    cache: EmbeddingCache | None,
    known: dict[int, np.ndarray] | None = None,
    keep_windows: bool = True,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Passage vectors and their windows' vectors pooled from the same model pass.

    The cache keeps both, keyed by the passage's embedding text (and the window's span in it),
    so an unchanged passage costs nothing on a re-index. Returns how many passages ran
    (a repeated one once).
    Given ``known`` vectors (by position in passages then windows, as :func:`_embed` takes
    them: separately embedded windows), those are kept and the cache is not asked; only
    passages and the windows still missing are pooled, and with ``keep_windows`` False the
    pooled windows stay out of the cache (an early generation's stand-ins).
    """
    # Window spans in the coordinates of the text embedded (the passage text is its suffix).
    # windows_of lists windows in chunk-row order, so each row's windows are one slice.
    owner = spans[:, 0] if len(spans) else np.zeros(0, np.int64)
    first = np.searchsorted(owner, np.arange(len(chunks) + 1))
    local: list[list[tuple[int, int]]] = []
    for row, chunk in enumerate(chunks):
        shift = len(texts[row]) - len(chunk.text) - chunk.start
        local.append(
            [(int(a) + shift, int(b) + shift) for _r, a, b in spans[first[row] : first[row + 1]]]
        )
    window_keys = [
        f"\x01window {a}:{b}\x00{texts[row]}" for row in range(len(chunks)) for a, b in local[row]
    ]
    keys = list(texts) + window_keys
    if known is not None:
        hits = known
    else:
        hits, _missing = cache.lookup(keys) if cache is not None else ({}, [])
    window_base = len(texts)
    todo = [
        r for r in range(len(chunks))
        if r not in hits or not all(window_base + w in hits for w in range(first[r], first[r + 1]))
    ]  # fmt: skip
    dim = embedder.dimension
    vectors = np.zeros((len(texts), dim), np.float32)
    window_vectors = np.zeros((len(spans), dim), np.float32)
    for i, vec in hits.items():
        if i < window_base:
            vectors[i] = vec
        else:
            window_vectors[i - window_base] = vec
    progress.on_advance(len(texts) - len(todo))
    # A passage the corpus repeats (boilerplate under one heading, a copied macro) runs once:
    # the same text with the same window spans pools to the same vectors. A 5 MB export of
    # 9,188 such passages took 6.6 minutes to its early generation instead of seconds.
    same: dict[tuple[str, tuple[tuple[int, int], ...]], list[int]] = {}
    for r in todo:
        same.setdefault((texts[r], tuple(local[r])), []).append(r)
    leaders = sorted((rows[0] for rows in same.values()), key=lambda r: -len(texts[r]))
    copies = {rows[0]: rows for rows in same.values()}
    step = max(32, embedder.batch_size * 4)  # one length per batch: little padding (_embed)
    pooled_windows: list[int] = []
    for i in range(0, len(leaders), step):
        batch = leaders[i : i + step]
        fresh, pooled = embedder.encode_with_spans(
            [texts[r] for r in batch], [local[r] for r in batch]
        )
        for leader, vec, wins in zip(batch, fresh, pooled, strict=True):
            for r in copies[leader]:
                if r not in hits:
                    vectors[r] = vec
                for w, win in zip(range(first[r], first[r + 1]), wins, strict=True):
                    if window_base + w not in hits:
                        window_vectors[w] = win
                        pooled_windows.append(w)
        progress.on_advance(sum(len(copies[r]) for r in batch))
    empty = np.flatnonzero(~window_vectors.any(axis=1))  # a window no token fell in: rare
    if len(empty):
        window_vectors[empty] = embedder.encode([window_texts[w] for w in empty])
    if cache is not None and todo:
        ran = [r for r in todo if r not in hits]
        stored = pooled_windows if keep_windows else []
        cache.store(
            [keys[r] for r in ran] + [keys[window_base + w] for w in stored],
            np.concatenate([vectors[ran], window_vectors[stored]]).reshape(-1, dim),
        )
    return vectors, window_vectors, len(leaders)


def _cached(
    cache: EmbeddingCache | None, texts: list[str], known: dict[int, np.ndarray]
) -> dict[int, np.ndarray]:
    """Vectors the cache holds for ``texts`` not already ``known``, by position."""
    if cache is None:
        return {}
    rest = [i for i in range(len(texts)) if i not in known]
    found, _still = cache.lookup([texts[i] for i in rest])
    return {rest[j]: vec for j, vec in found.items()}


def _in_database(target: Path | str) -> bool:
    """Whether the index target is a PostgreSQL URL rather than an index directory."""
    return isinstance(target, str) and pgstore.is_database_url(target)


def _target(target: Path | str) -> Path | str:
    """The index directory as a Path; a database URL as it is (a Path would mangle it)."""
    return target if _in_database(target) else Path(target)


def _writer(target: Path | str):
    """One writer at a time: a file lock here, an advisory lock inside the database write."""
    return contextlib.nullcontext() if _in_database(target) else store.writer_lock(target)


def _emptied(index_dir: Path, source: Path) -> bool:
    """Whether ``index_dir`` holds an index of ``source`` (some document was read from under
    it, or it holds none): then a build that finds nothing there is an emptied knowledge base."""
    try:
        con = store.connect_table(store.current_generation(index_dir))
    except KBError:
        return False
    root = source.absolute()
    try:
        sources = [Path(r[0]) for r in con.execute("SELECT source FROM documents")]
    except sqlite3.Error:
        return False
    finally:
        con.close()
    return not sources or any(_under(s, root) for s in sources)


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def dropped_from_elsewhere(
    source: Path, documents: list[Document], indexed: list[Document]
) -> list[Document]:
    """The ``indexed`` documents a build of ``documents`` from ``source`` would drop although
    their files lie outside ``source``: the index was built from a wider folder (or another
    knowledge base), and ``source`` is one file or subfolder of it.

    A file deleted from under ``source`` is not among them (its removal is the edit), nor is a
    document of a moved knowledge base (it keeps its id, so it is not dropped).
    """
    root = source.absolute()
    kept = {d.doc_id for d in documents}
    return [d for d in indexed if d.doc_id not in kept and not _under(Path(d.source), root)]


def _refuse_narrowing(source: Path, documents: list[Document], indexed: list[Document]) -> None:
    """Stop a build that would replace a knowledge base with a part of it.

    "Re-index the file I edited" as ``kb index that/file.md`` would otherwise publish an index
    of that one file (under another id, relative to its own folder), and every agent would
    lose the rest at the next search.
    """
    dropped = dropped_from_elsewhere(source, documents, indexed)
    if not dropped:
        return
    root = Path(os.path.commonpath([Path(d.source).parent for d in indexed]))
    shown = ", ".join(d.doc_id for d in dropped[:3]) + (", ..." if len(dropped) > 3 else "")
    raise KBError(
        f"indexing {source} alone would remove {len(dropped)} of the index's "
        f"{len(indexed)} documents, read from outside it ({shown}). To pick up an edit, index "
        f"the folder the index was built from ({root}); to make {source} the whole knowledge "
        "base of this index, run `kb index` with --replace"
    )


def _read_manifest(target: Path | str) -> Manifest:
    return (
        pgstore.read_manifest(str(target)) if _in_database(target) else store.read_manifest(target)
    )


def _check_unique_ids(documents: list[Document]) -> None:
    seen: set[str] = set()
    for doc in documents:
        if doc.doc_id in seen:
            raise KBError(f"two documents share the id {doc.doc_id!r}")
        seen.add(doc.doc_id)
