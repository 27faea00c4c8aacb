"""Query log, gap topics, never-retrieved and stale documents, conflicting passages (pure)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from indexer.errors import InvalidQueryError, NotFoundError
from indexer.settings import Settings
from insights import conflicts, gaps
from insights.querylog import QueryLog, confidence_from_reason
from tests.conftest import FakeEmbedder

THRESHOLD = 0.35


def _response(query: str, answerable: bool, similarity: float, docs: list[str]) -> dict:
    word = "weak evidence: the closest passage has" if not answerable else "closest passage"
    return {
        "query": query,
        "answerable": answerable,
        "reason": f"{word} similarity {similarity:.2f} (threshold 0.35)",
        "results": [
            {"rank": i, "doc_id": d, "chunk_id": f"{d}#{i}", "title": d, "score": similarity}
            for i, d in enumerate(docs, start=1)
        ],
        "filters": {},
        "mode": "hybrid",
        "took_ms": 3.0,
        "index_version": "v1",
    }


@pytest.fixture(params=["local", "postgres"])
def log(request, tmp_path: Path) -> QueryLog:
    """The query log contract: a SQLite file, and the postgres backend's database."""
    if request.param == "local":
        log = QueryLog(tmp_path / "q.sqlite")
    else:
        url = request.getfixturevalue("pg_database")
        log = QueryLog.from_settings(Settings(database_url=url))
    yield log
    log.close()


def test_confidence_is_read_from_the_reason() -> None:
    assert confidence_from_reason("closest passage similarity 0.69 (threshold 0.35)") == 0.69
    assert confidence_from_reason("no document passes the filters and date") is None


def test_log_round_trip_and_feedback_validation(log: QueryLog) -> None:
    sid = log.log_search(_response("refund coins DE", True, 0.7, ["a.md", "b.md"]))
    log.add_feedback(sid, "helpful")
    log.add_feedback(sid, "wrong_or_outdated", "old numbers", chunk_id="b.md#2")
    with pytest.raises(InvalidQueryError):
        log.add_feedback(sid, "meh")
    with pytest.raises(InvalidQueryError):
        log.add_feedback(sid, "helpful", chunk_id="not-returned")
    with pytest.raises(NotFoundError):
        log.add_feedback("0" * 32, "helpful")
    [row] = log.searches()
    assert row["query"] == "refund coins DE" and row["confidence"] == 0.7
    assert [r["doc_id"] for r in row["results"]] == ["a.md", "b.md"]
    assert sorted(f["rating"] for f in row["feedback"]) == ["helpful", "wrong_or_outdated"]
    assert [f["doc_id"] for f in row["feedback"] if f["chunk_id"]] == ["b.md"]
    assert log.counts() == {"searches": 1, "feedback": 2}


def test_agglomerative_groups_close_vectors() -> None:
    v = np.array([[1, 0, 0], [0.95, 0.1, 0], [0, 1, 0], [0, 0.9, 0.1], [0, 0, 1]], float)
    labels = gaps.agglomerative(v, 0.8)
    assert labels[0] == labels[1] and labels[2] == labels[3]
    assert len({labels[0], labels[2], labels[4]}) == 3
    assert list(gaps.agglomerative(v, 1.01)) != [0] * 5
    assert len(set(gaps.agglomerative(v, -1.0))) == 1


def test_gap_topics_from_a_seeded_log(log: QueryLog) -> None:
    day1, day2 = "2026-11-01T10:00:00+00:00", "2026-11-02T10:00:00+00:00"
    for i, q in enumerate(
        ["crypto payout wallet", "crypto payout wallet address", "payout in crypto wallet"]
    ):
        log.log_search(_response(q, False, 0.2, ["p.md"]), ts=day1 if i < 2 else day2)
    for q in ["karaoke licence songs live", "karaoke songs licence"]:
        log.log_search(_response(q, True, 0.37, ["m.md"]), ts=day2)  # low confidence
    good = log.log_search(_response("refund coins DE 14 days", True, 0.8, ["c.md"]), ts=day2)
    log.log_search(_response("refund coins DE 14 days", True, 0.8, ["c.md"]), ts=day2)
    log.add_feedback(good, "not_helpful", "wrong market")
    topics = gaps.gap_topics(log.searches(), FakeEmbedder().encode, THRESHOLD, 0.05, 0.4)
    by_label = {t["label"]: t for t in topics}
    crypto = next(t for t in topics if "crypto" in t["keywords"])
    assert crypto["count"] == 3 and crypto["unanswered"] == 3
    assert crypto["trend"] == {"2026-11-01": 2, "2026-11-02": 1}
    assert crypto["topic_id"] == 1 and crypto["closest_docs"] == ["p.md"]
    karaoke = next(t for t in topics if "karaoke" in t["keywords"])
    assert karaoke["low_confidence"] == 2 and karaoke["unanswered"] == 0
    refund = next(t for t in topics if "refund" in t["keywords"])
    assert refund["count"] == 1 and refund["negative_feedback"] == 1  # the other was fine
    assert len(by_label) == 3
    summary = gaps.summary(log.searches(), THRESHOLD)
    assert summary["searches"] == 7 and summary["unanswered"] == 3
    assert summary["low_confidence"] == 2 and summary["negative_feedback"] == 1


def test_never_retrieved_stale_and_document_feedback(log: QueryLog) -> None:
    docs = [
        {"doc_id": "a.md", "title": "A", "metadata": {"review_date": "2026-01-01"}},
        {"doc_id": "b.md", "title": "B", "metadata": {"review_date": "2027-01-01"}},
        {"doc_id": "c.md", "title": "C", "metadata": {}},
    ]
    sid = log.log_search(_response("q", True, 0.8, ["a.md"]))
    log.add_feedback(sid, "wrong_or_outdated", chunk_id="a.md#1")
    searches = log.searches()
    assert [d["doc_id"] for d in gaps.never_retrieved(docs, searches)] == ["b.md", "c.md"]
    stale = gaps.past_review(docs, today=dt.date(2026, 6, 1))
    assert [(d["doc_id"], d["days_overdue"]) for d in stale] == [("a.md", 151), ("c.md", 0)]
    [row] = gaps.document_feedback(searches)
    assert row["doc_id"] == "a.md" and row["wrong_or_outdated"] == 1


def test_quantities_and_disagreements() -> None:
    q = conflicts.quantities("Refund within 14 days (10 business days in BR), max $50, 2026-03-01")
    assert q["days"] == {"14", "10"} and q["money"] == {"$50"} and q["date"] == {"2026-03-01"}
    assert conflicts.disagreements("refund within 14 days", "refund within 7 days") == {
        "days": [["14"], ["7"]]
    }
    assert conflicts.disagreements("refund within 14 days", "refund within 14 days") == {}
    assert conflicts.disagreements("refund within 14 days", "costs $5") == {}


def test_find_conflicts_skips_same_document_and_versions() -> None:
    chunks = [
        {"doc_id": "faq.md", "text": "Coins can be refunded within 14 days.", "heading_path": []},
        {"doc_id": "policy.md", "text": "Coins can be refunded within 7 days.",
         "heading_path": ["4"]},
        {"doc_id": "policy.md", "text": "Coins can be refunded within 3 days.", "heading_path": []},
        {"doc_id": "policy-v1.md", "text": "Coins can be refunded within 30 days.",
         "heading_path": []},
        {"doc_id": "other.md", "text": "Gifts are sent instantly to creators.", "heading_path": []},
    ]  # fmt: skip
    docs = [
        {"doc_id": "faq.md", "title": "FAQ", "metadata": {}},
        {"doc_id": "policy.md", "title": "Policy", "metadata": {"supersedes": "policy-v1.md"}},
        {"doc_id": "policy-v1.md", "title": "Policy v1", "metadata": {}},
        {"doc_id": "other.md", "title": "Other", "metadata": {}},
    ]
    vectors = FakeEmbedder().encode([c["text"] for c in chunks])
    found = conflicts.find_conflicts(chunks, vectors, docs, min_similarity=0.7)
    pairs = {(c["doc_a"], c["doc_b"]) for c in found}
    assert ("faq.md", "policy.md") in pairs
    assert ("faq.md", "policy-v1.md") in pairs
    assert ("policy.md", "policy-v1.md") not in pairs and ("policy-v1.md", "policy.md") not in pairs
    assert all(c["doc_a"] != c["doc_b"] for c in found)
    assert not any("other.md" in (c["doc_a"], c["doc_b"]) for c in found)
    both = conflicts.find_conflicts(chunks, vectors, docs, 0.7, include_versions=True)
    assert any({c["doc_a"], c["doc_b"]} == {"policy.md", "policy-v1.md"} for c in both)


def test_a_version_its_successor_retired_is_left_out_as_search_leaves_it_out() -> None:
    """Only versions marked 'status: superseded' were left out: one named only by its
    successor's 'supersedes' (as search retires it) was still flagged against other pages."""
    chunks = [
        {"doc_id": "faq.md", "text": "Coins can be refunded within 14 days.", "heading_path": []},
        {"doc_id": "old.md", "text": "Coins can be refunded within 30 days.", "heading_path": []},
    ]  # fmt: skip
    docs = [
        {"doc_id": "faq.md", "title": "FAQ", "metadata": {}},
        {"doc_id": "old.md", "title": "Old", "metadata": {"status": "active"}},
        {"doc_id": "new.md", "title": "New",
         "metadata": {"supersedes": "old.md", "effective_date": "2026-01-01"}},
    ]  # fmt: skip
    vectors = FakeEmbedder().encode([c["text"] for c in chunks])
    assert conflicts.find_conflicts(chunks, vectors, docs, 0.5)  # without the rule: flagged
    retired = gaps.superseded(docs, dt.date(2026, 6, 1))
    assert retired == {"old.md"}
    assert conflicts.find_conflicts(chunks, vectors, docs, 0.5, retired=retired) == []
    shown = conflicts.find_conflicts(
        chunks, vectors, docs, 0.5, include_versions=True, retired=retired
    )
    assert [(c["doc_a"], c["doc_b"]) for c in shown] == [("faq.md", "old.md")]


def test_who_asked_is_not_part_of_the_question(log: QueryLog) -> None:
    assert gaps.strip_placeholders("user [EMAIL] asks: can I merge accounts") == (
        "can I merge accounts"
    )
    assert gaps.strip_placeholders("ticket #[TICKET]: merge accounts?") == "merge accounts?"
    for q in [
        "user jo@x.io asks: merge two accounts",
        "merge two accounts",
        "@kim says merge two accounts",
    ]:  # noqa: E501
        log.log_search(_response(q, False, 0.1, []))
    [topic] = gaps.gap_topics(log.searches(), FakeEmbedder().encode, THRESHOLD)
    assert topic["count"] == 3 and topic["distinct_queries"] == 1
    assert topic["examples"] == ["merge two accounts"] and topic["label"] == "merge two accounts"


def test_sentence_level_disagreement_ignores_bookkeeping_and_unrelated_numbers() -> None:
    a = "Version 1.1 | Effective 2026-04-20 | Review by 2026-10-20\nSellers reply within 3 days."
    b = "Version 2.0 | Effective 2026-09-01 | Review by 2027-09-01\nSellers reply within 5 days."
    assert conflicts.disagreements(a, b) == {"days": [["3"], ["5"]]}
    unrelated = "Refunds are paid within 7 days. Payouts run every 14 days for creators."
    assert conflicts.disagreements("Refunds are paid within 7 days.", unrelated) == {}
    assert conflicts.disagreements("Appeals close after 30 days.", "Refunds take 5 days.") == {}
    assert "age" not in conflicts.quantities("hosts need at least 1,000 followers")
    assert conflicts.quantities("users under 18 cannot go live")["age"] == {"18"}


def test_superseded_versions_are_not_listed_for_review_or_as_never_retrieved() -> None:
    today = dt.date(2026, 6, 1)
    docs = [
        # marked superseded, long overdue: used to top "past review date"
        {"doc_id": "v1.md", "title": "V1", "metadata": {"review_date": "2025-01-01",
         "status": "superseded", "superseded_by": "v2.md"}},
        {"doc_id": "v2.md", "title": "V2", "metadata": {"review_date": "2026-05-01",
         "supersedes": "v1.md", "effective_date": "2026-01-01"}},
        # still says active, but its successor is in force: superseded all the same
        {"doc_id": "old.md", "title": "Old", "metadata": {"review_date": "2025-06-01",
         "status": "active"}},
        {"doc_id": "new.md", "title": "New", "metadata": {"supersedes": "old.md",
         "effective_date": "2026-03-01", "review_date": "2027-03-01"}},
        # a successor that is not in force yet leaves its predecessor current
        {"doc_id": "cur.md", "title": "Cur", "metadata": {"review_date": "2026-02-01"}},
        {"doc_id": "next.md", "title": "Next", "metadata": {"supersedes": "cur.md",
         "effective_date": "2026-09-01"}},
    ]  # fmt: skip
    assert gaps.superseded(docs, today) == {"v1.md", "old.md"}
    stale = [d["doc_id"] for d in gaps.past_review(docs, today)]
    assert stale == ["cur.md", "v2.md"]
    assert "v1.md" in [d["doc_id"] for d in gaps.past_review(docs, today, True)]
    unretrieved = {d["doc_id"] for d in gaps.never_retrieved(docs, [], today)}
    # next.md is not in force until September: search cannot have returned it
    assert unretrieved == {"v2.md", "new.md", "cur.md"}
    assert len(gaps.never_retrieved(docs, [], today, include_superseded=True)) == 6


def test_versions_listed_with_include_superseded_say_why_they_are_not_in_force() -> None:
    """With include_superseded a version retired only by its successor's ``supersedes`` still
    read "active" (its own status field), next to live policies overdue for review: nothing
    told a manager it was no longer served, nor that a listed version starts next month."""
    today = dt.date(2026, 6, 1)
    docs = [
        {"doc_id": "old.md", "title": "Old", "metadata": {"review_date": "2025-06-01",
         "status": "active"}},
        {"doc_id": "new.md", "title": "New", "metadata": {"supersedes": "old.md",
         "effective_date": "2026-03-01", "review_date": "2027-03-01"}},
        {"doc_id": "next.md", "title": "Next", "metadata": {"effective_date": "2026-09-01",
         "review_date": "2027-09-01"}},
        {"doc_id": "live.md", "title": "Live", "metadata": {"review_date": "2026-01-01"}},
    ]  # fmt: skip
    stale = {r["doc_id"]: r for r in gaps.past_review(docs, today, include_superseded=True)}
    gone = "superseded by a newer version from 2026-03-01, as of 2026-06-01"  # as cited
    assert stale["old.md"]["not_in_force"] == gone
    assert stale["live.md"]["not_in_force"] == ""
    unretrieved = {
        r["doc_id"]: r["not_in_force"]
        for r in gaps.never_retrieved(docs, [], today, include_superseded=True)
    }
    assert unretrieved == {
        "old.md": gone,
        "new.md": "",
        "next.md": "not yet in force on 2026-06-01, effective 2026-09-01",
        "live.md": "",
    }
    # without the flag only versions in force are listed, each saying so
    assert {r["not_in_force"] for r in gaps.never_retrieved(docs, [], today)} == {""}


def test_sentences_are_cut_at_sentence_ends_not_at_line_wraps() -> None:
    pdf = (
        "If the payout date falls on a weekend, the payout is sent on the next\n"
        "business day. After the payout is sent, bank transfers usually arrive within 3 to 5\n"
        "business days and PayPal payouts within 1 to 2 business days.\n"
        " Market\nCurrency\n30 days\n15 days\n"
        "- item one lasts 3 days\n- item two lasts 5 days. It ends.\n"
        "| Active strikes | Penalty |\n| 4 | 7-day suspension |"
    )
    assert conflicts.sentences(pdf) == [
        "If the payout date falls on a weekend, the payout is sent on the next business day.",
        "After the payout is sent, bank transfers usually arrive within 3 to 5 business days "
        "and PayPal payouts within 1 to 2 business days.",
        "Market", "Currency", "30 days", "15 days",
        "- item one lasts 3 days", "- item two lasts 5 days.", "It ends.",
        "| Active strikes | Penalty |", "| 4 | 7-day suspension |",
    ]  # fmt: skip


def test_ranges_are_one_value() -> None:
    for text in ["3 to 5 business days", "3-5 days", "3–5 days", "between 3 and 5 days"]:
        assert conflicts.quantities(text) == {"days": {"3-5"}}, text
    assert conflicts.quantities("at least 7 days old, 1,500 coins") == {
        "days": {"7"},
        "coins": {"1500"},
    }


# (passage a, passage b, expected disagreements): documents on kb/ that agree, and real conflicts
AGREE_AND_DISAGREE = [
    (  # a PDF line wrap used to cut the first sentence in two: days [5] vs [2, 5]
        "After the payout is sent, bank transfers usually arrive within 3 to 5 business days and\n"
        "PayPal payouts within 1 to 2 business days.",
        "Bank transfers usually arrive within 3 to 5 business days and PayPal payouts within 1 "
        "to 2 business days.",
        {},
    ),
    (  # one states a subset of the other's values: days [30, 45] vs [30]
        "GDPR and UK GDPR requests must be answered within 30 days of receipt, and CCPA requests "
        "within 45 days.",
        "For GDPR and UK GDPR requests we answer within 30 days of receipt.",
        {},
    ),
    (  # two shared words, different subjects: days [2] vs [5]
        "IP Operations reviews complete notices within 2 business days.",
        "IP Operations reviews appeals within 5 business days; a reviewer handles the appeal.",
        {},
    ),
    (  # a table header against a glossary line: days [7] vs [90]
        "Reached at 4 active strikes (7 days).",
        "| Active strikes (last 90 days) | Penalty |\n| 4 | 7-day account suspension |",
        {},
    ),
    (  # one number inside the other's range
        "Bank transfers usually arrive within 5 business days of the payout.",
        "Bank transfers usually arrive within 3 to 5 business days of the payout.",
        {},
    ),
    (  # the same rule for two markets
        "- MX: the window is 15 days for most categories and 7 days for beauty and personal care.",
        "- ID: the window is 7 days for most categories and 3 days for beauty and personal care.",
        {},
    ),
    (
        "Coins can be refunded within 14 days of purchase.",
        "Coins can be refunded within 30 days of purchase.",
        {"days": [["14"], ["30"]]},
    ),
    (
        "Processing takes 5-7 business days after approval.",
        "Processing takes 5-10 business days after approval; the user is told by e-mail.",
        {"days": [["5-7"], ["5-10"]]},
    ),
    (  # short sentences: every word of the shorter is in the longer
        "Coins can be refunded within 14 days.",
        "Unused coins can be refunded within 30 days of purchase.",
        {"days": [["14"], ["30"]]},
    ),
    (
        "Payouts are sent within 7 days.",
        "Creator payouts are sent within 14 days of the monthly cut-off.",
        {"days": [["7"], ["14"]]},
    ),
    (  # a table cell's two words are in many sentences: days [90] vs [7] (kb/)
        "Permanent ban on the third violation within 90 days.",
        "| Permanent ban | 7 days |",
        {},
    ),
    (  # a heading is not a statement: age [16] vs [18] (kb/)
        "- AU: since 2025-12-10, users under 16 cannot hold an account.",
        "### 9.3 Accounts of users under 18",
        {},
    ),
    (  # a list fragment: days [7] vs [30] (kb/)
        "| 4 | 7-day account suspension (read-only).",
        "30-day account suspension;",
        {},
    ),
    (  # a shared value does not hide the one that differs
        "Refunds are paid within 14 days, or 30 days for carrier billing purchases.",
        "Refunds are paid within 14 days, or 60 days for carrier billing purchases.",
        {"days": [["30"], ["60"]]},
    ),
]


@pytest.mark.parametrize(("a", "b", "expected"), AGREE_AND_DISAGREE)
def test_only_real_disagreements_are_flagged(a: str, b: str, expected: dict) -> None:
    assert conflicts.disagreements(a, b) == expected
    assert conflicts.disagreements(b, a) == {k: [vb, va] for k, (va, vb) in expected.items()}


def test_a_true_conflict_between_near_duplicate_passages_is_found() -> None:
    policy = (
        "## 5.1 Purchases by minors\nIf a parent or guardian reports that a minor made coin "
        "purchases without\ntheir consent, the purchases can be refunded within 14 days of the "
        "purchase\ndate, in every market. Tier 2 decides within 3 business days."
    )
    faq = (
        "If a parent or guardian reports that a minor made coin purchases without their consent, "
        "the purchases can be refunded within 30 days of the purchase date, in every market.\n"
        "Tier 2 decides within 3 to 5 business days."
    )
    chunks = [
        {"doc_id": "policies/coins.md", "text": policy, "heading_path": ["5.1"]},
        {"doc_id": "faqs/minors.md", "text": faq, "heading_path": []},
    ]
    docs = [
        {"doc_id": "policies/coins.md", "title": "Coins", "metadata": {}},
        {"doc_id": "faqs/minors.md", "title": "Minors FAQ", "metadata": {}},
    ]
    [found] = conflicts.find_conflicts(chunks, FakeEmbedder().encode([policy, faq]), docs)
    assert found["differences"] == {"days": [["14"], ["30"]]}  # 3 is inside 3 to 5: agrees


def test_similar_pairs_in_blocks_are_those_of_the_whole_matrix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pairs were read off the whole n x n matrix (40 GB at 100k passages); in blocks of rows
    they are the same pairs, in the same order (most alike first, then by row)."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(61, 8)).astype(np.float32)
    vectors[5] = vectors[9]  # a tie
    monkeypatch.setattr(conflicts, "PAIR_BLOCK", 7)
    ii, jj, ss = conflicts.similar_pairs(vectors, 0.2)
    v = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sim = v @ v.T
    iu, ju = np.triu_indices(len(v), k=1)
    keep = sim[iu, ju] >= 0.2
    want = sorted(
        zip(iu[keep].tolist(), ju[keep].tolist(), sim[iu, ju][keep].tolist(), strict=True),
        key=lambda p: (-round(p[2], 3), p[0], p[1]),
    )
    assert list(zip(ii.tolist(), jj.tolist(), strict=True)) == [(i, j) for i, j, _ in want]
    assert np.allclose(ss, [s for _, _, s in want], atol=1e-6)


def test_the_conflict_search_is_bounded_in_time_and_pairs(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It had no deadline (14-20 s on 466 passages with KB_REQUEST_TIMEOUT_S 10) and no bound
    on the pairs it compares."""
    from fastapi.testclient import TestClient

    from tests.test_insights_api import make_app

    with TestClient(make_app(sample_kb, fake_embedder, tmp_path)) as client:
        everything = {"min_similarity": 0}
        assert client.get("/analytics/conflicts", params=everything).status_code == 200
        monkeypatch.setattr(conflicts, "MAX_PAIRS", 3)
        refused = client.get("/analytics/conflicts", params=everything)
        [error] = refused.json()["detail"]
        assert refused.status_code == 422 and "higher min_similarity" in error["msg"]
        assert error["loc"] == ["query", "min_similarity"]
        monkeypatch.setattr(conflicts, "MAX_PAIRS", 10**9)
        settings = client.app.state.insights.settings
        client.app.state.insights.settings = settings.model_copy(update={"request_timeout_s": 1e-9})
        late = client.get("/analytics/conflicts", params=everything)
        assert late.status_code == 504 and "deadline" in late.json()["detail"]


@pytest.mark.parametrize("best", [0.3962, 0.3496, 0.35, 0.8123])
def test_the_logged_confidence_is_the_similarity_to_within_half_a_thousandth(best: float) -> None:
    """At two decimals 0.3962 was logged as 0.40, past the low-confidence line of 0.40, and
    0.3496 (flagged unanswerable) as the 0.35 threshold itself."""
    from indexer.search import judge

    answerable, reason = judge(best, 0.35)
    assert answerable == (best >= 0.35)
    assert abs(confidence_from_reason(reason) - best) <= 0.0005
    assert (confidence_from_reason(reason) < 0.40) == (best < 0.40)


def test_a_version_whose_successor_the_manager_may_not_see_is_still_retired() -> None:
    """Search retires a version once a successor is in force, whoever may see that successor;
    the review and never-retrieved lists judged from the manager's own documents only, and
    listed as due for review a version no search of theirs is ever answered from."""
    today = dt.date(2026, 6, 1)
    seen = [
        {"doc_id": "tips-v1.md", "title": "Tips v1", "metadata": {"review_date": "2026-01-01",
         "effective_date": "2025-01-01"}},
        {"doc_id": "live.md", "title": "Live", "metadata": {"review_date": "2026-01-01"}},
    ]  # fmt: skip
    newer = {"supersedes": "tips-v1.md", "effective_date": "2026-03-01", "access_groups": ["legal"]}
    hidden = {"doc_id": "tips-v2.md", "title": "Tips v2", "metadata": newer}
    every = [*seen, hidden]
    assert [r["doc_id"] for r in gaps.past_review(seen, today, every=every)] == ["live.md"]
    assert [r["doc_id"] for r in gaps.not_retrieved(seen, set(), today, every=every)] == ["live.md"]
    [listed] = [
        r for r in gaps.past_review(seen, today, True, every=every) if r["doc_id"] == "tips-v1.md"
    ]
    assert "outside your access groups" in listed["not_in_force"]
    assert "tips-v2" not in listed["not_in_force"] and "2026-03-01" not in listed["not_in_force"]
