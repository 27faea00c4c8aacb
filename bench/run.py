"""One command, side by side in one run: `python -m bench.run [--quick] [--out bench/RESULTS.md]`.

1. Build throughput and quality of our indexer against the plain baseline
   (RecursiveCharacterTextSplitter 1,000/200, SentenceTransformer fp32 encode, IndexFlatIP)
   on the ConditionalQA corpus and its dev questions.
2. Re-index time after editing one document out of 1,000 (and with nothing changed).
3. /search latency p50/p95/p99 and throughput under concurrent load from a separate
   load-generator process on loopback, at 10,000 and 100,000 chunks, and the API's peak memory.
Larger corpora are synthesised from the real ConditionalQA index: its passages and vectors are
tiled, each copy's vectors jittered (Gaussian noise, re-normalised) so no two are identical.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "datasets"


def _machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // (1024 * 1024)
    except OSError:
        mem = 0
    return f"{os.cpu_count()} cores ({cpu}), {mem} GiB RAM, {platform.platform()}, no GPU"


def bench_build(quick: bool) -> dict:
    """Our indexer against the tutorial baseline on the same corpus and questions."""
    import faiss
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from eval.datasets import load_dataset
    from eval.metrics import evidence_hit_at, mean, ndcg_at
    from eval.runner import evaluate
    from indexer.build import index_documents
    from indexer.embedding import Embedder
    from indexer.search import Searcher
    from indexer.settings import Settings

    ds = load_dataset(SHARED / "conditionalqa", "dev")
    if quick:
        ds.documents = ds.documents[:10]
        keep = {d.doc_id for d in ds.documents}
        ds.queries = {
            q: t
            for q, t in ds.queries.items()
            if set(ds.qrels.get(q, {})) <= keep and ds.qrels.get(q)
        }
    embedder = Embedder()
    embedder.warm_up()
    model = embedder.model

    started = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    base_docs, base_texts = [], []
    for doc in ds.documents:
        for piece in splitter.split_text(doc.text):
            base_docs.append(doc.doc_id)
            base_texts.append(piece)
    vectors = model.encode(
        base_texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
    ).astype(np.float32)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    base_seconds = time.perf_counter() - started

    ndcg, ev1, chars = [], [], []
    qids = [q for q in ds.queries if ds.qrels.get(q) and q not in ds.unanswerable]
    qvecs = model.encode([ds.queries[q] for q in qids], normalize_embeddings=True)
    for qid, qv in zip(qids, qvecs, strict=True):
        _, rows = flat.search(np.asarray([qv], np.float32), min(50, len(base_texts)))
        ranked: list[str] = []
        for r in rows[0]:
            if base_docs[r] not in ranked:
                ranked.append(base_docs[r])
        ndcg.append(ndcg_at(ranked, ds.qrels[qid], 10))
        if ds.evidence.get(qid):
            ev1.append(evidence_hit_at([base_texts[rows[0][0]]], ds.evidence[qid], 1))
        chars.append(len(base_texts[rows[0][0]]))

    out_dir = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    settings = Settings()
    started = time.perf_counter()
    report = index_documents(
        ds.documents,
        out_dir / "ix",
        embedder,
        max_tokens=settings.chunk_max_tokens,
        min_tokens=settings.chunk_min_tokens,
    )
    ours_seconds = time.perf_counter() - started
    ours = evaluate(ds, Searcher(out_dir / "ix", embedder, settings), "default")["metrics"]
    shutil.rmtree(out_dir, ignore_errors=True)
    windows = report.manifest.counts.get("windows", 0)
    return {
        "documents": len(ds.documents),
        "baseline": {
            "chunks": len(base_texts),
            "seconds": round(base_seconds, 1),
            "chunks_per_s": round(len(base_texts) / base_seconds, 1),
            "ndcg@10": round(mean(ndcg), 4),
            "evidence_hit@1": round(mean(ev1), 4),
            "mean_passage_chars": round(mean(chars), 1),
        },
        "ours": {
            "chunks": report.chunks,
            "windows": windows,
            "seconds": round(ours_seconds, 1),
            "chunks_per_s": round(report.chunks / ours_seconds, 1),
            "ndcg@10": ours["ndcg@10"],
            "evidence_hit@1": ours["evidence_hit@1"],
            "mean_passage_chars": ours["mean_passage_chars"],
        },
    }


def _thousand_documents(folder: Path, n: int) -> None:
    """n small Markdown documents from StackFAQ answers and ConditionalQA pages."""
    rows = []
    for name in ("stackfaq", "conditionalqa"):
        with open(SHARED / name / "corpus.jsonl", encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh]
    folder.mkdir(parents=True)
    for i in range(n):
        row = rows[i % len(rows)]
        (folder / f"doc-{i:04d}.md").write_text(
            f"# {row['title']}\n\n{row['text']}\n\nCopy {i // len(rows)}.\n", encoding="utf-8"
        )


def bench_reindex(quick: bool) -> dict:
    """Full build, no-change run and one-edit re-index of n documents, with the cache."""
    from indexer.build import build_index
    from indexer.embedding import Embedder

    n = 120 if quick else 1000
    work = Path(tempfile.mkdtemp(prefix="kb-reindex-"))
    _thousand_documents(work / "kb", n)
    embedder = Embedder()
    embedder.warm_up()
    args = {"cache_path": work / "cache.sqlite"}
    t0 = time.perf_counter()
    first = build_index(work / "kb", work / "ix", embedder, **args)
    full = time.perf_counter() - t0
    t0 = time.perf_counter()
    same = build_index(work / "kb", work / "ix", embedder, **args)
    nothing = time.perf_counter() - t0
    edited = work / "kb" / "doc-0007.md"
    edited.write_text(edited.read_text() + "\nEdited: one more sentence for the benchmark.\n")
    t0 = time.perf_counter()
    again = build_index(work / "kb", work / "ix", embedder, **args)
    one_edit = time.perf_counter() - t0
    shutil.rmtree(work, ignore_errors=True)
    return {
        "documents": n,
        "chunks": first.chunks,
        "full_build_s": round(full, 1),
        "no_change_s": round(nothing, 2),
        "no_change_detected": same.unchanged,
        "one_edit_s": round(one_edit, 2),
        "one_edit_embedded": again.embedded,
        "one_edit_reused": again.reused,
    }


def _synthetic_index(source_ix: Path, target: Path, n_chunks: int, seed: int = 0) -> None:
    """Tile a real index up to ``n_chunks`` passages with jittered vectors."""
    import sqlite3

    from indexer.documents import Chunk, Document
    from indexer.store import current_generation, read_vectors, read_windows, write_index

    rng = np.random.default_rng(seed)
    source_ix = current_generation(source_ix)
    con = sqlite3.connect(source_ix / "chunks.sqlite")
    rows = con.execute(
        'SELECT doc_id, start, "end", text, heading_path FROM chunks ORDER BY row'
    ).fetchall()
    doc_text = dict(con.execute("SELECT doc_id, text FROM documents").fetchall())
    con.close()
    base = read_vectors(source_ix)
    matrix = base.reconstruct_n(0, base.ntotal)
    spans, wvecs = read_windows(source_ix)
    manifest = json.loads((source_ix / "manifest.json").read_text())
    docs, chunks, vecs, lex, wspans, wv = [], [], [], [], [], []
    copies = -(-n_chunks // len(rows))
    for c in range(copies):
        for doc_id, text in doc_text.items():
            docs.append(
                Document(
                    f"{doc_id}#{c}",
                    f"{doc_id} copy {c}",
                    text,
                    "synthetic",
                    "md",
                    metadata={"version": "1", "effective_date": "2025-01-01"},
                )
            )
        noise = rng.normal(0, 0.02, matrix.shape).astype(np.float32)
        jittered = matrix + noise
        jittered /= np.linalg.norm(jittered, axis=1, keepdims=True)
        offset = len(chunks)
        for i, (doc_id, start, end, text, path) in enumerate(rows):
            chunks.append(Chunk(f"{doc_id}#{c}", start, end, text, tuple(json.loads(path)), (), i))
            lex.append(text)
        vecs.append(jittered)
        shifted = spans.copy()
        shifted[:, 0] += offset
        wspans.append(shifted)
        wv.append(wvecs)
    vectors = np.concatenate(vecs)[:n_chunks]
    chunks = chunks[:n_chunks]
    keep_docs = {c.doc_id for c in chunks}
    docs = [d for d in docs if d.doc_id in keep_docs]
    all_spans = np.concatenate(wspans)
    mask = all_spans[:, 0] < n_chunks
    write_index(
        target,
        docs,
        chunks,
        vectors,
        [],
        lexical_texts=lex[:n_chunks],
        windows=(all_spans[mask], np.concatenate(wv)[mask]),
        model=manifest["model"],
        model_fingerprint=manifest["model_fingerprint"],
        chunker=manifest["chunker"],
        build_seconds=0.0,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    return 0


def bench_latency(sizes: list[int], seconds: float, concurrency: int) -> list[dict]:
    """Serve synthetic indexes and load them from a separate process."""
    from eval.datasets import load_dataset
    from indexer.build import index_documents
    from indexer.embedding import Embedder

    work = Path(tempfile.mkdtemp(prefix="kb-latency-"))
    ds = load_dataset(SHARED / "conditionalqa", "dev")
    index_documents(ds.documents, work / "real", Embedder())
    queries = list(ds.queries.values())
    (work / "queries.json").write_text(json.dumps(queries))
    out = []
    for size in sizes:
        target = work / f"ix-{size}"
        _synthetic_index(work / "real", target, size)
        port = _free_port()
        env = {**os.environ, "KB_INDEX_DIR": str(target), "HF_HUB_OFFLINE": "1"}
        server = subprocess.Popen(
            [sys.executable, "-m", "kb_cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(240):
                try:
                    with urllib.request.urlopen(url + "/health", timeout=1) as r:
                        if json.loads(r.read()).get("status") == "ok":
                            break
                except OSError:
                    time.sleep(0.5)
            rss_idle = _rss_kib(server.pid, "VmRSS")
            load = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "bench.loadgen",
                    url + "/search",
                    str(work / "queries.json"),
                    str(seconds),
                    str(concurrency),
                ],
                capture_output=True,
                text=True,
                timeout=seconds + 120,
                check=True,
            )
            result = json.loads(load.stdout)
            lat = np.array(result["latencies_ms"])
            out.append(
                {
                    "chunks": size,
                    "requests": int(lat.size),
                    "errors": result["errors"],
                    "concurrency": concurrency,
                    "throughput_rps": round(lat.size / result["seconds"], 1),
                    "p50_ms": round(float(np.percentile(lat, 50)), 1),
                    "p95_ms": round(float(np.percentile(lat, 95)), 1),
                    "p99_ms": round(float(np.percentile(lat, 99)), 1),
                    "rss_idle_mib": round(rss_idle / 1024, 1),
                    "peak_rss_mib": round(_rss_kib(server.pid, "VmHWM") / 1024, 1),
                }
            )
        finally:
            server.terminate()
            server.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)
    return out


def render(results: dict, command: str) -> str:
    b, r = results["build"], results["reindex"]
    lines = [
        "# Benchmark results",
        "",
        f"Command: `{command}`  ",
        f"Date: {results['date']}  ",
        f"Machine: {results['machine']}  ",
        "Shared, noisy machines: compare the ratios measured side by side in one run, not the "
        "absolute numbers across runs.",
        "",
        f"## Build: our indexer vs the plain baseline ({b['documents']} ConditionalQA pages)",
        "",
        "| pipeline | passages | sentence windows | seconds | passages/s | ndcg@10 | evidence_hit@1 | mean passage chars |",
        "|---|---|---|---|---|---|---|---|",
        f"| baseline (recursive 1000/200, ST fp32, FlatIP) | {b['baseline']['chunks']} | - | "
        f"{b['baseline']['seconds']} | {b['baseline']['chunks_per_s']} | {b['baseline']['ndcg@10']} | "
        f"{b['baseline']['evidence_hit@1']} | {b['baseline']['mean_passage_chars']} |",
        f"| ours (structure-aware, windows, BM25) | {b['ours']['chunks']} | {b['ours']['windows']} | "
        f"{b['ours']['seconds']} | {b['ours']['chunks_per_s']} | {b['ours']['ndcg@10']} | "
        f"{b['ours']['evidence_hit@1']} | {b['ours']['mean_passage_chars']} |",
        "",
        f"Build time ratio ours/baseline: {b['ours']['seconds'] / max(b['baseline']['seconds'], 1e-9):.2f}x "
        "(above 1: ours is slower) "
        f"(whole-corpus wall time, same machine, same run).",
        "",
        f"## Re-index ({r['documents']} documents, {r['chunks']} passages, embedding cache on)",
        "",
        "| run | seconds | embedded | reused |",
        "|---|---|---|---|",
        f"| full build | {r['full_build_s']} | all | 0 |",
        f"| nothing changed | {r['no_change_s']} | 0 | - (detected: {r['no_change_detected']}) |",
        f"| one document edited | {r['one_edit_s']} | {r['one_edit_embedded']} | {r['one_edit_reused']} |",
        "",
        "## /search under load (separate load-generator process, loopback)",
        "",
        "| chunks | concurrency | requests | errors | req/s | p50 ms | p95 ms | p99 ms | API RSS idle MiB | API peak RSS MiB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in results["latency"]:
        lines.append(
            f"| {x['chunks']} | {x['concurrency']} | {x['requests']} | {x['errors']} | "
            f"{x['throughput_rps']} | {x['p50_ms']} | {x['p95_ms']} | {x['p99_ms']} | "
            f"{x['rss_idle_mib']} | {x['peak_rss_mib']} |"
        )
    lat = results["latency"]
    if len(lat) >= 2:
        per = (
            (lat[-1]["rss_idle_mib"] - lat[0]["rss_idle_mib"])
            * 1024
            / (lat[-1]["chunks"] - lat[0]["chunks"])
        )
        lines += [
            "",
            f"Memory per chunk (idle RSS slope between the two sizes): {per:.1f} KiB "
            "(vectors of the passage and its sentence windows, BM25 postings, chunk metadata).",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sizes = [500, 2000] if args.quick else [10_000, 100_000]
    results = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
        "machine": _machine(),
        "build": bench_build(args.quick),
        "reindex": bench_reindex(args.quick),
        "latency": bench_latency(sizes, 3.0 if args.quick else args.seconds, args.concurrency),
    }
    command = "python -m bench.run" + (" --quick" if args.quick else "")
    Path(args.out).write_text(render(results, command), encoding="utf-8")
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
