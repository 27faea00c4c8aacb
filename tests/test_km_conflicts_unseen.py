"""A held-out labelled set for two contradictions the conflict finder is being extended to see.

1. ``count``: two passages give a different number of the same counted thing ("at least 1,000
   followers" against "at least 10,000 followers"), for any noun (followers, videos, devices,
   strikes, reports, characters, attempts, items...), as digits or as words.
2. ``rule``: a rule and its negation where one side adds a reason, a purpose or a condition
   ("should not ask for the code" against "should ask for the code to confirm ownership").

The pairs were written without reading :mod:`insights.conflicts`, so that they judge the
extension on text it was not written against. The look-alikes must stay unreported: the same
or another count for other things, markets or actions, a range holding the other value, one
count written two ways, a minimum and a maximum, a superseded version, a quoted example of what
not to say, rules about other subjects or clearly distinct situations, an exception added to a
prohibition, and a rule restated with its purpose.

What the finder still misses, and the one look-alike it still reports, are strict xfail
(``MISSED``, ``FALSE_PAIRS``): the rest must keep passing.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_km_conflicts import Case, found

COUNT_CONFLICTS = [
    Case(
        "followers, reordered sentence",
        "To unlock LIVE Subscriptions, a creator needs at least 1,000 followers.",
        "A creator needs at least 10,000 followers to unlock LIVE Subscriptions.",
        "count",
    ),
    Case(
        "pinned videos, digits against a word",
        "Creators can pin up to 3 videos to the top of their profile.",
        "Creators can pin up to five videos to the top of their profile.",
        "count",
    ),
    Case(
        "devices, 'a maximum of' against 'no more than'",
        "A single account can be logged in on a maximum of 5 devices at once.",
        "An account may be logged in on no more than 10 devices at the same time.",
        "count",
    ),
    Case(
        "strikes, word against digits",
        "An account is permanently banned after 3 strikes for Community Guidelines violations.",
        "Accounts receive a permanent ban after five strikes for Community Guidelines violations.",
        "count",
    ),
    Case(
        "products in a LIVE showcase",
        "Sellers can add up to 50 products to a LIVE Shopping showcase.",
        "A LIVE Shopping showcase holds at most 100 products.",
        "count",
    ),
    Case(
        "characters in a bio",
        "Profile bios are limited to 80 characters.",
        "A profile bio can contain up to 150 characters.",
        "count",
    ),
    Case(
        "failed login attempts",
        "After 5 failed login attempts, the account is locked and the user must reset their "
        "password.",
        "The account is locked after 3 failed login attempts and the user must reset their "
        "password.",
        "count",
    ),
    Case(
        "user reports before review",
        "A LIVE stream is sent to human review once it receives 10 reports from viewers.",
        "A LIVE stream is sent to human review once it receives 25 reports from viewers.",
        "count",
    ),
    Case(
        "items per order",
        "Buyers can purchase a maximum of 10 items of the same product per order.",
        "Buyers can purchase a maximum of 20 items of the same product in one order.",
        "count",
    ),
    Case(
        "guests in a multi-guest LIVE, word numbers",
        "Up to four guests can join a multi-guest LIVE.",
        "Up to nine guests can join a multi-guest LIVE.",
        "count",
    ),
    Case(
        "moderators, other modal",
        "A creator can assign up to 20 moderators to their LIVE.",
        "Creators may assign at most 25 moderators to a LIVE.",
        "count",
    ),
    Case(
        "backup codes",
        "Users get 10 backup codes when they turn on 2-step verification.",
        "Users get 8 backup codes when they turn on 2-step verification.",
        "count",
    ),
    Case(
        "photos, singular against plural",
        "Each product listing needs at least 3 photos before it can be published.",
        "Each product listing needs at least 1 photo before it can be published.",
        "count",
    ),
    Case(
        "accounts per phone number, 'only one'",
        "Up to 3 accounts can be registered with the same phone number.",
        "Only one account can be registered with the same phone number.",
        "count",
    ),
    Case(
        "views, large numbers with an equal period",
        "Creators need 10,000 valid video views in the last 30 days to join the Creator "
        "Rewards Program.",
        "Creators need 100,000 valid video views in the last 30 days to join the Creator "
        "Rewards Program.",
        "count",
    ),
    Case(
        "appeals per removed video, words",
        "Users may submit one appeal per removed video.",
        "Users may submit two appeals per removed video.",
        "count",
    ),
    Case(
        "linked payment cards, passive against active",
        "A wallet can hold up to 3 linked payment cards.",
        "Users can link up to 6 payment cards to their wallet.",
        "count",
    ),
]

RULE_CONFLICTS = [
    Case(
        "should not / should, a purpose added",
        "Agents should not ask the user for the verification code we sent to their phone.",
        "Agents should ask the user for the verification code we sent to their phone to "
        "confirm that they own the account.",
        "rule",
    ),
    Case(
        "must / must not, a reason added to the negation",
        "Agents must send the satisfaction survey before closing the ticket.",
        "Agents must not send the satisfaction survey; it is sent automatically.",
        "rule",
    ),
    Case(
        "must / must not, a timing condition on the rule",
        "Agents must refund unused coins to the original payment method before closing the ticket.",
        "Agents must not refund unused coins to the original payment method, because coin "
        "purchases are final.",
        "rule",
    ),
    Case(
        "may / may not, a purpose added",
        "Moderators may remove comments that contain a phone number to protect the creator's "
        "privacy.",
        "Moderators may not remove comments that contain a phone number.",
        "rule",
    ),
    Case(
        "can / cannot, a reason added",
        "Creators can download a copy of their LIVE replay from LIVE Center.",
        "Creators cannot download a copy of their LIVE replay from LIVE Center, for copyright "
        "reasons.",
        "rule",
    ),
    Case(
        "are not allowed / are allowed, a purpose added",
        "Sellers are not allowed to ask buyers to pay outside the platform.",
        "Sellers are allowed to ask buyers to pay outside the platform to avoid the "
        "transaction fee.",
        "rule",
    ),
    Case(
        "is required / is not required, a reason added",
        "A government ID is required to change the date of birth on an account.",
        "A government ID is not required to change the date of birth on an account; a selfie "
        "check is enough.",
        "rule",
    ),
    Case(
        "should not / should, 'unless' on the rule",
        "Agents should not call users on the phone.",
        "Agents should call users on the phone unless they ask to be contacted by e-mail.",
        "rule",
    ),
    Case(
        "must always / must not, a purpose added to the negation",
        "Agents must always tell the reporter which action was taken on the reported account.",
        "Agents must not tell the reporter which action was taken on the reported account, to "
        "protect the privacy of the reported user.",
        "rule",
    ),
    Case(
        "may / may not, a condition on the permission",
        "Agents may reset 2-step verification for the user after a successful video selfie check.",
        "Agents may not reset 2-step verification for the user.",
        "rule",
    ),
    Case(
        "should / should not, a reason naming another owner",
        "Agents should escalate every impersonation report to Trust & Safety.",
        "Agents should not escalate impersonation reports to Trust & Safety, as they are "
        "handled in the support queue.",
        "rule",
    ),
    Case(
        "must not / must, a purpose added",
        "Agents must not share the seller's phone number with the buyer.",
        "Agents must share the seller's phone number with the buyer so that they can arrange "
        "the delivery.",
        "rule",
    ),
]

LOOK_ALIKES = [
    # counts
    Case(
        "one count for two programs",
        "Creators need at least 1,000 followers to go LIVE.",
        "Creators need at least 1,000 followers to join the Creator Rewards Program.",
        None,
    ),
    Case(
        "two counts for two programs",
        "Creators need at least 1,000 followers to go LIVE.",
        "Creators need at least 10,000 followers to join the Creator Rewards Program.",
        None,
    ),
    Case(
        "two counts for two markets",
        "In the US, sellers can list up to 500 products in their shop.",
        "In the UK, sellers can list up to 200 products in their shop.",
        None,
    ),
    Case(
        "counts of different nouns",
        "Each account can link up to 3 payment cards.",
        "Each account can link up to 5 bank accounts.",
        None,
    ),
    Case(
        "a range holding the other count",
        "Depending on the plan, a family account can be used on between 3 and 5 devices.",
        "A family account can be used on 4 devices.",
        None,
    ),
    Case(
        "a count as a word and as digits",
        "Creators can pin up to three videos to their profile.",
        "Creators can pin up to 3 videos to their profile.",
        None,
    ),
    Case(
        "a count with and without a thousands separator",
        "Creators need 10,000 followers to apply for a verified badge.",
        "Creators need 10000 followers to apply for a verified badge.",
        None,
    ),
    Case(
        "'one' and '1'",
        "Each buyer may leave one review per order.",
        "Each buyer may leave 1 review per order.",
        None,
    ),
    Case(
        "one count in two sentence shapes",
        "A maximum of five devices can be logged in to one account.",
        "One account can be logged in on up to 5 devices.",
        None,
    ),
    Case(
        "a minimum and a maximum of the same thing",
        "Each product listing needs at least 3 photos.",
        "Each product listing can show up to 9 photos.",
        None,
    ),
    Case(
        "two steps of one strike ladder",
        "After 3 strikes, the account loses access to LIVE for 7 days.",
        "After 5 strikes, the account is permanently banned.",
        None,
    ),
    Case(
        "a superseded count and its successor",
        "Creators can add up to 3 links to their bio.",
        "Creators can add up to 5 links to their bio.",
        None,
        meta_a={"status": "superseded", "superseded_by": "b.md"},
        meta_b={"supersedes": "a.md"},
    ),
    Case(
        "a quoted false claim",
        'Scam messages often claim "you need 5,000 followers to get paid for gifts"; tell '
        "creators that this is false.",
        "Creators need 1,000 followers to get paid for gifts.",
        None,
    ),
    Case(
        "two requirements on different nouns",
        "Creators need 1,000 followers to join the Creator Rewards Program.",
        "Creators need 10,000 views to join the Creator Rewards Program.",
        None,
    ),
    Case(
        "a passage and its summary, two counts",
        "Sellers may pin up to 3 products during a LIVE and feature up to 50 products in the "
        "LIVE showcase.",
        "Sellers may feature up to 50 products in the LIVE showcase.",
        None,
    ),
    # rules
    Case(
        "a rule and a different rule with similar words",
        "Agents should ask the buyer for the order number.",
        "Agents should not ask the buyer for the card number.",
        None,
    ),
    Case(
        "a rule restated with its purpose",
        "Agents should ask the seller for the tracking number.",
        "Agents should ask the seller for the tracking number to confirm that the parcel was "
        "shipped.",
        None,
    ),
    Case(
        "a prohibition and the same prohibition with an exception",
        "Agents must not share a buyer's address with the seller.",
        "Agents must not share a buyer's address with the seller unless the buyer agrees.",
        None,
    ),
    Case(
        "allowed and not allowed for different sellers",
        "Verified sellers are allowed to sell cosmetics.",
        "Unverified sellers are not allowed to sell cosmetics.",
        None,
    ),
    Case(
        "can and cannot for different accounts",
        "Business accounts can use commercial music in their ads.",
        "Personal accounts cannot use commercial music in their ads.",
        None,
    ),
    Case(
        "must and must not in distinct situations",
        "Agents must close the ticket when the user confirms that the issue is fixed.",
        "Agents must not close the ticket while the user is still waiting for a refund.",
        None,
    ),
    Case(
        "required and not required in different markets",
        "In the EU, sellers must show the unit price of every product.",
        "In the US, sellers are not required to show the unit price of every product.",
        None,
    ),
    Case(
        "may and may not for used and unused coins",
        "Agents may refund unused coins.",
        "Agents may not refund used coins.",
        None,
    ),
    Case(
        "a quoted phrase agents must never say",
        'Never tell a user "you must share your login code with us"; we never ask for it.',
        "Users must not share their login code with anyone, including support agents.",
        None,
    ),
    Case(
        "'must not without' and 'may only after'",
        "Agents must not unlock an account without a video selfie check.",
        "Agents may unlock an account only after a video selfie check.",
        None,
    ),
    Case(
        "should and should not, before and after a confirmation",
        "Agents should share the payout date once Finance has confirmed it.",
        "Agents should not share the payout date before Finance has confirmed it.",
        None,
    ),
    Case(
        "required and not required for different changes",
        "A government ID is required to change the date of birth on an account.",
        "A government ID is not required to change the display name on an account.",
        None,
    ),
    Case(
        "must not ask for the card number, must ask for its last digits",
        "Agents must not ask for the full card number.",
        "Agents must ask only for the last four digits of the card.",
        None,
    ),
]

CONFLICTS = COUNT_CONFLICTS + RULE_CONFLICTS
HELD_OUT = CONFLICTS + LOOK_ALIKES

# Measured once the count and reworded-rule checks landed (2026-12-06), before anything was
# changed for this set: 13 of 17 counts, 4 of 12 rules, and 2 look-alikes reported (a floor
# and a ceiling of one thing, a quoted false claim). The floor-and-ceiling rule was added
# after that measurement, so that case no longer judges the finder blind; so was the fix that
# found "photos, singular against plural" (any sentence with "published" in it was taken for
# a document's bookkeeping line and never compared), and so were the fixes that found four
# reworded rules (a clause cut at ";" is prose, "for ... reasons" and ", as they ..." are
# reasons, "always" and "every" add no action). What is still
# missed stays here as strict xfail: finding one turns its test into a failure to update.
MISSED = {
    "devices, 'a maximum of' against 'no more than'",
    "characters in a bio",
    "must / must not, a reason added to the negation",
    "must / must not, a timing condition on the rule",
    "should not / should, 'unless' on the rule",
    "may / may not, a condition on the permission",
}
FALSE_PAIRS = {
    "a quoted false claim",
}


def _marked(cases: list[Case], known: set[str], reason: str) -> list[Any]:
    return [
        pytest.param(
            c,
            id=c.name,
            marks=[pytest.mark.xfail(strict=True, reason=reason)] if c.name in known else [],
        )
        for c in cases
    ]


def test_the_set_is_as_large_as_promised() -> None:
    """The brief asked for at least 12 count pairs, 10 rule pairs and 20 look-alikes."""
    assert len(COUNT_CONFLICTS) >= 12 and len(RULE_CONFLICTS) >= 10 and len(LOOK_ALIKES) >= 20
    assert all(c.kind == "count" for c in COUNT_CONFLICTS)
    assert all(c.kind == "rule" for c in RULE_CONFLICTS)
    assert all(c.kind is None for c in LOOK_ALIKES)
    assert len({c.name for c in HELD_OUT}) == len(HELD_OUT)
    assert MISSED <= {c.name for c in CONFLICTS} and FALSE_PAIRS <= {c.name for c in LOOK_ALIKES}


@pytest.mark.parametrize("case", _marked(COUNT_CONFLICTS, MISSED, "a known miss"))
def test_a_count_contradiction_names_the_counts_that_disagree(case: Case) -> None:
    diff = found(case)
    assert diff is not None and "count" in diff, diff
    only_a, only_b = diff["count"]
    assert only_a and only_b and not set(only_a) & set(only_b), diff
    swapped = found(Case(case.name, case.b, case.a, case.kind))
    assert swapped is not None and swapped["count"] == [only_b, only_a], swapped


@pytest.mark.parametrize("case", _marked(RULE_CONFLICTS, MISSED, "a known miss"))
def test_a_rule_and_its_reworded_negation_is_reported(case: Case) -> None:
    diff = found(case)
    assert diff is not None and "rule" in diff, diff
    swapped = found(Case(case.name, case.b, case.a, case.kind))
    assert swapped is not None and "rule" in swapped, swapped


@pytest.mark.parametrize("case", _marked(LOOK_ALIKES, FALSE_PAIRS, "a known false pair"))
def test_a_look_alike_is_not_reported(case: Case) -> None:
    assert found(case) is None, found(case)
