"""A real browser (Debian's headless chromium) loads the running UI and runs a search.

The API runs in a thread with the fake encoder, the UI as `streamlit run` in a subprocess, and
chromium types the question and presses Enter like an agent. The screenshot is saved under
test-artifacts/. Without chromium the test skips locally and fails in CI (env CI set).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from kb_cli.main import streamlit_args
from tests.cdp import Chromium, chromium_path
from tests.test_insights_api import make_app
from tests.test_ui_pages import _free_port, served

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"


def require_chromium() -> None:
    """Skip without chromium locally; fail in CI, where .ci/run installs it."""
    if chromium_path() is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI: .ci/run installs it (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")


@pytest.fixture
def chromium() -> None:
    require_chromium()


def start_streamlit(script: Path, env: dict[str, str]) -> tuple[str, subprocess.Popen]:
    """``streamlit run script`` on a free loopback port, once it answers its health check."""
    port = _free_port()
    ui = subprocess.Popen(
        [sys.executable, *streamlit_args(script, str(port), "127.0.0.1")],  # as `kb ui` serves it
        env={**os.environ, **env},
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return url, ui
        except OSError:
            pass
        if time.monotonic() > deadline or ui.poll() is not None:
            ui.kill()
            pytest.fail("the Streamlit UI did not start")
        time.sleep(0.3)


def stop(ui: subprocess.Popen) -> None:
    ui.terminate()
    try:
        ui.wait(timeout=10)
    except subprocess.TimeoutExpired:
        ui.kill()


@pytest.fixture
def ui_url(chromium, sample_kb: Path, fake_embedder, tmp_path: Path) -> str:
    with served(make_app(sample_kb, fake_embedder, tmp_path)) as api_url:
        url, ui = start_streamlit(REPO / "ui" / "app.py", {"KB_API_URL": api_url})
        yield url
        stop(ui)


def test_browser_runs_a_search_and_sees_cited_results(ui_url: str) -> None:
    with Chromium() as browser:
        browser.goto(ui_url)
        browser.wait_for_text("Search the knowledge base", "passages.")
        browser.type_and_enter(
            'input[aria-label^="Ask the knowledge base"]', "escalate imminent risk guardian queue"
        )
        text = browser.wait_for_text("passages for", "Send feedback")
        shot = browser.screenshot(ARTIFACTS / "browser-search.png")
        assert "Dangerous Challenges SOP" in text
        assert "Open in source" in text and "Did this search answer your question?" in text
        assert "Traceback" not in text and "Error" not in text
        assert "Deploy" not in text  # Streamlit's developer toolbar is not an agent's
        marked = browser.js("[...document.querySelectorAll('mark')].map(m => m.innerText)")
        assert marked and all(m.strip() for m in marked)
        links = browser.js("[...document.querySelectorAll('a')].map(a => a.href)")
        assert any("/source/sops/dangerous-challenges.pdf?start=" in h for h in links)
        assert browser.js("location.search").startswith("?q=escalate")
    assert shot.stat().st_size > 10_000


def test_a_link_to_a_run_of_a_set_without_splits_shows_its_split_as_all(
    chromium, sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """Opening ``?run=ID`` fills the form as the run was asked for; a set without splits has
    one option, "(all)", which must show as chosen, not as the empty "Choose an option"."""
    from ui.client import ApiClient

    app = make_app(sample_kb, fake_embedder, tmp_path)
    tiny, flat = tmp_path / "datasets" / "tiny", tmp_path / "datasets" / "flat"
    flat.mkdir()  # the tiny set's dev split as a set without splits
    for part in ("corpus.jsonl", "queries.jsonl", "qrels.tsv"):
        source = tiny / part if part == "corpus.jsonl" else tiny / part.replace(".", ".dev.")
        (flat / part).write_text(source.read_text())
    with served(app) as api_url:
        api = ApiClient(api_url)
        assert {d["name"]: d["splits"] for d in api.eval_datasets()}["flat"] == [None]
        name = "flat"
        run_id = api.start_eval(name, None, ["bm25"])["run_id"]
        url, ui = start_streamlit(REPO / "ui" / "app.py", {"KB_API_URL": api_url})
        try:
            with Chromium() as browser:
                browser.goto(f"{url}/evaluate?run={run_id}")
                browser.wait_for_text(f"Metrics: {name}", "Per query")
                shown = browser.js("document.querySelector('input[aria-label=\"Split\"]').value")
        finally:
            stop(ui)
    assert shown == "(all)"
