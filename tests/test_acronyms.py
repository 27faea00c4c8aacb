"""Acronyms a knowledge base defines, spelled out for the model at search time, on both backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.acronyms import acronym_map, definitions, expand
from indexer.build import build_index
from indexer.search import open_searcher
from indexer.settings import Settings

OPTIONS = {"max_tokens": 60, "min_tokens": 8}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Bereavement Support Payment (BSP) if", [("BSP", "Bereavement Support Payment")]),
        # Small words may be skipped or spend a letter.
        (
            "the Department for Work and Pensions (DWP)",
            [("DWP", "Department for Work and Pensions")],
        ),
        ("a Statement of Work (SOW) is", [("SOW", "Statement of Work")]),
        # An acronym inside the long form gives its first letter; quotes and a plural are read.
        ("your PAYE Settlement Agreement (‘PSA’) by", [("PSA", "PAYE Settlement Agreement")]),
        ("Internet Service Providers (ISPs) must", [("ISP", "Internet Service Providers")]),
        ("the Department for Education (DfE)", [("DfE", "Department for Education")]),
    ],
)
def test_definitions_are_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert definitions(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "refunds are handled by the team (see above)",  # not an acronym
        "contact the billing team (QA) today",  # initials do not spell it
        "rules for the market (EU)",  # one word cannot spell two letters
        "Payment. Support (PS) starts",  # the long form may not cross a sentence
        "in the Netherlands (NL)",  # a lone word is not a long form
    ],
)
def test_non_definitions_are_left_alone(text: str) -> None:
    assert definitions(text) == []


def test_map_keeps_the_majority_and_drops_ties() -> None:
    texts = [
        "The Personal Allowance (PA) is tax free.",
        "Your Personal Allowance (PA) may fall.",
        "A Personal Assistant (PA) can help.",
        "Child Sexual Abuse Material (CSAM) goes to CSRT.",
        "A Team Lead (TL) approves; a Trust Lead (TL) signs.",
    ]
    found = acronym_map(texts)
    assert found["PA"] == ["Personal Allowance", False]  # two letters: exact case only
    assert found["CSAM"] == ["Child Sexual Abuse Material", True]
    assert "TL" not in found


def test_lower_case_only_where_the_corpus_never_uses_the_word() -> None:
    found = acronym_map(
        ["The Australian Capital Territory (ACT) rules.", "Under the act, refunds are due."]
    )
    assert found["ACT"][1] is False
    assert expand("refund under the act?", found) == ("refund under the act?", [])
    assert expand("ACT refund rules", found) == (
        "ACT (Australian Capital Territory) refund rules",
        [("ACT", "Australian Capital Territory")],
    )


def test_expand_spells_out_once_and_not_when_already_spelled() -> None:
    amap = {"CSAM": ["child sexual abuse material", True], "NI": ["National Insurance", False]}
    text, used = expand("csam hash match, csam report and NI number", amap)
    assert text == (
        "csam (child sexual abuse material) hash match, csam (child sexual abuse material) "
        "report and NI (National Insurance) number"
    )
    assert used == [("CSAM", "child sexual abuse material"), ("NI", "National Insurance")]
    assert expand("ni number", amap) == ("ni number", [])  # two letters: exact case only
    assert expand("Child sexual abuse material (CSAM) reports", amap)[1] == []
    assert expand("anything", {}) == ("anything", [])


class _Recorder:
    """The test encoder, recording what the model is asked to read."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.read: list[str] = []

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def encode(self, texts, show_progress: bool = False):
        self.read.extend(texts)
        return self._inner.encode(texts)


@pytest.fixture(params=["local", "postgres"])
def target(request, tmp_path: Path):
    if request.param == "local":
        return tmp_path / "index"
    return request.getfixturevalue("pg_database")


def test_search_reads_defined_short_forms_to_the_model(
    target, sample_kb: Path, fake_embedder
) -> None:
    (sample_kb / "policies" / "returns.md").write_text(
        "# Returns\n\n## Authorisation\n\nA Widget Return Authorisation (WRA) is needed before "
        "a widget is sent back. Agents raise it in the returns console.\n",
        encoding="utf-8",
    )
    report = build_index(sample_kb, target, fake_embedder, **OPTIONS)
    assert report.manifest.acronyms["WRA"] == ["Widget Return Authorisation", True]
    recorder = _Recorder(fake_embedder)
    s = open_searcher(target, recorder, Settings(expand_acronyms=True))
    try:
        response = s.search("customer wants a wra", top_k=3, mode="dense")
        assert recorder.read[-1] == "customer wants a wra (Widget Return Authorisation)"
        assert response.query == "customer wants a wra"  # reported as typed
        assert response.acronyms == [("WRA", "Widget Return Authorisation")]
        assert response.to_dict()["acronyms"] == [
            {"short": "WRA", "long": "Widget Return Authorisation"}
        ]
        # The bag-of-words test encoder puts the page first through the spelled-out words.
        assert response.results[0].doc_id == "policies/returns.md"
    finally:
        s.close()
    plain = open_searcher(target, recorder, Settings())  # the default: off
    try:
        response = plain.search("customer wants a wra", top_k=3, mode="dense")
        assert recorder.read[-1] == "customer wants a wra" and response.acronyms == []
        assert response.results[0].doc_id != "policies/returns.md"
    finally:
        plain.close()


def test_a_database_from_before_the_migration_gets_its_acronyms(
    pg_database: str, sample_kb: Path, fake_embedder
) -> None:
    import psycopg

    (sample_kb / "policies" / "returns.md").write_text(
        "A Widget Return Authorisation (WRA) is needed first.\n", encoding="utf-8"
    )
    build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    with psycopg.connect(pg_database, autocommit=True) as con:
        con.execute("UPDATE kb_state SET acronyms = NULL")  # as migration 005 leaves it
    again = build_index(sample_kb, pg_database, fake_embedder, **OPTIONS)
    assert not again.unchanged and "WRA" in again.manifest.acronyms
    assert build_index(sample_kb, pg_database, fake_embedder, **OPTIONS).unchanged


def test_a_short_form_defined_by_a_re_index_is_read_before_the_searcher_reopens(
    target, sample_kb: Path, fake_embedder
) -> None:
    """The postgres backend read the map once, when it opened: a replica spelled out only the
    short forms of the index it started on until it reopened."""
    recorder = _Recorder(fake_embedder)
    build_index(sample_kb, target, fake_embedder, **OPTIONS)
    s = open_searcher(target, recorder, Settings(expand_acronyms=True))
    try:
        s.search("customer wants a wra", top_k=3, mode="dense")
        assert recorder.read[-1] == "customer wants a wra"  # not defined yet
        (sample_kb / "policies" / "returns.md").write_text(
            "# Returns\n\nA Widget Return Authorisation (WRA) is needed first.\n",
            encoding="utf-8",
        )
        build_index(sample_kb, target, fake_embedder, **OPTIONS)
        if not isinstance(target, str) and s.is_stale():  # the local API reopens a generation
            old, s = s, s.reopen()
            old.close()
        response = s.search("customer wants a wra", top_k=3, mode="dense")
        assert recorder.read[-1] == "customer wants a wra (Widget Return Authorisation)"
        assert response.acronyms == [("WRA", "Widget Return Authorisation")]
    finally:
        s.close()


def test_an_undefined_capitalised_word_is_left_alone() -> None:
    """A capitalised word the map does not define ("DE", a market) raised KeyError: every
    search naming a market failed once expansion was on."""
    amap = {"CSAM": ["child sexual abuse material", True]}
    assert expand("DE user wants coin refund", amap) == ("DE user wants coin refund", [])
    assert expand("DE csam report", amap)[1] == [("CSAM", "child sexual abuse material")]
