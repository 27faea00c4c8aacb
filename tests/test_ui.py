"""The Streamlit page against a real API on loopback (fake encoder), and with the API down."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from api.app import create_app
from indexer.build import build_index
from indexer.search import Searcher
from indexer.settings import Settings
from tests.test_ui_pages import _free_port as free_port
from tests.test_ui_pages import serve

APP = str(Path(__file__).resolve().parent.parent / "ui" / "app.py")


@pytest.fixture
def api_url(sample_kb: Path, fake_embedder, tmp_path: Path) -> str:
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(index_dir=tmp_path / "ix")
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    url, server, thread = serve(app)
    yield url
    server.should_exit = True
    thread.join(timeout=5)


def test_search_renders_cited_cards(api_url: str, monkeypatch) -> None:
    monkeypatch.setenv("KB_API_URL", api_url)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    at.text_input[0].input("escalate imminent risk guardian queue")
    at.button[0].click().run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "Dangerous Challenges SOP" in shown
    assert any("<mark>" in h.proto.body for h in at.get("html"))
    assert any("chars" in c.value for c in at.code)


def test_api_down_is_a_clear_message(monkeypatch) -> None:
    monkeypatch.setenv("KB_API_URL", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.error and "not reachable" in at.error[0].value
