"""The HTTP API as an integrator meets it against its OpenAPI document (fake encoder): one
error shape, limits declared, caching, cancelled runs, feedback comments, strict input, typed
analytics and CORS. The app is the one of test_insights_api (sample kb, the tiny labelled set).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.test_insights_api import make_app


@pytest.fixture
def client(sample_kb: Path, fake_embedder, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(sample_kb, fake_embedder, tmp_path)) as c:
        yield c


def _one_error(r) -> dict:
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, list), detail
    [error] = detail
    assert set(error) >= {"type", "loc", "msg"}
    return error


# -- 1. every 422 is the list of (loc, msg, type) ---------------------------------------------


def test_a_top_k_over_the_maximum_is_a_validation_error_naming_its_setting(
    client: TestClient,
) -> None:
    """top_k above KB_MAX_TOP_K came as {"detail": "a string"}, top_k 0 as FastAPI's list."""
    error = _one_error(client.post("/search", json={"query": "refund", "top_k": 51}))
    assert error["loc"] == ["body", "top_k"]
    assert "50" in error["msg"] and "KB_MAX_TOP_K" in error["msg"]
    low = _one_error(client.post("/search", json={"query": "refund", "top_k": 0}))
    assert low["loc"] == ["body", "top_k"]


def test_a_query_over_the_maximum_is_a_validation_error_naming_its_setting(
    client: TestClient,
) -> None:
    error = _one_error(client.post("/search", json={"query": "refund " * 200}))
    assert error["loc"] == ["body", "query"]
    assert "1000" in error["msg"] and "KB_MAX_QUERY_CHARS" in error["msg"]


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        ("post", "/search", {"query": "refund", "filters": {"colour": "red"}}, ["body", "filters"]),
        ("get", "/analytics/searches?days=2&since=2026-01-01T00:00:00", None, ["query", "since"]),
        ("get", "/analytics/searches?since=9999-12-31T23:59:59-12:00", None, ["query", "since"]),
        ("get", "/source/policies/coin-refunds.md?start=9&end=2", None, ["query", "end"]),
        ("get", "/source/policies/coin-refunds.md?end=9", None, ["query", "start"]),
        ("post", "/eval/runs", {"dataset": "tiny", "split": "x"}, ["body", "split"]),
        ("post", "/eval/run", {"dataset": "tiny", "split": "x"}, ["body", "split"]),
    ],
)
def test_the_api_s_own_checks_answer_in_the_validation_error_shape(
    client: TestClient, method: str, path: str, body: dict | None, loc: list[str]
) -> None:
    """Checks made past FastAPI's (the Searcher's, the routes') answered a bare string."""
    error = _one_error(client.request(method.upper(), path, json=body))
    assert error["loc"] == loc and error["msg"]


# -- 2. the OpenAPI document states the running limits ---------------------------------------


def _search_body_schema(spec: dict) -> dict:
    ref = spec["paths"]["/search"]["post"]["requestBody"]["content"]["application/json"]
    name = ref["schema"]["$ref"].rsplit("/", 1)[-1]
    return spec["components"]["schemas"][name]


def _integer_branch(prop: dict) -> dict:
    return next(p for p in prop.get("anyOf", [prop]) if p.get("type") == "integer")


def test_the_openapi_document_states_the_limits_of_the_running_settings(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """top_k's maximum and query's maxLength come from settings, so the document had neither:
    a generated client learnt them from its first 422."""
    from api.app import create_app
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings

    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    for most_k, most_chars in ((50, 1000), (7, 30)):
        settings = Settings(
            index_dir=tmp_path / "ix", max_top_k=most_k, max_query_chars=most_chars,
            default_top_k=5,
        )  # fmt: skip
        app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
        with TestClient(app) as c:
            body = _search_body_schema(c.get("/openapi.json").json())
            assert body["properties"]["query"]["maxLength"] == most_chars
            top_k = _integer_branch(body["properties"]["top_k"])
            assert top_k["maximum"] == most_k and top_k["minimum"] == 1
            # what the document says is what is checked, with the type a generator knows
            error = _one_error(c.post("/search", json={"query": "refund", "top_k": most_k + 1}))
            assert error["type"] == "less_than_equal" and error["ctx"] == {"le": most_k}
            assert c.post("/search", json={"query": "refund", "top_k": most_k}).status_code == 200
            error = _one_error(c.post("/search", json={"query": "r" * (most_chars + 1)}))
            assert error["type"] == "string_too_long"
            assert error["ctx"]["max_length"] == most_chars and "KB_MAX_QUERY_CHARS" in error["msg"]
            assert c.post("/search", json={"query": "r" * most_chars}).status_code == 200


# -- 3. access-filtered answers are not cached ------------------------------------------------


def _keyed_app(
    sample_kb: Path, fake_embedder, tmp_path: Path, **settings_: object
) -> Iterator[tuple[TestClient, dict]]:
    """The app with API keys required (local backend): an agent and a manager key."""
    from api.app import create_app
    from api.security import KeyStore
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings

    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix", kb_dir=sample_kb, auth_required=True, reload_interval_s=0,
        keys_path=tmp_path / "keys.sqlite", log_path=tmp_path / "log.sqlite", **settings_,
    )  # fmt: skip
    store = KeyStore.from_settings(settings)
    keys = {
        "agent": store.create("agent", ["all-agents"])[1],
        "km": store.create("knowledge_manager", ["all-agents"])[1],
    }
    store.close()
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with TestClient(app) as c:
        yield c, keys


@pytest.fixture
def keyed(sample_kb: Path, fake_embedder, tmp_path: Path) -> Iterator[tuple[TestClient, dict]]:
    yield from _keyed_app(sample_kb, fake_embedder, tmp_path)


def _private(r) -> None:
    assert r.headers.get("cache-control") == "private, no-store", (r.url, r.headers)
    vary = {v.strip().lower() for v in r.headers.get("vary", "").split(",")}
    assert {"authorization", "x-api-key"} <= vary, (r.url, r.headers)


def test_access_filtered_answers_are_private_and_vary_on_the_key(keyed) -> None:
    """A citation's source page (and every other answer filtered by the key's access groups)
    had no Cache-Control: a shared cache or the browser's disk cache could keep restricted
    text and hand it to another key, or keep it after the key was revoked."""
    client, keys = keyed
    agent = {"X-API-Key": keys["agent"]}
    found = client.post("/search", json={"query": "refund coins"}, headers=agent)
    assert found.status_code == 200
    _private(found)
    hit = found.json()["results"][0]
    signed = f"/source/{hit['doc_id']}?start={hit['start']}&end={hit['end']}&{hit['link_params']}"
    page = client.get(signed)  # a browser with the signed link, no key header
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    _private(page)
    _private(client.get(f"/source-file/{hit['doc_id']}?{hit['link_params']}"))
    for path in ("/documents", f"/documents/{hit['doc_id']}", "/documents/no/such.md"):
        _private(client.get(path, headers=agent))
    manager = {"Authorization": f"Bearer {keys['km']}"}
    for path in ("/analytics/summary", "/analytics/searches", "/analytics/gaps?format=csv"):
        _private(client.get(path, headers=manager))
    _private(client.get("/health", headers=manager))  # its counts depend on the key too
    _private(client.get("/documents"))  # a 401 is no answer to keep either


# -- 5. a repeated verdict keeps what the agent wrote -----------------------------------------


@pytest.mark.parametrize("on_passage", [True, False])
def test_feedback_given_again_keeps_the_latest_comment_written(
    client: TestClient, on_passage: bool
) -> None:
    """A second verdict on the same passage (or search) without a comment erased the first's
    comment from every report: the rating counts once, the last; the words must stay."""
    found = client.post("/search", json={"query": "refund coins", "top_k": 3}).json()
    hit = found["results"][0]
    first = {"search_id": found["search_id"], "rating": "wrong_or_outdated",
             "comment": "says 30 days; the v3 policy says 14"}  # fmt: skip
    if on_passage:
        first["chunk_id"] = hit["chunk_id"]

    def reports() -> tuple[list[str], dict]:
        [search] = client.get("/analytics/searches").json()
        rows = client.get("/analytics/document-feedback").json()
        return search["comments"], {r["doc_id"]: r for r in rows}

    assert client.post("/feedback", json=first).status_code == 201
    again = {k: v for k, v in first.items() if k != "comment"} | {"rating": "not_helpful"}
    assert client.post("/feedback", json=again).status_code == 201
    comments, by_doc = reports()
    assert comments == ["says 30 days; the v3 policy says 14"]
    [search] = client.get("/analytics/searches").json()
    assert search["feedback"] == ["not_helpful"]  # the verdict counted is still the latest
    if on_passage:
        row = by_doc[hit["doc_id"]]
        assert row["comments"] == ["says 30 days; the v3 policy says 14"]
        assert (row["not_helpful"], row["wrong_or_outdated"]) == (1, 0)
    edited = again | {"comment": "says 30 days; v3 (2026-03-01) says 14 for DE"}
    assert client.post("/feedback", json=edited).status_code == 201
    assert reports()[0] == ["says 30 days; v3 (2026-03-01) says 14 for DE"]  # the agent's edit


# -- 6. a key named twice in a JSON body ------------------------------------------------------

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize(
    ("path", "body", "loc"),
    [
        ("/search", '{"query": "refund", "query": "coins"}', ["body", "query"]),
        ("/search", '{"query": "refund", "top_k": 3, "top_k": 5}', ["body", "top_k"]),
        (
            "/search",
            '{"query": "refund", "filters": {"markets": "DE", "markets": "FR"}}',
            ["body", "filters", "markets"],
        ),
        ("/feedback", '{"search_id": "f", "rating": "helpful", "rating": "x"}', ["body", "rating"]),
        ("/eval/runs", '{"dataset": "tiny", "dataset": "kb"}', ["body", "dataset"]),
    ],
)
def test_a_json_body_naming_a_key_twice_is_refused_naming_the_key(
    client: TestClient, path: str, body: str, loc: list[str]
) -> None:
    """{"query": "a", "query": "b"} was read as {"query": "b"}, silently."""
    error = _one_error(client.post(path, content=body, headers=JSON))
    assert error["loc"] == loc and error["type"] == "json_duplicate_key"
    assert repr(loc[-1]) in error["msg"]


def test_the_same_key_in_different_objects_is_no_repeat(client: TestClient) -> None:
    body = '{"query": "refund", "filters": {"query": "x"}}'
    error = _one_error(client.post("/search", content=body, headers=JSON))
    assert error["type"] != "json_duplicate_key"  # an unknown filter field, as before
    ok = '{"query": "refund coins", "filters": {"markets": ["DE", "DE"]}}'
    assert client.post("/search", content=ok, headers=JSON).status_code == 200


# -- 7. unknown query parameters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "unknown", "takes"),
    [
        ("/analytics/stale?as_off=2024-01-01", "as_off", ["today", "include_superseded"]),
        ("/analytics/searches?limit=5&ofset=10", "ofset", ["offset", "since", "format"]),
        ("/documents?groups=tns", "groups", []),
        ("/source/policies/coin-refunds.md?strat=1&end=9", "strat", ["start", "chunk", "page"]),
        ("/eval/runs?status=done", "status", []),
    ],
)
def test_an_unknown_query_parameter_is_named_with_those_the_route_takes(
    client: TestClient, path: str, unknown: str, takes: list[str]
) -> None:
    """?as_off=2024-01-01 (a typo of as_of, of today on stale) was ignored without a word."""
    error = _one_error(client.get(path))
    assert error["loc"] == ["query", unknown] and error["type"] == "extra_forbidden"
    assert repr(unknown) in error["msg"]
    assert all(name in error["msg"] for name in takes), error["msg"]
    if not takes:
        assert "takes no query parameters" in error["msg"]


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("/analytics/summary?days=60&days=7", "days"),
        ("/analytics/unretrieved?top=5&top=1", "top"),
        ("/analytics/stale?today=2026-01-01&today=2027-01-01", "today"),
        ("/analytics/searches?limit=5&offset=0&offset=10", "offset"),
    ],
)
def test_a_query_parameter_named_twice_is_refused(
    client: TestClient, path: str, named: str
) -> None:
    """?days=60&days=7 answered for 7 days without a word (the last value won), as a JSON
    body naming a key twice did before it was refused: a script or a pasted link that
    repeats a parameter gets figures for a period it may not have meant."""
    error = _one_error(client.get(path))
    assert error["loc"] == ["query", named] and repr(named) in error["msg"]
    assert "twice" in error["msg"] or "times" in error["msg"]


def test_health_takes_whatever_a_monitor_adds(client: TestClient) -> None:
    """Uptime monitors add a cache-buster ("?t=1733600000"): the health check answered 422,
    and the monitor paged someone about a healthy API."""
    assert client.get("/health?t=1733600000").status_code == 200
    assert client.head("/health?_=1").status_code == 200


def test_declared_query_parameters_and_signed_links_still_pass(keyed) -> None:
    client, keys = keyed
    manager = {"X-API-Key": keys["km"]}
    for path in (
        "/analytics/stale?today=2026-01-01&include_superseded=true&format=csv",
        "/analytics/searches?limit=5&offset=0&since=2026-01-01T00:00:00",
        "/analytics/conflicts?min_similarity=0.9&limit=5&include_versions=false",
    ):
        assert client.get(path, headers=manager).status_code == 200, path
    hit = client.post("/search", json={"query": "refund coins"}, headers=manager).json()
    hit = hit["results"][0]
    page = client.get(
        f"/source/{hit['doc_id']}?start={hit['start']}&end={hit['end']}&chunk={hit['chunk_id']}"
        f"&page=1&{hit['link_params']}"
    )
    assert page.status_code == 200, page.text
    # the key is checked first: a caller without one learns nothing of the route's parameters
    assert client.get("/analytics/stale?as_off=2024-01-01").status_code == 401


def test_every_operation_documents_its_422(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    missing = [
        (method, path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if "422" not in op["responses"]
    ]
    assert not missing
    source = spec["paths"]["/source/{doc_id}"]["get"]["parameters"]
    assert {"kid", "exp", "sig"} <= {p["name"] for p in source}  # the signed link, documented


# -- 8. typed analytics ----------------------------------------------------------------------

ANALYTICS = {  # route -> its row (or body) model in the OpenAPI document
    "/analytics/summary": "SummaryOut",
    "/analytics/gaps": "GapTopicOut",
    "/analytics/unretrieved": "UnretrievedOut",
    "/analytics/stale": "StaleOut",
    "/analytics/document-feedback": "DocumentFeedbackOut",
    "/analytics/conflicts": "ConflictOut",
    "/analytics/searches": "SearchLogOut",
    "/eval/datasets": "EvalDatasetOut",
}
WITH_ROWS = {"/analytics/stale": "?today=2100-01-01", "/analytics/conflicts": "?min_similarity=0"}


@pytest.fixture
def disagreeing(sample_kb: Path, fake_embedder, tmp_path: Path) -> Iterator[TestClient]:
    """The app over the sample with a page that contradicts coin-refunds.md (a conflict)."""
    (sample_kb / "policies" / "refund-faq.md").write_text(
        "# Refund FAQ\n\n## Refund windows\n\n"
        "Users in Germany may withdraw from a coin purchase within 30 days.\n"
    )
    with TestClient(make_app(sample_kb, fake_embedder, tmp_path)) as c:
        yield c


def test_analytics_answers_are_described_by_models(disagreeing: TestClient) -> None:
    """They were untyped dicts: the document said nothing of their fields, so a generated
    client got ``object`` and a reader had to call each route to learn its columns."""
    client = disagreeing
    found = client.post("/search", json={"query": "refund coins", "top_k": 3}).json()
    client.post("/search", json={"query": "zebra xylophone quantum"})
    client.post(
        "/feedback",
        json={"search_id": found["search_id"], "rating": "wrong_or_outdated",
              "chunk_id": found["results"][0]["chunk_id"], "comment": "14 days now"},
    )  # fmt: skip
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for path, model in ANALYTICS.items():
        ok = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        ref = ok["schema"] if path == "/analytics/summary" else ok["schema"]["items"]
        assert ref == {"$ref": f"#/components/schemas/{model}"}, path
        fields = list(schemas[model]["properties"])
        body = client.get(path + WITH_ROWS.get(path, "")).json()
        rows = [body] if isinstance(body, dict) else body
        assert rows, path
        for row in rows:  # every key documented, in the order the rows (and CSVs) have them
            assert list(row) == fields, path
    assert "text/csv" in spec["paths"]["/analytics/gaps"]["get"]["responses"]["200"]["content"]


# -- 9. CORS, when the operator allows it -----------------------------------------------------

APP_ORIGIN = "https://kb-tools.example.com"


def _preflight(client: TestClient, path: str, method: str, headers: str, origin: str = APP_ORIGIN):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


def test_no_cors_headers_unless_origins_are_configured(keyed) -> None:
    client, keys = keyed
    r = client.get("/documents", headers={"Origin": APP_ORIGIN, "X-API-Key": keys["agent"]})
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = _preflight(client, "/search", "POST", "x-api-key, content-type")
    assert "access-control-allow-origin" not in pre.headers


@pytest.fixture
def cors(sample_kb: Path, fake_embedder, tmp_path: Path) -> Iterator[tuple[TestClient, dict]]:
    yield from _keyed_app(
        sample_kb, fake_embedder, tmp_path, cors_origins=f"{APP_ORIGIN}, http://localhost:3000"
    )


def test_a_listed_origin_can_call_the_api_with_a_key_from_a_browser(cors) -> None:
    """A browser app on another origin could not call the API at all (no CORS). Its
    preflight carries no key (browsers never send one with it), so it must not meet the key
    check; the calls that follow carry the key and are checked as usual."""
    client, keys = cors
    for path, method, headers in [
        ("/search", "POST", "x-api-key, content-type"),
        ("/analytics/summary", "GET", "authorization"),
        (f"/eval/runs/{'0' * 32}", "DELETE", "authorization"),
    ]:
        pre = _preflight(client, path, method, headers)
        assert pre.status_code == 200, (path, pre.text)
        assert pre.headers["access-control-allow-origin"] == APP_ORIGIN
        assert method in pre.headers["access-control-allow-methods"]
        allowed = pre.headers["access-control-allow-headers"].lower()
        assert all(h.strip() in allowed for h in headers.split(","))
    origin = {"Origin": APP_ORIGIN}
    r = client.post(
        "/search", json={"query": "refund"}, headers={**origin, "X-API-Key": keys["agent"]}
    )
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == APP_ORIGIN
    vary = {v.strip().lower() for v in r.headers["vary"].split(",")}
    assert {"origin", "authorization", "x-api-key"} <= vary
    _private(r)
    page = client.get("/analytics/searches?limit=1", headers={**origin, "X-API-Key": keys["km"]})
    assert "x-total-count" in page.headers["access-control-expose-headers"].lower()
    refused = client.post("/search", json={"query": "refund"}, headers=origin)  # no key
    assert refused.status_code == 401  # and the app can read why
    assert refused.headers["access-control-allow-origin"] == APP_ORIGIN
    stranger = _preflight(client, "/search", "POST", "x-api-key", origin="https://evil.example")
    assert "access-control-allow-origin" not in stranger.headers


@pytest.mark.parametrize(
    ("value", "auth", "why"),
    [
        ("*", False, "name the origins"),
        ("https://kb-tools.example.com/", True, "not an origin"),
        ("kb-tools.example.com", True, "not an origin"),
    ],
)
def test_cors_origins_are_checked_at_start(
    value: str, auth: bool, why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trailing slash never matches a browser's Origin (CORS fails with no clue why); "*"
    with keys off would let any page the user opens read the API through their browser."""
    from pydantic import ValidationError

    from indexer.settings import Settings

    monkeypatch.setenv("KB_CORS_ORIGINS", value)
    with pytest.raises(ValidationError, match=why):
        Settings(auth_required=auth)
    monkeypatch.setenv("KB_CORS_ORIGINS", "https://KB-Tools.example.com, http://localhost:3000")
    assert Settings().cors_origins == [APP_ORIGIN, "http://localhost:3000"]
    monkeypatch.setenv("KB_CORS_ORIGINS", "*")
    assert Settings(auth_required=True).cors_origins == ["*"]
