"""What the API documents against what it answers (fake encoder): error statuses and bodies in
the OpenAPI schema, and the headers of original files served from the API's origin."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.schemas import ErrorOut, ValidationErrorOut
from indexer.build import build_index
from indexer.search import Searcher
from indexer.settings import Settings

ERROR_REF = "#/components/schemas/ErrorOut"
INVALID_REF = "#/components/schemas/ValidationErrorOut"


@pytest.fixture
def client(sample_kb: Path, fake_embedder, tmp_path: Path) -> TestClient:
    (sample_kb / "policies" / "refund-faq.md").write_text(  # disagrees with coin-refunds.md
        "# Refund FAQ\n\n## Refund windows\n\n"
        "Users in Germany may withdraw from a coin purchase within 30 days.\n"
    )
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(index_dir=tmp_path / "ix", reload_interval_s=0, kb_dir=sample_kb)
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with TestClient(app) as c:
        yield c


def _documented(spec: dict, method: str, path: str) -> dict:
    return spec["paths"][path][method]["responses"]


def test_every_documented_error_has_the_one_error_shape(client: TestClient) -> None:
    """A generated client parses errors by the schema: FastAPI's default 422 is not the app's;
    a 422 is always the list of (loc, msg, type), every other error {"detail": "a message"}."""
    spec = client.get("/openapi.json").json()
    errors = [
        (path, method, code, response)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        for code, response in op["responses"].items()
        if code.startswith(("4", "5"))
    ]
    assert errors
    wrong = [
        (method, path, code)
        for path, method, code, response in errors
        if response["content"]["application/json"]["schema"]
        != {"$ref": INVALID_REF if code == "422" else ERROR_REF}
        and (path, code) != ("/health", "503")  # the health body itself, status unavailable
    ]
    assert not wrong
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.mark.parametrize(
    ("method", "path", "template", "body", "status"),
    [
        ("post", "/feedback", "/feedback", {"search_id": "f" * 32, "rating": "helpful"}, 404),
        ("post", "/feedback", "/feedback", {"search_id": "f" * 32, "rating": "meh"}, 422),
        ("get", "/source/policies/coin-refunds.md?start=9&end=2", "/source/{doc_id}", None, 422),
        ("get", "/source/policies/coin-refunds.md?end=9", "/source/{doc_id}", None, 422),
        ("get", "/source/no/such.md", "/source/{doc_id}", None, 404),
        ("get", "/source-file/no/such.md", "/source-file/{doc_id}", None, 404),
        ("get", "/analytics/summary?days=0", "/analytics/summary", None, 422),
        ("get", "/analytics/gaps?format=xml", "/analytics/gaps", None, 422),
        ("post", "/eval/run", "/eval/run", {"dataset": "nope"}, 404),
        ("post", "/search", "/search", {"query": "refund", "top_k": 99}, 422),
        ("get", "/documents/no/such.md", "/documents/{doc_id}", None, 404),
    ],
)
def test_errors_answered_are_documented_with_their_shape(
    client: TestClient, method: str, path: str, template: str, body: dict | None, status: int
) -> None:
    r = client.request(method.upper(), path, json=body)
    assert r.status_code == status, r.text
    (ValidationErrorOut if status == 422 else ErrorOut).model_validate(r.json())  # as documented
    documented = _documented(client.get("/openapi.json").json(), method, template)
    assert str(status) in documented


def test_analytics_document_their_csv_form(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for name in ("gaps", "unretrieved", "stale", "document-feedback", "conflicts", "searches"):
        ok = _documented(spec, "get", f"/analytics/{name}")["200"]
        assert "text/csv" in ok["content"], name
        r = client.get(f"/analytics/{name}?format=csv")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")


def test_an_original_html_file_is_sandboxed_and_a_pdf_is_not(client: TestClient) -> None:
    """A knowledge-base HTML page (this one has a script) opened from /source-file must not
    run as the API's origin; the sandbox would stop Chromium from showing a PDF at all."""
    html = client.get("/source-file/policies/live-gifts.html")
    assert html.status_code == 200 and "<script>" in html.text
    assert html.headers["content-security-policy"] == "sandbox"
    assert html.headers["x-content-type-options"] == "nosniff"
    assert html.headers["referrer-policy"] == "no-referrer"  # a signed link is no Referer
    pdf = client.get("/source-file/sops/dangerous-challenges.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "content-security-policy" not in pdf.headers
    assert pdf.headers["x-content-type-options"] == "nosniff"


EXPORTS = {  # route -> the params that make it list something on the sample knowledge base
    "gaps": "", "unretrieved": "", "stale": "&today=2100-01-01", "document-feedback": "",
    "searches": "", "conflicts": "&min_similarity=0",
}  # fmt: skip


def test_an_empty_csv_export_still_has_its_header(client: TestClient) -> None:
    """A quiet week's export used to be the one word 'empty': scripts and spreadsheets that
    read last week's columns broke on it."""
    for path in ("gaps", "document-feedback", "searches"):
        r = client.get(f"/analytics/{path}", params={"format": "csv"})
        assert r.status_code == 200 and client.get(f"/analytics/{path}").json() == []
        header, *rows = r.text.splitlines()
        assert not rows and header != "empty" and header.count(",") >= 4, (path, r.text)
    # The sample's undated documents are always due for review: the empty list, directly.
    from api.insights_routes import _table

    header, *rows = _table([], "csv", "past-review").body.decode().splitlines()
    assert not rows and header.count(",") >= 4


def test_csv_headers_are_the_json_rows_keys(client: TestClient) -> None:
    """The declared columns are those of real rows, in order (nothing dropped or renamed)."""
    found = client.post("/search", json={"query": "refund coins", "top_k": 3}).json()
    client.post("/search", json={"query": "zebra xylophone quantum", "mode": "dense"})
    client.post(
        "/feedback",
        json={"search_id": found["search_id"], "rating": "wrong_or_outdated",
              "chunk_id": found["results"][0]["chunk_id"]},
    )  # fmt: skip
    for name, extra in EXPORTS.items():
        rows = client.get(f"/analytics/{name}?format=json{extra}").json()
        header = client.get(f"/analytics/{name}?format=csv{extra}").text.splitlines()[0]
        assert rows and header.split(",") == list(rows[0]), name


@pytest.mark.parametrize("required", [True, False])
def test_the_openapi_document_says_how_to_send_a_key(
    sample_kb: Path, fake_embedder, tmp_path: Path, required: bool
) -> None:
    """With keys required the document declared no security at all: a generated client had
    no way to send one, and /docs no Authorize button."""
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix", auth_required=required, keys_path=tmp_path / "keys.sqlite"
    )
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with TestClient(app) as client:
        spec = client.get("/openapi.json").json()
        again = client.get("/openapi.json").json()
    assert spec == again  # declared once, not once more per request
    if not required:
        assert "security" not in spec and "securitySchemes" not in spec.get("components", {})
        return
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["BearerKey"]["scheme"] == "bearer"
    assert spec["security"] == [{"ApiKeyHeader": []}, {"BearerKey": []}]
    assert spec["paths"]["/health"]["get"]["security"] == []
    assert {} in spec["paths"]["/source/{doc_id}"]["get"]["security"]  # a signed link will do
    assert "security" not in spec["paths"]["/search"]["post"]  # the document's own applies


@pytest.mark.parametrize("header", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_a_json_body_sent_as_another_type_is_told_which_header_to_send(
    client: TestClient, header: str | None
) -> None:
    """curl's default form type got "Input should be a valid dictionary" beside valid JSON."""
    headers = {"content-type": header} if header else {}
    r = client.post("/search", content='{"query": "refund coins"}', headers=headers)
    assert r.status_code == 422
    [error] = r.json()["detail"]
    assert error["loc"] == ["header", "content-type"]
    assert "Content-Type: application/json" in error["msg"]
    # Sent as JSON, a body that is not an object keeps the usual message.
    r = client.post("/search", json=["refund coins"])
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body"]
