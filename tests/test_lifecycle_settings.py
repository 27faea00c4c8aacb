"""An index directory rebuilt under changed build settings ends up as a fresh build under
those settings would, even when no document changed."""

from __future__ import annotations

from pathlib import Path

from indexer.ann import ANN_FILE
from indexer.build import build_index
from indexer.search import Searcher
from indexer.store import current_generation

OPTIONS = {"max_tokens": 60, "min_tokens": 8}


def test_a_changed_ann_threshold_takes_effect_without_a_document_change(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    first = build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    assert first.chunks > 4 and not (current_generation(ix) / ANN_FILE).exists()

    # KB_ANN_MIN_CHUNKS lowered below the passage count: the next build writes the IVF index.
    lowered = build_index(sample_kb, ix, fake_embedder, ann_min_chunks=4, **OPTIONS)
    assert not lowered.unchanged
    assert (current_generation(ix) / ANN_FILE).is_file()
    assert Searcher(ix, fake_embedder)._ivf is not None
    assert build_index(sample_kb, ix, fake_embedder, ann_min_chunks=4, **OPTIONS).unchanged

    # Raised above it again: the IVF index goes, and every passage is scored exactly.
    raised = build_index(sample_kb, ix, fake_embedder, ann_min_chunks=10_000, **OPTIONS)
    assert not raised.unchanged
    assert not (current_generation(ix) / ANN_FILE).exists()
    assert Searcher(ix, fake_embedder)._ivf is None
    assert build_index(sample_kb, ix, fake_embedder, ann_min_chunks=10_000, **OPTIONS).unchanged
