"""Best-sentence highlighting is a pure function: check it picks the telling sentence."""

from __future__ import annotations

import random

import pytest

from indexer.highlight import (
    _matched,
    best_sentence,
    idf_of,
    idf_table,
    pick_window,
    readable,
    sentence_spans,
    terms,
)


def test_terms_stem_and_drop_stopwords() -> None:
    assert terms("The refunds for coins were processed") == ["refund", "coin", "wer", "process"]


@pytest.mark.parametrize(
    "words",
    [
        "archive archived archives archiving",
        "change changed changes",
        "delete deleted deletes deleting",
        "agree agreed agrees agreeing",
        "purchase purchased purchases",
    ],
)
def test_a_word_and_its_inflections_share_a_stem(words: str) -> None:
    assert len(set(terms(words))) == 1, terms(words)


def test_sentence_spans_cover_lines_and_sentences() -> None:
    text = "## Heading\nFirst sentence. Second one!\n1. A step"
    parts = [text[a:b] for a, b in sentence_spans(text)]
    assert parts == ["## Heading", "First sentence.", "Second one!", "1. A step"]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (  # kb/'s CSAM SOP: search highlighted "Vybe Inc." alone
            "Vybe Inc. is a US-based electronic service provider. It reports to NCMEC.",
            ["Vybe Inc. is a US-based electronic service provider.", "It reports to NCMEC."],
        ),
        (
            "Send a form, e.g. the SA302, with proof (i.e. a bank letter). Then wait.",
            ["Send a form, e.g. the SA302, with proof (i.e. a bank letter).", "Then wait."],
        ),
        ("See No. 5 and the U.S. office rules.", ["See No. 5 and the U.S. office rules."]),
        (  # before a capital these still end a sentence
            "No. Agents cannot read DMs. It covers coins, gifts etc. The rest is free.",
            ["No.", "Agents cannot read DMs.", "It covers coins, gifts etc.", "The rest is free."],
        ),
    ],
)
def test_an_abbreviation_does_not_end_a_sentence(text: str, sentences: list[str]) -> None:
    assert [text[a:b] for a, b in sentence_spans(text)] == sentences


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
    expected = [s for w in highlight._WORD_RE.findall(text) if (s := highlight._term(w))]
    assert expected == ["creator", "post", "stream", "wer", "bann", "refund", "process",
                        "coin", "gift", "rul"]  # fmt: skip
    monkeypatch.setattr(highlight, "_STEMS", {})
    assert highlight.terms(text) == expected  # cold
    assert highlight.terms(text) == expected  # warm
    monkeypatch.setattr(highlight, "_STEMS", {})
    monkeypatch.setattr(highlight, "_MAX_STEMS", 3)
    assert highlight.terms(text) == expected  # cleared and refilled on the way
    assert 0 < len(highlight._STEMS) <= 3


def test_a_window_is_cut_back_at_a_heading_line() -> None:
    from indexer.highlight import within_section

    text = (
        "Collect the details. Do not promise a refund in your reply.\n\n"
        "### The user filed a chargeback. Can we still refund?\n\n"
        "No. Route the ticket to the Disputes team.\n\n"
        "Legal deadlines\n\n"
        "Answer within 30 days."
    )

    def cut(first: str, last: str, query: str, headings=()) -> str:
        a, b = within_section(text, text.index(first), text.index(last) + len(last), query,
                              headings)  # fmt: skip
        return text[a:b]

    # the window ran on into the heading's second sentence: only the part before it is shown
    assert cut("Do not", "Can we still refund?", "child bought coins refund") == (
        "Do not promise a refund in your reply."
    )
    # from the heading into the next section: the part after it
    assert cut("Can we", "No.", "route disputes") == "No."
    # across a plain-line heading (DOCX, HTML): known from the passage's heading path
    assert cut("Route", "Answer", "answer days", ["Doc", "Legal deadlines"]) == (
        "Answer within 30 days."
    )
    assert "Legal" in cut("Route", "Answer", "answer days")  # unknown heading: kept
    # on both sides of a heading, the side that shares more words with the question wins
    both = ("Do not", "Disputes team.")
    assert (
        cut(*both, "route the ticket to disputes") == "No. Route the ticket to the Disputes team."
    )
    assert cut(*both, "zebra") == "Do not promise a refund in your reply."  # a tie: the first
    # a window inside one section is left alone
    assert (
        cut("Collect", "reply.", "refund")
        == "Collect the details. Do not promise a refund in your reply."
    )
    # one of heading text only: what the heading introduces, here the answer to its question
    assert cut("### The", "refund?", "refund") == "No."


def test_a_highlight_leaves_out_table_rules_and_stray_pipes() -> None:
    """The splitter's wordless 'sentences' stay in windows, never in what the agent reads."""
    from indexer.highlight import best_sentence, sentence_spans, within_section

    text = (
        "| Outcome | Effect |\n|---|---|\n| Not eligible | Out of window. No review. |\n\n"
        "When an overturned strike was part of a ban, the ban is lifted."
    )
    parts = [text[a:b] for a, b in sentence_spans(text)]
    assert "|" in parts and "|---|---|" in parts  # the windows' units are unchanged

    def shown(first: str, last: str, query: str) -> str:
        a, b = within_section(text, text.index(first), text.index(last) + len(last), query)
        return text[a:b]

    # the window ("|", "When ...") would open with the pipe the row's last cell left
    assert shown("|\n\nWhen", "is lifted.", "overturned strike ban").startswith("When an")
    assert shown("| Outcome", "|---|---|", "outcome effect") == "| Outcome | Effect |"
    a, b = best_sentence(text, "zebra", {})  # no shared word: the first readable sentence
    assert text[a:b] == "| Outcome | Effect |"


def test_a_wordless_window_highlights_the_next_readable_sentence_of_its_section() -> None:
    """A window that is only a table's rule row is never shown as the highlight itself."""
    from indexer.highlight import within_section

    text = "## Fees\n\n| Item | Fee |\n|---|---|\n| Appeal | Free |\n\n## Next\n\nOther text."
    rule = text.index("|---|---|")

    def shown(a: int, b: int, breaks=()) -> str:
        s, e = within_section(text, a, b, "zebra", breaks=breaks)
        return text[s:e]

    assert shown(rule, rule + 9) == "| Appeal | Free |"  # the row after the rule
    # the last line of its section: the row before it, never the next section's text
    last = "| Item | Fee |\n|---|---|\n\n## Next\n\nOther text."
    s, e = within_section(last, last.index("|---"), last.index("|---") + 9, "zebra")
    assert last[s:e] == "| Item | Fee |"
    # a page break right after the rule: the row before it, on the rule's page
    assert shown(rule, rule + 9, breaks=[rule + 10]) == "| Item | Fee |"
    # nothing readable around it in its section: the window as it is
    alone = "## A\n\n|---|\n\n## B\n\nText."
    s, e = within_section(alone, alone.index("|---|"), alone.index("|---|") + 5, "zebra")
    assert alone[s:e] == "|---|"


def test_a_highlight_stays_on_one_side_of_a_page_or_section_break() -> None:
    from indexer.highlight import within_section

    text = "We will follow up within one day.\nRespond to grooming reports within 5 minutes."
    second = text.index("Respond")
    query = "respond to grooming reports minutes follow up"
    # Without a break the window's two lines are one run; a page break between them splits it.
    assert within_section(text, 0, len(text), query) == (0, len(text))
    a, b = within_section(text, 0, len(text), query, breaks=[second])
    assert text[a:b] == "Respond to grooming reports within 5 minutes."
    # A heading that is a plain line (PDF), named as a title of a section inside the passage.
    text = "Tell the reporter we follow up.\nResponse times\nRespond within 5 minutes."
    a, b = within_section(text, 0, len(text), "respond within minutes", ["Response times"])
    assert text[a:b] == "Respond within 5 minutes."


def test_inner_boundaries_names_the_sections_and_pages_that_begin_inside_a_passage() -> None:
    from indexer.search import inner_boundaries

    sections = [
        [["SOP"], 0, 40, ""],
        [["SOP", "Triggers"], 40, 90, ""],
        [["SOP", "Response times"], 90, 200, ""],
        [["SOP", "Aftercare"], 200, 300, ""],
    ]
    pages = [[1, 0, 120], [2, 120, 300]]
    # A passage from 50 to 150: the 'Response times' section (90) and page 2 (120) begin in it.
    assert inner_boundaries(sections, pages, 50, 100) == (["Response times"], [40, 70])
    # One that starts where a section starts: that section is its own, not an inner one.
    assert inner_boundaries(sections, pages, 90, 20) == ([], [])
    assert inner_boundaries([], [], 0, 10) == ([], [])


def test_a_macro_greeting_or_sign_off_is_never_the_highlight() -> None:
    """'Hi {{user_name}},' is embedded with the macro's title, so it matches any question on
    the macro's subject; shown as the highlight, it tells the agent nothing."""
    from indexer.highlight import readable, sentence_spans, within_section

    text = (
        "## RD-02: refund window passed\n\nHi {{user_name}},\n\n"
        "Coins can only be refunded within 14 days of purchase.\n\nBest regards,\n{{agent_name}}"
    )
    greeting = text.index("Hi {{")
    a, b = within_section(text, greeting, greeting + len("Hi {{user_name}},"), "refund coins")
    assert text[a:b] == "Coins can only be refunded within 14 days of purchase."
    shown = [text[s:e] for s, e in readable(text, sentence_spans(text))]
    assert "Best regards," not in shown and "{{agent_name}}" not in shown
    assert (
        "Hi there, the refund is done."
        in [  # a greeting that says something stays
            t[s:e] for t in ["Hi there, the refund is done."] for s, e in readable(t, [(0, len(t))])
        ]
    )


def test_a_macro_courtesy_line_is_not_the_highlight_but_a_thanks_that_says_something_is() -> None:
    from indexer.highlight import readable, sentence_spans

    text = (
        "Thanks for contacting us about order {{order_id}}.\nThank you for your patience.\n"
        "Thanks for your report, we removed the video and banned the account for 7 days.\n"
        "Refunds take 5 business days."
    )
    shown = [text[a:b] for a, b in readable(text, sentence_spans(text))]
    assert shown == [
        "Thanks for your report, we removed the video and banned the account for 7 days.",
        "Refunds take 5 business days.",
    ]


MARKETS = (
    "Notes on specific markets:\n"
    "- MY and ID: the window is 7 days, and refunds go back to the e-wallet.\n"
    "- EU/EEA (including DE and FR): users have 14 days to withdraw.\n"
    "- KR: the 7-day withdrawal period applies to unused coins."
)


def _windows(text: str, cosines: list[float]) -> list[tuple[float, int, int]]:
    spans = [s for s in sentence_spans(text) if text[s[0] : s[1]].startswith("- ")]
    assert len(spans) == len(cosines)
    return [(c, a, b) for c, (a, b) in zip(cosines, spans, strict=True)]


def test_pick_window_marks_the_row_naming_the_market_asked_about() -> None:
    """The model barely hears 'DE': the MY row is nearer in cosine and holds more of the
    question's words ('window', 'refunds'), but the agent typed the market, so its row is the
    one to read."""
    windows = _windows(MARKETS, [0.51, 0.41, 0.30])
    idf = idf_of({"refund": 106, "window": 42, "de": 19}, 460)
    i = pick_window(MARKETS, windows, "refund window in DE", idf)
    assert MARKETS[windows[i][1] : windows[i][2]].startswith("- EU/EEA (including DE")


def test_a_code_typed_in_lower_case_or_absent_from_the_passage_does_not_decide() -> None:
    windows = _windows(MARKETS, [0.51, 0.41, 0.30])
    idf = idf_of({"refund": 106, "window": 42, "de": 19}, 460)
    assert pick_window(MARKETS, windows, "refund window in de", idf, weight=0.0) == 0
    assert pick_window(MARKETS, windows, "refund window in MX", idf, weight=0.0) == 0


def test_pick_window_prefers_the_window_holding_the_questions_rare_words() -> None:
    text = "Refunds go back to the card used. Gifts already sent are never refunded."
    windows = [(0.60, 0, 33), (0.58, 34, len(text))]
    idf = idf_of({"refund": 100, "gift": 8}, 400)
    assert pick_window(text, windows, "refund for gifts", idf) == 1
    assert pick_window(text, windows, "refund for gifts", idf, weight=0.0) == 0


def test_pick_window_keeps_the_nearest_window_when_words_do_not_tell_them_apart() -> None:
    windows = _windows(MARKETS, [0.50, 0.64, 0.55])
    idf = idf_of({"withdraw": 5}, 400)  # the EU and KR rows both hold it: the nearer wins
    assert pick_window(MARKETS, windows, "can users withdraw", idf) == 1
    assert pick_window(MARKETS, windows, "something else entirely", {}) == 1


def test_pick_window_skips_a_macro_signature() -> None:
    """'Vybe Support' under 'Kind regards,' matches every question about the macro through
    the title its window is embedded with; it is never what an agent should read."""
    text = (
        "Hi {{user_name}},\n\nYou can get back in by resetting your password.\n\n"
        "Kind regards,\n{{agent_name}}\nVybe Support"
    )
    spans = sentence_spans(text)
    windows = [(0.9 if text[a:b] == "Vybe Support" else 0.5, a, b) for a, b in spans]
    i = pick_window(text, windows, "user forgot password which macro", {})
    assert text[windows[i][1] : windows[i][2]] == "You can get back in by resetting your password."


def test_a_signature_is_not_readable_but_the_next_paragraph_is() -> None:
    text = "Kind regards,\n{{agent_name}}\nVybe Support\n\nAgent note: use this macro once."
    shown = [text[a:b] for a, b in readable(text, sentence_spans(text))]
    assert shown == ["Agent note: use this macro once."]


def test_idf_of_matches_idf_table() -> None:
    corpus = ["refund de", "refund fr", "refund kr", "window"]
    table = idf_table(corpus)
    assert idf_of({"refund": 3, "de": 1, "absent": 0}, 4) == pytest.approx(
        {"refund": table["refund"], "de": table["de"]}
    )


def test_matched_agrees_with_comparing_every_term_with_every_word() -> None:
    """The bucketed prefix test finds exactly what comparing each pair would."""

    def naive(term: str, words: set[str]) -> bool:
        if term in words:
            return True
        return len(term) >= 4 and any(
            len(w) >= 4 and (w.startswith(term) or term.startswith(w)) for w in words
        )

    rng = random.Random(7)
    alphabet = "aegmnr"
    for _ in range(2000):
        vocab = {"".join(rng.choices(alphabet, k=rng.randint(1, 7))) for _ in range(12)}
        words = set(rng.sample(sorted(vocab), k=min(len(vocab), 6)))
        wanted = set(rng.sample(sorted(vocab), k=min(len(vocab), 5)))
        assert _matched(wanted, words) == {t for t in wanted if naive(t, words)}
    assert _matched({"german", "gem", "refund"}, {"germany", "gems", "refunded"}) == {
        "german",
        "refund",
    }


def test_a_reply_of_a_few_words_is_highlighted_with_its_question() -> None:
    """ "No." was the highlight of a passage holding four FAQ entries: quoted alone it says
    nothing. It is shown with the sentence before it, never from across a heading."""
    from indexer.highlight import within_section

    text = (
        "## Chargebacks\n\nThe user filed a chargeback. Can we still refund? No.\n"
        "Refunds stop once a chargeback opens.\n"
    )
    a = text.index("No.")
    got = within_section(text, a, a + 3, "refund after a chargeback")
    assert text[got[0] : got[1]] == "Can we still refund? No."
    alone = "## Chargebacks\n\nNo.\n"
    a = alone.index("No.")
    assert alone[slice(*within_section(alone, a, a + 3, "refund"))] == "No."
    long = "Intro line here.\nRefunds are never issued after a chargeback.\n"
    a = long.index("Refunds")
    got = within_section(long, a, len(long) - 1, "refund chargeback")
    assert long[got[0] : got[1]] == "Refunds are never issued after a chargeback."


def test_a_table_row_keyed_by_a_number_the_question_typed_is_highlighted() -> None:
    """ "host hit 4 LIVE strikes" marked the table's intro sentence (it names LIVE too), not
    the row "4 | ..."; a count ("3rd"), a decimal or a date is no key."""
    text = (
        "LIVE violations add a LIVE strike.\n| Active LIVE strikes | Penalty |\n"
        "| 3 | 30-day LIVE ban. |\n| 4 | LIVE access removed; reapply after 12 months. |"
    )
    rows = [
        "LIVE violations add a LIVE strike.",
        "| 3 | 30-day LIVE ban. |",
        "| 4 | LIVE access removed; reapply after 12 months. |",
    ]
    windows = [(score, text.index(r), text.index(r) + len(r)) for score, r in
               zip((0.6, 0.45, 0.42), rows, strict=True)]  # fmt: skip

    def marked(query: str) -> str:
        _, a, b = windows[pick_window(text, windows, query, {})]
        return text[a:b]

    assert marked("host hit 4 LIVE strikes, can they stream again") == rows[2]
    assert marked("host has 3 active LIVE strikes") == rows[1]
    assert marked("host got a LIVE strike") == rows[0]
    assert marked("their 3rd LIVE strike") == rows[0]
    assert marked("paid 4.5 usd for LIVE") == rows[0]
