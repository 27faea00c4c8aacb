"""The knowledge manager's analytics as used: ratings per document version, gap topics ranked
worst first, and the Coverage page's trend chart keeping quiet days."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from insights import gaps
from insights.querylog import QueryLog
from tests import test_insights_analytics, test_ui_pages
from tests.conftest import FakeEmbedder
from tests.test_insights_api import make_app
from tests.test_ui_pages import KNOWLEDGE

api_url = test_ui_pages.api_url  # the API on loopback, the pages pointed at it

THRESHOLD = 0.35


def _answered(query: str, doc_id: str, chunk_id: str, version: str | None) -> dict:
    """A search response as /search returns it: each result carries its document's metadata."""
    metadata = {"status": "active", **({"version": version} if version is not None else {})}
    return {
        "query": query,
        "answerable": True,
        "reason": "closest passage similarity 0.70 (threshold 0.35)",
        "results": [
            {"rank": 1, "doc_id": doc_id, "chunk_id": chunk_id, "title": "Coin refunds",
             "score": 0.7, "metadata": metadata},
        ],
        "filters": {},
        "mode": "hybrid",
    }  # fmt: skip


def _rate_versions(log: QueryLog) -> None:
    """Two agents called v2.0 of a policy outdated; after it was fixed as v2.1, one found it
    helpful."""
    for query, version, chunk, rating in [
        ("coin refund window", "2.0", "c-old", "wrong_or_outdated"),
        ("refund for unused coins", "2.0", "c-old", "wrong_or_outdated"),
        ("coin refund window EU", "2.1", "c-new", "helpful"),
    ]:
        sid = log.log_search(_answered(query, "policies/refunds.md", chunk, version))
        log.add_feedback(sid, rating, chunk_id=chunk)


def _by_version(rows: list[dict]) -> dict:
    return {
        (r["doc_id"], r["version"]): (r["helpful"], r["not_helpful"], r["wrong_or_outdated"])
        for r in rows
    }


log = test_insights_analytics.log  # both query-log backends, as the log's contract tests use


def test_ratings_are_told_apart_by_the_version_rated(log: QueryLog) -> None:
    _rate_versions(log)
    expected = {
        ("policies/refunds.md", "2.0"): (0, 0, 2),
        ("policies/refunds.md", "2.1"): (1, 0, 0),
    }
    assert _by_version(gaps.document_feedback(log.searches())) == expected
    verdicts = log.verdicts()
    sql = gaps.feedback_by_document(verdicts, *log.rated_results(verdicts))
    assert sql == gaps.document_feedback(log.searches())


@pytest.fixture
def client(sample_kb: Path, fake_embedder, tmp_path: Path) -> TestClient:
    with TestClient(make_app(sample_kb, fake_embedder, tmp_path)) as c:
        yield c


def test_document_feedback_endpoint_names_the_version_rated(client, tmp_path: Path) -> None:
    log = QueryLog(tmp_path / "log" / "q.sqlite")
    _rate_versions(log)
    log.close()
    rows = client.get("/analytics/document-feedback").json()
    assert _by_version(rows)[("policies/refunds.md", "2.0")] == (0, 0, 2)
    assert rows[0]["version"] == "2.0"  # the outdated version is what tops the list
    csv = client.get("/analytics/document-feedback", params={"format": "csv"}).text
    assert csv.splitlines()[0].split(",")[:3] == ["doc_id", "title", "version"]
    assert len(csv.splitlines()) == 3  # one row per (document, version)


def test_a_live_search_logs_the_version_of_each_result(client, tmp_path: Path) -> None:
    body = client.post("/search", json={"query": "refund coins", "top_k": 3}).json()
    assert body["results"]
    top = body["results"][0]
    assert top["metadata"].get("version")  # a versioned policy, so the version can be checked
    r = client.post(
        "/feedback",
        json={"search_id": body["search_id"], "rating": "not_helpful", "chunk_id": top["chunk_id"]},
    )
    assert r.status_code == 201
    [row] = [
        r for r in client.get("/analytics/document-feedback").json() if r["doc_id"] == top["doc_id"]
    ]
    assert row["version"] == top["metadata"]["version"]
    assert row["not_helpful"] == 1


def test_a_legacy_rating_without_a_version_still_counts(tmp_path: Path) -> None:
    log = QueryLog(tmp_path / "q.sqlite")
    sid = log.log_search(_answered("coin refund", "a.md", "c1", None))
    log.add_feedback(sid, "not_helpful", chunk_id="c1")
    [row] = gaps.document_feedback(log.searches())
    assert row["doc_id"] == "a.md" and row["version"] is None and row["not_helpful"] == 1
    log.close()


# -- gap topics: the worst first ----------------------------------------------------------


def _signal(n: int, query: str, answerable: bool, confidence: float | None) -> dict:
    return {
        "search_id": f"s{n}",
        "query": query,
        "answerable": answerable,
        "confidence": confidence,
        "n_results": 1 if answerable else 0,
        "results": [{"doc_id": "a.md", "chunk_id": "c"}] if answerable else [],
        "ts": f"2026-11-0{n}T10:00:00+00:00",
        "feedback": [],
    }


def test_topics_of_equal_size_put_unanswered_before_low_confidence() -> None:
    searches = [
        # "a..." sorts first by label, but the knowledge base did answer it (weakly)
        _signal(1, "appeal window for suspended sellers", True, 0.36),
        # nothing in the knowledge base at all: the clearer gap
        _signal(2, "zakat on creator earnings", False, None),
    ]
    topics = gaps.gap_topics(searches, FakeEmbedder().encode, THRESHOLD)
    assert [t["unanswered"] for t in topics] == [1, 0]
    assert [t["topic_id"] for t in topics] == [1, 2]


# -- the Coverage page ---------------------------------------------------------------------


def _bar_chart(at) -> tuple[dict, pd.DataFrame]:
    """The x axis and the data of the page's one bar chart, as Streamlit sends them."""
    [chart] = at.get("vega_lite_chart")
    data = pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_pandas()
    return json.loads(chart.proto.spec)["encoding"]["x"], data


def test_the_trend_chart_keeps_quiet_days(api_url: str, tmp_path: Path) -> None:
    log = QueryLog(tmp_path / "log" / "q.sqlite")
    for day in ("2026-11-01", "2026-11-05"):  # a gap signal, three quiet days, another
        log.log_search(
            {"query": "crypto payout wallet", "answerable": False, "results": [],
             "reason": "weak evidence: the closest passage has similarity 0.10"},
            ts=f"{day}T09:00:00+00:00",
        )  # fmt: skip
    log.close()
    at = AppTest.from_file(KNOWLEDGE, default_timeout=30).run()
    assert not at.exception, at.exception
    x, data = _bar_chart(at)
    assert x["type"] == "temporal"  # a time axis: two days apart are not drawn side by side
    days = pd.to_datetime(data[x["field"]]).dt.strftime("%Y-%m-%d").tolist()
    assert days == ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"]
    counts = data.drop(columns=[x["field"]]).sum(axis=1).tolist()
    assert counts == [1, 0, 0, 0, 1]


def test_topic_keywords_leave_out_function_words() -> None:
    """A topic named "coins / between / accounts" says less than "coins / accounts / transfer"."""
    questions = [
        "how to transfer coins between two accounts",
        "transfer coins between accounts of one family",
        "how many coins can be moved between accounts",
    ]
    assert gaps.keywords(questions) == ["coins", "accounts", "transfer"]
    pinned = ["how many videos can a user pin", "how many pinned videos are allowed"]
    assert gaps.keywords(pinned, k=1) == ["videos"]


def test_the_page_says_when_topics_cover_only_the_latest_gap_searches(
    api_url: str, tmp_path: Path
) -> None:
    """Unanswered 805 above a topic table adding up to 800 must say why, not look wrong."""
    log = QueryLog(tmp_path / "log" / "q.sqlite")
    n = gaps.MAX_QUERIES + 5
    for i in range(n):
        log.log_search(
            {"query": ("crypto payout wallet", "karaoke licence", "family plan")[i % 3],
             "answerable": False, "results": [], "reason": "weak evidence: similarity 0.10"},
            ts=f"2026-11-{1 + i % 28:02d}T09:00:00+00:00",
        )  # fmt: skip
    log.close()
    at = AppTest.from_file(KNOWLEDGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Unanswered"] == str(n)
    assert at.dataframe[0].value["searches"].sum() == gaps.MAX_QUERIES
    assert any(f"latest {gaps.MAX_QUERIES}" in c.value for c in at.caption)


def test_summary_and_gaps_count_low_confidence_with_one_margin(client) -> None:
    """/gaps took low_margin and /summary did not, so a manager who widened it on one saw
    low-confidence counts the other did not match."""
    for query in ("refund coins", "zebra migration patterns", "escalate imminent risk"):
        assert client.post("/search", json={"query": query, "top_k": 3}).status_code == 200
    for margin in (0.0, 0.05, 1.0):
        summary = client.get("/analytics/summary", params={"low_margin": margin}).json()
        topics = client.get(
            "/analytics/gaps", params={"low_margin": margin, "cluster_threshold": 1.0}
        ).json()
        assert summary["low_confidence"] == sum(t["low_confidence"] for t in topics), margin
    wide = client.get("/analytics/summary", params={"low_margin": 1.0}).json()
    assert wide["low_confidence"] >= 1  # every answered search is "low" under a margin of 1
    assert client.get("/analytics/summary", params={"low_margin": 2}).status_code == 422


def test_searches_refuse_days_and_since_together(client) -> None:
    """With both, since silently won: a manager asking for 7 days got a different period."""
    r = client.get("/analytics/searches", params={"days": 7, "since": "2026-01-01T00:00:00"})
    assert r.status_code == 422 and "not both" in r.text
    assert client.get("/analytics/searches", params={"days": 7}).status_code == 200
