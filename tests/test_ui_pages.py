"""Every Streamlit page against a real API on loopback (fake encoder), via AppTest."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import requests
import uvicorn
from streamlit.testing.v1 import AppTest

from insights.querylog import QueryLog
from tests.test_insights_api import make_app

UI = Path(__file__).resolve().parent.parent / "ui"
AGENT, KNOWLEDGE, EVALUATE = (
    str(UI / "views" / f"{n}.py") for n in ("agent", "knowledge", "evaluate")
)  # noqa: E501


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app) -> tuple[str, uvicorn.Server, threading.Thread]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@pytest.fixture
def api_url(sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch) -> str:
    url, server, thread = serve(make_app(sample_kb, fake_embedder, tmp_path))
    monkeypatch.setenv("KB_API_URL", url)
    yield url
    server.should_exit = True
    thread.join(timeout=5)


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_agent_search_renders_cards_and_feedback_reaches_the_api(api_url: str) -> None:
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    assert not at.exception
    at.text_input[0].input("escalate imminent risk guardian queue")
    at.button[0].click().run()
    assert not at.exception
    shown = _markdown(at)
    assert "Dangerous Challenges SOP" in shown
    passages = [h.proto.body for h in at.get("html") if "<mark>" in h.proto.body]
    assert passages and "guardian queue" in passages[0].lower()
    assert f"]({api_url}/source/sops/dangerous-challenges.pdf?start=" in shown
    assert "original PDF, page" in shown
    assert any("chars" in c.value and "[sops/dangerous-challenges.pdf]" in c.value for c in at.code)
    assert "v2.0 · effective 2026-01-10" in shown
    assert "?" not in shown.replace("?start=", "")  # a missing version or date is said, not '?'
    assert not at.warning  # answerable
    # Rate the first passage "wrong or outdated" with a comment holding personal data.
    at.radio(key=next(r.key for r in at.radio if r.key.startswith("rating-"))).set_value(
        "wrong_or_outdated"
    )
    first_comment = next(t for t in at.text_input if t.key and t.key.startswith("comment-"))
    first_comment.input("outdated, see ticket #5512345 from ana@example.com")
    send = next(b for b in at.button if b.label == "Send feedback")
    send.click().run()
    assert not at.exception
    assert any("Feedback recorded: Wrong or outdated" in s.value for s in at.success)
    # The search-level form is the last one: mark the whole search helpful.
    [b for b in at.button if b.label == "Send feedback"][-1].click().run()
    log = requests.get(f"{api_url}/analytics/searches", timeout=5).json()
    assert len(log) == 1 and sorted(log[0]["feedback"]) == ["helpful", "wrong_or_outdated"]
    rows = requests.get(f"{api_url}/analytics/document-feedback", timeout=5).json()
    assert rows[0]["doc_id"] == "sops/dangerous-challenges.pdf"


def test_agent_page_says_when_there_is_no_good_answer(api_url: str) -> None:
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params["q"] = "zebra migration quantum sandwich"
    at.run()
    assert not at.exception
    at.selectbox[0].select("DE")  # market
    at.selectbox[2].select("macro")  # no macro in the sample kb
    at.button[0].click().run()
    assert not at.exception
    assert any("No passage in the knowledge base matches" in i.value for i in at.info)


def test_agent_page_searches_from_a_link(api_url: str) -> None:
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params["q"] = "escalate imminent risk guardian queue"
    at.run()
    assert not at.exception
    assert "Dangerous Challenges SOP" in _markdown(at)


def test_knowledge_page_renders_gaps_from_a_seeded_log(api_url: str, tmp_path: Path) -> None:
    log = QueryLog(tmp_path / "log" / "q.sqlite")
    for day, query in [
        ("2026-11-01", "crypto payout wallet"),
        ("2026-11-02", "crypto payout wallet address"),
        ("2026-11-02", "payout to crypto wallet"),
        ("2026-11-03", "karaoke song licence for live"),
    ]:
        log.log_search(
            {"query": query, "answerable": False, "results": [],
             "reason": "weak evidence: the closest passage has similarity 0.10"},
            ts=f"{day}T09:00:00+00:00",
        )  # fmt: skip
    log.close()
    requests.post(f"{api_url}/search", json={"query": "refund coins DE"}, timeout=5)
    at = AppTest.from_file(KNOWLEDGE, default_timeout=30).run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Searches"] == "5" and metrics["Unanswered"] == "4"
    topics = at.dataframe[0].value
    crypto = topics[topics["label"].str.contains("crypto")]
    assert len(crypto) == 1 and int(crypto["unanswered"].iloc[0]) == 3
    assert topics["searches"].sum() == 4
    headers = [h.value for h in at.header]
    assert {"Coverage gaps by topic", "Never retrieved", "Past review date"} <= set(headers)
    assert any("crypto" in e.label and "(3 searches)" in e.label for e in at.expander)
    assert "- crypto payout wallet" in _markdown(at)  # example questions
    assert any("documents no logged search has returned" in c.value for c in at.caption)


def test_evaluate_page_runs_a_tiny_set(api_url: str) -> None:
    at = AppTest.from_file(EVALUATE, default_timeout=60).run()
    assert not at.exception
    assert at.selectbox[0].value == "tiny"
    at.multiselect[0].set_value(["bm25", "dense"])
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    assert not at.exception, at.exception
    metrics = at.dataframe[0].value
    assert list(metrics["mode"]) == ["bm25", "dense"] and metrics["queries"].tolist() == [3, 3]
    assert metrics.loc[metrics["mode"] == "bm25", "hit@1"].iloc[0] == 1.0
    assert len(at.get("image")) == 1
    shown = _markdown(at)
    assert "**Question:** when are coins refunded" in shown
    assert "refunded within 14 days" in shown and "`refunds` ✅" in shown


@pytest.mark.parametrize("page", [AGENT, KNOWLEDGE, EVALUATE])
def test_every_page_says_when_the_api_is_down(page: str, monkeypatch) -> None:
    monkeypatch.setenv("KB_API_URL", f"http://127.0.0.1:{_free_port()}")
    at = AppTest.from_file(page, default_timeout=30).run()
    assert not at.exception
    assert at.error and "not reachable" in at.error[0].value
