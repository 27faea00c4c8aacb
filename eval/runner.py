"""Run a dataset's queries through a Searcher and score them, per query and on average.

The result has the shape other tools read:
``{"dataset", "split", "results": {MODE: {"metrics": {NAME: value}, "per_query": [...]}}}``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from eval.datasets import Dataset
from eval.metrics import evidence_hit_at, hit_at, mean, mrr_at, ndcg_at, recall_at
from indexer.build import index_documents
from indexer.chunking import CHUNKER_VERSION
from indexer.embedding import Embedder
from indexer.errors import KBError
from indexer.lexical import TERMS_VERSION
from indexer.loaders import loader_stamp
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.store import FORMAT_VERSION, read_manifest

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


def cached_index(
    dataset: Dataset, embedder: Embedder, settings: Settings, cache_root: Path
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
        ]
    )
    index_dir = cache_root / key
    try:
        read_manifest(index_dir)
        logger.info("using cached index %s", index_dir)
    except KBError:
        index_documents(
            dataset.documents,
            index_dir,
            embedder,
            max_tokens=settings.chunk_max_tokens,
            min_tokens=settings.chunk_min_tokens,
            windows=settings.window_vectors,
        )
    return index_dir


def run_query(
    searcher: Searcher, text: str, mode: str | None = None, top_k: int = CANDIDATE_PASSAGES
) -> tuple[list[str], list[str], bool]:
    """(documents ranked by their best passage, passages in rank order, answerable flag)."""
    response = searcher.search(text, top_k=top_k, mode=mode)
    docs: list[str] = []
    for r in response.results:
        if r.doc_id not in docs:
            docs.append(r.doc_id)
    return docs, [r.text for r in response.results], response.answerable


def evaluate(dataset: Dataset, searcher: Searcher, mode: str = "default") -> dict[str, Any]:
    """Metrics per query and their means for one mode."""
    per_query: list[dict[str, Any]] = []
    flags: list[tuple[bool, bool]] = []  # (truly unanswerable, flagged as no answer)
    for qid, text in dataset.queries.items():
        relevant = dataset.qrels.get(qid)
        if qid in dataset.unanswerable:
            _docs, _passages, answerable = run_query(
                searcher, text, None if mode == "default" else mode
            )
            flags.append((True, not answerable))
            continue
        if not relevant:
            continue
        docs, passages, answerable = run_query(searcher, text, None if mode == "default" else mode)
        flags.append((False, not answerable))
        row: dict[str, Any] = {
            "query_id": qid,
            "query": text,
            "ranked_docs": docs[:10],
            "relevant": sorted(relevant),
            "top_passages": [p[:600] for p in passages[:3]],  # what an agent would have read
        }
        for name, fn, k in DOC_METRICS:
            row[name] = fn(docs, relevant, k)
        evidence = dataset.evidence.get(qid)
        if evidence:
            for k in EVIDENCE_KS:
                row[f"evidence_hit@{k}"] = evidence_hit_at(passages, evidence, k)
        row["passage_chars"] = mean([len(p) for p in passages[:5]])
        per_query.append(row)
    names = [n for n, _, _ in DOC_METRICS]
    if any("evidence_hit@1" in r for r in per_query):
        names += [f"evidence_hit@{k}" for k in EVIDENCE_KS]
    metrics = {n: round(mean([r[n] for r in per_query if n in r]), 4) for n in names}
    metrics["mean_passage_chars"] = round(mean([r["passage_chars"] for r in per_query]), 1)
    metrics["queries"] = len(per_query)
    if dataset.unanswerable:
        flagged = sum(f for _, f in flags)
        correct = sum(t and f for t, f in flags)
        metrics["no_answer_precision"] = round(correct / flagged, 4) if flagged else 0.0
        metrics["no_answer_recall"] = round(correct / len(dataset.unanswerable), 4)
    return {"metrics": metrics, "per_query": per_query}


def run_dataset(
    folder: Path, split: str | None, modes: list[str], settings: Settings, cache_root: Path
) -> dict[str, Any]:
    """Index (cached) and evaluate one dataset in several modes, in one run."""
    from eval.datasets import load_dataset

    dataset = load_dataset(folder, split)
    embedder = Embedder.from_settings(settings)
    searcher = Searcher(cached_index(dataset, embedder, settings, cache_root), embedder, settings)
    try:
        return {
            "dataset": dataset.name,
            "split": dataset.split,
            "results": {mode: evaluate(dataset, searcher, mode) for mode in modes},
        }
    finally:
        searcher.close()
