"""Best-sentence highlighting is a pure function: check it picks the telling sentence."""

from __future__ import annotations

from indexer.highlight import best_sentence, idf_table, sentence_spans, terms


def test_terms_stem_and_drop_stopwords() -> None:
    assert terms("The refunds for coins were processed") == ["refund", "coin", "were", "process"]


def test_sentence_spans_cover_lines_and_sentences() -> None:
    text = "## Heading\nFirst sentence. Second one!\n1. A step"
    parts = [text[a:b] for a, b in sentence_spans(text)]
    assert parts == ["## Heading", "First sentence.", "Second one!", "1. A step"]


def test_best_sentence_prefers_rare_query_terms() -> None:
    corpus = ["user account refund", "user account", "user chargeback", "user account login"]
    idf = idf_table(corpus)
    text = "Users can ask about their account. A chargeback freezes the coin balance. Thanks."
    a, b = best_sentence(text, "user account chargeback", idf)
    assert text[a:b] == "A chargeback freezes the coin balance."


def test_prefix_matches_count() -> None:
    idf = idf_table(["germany refund", "france refund"])
    text = "Users elsewhere get 7 days. Users in Germany can withdraw within 14 days."
    a, b = best_sentence(text, "german withdrawal", idf)
    assert "Germany" in text[a:b]


def test_no_overlap_falls_back_to_first_body_sentence() -> None:
    text = "## Scope\nThis covers refunds."
    a, b = best_sentence(text, "zebra", {})
    assert text[a:b] == "This covers refunds."


def test_memoised_stems_match_stemming_each_word(monkeypatch) -> None:
    """The stem memo changes speed only: the same terms come out with it cold, warm, and
    after it is cleared at its size bound."""
    from indexer import highlight

    text = "Creators posting streams were banned; refunds processed, coins gifted. The Rules!"
    expected = [s for w in highlight._WORD_RE.findall(text.lower()) if (s := highlight._stem(w))]
    assert expected == ["creator", "post", "stream", "were", "bann", "refund", "process",
                        "coin", "gift", "rule"]  # fmt: skip
    monkeypatch.setattr(highlight, "_STEMS", {})
    assert highlight.terms(text) == expected  # cold
    assert highlight.terms(text) == expected  # warm
    monkeypatch.setattr(highlight, "_STEMS", {})
    monkeypatch.setattr(highlight, "_MAX_STEMS", 3)
    assert highlight.terms(text) == expected  # cleared and refilled on the way
    assert 0 < len(highlight._STEMS) <= 3
