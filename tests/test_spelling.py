"""Keywords typed with one slip are read as the index's own words, for BM25 only; real words
and anything without a dictionary are left alone; both backends choose alike."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.search import open_searcher
from indexer.settings import Settings
from indexer.spelling import edits1, model_spellings, model_words, query_terms, respelled

INDEX = {"refund": 40, "account": 90, "chargeback": 12, "coin": 30, "other": 50, "track": 20}
WORDS = frozenset({"refund", "account", "mother", "crack", "coins", "the", "how"})


def _df(wanted) -> dict[str, int]:
    return {t: INDEX[t] for t in wanted if t in INDEX}


def test_edits_one_slip_away() -> None:
    near = edits1("refnd")
    assert {"refund", "refd", "rfend", "refnds"} <= near  # insert, delete, swap, add
    assert "refnd" not in near and "rfund" not in near  # two edits away
    assert all(abs(len(w) - 5) <= 1 for w in near)


def test_a_slip_is_read_as_the_index_term_one_edit_away() -> None:
    terms, fixed = query_terms("refnd the coins to the acount", _df, WORDS)
    assert terms == ["refund", "coin", "account"]
    assert fixed == {"refnd": "refund", "acount": "account"}
    assert query_terms("chargebak", _df, WORDS) == (["chargeback"], {"chargebak": "chargeback"})


def test_real_words_short_words_and_no_dictionary_are_left_alone() -> None:
    # "mother" and "crack" are words the model knows: not slips for "other" and "track"
    assert query_terms("mother crack", _df, WORDS) == (["mother", "crack"], {})
    assert query_terms("refnd", _df, None) == (["refnd"], {})  # correction off
    assert query_terms("zebras", _df, WORDS)[0] == ["zebra"]  # nothing one edit away in the index
    assert query_terms("cion", _df, WORDS)[0] == ["cion"]  # under MIN_CHARS: too many neighbours
    assert query_terms("w8ben form", _df, WORDS)[0] == ["w8ben", "form"]  # digits: a code


def test_the_most_common_candidate_wins_and_a_tie_goes_alphabetically() -> None:
    index = {"bander": 5, "binder": 9, "border": 9}

    def df(wanted):
        return {t: index[t] for t in wanted if t in index}

    assert query_terms("bxnder", df, frozenset())[0] == ["binder"]  # 9 beats 5
    assert query_terms("border binder", df, frozenset())[0] == ["border", "binder"]  # known
    index["bander"] = 9
    assert query_terms("bxnder", df, frozenset())[0] == ["bander"]  # a tie: alphabetical


def test_the_model_reads_the_vocabulary_word_of_the_index_term() -> None:
    """BM25 reads "refnd" as the term "refund"; the model reads the word "refund", not
    sub-word pieces. A slip with no vocabulary word one edit away stays as typed."""
    _terms, fixed = query_terms("refnd coins to acount", _df, WORDS)
    assert model_spellings(fixed, WORDS) == {"refnd": "refund", "acount": "account"}
    assert model_spellings({"archivng": "archiv"}, WORDS | {"archiving"}) == {
        "archivng": "archiving"  # its term is the stem BM25 read
    }
    assert model_spellings({"chargebak": "chargeback"}, WORDS) == {}  # no such word known
    assert model_spellings(fixed, None) == {} and model_spellings({}, WORDS) == {}
    spelled = respelled("Refnd coins to acount, not acounts or my-acount", {"refnd": "refund"})
    assert spelled == "refund coins to acount, not acounts or my-acount"
    assert respelled("acount: acount", {"acount": "account"}) == "account: account"


def test_the_bundled_model_words_are_a_dictionary() -> None:
    from indexer.embedding import bundled_model_path

    words = model_words(str(bundled_model_path()))
    assert words is not None and len(words) > 15_000
    assert {"mother", "account", "crack"} <= words and "refnd" not in words
    assert not any(w.startswith("#") for w in words)
    assert model_words("/nonexistent/model") is None


@pytest.fixture(params=["local", "postgres"])
def target(request, tmp_path: Path):
    if request.param == "local":
        return tmp_path / "ix"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def on_and_off(target, sample_kb: Path, fake_embedder):
    """Searchers over the sample, with correction on and off, on both backends; the model
    knows "refund" as a word."""
    build_index(sample_kb, target, fake_embedder, max_tokens=60, min_tokens=8)
    fake_embedder.words = frozenset({"refund", "coins", "within"})
    searcher = open_searcher(target, fake_embedder, Settings())
    off = open_searcher(target, fake_embedder, Settings(spell_correction=False))
    yield searcher, off
    searcher.close()
    off.close()


def test_a_typed_slip_finds_what_the_word_finds_on_both_backends(on_and_off) -> None:
    searcher, off = on_and_off
    right = searcher.search("refund coins", mode="bm25", top_k=3).results
    slip = searcher.search("refnd coins", mode="bm25", top_k=3).results
    assert right and [r.chunk_id for r in slip] == [r.chunk_id for r in right]
    assert [r.score for r in slip] == [r.score for r in right]
    unfixed = off.search("refnd coins", mode="bm25", top_k=3).results
    assert [r.score for r in unfixed] != [r.score for r in right]  # "coins" alone


def test_the_model_reads_a_slip_as_the_word_on_both_backends(on_and_off) -> None:
    """The dense ranking of "refnd coins" is that of "refund coins" (the model reads the
    word), and with correction off it is not."""
    searcher, off = on_and_off
    right = searcher.search("refund coins", mode="dense", top_k=3).results
    response = searcher.search("refnd coins", mode="dense", top_k=3)
    slip = response.results
    assert [(r.chunk_id, r.score) for r in slip] == [(r.chunk_id, r.score) for r in right]
    assert response.to_dict()["spellings"] == [{"typed": "refnd", "read_as": "refund"}]
    unfixed = off.search("refnd coins", mode="dense", top_k=3)
    assert [r.score for r in unfixed.results] != [r.score for r in right]
    assert unfixed.spellings == []
