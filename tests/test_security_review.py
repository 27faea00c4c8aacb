"""Security review: leaks of restricted documents through analytics and evaluation, the role and
link checks behind a root path, links to documents whose ids hold URL characters, and the
keys-off mode answering only this machine (local backend, fake encoder)."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import KeyStore
from indexer.build import build_index
from indexer.search import Searcher
from indexer.settings import Settings
from tests.test_insights_api import write_tiny_dataset

RESTRICTED = {"sops/dangerous-challenges.pdf", "sops/account-recovery.txt"}  # tns-specialists
HIDDEN_QUERY = "escalate imminent risk guardian queue tier 2 account"
OPEN_QUERY = "refund coins within 14 days"


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _settings(tmp_path: Path, sample_kb: Path, **overrides) -> Settings:
    values = {
        "index_dir": tmp_path / "ix",
        "kb_dir": sample_kb,
        "auth_required": True,
        "keys_path": tmp_path / "keys.sqlite",
        "rate_limit_per_minute": 1000,
        "reload_interval_s": 0,
        "log_path": tmp_path / "log.sqlite",
        "datasets_dir": write_tiny_dataset(tmp_path / "datasets"),
        "eval_cache_dir": tmp_path / "eval-cache",
        "chunk_max_tokens": 100,
        "chunk_min_tokens": 8,
    }
    return Settings(**{**values, **overrides})


def _keys(settings: Settings) -> dict[str, str]:
    store = KeyStore.from_settings(settings)
    try:
        return {
            "agent": store.create("agent", ["all-agents"])[1],
            "tns_agent": store.create("agent", ["tns-specialists"])[1],
            "km": store.create("knowledge_manager", ["all-agents"])[1],
            "admin": store.create("admin", None)[1],
        }
    finally:
        store.close()


def _app(settings: Settings, sample_kb: Path, embedder):
    build_index(sample_kb, settings.index_dir, embedder, max_tokens=60, min_tokens=8)
    return create_app(settings, searcher=Searcher(settings.index_dir, embedder, settings))


@pytest.fixture
def unanswered(sample_kb: Path, fake_embedder, tmp_path: Path):
    """A secured app whose threshold leaves every search unanswered: every search is a gap
    signal, so only the access rules decide what a manager is shown of it."""
    settings = _settings(tmp_path, sample_kb, answerable_threshold=0.99)
    keys = _keys(settings)
    with TestClient(_app(settings, sample_kb, fake_embedder)) as client:
        hidden = client.post(
            "/search", json={"query": HIDDEN_QUERY, "top_k": 3}, headers=_h(keys["tns_agent"])
        ).json()
        assert {r["doc_id"] for r in hidden["results"]} <= RESTRICTED and hidden["results"]
        shown = client.post(
            "/search", json={"query": OPEN_QUERY, "top_k": 3}, headers=_h(keys["agent"])
        ).json()
        assert not RESTRICTED & {r["doc_id"] for r in shown["results"]}
        yield client, keys


def _gap_queries(client: TestClient, key: str) -> set[str]:
    r = client.get("/analytics/gaps", headers=_h(key))
    assert r.status_code == 200, r.text
    return {q for topic in r.json() for q in topic["examples"]}


def test_gap_topics_do_not_tell_how_a_withheld_search_scored(unanswered) -> None:
    """Whether a search was unanswered or weak comes from its best passage: a manager who may
    not see that passage must not learn from the gap report that it matched badly (or well)."""
    client, keys = unanswered
    assert {HIDDEN_QUERY, OPEN_QUERY} <= _gap_queries(client, keys["admin"])
    assert _gap_queries(client, keys["km"]) == {OPEN_QUERY}


def test_summary_counts_leave_out_the_flags_of_withheld_searches(unanswered) -> None:
    """The headline counts minus what /analytics/searches shows would give a withheld search's
    answerable flag away; it is counted as a search, but not as unanswered or weak."""
    client, keys = unanswered
    admin = client.get("/analytics/summary", headers=_h(keys["admin"])).json()
    assert admin["searches"] == 2 and admin["unanswered"] == 2
    km = client.get("/analytics/summary", headers=_h(keys["km"])).json()
    assert km["searches"] == 2 and km["unanswered"] == 1 and km["low_confidence"] == 0


def test_a_withheld_search_shows_no_question_and_makes_no_gap(unanswered) -> None:
    """A search answered from documents above the manager's access groups tells what their
    readers were working on: its question is not shown, and its searcher's rating of the
    whole search (feedback a manager may see) does not put it in a gap topic either."""
    client, keys = unanswered
    hidden = client.post(
        "/search", json={"query": HIDDEN_QUERY, "top_k": 3}, headers=_h(keys["tns_agent"])
    ).json()
    rated = {"search_id": hidden["search_id"], "rating": "not_helpful"}
    assert client.post("/feedback", json=rated, headers=_h(keys["tns_agent"])).status_code == 201
    km = client.get("/analytics/searches", headers=_h(keys["km"])).json()
    assert [r["query"] for r in km if r["withheld"]] == [None, None]
    assert [r["query"] for r in km if not r["withheld"]] == [OPEN_QUERY]
    admin = client.get("/analytics/searches", headers=_h(keys["admin"])).json()
    assert [r["query"] for r in admin].count(HIDDEN_QUERY) == 2
    csv = client.get("/analytics/searches?format=csv", headers=_h(keys["km"])).text
    assert HIDDEN_QUERY not in csv and OPEN_QUERY in csv
    assert _gap_queries(client, keys["km"]) == {OPEN_QUERY}
    assert HIDDEN_QUERY in _gap_queries(client, keys["admin"])


def _write_kb_labels(sample_kb: Path) -> None:
    """The knowledge base's own labelled set (the `kb` dataset), about a restricted SOP."""
    (sample_kb / "queries.jsonl").write_text(
        f'{{"query_id": "q1", "text": "{HIDDEN_QUERY}", "answerable": true}}\n', encoding="utf-8"
    )
    (sample_kb / "qrels.tsv").write_text(
        "query_id\tdoc_id\trelevance\nq1\tsops/account-recovery.txt\t1\n", encoding="utf-8"
    )


def _finished(client: TestClient, run_id: str, key: str) -> dict:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = client.get(f"/eval/runs/{run_id}", headers=_h(key)).json()
        if view["status"] in ("done", "failed"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def test_evaluating_the_knowledge_base_needs_a_caller_who_sees_all_of_it(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """An evaluation searches with no access groups and reports the passages it ranked: on the
    knowledge base's own set, a manager with narrow groups would read restricted SOPs."""
    _write_kb_labels(sample_kb)
    settings = _settings(tmp_path, sample_kb)
    keys = _keys(settings)
    with TestClient(_app(settings, sample_kb, fake_embedder)) as client:
        km, admin = _h(keys["km"]), _h(keys["admin"])
        refused = client.post("/eval/run", json={"dataset": "kb"}, headers=km)
        assert refused.status_code == 403, refused.text
        assert "account-recovery" not in refused.text
        assert client.post("/eval/runs", json={"dataset": "kb"}, headers=km).status_code == 403
        started = client.post("/eval/runs", json={"dataset": "kb"}, headers=admin)
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        result = _finished(client, run_id, keys["admin"])["result"]
        ranked = {
            d for row in result["results"]["default"]["per_query"] for d in row["ranked_docs"]
        }
        assert RESTRICTED & ranked  # what the manager would otherwise have read
        for method in ("GET", "DELETE"):
            r = client.request(method, f"/eval/runs/{run_id}", headers=km)
            assert r.status_code == 403 and "account-recovery" not in r.text, (method, r.text)
        listed = client.get("/eval/runs", headers=km)
        assert listed.status_code == 200 and all(v["result"] is None for v in listed.json())
        # other labelled sets are not the knowledge base: a manager still evaluates those
        tiny = client.post("/eval/run", json={"dataset": "tiny", "split": "dev"}, headers=km)
        assert tiny.status_code == 200, tiny.text


def test_roles_and_signed_links_hold_behind_a_root_path(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """Served under a prefix (uvicorn --root-path), the request path carries it: the role
    for /analytics and /eval must still be asked for, and citation links still open."""
    settings = _settings(tmp_path, sample_kb)
    keys = _keys(settings)
    app = _app(settings, sample_kb, fake_embedder)
    with TestClient(app, root_path="/kb") as client:
        agent = _h(keys["agent"])
        for path in ("/kb/analytics/summary", "/kb/analytics/searches", "/kb/eval/runs"):
            assert client.get(path, headers=agent).status_code == 403, path
        assert client.get("/kb/analytics/summary", headers=_h(keys["km"])).status_code == 200
        found = client.post("/kb/search", json={"query": OPEN_QUERY}, headers=agent).json()
        first = found["results"][0]
        view = client.get(f"/kb/source/{first['doc_id']}?{first['link_params']}")
        assert view.status_code == 200, view.text


def test_signed_links_open_documents_whose_ids_hold_url_characters(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """A file named "faq #2?.md" is a document like any other: its citation link, signed for
    its id, opens it (the id read back from the address must be the one signed)."""
    (sample_kb / "policies" / "faq #2?.md").write_text(
        "# Gift faq\n\nZebra sticker gifts expire after ninety days unless redeemed.\n",
        encoding="utf-8",
    )
    settings = _settings(tmp_path, sample_kb)
    keys = _keys(settings)
    with TestClient(_app(settings, sample_kb, fake_embedder)) as client:
        found = client.post(
            "/search", json={"query": "zebra sticker gifts expire"}, headers=_h(keys["agent"])
        ).json()
        hit = next(r for r in found["results"] if r["doc_id"] == "policies/faq #2?.md")
        for view in ("source", "source-file"):
            r = client.get(f"/{view}/{quote(hit['doc_id'])}?{hit['link_params']}")
            assert r.status_code == 200, (view, r.text)


@pytest.fixture
def keys_off(sample_kb: Path, fake_embedder, tmp_path: Path):
    settings = _settings(tmp_path, sample_kb, auth_required=False)
    return _app(settings, sample_kb, fake_embedder)


@pytest.mark.parametrize(
    ("client", "base_url"),
    [
        (("203.0.113.7", 40000), "http://127.0.0.1:8000"),  # reached from another machine
        (("10.1.2.3", 40000), "http://kb.internal:8000"),
        (("127.0.0.1", 40000), "http://rebound.example:8000"),  # DNS rebinding from a page
        (("127.0.0.1", 40000), "http://127.0.0.1.nip.io:8000"),
    ],
)
def test_with_keys_off_only_this_machine_is_answered(
    keys_off, client: tuple[str, int], base_url: str
) -> None:
    """With keys off every caller is an admin who sees every document: only a caller on this
    machine, addressing it by a loopback name, may be one (a web page that re-points its own
    name at 127.0.0.1 reaches the API from the browser, with its own name as Host)."""
    with TestClient(keys_off, client=client, base_url=base_url) as c:
        paths = (
            "/documents",
            "/health",
            f"/documents/{sorted(RESTRICTED)[0]}",
            "/docs",
            "/redoc",
            "/openapi.json",
        )  # fmt: skip - FastAPI's own pages too
        for path in paths:
            r = c.get(path)
            assert r.status_code == 403, (path, r.text)
            assert "loopback" in r.json()["detail"]


@pytest.mark.parametrize(
    ("client", "base_url"),
    [
        (("127.0.0.1", 40000), "http://127.0.0.1:8000"),
        (("127.0.0.5", 40000), "http://localhost:8000"),
        (("::1", 40000), "http://[::1]:8000"),
        (("::ffff:127.0.0.1", 40000), "http://app.localhost"),
        (("testclient", 50000), "http://testserver"),  # Starlette's test client
    ],
)
def test_with_keys_off_this_machine_is_answered(
    keys_off, client: tuple[str, int], base_url: str
) -> None:
    with TestClient(keys_off, client=client, base_url=base_url) as c:
        r = c.get("/documents")
        assert r.status_code == 200, r.text
        assert RESTRICTED <= {d["doc_id"] for d in r.json()}


def test_the_search_log_does_not_name_a_hidden_document_filtered_on(unanswered) -> None:
    """A doc_id filter names the document it asks for; a manager who may not see that document
    must not read its id in the log (the other filters stay as typed)."""
    client, keys = unanswered
    secret = sorted(RESTRICTED)[0]
    filters = {"doc_id": [secret], "language": "en"}
    r = client.post(
        "/search", json={"query": HIDDEN_QUERY, "filters": filters}, headers=_h(keys["tns_agent"])
    )
    assert r.status_code == 200
    km = client.get("/analytics/searches", headers=_h(keys["km"]))
    assert secret not in km.text
    (logged,) = [s for s in km.json() if s["filters"].get("language") == ["en"]]
    assert logged["filters"]["doc_id"] == []
    admin = client.get("/analytics/searches", headers=_h(keys["admin"])).text
    assert secret in admin


def test_the_source_page_runs_nothing_and_sends_no_referrer(unanswered) -> None:
    """The page is escaped text; a policy that forbids scripts and sniffing keeps it so even if
    an escaping slip ever let markup through."""
    client, keys = unanswered
    doc = client.get("/documents", headers=_h(keys["agent"])).json()[0]["doc_id"]
    page = client.get(f"/source/{doc}", headers=_h(keys["agent"]))
    assert page.status_code == 200 and "<div class='text' dir='auto'>" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"


def test_feedback_cannot_tell_whether_a_hidden_passage_was_returned(unanswered) -> None:
    """Feedback naming a chunk answered 201 when the search had returned it and 422 when not:
    with a search id from the log, a manager could test a hidden passage's id. The manager
    may not rate another key's search at all now; both answers must still be the same."""
    client, keys = unanswered
    hidden = client.post(
        "/search", json={"query": HIDDEN_QUERY, "top_k": 3}, headers=_h(keys["tns_agent"])
    ).json()
    chunk = hidden["results"][0]["chunk_id"]
    body = {"search_id": hidden["search_id"], "rating": "helpful"}
    returned = client.post("/feedback", json={**body, "chunk_id": chunk}, headers=_h(keys["km"]))
    never = client.post("/feedback", json={**body, "chunk_id": "0" * 20}, headers=_h(keys["km"]))
    assert returned.status_code == never.status_code == 404
    assert returned.json()["detail"].replace(chunk, "X") == never.json()["detail"].replace(
        "0" * 20, "X"
    )
    own = client.post("/feedback", json={**body, "chunk_id": chunk}, headers=_h(keys["tns_agent"]))
    assert own.status_code == 201


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_hidden_flag_counts_follow_the_decoded_rules(backend: str, request, tmp_path: Path) -> None:
    """The summary's counts of withheld flags come from one SQL scan of the results text;
    they must equal what decoding every search and applying the gap rules gives."""
    import random

    from api.insights_routes import _visible
    from insights import gaps
    from insights.querylog import QueryLog

    url = request.getfixturevalue("pg_database") if backend == "postgres" else ""
    settings = Settings(database_url=url, log_path=tmp_path / "log.sqlite")
    log = QueryLog.from_settings(settings)
    rng = random.Random(7)
    docs = ["a.md", "b.md", "c.md", 'q"uote.md', "é.md"]
    for i in range(300):
        results = [{"rank": k + 1, "doc_id": rng.choice(docs), "chunk_id": f"c{i}{k}",
                    "score": 0.5} for k in range(rng.randint(0, 3))]  # fmt: skip
        confidence = rng.random()
        log.log_search(
            {"query": f"q{i}", "answerable": confidence > 0.3, "results": results,
             "reason": f"closest passage similarity {confidence:.2f}"},
            ts=f"2026-11-{1 + i % 28:02d}T10:00:{i % 60:02d}",
        )  # fmt: skip
    seen = {"a.md", "b.md", "é.md"}
    expected = {"unanswered": 0, "low_confidence": 0}
    for batch in log.signal_candidates(None, 0.4):
        for search in _visible(batch, seen):
            if search["withheld"]:
                for reason in gaps.signal_reasons(search, 0.4, 0.0):
                    if reason in expected:
                        expected[reason] += 1
    assert expected["unanswered"] and expected["low_confidence"]
    assert log.hidden_flag_counts(None, 0.4, seen) == expected
