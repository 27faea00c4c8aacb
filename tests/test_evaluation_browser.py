"""A real browser starts an evaluation, reloads the page mid-run, and sees the result arrive.

The API runs in this process (fake encoder, the tiny labelled set) with the run held at its
first question (the Gate); the UI is ``streamlit run ui/app.py``; chromium clicks like an
evaluator. Nothing is clicked after the gate opens: the page's own polling shows the result.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cdp import Chromium
from tests.test_evaluation_runs import Gate
from tests.test_insights_api import make_app
from tests.test_ui_browser import ARTIFACTS, REPO, require_chromium, start_streamlit, stop
from tests.test_ui_pages import served

CLICK_RUN = """(() => {
  const b = [...document.querySelectorAll('button')].find(e => e.innerText.trim() ===
    'Run evaluation');
  if (!b || b.disabled) return false;
  b.click();
  return true;
})()"""


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate(monkeypatch)
    yield g
    g.open.set()


@pytest.fixture
def ui_url(gate: Gate, sample_kb: Path, fake_embedder, tmp_path: Path) -> Iterator[str]:
    require_chromium()
    with served(make_app(sample_kb, fake_embedder, tmp_path)) as api_url:
        url, ui = start_streamlit(REPO / "ui" / "app.py", {"KB_API_URL": api_url})
        yield url
        gate.open.set()
        stop(ui)


def test_browser_follows_a_run_through_a_reload_to_its_result(ui_url: str, gate: Gate) -> None:
    with Chromium() as browser:
        browser.goto(f"{ui_url}/evaluate")
        browser.wait_for_text("Evaluation", "Run evaluation")
        assert browser.js(CLICK_RUN)
        assert gate.reached.wait(30)
        text = browser.wait_for_text("0 of 3 answered")
        assert "Evaluating tiny (dev), default" in text
        link = browser.js("location.href")
        assert "run=" in link

        browser.goto(link)  # a reload mid-run: the page finds the run again
        browser.wait_for_text("0 of 3 answered", "Run evaluation")
        assert browser.js("location.href") == link
        browser.screenshot(ARTIFACTS / "browser-evaluation-running.png", full_page=False)

        gate.open.set()  # from here on the page is left alone
        text = browser.wait_for_text("Metrics: tiny (dev)", "Per query", timeout=60)
        shot = browser.screenshot(ARTIFACTS / "browser-evaluation.png")
        assert "answered" not in text and "Traceback" not in text
        assert gate.calls == ["default"]
    assert shot.stat().st_size > 10_000
