"""Agent page: one search box, filters, cited result cards, feedback on results and searches.

A search can also come from the address bar (``?q=...&market=DE``), so a search is a link an
agent can share in a ticket.
"""

from __future__ import annotations

import datetime as dt
import html

import streamlit as st

from ui.common import call, client, require_api

RATINGS = {
    "helpful": "Helpful",
    "not_helpful": "Not helpful",
    "wrong_or_outdated": "Wrong or outdated",
}
DOC_TYPES = ["", "policy", "sop", "faq", "macro", "guideline", "reference"]

api = client()
health = require_api(api)


@st.cache_data(ttl=300, show_spinner=False)
def _facets(base_url: str, index_version: str) -> dict[str, list[str]]:
    """Markets, product areas and document types present in the index."""
    docs = call(api.documents)
    markets, areas, types = set(), set(), set()
    for d in docs:
        m = d["metadata"]
        markets.update(m.get("markets") or [])
        if m.get("product_area"):
            areas.add(str(m["product_area"]))
        if m.get("doc_type"):
            types.add(str(m["doc_type"]))
    return {
        "markets": [""] + sorted(markets),
        "product_area": [""] + sorted(areas),
        "doc_type": [""] + sorted(types | set(DOC_TYPES[1:])),
    }


def _feedback_form(search_id: str | None, chunk_id: str | None, key: str) -> None:
    """Helpful / not helpful / wrong or outdated, with an optional comment."""
    if not search_id:
        st.caption("Feedback is unavailable: the API did not log this search.")
        return
    sent = st.session_state.setdefault("feedback_sent", {})
    if key in sent:
        st.success(f"Feedback recorded: {RATINGS[sent[key]]}. Thank you.")
        return
    with st.form(f"feedback-{key}", clear_on_submit=True, border=False):
        rating = st.radio(
            "Was this useful?",
            list(RATINGS),
            format_func=RATINGS.get,
            horizontal=True,
            key=f"rating-{key}",
        )
        comment = st.text_input(
            "Comment (optional; personal data is removed before it is stored)",
            key=f"comment-{key}",
        )
        if st.form_submit_button("Send feedback"):
            call(api.feedback, search_id, rating, comment, chunk_id)
            sent[key] = rating
            st.rerun()


def _version(meta: dict) -> str:
    """Version and effective date as the card shows them; missing ones said, not '?'."""
    version = f"v{meta['version']}" if meta.get("version") else "no version"
    effective = meta.get("effective_date")
    return f"{version} · " + (f"effective {effective}" if effective else "no effective date")


def render_card(result: dict, search_id: str | None) -> None:
    """One result: citation line, passage with its best sentence marked, links and feedback."""
    meta = result.get("metadata", {})
    path = " > ".join(result["heading_path"]) or "(top of document)"
    page = f" · page {result['page']}" if result.get("page") else ""
    st.markdown(
        f"**{result['rank']}. {html.escape(result['title'])}**  \n"
        f"{html.escape(path)}{page} · {_version(meta)} · {meta.get('doc_type', '')} · "
        f"score {result['score']:.2f}"
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
    # st.html, not st.markdown: a passage's own "#", "*" or "1." must show as written.
    st.html(f"<div style='white-space: pre-wrap; line-height: 1.5'>{marked}</div>")
    links = f"[Open in source]({api.source_url(result)})"
    original = api.original_url(result)
    if original:
        links += f" · [original PDF, page {result.get('page') or 1}]({original})"
    st.markdown(links)
    st.caption("Citation (copy with the icon at the right of the box)")
    st.code(result["citation"], language=None)
    with st.expander("Feedback on this passage"):
        _feedback_form(search_id, result["chunk_id"], f"{search_id}-{result['chunk_id']}")
    st.divider()


st.title("Search the knowledge base")
st.html("<style>mark{background:#ffe58a;padding:0 .1em}</style>")
facets = _facets(api.base_url, health["index_version"])
params = st.query_params
with st.form("search"):
    query = st.text_input(
        "Ask the knowledge base (Enter searches)",
        value=params.get("q", ""),
        placeholder="e.g. refund coins bought by a minor in MY",
    )
    cols = st.columns([1, 1, 1, 1, 0.6])
    market = cols[0].selectbox("Market", facets["markets"])
    area = cols[1].selectbox("Product area", facets["product_area"])
    doc_type = cols[2].selectbox("Document type", facets["doc_type"])
    as_of = cols[3].date_input("As of", value=dt.date.today(), format="YYYY-MM-DD")
    top_k = cols[4].number_input("Results", min_value=1, max_value=20, value=5)
    submitted = st.form_submit_button("Search", type="primary")

request = None
if submitted and query.strip():
    filters = {"markets": market, "product_area": area, "doc_type": doc_type}
    request = (query.strip(), int(top_k), {k: v for k, v in filters.items() if v}, str(as_of))
elif not submitted and params.get("q") and st.session_state.get("from_link") != params["q"]:
    st.session_state["from_link"] = params["q"]  # a shared link searches once on load
    request = (params["q"], int(top_k), {}, str(as_of))
if request:
    st.session_state["from_link"] = request[0]  # the address bar now holds this search
    st.session_state["response"] = call(api.search, *request)
    st.query_params["q"] = request[0]

response = st.session_state.get("response")
if not response:
    st.caption(
        f"Index {health['index_version']}: {health['counts']['documents']} documents, "
        f"{health['counts']['chunks']} passages."
    )
    st.stop()

st.caption(
    f"{len(response['results'])} passages for “{response['query']}” in "
    f"{response['took_ms']:.0f} ms (as of {response.get('as_of')})"
)
if response.get("acronyms"):
    read = ", ".join(f"{a['short']} as “{a['long']}”" for a in response["acronyms"])
    st.caption(f"Read {read}, as the knowledge base defines them.")
if not response["results"]:
    st.info(f"No passage in the knowledge base matches this question ({response['reason']}).")
elif not response.get("answerable", True):
    st.warning(
        f"No good answer in the knowledge base: {response['reason']}. "
        "The closest passages are shown for reference only."
    )
for result in response["results"]:
    render_card(result, response.get("search_id"))
st.subheader("Did this search answer your question?")
_feedback_form(response.get("search_id"), None, f"{response.get('search_id')}-search")
