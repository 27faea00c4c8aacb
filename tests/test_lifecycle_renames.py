"""Renames and moves: a document renamed without its metadata sidecar loses its access groups,
dates and version links (it falls back to the defaults: every agent may read it, always in
force), so the build says so instead of passing over the orphaned sidecar in silence."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.search import Searcher

OPTIONS = {"max_tokens": 60, "min_tokens": 8}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_file_renamed_without_its_sidecar_is_reported(
    sample_kb: Path, fake_embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    sops = sample_kb / "sops"
    os.rename(sops / "account-recovery.txt", sops / "account-recovery-v2.txt")

    with caplog.at_level(logging.WARNING):
        build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    docs = {d["doc_id"]: d for d in Searcher(ix, fake_embedder).list_documents()}
    assert docs["sops/account-recovery-v2.txt"]["metadata"]["access_groups"] == ["all-agents"]
    orphaned = [m for m in _warnings(caplog) if "sops/account-recovery.txt.meta.yaml" in m]
    assert len(orphaned) == 1 and "sops/account-recovery.txt" in orphaned[0]

    # Moving the sidecar along ends the warning and restores the metadata.
    os.rename(sops / "account-recovery.txt.meta.yaml", sops / "account-recovery-v2.txt.meta.yaml")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    assert not [m for m in _warnings(caplog) if ".meta.yaml" in m]
    docs = {d["doc_id"]: d for d in Searcher(ix, fake_embedder).list_documents()}
    assert docs["sops/account-recovery-v2.txt"]["metadata"]["access_groups"] == ["tns-specialists"]


def test_moving_a_folder_keeps_documents_and_their_sidecars_together(
    sample_kb: Path, fake_embedder, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    os.rename(sample_kb / "sops", sample_kb / "procedures")
    with caplog.at_level(logging.WARNING):
        build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    assert not [m for m in _warnings(caplog) if ".meta.yaml" in m]
    ids = {d["doc_id"] for d in Searcher(ix, fake_embedder).list_documents()}
    assert "procedures/account-recovery.txt" in ids
    assert not any(i.startswith("sops/") for i in ids)
