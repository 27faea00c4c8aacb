"""Bad input is a clear 4xx (API) or exit status 2 (CLI), never a 500 or a traceback, and the
API and the CLI take the same values under the same limits."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.app import create_app
from indexer.search import open_searcher
from indexer.settings import Settings, get_settings
from kb_cli.main import main, parse_filters
from tests.conftest import FakeEmbedder

JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def index_dir(indexed_sample: Path) -> Path:
    return indexed_sample


def _client(index_dir: Path, settings: Settings | None = None) -> TestClient:
    """The API over ``index_dir``; a server error comes back as a 500, as a client sees it."""
    settings = settings or Settings(index_dir=index_dir)
    searcher = open_searcher(index_dir, FakeEmbedder(), settings)
    return TestClient(create_app(settings, searcher=searcher), raise_server_exceptions=False)


@pytest.fixture
def client(index_dir: Path) -> Iterator[TestClient]:
    with _client(index_dir) as c:
        yield c


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """``get_settings()`` reads the environment this test sets up, and forgets it after."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# -- 1. lone surrogates and unencodable values ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (rb'{"query": "\ud800 refund"}', "query holds an unpaired surrogate"),
        (rb'{"query": "refund \udfff"}', "query holds an unpaired surrogate"),
        (rb'{"query": "refund", "filters": {"markets": ["\ud800"]}}', "filter 'markets'"),
        (rb'{"query": "refund", "filters": {"markets": "DE\udc00"}}', "filter 'markets'"),
        (rb'{"query": "refund", "filters": {"\ud800": "DE"}}', "filter name"),
        (rb'{"query": "refund", "mode": "\ud800"}', "mode"),
    ],
)
def test_lone_surrogates_in_a_search_are_a_422(
    client: TestClient, body: bytes, fragment: str
) -> None:
    r = client.post("/search", content=body, headers=JSON)
    assert r.status_code == 422
    assert fragment in r.text


def test_a_surrogate_pair_is_text(client: TestClient) -> None:
    r = client.post("/search", content=rb'{"query": "refund \ud83d\ude00 coins"}', headers=JSON)
    assert r.status_code == 200


@pytest.mark.parametrize("field", ["comment", "chunk_id", "search_id"])
def test_lone_surrogates_in_feedback_are_a_422(client: TestClient, field: str) -> None:
    search_id = client.post("/search", json={"query": "refund coins"}).json()["search_id"]
    body = {"search_id": search_id, "rating": "helpful", field: "PLACEHOLDER"}
    content = json.dumps(body).replace("PLACEHOLDER", "x\\udc00x" * 2).encode()
    r = client.post("/feedback", content=content, headers=JSON)
    assert r.status_code == 422
    assert [field] == r.json()["detail"][0]["loc"][1:]


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "refund", "top_k": NaN}',
        b'{"query": "refund", "top_k": Infinity}',
        b'{"query": "refund", "top_k": -Infinity}',
        b'{"query": "refund", "context": NaN}',
    ],
)
def test_invalid_input_that_cannot_be_echoed_is_a_422(client: TestClient, body: bytes) -> None:
    r = client.post("/search", content=body, headers=JSON)
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"][0] == "body" and error["type"] and error["msg"]
    assert "input" not in error  # NaN has no JSON form: left out, not a 500


def test_validation_errors_keep_loc_msg_type_and_a_safe_input(client: TestClient) -> None:
    r = client.post("/search", json={"query": "refund", "top_k": "many", "context": 9})
    assert r.status_code == 422
    errors = {e["loc"][-1]: e for e in r.json()["detail"]}
    assert errors["top_k"]["type"] == "int_type" and errors["top_k"]["input"] == "many"
    assert errors["context"]["ctx"] == {"le": 3}


def test_include_superseded_is_a_json_boolean(client: TestClient) -> None:
    """ "yes" was read as true: a typo would silently return retired versions."""
    r = client.post("/search", json={"query": "refund", "include_superseded": "yes"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "include_superseded"
    ok = client.post("/search", json={"query": "refund", "include_superseded": True})
    assert ok.status_code == 200


# -- 3. limits come from the settings --------------------------------------------------------


def test_top_k_limit_follows_kb_max_top_k(index_dir: Path, monkeypatch) -> None:
    monkeypatch.setenv("KB_MAX_TOP_K", "100")
    with _client(index_dir, Settings(index_dir=index_dir)) as c:
        assert c.post("/search", json={"query": "refund", "top_k": 80}).status_code == 200
        r = c.post("/search", json={"query": "refund", "top_k": 101})
        assert r.status_code == 422
        [error] = r.json()["detail"]
        assert error["loc"] == ["body", "top_k"]
        assert "top_k must be between 1 and 100 (KB_MAX_TOP_K)" in error["msg"]


def test_default_top_k_limit_still_holds(client: TestClient) -> None:
    r = client.post("/search", json={"query": "refund", "top_k": 51})
    assert r.status_code == 422 and "between 1 and 50" in r.text


def test_query_length_limit_follows_kb_max_query_chars(index_dir: Path) -> None:
    settings = Settings(index_dir=index_dir, max_query_chars=20)
    with _client(index_dir, settings) as c:
        r = c.post("/search", json={"query": "refund coins for a minor in Malaysia"})
        assert r.status_code == 422 and "the limit is 20" in r.text


# -- 4. the search mode setting --------------------------------------------------------------


@pytest.mark.parametrize("mode", ["Hybrid", "semantic", ""])
def test_an_unknown_search_mode_fails_at_start(monkeypatch, mode: str) -> None:
    monkeypatch.setenv("KB_SEARCH_MODE", mode)
    with pytest.raises(ValidationError, match="search_mode"):
        Settings()


def test_known_search_modes_are_accepted(monkeypatch) -> None:
    for mode in ("dense", "bm25", "hybrid"):
        monkeypatch.setenv("KB_SEARCH_MODE", mode)
        assert Settings().search_mode == mode


def test_cli_names_the_bad_setting(monkeypatch, fresh_settings, tmp_path: Path, capsys) -> None:
    monkeypatch.setenv("KB_SEARCH_MODE", "Hybrid")
    assert main(["ask", "refund", "--index-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kb: invalid configuration: KB_SEARCH_MODE:") and "'Hybrid'" in err
    assert "Traceback" not in err


# -- 2. --filters must be an object ----------------------------------------------------------


@pytest.mark.parametrize("filters", ['["DE"]', '"DE"', "5", "null", "true"])
def test_cli_filters_must_be_a_json_object(
    filters: str, fresh_settings, tmp_path: Path, capsys
) -> None:
    assert main(["ask", "refund", "--index-dir", str(tmp_path), "--filters", filters]) == 2
    err = capsys.readouterr().err
    assert err == 'kb: --filters must be a JSON object such as {"markets": ["DE"]}\n'


def test_cli_filters_object_is_passed_on() -> None:
    assert parse_filters('{"markets": ["DE"]}') == {"markets": ["DE"]}
    assert parse_filters(None) is None and parse_filters("") is None


# -- 5. the API and the CLI take the same values ---------------------------------------------


@pytest.mark.parametrize(
    "as_of", ["2026-01-01T00:00:00Z", "2026-01-01T10:00:00", "20260101", "2026-W01-1", "soon"]
)
def test_as_of_is_a_plain_date_in_the_api_and_the_cli(
    client: TestClient, as_of: str, fresh_settings, tmp_path: Path, capsys
) -> None:
    r = client.post("/search", json={"query": "refund", "as_of": as_of})
    assert r.status_code == 422 and "YYYY-MM-DD" in r.text
    assert main(["ask", "refund", "--index-dir", str(tmp_path), "--as-of", as_of]) == 2
    assert "--as-of must be a date written YYYY-MM-DD" in capsys.readouterr().err


def test_as_of_date_and_timestamp(client: TestClient) -> None:
    ok = client.post("/search", json={"query": "refund", "as_of": "2026-01-01"})
    assert ok.status_code == 200 and ok.json()["as_of"] == "2026-01-01"
    r = client.post("/search", json={"query": "refund", "as_of": 1767225600})
    assert r.status_code == 422  # a Unix timestamp is not a date either
    r = client.post("/search", json={"query": "refund", "as_of": "2026-02-30"})
    assert r.status_code == 422


@pytest.mark.parametrize("value", [True, False, 5.0, "5", [5]])
def test_top_k_and_context_are_strict_integers(client: TestClient, value: object) -> None:
    for field in ("top_k", "context"):
        r = client.post("/search", json={"query": "refund", field: value})
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", field]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KB_DEFAULT_TOP_K": "60"}, "KB_MAX_TOP_K: Value error, must be at least KB_DEFAULT"),
        (
            {"KB_CHUNK_MIN_TOKENS": "300", "KB_CHUNK_MAX_TOKENS": "100"},
            "KB_CHUNK_MIN_TOKENS: Value error, must be below KB_CHUNK_MAX_TOKENS",
        ),
    ],
)
def test_settings_that_contradict_each_other_stop_at_start(
    env, named, monkeypatch, fresh_settings, tmp_path: Path, capsys
) -> None:
    """KB_DEFAULT_TOP_K above KB_MAX_TOP_K started an API whose every search naming no top_k
    failed with a 422 blaming the caller."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert main(["ask", "refund", "--index-dir", str(tmp_path)]) == 2
    assert named in capsys.readouterr().err


def test_a_question_pasted_with_wide_letters_or_invisible_marks_is_searched_as_its_words(
    client: TestClient,
) -> None:
    """Full-width letters, a PDF ligature, a zero-width space and a soft hyphen pasted into a
    question matched no keyword: the search, the echo and the log read the plain words."""
    pasted = client.post("/search", json={"query": "ｒｅｆｕｎｄ co\u00adins re\u200bquest ﬁled"})
    plain = client.post("/search", json={"query": "refund coins request filed"})
    assert pasted.status_code == plain.status_code == 200
    assert pasted.json()["query"] == "refund coins request filed"
    ids = [[r["chunk_id"] for r in x.json()["results"]] for x in (pasted, plain)]
    assert ids[0] == ids[1] and ids[0]


def test_relative_paths_are_read_from_the_project_folder(tmp_path: Path, monkeypatch) -> None:
    """`kb` run from another folder made a second var/ there: a fresh 20 s model export, an
    empty embedding cache, and no index, keys or query log found."""
    from indexer.settings import PROJECT_ROOT

    assert PROJECT_ROOT is not None and (PROJECT_ROOT / "pyproject.toml").is_file()
    monkeypatch.chdir(tmp_path)
    for name in ("KB_INDEX_DIR", "KB_MODEL_CACHE_DIR", "KB_DATASETS_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KB_LOG_PATH", "var/other-log.sqlite")
    monkeypatch.setenv("KB_EMBED_CACHE_PATH", "off")
    settings = Settings(keys_path=tmp_path / "keys.sqlite")
    assert settings.index_dir == PROJECT_ROOT / "var" / "index"
    assert settings.model_cache_dir == PROJECT_ROOT / "var" / "models"
    assert settings.log_path == PROJECT_ROOT / "var" / "other-log.sqlite"
    assert settings.datasets_dir == PROJECT_ROOT.parent / "shared" / "datasets"
    assert settings.keys_path == tmp_path / "keys.sqlite"  # absolute: as given
    assert settings.embed_cache_path is None  # 'off' still switches the cache off
    assert not (tmp_path / "var").exists()


def test_the_quantiser_s_advice_is_not_shown_as_a_build_warning(caplog) -> None:
    import logging

    from indexer.onnx_backend import _without_advice

    with caplog.at_level(logging.WARNING), _without_advice():
        logging.warning("Please consider to run pre-processing before quantization. See ...")
        logging.warning("a real warning")
    assert [r.getMessage() for r in caplog.records] == ["a real warning"]
