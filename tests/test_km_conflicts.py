"""Contradictory policies on text the conflict finder was not tuned on (kb/ shows none).

A small labelled corpus of SOP/policy passage pairs: real contradictions a knowledge manager
must see, and look-alikes that agree (other markets or products, a range holding the other
value, a superseded version and its successor, one value written two ways, a passage and its
summary). Each pair is two documents run through :func:`insights.conflicts.find_conflicts`
with every pair compared (``min_similarity=-1``), so the sentence-level check alone decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from indexer.search import open_searcher
from indexer.settings import Settings
from insights import conflicts
from tests.conftest import FakeEmbedder


@dataclass(frozen=True)
class Case:
    """Two passages from two documents; ``kind`` is the quantity that must be named as
    disagreeing (None: the pair agrees and must not be reported)."""

    name: str
    a: str
    b: str
    kind: str | None
    meta_a: dict[str, Any] = field(default_factory=dict)
    meta_b: dict[str, Any] = field(default_factory=dict)


CONFLICTS = [
    Case(
        "days",
        "Sellers must ship every order within 3 business days of payment. Orders not shipped "
        "in time are cancelled automatically.",
        "Shipping SLA: sellers must ship every order within 5 business days of payment, "
        "otherwise the order is cancelled.",
        "days",
    ),
    Case(
        "weeks against days",
        "Buyers can open a return request within 14 days of delivery.",
        "Buyers can open a return request within three weeks of delivery; after that, "
        "refer them to the seller.",
        "days",
    ),
    Case(
        "amount, symbol",
        "Agents may issue a goodwill credit of up to €20 per order without approval.",
        "Agents may issue a goodwill credit of up to €50 per order without approval from a lead.",
        "money",
    ),
    Case(
        "amount, currency code",
        "Agents may issue a goodwill credit of up to 20 EUR per order without approval.",
        "Agents may issue a goodwill credit of up to EUR 50 per order without approval.",
        "money",
    ),
    Case(
        "percentage",
        "The platform keeps a 30% commission on every gift a creator receives.",
        "The platform keeps a 50 percent commission on every gift a creator receives.",
        "percent",
    ),
    Case(
        "age, or older",
        "Users must be 18 or older to start a LIVE stream.",
        "Users must be 16 or older to start a LIVE stream, and 18 or older to receive gifts.",
        "age",
    ),
    Case(
        "age, plus sign",
        "Only users aged 18+ may buy coins.",
        "Only users aged 16+ may buy coins.",
        "age",
    ),
    Case(  # a minimum age as a statement was not read: only "at least 16", "16+", "aged 16"
        "minimum age, stated",
        "The minimum age to create an account is 13.",
        "The minimum age to create an account is 16.",
        "age",
    ),
    Case(
        "minimum age as a label, against prose",
        "Age requirement: 18 for LIVE hosting.",
        "LIVE hosting requires users to be 16 or older.",
        "age",
    ),
    Case(  # "13 years of age" was a duration of 13 years, never compared with "16 or older"
        "years of age",
        "Users must be 13 years of age or older to sign up.",
        "Users must be 16 or older to sign up.",
        "age",
    ),
    Case(
        "phone number",
        "For urgent payout failures, call the Payments escalation desk on +44 20 7946 0018.",
        "For urgent payout failures, call the Payments escalation desk on +44 20 7946 0991.",
        "phone",
    ),
    Case(
        "e-mail address",
        "Law enforcement requests go to the Legal desk at lers@example.com; never answer "
        "them from the support queue.",
        "Law enforcement requests go to the Legal desk at legal-requests@example.com.",
        "email",
    ),
    Case(
        "ISO date",
        "The new seller fee applies to orders placed from 2026-04-01.",
        "The new seller fee applies to orders placed from 2026-05-01.",
        "date",
    ),
    Case(
        "written date",
        "The new seller fee applies to orders placed from 1 April 2026.",
        "The new seller fee applies to orders placed from May 1, 2026.",
        "date",
    ),
    Case(
        "must / must not",
        "Agents must share the tracking number with the buyer when a parcel is late.",
        "Agents must not share the tracking number with the buyer when a parcel is late.",
        "rule",
    ),
    Case(
        "allowed / not allowed",
        "Sellers are allowed to list refurbished phones in the Electronics category.",
        "Sellers are not allowed to list refurbished phones in the Electronics category.",
        "rule",
    ),
    Case(
        "can / cannot",
        "Creators can appeal a LIVE ban from the app within the appeal window.",
        "Creators cannot appeal a LIVE ban from the app within the appeal window.",
        "rule",
    ),
    Case(
        "escalation team",
        "Escalate chargeback disputes over €500 to the Payments Risk team.",
        "Escalate chargeback disputes over €500 to Trust & Safety.",
        "team",
    ),
    # Known misses until counts of any noun and rule cores were compared.
    Case(
        "followers",
        "Creators need at least 1,000 followers to go LIVE.",
        "Creators need at least 500 followers to go LIVE.",
        "count",
    ),
    Case(
        "should / should not with a reason added",
        "Agents should not ask the user for their password.",
        "Agents should ask the user for their password to verify the account.",
        "rule",
    ),
]

# Counts of nouns the finder has no unit for, and rules one side adds a purpose to: written
# for the count and rule-core checks, together with NOT_COUNTS below.
COUNTS_AND_PURPOSES = [
    Case(
        "count written as a word",
        "Creators can pin up to 3 videos to the top of their profile.",
        "Creators can pin up to five videos to the top of their profile.",
        "count",
    ),
    Case(
        "a maximum of devices",
        "Each account can be signed in on a maximum of five devices at once.",
        "Each account can be signed in on a maximum of 3 devices at once.",
        "count",
    ),
    Case(
        "strikes, with a window that agrees",
        "An account is permanently banned after 3 strikes within 90 days.",
        "An account is permanently banned after 5 strikes within 90 days.",
        "count",
    ),
    Case(
        "products per LIVE",
        "Sellers can feature up to 10 products per LIVE.",
        "Sellers can feature up to 20 products per LIVE.",
        "count",
    ),
    Case(
        "a range of devices against a number outside it",
        "A household can link between 3 and 5 devices to one subscription.",
        "A household can link up to 8 devices to one subscription.",
        "count",
    ),
    Case(
        "one account against two accounts",
        "Each user can have only one account per phone number.",
        "Each user can have up to 2 accounts per phone number.",
        "count",
    ),
    Case(  # "at least 50" was read as an age
        "a two-digit count after 'at least'",
        "Creators need at least 50 followers to post Stories.",
        "Creators need at least 100 followers to post Stories.",
        "count",
    ),
    Case(
        "digits of a code",
        "Verification codes have 6 digits and expire after 10 minutes.",
        "Verification codes have 4 digits and expire after 10 minutes.",
        "count",
    ),
    Case(
        "a count after a capitalised first word",
        "Send 2 reminders before closing an unanswered ticket.",
        "Send 3 reminders before closing an unanswered ticket.",
        "count",
    ),
    Case(
        "must / must not with 'so that' added",
        "Agents must not call the buyer.",
        "Agents must call the buyer so that the delivery can be rearranged.",
        "rule",
    ),
    Case(
        "may / may not with a leading purpose",
        "In order to confirm identity, agents may ask for the last four digits of the card.",
        "Agents may not ask for the last four digits of the card.",
        "rule",
    ),
    Case(
        "must / must not under one condition, with a purpose added",
        "Agents must not share the tracking number when a parcel is late.",
        "Agents must share the tracking number when a parcel is late so that the buyer is "
        "reassured.",
        "rule",
    ),
]

# Look-alikes for the same checks: numbers that are no counts, counts of other things, and
# rules that an exception, a condition or a negation inside a condition makes compatible.
NOT_COUNTS = [
    Case(
        "section numbers",
        "See section 4 for the refund rules that apply to coins.",
        "See section 6 for the refund rules that apply to coins.",
        None,
    ),
    Case(
        "tiers",
        "Tier 1 agents can approve refunds for disputed orders.",
        "Tier 2 agents can approve refunds for disputed orders.",
        None,
    ),
    Case(
        "years",
        "The 2025 creator fund pays out to eligible creators in March.",
        "The 2026 creator fund pays out to eligible creators in March.",
        None,
    ),
    Case(
        "list markers",
        "1. Ask the user for the order number and the email address.",
        "2. Ask the user for the order number and the email address.",
        None,
    ),
    Case(
        "order ids beside the same count",
        "Order #12345 contains 3 items and ships from the EU warehouse.",
        "Order #67890 contains 3 items and ships from the EU warehouse.",
        None,
    ),
    Case(
        "versions",
        "Update the app to version 34 to see the new gift panel in LIVE.",
        "Update the app to version 35 to see the new gift panel in LIVE.",
        None,
    ),
    Case(
        "an OS version before a noun",
        "Users on iOS 17 devices see the new gift panel in LIVE.",
        "Users on iOS 16 devices see the new gift panel in LIVE.",
        None,
    ),
    Case(  # reported as money, €50 against €200
        "two tiers' limits",
        "Tier 1 agents can approve refunds up to €50 per order.",
        "Tier 2 agents can approve refunds up to €200 per order.",
        None,
    ),
    Case(  # reported as days, 14 against 30
        "two sections' windows",
        "Under section 4, refunds are paid within 14 days.",
        "Under section 5, refunds are paid within 30 days.",
        None,
    ),
    Case(
        "two steps' counts",
        "Step 1: ask the user for 2 documents.",
        "Step 2: ask the user for 3 documents.",
        None,
    ),
    Case(
        "two levels' counts",
        "Level 1 sellers can list up to 50 products.",
        "Level 2 sellers can list up to 500 products.",
        None,
    ),
    Case(
        "two tiers' rules",
        "Tier 1 agents cannot remove 2FA from an account.",
        "Tier 2 agents can remove 2FA from an account.",
        None,
    ),
    Case(
        "counts of other things",
        "Creators can pin up to 3 videos to their profile.",
        "Creators can pin up to 5 playlists to their profile.",
        None,
    ),
    Case(
        "counts of other kinds of one thing",
        "Creators can keep up to 3 pinned videos on their profile.",
        "Creators can keep up to 10 draft videos on their profile.",
        None,
    ),
    Case(
        "a count inside a range",
        "A household can link between 3 and 5 devices to one subscription.",
        "A household can link 4 devices to one subscription.",
        None,
    ),
    Case(
        "a count with and without a thousands comma",
        "Creators need at least 1,000 followers to go LIVE.",
        "Creators need at least 1000 followers to go LIVE.",
        None,
    ),
    Case(
        "one written as a word and as a digit",
        "Each user can have only one account per phone number.",
        "Each user can have 1 account per phone number.",
        None,
    ),
    Case(
        "counts needed for two different actions",
        "Creators need at least 1,000 followers to go LIVE.",
        "Creators need at least 5,000 followers to use LIVE Studio.",
        None,
    ),
    Case(
        "an exception added",
        "Sellers may not change the price of a live listing, except to correct a typo.",
        "Sellers may change the price of a live listing.",
        None,
    ),
    Case(
        "a condition added",
        "Agents must not share the buyer's address with the seller.",
        "Agents must share the buyer's address with the seller when the courier cannot find "
        "the house.",
        None,
    ),
    Case(
        "'unless' added",
        "Agents should not ask the user for their password.",
        "Agents should ask the user for their password unless the user asks for a reset.",
        None,
    ),
    Case(
        "different conditions",
        "Agents must share the tracking number when a parcel is late.",
        "Agents must not share the tracking number when a parcel is lost.",
        None,
    ),
    Case(  # reported as "must refund" against "must refund"
        "a negation inside the condition",
        "Agents must refund the order if the item is not delivered.",
        "Agents must refund the order if the item is delivered.",
        None,
    ),
    Case(  # reported as "should ask" against "should ask"
        "a negation inside the added purpose",
        "Agents should ask the user for their password.",
        "Agents should ask the user for their password so that it is not lost.",
        None,
    ),
    Case(
        "a refund sent to another party",
        "Agents must not send the refund to the seller.",
        "Agents must send the refund to the buyer.",
        None,
    ),
    Case(
        "what the user is asked to do is not a purpose",
        "Agents should not ask the user for their password.",
        "Agents should ask the user to confirm the email on the account.",
        None,
    ),
]

AGREEMENTS = [
    Case(
        "minimum ages of two features",
        "The minimum age to create an account is 13.",
        "The minimum age to host a LIVE stream is 18.",
        None,
    ),
    Case(
        "age limits of two purchases",
        "Age limit for sending gifts: 18.",
        "Age limit for buying coins: 16.",
        None,
    ),
    Case(
        "other markets, codes",
        "DE: refunds for unused coins are paid within 14 days.",
        "KR: refunds for unused coins are paid within 7 days.",
        None,
    ),
    Case(
        "other markets, names",
        "In Germany, refunds for unused coins are paid within 14 days.",
        "In South Korea, refunds for unused coins are paid within 7 days.",
        None,
    ),
    Case(
        "other products",
        "Coin purchases can be refunded within 14 days.",
        "Subscription purchases can be refunded within 30 days.",
        None,
    ),
    Case(
        "a range holding the value",
        "Bank transfers arrive within 3 to 5 business days after the payout is sent.",
        "Bank transfers arrive within 5 business days after the payout is sent.",
        None,
    ),
    Case(
        "a superseded version and its successor",
        "Sellers must ship every order within 5 business days of payment.",
        "Sellers must ship every order within 3 business days of payment.",
        None,
        meta_a={"status": "superseded", "superseded_by": "b.md"},
        meta_b={"supersedes": "a.md"},
    ),
    Case(
        "days written as weeks",
        "Buyers can open a return request within 14 days of delivery.",
        "Buyers can open a return request within two weeks of delivery.",
        None,
    ),
    Case(
        "amount with symbol and code",
        "Agents may issue a goodwill credit of up to €5 per order without approval.",
        "Agents may issue a goodwill credit of up to 5 EUR per order without approval.",
        None,
    ),
    Case(
        "amount with and without cents",
        "Creators are paid out once their balance reaches $50.",
        "Creators are paid out once their balance reaches $50.00.",
        None,
    ),
    Case(
        "thousands separator",
        "Transfers above €1,000 need a second approver.",
        "Transfers above €1000 need a second approver.",
        None,
    ),
    Case(
        "percentage written two ways",
        "The platform keeps a 30% commission on every gift a creator receives.",
        "The platform keeps a 30 percent commission on every gift a creator receives.",
        None,
    ),
    Case(
        "a date written two ways",
        "The new seller fee applies to orders placed from 2026-04-01.",
        "The new seller fee applies to orders placed from 1 April 2026.",
        None,
    ),
    Case(
        "the same phone number written two ways",
        "For urgent payout failures, call the Payments escalation desk on +44 20 7946 0018.",
        "For urgent payout failures, call the Payments escalation desk on +44 (0)20 7946-0018.",
        None,
    ),
    Case(
        "the same address in other case",
        "Law enforcement requests go to the Legal desk at LERS@example.com.",
        "Law enforcement requests go to the Legal desk at lers@example.com.",
        None,
    ),
    Case(
        "a passage and its summary",
        "Unused coins bought in the EU can be refunded within 14 days of purchase. Used coins "
        "cannot be refunded. Carrier billing refunds take up to 30 days to reach the user, "
        "and agents must tell the user so.",
        "Summary: unused coins bought in the EU can be refunded within 14 days of purchase.",
        None,
    ),
    Case(
        "different desks, different numbers",
        "For urgent payout failures, call the Payments escalation desk on +44 20 7946 0018.",
        "For account takeovers, call the Security escalation desk on +44 20 7946 0991.",
        None,
    ),
    Case(
        "different desks, different addresses",
        "Law enforcement requests go to the Legal desk at lers@example.com.",
        "Press enquiries go to the Communications desk at press@example.com.",
        None,
    ),
    Case(
        "must and must not about different actions",
        "Agents must share the tracking number with the buyer.",
        "Agents must not share the buyer's home address with the seller.",
        None,
    ),
    Case(
        "a negated condition is the same rule",
        "Agents must not refund coins without a purchase receipt.",
        "Agents must refund coins only with a purchase receipt.",
        None,
    ),
    Case(
        "one age for two actions",
        "Users must be 18 or older to receive gifts.",
        "Users must be 16 or older to start a LIVE stream.",
        None,
    ),
    Case(
        "escalation of different cases",
        "Escalate chargeback disputes over €500 to the Payments Risk team.",
        "Escalate suspected account takeovers to Trust & Safety.",
        None,
    ),
    Case(
        "the same team written with and without 'the ... team'",
        "Escalate chargeback disputes over €500 to the Payments Risk team.",
        "Escalate chargeback disputes over €500 to Payments Risk.",
        None,
    ),
]

# Written after the finder was changed for the pairs above, and run once before any further
# change: 7 of 9 contradictions found, 1 false pair (a value inside "50% to 70%", since fixed).
HELD_OUT = [
    Case(
        "hours",
        "Urgent safety reports are acknowledged within 24 hours.",
        "Urgent safety reports are acknowledged within 48 hours of submission.",
        "hours",
    ),
    Case(
        "pounds as symbol and code",
        "Refunds above £100 require a team lead's approval.",
        "Refunds above 250 GBP require a team lead's approval.",
        "money",
    ),
    Case(
        "permitted / not permitted",
        "Gambling promotions are permitted in LIVE streams in the UK.",
        "Gambling promotions are not permitted in LIVE streams in the UK.",
        "rule",
    ),
    Case(
        "may / may not",
        "Sellers may relist a removed item after editing it.",
        "Sellers may not relist a removed item after editing it.",
        "rule",
    ),
    Case(
        "queue",
        "Route suspected child safety cases to the CSRT queue immediately.",
        "Route suspected child safety cases to the Guardian queue immediately.",
        "team",
    ),
    Case(
        "another e-mail address",
        "Send data subject requests to privacy@example.com.",
        "Send data subject requests to dpo@example.com.",
        "email",
    ),
    Case(
        "age under",
        "Users under 13 are not allowed to create an account.",
        "Users under 14 are not allowed to create an account.",
        "age",
    ),
    Case(
        "a month is not 30 days",
        "Deleted accounts can be restored for up to 30 days after deletion.",
        "Deleted accounts can be restored for up to one month after deletion.",
        None,
    ),
    Case(
        "an ordinal date",
        "The policy takes effect on 3rd March 2026 for all sellers.",
        "The policy takes effect on 2026-03-03 for all sellers.",
        None,
    ),
    Case(
        "markets by name",
        "Sellers in Mexico may offer returns for 15 days.",
        "Sellers in Brazil may offer returns for 7 days.",
        None,
    ),
    Case(
        "other product",
        "Physical gifts can be returned within 30 days.",
        "Digital gifts can be returned within 0 days.",
        None,
    ),
    Case(
        "a summary of a rule",
        "Agents must not promise a refund date. They can say that refunds usually take 5 "
        "business days.",
        "Do not promise a refund date; refunds usually take 5 business days.",
        None,
    ),
    Case(
        "a value inside a percentage range",
        "Creators keep 50% to 70% of gift revenue depending on tier.",
        "Creators keep 60% of gift revenue on the top tier.",
        None,
    ),
]

# Contradictions still missed, kept so that finding them shows up here (strict xfail).
KNOWN_MISSES = [
    Case(  # the label says what the age is; what it is for is in the next sentence
        "a minimum age as a label before the rule it sets",
        "Minimum age: 13. Users younger than that cannot create an account.",
        "Users must be at least 16 to create an account.",
        "age",
    ),
    Case(  # "6-digit" is an adjective: hyphenated counts are not read ("30-day" is a duration)
        "a count written as a hyphenated adjective",
        "Agents read out the 4-digit code the user received by SMS.",
        "Agents read out the 6-digit code the user received by SMS.",
        "count",
    ),
    Case(  # the purpose is read as part of the condition, and the conditions then differ
        "a purpose added inside a condition",
        "Agents must not share the tracking number when a parcel is late.",
        "Agents must share the tracking number when a parcel is late to reassure the buyer.",
        "rule",
    ),
    Case(  # kb/ itself: the guide and the payouts policy disagree on the Diamonds hold; the
        # durations count from different events ("the LIVE", "the gift"), so they are not
        # compared (found by a held-out review, 2026-12-06)
        "one hold counted from two events",
        "Diamonds are available to withdraw 14 days after the LIVE in which they were received.",
        "Diamonds become withdrawable 15 days after the gift is received.",
        "days",
    ),
]

# From kb/: pairs an earlier draft of the new checks reported (kb/ has no contradictions).
KB_LOOK_ALIKES = [
    Case(
        "one routine step of two cases",
        "Tag the ticket SHOP-Counterfeit and transfer it to the Shop Integrity queue in Tessera.",
        "Tag the ticket LE-Request and transfer it to the LERT queue in Tessera.",
        None,
    ),
    Case(
        "a routing clause of another case",
        "Direct them to the Law Enforcement Portal and its Emergency option, and transfer the "
        "ticket to the LERT queue.",
        "If the requester says that someone is in immediate danger, tell them to use the "
        "Emergency option on the portal, which pages the LERT on-call 24/7, and transfer the "
        "ticket to the Guardian queue LERT-Emergency as well.",
        None,
    ),
    Case(
        "a clause about other notices",
        "Notices about LIVE streams are reviewed within 1 hour, and partners in the Live Event "
        "Protection program get removal of an infringing LIVE within 30 minutes of the notice.",
        "Complaints about Vybe Shop listings and LIVE Shopping streams are reviewed within 24 "
        "hours.",
        None,
    ),
    Case(
        "a fragment and a negated clause",
        "Users aged 16 and over.",
        "Creator Support can grant temporary access for partner events only, and never to "
        "users under 18.",
        None,
    ),
]

# From kb/: pairs a draft of the count check reported.
KB_COUNT_LOOK_ALIKES = [
    Case(
        "a clause with one word besides the count",
        "Accounts with 1 million or more followers, and government or news organisation "
        "accounts: raise by one level (P1 becomes P0).",
        "- the account has at least 1,000 followers;",
        None,
    ),
    Case(
        "password and username lengths",
        "### What are the password rules?\n\n8 to 20 characters, with at least one letter, one "
        "number and one special character.",
        "## 1. Username rules\n\n- 2 to 24 characters: letters, numbers, underscores and periods.",
        None,
    ),
]

CORPUS = (
    CONFLICTS
    + AGREEMENTS
    + HELD_OUT
    + KB_LOOK_ALIKES
    + COUNTS_AND_PURPOSES
    + NOT_COUNTS
    + KB_COUNT_LOOK_ALIKES
)


def found(case: Case) -> dict[str, list[list[str]]] | None:
    """The differences reported for the pair, or None when it is not reported."""
    chunks = [
        {"doc_id": "a.md", "text": case.a, "heading_path": []},
        {"doc_id": "b.md", "text": case.b, "heading_path": []},
    ]
    docs = [
        {"doc_id": "a.md", "title": "A", "metadata": case.meta_a},
        {"doc_id": "b.md", "title": "B", "metadata": case.meta_b},
    ]
    vectors = FakeEmbedder().encode([case.a, case.b])
    rows = conflicts.find_conflicts(chunks, vectors, docs, min_similarity=-1.0)
    return rows[0]["differences"] if rows else None


def precision_recall(cases: list[Case]) -> tuple[float, float]:
    """Pair-level precision and recall of the conflict finder on labelled cases."""
    reported = [(case, found(case)) for case in cases]
    true_pos = sum(1 for case, diff in reported if diff is not None and case.kind)
    false_pos = sum(1 for case, diff in reported if diff is not None and not case.kind)
    positives = sum(1 for case in cases if case.kind)
    precision = true_pos / (true_pos + false_pos) if true_pos + false_pos else 1.0
    return precision, true_pos / positives


def test_the_corpus_is_found_with_no_false_pairs() -> None:
    precision, recall = precision_recall(CORPUS)
    assert precision == 1.0
    assert recall == 1.0


@pytest.mark.parametrize("case", [c for c in CORPUS if c.kind], ids=lambda c: c.name)
def test_a_real_contradiction_names_the_values_that_disagree(case: Case) -> None:
    diff = found(case)
    assert diff is not None and case.kind in diff, diff
    only_a, only_b = diff[case.kind]
    assert only_a and only_b and not set(only_a) & set(only_b)
    swapped = found(Case(case.name, case.b, case.a, case.kind))
    assert swapped is not None and swapped[case.kind] == [only_b, only_a]


@pytest.mark.parametrize("case", [c for c in CORPUS if not c.kind], ids=lambda c: c.name)
def test_a_look_alike_that_agrees_is_not_reported(case: Case) -> None:
    assert found(case) is None


@pytest.mark.xfail(strict=True, reason="a known miss of the conflict finder")
@pytest.mark.parametrize("case", KNOWN_MISSES, ids=lambda c: c.name)
def test_known_misses(case: Case) -> None:
    diff = found(case)
    assert diff is not None and case.kind in diff


@pytest.mark.integration
def test_kb_has_no_conflicting_pairs_at_any_similarity(kb_index, real_embedder) -> None:
    """No false pair on kb/: through the calls the route makes, on every pair of passages.
    (kb/ holds one contradiction the finder misses, the Diamonds hold: KNOWN_MISSES.)"""
    searcher = open_searcher(kb_index, real_embedder, Settings())
    documents = searcher.list_documents(None)
    chunks, vectors = searcher.chunks(), searcher.passage_vectors()
    rows = conflicts.find_conflicts(chunks, vectors, documents, min_similarity=0.0, limit=1000)
    assert [(r["doc_a"], r["doc_b"], r["differences"]) for r in rows] == []


def test_each_pair_is_listed_once_at_any_threshold() -> None:
    """At a threshold of 0 or below every conflict came back twice, as A|B and B|A."""
    import numpy as np

    from insights.conflicts import find_conflicts

    chunks = [
        {"doc_id": "a.md", "text": "Refunds are approved within 14 days of purchase."},
        {"doc_id": "b.md", "text": "Refunds are approved within 30 days of purchase."},
    ]
    documents = [{"doc_id": d, "title": d, "metadata": {}} for d in ("a.md", "b.md")]
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)  # orthogonal: similarity 0
    for threshold in (0.0, -1.0):
        found = find_conflicts(chunks, vectors, documents, min_similarity=threshold)
        assert [(c["doc_a"], c["doc_b"]) for c in found] == [("a.md", "b.md")]


# (text, the counts read from it): one spelling per count; a number word, a thousands comma,
# a range, "one" and a plural all read the same way.
COUNT_VALUES = [
    ("Creators need at least 1,000 followers to go LIVE.", {"1000 followers"}),
    ("Creators can pin up to 3 pinned videos.", {"3 pinned videos"}),
    ("Each account can use a maximum of five devices.", {"5 devices"}),
    ("The account is banned after 3 strikes.", {"3 strikes"}),
    ("Sellers can feature 10 products per LIVE.", {"10 products"}),
    ("A household can link between 3 and 5 devices.", {"3-5 devices"}),
    ("A household can link 3-5 devices.", {"3-5 devices"}),
    ("Each user can have only one account.", {"1 account"}),
    ("Each user can have 1 account.", {"1 account"}),
    ("Up to 3 replies are sent.", {"3 replies"}),
    ("At least 2 people review it.", {"2 people"}),
    ("After 3 more strikes the account is banned.", {"3 strikes"}),
    ("Hosts need at least 50 followers.", {"50 followers"}),  # was read as an age
    ("Parents can link up to 3 minor accounts.", {"3 minor accounts"}),  # was "3 minutes"
    ("Creators get 2 weekly reports.", {"2 weekly reports"}),  # was "14 days"
    ("Creators need at least 2000 followers.", {"2000 followers"}),  # a count, not a year
    ("Send 2 reminders first.", {"2 reminders"}),  # a first word, not a name
    ("Accounts with 1 million or more followers.", {"1000000 followers"}),
    ("Counts as one signal together.", {"1 signal"}),  # "together" is no noun
    ("It can take one extra billing cycle.", {"1 billing cycle"}),
]

# Numbers that count nothing, or that another kind already reads.
NOT_COUNT_TEXTS = [
    "See section 4 for details on refunds.",
    "Tier 2 agents handle refunds.",
    "Update to version 3 first.",
    "Users on iOS 17 devices see it.",
    "The 3rd strike leads to a ban.",
    "1. Open the ticket in Tessera.",
    "Order #12345 was refunded.",
    "In 2026 creators can earn more.",
    "The line opens at 9 am and closes at 5 pm.",
    "Reports are reviewed from 09:00 to 17:00 CET.",
    "Support is available 24/7 for sellers.",
    "Ratings of 4.5 stars or more are shown.",
    "Refunds take 5 business days.",
    "The fee is 5% of every order.",
    "Agents may credit $50 per order.",
    "Top 10 creators get a badge.",
    "3 Refunds and returns",
    "The office is open 9 to 5 weekdays.",
    "Codes have 4-digit numbers.",
    "Users on Windows 10 devices see it.",
    "The ISO 27001 controls apply.",
    "Can users under 18 receive gifts?",  # an age
    "The creator is at least 18 years old.",  # an age
    "Complaints are acknowledged within 4 business hours.",  # a duration
]


@pytest.mark.parametrize(("text", "expected"), COUNT_VALUES)
def test_a_count_of_any_noun_has_one_spelling(text: str, expected: set[str]) -> None:
    assert conflicts.quantities(text).get("count") == expected


@pytest.mark.parametrize("text", NOT_COUNT_TEXTS)
def test_a_number_that_counts_nothing_is_no_count(text: str) -> None:
    assert "count" not in conflicts.quantities(text)


def test_a_rule_that_mentions_publishing_is_compared_but_bookkeeping_is_not() -> None:
    """Every sentence with "published" in it was dropped as a document's own bookkeeping, so
    "at least 3 photos before it can be published" was never compared with anything."""
    a = "Each product listing needs at least 3 photos before it can be published."
    b = "Each product listing needs at least 5 photos before it can be published."
    assert conflicts.disagreements(a, b) == {"count": [["3 photos"], ["5 photos"]]}
    for line in ("Published: 2026-01-01.", "Last published on 3 May 2026.", "Version 3."):
        assert conflicts._statements(line) == []


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (  # a clause cut at ";" is running text, not a label
            "Refunds are required to go back to the original payment method.",
            "Refunds are not required to go back to the original payment method; a coupon is fine.",
        ),
        (  # "for ... reasons" is a reason
            "Sellers can export their order history from Seller Center.",
            "Sellers cannot export their order history from Seller Center, for privacy reasons.",
        ),
        (  # ", as they ..." is a reason
            "Agents should forward refund disputes to the Payments team.",
            "Agents should not forward refund disputes to the Payments team, as they are closed "
            "automatically.",
        ),
        (  # emphasis and quantifiers add no action
            "Agents must always confirm every refund by e-mail.",
            "Agents must not confirm refunds by e-mail.",
        ),
    ],
)
def test_a_rule_against_its_negation_with_a_reason_or_emphasis_is_reported(a: str, b: str) -> None:
    assert "rule" in conflicts.disagreements(a, b)
    assert "rule" in conflicts.disagreements(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (  # "for the buyer" is whom, not a reason: two different rules
            "Agents can print the label for the seller.",
            "Agents cannot print the label for the buyer.",
        ),
        (  # "as soon as" is a condition, not a reason
            "Agents must close the ticket as soon as the buyer confirms.",
            "Agents must not close the ticket.",
        ),
    ],
)
def test_reason_markers_do_not_turn_other_rules_into_one(a: str, b: str) -> None:
    assert "rule" not in conflicts.disagreements(a, b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (  # "without" qualifies the coins, it does not negate "can refund" (QA pass)
            "Agents can refund coins bought by a minor without a receipt.",
            "Agents can refund coins bought by a minor with a receipt.",
        ),
        (  # "not as described" is a kind of item, not a negated rule (shop returns v1 / v2)
            "For items priced under USD 5 that are reported as damaged, agents can approve a "
            "refund without asking the buyer to send the item back.",
            "For items priced under USD 5 that are reported as damaged or not as described, "
            "agents can approve a refund without asking the buyer to send the item back.",
        ),
        (  # a restriction added in a clause of its own (LIVE eligibility v1 / v2)
            "Creator Support can grant temporary access for partner events only.",
            "Creator Support can grant temporary access for partner events only, and never to "
            "users under 18.",
        ),
    ],
)
def test_a_negation_away_from_the_modal_does_not_negate_the_rule(a: str, b: str) -> None:
    """Only a negation at the rule's modal ("must not", "are not allowed", "cannot") flips
    it: counting every "not", "never" and "without" in the sentence reported these as a rule
    and its negation, named "can refund" against "can refund"."""
    assert "rule" not in conflicts.disagreements(a, b)
    assert "rule" not in conflicts.disagreements(b, a)


@pytest.mark.parametrize(
    ("a", "b", "rules"),
    [
        (
            "Agents should escalate threats of violence to the safety team.",
            "Agents shouldn't escalate threats of violence to the safety team.",
            ["should escalate", "shouldn't escalate"],
        ),
        (
            "Agents must share the full ticket history with the user.",
            "Agents mustn't share the full ticket history with the user.",
            ["must share", "mustn't share"],
        ),
        (  # "must not ... without" is still "must not": two negations do not cancel out
            "Agents must not unlock an account without a video selfie check.",
            "Agents must unlock an account without a video selfie check.",
            ["must not unlock", "must unlock"],
        ),
        (
            "Users under 13 are not allowed to create an account.",
            "Users under 13 are allowed to create an account.",
            ["are not allowed", "are allowed"],
        ),
        (
            "Sellers aren't allowed to list knives in the Home category.",
            "Sellers are allowed to list knives in the Home category.",
            ["aren't allowed", "are allowed"],
        ),
        (
            "A receipt isn't required to refund coins bought in the app.",
            "A receipt is required to refund coins bought in the app.",
            ["isn't required", "is required"],
        ),
    ],
)
def test_a_rule_against_its_negation_names_both_rules(a: str, b: str, rules: list[str]) -> None:
    """Contracted negations ("shouldn't", "mustn't") are rules too, and each side names the
    words that say which way its rule goes."""
    assert conflicts.disagreements(a, b).get("rule") == [[rules[0]], [rules[1]]]
    assert conflicts.disagreements(b, a).get("rule") == [[rules[1]], [rules[0]]]


@pytest.mark.parametrize(
    ("a", "b", "rules"),
    [
        (
            "Agents can\u2019t refund coins that were spent on gifts.",
            "Agents can refund coins that were spent on gifts.",
            ["can't refund", "can refund"],
        ),
        (
            "Agents shouldn\u2019t escalate threats of violence to the safety team.",
            "Agents should escalate threats of violence to the safety team.",
            ["shouldn't escalate", "should escalate"],
        ),
        (
            "Sellers aren\u2019t allowed to list knives in the Home category.",
            "Sellers are allowed to list knives in the Home category.",
            ["aren't allowed", "are allowed"],
        ),
    ],
)
def test_a_negation_typed_with_a_typographic_apostrophe_is_read(
    a: str, b: str, rules: list[str]
) -> None:
    """Word and most editors write "can’t" with U+2019: read as "can" and "t", the rule lost
    its negation and the contradiction went unreported."""
    assert conflicts.disagreements(a, b).get("rule") == [[rules[0]], [rules[1]]]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (
            "Payments Support must answer a chargeback notice within 24 hours.",
            "Payments Support must answer a chargeback notice within 2 days.",
            [["24 hours"], ["2 days"]],
        ),
        (  # shop returns v1 against v2: the refund after the seller confirms receipt
            "The refund is issued within 5 business days after the seller confirms receipt.",
            "The refund is issued within 48 hours after the seller confirms receipt.",
            [["5 days"], ["48 hours"]],
        ),
    ],
)
def test_a_duration_in_hours_against_one_in_days_is_compared(
    a: str, b: str, expected: list[list[str]]
) -> None:
    """One SLA written in hours and in days: durations were compared only within one unit, so
    "within 24 hours" against "within 2 days" was never reported."""
    assert conflicts.disagreements(a, b).get("duration") == expected
    assert conflicts.disagreements(b, a).get("duration") == expected[::-1]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            "Payments Support must answer a chargeback notice within 48 hours.",
            "Payments Support must answer a chargeback notice within 2 days.",
        ),
        (
            "Payments Support must answer a chargeback notice within 24 hours.",
            "Payments Support must answer a chargeback notice within 1 to 2 days.",
        ),
    ],
)
def test_a_duration_in_hours_that_matches_one_in_days_agrees(a: str, b: str) -> None:
    assert conflicts.disagreements(a, b) == {}
    assert conflicts.disagreements(b, a) == {}


@pytest.mark.parametrize(
    ("a", "b", "rules"),
    [
        (
            "Sellers are no longer allowed to list knives in the Home category.",
            "Sellers are allowed to list knives in the Home category.",
            ["are no longer allowed", "are allowed"],
        ),
        (
            "Agents are not able to reverse a permanent ban from the console.",
            "Agents are able to reverse a permanent ban from the console.",
            ["are not able", "are able"],
        ),
        (
            "Agents are unable to reverse a permanent ban from the console.",
            "Agents are able to reverse a permanent ban from the console.",
            ["are unable", "are able"],
        ),
        (
            "It is not possible to merge two accounts into one account.",
            "It is possible to merge two accounts into one account.",
            ["is not possible", "is possible"],
        ),
    ],
)
def test_a_rule_changed_in_other_words_is_reported(a: str, b: str, rules: list[str]) -> None:
    """How a changed policy says it: "no longer allowed", "not able", "unable", "not
    possible" were not read as rules at all."""
    assert conflicts.disagreements(a, b).get("rule") == [[rules[0]], [rules[1]]]
    assert conflicts.disagreements(b, a).get("rule") == [[rules[1]], [rules[0]]]


def test_a_value_is_never_listed_as_only_on_both_sides() -> None:
    """Tiers that moved up a row (LIVE eligibility v1 against v2: 1,000 then 5,000 followers,
    against 5,000 then 10,000) listed 5,000 followers among the values "only a states" and
    among those "only b states"; the page showed "Only here: 5000 followers" on both sides."""
    a = (
        "| Feature | Requirement |\n|---|---|\n"
        "| LIVE from desktop with a stream key | Host has 1,000 followers |\n"
        "| LIVE subscriptions | Host has 5,000 followers |\n"
    )
    b = (
        "| Feature | Requirement |\n|---|---|\n"
        "| LIVE from desktop with a stream key | Host has 5,000 followers |\n"
        "| LIVE subscriptions | Host has 10,000 followers |\n"
    )
    values, pairs = conflicts.compare(a, b)
    assert len(pairs) == 2  # both rows disagree
    assert values["count"] == [["1000 followers"], ["10000 followers"]]
