"""What the UI's users meet, in a real browser and in AppTest: an agent mid-ticket with an API
that is down or slow, a citation to copy, the text around a passage, feedback sent while the
next question is half typed; a knowledge manager moving the page's controls.

Browser tests use Debian's headless chromium (tests/cdp.py); they skip without it locally.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from starlette.responses import JSONResponse
from streamlit.testing.v1 import AppTest

from indexer.render import marked_html
from tests.cdp import Chromium
from tests.test_insights_api import make_app
from tests.test_ui_browser import REPO, require_chromium, start_streamlit, stop
from tests.test_ui_pages import _free_port, serve, served
from ui.client import ApiClient, ApiUnavailable

AGENT = str(REPO / "ui" / "views" / "agent.py")
KNOWLEDGE = str(REPO / "ui" / "views" / "knowledge.py")
BOX = 'input[aria-label^="Ask the knowledge base"]'
QUESTION = "escalate imminent risk guardian queue"


@pytest.fixture
def ui_url(sample_kb: Path, fake_embedder, tmp_path: Path) -> str:
    """The whole UI against a real API (fake encoder) over the sample knowledge base."""
    require_chromium()
    with served(make_app(sample_kb, fake_embedder, tmp_path)) as api_url:
        url, ui = start_streamlit(REPO / "ui" / "app.py", {"KB_API_URL": api_url})
        yield url
        stop(ui)


@pytest.fixture
def slow_ui_url(sample_kb: Path, fake_embedder, tmp_path: Path) -> str:
    """The UI against an API whose searches take 3 seconds (a busy morning), and that gives up
    (504, as its own deadline does) on questions that mention "deadline"."""
    require_chromium()
    app = make_app(sample_kb, fake_embedder, tmp_path)

    @app.middleware("http")
    async def slow_search(request, call_next):
        if request.url.path == "/search":
            body = await request.body()
            await asyncio.sleep(3)
            if b"deadline" in body:
                return JSONResponse({"detail": "the search took longer than 3s"}, 504)
        return await call_next(request)

    with served(app) as api_url:
        url, ui = start_streamlit(REPO / "ui" / "app.py", {"KB_API_URL": api_url})
        yield url
        stop(ui)


def _box(browser: Chromium) -> str:
    return browser.js(f"document.querySelector({json.dumps(BOX)}).value")


def test_wait_for_text_waits_until_the_script_has_finished(tmp_path: Path) -> None:
    """Streamlit shows its running icon only half a second into a run and says "Stop", not
    "Running": text already on screen must not end the wait while the page is still running."""
    require_chromium()
    script = tmp_path / "slow_page.py"
    script.write_text(
        "import time\nimport streamlit as st\n\n"
        "st.write('first part')\ntime.sleep(3)\nst.write('second part')\n"
    )
    url, ui = start_streamlit(script, {})
    try:
        with Chromium() as browser:
            browser.goto(url)
            text = browser.wait_for_text("first part")
    finally:
        stop(ui)
    assert "second part" in text


def test_the_citation_box_shows_the_whole_citation(ui_url: str) -> None:
    """The copy box is what an agent reads before pasting: its end (character span, document
    id) must be on screen, not scrolled off to the right."""
    with Chromium(width=1000, height=900) as browser:
        browser.goto(f"{ui_url}/?q={QUESTION.replace(' ', '+')}")
        browser.wait_for_text("passages for", "Send feedback")
        boxes = browser.js(
            "[...document.querySelectorAll('[data-testid=\"stCode\"] pre')]"
            ".map(p => [p.innerText, p.scrollWidth, p.clientWidth])"
        )
    assert boxes and all("chars" in text for text, _, _ in boxes)
    assert any(len(text) > 100 for text, _, _ in boxes)  # longer than a line of the box
    assert [(text, w) for text, w, visible in boxes if w > visible + 1] == []


def test_sending_feedback_keeps_the_next_question_being_typed(ui_url: str) -> None:
    with Chromium() as browser:
        browser.goto(f"{ui_url}/?q={QUESTION.replace(' ', '+')}")
        browser.wait_for_text("passages for", "Did this search answer your question?")
        browser.js(f"document.querySelector({json.dumps(BOX)}).select()")
        browser.send("Input.insertText", text="chargeback on a gift, half typed")
        time.sleep(0.5)
        browser.js(
            "(() => { const l = [...document.querySelectorAll('label')]"
            ".filter(l => l.innerText.trim() === 'Helpful'); l[l.length - 1].click(); })()"
        )
        time.sleep(0.3)
        browser.js(
            "(() => { const b = [...document.querySelectorAll('button')]"
            ".filter(b => b.innerText.trim() === 'Send feedback'); b[b.length - 1].click(); })()"
        )
        browser.wait_for_text("Feedback recorded: Helpful")
        assert _box(browser) == "chargeback on a gift, half typed"


def test_a_slow_search_says_it_is_searching_until_it_ends(slow_ui_url: str) -> None:
    """While a search takes its time the page says so, rather than only fading the old page;
    once it has answered, or failed, it no longer says so."""
    with Chromium() as browser:
        browser.goto(slow_ui_url)
        browser.wait_for_text("Search the knowledge base", "passages.")
        browser.type_and_enter(BOX, QUESTION)
        time.sleep(1.5)
        during = browser.text()
        done = browser.wait_for_text("passages for")
        browser.js(f"document.querySelector({json.dumps(BOX)}).select()")
        browser.type_and_enter(BOX, "deadline for a coin refund")
        failed = browser.wait_for_text("took longer than 3s")
    assert "Searching the knowledge base" in during and "passages for" not in during
    assert "Searching the knowledge base" not in done
    assert "Searching the knowledge base" not in failed


def test_api_down_mid_ticket_keeps_the_question_and_search_tries_again(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    app = make_app(sample_kb, fake_embedder, tmp_path)
    port = _free_port()
    monkeypatch.setenv("KB_API_URL", f"http://127.0.0.1:{port}")
    _, server, thread = serve(app, port)
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    assert not at.exception and not at.error
    server.should_exit = True  # the API goes down while the agent types
    thread.join(timeout=5)
    at.text_input(key="q").input(QUESTION)
    at.selectbox(key="doc_type").select("sop")
    at.button[0].click().run()
    assert not at.exception
    assert at.error and "not reachable" in at.error[0].value
    # The form is still there, holding what the agent typed and chose.
    assert at.text_input(key="q").value == QUESTION
    assert at.selectbox(key="doc_type").value == "sop"
    _, server, thread = serve(app, port)  # the API is back: Search again works
    try:
        at.button[0].click().run()
        assert not at.exception and not at.error
        assert "Dangerous Challenges SOP" in " ".join(m.value for m in at.markdown)
    finally:
        server.should_exit = True
        thread.join(timeout=5)


class _SlowHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(1.5)
        body = b'{"status": "ok"}'
        try:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up first, as it should
            pass

    def log_message(self, *args: object) -> None:
        pass


def test_a_slow_api_is_not_reported_as_down() -> None:
    """An API that is up but slow must not send the agent off to start it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = ApiClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=0.3)
        with pytest.raises(ApiUnavailable) as err:
            api.health()
    finally:
        server.shutdown()
        server.server_close()
    message = str(err.value)
    assert "did not answer within 0.3 s" in message
    assert "not reachable" not in message and "kb serve" not in message


def test_knowledge_page_compares_passages_once_per_index(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """Conflicts depend on the index alone, and comparing every pair of passages is the page's
    slow part: moving the topic slider or changing the period must not redo it."""
    app = make_app(sample_kb, fake_embedder, tmp_path)
    calls: list[str] = []

    @app.middleware("http")
    async def count(request, call_next):
        calls.append(request.url.path)
        return await call_next(request)

    with served(app, monkeypatch):
        at = AppTest.from_file(KNOWLEDGE, default_timeout=30).run()
        assert not at.exception
        at.slider[0].set_value(0.7).run()  # topic grouping
        at.selectbox[0].select("Last 7 days").run()
        assert not at.exception and not at.error
        assert calls.count("/analytics/gaps") == 3  # the log-based tables follow each change
        assert calls.count("/analytics/conflicts") == 1
        at.slider[1].set_value(0.8).run()  # a new conflict threshold is a new comparison
        assert calls.count("/analytics/conflicts") == 2
        assert any("pairs of near-duplicate passages" in c.value for c in at.caption)


def test_a_card_offers_the_text_around_its_passage(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """'More context' on the page: the neighbouring passages the API returns, as written."""
    with served(make_app(sample_kb, fake_embedder, tmp_path), monkeypatch) as url:
        at = AppTest.from_file(AGENT, default_timeout=30).run()
        at.text_input(key="q").input(QUESTION)
        at.button[0].click().run()
        assert not at.exception and not at.error
        api = ApiClient(url).search(QUESTION, 5, {}, None, None, context=1)
    more = [e for e in at.expander if e.label.startswith("More context")]
    around = [r for r in api["results"] if r["context_before"] or r["context_after"]]
    assert around and len(more) == len(around)
    first = around[0]
    shown = " ".join(h.proto.body for h in more[0].get("html"))
    for neighbour in first["context_before"] + first["context_after"]:
        assert marked_html(neighbour["text"]) in shown
    assert marked_html(first["text"]) not in shown  # the passage itself is on the card
