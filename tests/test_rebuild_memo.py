"""A watching indexer's memo: what it skips, and that an index built through it is the same."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from indexer.build import build_index
from indexer.files import visible_files
from indexer.lexical import build_bm25, tokenize
from indexer.memo import RebuildMemo
from indexer.search import Searcher
from indexer.store import current_generation, read_windows


def test_memo_keeps_what_the_last_build_used_and_drops_the_rest() -> None:
    memo = RebuildMemo()
    calls: list[str] = []

    def compute(name: str):
        return lambda: calls.append(name) or name.upper()

    memo.start_build()
    assert memo.get("a", compute("a")) == "A" and memo.get("b", compute("b")) == "B"
    assert memo.get("a", compute("a")) == "A"  # within one build: computed once
    memo.start_build()
    assert memo.get("a", compute("a")) == "A"  # from the previous build
    assert (memo.hits, memo.misses) == (1, 0)
    memo.start_build()  # "b" was not used by the build before this one: gone
    assert memo.get("b", compute("b")) == "B"
    assert calls == ["a", "b", "b"]
    assert len(memo) == 2  # "a" (previous build) and "b" (this one)


def test_a_build_that_found_nothing_changed_keeps_the_memo_for_the_next(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    memo = RebuildMemo()
    options = {"max_tokens": 60, "min_tokens": 8, "memo": memo}
    build_index(sample_kb, tmp_path / "ix", fake_embedder, **options)
    md = sample_kb / "policies" / "coin-refunds.md"
    # A save without a change: re-read, found identical, nothing rebuilt.
    os.utime(md, ns=(md.stat().st_atime_ns, md.stat().st_mtime_ns + 1_000_000))
    assert build_index(sample_kb, tmp_path / "ix", fake_embedder, **options).unchanged
    md.write_text(md.read_text() + "\nA real edit this time.\n")
    build_index(sample_kb, tmp_path / "ix", fake_embedder, **options)
    # Only the edited passages were tokenised and cut into windows again.
    assert memo.misses <= 2 * 3 + 1  # load, BM25 tokens and windows of <= 2 passages, + file


def test_visible_files_lists_regular_files_without_hidden_ones_or_symlinked_dirs(
    tmp_path: Path,
) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.md").write_text("z")
    (tmp_path / "a.md").write_text("a")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.md").write_text("hidden dir")
    (tmp_path / "b" / ".draft.md").write_text("hidden file")
    os.mkfifo(tmp_path / "pipe.md")  # a read of it would block the indexer forever
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "o.md").write_text("outside")
    (tmp_path / "linked").symlink_to(outside, target_is_directory=True)
    (tmp_path / "c.md").symlink_to(tmp_path / "a.md")
    found = visible_files(tmp_path)
    assert [p.relative_to(tmp_path).as_posix() for p, _ in found] == ["a.md", "b/z.md", "c.md"]
    assert found[0][1].st_size == 1
    assert visible_files(tmp_path / "missing") == []


def test_unchanged_files_are_not_parsed_again_but_edits_and_sidecars_are(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    import indexer.loaders as loaders

    parsed: list[str] = []
    real = loaders.load_file

    def counting(path, *args, **kwargs):
        parsed.append(Path(path).name)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(loaders, "load_file", counting)
    memo = RebuildMemo()
    options = {"max_tokens": 60, "min_tokens": 8, "memo": memo}
    first = build_index(sample_kb, tmp_path / "ix", fake_embedder, **options)
    everything = len(parsed)
    assert everything >= first.documents
    parsed.clear()
    md = sample_kb / "policies" / "coin-refunds.md"
    md.write_text(md.read_text() + "\nWatched edit: refunds close at noon.\n")
    build_index(sample_kb, tmp_path / "ix", fake_embedder, **options)
    assert parsed == ["coin-refunds.md"]
    parsed.clear()
    sidecar = md.with_name(md.name + ".meta.yaml")
    sidecar.write_text("markets: [gb]\n")
    build_index(sample_kb, tmp_path / "ix", fake_embedder, **options)
    assert parsed == ["coin-refunds.md"]  # its metadata changed: read again
    docs = {d["doc_id"]: d for d in Searcher(tmp_path / "ix", fake_embedder).list_documents()}
    assert docs["policies/coin-refunds.md"]["metadata"]["markets"] == ["gb"]


def test_a_build_through_the_memo_equals_a_fresh_build(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    memo = RebuildMemo()
    options = {"max_tokens": 60, "min_tokens": 8}
    build_index(sample_kb, tmp_path / "watched", fake_embedder, **options, memo=memo)
    md = sample_kb / "policies" / "coin-refunds.md"
    md.write_text(md.read_text().replace("Chargebacks", "Disputed chargebacks"))
    (sample_kb / "sops" / "seller-dispute.docx").unlink()
    build_index(sample_kb, tmp_path / "watched", fake_embedder, **options, memo=memo)
    assert memo.hits > 0
    build_index(sample_kb, tmp_path / "fresh", fake_embedder, **options)
    watched = Searcher(tmp_path / "watched", fake_embedder)
    fresh = Searcher(tmp_path / "fresh", fake_embedder)
    assert watched.chunks() == fresh.chunks()
    (spans_a, windows_a), (spans_b, windows_b) = (
        read_windows(current_generation(tmp_path / name)) for name in ("watched", "fresh")
    )
    np.testing.assert_array_equal(spans_a, spans_b)
    np.testing.assert_array_equal(windows_a.codes, windows_b.codes)
    np.testing.assert_array_equal(windows_a.scales, windows_b.scales)
    for query in ("disputed chargebacks refund", "seller proof of delivery"):
        got = watched.search(query, top_k=5, mode="bm25").to_dict()["results"]
        want = fresh.search(query, top_k=5, mode="bm25").to_dict()["results"]
        assert [(r["chunk_id"], r["score"]) for r in got] == [
            (r["chunk_id"], r["score"]) for r in want
        ]


def test_bm25_through_the_memo_scores_the_same_and_leaves_tokens_untouched() -> None:
    texts = ["Refunds for coins bought in JP", "Chargebacks are never refunded twice", ""]
    memo = RebuildMemo()
    memo.start_build()
    build_bm25(texts, memo)
    memo.start_build()
    again = build_bm25(texts + ["A new passage about coins"], memo)
    assert memo.hits == 3 and memo.misses == 1
    plain = build_bm25(texts + ["A new passage about coins"])
    np.testing.assert_allclose(
        again.get_scores(["coin"]), plain.get_scores(["coin"]), rtol=0, atol=0
    )
    assert memo.get(("bm25", texts[0]), lambda: None) == tokenize(texts[0])
