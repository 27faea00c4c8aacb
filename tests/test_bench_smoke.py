"""A smoke run of the build benchmark on ten ConditionalQA pages: every row it reports is
measured, including the early generation a default build publishes, and the report renders.
The full benchmark (`python -m bench.run`) is not part of the tests."""

from __future__ import annotations

import json
import os

import pytest

from indexer.settings import get_settings
from tests.conftest import REPO

SHARED = REPO.parent / "shared" / "datasets"


@pytest.mark.integration
def test_the_build_benchmark_measures_every_row(monkeypatch) -> None:
    if not (SHARED / "conditionalqa").is_dir():
        if os.environ.get("CI"):
            pytest.fail("the shared datasets are missing in CI")
        pytest.skip("the shared datasets are not here")
    from bench.run import bench_build, render

    monkeypatch.setenv("KB_EARLY_WINDOWS", "50")  # ten pages have a few hundred windows
    get_settings.cache_clear()
    build = bench_build(quick=True)
    get_settings.cache_clear()
    assert {"baseline", "ours", "ours_early", "ours_pooled", "ours_fp32"} <= set(build)
    for label in ("ours", "ours_early", "ours_pooled", "ours_fp32"):
        row = build[label]
        assert row["seconds"] > 0 and row["speedup"] > 0, label
        assert 0 < row["ndcg@10"] <= 1 and row["mean_passage_chars"] > 0, label
    early, ours = build["ours_early"], build["ours"]
    assert early["seconds"] < ours["seconds"]  # searchable before the build is complete
    assert early["windows_method"] == "pooled, then separate"
    # Its quality is the early generation's own, measured on a copy taken when it was
    # published: pooled windows, as in the pooled-only build of the same texts.
    assert early["chunks"] == ours["chunks"] == build["ours_pooled"]["chunks"]

    results = json.loads((REPO / "bench" / "RESULTS.json").read_text(encoding="utf-8"))
    results["build"] = build
    text = render(results, "python -m bench.run --quick")
    assert "its early generation: searchable after" in text
    assert f"{early['speedup']:.2f}x" in text


def test_a_benchmark_api_logs_its_searches_in_its_own_folder(tmp_path) -> None:
    """The load generator's synthetic questions must not reach the real query log, where the
    coverage page would count them as agents' searches (they once made 250,000 of them)."""
    from bench.run import server_env

    real = tmp_path / "var" / "querylog.sqlite"
    work = tmp_path / "kb-latency-x"
    env = server_env({"KB_LOG_PATH": str(real), "KB_INDEX_DIR": "ix"}, work, 8123)
    assert env["KB_LOG_PATH"] == str(work / "querylog-8123.sqlite")
    assert env["KB_INDEX_DIR"] == "ix"  # the rest of the caller's environment is kept
    assert server_env({}, work, 8124)["KB_LOG_PATH"] != env["KB_LOG_PATH"]  # one per server


def test_results_md_is_what_results_json_renders() -> None:
    """RESULTS.md is rewritten from RESULTS.json by every run, `--only` ones included: a
    paragraph added to the Markdown alone would vanish at the next run (two did), so notes
    written by hand go into RESULTS.json (``measured.PART.notes``)."""
    from bench.run import render

    results = json.loads((REPO / "bench" / "RESULTS.json").read_text(encoding="utf-8"))
    shown = (REPO / "bench" / "RESULTS.md").read_text(encoding="utf-8")
    assert render(results, results.get("command", "python -m bench.run")) == shown


def test_notes_of_one_part_are_rendered_after_its_dateline() -> None:
    from bench.run import render

    results = json.loads((REPO / "bench" / "RESULTS.json").read_text(encoding="utf-8"))
    results["measured"]["reindex"]["notes"] = ["First note.", "Second note."]
    text = render(results, "python -m bench.run")
    dateline = text.index("python -m bench.run --only reindex")
    assert dateline < text.index("First note.\n\nSecond note.\n\n| run |")
