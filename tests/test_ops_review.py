"""kb-assistant as the operator who deploys and runs it meets it: a watcher that must outlive
a failing first build, folders the indexer cannot read, the start script when the API does
not start, and the API behind a reverse proxy's path prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.settings import get_settings
from kb_cli.main import main
from tests import test_cli

_fake_model = test_cli._fake_model  # the same autouse fixture: the fake model


@pytest.fixture(autouse=True)
def _ops_settings(_fake_model, monkeypatch, tmp_path) -> None:
    """test_cli's fake model, plus key store under tmp_path and no database."""
    monkeypatch.setenv("KB_KEYS_PATH", str(tmp_path / "keys.sqlite"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_watch_whose_first_build_fails_on_the_file_system_keeps_watching(
    sample_kb: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """An index folder that cannot be written (read-only, a full disk, here a path under a
    file) failed the first build with an OSError, which ended `kb index --watch` (exit 1)
    although the README promises a first build that fails is retried like any rebuild."""
    import indexer.watch

    seen: dict[str, object] = {}

    def watched(source, rebuild, **kwargs):
        seen.update(kwargs, source=source)

    monkeypatch.setattr(indexer.watch, "watch", watched)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the index's parent folder should be")
    ix = blocker / "ix"
    assert main(["index", str(sample_kb), "--index-dir", str(ix), "--watch", "-q"]) == 0
    err = capsys.readouterr().err
    assert "the first build failed" in err and str(blocker) in err
    assert seen["source"] == sample_kb and seen["pending"] == []  # retried before any change


def test_a_first_build_failing_on_the_file_system_still_fails_without_watch(
    sample_kb: Path, tmp_path: Path, capsys
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert main(["index", str(sample_kb), "--index-dir", str(blocker / "ix"), "-q"]) == 1
    assert str(blocker) in capsys.readouterr().err
