"""Keys, roles, document-level access and request limits through the real app (fake encoder)."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import KeyStore
from indexer.build import build_index
from indexer.search import Searcher, open_searcher
from indexer.settings import Settings

RESTRICTED = {"sops/dangerous-challenges.pdf", "sops/account-recovery.txt"}  # tns-specialists
QUERY = "escalate imminent risk guardian queue tier 2 account"


@pytest.fixture(params=["local", "postgres"])
def secured(request, sample_kb: Path, fake_embedder, tmp_path: Path):
    """The secured app on both backends: with postgres, keys and the log live in the database."""
    url = request.getfixturevalue("pg_database") if request.param == "postgres" else ""
    target = url or tmp_path / "ix"
    build_index(sample_kb, target, fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix",
        database_url=url,
        auth_required=True,
        keys_path=tmp_path / "keys.sqlite",
        rate_limit_per_minute=1000,
        reload_interval_s=0,
        log_path=tmp_path / "log.sqlite",
    )
    store = KeyStore.from_settings(settings)
    keys = {
        "agent": store.create("agent", ["all-agents"])[1],
        "tns_agent": store.create("agent", ["tns-specialists"])[1],
        "km": store.create("knowledge_manager", ["all-agents"])[1],
        "admin": store.create("admin", None)[1],
    }
    store.close()
    searcher = open_searcher(target, fake_embedder, settings)
    with TestClient(create_app(settings, searcher=searcher)) as client:
        yield client, keys, settings


def _h(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_health_counts_documents_only_for_a_key_that_sees_them_all(secured) -> None:
    """/health is open, and its counts include documents only some keys may see (the sample's
    restricted SOP): only a key that sees every document reads them."""
    client, keys, _ = secured
    for headers in ({}, _h(keys["agent"]), _h(keys["km"]), _h("kb_forged")):
        body = client.get("/health", headers=headers).json()
        assert body["status"] == "ok" and "counts" not in body and body["index_version"]
    admin = client.get("/health", headers=_h(keys["admin"])).json()
    assert admin["counts"]["documents"] > 0


def test_health_is_open_everything_else_needs_a_key(secured) -> None:
    client, keys, _ = secured
    assert client.get("/health").status_code == 200
    for method, path, body in [
        ("post", "/search", {"query": "refund"}),
        ("get", "/documents", None),
        ("get", "/documents/policies/coin-refunds.md", None),
        ("get", "/analytics/summary", None),
    ]:
        r = client.request(method.upper(), path, json=body)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", path
        bad = client.request(method.upper(), path, json=body, headers=_h("kb_forged"))
        assert bad.status_code == 401, path
    assert (
        client.post(
            "/search", json={"query": "refund"}, headers={"X-API-Key": keys["agent"]}
        ).status_code
        == 200
    )


@pytest.mark.parametrize(
    ("who", "sees_restricted", "analytics"),
    [("agent", False, 403), ("tns_agent", True, 403), ("km", False, 200), ("admin", True, 200)],
)
def test_access_matrix(secured, who: str, sees_restricted: bool, analytics: int) -> None:
    client, keys, _ = secured
    headers = _h(keys[who])
    results = client.post("/search", json={"query": QUERY, "top_k": 10}, headers=headers).json()
    found = {r["doc_id"] for r in results["results"]}
    listed = {d["doc_id"] for d in client.get("/documents", headers=headers).json()}
    if sees_restricted:
        assert RESTRICTED & found and RESTRICTED <= listed
    else:
        assert not RESTRICTED & found and not RESTRICTED & listed
        assert len(results["results"]) == min(10, results["results"].__len__())
    for doc_id in RESTRICTED:
        r = client.get(f"/documents/{doc_id}", headers=headers)
        assert r.status_code == (200 if sees_restricted else 404)
        if not sees_restricted:
            assert r.json() == client.get("/documents/no/such.md", headers=headers).json() | {
                "detail": r.json()["detail"]
            }  # same shape as a missing document
    assert client.get("/analytics/summary", headers=headers).status_code == analytics
    if analytics == 200:
        stale = client.get("/analytics/stale", headers=headers).json()
        shown = {row.get("doc_id") for row in (stale if isinstance(stale, list) else [])}
        assert sees_restricted or not RESTRICTED & shown


def test_narrow_caller_still_gets_top_k(secured) -> None:
    client, keys, _ = secured
    r = client.post("/search", json={"query": QUERY, "top_k": 3}, headers=_h(keys["tns_agent"]))
    docs = {x["doc_id"] for x in r.json()["results"]}
    assert docs <= RESTRICTED and len(r.json()["results"]) == 3


def _rate_limited(sample_kb: Path, fake_embedder, tmp_path: Path, per_minute: int):
    """Settings with keys on and ``per_minute`` requests a minute, and an agent's key."""
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix",
        auth_required=True,
        reload_interval_s=0,
        keys_path=tmp_path / "k.sqlite",
        rate_limit_per_minute=per_minute,
        log_path=tmp_path / "log.sqlite",
    )
    return settings, KeyStore(settings.keys_path).create("agent", ["all-agents"])[1]


def test_rate_limit_answers_429_with_retry_after(sample_kb, fake_embedder, tmp_path) -> None:
    settings, key = _rate_limited(sample_kb, fake_embedder, tmp_path, 3)
    with TestClient(create_app(settings, Searcher(tmp_path / "ix", fake_embedder, settings))) as c:
        codes = [
            c.post("/search", json={"query": "refund"}, headers=_h(key)).status_code
            for _ in range(5)
        ]
        assert codes[:3] == [200, 200, 200] and codes[3] == 429
        limited = c.post("/search", json={"query": "refund"}, headers=_h(key))
        assert int(limited.headers["Retry-After"]) >= 1


def test_two_app_workers_on_one_keys_file_grant_the_limit_once(
    sample_kb, fake_embedder, tmp_path
) -> None:
    """Each worker process builds its own app; kept in memory, the buckets let two workers
    serve twice the limit (uvicorn hands a client's connections to either)."""
    settings, key = _rate_limited(sample_kb, fake_embedder, tmp_path, 4)
    apps = [create_app(settings, Searcher(tmp_path / "ix", fake_embedder, settings)) for _ in "ab"]
    with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
        codes = [
            client.post("/search", json={"query": "refund"}, headers=_h(key)).status_code
            for client in (one, two, one, two, one, two)
        ]
    assert codes == [200, 200, 200, 200, 429, 429]


def test_body_limits_with_and_without_content_length(secured) -> None:
    client, keys, settings = secured
    big = b'{"query": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    r = client.post(
        "/search", content=big, headers={**_h(keys["agent"]), "content-type": "application/json"}
    )
    assert r.status_code == 413

    def chunks():
        yield b'{"query": "'
        for _ in range(settings.max_body_bytes // 1000 + 2):
            yield b"y" * 1000
        yield b'"}'

    r = client.post(
        "/search",
        content=chunks(),
        headers={**_h(keys["agent"]), "content-type": "application/json"},
    )
    assert r.status_code == 413


def test_deadline_answers_504(sample_kb, fake_embedder, tmp_path, monkeypatch) -> None:
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix",
        request_timeout_s=0.2,
        reload_interval_s=0,
        log_path=tmp_path / "log.sqlite",
    )
    searcher = Searcher(tmp_path / "ix", fake_embedder, settings)
    slow = searcher.search

    def sleepy(*args, **kwargs):
        time.sleep(1.0)
        return slow(*args, **kwargs)

    monkeypatch.setattr(searcher, "search", sleepy)
    with TestClient(create_app(settings, searcher)) as c:
        r = c.post("/search", json={"query": "refund"})
        assert r.status_code == 504 and "longer than 0.2s" in r.json()["detail"]


def test_analytics_do_not_reveal_restricted_documents(secured) -> None:
    client, keys, _ = secured
    r = client.post("/search", json={"query": QUERY, "top_k": 10}, headers=_h(keys["tns_agent"]))
    assert RESTRICTED & {x["doc_id"] for x in r.json()["results"]}
    km = client.get("/analytics/searches", headers=_h(keys["km"])).json()
    assert km and not RESTRICTED & {d for row in km for d in row["results"]}
    admin = client.get("/analytics/searches", headers=_h(keys["admin"])).json()
    assert RESTRICTED & {d for row in admin for d in row["results"]}
    assert admin[-1]["confidence"] is not None and admin[-1]["answerable"] is not None


def test_a_search_answered_from_hidden_documents_keeps_its_confidence_hidden(secured) -> None:
    """How sure a search was comes from its best passage; a manager who may not see that
    passage's document must not learn from the score that some hidden document matched."""
    client, keys, _ = secured
    r = client.post("/search", json={"query": QUERY, "top_k": 10}, headers=_h(keys["tns_agent"]))
    top = r.json()["results"][0]["doc_id"]
    assert top in RESTRICTED
    (km,) = client.get("/analytics/searches", headers=_h(keys["km"])).json()
    assert km["confidence"] is None and km["answerable"] is None and km["withheld"] is True
    assert km["top_doc"] != top
    (admin,) = client.get("/analytics/searches", headers=_h(keys["admin"])).json()
    assert admin["confidence"] is not None and admin["withheld"] is False
    csv = client.get("/analytics/searches?format=csv", headers=_h(keys["km"])).text
    assert csv.splitlines()[0].endswith(",withheld")


def test_too_many_filter_values(secured) -> None:
    client, keys, _ = secured
    body = {"query": "refund", "filters": {"markets": [f"M{i}" for i in range(51)]}}
    r = client.post("/search", json=body, headers=_h(keys["agent"]))
    assert r.status_code == 422 and "limit is 50" in r.text


def test_replicas_share_keys_log_feedback_and_access(
    sample_kb: Path, fake_embedder, tmp_path: Path, pg_database: str, monkeypatch
) -> None:
    """Two API apps on one database are interchangeable: a key made once works on both, a
    search answered by one takes feedback through the other, and `kb access` reaches both."""
    from indexer.settings import get_settings
    from kb_cli.main import main

    build_index(sample_kb, pg_database, fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        database_url=pg_database,
        auth_required=True,
        reload_interval_s=0,
        rate_limit_per_minute=1000,
        keys_path=tmp_path / "unused-keys.sqlite",
        log_path=tmp_path / "unused-log.sqlite",
    )
    store = KeyStore.from_settings(settings)
    agent = store.create("agent", ["all-agents"])[1]
    km = store.create("knowledge_manager", ["all-agents"])[1]
    apps = [create_app(settings, open_searcher(pg_database, fake_embedder, settings)) for _ in "ab"]
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        found = a.post("/search", json={"query": QUERY}, headers=_h(agent)).json()
        first = found["results"][0]
        verdict = {"search_id": found["search_id"], "rating": "helpful"}
        r = b.post("/feedback", json={**verdict, "chunk_id": first["chunk_id"]}, headers=_h(agent))
        assert r.status_code == 201, r.text
        summary = b.get("/analytics/summary", headers=_h(km)).json()
        assert summary["searches"] == 1 and summary["feedback"] == {"helpful": 1}
        pdf = "sops/dangerous-challenges.pdf"
        monkeypatch.setenv("KB_DATABASE_URL", pg_database)
        get_settings.cache_clear()
        assert main(["access", "set", pdf, "--groups", "all-agents"]) == 0
        for client in (a, b):
            docs = client.get("/documents", headers=_h(agent)).json()
            assert pdf in {d["doc_id"] for d in docs}
        store.revoke(store.verify(agent).key_id)
        for client in (a, b):
            assert client.post("/search", json={"query": "x"}, headers=_h(agent)).status_code == 401
    assert not (tmp_path / "unused-keys.sqlite").exists()
    assert not (tmp_path / "unused-log.sqlite").exists()
    store.close()
    get_settings.cache_clear()


def test_signed_links_open_one_document_as_the_caller_without_a_header(secured) -> None:
    """A browser cannot send the key: a search hands out links that open the cited document's
    source views (for that document only, as that key, until they expire or it is revoked)."""
    client, keys, settings = secured
    found = client.post(
        "/search", json={"query": QUERY, "top_k": 10}, headers=_h(keys["tns_agent"])
    )
    pdf = next(r for r in found.json()["results"] if r["doc_id"] == "sops/dangerous-challenges.pdf")
    params = pdf["link_params"]
    assert set(dict(p.split("=") for p in params.split("&"))) == {"kid", "exp", "sig"}
    view = client.get(f"/source/{pdf['doc_id']}?start={pdf['start']}&end={pdf['end']}&{params}")
    assert view.status_code == 200 and '<mark id="passage">' in view.text
    # the page signs its own link to the PDF (a second later its expiry may differ)
    [href] = re.findall(r'href="(/source-file/[^"]+)"', view.text)
    pdf_link = html.unescape(href)
    kid = dict(p.split("=") for p in params.split("&"))["kid"]
    assert pdf_link.startswith(f"/source-file/sops/dangerous-challenges.pdf?kid={kid}&exp=")
    assert client.get(pdf_link).status_code == 200
    assert client.get(f"/source-file/{pdf['doc_id']}?{params}").status_code == 200
    assert client.get(f"/source/{pdf['doc_id']}").status_code == 401  # unsigned: still a key
    # the signature covers this document and this expiry, nothing else
    other = client.get(f"/source/policies/coin-refunds.md?{params}")
    assert other.status_code == 401
    query = dict(p.split("=") for p in params.split("&"))
    later = {**query, "exp": str(int(query["exp"]) + 3600)}
    forged = "&".join(f"{k}={v}" for k, v in later.items())
    assert client.get(f"/source/{pdf['doc_id']}?{forged}").status_code == 401
    expired = KeyStore.from_settings(settings)
    try:
        past = int(query["exp"]) - 10**6
        old_sig = expired.sign_link(query["kid"], pdf["doc_id"], past)
        stale = client.get(f"/source/{pdf['doc_id']}?kid={query['kid']}&exp={past}&sig={old_sig}")
        assert stale.status_code == 401 and "expired" in stale.json()["detail"]
        # signed right, but valid for years: never handed out (a stolen digest forges these)
        far = int(query["exp"]) + 10**8
        far_sig = expired.sign_link(query["kid"], pdf["doc_id"], far)
        forged = client.get(f"/source/{pdf['doc_id']}?kid={query['kid']}&exp={far}&sig={far_sig}")
        assert forged.status_code == 401 and "outlives" in forged.json()["detail"]
        for loose in (f"+{query['exp']}", f"0{query['exp']}", f"%20{query['exp']}"):
            also = f"kid={query['kid']}&exp={loose}&sig={query['sig']}"
            assert client.get(f"/source/{pdf['doc_id']}?{also}").status_code == 401, loose
        assert expired.revoke(query["kid"])
    finally:
        expired.close()
    assert client.get(f"/source/{pdf['doc_id']}?{params}").status_code == 401  # revoked key
    # a key that may not see the document gets no further with a link than with its header
    agent = client.post("/search", json={"query": "refund", "top_k": 3}, headers=_h(keys["agent"]))
    mine = agent.json()["results"][0]["link_params"]
    mine_q = dict(p.split("=") for p in mine.split("&"))
    assert client.get(
        f"/source/{pdf['doc_id']}?kid={mine_q['kid']}&exp={mine_q['exp']}&sig={mine_q['sig']}"
    ).status_code in (401, 404)


def test_the_key_store_is_readable_by_its_owner_alone(tmp_path: Path) -> None:
    """keys.sqlite was created -rw-r--r--: any local user could read the digests, which also
    sign source links."""
    import os
    import stat

    store = KeyStore(tmp_path / "keys.sqlite")
    store.create("agent", ["all-agents"])
    store.close()
    for name in ("keys.sqlite", "keys.sqlite-wal", "keys.sqlite-shm"):
        path = tmp_path / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, name
    loose = tmp_path / "old.sqlite"
    KeyStore(loose).close()
    os.chmod(loose, 0o644)  # a store from before: opened, it is tightened
    KeyStore(loose).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600
