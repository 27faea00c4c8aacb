"""The text a result card is made of, as a screen reader and a browser get it."""

from __future__ import annotations

from markdown_it import MarkdownIt

from ui.cards import result_heading


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark").render(markdown).strip()


def test_a_result_title_is_a_level_two_heading_shown_as_written() -> None:
    result = {"rank": 3, "title": "Refunds *after* 14 days <b>[DE]</b> #2"}
    assert _html(result_heading(result)) == (
        "<h2>3. Refunds *after* 14 days &lt;b&gt;[DE]&lt;/b&gt; #2</h2>"
    )
