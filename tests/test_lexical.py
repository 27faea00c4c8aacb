"""BM25: our numpy score matrix against bm25s's own index, and terms reused across builds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from indexer import build, lexical
from indexer.build import build_index
from indexer.lexical import (
    TERMS_VERSION,
    bm25_from_terms,
    chunk_terms,
    read_terms,
    save_terms,
    tokenize,
)
from indexer.search import Searcher
from indexer.settings import Settings
from indexer.store import current_generation, read_windows

KB = Path(__file__).resolve().parents[1] / "kb"


def _kb_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted(KB.rglob("*.md"))]
    # Paragraphs: short and long rows, repeated words, and one row with no terms at all.
    return [part for text in texts for part in text.split("\n\n") if part.strip()] + ["?!"]


def test_the_score_matrix_is_the_one_bm25s_builds() -> None:
    import bm25s

    texts = _kb_texts()
    assert len(texts) > 500
    ours = bm25_from_terms(chunk_terms(texts))
    theirs = bm25s.BM25()
    theirs.index([tokenize(t) for t in texts], show_progress=False)
    assert set(ours.vocab_dict) == set(theirs.vocab_dict) - {""}
    for query in ("refund coins chargeback", "appeal overturned", "seller payout bank", "jp"):
        known = [t for t in lexical.terms(query) if t in ours.vocab_dict]
        assert known
        np.testing.assert_allclose(
            ours.get_scores(known), theirs.get_scores(known), rtol=1e-6, atol=1e-7
        )
    assert ours.scores["num_docs"] == theirs.scores["num_docs"] == len(texts)
    assert len(ours.scores["data"]) == len(theirs.scores["data"])


def test_known_terms_give_the_same_tokens_as_tokenising(monkeypatch) -> None:
    texts = ["Refunds for coins bought in JP", "Chargebacks are never refunded twice", ""]
    before = chunk_terms(texts)
    index = {t: i for i, t in enumerate(texts)}
    tokenised: list[str] = []

    def known(text: str) -> np.ndarray | None:
        i = index.get(text)
        return None if i is None else before.of(i)

    again = [texts[1], "A new passage about coins", texts[0]]
    original = lexical.tokenize
    monkeypatch.setattr(lexical, "tokenize", lambda t: tokenised.append(t) or original(t))
    after = chunk_terms(again, known=known, known_vocab=before.vocab)
    assert tokenised == ["A new passage about coins"]  # only the new text was tokenised
    for row, text in enumerate(again):
        assert [after.vocab[i] for i in after.of(row)] == original(text)


def test_terms_nobody_uses_leave_the_vocabulary() -> None:
    before = chunk_terms(["chargeback disputes", "coin refunds"])
    after = chunk_terms(
        ["coin refunds"], known=lambda t: before.of(1) if t == "coin refunds" else None,
        known_vocab=before.vocab,
    )  # fmt: skip
    assert sorted(after.vocab) == sorted(tokenize("coin refunds"))
    assert [after.vocab[i] for i in after.of(0)] == tokenize("coin refunds")


def test_saved_terms_round_trip_and_foreign_ones_are_refused(tmp_path: Path) -> None:
    found = chunk_terms(["Refunds for coins", "Chargebacks twice"])
    save_terms(found, tmp_path)
    again = read_terms(tmp_path)
    assert again is not None and again.vocab == found.vocab
    np.testing.assert_array_equal(again.ids, found.ids)
    np.testing.assert_array_equal(again.offsets, found.offsets)
    vocab_file = tmp_path / lexical.TERM_VOCAB_FILE
    vocab_file.write_text(json.dumps({"version": TERMS_VERSION + 1, "terms": found.vocab}))
    assert read_terms(tmp_path) is None  # another tokeniser's terms: tokenise again
    vocab_file.write_text(json.dumps({"version": TERMS_VERSION, "terms": found.vocab[:1]}))
    assert read_terms(tmp_path) is None  # ids beyond the vocabulary
    vocab_file.unlink()
    assert read_terms(tmp_path) is None


@pytest.mark.parametrize("windows", ["separate", "pooled"])
def test_a_rebuild_tokenises_and_cuts_only_new_passages_and_ranks_as_a_fresh_build(
    windows: str, sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    options = {"max_tokens": 60, "min_tokens": 8, "windows": windows}
    build_index(sample_kb, tmp_path / "ix", fake_embedder, **options)
    assert read_terms(current_generation(tmp_path / "ix")) is not None
    edited = next(p for p in sorted(sample_kb.rglob("*")) if p.suffix == ".md")
    edited.write_text(edited.read_text() + "\n\nChargeback disputes need proof of delivery.\n")
    (sample_kb / "policies" / "live-gifts.html").unlink()
    tokenised: list[str] = []
    cut: list[str] = []
    original, cut_windows = lexical.tokenize, build.sentence_windows
    monkeypatch.setattr(lexical, "tokenize", lambda t: tokenised.append(t) or original(t))
    monkeypatch.setattr(build, "sentence_windows", lambda t: cut.append(t) or cut_windows(t))
    build_index(sample_kb, tmp_path / "ix", fake_embedder, **options)
    monkeypatch.setattr(lexical, "tokenize", original)
    monkeypatch.setattr(build, "sentence_windows", cut_windows)
    build_index(sample_kb, tmp_path / "fresh", fake_embedder, **options)
    settings = Settings()
    rebuilt = Searcher(tmp_path / "ix", fake_embedder, settings)
    fresh = Searcher(tmp_path / "fresh", fake_embedder, settings)
    total = len(rebuilt.chunks())
    assert 1 <= len(tokenised) < total / 2  # the edited document's passages, not all
    assert any("proof of delivery" in t for t in tokenised)
    assert 1 <= len(cut) < total / 2 and any("proof of delivery" in t for t in cut)
    spans_a, _ = read_windows(current_generation(tmp_path / "ix"))
    spans_b, _ = read_windows(current_generation(tmp_path / "fresh"))
    np.testing.assert_array_equal(spans_a, spans_b)  # the same windows as cutting them all
    for query in ("chargeback proof of delivery", "creator gift revenue", "refund coins"):
        got = rebuilt.search(query, top_k=5, mode="bm25").to_dict()["results"]
        want = fresh.search(query, top_k=5, mode="bm25").to_dict()["results"]
        assert [(r["chunk_id"], r["score"]) for r in got] == [
            (r["chunk_id"], r["score"]) for r in want
        ]
    vocab, fresh_vocab = (
        read_terms(current_generation(tmp_path / name)).vocab for name in ("ix", "fresh")
    )
    assert sorted(vocab) == sorted(fresh_vocab)  # the deleted page's words are gone


def test_a_generation_saved_without_terms_is_tokenised_again(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """Generations written before terms were saved still rebuild, tokenising everything."""
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    generation = current_generation(tmp_path / "ix")
    manifest_path = generation / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for name in lexical.TERM_FILES:
        (generation / name).unlink()
        manifest["files"].pop(name)
    manifest_path.write_text(json.dumps(manifest))
    edited = next(p for p in sorted(sample_kb.rglob("*")) if p.suffix == ".md")
    edited.write_text(edited.read_text() + "\n\nOne more sentence.\n")
    build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    assert read_terms(current_generation(tmp_path / "ix")) is not None
    searcher = Searcher(tmp_path / "ix", fake_embedder, Settings())
    assert searcher.search("refund", top_k=3, mode="bm25").results


def test_a_market_code_that_is_a_stopword_is_a_term_when_typed_in_capitals() -> None:
    """'MY' (Malaysia) and 'IN' (India) used to vanish with 'my' and 'in'; as typed in
    capitals they are kept as they are, and the stopwords typed in lower case still go."""
    assert lexical.terms("MY buyer, IN user, DE and US") == [
        "MY",
        "buyer",
        "IN",
        "user",
        "de",
        "us",
    ]
    assert lexical.terms("my buyer in the shop") == ["buyer", "shop"]
    assert lexical.terms("My order In stock") == ["order", "stock"]  # capitalised, not a code
    assert lexical.terms("AND/OR") == ["OR"]  # a code has two capitals: 'AND' stays a stopword
    from indexer.highlight import term_pairs

    assert term_pairs("MY buyer") == [("my", "MY"), ("buyer", "buyer")]


def _first_by_keywords(tmp_path: Path, fake_embedder, text: str, questions: list[str]) -> list[str]:
    """The first keyword-search result's text for each question, over a one-file knowledge
    base holding ``text`` in small passages."""
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "doc.md").write_text(text, encoding="utf-8")
    build_index(kb, tmp_path / "ix", fake_embedder, max_tokens=20, min_tokens=4)
    searcher = Searcher(tmp_path / "ix", fake_embedder, Settings())
    try:
        return [searcher.search(q, top_k=3, mode="bm25").results[0].text for q in questions]
    finally:
        searcher.close()


def test_a_question_naming_a_market_by_such_a_code_finds_its_passage(
    fake_embedder, tmp_path: Path
) -> None:
    first = _first_by_keywords(
        tmp_path,
        fake_embedder,
        "# Return windows\n\n"
        "- MY: buyers have 15 days to return general merchandise.\n\n"
        "- GB: buyers have 30 days to return general merchandise, and my colleague says so.\n\n"
        "- IN: buyers have 10 days to return general merchandise.\n",
        ["MY buyer return window", "IN buyer return window"],
    )
    assert "15 days" in first[0] and "10 days" in first[1], first


def test_a_hyphenated_code_is_also_one_term() -> None:
    """ "BR-03" was only "br" and "03", and "03" is in every March date and in "PP-03"."""
    assert lexical.terms("payout failed with BR-03") == ["payout", "fail", "br", "03", "br03"]
    assert "pay502" in lexical.terms("PAY-502 timeout") and "w8ben" in lexical.terms("W-8BEN")
    for text in ("on 2026-03-01", "ages 13-15", "call +1-800-555-0100", "co-host a LIVE"):
        assert lexical.terms(text) == lexical.terms(text.replace("-", " ")), text
    from indexer.highlight import term_pairs

    assert ("br-03", "br03") not in term_pairs("BR-03") and ("br03", "br03") in term_pairs("BR-03")


def test_a_question_naming_a_hyphenated_code_finds_its_row_first(
    fake_embedder, tmp_path: Path
) -> None:
    (first,) = _first_by_keywords(
        tmp_path,
        fake_embedder,
        "# Payout failure codes\n\n"
        "- BR-08: PIX key invalid; since 2026-03-03 ask the creator to re-register it.\n\n"
        "- PP-03: PayPal account limited; the creator must contact PayPal.\n\n"
        "- BR-03: CPF does not match the bank account holder; ask for a bank in their name.\n",
        ["payout failed with BR-03"],
    )
    assert "CPF does not match" in first, first
