"""The `kb` command as a new support-operations team meets it: bad paths, bad values and
unwritable outputs end in one line naming the input and the right exit status, and a failed
command leaves existing indexes, baselines and overrides as they were."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from indexer.settings import get_settings
from kb_cli.main import main
from tests import test_cli

_fake_model = test_cli._fake_model  # the same autouse fixture: the fake model


@pytest.fixture(autouse=True)
def _review_settings(_fake_model, monkeypatch, tmp_path) -> None:
    """test_cli's fake model, plus key store, eval cache and no database under tmp_path."""
    monkeypatch.setenv("KB_KEYS_PATH", str(tmp_path / "keys.sqlite"))
    monkeypatch.setenv("KB_EVAL_CACHE_DIR", str(tmp_path / "eval-cache"))
    monkeypatch.delenv("KB_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _one_clean_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("kb: ")
    return lines[0]


def _tiny_dataset(root: Path) -> Path:
    """A labelled set in the shared shape: three documents, two questions."""
    root.mkdir(parents=True)
    docs = [
        ("d1", "Coin refunds", "Coins bought in the last 14 days can be refunded if unused."),
        ("d2", "Password reset", "Reset a password from the login page with the e-mail code."),
        ("d3", "Live streaming", "Users need 1,000 followers to go live on the platform."),
    ]
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({"doc_id": d, "title": t, "text": x}) + "\n" for d, t, x in docs),
        encoding="utf-8",
    )
    questions = [("q1", "refund unused coins"), ("q2", "how do I reset my password")]
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"query_id": q, "text": t}) + "\n" for q, t in questions),
        encoding="utf-8",
    )
    (root / "qrels.tsv").write_text(
        "query_id\tdoc_id\trelevance\nq1\td1\t1\nq2\td2\t1\n", encoding="utf-8"
    )
    return root


def _usage_exit(argv: list[str], capsys) -> str:
    """argparse's own refusals raise SystemExit(2) with the usage on stderr."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err


def test_index_dir_that_is_a_file_is_one_line(sample_kb: Path, tmp_path: Path, capsys) -> None:
    """--index-dir naming a file (or a place that cannot be created) ended in a traceback."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep me", encoding="utf-8")
    assert main(["index", str(sample_kb), "--index-dir", str(a_file), "-q"]) == 2
    line = _one_clean_line(capsys.readouterr().err)
    assert str(a_file) in line
    below = a_file / "ix"  # cannot be created: a file stands where its folder would be
    assert main(["index", str(sample_kb), "--index-dir", str(below), "-q"]) == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert str(a_file) in line
    assert a_file.read_text(encoding="utf-8") == "keep me"


def test_keys_store_that_cannot_be_opened_is_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    """KB_KEYS_PATH naming a folder ended in sqlite3's traceback, without the path."""
    monkeypatch.setenv("KB_KEYS_PATH", str(tmp_path))
    get_settings.cache_clear()
    assert main(["keys", "create", "--role", "admin"]) == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert str(tmp_path) in line


def test_keys_list_and_a_mistyped_revoke(tmp_path: Path, capsys, monkeypatch) -> None:
    """Revoking with a mistyped id, or before any key exists, made an empty key store (and
    said only "no key"); an admin had no way to see the ids to revoke."""
    store = tmp_path / "keys.sqlite"
    monkeypatch.setenv("KB_KEYS_PATH", str(store))
    get_settings.cache_clear()
    assert main(["keys", "revoke", "deadbeef"]) == 1
    assert str(store) in _one_clean_line(capsys.readouterr().err)
    assert main(["keys", "list"]) == 1
    capsys.readouterr()
    assert not store.exists()  # nothing created by a command that only reads or revokes
    assert main(["keys", "create", "--role", "agent", "--groups", "payments"]) == 0
    assert main(["keys", "create", "--role", "admin"]) == 0
    key = capsys.readouterr().out.split()[1]
    assert main(["keys", "list"]) == 0
    # listed by creation time: two keys made in one second may come either way
    rows = {r[1]: r for r in (line.split("\t") for line in capsys.readouterr().out.splitlines())}
    assert {role: (r[2], r[4]) for role, r in rows.items()} == {
        "agent": ("payments", "active"),
        "admin": ("all", "active"),
    }
    assert key not in str(rows)  # ids, never keys
    agent_id = rows["agent"][0]
    typo = agent_id[:-1] + ("0" if agent_id[-1] != "0" else "1")
    assert main(["keys", "revoke", typo]) == 1
    assert f"did you mean {agent_id!r}" in _one_clean_line(capsys.readouterr().err)
    assert main(["keys", "revoke", agent_id]) == 0
    assert main(["keys", "list"]) == 0
    states = {
        r[1]: r[4] for r in (line.split("\t") for line in capsys.readouterr().out.splitlines())
    }
    assert states == {"agent": "revoked", "admin": "active"}


@pytest.mark.parametrize("flag", ["--json", "--report", "--chart"])
@pytest.mark.parametrize("where", ["missing-folder", "a-folder"])
def test_eval_outputs_that_cannot_be_written_are_refused_before_the_run(
    flag: str, where: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    """An unwritable --json/--report/--chart was found only after indexing and searching:
    a traceback, exit 1 (read by a CI gate as a regression), and the run's figures lost."""
    import eval.runner

    def must_not_run(*args, **kwargs):
        raise AssertionError("the dataset was evaluated before its outputs were checked")

    monkeypatch.setattr(eval.runner, "run_modes", must_not_run)
    dataset = _tiny_dataset(tmp_path / "ds")
    out = tmp_path / "nowhere" / "out.txt" if where == "missing-folder" else tmp_path
    assert main(["eval", str(dataset), "-q", flag, str(out)]) == 2
    line = _one_clean_line(capsys.readouterr().err)
    assert flag in line and str(out) in line


def test_eval_json_may_not_overwrite_its_baseline(tmp_path: Path, capsys, monkeypatch) -> None:
    """--json and --baseline on one file: a run that regressed replaced the baseline it failed
    against, so the next run passed the gate against the regressed figures."""
    import copy

    import eval.runner

    dataset = _tiny_dataset(tmp_path / "ds")
    baseline = tmp_path / "baseline.json"
    assert main(["eval", str(dataset), "-q", "--json", str(baseline)]) == 0
    recorded = baseline.read_text(encoding="utf-8")
    real_run_modes = eval.runner.run_modes

    def regressed(*args, **kwargs):
        results = copy.deepcopy(real_run_modes(*args, **kwargs))
        for block in results["results"].values():
            block["metrics"]["recall@1"] = -1.0
        return results

    monkeypatch.setattr(eval.runner, "run_modes", regressed)
    capsys.readouterr()
    argv = ["eval", str(dataset), "-q", "--baseline", str(baseline)]
    assert main([*argv, "--json", str(tmp_path / "." / "baseline.json")]) == 2
    line = _one_clean_line(capsys.readouterr().err)
    assert "--json" in line and "--baseline" in line
    assert baseline.read_text(encoding="utf-8") == recorded
    assert main(argv) == 1  # the gate still holds against the recorded figures


@pytest.mark.parametrize("day", ["2026-02-30", "2026-13-01", "0000-01-01"])
def test_as_of_that_is_no_calendar_date_is_a_usage_error(day: str, tmp_path: Path, capsys) -> None:
    """2026-02-30 passed the CLI's check and came back from the search as exit 1 saying the
    date must be 'written YYYY-MM-DD', which it was; 2026/02/30 was exit 2."""
    code = main(["ask", "refund", "--as-of", day, "--index-dir", str(tmp_path / "no-index")])
    assert code == 2  # refused before looking for an index or loading the model
    line = _one_clean_line(capsys.readouterr().err)
    assert "--as-of" in line and day in line and "no index" not in line


@pytest.mark.parametrize("command", ["serve", "ui"])
@pytest.mark.parametrize("port", ["0", "70000", "-5"])
def test_port_out_of_range_is_a_usage_error(command: str, port: str, capsys, monkeypatch) -> None:
    """--port 70000 was bind()'s traceback, --port 0 silently became 8000 (or 8501)."""
    import os

    import uvicorn

    def started(*args, **kwargs):
        raise AssertionError(f"a server was started with --port {port}")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(os, "execve", started)
    err = _usage_exit([command, "--port", port], capsys)
    assert "--port" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "flags", [["--interval", "0"], ["--interval", "-1"], ["--interval", "nan"],
              ["--debounce", "-1"], ["--debounce", "inf"]],
)  # fmt: skip
def test_watch_timings_must_be_usable(flags: list[str], tmp_path: Path, capsys) -> None:
    """--interval 0 or below made the poller spin a core walking the tree without a pause."""
    err = _usage_exit(["index", str(tmp_path), "--watch", "--poll", *flags], capsys)
    assert flags[0] in err


@pytest.mark.parametrize("groups", ["", " , ", ","])
def test_keys_create_with_no_group_named_is_refused(groups: str, tmp_path: Path, capsys) -> None:
    """--groups ' , ' made a key with no groups (it sees nothing) and said 'groups: all'; an
    empty --groups silently meant the default all-agents."""
    assert main(["keys", "create", "--role", "agent", "--groups", groups]) == 2
    captured = capsys.readouterr()
    assert "--groups" in _one_clean_line(captured.err)
    assert not captured.out  # no key printed
    assert not (tmp_path / "keys.sqlite").exists()  # nor stored


def test_access_set_without_an_index_needs_force(tmp_path: Path, capsys) -> None:
    """With no index at --index-dir (a typo, or the default var/index) the document check was
    skipped: exit 0, and an override written where no search reads it."""
    where = tmp_path / "typo-ix"
    code = main(["access", "set", "policies/a.md", "--groups", "tns", "--index-dir", str(where)])
    assert code == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert str(where) in line and "--force" in line
    assert not where.exists()
    argv = ["access", "set", "policies/a.md", "--groups", "tns", "--force"]
    assert main([*argv, "--index-dir", str(where)]) == 0
    capsys.readouterr()
    assert main(["access", "list", "--index-dir", str(where)]) == 0
    assert json.loads(capsys.readouterr().out) == {"policies/a.md": ["tns"]}


def test_access_clear_of_a_document_without_override_says_so(
    sample_kb: Path, tmp_path: Path, capsys
) -> None:
    """A typo in `kb access clear` said 'groups from its metadata' and exited 0 while the real
    override stayed in force."""
    ix = str(tmp_path / "ix")
    assert main(["index", str(sample_kb), "--index-dir", ix, "-q"]) == 0
    doc = "policies/coin-refunds.md"
    assert main(["access", "set", doc, "--groups", "tns", "--index-dir", ix]) == 0
    capsys.readouterr()
    assert main(["access", "clear", "policies/coin-refund.md", "--index-dir", ix]) == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert "policies/coin-refund.md" in line and doc in line  # suggests the close one
    assert main(["access", "list", "--index-dir", ix]) == 0
    assert json.loads(capsys.readouterr().out) == {doc: ["tns"]}
    assert main(["access", "clear", doc, "--index-dir", ix]) == 0
    assert "groups from its metadata" in capsys.readouterr().out


def test_each_skipped_file_is_one_line_of_the_summary(tmp_path: Path, capsys) -> None:
    """A YAML error's reason spans several lines (with a caret diagram), which broke the
    '  - path: reason' list into lines that name no file."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "good.md").write_text("# Refunds\n\nCoins are refunded within 14 days.\n")
    (kb / "bad.md").write_text("---\ntitle: [x\n---\nhello\n")
    assert main(["index", str(kb), "--index-dir", str(tmp_path / "ix"), "-q"]) == 0
    out = capsys.readouterr().out
    summary = out[out.index("Skipped 1 file(s):") :].splitlines()
    assert len(summary) == 2, out
    assert summary[1].startswith("  - bad.md: invalid YAML")


def test_eval_all_out_that_cannot_be_written_is_refused_before_the_run(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """`kb eval-all --out` naming a folder failed only after every shared set was evaluated."""
    import eval.runner

    monkeypatch.setattr(eval.runner, "run_dataset", lambda *a, **k: pytest.fail("ran"))
    assert main(["eval-all", "--kb", str(tmp_path), "--out", str(tmp_path), "-q"]) == 2
    line = _one_clean_line(capsys.readouterr().err)
    assert "--out" in line and str(tmp_path) in line


@pytest.mark.parametrize(
    ("command", "host"),
    [("serve", "127.evil.example"), ("serve", "0.0.0.0"), ("ui", "0.0.0.0"), ("ui", "10.1.2.3")],
)
def test_no_server_without_sign_in_listens_beyond_this_machine(
    command: str, host: str, capsys, monkeypatch
) -> None:
    """`kb serve` took any name starting '127.' for loopback ('127.evil.example' resolves
    anywhere), and `kb ui` had no check at all: the UI has no sign-in, so on another address
    anyone reaching it searches, and reads the search log, with the UI's API key."""
    import os

    import uvicorn

    def started(*args, **kwargs):
        raise AssertionError(f"a server was started on {host}")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(os, "execve", started)
    assert main([command, "--host", host]) == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert host in line


@pytest.mark.parametrize(
    ("command", "host", "extra"),
    [("serve", "127.0.0.2", []), ("serve", "::1", []), ("ui", "localhost", []),
     ("ui", "0.0.0.0", ["--public"])],
)  # fmt: skip
def test_loopback_and_an_explicitly_public_ui_still_start(
    command: str, host: str, extra: list[str], monkeypatch
) -> None:
    import os

    import uvicorn

    seen: list[str] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: seen.append(k["host"]))
    monkeypatch.setattr(
        os, "execve", lambda exe, cmd, env: seen.append(cmd[cmd.index("--server.address") + 1])
    )
    assert main([command, "--host", host, *extra]) == 0
    assert seen == [host]


def test_access_list_on_a_folder_with_no_index_says_so(tmp_path: Path, capsys) -> None:
    """A mistyped --index-dir printed '{}' and exit 0, as if no document had an override."""
    assert main(["access", "list", "--index-dir", str(tmp_path / "typo")]) == 1
    line = _one_clean_line(capsys.readouterr().err)
    assert "no index" in line and "typo" in line


def test_kb_ui_takes_no_index_dir(capsys) -> None:
    """The UI reads no index: --index-dir was accepted and silently ignored."""
    with pytest.raises(SystemExit) as exit_:
        main(["ui", "--index-dir", "/tmp/somewhere"])
    assert exit_.value.code == 2 and "--index-dir" in capsys.readouterr().err


def test_a_failed_build_closes_its_progress_bar(tmp_path: Path, monkeypatch) -> None:
    """Under --watch a failing re-index is logged and watching goes on: a bar it left open
    would keep redrawing over the log and every later build's bars."""
    import indexer.build
    from kb_cli import main as cli

    closed: list[str] = []

    def failing_build(*_args, progress, **_kwargs):
        progress.on_start("embed", 10)
        raise cli.KBError("the embedding model stopped")

    real_bars = cli._progress_bars

    def recording_bars(quiet: bool):
        progress, close = real_bars(quiet)

        def close_and_record() -> None:
            closed.append("closed")
            close()

        return progress, close_and_record

    monkeypatch.setattr(indexer.build, "build_index", failing_build)
    monkeypatch.setattr(cli, "_progress_bars", recording_bars)
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "a.md").write_text("# A\n\nText.\n", encoding="utf-8")
    assert main(["index", str(kb), "--index-dir", str(tmp_path / "ix"), "-q"]) == 1
    assert closed == ["closed"]


def test_ctrl_c_says_it_stopped(monkeypatch, capsys) -> None:
    """An interrupted command ended silently with 130: a second look was needed to tell a
    stop from a finished run."""
    from api.security import KeyStore

    def interrupted(*_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(KeyStore, "from_settings", interrupted)
    assert main(["keys", "create", "--role", "admin"]) == 130
    assert capsys.readouterr().err.strip() == "kb: interrupted"


def test_an_eval_run_that_fails_exits_3_not_as_a_regression(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """A run that could not finish exited 1, the status a CI gate reads as a regression."""
    import eval.runner

    def broken(*_args, **_kwargs):
        raise eval.runner.KBError("cannot load embedding model 'nope': no such folder")

    monkeypatch.setattr(eval.runner, "run_modes", broken)
    data = _tiny_dataset(tmp_path / "set")
    assert main(["eval", str(data), "--mode", "bm25", "-q"]) == 3
    line = _one_clean_line(capsys.readouterr().err)
    assert "could not run" in line and "nope" in line


def test_sigterm_stops_a_watch_as_ctrl_c_does(
    sample_kb: Path, tmp_path: Path, fake_embedder, monkeypatch, capsys
) -> None:
    """A service manager's stop ended `kb index --watch` silently (exit -15)."""
    import os
    import signal

    import indexer.embedding
    import indexer.watch

    def terminated(*_args, **_kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(1)  # the handler raises before this returns
        raise AssertionError("SIGTERM did not stop the watch")

    monkeypatch.setattr(indexer.embedding.Embedder, "from_settings", lambda s: fake_embedder)
    monkeypatch.setattr(indexer.watch, "watch", terminated)

    def not_handled(_signum, _frame):
        raise AssertionError("kb index --watch left SIGTERM to its default (kill)")

    previous = signal.signal(signal.SIGTERM, not_handled)  # not this test runner's death
    try:
        ix = tmp_path / "ix"
        args = ["index", str(sample_kb), "--index-dir", str(ix), "--watch", "-q"]
        assert main(args) == 0
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert "Stopped watching." in capsys.readouterr().out
    import fcntl

    with (ix / ".lock").open("a+") as lock:  # released: another writer may take it at once
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
