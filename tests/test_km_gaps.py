"""Gap topic labels and keywords on the Coverage page: whole words, readable."""

from __future__ import annotations

from insights import gaps
from tests.conftest import FakeEmbedder

THRESHOLD = 0.35


def _unanswered(query: str, n: int) -> dict:
    return {
        "search_id": f"s{n}",
        "query": query,
        "answerable": False,
        "n_results": 0,
        "results": [],
        "ts": "2026-11-01T10:00:00+00:00",
        "feedback": [],
    }


def test_a_long_question_label_ends_on_a_whole_word() -> None:
    question = (
        "can a seller in the Netherlands relist a counterfeit-flagged handbag after an appeal "
        "was granted"
    )
    [topic] = gaps.gap_topics([_unanswered(question, 1)], FakeEmbedder().encode, THRESHOLD)
    label = topic["label"]
    assert len(label) <= gaps.LABEL_CHARS and label.endswith("…")
    kept = label.removesuffix("…").split()
    assert kept == question.split()[: len(kept)]  # every word whole, none cut
    assert topic["examples"] == [question]  # the full question is still there to read


def test_shorten_keeps_short_text_and_cuts_after_a_word() -> None:
    assert gaps.shorten("merge two accounts") == "merge two accounts"
    assert gaps.shorten("refund coins bought yesterday", 20) == "refund coins bought…"
    assert gaps.shorten("refund coins, bought yesterday", 15) == "refund coins…"
    assert gaps.shorten("x" * 30, 10) == "x" * 9 + "…"  # one word longer than a label


def test_keywords_keep_words_of_any_script_whole() -> None:
    queries = ["Rückerstattung für Münzen", "Rückerstattung der Münzen bitte", "réembolso"]
    words = gaps.keywords(queries)
    assert words[:2] == ["rückerstattung", "münzen"]
    assert gaps.keywords(["creators' payouts-", "creators' payouts"], k=2) == [
        "creators",
        "payouts",
    ]
