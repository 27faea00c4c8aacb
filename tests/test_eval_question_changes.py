"""Which questions moved between two runs: the per-question lines of the regression gate, the
sign test that tells noise from a one-way change, and baselines small enough to commit."""

from __future__ import annotations

import json
import math

import pytest

from eval.report import (
    as_baseline,
    baseline_text,
    check_baseline,
    mode_comparison,
    question_changes,
    regressions,
    retrieval_doc,
    sign_test,
)
from kb_cli.main import main
from tests.test_eval_gate import fake_eval, write_tiny  # noqa: F401 (fixture)


def _run(values: dict[str, tuple[float, int | None]], dataset: str = "set") -> dict:
    """A run whose questions have these (ndcg@10, first relevant rank)."""
    rows = [
        {"query_id": q, "query": f"question {q}", "ndcg@10": v, "first_relevant_rank": r}
        for q, (v, r) in values.items()
    ]
    mean = sum(v for v, _ in values.values()) / len(values)
    return {
        "dataset": dataset,
        "split": None,
        "results": {"default": {"metrics": {"ndcg@10": mean}, "per_query": rows}},
    }


@pytest.mark.parametrize(("worse", "better"), [(0, 0), (1, 0), (3, 3), (12, 4), (0, 9), (40, 25)])
def test_sign_test_matches_scipy(worse, better) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    n = worse + better
    expected = 1.0 if n == 0 else scipy_stats.binomtest(worse, n, 0.5).pvalue
    assert math.isclose(sign_test(worse, better), expected, rel_tol=1e-9)


def test_changes_count_each_way_and_list_the_largest_drops_first() -> None:
    before = _run({"a": (1.0, 1), "b": (1.0, 1), "c": (0.5, 3), "d": (0.6, 2), "e": (1.0, 1)})
    after = _run({"a": (0.63, 2), "b": (0.2, 9), "c": (1.0, 1), "d": (0.6, 2), "f": (0.0, None)})
    lines = question_changes(after, before)
    assert lines[0] == (
        "default ndcg@10: 2 questions worse, 1 better, 1 unchanged "
        f"(sign test p = {sign_test(2, 1):.2g})"
    )
    assert lines[1].startswith("  b: ndcg@10 1.00 -> 0.20, first_relevant_rank 1 -> 9")
    assert lines[2].startswith("  a: ndcg@10 1.00 -> 0.63, first_relevant_rank 1 -> 2")
    assert lines[1].endswith("question b") and len(lines) == 3  # e and f are in one run only


def test_changes_need_questions_in_both_runs() -> None:
    before = _run({"a": (1.0, 1)})
    assert question_changes(_run({"a": (0.5, 2)}), {**before, "results": {}}) == []
    slim = {"default": {"metrics": before["results"]["default"]["metrics"]}}
    assert question_changes(_run({"a": (0.5, 2)}), {**before, "results": slim}) == []
    assert question_changes(_run({"z": (0.5, 2)}), before) == []


def test_a_saved_baseline_is_small_reads_back_and_gates() -> None:
    run = _run({"a": (1.0, 1), "b": (0.5, 3)})
    run["results"]["default"]["per_query"][0]["top_passages"] = ["long text " * 60]
    slim = as_baseline(run, "a note")
    text = baseline_text(slim)
    assert json.loads(text) == slim and check_baseline(json.loads(text)) == slim
    assert "top_passages" not in text and "question a" not in text  # the run names questions
    assert text.count("\n") < 30  # one line per question
    worse = _run({"a": (0.0, None), "b": (0.5, 3)})
    assert regressions(worse, json.loads(text), 0.01) == [
        "default ndcg@10: 0.7500 -> 0.2500 (drop 0.5000 > 0.01)"
    ]
    lines = question_changes(worse, json.loads(text))
    assert lines[0].startswith("default ndcg@10: 1 question worse, 0 better, 1 unchanged")
    assert lines[1].startswith("  a: ndcg@10 1.00 -> 0.00")


def test_a_run_against_its_own_saved_baseline_moved_nothing() -> None:
    # A saved baseline keeps 4 digits: read against the unrounded run it came from, 0.38685 and
    # 0.3869 are the same question, not 13 "worse" and 27 "better" with a sign test p of 0.04.
    run = _run({"a": (0.38685280723454163, 5), "b": (0.6309297535714575, 2), "c": (1.0, 1)})
    lines = question_changes(run, as_baseline(run))
    assert lines == ["default ndcg@10: 0 questions worse, 0 better, 3 unchanged (sign test p = 1)"]
    moved = _run({"a": (0.3868, 5), "b": (0.6309297535714575, 2), "c": (1.0, 1)})
    assert question_changes(moved, as_baseline(run))[0].startswith(
        "default ndcg@10: 1 question worse"
    )  # a real move in the 4th digit still counts


@pytest.mark.usefixtures("fake_eval")
def test_kb_eval_saves_a_baseline_and_names_the_questions_that_moved(tmp_path, capsys) -> None:
    folder = write_tiny(tmp_path)
    saved = tmp_path / "baseline.json"
    assert main(["eval", str(folder), "--save-baseline", str(saved)]) == 0
    recorded = json.loads(saved.read_text())
    assert [r["query_id"] for r in recorded["results"]["default"]["per_query"]] == ["q1", "q2"]
    capsys.readouterr()
    recorded["results"]["default"]["per_query"][0]["ndcg@10"] = 0.25  # q1 was worse before
    saved.write_text(json.dumps(recorded))
    assert main(["eval", str(folder), "--baseline", str(saved)]) == 0
    err = capsys.readouterr().err
    assert "per question: default ndcg@10: 0 questions worse, 1 better, 1 unchanged" in err
    assert main(["eval", str(folder), "--save-baseline", str(saved), "--baseline", str(saved)]) == 2
    assert "--save-baseline" in capsys.readouterr().err


def test_retrieval_doc_compares_the_hybrid_with_each_single_mode_per_question() -> None:
    hybrid = _run({"a": (1.0, 1), "b": (1.0, 1), "c": (0.5, 2)})["results"]["default"]
    dense = _run({"a": (1.0, 1), "b": (0.5, 2), "c": (1.0, 1)})["results"]["default"]
    bm25 = _run({"a": (0.0, None), "b": (0.5, 2), "c": (0.0, None)})["results"]["default"]
    run = {
        "dataset": "set",
        "split": None,
        "results": {"dense": dense, "bm25": bm25, "hybrid": hybrid},
    }
    table = mode_comparison(run)
    assert "| dense | 1 / 1 / 1 (p = 1) | - |" in table
    assert f"| bm25 | 3 / 0 / 0 (p = {sign_test(0, 3):.2g}) | - |" in table
    assert mode_comparison({"results": {"dense": dense}}) == ""  # no hybrid: nothing to compare
    config = {"model": "m", "chunker": "c", "chunk_tokens": [1, 1]}
    assert table in retrieval_doc([{**run, "config": config}])


@pytest.mark.usefixtures("fake_eval")
def test_kb_eval_all_modes_compares_the_default_with_each_single_mode(tmp_path, capsys) -> None:
    folder = write_tiny(tmp_path)
    report = tmp_path / "report.md"
    assert main(["eval", str(folder), "--mode", "all", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "Per question, default against each single mode" in out
    compared = out.split("Per question")[1].splitlines()
    assert [line.split(" | ")[0] for line in compared if line.startswith("| ")] == [
        "| against",
        "| dense",
        "| bm25",
    ]  # the single modes only: default against hybrid (the same ranking) is no comparison
    assert "Per question, default against" in report.read_text()
    assert main(["eval", str(folder), "--mode", "dense"]) == 0
    assert "Per question" not in capsys.readouterr().out  # one mode: nothing to compare
