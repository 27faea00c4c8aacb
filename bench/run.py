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


# Vector instructions that change which int8 and fp32 kernels run ("AMD EPYC" names several).
ISA_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def _machine() -> str:
    cpu, flags = "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown CPU":
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
        mem = int(Path("/proc/meminfo").read_text().split()[1]) // (1024 * 1024)
    except OSError:
        mem = 0
    isa = "/".join(f for f in ISA_FLAGS if f in flags) or "no AVX2"
    return f"{os.cpu_count()} cores ({cpu}; {isa}), {mem} GiB RAM, {platform.platform()}, no GPU"


BUILD_ROUNDS = 3  # the baseline and our int8 builds alternate, so each ratio shares a minute


def _baseline_build(documents: list, model) -> tuple[float, list[str], list[str], object]:
    """The tutorial pipeline, timed: (seconds, doc id per chunk, chunk texts, FAISS index)."""
    import faiss
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    started = time.perf_counter()
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    base_docs, base_texts = [], []
    for doc in documents:
        for piece in splitter.split_text(doc.text):
            base_docs.append(doc.doc_id)
            base_texts.append(piece)
    vectors = model.encode(
        base_texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True
    ).astype(np.float32)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    return time.perf_counter() - started, base_docs, base_texts, flat


def _baseline_quality(ds, model, base_docs, base_texts, flat) -> dict:
    from eval.metrics import evidence_hit_at, mean, ndcg_at

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
    return {
        "ndcg@10": round(mean(ndcg), 4),
        "evidence_hit@1": round(mean(ev1), 4),
        "mean_passage_chars": round(mean(chars), 1),
    }


def _our_build(
    ds, emb, windows: str, settings, score: bool, early: int = 0
) -> tuple[float, dict, dict | None]:
    """Our indexer, timed (no embedding cache), and its quality when ``score``.

    With ``early`` (the ``early_windows`` threshold) the build may publish an early
    generation first: the third value then times it (seconds from the build's start until
    it was searchable) and, when ``score``, measures that generation's quality too.
    """
    from eval.runner import evaluate
    from indexer.build import Progress, index_documents
    from indexer.search import Searcher

    out_dir = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    stages: list[str] = []

    def keep_early(stage: str, total: int) -> None:
        # The windows' pass starts once the early generation is published: a copy of it is
        # scored after the build (copying a few MiB, not searching, happens inside the timing).
        stages.append(stage)
        if score and stage == "embed-windows":
            shutil.copytree(
                out_dir / "ix", out_dir / "early", ignore=shutil.ignore_patterns(".lock")
            )

    try:
        started = time.perf_counter()
        report = index_documents(
            ds.documents,
            out_dir / "ix",
            emb,
            max_tokens=settings.chunk_max_tokens,
            min_tokens=settings.chunk_min_tokens,
            windows=windows,
            early_windows=early,
            progress=Progress(on_start=keep_early),
        )
        seconds = time.perf_counter() - started
        row = {
            "backend": emb.backend,
            "windows_method": windows,
            "chunks": report.chunks,
            "windows": report.manifest.counts.get("windows", 0),
        }
        keys = ("ndcg@10", "evidence_hit@1", "mean_passage_chars")
        if score:
            metrics = evaluate(ds, Searcher(out_dir / "ix", emb, settings), "default")["metrics"]
            row.update({k: metrics[k] for k in keys})
        early_row = None
        if report.searchable_seconds is not None:
            early_row = {**row, "windows_method": "pooled, then separate"}
            early_row["seconds"] = report.searchable_seconds
            if score:
                found = Searcher(out_dir / "early", emb, settings)
                metrics = evaluate(ds, found, "default")["metrics"]
                early_row.update({k: metrics[k] for k in keys})
        return seconds, row, early_row
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def bench_build(quick: bool) -> dict:
    """Our indexer against the tutorial baseline on the same corpus and questions.

    The baseline and our int8 builds run in alternating rounds and each speed-up is taken
    within its round, then the median: on a shared machine a slow minute would otherwise
    land on one side only (one earlier run gave the baseline 39.5 s, another 27.2 s).
    """
    from eval.datasets import load_dataset
    from indexer.embedding import Embedder
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
    embedder = Embedder(backend="torch")  # the baseline's model: sentence-transformers fp32
    embedder.warm_up()
    model = embedder.model
    settings = Settings()
    fast = Embedder.from_settings(settings)  # the default: onnx-int8, exported and cached
    fast.warm_up()  # the one-off export is not part of a build's cost

    rounds = 1 if quick else BUILD_ROUNDS
    timed: dict[str, list[float]] = {"baseline": [], "ours": [], "ours_pooled": []}
    rows: dict[str, dict] = {}
    # The default build as `kb index` runs it: with an early generation when it has
    # settings.early_windows windows or more to embed (ConditionalQA's 5,000 do).
    early = settings.early_windows if settings.window_vectors == "separate" else 0
    for i in range(rounds):
        seconds, base_docs, base_texts, flat = _baseline_build(ds.documents, model)
        timed["baseline"].append(seconds)
        if i == 0:
            rows["baseline"] = {
                "chunks": len(base_texts),
                **_baseline_quality(ds, model, base_docs, base_texts, flat),
            }
        for label, windows in (("ours", settings.window_vectors), ("ours_pooled", "pooled")):
            seconds, row, early_row = _our_build(
                ds, fast, windows, settings, score=i == 0, early=early if label == "ours" else 0
            )
            timed[label].append(seconds)
            rows.setdefault(label, row)
            if early_row is not None:
                timed.setdefault("ours_early", []).append(early_row["seconds"])
                rows.setdefault("ours_early", early_row)
    # fp32 through our pipeline is a quality reference, timed once, in one generation.
    seconds, rows["ours_fp32"], _ = _our_build(
        ds, embedder, settings.window_vectors, settings, True
    )
    timed["ours_fp32"] = [seconds]
    base = timed["baseline"]
    for label, row in rows.items():
        runs = timed[label]
        row["seconds"] = round(float(np.median(runs)), 1)
        row["runs_s"] = [round(x, 1) for x in runs]
        row["chunks_per_s"] = round(row["chunks"] / row["seconds"], 1)
        if label == "baseline":
            continue
        # Per round: the baseline's time in that round over this row's (fp32, timed once:
        # the baseline's median over its one time).
        if len(runs) == len(base):
            ratios = [b / r for b, r in zip(base, runs, strict=True)]
        else:
            ratios = [float(np.median(base)) / runs[0]]
        row["speedup"] = round(float(np.median(ratios)), 2)
        row["speedups"] = [round(x, 2) for x in ratios]
    return {"documents": len(ds.documents), "rounds": rounds, **rows}


def _thousand_documents(folder: Path, n: int) -> int:
    """n small documents: one copy of kb/'s PDF and DOCX files (with their sidecars) per 100,
    the rest Markdown from StackFAQ answers and ConditionalQA pages. Returns how many are PDF
    or DOCX: parsing those, not Markdown, is what a re-index of a real knowledge base pays."""
    rows = []
    for name in ("stackfaq", "conditionalqa"):
        with open(SHARED / name / "corpus.jsonl", encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh]
    folder.mkdir(parents=True)
    binary = sorted(p for p in (REPO / "kb").rglob("*") if p.suffix in (".pdf", ".docx"))
    copies = 0
    for k in range(n // 100):
        for path in binary:
            target = folder / f"copy-{k}" / path.relative_to(REPO / "kb")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
            sidecar = path.with_name(path.name + ".meta.yaml")
            if sidecar.is_file():
                shutil.copy2(sidecar, target.with_name(sidecar.name))
            copies += 1
    for i in range(n - copies):
        row = rows[i % len(rows)]
        (folder / f"doc-{i:04d}.md").write_text(
            f"# {row['title']}\n\n{row['text']}\n\nCopy {i // len(rows)}.\n", encoding="utf-8"
        )
    return copies


def bench_reindex(quick: bool) -> dict:
    """Full build, no-change run and one-edit re-index of n documents, with the cache, into
    the local files and into postgres; then the time from saving an edit to seeing it in
    /search with `kb index --watch` and the API running as separate processes."""
    from indexer.embedding import Embedder
    from indexer.settings import Settings

    n = 120 if quick else 1000
    work = Path(tempfile.mkdtemp(prefix="kb-reindex-"))
    binary = _thousand_documents(work / "kb", n)
    settings = Settings()
    embedder = Embedder.from_settings(settings)
    embedder.warm_up()
    args = {"cache_path": work / "cache.sqlite", "windows": settings.window_vectors}
    local = _one_shot_runs(work / "kb", work / "ix", embedder, args, "doc-0007.md")
    visible = _edit_to_search(work, rounds=5)
    database = _reindex_postgres(work, embedder, args)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "documents": n,
        "pdf_docx": binary,
        **local,
        "edit_to_search_s": visible,
        "postgres": database,
    }


def _one_shot_runs(kb: Path, target: Path | str, embedder, args: dict, edit: str) -> dict:
    """A first build, a run with nothing changed, and one after editing ``kb/edit``."""
    from indexer.build import build_index

    def timed():
        t0 = time.perf_counter()
        return build_index(kb, target, embedder, **args), time.perf_counter() - t0

    first, full = timed()
    same, nothing = timed()
    edited = kb / edit
    edited.write_text(edited.read_text() + "\nEdited: one more sentence for the benchmark.\n")
    again, one_edit = timed()
    return {
        "chunks": first.chunks,
        "full_build_s": round(full, 1),
        "full_build_embedded": first.embedded,
        "no_change_s": round(nothing, 2),
        "no_change_detected": same.unchanged,
        "one_edit_s": round(one_edit, 2),
        "one_edit_embedded": again.embedded,
        "one_edit_reused": again.reused,
    }


def _reindex_postgres(work: Path, embedder, args: dict) -> dict:
    """The same one-shot runs into the postgres backend (vectors from the same cache)."""
    from indexer import pgdev, pgstore

    url = pgdev.start(work / "pg", keep_running=False)
    try:
        pgstore.migrate(url)
        return _one_shot_runs(work / "kb", url, embedder, args, "doc-0008.md")
    finally:
        pgdev.stop(work / "pg")


def _edit_to_search(work: Path, rounds: int) -> list[float]:
    """Seconds from saving an edited document to /search returning the new sentence."""
    env = {
        **os.environ,
        "KB_INDEX_DIR": str(work / "ix"),
        "KB_EMBED_CACHE_PATH": str(work / "cache.sqlite"),
        "HF_HUB_OFFLINE": "1",
    }
    port = _free_port()
    server = _serve(env, port, work)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "kb_cli.main", "index", str(work / "kb"), "--watch", "-q"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    seconds = []
    try:
        for line in watcher.stdout:
            if line.startswith("Watching"):
                break
        for k in range(rounds):
            marker = f"zebracrossing{k}refund{os.getpid()}"
            target = work / "kb" / f"doc-{100 + k:04d}.md"
            body = json.dumps({"query": f"{marker} rule", "top_k": 3, "mode": "bm25"}).encode()
            saved = time.perf_counter()
            target.write_text(target.read_text() + f"\nThe {marker} rule applies from today.\n")
            while time.perf_counter() - saved < 60:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/search", body, {"content-type": "application/json"}
                )
                with urllib.request.urlopen(req, timeout=10) as resp:
                    hits = json.loads(resp.read())["results"]
                if any(marker in h["text"] for h in hits):
                    seconds.append(round(time.perf_counter() - saved, 2))
                    break
                time.sleep(0.02)
            time.sleep(1.0)
    finally:
        watcher.terminate()
        server.terminate()
        watcher.wait(timeout=30)
        server.wait(timeout=30)
    return seconds


def server_env(env: dict, work: Path, port: int) -> dict:
    """``env`` for a benchmark's API: its searches are logged in the benchmark's own folder.

    Logging stays on, since writing the query log is part of what a search costs; but the load
    generator's hundred thousand synthetic questions must not land in the knowledge base's
    real query log (``KB_LOG_PATH``), where the coverage page would read them as agents'.
    """
    return {**env, "KB_LOG_PATH": str(work / f"querylog-{port}.sqlite")}


def _serve(env: dict, port: int, work: Path) -> subprocess.Popen:
    """Start `kb serve` (its query log in ``work``) and wait until /health says ok."""
    server = subprocess.Popen(
        [sys.executable, "-m", "kb_cli.main", "serve", "--port", str(port)],
        env=server_env(env, work, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if json.loads(r.read()).get("status") == "ok":
                    return server
        except OSError:
            time.sleep(0.5)
    server.terminate()
    raise RuntimeError("the API did not start")


def _synthetic_index(
    source_ix: Path, target: Path | str, n_chunks: int, seed: int = 0, ann_min_chunks: int = 0
) -> None:
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
    spans, windows = read_windows(source_ix)
    wvecs = windows[:]  # decoded float32: the copies are written (and quantised) again
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
    written = dict(
        lexical_texts=lex[:n_chunks],
        windows=(all_spans[mask], np.concatenate(wv)[mask]),
        model=manifest["model"],
        model_fingerprint=manifest["model_fingerprint"],
        chunker=manifest["chunker"],
        build_seconds=0.0,
    )
    if isinstance(target, str):  # a postgresql:// URL: the postgres backend
        from indexer import pgstore

        pgstore.write_index(target, docs, chunks, vectors, [], **written)
    else:
        write_index(target, docs, chunks, vectors, [], **written, ann_min_chunks=ann_min_chunks)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the API's supervisor and its worker processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}").glob("task/*/children"):
            todo += [int(c) for c in task.read_text().split()]
    return out


def _proc_kib(pid: int, name: str, field: str) -> int:
    try:
        lines = Path(f"/proc/{pid}/{name}").read_text().splitlines()
    except OSError:
        return 0
    return next((int(x.split()[1]) for x in lines if x.startswith(field + ":")), 0)


def _memory_kib(pid: int, field: str) -> int:
    """Memory of the whole API, summed over its processes.

    "Pss": pages shared between workers (the memory-mapped window vectors) are split between
    them, so the sum is what the API really holds. "VmHWM": each process's peak resident set,
    summed, an upper bound that counts shared pages once per worker.
    """
    name = "smaps_rollup" if field == "Pss" else "status"
    return sum(_proc_kib(p, name, field) for p in _process_tree(pid))


def _mapped_bytes(index_dir: Path) -> int:
    """Bytes the API maps from the index files rather than holding (the window vectors):
    they live in the page cache, shared, and are paged in as searches touch them."""
    from indexer.store import WINDOW_VECTORS, current_generation

    return (current_generation(index_dir) / WINDOW_VECTORS).stat().st_size


def _settled_memory_kib(pid: int, timeout_s: float = 180.0) -> int:
    """The API's memory once every worker has loaded its index (one answering /health does
    not mean the others have): the first reading within 1% of the one a second before."""
    last, deadline = -1, time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        now = _memory_kib(pid, "Pss")
        if last > 0 and abs(now - last) <= 0.01 * last:
            return now
        last = now
        time.sleep(1.0)
    return last


def _wrk(url: str, bodies: Path, seconds: float, concurrency: int, think_ms: int = 0) -> dict:
    """Load /search from wrk (C, keep-alive) in its own process; bench.loadgen without wrk.

    ``think_ms``: each client pauses between requests (paced load) instead of saturating.
    """
    if shutil.which("wrk"):
        done = subprocess.run(
            ["wrk", "-t2", f"-c{concurrency}", f"-d{int(seconds)}s", "--timeout", "10s",
             "-s", str(REPO / "bench" / "search.lua"), url],
            env={**os.environ, "KB_BODIES": str(bodies), "KB_THINK_MS": str(think_ms)},
            capture_output=True, text=True, timeout=seconds + 60, check=True,
        )  # fmt: skip
        r = json.loads(done.stdout.strip().splitlines()[-1])
        errors = sum(r[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
        return {
            "tool": "wrk" + (f", {think_ms} ms think time" if think_ms else ", saturating"),
            "requests": r["requests"],
            "errors": errors + r["non_2xx"],
            "throughput_rps": round(r["requests"] / (r["duration_us"] / 1e6), 1),
            "p50_ms": round(r["p50_ms"], 1),
            "p95_ms": round(r["p95_ms"], 1),
            "p99_ms": round(r["p99_ms"], 1),
        }
    queries = [json.loads(line)["query"] for line in bodies.read_text().splitlines()]
    qfile = bodies.with_suffix(".queries.json")
    qfile.write_text(json.dumps(queries))
    load = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", url + "/search", str(qfile), str(seconds),
         str(concurrency)],
        capture_output=True, text=True, timeout=seconds + 120, check=True,
    )  # fmt: skip
    result = json.loads(load.stdout)
    lat = np.array(result["latencies_ms"])
    return {
        "tool": "bench.loadgen",
        "requests": int(lat.size),
        "errors": result["errors"],
        "throughput_rps": round(lat.size / result["seconds"], 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 1),
        "p95_ms": round(float(np.percentile(lat, 95)), 1),
        "p99_ms": round(float(np.percentile(lat, 99)), 1),
    }


def _ann_recall(index_dir: Path, queries: list[str], k: int = 10) -> dict:
    """recall@k of the IVF path against exact search, and in-process ms per query of each."""
    from indexer.embedding import Embedder
    from indexer.search import Searcher
    from indexer.settings import Settings

    settings = Settings(max_top_k=k)
    searcher = Searcher(index_dir, Embedder.from_settings(settings), settings)
    searcher.warm_up()
    ivf = searcher._ivf
    if ivf is None:
        return {}
    # Exact search as an index without IVF runs it: window vectors decoded once, in memory.
    decoded = searcher._windows[:]
    recalls, timings = [], {"ann": 0.0, "exact": 0.0}
    for query in queries:
        found = {}
        for label, index, windows in (("exact", None, decoded), ("ann", ivf, None)):
            searcher._ivf, searcher._window_dense = index, windows
            t0 = time.perf_counter()
            response = searcher.search(query, top_k=k, mode="dense")
            timings[label] += time.perf_counter() - t0
            found[label] = {r.chunk_id for r in response.results}
        recalls.append(len(found["ann"] & found["exact"]) / max(len(found["exact"]), 1))
    searcher.close()
    return {
        f"recall@{k}": round(float(np.mean(recalls)), 4),
        "queries": len(queries),
        "ann_ms": round(timings["ann"] * 1000 / len(queries), 1),
        "exact_ms": round(timings["exact"] * 1000 / len(queries), 1),
        "nlist": int(ivf.nlist),
        "nprobe": settings.ann_nprobe,
        "candidates": settings.ann_candidates,
    }


def bench_latency(sizes: list[int], seconds: float, concurrency: int) -> list[dict]:
    """Serve synthetic indexes and load them from a separate process; at the largest size,
    also publish a new generation under load and count failed requests."""
    from eval.datasets import load_dataset
    from indexer.build import index_documents
    from indexer.embedding import Embedder
    from indexer.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="kb-latency-"))
    ds = load_dataset(SHARED / "conditionalqa", "dev")
    settings = Settings()
    index_documents(
        ds.documents, work / "real", Embedder.from_settings(settings),
        windows=settings.window_vectors,
    )  # fmt: skip
    queries = list(ds.queries.values())
    bodies = work / "bodies.jsonl"
    bodies.write_text("\n".join(json.dumps({"query": q, "top_k": 5}) for q in queries))
    out = []
    for size in sizes:
        target = work / f"ix-{size}"
        _synthetic_index(work / "real", target, size, ann_min_chunks=settings.ann_min_chunks)
        ann = _ann_recall(target, queries[:200])
        port = _free_port()
        env = {**os.environ, "KB_INDEX_DIR": str(target), "HF_HUB_OFFLINE": "1"}
        server = _serve(env, port, work)
        try:
            url = f"http://127.0.0.1:{port}"
            rss_idle = _settled_memory_kib(server.pid)
            _wrk(url, bodies, 3, concurrency)  # warm-up: not recorded
            row = {
                "chunks": size,
                "concurrency": concurrency,
                "workers": settings.worker_count(),
                **_wrk(url, bodies, seconds, concurrency),
            }
            row["rss_idle_mib"] = round(rss_idle / 1024, 1)
            row["mapped_mib"] = round(_mapped_bytes(target) / 2**20, 1)
            row["peak_rss_mib"] = round(_memory_kib(server.pid, "VmHWM") / 1024, 1)
            row["ann"] = ann
            if shutil.which("wrk"):  # paced: each client pauses 55 ms, ~100 req/s offered
                paced = {"chunks": size, "concurrency": concurrency, "workers": row["workers"]}
                paced.update(_wrk(url, bodies, seconds, concurrency, think_ms=55))
                paced["rss_idle_mib"] = row["rss_idle_mib"]
                paced["mapped_mib"] = row["mapped_mib"]
                paced["peak_rss_mib"] = round(_memory_kib(server.pid, "VmHWM") / 1024, 1)
                out.append(paced)
            if size == sizes[-1]:
                row["publish_under_load"] = _publish_under_load(
                    url, bodies, work / "real", target, size, concurrency, settings,
                    LOAD_S if size >= 10_000 else 15,  # a small generation is written at once
                )  # fmt: skip
            out.append(row)
        finally:
            server.terminate()
            server.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)
    return out


def bench_postgres(size: int, seconds: float, concurrency: int) -> dict:
    """The postgres backend at ``size`` chunks: write time, HNSW recall@10 against exact
    search on the same vectors, and /search under the same load as the local backend."""
    import psycopg

    from eval.datasets import load_dataset
    from indexer import pgdev, pgstore
    from indexer.build import index_documents
    from indexer.embedding import Embedder
    from indexer.search import Searcher, open_searcher
    from indexer.settings import Settings

    work = Path(tempfile.mkdtemp(prefix="kb-pg-"))
    ds = load_dataset(SHARED / "conditionalqa", "dev")
    settings = Settings()
    embedder = Embedder.from_settings(settings)
    index_documents(ds.documents, work / "real", embedder, windows=settings.window_vectors)
    queries = list(ds.queries.values())
    bodies = work / "bodies.jsonl"
    bodies.write_text("\n".join(json.dumps({"query": q, "top_k": 5}) for q in queries))
    server_url = pgdev.start(work / "pg", keep_running=False)
    with psycopg.connect(server_url, autocommit=True) as con:
        con.execute("CREATE DATABASE bench")
    url = server_url.replace("/postgres?", "/bench?")
    pgstore.migrate(url)
    t0 = time.perf_counter()
    _synthetic_index(work / "real", url, size)
    write_s = time.perf_counter() - t0
    _synthetic_index(work / "real", work / "exact", size)  # same vectors, exact local search
    exact = Searcher(work / "exact", embedder, Settings(max_top_k=10))
    pg = open_searcher(url, embedder, Settings(max_top_k=10))
    recalls = []
    for q in queries[:200]:
        want = {r.chunk_id for r in exact.search(q, top_k=10, mode="dense").results}
        got = {r.chunk_id for r in pg.search(q, top_k=10, mode="dense").results}
        recalls.append(len(want & got) / max(len(want), 1))
    exact.close()
    raw = _hnsw_raw_recall(url, embedder, queries[:200], settings)
    # In-process time per search, side by side: the local backend (IVF past ann_min_chunks, as
    # served) against postgres, same queries, default mode and dense.
    _synthetic_index(work / "real", work / "local", size, ann_min_chunks=settings.ann_min_chunks)
    local = Searcher(work / "local", embedder, Settings(max_top_k=10))
    in_process = {}
    for mode in ("hybrid", "dense"):
        for name, searcher in (("local", local), ("postgres", pg)):
            took = []
            for q in queries[:100]:
                t = time.perf_counter()
                searcher.search(q, top_k=5, mode=mode)
                took.append((time.perf_counter() - t) * 1000)
            in_process[f"{name} {mode}"] = round(float(np.median(took)), 1)
    local.close()
    pg.close()
    port = _free_port()
    api = _serve({**os.environ, "KB_DATABASE_URL": url, "HF_HUB_OFFLINE": "1"}, port, work)
    try:
        api_url = f"http://127.0.0.1:{port}"
        _wrk(api_url, bodies, 3, concurrency)  # warm-up
        rows = [
            {"chunks": size, "concurrency": concurrency, **_wrk(api_url, bodies, seconds, concurrency)},
            {"chunks": size, "concurrency": concurrency,
             **_wrk(api_url, bodies, seconds, concurrency, think_ms=55)},
        ]  # fmt: skip
    finally:
        api.terminate()
        api.wait(timeout=30)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "chunks": size,
        "write_s": round(write_s, 1),
        "hnsw_recall@10": round(float(np.mean(recalls)), 4),
        "hnsw_raw_recall@10": raw,
        "candidates": settings.pg_candidates,
        "ef_search": settings.pg_ef_search,
        "in_process_median_ms": in_process,
        "queries": len(recalls),
        "load": rows,
    }


def _hnsw_raw_recall(url: str, embedder, queries: list[str], settings) -> float:
    """The HNSW index alone: its 10 nearest passage vectors against the exact 10 nearest."""
    from indexer.pgstore import connect

    vectors = embedder.encode(queries)
    with connect(url) as con:
        ids, matrix = [], []
        for chunk_id, vec in con.execute("SELECT chunk_id, embedding FROM kb_chunks"):
            ids.append(chunk_id)
            matrix.append(vec.to_numpy() if hasattr(vec, "to_numpy") else vec)
        ids_arr, mat = np.array(ids), np.array(matrix, np.float32)
        dim = mat.shape[1]
        con.execute(f"SET hnsw.ef_search = {min(1000, settings.pg_ef_search)}")
        recalls = []
        for v in vectors:
            want = set(ids_arr[np.argsort(-(mat @ v))[:10]])
            got = {
                r[0]
                for r in con.execute(
                    f"SELECT chunk_id FROM kb_chunks ORDER BY embedding::vector({dim}) "
                    f"<#> %s::vector({dim}) LIMIT 10",
                    (v,),
                )
            }
            recalls.append(len(want & got) / 10)
    return round(float(np.mean(recalls)), 4)


LOAD_S = 150  # seconds of load: a 100k generation took 76.5 s to write, then each worker reloads


def _publish_under_load(
    url: str,
    bodies: Path,
    real: Path,
    target: Path,
    size: int,
    concurrency: int,
    settings,
    load_s: float = LOAD_S,
) -> dict:
    """Write a new generation while wrk loads the API; the swap must fail no request."""
    import threading

    def health() -> str:
        with urllib.request.urlopen(url + "/health", timeout=5) as r:
            return json.loads(r.read())["index_version"]

    before = health()
    publish: dict = {}

    def writer() -> None:
        time.sleep(2)
        t0 = time.perf_counter()
        _synthetic_index(real, target, size, seed=1, ann_min_chunks=settings.ann_min_chunks)
        publish["write_s"] = round(time.perf_counter() - t0, 1)

    def watch() -> None:  # when the API first answers from the new generation
        while "swapped_at" not in publish and time.perf_counter() < started + load_s + 60:
            try:
                if health() != before:
                    publish["swapped_at"] = time.perf_counter()
                    return
            except OSError:
                pass
            time.sleep(0.2)

    started = time.perf_counter()
    threads = [threading.Thread(target=writer), threading.Thread(target=watch)]
    for t in threads:
        t.start()
    # Long enough for the write and the API's reload of a large generation to happen inside the
    # load, so the swap itself is what the zero-failure figure covers.
    load = _wrk(url, bodies, load_s, concurrency)
    for t in threads:
        t.join()
    swapped_at = publish.pop("swapped_at", None)
    swapped_s = None if swapped_at is None else round(swapped_at - started, 1)
    return {**load, **publish, "swapped_s": swapped_s, "load_s": load_s}


def _swap_phrase(swapped_s: float | None, load_s: float) -> str:
    """When the API first served the new generation, relative to the load it was under."""
    if swapped_s is None:
        return "was never served (the API kept the old generation)"
    late = "" if swapped_s < load_s else " (after the load had ended)"
    return f"served from {swapped_s} s into the load{late}"


def render(results: dict, command: str) -> str:
    b, r = results["build"], results["reindex"]
    base = b["baseline"]

    def remeasured(part: str) -> list[str]:
        """The line that dates a part re-measured on its own (`--only PART`), if it was."""
        when = results.get("measured", {}).get(part)
        if not when:
            return []
        note = f", {when['note']}" if when.get("note") else ""  # context written by hand
        # Paragraphs written by hand about this run (other machines, side-by-side checks):
        # kept in RESULTS.json, so that re-measuring another part does not drop them.
        notes = [line for paragraph in when.get("notes", []) for line in (paragraph, "")]
        return [
            f"Re-measured apart with `python -m bench.run --only {part}` on {when['date']}"
            f"{note}, machine: {when['machine']}.",
            "",
            *notes,
        ]

    def build_row(label: str, x: dict) -> str:
        speedup = x.get("speedup", base["seconds"] / max(x["seconds"], 1e-9))
        per_round = (
            f" ({', '.join(f'{v:.2f}x' for v in x['speedups'])})"
            if len(x.get("speedups", [])) > 1
            else ""
        )
        runs = " / ".join(str(v) for v in x.get("runs_s", [x["seconds"]]))
        return (
            f"| {label} | {x['chunks']} | {x.get('windows', '-')} | {runs} | "
            f"{x['chunks_per_s']} | {speedup:.2f}x{per_round} | "
            f"{x['ndcg@10']} | {x['evidence_hit@1']} | {x['mean_passage_chars']} |"
        )

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
        "Speed-up is the baseline's wall time over the row's, for the whole corpus (above 1: "
        "faster than the baseline). The baseline and the int8 rows ran in "
        f"{b.get('rounds', 1)} alternating rounds: seconds of each round, passages/s at the "
        "median, and the median of the per-round speed-ups (each round's in brackets); the "
        "fp32 row ran once. Quality on the ConditionalQA dev questions.",
        "",
        *remeasured("build"),
        "| pipeline | passages | sentence windows | seconds | passages/s | speed-up vs baseline "
        "| ndcg@10 | evidence_hit@1 | mean passage chars |",
        "|---|---|---|---|---|---|---|---|---|",
        build_row("baseline (recursive 1000/200, ST fp32, FlatIP)", base),
        build_row(
            f"**ours, default** (onnx-int8, {b['ours']['windows_method']} windows)", b["ours"]
        ),
        *(
            [
                build_row(
                    "ours, default, its early generation: searchable after (pooled windows, "
                    "`KB_EARLY_WINDOWS`)",
                    b["ours_early"],
                )
            ]
            if "ours_early" in b
            else []
        ),
        build_row(
            "ours, onnx-int8, pooled windows (`KB_WINDOW_VECTORS=pooled`)", b["ours_pooled"]
        ),  # fmt: skip
        build_row(
            f"ours with fp32 (torch) embeddings, {b['ours_fp32']['windows_method']} windows",
            b["ours_fp32"],
        ),
        "",
        f"int8 against fp32 (same pipeline): ndcg@10 "
        f"{b['ours']['ndcg@10'] - b['ours_fp32']['ndcg@10']:+.4f}, evidence_hit@1 "
        f"{b['ours']['evidence_hit@1'] - b['ours_fp32']['evidence_hit@1']:+.4f}.",
        "",
        f"## Re-index ({r['documents']} documents, {r['chunks']} passages, embedding cache on)",
        "",
        *(
            [
                f"{r['pdf_docx']} of the documents are copies of `kb/`'s PDF and DOCX files, the "
                "rest Markdown (runs before this one used Markdown only).",
                "",
            ]
            if r.get("pdf_docx")
            else []
        ),
        *remeasured("reindex"),
        "| run | seconds | embedded | reused |",
        "|---|---|---|---|",
        f"| full build | {r['full_build_s']} | all | 0 |",
        f"| nothing changed | {r['no_change_s']} | 0 | - (detected: {r['no_change_detected']}) |",
        f"| one document edited | {r['one_edit_s']} | {r['one_edit_embedded']} | "
        f"{r['one_edit_reused']} |",
        *(
            [
                f"| postgres backend: first write (vectors from the cache) | "
                f"{pg['full_build_s']} | {pg['full_build_embedded']} | - |",
                f"| postgres backend: nothing changed | {pg['no_change_s']} | 0 | - (detected: "
                f"{pg['no_change_detected']}) |",
                f"| postgres backend: one document edited | {pg['one_edit_s']} | "
                f"{pg['one_edit_embedded']} | {pg['one_edit_reused']} |",
            ]
            if (pg := r.get("postgres"))
            else []
        ),
        "",
        "Saving an edit with `kb index --watch` and the API running (separate processes) until "
        "/search returns the new sentence: "
        + ", ".join(f"{x} s" for x in r["edit_to_search_s"])
        + f" ({len(r['edit_to_search_s'])} edits).",
        "",
        "## /search under load (separate load-generator process, loopback, default mode)",
        "",
        *remeasured("latency"),
        "API memory: idle is the proportional set size summed over the API's processes; mapped "
        "is the window-vector file (int8 codes) they map read-only and share through the page "
        "cache (paged in as searches touch it); peak is each process's peak resident set, "
        "summed (shared pages counted once per worker).",
        "",
        "| chunks | API workers | clients | tool | requests | errors | req/s | p50 ms | p95 ms "
        "| p99 ms | API idle MiB | mapped MiB | API peak MiB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for x in results["latency"]:
        lines.append(
            f"| {x['chunks']} | {x.get('workers', 1)} | {x['concurrency']} | {x['tool']} | "
            f"{x['requests']} | {x['errors']} | {x['throughput_rps']} | {x['p50_ms']} | "
            f"{x['p95_ms']} | {x['p99_ms']} | {x['rss_idle_mib']} | {x.get('mapped_mib', 0)} | "
            f"{x['peak_rss_mib']} |"
        )
    sizes = [x for x in results["latency"] if "ann" in x]  # one saturating row per size
    lines += ["", "### Approximate search (IVF candidates, then exact re-scoring)", ""]
    for x in sizes:
        a = x.get("ann") or {}
        if a:
            lines.append(
                f"- {x['chunks']} chunks: recall@10 against exact search {a['recall@10']} over "
                f"{a['queries']} questions (nlist {a['nlist']}, nprobe {a['nprobe']}, "
                f"{a['candidates']} candidates); in-process dense search {a['ann_ms']} ms with "
                f"IVF vs {a['exact_ms']} ms exact."
            )
        else:
            lines.append(f"- {x['chunks']} chunks: below the threshold, exact search only.")
    pub = sizes[-1].get("publish_under_load")
    if pub:
        lines += [
            "",
            "### Publishing a new generation under load",
            "",
            f"While {sizes[-1]['concurrency']} clients searched for {pub['load_s']} s, a new "
            f"{sizes[-1]['chunks']}-chunk generation was written ({pub['write_s']} s) and "
            f"{_swap_phrase(pub['swapped_s'], pub['load_s'])}: {pub['requests']} requests, "
            f"{pub['errors']} failed, p50 {pub['p50_ms']} ms, p99 {pub['p99_ms']} ms (the "
            "writer shared the two cores with the API).",
        ]
    pg = results.get("postgres")
    if pg:
        lines += [
            "",
            f"## The postgres backend ({pg['chunks']} chunks, same synthetic data and load)",
            "",
            f"Written in {pg['write_s']} s (documents, chunks, windows, BM25 postings, HNSW "
            f"index, VACUUM ANALYZE). Dense top 10 through pgvector HNSW "
            f"({pg.get('candidates')} candidates, ef_search {pg.get('ef_search')}, then scored "
            f"exactly) against exact search on the same vectors: recall@10 "
            f"{pg['hnsw_recall@10']} over {pg['queries']} questions (the final dense top 10, "
            "passage and sentence-window similarity mixed, against the local backend's exact "
            "one). The HNSW index alone, its 10 nearest passage vectors against the exact 10: "
            f"recall@10 {pg.get('hnsw_raw_recall@10')}.",
            "",
            "In-process median ms per search, same queries, side by side: "
            + ", ".join(f"{k} {v}" for k, v in pg.get("in_process_median_ms", {}).items())
            + ".",
            "",
            *(
                [
                    f"The local rows come from the latency run of "
                    f"{results['measured']['latency']['date']}, the postgres rows from the full "
                    f"run of {results['date']}: compare them as rough levels only.",
                    "",
                ]
                if results.get("measured", {}).get("latency")
                else []
            ),
            "| backend | chunks | clients | tool | requests | errors | req/s | p50 ms | p95 ms "
            "| p99 ms |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        local_rows = [x for x in results["latency"] if x["chunks"] == pg["chunks"]]
        for name, rows in (("local", local_rows), ("postgres", pg["load"])):
            for x in rows:
                lines.append(
                    f"| {name} | {x['chunks']} | {x['concurrency']} | {x['tool']} | "
                    f"{x['requests']} | {x['errors']} | {x['throughput_rps']} | {x['p50_ms']} | "
                    f"{x['p95_ms']} | {x['p99_ms']} |"
                )
    lat = sizes
    if len(lat) >= 2:
        held = [x["rss_idle_mib"] + x.get("mapped_mib", 0) for x in (lat[0], lat[-1])]
        per = (held[1] - held[0]) * 1024 / (lat[-1]["chunks"] - lat[0]["chunks"])
        lines += [
            "",
            f"Memory per chunk (slope of idle plus mapped memory between the two sizes): "
            f"{per:.1f} KiB "
            "(vectors of the passage and its sentence windows, IVF lists, BM25 postings, "
            "chunk metadata).",
        ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--out", default=str(REPO / "bench" / "RESULTS.md"))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--only",
        choices=["build", "reindex", "latency"],  # the keys of ``parts`` below
        help="re-measure one part and keep the rest of the existing results (dated apart)",
    )
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sizes = [500, 2000] if args.quick else [10_000, 100_000]
    seconds = 3.0 if args.quick else args.seconds
    now = dt.datetime.now(dt.UTC).isoformat(timespec="minutes")
    parts = {
        "build": lambda: bench_build(args.quick),
        "reindex": lambda: bench_reindex(args.quick),
        "latency": lambda: bench_latency(sizes, seconds, args.concurrency),
    }
    if args.only:
        results = json.loads(Path(args.out).with_suffix(".json").read_text(encoding="utf-8"))
        results[args.only] = parts[args.only]()
        # its notes described the figures this run replaces: write new ones in RESULTS.json
        results.setdefault("measured", {})[args.only] = {"date": now, "machine": _machine()}
        command = results.get("command", "python -m bench.run")
    else:
        results = {
            "date": now,
            "machine": _machine(),
            **{name: measure() for name, measure in parts.items()},
            "postgres": bench_postgres(sizes[-1], seconds, args.concurrency),
        }
        command = "python -m bench.run" + (" --quick" if args.quick else "")
        results["command"] = command
    Path(args.out).write_text(render(results, command), encoding="utf-8")
    Path(args.out).with_suffix(".json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
