"""The text a result card is made of, as a screen reader and a browser get it."""

from __future__ import annotations

import re
from html import unescape

from markdown_it import MarkdownIt

from ui.cards import result_heading, source_links_html


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown).strip()


def test_a_result_title_is_a_level_two_heading_shown_as_written() -> None:
    result = {"rank": 3, "title": "Refunds *after* 14 days <b>[DE]</b> #2"}
    assert _html(result_heading(result)) == (
        "<h2>3. Refunds *after* 14 days &lt;b&gt;[DE]&lt;/b&gt; #2</h2>"
    )


def _card(rank: int, title: str, path: list[str], page: int | None = None) -> dict:
    return {"rank": rank, "title": title, "heading_path": path, "page": page}


def _links(markup: str) -> list[tuple[str, str, str]]:
    """(href, accessible name, visible text) of each link in ``markup``."""
    found = re.findall(r'<a href="([^"]*)"[^>]*aria-label="([^"]*)">([^<]*)</a>', markup)
    return [(unescape(h), unescape(n), unescape(t)) for h, n, t in found]


def test_each_source_link_names_its_result_and_section() -> None:
    """Every card's link was "Open in source": a screen reader's list of links read five
    identical ones, with nothing saying which result each opens."""
    cards = [
        _card(1, "Coin Refund Policy", ["Coin Refund Policy", "4. Refund windows"]),
        _card(2, "Coin Refund Policy", ["Coin Refund Policy", "5. Exceptions"]),
        _card(3, "Payout SOP", [], page=4),
    ]
    names = []
    for card in cards:
        pdf = "http://api/source-file/p.pdf#page=4" if card["page"] else None
        links = _links(source_links_html(card, "http://api/source/x?start=1&end=2", pdf))
        for href, name, text in links:
            assert name.startswith(text + ": ")  # what is shown is what a voice command says
            assert href.startswith("http://api/")
        names += [name for _, name, _ in links]
    assert names == [
        "Open in source: 1. Coin Refund Policy § 4. Refund windows",
        "Open in source: 2. Coin Refund Policy § 5. Exceptions",
        "Open in source: 3. Payout SOP § top of document",
        "original PDF, page 4: 3. Payout SOP § top of document",
    ]
    assert _links(source_links_html(cards[0], "http://api/s?a=1&b=2", None))[0][0] == (
        "http://api/s?a=1&b=2"
    )


def test_a_source_link_shows_a_title_as_written_and_opens_a_new_tab() -> None:
    card = _card(1, 'Refunds "<b>fast</b>" & more', ['Step <2> "now"'])
    markup = source_links_html(card, "http://api/source/a?b=1&c=2", None)
    assert "<b>" not in markup and 'target="_blank"' in markup and "noopener" in markup
    [(href, name, text)] = _links(markup)
    assert name == 'Open in source: 1. Refunds "<b>fast</b>" & more § Step <2> "now"'
    assert (href, text) == ("http://api/source/a?b=1&c=2", "Open in source")


def test_a_passage_in_a_right_to_left_language_is_written_right_to_left() -> None:
    """An Arabic passage showed left-aligned on the Search page, its full stops at the wrong
    end; English and untagged text keep each paragraph's own direction."""
    from ui.common import text_block

    assert text_block("نص", "ar").startswith("<div dir='rtl' lang='ar' ")
    assert text_block("text", "en-GB").startswith("<div dir='auto' lang='en-GB' ")
    assert text_block("text").startswith("<div dir='auto' style=")
    assert "lang='x&#x27; onload=&#x27;y'" in text_block("t", "x' onload='y")
