"""The Evaluation page follows a run on the API: reruns, reloads and links lose nothing.

AppTest drives the page against a real API on loopback (fake encoder, the tiny labelled
set); the Gate from test_evaluation_runs holds the run at its first question meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from streamlit.testing.v1 import AppTest

from insights import evaluation
from tests.test_evaluation_runs import Gate, _broken_set
from tests.test_ui_pages import EVALUATE, _markdown, _unescape, api_url  # noqa: F401 - a fixture

__all__ = ["api_url"]


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate(monkeypatch)
    yield g
    g.open.set()  # never leave a run thread waiting


def _page(**params: str) -> AppTest:
    at = AppTest.from_file(EVALUATE, default_timeout=30)
    at.query_params.update(params)
    return at.run()


def _click_run(at: AppTest) -> AppTest:
    return next(b for b in at.button if b.label == "Run evaluation").click().run()


def _run_param(at: AppTest) -> str | None:
    """The run id in the page's address (AppTest holds a value as a list or as set)."""
    value = at.query_params.get("run")
    return value[0] if isinstance(value, list) else value


def _progress_text(at: AppTest) -> str:
    return _unescape(" ".join(p.proto.text for p in at.progress))


def _until(at: AppTest, shown: Callable[[AppTest], bool], timeout: float = 30.0) -> AppTest:
    """Run the page again (as its progress poll does) until ``shown`` holds."""
    deadline = time.monotonic() + timeout
    while not shown(at):
        assert time.monotonic() < deadline, f"never shown: {_markdown(at)} {_progress_text(at)}"
        time.sleep(0.1)
        at.run()
    return at


def _runs(api_url: str) -> list[dict]:  # noqa: F811 - the fixture's value
    return requests.get(f"{api_url}/eval/runs", timeout=5).json()


def test_a_run_survives_reruns_and_reloads_and_shows_its_result(
    api_url: str,  # noqa: F811
    gate: Gate,
) -> None:
    at = _page()
    at.multiselect[0].set_value(["bm25", "dense"])
    _click_run(at)  # answered at once, though the evaluation is held
    assert not at.exception, at.exception
    run_id = _run_param(at)
    assert gate.reached.wait(30)
    at.run()
    assert "Asking the questions: 0 of 6 answered" in _progress_text(at)
    assert "Evaluating tiny (dev), bm25, dense" in _progress_text(at)

    at.multiselect[0].set_value(["hybrid"]).run()  # touching a control mid-run
    assert not at.exception, at.exception
    assert _run_param(at) == run_id
    assert "0 of 6 answered" in _progress_text(at)

    reloaded = _page(run=run_id)  # a reload, or a colleague opening the link
    assert not reloaded.exception, reloaded.exception
    assert reloaded.multiselect[0].value == ["bm25", "dense"]  # the form as the run was asked
    assert "0 of 6 answered" in _progress_text(reloaded)

    gate.open.set()
    for page in (at, reloaded):
        _until(page, lambda p: len(p.dataframe) > 0)
        assert not page.exception, page.exception
        metrics = page.dataframe[0].value
        assert list(metrics["mode"]) == ["bm25", "dense"]
        assert metrics["queries"].tolist() == [3, 3]
        assert not page.progress
    assert [r["run_id"] for r in _runs(api_url)] == [run_id]  # one run, followed twice
    assert gate.calls == ["bm25", "dense"]

    at.selectbox[-1].set_value(1).run()  # the drill-down reruns the page: the result stays
    assert len(at.dataframe) == 2 and _run_param(at) == run_id
    assert len(_runs(api_url)) == 1


def test_starting_the_same_run_from_a_second_page_follows_it(
    api_url: str,  # noqa: F811
    gate: Gate,
) -> None:
    first = _click_run(_page())
    assert gate.reached.wait(30)
    second = _click_run(_page())
    assert _run_param(second) == _run_param(first)
    assert any("already running" in i.value for i in second.info)
    gate.open.set()
    _until(second, lambda p: len(p.dataframe) > 0)
    assert gate.calls == ["default"]


def test_a_failed_run_is_shown_as_an_error(api_url: str, tmp_path: Path) -> None:  # noqa: F811
    _broken_set(tmp_path / "datasets")
    at = _page()
    at.selectbox[0].set_value("broken").run()
    _click_run(at)
    _until(at, lambda p: len(p.error) > 0)
    assert not at.exception, at.exception
    message = _unescape(at.error[0].value)
    assert message.startswith("The evaluation of broken, default failed:")
    assert "corpus.jsonl:2: not valid JSON" in message
    assert not at.dataframe and not at.progress


@pytest.mark.parametrize("run_id", ["0123456789abcdef0123456789abcdef", "not a run id"])
def test_a_link_to_a_run_the_api_no_longer_holds_says_so(
    api_url: str,  # noqa: F811
    run_id: str,
) -> None:
    at = _page(run=run_id)
    assert not at.exception, at.exception
    assert any("no longer on the API" in w.value for w in at.warning)
    assert "run" not in at.query_params and not at.progress
    assert any(b.label == "Run evaluation" for b in at.button)  # the form is there to start again


@pytest.fixture
def one_run_at_most(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KB_EVAL_MAX_RUNS", "1")  # read by the API the test starts


def test_a_busy_api_says_so_and_the_page_keeps_following_its_run(
    one_run_at_most: None,
    api_url: str,  # noqa: F811
    gate: Gate,
) -> None:
    at = _click_run(_page())
    run_id = _run_param(at)
    assert gate.reached.wait(30)
    at.multiselect[0].set_value(["hybrid"]).run()
    _click_run(at)
    assert not at.exception, at.exception
    assert at.error and "1 evaluation is already running" in at.error[0].value
    assert _run_param(at) == run_id and at.progress  # still following the first
    gate.open.set()
    _until(at, lambda p: len(p.dataframe) > 0)


def test_a_run_done_before_its_start_is_answered_shows_its_result(
    api_url: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    submit = evaluation.EvalRuns.submit

    def finished_first(self, *args, **kwargs):  # a tiny set can finish before the answer
        view, joined = submit(self, *args, **kwargs)
        return self.wait(view["run_id"]), joined

    monkeypatch.setattr(evaluation.EvalRuns, "submit", finished_first)
    at = _click_run(_page())
    assert not at.exception, at.exception
    assert len(at.dataframe) == 2 and not at.progress  # no poll needed: shown at once
    assert any("done" in c.value for c in at.caption)


def test_a_running_evaluation_can_be_cancelled_from_the_page(
    api_url: str,  # noqa: F811
    gate: Gate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(evaluation, "FLUSH_S", 0.0)  # every step looks for a cancel
    at = _page()
    at.multiselect[0].set_value(["bm25", "dense"])
    _click_run(at)
    run_id = _run_param(at)
    assert gate.reached.wait(30)
    at.run()
    next(b for b in at.button if b.label == "Cancel this evaluation").click().run()
    assert not at.exception, at.exception
    captions = _unescape(" ".join(c.value for c in at.caption))
    assert "Stopping: cancelled" in captions or any("cancelled" in w.value for w in at.warning)
    gate.open.set()
    # a cancel the evaluator asked for, told apart from a run that failed
    _until(at, lambda p: any("was cancelled" in w.value for w in p.warning))
    assert not at.error, [e.value for e in at.error]
    assert [r["status"] for r in _runs(api_url) if r["run_id"] == run_id] == ["cancelled"]
