"""Evaluation runs for the evaluator page, over eval.runner / eval.report / eval.charts.

Runs use the serving embedder (the model the API answers with), so the evaluator measures what
agents get; indexes are cached per corpus and configuration like ``kb eval`` does.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Any

from eval.charts import write_chart
from eval.datasets import load_dataset
from eval.report import markdown_table
from eval.runner import cached_index, evaluate
from indexer.errors import InvalidQueryError
from indexer.search import Searcher
from indexer.settings import Settings

MODES = ("default", "dense", "bm25", "hybrid")


def available_datasets(kb_dir: Path, datasets_dir: Path) -> dict[str, dict[str, Any]]:
    """Labelled sets by name: the knowledge base's own and each folder of ``datasets_dir``."""
    found: dict[str, dict[str, Any]] = {}
    candidates = [("kb", Path(kb_dir))]
    if Path(datasets_dir).is_dir():
        candidates += [(p.name, p) for p in sorted(Path(datasets_dir).iterdir()) if p.is_dir()]
    for name, folder in candidates:
        splits = []
        for q in sorted(folder.glob("queries*.jsonl")):
            parts = q.name.split(".")
            split = parts[1] if len(parts) == 3 else None
            if (folder / f"qrels{'.' + split if split else ''}.tsv").is_file():
                splits.append(split)
        if splits:
            found[name] = {"name": name, "path": str(folder), "splits": splits}
    return found


def run(
    folder: Path,
    split: str | None,
    modes: list[str],
    embedder: Any,
    settings: Settings,
    cache_root: Path,
) -> dict[str, Any]:
    """Metrics per mode, a markdown table, a PNG chart (base64) and a per-query drill-down."""
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise InvalidQueryError(f"modes must be some of {', '.join(MODES)}")
    dataset = load_dataset(folder, split)
    searcher = Searcher(cached_index(dataset, embedder, settings, cache_root), embedder, settings)
    try:
        results = {
            "dataset": dataset.name,
            "split": dataset.split,
            "results": {mode: evaluate(dataset, searcher, mode) for mode in modes},
        }
    finally:
        searcher.close()
    for block in results["results"].values():
        for row in block["per_query"]:
            row["evidence"] = dataset.evidence.get(row["query_id"], [])
            hits = [i for i, d in enumerate(row["ranked_docs"], start=1) if d in row["relevant"]]
            row["first_relevant_rank"] = hits[0] if hits else None
    with tempfile.TemporaryDirectory() as tmp:
        png = write_chart(results, Path(tmp) / "chart.png").read_bytes()
    results["table_md"] = markdown_table(results)
    results["chart_png"] = base64.b64encode(png).decode("ascii")
    return results
