"""Every Streamlit page against a real API on loopback (fake encoder), via AppTest."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import uvicorn
from streamlit.testing.v1 import AppTest

from api.app import create_app
from indexer.build import build_index
from indexer.search import Searcher
from indexer.settings import Settings
from insights.querylog import QueryLog
from tests.fixture_files import write_superseded_coin_policy
from tests.test_insights_api import make_app
from ui.client import ApiClient
from ui.common import md

UI = Path(__file__).resolve().parent.parent / "ui"
AGENT, KNOWLEDGE, EVALUATE = (
    str(UI / "views" / f"{n}.py") for n in ("agent", "knowledge", "evaluate")
)  # noqa: E501


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app, port: int | None = None) -> tuple[str, uvicorn.Server, threading.Thread]:
    """The app on loopback in a thread (on ``port``, or a free one), once it has started."""
    port = port or _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, thread


@contextmanager
def served(app, monkeypatch: pytest.MonkeyPatch | None = None) -> Iterator[str]:
    """The app on loopback (:func:`serve`) for the block, stopped after it; the UI pointed at
    it (KB_API_URL) when ``monkeypatch`` is given."""
    url, server, thread = serve(app)
    if monkeypatch is not None:
        monkeypatch.setenv("KB_API_URL", url)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture
def api_url(sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch) -> str:
    with served(make_app(sample_kb, fake_embedder, tmp_path), monkeypatch) as url:
        yield url


def _unescape(markdown: str) -> str:
    """Markdown source as read: the pages backslash-escape literal text (ui.common.md)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def _markdown(at: AppTest) -> str:
    return _unescape("\n".join(m.value for m in at.markdown))


def _captions_for(question: str) -> str:
    """The agent page's captions for a search link to ``question`` (it must not fail)."""
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params["q"] = question
    at.run()
    assert not at.exception
    return _unescape("\n".join(c.value for c in at.caption))


def _shown(dataframe) -> list[list[str]]:
    """A st.dataframe's cells as the grid shows them: a missing value as the placeholder."""
    placeholder = dataframe.proto.placeholder or "None"
    rows = dataframe.value.astype(object).where(dataframe.value.notna(), placeholder)
    return [[str(v) for v in row] for row in rows.values.tolist()]


def _searches(api_url: str) -> list[dict]:
    return requests.get(f"{api_url}/analytics/searches", timeout=5).json()


def _send_feedback(at: AppTest, index: int, rating: str | None) -> None:
    """Choose ``rating`` (None: nothing) in the index-th feedback form and press Send."""
    radios = [r for r in at.radio if r.key.startswith("rating-")]
    if rating is not None:
        radios[index].set_value(rating)
    [b for b in at.button if b.label == "Send feedback"][index].click().run()


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
    assert f'href="{api_url}/source/sops/dangerous-challenges.pdf?start=' in shown
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
    _send_feedback(at, -1, "helpful")
    log = _searches(api_url)
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


def test_agent_page_says_which_market_code_a_country_was_searched_by(api_url: str) -> None:
    """The sample lists DE in a document's markets, so "german" is also searched as DE."""
    captions = _captions_for("refund coins for a german user")
    assert "Also searched german as DE" in captions


def test_agent_page_says_which_version_a_question_was_searched_in(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """The page sends no as_of for today, so "the old policy" is searched in that version."""
    write_superseded_coin_policy(sample_kb)
    with served(make_app(sample_kb, fake_embedder, tmp_path), monkeypatch):
        captions = _captions_for("refund coins under the old coin policy")
    assert (
        "Searched policies/coin-refunds-old.md too (the question asks about an earlier version); "
        "policies/coin-refunds.md is the version in force." in captions
    )


def test_agent_link_carries_every_filter_both_ways(api_url: str) -> None:
    link = {
        "q": "coin refund window",
        "market": "MY",  # not a market of the sample kb: kept, shown and searched, not dropped
        "product_area": "payments",
        "doc_type": "policy",
        "as_of": "2026-03-01",
        "top_k": "3",
    }
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params.update(link)
    at.run()
    assert not at.exception
    [logged] = _searches(api_url)
    assert logged["filters"] == {
        "markets": ["MY"],
        "product_area": ["payments"],
        "doc_type": ["policy"],
    }
    assert any("(as of 2026-03-01)" in _unescape(c.value) for c in at.caption)
    assert at.text_input(key="q").value == "coin refund window"
    assert [at.selectbox(key=k).value for k in ("market", "product_area", "doc_type")] == [
        "MY",
        "payments",
        "policy",
    ]
    assert at.date_input(key="as_of").value == dt.date(2026, 3, 1)
    assert at.number_input(key="top_k").value == 3
    assert at.query_params == {**link, "sid": logged["search_id"]}

    # A search from the form puts its filters in the address bar.
    at.selectbox(key="market").select("DE")
    at.selectbox(key="product_area").select("")
    at.date_input(key="as_of").set_value(dt.date(2026, 4, 2))
    at.number_input(key="top_k").set_value(5)
    at.button[0].click().run()
    assert not at.exception
    logged = _searches(api_url)[-1]
    assert logged["filters"] == {"markets": ["DE"], "doc_type": ["policy"]}
    assert any("(as of 2026-04-02)" in _unescape(c.value) for c in at.caption)
    assert at.query_params == {
        "q": "coin refund window",
        "market": "DE",
        "doc_type": "policy",
        "as_of": "2026-04-02",
        "sid": logged["search_id"],
    }


def test_agent_link_with_a_bad_date_says_so_and_searches_as_of_today(api_url: str) -> None:
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params.update({"q": "coin refund window", "market": "DE", "as_of": "01/03/2026"})
    at.run()
    assert not at.exception
    assert any("not a date written YYYY-MM-DD" in _unescape(w.value) for w in at.warning)
    [logged] = _searches(api_url)
    assert logged["filters"] == {"markets": ["DE"]}
    today = dt.date.today().isoformat()
    assert any(f"(as of {today})" in _unescape(c.value) for c in at.caption)


def test_reloading_a_search_link_does_not_log_the_search_again(api_url: str) -> None:
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params.update({"q": "escalate imminent risk guardian queue", "market": "global"})
    at.run()
    at.run()  # any click reruns the page: the link is not searched again
    assert not at.exception
    [logged] = _searches(api_url)
    # Reloading the address bar's link starts a new session: same results, no second log entry.
    reloaded = AppTest.from_file(AGENT, default_timeout=30)
    reloaded.query_params.update(at.query_params)
    reloaded.run()
    assert not reloaded.exception
    assert "Dangerous Challenges SOP" in _markdown(reloaded)
    assert [s["search_id"] for s in _searches(api_url)] == [logged["search_id"]]
    # ... and feedback there rates the search that was logged.
    _send_feedback(reloaded, -1, "not_helpful")
    [logged] = _searches(api_url)
    assert logged["feedback"] == ["not_helpful"]


def test_a_link_holds_the_question_without_personal_data(api_url: str) -> None:
    """The address bar held "...email me at john.doe@example.com" as typed: browser history
    and every link pasted into a ticket, while the query log stored [EMAIL]."""
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    at.text_input[0].input("escalate imminent risk, email me at john.doe@example.com")
    at.button[0].click().run()
    at.run()  # a rerun (any click) does not search the link's text again
    assert not at.exception
    assert at.query_params["q"] == "escalate imminent risk, email me at [EMAIL]"
    assert at.text_input[0].value.endswith("john.doe@example.com")  # the form keeps it
    [logged] = _searches(api_url)
    reloaded = AppTest.from_file(AGENT, default_timeout=30)
    reloaded.query_params.update(at.query_params)
    # The link as pasted searches what it holds. Without the address the passages can differ
    # from those logged, so it is a search of its own (the UI keeps no answers between
    # sessions: one kept would outlive `kb access` and a revoked key).
    reloaded.run()
    assert not reloaded.exception and "Dangerous Challenges SOP" in _markdown(reloaded)
    searches = _searches(api_url)
    assert searches[0]["search_id"] == logged["search_id"] and len(searches) <= 2
    assert all("john.doe" not in s["query"] for s in searches)
    assert reloaded.query_params["q"] == "escalate imminent risk, email me at [EMAIL]"


def test_agent_page_shows_typed_text_as_written(api_url: str) -> None:
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    query = "**coin** refund _window_ [x](http://evil.example) <b>DE</b> :red[now] $5"
    at.text_input[0].input(query)
    at.button[0].click().run()
    assert not at.exception
    assert any(md(query) in c.value for c in at.caption)
    assert not any(query in c.value for c in at.caption)  # never the raw Markdown


def test_feedback_needs_a_chosen_rating(api_url: str) -> None:
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    at.text_input[0].input("escalate imminent risk guardian queue")
    at.button[0].click().run()
    assert all(r.value is None for r in at.radio if r.key.startswith("rating-"))
    comment = [t for t in at.text_input if t.key and t.key.startswith("comment-")][-1]
    comment.input("did not say which queue")
    _send_feedback(at, -1, None)
    assert not at.exception
    assert any("Choose helpful, not helpful or wrong or outdated" in w.value for w in at.warning)
    assert _searches(api_url)[0]["feedback"] == []
    assert [t for t in at.text_input if t.key.startswith("comment-")][-1].value == comment.value
    _send_feedback(at, -1, "not_helpful")
    assert _searches(api_url)[0]["feedback"] == ["not_helpful"]


def test_knowledge_page_renders_gaps_from_a_seeded_log(api_url: str, tmp_path: Path) -> None:
    log = QueryLog(tmp_path / "log" / "q.sqlite")
    for day, query in [
        ("2026-11-01", "crypto payout wallet"),
        ("2026-11-02", "crypto payout wallet address"),
        ("2026-11-02", "payout to crypto wallet"),
        ("2026-11-03", "karaoke song licence for live"),
        ("2026-11-03", "**karaoke** song licence for live"),
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
    assert metrics["Searches"] == "6" and metrics["Unanswered"] == "5"
    topics = at.dataframe[0].value
    crypto = topics[topics["label"].str.contains("crypto")]
    assert len(crypto) == 1 and int(crypto["unanswered"].iloc[0]) == 3
    assert topics["searches"].sum() == 5
    raw = [m.value for m in at.markdown]
    assert f"- {md('**karaoke** song licence for live')}" in raw  # typed text, not bold
    headers = [h.value for h in at.header]
    assert {"Coverage gaps by topic", "Never retrieved", "Past review date"} <= set(headers)
    assert any("crypto" in e.label and "(3 searches)" in _unescape(e.label) for e in at.expander)
    assert "- crypto payout wallet" in _markdown(at)  # example questions
    assert any("documents no logged search has returned" in c.value for c in at.caption)


def test_never_retrieved_says_which_period_and_which_versions_it_leaves_out(
    api_url: str,
) -> None:
    """With "Last 7 days" picked the caption still read as if no search had ever returned
    those documents, and it named superseded versions as the only ones left out, though
    versions not in force yet are too (a manager looks for a version published for next
    month and does not find it)."""
    at = AppTest.from_file(KNOWLEDGE, default_timeout=30).run()
    assert not at.exception, at.exception
    [caption] = [c.value for c in at.caption if "no logged search" in c.value]
    assert "in the last" not in caption and "versions not in force yet" in caption
    at.selectbox[0].select("Last 7 days").run()
    assert not at.exception, at.exception
    [caption] = [c.value for c in at.caption if "no logged search" in c.value]
    assert "in the last 7 days" in caption and "versions not in force yet" in caption


def test_knowledge_page_shows_conflicting_passages_with_their_tables(
    fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    for name, days in (("a", 14), ("b", 7)):
        (kb / f"{name}.md").write_text(
            f"# Coin refunds {name.upper()}\n\n## Windows\n\n"
            f"Unused coins can be refunded within {days} days in DE.\n\n"
            f"| Market | Window |\n|---|---|\n| DE | {days} days |\n| GB | 30 days |\n"
        )
    with served(make_app(kb, fake_embedder, tmp_path / "work"), monkeypatch):
        at = AppTest.from_file(KNOWLEDGE, default_timeout=30).run()
    assert not at.exception, at.exception
    pairs = [e for e in at.expander if " vs " in e.label]
    assert pairs, [e.label for e in at.expander]
    shown = [h.proto.body for h in pairs[0].get("html")]
    assert len(shown) == 2 and all("<table" in h and "| DE |" not in h for h in shown)
    only = sorted(_unescape(c.value) for c in pairs[0].caption if c.value.startswith("Only"))
    assert only == ["Only here: days: 14", "Only here: days: 7"]


def _knowledge_page(kb: Path, fake_embedder, tmp_path: Path, monkeypatch) -> AppTest:
    """The knowledge page run against an API over ``kb`` indexed whole-section (each short
    policy one passage)."""
    build_index(kb, tmp_path / "ix", fake_embedder, max_tokens=120, min_tokens=100)
    settings = Settings(index_dir=tmp_path / "ix", log_path=tmp_path / "log.sqlite")
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with served(app, monkeypatch):
        return AppTest.from_file(KNOWLEDGE, default_timeout=30).run()


def test_past_review_caption_covers_a_document_with_no_date_at_all(
    fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """A document with no review date and no effective date is listed (nobody can tell when
    it was checked), but the caption named only a passed review date or a year in force,
    neither of which it has."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "sounds.md").write_text(
        "---\ntitle: Sound library note\n---\n\n# Sound library note\n\nSounds in the "
        "library are licensed for use in videos only.\n"
    )
    at = _knowledge_page(kb, fake_embedder, tmp_path, monkeypatch)
    assert not at.exception, at.exception
    [caption] = [c.value for c in at.caption if "due for review" in c.value]
    assert caption.startswith("1 document is due for review")
    assert "no date at all" in caption


def test_knowledge_page_lists_every_disagreeing_pair_with_its_sections(
    fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """A short policy is one passage of several sections: only its first disagreeing sentence
    was marked, and the age that differs two sections further down was named nowhere."""
    kb = tmp_path / "kb"
    kb.mkdir()
    for name, days, age in (("policy", 30, 16), ("faq", 14, 18)):
        (kb / f"{name}.md").write_text(
            f"# Merch {name}\n\n## Refund window\n\nBuyers of official merch can request a "
            f"refund within {days} days of delivery.\n\n## Age requirement\n\nUsers must be "
            f"at least {age} to buy official merch with a stored card.\n"
        )
    at = _knowledge_page(kb, fake_embedder, tmp_path, monkeypatch)
    assert not at.exception, at.exception
    [pair] = [e for e in at.expander if " vs " in e.label]
    listed = _unescape("\n".join(m.value for m in pair.markdown))
    for name in ("policy", "faq"):
        assert f"Merch {name} > Refund window" in listed
        assert f"Merch {name} > Age requirement" in listed
    assert "Users must be at least 16" in listed and "Users must be at least 18" in listed


def test_evaluate_page_runs_a_tiny_set(api_url: str) -> None:
    at = AppTest.from_file(EVALUATE, default_timeout=60).run()
    assert not at.exception
    assert at.selectbox[0].value == "tiny"
    at.multiselect[0].set_value(["bm25", "dense"])
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    deadline = time.monotonic() + 30
    while not at.dataframe and not at.exception:  # the run goes on on the API: poll it
        assert time.monotonic() < deadline, [p.proto.text for p in at.progress]
        time.sleep(0.1)
        at.run()
    assert not at.exception, at.exception
    metrics = at.dataframe[0].value
    assert list(metrics["mode"]) == ["bm25", "dense"] and metrics["queries"].tolist() == [3, 3]
    assert metrics.loc[metrics["mode"] == "bm25", "hit@1"].iloc[0] == 1.0
    assert len(at.get("image")) == 1
    shown = _markdown(at)
    assert "**Question:** when are coins refunded" in shown
    assert "refunded within 14 days" in shown and "`refunds` ✅" in shown


EVAL_RUN = {
    "dataset": "tiny",
    "split": None,
    "chart_png": None,
    "results": {
        "bm25": {
            "metrics": {"queries": 1, "hit@1": 0.5, "mrr@10": None, "evidence_hit@3": None},
            "per_query": [
                {
                    "query_id": "q1",
                    "query": "**bold** refund _now_ <b>x</b>",
                    "first_relevant_rank": None,
                    "hit@1": 0.0,
                    "mrr@10": None,
                    "evidence_hit@3": None,
                    "relevant": ["refunds`v2"],
                    "evidence": ["# Refunds\n* within 14 days"],
                    "ranked_docs": ["refunds`v2"],
                    "top_passages": ["**passage**"],
                }
            ],
        }
    },
}


def test_evaluate_page_shows_missing_metrics_as_na_and_questions_as_written(
    api_url: str,
) -> None:
    at = AppTest.from_file(EVALUATE, default_timeout=60)
    at.session_state["eval"] = EVAL_RUN
    at.run()
    assert not at.exception, at.exception
    assert _shown(at.dataframe[0]) == [["bm25", "1", "0.5", "n/a", "n/a"]]  # None, not 0
    assert _shown(at.dataframe[1]) == [
        ["q1", "**bold** refund _now_ <b>x</b>", "n/a", "0.0", "n/a", "n/a"]
    ]
    formats = json.loads(at.dataframe[0].proto.columns)
    assert formats["mode"]["pinned"] is True  # in view while the metrics scroll
    assert formats["hit@1"]["type_config"]["format"] == "%.3f"
    assert formats["queries"]["type_config"]["format"] == "%d"
    assert any("No chart" in c.value for c in at.caption)
    raw = "\n".join(m.value for m in at.markdown)
    assert "**Question:** " + md("**bold** refund _now_ <b>x</b>") in raw
    assert "``refunds`v2``" in raw  # the id as written, in one code span
    assert "> " + md("# Refunds") + "  \n> " + md("* within 14 days") in raw


@pytest.mark.parametrize("page", [AGENT, KNOWLEDGE, EVALUATE])
def test_every_page_says_when_the_api_is_down(page: str, monkeypatch) -> None:
    monkeypatch.setenv("KB_API_URL", f"http://127.0.0.1:{_free_port()}")
    at = AppTest.from_file(page, default_timeout=30).run()
    assert not at.exception
    assert at.error and "not reachable" in at.error[0].value


@pytest.mark.parametrize("sid", ["x" * 65, "not-a-search-id", "0" * 32])
def test_a_link_with_a_bad_sid_still_searches(api_url: str, sid: str) -> None:
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params.update({"q": "escalate imminent risk guardian queue", "sid": sid})
    at.run()
    assert not at.exception and not at.error
    assert "Dangerous Challenges SOP" in _markdown(at)
    assert len(_searches(api_url)) == 1  # an unknown id is a new search, logged once


def test_agent_page_says_which_word_a_slip_was_searched_as(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    fake_embedder.words = frozenset({"refund", "coins"})  # the model's whole words
    with served(make_app(sample_kb, fake_embedder, tmp_path), monkeypatch):
        captions = _captions_for("refnd coins")
    assert "Searched “refnd” as “refund”, the knowledge base's word." in captions


def _finished_run(api: ApiClient, modes: list[str]) -> dict:
    """An evaluation of the tiny set run to its end on the API."""
    run_id = api.start_eval("tiny", "dev", modes)["run_id"]
    deadline = time.monotonic() + 30
    while (view := api.eval_run(run_id))["status"] != "done":
        assert view["status"] in ("queued", "running") and time.monotonic() < deadline, view
        time.sleep(0.1)
    return view


def test_evaluate_page_names_the_questions_worse_than_in_an_earlier_run(
    api_url: str, monkeypatch
) -> None:
    api = ApiClient(api_url)
    earlier = _finished_run(api, ["bm25"])
    later = _finished_run(api, ["bm25", "dense"])
    result = later["result"]
    row = next(r for r in result["results"]["bm25"]["per_query"] if r["query_id"] == "q2")
    assert row["ndcg@10"] == 1.0
    row["ndcg@10"], row["first_relevant_rank"] = 0.5, 3  # as a change that hurt q2 would show
    at = AppTest.from_file(EVALUATE, default_timeout=60)
    at.session_state["eval"] = result
    at.session_state["eval_result_of"] = later["run_id"]
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="compare-run").value["run_id"] == earlier["run_id"]  # not itself
    shown = _markdown(at)
    assert "bm25, ndcg@10: 1 question worse, 0 better, 2 unchanged (sign test p = 1)" in shown
    assert "dense" not in shown.split("Per query")[0]  # the earlier run has no dense results
    worse = at.dataframe[1].value
    assert worse["query_id"].tolist() == ["q2"] and worse["rank after"].tolist() == [3]
    assert worse["change"].tolist() == [-0.5]
    asked: list[str] = []  # a finished run is fetched once, not on every rerun of the page
    fetch = ApiClient.eval_run
    monkeypatch.setattr(
        ApiClient, "eval_run", lambda self, rid: asked.append(rid) or fetch(self, rid)
    )
    at.checkbox[0].check().run()
    assert not at.exception and earlier["run_id"] not in asked
    assert "bm25, ndcg@10: 1 question worse" in _markdown(at)


def test_evaluate_page_says_when_the_earlier_run_had_other_labels(
    api_url: str, tmp_path: Path
) -> None:
    """An evaluator fixes a label and runs again: the questions that moved are the label's
    doing, which `kb eval --baseline` notes and the page did not."""
    api = ApiClient(api_url)

    def page_against_earlier(run: dict, earlier: dict) -> list[str]:
        at = AppTest.from_file(EVALUATE, default_timeout=60)
        at.session_state["eval"] = run["result"]
        at.session_state["eval_result_of"] = run["run_id"]
        at.run()
        assert not at.exception, at.exception
        assert at.selectbox(key="compare-run").value["run_id"] == earlier["run_id"]
        return [w.value for w in at.warning if "earlier run differs" in w.value]

    first = _finished_run(api, ["bm25"])
    second = _finished_run(api, ["bm25"])
    assert page_against_earlier(second, first) == []  # the same labels: nothing to say
    qrels = tmp_path / "datasets" / "tiny" / "qrels.dev.tsv"
    qrels.write_text(qrels.read_text().replace("q2\tpayouts\t1", "q2\tpayouts\t1\nq2\tlive\t1"))
    third = _finished_run(api, ["bm25"])
    [note] = page_against_earlier(third, second)
    assert "other labels" in note, note


def test_evaluate_page_shows_what_the_labels_warn_of(api_url: str, tmp_path: Path) -> None:
    """A judgement of a document the corpus lacks can only count as a miss: `kb eval` says so,
    and so must the page, above the metrics it lowered."""
    qrels = tmp_path / "datasets" / "tiny" / "qrels.dev.tsv"
    qrels.write_text(qrels.read_text() + "q1\tno-such-doc\t1\n")
    run = _finished_run(ApiClient(api_url), ["bm25"])
    at = AppTest.from_file(EVALUATE, default_timeout=60)
    at.query_params["run"] = run["run_id"]
    at.run()
    assert not at.exception, at.exception
    shown = [_unescape(w.value) for w in at.warning]
    assert any(
        w.startswith("tiny/qrels.dev.tsv: 1 judgement(s) name documents that are not in the corpus")
        and "q1 -> no-such-doc" in w
        for w in shown
    ), shown


def test_a_link_made_today_carries_no_day_so_it_reads_as_today_later(api_url: str) -> None:
    """A link always carried the day it was made: opened on a later day, that day was sent as
    a chosen as_of, which turns off searching the version a question names."""
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params["q"] = "coin refund rules in feb 2025"
    at.run()
    assert not at.exception
    [logged] = _searches(api_url)
    assert at.query_params == {"q": "coin refund rules in feb 2025", "sid": logged["search_id"]}
    at.date_input(key="as_of").set_value(dt.date(2026, 4, 2))
    at.button[0].click().run()
    assert at.query_params["as_of"] == "2026-04-02"  # a day the agent chose stays in it


@pytest.mark.parametrize(
    ("as_of", "said"),
    [
        ("0001-01-01", "outside the dates the form takes (1970-01-01 to 2199-12-31)"),
        ("2026-02-30", "not a day of the calendar"),
    ],
)
def test_a_link_date_written_right_but_unusable_says_why(api_url: str, as_of, said) -> None:
    """Both read "is not a date written YYYY-MM-DD", though both are written that way."""
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params.update({"q": "coin refund window", "as_of": as_of})
    at.run()
    assert not at.exception
    warnings = " ".join(_unescape(w.value) for w in at.warning)
    assert said in warnings and "YYYY-MM-DD" not in warnings


def test_a_link_filter_the_index_does_not_list_is_said(api_url: str) -> None:
    """A tampered or stale link's market was shown as chosen, and searched, without a word."""
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params.update({"q": "coin refund window", "market": "<img src=x>"})
    at.run()
    assert not at.exception
    warnings = " ".join(_unescape(w.value) for w in at.warning)
    assert "market (<img src=x>) is not one the knowledge base lists" in warnings
    at = AppTest.from_file(AGENT, default_timeout=30)
    at.query_params.update({"q": "coin refund window", "market": "DE"})
    at.run()
    assert not any("not one the knowledge base lists" in _unescape(w.value) for w in at.warning)
