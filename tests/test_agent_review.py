# ruff: noqa: E501  (the PDF lines are quoted at their real, full page width)
"""Defects found by using the search as a support agent would, mid-ticket.

A PDF's paragraphs come out of the extractor hard-wrapped at the page width, and sentences
are split at every line end: the highlight an agent quotes was one printed line, cut
mid-sentence ('... never by Tier' for 'Tier 1 reviewers', or only the tail
'regardless of the threshold.' of the rule it qualifies).
"""

from __future__ import annotations

from indexer.highlight import within_section

# As the PDF extractor gives sops/csam-escalation.pdf and creator-rewards-payouts.pdf.
WRAPPED = (
    "1. Purpose and scope\n"
    "The procedure is deliberately mechanical. Reviewers classify, preserve and escalate; they do not\n"
    "investigate. All reporting to authorities is done by the Child Safety Response Team (CSRT), never by Tier\n"
    "1 reviewers or frontline support agents.\n"
    "8. Leaving the program\n"
    "A creator can leave the CRP at any time in Creator Tools. In both cases, any finalised balance is paid in a final\n"
    "payout within 60 days. A final balance below the threshold is paid once it has been held for 180 days,\n"
    "regardless of the threshold.\n"
)
HEADINGS = ["1. Purpose and scope", "8. Leaving the program"]


def _window(text: str, piece: str) -> tuple[int, int]:
    """The span of one sentence window, as the index stores it (one line's sentence)."""
    a = text.index(piece)
    return a, a + len(piece)


def test_highlight_is_the_whole_sentence_not_the_printed_line() -> None:
    a, b = _window(
        WRAPPED,
        "All reporting to authorities is done by the Child Safety Response Team (CSRT), never by Tier",
    )
    got = within_section(WRAPPED, a, b, "who reports csam to authorities", HEADINGS)
    assert " ".join(WRAPPED[got[0] : got[1]].split()) == (
        "All reporting to authorities is done by the Child Safety Response Team (CSRT), "
        "never by Tier 1 reviewers or frontline support agents."
    )


def test_highlight_on_a_sentence_tail_starts_where_the_sentence_does() -> None:
    a, b = _window(WRAPPED, "regardless of the threshold.")
    got = within_section(WRAPPED, a, b, "final balance below threshold", HEADINGS)
    assert " ".join(WRAPPED[got[0] : got[1]].split()) == (
        "A final balance below the threshold is paid once it has been held for 180 days, "
        "regardless of the threshold."
    )


def test_highlight_does_not_grow_across_a_page_break() -> None:
    # The page break falls inside the sentence: the highlight stays on the page it is cited with.
    page_starts = [WRAPPED.index("regardless of the threshold.")]
    a, b = _window(WRAPPED, "regardless of the threshold.")
    got = within_section(WRAPPED, a, b, "final balance below threshold", HEADINGS, page_starts)
    assert WRAPPED[got[0] : got[1]] == "regardless of the threshold."


def test_table_cells_and_list_items_are_not_joined_into_one_sentence() -> None:
    table = (
        "2. Return windows\n"
        " Market\nGeneral\nmerchandise\nElectronics\nUS\n30 days\n15 days\n"
        "- First rule without a full stop\n- Second rule\n"
        "Tier B - Moderate | Participation risks moderate harm; no warning labels that name the challenge\n"
        "Tier C - Low | Low risk\n"
    )
    headings = ["2. Return windows"]
    for piece in ["15 days", "- Second rule", "Tier C - Low | Low risk"]:
        a, b = _window(table, piece)
        assert within_section(table, a, b, "return window days", headings) == (a, b), piece
    # A cell wrapped inside the table ('General' / 'merchandise') reads as one cell.
    a, b = _window(table, "General")
    got = within_section(table, a, b, "general merchandise", headings)
    assert table[got[0] : got[1]] == "General\nmerchandise"


def test_markdown_lines_are_unchanged() -> None:
    text = (
        "## 5.4 Chargebacks\n"
        "If the user has filed a chargeback, do not process a refund through support.\n"
        "- The coin balance is frozen automatically when the chargeback notification arrives.\n"
        '- Assign the ticket to the Disputes team using the category "Payments > Chargeback".\n'
    )
    a, b = _window(
        text, "- The coin balance is frozen automatically when the chargeback notification arrives."
    )
    assert within_section(text, a, b, "chargeback balance frozen") == (a, b)


def _response(in_force_note: str, as_of: str):
    """A one-result response as the searcher builds it."""
    from indexer.search import Highlight, SearchResponse, SearchResult

    text = "Users can request a refund of unused coins within 14 days of purchase."
    result = SearchResult(
        rank=1,
        score=0.9,
        chunk_id="c1",
        doc_id="policies/coin-refunds-v2.md",
        title="Coin Purchase and Refund Policy (v2)",
        heading_path=["Coin Purchase and Refund Policy (v2.1)", "3. Standard refund window"],
        page=None,
        pages=[],
        start=851,
        end=851 + len(text),
        text=text,
        highlight=Highlight(851, 851 + len(text), text),
        source="/kb/policies/coin-refunds-v2.md",
        metadata={"version": "2.1", "effective_date": "2025-01-15"},
        in_force=not in_force_note,
        in_force_note=in_force_note,
    )
    return SearchResponse("coin refund window", [result], 3.0, "gen-1", as_of=as_of)


def test_kb_ask_prints_the_citation_line_with_its_not_in_force_note() -> None:
    # SearchResult.citation is "the one line every client shows"; `kb ask` printed its parts
    # but not the line, so a superseded version's NOT IN FORCE note never reached the agent.
    from kb_cli.main import format_response

    note = "superseded by policies/coin-refunds-v3.md from 2026-03-01, as of 2026-06-01"
    response = _response(note, "2026-06-01")
    out = format_response(response)
    assert f"    cite: {response.results[0].citation}\n" in out
    assert f"(NOT IN FORCE: {note})" in out


def test_kb_ask_says_which_date_the_answer_applies_on() -> None:
    # A pasted `kb ask --as-of 2025-06-01` answer must not read as today's rule.
    from kb_cli.main import format_response

    out = format_response(_response("", "2025-06-01"))
    assert "as of 2025-06-01" in out.splitlines()[-1]


def test_kb_ask_says_which_version_and_market_code_it_searched() -> None:
    from indexer.versions import Pick
    from kb_cli.main import format_response

    response = _response("superseded by policies/coin-refunds-v3.md", "2026-12-06")
    response.versions = [
        Pick(
            "policies/coin-refunds-v2.md",
            "policies/coin-refunds-v3.md",
            "the question names version 2.1",
        )
    ]
    response.markets = [("malaysia", "MY")]
    response.spellings = [("refnd", "refund")]
    out = format_response(response)
    assert "(also searched malaysia as MY)" in out
    assert "(searched refnd as refund)" in out
    assert (
        "(searched policies/coin-refunds-v2.md too: the question names version 2.1; "
        "policies/coin-refunds-v3.md is the version in force)" in out
    )
