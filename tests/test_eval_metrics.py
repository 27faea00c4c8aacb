"""Our metric code against ranx, a well-tested reference, on random and edge-case runs."""

from __future__ import annotations

import random

import pytest

from eval.metrics import evidence_hit_at, hit_at, mrr_at, ndcg_at, recall_at
from eval.report import markdown_table, regressions


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
