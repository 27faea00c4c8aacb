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
from indexer.embedding import Embedder
from indexer.errors import KBError
from indexer.loaders import Skipped, iter_source_files, load_directory
from indexer.store import Manifest, write_index

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


def build_index(
    source: Path,
    index_dir: Path,
    embedder: Embedder,
    *,
    max_tokens: int = 200,
    min_tokens: int = 64,
    progress: Progress | None = None,
) -> BuildReport:
    """Index every readable document under ``source`` into ``index_dir`` (replacing it)."""
    progress = progress or Progress()
    started = time.perf_counter()
    source = Path(source)
    if not source.exists():
        raise KBError(f"nothing to index: {source} does not exist")
    files = list(iter_source_files(source))
    progress.on_start("load", len(files))
    documents, skipped = load_directory(source, on_file=lambda _p: progress.on_advance(1))
    if not documents:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:5])
        raise KBError(
            f"no readable documents under {source}" + (f" ({reasons})" if reasons else "")
        )
    return index_documents(
        documents,
        index_dir,
        embedder,
        skipped=skipped,
        max_tokens=max_tokens,
        min_tokens=min_tokens,
        progress=progress,
        started=started,
    )


def index_documents(
    documents: list[Document],
    index_dir: Path,
    embedder: Embedder,
    *,
    skipped: list[Skipped] | None = None,
    max_tokens: int = 200,
    min_tokens: int = 64,
    progress: Progress | None = None,
    started: float | None = None,
) -> BuildReport:
    """Chunk, embed and write already-loaded documents (the eval harness starts here)."""
    progress = progress or Progress()
    started = time.perf_counter() if started is None else started
    skipped = skipped or []
    _check_unique_ids(documents)
    progress.on_start("chunk", len(documents))
    chunks, texts = chunk_all(documents, embedder, max_tokens, min_tokens, progress.on_advance)
    titles = {d.doc_id: d.title for d in documents}
    spans, window_texts = windows_of(chunks, titles)
    progress.on_start("embed", len(texts) + len(window_texts))
    vectors = _embed(embedder, texts, progress)
    window_vectors = _embed(embedder, window_texts, progress)

    seconds = time.perf_counter() - started
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
        chunker={"version": CHUNKER_VERSION, "max_tokens": max_tokens, "min_tokens": min_tokens},
        build_seconds=seconds,
    )
    logger.info("indexed %d documents, %d chunks in %.1fs", len(documents), len(chunks), seconds)
    return BuildReport(Path(index_dir), len(documents), len(chunks), skipped, seconds, manifest)


def windows_of(chunks: list[Chunk], titles: dict[str, str]) -> tuple[np.ndarray, list[str]]:
    """(rows of chunk row, start, end in the document) and the texts to embed, per window."""
    spans: list[tuple[int, int, int]] = []
    texts: list[str] = []
    for row, chunk in enumerate(chunks):
        for a, b in sentence_windows(chunk.text):
            spans.append((row, chunk.start + a, chunk.start + b))
            texts.append(f"{titles[chunk.doc_id]}\n{chunk.text[a:b]}")
    return np.array(spans, dtype=np.int64).reshape(-1, 3), texts


def _embed(embedder: Embedder, texts: list[str], progress: Progress) -> np.ndarray:
    batches = []
    step = max(1, embedder.batch_size * 4)
    for i in range(0, len(texts), step):
        batches.append(embedder.encode(texts[i : i + step]))
        progress.on_advance(len(texts[i : i + step]))
    return np.concatenate(batches) if batches else np.zeros((0, embedder.dimension), np.float32)


def _check_unique_ids(documents: list[Document]) -> None:
    seen: set[str] = set()
    for doc in documents:
        if doc.doc_id in seen:
            raise KBError(f"two documents share the id {doc.doc_id!r}")
        seen.add(doc.doc_id)
