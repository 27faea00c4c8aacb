"""The HTTP API through TestClient, with the fake encoder: shapes, errors, documents, health."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from indexer.build import build_index
from indexer.search import Searcher, open_searcher
from indexer.settings import Settings


@pytest.fixture(params=["local", "postgres"])
def client(request, sample_kb: Path, fake_embedder, tmp_path: Path) -> TestClient:
    """The API on each backend: the same requests must get the same shapes."""
    if request.param == "local":
        target, settings = tmp_path / "ix", Settings(index_dir=tmp_path / "ix")
    else:
        target = request.getfixturevalue("pg_database")
        settings = Settings(database_url=target)
    build_index(sample_kb, target, fake_embedder, max_tokens=60, min_tokens=8)
    searcher = open_searcher(target, fake_embedder, settings)
    with TestClient(create_app(settings, searcher=searcher)) as c:
        yield c


def test_search_returns_cited_results(client: TestClient) -> None:
    r = client.post("/search", json={"query": "how do I refund coins", "top_k": 3})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {"results", "took_ms", "index_version", "query"}
    assert 1 <= len(body["results"]) <= 3
    first = body["results"][0]
    for key in (
        "chunk_id",
        "doc_id",
        "title",
        "heading_path",
        "page",
        "start",
        "end",
        "text",
        "highlight",
        "score",
        "source",
        "metadata",
    ):
        assert key in first
    for key in ("doc_type", "version", "effective_date", "markets"):
        assert key in first["metadata"]
    doc = client.get(f"/documents/{first['doc_id']}").json()
    assert doc["text"][first["start"] : first["end"]] == first["text"]
    meta = first["metadata"]
    citation = first["citation"]  # the one line every client shows and agents paste
    assert citation.startswith(f"{first['title']} v{meta['version']} (effective ")
    assert " > ".join(first["heading_path"]) in citation
    assert citation.endswith(f"chars {first['start']}-{first['end']} [{first['doc_id']}]")


def test_a_citation_says_what_the_document_does_not_record() -> None:
    from indexer.search import version_label

    assert version_label({"version": "3.0", "effective_date": "2026-03-01"}) == (
        "v3.0 (effective 2026-03-01)"
    )
    assert version_label({"version": "1"}) == "v1 (no effective date)"
    assert version_label({}) == "no version (no effective date)"


def test_filters_through_the_api(client: TestClient) -> None:
    r = client.post(
        "/search", json={"query": "refund", "top_k": 5, "filters": {"doc_type": ["sop"]}}
    )
    assert r.status_code == 200
    assert {x["metadata"]["doc_type"] for x in r.json()["results"]} == {"sop"}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"query": ""}, "query is empty"),
        ({"query": "   "}, "query is empty"),
        ({"query": "x" * 5000}, "limit is 1000"),
        ({"query": "refund", "top_k": 0}, "top_k"),
        ({"query": "refund", "top_k": 500}, "top_k"),
        ({"query": "refund", "filters": {"colour": "red"}}, "unknown filter field"),
        ({"query": "refund", "as_of": "yesterday"}, "as_of"),
        ({"query": "refund", "unknown": 1}, "unknown"),
        ({}, "query"),
    ],
)
def test_bad_input_gets_a_clear_4xx(client: TestClient, body: dict, fragment: str) -> None:
    r = client.post("/search", json=body)
    assert r.status_code == 422
    assert fragment in r.text


def test_malformed_json_is_a_4xx(client: TestClient) -> None:
    r = client.post("/search", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_documents_list_and_get(client: TestClient) -> None:
    listing = client.get("/documents").json()
    ids = {d["doc_id"] for d in listing}
    assert "sops/dangerous-challenges.pdf" in ids
    doc = client.get("/documents/sops/dangerous-challenges.pdf").json()
    assert [p["page"] for p in doc["pages"]] == [1, 2, 3]
    assert doc["metadata"]["access_groups"] == ["tns-specialists"]
    missing = client.get("/documents/sops/nope.pdf")
    assert missing.status_code == 404
    assert "nope.pdf" in missing.json()["detail"]


def test_health_and_docs(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok"
    assert health["counts"]["documents"] == 5
    assert health["model"] == "fake-hash-64"
    assert client.head("/health").status_code == 200  # uptime monitors send HEAD
    assert client.get("/docs").status_code == 200
    assert "/search" in client.get("/openapi.json").json()["paths"]


def test_api_without_index_reports_unavailable(tmp_path: Path) -> None:
    settings = Settings(index_dir=tmp_path / "missing")
    with TestClient(create_app(settings)) as c:
        answer = c.get("/health")
        health = answer.json()
        assert answer.status_code == 503  # a load balancer's health check must see it
        assert health["status"] == "unavailable"
        assert "kb index" in health["reason"]
        assert c.head("/health").status_code == 503
        r = c.post("/search", json={"query": "refund"})
        assert r.status_code == 503
        assert "kb index" in r.json()["detail"]


def test_mode_context_and_answerable_fields(client: TestClient) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        body = client.post("/search", json={"query": "refund coins", "mode": mode}).json()
        assert body["mode"] == mode
        assert isinstance(body["answerable"], bool) and body["reason"]
    r = client.post("/search", json={"query": "refund", "mode": "magic"})
    assert r.status_code == 422
    body = client.post(
        "/search", json={"query": "imminent risk guardian", "top_k": 1, "context": 1}
    ).json()
    assert body["results"][0]["context_after"]
    as_of = client.post(
        "/search",
        json={
            "query": "refund",
            "as_of": "2020-01-01",
            "filters": {"doc_id": "policies/coin-refunds.md"},
        },
    ).json()
    assert as_of["results"] == [] and as_of["answerable"] is False  # nothing was in force yet


def test_api_moves_to_a_new_generation_without_failing(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    from api.app import refresh_searcher

    ix = tmp_path / "gen-ix"
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(index_dir=ix, reload_interval_s=0)
    with TestClient(create_app(settings, searcher=Searcher(ix, fake_embedder, settings))) as c:
        before = c.get("/health").json()["index_version"]
        old = c.app.state.searcher
        assert refresh_searcher(c.app, settings) is False  # nothing new yet
        (sample_kb / "policies" / "live-gifts.html").unlink()
        build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
        # The old generation's files are gone, yet a request on the old Searcher still works.
        assert old.search("refund", top_k=2).results
        assert refresh_searcher(c.app, settings) is True
        after = c.get("/health").json()
        assert after["index_version"] != before and after["counts"]["documents"] == 4
        r = c.post("/search", json={"query": "creator gift revenue share", "top_k": 5})
        assert r.status_code == 200
        assert "policies/live-gifts.html" not in {x["doc_id"] for x in r.json()["results"]}
        assert len(list(ix.glob("gen-*"))) == 2  # current and the previous one, as a fallback


@pytest.mark.parametrize("slots", [1, 2])
def test_a_worker_computes_at_most_its_search_slots_at_once(
    slots: int, sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """Searches beyond the slots wait their turn; each still answers, none fails."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix", search_slots=slots, reload_interval_s=0,
        log_path=tmp_path / "log.sqlite",
    )  # fmt: skip
    searcher = Searcher(tmp_path / "ix", fake_embedder, settings)
    running, peak, lock = 0, 0, threading.Lock()
    search = searcher.search

    def counted(*args, **kwargs):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.1)  # long enough for the other requests to arrive meanwhile
        try:
            return search(*args, **kwargs)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(searcher, "search", counted)
    with TestClient(create_app(settings, searcher)) as c, ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: c.post("/search", json={"query": "refund"}).status_code,
                              range(6)))  # fmt: skip
    assert codes == [200] * 6
    assert peak == slots


def test_the_configured_default_top_k_applies_when_a_request_names_none(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """KB_DEFAULT_TOP_K was never read: the schema and the CLI both had 5 written in."""
    settings = Settings(index_dir=tmp_path / "ix", default_top_k=2)
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    searcher = open_searcher(tmp_path / "ix", fake_embedder, settings)
    with TestClient(create_app(settings, searcher=searcher)) as c:
        assert len(c.post("/search", json={"query": "refund coins"}).json()["results"]) == 2
        body = {"query": "refund coins", "top_k": 4}
        assert len(c.post("/search", json=body).json()["results"]) == 4


def test_a_database_gone_away_shows_in_health_and_logs_once(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch, caplog
) -> None:
    """With the database down, /health kept saying "ok" while every reload check logged a
    traceback (377 in a minute in a QA pass). Then it said "degraded" (a 200) while every
    search was a 503: a load balancer kept the replica and the UI told agents their answers
    came from the previous index; it is "unavailable", a 503, until the database is back."""
    from api.app import refresh_searcher
    from indexer.errors import BackendUnavailableError

    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(index_dir=ix, reload_interval_s=0)
    searcher = Searcher(ix, fake_embedder, settings)
    with TestClient(create_app(settings, searcher=searcher)) as c:

        def down() -> bool:
            raise BackendUnavailableError("cannot connect to the database: refused")

        monkeypatch.setattr(searcher, "is_stale", down)
        with caplog.at_level("ERROR"):
            for _ in range(3):
                assert refresh_searcher(c.app, settings) is False
        said = [r.getMessage() for r in caplog.records if r.name == "api.app"]
        assert said == ["cannot connect to the database: refused"]
        answer = c.get("/health")  # no search can be answered: the check says so
        assert answer.status_code == 503
        assert answer.json() == {"status": "unavailable", "reason": said[0]}
        assert c.head("/health").status_code == 503
        monkeypatch.setattr(searcher, "is_stale", lambda: False)
        assert refresh_searcher(c.app, settings) is False
        assert c.get("/health").json()["status"] == "ok"
