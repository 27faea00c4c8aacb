"""The Search page's mode (default, hybrid, dense, bm25): sent to the API, kept in the link."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import get_args

import pytest
from streamlit.testing.v1 import AppTest

from indexer.settings import SearchMode
from tests.test_insights_api import make_app
from tests.test_ui_pages import AGENT, _unescape, served
from ui.client import ApiClient

QUESTION = "escalate imminent risk guardian queue"


@pytest.fixture
def api_url(sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch) -> str:
    with served(make_app(sample_kb, fake_embedder, tmp_path), monkeypatch) as url:
        yield url


def _searches(log_dir: Path) -> list[dict]:
    """The logged searches, oldest first, with the mode the API applied (which the analytics
    routes do not list)."""
    with closing(sqlite3.connect(log_dir / "log" / "q.sqlite")) as db:
        rows = db.execute("SELECT search_id, mode FROM searches ORDER BY ts, rowid").fetchall()
    return [{"search_id": sid, "mode": mode} for sid, mode in rows]


def test_a_chosen_mode_is_searched_and_kept_in_the_link(api_url: str, tmp_path: Path) -> None:
    """The API takes a mode per search; the page had no way to ask for one."""
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    assert at.selectbox(key="mode").value == "default"
    assert at.selectbox(key="mode").options == ["Default (the service's choice)",
        "Hybrid (words and meaning)", "Dense (meaning only)",
        "BM25 (the question's words only)"]  # fmt: skip
    assert len(at.selectbox(key="mode").options) == 1 + len(get_args(SearchMode))  # all of them
    at.text_input(key="q").input(QUESTION)
    at.button[0].click().run()
    assert not at.exception
    assert "mode" not in at.query_params  # the default is left out of links
    at.selectbox(key="mode").select("bm25")
    at.button[0].click().run()
    assert not at.exception
    default, bm25 = _searches(tmp_path)
    assert (default["mode"], bm25["mode"]) == ("hybrid", "bm25")  # the API's, then the asked
    assert at.query_params["mode"] == "bm25" and at.query_params["sid"] == bm25["search_id"]
    assert any(e.label.endswith("bm25 mode") for e in at.expander)  # said while folded away

    # The link reopened: the form holds the mode, and the same search is not logged twice.
    again = AppTest.from_file(AGENT, default_timeout=30)
    again.query_params.update(at.query_params)
    again.run()
    assert not again.exception
    assert again.selectbox(key="mode").value == "bm25"
    assert [s["search_id"] for s in _searches(tmp_path)] == [
        default["search_id"],
        bm25["search_id"],
    ]


def test_a_link_with_an_unknown_mode_says_so_and_searches_in_the_default(
    api_url: str, tmp_path: Path
) -> None:
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params.update({"q": QUESTION, "mode": "semantic"})
    at.run()
    assert not at.exception
    assert any(
        "mode (semantic) is not one of default, hybrid, dense, bm25" in _unescape(w.value)
        for w in at.warning
    )
    assert at.selectbox(key="mode").value == "default"
    [logged] = _searches(tmp_path)
    assert logged["mode"] == "hybrid"


def test_the_client_sends_a_mode_only_when_one_is_chosen(monkeypatch) -> None:
    sent: list[dict] = []

    class Answer:
        status_code = 200

        @staticmethod
        def json() -> dict:
            return {}

    def fake_request(method: str, url: str, **kwargs) -> Answer:
        sent.append(kwargs["json"])
        return Answer()

    monkeypatch.setattr("ui.client.requests.request", fake_request)
    api = ApiClient("http://api")
    api.search("q")
    api.search("q", mode="default")
    api.search("q", mode="dense")
    assert ["mode" in body for body in sent] == [False, False, True]
    assert sent[-1]["mode"] == "dense"
