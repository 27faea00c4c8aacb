"""Evaluator page: run a labelled set in chosen modes; metrics, chart and per-query drill-down."""

from __future__ import annotations

import base64

import pandas as pd
import streamlit as st

from ui.common import call, client, require_api

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

st.subheader(f"Metrics: {run['dataset']}" + (f" ({run['split']})" if run.get("split") else ""))
metrics = pd.DataFrame(
    [{"mode": mode, **block["metrics"]} for mode, block in run["results"].items()]
)
st.dataframe(metrics, hide_index=True, width="stretch")
st.image(base64.b64decode(run["chart_png"]), caption="Headline metrics by mode")

st.subheader("Per query")
mode = st.selectbox("Mode", list(run["results"]), key="drill-mode")
rows = run["results"][mode]["per_query"]
misses_only = st.checkbox("Only questions whose first result is not relevant", value=False)
if misses_only:
    rows = [r for r in rows if r["first_relevant_rank"] != 1]
st.dataframe(
    pd.DataFrame(
        [
            {
                "query_id": r["query_id"],
                "question": r["query"],
                "first relevant rank": r["first_relevant_rank"],
                "hit@1": r["hit@1"],
                "mrr@10": r["mrr@10"],
                "evidence_hit@3": r.get("evidence_hit@3"),
            }
            for r in rows
        ]
    ),
    hide_index=True,
    width="stretch",
)
if rows:
    chosen = st.selectbox(
        "Drill into a question",
        range(len(rows)),
        format_func=lambda i: f"{rows[i]['query_id']}: {rows[i]['query']}",
    )
    row = rows[chosen]
    st.markdown(f"**Question:** {row['query']}")
    rank = row["first_relevant_rank"]
    st.markdown(
        "**Where the expected document ranked:** " + (f"{rank}" if rank else "not in the top 10")
    )
    left, right = st.columns(2)
    with left:
        st.markdown("**Expected evidence**")
        for doc in row["relevant"]:
            st.markdown(f"- `{doc}`")
        for text in row.get("evidence", []):
            st.markdown(f"> {text}")
    with right:
        st.markdown("**What came back (documents by best passage)**")
        for i, doc in enumerate(row["ranked_docs"], start=1):
            mark = " ✅" if doc in row["relevant"] else ""
            st.markdown(f"{i}. `{doc}`{mark}")
        for i, passage in enumerate(row.get("top_passages", []), start=1):
            with st.expander(f"Passage {i} as returned"):
                st.text(passage)
