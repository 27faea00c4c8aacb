"""The write side: load a knowledge base, chunk it, embed it and write an index directory."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.chunking import CHUNKER_VERSION, chunk_document, embedding_text, sentence_windows
from indexer.documents import Chunk, Document
from indexer.embed_cache import EmbeddingCache
from indexer.embedding import Embedder
from indexer.errors import KBError
from indexer.loaders import ParseLimits, Skipped, iter_source_files, load_directory
from indexer.store import Manifest, read_manifest, write_index, writer_lock

logger = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """What `kb index` prints at the end: what went in, what was left out, how long it took."""

    index_dir: Path
    documents: int
    chunks: int
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    manifest: Manifest | None = None
    embedded: int = 0  # texts (passages and sentence windows) that had to be embedded
    reused: int = 0  # texts whose vectors came from the embedding cache
    unchanged: bool = False  # nothing to do: the index already holds exactly these documents


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
) -> tuple[list[Chunk], list[str]]:
    """Chunks of every document and the text each is embedded as."""
    limit = embedder.max_tokens
    if max_tokens > limit:
        raise KBError(f"chunk_max_tokens={max_tokens} exceeds the model's limit of {limit}")
    count = embedder.count_tokens
    chunks: list[Chunk] = []
    texts: list[str] = []
    for doc in documents:
        for chunk in chunk_document(doc, count, max_tokens, min_tokens):
            chunks.append(chunk)
            texts.append(embedding_text(doc.title, chunk.heading_path, chunk.text, count, limit))
        on_document(1)
    return chunks, texts


def build_index(source: Path, index_dir: Path, embedder: Embedder, **options) -> BuildReport:
    """Index every readable document under ``source`` into ``index_dir`` (one writer at a time).

    When the index already holds exactly these documents, built the same way, nothing is
    rewritten; otherwise only passages whose text is new to ``cache_path`` get embedded.
    Options: ``max_tokens``, ``min_tokens``, ``progress``, ``cache_path``, ``limits``.
    """
    with writer_lock(index_dir):
        return _build_index(source, index_dir, embedder, **options)


def _build_index(
    source: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    max_tokens: int = 200,
    min_tokens: int = 64,
    progress: Progress | None = None,
    cache_path: Path | None = None,
    limits: ParseLimits | None = None,
) -> BuildReport:
    progress = progress or Progress()
    started = time.perf_counter()
    source = Path(source)
    if not source.exists():
        raise KBError(f"nothing to index: {source} does not exist")
    files = list(iter_source_files(source))
    progress.on_start("load", len(files))
    documents, skipped = load_directory(
        source, on_file=lambda _p: progress.on_advance(1), limits=limits
    )
    if not documents:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:5])
        raise KBError(
            f"no readable documents under {source}" + (f" ({reasons})" if reasons else "")
        )
    chunker = chunker_config(max_tokens, min_tokens)
    if _up_to_date(index_dir, documents, skipped, embedder.fingerprint, chunker):
        manifest = read_manifest(index_dir)
        return BuildReport(
            Path(index_dir),
            len(documents),
            manifest.counts["chunks"],
            skipped,
            time.perf_counter() - started,
            manifest,
            unchanged=True,
        )
    return _index_documents(
        documents,
        index_dir,
        embedder,
        skipped=skipped,
        max_tokens=max_tokens,
        min_tokens=min_tokens,
        progress=progress,
        started=started,
        cache_path=cache_path,
    )


def chunker_config(max_tokens: int, min_tokens: int) -> dict[str, object]:
    """What the manifest records about chunking; a change means a rebuild."""
    return {"version": CHUNKER_VERSION, "max_tokens": max_tokens, "min_tokens": min_tokens}


def _up_to_date(
    index_dir: Path,
    documents: list[Document],
    skipped: list[Skipped],
    fingerprint: str,
    chunker: dict[str, object],
) -> bool:
    """True when the index holds exactly these documents, built the same way."""
    try:
        manifest = read_manifest(index_dir)
    except KBError:
        return False
    return (
        manifest.model_fingerprint == fingerprint
        and manifest.chunker == chunker
        and manifest.sources == {d.doc_id: d.content_hash for d in documents}
        and manifest.counts.get("skipped") == len(skipped)
    )


def index_documents(
    documents: list[Document], index_dir: Path, embedder: Embedder, **options
) -> BuildReport:
    """Chunk, embed and write already-loaded documents (the eval harness starts here)."""
    with writer_lock(index_dir):
        return _index_documents(documents, index_dir, embedder, **options)


def _index_documents(
    documents: list[Document],
    index_dir: Path,
    embedder: Embedder,
    *,
    skipped: list[Skipped] | None = None,
    max_tokens: int = 200,
    min_tokens: int = 64,
    progress: Progress | None = None,
    started: float | None = None,
    cache_path: Path | None = None,
) -> BuildReport:
    progress = progress or Progress()
    started = time.perf_counter() if started is None else started
    skipped = skipped or []
    _check_unique_ids(documents)
    progress.on_start("chunk", len(documents))
    chunks, texts = chunk_all(documents, embedder, max_tokens, min_tokens, progress.on_advance)
    titles = {d.doc_id: d.title for d in documents}
    spans, window_texts = windows_of(chunks, titles)
    progress.on_start("embed", len(texts) + len(window_texts))
    cache = EmbeddingCache(cache_path, embedder.fingerprint) if cache_path else None
    try:
        vectors, fresh_chunks = _embed(embedder, texts, progress, cache)
        window_vectors, fresh_windows = _embed(embedder, window_texts, progress, cache)
    finally:
        if cache is not None:
            cache.close()

    seconds = time.perf_counter() - started
    progress.on_start("write", 1)
    manifest = write_index(
        index_dir,
        documents,
        chunks,
        vectors,
        [(s.path, s.reason) for s in skipped],
        lexical_texts=texts,
        windows=(spans, window_vectors),
        model=embedder.model_name,
        model_fingerprint=embedder.fingerprint,
        chunker=chunker_config(max_tokens, min_tokens),
        build_seconds=seconds,
    )
    logger.info("indexed %d documents, %d chunks in %.1fs", len(documents), len(chunks), seconds)
    total = len(texts) + len(window_texts)
    fresh = fresh_chunks + fresh_windows
    return BuildReport(
        Path(index_dir),
        len(documents),
        len(chunks),
        skipped,
        seconds,
        manifest,
        embedded=fresh,
        reused=total - fresh,
    )


def windows_of(chunks: list[Chunk], titles: dict[str, str]) -> tuple[np.ndarray, list[str]]:
    """(rows of chunk row, start, end in the document) and the texts to embed, per window."""
    spans: list[tuple[int, int, int]] = []
    texts: list[str] = []
    for row, chunk in enumerate(chunks):
        for a, b in sentence_windows(chunk.text):
            spans.append((row, chunk.start + a, chunk.start + b))
            texts.append(f"{titles[chunk.doc_id]}\n{chunk.text[a:b]}")
    return np.array(spans, dtype=np.int64).reshape(-1, 3), texts


def _embed(
    embedder: Embedder, texts: list[str], progress: Progress, cache: EmbeddingCache | None
) -> tuple[np.ndarray, int]:
    """Vectors for ``texts`` (cached ones reused) and how many had to be computed."""
    hits, missing = cache.lookup(texts) if cache is not None else ({}, list(range(len(texts))))
    progress.on_advance(len(hits))
    todo = [texts[i] for i in missing]
    batches = []
    step = max(1, embedder.batch_size * 4)
    for i in range(0, len(todo), step):
        batches.append(embedder.encode(todo[i : i + step]))
        progress.on_advance(len(todo[i : i + step]))
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
        out[missing] = fresh
    return out, len(todo)


def _check_unique_ids(documents: list[Document]) -> None:
    seen: set[str] = set()
    for doc in documents:
        if doc.doc_id in seen:
            raise KBError(f"two documents share the id {doc.doc_id!r}")
        seen.add(doc.doc_id)
