"""Evaluator page: run a labelled set in chosen modes; metrics, chart and per-query drill-down.

A run is a job on the API (POST /eval/runs): the page follows it by its id, kept in the
session and in the address bar (``?run=ID``), polling its progress, so touching a control,
reloading or sharing the link while it runs loses nothing; the result shows when it is done.
A metric the harness could not compute (no labelled evidence, say) arrives as None and shows
as "n/a", never as 0. Questions, evidence and document ids are shown as written.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

import pandas as pd
import streamlit as st

from eval.report import baseline_notes, compare_questions, measured_with, moved_summary
from ui.charts import metrics_chart_text
from ui.client import ApiClient, ApiUnavailable
from ui.common import call, client, md, require_api

NOT_AVAILABLE = "n/a"


def _table(rows: list[dict], whole_numbers: tuple[str, ...] = ()) -> None:
    """Rows as a table: numbers to 3 decimals (``whole_numbers`` as integers), and a value the
    harness could not compute (None) as "n/a", never 0. The data stays numeric, so sorting a
    column sorts by value. The first column (the mode, the question) stays in view while the
    rest scrolls: at 1366 px the no-answer metrics sit past the right edge."""
    frame = pd.DataFrame(rows)
    config: dict = {frame.columns[0]: st.column_config.Column(pinned=True)} if rows else {}
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


POLL_S = 1.5  # how often a running evaluation's progress is asked for
RUN_PARAM = "run"  # the address bar's name for the followed run's id
STAGES = {
    "queued": "Waiting for its turn",
    "starting": "Starting",
    "load": "Reading the labelled set",
    "index": "Looking for the set's cached index",
    "chunk": "Indexing the set's documents (first run only): cutting passages",
    "embed": "Indexing the set's documents (first run only): embedding passages",
    "embed-windows": "Indexing the set's documents (first run only): embedding sentence windows",
    "write": "Indexing the set's documents (first run only): writing the index",
    "questions": "Asking the questions",
    "report": "Writing the report",
}


ENDED = ("done", "failed", "cancelled")  # how a run ends (the API's EvalRunOut status)


def _status(api: ApiClient, run_id: str) -> tuple[dict[str, Any] | None, str | None, bool]:
    """(the run, None, False); (None, why, False) while the API cannot say; (None, why, True)
    when this page cannot follow the run any more: the API no longer holds it (expired, or the
    API restarted), or refuses this UI's key for it (a run of the kb set, say, for a key that
    does not see every document: asking again would be refused again)."""
    try:
        return api.eval_run(run_id), None, False
    except ApiUnavailable as exc:
        if exc.status == 403:
            return None, f"This page cannot follow the evaluation it was given. {exc}", True
        problem = str(exc)
    try:
        held = {r["run_id"] for r in api.eval_runs()}
    except ApiUnavailable:
        return None, problem, False
    if run_id in held:
        return None, problem, False
    return None, f"The evaluation this page followed is no longer on the API. {problem}", True


def _progress_of(view: dict[str, Any]) -> tuple[float, str]:
    """The bar's fill (0..1) and its caption, from the run's status and progress."""
    progress = view["progress"]
    stage = progress["stage"]
    text = STAGES.get(stage, stage)
    if view["status"] == "queued":
        ahead = view.get("queue_position") or 1  # the running one and those queued before
        return 0.0, f"{text}: {ahead} evaluation{'s' if ahead != 1 else ''} ahead of it"
    if stage == "questions" and progress.get("questions_total"):
        done, total = progress["questions_done"], progress["questions_total"]
        return min(done / total, 1.0), f"{text}: {done} of {total} answered"
    if progress["total"] and stage in ("chunk", "embed", "embed-windows", "write"):
        done, total = progress["done"], progress["total"]
        return min(done / total, 1.0), f"{text}: {done} of {total}"
    return 0.0, text


def _follow(run_id: str | None) -> None:
    """Follow ``run_id`` (None: none): in the session, and in the address bar for reloads."""
    st.session_state["eval_run_id"] = run_id
    st.session_state.pop("eval", None)
    if run_id:
        st.query_params[RUN_PARAM] = run_id
    else:
        st.query_params.pop(RUN_PARAM, None)


def _when(stamp: str | None) -> str:
    """An API time stamp (ISO, UTC) as people read it: 2026-12-05 21:37 UTC."""
    if not stamp:
        return "?"
    try:
        return dt.datetime.fromisoformat(stamp).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return stamp


def _what(view: dict[str, Any]) -> str:
    split = f" ({view['split']})" if view.get("split") else ""
    return f"{view['dataset']}{split}, {', '.join(view['modes'])}"


@st.fragment(run_every=POLL_S)
def _show_progress(api: ApiClient, run_id: str) -> None:
    """The followed run's progress, asked again every POLL_S seconds; once the run has
    ended (or is gone) the whole page runs again to show what came of it."""
    view, problem, gone = _status(api, run_id)
    if gone or (view is not None and view["status"] in ENDED):
        st.rerun()
    if view is None:
        st.warning(md(f"{problem} The evaluation goes on on the API; this page asks again."))
        return
    fill, text = _progress_of(view)
    st.progress(fill, text=md(f"Evaluating {_what(view)}. {text}"))
    if view.get("error"):  # cancelled: it stops at its next step
        st.caption(md(f"Stopping: {view['error']}."))
    elif st.button("Cancel this evaluation", key=f"cancel-{run_id}"):
        call(api.cancel_eval, run_id)
        st.rerun()
    st.caption(
        md(
            f"Run {view['run_id'][:8]}, started {_when(view['started_at'] or view['created_at'])}. "
            "It runs on the API: change the form, reload or share this page's link, and the "
            "run goes on; its result shows here when it is done."
        )
    )


def _against_earlier(api: ApiClient, run: dict[str, Any], run_id: str | None) -> None:
    """Which questions got worse or better than in an earlier finished run of the same set
    and split, per mode both runs have: what an evaluator reads before accepting a change."""
    try:
        earlier = [
            v
            for v in api.eval_runs()
            if v["status"] == "done"
            and v["run_id"] != run_id
            and v["dataset"] == run["dataset"]
            and v.get("split") == run.get("split")
        ]
    except ApiUnavailable as exc:
        st.caption(md(f"Earlier runs could not be listed: {exc}"))
        return
    if not earlier:
        return
    st.subheader("Against an earlier run")
    chosen = st.selectbox(
        "Earlier run of this set",
        earlier,
        format_func=lambda v: (
            f"{v['run_id'][:8]}, done {_when(v['finished_at'])}, {', '.join(v['modes'])}"
        ),
        key="compare-run",
    )
    # A finished run never changes: fetched once per session, not again (a whole result,
    # passages included) each time a control further down the page reruns it.
    held = st.session_state.setdefault("compared_runs", {})
    if chosen["run_id"] not in held:
        try:
            held.clear()  # only the one on show is kept
            held[chosen["run_id"]] = api.eval_run(chosen["run_id"]).get("result") or {}
        except ApiUnavailable as exc:
            st.caption(md(f"That run could not be read: {exc}"))
            return
    before = held[chosen["run_id"]]
    changes = compare_questions(run, before)
    if not changes:
        st.caption("The two runs share no mode with per-question results.")
        return
    # What `kb eval --baseline` notes: questions that moved because a label, a document or a
    # setting changed between the runs are not retrieval's doing.
    for note in baseline_notes(run, before):
        st.warning(md(f"The earlier run differs: {note}."))
    st.caption(
        "A change that helps or hurts moves questions mostly one way; int8 noise moves a few "
        "each way. The sign test's p is how likely a split this uneven is by chance."
    )
    for c in changes:
        st.markdown(md(f"{c['mode']}, {c['metric']}: {moved_summary(c)}"))
        if c["worse"]:
            _table(
                [{**m, "change": m["after"] - m["before"]} for m in c["worse"]],
                whole_numbers=("rank before", "rank after"),
            )


api = client()
require_api(api)

st.title("Evaluation")
datasets = call(api.eval_datasets)
if not datasets:
    st.info("No labelled sets found (kb/queries.jsonl or the datasets directory).")
    st.stop()
by_name = {d["name"]: d for d in datasets}

linked = st.query_params.get(RUN_PARAM)
if linked and linked != st.session_state.get("eval_run_id"):  # opened from a link or reload
    _follow(linked)
    st.session_state["eval_prefill"] = True
run_id = st.session_state.get("eval_run_id")
if run_id and linked != run_id:  # back from another page: the address bar shows the run again
    st.query_params[RUN_PARAM] = run_id

view: dict[str, Any] | None = None
if run_id and st.session_state.get("eval_result_of") != run_id:
    view, problem, gone = _status(api, run_id)
    if gone:
        st.warning(md(problem))
        _follow(None)
        run_id = None
    if view is not None and st.session_state.pop("eval_prefill", False):
        # A link to a run shows the form as that run was asked for.
        if view["dataset"] in by_name:
            st.session_state["eval-set"] = view["dataset"]
            if view["split"] is None:  # a set without splits: its one option, "(all)"
                # (a None in the state would show as no choice at all, "Choose an option")
                st.session_state.pop(f"split-{view['dataset']}", None)
            elif view["split"] in by_name[view["dataset"]]["splits"]:
                st.session_state[f"split-{view['dataset']}"] = view["split"]
            st.session_state["modes"] = list(view["modes"])

cols = st.columns([1, 1, 2])
name = cols[0].selectbox("Labelled set", list(by_name), key="eval-set")
split = cols[1].selectbox(
    "Split", by_name[name]["splits"], format_func=lambda s: s or "(all)", key=f"split-{name}"
)
st.session_state.setdefault("modes", ["default"])  # set here, so a link can set it too
modes = cols[2].multiselect("Modes", ["default", "dense", "bm25", "hybrid"], key="modes")
if st.button("Run evaluation", type="primary", disabled=not modes):
    try:
        started = api.start_eval(name, split, modes)
    except ApiUnavailable as exc:  # busy (429) or down: say so, keep what is shown
        st.error(md(exc))
    else:
        _follow(started["run_id"])
        run_id, view = started["run_id"], started
        if started["joined"]:
            st.info(
                md(
                    f"The same evaluation ({_what(started)}) was already running: this page "
                    "follows it instead of starting another."
                )
            )

if view is not None and view["status"] == "done":  # on the first look, or started and done
    st.session_state["eval"] = view["result"]
    st.session_state["eval_result_of"] = view["run_id"]
    st.session_state["eval_finished"] = (
        f"Run {view['run_id'][:8]}, done {_when(view['finished_at'])}."
    )
if run_id and st.session_state.get("eval_result_of") != run_id:
    if view is not None and view["status"] == "failed":
        st.error(md(f"The evaluation of {_what(view)} failed: {view['error']}"))
    elif view is not None and view["status"] == "cancelled":  # asked for: no error to show
        st.warning(
            md(
                f"The evaluation of {_what(view)} was cancelled at "
                f"{_when(view['finished_at'])}, before it finished: run it again for its result."
            )
        )
    elif view is None or view["status"] in ("queued", "running"):
        _show_progress(api, run_id)

run = st.session_state.get("eval")
if not run:
    if not run_id:
        st.caption(
            "Pick a set and modes, then run. Big sets take minutes the first time (indexing)."
        )
    st.stop()

title = f"Metrics: {run['dataset']}" + (f" ({run['split']})" if run.get("split") else "")
st.subheader(md(title))
if run_id and st.session_state.get("eval_result_of") == run_id:
    st.caption(md(st.session_state.get("eval_finished", "")))
if isinstance(run.get("config"), dict):  # what was measured: model, chunker, settings
    st.caption(measured_with(run["config"]))  # Markdown: names are in code spans, as written
for warning in run.get("warnings") or []:  # labels that can only count as misses, and such
    st.warning(md(warning))
_table([{"mode": mode, **block["metrics"]} for mode, block in run["results"].items()])
if run.get("chart_png"):
    # The picture's figures as its text alternative: a screen reader read only the caption.
    st.image(
        base64.b64decode(run["chart_png"]),
        caption="Headline metrics by mode (the figures of the table above)",
        alt=metrics_chart_text(run),
    )
else:
    st.caption("No chart for this run.")
_against_earlier(api, run, st.session_state.get("eval_result_of"))

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
    rank = row.get("first_relevant_rank")  # over every document retrieved, not only ten
    st.markdown(
        "**Where the expected document ranked:** "
        + (f"{rank}" if rank else "not among the documents retrieved")
    )
    if row.get("evidence"):
        found = row.get("evidence_rank")
        st.markdown(
            "**First passage holding the evidence:** "
            + (f"{found}" if found else "none of the passages retrieved")
        )
    if row.get("evidence") and row.get("highlight"):
        verdict = "the evidence" if row.get("highlight_hit@1") else "not the evidence"
        st.markdown(f"**Highlighted in the first passage ({verdict}):** {md(row['highlight'])}")
    if row.get("flagged_no_answer"):
        st.markdown("**Flagged as having no good answer**, though the set says it has one.")
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

unanswerable = run["results"][mode].get("unanswerable") or []
if unanswerable:
    st.subheader("Questions the set marks unanswerable")
    st.caption(
        "Each should be flagged as having no good answer: those not flagged are what "
        "no_answer_recall misses."
    )
    _table(
        [
            {
                "query_id": r["query_id"],
                "question": r["query"],
                "flagged no answer": "yes" if r["flagged_no_answer"] else "no",  # not 1.000
                "top document": (r.get("ranked_docs") or [None])[0],
            }
            for r in unanswerable
        ]
    )
