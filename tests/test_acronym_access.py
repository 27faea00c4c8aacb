"""Acronym expansion respects access groups: a document a caller may not see must not change
the question the model reads for them, nor what the response says was spelled out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer import acronyms
from indexer.access import write_overrides
from indexer.build import build_index
from indexer.search import open_searcher
from indexer.settings import Settings
from tests import test_acronyms
from tests.test_acronyms import _Recorder

target = test_acronyms.target  # the same fixture: local and postgres

OPTIONS = {"max_tokens": 60, "min_tokens": 8}
AGENTS = ["all-agents"]
TNS = ["tns-specialists"]


def _doc(root: Path, name: str, groups: list[str], body: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(
        f"---\ntitle: {name}\ndoc_type: policy\nversion: '1.0'\neffective_date: 2026-01-01\n"
        f"access_groups: [{', '.join(groups)}]\n---\n# {name}\n\n{body}\n",
        encoding="utf-8",
    )


def _settings(target: Path | str) -> Settings:
    if isinstance(target, str):
        return Settings(expand_acronyms=True, database_url=target)
    return Settings(expand_acronyms=True, index_dir=target)


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    root = tmp_path / "kb"
    _doc(root, "refunds.md", AGENTS, "Coin refunds are issued within 14 days of purchase.")
    _doc(
        root,
        "escalations.md",
        TNS,
        "Route every report to the Silent Harbour Escalation Desk (SHED) within one hour.",
    )
    return root


def test_a_hidden_document_does_not_spell_out_a_short_form(target, kb: Path, fake_embedder) -> None:
    """The reviewer's reproduction: all-agents got SHED spelled out from a T&S-only page."""
    build_index(kb, target, fake_embedder, **OPTIONS)
    recorder = _Recorder(fake_embedder)
    s = open_searcher(target, recorder, _settings(target))
    try:
        narrow = s.search("SHED refund", top_k=3, mode="dense", groups=AGENTS)
        assert recorder.read[-1] == "SHED refund"
        assert narrow.acronyms == [] and narrow.to_dict()["acronyms"] == []
        wide = s.search("SHED refund", top_k=3, mode="dense", groups=TNS)
        assert recorder.read[-1] == "SHED (Silent Harbour Escalation Desk) refund"
        assert wide.acronyms == [("SHED", "Silent Harbour Escalation Desk")]
        admin = s.search("SHED refund", top_k=3, mode="dense")  # groups None: no restriction
        assert admin.acronyms == [("SHED", "Silent Harbour Escalation Desk")]
    finally:
        s.close()


def test_kb_access_changes_which_definitions_apply_without_a_re_index(
    target, kb: Path, fake_embedder
) -> None:
    build_index(kb, target, fake_embedder, **OPTIONS)
    settings = _settings(target)
    s = open_searcher(target, fake_embedder, settings)
    try:
        assert s.search("SHED refund", top_k=3, groups=AGENTS).acronyms == []
        write_overrides(settings, {"escalations.md": ["all-agents"]})
        assert s.search("SHED refund", top_k=3, groups=AGENTS).acronyms == [
            ("SHED", "Silent Harbour Escalation Desk")
        ]
        write_overrides(settings, {"escalations.md": ["nobody"]})
        assert s.search("SHED refund", top_k=3, groups=TNS).acronyms == []
    finally:
        s.close()


def test_ties_and_majorities_are_decided_among_the_visible_definitions(
    target, kb: Path, fake_embedder
) -> None:
    """A hidden page defining a short form otherwise must neither outvote the caller's page
    nor tie with it (a tie drops the short form)."""
    _doc(kb, "leads.md", AGENTS, "A Team Lead (TL) approves every refund above 100 coins.")
    _doc(kb, "trust.md", TNS, "A Trust Lead (TL) signs off bans.")
    _doc(kb, "case.md", AGENTS, "Open a Case Review Form (CRF) for each appeal.")
    _doc(
        kb,
        "forms.md",
        TNS,
        "The Content Removal Filing (CRF) lists takedowns. Each Content Removal Filing (CRF) "
        "is kept for a year.",
    )
    build_index(kb, target, fake_embedder, **OPTIONS)
    s = open_searcher(target, fake_embedder, _settings(target))
    try:
        agents = s.search("TL and CRF", top_k=3, groups=AGENTS).acronyms
        assert agents == [("TL", "Team Lead"), ("CRF", "Case Review Form")]
        tns = s.search("TL and CRF", top_k=3, groups=TNS).acronyms
        assert tns == [("TL", "Trust Lead"), ("CRF", "Content Removal Filing")]
        # Seeing everything: TL is a tie (left out), CRF has a majority.
        assert s.search("TL and CRF", top_k=3).acronyms == [("CRF", "Content Removal Filing")]
    finally:
        s.close()


def test_expansion_off_reads_the_question_as_typed(target, kb: Path, fake_embedder) -> None:
    build_index(kb, target, fake_embedder, **OPTIONS)
    recorder = _Recorder(fake_embedder)
    settings = _settings(target).model_copy(update={"expand_acronyms": False})
    s = open_searcher(target, recorder, settings)
    try:
        for groups in (AGENTS, TNS, None):
            assert s.search("SHED refund", top_k=3, groups=groups).acronyms == []
            assert recorder.read[-1] == "SHED refund"
    finally:
        s.close()


def test_an_index_without_definition_sources_is_rebuilt_and_expands_nothing_meanwhile(
    target, kb: Path, fake_embedder, caplog: pytest.LogCaptureFixture
) -> None:
    """An index written before the sources were kept: its map cannot say who may read a
    definition, so nothing is spelled out until `kb index` writes them (even unchanged)."""
    build_index(kb, target, fake_embedder, **OPTIONS)
    if isinstance(target, str):
        import psycopg

        with psycopg.connect(target, autocommit=True) as con:
            con.execute("UPDATE kb_state SET acronym_sources = NULL")  # as migration 007 leaves it
    else:
        from indexer.store import MANIFEST, current_generation

        path = current_generation(target) / MANIFEST
        manifest = json.loads(path.read_text(encoding="utf-8"))
        del manifest["acronym_sources"]
        path.write_text(json.dumps(manifest), encoding="utf-8")
    with caplog.at_level("WARNING", logger="indexer.search"):
        s = open_searcher(target, fake_embedder, _settings(target))
    assert "rebuilt with `kb index`" in caplog.text
    try:
        assert s.search("SHED refund", top_k=3, groups=AGENTS).acronyms == []
        assert s.search("SHED refund", top_k=3, groups=TNS).acronyms == []
    finally:
        s.close()
    again = build_index(kb, target, fake_embedder, **OPTIONS)
    assert not again.unchanged
    assert again.manifest.acronym_sources["SHED"]["defined"] == [
        ["Silent Harbour Escalation Desk", "escalations.md", 1]
    ]
    assert build_index(kb, target, fake_embedder, **OPTIONS).unchanged


# -- the pure functions ------------------------------------------------------------------


def test_lower_case_use_counts_only_in_visible_documents() -> None:
    sources = acronyms.acronym_sources(
        [
            ("a.md", "Reports go to the Silent Harbour Escalation Desk (SHED) first."),
            ("b.md", "Keep the tools in the shed behind the office."),
        ]
    )
    assert acronyms.expand_for("shed refund", sources, lambda d: d == "a.md")[1] == [
        ("SHED", "Silent Harbour Escalation Desk")
    ]
    # b.md uses "shed" as a word: lower case is read as typed for who sees it.
    assert acronyms.expand_for("shed refund", sources, None) == ("shed refund", [])


def test_the_spelling_shown_comes_from_a_visible_document() -> None:
    sources = acronyms.acronym_sources(
        [
            ("hidden.md", "The Silent harbour escalation desk (SHED) is new."),
            ("open.md", "The Silent Harbour Escalation Desk (SHED) is new."),
        ]
    )
    assert acronyms.expand_for("SHED", sources, lambda d: d == "open.md")[1] == [
        ("SHED", "Silent Harbour Escalation Desk")
    ]
    assert acronyms.expand_for("SHED", sources, lambda d: False) == ("SHED", [])


def test_a_hidden_document_does_not_lend_its_words_or_markets(
    target, tmp_path: Path, fake_embedder
) -> None:
    """A security review's reproduction: an agent typing "frobnicatorim" was told it was read
    as "frobnicatorium", a word only a T&S page holds; "zimbabwe" was searched as ZW, a market
    only that page lists. Either tells a caller what documents they may not see contain."""
    root = tmp_path / "kb"
    _doc(root, "refunds.md", AGENTS, "Coin refunds are issued within 14 days of purchase.")
    _doc(root, "escalations.md", TNS, "Route the frobnicatorium cases to the escalation desk.")
    text = (root / "escalations.md").read_text(encoding="utf-8")
    (root / "escalations.md").write_text(text.replace("---\n#", "markets: [ZW]\n---\n#", 1))
    build_index(root, target, fake_embedder, **OPTIONS)
    fake_embedder.words = frozenset({"refund", "coins"})
    s = open_searcher(target, fake_embedder, _settings(target))
    try:
        for question, field in [("frobnicatorim refunds", "spellings"),
                                ("refunds for a user in zimbabwe", "markets")]:  # fmt: skip
            narrow = s.search(question, top_k=3, groups=AGENTS).to_dict()
            wide = s.search(question, top_k=3, groups=TNS).to_dict()
            admin = s.search(question, top_k=3).to_dict()  # groups None: no restriction
            assert narrow[field] == [] and wide[field] and admin[field] == wide[field], field
        write_overrides(_settings(target), {"escalations.md": ["all-agents"]})
        assert s.search("frobnicatorim refunds", top_k=3, groups=AGENTS).spellings
    finally:
        s.close()


def test_a_hidden_newer_version_is_not_named_to_a_caller_who_may_not_see_it(
    target, tmp_path: Path, fake_embedder
) -> None:
    """A security review's reproduction: an agent asking about the old widget policy was
    told "secret/fam-v2.md is the version in force" and "superseded by secret/fam-v2.md from
    2026-01-01", a T&S-only page's id and effective date."""
    root = tmp_path / "kb"
    _doc(root, "widgets-v1.md", AGENTS, "Widget returns are accepted within 30 days.")
    _doc(root, "widgets-v2.md", TNS, "Widget returns are accepted within 14 days.")
    text = (root / "widgets-v2.md").read_text(encoding="utf-8")
    text = text.replace("version: '1.0'\neffective_date: 2026-01-01", "version: '2.0'\n"
                        "effective_date: 2026-02-01\nsupersedes: widgets-v1.md")  # fmt: skip
    (root / "widgets-v2.md").write_text(text, encoding="utf-8")
    build_index(root, target, fake_embedder, **OPTIONS)
    s = open_searcher(target, fake_embedder, _settings(target))
    try:
        narrow = s.search("widget returns under the old policy", top_k=3, groups=AGENTS)
        wide = s.search("widget returns under the old policy", top_k=3, groups=AGENTS + TNS)
        assert [p.instead_of for p in wide.versions] == ["widgets-v2.md"]
        assert [p.instead_of for p in narrow.versions] == ["a version outside your access groups"]
        notes = [r.in_force_note for r in narrow.results]
        assert notes and all("widgets-v2" not in n and "2026-02-01" not in n for n in notes)
        assert all(n.startswith("superseded by a newer version outside") for n in notes)
        older = [r for r in wide.results if r.doc_id == "widgets-v1.md"]
        assert older and "2026-02-01" in older[0].in_force_note  # who may see it is told when
        shown = json.dumps(narrow.to_dict())
        assert "widgets-v2" not in shown and "2026-02-01" not in shown
    finally:
        s.close()
