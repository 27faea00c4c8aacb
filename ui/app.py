"""Agent search page: one box, filters, cited result cards. Talks to the API over HTTP."""

from __future__ import annotations

import html
import os

import streamlit as st

from ui.client import ApiClient, ApiUnavailable

MARKETS = [
    "",
    "global",
    "US",
    "GB",
    "DE",
    "FR",
    "EU",
    "BR",
    "IN",
    "ID",
    "MY",
    "JP",
    "KR",
    "AU",
    "MX",
]
DOC_TYPES = ["", "policy", "sop", "faq", "macro", "guideline", "reference"]


def render_card(result: dict) -> None:
    """One result: citation line, passage with the best sentence highlighted."""
    meta = result.get("metadata", {})
    path = " > ".join(result["heading_path"]) or "(top of document)"
    page = f" · page {result['page']}" if result.get("page") else ""
    st.markdown(
        f"**{result['rank']}. {html.escape(result['title'])}**  \n"
        f"{html.escape(path)}{page} · v{meta.get('version', '?')} · effective "
        f"{meta.get('effective_date', '?')} · score {result['score']:.2f}"
    )
    text = result["text"]
    hl = result["highlight"]
    rel_a, rel_b = hl["start"] - result["start"], hl["end"] - result["start"]
    marked = (
        html.escape(text[:rel_a])
        + "<mark>"
        + html.escape(text[rel_a:rel_b])
        + "</mark>"
        + html.escape(text[rel_b:])
    )
    st.markdown(f"<div style='white-space: pre-wrap'>{marked}</div>", unsafe_allow_html=True)
    st.code(
        f"{result['title']} v{meta.get('version', '?')} ({meta.get('effective_date', '?')}), "
        f"{path}{page}, chars {result['start']}-{result['end']} [{result['doc_id']}]",
        language=None,
    )
    st.divider()


def main() -> None:
    st.set_page_config(page_title="kb-assistant", layout="wide")
    st.title("kb-assistant")
    client = ApiClient(os.environ.get("KB_API_URL", "http://127.0.0.1:8000"))
    try:
        health = client.health()
    except ApiUnavailable as exc:
        st.error(str(exc))
        return
    if health.get("status") != "ok":
        st.error(f"Search is unavailable: {health.get('reason', 'unknown reason')}")
        return
    with st.form("search"):
        query = st.text_input(
            "Ask the knowledge base", placeholder="e.g. refund coins bought by a minor in MY"
        )
        cols = st.columns(3)
        market = cols[0].selectbox("Market", MARKETS)
        doc_type = cols[1].selectbox("Document type", DOC_TYPES)
        top_k = cols[2].number_input("Results", min_value=1, max_value=20, value=5)
        submitted = st.form_submit_button("Search")
    if not (submitted and query.strip()):
        st.caption(
            f"Index {health['index_version']}: {health['counts']['documents']} documents, "
            f"{health['counts']['chunks']} passages."
        )
        return
    filters = {k: v for k, v in {"markets": market, "doc_type": doc_type}.items() if v}
    try:
        response = client.search(query, int(top_k), filters)
    except ApiUnavailable as exc:
        st.error(str(exc))
        return
    st.caption(f"{len(response['results'])} passages in {response['took_ms']:.0f} ms")
    if not response["results"]:
        st.info(f"No passage in the knowledge base matches this question ({response['reason']}).")
    elif not response.get("answerable", True):
        st.warning(
            f"No good answer in the knowledge base: {response['reason']}. "
            "The closest passages are shown for reference only."
        )
    for result in response["results"]:
        render_card(result)


main()
