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


def test_a_replayed_search_is_answered_but_not_logged_again(client, tmp_path) -> None:
    first = _search(client, "refund coins for jane@example.com")
    again = _search(client, "refund coins for jane@example.com", replay_of=first["search_id"])
    assert again["search_id"] == first["search_id"] and again["results"] == first["results"]
    # another question under an old id is a new search, and an unknown id is no excuse either
    other = client.post("/search", json={"query": "payouts", "replay_of": first["search_id"]})
    unknown = client.post("/search", json={"query": "payouts", "replay_of": "0" * 32})
    ids = {other.json()["search_id"], unknown.json()["search_id"]}
    assert first["search_id"] not in ids and len(ids) == 2
    # the same id on another search (more results, other filters, another e-mail) is not a repeat
    more = _search(
        client, "refund coins for jane@example.com", top_k=5, replay_of=first["search_id"]
    )
    elsewhere = _search(
        client, "refund coins for jane@example.com", filters={"markets": ["DE"]},
        replay_of=first["search_id"],
    )  # fmt: skip
    bob = _search(client, "refund coins for bob@example.org", replay_of=first["search_id"])
    assert first["search_id"] not in {more["search_id"], elsewhere["search_id"], bob["search_id"]}
    con = sqlite3.connect(tmp_path / "log" / "q.sqlite")
    assert con.execute("SELECT count(*) FROM searches").fetchone()[0] == 6


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
    # No passage shares a word with it: an unanswered search.
    _search(client, "zebra migration quantum sandwich", mode="bm25")
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


def test_documents_found_only_low_down_count_as_unretrieved_within_top(client) -> None:
    """Agents read the first few results: ``top`` counts only results within that rank."""
    best: dict[str, int] = {}
    for r in _search(client, "escalate imminent risk")["results"]:
        best[r["doc_id"]] = min(r["rank"], best.get(r["doc_id"], r["rank"]))
    any_rank = {d["doc_id"] for d in client.get("/analytics/unretrieved").json()}
    first = {d["doc_id"] for d in client.get("/analytics/unretrieved?top=1").json()}
    assert not any_rank & best.keys()
    assert first - any_rank == {doc for doc, rank in best.items() if rank > 1} != set()
    assert client.get("/analytics/unretrieved?top=0").status_code == 422


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
    # the page's link to the original PDF opens it at the cited page
    assert result["page"] and f'.pdf#page={result["page"]}"' in page.text
    unmarked = client.get(f"/source/{result['doc_id']}").text
    assert '.pdf"' in unmarked and "#page=" not in unmarked


def test_eval_runs_on_a_tiny_set(client) -> None:
    sets = client.get("/eval/datasets").json()
    assert sets == [{"name": "tiny", "splits": ["dev"]}]  # not the server's path
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


FORMULAS = [
    "=1+2*3 vybe+ student discount",
    "+1 zebra quantum",
    "-2+3 zebra sandwich",
    "@(1) zebra",
]


def _csv_rows(text: str) -> list[dict[str, str]]:
    import csv
    import io

    return list(csv.DictReader(io.StringIO(text)))


def test_csv_downloads_cannot_run_formulas(client) -> None:
    searcher = client.app.state.searcher
    usual = searcher.settings
    searcher.settings = usual.model_copy(update={"answerable_threshold": 1.0})
    for query in FORMULAS:  # no passage close enough: unanswered, so also a gap topic
        assert not _search(client, query)["answerable"]
    searcher.settings = usual
    _search(client, "escalate imminent risk guardian queue")
    searches = _csv_rows(client.get("/analytics/searches", params={"format": "csv"}).text)
    queries = {r["query"] for r in searches}
    assert {"'" + q for q in FORMULAS} <= queries  # text cells: quoted, shown as typed
    assert not any(q.startswith(("=", "+", "-", "@")) for q in queries)
    answered = next(r for r in searches if r["answerable"] == "True")
    assert float(answered["confidence"]) > 0  # numbers stay numbers
    topics = _csv_rows(client.get("/analytics/gaps", params={"format": "csv"}).text)
    labels = {r["label"] for r in topics}
    assert "'=1+2*3 vybe+ student discount" in labels
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in topics for cell in r.values())
    assert client.get("/analytics/searches").json()[0]["query"] == FORMULAS[0]  # JSON as is


def test_csv_cells_are_escaped_for_text_only() -> None:
    from insights.redact import csv_text, spreadsheet_safe

    for cell in ["=cmd", "+1", "-1+2", "@x", "\tx", "\rx", " =1"]:
        assert spreadsheet_safe(cell) == "'" + cell
    assert spreadsheet_safe("a=b") == "a=b" and spreadsheet_safe(-0.5) == -0.5
    rows = _csv_rows(csv_text([{"q": "=1+2", "score": -0.5, "ids": ["=x"], "none": None}]))
    assert rows == [{"q": "'=1+2", "score": "-0.5", "ids": '["=x"]', "none": ""}]
    money = _csv_rows(csv_text([{"differences": {"money": [["£15"], ["€18"]]}}]))
    assert money == [{"differences": '{"money": [["£15"], ["€18"]]}'}]  # not "\u00a315"


def test_document_feedback_honours_the_period(client, tmp_path: Path) -> None:
    from insights.querylog import QueryLog

    recent = _search(client, "escalate imminent risk guardian queue")
    client.post(
        "/feedback",
        json={"search_id": recent["search_id"], "rating": "helpful",
              "chunk_id": recent["results"][0]["chunk_id"]},
    )  # fmt: skip
    log = QueryLog(tmp_path / "log" / "q.sqlite")
    old = log.log_search(
        {"query": "coin refund", "answerable": True, "reason": "similarity 0.70",
         "results": [{"rank": 1, "doc_id": "policies/old.md", "chunk_id": "c-old", "score": 0.7}]},
        ts="2020-01-01T09:00:00+00:00",
    )  # fmt: skip
    log.add_feedback(old, "wrong_or_outdated", chunk_id="c-old", ts="2020-01-01T09:01:00+00:00")
    log.close()
    everything = {r["doc_id"] for r in client.get("/analytics/document-feedback").json()}
    assert "policies/old.md" in everything and len(everything) == 2
    last_week = client.get("/analytics/document-feedback", params={"days": 7}).json()
    assert [r["doc_id"] for r in last_week] == [recent["results"][0]["doc_id"]]
    assert client.get("/analytics/document-feedback", params={"days": 0}).status_code == 422


def test_knowledge_page_downloads_are_formula_safe_and_feedback_follows_the_period(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    import streamlit
    from streamlit.testing.v1 import AppTest

    from insights.querylog import QueryLog
    from tests.test_ui_pages import KNOWLEDGE, served

    log = QueryLog(tmp_path / "log" / "q.sqlite")
    sid = log.log_search(
        {"query": FORMULAS[0], "answerable": False, "reason": "weak evidence: similarity 0.10",
         "results": [{"rank": 1, "doc_id": "policies/coin-refunds.md", "chunk_id": "c1",
                      "title": "=HYPERLINK(\"x\")", "score": -0.5}]},
        ts="2020-01-01T09:00:00+00:00",
    )  # fmt: skip
    log.add_feedback(sid, "wrong_or_outdated", chunk_id="c1", ts="2020-01-01T09:01:00+00:00")
    log.close()
    downloads: dict[str, bytes] = {}

    def download_button(label: str, data: bytes, **kwargs) -> bool:
        downloads[kwargs["file_name"]] = data
        return False

    monkeypatch.setattr(streamlit, "download_button", download_button)
    with served(make_app(sample_kb, fake_embedder, tmp_path), monkeypatch):
        at = AppTest.from_file(KNOWLEDGE, default_timeout=30).run()
        assert not at.exception, at.exception
        # a byte-order mark, so Excel reads the file as UTF-8
        assert all(data.startswith(b"\xef\xbb\xbf") for data in downloads.values())
        gaps_csv = _csv_rows(downloads["coverage-gaps.csv"].decode("utf-8-sig"))
        assert gaps_csv[0]["example"] == "'" + FORMULAS[0]
        assert gaps_csv[0]["searches"] == "1"  # a number, not text
        feedback_csv = _csv_rows(downloads["document-feedback.csv"].decode("utf-8-sig"))
        assert feedback_csv[0]["title"] == '\'=HYPERLINK("x")'
        assert feedback_csv[0]["wrong_or_outdated"] == "1"
        downloads.clear()
        at.selectbox[0].select("Last 7 days").run()  # the Period: 2020 feedback drops out
        assert not at.exception, at.exception
        assert "document-feedback.csv" not in downloads
        assert any("No feedback on individual passages" in c.value for c in at.caption)


def test_a_conflict_names_the_sentences_and_the_sections_that_disagree(
    tmp_path: Path, fake_embedder
) -> None:
    """A manager was given two whole passages and the first heading of each: a passage that
    absorbed a short section was named after it ("Reports"), not where the rule stands, and
    nothing said which of its sentences held the value. "filed" against "file" also kept this
    pair from being compared at all."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "appeals.md").write_text(
        "# Appeals policy\n\n## Appeal window\n\n"
        "An appeal must be filed within 30 days of the enforcement notice.\n",
        encoding="utf-8",
    )
    (kb / "counterfeit.md").write_text(
        "# Counterfeit SOP\n\n## Reports\n\nBrand owners report counterfeit listings in the "
        "Brand Shield portal, with the listing link, proof of ownership of the mark and "
        "photos of the genuine product beside the copy.\n\n"
        "## Appeals\n\nA seller who wants to appeal an IP strike must file the appeal "
        "within 14 days of the enforcement notice.\n",
        encoding="utf-8",
    )
    build_index(kb, tmp_path / "ix", fake_embedder, max_tokens=120, min_tokens=60)
    settings = Settings(index_dir=tmp_path / "ix", log_path=tmp_path / "log.sqlite")
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with TestClient(app) as client:
        assert any(c["heading_path"] == '["Counterfeit SOP", "Reports"]'
                   for c in app.state.searcher.chunks())  # fmt: skip
        [row] = client.get("/analytics/conflicts", params={"min_similarity": 0.0}).json()
        csv = client.get("/analytics/conflicts", params={"min_similarity": 0, "format": "csv"})
    pair = {row["doc_a"]: ("a", row), row["doc_b"]: ("b", row)}
    side, _ = pair["counterfeit.md"]
    assert row[f"section_{side}"] == "Counterfeit SOP > Appeals"
    assert row[f"sentence_{side}"].startswith("A seller who wants to appeal an IP strike")
    other = "b" if side == "a" else "a"
    assert row[f"section_{other}"] == "Appeals policy > Appeal window"
    assert row[f"sentence_{other}"].startswith("An appeal must be filed within 30 days")
    assert sorted(sum(row["differences"]["days"], [])) == ["14", "30"]
    assert row["sentences"] == [[row["sentence_a"], row["sentence_b"]]]
    assert "sentence_a" in csv.text.splitlines()[0]


def test_every_pair_of_disagreeing_sentences_names_its_sections(
    tmp_path: Path, fake_embedder
) -> None:
    """Two short policies, each one passage of three sections, disagree in two of them: the
    row named only the first pair's sections, so the age that differs read as if it stood in
    the refund section. ``sections`` names both sides' sections for each pair of
    ``sentences``."""
    kb = tmp_path / "kb"
    kb.mkdir()
    for name, title, days, age in [
        ("policy", "Merch policy", 30, 16),
        ("faq", "Merch FAQ", 14, 18),
    ]:
        (kb / f"{name}.md").write_text(
            f"# {title}\n\n## Refund window\n\nBuyers of official merch can request a refund "
            f"within {days} days of delivery.\n\n## Shipping\n\nOrders ship from the EU "
            "warehouse.\n\n## Age requirement\n\nUsers must be at least "
            f"{age} to buy official merch with a stored card.\n",
            encoding="utf-8",
        )
    build_index(kb, tmp_path / "ix", fake_embedder, max_tokens=120, min_tokens=100)
    settings = Settings(index_dir=tmp_path / "ix", log_path=tmp_path / "log.sqlite")
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with TestClient(app) as client:
        assert len(app.state.searcher.chunks()) == 2  # one passage per document
        [row] = client.get("/analytics/conflicts", params={"min_similarity": 0.0}).json()
        csv = client.get("/analytics/conflicts", params={"min_similarity": 0, "format": "csv"})
    titles = {row["doc_a"]: "a", row["doc_b"]: "b"}
    policy, faq = titles["policy.md"], titles["faq.md"]
    assert len(row["sentences"]) == 2
    named = {
        pair[0 if policy == "a" else 1].split(" within ")[0].split(" at least ")[0]: sections
        for pair, sections in zip(row["sentences"], row["sections"], strict=True)
    }
    side = {"a": 0, "b": 1}
    refund, age = named["Buyers of official merch can request a refund"], named["Users must be"]
    assert refund[side[policy]] == "Merch policy > Refund window"
    assert refund[side[faq]] == "Merch FAQ > Refund window"
    assert age[side[policy]] == "Merch policy > Age requirement"
    assert age[side[faq]] == "Merch FAQ > Age requirement"
    assert row["sections"][0] == [row["section_a"], row["section_b"]]
    assert "sections" in csv.text.splitlines()[0]
