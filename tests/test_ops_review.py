"""kb-assistant as the operator who deploys and runs it meets it: a watcher that must outlive
a failing first build, folders the indexer cannot read, the start script when the API does
not start, and the API behind a reverse proxy's path prefix."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.settings import get_settings
from kb_cli.main import main
from tests import test_cli

_fake_model = test_cli._fake_model  # the same autouse fixture: the fake model


@pytest.fixture(autouse=True)
def _ops_settings(_fake_model, monkeypatch, tmp_path) -> None:
    """test_cli's fake model, plus key store under tmp_path and no database."""
    monkeypatch.setenv("KB_KEYS_PATH", str(tmp_path / "keys.sqlite"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_watch_whose_first_build_fails_on_the_file_system_keeps_watching(
    sample_kb: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """An index folder that cannot be written (read-only, a full disk, here a path under a
    file) failed the first build with an OSError, which ended `kb index --watch` (exit 1)
    although the README promises a first build that fails is retried like any rebuild."""
    import indexer.watch

    seen: dict[str, object] = {}

    def watched(source, rebuild, **kwargs):
        seen.update(kwargs, source=source)

    monkeypatch.setattr(indexer.watch, "watch", watched)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the index's parent folder should be")
    ix = blocker / "ix"
    assert main(["index", str(sample_kb), "--index-dir", str(ix), "--watch", "-q"]) == 0
    err = capsys.readouterr().err
    assert "the first build failed" in err and str(blocker) in err
    assert seen["source"] == sample_kb and seen["pending"] == []  # retried before any change


def test_a_first_build_failing_on_the_file_system_still_fails_without_watch(
    sample_kb: Path, tmp_path: Path, capsys
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    assert main(["index", str(sample_kb), "--index-dir", str(blocker / "ix"), "-q"]) == 1
    assert str(blocker) in capsys.readouterr().err


def _unlistable(monkeypatch, folder: Path) -> None:
    """``folder`` refuses to be listed, as a folder of mode 000 does to anyone but root (the
    tests run as root, whom permissions do not stop)."""
    import os

    import indexer.files

    real = os.scandir

    def scandir(path):
        if Path(path) == folder:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(indexer.files.os, "scandir", scandir)


@pytest.mark.parametrize("watching", [False, True], ids=["one-shot", "watch"])
def test_a_folder_that_cannot_be_read_keeps_its_documents_and_is_reported(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch, capsys, watching: bool
) -> None:
    """A folder the indexer may not list (a sync that left it mode 000) was passed over in
    silence: its documents dropped out of every answer as if deleted, `kb index` said
    "Skipped 0 files"."""
    from indexer.build import build_index
    from indexer.memo import RebuildMemo
    from indexer.search import Searcher
    from kb_cli.main import _print_build_report

    options = {"max_tokens": 60, "min_tokens": 8}
    ix = tmp_path / "ix"
    memo = RebuildMemo() if watching else None
    build_index(sample_kb, ix, fake_embedder, memo=memo, **options)
    sops = {
        d["doc_id"]
        for d in Searcher(ix, fake_embedder).list_documents()
        if d["doc_id"].startswith("sops/")
    }
    assert sops
    _unlistable(monkeypatch, sample_kb / "sops")

    report = build_index(sample_kb, ix, fake_embedder, memo=memo, **options)
    assert sorted(x.path for x in report.kept) == sorted(sops)
    assert "sops/" in {x.path for x in report.skipped}
    docs = {d["doc_id"] for d in Searcher(ix, fake_embedder).list_documents()}
    assert sops <= docs
    _print_build_report(report)
    out = capsys.readouterr().out
    assert "sops/: cannot read folder: Permission denied" in out
    assert f"Kept {len(sops)} document(s) as last indexed" in out

    monkeypatch.undo()  # readable again; then deleted: gone, as any deleted folder
    for path in sorted((sample_kb / "sops").iterdir()):
        path.unlink()
    (sample_kb / "sops").rmdir()
    gone = build_index(sample_kb, ix, fake_embedder, memo=memo, **options)
    assert gone.kept == [] and not any(x.path.endswith("/") for x in gone.skipped)
    assert not sops & {d["doc_id"] for d in Searcher(ix, fake_embedder).list_documents()}


def test_an_unreadable_knowledge_base_folder_says_why(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """`kb index` on a folder it may not list said only "no readable documents under ..."."""
    from indexer.build import build_index
    from indexer.errors import KBError

    _unlistable(monkeypatch, sample_kb)
    with pytest.raises(KBError, match="cannot read folder: Permission denied"):
        build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)


def _fake_checkout(tmp_path: Path, serve: str, ui: str = "true") -> Path:
    """scripts/run in a checkout whose install does nothing and whose `kb` logs each command
    to calls.log, and runs ``serve`` (shell) for `kb serve` and ``ui`` for `kb ui`."""
    import shutil
    import sys

    repo = tmp_path / "checkout"
    (repo / "scripts").mkdir(parents=True)
    (repo / ".venv" / "bin").mkdir(parents=True)
    shutil.copy(Path(__file__).parents[1] / "scripts" / "run", repo / "scripts" / "run")
    (repo / "scripts" / "install").write_text("#!/usr/bin/env bash\nexit 0\n")
    (repo / ".venv" / "bin" / "python").symlink_to(sys.executable)
    kb = repo / ".venv" / "bin" / "kb"
    kb.write_text(
        '#!/usr/bin/env bash\necho "$1" >> "$(dirname "$0")/../../calls.log"\n'
        f'if [ "$1" = serve ]; then {serve}; fi\nif [ "$1" = ui ]; then {ui}; fi\nexit 0\n'
    )
    for script in (repo / "scripts" / "run", repo / "scripts" / "install", kb):
        script.chmod(0o755)
    return repo


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_run_stops_when_the_api_does_not_start(tmp_path: Path) -> None:
    """`kb serve` failing at once (its port taken, a bad setting) left ./scripts/run waiting a
    minute and then starting the UI anyway, against whatever answered on that port."""
    import os
    import subprocess
    import time

    repo = _fake_checkout(tmp_path, 'echo "ERROR: [Errno 98] Address already in use" >&2; exit 1')
    env = {**os.environ, "KB_API_PORT": str(_free_port())}
    started = time.monotonic()
    done = subprocess.run(
        [str(repo / "scripts" / "run")], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "the API did not start" in done.stderr
    assert time.monotonic() - started < 20
    assert (repo / "calls.log").read_text().split() == ["index", "serve"]  # no `kb ui`


def test_run_refuses_a_port_another_program_holds(tmp_path: Path) -> None:
    """Another server on KB_API_PORT answered the start-up health check in the API's place,
    so the UI searched it (another team's index) while our API had died on the taken port."""
    import os
    import socket
    import subprocess

    repo = _fake_checkout(tmp_path, "sleep 30")
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        env = {**os.environ, "KB_API_PORT": str(port)}
        done = subprocess.run(
            [str(repo / "scripts" / "run")], env=env, capture_output=True, text=True, timeout=60
        )
    assert done.returncode == 1
    assert f"port {port} is already in use" in done.stderr and "KB_API_PORT" in done.stderr
    assert not (repo / "calls.log").exists()  # nothing indexed, served or shown


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_kb_index_rewrites_a_damaged_current_generation_instead_of_calling_it_up_to_date(
    sample_kb: Path, fake_embedder, tmp_path: Path, damage: str
) -> None:
    """A current generation that fails its checksums is refused by the API, which serves the
    previous one (degraded); `kb index` with no file changed then said "up to date" (exit 0)
    and left it so for good: agents searched the older index until a document changed."""
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings
    from indexer.store import current_generation

    options = {"max_tokens": 60, "min_tokens": 8}
    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, **options)
    (sample_kb / "policies" / "live-gifts.html").unlink()
    build_index(sample_kb, ix, fake_embedder, **options)
    damaged = current_generation(ix)
    target = damaged / "vectors.faiss"
    if damage == "flip":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    else:
        target.unlink()
    assert Searcher.open_best(ix, fake_embedder, Settings()).degraded  # the API's view

    report = build_index(sample_kb, ix, fake_embedder, **options)
    assert not report.unchanged
    assert current_generation(ix) != damaged
    healed = Searcher.open_best(ix, fake_embedder, Settings())
    assert healed.degraded == "" and healed.health()["status"] == "ok"
    assert "policies/live-gifts.html" not in {d["doc_id"] for d in healed.list_documents()}
    assert build_index(sample_kb, ix, fake_embedder, **options).unchanged  # and then it is


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_refuses_an_app_it_cannot_build_in_one_line_with_any_worker_count(
    tmp_path: Path, monkeypatch, capsys, workers: str
) -> None:
    """With several workers (the default: one per core) each worker built the app itself, so
    a key store that cannot be opened (or a database behind on migrations) was a traceback in
    every worker, restarted by uvicorn for ever, while `kb serve` held the port answering
    nothing; one worker said it in one line."""
    import uvicorn

    def started(*_args, **_kwargs):
        raise AssertionError("the server was started")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setenv("KB_API_WORKERS", workers)
    monkeypatch.setenv("KB_AUTH_REQUIRED", "true")
    monkeypatch.setenv("KB_KEYS_PATH", str(tmp_path))  # a folder, not a key store
    get_settings.cache_clear()
    assert main(["serve", "--index-dir", str(tmp_path / "ix")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(tmp_path) in err and "Traceback" not in err


def test_serve_with_workers_starts_them_when_the_app_builds(tmp_path: Path, monkeypatch) -> None:
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(k))
    monkeypatch.setenv("KB_API_WORKERS", "2")
    get_settings.cache_clear()
    assert main(["serve", "--index-dir", str(tmp_path / "ix")]) == 0
    assert calls and calls[0]["workers"] == 2


def test_behind_a_proxy_prefix_the_docs_and_source_links_stay_under_it(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """Served under a prefix (`kb serve --root-path /kb` behind a proxy that strips it), the
    /docs page fetched /openapi.json from the proxy's root (another app's, or a 404), its
    "Try it out" called /search there, and a source page's "original PDF" link pointed at
    /source-file/... outside the prefix."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings

    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(index_dir=ix, reload_interval_s=0)
    app = create_app(settings, searcher=Searcher(ix, fake_embedder, settings))
    with TestClient(app, root_path="/kb") as client:
        for page in ("/kb/docs", "/kb/redoc"):
            html = client.get(page).text
            assert "/kb/openapi.json" in html and "'/openapi.json'" not in html, page
        assert client.get("/kb/openapi.json").json()["servers"] == [{"url": "/kb"}]
        source = client.get("/kb/source/sops/dangerous-challenges.pdf")
        assert source.status_code == 200
        assert 'href="/kb/source-file/sops/dangerous-challenges.pdf' in source.text
    with TestClient(app) as client:  # no prefix: as before
        assert "servers" not in client.get("/openapi.json").json()
        assert "'/openapi.json'" in client.get("/docs").text


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_takes_the_proxy_prefix(tmp_path: Path, monkeypatch, workers: str) -> None:
    """`kb serve` had no way to name the prefix: only running uvicorn by hand did."""
    import uvicorn

    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(k))
    monkeypatch.setenv("KB_API_WORKERS", workers)
    get_settings.cache_clear()
    assert main(["serve", "--root-path", "/kb", "--index-dir", str(tmp_path / "ix")]) == 0
    assert calls[0]["root_path"] == "/kb"


@pytest.mark.parametrize("prefix", ["kb", "/kb/", "/", "https://x.example/kb"])
def test_serve_refuses_a_prefix_that_is_no_path(prefix: str, capsys) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", "--root-path", prefix])
    assert stop.value.code == 2 and "--root-path" in capsys.readouterr().err


def test_a_full_disk_names_the_index_folder_and_keeps_the_last_generation(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch, capsys
) -> None:
    """A write failing mid-file on a full disk raised an OSError naming no file, so `kb index`
    said only "kb: No space left on device" (which disk?)."""
    import errno

    import indexer.store
    from indexer.build import build_index
    from indexer.store import current_generation

    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    served = current_generation(ix)

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(indexer.store, "save_bm25", full)
    (sample_kb / "policies" / "live-gifts.html").unlink()  # something to write
    code = main(["index", str(sample_kb), "--index-dir", str(ix), "-q"])
    assert code == 1
    assert capsys.readouterr().err.strip() == f"kb: No space left on device: {ix}"
    assert current_generation(ix) == served  # still served
    assert sorted(p.name for p in ix.iterdir() if p.name.startswith(".tmp-")) == []


def test_a_stop_signal_while_waiting_for_changes_ends_the_watch_as_an_interrupt(
    tmp_path: Path,
) -> None:
    """A service manager's SIGTERM (or Ctrl-C) while `kb index --watch` waited on the
    kernel's events was swallowed by watchfiles ("WARNING watchfiles.main: KeyboardInterrupt
    caught, stopping watch") and the watch returned as if stopped on purpose, so the
    service's log never said "Stopped watching."."""
    import os
    import signal
    import threading

    from indexer.watch import watch

    (tmp_path / "a.md").write_text("# A\n\nSome text.\n")

    def interrupt(_signum, _frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            watch(tmp_path, lambda _changes: None, debounce_s=0.05)
    finally:
        timer.cancel()
        signal.signal(signal.SIGTERM, previous)


def test_revoking_a_key_says_so(tmp_path: Path, capsys) -> None:
    """`kb keys revoke` printed nothing, and revoking a key twice was as silent: whoever
    revokes a leaked key at 3 a.m. could not tell it took."""
    assert main(["keys", "create", "--role", "agent", "--groups", "payments,all-agents"]) == 0
    made = capsys.readouterr().err
    assert "groups: payments,all-agents" in made  # not the Python list "['payments', ...]"
    key_id = made.split()[1]
    assert main(["keys", "revoke", key_id]) == 0
    first = capsys.readouterr()
    assert first.out == "" and f"key {key_id} (agent) is revoked" in first.err
    assert main(["keys", "revoke", key_id]) == 0
    assert f"key {key_id} (agent) was already revoked" in capsys.readouterr().err


def test_db_stop_says_when_no_server_was_running(tmp_path: Path) -> None:
    """`kb db stop` with no server running started one (to attach to it) only to stop it, and
    said "Stopped the database" either way; every `kb db` command printed platformdirs'
    two-line RuntimeDirWarning where XDG_RUNTIME_DIR is unset (a service's environment)."""
    import os
    import subprocess
    import sys

    from indexer import pgdev

    data = tmp_path / "pgdata"
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env["KB_PG_DATA_DIR"] = str(data)

    def kb_db(action: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "kb_cli.main", "db", action],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    try:
        assert kb_db("start").returncode == 0 and pgdev.running(data)
        stopped = kb_db("stop")
        assert stopped.stdout == f"Stopped the database in {data}.\n"
        assert not pgdev.running(data)
        again = kb_db("stop")
        assert again.returncode == 0
        assert again.stdout == f"No database server was running in {data}.\n"
        assert "Warning" not in stopped.stderr + again.stderr
        assert not pgdev.running(data)
    finally:
        if pgdev.running(data):
            pgdev.stop(data)


def test_a_query_log_that_cannot_be_opened_is_named_not_a_bare_500(
    sample_kb: Path, fake_embedder, tmp_path: Path, caplog
) -> None:
    """KB_LOG_PATH in a folder the API may not write: feedback and every analytics page were
    a bare "Internal Server Error", and each search logged a traceback saying only "unable to
    open database file", none naming the file or the setting."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings

    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")  # as root, a folder's permissions stop nothing: a file does
    log_path = blocker / "querylog.sqlite"
    settings = Settings(index_dir=ix, reload_interval_s=0, log_path=log_path)
    app = create_app(settings, searcher=Searcher(ix, fake_embedder, settings))
    with TestClient(app) as client, caplog.at_level("ERROR"):
        found = client.post("/search", json={"query": "refund coins"})
        assert found.status_code == 200 and found.json()["search_id"] is None
        said = [r for r in caplog.records if r.name == "api.insights_routes"]
        assert len(said) == 1 and said[0].exc_info is None
        assert str(log_path) in said[0].getMessage()
        rated = client.post("/feedback", json={"search_id": "abcdefgh12", "rating": "helpful"})
        summary = client.get("/analytics/summary")
        for answer in (rated, summary):
            assert answer.status_code == 503
            assert str(log_path) in answer.json()["detail"]
            assert "KB_LOG_PATH" in answer.json()["detail"]


def test_citation_links_use_the_address_agents_browsers_reach(monkeypatch) -> None:
    """The UI served to a team (`kb ui --public`, or behind a proxy) calls the API at an
    address only its server reaches (http://127.0.0.1:8000), and put that address in every
    "Open in source" link: on an agent's machine it opened their own computer."""
    from ui.common import client

    monkeypatch.setenv("KB_API_URL", "http://127.0.0.1:8961")
    monkeypatch.setenv("KB_API_PUBLIC_URL", "https://kb.example.com/api/")
    api = client()
    assert api.base_url == "http://127.0.0.1:8961"  # the UI's own calls
    result = {"doc_id": "sops/a.pdf", "start": 3, "end": 9, "page": 2, "source": "sops/a.pdf",
              "chunk_id": "c" * 20, "link_params": "kid=k1&exp=99&sig=ab"}  # fmt: skip
    assert api.source_url(result).startswith("https://kb.example.com/api/source/sops/a.pdf?")
    assert api.original_url(result) == (
        "https://kb.example.com/api/source-file/sops/a.pdf?kid=k1&exp=99&sig=ab#page=2"
    )
    monkeypatch.delenv("KB_API_PUBLIC_URL")
    assert client().source_url(result).startswith("http://127.0.0.1:8961/source/")  # as before


OPTIONS = {"max_tokens": 60, "min_tokens": 8}


def _two_generations(sample_kb: Path, fake_embedder, tmp_path: Path) -> tuple[Path, Path]:
    """An index of ``sample_kb`` with two generations (one document deleted in the second):
    the index folder and the older generation."""
    from indexer.build import build_index
    from indexer.store import current_generation

    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    older = current_generation(ix)
    (sample_kb / "policies" / "live-gifts.html").unlink()
    build_index(sample_kb, ix, fake_embedder, **OPTIONS)
    return ix, older


def test_healing_a_damaged_index_keeps_an_intact_fallback(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """The build that replaced a damaged current generation kept the damaged one as the
    fallback and deleted the intact one readers were falling back to: the new generation had
    no usable fallback, and damaged in turn, nothing could be served."""
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings
    from indexer.store import current_generation

    ix, intact = _two_generations(sample_kb, fake_embedder, tmp_path)
    (current_generation(ix) / "vectors.faiss").write_bytes(b"damaged")
    build_index(sample_kb, ix, fake_embedder, **OPTIONS)  # heals: a new generation
    healed = current_generation(ix)
    assert intact.is_dir()  # kept: the last intact one before the damaged
    (healed / "vectors.faiss").write_bytes(b"damaged too")
    served = Searcher.open_best(ix, fake_embedder, Settings())
    assert served.generation == intact and served.health()["status"] == "degraded"


def test_a_watchers_rebuild_does_not_hash_the_generation_it_wrote(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """Checking the current generation before calling an index up to date must not cost a
    watcher a hash of the whole index on every edit (at 100k passages, ~0.4 s of an edit's
    ~1 s to searchable): files this process wrote and hashed are known."""
    import indexer.store
    from indexer.build import build_index
    from indexer.memo import RebuildMemo
    from indexer.store import current_generation

    options = {"max_tokens": 60, "min_tokens": 8}
    ix = tmp_path / "ix"
    memo = RebuildMemo()
    build_index(sample_kb, ix, fake_embedder, memo=memo, **options)
    written = current_generation(ix)
    hashed: list[Path] = []
    real = indexer.store.sha256_file
    monkeypatch.setattr(indexer.store, "sha256_file", lambda p: hashed.append(p) or real(p))
    coin = sample_kb / "policies" / "coin-refunds.md"
    coin.write_text(coin.read_text() + "\nOne more line about refunds.\n")
    assert not build_index(sample_kb, ix, fake_embedder, memo=memo, **options).unchanged
    assert [p for p in hashed if p.is_relative_to(written)] == []


HEALTHY_API = (
    'echo $$ > "$(dirname "$0")/../../api.pid"; exec "$(dirname "$0")/python" -c '
    '"import http.server as h, os\n'
    "class H(h.BaseHTTPRequestHandler):\n"
    "    def do_GET(self):\n"
    "        self.send_response(200); self.end_headers(); self.wfile.write(b'{}')\n"
    "h.HTTPServer(('127.0.0.1', int(os.environ['KB_API_PORT'])), H).serve_forever()\""
)


def test_a_sigterm_to_run_stops_the_api_and_the_ui(tmp_path: Path) -> None:
    """`kill PID` of ./scripts/run (docker stop, a supervisor that signals only its child):
    bash ran its trap only once the foreground UI exited, so the API and the UI both kept
    running, holding their ports."""
    import contextlib
    import os
    import signal
    import subprocess
    import time

    repo = _fake_checkout(
        tmp_path, HEALTHY_API, ui='echo $$ > "$(dirname "$0")/../../ui.pid"; exec sleep 60'
    )
    env = {**os.environ, "KB_API_PORT": str(_free_port())}
    run = subprocess.Popen(
        [str(repo / "scripts" / "run")], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not (repo / "ui.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        pids = [int((repo / name).read_text()) for name in ("api.pid", "ui.pid")]
        run.send_signal(signal.SIGTERM)  # the script alone, not its process group
        run.wait(timeout=10)

        def alive(pid: int) -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return False
            return True

        deadline = time.monotonic() + 10
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in pids)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.pid, signal.SIGKILL)  # whatever is left of this test's run


def test_an_index_the_user_may_not_read_is_not_called_missing(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """An index built by another user (or under umask 077) that the API's user may not read
    was reported as "no index at ...: build one with `kb index`", sending the operator to
    rebuild what is there; /health now names the file and the missing read access."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from indexer.build import build_index
    from indexer.settings import Settings
    from indexer.store import CURRENT

    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    real = Path.read_text

    def read_text(self: Path, *args, **kwargs) -> str:
        if self == ix / CURRENT:  # mode 600, another owner: what a non-root user meets
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    with TestClient(create_app(Settings(index_dir=ix, reload_interval_s=0))) as client:
        health = client.get("/health")
    assert health.status_code == 503
    reason = health.json()["reason"]
    assert "Permission denied" in reason and str(ix / CURRENT) in reason
    assert "build one" not in reason


def test_an_unreadable_index_file_is_refused_not_a_crashed_start_up(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """One file of the current generation the API's user may not read (mode 600, another
    owner) raised PermissionError out of the API's start-up: a traceback and "Application
    startup failed. Exiting."; it is refused like a damaged file: the previous generation is
    served (degraded), the reason naming the file."""
    from fastapi.testclient import TestClient

    import indexer.store
    from api.app import create_app
    from indexer.settings import Settings
    from indexer.store import current_generation

    ix, older = _two_generations(sample_kb, fake_embedder, tmp_path)
    refused = current_generation(ix) / "vectors.faiss"
    real = indexer.store.sha256_file

    def sha256_file(path: Path) -> str:
        if Path(path) == refused:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(indexer.store, "sha256_file", sha256_file)
    indexer.store._CHECKED.clear()  # the API is another process than the indexer
    with TestClient(create_app(Settings(index_dir=ix, reload_interval_s=0))) as client:
        health = client.get("/health")
    assert health.status_code == 200 and health.json()["status"] == "degraded"
    assert health.json()["index_version"] in older.name
    assert "vectors.faiss cannot be read (Permission denied)" in health.json()["reason"]


def test_an_embedding_cache_that_cannot_be_opened_is_warned_about_not_a_traceback(
    sample_kb: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """KB_EMBED_CACHE_PATH in a folder the indexer may not write (var/ made by another user)
    ended `kb index` in sqlite's traceback "unable to open database file"; the cache only
    saves work, so the build goes on without it and says why."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("KB_EMBED_CACHE_PATH", str(blocker / "embed-cache.sqlite"))
    get_settings.cache_clear()
    ix = tmp_path / "ix"
    assert main(["index", str(sample_kb), "--index-dir", str(ix), "-q"]) == 0
    out = capsys.readouterr().out
    assert "Indexed 5 documents" in out
    assert f"building without the embedding cache: {blocker}" in out
    assert "KB_EMBED_CACHE_PATH" in out


def test_a_model_that_would_not_load_at_start_makes_health_unavailable(
    sample_kb: Path, tmp_path: Path, monkeypatch
) -> None:
    """The index loaded but the model did not (its cache folder not writable): /health said
    "ok" (200) while every search failed, so a load balancer kept sending agents to it."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from indexer.build import build_index
    from indexer.errors import KBError
    from indexer.settings import Settings
    from tests.conftest import FakeEmbedder

    ix = tmp_path / "ix"
    build_index(sample_kb, ix, FakeEmbedder(), max_tokens=60, min_tokens=8)

    def refuse(_self) -> None:
        raise KBError("cannot prepare the int8 model in /srv/kb/var/models (Permission denied)")

    monkeypatch.setattr(FakeEmbedder, "warm_up", refuse, raising=False)
    with TestClient(create_app(Settings(index_dir=ix, reload_interval_s=0))) as client:
        health = client.get("/health")
    assert health.status_code == 503 and health.json()["status"] == "unavailable"
    assert "Permission denied" in health.json()["reason"]


@pytest.mark.parametrize("groups", ["", " , ", ","])
def test_access_set_with_no_group_named_is_refused(
    sample_kb: Path, tmp_path: Path, capsys, groups: str
) -> None:
    """`kb access set DOC --groups " , "` (or an unset shell variable) set an empty list:
    the policy vanished for every key but an admin's, and the command printed "DOC: []"."""
    ix = str(tmp_path / "ix")
    assert main(["index", str(sample_kb), "--index-dir", ix, "-q"]) == 0
    doc = "policies/coin-refunds.md"
    assert main(["access", "set", doc, "--groups", groups, "--index-dir", ix]) == 2
    assert "names no access group" in capsys.readouterr().err
    assert main(["access", "list", "--index-dir", ix]) == 0
    assert capsys.readouterr().out.strip() == "{}"
    assert main(["access", "set", doc, "--groups", "tns, payments", "--index-dir", ix]) == 0
    assert capsys.readouterr().out == f"{doc}: groups tns,payments\n"


def test_a_truncated_manifest_is_refused_like_a_damaged_file(
    sample_kb: Path, fake_embedder, tmp_path: Path, caplog
) -> None:
    """manifest.json, the one file of a generation without a checksum, truncated: `kb ask`
    and `kb index` ended in a JSONDecodeError traceback (so `kb index` could not heal the
    index), and an API moving to that generation logged the traceback every reload interval."""
    from fastapi.testclient import TestClient

    from api.app import create_app, refresh_searcher
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings
    from indexer.store import MANIFEST, current_generation

    options = {"max_tokens": 60, "min_tokens": 8}
    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, **options)
    settings = Settings(index_dir=ix, reload_interval_s=0)
    searcher = Searcher(ix, fake_embedder, settings)
    served = searcher.generation
    with TestClient(create_app(settings, searcher=searcher)) as client:
        (sample_kb / "policies" / "live-gifts.html").unlink()
        build_index(sample_kb, ix, fake_embedder, **options)
        manifest = current_generation(ix) / MANIFEST
        manifest.write_text(manifest.read_text()[:40])
        with caplog.at_level("ERROR"):
            refresh_searcher(client.app, settings)  # refused: the older one, degraded
            assert refresh_searcher(client.app, settings) is False  # and not tried again
        health = client.get("/health").json()
        assert health["status"] == "degraded" and "manifest.json cannot be read" in health["reason"]
        assert client.app.state.searcher.generation == served
        assert len([r for r in caplog.records if "manifest.json" in r.getMessage()]) == 1

    fallback = Searcher.open_best(ix, fake_embedder, settings)
    assert fallback.generation == served and fallback.degraded
    report = build_index(sample_kb, ix, fake_embedder, **options)  # heals it
    assert not report.unchanged
    healed = Searcher.open_best(ix, fake_embedder, settings)
    assert healed.degraded == ""
    assert "policies/live-gifts.html" not in {d["doc_id"] for d in healed.list_documents()}


def test_an_unexpected_error_loading_a_generation_is_said_once(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch, caplog
) -> None:
    """An error other than the API's own (a RuntimeError of faiss, an OSError) while loading a
    new generation escaped refresh_searcher: the generation was never marked refused, so the
    watcher tried it again every reload interval, logging a traceback ten times a second."""
    from fastapi.testclient import TestClient

    from api.app import create_app, refresh_searcher
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings

    options = {"max_tokens": 60, "min_tokens": 8}
    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, **options)
    settings = Settings(index_dir=ix, reload_interval_s=0)
    searcher = Searcher(ix, fake_embedder, settings)
    with TestClient(create_app(settings, searcher=searcher)) as client:
        (sample_kb / "policies" / "live-gifts.html").unlink()
        build_index(sample_kb, ix, fake_embedder, **options)

        def broken(_self):
            raise RuntimeError("Error in faiss::FileIOReader: read error")

        monkeypatch.setattr(Searcher, "reopen", broken)
        with caplog.at_level("ERROR"):
            for _ in range(5):
                assert refresh_searcher(client.app, settings) is False
        assert len([r for r in caplog.records if r.exc_info]) == 1
        health = client.get("/health").json()
        assert health["status"] == "degraded" and "faiss" in health["reason"]
        assert client.post("/search", json={"query": "refund coins"}).status_code == 200


def test_an_unexpected_error_at_start_leaves_the_api_up_saying_why(
    sample_kb: Path, tmp_path: Path, monkeypatch
) -> None:
    """An error other than kb-assistant's own while loading the index at start ended the API
    ("Application startup failed. Exiting."): a service restarting it in a loop, and no
    /health to ask why."""
    from fastapi.testclient import TestClient

    import indexer.search
    from api.app import create_app
    from indexer.build import build_index
    from indexer.settings import Settings
    from tests.conftest import FakeEmbedder

    ix = tmp_path / "ix"
    build_index(sample_kb, ix, FakeEmbedder(), max_tokens=60, min_tokens=8)

    def broken(_settings, _index_dir=None):
        raise RuntimeError("Error in faiss::FileIOReader: read error")

    monkeypatch.setattr(indexer.search.Searcher, "from_settings", broken)
    with TestClient(create_app(Settings(index_dir=ix, reload_interval_s=0))) as client:
        health = client.get("/health")
        assert health.status_code == 503 and "faiss" in health.json()["reason"]
        assert client.post("/search", json={"query": "refund"}).status_code == 503


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8123"),
        ("0.0.0.0", "http://127.0.0.1:8123"),  # every interface: this machine's loopback
        ("::", "http://127.0.0.1:8123"),
        ("10.0.0.5", "http://10.0.0.5:8123"),  # one address only: 127.0.0.1 finds nothing
        ("fd00::5", "http://[fd00::5]:8123"),
        ("localhost", "http://localhost:8123"),
    ],
)
def test_the_ui_and_scripts_run_call_the_api_where_it_listens(host: str, url: str) -> None:
    from indexer.settings import Settings

    assert Settings(api_host=host, api_port=8123).api_local_url() == url


def test_kb_ui_calls_the_api_at_the_address_it_listens_on(monkeypatch) -> None:
    """`kb ui` (which ./scripts/run starts) handed the UI http://127.0.0.1:PORT whatever
    KB_API_HOST said: with the API on one address only, every search said it was down."""
    import os

    from indexer.settings import get_settings
    from kb_cli.main import main

    handed: dict[str, str] = {}

    def execve(path: str, argv: list[str], env: dict[str, str]) -> None:
        handed.update(env)
        raise SystemExit(0)

    monkeypatch.delenv("KB_API_URL", raising=False)
    monkeypatch.setenv("KB_API_HOST", "10.0.0.5")
    monkeypatch.setenv("KB_API_PORT", "8123")
    monkeypatch.setattr(os, "execve", execve)
    get_settings.cache_clear()
    try:
        try:
            main(["ui"])
        except SystemExit:
            pass
    finally:
        get_settings.cache_clear()
    assert handed["KB_API_URL"] == "http://10.0.0.5:8123"
