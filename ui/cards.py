"""Pieces of a search result card as text, kept apart from the page so they can be tested
without a browser or an API: what a screen reader announces is decided here."""

from __future__ import annotations

from typing import Any

from ui.common import md


def result_heading(result: dict[str, Any]) -> str:
    """The card's title as a Markdown level-2 heading ("## 1. Coin Refund Policy"), for
    ``st.markdown(..., anchors=False)``.

    A heading, not bold text: screen-reader users move from result to result by headings.
    Level 2 under the page's title (level 1), so no level is skipped. No anchor: Streamlit's
    "Link to heading" icon would add a tab stop per result that nobody needs.
    """
    return f"## {result['rank']}\\. {md(result['title'])}"
