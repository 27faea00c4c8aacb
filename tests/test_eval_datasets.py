"""Reading labelled sets nobody on the project wrote: every fault is named before indexing."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from eval.datasets import load_dataset
from eval.metrics import evidence_hit_at
from eval.runner import fit_questions
from indexer.errors import KBError
from indexer.search import validate_query
from indexer.settings import Settings
from kb_cli.main import main

CORPUS = [
    {"doc_id": "d1", "title": "Refunds", "text": "Refunds take 14 days."},
    {"doc_id": "d2", "title": "Payouts", "text": "Payouts are weekly."},
]


def _write(
    folder: Path,
    corpus: list | None = None,
    queries: list | None = None,
    qrels: str = "query_id\tdoc_id\trelevance\nq1\td1\t1\n",
    evidence: list | None = None,
    bom: bool = False,
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "\ufeff" if bom else ""

    def jsonl(rows: list) -> str:
        return prefix + "".join(json.dumps(r) + "\n" for r in rows)

    (folder / "corpus.jsonl").write_text(jsonl(corpus or CORPUS), encoding="utf-8")
    (folder / "queries.jsonl").write_text(
        jsonl(queries or [{"query_id": "q1", "text": "how long do refunds take"}]),
        encoding="utf-8",
    )
    (folder / "qrels.tsv").write_text(prefix + qrels, encoding="utf-8")
    if evidence is not None:
        (folder / "evidence.jsonl").write_text(jsonl(evidence), encoding="utf-8")
    return folder


def test_byte_order_marks_as_editors_write_them_are_read(tmp_path: Path) -> None:
    dataset = load_dataset(_write(tmp_path / "set", bom=True))
    assert [d.doc_id for d in dataset.documents] == ["d1", "d2"]
    assert dataset.queries == {"q1": "how long do refunds take"}
    assert dataset.qrels == {"q1": {"d1": 1}}


def test_one_evidence_string_is_one_evidence_not_its_letters(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "set", evidence=[{"query_id": "q1", "doc_id": "d1", "evidence": "14 days"}]
    )
    dataset = load_dataset(folder)
    assert dataset.evidence == {"q1": ["14 days"]}
    # A passage without the evidence must not count as a hit.
    assert evidence_hit_at(["Payouts are weekly."], dataset.evidence["q1"], 1) == 0.0
    assert evidence_hit_at(["Refunds take 14 days."], dataset.evidence["q1"], 1) == 1.0


def test_a_blank_evidence_string_is_refused(tmp_path: Path) -> None:
    """Scored, a blank string counted as a miss on every run, without a word."""
    folder = _write(tmp_path / "set", evidence=[{"query_id": "q1", "evidence": ["14 days", " "]}])
    with pytest.raises(KBError, match=r"evidence\.jsonl:1: an evidence string is blank"):
        load_dataset(folder)


def test_evidence_of_another_type_is_refused(tmp_path: Path) -> None:
    folder = _write(tmp_path / "set", evidence=[{"query_id": "q1", "evidence": {"a": 1}}])
    with pytest.raises(KBError, match=r"evidence\.jsonl:1: 'evidence' must be a list"):
        load_dataset(folder)


def test_a_broken_line_is_named_by_file_and_line(tmp_path: Path) -> None:
    folder = _write(tmp_path / "set")
    with (folder / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"doc_id": "d3", "text": "unterminated\n')
    with pytest.raises(KBError, match=r"corpus\.jsonl:3: not valid JSON"):
        load_dataset(folder)


def test_a_missing_field_is_named(tmp_path: Path) -> None:
    folder = _write(tmp_path / "set", corpus=[{"doc_id": "d1", "title": "no text"}])
    with pytest.raises(KBError, match=r"corpus\.jsonl:1: missing field 'text'"):
        load_dataset(folder)
    folder = _write(tmp_path / "set2", queries=[{"text": "who am i"}])
    with pytest.raises(KBError, match=r"queries\.jsonl:1: missing field 'query_id'"):
        load_dataset(folder)


def test_beir_spellings_are_read(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "set",
        corpus=[{"_id": "d1", "title": "Refunds", "text": "Refunds take 14 days."}],
        queries=[{"_id": "q1", "text": "refund time"}],
        qrels="query-id\tcorpus-id\tscore\nq1\td1\t1.0\n",
    )
    dataset = load_dataset(folder)
    assert [d.doc_id for d in dataset.documents] == ["d1"]
    assert dataset.qrels == {"q1": {"d1": 1}}


def test_repeated_or_empty_questions_and_repeated_documents_are_refused(tmp_path: Path) -> None:
    twice = [{"query_id": "q1", "text": "a"}, {"query_id": "q1", "text": "b"}]
    with pytest.raises(KBError, match=r"queries\.jsonl:2: query_id 'q1' is repeated"):
        load_dataset(_write(tmp_path / "a", queries=twice))
    with pytest.raises(KBError, match=r"question 'q1' is empty"):
        load_dataset(_write(tmp_path / "b", queries=[{"query_id": "q1", "text": "  "}]))
    with pytest.raises(KBError, match=r"doc_id 'd1' already used on line 1"):
        load_dataset(_write(tmp_path / "c", corpus=[CORPUS[0], CORPUS[0]]))


def test_relevance_must_be_a_whole_number(tmp_path: Path) -> None:
    folder = _write(tmp_path / "set", qrels="query_id\tdoc_id\trelevance\nq1\td1\t0.5\n")
    with pytest.raises(KBError, match=r"qrels\.tsv:2: relevance must be a whole number"):
        load_dataset(folder)
    folder = _write(tmp_path / "set2", qrels="query_id\tdoc_id\trelevance\nq1\td1\tyes\n")
    with pytest.raises(KBError, match=r"qrels\.tsv:2: relevance must be a whole number"):
        load_dataset(folder)


def test_evidence_no_passage_can_hold_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A labelling slip (a string not verbatim in its document, or naming a document the
    corpus lacks) could only count as a miss: evidence_hit fell without a word."""
    evidence = [
        {"query_id": "q1", "doc_id": "d1", "evidence": ["Refunds  take\n14 days."]},  # found
        {"query_id": "q1", "doc_id": "d2", "evidence": ["Refunds take 14 days."]},  # other doc
        {"query_id": "q1", "doc_id": "dZZ", "evidence": ["Payouts are weekly."]},  # no doc
        {"query_id": "q1", "evidence": ["Payouts are weekly."]},  # names none: in some doc
        {"query_id": "q1", "evidence": ["Not in any document."]},
    ]
    with caplog.at_level(logging.WARNING, logger="eval.datasets"):
        load_dataset(_write(tmp_path / "set", evidence=evidence))
    assert "3 evidence string(s) are not in the document they name" in caplog.text
    assert "'Not in any document.'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eval.datasets"):
        load_dataset(_write(tmp_path / "ok", evidence=evidence[:1] + evidence[3:4]))
    assert "evidence string" not in caplog.text


def test_files_that_are_not_utf8_are_named(tmp_path: Path) -> None:
    folder = _write(tmp_path / "set")
    (folder / "queries.jsonl").write_bytes(b'{"query_id": "q1", "text": "caf\xe9"}\n')
    with pytest.raises(KBError, match=r"queries\.jsonl:1: not UTF-8 text"):
        load_dataset(folder)


def test_judgements_of_unknown_documents_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _write(tmp_path / "set", qrels="query_id\tdoc_id\trelevance\nq1\tD1\t1\n")
    with caplog.at_level(logging.WARNING, logger="eval.datasets"):
        load_dataset(folder)
    assert "1 judgement(s) name documents that are not in the corpus" in caplog.text
    assert "q1 -> D1" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="eval.datasets"):
        load_dataset(_write(tmp_path / "ok"))
    assert "not in the corpus" not in caplog.text


def test_long_questions_raise_the_limit_for_the_run_and_say_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    long_question = "my situation is this: " + "word " * 300
    folder = _write(tmp_path / "set", queries=[{"query_id": "q1", "text": long_question}])
    dataset = load_dataset(folder)
    settings = Settings(max_query_chars=1000)
    with pytest.raises(Exception, match="the limit is 1000"):
        validate_query(long_question, 5, settings)
    with caplog.at_level(logging.WARNING, logger="eval.runner"):
        fitted = fit_questions(dataset, settings)
    assert validate_query(long_question, 5, fitted)
    assert "1 question(s) are longer than KB_MAX_QUERY_CHARS (1000" in caplog.text
    assert fit_questions(load_dataset(_write(tmp_path / "short")), settings) is settings


def test_kb_eval_stops_on_a_broken_set_before_indexing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path / "set")
    (folder / "qrels.tsv").write_text("q1\td1\t1\n", encoding="utf-8")
    code = main(["eval", str(folder), "--cache-dir", str(tmp_path / "cache")])
    assert code == 2  # bad input, not a regression (1): a CI gate can tell the two apart
    assert "must start with the header" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing"), "--cache-dir", str(tmp_path / "c")]) == 2
    assert not (tmp_path / "cache").exists()


def test_a_reworded_split_shares_the_judgements_of_the_split_it_extends(tmp_path: Path) -> None:
    folder = _write(tmp_path / "set")
    (folder / "queries.jsonl").rename(folder / "queries.dev.jsonl")
    (folder / "qrels.tsv").rename(folder / "qrels.dev.tsv")
    (folder / "evidence.dev.jsonl").write_text(
        json.dumps({"query_id": "q1", "evidence": ["14 days"]}) + "\n", encoding="utf-8"
    )
    scenario = {"query_id": "q1", "text": "I bought coins last week. How long do refunds take?"}
    (folder / "queries.dev_with_scenario.jsonl").write_text(
        json.dumps(scenario) + "\n", encoding="utf-8"
    )
    dataset = load_dataset(folder, "dev_with_scenario")
    assert dataset.queries == {"q1": scenario["text"]}
    assert dataset.qrels == {"q1": {"d1": 1}}
    assert dataset.evidence == {"q1": ["14 days"]}
    with pytest.raises(KBError, match=r"has no qrels\.test\.tsv"):
        (folder / "queries.test.jsonl").write_text(json.dumps(scenario) + "\n", "utf-8")
        (folder / "qrels.dev.tsv").rename(folder / "other.tsv")
        load_dataset(folder, "test")


def test_kb_eval_shows_progress_for_indexing_and_questions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _write(tmp_path / "set")
    code = main(["eval", str(folder), "--mode", "all", "--cache-dir", str(tmp_path / "cache")])
    assert code == 0
    err = capsys.readouterr().err
    assert "embedding" in err and "4/4" in err  # 4 modes x 1 question
    assert "searching" in err
    main(["eval", str(folder), "--quiet", "--cache-dir", str(tmp_path / "cache")])
    assert "searching" not in capsys.readouterr().err


def test_cached_indexes_unused_for_a_month_are_removed(tmp_path: Path, fake_embedder) -> None:
    """Each corpus version or configuration adds a cached index; the ones no evaluation has
    used for CACHE_KEEP_S go when a new one is built, the rest (and other files) stay."""
    import os
    import time

    from eval.runner import CACHE_KEEP_S, USED_MARK, cached_index

    root = tmp_path / "cache"
    month_ago = time.time() - CACHE_KEEP_S - 86400

    def entry(name: str, used: float | None, mark: bool = True) -> Path:
        folder = root / name
        folder.mkdir(parents=True)
        (folder / "CURRENT").write_text("gen-x")
        if mark:
            (folder / USED_MARK).touch()
            os.utime(folder / USED_MARK, (used, used))
        os.utime(folder, (month_ago, month_ago))
        return folder

    stale = entry("set-old-config", month_ago)
    unmarked = entry("set-from-before-marks", None, mark=False)  # falls back on the folder's time
    recent = entry("set-other-config", time.time() - 86400)
    (root / "not-an-index").mkdir()
    (root / "runs.sqlite").write_text("evaluation runs")
    ds = load_dataset(_write(tmp_path / "set"))
    small = Settings(chunk_max_tokens=60, chunk_min_tokens=8)  # within the fake model's limit

    built = cached_index(ds, fake_embedder, small, root)
    assert not stale.exists() and not unmarked.exists()
    assert recent.exists() and (root / "not-an-index").exists() and (root / "runs.sqlite").exists()
    assert (built / USED_MARK).exists()

    os.utime(built / USED_MARK, (month_ago, month_ago))
    assert cached_index(ds, fake_embedder, small, root) == built  # a cache hit...
    assert time.time() - (built / USED_MARK).stat().st_mtime < 60  # ...marks it used


def test_a_cached_index_left_at_its_early_generation_is_built_again(
    tmp_path: Path, fake_embedder
) -> None:
    """A build stopped after its early generation (pooled windows) left that generation in the
    cache, and every later run measured it: a false regression of every first-passage metric.
    A run that finds another one building the same index stops with "locked"."""
    import threading

    from eval.runner import cached_index
    from indexer.build import index_documents
    from indexer.errors import IndexLockedError
    from indexer.store import read_manifest, writer_lock

    ds = load_dataset(_write(tmp_path / "set"))
    small = Settings(chunk_max_tokens=60, chunk_min_tokens=8)
    root = tmp_path / "cache"
    built = cached_index(ds, fake_embedder, small, root)
    index_documents(
        ds.documents, built, fake_embedder, max_tokens=60, min_tokens=8, windows="pooled"
    )  # fmt: skip - what an interrupted build leaves
    assert read_manifest(built).chunker["windows"] == "pooled"
    assert cached_index(ds, fake_embedder, small, root) == built
    assert read_manifest(built).chunker["windows"] == "separate"

    holding, release = threading.Event(), threading.Event()

    def another_run() -> None:
        with writer_lock(built):
            holding.set()
            release.wait(10)

    other = threading.Thread(target=another_run)
    other.start()
    holding.wait(10)
    try:
        with pytest.raises(IndexLockedError):
            cached_index(ds, fake_embedder, small, root)
    finally:
        release.set()
        other.join()


def test_a_damaged_cached_index_is_built_again(tmp_path: Path, fake_embedder) -> None:
    """A cache entry failing its checksums stopped every later run with exit 3, without
    saying which folder to delete."""
    from eval.runner import cached_index, run_modes
    from indexer.store import current_generation

    ds = load_dataset(_write(tmp_path / "set"))
    small = Settings(chunk_max_tokens=60, chunk_min_tokens=8)
    root = tmp_path / "cache"
    vectors = current_generation(cached_index(ds, fake_embedder, small, root)) / "vectors.faiss"
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF
    vectors.write_bytes(bytes(data))
    result = run_modes(ds, ["default"], small, root, embedder=fake_embedder)
    assert result["results"]["default"]["metrics"]["queries"] == 1


def test_a_split_without_judgements_of_its_own_does_not_take_the_unsuffixed_ones(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """queries.test.jsonl beside qrels.tsv and evidence.jsonl (labels of other questions with
    the same ids) was scored against them without a word."""
    folder = _write(
        tmp_path / "set", evidence=[{"query_id": "q1", "doc_id": "d1", "evidence": ["14 days"]}]
    )
    (folder / "queries.test.jsonl").write_text(
        json.dumps({"query_id": "q1", "text": "when are payouts sent"}) + "\n", "utf-8"
    )
    with pytest.raises(KBError, match=r"has no qrels\.test\.tsv"):
        load_dataset(folder, "test")
    (folder / "qrels.test.tsv").write_text("query_id\tdoc_id\trelevance\nq1\td2\t1\n", "utf-8")
    with caplog.at_level(logging.WARNING, logger="eval.datasets"):
        dataset = load_dataset(folder, "test")
    assert dataset.qrels == {"q1": {"d2": 1}} and dataset.evidence == {}
    assert dataset.labels_from == ["queries.test.jsonl", "qrels.test.tsv"]
    # the evidence metrics are gone from the run: the evaluator is told why
    assert "evidence.jsonl is not read for split test" in caplog.text
    assert "evidence.test.jsonl" in caplog.text
    caplog.clear()
    (folder / "evidence.test.jsonl").write_text(
        json.dumps({"query_id": "q1", "doc_id": "d2", "evidence": ["weekly"]}) + "\n", "utf-8"
    )
    with caplog.at_level(logging.WARNING, logger="eval.datasets"):
        assert load_dataset(folder, "test").evidence == {"q1": ["weekly"]}
    assert "is not read" not in caplog.text


@pytest.mark.parametrize("value", ['"false"', "0", "null", '"no"'])
def test_an_answerable_flag_that_is_not_a_boolean_is_refused(tmp_path: Path, value: str) -> None:
    folder = _write(tmp_path / "set")
    (folder / "queries.jsonl").write_text(
        '{"query_id": "q1", "text": "how long do refunds take"}\n'
        f'{{"query_id": "q2", "text": "student discount?", "answerable": {value}}}\n',
        "utf-8",
    )
    with pytest.raises(KBError, match=r"queries\.jsonl:2: 'answerable' must be true or false"):
        load_dataset(folder)


@pytest.mark.parametrize(
    "text",
    [
        "\\u200b\\u200b\\u00ad",  # invisible characters
        "\\u0000\\u0001 \\u007f",  # control characters, read by search as spaces
    ],
)
def test_a_question_search_reads_as_empty_is_refused_before_indexing(
    tmp_path: Path, text: str
) -> None:
    """Refused as the file's line before the corpus is indexed: "\\x00\\x01" failed the run
    after indexing."""
    folder = _write(tmp_path / "set")
    (folder / "queries.jsonl").write_text(
        '{"query_id": "q1", "text": "how long do refunds take"}\n'
        f'{{"query_id": "q2", "text": "{text}"}}\n',
        "utf-8",
    )
    with pytest.raises(KBError, match=r"queries\.jsonl:2: question 'q2' is empty"):
        load_dataset(folder)


def test_labels_no_search_can_satisfy_or_that_contradict_are_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = [*CORPUS, {"doc_id": "blank", "title": "Loyalty tiers", "text": ""}]
    folder = _write(
        tmp_path / "set",
        corpus=corpus,
        queries=[
            {"query_id": "q1", "text": "how long do refunds take"},
            {"query_id": "q2", "text": "loyalty tiers"},
            {"query_id": "q3", "text": "payout day", "answerable": False},
        ],
        qrels="query_id\tdoc_id\trelevance\nq1\td1\t1\nq2\tblank\t1\nq3\td2\t1\n",
    )
    with caplog.at_level(logging.WARNING):
        load_dataset(folder)
    said = caplog.text
    assert "1 judgement(s) name documents with no text" in said and "q2 -> blank" in said
    assert "marks 1 question(s) unanswerable" in said and "q3" in said


def test_unicode_lookalike_ids_are_explained(tmp_path: Path, caplog) -> None:
    nfc, nfd = "\u00fc1", "u\u03081"
    folder = _write(
        tmp_path / "set",
        queries=[{"query_id": nfc, "text": "how long do refunds take"}],
        qrels=f"query_id\tdoc_id\trelevance\n{nfc}\td1\t1\n{nfd}\td2\t1\n",
    )
    with caplog.at_level(logging.WARNING):
        load_dataset(folder)
    assert "NFC" in caplog.text


def test_labels_hash_follows_every_label_and_nothing_else(tmp_path: Path) -> None:
    base = load_dataset(_write(tmp_path / "a")).labels_hash
    assert load_dataset(_write(tmp_path / "b")).labels_hash == base
    relabelled = _write(tmp_path / "c", qrels="query_id\tdoc_id\trelevance\nq1\td2\t1\n")
    assert load_dataset(relabelled).labels_hash != base
    with_evidence = _write(
        tmp_path / "d", evidence=[{"query_id": "q1", "doc_id": "d1", "evidence": ["14 days"]}]
    )
    assert load_dataset(with_evidence).labels_hash != base
    moved = _write(
        tmp_path / "e", evidence=[{"query_id": "q1", "doc_id": "d2", "evidence": ["14 days"]}]
    )
    assert load_dataset(moved).labels_hash != load_dataset(with_evidence).labels_hash


def test_line_separators_json_allows_inside_strings_do_not_break_a_line(tmp_path: Path) -> None:
    # json.dumps(..., ensure_ascii=False) writes U+2028, U+2029 and U+0085 as they are: text
    # pasted from web pages and Word holds them, and the line stays one valid JSON object.
    text = "Refunds take 14 days.\u2028Payouts\u2029are weekly.\x85Done."
    folder = _write(tmp_path / "set")
    (folder / "corpus.jsonl").write_text(
        json.dumps({"doc_id": "d1", "title": "Refunds", "text": text}, ensure_ascii=False)
        + "\n"
        + json.dumps({"doc_id": "d2", "title": "Payouts", "text": "Payouts are weekly."})
        + "\n",
        encoding="utf-8",
    )
    dataset = load_dataset(folder)
    assert [d.doc_id for d in dataset.documents] == ["d1", "d2"]
    # and a broken line after one is named by the line an editor shows
    with (folder / "corpus.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"doc_id": "d3", "text": \n')
    with pytest.raises(KBError, match=r"corpus\.jsonl:3: not valid JSON"):
        load_dataset(folder)


def test_bytes_that_are_not_utf8_are_named_by_line(tmp_path: Path) -> None:
    folder = _write(tmp_path / "set")
    (folder / "queries.jsonl").write_bytes(
        b'{"query_id": "q0", "text": "refunds"}\r\n'
        b'{"query_id": "q1", "text": "how long do refunds take"}\r\n'
        b'{"query_id": "q2", "text": "caf\xe9 refunds"}\r\n'
    )
    with pytest.raises(KBError, match=r"queries\.jsonl:3: not UTF-8 text \(byte 126, b'\\xe9'"):
        load_dataset(folder)


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("corpus.jsonl", '{"doc_id": "d3", "text": "Refunds \\ud83d take 14 days."}'),
        ("queries.jsonl", '{"query_id": "q2", "text": "refund window \\ud83d"}'),
        ("queries.jsonl", '{"query_id": "q\\udc00", "text": "refund window"}'),
        ("evidence.jsonl", '{"query_id": "q1", "doc_id": "d1", "evidence": ["14 \\ud83d"]}'),
    ],
)
def test_half_a_character_is_named_by_file_and_line_before_indexing(
    tmp_path: Path, name: str, line: str
) -> None:
    """A string cut inside an emoji (JavaScript's slice) leaves a \\u escape of a lone UTF-16
    surrogate: valid JSON, not text. It ended in a traceback while the labels were hashed, or
    in a failed run (exit 3) once the corpus was indexed."""
    folder = _write(tmp_path / "set", evidence=[])
    with (folder / name).open("a", encoding="utf-8") as f:
        f.write(line + "\n")
    number = len((folder / name).read_text("utf-8").splitlines())
    with pytest.raises(KBError, match=rf"{re.escape(name)}:{number}: holds half a character"):
        load_dataset(folder)


def test_a_line_nested_past_the_parsers_depth_is_named(tmp_path: Path) -> None:
    folder = _write(tmp_path / "set")
    with (folder / "queries.jsonl").open("a", encoding="utf-8") as f:
        f.write("[" * 100_000 + "\n")
    with pytest.raises(KBError, match=r"queries\.jsonl:2: JSON nested too deep"):
        load_dataset(folder)


@pytest.mark.parametrize(
    ("first", "hint"),
    [
        ("q1\td1\t1", "its first line is 'q1\\td1\\t1' (a judgement: add the header line"),
        ("query_id doc_id relevance", "(the fields must be separated by tabs)"),
        ("query_id,doc_id,relevance", "(the fields must be separated by tabs)"),
        ("\tquery_id\tdoc_id\trelevance", "(a leading index column, as pandas writes"),
        ("", "it is empty"),
    ],
)
def test_a_qrels_file_without_its_header_shows_its_first_line_and_why(
    tmp_path: Path, first: str, hint: str
) -> None:
    """ "must start with the header" alone left the evaluator to guess what was wrong with a
    line that looked like one (spaces for tabs) or that they had not noticed was missing."""
    folder = _write(tmp_path / "set", qrels=first + ("\nq1\td1\t1\n" if first else ""))
    with pytest.raises(KBError) as caught:
        load_dataset(folder)
    message = str(caught.value)
    assert "qrels.tsv:1: must start with the header 'query_id<TAB>doc_id<TAB>relevance'" in message
    assert hint in message, message


def test_a_judgement_line_of_another_shape_shows_what_it_holds(tmp_path: Path) -> None:
    head = "query_id\tdoc_id\trelevance\n"
    folder = _write(tmp_path / "trec", qrels=head + "q1\t0\td1\t1\n")
    with pytest.raises(
        KBError,
        match=r"qrels\.tsv:2: expected 3 tab-separated fields .* got 4: "
        r"'q1\\t0\\td1\\t1' \(TREC's 'query Q0 doc relevance' has 4",
    ):
        load_dataset(folder)
    folder = _write(tmp_path / "tab", qrels=head + "q1\td1\t1\t\n")
    with pytest.raises(KBError, match=r"got 4: 'q1\\td1\\t1\\t' \(a tab after the last field\)$"):
        load_dataset(folder)
    folder = _write(tmp_path / "spaces", qrels=head + "q1 d1 1\n")
    with pytest.raises(KBError, match=r"qrels\.tsv:2: expected 3 .* got 1: 'q1 d1 1'$"):
        load_dataset(folder)
