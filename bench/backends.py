"""Local files against PostgreSQL + pgvector on the shared sets, side by side in one run.

`python -m bench.backends [--out bench/BACKENDS.md]`: indexes each set into both backends with
the same model and settings (vectors embedded once, through the embedding cache), evaluates
every mode on both with `eval.runner.evaluate`, and reports ndcg@10 and evidence_hit@1 with
their differences, plus the median search time of each backend in this run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench.run import REPO, SHARED, _machine

SETS = [("conditionalqa", "dev"), ("stackfaq", None), ("policyqa", "dev"), ("kb", None)]
MODES = ("dense", "bm25", "hybrid")


class _Timed:
    """A searcher wrapper that records how long each search takes."""

    def __init__(self, searcher) -> None:
        self.searcher, self.ms = searcher, []

    def search(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return self.searcher.search(*args, **kwargs)
        finally:
            self.ms.append((time.perf_counter() - t0) * 1000)


def main() -> int:
    import psycopg

    from eval.datasets import load_dataset
    from eval.runner import evaluate
    from indexer import pgdev, pgstore
    from indexer.build import index_documents
    from indexer.embedding import Embedder
    from indexer.search import open_searcher
    from indexer.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m bench.backends")
    parser.add_argument("--out", default=str(REPO / "bench" / "BACKENDS.md"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kb-backends-"))
    settings = Settings()
    embedder = Embedder.from_settings(settings)
    server = pgdev.start(work / "pg", keep_running=False)
    rows = []
    try:
        for name, split in SETS:
            folder = REPO / "kb" if name == "kb" else SHARED / name
            ds = load_dataset(folder, split)
            db = f"bench_{name}"
            with psycopg.connect(server, autocommit=True) as con:
                con.execute(f"CREATE DATABASE {db}")
            url = server.replace("/postgres?", f"/{db}?")
            pgstore.migrate(url)
            options = {
                "max_tokens": settings.chunk_max_tokens,
                "min_tokens": settings.chunk_min_tokens,
                "windows": settings.window_vectors,
                "cache_path": work / "embed-cache.sqlite",
            }
            index_documents(ds.documents, work / name, embedder, **options)
            index_documents(ds.documents, url, embedder, **options)
            for backend, target in (("local", work / name), ("postgres", url)):
                timed = _Timed(open_searcher(target, embedder, settings))
                for mode in MODES:
                    metrics = evaluate(ds, timed, mode)["metrics"]
                    rows.append(
                        {
                            "set": name,
                            "backend": backend,
                            "mode": mode,
                            "ndcg@10": metrics["ndcg@10"],
                            "evidence_hit@1": metrics.get("evidence_hit@1"),
                            "median_ms": round(statistics.median(timed.ms), 1),
                        }
                    )
                    timed.ms.clear()
                timed.searcher.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    Path(args.out).write_text(render(rows), encoding="utf-8")
    return 0


def render(rows: list[dict]) -> str:
    by = {(r["set"], r["backend"], r["mode"]): r for r in rows}
    lines = [
        "# Backends: local files against PostgreSQL + pgvector",
        "",
        "Command: `python -m bench.backends`  ",
        f"Date: {dt.datetime.now(dt.UTC).isoformat(timespec='minutes')}  ",
        f"Machine: {_machine()}  ",
        "Same model, settings and vectors on both; median in-process search time per query from "
        "the same run (shared machine: compare the two columns, not across runs).",
        "",
        "| set | mode | ndcg@10 local | ndcg@10 postgres | diff | evidence_hit@1 local "
        "| evidence_hit@1 postgres | diff | median ms local | median ms postgres |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, _ in SETS:
        for mode in MODES:
            a, b = by[(name, "local", mode)], by[(name, "postgres", mode)]
            ev_a, ev_b = a["evidence_hit@1"], b["evidence_hit@1"]
            ev_diff = f"{ev_b - ev_a:+.4f}" if ev_a is not None else "-"
            lines.append(
                f"| {name} | {mode} | {a['ndcg@10']} | {b['ndcg@10']} | "
                f"{b['ndcg@10'] - a['ndcg@10']:+.4f} | {ev_a if ev_a is not None else '-'} | "
                f"{ev_b if ev_b is not None else '-'} | {ev_diff} | {a['median_ms']} | "
                f"{b['median_ms']} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
