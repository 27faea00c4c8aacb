"""The regression gate CI runs: kb/ and ConditionalQA must not drop against eval/baselines/."""

from __future__ import annotations

import json
import os

import pytest

from indexer.settings import get_settings
from kb_cli.main import main
from tests.conftest import KB_DIR, REPO

pytestmark = pytest.mark.integration
SHARED = REPO.parent / "shared" / "datasets"
BASELINES = REPO / "eval" / "baselines"


@pytest.mark.parametrize(
    ("folder", "split", "baseline"),
    [(KB_DIR, None, "kb.json"), (SHARED / "conditionalqa", "dev", "conditionalqa-dev.json")],
    ids=["kb", "conditionalqa"],
)
def test_no_metric_drops_against_baseline(folder, split, baseline, tmp_path, capsys) -> None:
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{folder} is missing in CI")
        pytest.skip(f"{folder} is not here")
    get_settings.cache_clear()
    out = tmp_path / "run.json"
    args = [
        "eval",
        str(folder),
        "--json",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--baseline",
        str(BASELINES / baseline),
        "--max-drop",
        "0.01",
    ]
    if split:
        args += ["--split", split]
    code = main(args)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(out.read_text())
    per_query = result["results"]["default"]["per_query"]
    assert per_query and all("ndcg@10" in row for row in per_query)
