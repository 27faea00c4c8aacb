"""API keys through the real app (fake encoder): replays per caller, revocation mid-request,
a key header beside a citation's link parameters."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import KeyStore
from indexer.build import build_index
from indexer.search import Searcher
from indexer.settings import Settings

QUERY = "refund coins within 14 days"


@pytest.fixture
def keyed(sample_kb: Path, fake_embedder, tmp_path: Path):
    """The app with keys on and two agents of the same groups (same results for both)."""
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix",
        auth_required=True,
        keys_path=tmp_path / "keys.sqlite",
        rate_limit_per_minute=1000,
        reload_interval_s=0,
        log_path=tmp_path / "log.sqlite",
    )
    store = KeyStore(settings.keys_path)
    keys = {name: store.create("agent", ["all-agents"])[1] for name in ("ann", "bob")}
    store.close()
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with TestClient(app) as client:
        yield client, keys, tmp_path / "log.sqlite"


def _revoke(keys_path: Path, key: str) -> None:
    store = KeyStore(keys_path)
    try:
        assert store.revoke(store.verify(key).key_id)
    finally:
        store.close()


def _search(client: TestClient, key: str, **extra) -> dict:
    body = {"query": QUERY, "top_k": 3, **extra}
    r = client.post("/search", json=body, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    return r.json()


def _logged(path: Path) -> int:
    with sqlite3.connect(path) as con:
        return con.execute("SELECT count(*) FROM searches").fetchone()[0]


def test_replay_of_another_callers_search_is_logged_as_a_new_search(keyed) -> None:
    """Bob opening Ann's link is a second search by a second person: analytics count both."""
    client, keys, log = keyed
    ann = _search(client, keys["ann"])
    bob = _search(client, keys["bob"], replay_of=ann["search_id"])
    chunks = [r["chunk_id"] for r in ann["results"]]
    assert [r["chunk_id"] for r in bob["results"]] == chunks  # an exact repeat but for who asked
    assert bob["search_id"] != ann["search_id"]
    for found in (ann, bob):  # still what the UI's links carry as sid (32 hex digits)
        assert re.fullmatch(r"[0-9a-f]{32}", found["search_id"])
    assert _logged(log) == 2
    # Ann reloading her own link is still one search, and so is Bob reloading his
    assert _search(client, keys["ann"], replay_of=ann["search_id"])["search_id"] == ann["search_id"]
    assert _search(client, keys["bob"], replay_of=bob["search_id"])["search_id"] == bob["search_id"]
    assert _logged(log) == 2
    # Ann's id under Bob's key after Bob's own search is still not Bob's to replay
    assert _search(client, keys["bob"], replay_of=ann["search_id"])["search_id"] != ann["search_id"]
    assert _logged(log) == 3


def test_only_the_caller_who_searched_may_rate_the_search(keyed) -> None:
    """The latest verdict on a search counts: Bob, who saw Ann's search id (in the log or a
    shared link), must not overwrite her rating. His is answered like an unknown search."""
    client, keys, _ = keyed
    ann = _search(client, keys["ann"])

    def rate(key: str, rating: str) -> int:
        return client.post(
            "/feedback",
            json={"search_id": ann["search_id"], "rating": rating},
            headers={"Authorization": f"Bearer {keys[key]}"},
        ).status_code

    assert rate("ann", "helpful") == 201
    assert rate("bob", "wrong_or_outdated") == 404
    assert rate("ann", "not_helpful") == 201


def test_a_key_revoked_during_its_search_gets_the_answer_it_was_let_in_for(keyed) -> None:
    """The key was valid when the search started: a 401 after the search was run and logged
    left a logged search whose id nobody got. The answer's links are refused from then on."""
    client, keys, log = keyed
    searcher = client.app.state.searcher
    search = searcher.search

    def revoked_meanwhile(*args, **kwargs):
        _revoke(log.parent / "keys.sqlite", keys["ann"])
        return search(*args, **kwargs)

    searcher.search = revoked_meanwhile
    try:
        body = _search(client, keys["ann"])
    finally:
        searcher.search = search
    assert body["search_id"] and _logged(log) == 1
    first = body["results"][0]
    assert first["link_params"]
    link = f"/source/{first['doc_id']}?{first['link_params']}"
    assert client.get(link).status_code == 401  # the revoked key's links open nothing
    again = client.post(
        "/search", json={"query": QUERY}, headers={"Authorization": f"Bearer {keys['ann']}"}
    )
    assert again.status_code == 401 and _logged(log) == 1


def test_a_key_header_is_enough_beside_expired_link_parameters(keyed) -> None:
    """A tool that keeps a citation's URL and sends its own key is let in on the key; the
    link's expiry only matters to a browser that has no key to send."""
    client, keys, _ = keyed
    first = _search(client, keys["ann"])["results"][0]
    params = dict(p.split("=") for p in first["link_params"].split("&"))
    stale = f"/source/{first['doc_id']}?kid={params['kid']}&exp=1&sig={params['sig']}"
    assert client.get(stale).status_code == 401  # no key: the link alone is judged
    for headers in ({"Authorization": f"Bearer {keys['bob']}"}, {"X-API-Key": keys["ann"]}):
        r = client.get(stale, headers=headers)
        assert r.status_code == 200 and "<html " in r.text, r.text
    forged = client.get(stale, headers={"X-API-Key": "kb_forged"})
    assert forged.status_code == 401 and "invalid or revoked" in forged.json()["detail"]
