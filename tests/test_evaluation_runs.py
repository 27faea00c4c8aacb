"""Evaluation runs as jobs: POST /eval/runs answers at once, GET polls status, progress, result.

The API is built as in test_insights_api (fake encoder, the tiny labelled set). A gate holds
the run at its first question so tests can look at it while it is running.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from eval import runner
from indexer.build import Progress
from indexer.errors import KBError
from insights import evaluation
from insights.evaluation import EvalRuns, RunsBusyError
from tests.test_insights_api import make_app

TINY = {"dataset": "tiny", "split": "dev"}


class Gate:
    """Holds every evaluation at its first question until opened; counts evaluate calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.open = threading.Event()
        self.reached = threading.Event()
        self.calls: list[str] = []
        real = runner.evaluate

        def gated(dataset, searcher, mode="default", on_question=lambda n: None):
            self.calls.append(mode)

            def held(n: int) -> None:
                self.reached.set()
                assert self.open.wait(30), "the test never opened the gate"
                on_question(n)

            return real(dataset, searcher, mode, held)

        monkeypatch.setattr(runner, "evaluate", gated)


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate(monkeypatch)
    yield g
    g.open.set()  # never leave a run thread waiting


@pytest.fixture
def client(sample_kb: Path, fake_embedder, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(sample_kb, fake_embedder, tmp_path)) as c:
        yield c


def _until_finished(client: TestClient, run_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = client.get(f"/eval/runs/{run_id}").json()
        if view["status"] in ("done", "failed", "cancelled"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish: {view}")


def test_a_run_answers_at_once_and_is_polled_to_its_result(client, gate: Gate) -> None:
    started = time.monotonic()
    r = client.post("/eval/runs", json={**TINY, "modes": ["bm25", "dense"]})
    assert r.status_code == 202, r.text
    assert time.monotonic() - started < 5  # the evaluation is held: nothing waited for it
    run = r.json()
    assert r.headers["location"] == f"/eval/runs/{run['run_id']}"
    assert run["status"] in ("queued", "running") and run["result"] is None
    assert gate.reached.wait(30)
    running = client.get(f"/eval/runs/{run['run_id']}").json()
    assert running["status"] == "running" and running["result"] is None
    assert running["progress"]["stage"] == "questions"
    assert running["progress"]["questions_total"] == 6  # 3 questions x 2 modes
    assert running["progress"]["questions_done"] == 0
    gate.open.set()
    done = _until_finished(client, run["run_id"])
    assert done["status"] == "done" and done["error"] is None
    assert done["progress"]["questions_done"] == done["progress"]["questions_total"] == 6
    result = done["result"]
    assert list(result["results"]) == ["bm25", "dense"]
    assert result["results"]["bm25"]["metrics"]["hit@1"] == 1.0
    assert result["chart_png"] and "| bm25 |" in result["table_md"]
    listed = client.get("/eval/runs").json()
    assert [(v["run_id"], v["status"], v["result"]) for v in listed] == [
        (run["run_id"], "done", None)
    ]


def test_identical_requests_join_the_running_run(client, gate: Gate) -> None:
    first = client.post("/eval/runs", json={**TINY, "modes": ["bm25", "dense"]})
    assert gate.reached.wait(30)
    second = client.post("/eval/runs", json={**TINY, "modes": ["dense", "bm25", "bm25"]})
    assert first.status_code == 202 and second.status_code == 200, second.text
    assert second.json()["run_id"] == first.json()["run_id"]
    assert second.json()["joined"] == 1
    other = client.post("/eval/runs", json={**TINY, "modes": ["hybrid"]})
    assert other.status_code == 202 and other.json()["run_id"] != first.json()["run_id"]
    assert other.json()["status"] == "queued" and other.json()["queue_position"] == 1
    gate.open.set()
    assert _until_finished(client, first.json()["run_id"])["status"] == "done"
    assert _until_finished(client, other.json()["run_id"])["status"] == "done"
    assert gate.calls == ["bm25", "dense", "hybrid"]  # the joined request computed nothing


def test_the_blocking_route_joins_a_run_started_as_a_job(client, gate: Gate) -> None:
    run_id = client.post("/eval/runs", json={**TINY, "modes": ["bm25"]}).json()["run_id"]
    assert gate.reached.wait(30)
    answer: dict = {}

    def blocking() -> None:
        answer["r"] = client.post("/eval/run", json={**TINY, "modes": ["bm25"]})

    caller = threading.Thread(target=blocking)
    caller.start()
    deadline = time.monotonic() + 10
    while client.get(f"/eval/runs/{run_id}").json()["joined"] < 1:
        assert time.monotonic() < deadline, "POST /eval/run did not join the run"
        time.sleep(0.02)
    gate.open.set()
    caller.join(30)
    assert answer["r"].status_code == 200
    assert answer["r"].json() == client.get(f"/eval/runs/{run_id}").json()["result"]
    assert gate.calls == ["bm25"]


def test_past_the_cap_a_new_run_is_refused_with_a_clear_429(
    client, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(client.app.state.insights.eval_runs, "max_active", 2)
    running = client.post("/eval/runs", json={**TINY, "modes": ["bm25"]})
    queued = client.post("/eval/runs", json={**TINY, "modes": ["dense"]})
    assert (running.status_code, queued.status_code) == (202, 202)
    refused = client.post("/eval/runs", json={**TINY, "modes": ["hybrid"]})
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert "2 evaluations are already running or waiting" in refused.json()["detail"]
    blocking = client.post("/eval/run", json={**TINY, "modes": ["hybrid"]})
    assert blocking.status_code == 429  # the old route shares the cap instead of piling up
    joined = client.post("/eval/runs", json={**TINY, "modes": ["dense"]})
    assert joined.status_code == 200  # following a run at the cap is still allowed
    gate.open.set()
    _until_finished(client, queued.json()["run_id"])
    assert client.post("/eval/runs", json={**TINY, "modes": ["hybrid"]}).status_code == 202


def _broken_set(datasets_dir: Path) -> None:
    folder = datasets_dir / "broken"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text('{"doc_id": "a", "text": "x"}\nnot json\n')
    (folder / "queries.jsonl").write_text('{"query_id": "q1", "text": "x"}\n')
    (folder / "qrels.tsv").write_text("query_id\tdoc_id\trelevance\nq1\ta\t1\n")


def test_a_failed_run_says_why(client, tmp_path: Path) -> None:
    _broken_set(tmp_path / "datasets")
    r = client.post("/eval/runs", json={"dataset": "broken", "split": None, "modes": ["bm25"]})
    assert r.status_code == 202, r.text
    failed = _until_finished(client, r.json()["run_id"])
    assert failed["status"] == "failed" and failed["result"] is None
    assert "corpus.jsonl:2: not valid JSON" in failed["error"]
    blocking = client.post("/eval/run", json={"dataset": "broken", "modes": ["bm25"]})
    assert blocking.status_code == 422  # the set is bad input, not a fault of the server
    assert "corpus.jsonl:2: not valid JSON" in blocking.json()["detail"][0]["msg"]
    # the API goes on: the next run is computed
    ok = client.post("/eval/runs", json={**TINY, "modes": ["bm25"]}).json()
    assert _until_finished(client, ok["run_id"])["status"] == "done"


def test_a_run_reports_the_sets_warnings_without_server_paths(client, tmp_path: Path) -> None:
    """`kb eval` prints what the labels warn of (a judgement of a document the corpus lacks
    can only count as a miss); a run on the API only logged it on the server, so the page
    showed lowered metrics without a word. Neither a warning nor an error shows the server's
    folder: the set is named as GET /eval/datasets names it."""
    tiny = tmp_path / "datasets" / "tiny"
    with (tiny / "qrels.dev.tsv").open("a") as f:
        f.write("q1\tno-such-doc\t1\n")
    run = client.post("/eval/runs", json={**TINY, "modes": ["bm25"]}).json()
    done = _until_finished(client, run["run_id"])
    assert done["status"] == "done", done["error"]
    [warning] = done["result"]["warnings"]
    assert warning.startswith("tiny/qrels.dev.tsv: 1 judgement(s) name documents that are not")
    assert "q1 -> no-such-doc" in warning and str(tmp_path) not in warning
    _broken_set(tmp_path / "datasets")
    run = client.post("/eval/runs", json={"dataset": "broken", "modes": ["bm25"]}).json()
    failed = _until_finished(client, run["run_id"])
    assert failed["error"].startswith("broken/corpus.jsonl:2: not valid JSON"), failed["error"]


def test_an_unexpected_error_is_reported_without_its_internals(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_args, **_kwargs):
        raise ValueError("secret internal detail /srv/path")

    monkeypatch.setattr(runner, "evaluate", boom)
    run_id = client.post("/eval/runs", json={**TINY, "modes": ["bm25"]}).json()["run_id"]
    failed = _until_finished(client, run_id)
    assert failed["status"] == "failed"
    assert "ValueError" in failed["error"] and "/srv/path" not in failed["error"]


def test_unknown_runs_and_bad_requests(client) -> None:
    gone = client.get("/eval/runs/" + "0" * 32)
    assert gone.status_code == 404
    assert "start the evaluation again" in gone.json()["detail"]
    assert client.get("/eval/runs/not-a-run-id").status_code == 422
    assert client.post("/eval/runs", json={"dataset": "nope"}).status_code == 404
    wrong = client.post("/eval/runs", json={**TINY, "split": "x"})
    assert wrong.status_code == 422
    [error] = wrong.json()["detail"]
    assert error["loc"] == ["body", "split"]
    assert error["msg"] == "tiny has no split 'x'; its splits: 'dev'"
    unsplit = client.post("/eval/runs", json={**TINY, "split": None})
    [error] = unsplit.json()["detail"]
    assert error["msg"] == "tiny has no queries.jsonl (split null); its splits: 'dev'"
    assert client.post("/eval/runs", json={**TINY, "modes": ["fast"]}).status_code == 422
    assert client.get("/eval/runs").json() == []


# -- EvalRuns on its own: expiry, the cap, progress, several API processes ------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _done(runs: EvalRuns, run_id: str) -> dict:
    view = runs.wait(run_id, poll_s=0.01)
    assert view["status"] in ("done", "failed")
    return view


def _answer(**result):
    return lambda dataset, split, modes, progress: {"dataset": dataset, **result}


def test_finished_runs_expire_after_keep_s_and_beyond_keep_finished(tmp_path: Path) -> None:
    clock = Clock()
    runs = EvalRuns(tmp_path / "runs.sqlite", _answer(), keep_s=60, keep_finished=2, clock=clock)
    first, _ = runs.submit("a", None, ["bm25"])
    assert _done(runs, first["run_id"])["result"] == {"dataset": "a"}
    clock.now += 61
    assert runs.get(first["run_id"]) is None  # past keep_s: deleted, result and all
    for name in "bcd":
        _done(runs, runs.submit(name, None, ["bm25"])[0]["run_id"])
        clock.now += 1
    assert [r["dataset"] for r in runs.runs()] == ["d", "c"]  # only the newest two are kept


def test_a_run_that_finished_is_not_joined_but_computed_again(tmp_path: Path) -> None:
    calls: list[str] = []

    def execute(dataset, split, modes, progress):
        calls.append(dataset)
        return {}

    runs = EvalRuns(tmp_path / "runs.sqlite", execute)
    first, _ = runs.submit("a", None, ["bm25"])
    _done(runs, first["run_id"])
    second, joined = runs.submit("a", None, ["bm25"])
    _done(runs, second["run_id"])
    assert not joined and second["run_id"] != first["run_id"] and calls == ["a", "a"]


def test_progress_counts_questions_and_stages(tmp_path: Path) -> None:
    steps = [threading.Event() for _ in range(3)]
    seen = threading.Event()

    def execute(dataset, split, modes, progress: Progress) -> dict:
        progress.on_start("embed", 10)
        progress.on_advance(4)
        steps[0].set()
        seen.wait(10)
        seen.clear()
        progress.on_start("questions", 6)
        progress.on_advance(1)
        time.sleep(evaluation.FLUSH_S)  # progress is written at most every FLUSH_S
        progress.on_advance(2)
        steps[1].set()
        seen.wait(10)
        return {}

    runs = EvalRuns(tmp_path / "runs.sqlite", execute)
    run_id = runs.submit("a", None, ["bm25"])[0]["run_id"]
    assert steps[0].wait(10)
    embedding = runs.get(run_id)["progress"]
    seen.set()
    assert steps[1].wait(10)
    asking = runs.get(run_id)["progress"]
    seen.set()
    _done(runs, run_id)
    assert embedding == {
        "stage": "embed",
        "done": 0,
        "total": 10,
        "questions_done": 0,
        "questions_total": None,
    }  # written at the stage's start; the 4 wait for FLUSH_S
    assert asking == {
        "stage": "questions", "done": 3, "total": 6, "questions_done": 3, "questions_total": 6
    }  # fmt: skip


def test_the_cap_counts_queued_and_running_runs_only(tmp_path: Path) -> None:
    release = threading.Event()

    def execute(dataset, split, modes, progress):
        release.wait(10)
        return {}

    runs = EvalRuns(tmp_path / "runs.sqlite", execute, max_active=1)
    held, _ = runs.submit("a", None, ["bm25"])
    with pytest.raises(RunsBusyError, match="1 evaluation is already running"):
        runs.submit("b", None, ["bm25"])
    release.set()
    _done(runs, held["run_id"])
    assert _done(runs, runs.submit("b", None, ["bm25"])[0]["run_id"])["status"] == "done"


def test_a_failure_keeps_the_domain_message(tmp_path: Path) -> None:
    def execute(dataset, split, modes, progress):
        raise KBError("dataset x has no qrels.tsv")

    runs = EvalRuns(tmp_path / "runs.sqlite", execute)
    failed = _done(runs, runs.submit("a", None, ["bm25"])[0]["run_id"])
    assert (failed["status"], failed["error"]) == ("failed", "dataset x has no qrels.tsv")
    assert failed["error_type"] == "KBError"


def test_api_worker_processes_share_runs(tmp_path: Path) -> None:
    """`kb serve` runs one API process per core, each with its own memory: a run started
    through one must be polled, joined and counted through the others."""
    release = threading.Event()
    computed: list[str] = []

    def execute(dataset, split, modes, progress):
        computed.append(dataset)
        release.wait(10)
        return {"n": 1}

    path = tmp_path / "runs.sqlite"
    one = EvalRuns(path, execute, max_active=2)
    other = EvalRuns(path, execute, max_active=2)  # another worker's view of the same runs
    started, _ = one.submit("a", None, ["bm25", "dense"])
    assert other.get(started["run_id"])["status"] == "running"
    joined, was_joined = other.submit("a", None, ["dense", "bm25"])
    assert was_joined and joined["run_id"] == started["run_id"]
    queued, _ = other.submit("b", None, ["bm25"])
    assert queued["status"] == "queued"  # one computes at a time, whichever worker took it
    with pytest.raises(RunsBusyError):
        one.submit("c", None, ["bm25"])
    release.set()
    assert _done(other, started["run_id"])["result"] == {"n": 1}
    assert _done(one, queued["run_id"])["status"] == "done"
    assert computed == ["a", "b"]


def _pid_reused() -> str:
    """This (live) pid with another start time: what a container restart leaves behind."""
    return f"{os.getpid()}:0"


def _dead() -> str:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs: the worker that had claimed the run
    return str(gone.pid)


@pytest.mark.parametrize("owner", [_dead, _pid_reused])
def test_a_run_whose_process_died_is_failed_and_the_queue_moves_on(tmp_path: Path, owner) -> None:
    path = tmp_path / "runs.sqlite"
    runs = EvalRuns(path, _answer(n=2))
    held = threading.Event()
    blocker = EvalRuns(path, lambda *a: held.wait(10) and {})
    stuck, _ = blocker.submit("a", None, ["bm25"])
    waiting, _ = runs.submit("b", None, ["bm25"])
    assert waiting["status"] == "queued"
    with sqlite3.connect(path) as con:  # as if the process computing "a" had been killed
        con.execute("UPDATE runs SET owner = ? WHERE run_id = ?", (owner(), stuck["run_id"]))
    failed = runs.get(stuck["run_id"])
    assert failed["status"] == "failed" and "stopped" in failed["error"]
    assert _done(runs, waiting["run_id"])["result"] == {"dataset": "b", "n": 2}
    held.set()


def test_a_run_whose_process_died_while_it_was_being_cancelled_reads_cancelled(
    tmp_path: Path,
) -> None:
    """It was on its way out at a caller's request: no failure to report."""
    path = tmp_path / "runs.sqlite"
    held = threading.Event()
    runs = EvalRuns(path, lambda *a: held.wait(10) and {})
    stuck, _ = runs.submit("a", None, ["bm25"])
    assert runs.cancel(stuck["run_id"])["status"] == "running"  # marked, stops at its next step
    with sqlite3.connect(path) as con:  # ... but its process is killed first
        con.execute("UPDATE runs SET owner = ? WHERE run_id = ?", (_dead(), stuck["run_id"]))
    view = runs.get(stuck["run_id"])
    assert view["status"] == "cancelled" and view["error"] == evaluation.CANCELLED
    held.set()


def test_a_split_that_shares_another_splits_judgements_is_offered_and_runs(
    client, tmp_path: Path
) -> None:
    """ConditionalQA's dev_with_scenario re-words dev's questions and has no qrels of its
    own: `kb eval` reads dev's, so the evaluator page must offer it too."""
    tiny = tmp_path / "datasets" / "tiny"
    (tiny / "queries.dev_with_scenario.jsonl").write_text(
        (tiny / "queries.dev.jsonl").read_text().replace('"text": "', '"text": "I am a user: ')
    )
    sets = {d["name"]: d["splits"] for d in client.get("/eval/datasets").json()}
    assert sets["tiny"] == ["dev", "dev_with_scenario"]
    body = {"dataset": "tiny", "split": "dev_with_scenario", "modes": ["bm25"]}
    run = client.post("/eval/runs", json=body).json()
    done = _until_finished(client, run["run_id"])
    assert done["status"] == "done", done["error"]
    assert done["result"]["split"] == "dev_with_scenario"
    assert done["result"]["results"]["bm25"]["metrics"]["queries"] == 3


def test_a_set_with_questions_longer_than_the_query_limit_is_measured(
    client, tmp_path: Path
) -> None:
    """`kb eval` raises KB_MAX_QUERY_CHARS for a run (eval.runner.fit_questions): a question
    with the asker's whole story is worth measuring; the page must not fail on it."""
    tiny = tmp_path / "datasets" / "tiny"
    story = "My cousin bought coins on my phone last week and then " * 25  # ~1,400 characters
    queries = (tiny / "queries.dev.jsonl").read_text()
    (tiny / "queries.dev.jsonl").write_text(queries.replace('"text": "', f'"text": "{story}'))
    r = client.post("/eval/run", json={**TINY, "modes": ["bm25"]})
    assert r.status_code == 200, r.text
    assert r.json()["results"]["bm25"]["metrics"]["queries"] == 3


def test_the_run_cap_and_retention_come_from_settings(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    from api.app import create_app
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings

    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    settings = Settings(
        index_dir=tmp_path / "ix",
        log_path=tmp_path / "q.sqlite",
        eval_cache_dir=tmp_path / "eval-cache",
        eval_max_runs=2,
        eval_keep_s=90,
    )
    app = create_app(settings, searcher=Searcher(tmp_path / "ix", fake_embedder, settings))
    runs = app.state.insights.eval_runs
    assert (runs.max_active, runs.keep_s) == (2, 90)


def test_a_run_can_be_cancelled_queued_or_running(
    client, gate: Gate, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mistaken run on a big set held the one computing slot until it ended."""
    monkeypatch.setattr(evaluation, "FLUSH_S", 0.0)  # every step looks for a cancel
    running = client.post("/eval/runs", json={**TINY, "modes": ["bm25", "dense"]}).json()
    assert gate.reached.wait(30)
    queued = client.post("/eval/runs", json={**TINY, "modes": ["hybrid"]}).json()
    assert queued["status"] == "queued"

    r = client.delete(f"/eval/runs/{queued['run_id']}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"  # not a failure
    assert "cancelled" in r.json()["error"]
    answer: dict = {}

    def blocking() -> None:  # someone following the running run by waiting on it
        answer["r"] = client.post("/eval/run", json={**TINY, "modes": ["bm25", "dense"]})

    follower = threading.Thread(target=blocking)
    follower.start()
    deadline = time.monotonic() + 10
    while client.get(f"/eval/runs/{running['run_id']}").json()["joined"] < 1:
        assert time.monotonic() < deadline, "POST /eval/run did not join the run"
        time.sleep(0.02)
    marked = client.delete(f"/eval/runs/{running['run_id']}").json()
    assert marked["status"] == "running" and "cancelled" in marked["error"]
    gate.open.set()
    view = _until_finished(client, running["run_id"])
    assert view["status"] == "cancelled" and "cancelled" in view["error"]
    listed = {v["run_id"]: v["status"] for v in client.get("/eval/runs").json()}
    assert listed[running["run_id"]] == listed[queued["run_id"]] == "cancelled"
    assert view["result"] is None and view["progress"]["questions_done"] < 6
    follower.join(30)
    assert answer["r"].status_code == 409 and "cancelled" in answer["r"].json()["detail"]
    assert gate.calls == ["bm25"]  # the queued run never computed; the running one stopped
    assert client.delete(f"/eval/runs/{'0' * 32}").status_code == 404
    # the slot is free again: a new run computes
    again = client.post("/eval/runs", json={**TINY, "modes": ["bm25"]}).json()
    assert _until_finished(client, again["run_id"])["status"] == "done"


def test_callers_waiting_on_a_run_leave_the_api_answering(client, gate: Gate) -> None:
    """A security review's reproduction: 42 callers of POST /eval/run held all 40 worker
    threads while they waited, and /search, /documents and even /health took 41 s."""
    answers: list[int] = []

    def wait_for_run() -> None:
        answers.append(client.post("/eval/run", json={**TINY, "modes": ["bm25"]}).status_code)

    waiting = [threading.Thread(target=wait_for_run, daemon=True) for _ in range(45)]
    for t in waiting:
        t.start()
    assert gate.reached.wait(30)
    time.sleep(1.0)  # every caller is in by now, waiting on the held run
    started = time.monotonic()
    assert client.get("/health").status_code == 200
    assert client.get("/documents").status_code == 200
    assert time.monotonic() - started < 5  # not queued behind the waiting callers
    assert not answers  # they are all still waiting
    gate.open.set()
    for t in waiting:
        t.join(60)
    assert answers == [200] * 45
