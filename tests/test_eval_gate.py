"""The regression gate CI runs: kb/ and ConditionalQA against eval/baselines/, with fp32 vectors
(within 0.005) and with the default int8 vectors (within 0.01); and the gate's own behaviour on
tiny sets with the fake encoder: bad baselines and --max-drop values are refused (exit 2) before
anything is indexed, regressions exit 1.

Both kinds of vector depend on each text alone. The int8 gate allows more because a change far
below what any ranking code does moves int8 figures: every activation scale times 1 + 1e-5
moved kb/ evidence_hit@1 by 0.022 (docs/retrieval-experiments.md). Since export format 4 the
int8 arithmetic is exact on every x86 CPU, but float kernels (layer norms, GELU) still round
differently from one CPU to another; the fp32 gate is the one a ranking change must pass."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from indexer.settings import get_settings
from kb_cli.main import main
from tests.conftest import KB_DIR, REPO, FakeEmbedder

SHARED = REPO.parent / "shared" / "datasets"
BASELINES = REPO / "eval" / "baselines"


GATES = [
    (KB_DIR, None, "kb.json", "onnx-int8", "0.01"),
    (SHARED / "conditionalqa", "dev", "conditionalqa-dev.json", "onnx-int8", "0.01"),
    (KB_DIR, None, "kb.fp32.json", "torch", "0.005"),
    (SHARED / "conditionalqa", "dev", "conditionalqa-dev.fp32.json", "torch", "0.005"),
]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("folder", "split", "baseline", "backend", "max_drop"),
    GATES,
    ids=["kb", "conditionalqa", "kb-fp32", "conditionalqa-fp32"],
)
def test_no_metric_drops_against_baseline(
    folder, split, baseline, backend, max_drop, tmp_path, capsys, monkeypatch
) -> None:
    if not folder.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"{folder} is missing in CI")
        pytest.skip(f"{folder} is not here")
    monkeypatch.setenv("KB_EMBED_BACKEND", backend)
    get_settings.cache_clear()
    out = tmp_path / "run.json"
    args = [
        "eval",
        str(folder),
        "--json",
        str(out),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--baseline",
        str(BASELINES / baseline),
        "--max-drop",
        max_drop,
    ]
    if split:
        args += ["--split", split]
    code = main(args)
    get_settings.cache_clear()
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(out.read_text())
    per_query = result["results"]["default"]["per_query"]
    assert per_query and all("ndcg@10" in row for row in per_query)


TINY_DOCS = (
    ("refunds", "Refunds", "Coins bought by mistake are refunded within 14 days of purchase."),
    ("bans", "Bans", "Accounts are banned after three strikes for harassment."),
    ("payouts", "Payouts", "Creator payouts are sent monthly by bank transfer."),
)
TINY_QUERIES = (
    ("q1", "when are coins refunded", "refunds\t1\npayouts\t0"),
    ("q2", "how many strikes before a ban", "bans\t1"),
    ("q3", "creator payouts by bank transfer", "payouts\t0"),  # judged, none relevant
)


def write_tiny(root: Path, name: str = "tiny", split: str | None = None) -> Path:
    """A three-question set; q3's only qrels row has relevance 0."""
    folder = root / name
    folder.mkdir(parents=True)
    suffix = f".{split}" if split else ""
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"doc_id": d, "title": t, "text": x}) + "\n" for d, t, x in TINY_DOCS)
    )
    (folder / f"queries{suffix}.jsonl").write_text(
        "".join(json.dumps({"query_id": q, "text": t}) + "\n" for q, t, _ in TINY_QUERIES)
    )
    rows = "".join(f"{q}\t{row}\n" for q, _, rows in TINY_QUERIES for row in rows.split("\n"))
    (folder / f"qrels{suffix}.tsv").write_text("query_id\tdoc_id\trelevance\n" + rows)
    return folder


@pytest.fixture
def fake_eval(monkeypatch, tmp_path) -> None:
    """The fake encoder for `kb eval`, small chunks, and the eval cache in tmp_path."""
    monkeypatch.setattr("eval.runner.Embedder.from_settings", lambda settings: FakeEmbedder())
    monkeypatch.setenv("KB_CHUNK_MAX_TOKENS", "60")
    monkeypatch.setenv("KB_CHUNK_MIN_TOKENS", "8")
    monkeypatch.setenv("KB_EVAL_CACHE_DIR", str(tmp_path / "env-cache"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _recorded(tmp_path: Path, folder: Path, capsys) -> Path:
    """A run of ``folder`` as JSON, to gate later runs against."""
    out = tmp_path / "run.json"
    assert main(["eval", str(folder), "--json", str(out)]) == 0
    capsys.readouterr()
    return out


def _no_indexing(monkeypatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("indexed although the gate could not be applied")

    monkeypatch.setattr("eval.runner.cached_index", refuse)


def test_eval_uses_kb_eval_cache_dir_and_leaves_out_unjudged(fake_eval, tmp_path, capsys) -> None:
    folder = write_tiny(tmp_path)
    result = json.loads(_recorded(tmp_path, folder, capsys).read_text())
    assert [p.name.split("-")[0] for p in (tmp_path / "env-cache").iterdir()] == ["tiny"]
    block = result["results"]["default"]
    assert block["metrics"]["queries"] == 2 and block["metrics"]["queries_left_out"] == 1
    assert block["left_out"] == ["q3"]
    assert [r["relevant"] for r in block["per_query"]] == [["refunds"], ["bans"]]
    assert main(["eval", str(folder), "--json", str(tmp_path / "again.json")]) == 0
    assert "1 question(s) left out of the metrics" in capsys.readouterr().err


def test_gate_passes_and_fails_on_a_matching_baseline(fake_eval, tmp_path, capsys) -> None:
    folder = write_tiny(tmp_path)
    baseline = json.loads(_recorded(tmp_path, folder, capsys).read_text())
    same = tmp_path / "same.json"
    same.write_text(json.dumps(baseline))
    assert main(["eval", str(folder), "--baseline", str(same), "--max-drop", "0"]) == 0
    assert "no metric dropped" in capsys.readouterr().out
    assert baseline["results"]["default"]["metrics"]["recall@1"] == 1.0
    with (folder / "qrels.tsv").open("a") as f:  # q2 gets a second relevant document
        f.write("q2\trefunds\t1\n")  # so its recall@1 is 0.5 at best: a sure drop
    assert main(["eval", str(folder), "--baseline", str(same)]) == 1
    assert "regression: default recall@1: 1.0000 -> 0.7500 (drop 0.2500 > 0.01)" in (
        capsys.readouterr().err
    )


def _variants(run: dict) -> dict[str, object]:
    metrics = run["results"]["default"]["metrics"]
    without_ndcg = {k: v for k, v in metrics.items() if k != "ndcg@10"}
    return {
        "other-dataset": {**run, "dataset": "conditionalqa"},
        "other-split": {**run, "split": "dev"},
        "missing-metric": {**run, "results": {"default": {"metrics": without_ndcg}}},
        "extra-metric": {
            **run,
            "results": {"default": {"metrics": {**metrics, "evidence_hit@1": 0.5}}},
        },
        "other-mode": {**run, "results": {"dense": run["results"]["default"]}},
        "empty": {},
        "list": [run],
        "no-metrics": {**run, "results": {"default": {"per_query": []}}},
        "null-metrics": {**run, "results": {"default": {"metrics": None}}},
        "string-metric": {**run, "results": {"default": {"metrics": {**metrics, "hit@1": "x"}}}},
        "percent-metric": {**run, "results": {"default": {"metrics": {**metrics, "mrr@10": 83.3}}}},
        "negative-metric": {**run, "results": {"default": {"metrics": {**metrics, "hit@1": -1}}}},
        "per-query-string": {**run, "results": {"default": {"metrics": metrics,
                                                            "per_query": "oops"}}},
        "per-query-list-id": {**run, "results": {"default": {"metrics": metrics,
                                                             "per_query": [{"query_id": [1]}]}}},
    }  # fmt: skip


@pytest.mark.parametrize(
    "variant",
    [
        "other-dataset",
        "other-split",
        "missing-metric",
        "extra-metric",
        "other-mode",
        "empty",
        "list",
        "no-metrics",
        "null-metrics",
        "string-metric",
        "percent-metric",
        "negative-metric",
        "per-query-string",
        "per-query-list-id",
        "missing-file",
        "not-json",
    ],
)
def test_a_baseline_that_cannot_gate_exits_2_before_indexing(
    variant, fake_eval, tmp_path, monkeypatch, capsys
) -> None:
    folder = write_tiny(tmp_path)
    run = json.loads(_recorded(tmp_path, folder, capsys).read_text())
    path = tmp_path / f"{variant}.json"
    if variant == "not-json":
        path.write_text("{nope")
    elif variant != "missing-file":
        path.write_text(json.dumps(_variants(run)[variant]))
    _no_indexing(monkeypatch)
    assert main(["eval", str(folder), "--baseline", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kb: --baseline {path}") and err.count("\n") == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize("max_drop", ["-0.01", "nan", "inf"])
def test_a_bad_max_drop_exits_2_before_indexing(
    max_drop, fake_eval, tmp_path, monkeypatch, capsys
) -> None:
    folder = write_tiny(tmp_path)
    baseline = _recorded(tmp_path, folder, capsys)
    _no_indexing(monkeypatch)
    assert main(["eval", str(folder), "--baseline", str(baseline), "--max-drop", max_drop]) == 2
    assert capsys.readouterr().err == (
        f"kb: --max-drop must be a finite number >= 0, got {float(max_drop)}\n"
    )


@pytest.mark.parametrize("max_drop", ["1", "1.5", "5"])
def test_a_max_drop_no_run_could_exceed_exits_2_before_indexing(
    max_drop, fake_eval, tmp_path, monkeypatch, capsys
) -> None:
    # "--max-drop 1" meant as 1%: the metrics run from 0 to 1, so every run passed the gate
    folder = write_tiny(tmp_path)
    baseline = json.loads(_recorded(tmp_path, folder, capsys).read_text())
    for block in baseline["results"].values():
        block["metrics"] = {k: (1.0 if k == "ndcg@10" else v) for k, v in block["metrics"].items()}
    path = tmp_path / "higher.json"
    path.write_text(json.dumps(baseline))
    _no_indexing(monkeypatch)
    assert main(["eval", str(folder), "--baseline", str(path), "--max-drop", max_drop]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"kb: --max-drop must be below 1, got {float(max_drop)}"), err
    assert "0.01" in err and err.count("\n") == 1


def test_a_max_drop_without_a_baseline_exits_2_before_indexing(
    fake_eval, tmp_path, monkeypatch, capsys
) -> None:
    folder = write_tiny(tmp_path)
    _no_indexing(monkeypatch)
    assert main(["eval", str(folder), "--max-drop", "0.02"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kb: --max-drop 0.02 gates nothing without --baseline"), err


def test_a_baseline_with_a_byte_order_mark_gates_and_one_nested_too_deep_is_refused(
    fake_eval, tmp_path, monkeypatch, capsys
) -> None:
    """Windows tools save JSON with a byte-order mark (accepted in the labelled sets, refused
    as "not valid JSON" in a baseline); JSON nested past the parser's depth was a traceback."""
    folder = write_tiny(tmp_path)
    recorded = _recorded(tmp_path, folder, capsys)
    with_bom = tmp_path / "bom.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + recorded.read_bytes())
    assert main(["eval", str(folder), "--baseline", str(with_bom), "-q"]) == 0
    assert "no metric dropped" in capsys.readouterr().out
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000)
    _no_indexing(monkeypatch)
    assert main(["eval", str(folder), "--baseline", str(deep)]) == 2
    assert (
        capsys.readouterr().err
        == f"kb: --baseline {deep} is not a kb eval --json file: nested too deep\n"
    )


def test_a_cache_folder_that_cannot_be_written_is_a_failed_run_not_a_regression(
    fake_eval, tmp_path, capsys
) -> None:
    """Exit 1 is a regression to a CI gate; an evaluation cache that cannot be made (a file
    in its place, a full disk) measured nothing: exit 3, as for a locked cache."""
    folder = write_tiny(tmp_path)
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    assert main(["eval", str(folder), "--cache-dir", str(taken), "-q"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("kb: the evaluation could not run: Not a directory: "), err
    assert str(taken) in err and err.count("\n") == 1


def test_eval_all_reads_kb_datasets_dir(fake_eval, tmp_path, monkeypatch, capsys) -> None:
    seen: list[tuple[Path, Path]] = []

    def record(folder, split, modes, settings, cache_root, progress=None):
        seen.append((Path(folder), Path(cache_root)))
        return {"dataset": Path(folder).name, "split": split, "config": {}, "results": {}}

    monkeypatch.setattr("eval.runner.run_dataset", record)
    monkeypatch.setattr("eval.datasets.load_dataset", lambda folder, split: None)
    monkeypatch.setenv("KB_DATASETS_DIR", str(tmp_path / "sets"))
    get_settings.cache_clear()
    out = tmp_path / "retrieval.md"
    assert main(["eval-all", "--kb", str(tmp_path / "kb"), "--out", str(out)]) == 0
    assert [f for f, _ in seen[:-1]] == [
        tmp_path / "sets" / n for n in ("conditionalqa", "stackfaq", "policyqa")
    ]
    assert {c for _, c in seen} == {tmp_path / "env-cache"}


def test_drill_down_ticks_only_documents_judged_relevant(fake_embedder, tmp_path) -> None:
    """insights.evaluation showed the relevance-0 document as expected, ticked at rank 1."""
    from indexer.settings import Settings
    from insights.evaluation import run

    folder = write_tiny(tmp_path, split="dev")
    settings = Settings(chunk_max_tokens=60, chunk_min_tokens=8)
    result = run(folder, "dev", ["bm25"], fake_embedder, settings, tmp_path / "cache")
    block = result["results"]["bm25"]
    assert [r["query_id"] for r in block["per_query"]] == ["q1", "q2"]
    for row in block["per_query"]:
        assert "payouts" not in row["relevant"]
        assert (row["first_relevant_rank"] == 1) == (row["hit@1"] == 1.0)
    assert block["metrics"]["queries_left_out"] == 1


def test_eval_all_checks_every_set_before_running_any(fake_eval, tmp_path, monkeypatch, capsys):
    """A missing last set stopped eval-all after the others had run (hours, in full), and
    nothing was written."""

    def refuse(*args, **kwargs):
        raise AssertionError("evaluated although a set is missing")

    monkeypatch.setattr("eval.runner.run_dataset", refuse)
    sets = tmp_path / "sets"
    write_tiny(sets, "conditionalqa", "dev")
    code = main(["eval-all", "--datasets-dir", str(sets), "--out", str(tmp_path / "r.md")])
    assert code == 2
    assert "stackfaq" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--chart", "{tmp}/chart.txt"], "name a .png file"),
        (["--json", "{tmp}/same", "--report", "{tmp}/same"], "also --json's file"),
        (["--split", ""], "--split is empty"),
    ],
)
def test_eval_outputs_that_would_fail_or_clash_are_refused_before_indexing(
    extra, message, fake_eval, tmp_path, monkeypatch, capsys
) -> None:
    folder = write_tiny(tmp_path)
    _no_indexing(monkeypatch)
    args = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    assert main(["eval", str(folder), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_gate_names_other_labels_and_ranking_settings(
    fake_eval, tmp_path, capsys, monkeypatch
) -> None:
    """Relabelling one question, or turning off a setting that reads questions, failed the gate
    as a retrieval regression with nothing saying why."""
    folder = write_tiny(tmp_path)
    baseline = _recorded(tmp_path, folder, capsys)
    config = json.loads(baseline.read_text())["config"]
    assert {"market_names", "question_versions", "in_force_weight", "date_order", "ann"} <= set(
        config
    )
    qrels = folder / "qrels.tsv"
    qrels.write_text(qrels.read_text().replace("q1\trefunds\t1", "q1\tbans\t1"))
    monkeypatch.setenv("KB_QUESTION_VERSIONS", "false")
    get_settings.cache_clear()
    assert main(["eval", str(folder), "--baseline", str(baseline)]) == 1
    err = capsys.readouterr().err
    assert "the baseline was measured on other labels" in err
    assert "question_versions True (this run: False)" in err


def test_a_gate_with_nothing_to_compare_says_so(fake_eval, tmp_path, capsys) -> None:
    """A split of unanswerable questions only: its no-answer metrics are not gated, so the gate
    compared nothing, and said "no metric dropped"."""
    folder = tmp_path / "noanswer"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"doc_id": d, "title": t, "text": x}) + "\n" for d, t, x in TINY_DOCS)
    )
    (folder / "queries.jsonl").write_text(
        json.dumps({"query_id": "u1", "text": "student discount", "answerable": False}) + "\n"
    )
    (folder / "qrels.tsv").write_text("query_id\tdoc_id\trelevance\n")
    baseline = _recorded(tmp_path, folder, capsys)
    assert main(["eval", str(folder), "--baseline", str(baseline)]) == 0
    captured = capsys.readouterr()
    assert "the gate compared no metric" in captured.err
    assert "nothing gated" in captured.out and "no metric dropped" not in captured.out
