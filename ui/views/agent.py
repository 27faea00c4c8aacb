"""Agent page: one search box, filters, cited result cards, feedback on results and searches.

A search is also a link an agent can share in a ticket: the address bar holds the search on
screen with every filter (``?q=...&market=DE&product_area=payments&doc_type=policy&as_of=
2026-03-01&top_k=8&mode=bm25``, plus ``sid``, the id of the logged search; the question with
personal data replaced, as the query log keeps it), and opening such a link fills the form and
searches once. Reloading it shows the logged search again rather than logging it
twice, while this UI process still holds it. With the API down or slow the form stays as
typed, says why, and Search tries again.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import streamlit as st

from indexer.render import marked_html
from indexer.settings import get_settings
from insights.redact import redact
from ui.cards import result_heading, source_links_html
from ui.client import ApiUnavailable
from ui.common import call, check_api, client, md, text_block

RATINGS = {
    "helpful": "Helpful",
    "not_helpful": "Not helpful",
    "wrong_or_outdated": "Wrong or outdated",
}
DOC_TYPES = ["", "policy", "sop", "faq", "macro", "guideline", "reference"]
# Link parameter -> the search filter it sets (the link names are the form's, singular).
LINK_FILTERS = {"market": "markets", "product_area": "product_area", "doc_type": "doc_type"}
SEARCH_ID = re.compile(r"[0-9a-f]{32}")  # what the query log hands out; anything else is ignored
# The API's own limits (KB_DEFAULT_TOP_K, KB_MAX_TOP_K): a link with top_k=30 was refused
# here although the API allows 50, and KB_DEFAULT_TOP_K never reached the form.
DEFAULT_TOP_K, MAX_TOP_K = get_settings().default_top_k, get_settings().max_top_k
MAX_QUERY_CHARS = get_settings().max_query_chars
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2199, 12, 31)
QUESTION_LABEL = "Ask the knowledge base (Enter searches)"
# Focus the question box once it is drawn, unless focus is already somewhere on the page (a
# rerun while the agent works further down must not pull focus back to the top); the page
# link just followed in the sidebar is a way here, not a place to stay.
AUTOFOCUS = (
    "<script id='kb-autofocus'>(() => {"
    f"const selector = 'input[aria-label=\"{QUESTION_LABEL}\"]';"
    "let tries = 0;"
    "const focus = () => {"
    " const box = document.querySelector(selector);"
    " const active = document.activeElement;"
    " if (active && active !== document.body"
    "     && !active.closest('[data-testid=\"stSidebarNav\"]')) return;"
    " if (box) box.focus({preventScroll: true});"
    " else if (tries++ < 50) setTimeout(focus, 100);"
    "};"
    "focus();"
    "})();</script>"
)
NARROW_PX = 640  # Streamlit stacks columns below this width: a phone's layout
# "default" sends no mode: the API's KB_SEARCH_MODE, and its keyword fallback for a question
# the model cannot read, apply. The others are the API's modes, for an agent checking whether
# a passage is found by its words (bm25) or by its meaning (dense).
MODES = ("default", "hybrid", "dense", "bm25")  # every SearchMode (tests check), best first
MODE_NAMES = {
    "default": "Default (the service's choice)",
    "hybrid": "Hybrid (words and meaning)",
    "dense": "Dense (meaning only)",
    "bm25": "BM25 (the question's words only)",
}
# The filters chosen from lists: label, form key, facet of /health.
SELECTS = (
    ("Market", "market", "markets"),
    ("Product area", "product_area", "product_area"),
    ("Document type", "doc_type", "doc_type"),
)
CONTEXT = 1  # neighbouring passages on each side, for a card's "More context"
NO_FACETS = {"markets": [""], "product_area": [""], "doc_type": DOC_TYPES}  # API down
# What a filter left empty is called on the form: Streamlit shows an empty option as its
# "Choose an option" placeholder, which reads as a choice still to make, not "no filter".
ANY = {"market": "All markets", "product_area": "All product areas", "doc_type": "All types"}

api = client()
# Not require_api: with the API down the form stays, holding what the agent typed, and
# pressing Search again tries again.
health, api_problem = check_api(api)


@st.cache_data(ttl=300, show_spinner=False)
def _facets(base_url: str, index_version: str, access_version: str) -> dict[str, list[str]]:
    """Markets, product areas and document types present in the documents the UI's key may
    see (asked again when the index or `kb access` changes)."""
    docs = api.documents()  # ApiUnavailable is the caller's to show
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
    # The thank-you replaces the form in this run: st.rerun() would also throw away a question
    # the agent has half typed (not yet sent) into the search form.
    slot = st.empty()
    # Not cleared on submit: a comment typed before choosing a rating must survive the reminder.
    with slot.form(f"feedback-{key}", border=False):
        rating = st.radio(
            "Was this useful?",
            list(RATINGS),
            index=None,  # no default: an unanswered form must not count as "helpful"
            format_func=RATINGS.get,
            horizontal=True,
            key=f"rating-{key}",
        )
        comment = st.text_input(
            "Comment (optional; personal data is removed before it is stored)",
            key=f"comment-{key}",
        )
        if not st.form_submit_button("Send feedback"):
            return
        if rating is None:
            st.warning("Choose helpful, not helpful or wrong or outdated, then send.")
            return
    call(api.feedback, search_id, rating, comment, chunk_id)
    sent[key] = rating
    slot.success(f"Feedback recorded: {RATINGS[rating]}. Thank you.")


def _version(meta: dict) -> str:
    """Version and effective date as the card shows them; missing ones said, not '?'."""
    version = f"v{meta['version']}" if meta.get("version") else "no version"
    effective = meta.get("effective_date")
    return f"{version} · " + (f"effective {effective}" if effective else "no effective date")


def _context_html(result: dict) -> str | None:
    """The text just before and after a passage (the API's neighbouring passages), so an agent
    can read around it without leaving the ticket; None when there is none."""
    before = [marked_html(c["text"]) for c in result.get("context_before") or []]
    after = [marked_html(c["text"]) for c in result.get("context_after") or []]
    if not before and not after:
        return None
    here = "<em style='color:#888'>[the passage shown above]</em>"
    language = str(result.get("metadata", {}).get("language") or "")
    return text_block("\n\n".join([*before, here, *after]), language)


def _not_in_force(result: dict, asked: dict[str, str]) -> str | None:
    """What a card says above a passage from a version not in force (superseded, or not yet
    effective): the citation's note alone sits at the far end of the copy box, and the card's
    version line reads like any current one. None for a version in force.

    ``asked`` holds the versions searched because the question asks about them (by doc_id:
    why): for a case from before a change, that version is the one to quote, and the card
    says so instead of telling the agent to check the current one.
    """
    if result.get("in_force", True):
        return None
    why = result.get("in_force_note") or "it is not the version in force"
    if result["doc_id"] in asked:
        return (
            f"Not in force: {why}. Searched because {asked[result['doc_id']]}: quote it for "
            "that case, and the version in force for anything else."
        )
    return f"Not in force: {why}. Check the version in force before quoting this passage."


def render_card(result: dict, search_id: str | None, asked: dict[str, str]) -> None:
    """One result: citation line, passage with its best sentence marked, links and feedback."""
    meta = result.get("metadata", {})
    path = " > ".join(result["heading_path"]) or "(top of document)"
    page = f" · page {result['page']}" if result.get("page") else ""
    st.markdown(result_heading(result), anchors=False)
    st.markdown(
        md(f"{path}{page} · {_version(meta)} · {meta.get('doc_type', '')}")
        + f" · score {result['score']:.2f}"
    )
    note = _not_in_force(result, asked)
    if note:
        st.warning(md(note))
    hl = result["highlight"]
    header = hl.get("table_header")
    if header and header not in " ".join(result["text"].split()):
        # the row's table starts in an earlier passage: say which column is which
        st.caption(md(f"Table columns: {header}"))
    marked = marked_html(result["text"], hl["start"] - result["start"], hl["end"] - result["start"])
    # st.html, not st.markdown: a passage's own "#", "*" or "1." must show as written.
    st.html(text_block(marked, str(meta.get("language") or "")))
    around = _context_html(result)
    if around:
        with st.expander("More context (the text before and after)"):
            st.html(around)
    st.markdown(
        source_links_html(result, api.source_url(result), api.original_url(result)),
        unsafe_allow_html=True,
    )
    st.caption("Citation (copy with the icon at the right of the box)")
    # Wrapped: the span and document id at its end must be readable without scrolling.
    st.code(result["citation"], language=None, wrap_lines=True)
    with st.expander("Feedback on this passage"):
        _feedback_form(search_id, result["chunk_id"], f"{search_id}-{result['chunk_id']}")
    st.divider()


def _link(params: dict[str, str], today: dt.date) -> tuple[dict[str, Any], list[str]]:
    """The search a link describes, every field filled (defaults for what it leaves out), and
    what in it could not be used."""
    link: dict[str, Any] = {"q": params.get("q", "").strip()}
    for name in LINK_FILTERS:
        link[name] = params.get(name, "").strip()
    link["as_of"], link["top_k"] = today.isoformat(), DEFAULT_TOP_K
    link["mode"] = "default"
    problems = []
    if params.get("mode"):
        if params["mode"] in MODES:
            link["mode"] = params["mode"]
        else:
            problems.append(
                f"The link's mode ({params['mode']}) is not one of {', '.join(MODES)}; "
                "searching in the default mode."
            )
    if params.get("as_of"):
        written = params["as_of"]
        try:
            day = dt.date.fromisoformat(written)
        except ValueError:
            day = None
        if day is not None and FIRST_DAY <= day <= LAST_DAY:
            link["as_of"] = day.isoformat()
        elif day is not None:  # "0001-01-01" is written right: say what is wrong with it
            problems.append(
                f"The link's as_of ({written}) is outside the dates the form takes "
                f"({FIRST_DAY} to {LAST_DAY}); searching as of today."
            )
        else:
            shaped = bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", written))  # "2026-02-30"
            wrong = "not a day of the calendar" if shaped else "not a date written YYYY-MM-DD"
            problems.append(f"The link's as_of ({written}) is {wrong}; searching as of today.")
    if params.get("top_k"):
        try:
            top_k = int(params["top_k"])
            if not 1 <= top_k <= MAX_TOP_K:
                raise ValueError(top_k)
            link["top_k"] = top_k
        except ValueError:
            problems.append(
                f"The link's top_k ({params['top_k']}) is not a number from 1 to {MAX_TOP_K}; "
                f"showing {DEFAULT_TOP_K} results."
            )
    return link, problems


def _seed_form(link: dict[str, Any]) -> None:
    """Fill the search form with a link's search (before the form's widgets are drawn)."""
    state = st.session_state
    state["q"] = link["q"]
    for name in LINK_FILTERS:
        state[name] = link[name]
    state["as_of"] = dt.date.fromisoformat(link["as_of"])
    state["top_k"] = link["top_k"]
    state["mode"] = link["mode"]


def _form_search() -> dict[str, Any]:
    """The search the form holds, in the shape of ``_link``."""
    state = st.session_state
    search: dict[str, Any] = {"q": state["q"].strip()}
    for name in LINK_FILTERS:
        search[name] = state[name] or ""
    search["as_of"] = (state["as_of"] or dt.date.today()).isoformat()
    search["top_k"] = int(state["top_k"])
    search["mode"] = state["mode"]
    return search


def options_label(search: dict[str, Any], today: dt.date | None = None) -> str:
    """The label of the folded search options: the filters, day and count the search uses
    beyond the defaults ("Filters and options: DE, policy, as of 2026-03-01")."""
    today = today or dt.date.today()
    chosen = [search[name] for name in LINK_FILTERS if search[name]]
    if search["as_of"] != today.isoformat():
        chosen.append(f"as of {search['as_of']}")
    if search["top_k"] != DEFAULT_TOP_K:
        chosen.append(f"{search['top_k']} results")
    if search["mode"] != "default":
        chosen.append(f"{search['mode']} mode")
    return "Filters and options" + (f": {', '.join(chosen)}" if chosen else "")


def _link_params(search: dict[str, Any], search_id: str | None) -> dict[str, str]:
    """The address-bar parameters of a search: empty filters and the default count left out."""
    # Links are pasted into tickets and kept in browser history: the question goes into one
    # as the query log keeps it, personal data replaced (an e-mail as [EMAIL]).
    out = {"q": redact(search["q"])}
    out.update({name: search[name] for name in LINK_FILTERS if search[name]})
    # The day only when the agent chose one (then the API was sent it): a link made today and
    # opened later carried that day as a chosen date, which turns off searching the version
    # a question names ("coin refund rules in feb 2025" showed only today's version).
    if search["as_of"] != dt.date.today().isoformat():
        out["as_of"] = search["as_of"]
    if search["top_k"] != DEFAULT_TOP_K:
        out["top_k"] = str(search["top_k"])
    if search["mode"] != "default":
        out["mode"] = search["mode"]
    if search_id:
        out["sid"] = search_id
    return out


def _search(search: dict[str, Any], filters: dict[str, str], replay: str | None) -> dict[str, Any]:
    """POST /search under a spinner; a failure is shown (and stops the page) once the spinner
    is gone, as st.stop() inside it would leave "Searching..." on screen."""
    # Today is the API's own default; sent only when the agent chose another day, so a question
    # that asks about a version or a date ("the old policy") is searched in that version.
    as_of = None if search["as_of"] == dt.date.today().isoformat() else search["as_of"]
    try:
        with st.spinner("Searching the knowledge base..."):
            return api.search(
                search["q"], search["top_k"], filters, as_of, replay, CONTEXT, search["mode"]
            )
    except ApiUnavailable as exc:
        failure = str(exc)
    st.error(md(failure))
    st.stop()


def _options(values: list[str], current: str | None) -> list[str]:
    """A filter's choices, plus a link's value the index does not have (shown, not dropped)."""
    return values if not current or current in values else [*values, current]


st.title("Search the knowledge base")
# The citation box's copy icon sat over the end of its first line ("Policy (v3.0)" lost
# ".0)") exactly when an agent went to copy it: room is kept for the icon. On a phone the
# title (two lines at 2.75rem) and Streamlit's 6rem top margin pushed the first result below
# the fold: both are smaller there.
st.html(
    "<style>mark{background:#ffe58a;padding:0 .1em}"
    "[data-testid='stCode'] pre{padding-right:3rem !important}"
    "[data-testid='stElementContainer']:has(#kb-autofocus){display:none}"
    # result titles and the feedback question are level-2 headings, sized as before
    "[data-testid='stMainBlockContainer'] h2{font-size:1.25rem;padding:.5rem 0 0}"
    f"@media (max-width:{NARROW_PX}px){{"
    "[data-testid='stMainBlockContainer']{padding-top:4rem !important}"
    "[data-testid='stMainBlockContainer'] h1{font-size:1.5rem !important;"
    "padding:0 !important}}</style>"
)
facets = NO_FACETS
if health:
    try:
        facets = _facets(api.base_url, health["index_version"], health.get("access_version", ""))
    except ApiUnavailable as exc:  # a refused key: said below the form, which keeps the link's
        health, api_problem = None, str(exc)  # question (it was lost with the whole page)
params = st.query_params.to_dict()
if not params and st.session_state.get("shown"):
    # Back from another page, which left the address bar empty: put the search on screen back.
    shown, shown_id = st.session_state["shown"]
    st.query_params.from_dict(_link_params(shown, shown_id))
    params = st.query_params.to_dict()
link, problems = _link(params, dt.date.today())
signature = tuple(link.items())
from_link = st.session_state.get("link") != signature
if from_link or "q" not in st.session_state:  # a new link, or the form's state was dropped
    _seed_form(link)
if facets is not NO_FACETS:  # a link's filter the index does not have matches little or nothing
    for name, key in LINK_FILTERS.items():
        if link[name] and link[name] not in facets[key]:
            shown = {"market": "market", "product_area": "product area", "doc_type": "type"}
            problems.append(
                f"The link's {shown[name]} ({link[name]}) is not one the knowledge base lists"
                + (": only documents for every market can match." if name == "market" else ".")
            )
for problem in problems:
    st.warning(md(problem))
with st.form("search"):
    st.text_input(
        QUESTION_LABEL,
        placeholder="e.g. refund coins bought by a minor in MY",
        key="q",
        max_chars=MAX_QUERY_CHARS,  # the API's limit, counted as it is typed
    )
    # Folded away: stacked on a phone, the five controls alone filled the first screen and
    # left every result below it. The label says what is set, so nothing chosen is hidden.
    with st.expander(md(options_label(_form_search()))):
        cols = st.columns([1, 1, 1, 1, 0.6])
        for column, (label, key, facet) in zip(cols, SELECTS, strict=False):
            column.selectbox(
                label,
                _options(facets[facet], st.session_state[key]),
                format_func=lambda v, key=key: v or ANY[key],
                key=key,
            )
        cols[3].date_input(
            "As of", min_value=FIRST_DAY, max_value=LAST_DAY, format="YYYY-MM-DD", key="as_of"
        )
        cols[4].number_input("Results", min_value=1, max_value=MAX_TOP_K, key="top_k")
        st.columns([2, 3])[0].selectbox(
            "Search mode", MODES, format_func=MODE_NAMES.get, key="mode"
        )
    submitted = st.form_submit_button("Search", type="primary")
# Streamlit has no autofocus: an agent landing here had to reach for the mouse or tab through
# the page first. The script runs in the page itself (no iframe: a components.html iframe
# would be one more tab stop) and never takes focus from something the agent is on.
st.html(AUTOFOCUS, unsafe_allow_javascript=True)

if health is None:
    kept = "\nWhat you typed is kept: press Search to try again." if st.session_state["q"] else ""
    st.error(md(f"{api_problem}{kept}"))
    st.session_state["link"] = signature  # the form holds the link now: not re-seeded
    st.stop()
search = None
if submitted and not st.session_state["q"].strip():
    st.warning("Type a question to search for.")
elif submitted:
    search = _form_search()
elif from_link and link["q"]:
    search = _form_search()  # the form now holds the link's search
st.session_state["link"] = signature
if search:
    # A link names the logged search it showed (sid): reopened, it is searched again as a
    # replay of that search, so it is not logged twice and shows only what the UI's key may
    # see now (a response kept from before would outlive `kb access` and a revoked key).
    filters = {LINK_FILTERS[n]: search[n] for n in LINK_FILTERS if search[n]}
    sid = "" if submitted else str(params.get("sid") or "")
    replay = sid if SEARCH_ID.fullmatch(sid) else None
    response = _search(search, filters, replay)
    search_id = response.get("search_id")
    shown_link = _link_params(search, search_id)  # the question redacted, as links hold it
    # Read back as a link is: what a reload of the address bar asks for, and what a rerun
    # compares with (not a new search).
    as_linked = tuple(_link(shown_link, dt.date.today())[0].items())
    st.session_state["response"] = response
    st.session_state["shown"] = (search, search_id)
    st.query_params.from_dict(shown_link)
    st.session_state["link"] = as_linked

response = st.session_state.get("response")
if not response:
    counts = health.get("counts")  # shown by the API only to a key that sees every document
    size = f": {counts['documents']} documents, {counts['chunks']} passages" if counts else ""
    st.caption(md(f"Index {health['index_version']}{size}."))
    st.stop()

st.caption(
    md(
        f"{len(response['results'])} passages for “{response['query']}” in "
        f"{response['took_ms']:.0f} ms (as of {response.get('as_of')})"
    )
)
if response.get("acronyms"):
    read = ", ".join(f"{a['short']} as “{a['long']}”" for a in response["acronyms"])
    st.caption(md(f"Read {read}, as the knowledge base defines them."))
if response.get("markets"):
    read = ", ".join(f"{m['name']} as {m['code']}" for m in response["markets"])
    st.caption(md(f"Also searched {read}, the market codes the documents use."))
if response.get("unlisted_markets"):
    named = ", ".join(f"{m['name']} ({m['code']})" for m in response["unlisted_markets"])
    st.warning(
        md(
            f"No document lists {named} among its markets: these passages are not rules "
            "specific to it. Check whether they apply there."
        )
    )
if response.get("spellings"):
    read = ", ".join(f"“{s['typed']}” as “{s['read_as']}”" for s in response["spellings"])
    st.caption(md(f"Searched {read}, the knowledge base's word."))
shown = {r["doc_id"] for r in response["results"]}
for pick in response.get("versions") or []:
    if pick["doc_id"] not in shown:  # an "old policy" question picks in every family
        continue
    st.caption(
        md(
            f"Searched {pick['doc_id']} too ({pick['why']}); "
            f"{pick['instead_of']} is the version in force."
        )
    )
if not response["results"]:
    st.info(md(f"No passage in the knowledge base matches this question ({response['reason']})."))
elif not response.get("answerable", True):
    st.warning(
        md(
            f"No good answer in the knowledge base: {response['reason']}. "
            "The closest passages are shown for reference only."
        )
    )
asked = {pick["doc_id"]: pick["why"] for pick in response.get("versions") or []}
for result in response["results"]:
    render_card(result, response.get("search_id"), asked)
# A level-2 heading as each result is: as a level 3 it read as part of the last result.
st.header("Did this search answer your question?", anchor=False)
_feedback_form(response.get("search_id"), None, f"{response.get('search_id')}-search")
