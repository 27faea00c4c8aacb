"""UI review with API keys on: a knowledge manager whose access groups do not cover every
document, on the evaluator page; and, in a real browser, a citation link opening its marked
passage under the source page's content policy.

AppTest drives the pages against a real API on loopback (fake encoder); the browser test uses
Debian's headless chromium (tests/cdp.py) and skips without it outside CI.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import requests
from streamlit.testing.v1 import AppTest

from insights.querylog import QueryLog
from tests.cdp import Chromium
from tests.fixture_files import write_superseded_coin_policy
from tests.test_insights_api import make_app
from tests.test_security_review import _app, _h, _keys, _settings, _write_kb_labels
from tests.test_ui_browser import REPO, require_chromium, start_streamlit, stop
from tests.test_ui_pages import AGENT, EVALUATE, KNOWLEDGE, _unescape, served

REFUSED = "cover all of them"  # the API's 403 for the kb set with a narrow key


@pytest.fixture
def secured(sample_kb: Path, fake_embedder, tmp_path: Path) -> Iterator[tuple[str, dict]]:
    """A keyed API (the kb set labelled) on loopback, and its keys by role."""
    _write_kb_labels(sample_kb)
    settings = _settings(tmp_path, sample_kb)
    keys = _keys(settings)
    with served(_app(settings, sample_kb, fake_embedder)) as url:
        yield url, keys


def _as(monkeypatch: pytest.MonkeyPatch, url: str, key: str) -> None:
    monkeypatch.setenv("KB_API_URL", url)
    monkeypatch.setenv("KB_API_KEY", key)


def _said(at: AppTest) -> str:
    return _unescape(" ".join(e.value for e in [*at.error, *at.warning, *at.info]))


def test_a_narrow_key_is_told_it_may_not_run_the_kb_set_and_still_runs_others(
    secured: tuple[str, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, keys = secured
    _as(monkeypatch, url, keys["km"])
    at = AppTest.from_file(EVALUATE, default_timeout=30).run()
    at.selectbox(key="eval-set").select("kb").run()
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    assert not at.exception
    assert REFUSED in _said(at) and not at.progress
    assert "eval_run_id" not in at.session_state or at.session_state["eval_run_id"] is None
    at.selectbox(key="eval-set").select("tiny").run()
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    assert not at.exception and not at.error
    assert at.session_state["eval_run_id"]


def test_a_link_to_a_run_the_key_may_not_read_says_so_and_stops_polling(
    secured: tuple[str, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An evaluator shares the link to a kb-set run; opened by a UI whose key sees only some
    documents, the API refuses it (403) for good: the page must say so and stop following it,
    not poll forever saying the evaluation goes on."""
    url, keys = secured
    started = requests.post(
        f"{url}/eval/runs", json={"dataset": "kb"}, headers=_h(keys["admin"]), timeout=10
    )
    assert started.status_code == 202, started.text
    _as(monkeypatch, url, keys["km"])
    at = AppTest.from_file(EVALUATE, default_timeout=30)
    at.query_params["run"] = started.json()["run_id"]
    at.run()
    assert not at.exception
    said = _said(at)
    assert REFUSED in said and "asks again" not in said
    assert not at.progress
    assert at.session_state["eval_run_id"] is None
    assert "run" not in at.query_params


@pytest.fixture
def ui_url(sample_kb: Path, fake_embedder, tmp_path: Path) -> Iterator[str]:
    """The whole UI, keyed as an admin, against a keyed API over the sample knowledge base."""
    require_chromium()
    filler = "\n\n".join(
        f"## Step {i}\n\nRecord the ticket number and the market in field {i}." for i in range(60)
    )
    (sample_kb / "policies" / "long-gifts.md").write_text(
        "---\naccess_groups: [all-agents]\n---\n# Long gift rules\n\n"
        f"{filler}\n\n## Expiry\n\nZebra sticker gifts expire after ninety days unless "
        "redeemed.\n",
        encoding="utf-8",
    )
    settings = _settings(tmp_path, sample_kb)
    keys = _keys(settings)
    with served(_app(settings, sample_kb, fake_embedder)) as api_url:
        url, ui = start_streamlit(
            REPO / "ui" / "app.py", {"KB_API_URL": api_url, "KB_API_KEY": keys["admin"]}
        )
        yield url
        stop(ui)


LINKS = """[...document.querySelectorAll('a')]
  .filter(a => /^(Open in source|original PDF)/.test(a.innerText.trim()))
  .map(a => [a.innerText.trim(), a.href])"""
PASSAGE = """(() => { const m = document.getElementById('passage');
  if (!m) return null;
  const r = m.getBoundingClientRect();
  return {hash: location.hash, top: r.top, bottom: r.bottom, height: innerHeight,
          scrolled: document.scrollingElement.scrollTop, text: m.innerText,
          background: getComputedStyle(m).backgroundColor,
          pdf: [...document.querySelectorAll('a')].filter(a => a.innerText === 'original PDF')
                 .map(a => a.href)}; })()"""


def _open_source(browser: Chromium, ui_url: str, query: str, needle: str) -> tuple[dict, list]:
    """Search ``query`` in the UI, open the first result's "Open in source" link as a browser
    does (its #passage anchor included) and read where the marked passage is."""
    browser.goto(f"{ui_url}/?q={query.replace(' ', '+')}")
    browser.wait_for_text("passages for", "Open in source")
    links = browser.js(LINKS)
    source = next(href for text, href in links if text == "Open in source")
    assert "&chunk=" in source and source.endswith("#passage")
    browser.goto(source)
    browser.wait_for_text(needle, timeout=20)
    time.sleep(0.5)
    shown = browser.js(PASSAGE)
    assert shown is not None, browser.text()[:1000]
    assert shown["hash"] == "#passage" and needle in shown["text"]
    assert shown["background"] == "rgb(255, 229, 138)"  # the inline style sheet applied
    return shown, links


def test_open_in_source_scrolls_to_the_marked_passage_and_the_pdf_opens(
    ui_url: str, sample_kb: Path
) -> None:
    """The source page runs no script and allows only its inline styles: the passage must
    still be marked (its style applied), scrolled into view by the #passage anchor, and the
    original PDF must still open, from the card and from the source page."""
    with Chromium(width=1000, height=500) as browser:
        shown, links = _open_source(
            browser, ui_url, "preserve the video id and the reporter id", "Preserve the video id"
        )
        card_pdf = next(href for text, href in links if text.startswith("original PDF"))
        for pdf in (card_pdf, *shown["pdf"]):
            browser.goto(pdf)
            time.sleep(2)
            assert browser.js("document.contentType") == "application/pdf", pdf
        shown, _ = _open_source(
            browser, ui_url, "zebra sticker gifts expire after ninety days", "Zebra sticker"
        )
        assert shown["scrolled"] > 0 and 0 <= shown["top"] < shown["height"]


# A fresh-eyes walk of the three pages as their users meet them (agent, knowledge manager):
# what a card says about a version not in force, what an unset filter reads as, and whether the
# knowledge page's counts and review table read right on a 1366-pixel screen.


def test_a_card_from_a_version_not_in_force_says_so_above_its_passage(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An "old policy" question brings back the superseded version first; its card read like a
    current one (version, effective date) and said "NOT IN FORCE" only at the far end of the
    citation box. Each such card says so above the passage; cards in force say nothing."""
    write_superseded_coin_policy(sample_kb)
    with served(make_app(sample_kb, fake_embedder, tmp_path), monkeypatch):
        at = AppTest.from_file(AGENT, default_timeout=30)
        at.query_params["q"] = "refund coins under the old coin policy"
        at.run()
    assert not at.exception
    results = at.session_state["response"]["results"]
    old = [r for r in results if r.get("in_force") is False]
    assert old and len(old) < len(results)  # both versions shown
    warnings = [_unescape(w.value) for w in at.warning if "Not in force" in w.value]
    assert len(warnings) == len(old)
    assert all("superseded by policies/coin-refunds.md" in w for w in warnings)
    # It was searched because the question asks about it: the version to quote for that case.
    assert all(
        "Searched because the question asks about an earlier version: quote it for that case" in w
        for w in warnings
    )


@pytest.fixture
def sample_api(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The sample knowledge base's API on loopback, the UI pointed at it; its query log is
    tmp_path/log/q.sqlite."""
    with served(make_app(sample_kb, fake_embedder, tmp_path), monkeypatch) as url:
        yield url


def test_an_unset_filter_reads_as_all_and_still_sends_no_filter(sample_api: str) -> None:
    """An empty filter showed as Streamlit's "Choose an option" placeholder, which reads as a
    choice still to make; it reads "All markets" and so on, and still filters nothing."""
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    assert not at.exception
    for key, label in [
        ("market", "All markets"),
        ("product_area", "All product areas"),
        ("doc_type", "All types"),
    ]:
        box = at.selectbox(key=key)
        assert box.options[0] == label and box.value == ""
    assert "DE" in at.selectbox(key="market").options  # real values are shown as they are
    at.text_input(key="q").input("coin refund window")
    next(b for b in at.button if b.label == "Search").click().run()
    assert not at.exception
    assert at.session_state["response"]["filters"] == {}
    at.selectbox(key="market").select("DE")
    next(b for b in at.button if b.label == "Search").click().run()
    assert at.session_state["response"]["filters"]["markets"] == ["DE"]


def _seed_gap(log_path: Path, query: str) -> None:
    log = QueryLog(log_path)
    log.log_search(
        {"query": query, "answerable": False, "results": [], "reason": "weak evidence"},
        ts="2026-11-03T09:00:00+00:00",
    )
    log.close()


OVERDUE = """---
title: Gift Limits Guide
doc_type: guideline
owner_team: Payments Support
version: "1.0"
effective_date: 2024-01-01
review_date: 2025-01-01
---
# Gift Limits Guide

A user can send at most 500 coins of gifts per day.
"""


def test_knowledge_page_counts_read_right_and_review_tables_use_the_full_width(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A topic of one search said "(1 searches)"; the never-retrieved and past-review tables
    sat in half-width columns, where a 1366-pixel screen showed the document id and title and
    scrolled the reason and days overdue out of sight."""
    (sample_kb / "policies" / "gift-limits.md").write_text(OVERDUE)
    _seed_gap(tmp_path / "log" / "q.sqlite", "crypto payout wallet")
    with served(make_app(sample_kb, fake_embedder, tmp_path), monkeypatch):
        at = AppTest.from_file(KNOWLEDGE, default_timeout=30).run()
    assert not at.exception, at.exception
    labels = [_unescape(e.label) for e in at.expander]
    assert any("crypto" in label and label.endswith("(1 search)") for label in labels), labels
    assert not any("(1 searches)" in label for label in labels)
    tables = [d.value for d in at.dataframe]
    [due] = [t for t in tables if "reason" in t.columns and "days_overdue" in t.columns]
    # the overdue policy and the sample's undated documents (due: nobody knows when checked)
    said = "1 document is" if len(due) == 1 else f"{len(due)} documents are"
    assert len(due) > 1 and any(c.value.startswith(f"{said} due for review") for c in at.caption)
    assert any("policies/gift-limits.md" in t.get("doc_id", pd.Series()).tolist() for t in tables)
    assert [d for column in at.columns for d in column.dataframe] == []
