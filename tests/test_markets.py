"""Countries an agent names are searched also by the market codes the documents list."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.markets import COUNTRIES, market_codes, unlisted_markets, with_market_codes
from indexer.search import Searcher, keyword_text
from indexer.settings import Settings

CODES = frozenset({"MY", "KR", "DE", "US", "GB", "MX"})


def test_a_country_name_adds_its_code() -> None:
    assert with_market_codes("return window for a buyer in Malaysia", CODES) == (
        "return window for a buyer in Malaysia MY",
        [("Malaysia", "MY")],
    )


def test_demonyms_short_names_and_the_longest_name_count() -> None:
    text, added = with_market_codes("korean user asks about south korea and the USA", CODES)
    assert added == [("korean", "KR"), ("USA", "US")]  # south korea: KR once
    assert text.endswith(" KR US")
    assert with_market_codes("creator in the united kingdom", CODES)[1] == [
        ("united kingdom", "GB")
    ]


def test_colloquial_names_agents_type_count() -> None:
    """ "aussie buyer" was searched without AU (a helper's unseen knowledge base)."""
    codes = frozenset({"AU", "GB"})
    assert with_market_codes("aussie buyer wants a refund", codes)[1] == [("aussie", "AU")]
    assert with_market_codes("welsh creator, brits too", codes) == (
        "welsh creator, brits too GB", [("welsh", "GB")]
    )  # fmt: skip


def test_nothing_is_added_that_the_documents_do_not_use_or_the_agent_typed() -> None:
    assert with_market_codes("user in japan", CODES) == ("user in japan", [])  # JP not listed
    assert with_market_codes("MY user in malaysia", CODES) == ("MY user in malaysia", [])
    assert with_market_codes("user in malaysia", frozenset()) == ("user in malaysia", [])


def test_names_match_whole_words_only() -> None:
    # "indiana" is not India, "germanium" not German: names match as whole words.
    assert with_market_codes("shipping to indiana", frozenset({"IN"}))[1] == []
    assert with_market_codes("germanium sensor", CODES)[1] == []
    assert with_market_codes("seller (mexico)", CODES)[1] == [("mexico", "MX")]


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("Kunde aus Deutschland will Münzen zurück", [("Deutschland", "DE")]),
        ("cliente en México pide reembolso", [("México", "MX")]),
        ("İsviçre müşterisi iade istiyor", [("İsviçre", "CH")]),  # Turkish dotted capital
        ("عميل من السعودية", [("السعودية", "SA")]),  # typed without vowel marks
        ("ドイツのユーザーの返金", [("ドイツ", "DE")]),
        ("독일에서 구매한 코인", [("독일", "DE")]),  # a particle follows the name
        ("在德国购买的金币可以退款吗", [("德国", "DE")]),  # no spaces at all
        ("ลูกค้าในประเทศไทยขอคืนเงิน", [("ประเทศไทย", "TH")]),
        ("ウインドウが開かない", []),  # "window" holds インド (India) inside a longer word
        ("상품 인도 후 환불", []),  # 인도 is also "delivery": left out
        ("Türkçe kullanıcı benim hesabım", []),  # "benim" (my) is Benin in Portuguese
    ],
)
def test_country_names_in_other_languages(question: str, named: list) -> None:
    """Names in other languages were not read: "Deutschland", "ドイツ" or "독일" added no DE,
    so the German row ranked nowhere for an agent writing in German or Korean."""
    codes = frozenset({"DE", "MX", "CH", "SA", "TH", "IN", "BJ"})
    assert with_market_codes(question, codes)[1] == named


def test_common_given_names_are_not_countries() -> None:
    names = {line.split("\t")[1] for line in COUNTRIES.read_text().splitlines() if "\t" in line}
    assert {"chad", "jordan", "georgia", "jersey"}.isdisjoint(names)
    assert {"malaysia", "south korea", "korean", "germany", "german", "usa"} <= names


def test_market_codes_are_the_iso_codes_documents_list() -> None:
    metas = [{"markets": ["global"]}, {"markets": ["DE", "MY"]}, {"markets": None}, {}]
    assert market_codes(metas) == frozenset({"DE", "MY"})


def test_the_setting_turns_it_off() -> None:
    on = keyword_text("user in malaysia", CODES, Settings())
    off = keyword_text("user in malaysia", CODES, Settings(market_names=False))
    assert on == ("user in malaysia MY", [("malaysia", "MY")], [])
    assert off == ("user in malaysia", [], [])


def test_a_country_no_document_lists_is_named_back() -> None:
    """ "refund for a buyer in japan" was answered with the US, GB and DE rules, and nothing
    said no rule was specific to Japan; a knowledge base with no markets at all says nothing."""
    assert unlisted_markets("buyer in japan, korean too, and Japan", CODES) == [("japan", "JP")]
    assert unlisted_markets("user in malaysia", CODES) == []
    assert unlisted_markets("buyer in japan", frozenset()) == []
    text, added, unlisted = keyword_text("malaysian or japanese buyer", CODES, Settings())
    assert added == [("malaysian", "MY")] and unlisted == [("japanese", "JP")]
    assert keyword_text("japan", CODES, Settings(market_names=False))[2] == []


@pytest.mark.integration
@pytest.mark.parametrize(
    ("question", "row"),
    [
        ("minimum account age in malaysia", "MY |"),
        ("payout threshold for creators in japan", "JP |"),
        ("suicide hotline for a user in brazil", "BR |"),
        ("payout currency for mexican creators", "MX |"),
    ],
)
def test_a_country_named_finds_its_market_row_on_kb(
    question: str, row: str, kb_index: Path, real_embedder
) -> None:
    """kb/'s tables start each row with the market code; without the code these questions
    marked no such row in their first three results (docs/retrieval-experiments.md)."""
    searcher = Searcher(kb_index, real_embedder, Settings())
    try:
        response = searcher.search(question, top_k=3)
    finally:
        searcher.close()
    assert [code for _, code in response.markets] == [row[:2]]
    assert response.to_dict()["markets"][0]["code"] == row[:2]
    assert any(r.highlight.text.lstrip("| ").startswith(row) for r in response.results), [
        r.highlight.text for r in response.results
    ]


@pytest.mark.integration
def test_kb_says_when_no_document_lists_the_market_asked_about(
    kb_index: Path, real_embedder
) -> None:
    searcher = Searcher(kb_index, real_embedder, Settings())
    try:
        response = searcher.search("coin refund window for a buyer in argentina", top_k=3)
        listed = searcher.search("coin refund window for a buyer in germany", top_k=3)
    finally:
        searcher.close()
    assert response.unlisted_markets == [("argentina", "AR")] and response.results
    assert response.to_dict()["unlisted_markets"] == [{"name": "argentina", "code": "AR"}]
    assert listed.unlisted_markets == [] and listed.markets == [("germany", "DE")]


@pytest.mark.parametrize("backend", ["local", "postgres"])
def test_a_market_filter_by_name_or_unlisted_is_read_and_said(
    sample_kb: Path, fake_embedder, tmp_path: Path, request, backend: str
) -> None:
    """Filtered on "Germany" or "UK", an API client got only the global documents, marked
    answerable, with nothing said: a country's name is now searched by the code documents
    list, and a market no document lists is named in unlisted_markets."""
    from indexer.build import build_index
    from indexer.search import open_searcher
    from indexer.settings import Settings

    target = request.getfixturevalue("pg_database") if backend == "postgres" else tmp_path / "ix"
    build_index(sample_kb, target, fake_embedder, max_tokens=60, min_tokens=8)
    searcher = open_searcher(target, fake_embedder, Settings())
    try:
        by_code = searcher.search("coin refund window", filters={"markets": "DE"})
        by_name = searcher.search("coin refund window", filters={"markets": "Germany"})
        assert [r.chunk_id for r in by_name.results] == [r.chunk_id for r in by_code.results]
        assert by_name.unlisted_markets == [] and by_name.filters == {"markets": ["DE"]}
        unknown = searcher.search("coin refund window", filters={"markets": ["UK", "DE"]})
        assert unknown.unlisted_markets == [("UK", "GB")]
    finally:
        searcher.close()
