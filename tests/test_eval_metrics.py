"""Our metric code against ranx, a well-tested reference, on random and edge-case runs."""

from __future__ import annotations

import itertools
import math
import random
import re
from types import SimpleNamespace

import pytest

from eval.datasets import Dataset
from eval.metrics import evidence_hit_at, highlight_hit, hit_at, mrr_at, ndcg_at, recall_at
from eval.report import (
    BaselineError,
    check_baseline,
    check_baseline_fits,
    check_max_drop,
    markdown_table,
    regressions,
)
from eval.runner import evaluate, metric_names


def _random_case(seed: int) -> tuple[dict, dict]:
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(30)]
    qrels, ranked = {}, {}
    for q in range(40):
        rel = rng.sample(docs, rng.randint(1, 4))
        qrels[f"q{q}"] = {d: rng.choice([1, 1, 2]) for d in rel}
        ranked[f"q{q}"] = rng.sample(docs, 12)
    return qrels, ranked


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_metrics_match_ranx(seed: int) -> None:
    from ranx import Qrels, Run, evaluate

    qrels, ranked = _random_case(seed)
    qrels = {q: qrels[q] for q in sorted(qrels)}  # ranx reports queries in sorted id order
    run = {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in ranked.items()}
    ours = {
        "recall@5": [recall_at(ranked[q], qrels[q], 5) for q in qrels],
        "recall@10": [recall_at(ranked[q], qrels[q], 10) for q in qrels],
        "hit_rate@1": [hit_at(ranked[q], qrels[q], 1) for q in qrels],
        "mrr@10": [mrr_at(ranked[q], qrels[q], 10) for q in qrels],
        "ndcg@10": [ndcg_at(ranked[q], qrels[q], 10) for q in qrels],
    }
    reference = evaluate(Qrels(qrels), Run(run), list(ours), return_mean=False)
    for name, values in ours.items():
        assert values == pytest.approx(list(reference[name]), abs=1e-6), name


def test_edge_cases() -> None:
    assert recall_at([], {"a": 1}, 5) == 0.0
    assert ndcg_at(["a"], {"a": 1}, 10) == 1.0
    assert mrr_at(["b", "a"], {"a": 1}, 1) == 0.0
    assert mrr_at(["b", "a"], {"a": 1}, 2) == 0.5
    assert evidence_hit_at(["The  fee is\n5 USD."], ["fee is 5 USD."], 1) == 1.0
    assert evidence_hit_at(["x", "The fee is 5 USD."], ["fee is 5 USD."], 1) == 0.0


def test_regression_gate_and_table() -> None:
    base = {
        "dataset": "d",
        "split": None,
        "results": {"default": {"metrics": {"ndcg@10": 0.90, "mean_passage_chars": 500}}},
    }
    same = {
        "dataset": "d",
        "split": None,
        "results": {"default": {"metrics": {"ndcg@10": 0.895, "mean_passage_chars": 900}}},
    }
    worse = {
        "dataset": "d",
        "split": None,
        "results": {"default": {"metrics": {"ndcg@10": 0.85, "mean_passage_chars": 500}}},
    }
    assert regressions(same, base, 0.01) == []
    assert regressions(worse, base, 0.01)[0].startswith("default ndcg@10: 0.9000 -> 0.8500")
    assert "| default | 0.900 | 500 |" in markdown_table(base)


def test_chart_is_a_png(tmp_path) -> None:
    from eval.charts import write_chart

    results = {
        "dataset": "d",
        "split": "dev",
        "results": {
            "dense": {"metrics": {"ndcg@10": 0.8, "recall@1": 0.6}},
            "hybrid": {"metrics": {"ndcg@10": 0.9, "recall@1": 0.7}},
        },
    }
    path = write_chart(results, tmp_path / "out" / "chart.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def _ours(ranked: dict, qrels: dict) -> dict[str, list[float]]:
    return {
        "recall@1": [recall_at(ranked[q], qrels[q], 1) for q in qrels],
        "recall@5": [recall_at(ranked[q], qrels[q], 5) for q in qrels],
        "hit_rate@1": [hit_at(ranked[q], qrels[q], 1) for q in qrels],
        "hit_rate@3": [hit_at(ranked[q], qrels[q], 3) for q in qrels],
        "mrr@10": [mrr_at(ranked[q], qrels[q], 10) for q in qrels],
        "ndcg@10": [ndcg_at(ranked[q], qrels[q], 10) for q in qrels],
    }


def _ranx(ranked: dict, qrels: dict, names: list[str]) -> dict:
    from ranx import Qrels, Run, evaluate

    run = {q: {d: float(len(docs) - i) for i, d in enumerate(docs)} for q, docs in ranked.items()}
    return evaluate(Qrels(qrels), Run(run), names, return_mean=False)


def test_repeated_document_counts_once() -> None:
    assert ndcg_at(["a", "a", "a"], {"a": 1}, 10) == 1.0  # was 2.13
    assert ndcg_at(["b", "a", "a", "b"], {"a": 1, "b": 2}, 10) == ndcg_at(
        ["b", "a"], {"a": 1, "b": 2}, 10
    )
    assert recall_at(["a", "a", "b"], {"a": 1, "b": 1}, 2) == 1.0  # b is the 2nd document
    assert hit_at(["c", "c", "a"], {"a": 1}, 2) == 1.0
    assert mrr_at(["c", "c", "a"], {"a": 1}, 10) == 0.5


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_metrics_with_repeats_and_zero_judgements_match_ranx(seed: int) -> None:
    """Repeats in our run score like ranx's run of first occurrences (ranx takes a dict, so it
    cannot repeat); relevance 0 is "judged not relevant" in both."""
    rng = random.Random(seed)
    docs = [f"d{i}" for i in range(20)]
    qrels, ranked = {}, {}
    for q in range(40):
        judged = rng.sample(docs, rng.randint(2, 6))
        qrels[f"q{q:02d}"] = {d: rng.choice([0, 0, 1, 2]) for d in judged}
        qrels[f"q{q:02d}"][judged[0]] = rng.choice([1, 2])  # ranx drops queries with none
        ranked[f"q{q:02d}"] = [rng.choice(docs) for _ in range(15)]
    first = {q: list(dict.fromkeys(docs)) for q, docs in ranked.items()}
    ours = _ours(ranked, qrels)
    reference = _ranx(first, qrels, list(ours))
    for name, values in ours.items():
        assert values == pytest.approx(list(reference[name]), abs=1e-6), name


def test_zero_relevance_is_not_relevant() -> None:
    assert hit_at(["a"], {"a": 0}, 1) == 0.0
    assert mrr_at(["a", "b"], {"a": 0, "b": 1}, 10) == 0.5
    assert recall_at(["a"], {"a": 0, "b": 1}, 1) == 0.0


class _StubSearcher:
    """Returns fixed documents per question; flags "no answer" for the questions listed."""

    def __init__(self, ranked: dict[str, list[str]], no_answer: set[str] = frozenset()) -> None:
        self.ranked, self.no_answer = ranked, no_answer

    def search(self, text: str, top_k: int = 50, mode: str | None = None) -> SimpleNamespace:
        results = [
            SimpleNamespace(
                doc_id=d, text=f"passage of {d}", highlight=SimpleNamespace(text=f"passage of {d}")
            )
            for d in self.ranked[text]
        ]
        return SimpleNamespace(results=results, answerable=text not in self.no_answer)


def _dataset(qrels: dict, unanswerable: set[str] = frozenset(), evidence=None) -> Dataset:
    queries = {q: q for q in ("q1", "q2", "q3", "q4")}
    return Dataset("tiny", None, [], queries, qrels, evidence or {}, set(unanswerable))


def test_questions_without_a_relevant_document_are_left_out() -> None:
    """q3's only judgement is 0: it was scored as a 0 on every metric (dragging means down) and
    the drill-down listed its judged-irrelevant document as the expected one."""
    dataset = _dataset(
        {"q1": {"a": 1, "x": 0}, "q2": {"b": 1}, "q3": {"c": 0}, "q4": {"d": 0}},
        unanswerable={"q4"},
    )
    searcher = _StubSearcher({"q1": ["a"], "q2": ["b"], "q3": ["c"], "q4": ["d"]}, {"q4"})
    block = evaluate(dataset, searcher)
    assert [r["query_id"] for r in block["per_query"]] == ["q1", "q2"]
    assert block["per_query"][0]["relevant"] == ["a"]  # the 0-judged x is not "expected"
    assert block["left_out"] == ["q3"]
    metrics = block["metrics"]
    assert metrics["hit@1"] == 1.0 and metrics["ndcg@10"] == 1.0
    assert metrics["queries"] == 2 and metrics["queries_left_out"] == 1
    # the unanswerable q4 still counts for the no-answer flag, its 0 judgement or not
    assert metrics["no_answer_precision"] == 1.0 and metrics["no_answer_recall"] == 1.0
    assert list(metrics) == metric_names(dataset)
    table = markdown_table({"dataset": "tiny", "split": None, "results": {"default": block}})
    assert "| queries | queries_left_out |" in table


def test_nothing_to_average_is_none_not_zero(tmp_path) -> None:
    """A split of unanswerable questions only, none flagged: every score is "n/a"."""
    from eval.charts import write_chart

    dataset = _dataset({"q1": {"a": 1}, "q2": {"b": 1}}, unanswerable={"q1", "q2", "q3", "q4"})
    searcher = _StubSearcher({q: ["a"] for q in dataset.queries})
    metrics = evaluate(dataset, searcher)["metrics"]
    assert metrics["queries"] == 0 and "queries_left_out" not in metrics
    for name in ("recall@1", "hit@1", "ndcg@10", "mean_passage_chars", "no_answer_precision"):
        assert metrics[name] is None, name
    assert metrics["no_answer_recall"] == 0.0
    results = {"dataset": "tiny", "split": "x", "results": {"default": {"metrics": metrics}}}
    row = markdown_table(results).splitlines()[-1]
    assert row == "| default |" + " n/a |" * 7 + " 0 | n/a | 0.000 |"  # 7: 6 doc + chars
    assert write_chart(results, tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_highlight_hit_scores_the_first_passages_highlight_not_its_text() -> None:
    """q1's first passage holds its evidence and marks it; q2's holds it but marks another
    sentence: both are evidence hits, one a highlight hit."""
    dataset = _dataset(
        {"q1": {"a": 1}, "q2": {"b": 1}},
        evidence={"q1": ["refunds take 14 days"], "q2": ["payouts are weekly"]},
    )
    dataset.queries = {"q1": "q1", "q2": "q2"}

    class Marking(_StubSearcher):
        def search(self, text, top_k=50, mode=None):
            shown = {"q1": "Yes: refunds take 14 days here.", "q2": "Ask the creator first."}
            body = f"{shown[text]} Refunds take 14 days; payouts are weekly."
            hit = SimpleNamespace(
                doc_id=text, text=body, highlight=SimpleNamespace(text=shown[text])
            )
            return SimpleNamespace(results=[hit], answerable=True)

    result = evaluate(dataset, Marking({}))
    assert result["metrics"]["evidence_hit@1"] == 1.0
    assert result["metrics"]["highlight_hit@1"] == 0.5
    assert [r["highlight"] for r in result["per_query"]] == [
        "Yes: refunds take 14 days here.",
        "Ask the creator first.",
    ]


def _base(**metrics) -> dict:
    metrics = metrics or {"ndcg@10": 0.9, "hit@1": 0.8, "queries": 10}
    return {"dataset": "d", "split": "dev", "results": {"default": {"metrics": metrics}}}


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ([], "JSON object"),
        ({}, "no dataset name"),
        ({"dataset": "d", "split": None, "results": {}}, "no results"),
        ({"dataset": "d", "split": None, "results": {"default": {}}}, "no metrics"),
        ({"dataset": "d", "split": None, "results": {"default": {"metrics": {"a": "x"}}}}, "a='x'"),
        (
            {"dataset": "d", "split": None, "results": {"default": {"metrics": {"a": True}}}},
            "a=True",
        ),
        (
            {"dataset": "d", "split": None, "results": {"default": {"metrics": {"a": math.nan}}}},
            "a=nan",
        ),
        ({"dataset": "d", "results": {"default": {"metrics": {"a": 1.0}}}}, "no split"),
    ],
)
def test_malformed_baselines_are_refused(baseline, message) -> None:
    with pytest.raises(BaselineError, match=re.escape(message)):
        check_baseline(baseline)


def test_null_baseline_metric_is_n_a_not_malformed() -> None:
    assert check_baseline(_base(ndcg=None)) == _base(ndcg=None)


@pytest.mark.parametrize(
    ("baseline", "message"),
    [
        ({**_base(), "dataset": "conditionalqa"}, "dataset 'conditionalqa', this run is 'd'"),
        ({**_base(), "split": "test"}, "split test, this run is dev"),
        ({**_base(), "split": None}, "split (none), this run is dev"),
        (_base(hit=0.8, queries=10), "ndcg@10, hit@1 measured but not in the baseline"),
        (_base(**{"ndcg@10": 0.9, "hit@1": 0.8, "recall@1": 0.5}), "recall@1 in the baseline"),
        ({**_base(), "results": {"dense": _base()["results"]["default"]}}, "no mode 'default'"),
    ],
)
def test_gate_refuses_a_baseline_for_another_run(baseline, message) -> None:
    current = _base(**{"ndcg@10": 0.9, "hit@1": 0.8, "queries": 12})
    with pytest.raises(BaselineError, match=re.escape(message)):
        regressions(current, baseline, 0.01)


def test_gate_compares_only_gated_metrics_and_modes_being_run() -> None:
    baseline = _base(**{"ndcg@10": 0.9, "hit@1": 0.8, "queries": 10, "no_answer_recall": 0.5})
    baseline["results"]["dense"] = {"metrics": {"ndcg@10": 0.1}}  # not run: not gated
    check_baseline_fits(baseline, "d", "dev", {"default": ["ndcg@10", "hit@1", "queries_left_out"]})
    current = _base(**{"ndcg@10": 0.9, "hit@1": 0.8, "queries": 12})
    assert regressions(current, baseline, 0.0) == []


def test_gate_counts_a_metric_gone_n_a_as_a_regression() -> None:
    assert regressions(_base(**{"ndcg@10": None}), _base(**{"ndcg@10": None}), 0.01) == []
    assert regressions(_base(**{"ndcg@10": 0.5}), _base(**{"ndcg@10": None}), 0.01) == []
    [line] = regressions(_base(**{"ndcg@10": None}), _base(**{"ndcg@10": 0.5}), 0.01)
    assert line == "default ndcg@10: 0.5000 -> n/a (nothing left to measure)"


@pytest.mark.parametrize("bad", [-0.01, math.nan, math.inf, -math.inf, 1, 1.0, 2.5])
def test_max_drop_must_be_finite_not_negative_and_below_one(bad) -> None:
    with pytest.raises(ValueError, match="max_drop"):
        check_max_drop(bad)
    with pytest.raises(ValueError, match="max_drop"):
        regressions(_base(), _base(), bad)
    assert regressions(_base(), _base(), 0.0) == []
    assert regressions(_base(), _base(), 0.99) == []


def test_chart_labels_do_not_overlap() -> None:
    """Long names such as evidence_hit@1 and evidence_hit@3 ran into each other."""
    import matplotlib.pyplot as plt

    from eval.charts import CHART_METRICS, chart_figure

    results = {
        "dataset": "conditionalqa",
        "split": "dev",
        "results": {
            m: {"metrics": {n: 0.5 for n in CHART_METRICS}} for m in ("default", "dense", "bm25")
        },
    }
    fig = chart_figure(results)
    try:
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels()]
        assert len(boxes) == len(CHART_METRICS)
        assert not any(a.overlaps(b) for a, b in itertools.pairwise(boxes))
    finally:
        plt.close(fig)


@pytest.mark.parametrize(
    ("highlight", "hit"),
    [
        ("Refunds take 14 days. Gifts are final.", 1.0),  # holds the evidence
        ("7. Refunds take 14 days.", 1.0),  # the list marker is not part of what was said
        ("| Refunds take | 14 days |", 0.0),  # a table row's cells are not the sentence
        ("Refunds take 14 days", 1.0),  # four words of the evidence itself
        ("Refunds take 14", 0.0),  # three: too few to say which sentence it is
        ("No.", 0.0),  # too short to point at anything
        ("Gifts are final.", 0.0),  # a neighbour of the evidence
        ("", 0.0),
    ],
)
def test_highlight_hit(highlight: str, hit: float) -> None:
    assert highlight_hit(highlight, ["Refunds  take\n14 days.", "No. We never do that."]) == hit


def test_evidence_counts_only_in_the_document_its_row_names() -> None:
    """51 of ConditionalQA dev's evidence strings ("surgery", "coronavirus (COVID-19)") are
    verbatim in other pages too; a passage of another page holding one is not the evidence."""
    from eval.metrics import evidence_hits

    passages = [("other", "Surgery is covered."), ("page", "After surgery  you\nmay claim.")]
    assert evidence_hits(passages, [("page", "surgery")]) == [False, True]
    assert evidence_hits(passages, [("", "surgery")]) == [False, True]  # case kept
    assert evidence_hits(passages, [("", "Surgery is")]) == [True, False]  # names none: any
    assert evidence_hits(passages, [("page", "surgery you may")]) == [False, True]
    assert evidence_hits(passages, [("elsewhere", "surgery")]) == [False, False]
