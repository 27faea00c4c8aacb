"""A `kb access` restriction follows its file when the file is renamed or moved: keyed by
document id alone, `mv secret.md secret-v2.md` made a T&S-only SOP visible to every agent at
the next build, without a word."""

from __future__ import annotations

import logging
from pathlib import Path

from indexer.access import read_overrides, write_overrides
from indexer.build import build_index
from indexer.search import open_searcher
from tests import test_acronyms
from tests.test_acronym_access import AGENTS, OPTIONS, _doc, _settings

target = test_acronyms.target  # the same fixture: local and postgres

SECRET = "Zqsierra escalation contact list for the duty manager."


def _visible(target, fake_embedder) -> list[str]:
    s = open_searcher(target, fake_embedder, _settings(target))
    try:
        return [d["doc_id"] for d in s.list_documents(AGENTS)]
    finally:
        s.close()


def test_a_restriction_follows_its_renamed_file(target, tmp_path: Path, fake_embedder) -> None:
    kb = tmp_path / "kb"
    _doc(kb, "refunds.md", AGENTS, "Coin refunds are issued within 14 days of purchase.")
    _doc(kb, "secret.md", AGENTS, SECRET)
    build_index(kb, target, fake_embedder, **OPTIONS)
    settings = _settings(target)
    write_overrides(settings, {"secret.md": ["tns-leads"]})
    assert "secret.md" not in _visible(target, fake_embedder)
    (kb / "sops").mkdir()
    (kb / "secret.md").rename(kb / "sops" / "secret-v2.md")
    build_index(kb, target, fake_embedder, **OPTIONS)
    assert read_overrides(settings) == {"sops/secret-v2.md": ["tns-leads"]}
    assert _visible(target, fake_embedder) == ["refunds.md"]


def test_an_override_left_naming_no_document_is_warned_about(
    target, tmp_path: Path, fake_embedder, caplog
) -> None:
    """Renamed and edited, the file cannot be told from a new one: the build says so."""
    kb = tmp_path / "kb"
    _doc(kb, "refunds.md", AGENTS, "Coin refunds are issued within 14 days of purchase.")
    _doc(kb, "secret.md", AGENTS, SECRET)
    build_index(kb, target, fake_embedder, **OPTIONS)
    write_overrides(_settings(target), {"secret.md": ["tns-leads"]})
    (kb / "secret.md").unlink()
    _doc(kb, "secret-v2.md", AGENTS, SECRET + " Updated.")
    with caplog.at_level(logging.WARNING, logger="indexer.build"):
        build_index(kb, target, fake_embedder, **OPTIONS)
    assert any("access override for secret.md" in r.getMessage() for r in caplog.records)
    assert read_overrides(_settings(target)) == {"secret.md": ["tns-leads"]}
