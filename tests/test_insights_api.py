"""Feedback, analytics, source views and evaluation runs through the HTTP API (fake encoder)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.build import build_index
from indexer.search import Searcher
from indexer.settings import Settings

TINY_DOCS = [
    ("refunds", "Coin refunds", "## Windows\nCoins are refunded within 14 days in the EU."),
    ("payouts", "Creator payouts", "## Schedule\nPayouts are sent on the 15th of each month."),
    ("live", "Going live", "## Age\nYou must be 18 to go live and 16 to watch streams."),
]
TINY_QUERIES = [
    ("q1", "when are coins refunded", "refunds", "refunded within 14 days"),
    ("q2", "payout schedule for creators", "payouts", "sent on the 15th"),
    ("q3", "age to go live", "live", "must be 18"),
]


def write_tiny_dataset(root: Path) -> Path:
    """A three-document labelled set in the shape of ../shared/datasets."""
    folder = root / "tiny"
    folder.mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"doc_id": d, "title": t, "text": x}) + "\n" for d, t, x in TINY_DOCS)
    )
    (folder / "queries.dev.jsonl").write_text(
        "".join(json.dumps({"query_id": q, "text": t}) + "\n" for q, t, _, _ in TINY_QUERIES)
    )
    (folder / "qrels.dev.tsv").write_text(
        "query_id\tdoc_id\trelevance\n" + "".join(f"{q}\t{d}\t1\n" for q, _, d, _ in TINY_QUERIES)
    )
    (folder / "evidence.dev.jsonl").write_text(
        "".join(
            json.dumps({"query_id": q, "doc_id": d, "evidence": [e]}) + "\n"
            for q, _, d, e in TINY_QUERIES
        )
    )
    return root


def make_app(sample_kb: Path, fake_embedder, tmp_path: Path):
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix",
        kb_dir=sample_kb,
        log_path=tmp_path / "log" / "q.sqlite",
        datasets_dir=write_tiny_dataset(tmp_path / "datasets"),
        eval_cache_dir=tmp_path / "eval-cache",
        chunk_max_tokens=100,
        chunk_min_tokens=8,
    )
    return create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))


@pytest.fixture
def client(sample_kb: Path, fake_embedder, tmp_path: Path) -> TestClient:
    with TestClient(make_app(sample_kb, fake_embedder, tmp_path)) as c:
        yield c


def _search(client: TestClient, query: str, **extra) -> dict:
    r = client.post("/search", json={"query": query, "top_k": 3, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_searches_are_logged_redacted_with_what_they_returned(client, tmp_path) -> None:
    body = _search(client, "refund coins for jane@example.com order #88341207")
    assert body["search_id"]
    con = sqlite3.connect(tmp_path / "log" / "q.sqlite")
    [(query, results)] = con.execute("SELECT query, results FROM searches").fetchall()
    assert "jane@example.com" not in query and "88341207" not in query
    assert "[EMAIL]" in query and "refund coins" in query
    logged = [r["chunk_id"] for r in json.loads(results)]
    assert logged == [r["chunk_id"] for r in body["results"]]


def test_feedback_reaches_the_log_and_bad_feedback_is_4xx(client) -> None:
    body = _search(client, "escalate imminent risk guardian queue")
    chunk = body["results"][0]["chunk_id"]
    ok = client.post(
        "/feedback",
        json={"search_id": body["search_id"], "rating": "wrong_or_outdated", "chunk_id": chunk,
              "comment": "call +49 151 23456789 says otherwise"},
    )  # fmt: skip
    assert ok.status_code == 201 and ok.json()["feedback_id"]
    assert (
        client.post("/feedback", json={"search_id": body["search_id"], "rating": "meh"}).status_code
        == 422
    )  # noqa: E501
    missing = client.post("/feedback", json={"search_id": "f" * 32, "rating": "helpful"})
    assert missing.status_code == 404
    wrong_chunk = client.post(
        "/feedback", json={"search_id": body["search_id"], "rating": "helpful", "chunk_id": "x"}
    )
    assert wrong_chunk.status_code == 422
    rows = client.get("/analytics/document-feedback").json()
    assert rows[0]["doc_id"] == body["results"][0]["doc_id"] and rows[0]["wrong_or_outdated"] == 1
    log = client.get("/analytics/searches").json()
    assert log[0]["feedback"] == ["wrong_or_outdated"]


def test_analytics_endpoints_json_and_csv(client) -> None:
    _search(client, "escalate imminent risk guardian queue")
    # No document passes this filter: an unanswered search.
    _search(client, "zebra migration quantum sandwich", filters={"doc_id": "nope.md"})
    summary = client.get("/analytics/summary").json()
    assert summary["searches"] == 2 and summary["unanswered"] >= 1
    topics = client.get("/analytics/gaps").json()
    assert any("zebra migration quantum sandwich" in t["examples"] for t in topics)
    unretrieved = {d["doc_id"] for d in client.get("/analytics/unretrieved").json()}
    assert unretrieved and "sops/dangerous-challenges.pdf" not in unretrieved
    stale = client.get("/analytics/stale", params={"today": "2027-06-01"}).json()
    assert {d["doc_id"] for d in stale} >= {"policies/coin-refunds.md"}
    found = client.get("/analytics/conflicts", params={"min_similarity": 0.0})
    assert found.status_code == 200 and isinstance(found.json(), list)
    csv = client.get("/analytics/gaps", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("topic_id,count,unanswered")
    assert client.get("/analytics/gaps", params={"format": "xml"}).status_code == 422
    assert client.get("/analytics/gaps", params={"cluster_threshold": 2}).status_code == 422


def test_source_view_marks_the_cited_passage(client) -> None:
    result = _search(client, "escalate imminent risk guardian queue")["results"][0]
    page = client.get(
        f"/source/{result['doc_id']}", params={"start": result["start"], "end": result["end"]}
    )
    assert page.status_code == 200
    assert '<mark id="passage">' in page.text and 'id="page-' in page.text
    assert client.get("/source/nope.md").status_code == 404
    bad = client.get(f"/source/{result['doc_id']}", params={"start": 10, "end": 5})
    assert bad.status_code == 422
    original = client.get(f"/source-file/{result['doc_id']}")
    assert original.status_code == 200 and original.content.startswith(b"%PDF")


def test_eval_runs_on_a_tiny_set(client) -> None:
    sets = client.get("/eval/datasets").json()
    assert [(d["name"], d["splits"]) for d in sets] == [("tiny", ["dev"])]
    r = client.post("/eval/run", json={"dataset": "tiny", "split": "dev", "modes": ["bm25"]})
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["results"]["bm25"]["metrics"]["queries"] == 3
    assert run["results"]["bm25"]["metrics"]["hit@1"] == 1.0
    row = run["results"]["bm25"]["per_query"][0]
    assert row["first_relevant_rank"] == 1 and row["evidence"]
    assert run["chart_png"] and "| bm25 |" in run["table_md"]
    assert client.post("/eval/run", json={"dataset": "nope"}).status_code == 404
    assert client.post("/eval/run", json={"dataset": "tiny", "split": "x"}).status_code == 422
    assert client.post("/eval/run", json={"dataset": "tiny", "modes": ["fast"]}).status_code == 422
