"""Two stateless API processes and one indexer on one PostgreSQL, under load on loopback.

An edited document must reach both replicas as one new index version, and no request may fail
while the indexer commits and the replicas move over.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from indexer.build import build_index
from tests.conftest import REPO

pytestmark = pytest.mark.integration

MARKER = "Wombat refunds are approved by the duty manager only."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"content-type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _wait_until_serving(url: str, seconds: float = 120) -> None:
    """Until the replica at ``url`` answers /health with "ok" (it loads the model first)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if _get(url + "/health")["status"] == "ok":
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"the replica at {url} did not start"
        time.sleep(0.3)


def test_two_replicas_see_an_edit_together_without_failing(
    sample_kb: Path, real_embedder, pg_database: str, tmp_path: Path
) -> None:
    options = {"max_tokens": 120, "min_tokens": 16}
    build_index(sample_kb, pg_database, real_embedder, **options)
    env = {
        **os.environ,
        "KB_DATABASE_URL": pg_database,
        "KB_LOG_PATH": str(tmp_path / "log.sqlite"),
        "KB_RELOAD_INTERVAL_S": "0.2",
        "HF_HUB_OFFLINE": "1",
    }
    ports = [_free_port(), _free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "kb_cli.main", "serve", "--port", str(port)],
            env={**env, "KB_LOG_PATH": str(tmp_path / f"log-{port}.sqlite")},
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    stop = threading.Event()
    outcomes: list[str] = []
    try:
        for url in urls:
            _wait_until_serving(url)
        before = {_get(url + "/health")["index_version"] for url in urls}
        assert len(before) == 1  # both replicas serve the same index

        def load(url: str) -> None:
            while not stop.is_set():
                try:
                    _post(url + "/search", {"query": "refund coins after purchase", "top_k": 3})
                    outcomes.append("ok")
                except Exception as exc:  # every failure counts, whatever its kind
                    outcomes.append(f"error: {exc}")

        workers = [threading.Thread(target=load, args=(u,)) for u in urls for _ in range(2)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        md = sample_kb / "policies" / "coin-refunds.md"
        md.write_text(md.read_text() + f"\n{MARKER}\n")
        report = build_index(sample_kb, pg_database, real_embedder, **options)
        new_version = report.manifest.index_version
        seen: dict[str, float] = {}
        committed = time.monotonic()
        while len(seen) < len(urls) and time.monotonic() - committed < 30:
            for url in urls:
                if url in seen:
                    continue
                hits = _post(url + "/search", {"query": "wombat refunds duty manager",
                                               "top_k": 3, "mode": "bm25"})  # fmt: skip
                if any(MARKER in h["text"] for h in hits["results"]):
                    assert hits["index_version"] == new_version
                    seen[url] = time.monotonic() - committed
            time.sleep(0.05)
        time.sleep(0.5)
    finally:
        stop.set()
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
    assert set(seen) == set(urls), f"replicas that saw the edit: {seen}"
    errors = [o for o in outcomes if o != "ok"]
    assert not errors, errors[:3]
    assert len(outcomes) > 20
    # One query log for both replicas, in the database: every search either answered is in it.
    import psycopg

    with psycopg.connect(pg_database) as con:
        logged = con.execute("SELECT count(*) FROM searches").fetchone()[0]
    assert logged >= len(outcomes) + len(seen)
    assert not list(tmp_path.glob("log*.sqlite"))


RESTRUCTURED = """# Coin Refund Policy

This policy explains when coins can be refunded.

## Scope

It covers coin purchases made in the app on any platform, including gifts bought for others.

## Chargeback handling

Chargebacks are never refunded twice.
"""


def test_a_replica_cites_the_new_structure_before_it_reopens(
    sample_kb: Path, real_embedder, pg_database: str, tmp_path: Path
) -> None:
    """A replica that has not reopened yet (here: never polls) still answers from the data
    committed now, so it cites the restructured document's headings, not the old ones."""
    options = {"max_tokens": 120, "min_tokens": 16}
    build_index(sample_kb, pg_database, real_embedder, **options)
    port = _free_port()
    env = {**os.environ, "KB_DATABASE_URL": pg_database, "KB_RELOAD_INTERVAL_S": "0",
           "KB_LOG_PATH": str(tmp_path / "log.sqlite"), "HF_HUB_OFFLINE": "1"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "kb_cli.main", "serve", "--port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    query = {"query": "chargebacks refunded twice", "top_k": 1, "mode": "bm25"}
    try:
        _wait_until_serving(url)
        before = _post(url + "/search", query)["results"][0]
        assert before["heading_path"] == ["Coin Refund Policy", "Exceptions"]
        md = sample_kb / "policies" / "coin-refunds.md"
        md.write_text("---" + md.read_text().split("---")[1] + "---\n" + RESTRUCTURED)
        report = build_index(sample_kb, pg_database, real_embedder, **options)
        after = _post(url + "/search", query)
        assert after["index_version"] == report.manifest.index_version
        top = after["results"][0]
        assert top["heading_path"] == ["Coin Refund Policy", "Chargeback handling"]
        assert "Chargeback handling" in top["citation"]
        text = _get(url + "/documents/policies/coin-refunds.md")["text"]
        assert text[top["highlight"]["start"] : top["highlight"]["end"]] == top["highlight"]["text"]
    finally:
        server.terminate()
        server.wait(timeout=30)
