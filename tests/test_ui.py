"""The Streamlit page against a real API on loopback (fake encoder), and with the API down."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from api.app import create_app
from api.security import KeyStore
from indexer.build import build_index
from indexer.search import Searcher
from indexer.settings import Settings
from tests.test_ui_pages import _free_port as free_port
from tests.test_ui_pages import served
from ui.client import ApiClient, ApiUnavailable
from ui.common import md

APP = str(Path(__file__).resolve().parent.parent / "ui" / "app.py")
AGENT = str(Path(__file__).resolve().parent.parent / "ui" / "views" / "agent.py")


@pytest.fixture
def api_url(sample_kb: Path, fake_embedder, tmp_path: Path) -> str:
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(index_dir=tmp_path / "ix")
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with served(app) as url:
        yield url


def test_search_renders_cited_cards(api_url: str, monkeypatch) -> None:
    monkeypatch.setenv("KB_API_URL", api_url)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    at.text_input[0].input("escalate imminent risk guardian queue")
    at.button[0].click().run()
    assert not at.exception
    shown = " ".join(m.value for m in at.markdown)
    assert "Dangerous Challenges SOP" in shown
    assert any("<mark>" in h.proto.body for h in at.get("html"))
    assert any("chars" in c.value for c in at.code)


def test_api_down_is_a_clear_message(monkeypatch) -> None:
    monkeypatch.setenv("KB_API_URL", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.error and "not reachable" in at.error[0].value


def test_an_empty_search_says_what_to_do_and_a_refusal_reads_as_one(
    api_url: str, monkeypatch
) -> None:
    """Enter on an empty box did nothing at all; a refused question read "The API answered
    422: Value error, query is empty"."""
    monkeypatch.setenv("KB_API_URL", api_url)
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    at.text_input[0].input("   ")
    at.button[0].click().run()
    assert not at.exception and at.warning[0].value == "Type a question to search for."
    assert at.text_input[0].max_chars == Settings().max_query_chars
    with pytest.raises(ApiUnavailable) as refused:
        ApiClient(api_url).search("\u200b")
    assert str(refused.value) == "The API refused this request: query is empty."
    assert refused.value.status == 422


def test_api_down_names_the_command_without_markup_and_keeps_nothing_unsaid(
    monkeypatch,
) -> None:
    monkeypatch.setenv("KB_API_URL", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    shown = _rendered_text(at.error[0].value)
    assert "Start it with kb serve, or with the README's run command" in shown
    assert "`" not in shown and "What you typed is kept" not in shown  # nothing was typed


def _rendered_text(markdown: str) -> str:
    """What a CommonMark renderer shows for ``markdown``, as text; fails if anything formatted."""
    out = MarkdownIt("commonmark").render(markdown).strip()
    inner = out.replace("<br />\n", "\n").replace("</p>\n<p>", "\n\n")
    assert inner.startswith("<p>") and inner.endswith("</p>"), out  # paragraphs only
    inner = inner[3:-4]
    assert "<" not in inner, out  # no emphasis, heading, list, link, code, html...
    return html.unescape(inner)


@pytest.mark.parametrize(
    "text",
    [
        "**bold** and _italic_ and `code`",
        "# not a heading",
        "1. not a list",
        "- not a list either",
        "> not a quote",
        "[a link](http://evil.example) ![img](x.png) <http://auto.link>",
        "<b>html</b> <script>alert(1)</script> &amp; &lt;",
        r"back\slash \*still literal\*",
        ":red[colour] :material/search: $x^2$ ~~strike~~ | table |",
        "line one\n    indented line two\n\n# after a blank line",
        "",
    ],
)
def test_md_shows_text_as_written(text: str) -> None:
    shown = _rendered_text("Question: " + md(text))
    # Every line as written (indentation and blank lines aside), nothing formatted.
    want = [line.strip() for line in f"Question: {text}".splitlines() if line.strip()]
    assert [line for line in shown.splitlines() if line] == want
    # Streamlit's own markup (colours, icons, math) starts with characters md() escapes.
    assert not re.search(r"(?<!\\)[:$\[]", md(text))


def test_client_sends_the_api_key_and_explains_a_refusal(monkeypatch) -> None:
    seen = {}

    class Answer:
        status_code = 401

        @staticmethod
        def json() -> dict:
            return {"detail": "an API key is required"}

    def fake_request(method: str, url: str, **kwargs) -> Answer:
        seen.update(kwargs.get("headers") or {})
        return Answer()

    monkeypatch.setattr("ui.client.requests.request", fake_request)
    with pytest.raises(ApiUnavailable, match="KB_API_KEY"):
        ApiClient("http://api", api_key="kb_secret").health()
    assert seen == {"X-API-Key": "kb_secret"}
    assert "kb_secret" not in repr(ApiClient("http://api", api_key="kb_secret"))


@pytest.fixture
def secured_api(request, sample_kb: Path, fake_embedder, tmp_path: Path) -> tuple[str, str]:
    """The API with KB_AUTH_REQUIRED=true semantics, and an agent key for it: with no groups
    (every document), or the groups given as the fixture's parameter."""
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix",
        auth_required=True,
        keys_path=tmp_path / "keys.sqlite",
        log_path=tmp_path / "log.sqlite",
        reload_interval_s=0,
    )
    store = KeyStore.from_settings(settings)
    key = store.create("agent", getattr(request, "param", None))[1]
    store.close()
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with served(app) as url:
        yield url, key


def test_search_page_works_when_the_api_requires_keys(secured_api, monkeypatch) -> None:
    url, key = secured_api
    monkeypatch.setenv("KB_API_URL", url)
    monkeypatch.delenv("KB_API_KEY", raising=False)
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    assert at.error and md("KB_API_KEY") in at.error[0].value  # without a key: what to set
    assert "`" not in at.error[0].value.replace("\\`", "")  # no Markdown shown as written
    # A link opened with a refused key keeps its question on the form (the page drew only
    # the error, and the question was lost).
    monkeypatch.setenv("KB_API_KEY", "kb_not_a_key")
    linked = AppTest.from_file(AGENT, default_timeout=30)
    linked.query_params["q"] = "escalate imminent risk guardian queue"
    linked.run()
    assert not linked.exception and linked.error
    assert md("refused this page's API key") in linked.error[0].value
    assert linked.text_input(key="q").value == "escalate imminent risk guardian queue"
    monkeypatch.setenv("KB_API_KEY", key)
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    assert not at.exception and not at.error
    at.text_input[0].input("escalate imminent risk guardian queue")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert "Dangerous Challenges SOP" in " ".join(m.value for m in at.markdown)


@pytest.mark.parametrize("secured_api", [["all-agents"]], indirect=True)
def test_agent_page_opens_with_a_key_that_does_not_see_every_document(
    secured_api, monkeypatch
) -> None:
    """With keys on, /health shows counts only to a key that sees every document; the page
    read them unconditionally and failed for an agent's key."""
    url, key = secured_api
    monkeypatch.setenv("KB_API_URL", url)
    monkeypatch.setenv("KB_API_KEY", key)
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    assert not at.exception
    captions = "\n".join(c.value for c in at.caption)
    assert "Index " in captions and "documents" not in captions


def test_source_links_carry_the_signature_the_api_handed_out() -> None:
    from ui.client import ApiClient

    api = ApiClient("http://api:8000")
    result = {"doc_id": "sops/a b.pdf", "start": 3, "end": 9, "page": 2, "source": "/kb/a b.pdf",
              "chunk_id": "c" * 20}  # fmt: skip
    assert api.source_url(result) == (
        f"http://api:8000/source/sops/a%20b.pdf?start=3&end=9&chunk={'c' * 20}&page=2#passage"
    )
    assert api.original_url(result) == "http://api:8000/source-file/sops/a%20b.pdf#page=2"
    signed = {**result, "link_params": "kid=k1&exp=99&sig=ab"}
    assert api.source_url(signed).endswith(f"&chunk={'c' * 20}&page=2&kid=k1&exp=99&sig=ab#passage")
    assert api.original_url(signed).endswith("/sops/a%20b.pdf?kid=k1&exp=99&sig=ab#page=2")


def test_the_ui_waits_longer_than_the_api_deadline(monkeypatch) -> None:
    """Both gave up at 10 s, so the UI's 'did not answer' usually beat the API's own message."""
    from indexer.settings import get_settings
    from ui.common import client

    monkeypatch.setenv("KB_REQUEST_TIMEOUT_S", "12")
    get_settings.cache_clear()
    try:
        assert client().timeout > 12
    finally:
        get_settings.cache_clear()


def test_a_degraded_api_still_serves_the_search_page() -> None:
    """Serving the previous index generation, the API still answers: the page said search was
    unavailable and stopped, exactly while the fallback was keeping agents going."""
    from ui.common import check_api

    class Api:
        def __init__(self, status: str) -> None:
            self.status = status

        def health(self) -> dict:
            return {"status": self.status, "reason": "gen-2 refused (vectors.faiss damaged)"}

    health, problem = check_api(Api("degraded"))
    assert problem is None and health["status"] == "degraded"
    health, problem = check_api(Api("unavailable"))
    assert health is None and "Search is unavailable" in problem


def test_a_table_row_from_a_split_table_shows_its_columns(
    tmp_path: Path, fake_embedder, monkeypatch
) -> None:
    """A card whose passage starts inside a long table marked a row like "| VN | VND | VND
    80 |" with nothing saying which column is which: the header is shown above it."""
    kb = tmp_path / "kb"
    kb.mkdir()
    rows = "\n".join(f"| M{n} | C{n} | C{n} {n * 5} |" for n in range(2, 16))
    rows += "\n| VN | VND | VND 80 |"
    (kb / "payouts.md").write_text(
        "# Payout thresholds\n\nCreators are paid once their balance reaches the threshold "
        "of their market.\n\n| Market | Currency | Threshold |\n|---|---|---|\n" + rows + "\n",
        encoding="utf-8",
    )
    build_index(kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(index_dir=tmp_path / "ix")
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    with served(app) as url:
        monkeypatch.setenv("KB_API_URL", url)
        at = AppTest.from_file(AGENT, default_timeout=30).run()
        at.text_input[0].input("VND payout threshold VN")
        at.button[0].click().run()
        assert not at.exception
        captions = [c.value for c in at.caption]
        assert md("Table columns: | Market | Currency | Threshold |") in captions


def test_a_market_no_document_lists_is_a_warning(api_url: str, monkeypatch) -> None:
    monkeypatch.setenv("KB_API_URL", api_url)
    at = AppTest.from_file(AGENT, default_timeout=30).run()
    at.text_input[0].input("refund coins for a user in argentina")
    at.button[0].click().run()
    assert not at.exception
    warned = " ".join(w.value for w in at.warning)
    assert "No document lists argentina \\(AR\\) among its markets" in warned


@pytest.mark.parametrize("secured_api", [["all-agents"]], indirect=True)
def test_a_reopened_link_shows_only_what_the_key_may_see_now(
    secured_api, monkeypatch, tmp_path: Path
) -> None:
    """A search link reopened after `kb access` took a document away from the UI's key showed
    the document's passage again: the UI answered reloads from a response kept for an hour."""
    import requests

    from indexer.store import write_access_overrides

    url, key = secured_api
    monkeypatch.setenv("KB_API_URL", url)
    monkeypatch.setenv("KB_API_KEY", key)
    question = "escalate imminent risk guardian queue"
    first = AppTest.from_file(AGENT, default_timeout=30)
    first.query_params["q"] = question
    first.run()
    assert not first.exception and first.query_params.get("sid")
    shown = requests.post(
        f"{url}/search", json={"query": question}, headers={"X-API-Key": key}, timeout=30
    ).json()["results"][0]
    page = " ".join(m.value for m in first.markdown)
    assert md(shown["title"]) in page

    before = requests.get(f"{url}/health", timeout=30).json()["access_version"]
    write_access_overrides(tmp_path / "ix", {shown["doc_id"]: ["tns-specialists"]})
    assert requests.get(f"{url}/health", timeout=30).json()["access_version"] != before

    again = AppTest.from_file(AGENT, default_timeout=30)
    for name, value in first.query_params.items():
        again.query_params[name] = value
    again.run()
    assert not again.exception
    page = " ".join(m.value for m in again.markdown)
    assert md(shown["title"]) not in page
    assert "passages for" in " ".join(c.value for c in again.caption)  # it did search again


def test_the_ui_calls_the_api_on_this_machines_api_port_by_default(monkeypatch) -> None:
    """The README's default for KB_API_URL is this machine's KB_API_PORT; the UI called port
    8000 whatever the API's port, unless started through `kb ui`."""
    from indexer.settings import get_settings
    from ui.common import client

    monkeypatch.delenv("KB_API_URL", raising=False)
    monkeypatch.setenv("KB_API_PORT", "9123")
    get_settings.cache_clear()
    try:
        assert client().base_url == "http://127.0.0.1:9123"
        monkeypatch.setenv("KB_API_URL", "http://10.0.0.5:8000/")
        assert client().base_url == "http://10.0.0.5:8000"
    finally:
        get_settings.cache_clear()
