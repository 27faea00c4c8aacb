"""Pieces of a search result card as text, kept apart from the page so they can be tested
without a browser or an API: what a screen reader announces is decided here."""

from __future__ import annotations

import html
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


def _where(result: dict[str, Any]) -> str:
    """Which result and section a link opens: "1. Coin Refund Policy § Refund windows"."""
    section = (result.get("heading_path") or ["top of document"])[-1]
    return f"{result['rank']}. {result['title']} § {section}"


def source_links_html(result: dict[str, Any], source_url: str, original_url: str | None) -> str:
    """The card's links to the cited passage (and the original PDF page), as HTML for
    ``st.markdown(..., unsafe_allow_html=True)`` (styled as the page's other links).

    Every card's link read "Open in source": a screen reader's list of links offered five
    identical ones. Each keeps its visible text and gets a name that starts with it (what a
    voice-control user says still works) and names the result and section.
    """
    links = [_link(source_url, "Open in source", f"Open in source: {_where(result)}")]
    if original_url:
        text = f"original PDF, page {result.get('page') or 1}"
        links.append(_link(original_url, text, f"{text}: {_where(result)}"))
    return " · ".join(links)


def _link(url: str, text: str, name: str) -> str:
    """A link that opens in a new tab (the agent keeps the ticket's search), named ``name``."""
    return (
        f'<a href="{html.escape(url)}" target="_blank" rel="noopener noreferrer" '
        f'aria-label="{html.escape(name)}">{html.escape(text)}</a>'
    )
