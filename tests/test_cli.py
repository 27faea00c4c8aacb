"""The `kb` command with the fake encoder patched in: index summary, ask output, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.settings import get_settings
from kb_cli.main import main
from tests.conftest import FakeEmbedder


@pytest.fixture(autouse=True)
def _fake_model(monkeypatch, tmp_path) -> None:
    class Factory:
        """Stands in for Embedder: every way of making one gives the fake."""

        def __new__(cls, *args, **kwargs):
            return FakeEmbedder()

        @staticmethod
        def from_settings(settings):
            return FakeEmbedder()

    monkeypatch.setattr("indexer.embedding.Embedder", Factory)
    monkeypatch.setattr("indexer.search.Embedder", Factory)
    monkeypatch.setenv("KB_CHUNK_MAX_TOKENS", "60")
    monkeypatch.setenv("KB_CHUNK_MIN_TOKENS", "8")
    monkeypatch.setenv("KB_EMBED_CACHE_PATH", str(tmp_path / "embed-cache.sqlite"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_index_then_ask(sample_kb: Path, tmp_path: Path, capsys) -> None:
    ix = str(tmp_path / "ix")
    assert main(["index", str(sample_kb), "--index-dir", ix, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Indexed 5 documents" in out
    assert "Skipped 6 file(s)" in out
    assert "broken/encrypted.pdf: encrypted" in out
    assert "new texts, reused" in out

    assert main(["index", str(sample_kb), "--index-dir", ix, "--quiet"]) == 0
    assert "is up to date" in capsys.readouterr().out

    assert main(["ask", "escalate imminent risk guardian", "--index-dir", ix, "--top-k", "2"]) == 0
    out = capsys.readouterr().out
    assert "[1] Dangerous Challenges SOP v2.0 (effective 2026-01-10) score" in out
    assert "sops/dangerous-challenges.pdf :: 2 Escalation, p. 2 :: chars" in out
    assert "[3]" not in out and "(2 results in" in out

    assert main(["ask", "refund coins", "--index-dir", ix, "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["results"] and "start" in body["results"][0]


def test_ask_can_include_versions_no_longer_in_force(tmp_path: Path, capsys) -> None:
    """The API's include_superseded had no flag in `kb ask`: an agent checking what the old
    rules said could not see them from the terminal."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "old.md").write_text(
        "---\nversion: '1'\neffective_date: 2026-01-01\n---\n# Refunds\n\n"
        "Ruby refunds take 30 days.\n",
        encoding="utf-8",
    )
    (kb / "new.md").write_text(
        "---\nversion: '2'\neffective_date: 2026-02-01\nsupersedes: old.md\n---\n"
        "# Refunds\n\nRuby refunds take 14 days.\n",
        encoding="utf-8",
    )
    ix = str(tmp_path / "ix")
    assert main(["index", str(kb), "--index-dir", ix, "--quiet"]) == 0
    capsys.readouterr()
    ask = ["ask", "ruby refunds", "--index-dir", ix, "--as-of", "2026-03-01", "--json"]
    assert main(ask) == 0
    assert {r["doc_id"] for r in json.loads(capsys.readouterr().out)["results"]} == {"new.md"}
    assert main([*ask, "--include-superseded"]) == 0
    found = {r["doc_id"]: r["in_force"] for r in json.loads(capsys.readouterr().out)["results"]}
    assert found == {"new.md": True, "old.md": False}


def test_warnings_during_a_build_do_not_land_on_the_progress_bar(tmp_path: Path, capsys) -> None:
    """'reading files: 0%|...WARNING ... effectve_date' read as one broken line."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text("---\neffectve_date: 2026-01-01\n---\n# A\n\nText.\n", "utf-8")
    assert main(["index", str(kb), "--index-dir", str(tmp_path / "ix")]) == 0
    err = capsys.readouterr().err
    assert "unknown metadata field effectve_date" in err
    assert all(line.startswith("WARNING") for line in err.split("\n") if "WARNING" in line)


def test_ask_without_index_is_a_clean_error(tmp_path: Path, capsys) -> None:
    assert main(["ask", "refund", "--index-dir", str(tmp_path / "none")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kb: no index at") and "Traceback" not in err


def test_bad_filters_json(sample_kb: Path, tmp_path: Path, capsys) -> None:
    ix = str(tmp_path / "ix")
    main(["index", str(sample_kb), "--index-dir", ix, "--quiet"])
    capsys.readouterr()
    assert main(["ask", "refund", "--index-dir", ix, "--filters", "{bad"]) == 2
    assert "--filters is not valid JSON" in capsys.readouterr().err
    assert main(["ask", "refund", "--index-dir", ix, "--filters", '{"colour": "x"}']) == 1
    assert "unknown filter field" in capsys.readouterr().err


def test_index_missing_folder(tmp_path: Path, capsys) -> None:
    assert main(["index", str(tmp_path / "nowhere"), "--index-dir", str(tmp_path / "ix")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_keys_create_and_serve_guard(tmp_path: Path, capsys, monkeypatch) -> None:
    from api.security import KeyStore

    monkeypatch.setenv("KB_KEYS_PATH", str(tmp_path / "keys.sqlite"))
    get_settings.cache_clear()
    assert main(["keys", "create", "--role", "agent", "--groups", "payments-support"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("kb_")
    assert key not in (tmp_path / "keys.sqlite").read_bytes().decode("latin-1")  # stored hashed
    store = KeyStore(tmp_path / "keys.sqlite")
    principal = store.verify(key)
    assert principal.role == "agent" and principal.groups == ("payments-support",)
    assert main(["keys", "revoke", principal.key_id]) == 0
    assert main(["serve", "--host", "0.0.0.0", "--index-dir", str(tmp_path)]) == 1
    assert "refusing to listen on 0.0.0.0" in capsys.readouterr().err


def test_serve_starts_worker_processes_from_the_factory(tmp_path: Path, monkeypatch) -> None:
    """With more than one worker, uvicorn gets the app factory (each worker builds its own
    app) and the CLI's index directory travels through the environment."""
    import uvicorn

    calls: list[tuple[tuple, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append((a, k)))
    monkeypatch.setenv("KB_API_WORKERS", "2")
    for name in ("KB_INDEX_DIR", "KB_DATABASE_URL"):  # serve sets them: restored after
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    get_settings.cache_clear()
    assert main(["serve", "--index-dir", str(tmp_path / "ix")]) == 0
    ((args, kwargs),) = calls
    assert args == ("api.app:app_factory",) and kwargs["factory"] and kwargs["workers"] == 2
    import os

    assert os.environ["KB_INDEX_DIR"] == str(tmp_path / "ix")
    monkeypatch.delenv("KB_INDEX_DIR")
    monkeypatch.setenv("KB_API_WORKERS", "1")
    get_settings.cache_clear()
    calls.clear()
    assert main(["serve", "--index-dir", str(tmp_path / "ix")]) == 0
    ((args, kwargs),) = calls
    assert not isinstance(args[0], str) and "workers" not in kwargs


def test_default_workers_follow_the_cores_this_process_may_use() -> None:
    import os

    from indexer.settings import Settings

    assert Settings(api_workers=3).worker_count() == 3
    assert Settings(api_workers=0).worker_count() == len(os.sched_getaffinity(0))
    assert Settings(search_slots=5).search_slot_count() == 5
    assert Settings().search_slot_count() == len(os.sched_getaffinity(0))


def test_stopping_kb_ui_stops_the_streamlit_server(tmp_path: Path) -> None:
    """`kb ui` ran Streamlit as a child: a SIGTERM to kb (a service manager's stop) left the
    server running and holding its port."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    def listening(port: int) -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex(("127.0.0.1", port)) == 0

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = "from kb_cli.main import main; raise SystemExit(main())"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "ui", "--port", str(port), "--api-url", "http://127.0.0.1:9"],
        cwd=Path(__file__).resolve().parent.parent,
        env={**os.environ, "HOME": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not listening(port):
            assert proc.poll() is None and time.monotonic() < deadline, "the UI did not start"
            time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        deadline = time.monotonic() + 10
        while listening(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not listening(port), "the Streamlit server outlived kb ui"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_ask_uses_the_configured_default_top_k(
    sample_kb: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    ix = str(tmp_path / "ix")
    assert main(["index", str(sample_kb), "--index-dir", ix, "--quiet"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("KB_DEFAULT_TOP_K", "2")
    get_settings.cache_clear()
    assert main(["ask", "refund coins", "--index-dir", ix, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["results"]) == 2


def test_access_refuses_a_document_the_index_does_not_hold(
    sample_kb: Path, tmp_path: Path, capsys
) -> None:
    """A typo in the id exited 0 and left an override that never applies."""
    ix = str(tmp_path / "ix")
    assert main(["index", str(sample_kb), "--index-dir", ix, "--quiet"]) == 0
    capsys.readouterr()
    code = main(["access", "set", "policies/coin-refund.md", "--groups", "a", "--index-dir", ix])
    assert code == 1
    err = capsys.readouterr().err
    assert "no document 'policies/coin-refund.md'" in err and "coin-refunds.md" in err
    # --index-dir after the action is the same index as before it
    assert main(["access", "--index-dir", ix, "list"]) == 0
    assert json.loads(capsys.readouterr().out) == {}
    doc = "policies/coin-refunds.md"
    assert main(["access", "set", doc, "--groups", "tns", "--index-dir", ix]) == 0
    assert main(["access", "list", "--index-dir", ix]) == 0
    capsys.readouterr()
    assert main(["access", "--index-dir", ix, "list"]) == 0
    assert json.loads(capsys.readouterr().out) == {doc: ["tns"]}
    assert main(["access", "set", "later.md", "--groups", "a", "--force", "--index-dir", ix]) == 0


def test_index_dir_wins_over_a_database_url_in_the_environment(
    sample_kb: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    """--index-dir was silently ignored when KB_DATABASE_URL was set."""
    monkeypatch.setenv("KB_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/nowhere")
    get_settings.cache_clear()
    ix = str(tmp_path / "ix")
    assert main(["index", str(sample_kb), "--index-dir", ix, "--quiet"]) == 0
    assert "using the local index" in capsys.readouterr().err
    assert main(["ask", "refund coins", "--index-dir", ix, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["results"]


def test_one_result_is_counted_in_the_singular(sample_kb: Path, tmp_path: Path, capsys) -> None:
    ix = str(tmp_path / "ix")
    assert main(["index", str(sample_kb), "--index-dir", ix, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["ask", "refund coins", "--index-dir", ix, "--top-k", "1"]) == 0
    assert "(1 result in " in capsys.readouterr().out


def test_index_says_when_an_early_generation_was_searchable(
    sample_kb: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    ix = str(tmp_path / "ix")
    monkeypatch.setenv("KB_EARLY_WINDOWS", "1")
    get_settings.cache_clear()
    assert main(["index", str(sample_kb), "--index-dir", ix, "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Searchable after " in out and "windows pooled" in out
    monkeypatch.setenv("KB_EARLY_WINDOWS", "0")
    get_settings.cache_clear()
    assert main(["index", str(sample_kb), "--index-dir", str(tmp_path / "ix2"), "--quiet"]) == 0
    assert "Searchable after" not in capsys.readouterr().out


def _answer_of(result):
    """A search response holding one result, as `kb ask` formats it."""
    from types import SimpleNamespace

    return SimpleNamespace(
        results=[result], acronyms=[], markets=[], spellings=[], versions=[], answerable=True,
        unlisted_markets=[],
        reason="", took_ms=3.0, as_of="2026-12-07", index_version="v1",
    )  # fmt: skip


def test_ask_prints_a_highlighted_table_row_under_its_header() -> None:
    from types import SimpleNamespace

    from kb_cli.main import format_response

    text = "## Prices\n\n| Market | Monthly |\n|---|---|\n| US | 4.99 |\n| MY | 14.90 |"
    row = text.index("| MY")
    result = SimpleNamespace(
        rank=1, title="Vybe+ FAQ", metadata={}, score=0.8, doc_id="faq.md", heading_path=["Prices"],
        page=None, start=100, end=100 + len(text), text=text, citation="Vybe+ FAQ, Prices",
        highlight=SimpleNamespace(start=100 + row, end=100 + len(text), text=text[row:],
                                  table_header="| Market | Monthly |"),
        context_before=[], context_after=[],
    )  # fmt: skip
    response = _answer_of(result)
    lines = format_response(response).splitlines()
    at = lines.index("    >> | MY | 14.90 |")
    assert lines[at - 1] == "    >> | Market | Monthly |"
    result.highlight = SimpleNamespace(start=100 + 3, end=100 + 9, text="Prices", table_header=None)
    assert "    >> | Market | Monthly |" not in format_response(response).splitlines()


def test_a_row_of_a_table_split_between_passages_has_its_header() -> None:
    """A PDF, DOCX or HTML table has no rule row, and a long one is split between passages:
    `kb ask` showed "BR | BRL | BRL 50 | ..." with no header, from either cause; the API gave
    no header at all. The header is read back from the document, only for a table row."""
    from indexer.search import row_header

    doc = (
        "Payouts by market.\n\nMarket | Currency | Threshold\nUS | USD | USD 10\n"
        "GB | GBP | GBP 10\nBR | BRL | BRL 50\n"
    )
    row, end = doc.index("BR |"), len(doc) - 1
    reads = []

    def before(at: int) -> str:
        reads.append(at)
        return doc[at:end]

    assert row_header(row, end, doc[row:end], before) == "Market | Currency | Threshold"
    assert row_header(0, 18, doc[:18], before) is None and len(reads) == 1  # prose: not read
    data_first = doc.replace("Market | Currency | Threshold\n", "")
    row = data_first.index("BR |")
    shown = row_header(row, row + 17, "BR | BRL | BRL 50", lambda at: data_first[at : row + 17])
    assert shown is None  # a first row with figures is data, no header


def test_a_database_url_is_printed_without_its_password() -> None:
    from indexer.pgstore import shown

    assert (
        shown("postgresql://kb_owner:ownerpw@db:5432/kb") == "postgresql://kb_owner:***@db:5432/kb"
    )
    assert shown("postgresql:///kb?host=/tmp/pg") == "postgresql:///kb?host=/tmp/pg"
    assert shown(Path("var/index")) == "var/index"


def test_kb_eval_says_it_measures_local_files_when_a_database_is_set(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    from kb_cli.main import main

    monkeypatch.setenv("KB_DATABASE_URL", "postgresql://kb@localhost/kb")
    get_settings.cache_clear()
    try:
        assert main(["eval", str(tmp_path / "no-such-set"), "-q"]) == 2
    finally:
        get_settings.cache_clear()
    assert "KB_DATABASE_URL is not used" in capsys.readouterr().err


def test_a_database_refusal_is_one_line_from_any_command(monkeypatch, capsys) -> None:
    """`kb ask`, `kb access` and `kb keys` printed a traceback for a role lacking a privilege."""
    import psycopg

    from kb_cli import main as cli

    def refused(args):
        raise psycopg.errors.InsufficientPrivilege("permission denied for table kb_documents")

    parser = cli.build_parser
    monkeypatch.setattr(
        cli, "build_parser",
        lambda: _with_func(parser(), refused),
    )  # fmt: skip
    assert cli.main(["ask", "refund"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kb: the database refused: permission denied for table kb_documents")
    assert "Traceback" not in err


def _with_func(parser, func):
    real = parser.parse_args

    def parse(argv=None):
        args = real(argv)
        args.func = func
        return args

    parser.parse_args = parse
    return parser


def test_index_summary_repeats_warnings_and_names_documents_not_yet_in_force(
    sample_kb: Path, tmp_path: Path, capsys
) -> None:
    """A year typed wrong (2062) hid a new policy with nothing said, and the warnings a build
    did log were lost among its progress bars."""
    coin = sample_kb / "policies" / "coin-refunds.md"
    coin.write_text(coin.read_text().replace("2026-03-01", "2062-03-01"), encoding="utf-8")
    ix = str(tmp_path / "ix")
    assert main(["index", str(sample_kb), "--index-dir", ix, "--quiet"]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("warning(s) during the build") :]
    assert "policies/coin-refunds.md: takes effect on 2062-03-01" in summary
    assert "broken/encrypted.pdf" not in summary  # a skipped file is in the skip list only
