"""Evaluator page: run a labelled set in chosen modes; metrics, chart and per-query drill-down.

A metric the harness could not compute (no labelled evidence, say) arrives as None and shows
as "n/a", never as 0. Questions, evidence and document ids are shown as written.
"""

from __future__ import annotations

import base64
import re

import pandas as pd
import streamlit as st

from ui.common import call, client, md, require_api

NOT_AVAILABLE = "n/a"


def _table(rows: list[dict], whole_numbers: tuple[str, ...] = ()) -> None:
    """Rows as a table: numbers to 3 decimals (``whole_numbers`` as integers), and a value the
    harness could not compute (None) as "n/a", never 0. The data stays numeric, so sorting a
    column sorts by value."""
    frame = pd.DataFrame(rows)
    config = {}
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or values.isna().all():
            whole = column in whole_numbers or pd.api.types.is_integer_dtype(values)
            config[column] = st.column_config.NumberColumn(format="%d" if whole else "%.3f")
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config=config,
        placeholder=NOT_AVAILABLE,  # how the table shows a missing value
    )


def _code(text: object) -> str:
    """Inline code that shows ``text`` as written, backticks included."""
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


api = client()
require_api(api)

st.title("Evaluation")
datasets = call(api.eval_datasets)
if not datasets:
    st.info("No labelled sets found (kb/queries.jsonl or the datasets directory).")
    st.stop()
by_name = {d["name"]: d for d in datasets}
cols = st.columns([1, 1, 2])
name = cols[0].selectbox("Labelled set", list(by_name))
split = cols[1].selectbox(
    "Split", by_name[name]["splits"], format_func=lambda s: s or "(all)", key=f"split-{name}"
)
modes = cols[2].multiselect(
    "Modes", ["default", "dense", "bm25", "hybrid"], default=["default"], key="modes"
)
if st.button("Run evaluation", type="primary", disabled=not modes):
    with st.spinner(f"Evaluating {name} ({', '.join(modes)})..."):
        st.session_state["eval"] = call(api.run_eval, name, split, modes)

run = st.session_state.get("eval")
if not run:
    st.caption("Pick a set and modes, then run. Big sets take minutes the first time (indexing).")
    st.stop()

title = f"Metrics: {run['dataset']}" + (f" ({run['split']})" if run.get("split") else "")
st.subheader(md(title))
_table([{"mode": mode, **block["metrics"]} for mode, block in run["results"].items()])
if run.get("chart_png"):
    st.image(base64.b64decode(run["chart_png"]), caption="Headline metrics by mode")
else:
    st.caption("No chart for this run.")

st.subheader("Per query")
mode = st.selectbox("Mode", list(run["results"]), key="drill-mode")
rows = run["results"][mode]["per_query"]
misses_only = st.checkbox("Only questions whose first result is not relevant", value=False)
if misses_only:
    rows = [r for r in rows if r.get("first_relevant_rank") != 1]
_table(
    [
        {
            "query_id": r["query_id"],
            "question": r["query"],
            "first relevant rank": r.get("first_relevant_rank"),
            "hit@1": r.get("hit@1"),
            "mrr@10": r.get("mrr@10"),
            "evidence_hit@3": r.get("evidence_hit@3"),
        }
        for r in rows
    ],
    whole_numbers=("first relevant rank",),
)
if rows:
    chosen = st.selectbox(
        "Drill into a question",
        range(len(rows)),
        # Option labels are plain text (not Markdown): the question shows as written.
        format_func=lambda i: f"{rows[i]['query_id']}: {rows[i]['query']}",
    )
    row = rows[chosen]
    st.markdown(f"**Question:** {md(row['query'])}")
    rank = row.get("first_relevant_rank")
    st.markdown(
        "**Where the expected document ranked:** " + (f"{rank}" if rank else "not in the top 10")
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Expected evidence**")
        for doc in row.get("relevant", []):
            st.markdown(f"- {_code(doc)}")
        for text in row.get("evidence", []):
            st.markdown("> " + md(text).replace("\n", "\n> "))
    with right:
        st.markdown("**What came back (documents by best passage)**")
        for i, doc in enumerate(row.get("ranked_docs", []), start=1):
            mark = " ✅" if doc in row.get("relevant", []) else ""
            st.markdown(f"{i}. {_code(doc)}{mark}")  # our numbering: a list
        for i, passage in enumerate(row.get("top_passages", []), start=1):
            with st.expander(f"Passage {i} as returned"):
                st.text(passage)
