"""The evaluator's surface as an evaluator uses it: sets that cannot measure anything are
refused as bad input (exit 2) before indexing, results say what they measured, and each
per-query row carries what is needed to see why a question failed."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from eval.datasets import load_dataset
from eval.report import baseline_notes, markdown_table, retrieval_doc
from eval.runner import run_modes
from indexer.chunking import CHUNKER_VERSION
from indexer.errors import KBError
from indexer.settings import Settings
from insights.evaluation import available_datasets
from kb_cli.main import main
from tests.conftest import FakeEmbedder
from tests.test_eval_gate import fake_eval  # noqa: F401 - a fixture
from tests.test_ui_pages import api_url  # noqa: F401 - a fixture

HEADER = "query_id\tdoc_id\trelevance\n"
DOCS = [
    {"doc_id": "refunds", "title": "Refunds", "text": "Coins bought by mistake are refunded "
     "within 14 days of purchase."},
    {"doc_id": "bans", "title": "Bans", "text": "Accounts are banned after three strikes."},
    {"doc_id": "payouts", "title": "Payouts", "text": "Creator payouts are sent monthly."},
]  # fmt: skip
QUESTIONS = [
    {"query_id": "q1", "text": "when are coins refunded"},
    {"query_id": "q2", "text": "how many strikes before a ban"},
    {"query_id": "q3", "text": "what is the weather on mars", "answerable": False},
]


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def write_set(
    folder: Path,
    corpus: str | None = None,
    queries: str | None = None,
    qrels: str = HEADER + "q1\trefunds\t1\nq2\tbans\t1\n",
    evidence: str | None = None,
    split: str | None = None,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = f".{split}" if split else ""
    (folder / "corpus.jsonl").write_text(_jsonl(DOCS) if corpus is None else corpus)
    (folder / f"queries{suffix}.jsonl").write_text(
        _jsonl(QUESTIONS) if queries is None else queries
    )
    (folder / f"qrels{suffix}.tsv").write_text(qrels)
    if evidence is not None:
        (folder / f"evidence{suffix}.jsonl").write_text(evidence)
    return folder


def _no_indexing(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise AssertionError("indexed a set that cannot be measured")

    monkeypatch.setattr("eval.runner.cached_index", refuse)


# -- sets that cannot measure anything: bad input, not a score of 0 or "n/a" ---------------


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ("empty-corpus", "corpus.jsonl has no documents"),
        ("no-corpus", "has no corpus.jsonl and no documents"),
        ("empty-queries", "queries.jsonl has no questions"),
        ("header-only-qrels", "no question of queries.jsonl has a document judged relevant"),
        ("all-zero", "no question of queries.jsonl has a document judged relevant"),
        ("other-ids", "no question of queries.jsonl has a document judged relevant"),
    ],
)
def test_a_set_that_cannot_measure_anything_is_refused_before_indexing(
    variant: str,
    message: str,
    tmp_path: Path,
    fake_eval: None,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """These ran to exit 0 with every metric 0 or "n/a" (and, against a baseline, would have
    exited 1 as if retrieval had regressed)."""
    answerable = _jsonl(QUESTIONS[:2])
    folder = {
        "empty-corpus": lambda f: write_set(f, corpus=""),
        "no-corpus": lambda f: write_set(f),
        "empty-queries": lambda f: write_set(f, queries=""),
        "header-only-qrels": lambda f: write_set(f, queries=answerable, qrels=HEADER),
        "all-zero": lambda f: write_set(f, queries=answerable, qrels=HEADER + "q1\trefunds\t0\n"),
        "other-ids": lambda f: write_set(f, queries=answerable, qrels=HEADER + "x1\tbans\t1\n"),
    }[variant](tmp_path / "set")
    if variant == "no-corpus":
        (folder / "corpus.jsonl").unlink()
    with pytest.raises(KBError, match=message):
        load_dataset(folder)
    _no_indexing(monkeypatch)
    assert main(["eval", str(folder), "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_a_split_of_unanswerable_questions_only_is_still_measured(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "set", queries=_jsonl(QUESTIONS[2:]), qrels=HEADER)
    assert load_dataset(folder).unanswerable == {"q3"}


def test_a_repeated_judgement_is_refused_naming_both_lines(tmp_path: Path) -> None:
    """The second row silently replaced the first: q1 -> refunds 1 then 0 left q1 out."""
    qrels = HEADER + "q1\trefunds\t1\nq2\tbans\t1\nq1\trefunds\t0\n"
    with pytest.raises(KBError, match=r"qrels\.tsv:4: q1 -> refunds is judged again \(line 2\)"):
        load_dataset(write_set(tmp_path / "set", qrels=qrels))


def test_a_dataset_path_that_is_a_file_or_missing_says_so(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(KBError, match="is not a folder"):
        load_dataset(tmp_path / "file", "dev")
    with pytest.raises(KBError, match="does not exist"):
        load_dataset(tmp_path / "nowhere", "dev")


def test_a_missing_split_names_the_splits_the_set_has(tmp_path: Path) -> None:
    folder = write_set(tmp_path / "set", split="dev")
    write_set(folder, split="test")
    with pytest.raises(KBError, match=r"has no queries\.jsonl \(its splits: dev, test; pass"):
        load_dataset(folder)
    with pytest.raises(KBError, match=r"has no queries\.train\.jsonl \(its splits: dev, test"):
        load_dataset(folder, "train")


def test_judgements_and_evidence_for_unknown_questions_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Evidence keyed by ids the queries do not use was dropped without a word, and with it
    every evidence_hit metric."""
    folder = write_set(
        tmp_path / "set",
        qrels=HEADER + "q1\trefunds\t1\nq2\tbans\t1\nQ-2\tbans\t1\n",
        evidence=_jsonl([{"query_id": "Q-1", "evidence": ["14 days"]}]),
    )
    with caplog.at_level(logging.WARNING, logger="eval.datasets"):
        load_dataset(folder)
    assert "evidence.jsonl names 1 question(s) not in queries.jsonl (Q-1)" in caplog.text
    assert "qrels.tsv names 1 question(s) not in queries.jsonl (Q-2)" in caplog.text


def test_a_split_borrowing_another_splits_judgements_is_not_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = write_set(tmp_path / "set", split="dev", evidence=_jsonl([{"query_id": "q1",
                       "evidence": ["14 days"]}]))  # fmt: skip
    (folder / "queries.dev_other.jsonl").write_text(_jsonl(QUESTIONS[1:]))
    with caplog.at_level(logging.WARNING, logger="eval.datasets"):
        load_dataset(folder, "dev_other")
    assert "question(s) not in" not in caplog.text


def test_the_evaluator_page_offers_only_real_splits(tmp_path: Path) -> None:
    """queries_old.jsonl was offered as a second "(all)" split, next to queries.jsonl."""
    folder = write_set(tmp_path / "sets" / "s")
    (folder / "queries_old.jsonl").write_text(_jsonl(QUESTIONS))
    (folder / "queries.dev.v2.jsonl").write_text(_jsonl(QUESTIONS))
    found = available_datasets(tmp_path / "nokb", tmp_path / "sets")
    assert found["s"]["splits"] == [None]


def test_a_labelled_set_named_kb_does_not_replace_the_knowledge_bases_own(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A folder named kb in KB_DATASETS_DIR silently took the name of the knowledge base's own
    questions, on the evaluator page and in /eval/runs."""
    own = write_set(tmp_path / "kb")
    write_set(tmp_path / "sets" / "kb")
    write_set(tmp_path / "sets" / "other")
    with caplog.at_level(logging.WARNING, logger="insights.evaluation"):
        found = available_datasets(own, tmp_path / "sets")
    assert found["kb"]["path"] == str(own) and "other" in found
    assert "rename that folder" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="insights.evaluation"):
        same = available_datasets(tmp_path / "kb", tmp_path)  # KB_DATASETS_DIR holds kb/ itself
    assert same["kb"]["path"] == str(tmp_path / "kb") and not caplog.text


# -- a run that fits the API's limits still measures -----------------------------------------


def test_a_low_max_top_k_does_not_fail_the_run_after_indexing(tmp_path: Path) -> None:
    """KB_MAX_TOP_K=20 made every run fail after indexing: "top_k must be between 1 and 20"."""
    settings = Settings(chunk_max_tokens=60, chunk_min_tokens=8, max_top_k=5)
    dataset = load_dataset(write_set(tmp_path / "set"))
    result = run_modes(dataset, ["bm25"], settings, tmp_path / "cache", embedder=FakeEmbedder())
    assert result["results"]["bm25"]["metrics"]["queries"] == 2


# -- what a run measured, and why a question failed ------------------------------------------


def _run(tmp_path: Path, **settings: object) -> dict:
    folder = write_set(
        tmp_path / "set",
        evidence=_jsonl([{"query_id": "q1", "evidence": ["within 14 days"]},
                         {"query_id": "q2", "evidence": ["not in any document"]}]),
    )  # fmt: skip
    base = Settings(chunk_max_tokens=60, chunk_min_tokens=8, **settings)
    dataset = load_dataset(folder)
    return run_modes(dataset, ["bm25", "default"], base, tmp_path / "cache", None, FakeEmbedder())


def test_results_and_their_table_say_what_was_measured(tmp_path: Path) -> None:
    result = _run(tmp_path, search_mode="dense")
    config = result["config"]
    assert config["model"] == FakeEmbedder.fingerprint
    assert config["chunker"] == CHUNKER_VERSION
    assert config["chunk_tokens"] == [60, 8]
    assert config["default_mode"] == "dense"
    assert config["documents"] == 3 and len(config["corpus_hash"]) == 16
    table = markdown_table(result)
    assert f"model `{FakeEmbedder.fingerprint}`" in table
    assert f"chunker `{CHUNKER_VERSION}`" in table and "default mode: dense" in table
    assert "3 documents" in table
    # docs/retrieval.md states the configuration once, above all its tables
    assert retrieval_doc([result]).count(f"chunker `{CHUNKER_VERSION}`") == 1


def test_a_baseline_measured_otherwise_is_noted(tmp_path: Path) -> None:
    result = _run(tmp_path)
    before = json.loads(json.dumps(result))
    before["config"]["model"] = "another-model@v1"
    before["config"]["chunk_tokens"] = [200, 64]
    notes = baseline_notes(result, before)
    assert "the baseline was measured with model another-model@v1" in " ".join(notes)
    assert "chunk_tokens [200, 64]" in " ".join(notes)
    assert baseline_notes(result, result) == []
    del before["config"]  # a baseline recorded before results said how they were measured
    assert baseline_notes(result, before) == []


def test_per_query_rows_show_why_a_question_failed(tmp_path: Path) -> None:
    block = _run(tmp_path)["results"]["bm25"]
    rows = {r["query_id"]: r for r in block["per_query"]}
    q1, q2 = rows["q1"], rows["q2"]
    assert q1["first_relevant_rank"] == 1 + q1["ranked_docs"].index("refunds")
    assert q1["evidence"] == ["within 14 days"] and q1["evidence_rank"] is not None
    assert q2["evidence"] == ["not in any document"] and q2["evidence_rank"] is None
    assert all(isinstance(r["flagged_no_answer"], bool) for r in rows.values())
    # the unanswerable question: which were flagged, and what came back for them
    [q3] = block["unanswerable"]
    assert q3["query_id"] == "q3" and isinstance(q3["flagged_no_answer"], bool)
    assert "ranked_docs" in q3 and "top_passages" in q3


def test_first_relevant_rank_looks_past_the_top_ten(tmp_path: Path) -> None:
    """Ranked past 10 it read "not in the top 10" (None), the same as never retrieved."""
    from eval.datasets import Dataset
    from eval.runner import evaluate
    from tests.test_eval_metrics import _StubSearcher

    docs = [f"d{i}" for i in range(12)]
    dataset = Dataset("s", None, [], {"q1": "q1"}, {"q1": {"d11": 1}})
    row = evaluate(dataset, _StubSearcher({"q1": docs}))["per_query"][0]
    assert row["first_relevant_rank"] == 12 and len(row["ranked_docs"]) == 10


# -- the API and the evaluator page ----------------------------------------------------------


def test_the_api_drill_down_keeps_ranks_past_the_top_ten(fake_embedder, tmp_path: Path) -> None:
    """insights.evaluation.run recomputed the rank over the ten documents shown: a relevant
    document found at rank 12 read as never found."""
    from insights.evaluation import run

    crowd = [
        {"doc_id": f"d{i:02d}", "title": f"Coins {i}", "text": "coins refunded " * (12 - i)}
        for i in range(11)
    ]
    target = {"doc_id": "zz", "title": "Policy", "text": "Coins are refunded. " + "x " * 40}
    folder = write_set(
        tmp_path / "set",
        corpus=_jsonl([*crowd, target]),
        queries=_jsonl([{"query_id": "q1", "text": "coins refunded"}]),
        qrels=HEADER + "q1\tzz\t1\n",
    )
    settings = Settings(chunk_max_tokens=60, chunk_min_tokens=8)
    block = run(folder, None, ["bm25"], fake_embedder, settings, tmp_path / "c")["results"]["bm25"]
    [row] = block["per_query"]
    assert "zz" not in row["ranked_docs"]
    assert row["first_relevant_rank"] is not None and row["first_relevant_rank"] > 10


def test_the_page_shows_what_was_measured_and_the_unanswerable_questions(
    api_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_ui_pages import EVALUATE, _markdown

    write_set(  # beside make_app's tiny set
        tmp_path / "datasets" / "withno",
        split="dev",
        evidence=_jsonl([{"query_id": "q1", "evidence": ["refunded within 14 days"]}]),
    )
    at = AppTest.from_file(EVALUATE, default_timeout=30).run()
    at.selectbox(key="eval-set").set_value("withno").run()
    at.multiselect[0].set_value(["bm25"]).run()
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    deadline = time.monotonic() + 30
    while len(at.dataframe) < 3:
        assert not at.exception, at.exception
        assert time.monotonic() < deadline, _markdown(at)
        time.sleep(0.1)
        at.run()
    captions = " ".join(c.value for c in at.caption)
    assert "Measured with model" in captions and CHUNKER_VERSION in captions
    assert "Questions the set marks unanswerable" in [h.value for h in at.subheader]
    unanswerable = at.dataframe[2].value
    assert unanswerable["query_id"].tolist() == ["q3"]
    assert unanswerable["flagged no answer"].tolist()[0] in ("yes", "no")  # not 1.000 / 0.000
    shown = _markdown(at)
    assert "Where the expected document ranked:" in shown
    # q1, the first question drilled into: its first passage is its only sentence
    assert "Highlighted in the first passage (the evidence):" in shown, shown
