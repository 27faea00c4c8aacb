"""What every page shares: the API client, a clear stop when the API is down, literal text."""

from __future__ import annotations

import html
import os
import re
from typing import Any

import streamlit as st

from indexer.render import text_direction
from ui.client import ApiClient, ApiUnavailable

# Every ASCII punctuation character: CommonMark lets each be backslash-escaped, and escaping
# them all also keeps Streamlit's own markup (":red[...]", ":material/x:", "$math$") inert.
_MARKUP = re.compile(r"([!-/:-@\[-`{-~])")


def md(text: object) -> str:
    """``text`` for st.markdown, st.caption, st.info... shown exactly as written.

    Queries people type and document fields may hold ``**``, ``#``, ``[x](y)`` or ``<b>``;
    escaped, they show as typed instead of formatting the page. Line breaks are kept.
    """
    lines = str(text).splitlines() or [""]
    return "  \n".join(_MARKUP.sub(r"\\\1", line.strip()) for line in lines)


def text_block(shown: str, language: str = "") -> str:
    """HTML of a document's text (:func:`indexer.render.marked_html`) as a block that keeps its
    line breaks, for st.html; a long URL or code breaks where it must rather than running off
    a narrow window. Written right to left for a right-to-left ``language`` (an Arabic
    passage showed left-aligned, its full stops at the wrong end), else each paragraph in its
    own first letter's direction."""
    lang = f" lang='{html.escape(language, quote=True)}'" if language else ""
    return (
        f"<div dir='{text_direction(language)}'{lang} "
        "style='white-space: pre-wrap; line-height: 1.5; overflow-wrap: anywhere'>"
        f"{shown}</div>"
    )


def client() -> ApiClient:
    """The API client: ``KB_API_URL``, and ``KB_API_KEY`` when the API requires keys;
    citation links go to ``KB_API_PUBLIC_URL`` when set (the API as agents' browsers reach it).

    It waits a little longer than the API's own deadline (``KB_REQUEST_TIMEOUT_S``), so a slow
    search ends in the API's message about it rather than the UI giving up at the same moment.
    """
    from indexer.settings import get_settings

    return ApiClient(
        os.environ.get("KB_API_URL", "").strip() or get_settings().api_local_url(),
        timeout=get_settings().request_timeout_s + UI_TIMEOUT_MARGIN_S,
        api_key=os.environ.get("KB_API_KEY", "").strip() or None,
        public_url=os.environ.get("KB_API_PUBLIC_URL", "").strip() or None,
    )


UI_TIMEOUT_MARGIN_S = 5.0


def check_api(api: ApiClient) -> tuple[dict[str, Any] | None, str | None]:
    """The API's health when search is available, else None and why (for people).

    A degraded API (serving the previous index generation because the newest was refused)
    still answers: it counts as available, and its reason is shown as a warning where the
    page is drawn (``degraded_note``), not as a reason to stop searching.
    """
    try:
        health = api.health()
    except ApiUnavailable as exc:
        return None, str(exc)
    if health.get("status") not in ("ok", "degraded"):
        return None, f"Search is unavailable: {health.get('reason', 'unknown reason')}"
    degraded_note(health)
    return health, None


def degraded_note(health: dict[str, Any]) -> None:
    """A warning while the API answers from an older index generation."""
    if health.get("status") == "degraded":
        st.warning(
            md(
                "Answers come from the previous version of the index: "
                f"{health.get('reason') or 'the newest one was refused'}. "
                "Ask whoever runs the indexer to check the last build."
            )
        )


def require_api(api: ApiClient) -> dict[str, Any]:
    """The API's health; shows why and stops the page when search is unavailable."""
    health, problem = check_api(api)
    if health is None:
        st.error(md(problem))
        st.stop()
    return health


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the API; on failure show the reason and stop the page instead of a traceback."""
    try:
        return fn(*args, **kwargs)
    except ApiUnavailable as exc:
        st.error(md(exc))
        st.stop()
