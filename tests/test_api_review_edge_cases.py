"""Edge cases a client hits in the HTTP API (fake encoder, local files): a query of invisible
characters, one clear error per malformed filter, messages that speak of the field as the
README does, and a signed link whose signature is not ASCII."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.security import KeyStore
from indexer.search import Searcher
from indexer.settings import Settings
from tests.conftest import FakeEmbedder
from tests.test_input_validation import _client


@pytest.fixture
def client(indexed_sample: Path) -> Iterator[TestClient]:
    with _client(indexed_sample, Settings(index_dir=indexed_sample, reload_interval_s=0)) as c:
        yield c


def _detail(r) -> list[dict]:
    assert r.status_code == 422, r.text
    return r.json()["detail"]


# -- the query --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["\u200b", "\u200b\u200c\u200d", "\ufeff", "\x00", "\x07\x08", "\u202e\u202d", " \u200b\t"],
)
def test_a_query_of_invisible_characters_is_empty(client: TestClient, query: str) -> None:
    """A pasted zero-width space or a stray control character is no question: it was answered
    (with the nearest passages, and logged as a gap topic labelled with nothing visible)."""
    (error,) = _detail(client.post("/search", json={"query": query}))
    assert error["loc"] == ["body", "query"] and "query is empty" in error["msg"]


@pytest.mark.parametrize("query", ["refund\u200bcoins", "💸", "退款", "???", "\u0301e"])
def test_a_query_with_something_visible_is_searched(client: TestClient, query: str) -> None:
    assert client.post("/search", json={"query": query}).status_code == 200


@pytest.mark.parametrize("query", ["coin refund\x00", "coin\x1brefund", "coin\x85refund"])
def test_control_characters_in_a_query_are_read_as_spaces(client: TestClient, query: str) -> None:
    """A NUL or an escape kept in the question was echoed back and written to the query log
    and its CSV export (a binary file to spreadsheet tools)."""
    answer = client.post("/search", json={"query": query})
    assert answer.status_code == 200
    assert answer.json()["query"] == "coin refund"


# -- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "got"),
    [(5, "a number"), ([5], "a list holding a number"), ([["DE"]], "a list holding a list"),
     (None, "null"), ({"a": "b"}, "an object"), (True, "true or false")],
)  # fmt: skip
def test_a_filter_of_the_wrong_type_is_one_error_naming_it(
    client: TestClient, value: object, got: str
) -> None:
    """Not one error per branch of the value's union (loc ending "str" and "list[str]")."""
    r = client.post("/search", json={"query": "refund", "filters": {"markets": value}})
    (error,) = _detail(r)
    assert error["loc"] == ["body", "filters"]
    assert "filter 'markets' takes a string or a list of strings" in error["msg"]
    assert got in error["msg"]


def test_an_empty_filter_list_says_it_lists_nothing(client: TestClient) -> None:
    """[] is a list of strings: "takes a string or a list of strings" told the caller nothing."""
    r = client.post("/search", json={"query": "refund", "filters": {"markets": []}})
    (error,) = _detail(r)
    assert "filter 'markets' lists no value" in error["msg"]


def test_good_filters_still_pass(client: TestClient) -> None:
    for value in ("sop", ["sop"], ["sop", "policy"]):
        r = client.post("/search", json={"query": "refund", "filters": {"doc_type": value}})
        assert r.status_code == 200, r.text


# -- messages ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "why"),
    [("2026-02-30", "day is out of range"), ("2026-13-01", "month must be in 1..12"),
     ("0000-01-01", "year 0 is out of range")],
)  # fmt: skip
def test_an_impossible_as_of_is_named_as_no_calendar_date(
    client: TestClient, as_of: str, why: str
) -> None:
    """The message said "a valid date or datetime", though date-times are refused."""
    (error,) = _detail(client.post("/search", json={"query": "refund", "as_of": as_of}))
    assert error["loc"] == ["body", "as_of"]
    assert f"as_of {as_of!r} is not a calendar date" in error["msg"] and why in error["msg"]
    assert "datetime" not in error["msg"]


def test_a_long_replay_of_is_counted_in_characters(client: TestClient) -> None:
    """It said "at most 64 items after validation" of a string."""
    r = client.post("/search", json={"query": "refund", "replay_of": "x" * 65})
    (error,) = _detail(r)
    assert error["type"] == "string_too_long" and "64 characters" in error["msg"]


# -- signed links ---------------------------------------------------------------------------------


def test_a_link_signature_that_is_not_ascii_is_refused_not_a_500(
    indexed_sample: Path, tmp_path: Path
) -> None:
    """hmac.compare_digest raises TypeError on non-ASCII text: /source answered 500."""
    settings = Settings(
        index_dir=indexed_sample,
        reload_interval_s=0,
        auth_required=True,
        keys_path=tmp_path / "keys.sqlite",
    )
    store = KeyStore.from_settings(settings)
    key_id, _key = store.create("agent", ["all-agents"])
    store.close()
    expires = int(time.time()) + 3600
    with _client(settings.index_dir, settings) as c:
        for sig in ("%C3%A9", "%E2%9C%93" * 32):
            url = f"/source/policies/coin-refunds.md?kid={key_id}&exp={expires}&sig={sig}"
            r = c.get(url)
            assert r.status_code == 401, r.text
            assert r.json() == {"detail": "invalid link signature"}


# -- found by the review outside the schemas --------------------------------------------------


@pytest.fixture
def logged(indexed_sample: Path, tmp_path: Path) -> Iterator[TestClient]:
    """The API with its query log under the test's folder (analytics read it)."""
    settings = Settings(
        index_dir=indexed_sample, reload_interval_s=0, log_path=tmp_path / "log.sqlite"
    )
    with _client(settings.index_dir, settings) as c:
        yield c


@pytest.mark.parametrize(
    "query",
    [
        "offset=99999999999999999999",
        "since=9999-12-31T23:59:59-12:00",
        "since=0001-01-01T00:00:00%2B14:00",
    ],
)
def test_an_out_of_range_page_of_the_log_is_bad_input_not_a_500(
    logged: TestClient, query: str
) -> None:
    """SQLite's integer and datetime's years overflowed inside the route: 500s."""
    r = logged.get(f"/analytics/searches?{query}")
    assert r.status_code == 422, r.text
    assert "offset" in r.text or "outside the years 1-9999" in r.text


def test_the_largest_offset_still_reads_an_empty_page(logged: TestClient) -> None:
    r = logged.get(f"/analytics/searches?offset={2**63 - 1}")
    assert r.status_code == 200, r.text
    assert r.json() == [] and r.headers["X-Total-Count"] == "0"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ('{"query": "refund", "top_k": ' + "9" * 5000 + "}", "digits"),
        ('{"query": "refund", "filters": ' + "[" * 5000 + "]" * 5000 + "}", "nests too deeply"),
    ],
)
def test_json_past_the_parsers_limits_is_a_422_saying_why(
    client: TestClient, body: str, why: str
) -> None:
    """FastAPI answered both with an undocumented 400 "There was an error parsing the body"."""
    r = client.post("/search", content=body, headers={"Content-Type": "application/json"})
    (error,) = _detail(r)
    assert error["type"] == "json_invalid" and why in error["msg"]


def test_the_rate_limit_message_says_the_wait_the_header_gives() -> None:
    from api.security import RateLimitedError, retry_seconds

    for wait in (0.05, 0.4, 1.6, 59.5):
        assert f"retry in {retry_seconds(wait)}s" in str(RateLimitedError(wait))
        assert retry_seconds(wait) >= 1
    assert "retry in 0s" not in str(RateLimitedError(0.2))


@pytest.mark.parametrize("today", ["0", "2026-01-01T00:00:00", "20260101", "2026-02-30"])
def test_the_stale_list_takes_a_plain_date_like_as_of(logged: TestClient, today: str) -> None:
    """today=0 was read as 1970-01-01 and a date-time at midnight accepted: both a 200."""
    r = logged.get(f"/analytics/stale?today={today}")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["msg"].startswith("Value error, today ")  # not "as_of"
    assert logged.get("/analytics/stale?today=2026-01-01").status_code == 200


def test_kb_ask_refuses_a_question_of_invisible_characters(indexed_sample: Path) -> None:
    """The CLI and library shared the API's old check, which let a zero-width space through."""
    from indexer.errors import InvalidQueryError

    searcher = Searcher(indexed_sample, FakeEmbedder(), Settings(index_dir=indexed_sample))
    try:
        for query in ("\u200b", "\ufeff\u200d", "\x00"):
            with pytest.raises(InvalidQueryError, match="query is empty"):
                searcher.search(query)
        assert searcher.search("refund \u200b window").results
    finally:
        searcher.close()


def test_no_response_names_the_servers_folders(client: TestClient) -> None:
    """Every result and document listing carried the server's absolute path to the file."""
    results = client.post("/search", json={"query": "refund", "top_k": 5}).json()["results"]
    listed = client.get("/documents").json()
    one = client.get(f"/documents/{listed[0]['doc_id']}").json()
    for item in [*results, *listed, one]:
        assert not item["source"].startswith("/"), item["source"]
        assert item["source"] == item["doc_id"] or "/" not in item["source"]
    pdf = next(d for d in listed if d["doc_id"].endswith(".pdf"))
    assert pdf["source"].endswith(".pdf")  # the UI reads the file type from it
