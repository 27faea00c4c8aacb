"""Run a dataset's queries through a Searcher and score them, per query and on average.

The result has the shape other tools read:
``{"dataset", "split", "config": {...}, "results": {MODE: {"metrics": {NAME: value},
"per_query": [...], "left_out": [qid, ...], "unanswerable": [...]}}}``; a metric with nothing
to average is None ("n/a"). ``config`` says what was measured (model, chunker, settings).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from eval.datasets import Dataset
from eval.metrics import (
    evidence_hits,
    highlight_hit,
    hit_at,
    mean,
    mean_or_none,
    mrr_at,
    ndcg_at,
    recall_at,
)
from indexer import embedding
from indexer.build import Progress, index_documents
from indexer.chunking import CHUNKER_VERSION
from indexer.embedding import Embedder
from indexer.errors import IndexCorruptError, KBError
from indexer.lexical import TERMS_VERSION
from indexer.loaders import loader_stamp
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.store import FORMAT_VERSION, read_manifest, writer_lock

logger = logging.getLogger(__name__)

SHARED_SETS = (("conditionalqa", "dev"), ("stackfaq", None), ("policyqa", "dev"))
CANDIDATE_PASSAGES = 50  # chunks fetched per query to rank documents by their best chunk
DOC_METRICS = (
    ("recall@1", recall_at, 1),
    ("recall@5", recall_at, 5),
    ("recall@10", recall_at, 10),
    ("hit@1", hit_at, 1),
    ("mrr@10", mrr_at, 10),
    ("ndcg@10", ndcg_at, 10),
)
EVIDENCE_KS = (1, 3, 5)


CACHE_KEEP_S = 30 * 86400  # a cached index no evaluation has used for this long is removed
USED_MARK = ".used"  # touched in a cached index's folder each time an evaluation uses it


def _last_used(entry: Path) -> float:
    mark = entry / USED_MARK
    return mark.stat().st_mtime if mark.exists() else entry.stat().st_mtime


def prune_cache(cache_root: Path, keep: Path, now: float | None = None) -> list[Path]:
    """Remove the cached indexes no evaluation has used for ``CACHE_KEEP_S``, except ``keep``.

    Each new corpus version, chunker or model adds a cached index and nothing else ever reads
    the old one again: without this the cache only grows (tens of MB per set and version).
    Only index folders (with a ``CURRENT`` pointer) are touched; other files stay.
    """
    now = time.time() if now is None else now
    removed = []
    for entry in sorted(Path(cache_root).iterdir()):
        if entry == keep or not (entry / "CURRENT").is_file():
            continue
        try:
            if now - _last_used(entry) > CACHE_KEEP_S:
                shutil.rmtree(entry)
                removed.append(entry)
        except OSError as exc:  # in use on another system, gone meanwhile: try another day
            logger.warning("could not remove the cached index %s: %s", entry, exc)
    if removed:
        logger.info(
            "removed %d cached indexes unused for %d days", len(removed), CACHE_KEEP_S // 86400
        )
    return removed


def cached_index(
    dataset: Dataset,
    embedder: Embedder,
    settings: Settings,
    cache_root: Path,
    progress: Progress | None = None,
) -> Path:
    """Index the dataset's corpus once per (corpus, model, chunker settings)."""
    key = "-".join(
        [
            dataset.name,
            dataset.corpus_hash,
            hashlib.sha256(embedder.fingerprint.encode()).hexdigest()[:12],
            settings.window_vectors,
            CHUNKER_VERSION,
            loader_stamp().hex()[:12],  # corpus text becomes documents through the loaders
            str(settings.chunk_max_tokens),
            str(settings.chunk_min_tokens),
            f"f{FORMAT_VERSION}",
            f"t{TERMS_VERSION}",
            *([f"ann{settings.ann_min_chunks}"] if settings.ann_min_chunks else []),
        ]
    )
    index_dir = cache_root / key
    # Checked and built under the writer's lock: a run that finds another building this index
    # stops with "locked" instead of measuring its half-built generations.
    with writer_lock(index_dir):
        if _complete(index_dir, settings):
            logger.info("using cached index %s", index_dir)
        else:
            index_documents(
                dataset.documents,
                index_dir,
                embedder,
                max_tokens=settings.chunk_max_tokens,
                min_tokens=settings.chunk_min_tokens,
                windows=settings.window_vectors,
                progress=progress,
                early_windows=settings.early_windows,
                # past the threshold agents are served the approximate (IVF) search: measure it
                ann_min_chunks=settings.ann_min_chunks,
            )
            prune_cache(cache_root, index_dir)  # a new index: a good time to drop unused ones
    (index_dir / USED_MARK).touch()
    return index_dir


def _complete(index_dir: Path, settings: Settings) -> bool:
    """Whether a cached index is there and whole. A build stopped (Ctrl-C, Cancel) after its
    early generation, whose sentence windows are pooled from their passages, left that
    generation published: measured, it read as a regression of every first-passage metric."""
    try:
        manifest = read_manifest(index_dir)
    except KBError:
        return False
    return manifest.chunker.get("windows", "separate") == settings.window_vectors


def first_rank(flags: list[bool]) -> int | None:
    """The 1-based rank of the first true flag, None when there is none."""
    return next((i for i, hit in enumerate(flags, start=1) if hit), None)


class Ranked(NamedTuple):
    """What one question got: documents ranked by their best passage, passages in rank order,
    the first passage's highlighted sentence, and whether the system called it answerable."""

    docs: list[str]
    passages: list[str]
    highlight: str
    answerable: bool
    passage_docs: list[str]  # the document of each passage


def run_query(
    searcher: Searcher, text: str, mode: str | None = None, top_k: int = CANDIDATE_PASSAGES
) -> Ranked:
    """One question through the searcher, as an evaluator scores it."""
    response = searcher.search(text, top_k=top_k, mode=mode)
    docs: list[str] = []
    for r in response.results:
        if r.doc_id not in docs:
            docs.append(r.doc_id)
    first = response.results[0].highlight.text if response.results else ""
    return Ranked(
        docs,
        [r.text for r in response.results],
        first,
        response.answerable,
        [r.doc_id for r in response.results],
    )


def judged_relevant(qrels: dict[str, int] | None) -> dict[str, int]:
    """The documents judged relevant: a relevance of 0 is a judgement of "not relevant"."""
    return {doc_id: rel for doc_id, rel in (qrels or {}).items() if rel > 0}


def left_out_queries(dataset: Dataset) -> list[str]:
    """Answerable questions with no document judged relevant: nothing to score them against,
    so they are counted and reported, not scored 0 (which would read as a retrieval miss)."""
    return [
        qid
        for qid in dataset.queries
        if qid not in dataset.unanswerable and not judged_relevant(dataset.qrels.get(qid))
    ]


def metric_names(dataset: Dataset) -> list[str]:
    """The metrics ``evaluate`` reports for this dataset, known before anything runs, so a
    baseline can be checked against them before minutes of indexing."""
    left_out = set(left_out_queries(dataset))
    scored = [q for q in dataset.queries if q not in dataset.unanswerable and q not in left_out]
    names = [n for n, _, _ in DOC_METRICS]
    if any(dataset.evidence.get(q) for q in scored):
        names += [f"evidence_hit@{k}" for k in EVIDENCE_KS] + ["highlight_hit@1"]
    names += ["mean_passage_chars", "queries"]
    if left_out:
        names.append("queries_left_out")
    if dataset.unanswerable:
        names += ["no_answer_precision", "no_answer_recall"]
    return names


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def evaluate(
    dataset: Dataset,
    searcher: Searcher,
    mode: str = "default",
    on_question: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    """Metrics per query and their means for one mode.

    A metric with nothing to average (no scored question; no question flagged "no answer" for
    its precision) is None, shown as "n/a": a 0 there would read as a total failure.
    """
    per_query: list[dict[str, Any]] = []
    flags: list[tuple[bool, bool]] = []  # (truly unanswerable, flagged as no answer)
    left_out = left_out_queries(dataset)
    skipped = set(left_out)
    search_mode = None if mode == "default" else mode
    unanswerable: list[dict[str, Any]] = []  # what an evaluator reads the flag's misses in
    for qid, text in dataset.queries.items():
        on_question(1)
        if qid in dataset.unanswerable:
            docs, passages, _, answerable, _ = run_query(searcher, text, search_mode)
            flags.append((True, not answerable))
            unanswerable.append(
                {
                    "query_id": qid,
                    "query": text,
                    "flagged_no_answer": not answerable,
                    "ranked_docs": docs[:10],
                    "top_passages": [p[:600] for p in passages[:3]],
                }
            )
            continue
        if qid in skipped:
            continue
        relevant = judged_relevant(dataset.qrels.get(qid))
        docs, passages, highlight, answerable, passage_docs = run_query(searcher, text, search_mode)
        flags.append((False, not answerable))
        evidence = dataset.evidence.get(qid) or []
        named = dataset.evidence_of(qid)
        hits = evidence_hits(list(zip(passage_docs, passages, strict=True)), named)
        row: dict[str, Any] = {
            "query_id": qid,
            "query": text,
            "ranked_docs": docs[:10],
            "relevant": sorted(relevant),
            # Over every document retrieved, not the ten shown: 12 is not "never found".
            "first_relevant_rank": first_rank([d in relevant for d in docs]),
            "evidence": evidence,
            "evidence_rank": first_rank(hits) if evidence else None,
            "flagged_no_answer": not answerable,
            "top_passages": [p[:600] for p in passages[:3]],  # what an agent would have read
            "highlight": highlight,
        }
        for name, fn, k in DOC_METRICS:
            row[name] = fn(docs, relevant, k)
        if evidence:
            for k in EVIDENCE_KS:
                row[f"evidence_hit@{k}"] = float(any(hits[:k]))
            first_doc = passage_docs[0] if passage_docs else ""
            own = [text for doc, text in named if doc in ("", first_doc)]
            row["highlight_hit@1"] = highlight_hit(highlight, own)
        row["passage_chars"] = mean([len(p) for p in passages[:5]])
        per_query.append(row)
    if left_out:
        logger.info(
            "%s: %d questions have no document judged relevant; left out of the metrics",
            mode,
            len(left_out),
        )
    metrics: dict[str, Any] = {}
    for name in metric_names(dataset):
        if name == "mean_passage_chars":
            metrics[name] = _rounded(mean_or_none([r["passage_chars"] for r in per_query]), 1)
        elif name == "queries":
            metrics[name] = len(per_query)
        elif name == "queries_left_out":
            metrics[name] = len(left_out)
        elif name == "no_answer_precision":
            flagged = sum(f for _, f in flags)
            correct = sum(t and f for t, f in flags)
            metrics[name] = round(correct / flagged, 4) if flagged else None
        elif name == "no_answer_recall":
            correct = sum(t and f for t, f in flags)
            metrics[name] = round(correct / len(dataset.unanswerable), 4)
        else:
            metrics[name] = _rounded(mean_or_none([r[name] for r in per_query if name in r]), 4)
    return {
        "metrics": metrics,
        "per_query": per_query,
        "left_out": left_out,
        "unanswerable": unanswerable,
    }


def run_modes(
    dataset: Dataset,
    modes: list[str],
    settings: Settings,
    cache_root: Path,
    progress: Progress | None = None,
    embedder: Embedder | None = None,
) -> dict[str, Any]:
    """Index (cached) and evaluate a loaded dataset in several modes, in one run.

    ``embedder`` is the model to measure (the API passes the one it serves), else the
    settings' own.
    """
    progress = progress or Progress()
    settings = fit_candidates(fit_questions(dataset, settings))
    # Looked up when called, not bound at import: whoever imports this module first (the API,
    # through the evaluator page) must not decide which Embedder every later run gets.
    embedder = embedder or embedding.Embedder.from_settings(settings)
    index_dir = cached_index(dataset, embedder, settings, cache_root, progress)
    try:
        searcher = Searcher(index_dir, embedder, settings)
    except IndexCorruptError as exc:  # a damaged cache entry is built again, not a dead end
        logger.warning("the cached index %s is damaged (%s): building it again", index_dir, exc)
        shutil.rmtree(index_dir, ignore_errors=True)
        index_dir = cached_index(dataset, embedder, settings, cache_root, progress)
        searcher = Searcher(index_dir, embedder, settings)
    try:
        progress.on_start("questions", len(dataset.queries) * len(modes))
        results = {mode: evaluate(dataset, searcher, mode, progress.on_advance) for mode in modes}
        return {
            "dataset": dataset.name,
            "split": dataset.split,
            "config": run_config(dataset, settings, embedder),
            "results": results,
        }
    finally:
        searcher.close()


def run_config(dataset: Dataset, settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """What a run measured, for its report and to explain a change against a baseline."""
    return {
        "model": embedder.fingerprint,
        "export": (embedder.export_sha256 or "")[:12] or None,
        "default_mode": settings.search_mode,
        "chunker": CHUNKER_VERSION,
        "chunk_tokens": [settings.chunk_max_tokens, settings.chunk_min_tokens],
        "window_vectors": settings.window_vectors,
        "window_weight": settings.window_weight,
        "lexical_boost": settings.lexical_boost,
        "lexical_reach": settings.lexical_reach,
        "lexical_peak_floor": settings.lexical_peak_floor,
        "document_support": settings.document_support,
        "per_section": settings.per_section,
        "expand_acronyms": settings.expand_acronyms,
        "spell_correction": settings.spell_correction,
        "answerable_threshold": settings.answerable_threshold,
        "candidate_passages": CANDIDATE_PASSAGES,
        "market_names": settings.market_names,
        "question_versions": settings.question_versions,
        "in_force_weight": settings.in_force_weight,
        "date_order": settings.date_order,
        "ann": [settings.ann_min_chunks, settings.ann_nprobe, settings.ann_candidates],
        "documents": len(dataset.documents),
        "corpus_hash": dataset.corpus_hash,
        "labels_hash": dataset.labels_hash,
        "labels_from": dataset.labels_from,
    }


def fit_candidates(settings: Settings) -> Settings:
    """Settings whose top_k limit admits the passages each question fetches: the limit
    (KB_MAX_TOP_K) guards the API, and below CANDIDATE_PASSAGES every question would fail
    after minutes of indexing."""
    if settings.max_top_k >= CANDIDATE_PASSAGES:
        return settings
    return settings.model_copy(update={"max_top_k": CANDIDATE_PASSAGES})


def fit_questions(dataset: Dataset, settings: Settings) -> Settings:
    """Settings whose query limit admits every question of the set.

    The limit guards the API against costly requests; a labelled set with long questions (a
    question with the asker's whole scenario) is still worth measuring, so the run says so
    instead of failing on its first long question after minutes of indexing.
    """
    lengths = [len(" ".join(text.split())) for text in dataset.queries.values()]
    too_long = [n for n in lengths if n > settings.max_query_chars]
    if not too_long:
        return settings
    logger.warning(
        "%d question(s) are longer than KB_MAX_QUERY_CHARS (%d; the longest has %d "
        "characters): the limit is raised for this evaluation, the API would refuse them",
        len(too_long),
        settings.max_query_chars,
        max(too_long),
    )
    return settings.model_copy(update={"max_query_chars": max(too_long)})


def run_dataset(
    folder: Path,
    split: str | None,
    modes: list[str],
    settings: Settings,
    cache_root: Path,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Load, index (cached) and evaluate one dataset in several modes, in one run."""
    from eval.datasets import load_dataset

    return run_modes(load_dataset(folder, split), modes, settings, cache_root, progress)
