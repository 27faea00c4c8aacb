"""Analytics fixes: one verdict per (search, passage), a 422 for a body that is not UTF-8, and
the conflicts route refusing passages paired with another snapshot's vectors."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from indexer.search import FILTERED_OUT
from indexer.settings import Settings
from insights import conflicts, gaps
from insights.querylog import QueryLog
from tests.test_insights_api import _search, make_app

JSON = {"content-type": "application/json"}


@pytest.fixture
def client(sample_kb: Path, fake_embedder, tmp_path: Path) -> TestClient:
    app = make_app(sample_kb, fake_embedder, tmp_path)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _rate(client: TestClient, search: dict, rating: str, chunk: bool = True) -> None:
    body = {"search_id": search["search_id"], "rating": rating}
    if chunk:
        body["chunk_id"] = search["results"][0]["chunk_id"]
    r = client.post("/feedback", json=body)
    assert r.status_code == 201, r.text


# -- repeated feedback ---------------------------------------------------------------------


def test_the_same_verdict_given_twice_counts_once(client: TestClient) -> None:
    search = _search(client, "escalate imminent risk guardian queue")
    _rate(client, search, "wrong_or_outdated")
    _rate(client, search, "wrong_or_outdated")  # the same link opened again
    _rate(client, search, "not_helpful", chunk=False)
    _rate(client, search, "not_helpful", chunk=False)
    [row] = client.get("/analytics/document-feedback").json()
    assert row["doc_id"] == search["results"][0]["doc_id"]
    assert (row["wrong_or_outdated"], row["not_helpful"], row["helpful"]) == (1, 0, 0)
    summary = client.get("/analytics/summary").json()
    assert summary["feedback"] == {"wrong_or_outdated": 1, "not_helpful": 1}
    assert summary["negative_feedback"] == 1
    [logged] = client.get("/analytics/searches").json()
    assert sorted(logged["feedback"]) == ["not_helpful", "wrong_or_outdated"]


def test_a_changed_verdict_replaces_the_earlier_one(client: TestClient) -> None:
    search = _search(client, "escalate imminent risk guardian queue")
    _rate(client, search, "not_helpful")
    _rate(client, search, "helpful")  # the agent changed their mind on the same passage
    [row] = client.get("/analytics/document-feedback").json()
    assert (row["helpful"], row["not_helpful"]) == (1, 0)
    summary = client.get("/analytics/summary").json()
    assert summary["feedback"] == {"helpful": 1} and summary["negative_feedback"] == 0
    assert all(t["negative_feedback"] == 0 for t in client.get("/analytics/gaps").json())


def test_latest_verdicts_keeps_one_per_search_and_passage() -> None:
    rows = [
        {"search_id": "s1", "chunk_id": "c1", "rating": "not_helpful"},
        {"search_id": "s1", "chunk_id": None, "rating": "helpful"},
        {"search_id": "s1", "chunk_id": "c1", "rating": "helpful"},
        {"search_id": "s2", "chunk_id": "c1", "rating": "wrong_or_outdated"},
        {"search_id": "s1", "chunk_id": None, "rating": "helpful"},
    ]
    from insights.querylog import latest_verdicts

    kept = latest_verdicts(rows)
    assert [(f["search_id"], f["chunk_id"], f["rating"]) for f in kept] == [
        ("s1", "c1", "helpful"),
        ("s2", "c1", "wrong_or_outdated"),
        ("s1", None, "helpful"),
    ]


# -- a body that is not UTF-8 -------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/search", b'{"query":"caf\xe9"}'),
        ("/search", b'{"query": "refund \xff\xfe coins", "top_k": 3}'),
        ("/feedback", b'{"search_id": "0123456789", "rating": "helpful", "comment": "\xc3"}'),
    ],
)
def test_a_body_that_is_not_utf8_is_a_422_that_says_so(
    client: TestClient, path: str, body: bytes
) -> None:
    r = client.post(path, content=body, headers=JSON)
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["body"] and "UTF-8" in error["msg"]
    assert error["type"] == "unicode_decode"


def test_a_malformed_json_body_is_still_the_usual_422(client: TestClient) -> None:
    r = client.post("/search", content=b'{"query": "caf', headers=JSON)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "json_invalid"


# -- conflicts read from one snapshot ------------------------------------------------------


def test_conflicts_refuse_vectors_from_another_snapshot(client: TestClient) -> None:
    """A re-index between reading the passages and their vectors (the postgres backend reads
    each in its own snapshot): vectors and passages no longer line up."""
    searcher = client.app.state.searcher
    vectors = searcher.passage_vectors()
    searcher.passage_vectors = lambda: vectors[:-1]  # a passage removed in between
    r = client.get("/analytics/conflicts", params={"min_similarity": 0.0})
    assert r.status_code == 503
    assert "re-index" in r.json()["detail"] and "try again" in r.json()["detail"]


def _pairs_seen(monkeypatch: pytest.MonkeyPatch) -> list[list[tuple[str, np.ndarray]]]:
    """Each call of find_conflicts, as the (chunk id, vector) pairs it was given."""
    calls: list[list[tuple[str, np.ndarray]]] = []

    def find_conflicts(chunks, vectors, documents, **options):
        calls.append([(c["chunk_id"], v) for c, v in zip(chunks, vectors, strict=True)])
        return []

    monkeypatch.setattr(conflicts, "find_conflicts", find_conflicts)
    return calls


def test_conflicts_retry_once_when_the_index_changed_while_reading(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    searcher = client.app.state.searcher
    chunks, vectors = searcher.chunks(), searcher.passage_vectors()
    own = {c["chunk_id"]: v for c, v in zip(chunks, vectors, strict=True)}
    calls = _pairs_seen(monkeypatch)
    reads = iter([chunks[1:], chunks, chunks, chunks])  # the first read saw the old index
    monkeypatch.setattr(searcher, "chunks", lambda: next(reads))
    r = client.get("/analytics/conflicts", params={"min_similarity": 0.0})
    assert r.status_code == 200
    [pairs] = calls
    assert len(pairs) == len(chunks)
    assert all(np.array_equal(v, own[chunk_id]) for chunk_id, v in pairs)


def test_conflicts_pair_each_passage_with_its_own_vector(client: TestClient) -> None:
    """The same number of passages, but others: the ids before and after the vectors differ."""
    searcher = client.app.state.searcher
    chunks = searcher.chunks()
    swapped = [chunks[1], chunks[0], *chunks[2:]]
    reads = iter([swapped, chunks] * 3)
    searcher.chunks = lambda: next(reads)
    r = client.get("/analytics/conflicts", params={"min_similarity": 0.0})
    assert r.status_code == 503


# -- pagination of the query log -----------------------------------------------------------


DOC_IDS = ["d0.md", "d1.md", 'caf\u00e9 "menu".md', "d3\\x.md"]  # escaped in the JSON


def _seed(log: QueryLog, n: int) -> list[str]:
    """``n`` searches over four weeks: some unanswered, some with a second result."""
    ids = []
    for i in range(n):
        results = [{"rank": 1, "doc_id": DOC_IDS[i % 4], "chunk_id": f"c{i}", "score": 0.5}]
        if i % 5 == 1:
            results.append({"rank": 2, "doc_id": f"{i % 9}.md", "chunk_id": f"x{i}", "score": 0.4})
        response = {
            "query": f"question {i}",
            "answerable": i % 3 != 0,
            "reason": f"similarity {0.2 + (i % 7) / 10:.2f}",
            "results": results if i % 11 else [],
        }
        if i % 13 == 12:  # the filters or date let no document through
            response.update(answerable=False, reason=FILTERED_OUT, results=[])
        ids.append(log.log_search(response, ts=f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:00"))
    return ids


def test_the_query_log_is_paged_with_a_total(client: TestClient) -> None:
    log: QueryLog = client.app.state.insights.log
    _seed(log, 30)
    everything = client.get("/analytics/searches").json()
    assert len(everything) == 30
    r = client.get("/analytics/searches", params={"limit": 10, "offset": 25})
    assert r.status_code == 200 and r.headers["x-total-count"] == "30"
    assert r.json() == everything[25:]
    first = client.get("/analytics/searches", params={"limit": 10})
    assert first.json() == everything[:10] and "offset=10" in first.headers["link"]
    assert 'rel="next"' in first.headers["link"] and "link" not in r.headers
    # relative: an absolute link took its host from the caller's Host header
    spoofed = client.get(
        "/analytics/searches", params={"limit": 10}, headers={"host": "localhost:9"}
    )
    assert spoofed.headers["link"].startswith("</analytics/searches?")
    csv = client.get("/analytics/searches", params={"limit": 5, "format": "csv"})
    assert csv.headers["x-total-count"] == "30" and len(csv.text.splitlines()) == 6
    assert client.get("/analytics/searches", params={"limit": 0}).status_code == 422
    assert client.get("/analytics/searches", params={"offset": -1}).status_code == 422


def test_the_query_log_has_a_default_cap(client: TestClient, monkeypatch) -> None:
    from api import insights_routes

    monkeypatch.setattr(insights_routes, "DEFAULT_PAGE", 7)
    _seed(client.app.state.insights.log, 12)
    r = client.get("/analytics/searches")
    assert len(r.json()) == 7 and r.headers["x-total-count"] == "12"


@pytest.fixture(params=["local", "postgres"])
def log(request: pytest.FixtureRequest, tmp_path: Path) -> QueryLog:
    """The query log on SQLite and on the postgres backend: the same SQL must work on both."""
    if request.param == "local":
        log = QueryLog(tmp_path / "q.sqlite")
    else:
        log = QueryLog.from_settings(Settings(database_url=request.getfixturevalue("pg_database")))
    yield log


def test_searches_page_matches_the_whole_log(log: QueryLog) -> None:
    ids = _seed(log, 40)
    log.add_feedback(ids[3], "helpful")
    log.add_feedback(ids[3], "not_helpful", chunk_id="c3")
    whole = log.searches()
    assert log.searches(limit=5, offset=2) == whole[2:7]
    assert log.searches("2026-11-10", limit=100) == log.searches("2026-11-10")
    assert log.count_searches() == 40
    assert log.count_searches("2026-11-10") == len(log.searches("2026-11-10"))


def test_summary_and_feedback_from_sql_match_the_pure_functions(log: QueryLog) -> None:
    ids = _seed(log, 60)
    for i, n in enumerate(range(1, len(ids), 3)):
        sid = ids[n]
        rating = ("helpful", "not_helpful", "wrong_or_outdated")[i % 3]
        log.add_feedback(sid, rating, chunk_id=f"c{n}" if i % 2 and n % 11 else None)
        if i % 4 == 0:  # given again, or changed
            log.add_feedback(sid, ("helpful", "not_helpful")[i % 8 == 0], chunk_id=None)
    threshold = 0.35
    for since in (None, "2026-11-15"):
        searches = log.searches(since)
        stats = log.search_stats(since, threshold + 0.05)
        verdicts = log.verdicts(since)
        assert gaps.summary_of(stats, verdicts) == gaps.summary(searches, threshold)
        assert log.retrieved_doc_ids(since) == {r["doc_id"] for s in searches for r in s["results"]}
        titles, _versions = log.rated_results(verdicts)
        assert gaps.feedback_by_document(verdicts, titles) == gaps.document_feedback(searches)


def test_a_search_no_document_could_pass_is_not_a_gap(log: QueryLog) -> None:
    """'coin refund' as of 1970 (or with filters nothing passes) was counted unanswered and
    listed as a coverage gap, for a topic the knowledge base covers well."""
    log.log_search({"query": "coin refund", "answerable": False, "reason": FILTERED_OUT,
                    "results": []})  # fmt: skip
    log.log_search({"query": "mars base", "answerable": False, "reason": "weak evidence",
                    "results": []})  # fmt: skip
    assert log.search_stats(None, 0.4)["unanswered"] == 1
    assert [s["query"] for s in log.searches() if gaps.signal_reasons(s, 0.35)] == ["mars base"]


def test_gap_candidates_hold_every_signal(log: QueryLog) -> None:
    ids = _seed(log, 50)
    log.add_feedback(ids[1], "not_helpful")
    log.add_feedback(ids[4], "helpful")
    threshold, margin = 0.35, 0.05
    signals = [s for s in log.searches() if gaps.signal_reasons(s, threshold, margin)]
    found = [s for batch in log.signal_candidates(None, threshold + margin, batch=7) for s in batch]
    assert {s["search_id"] for s in signals} <= {s["search_id"] for s in found}
    assert [s["ts"] for s in found] == sorted((s["ts"] for s in found), reverse=True)


# -- gap topic keywords --------------------------------------------------------------------


def test_topic_keywords_do_not_change_from_one_api_start_to_the_next() -> None:
    """Ties between equally common words used to be broken by set order, which changes with
    each process's string hashing: a topic's label and keywords changed across restarts."""
    import subprocess
    import sys

    code = (
        "from insights.gaps import keywords; "
        "print(keywords(['alpha bravo charlie delta echo foxtrot', 'echo bravo refund']))"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(1, 6)
    }
    assert seen == {"['bravo', 'echo', 'alpha']\n"}  # most common first, then first written


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_conflicts_read_passages_and_vectors_together_on_both_backends(
    backend: str, request: pytest.FixtureRequest, sample_kb: Path, fake_embedder, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from api.app import create_app
    from indexer.build import build_index
    from indexer.search import open_searcher

    if backend == "local":
        target, settings = tmp_path / "ix", Settings(index_dir=tmp_path / "ix")
    else:
        target = request.getfixturevalue("pg_database")
        settings = Settings(database_url=target, log_path=tmp_path / "q.sqlite")
    build_index(sample_kb, target, fake_embedder, max_tokens=60, min_tokens=8)
    searcher = open_searcher(target, fake_embedder, settings)
    chunks, vectors = searcher.chunks(), searcher.passage_vectors()
    own = {c["chunk_id"]: v for c, v in zip(chunks, vectors, strict=True)}
    calls = _pairs_seen(monkeypatch)
    with TestClient(create_app(settings, searcher=searcher)) as c:
        assert c.get("/analytics/conflicts").status_code == 200
    [pairs] = calls
    assert len(pairs) == len(own)
    assert all(np.array_equal(v, own[chunk_id]) for chunk_id, v in pairs)


def test_a_csv_download_of_the_log_is_not_cut_at_the_json_page(
    client: TestClient, monkeypatch
) -> None:
    """A spreadsheet export is one file: a default JSON page size must not truncate it."""
    from api import insights_routes

    monkeypatch.setattr(insights_routes, "DEFAULT_PAGE", 7)
    _seed(client.app.state.insights.log, 12)
    csv = client.get("/analytics/searches", params={"format": "csv"})
    assert len(csv.text.splitlines()) == 13 and "link" not in csv.headers


def test_the_next_page_follows_what_was_read_not_what_was_shown(client: TestClient) -> None:
    """With some searches hidden from the caller, the next page must start after the ones this
    page read, or it repeats them."""
    from api import insights_routes

    _seed(client.app.state.insights.log, 10)
    real = insights_routes._visible

    def hide_every_other(rows, visibility):
        return real(rows, visibility)[::2]

    insights_routes._visible = hide_every_other
    try:
        first = client.get("/analytics/searches", params={"limit": 4})
    finally:
        insights_routes._visible = real
    assert len(first.json()) == 2 and "offset=4" in first.headers["link"]


def test_pages_of_the_log_keep_one_fixed_period(client: TestClient) -> None:
    """With ?days=N each page measured N days back from its own 'now', so pages fetched a
    while apart could skip or repeat searches; the next link now carries a fixed since."""
    from urllib.parse import parse_qs, urlsplit

    log: QueryLog = client.app.state.insights.log
    _seed(log, 30)
    whole = client.get("/analytics/searches", params={"since": "2026-11-15T00:00:00"}).json()
    assert whole and all(s["ts"] >= "2026-11-15" for s in whole)
    first = client.get("/analytics/searches", params={"since": "2026-11-15T00:00", "limit": 4})
    assert first.json() == whole[:4] and first.headers["x-total-count"] == str(len(whole))
    following = parse_qs(urlsplit(first.headers["link"].split(">")[0].lstrip("<")).query)
    assert following["since"] == ["2026-11-15T00:00:00+00:00"] and following["offset"] == ["4"]
    second = client.get("/analytics/searches", params={k: v[0] for k, v in following.items()})
    assert second.json() == whole[4:8]
    by_days = client.get("/analytics/searches", params={"days": 3650, "limit": 4})
    link = parse_qs(urlsplit(by_days.headers["link"].split(">")[0].lstrip("<")).query)
    assert "days" not in link and link["since"][0].endswith("+00:00")


def test_what_agents_wrote_is_listed_with_the_ratings_of_the_document(client: TestClient) -> None:
    """Comments were stored and shown nowhere: "the counterfeit SOP says 14 days" named a
    contradiction the conflict finder missed, and no manager could read it."""
    first = _search(client, "escalate imminent risk guardian queue")
    second = _search(client, "escalate imminent risk guardian queue now")
    for search, comment in (
        (first, "the counterfeit SOP says 14 days"),
        (second, "call 555 0100 1234"),
    ):
        body = {"search_id": search["search_id"], "rating": "wrong_or_outdated",
                "chunk_id": search["results"][0]["chunk_id"], "comment": comment}  # fmt: skip
        assert client.post("/feedback", json=body).status_code == 201
    [row] = client.get("/analytics/document-feedback").json()
    assert row["wrong_or_outdated"] == 2
    assert row["comments"][1] == "the counterfeit SOP says 14 days"  # latest first
    assert "555" not in row["comments"][0]  # as logged: redacted
    csv = client.get("/analytics/document-feedback", params={"format": "csv"}).text
    assert csv.splitlines()[0].endswith(",comments") and "counterfeit SOP" in csv
    whole = {"search_id": first["search_id"], "rating": "not_helpful",
             "comment": "nothing about crypto payouts"}  # fmt: skip
    assert client.post("/feedback", json=whole).status_code == 201
    logged = {s["search_id"]: s for s in client.get("/analytics/searches").json()}
    assert logged[first["search_id"]]["comments"] == [
        "the counterfeit SOP says 14 days", "nothing about crypto payouts"
    ]  # fmt: skip
    [said] = logged[second["search_id"]]["comments"]
    assert said.startswith("call ") and "555" not in said  # as logged: redacted
