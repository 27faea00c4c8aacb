"""Index build and search in tmp_path with the fake encoder: citations, filters, versions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.errors import (
    IndexMismatchError,
    IndexNotFoundError,
    InvalidQueryError,
    KBError,
    NotFoundError,
)
from indexer.search import Searcher, in_force, matches, open_searcher
from indexer.settings import Settings
from indexer.store import MANIFEST, current_generation
from tests.fixture_files import write_superseded_coin_policy


@pytest.fixture
def index_dir(sample_kb: Path, fake_embedder, tmp_path: Path) -> Path:
    out = tmp_path / "index"
    build_index(sample_kb, out, fake_embedder, max_tokens=60, min_tokens=8)
    return out


@pytest.fixture(params=["local", "postgres"])
def searcher(request, sample_kb: Path, fake_embedder, tmp_path: Path):
    """The backend contract: every test using this runs on local files and on PostgreSQL."""
    if request.param == "local":
        target = tmp_path / "contract-index"
    else:
        target = request.getfixturevalue("pg_database")
    build_index(sample_kb, target, fake_embedder, max_tokens=60, min_tokens=8)
    s = open_searcher(target, fake_embedder, Settings(max_top_k=20))
    yield s
    s.close()


@pytest.fixture
def local_searcher(index_dir: Path, fake_embedder) -> Searcher:
    s = Searcher(index_dir, fake_embedder, Settings(max_top_k=20))
    yield s
    s.close()


def test_build_report_and_manifest(sample_kb: Path, fake_embedder, tmp_path: Path) -> None:
    report = build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    assert report.documents == 5
    assert len(report.skipped) == 6
    manifest = json.loads((current_generation(tmp_path / "ix") / MANIFEST).read_text())
    assert manifest["model_fingerprint"] == "fake-hash-64@v1"
    assert manifest["dimension"] == 64
    counts = manifest["counts"]
    assert (counts["documents"], counts["chunks"], counts["skipped"]) == (5, report.chunks, 6)
    assert counts["windows"] > counts["chunks"]  # several sentence windows per passage
    assert manifest["chunker"]["max_tokens"] == 60
    leftovers = [p.name for p in (tmp_path / "ix").iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []  # temporary build directories are gone


def test_rebuild_replaces_index(sample_kb: Path, fake_embedder, index_dir: Path) -> None:
    first = json.loads((current_generation(index_dir) / MANIFEST).read_text())["index_version"]
    (sample_kb / "policies" / "coin-refunds.md").unlink()
    build_index(sample_kb, index_dir, fake_embedder, max_tokens=60, min_tokens=8)
    s = Searcher(index_dir, fake_embedder)
    assert s.manifest.index_version != first
    assert "policies/coin-refunds.md" not in {d["doc_id"] for d in s.list_documents()}


def test_result_carries_a_precise_citation(searcher: Searcher) -> None:
    response = searcher.search("escalate imminent risk guardian queue", top_k=3)
    top = response.results[0]
    assert top.doc_id == "sops/dangerous-challenges.pdf"
    assert top.page == 2 and top.pages == [2]
    assert top.heading_path == ["2 Escalation"]
    doc = searcher.get_document(top.doc_id)
    assert doc["text"][top.start : top.end] == top.text
    assert doc["text"][top.highlight.start : top.highlight.end] == top.highlight.text
    assert "Guardian queue" in top.highlight.text
    assert top.metadata["version"] == "2.0"
    assert top.metadata["effective_date"] == "2026-01-10"
    assert response.index_version == searcher.manifest.index_version
    assert [r.rank for r in response.results] == [1, 2, 3]
    assert response.results[0].score >= response.results[-1].score


def test_every_chunk_span_matches_its_document(searcher: Searcher) -> None:
    for chunk in searcher.chunks():
        text = searcher.get_document(chunk["doc_id"])["text"]
        assert text[chunk["start"] : chunk["end"]] == chunk["text"]


def test_filters_apply_inside_retrieval(searcher: Searcher) -> None:
    everything = searcher.search("refund", top_k=20)
    assert len({r.doc_id for r in everything.results}) > 1
    narrow = searcher.search("refund", top_k=4, filters={"doc_type": "sop"})
    assert narrow.results and all(r.metadata["doc_type"] == "sop" for r in narrow.results)
    assert len(narrow.results) == 4  # still top_k from the allowed documents
    markets = searcher.search("refund", top_k=20, filters={"markets": ["DE"]})
    assert {r.doc_id for r in markets.results} >= {"policies/coin-refunds.md"}
    # 'global' documents apply in every market.
    assert "sops/account-recovery.txt" in {r.doc_id for r in markets.results}
    none = searcher.search("refund", filters={"markets": "JP", "doc_type": "policy"})
    assert none.results == []


@pytest.mark.parametrize(
    ("query", "top_k", "filters", "message"),
    [
        ("   ", 5, None, "query is empty"),
        ("x" * 1001, 5, None, "limit is 1000"),
        ("refund", 0, None, "top_k"),
        ("refund", 21, None, "top_k"),
        ("refund", 5, {"colour": "red"}, "unknown filter field"),
        ("refund", 5, {"markets": [{"a": 1}]}, "string or a list"),
    ],
)
def test_bad_queries_are_rejected(searcher, query, top_k, filters, message) -> None:
    with pytest.raises(InvalidQueryError, match=message):
        searcher.search(query, top_k=top_k, filters=filters)


def test_unknown_document(searcher: Searcher) -> None:
    with pytest.raises(NotFoundError):
        searcher.get_document("nope.md")


def test_missing_index_and_other_model(index_dir: Path, fake_embedder, tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="kb index"):
        Searcher(tmp_path / "nothing", fake_embedder)

    class OtherModel(type(fake_embedder)):
        model_name = "other-model"
        fingerprint = "other@sha256:abc"

    with pytest.raises(IndexMismatchError, match="built with model 'fake-hash-64'"):
        Searcher(index_dir, OtherModel())


def test_versions_in_force() -> None:
    v2 = {"status": "superseded", "effective_date": "2025-01-15", "superseded_by": "v3"}
    v3 = {"status": "active", "effective_date": "2026-03-01", "supersedes": "v2"}
    assert not in_force(v2, [v3], "2026-11-25")
    assert in_force(v2, [v3], "2025-06-01")  # before v3 took effect, v2 applied
    assert in_force(v3, [], "2026-11-25")
    assert not in_force(v3, [], "2026-01-01")  # not yet effective
    assert not in_force({"status": "superseded"}, [], "2026-11-25")


def test_superseded_versions_are_left_out(sample_kb: Path, fake_embedder, tmp_path: Path) -> None:
    old = (sample_kb / "policies" / "coin-refunds.md").read_text()
    old = old.replace(
        'version: "3.0"',
        'version: "2.0"\nstatus: superseded\nsuperseded_by: policies/coin-refunds.md',
    ).replace("14 days", "30 days")
    old = old.replace("effective_date: 2026-03-01", "effective_date: 2025-01-01")
    (sample_kb / "policies" / "coin-refunds-old.md").write_text(old)
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    s = Searcher(tmp_path / "ix", fake_embedder)
    now = {r.doc_id for r in s.search("withdraw coin purchase days", top_k=10).results}
    assert "policies/coin-refunds-old.md" not in now
    past = {
        r.doc_id for r in s.search("withdraw coin purchase days", 10, as_of="2025-06-01").results
    }
    assert "policies/coin-refunds-old.md" in past and "policies/coin-refunds.md" not in past
    every = s.search("withdraw coin purchase days", top_k=10, include_superseded=True).results
    assert "policies/coin-refunds-old.md" in {r.doc_id for r in every}


def test_matches_any_of_within_field() -> None:
    meta = {"markets": ["DE", "FR"], "doc_type": "policy"}
    assert matches(meta, {"markets": ["FR", "JP"]})
    assert not matches(meta, {"markets": ["JP"]})
    assert matches(meta, {"doc_type": ["sop", "policy"], "markets": ["DE"]})


def test_diversify_prefers_new_sections() -> None:
    import numpy as np

    from indexer.fusion import diversify

    sections = ["a", "a", "b", "a", "c"]
    assert diversify(np.array([0, 1, 2, 3, 4]), sections, 3, per_section=1) == [0, 2, 4]
    assert diversify(np.array([0, 1, 2, 3, 4]), sections, 4, per_section=1) == [0, 2, 4, 1]
    assert diversify(np.array([0, 1]), sections, 5, per_section=1) == [0, 1]


def test_diversify_keeps_a_sections_second_passage_but_not_its_third() -> None:
    """The default shows two passages of a section (a table after its heading's prose, the
    rest of a headingless document) and moves a third behind the other sections."""
    import numpy as np

    from indexer.fusion import diversify

    sections = ["a", "a", "a", "b", "c"]
    assert diversify(np.array([0, 1, 2, 3, 4]), sections, 3) == [0, 1, 3]
    assert diversify(np.array([0, 1, 2, 3, 4]), sections, 5) == [0, 1, 3, 4, 2]
    assert diversify(np.array([0, 1, 2]), sections, 3) == [0, 1, 2]  # nothing else: repeats


def test_keywords_reorder_near_passages_but_cannot_lift_far_ones() -> None:
    import numpy as np

    from indexer.fusion import boost, reach_gate

    dense = np.array([0.70, 0.66, 0.40, 0.62], np.float32)
    lexical = np.array([0.0, 5.0, 9.0, 0.0], np.float32)  # row 2: many shared words, off-topic
    allowed = np.array([True, True, True, False])
    gate = reach_gate(dense, allowed, 0.15)
    assert gate[0] == pytest.approx(1.0) and 0.0 < gate[1] < 1.0 and gate[2] == 0.0
    scores = boost(dense, lexical, allowed, 0.4, reach=0.15)
    assert scores[1] > scores[0]  # a close passage with the query's words overtakes the top
    assert scores[2] == dense[2]  # 0.30 below the top: keywords alone do not promote it
    unbounded = boost(dense, lexical, allowed, 0.4, reach=0.0)
    assert unbounded[2] > dense[2]  # reach 0 switches the limit off
    # the gate follows the best *allowed* passage, so a filter cannot widen or narrow it
    assert np.allclose(reach_gate(dense, np.array([False, True, True, True]), 0.15)[1], 1.0)


def test_keywords_count_less_when_they_single_out_no_passage() -> None:
    """Words the question shares evenly with many passages (a paraphrased FAQ's 'account',
    'email') lift at ``peak_floor`` of the weight; a term one passage holds lifts fully."""
    import numpy as np

    from indexer.fusion import boost, keyword_peak

    dense = np.linspace(0.70, 0.50, 12).astype(np.float32)
    flat = np.full(12, 4.0, np.float32)
    flat[-1] = 0.0  # one passage without the words: the normalised lift is 1 or 0
    standout = np.zeros(12, np.float32)
    standout[5] = 9.0
    assert keyword_peak(flat, None) == pytest.approx(0.0)
    assert keyword_peak(standout, None) == pytest.approx(0.9)  # (9 - 9/10) / 9
    assert keyword_peak(np.zeros(12, np.float32), None) == 0.0
    allowed = np.ones(12, bool)
    allowed[5] = False  # the standout filtered out: nothing stands out among the rest
    assert keyword_peak(standout, allowed) == 0.0
    for lexical, share in ((flat, 0.5), (standout, 1.0)):
        got = boost(dense, lexical, None, 0.4, peak_floor=0.5)
        np.testing.assert_allclose(got, boost(dense, lexical, None, 0.4 * share), rtol=1e-6)
    # a floor of 1 is the same weight for every question
    np.testing.assert_allclose(
        boost(dense, flat, None, 0.4, peak_floor=1.0), dense * (1 + 0.4 * (flat > 0)), rtol=1e-6
    )


def test_fusion_over_the_scored_rows_alone_ranks_as_over_masked_arrays() -> None:
    """Search fuses only the rows it scored (allowed None): the same scores and order, ties
    included, as fusing arrays the size of the index under a mask."""
    import numpy as np

    from indexer.fusion import combine, top_rows

    rng = np.random.default_rng(3)
    n = 500
    dense = rng.random(n).astype(np.float32)
    dense[[10, 20, 30]] = dense[40]  # ties: the lower row must win in both forms
    lexical = np.where(rng.random(n) < 0.4, rng.random(n) * 12, 0).astype(np.float32)
    allowed = rng.random(n) < 0.3
    allowed[[10, 20, 30, 40]] = True
    rows = np.flatnonzero(allowed)
    doc_of = rng.integers(0, 40, n)
    for reach, support, floor in ((0.0, 0.0, 1.0), (0.2, 0.0, 1.0), (0.0, 0.05, 0.5)):
        full = combine("hybrid", dense, lexical, allowed, 0.3, reach, doc_of, support, floor)
        alone = combine(
            "hybrid", dense[rows], lexical[rows], None, 0.3, reach, doc_of[rows], support, floor
        )
        np.testing.assert_allclose(alone, full[rows], rtol=1e-6)
        np.testing.assert_array_equal(rows[top_rows(alone, None, 30)], top_rows(full, allowed, 30))
    assert len(top_rows(np.zeros(0, np.float32), None, 5)) == 0


def test_a_document_matching_twice_overtakes_a_lone_close_passage() -> None:
    import numpy as np

    from indexer.fusion import combine, document_support

    scores = np.array([0.80, 0.78, 0.75, 0.20, 0.79], np.float32)
    doc_of = np.array([0, 1, 1, 1, 2])  # document 1 matches in two places
    allowed = np.array([True, True, True, True, False])
    out = document_support(scores, doc_of, allowed, 0.05)
    assert out[0] == scores[0]  # no second passage among the best: unchanged
    np.testing.assert_allclose(out[1:4], scores[1:4] + 0.05 * 0.75, rtol=1e-6)
    assert out[1] > out[0] and out[1] > out[2] > out[3]  # order inside a document is kept
    assert out[4] == scores[4]  # a filtered-out row neither gives nor gets support
    assert document_support(scores, doc_of, allowed, 0.05, depth=2)[1] == scores[1]
    np.testing.assert_array_equal(document_support(scores, doc_of, allowed, 0.0), scores)
    # dense and bm25 stay single signals: support is part of the hybrid only
    dense_only = combine("dense", scores, scores, allowed, 0.3, 0.0, doc_of, 0.05)
    np.testing.assert_array_equal(dense_only, scores)


def test_a_document_of_one_passage_supports_itself() -> None:
    """A short entry is its whole document: it gets the support a long page gets from its
    second passage, so length alone does not decide between them."""
    import numpy as np

    from indexer.fusion import combine, document_support

    scores = np.array([0.80, 0.79, 0.60, 0.70], np.float32)
    doc_of = np.array([0, 1, 1, 2])  # 0 and 2 are one-passage entries, 1 a longer page
    lone = np.array([True, False, False, True])
    allowed = np.array([True, True, True, False])
    out = document_support(scores, doc_of, allowed, 0.05, lone=lone)
    np.testing.assert_allclose(out[0], 0.80 * 1.05, rtol=1e-6)  # its own score
    np.testing.assert_allclose(out[1:3], scores[1:3] + 0.05 * 0.60, rtol=1e-6)
    assert out[0] > out[1]  # without lone, the page's second passage would put it first
    assert document_support(scores, doc_of, allowed, 0.05)[1] > scores[0]
    assert out[3] == scores[3]  # a filtered-out row gets nothing
    # over the scored rows alone, as search fuses them, the same scores
    rows = np.flatnonzero(allowed)
    alone = combine(
        "hybrid", scores[rows], scores[rows], None, 0.0, 0.0, doc_of[rows], 0.05, 1.0, lone[rows]
    )
    full = combine("hybrid", scores, scores, allowed, 0.0, 0.0, doc_of, 0.05, 1.0, lone)
    np.testing.assert_allclose(alone, full[rows], rtol=1e-6)
    assert combine("dense", scores, scores, allowed, 0.3, 0.0, doc_of, 0.05, 1.0, lone) is scores


def test_row_masks_are_shared_read_only_and_their_memo_is_bounded(local_searcher) -> None:
    from indexer.search import MaskCache, as_of_date

    today = as_of_date(None)
    first = local_searcher.allowed_rows({}, today)
    assert len(first) == len(local_searcher._chunk_doc) and first.any()
    assert local_searcher.allowed_rows({}, today) is first  # memoised, so shared...
    with pytest.raises(ValueError):
        first[0] = not first[0]  # ...and read-only
    narrow = local_searcher.allowed_rows({"doc_type": ["sop"]}, today)
    assert narrow.sum() < first.sum()
    # one bool per chunk row: a large index keeps fewer masks, never fewer than 8
    assert MaskCache(mask_bytes=100)._size == 256
    assert MaskCache(mask_bytes=1_000_000)._size == 33
    assert MaskCache(mask_bytes=10**9)._size == 8


def test_results_come_from_distinct_sections(searcher: Searcher) -> None:
    results = searcher.search("refund coins days steps", top_k=5).results
    keys = [(r.doc_id, tuple(r.heading_path)) for r in results]
    assert len(set(keys)) == len(keys)


def test_context_returns_neighbours_in_order(searcher: Searcher) -> None:
    top = searcher.search("escalate imminent risk guardian queue", top_k=1, context=1).results[0]
    assert top.context_before and top.context_after
    assert top.context_before[-1]["end"] <= top.start < top.end <= top.context_after[0]["start"]
    doc = searcher.get_document(top.doc_id)["text"]
    assert (
        doc[top.context_after[0]["start"] : top.context_after[0]["end"]]
        == top.context_after[0]["text"]
    )
    with pytest.raises(InvalidQueryError, match="context"):
        searcher.search("refund", context=9)


def test_modes_and_answerable_flag(index_dir: Path, fake_embedder) -> None:
    strict = Searcher(index_dir, fake_embedder, Settings(answerable_threshold=0.99))
    response = strict.search("refund coins", top_k=2)
    assert response.answerable is False and "weak evidence" in response.reason
    assert response.results  # the closest passages are still shown, flagged
    loose = Searcher(index_dir, fake_embedder, Settings(answerable_threshold=0.0))
    assert loose.search("refund coins").answerable is True
    for mode in ("dense", "bm25", "hybrid"):
        assert loose.search("imminent risk tier 2 minutes", mode=mode).results[0].doc_id == (
            "sops/dangerous-challenges.pdf"
        )
    with pytest.raises(InvalidQueryError, match="unknown mode"):
        loose.search("refund", mode="magic")
    filtered = loose.search("refund", filters={"markets": "JP", "doc_type": "policy"})
    assert filtered.answerable is False and "filters" in filtered.reason


def test_generations_pointer_and_leftovers(sample_kb: Path, fake_embedder, index_dir: Path) -> None:
    first = current_generation(index_dir)
    leftover = index_dir / ".tmp-deadbeef"  # as if a build had been killed mid-write
    (leftover / "junk").mkdir(parents=True)
    assert Searcher(index_dir, fake_embedder).generation == first  # readers ignore it
    (sample_kb / "sops" / "seller-dispute.docx").unlink()
    build_index(sample_kb, index_dir, fake_embedder, max_tokens=60, min_tokens=8)
    assert not leftover.exists()
    second = current_generation(index_dir)
    assert second != first and first.exists()  # kept as the fallback
    assert (index_dir / "CURRENT").read_text() == second.name
    build_index(
        sample_kb / "policies", index_dir, fake_embedder, max_tokens=60, min_tokens=8, replace=True
    )
    assert not first.exists() and second.exists()  # only one previous generation is kept


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_corrupt_generation_is_refused_and_previous_served(
    sample_kb: Path, fake_embedder, index_dir: Path, damage: str
) -> None:
    from indexer.errors import IndexCorruptError

    good = Searcher(index_dir, fake_embedder)
    expected = [r.chunk_id for r in good.search("refund coins", top_k=3).results]
    (sample_kb / "policies" / "live-gifts.html").unlink()
    build_index(sample_kb, index_dir, fake_embedder, max_tokens=60, min_tokens=8)
    newest = current_generation(index_dir)
    target = newest / "vectors.faiss"
    if damage == "flip":
        _flip_byte(target)
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    else:
        (newest / "bm25" / "vocab.index.json").unlink()
    with pytest.raises(IndexCorruptError):
        Searcher(index_dir, fake_embedder)
    fallback = Searcher.open_best(index_dir, fake_embedder, Settings())
    assert fallback.generation == good.generation
    assert "refused" in fallback.degraded and fallback.health()["status"] == "degraded"
    assert [r.chunk_id for r in fallback.search("refund coins", top_k=3).results] == expected
    assert not fallback.is_stale()  # the refused generation is not retried in a loop


def test_a_generation_never_published_is_neither_fallback_nor_kept(
    sample_kb: Path, fake_embedder, index_dir: Path
) -> None:
    """A build killed between renaming its generation and moving the pointer left a newer
    generation that was never served: the next publish kept it (as "the newest") and dropped
    the one agents had been served, and a damaged current generation then fell back to it."""
    import shutil

    served = current_generation(index_dir)
    orphan = index_dir / (served.name[:-6] + "zzzzzz")  # sorts after every real one
    shutil.copytree(served, orphan)
    _flip_byte(served / "vectors.faiss")
    fallback = None
    with pytest.raises(KBError):
        fallback = Searcher.open_best(index_dir, fake_embedder, Settings())
    assert fallback is None
    _flip_byte(served / "vectors.faiss")  # repaired; a later build publishes
    (sample_kb / "policies" / "live-gifts.html").unlink()
    build_index(sample_kb, index_dir, fake_embedder, max_tokens=60, min_tokens=8)
    assert not orphan.exists() and served.exists()


def test_second_writer_fails_fast(sample_kb: Path, fake_embedder, tmp_path: Path) -> None:
    from indexer.errors import IndexLockedError
    from indexer.store import writer_lock

    ix = tmp_path / "locked"
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()

    def hold() -> None:
        with writer_lock(ix):
            ready.set()
            release.wait(20)

    holder = ctx.Process(target=hold)
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(IndexLockedError, match="another indexer"):
            build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    finally:
        release.set()
        holder.join(10)
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)  # free again


def test_access_groups_are_enforced_inside_retrieval(searcher: Searcher) -> None:
    # The PDF and the text SOP are tns-specialists only; the rest is all-agents.
    agent = searcher.search("escalate imminent risk guardian queue", top_k=5, groups=["all-agents"])
    assert agent.results and all("all-agents" in r.metadata["access_groups"] for r in agent.results)
    assert len(agent.results) == min(
        5, len([c for c in searcher.chunks() if c["doc_id"] not in RESTRICTED])
    )
    tns = searcher.search(
        "escalate imminent risk guardian queue", top_k=5, groups=["tns-specialists"]
    )
    assert tns.results[0].doc_id == "sops/dangerous-challenges.pdf"
    assert {d["doc_id"] for d in searcher.list_documents(["all-agents"])}.isdisjoint(RESTRICTED)
    with pytest.raises(NotFoundError):
        searcher.get_document("sops/dangerous-challenges.pdf", groups=["all-agents"])
    assert searcher.get_document("sops/dangerous-challenges.pdf", groups=["tns-specialists"])
    nobody = searcher.search("refund", groups=[])
    assert nobody.results == [] and nobody.answerable is False


RESTRICTED = {"sops/dangerous-challenges.pdf", "sops/account-recovery.txt"}


def test_access_change_applies_at_next_query_without_rebuild(
    searcher: Searcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from indexer.settings import get_settings
    from kb_cli.main import main

    if searcher.index_dir is None:  # postgres: `kb access` writes to the same database
        monkeypatch.setenv("KB_DATABASE_URL", searcher.url)
        where: list[str] = []
    else:
        where = ["--index-dir", str(searcher.index_dir)]
    get_settings.cache_clear()
    pdf = "sops/dangerous-challenges.pdf"
    before = searcher.manifest.index_version
    assert pdf not in {d["doc_id"] for d in searcher.list_documents(["all-agents"])}
    assert main(["access", *where, "set", pdf, "--groups", "all-agents"]) == 0
    hits = searcher.search("imminent risk guardian queue", top_k=3, groups=["all-agents"]).results
    assert hits[0].doc_id == pdf  # same Searcher, no rebuild
    # what callers are shown follows the override too, not the groups the file was built with
    assert hits[0].metadata["access_groups"] == ["all-agents"]
    assert searcher.get_document(pdf)["metadata"]["access_groups"] == ["all-agents"]
    listed = {d["doc_id"]: d["metadata"] for d in searcher.list_documents()}
    assert listed[pdf]["access_groups"] == ["all-agents"]
    assert set(listed[pdf]) >= {"version", "doc_type"}
    assert searcher.get_document(pdf, groups=["all-agents"])["doc_id"] == pdf
    with pytest.raises(NotFoundError):  # the override replaces the metadata's groups
        searcher.get_document(pdf, groups=["tns-specialists"])
    tns = searcher.search("imminent risk guardian queue", top_k=5, groups=["tns-specialists"])
    assert pdf not in {r.doc_id for r in tns.results}
    assert main(["access", *where, "clear", pdf]) == 0
    assert pdf not in {d["doc_id"] for d in searcher.list_documents(["all-agents"])}
    again = searcher.search("imminent risk guardian queue", top_k=5, groups=["all-agents"])
    assert pdf not in {r.doc_id for r in again.results}
    assert searcher.manifest.index_version == before
    get_settings.cache_clear()


def test_response_dict_is_a_deep_plain_copy(searcher: Searcher) -> None:
    """The hand-built to_dict gives what dataclasses.asdict gives (plus each citation line),
    and nothing it returns is shared with the response (the API logs and serialises it on
    another thread)."""
    import dataclasses

    response = searcher.search("escalate imminent risk guardian queue", top_k=3, context=1)
    out = response.to_dict()
    expected = dataclasses.asdict(response)
    for row, result in zip(expected["results"], response.results, strict=True):
        row["citation"] = result.citation  # computed, not a field
    assert out == expected
    out["results"][0]["metadata"].setdefault("markets", []).append("zz")
    out["results"][0]["highlight"]["text"] = "changed"
    assert "zz" not in (response.results[0].metadata.get("markets") or [])
    assert response.results[0].highlight.text != "changed"


def test_window_vectors_are_mapped_int8_codes(local_searcher: Searcher) -> None:
    """API workers share the window vectors through the page cache: int8 codes mapped
    read-only, decoded row by row; a small (exact) index decodes them once."""
    import numpy as np

    from indexer.store import read_windows

    _spans, windows = read_windows(local_searcher.generation)
    codes = windows.codes
    assert codes.dtype == np.int8 and len(codes)
    assert not codes.flags.writeable and not codes.flags.owndata
    np.testing.assert_array_equal(local_searcher._window_dense, windows[:])


def test_filter_by_document_id(searcher: Searcher) -> None:
    one = searcher.search("refund", top_k=5, filters={"doc_id": "policies/coin-refunds.md"})
    assert one.results and {r.doc_id for r in one.results} == {"policies/coin-refunds.md"}
    two = searcher.search(
        "refund",
        top_k=20,
        filters={"doc_id": ["policies/coin-refunds.md", "sops/account-recovery.txt"]},
    )
    assert {r.doc_id for r in two.results} == {
        "policies/coin-refunds.md",
        "sops/account-recovery.txt",
    }
    # a field a document does not set matches no value, not the text "None"
    assert searcher.search("refund", filters={"owner_team": "None"}).results == []


def test_keyword_search_returns_only_passages_that_share_a_word(searcher: Searcher) -> None:
    from indexer.search import NO_KEYWORD_MATCH

    none = searcher.search("zyxwv qwertz", top_k=5, mode="bm25")
    assert none.results == [] and not none.answerable and none.reason == NO_KEYWORD_MATCH
    some = searcher.search("guardian", top_k=20, mode="bm25")
    assert some.results and all(r.score > 0 for r in some.results)
    assert all("guardian" in r.text.lower() for r in some.results)


@pytest.mark.parametrize("bad", ["refund \ud800", "\udfff"])
def test_text_with_a_lone_surrogate_is_bad_input(searcher: Searcher, bad: str) -> None:
    with pytest.raises(InvalidQueryError, match="surrogate"):
        searcher.search(bad)
    with pytest.raises(InvalidQueryError, match="string or a list"):
        searcher.search("refund", filters={"markets": [bad]})


def test_filter_values_are_strings(searcher: Searcher) -> None:
    for value in (5, [True], 1.5):
        with pytest.raises(InvalidQueryError, match="string or a list"):
            searcher.search("refund", filters={"markets": value})


def test_citation_names_the_section_and_page_of_the_highlight() -> None:
    from indexer.search import cited_place

    sections = [[["Policy"], 0, 10, "policy"], [["Policy", "Gifts"], 10, 50, "gifts"],
                [["Policy", "Chargebacks"], 50, 80, "chargebacks"]]  # fmt: skip
    pages = [[1, 0, 40], [2, 40, 40], [3, 42, 80]]  # page 2 has no text
    assert cited_place(sections, pages, 12, ["Policy", "Gifts"], 1) == (["Policy", "Gifts"], 1)
    assert cited_place(sections, pages, 60, ["Policy", "Gifts"], 1) == (
        ["Policy", "Chargebacks"], 3,
    )  # fmt: skip
    assert cited_place([], [], 60, ["Kept"], None) == (["Kept"], None)  # plain text: as stored


def test_a_merged_short_section_is_cited_by_its_own_heading(
    tmp_path: Path, fake_embedder, request: pytest.FixtureRequest, backend: str
) -> None:
    kb = tmp_path / "kb"
    kb.mkdir()
    delivery = " ".join(f"Gift delivery step {i} takes a moment to complete." for i in range(6))
    (kb / "gifts.md").write_text(
        "# Gift Policy\n\n## Gift delivery\n\n" + delivery + "\n\n## Chargebacks\n\n"
        "Chargebacks on gifts are never refunded twice.\n",
        encoding="utf-8",
    )
    target = tmp_path / "ix" if backend == "local" else request.getfixturevalue("pg_database")
    build_index(kb, target, fake_embedder, max_tokens=120, min_tokens=20)
    s = open_searcher(target, fake_embedder, Settings())
    try:
        chunks = s.chunks()
        assert len(chunks) == 1  # the short section joined the longer one before it
        top = s.search("chargebacks on gifts refunded twice", top_k=1).results[0]
    finally:
        s.close()
    assert top.highlight.text.startswith("Chargebacks on gifts")
    assert top.heading_path == ["Gift Policy", "Chargebacks"]
    assert "Chargebacks" in top.citation


@pytest.fixture(params=["local", "postgres"])
def backend(request) -> str:
    return request.param


def test_a_highlight_does_not_straddle_a_pdf_heading_or_page_break(
    tmp_path: Path, fake_embedder, request: pytest.FixtureRequest, backend: str
) -> None:
    from indexer.build import index_documents
    from indexer.documents import Document, PageSpan, Section

    # A PDF's headings are plain lines; the middle section's title is in no heading path the
    # passage is stored with, and one page break falls inside the first section.
    lines = [
        "Reporting\n",
        "Tell the reporter we will follow up within one day.\n",  # page 1 ends here
        "Escalate grooming reports to the safety lead.\n",
        "Response times\n",
        "Respond to grooming reports within 5 minutes.\n",
        "Aftercare\n",
        "Offer support resources afterwards.\n",
    ]
    at = [sum(len(x) for x in lines[:i]) for i in range(len(lines) + 1)]
    text = "".join(lines)
    doc = Document(
        doc_id="grooming", title="Grooming SOP", text=text, source="grooming.pdf", format="pdf",
        sections=[Section(("Reporting",), at[0], at[3]),
                  Section(("Response times",), at[3], at[5]),
                  Section(("Aftercare",), at[5], at[7])],
        pages=[PageSpan(1, 0, at[2]), PageSpan(2, at[2], len(text))],
    )  # fmt: skip
    target = tmp_path / "ix" if backend == "local" else request.getfixturevalue("pg_database")
    index_documents([doc], target, fake_embedder, max_tokens=120, min_tokens=60)
    s = open_searcher(target, fake_embedder, Settings())
    try:
        assert len(s.chunks()) == 1  # every section and both pages in one passage
        questions = [
            "reporter follow up escalate grooming reports safety lead",
            "escalate grooming reports response times respond within minutes",
        ]
        results = [s.search(q, top_k=1).results[0] for q in questions]
    finally:
        s.close()
    for top in results:
        h = top.highlight
        assert not any(h.start < cut < h.end for cut in (at[2], at[3], at[5])), h.text
        assert "Response times" not in h.text
        page = 1 if h.start < at[2] else 2
        assert top.page == page
        starts = {"Reporting": at[0], "Response times": at[3], "Aftercare": at[5]}
        section = max((a, name) for name, a in starts.items() if a <= h.start)[1]
        assert top.heading_path == [section]


def test_a_generation_pruned_while_loading_is_not_taken_for_corrupt(
    sample_kb: Path, fake_embedder, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two publishes while the API loads generation B prune B under it: the newest one is
    intact and is what must be served, not an older fallback reported as degraded."""
    from indexer.errors import IndexCorruptError

    loading = current_generation(index_dir)
    real_init = Searcher.__init__
    raced: list[Path] = []

    def racing_init(self, *args, generation: Path | None = None, **kwargs) -> None:
        if not raced and (generation or current_generation(index_dir)) == loading:
            (sample_kb / "policies" / "live-gifts.html").unlink()
            build_index(sample_kb, index_dir, fake_embedder, max_tokens=60, min_tokens=8)
            raced.append(current_generation(index_dir))
            raise IndexCorruptError(f"{loading.name}: vectors.faiss vanished")
        real_init(self, *args, generation=generation, **kwargs)

    monkeypatch.setattr(Searcher, "__init__", racing_init)
    searcher = Searcher.open_best(index_dir, fake_embedder, Settings())
    assert raced and searcher.generation == raced[0] != loading
    assert searcher.health()["status"] != "degraded", searcher.degraded


def test_filter_values_match_without_regard_to_case_and_empty_ones_are_refused(
    searcher: Searcher,
) -> None:
    upper = searcher.search("refund coins", top_k=10, filters={"markets": ["DE"]}).results
    lower = searcher.search("refund coins", top_k=10, filters={"markets": [" de "]}).results
    assert upper and [r.chunk_id for r in lower] == [r.chunk_id for r in upper]
    assert any("DE" in (r.metadata.get("markets") or []) for r in lower)
    for empty in ("", "  ", ["DE", ""]):
        with pytest.raises(InvalidQueryError, match="empty value"):
            searcher.search("refund", filters={"markets": empty})


@pytest.fixture(params=["local", "postgres"])
def versioned(request, sample_kb: Path, fake_embedder, tmp_path: Path):
    """The sample knowledge base plus a superseded and a not-yet-effective version of the coin
    refund policy, on both backends."""
    current = (sample_kb / "policies" / "coin-refunds.md").read_text()
    future = current.replace('version: "3.0"', 'version: "4.0"').replace(
        "effective_date: 2026-03-01", "effective_date: 2099-01-01"
    )
    write_superseded_coin_policy(sample_kb)
    (sample_kb / "policies" / "coin-refunds-next.md").write_text(future)
    target = tmp_path / "ix" if request.param == "local" else request.getfixturevalue("pg_database")
    build_index(sample_kb, target, fake_embedder, max_tokens=60, min_tokens=8)
    s = open_searcher(target, fake_embedder, Settings(max_top_k=20))
    yield s
    s.close()


def test_a_version_not_in_force_says_so_in_its_citation(versioned) -> None:
    """Asked for every version, an agent got v2 and a future v4 cited exactly like the policy
    in force; a ticket quoting one would not show it never applied on the day in question."""
    every = versioned.search(
        "withdraw coin purchase days", top_k=20, include_superseded=True, as_of="2026-06-01"
    ).results
    by_doc = {r.doc_id: r for r in every}
    old, nxt, now = (by_doc[f"policies/coin-refunds{s}.md"] for s in ("-old", "-next", ""))
    assert not old.in_force and "superseded by policies/coin-refunds.md" in old.citation
    assert "2026-03-01" in old.in_force_note and "NOT IN FORCE" in old.citation
    assert not nxt.in_force and "not yet in force" in nxt.citation and "2099-01-01" in nxt.citation
    assert now.in_force and now.in_force_note == "" and "IN FORCE" not in now.citation
    assert old.to_dict()["in_force"] is False
    past = versioned.search(
        "withdraw coin purchase days", top_k=20, include_superseded=True, as_of="2025-06-01"
    ).results
    assert {r.doc_id: r.in_force for r in past}["policies/coin-refunds-old.md"]


def test_a_question_about_the_old_policy_is_searched_in_that_version(versioned) -> None:
    """Both backends: "the old coin policy" or "version 2.0" searches v2 as well, ranked ahead
    of the version in force, says so, and cites it as not in force; a date the caller sets
    wins."""
    old_doc, now_doc = "policies/coin-refunds-old.md", "policies/coin-refunds.md"
    for question in (
        "withdraw coin purchase days under the old coin policy",
        "withdraw coin purchase days in version 2.0",
    ):
        response = versioned.search(question, top_k=20)
        docs = [r.doc_id for r in response.results]
        assert old_doc in docs and now_doc in docs
        assert docs.index(old_doc) < docs.index(now_doc)
        assert [(p.doc_id, p.instead_of) for p in response.versions] == [(old_doc, now_doc)]
        old = next(r for r in response.results if r.doc_id == old_doc)
        assert not old.in_force and "superseded by" in old.in_force_note
        now = next(r for r in response.results if r.doc_id == now_doc)
        assert now.in_force and now.in_force_note == ""
        assert response.to_dict()["versions"][0]["why"]
    pinned = versioned.search(
        "withdraw coin purchase days under the old coin policy", top_k=20, as_of="2026-06-01"
    )
    assert pinned.versions == []
    assert old_doc not in {r.doc_id for r in pinned.results}


def test_the_asked_version_outranks_the_one_in_force_by_the_weight(versioned) -> None:
    """Both backends: every passage of the version in force scores its weight times what it
    would score alone; at weight 0 that version is not searched at all."""
    question = "withdraw coin purchase days under the old coin policy"
    plain = {r.chunk_id: r.score for r in versioned.search(question, top_k=20).results}
    base = versioned.settings
    try:
        versioned.settings = base.model_copy(update={"in_force_weight": 1.0})
        level = versioned.search(question, top_k=20).results
        versioned.settings = base.model_copy(update={"in_force_weight": 0.0})
        left_out = versioned.search(question, top_k=20)
    finally:
        versioned.settings = base
    now = [r for r in level if r.doc_id == "policies/coin-refunds.md"]
    assert now and all(
        plain[r.chunk_id] == pytest.approx(r.score * base.in_force_weight, abs=2e-4)
        for r in now
        if r.chunk_id in plain
    )
    assert "policies/coin-refunds.md" not in {r.doc_id for r in left_out.results}
    assert [p.doc_id for p in left_out.versions] == ["policies/coin-refunds-old.md"]


def test_a_version_the_caller_may_not_see_is_neither_searched_nor_named(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """The old version is for specialists only: an agent asking about "the old coin policy"
    keeps the version in force, and the response does not name the hidden document."""
    write_superseded_coin_policy(sample_kb, access_groups="[tns-specialists]")
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    s = open_searcher(tmp_path / "ix", fake_embedder, Settings(max_top_k=20))
    try:
        question = "withdraw coin purchase days under the old coin policy"
        agent = s.search(question, top_k=20, groups=["all-agents"])
        assert agent.versions == [] and "coin-refunds-old" not in str(agent.to_dict())
        assert "policies/coin-refunds.md" in {r.doc_id for r in agent.results}
        specialist = s.search(question, top_k=20, groups=["all-agents", "tns-specialists"])
        assert [p.doc_id for p in specialist.versions] == ["policies/coin-refunds-old.md"]
    finally:
        s.close()


def test_the_api_reports_whether_a_cited_version_was_in_force(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app

    write_superseded_coin_policy(sample_kb)
    settings = Settings(index_dir=tmp_path / "ix", reload_interval_s=0, log_path=tmp_path / "l")
    build_index(sample_kb, settings.index_dir, fake_embedder, max_tokens=60, min_tokens=8)
    searcher = open_searcher(settings.index_dir, fake_embedder, settings)
    with TestClient(create_app(settings, searcher=searcher)) as client:
        body = {"query": "withdraw coin purchase days", "top_k": 10, "include_superseded": True}
        results = client.post("/search", json=body).json()["results"]
    by_doc = {r["doc_id"]: r for r in results}
    assert by_doc["policies/coin-refunds-old.md"]["in_force"] is False
    assert "NOT IN FORCE" in by_doc["policies/coin-refunds-old.md"]["citation"]
    assert by_doc["policies/coin-refunds.md"]["in_force"] is True
