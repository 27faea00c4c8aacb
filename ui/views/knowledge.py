"""Knowledge-manager page: where the knowledge base is thin, stale or contradictory.

Everything comes from GET /analytics/...: gap topics from unanswered, low-confidence and
disliked searches, documents never retrieved or due for review (past their review date, or with
none and in force for over a year; superseded versions left out: they are not to review or
promote), and conflicting passages. The Period applies to everything built from the query log.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from indexer.render import marked_html
from insights.gaps import CLUSTER_THRESHOLD, MAX_QUERIES
from insights.redact import csv_text
from ui.charts import trend_table, trend_text
from ui.common import call, client, md, require_api, text_block

api = client()
health = require_api(api)

st.title("Coverage & quality")
controls = st.columns([1, 1, 1])
window = controls[0].selectbox(
    "Period", ["All time", "Last 7 days", "Last 30 days", "Last 90 days"], index=0
)
days = {"All time": None, "Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}[window]
cluster_threshold = controls[1].slider(
    "Topic grouping (higher = narrower topics)", 0.3, 0.9, CLUSTER_THRESHOLD, 0.05
)
min_similarity = controls[2].slider("Conflict: passage similarity at least", 0.3, 0.95, 0.5, 0.05)


@st.cache_data(ttl=3600, show_spinner="Comparing passages for conflicts...")
def _conflicts(
    base_url: str, index_version: str, access_version: str, min_similarity: float
) -> list[dict]:
    """Conflicting passages: they depend on the index and on what the UI's key may see (not on
    the query log), and comparing every pair is this page's slow part, so once per index
    version, `kb access` version and threshold."""
    return call(api.analytics, "conflicts", min_similarity=min_similarity)


def _n(count: int, one: str, many: str) -> str:
    """'1 search', '3 searches': most gap topics hold a single search, and a small knowledge
    base has a single stale document or conflict."""
    return f"{count} {one if count == 1 else many}"


def _first(n: int) -> str:
    """'the first result', 'the first 3 results'."""
    return "the first result" if n == 1 else f"the first {n} results"


def _in_force_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows without the empty ``not_in_force`` column: this page lists versions in force
    only (the API's ?include_superseded=true fills it)."""
    return frame.drop(columns=["not_in_force"], errors="ignore")


def _download(frame: pd.DataFrame, name: str) -> None:
    st.download_button(
        f"Download {name}.csv",
        # the API's CSV writer: text cells formula-safe, numbers left as numbers; with a
        # byte-order mark, as Excel needs to read UTF-8 ("réembolso", "…") rather than guess a
        # code page (the API's CSV has none: scripts read it)
        csv_text(frame.to_dict("records"), list(frame.columns)).encode("utf-8-sig"),
        file_name=f"{name}.csv",
        mime="text/csv",
        key=f"csv-{name}",
    )


summary = call(api.analytics, "summary", days=days)
cols = st.columns(5)
cols[0].metric("Searches", summary["searches"])
cols[1].metric("Unanswered", summary["unanswered"])
cols[2].metric("Low confidence", summary["low_confidence"])
cols[3].metric("Negative feedback", summary["negative_feedback"])
cols[4].metric("Feedback given", sum(summary["feedback"].values()))

st.header("Coverage gaps by topic")
topics = call(api.analytics, "gaps", days=days, cluster_threshold=cluster_threshold)
if not topics:
    st.info("No gap signals yet: no unanswered, low-confidence or disliked searches logged.")
else:
    table = pd.DataFrame(
        [
            {  # what a manager acts on first: at 1366 px the last columns scroll off
                "topic": t["topic_id"],
                "label": t["label"],
                "searches": t["count"],
                "example": t["examples"][0],
                "closest documents": ", ".join(t["closest_docs"]),
                "unanswered": t["unanswered"],
                "low confidence": t["low_confidence"],
                "negative feedback": t["negative_feedback"],
                "distinct questions": t["distinct_queries"],
                "last seen": t["last_seen"][:10],
            }
            for t in topics
        ]
    )
    st.dataframe(table, hide_index=True, width="stretch")
    if table["searches"].sum() >= MAX_QUERIES:  # else the table looks short of the counts above
        st.caption(
            f"Topics group the latest {MAX_QUERIES:,} gap searches of the period; the counts "
            "above cover all of them."
        )
    _download(table, "coverage-gaps")
    st.subheader("Trend (gap searches per day, top topics)")
    trend = pd.DataFrame(
        {f"{t['topic_id']}. {t['label']}": pd.Series(t["trend"]) for t in topics[:6]}
    ).fillna(0)
    # Every day of the span, quiet ones at 0, on a time axis: with the days as text, a bar
    # chart set 1 and 30 November side by side, and a quiet month read as a busy week.
    trend.index = pd.to_datetime(trend.index)
    trend = trend.sort_index().asfreq("D", fill_value=0)
    trend.index = trend.index.date
    trend.index.name = "day"
    # A chart is a picture to a screen reader: its figures follow in words and as a table.
    st.bar_chart(
        trend,
        alt="Bar chart of gap searches per day for the top topics; its figures follow in the "
        "caption and table below it.",
    )
    st.caption(md(trend_text(trend)))
    with st.expander("The trend as a table (days with gap searches)"):
        st.table(
            trend_table(trend).rename(columns=md),  # cells are Markdown: "1. x" made a list
            hide_index=True,
            alt="Gap searches per day and topic, days with none left out",
        )
    st.subheader("Example questions")
    for t in topics[:10]:
        with st.expander(
            md(f"{t['topic_id']}. {t['label']} ({_n(t['count'], 'search', 'searches')})")
        ):
            for example in t["examples"]:
                st.markdown(f"- {md(example)}")

st.header("Feedback on documents")
doc_feedback = call(api.analytics, "document-feedback", days=days)
if doc_feedback:
    frame = pd.DataFrame(doc_feedback)
    if "comments" in frame:  # what agents wrote, one cell: a list shows as "[...]"
        frame["comments"] = frame["comments"].map(lambda said: " | ".join(said or []))
    # the verdicts and what was said first, the title last: at 1366 px it scrolls off
    first = ["doc_id", "wrong_or_outdated", "not_helpful", "helpful", "comments", "version"]
    frame = frame[[c for c in first if c in frame] + [c for c in frame if c not in first]]
    st.dataframe(frame, hide_index=True, width="stretch")
    _download(frame, "document-feedback")
else:
    st.caption("No feedback on individual passages yet.")

# Full width, one after the other: in half-width columns a 1366-pixel screen showed only the
# document id and title, and scrolled the reason and how long overdue out of sight.
st.header("Never retrieved")
within = st.selectbox(
    "Returned within",
    (None, 1, 3, 5),
    format_func=lambda n: "any rank" if n is None else _first(n),
    help="Agents read the first few results: a document only ever found lower down is one "
    "nobody finds.",
)
unretrieved = call(api.analytics, "unretrieved", days=days, top=within)
where = "" if within is None else f" within {_first(within)}"
period = "" if days is None else f" in the last {days} days"
st.caption(  # search serves neither retired versions nor ones not in force yet: no gap to fix
    f"{_n(len(unretrieved), 'document', 'documents')} no logged search{period} has "
    f"returned{where} (superseded versions and versions not in force yet are left out)."
)
if unretrieved:
    frame = _in_force_only(pd.DataFrame(unretrieved))
    st.dataframe(frame, hide_index=True, width="stretch")
    _download(frame, "never-retrieved")

st.header("Past review date")
stale = call(api.analytics, "stale")
st.caption(
    f"{_n(len(stale), 'document is', 'documents are')} due for review: their review date has "
    "passed, or they have none and took effect over a year ago, or they have no date at all "
    "(superseded versions are left out)."
)
if stale:
    frame = _in_force_only(pd.DataFrame(stale))
    if "reason" in frame:  # why it is due, next to how long: the first thing a reader asks
        frame.insert(2, "reason", frame.pop("reason"))
    st.dataframe(frame, hide_index=True, width="stretch")
    _download(frame, "past-review")

st.header("Conflicting passages")
found = _conflicts(
    api.base_url, health["index_version"], health.get("access_version", ""), min_similarity
)
st.caption(
    f"{_n(len(found), 'pair', 'pairs')} of near-duplicate passages in different documents "
    "whose numbers, durations, dates or counts differ, or where one states a rule the other "
    "negates "
    "(versions of one document are left out)."
)
if found:
    frame = pd.DataFrame(
        [
            {  # what differs first: at 1366 px the last columns are scrolled off
                "similarity": c["similarity"],
                "differences": "; ".join(
                    f"{kind}: {', '.join(a)} vs {', '.join(b)}"
                    for kind, (a, b) in c["differences"].items()
                ),
                "document A": c["doc_a"],
                "section A": c["section_a"],
                "document B": c["doc_b"],
                "section B": c["section_b"],
                "sentence A": c.get("sentence_a", ""),
                "sentence B": c.get("sentence_b", ""),
            }
            for c in found
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    _download(frame, "conflicts")
    for c in found[:5]:
        with st.expander(md(f"{c['title_a']} vs {c['title_b']} ({c['similarity']:.2f})")):
            for only, (column, side) in enumerate(zip(st.columns(2), "ab", strict=True)):
                column.markdown(f"**{md(c[f'doc_{side}'])}** · {md(c[f'section_{side}'])}")
                stated = "; ".join(
                    f"{kind}: {', '.join(values[only])}"
                    for kind, values in c["differences"].items()
                    if values[only]
                )
                if stated:
                    column.caption(md(f"Only here: {stated}"))
                # As written, its tables as tables (a market table compared with another),
                # the sentence that disagrees marked
                text, sentence = c[f"text_{side}"], c.get(f"sentence_{side}") or ""
                at = text.find(sentence) if sentence else -1
                end = at + len(sentence) if at >= 0 else 0
                column.html(text_block(marked_html(text, max(at, 0), end)))
            pairs = list(zip(c.get("sentences") or [], c.get("sections") or [], strict=False))
            if len(pairs) > 1:  # the marks show the first pair: a short policy is one passage
                st.markdown("Every pair of sentences that disagree:")
                for (sentence_a, sentence_b), (section_a, section_b) in pairs:
                    st.markdown(
                        f"- {md(section_a)} — {md(sentence_a)}  \n"
                        f"  {md(section_b)} — {md(sentence_b)}"
                    )
