"""A large build publishes a searchable generation with pooled sentence windows first, then the
complete one: what agents search meanwhile, what the complete generation holds, and what an
interrupted build leaves behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from indexer.build import Progress, build_index
from indexer.search import Searcher
from indexer.store import current_generation, read_manifest, read_vectors, read_windows

OPTIONS = {"max_tokens": 60, "min_tokens": 8}


class _Stop(Exception):
    pass


def _vectors(ix: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    generation = current_generation(ix)
    flat = read_vectors(generation)
    spans, windows = read_windows(generation)
    return flat.reconstruct_n(0, flat.ntotal), spans, windows[:]


def test_the_early_generation_answers_while_windows_are_embedded(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    seen: dict[str, object] = {}
    embeds = []

    def on_start(stage: str, total: int) -> None:
        if stage not in ("embed", "embed-windows"):
            return
        embeds.append(total)
        if stage == "embed-windows":  # the windows' pass: the early generation is published
            assert len(embeds) == 2
            seen["manifest"] = read_manifest(ix)
            seen["results"] = Searcher(ix, fake_embedder).search("refund coins").results

    report = build_index(
        sample_kb, ix, fake_embedder, **OPTIONS, early_windows=1,
        progress=Progress(on_start=on_start),
    )  # fmt: skip
    assert seen["manifest"].chunker["windows"] == "pooled"  # honest about its windows
    assert seen["results"] and seen["results"][0].highlight.text
    assert report.manifest.chunker["windows"] == "separate"
    assert report.searchable_seconds is not None
    assert 0 < report.searchable_seconds <= report.seconds
    # The first pass reads passages only; the second is counted over passages and windows
    # (the passages come back from the first pass, not from the model).
    assert (
        embeds[0] == report.chunks < embeds[1] == report.chunks + report.manifest.counts["windows"]
    )
    assert report.embedded == report.chunks + report.manifest.counts["windows"] - report.reused


def test_the_complete_generation_is_the_one_step_build(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    one = build_index(sample_kb, tmp_path / "one", fake_embedder, **OPTIONS)
    two = build_index(sample_kb, tmp_path / "two", fake_embedder, **OPTIONS, early_windows=1)
    assert one.searchable_seconds is None and two.searchable_seconds is not None
    assert (one.embedded, one.reused) == (two.embedded, two.reused)
    for a, b in zip(_vectors(tmp_path / "one"), _vectors(tmp_path / "two"), strict=True):
        np.testing.assert_array_equal(a, b)
    query = "how long do coin refunds take"
    hits = [
        [
            (r.doc_id, r.start, r.end)
            for r in Searcher(tmp_path / d, fake_embedder).search(query).results
        ]
        for d in ("one", "two")
    ]
    assert hits[0] == hits[1]


def test_early_windows_are_stand_ins_the_cache_does_not_keep(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    cache = tmp_path / "cache.sqlite"
    build_index(sample_kb, tmp_path / "a", fake_embedder, **OPTIONS, cache_path=cache,
                early_windows=1)  # fmt: skip
    again = build_index(sample_kb, tmp_path / "b", fake_embedder, **OPTIONS, cache_path=cache,
                        early_windows=1)  # fmt: skip
    # Every passage and every separately embedded window came from the cache: nothing to
    # embed, so no early generation either.
    assert again.embedded == 0 and again.searchable_seconds is None
    for a, b in zip(_vectors(tmp_path / "a"), _vectors(tmp_path / "b"), strict=True):
        np.testing.assert_array_equal(a, b)
    with sqlite3.connect(cache) as con:
        (count,) = con.execute("SELECT COUNT(*) FROM vectors").fetchone()
    manifest = read_manifest(tmp_path / "a")
    assert count <= manifest.counts["chunks"] + manifest.counts["windows"]  # no pooled copies


@pytest.mark.parametrize("threshold", [0, 10**6])
def test_small_builds_write_one_generation(
    sample_kb: Path, fake_embedder, tmp_path: Path, threshold: int
) -> None:
    ix = tmp_path / "ix"
    stages = []
    report = build_index(
        sample_kb, ix, fake_embedder, **OPTIONS, early_windows=threshold,
        progress=Progress(on_start=lambda stage, n: stages.append(stage)),
    )  # fmt: skip
    assert report.searchable_seconds is None
    assert stages.count("write") == 1 and stages.count("embed") == 1
    assert "embed-windows" not in stages
    assert len([p for p in ix.iterdir() if p.name.startswith("gen-")]) == 1


def test_an_interrupted_build_leaves_a_searchable_index_the_next_run_completes(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    embeds = []

    def stop_at_windows(stage: str, total: int) -> None:
        if stage in ("embed", "embed-windows"):
            embeds.append(total)
            if stage == "embed-windows":
                raise _Stop

    with pytest.raises(_Stop):
        build_index(sample_kb, ix, fake_embedder, **OPTIONS, early_windows=1,
                    progress=Progress(on_start=stop_at_windows))  # fmt: skip
    assert read_manifest(ix).chunker["windows"] == "pooled"
    assert Searcher(ix, fake_embedder).search("refund coins").results
    # Pooled windows are not what the settings ask for: the next run is not "up to date" and
    # embeds the windows apart, taking nothing from the pooled generation's windows.
    done = build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    assert not done.unchanged and done.manifest.chunker["windows"] == "separate"
    build_index(sample_kb, tmp_path / "fresh", fake_embedder, **OPTIONS)
    for a, b in zip(_vectors(ix), _vectors(tmp_path / "fresh"), strict=True):
        np.testing.assert_array_equal(a, b)
