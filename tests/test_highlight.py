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
