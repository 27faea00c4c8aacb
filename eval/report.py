"""Tables for people and the regression gate for CI, from evaluation results (pure).

A metric with nothing to average is None in the results and "n/a" in tables.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

# Not gated: counts and lengths are not "higher is better"; the no-answer flag's precision and
# recall rest on a handful of questions, where one flip moves them by 0.05-0.2.
HIGHER_IS_BETTER_SKIP = {
    "mean_passage_chars",
    "queries",
    "queries_left_out",
    "no_answer_precision",
    "no_answer_recall",
}


def measured_settings(config: dict[str, Any]) -> str:
    """What a run's ``config`` (eval.runner.run_config) says was measured, the corpus aside:
    the same for every set of one run, so docs/retrieval.md states it once."""
    tokens = config.get("chunk_tokens") or ["?", "?"]
    exported = f" (int8 file `{config['export']}`)" if config.get("export") else ""
    return (
        f"model `{config.get('model')}`{exported}, chunker `{config.get('chunker')}` "
        f"({tokens[0]}/{tokens[1]} tokens max/min, sentence windows "
        f"`{config.get('window_vectors')}`), default mode: {config.get('default_mode')}, "
        f"window weight {config.get('window_weight')}, lexical boost "
        f"{config.get('lexical_boost')} (reach {config.get('lexical_reach') or 'unlimited'}, "
        f"down to {config.get('lexical_peak_floor', 1.0)} of it when keywords single out no "
        "passage), "
        f"document support {config.get('document_support')}, acronyms "
        f"{'expanded' if config.get('expand_acronyms') else 'as typed'}, spelling correction "
        f"{'on' if config.get('spell_correction') else 'off'}, no-answer threshold "
        f"{config.get('answerable_threshold')}, {config.get('candidate_passages')} passages "
        "fetched per question" + _question_reading(config)
    )


def _question_reading(config: dict[str, Any]) -> str:
    """How questions naming countries, versions and dates were read (runs since these were
    recorded; nothing for older ones)."""
    if "market_names" not in config:
        return ""
    return (
        f", countries as market codes {'on' if config['market_names'] else 'off'}, versions "
        f"a question names {'searched' if config.get('question_versions') else 'ignored'} "
        f"(in-force weight {config.get('in_force_weight')}), dates read "
        f"{config.get('date_order')}, approximate search {config.get('ann')}"
    )


def measured_with(config: dict[str, Any]) -> str:
    """One line saying what a run measured, from its ``config`` (eval.runner.run_config)."""
    return (
        f"Measured with {measured_settings(config)}; {config.get('documents')} documents "
        f"(corpus `{config.get('corpus_hash')}`)."
    )


def markdown_table(results: dict[str, Any], with_config: bool = True) -> str:
    """One row per mode, one column per metric, under a line saying what was measured when
    the results say it (``with_config=False`` where a page states it once for many sets)."""
    modes = results["results"]
    names: list[str] = []
    for block in modes.values():
        names += [n for n in block["metrics"] if n not in names]
    head = f"| mode | {' | '.join(names)} |\n|---|{'---|' * len(names)}\n"
    rows = [
        f"| {mode} | " + " | ".join(_fmt(block["metrics"].get(n)) for n in names) + " |"
        for mode, block in modes.items()
    ]
    title = f"**{results['dataset']}**" + (f" ({results['split']})" if results.get("split") else "")
    if with_config and isinstance(results.get("config"), dict):
        title += "\n\n" + measured_with(results["config"])
    return f"{title}\n\n{head}" + "\n".join(rows) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.1f}"
    return str(value)


class BaselineError(ValueError):
    """A baseline that cannot gate a run: malformed, or recorded for another set, split, mode
    or set of metrics (a refusal, not a regression)."""


def _is_value(value: Any) -> bool:
    """A metric value a baseline may hold: a finite number, or None for "n/a"."""
    if value is None:
        return True
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_baseline(data: Any) -> dict[str, Any]:
    """``data`` if it has the shape ``kb eval --json`` writes, else BaselineError naming what is
    wrong, so a bad file stops the gate with a message instead of crashing or passing it."""
    if not isinstance(data, dict):
        raise BaselineError(
            "must be a JSON object with dataset, split and results (as kb eval --json writes)"
        )
    problems = []
    if not isinstance(data.get("dataset"), str) or not data["dataset"]:
        problems.append("has no dataset name")
    if "split" not in data or not (data["split"] is None or isinstance(data["split"], str)):
        problems.append("has no split (null for a set without splits)")
    results = data.get("results")
    if not isinstance(results, dict) or not results:
        problems.append("has no results")
        results = {}
    for mode, block in results.items():
        metrics = block.get("metrics") if isinstance(block, dict) else None
        if not isinstance(metrics, dict) or not metrics:
            problems.append(f"mode {mode!r} has no metrics")
            continue
        bad = [f"{name}={value!r}" for name, value in metrics.items() if not _is_value(value)]
        if bad:
            problems.append(f"mode {mode!r} has values that are not numbers: {', '.join(bad)}")
        # A gated metric is a share: 82.7 (a percentage, from another tool) failed the gate as
        # a regression of 81.9, exit 1, for what is a baseline that cannot gate (exit 2).
        outside = [
            f"{name}={value!r}"
            for name in gated(metrics)
            if _is_value(value := metrics[name]) and value is not None and not 0 <= value <= 1
        ]
        if outside:
            problems.append(
                f"mode {mode!r} has values outside 0..1 (shares, 0.83 not 83%): "
                + ", ".join(outside)
            )
        rows = block.get("per_query", [])
        if rows is not None and not (
            isinstance(rows, list)
            and all(isinstance(r, dict) and isinstance(r.get("query_id"), str) for r in rows)
        ):  # read after the run, to name the questions that moved: refused before it instead
            problems.append(f"mode {mode!r} has per_query rows without a query_id")
    if problems:
        raise BaselineError("; ".join(problems))
    return data


def check_max_drop(max_drop: float) -> float:
    """``max_drop`` if it is a finite number from 0 up to, not including, 1: a negative one
    fails identical runs, NaN compares false with everything, and 1 or more lets every run
    pass, since the gated metrics run from 0 to 1 (``--max-drop 1`` meant as 1% switched the
    gate off while it said "no metric dropped")."""
    if isinstance(max_drop, bool) or not isinstance(max_drop, int | float):
        raise ValueError(f"max_drop must be a number, got {max_drop!r}")
    if not math.isfinite(max_drop) or max_drop < 0:
        raise ValueError(f"max_drop must be a finite number >= 0, got {max_drop}")
    if max_drop >= 1:
        raise ValueError(
            f"max_drop must be below 1, got {max_drop}: the gated metrics run from 0 to 1, so "
            "no drop could exceed it (a drop of one point, 1%, is 0.01)"
        )
    return float(max_drop)


def gated(names: Iterable[str]) -> list[str]:
    """The metrics the gate compares (higher is better, enough questions to be stable)."""
    return [n for n in names if n not in HIGHER_IS_BETTER_SKIP]


def check_baseline_fits(
    baseline: dict[str, Any],
    dataset: str,
    split: str | None,
    metrics_by_mode: dict[str, Iterable[str]],
) -> None:
    """BaselineError unless ``baseline`` was recorded for this dataset and split, holds every
    mode being gated, and gates exactly the metrics the run measures (either way round: a metric
    missing from the baseline would go ungated, one missing from the run would pass unseen).

    Takes names rather than a finished run, so ``kb eval`` can refuse before it indexes.
    """
    check_baseline(baseline)
    problems = []
    if baseline["dataset"] != dataset:
        problems.append(f"it is for dataset {baseline['dataset']!r}, this run is {dataset!r}")
    if baseline["split"] != split:
        problems.append(
            f"it is for split {baseline['split'] or '(none)'}, this run is {split or '(none)'}"
        )
    for mode, names in metrics_by_mode.items():
        block = baseline["results"].get(mode)
        if block is None:
            problems.append(
                f"it has no mode {mode!r} (it has {', '.join(map(str, baseline['results']))})"
            )
            continue
        ours, theirs = gated(names), gated(block["metrics"])
        missing = [n for n in theirs if n not in ours]
        extra = [n for n in ours if n not in theirs]
        if missing:
            problems.append(f"{mode}: {', '.join(missing)} in the baseline but not in this run")
        if extra:
            problems.append(f"{mode}: {', '.join(extra)} measured but not in the baseline")
    if problems:
        raise BaselineError(
            "does not match this run: "
            + "; ".join(problems)
            + " (record a baseline for it with kb eval ... --save-baseline FILE.json)"
        )


def regressions(current: dict[str, Any], baseline: dict[str, Any], max_drop: float) -> list[str]:
    """Metrics that fell by more than ``max_drop`` against the baseline, as readable lines.

    Raises BaselineError when the baseline does not fit the run (see check_baseline_fits) and
    ValueError for a bad ``max_drop``. A metric that was measured and is now "n/a" counts as a
    regression; one that was "n/a" has nothing to fall from.
    """
    max_drop = check_max_drop(max_drop)
    check_baseline_fits(
        baseline,
        current["dataset"],
        current.get("split"),
        {mode: block["metrics"] for mode, block in current["results"].items()},
    )
    out = []
    for mode, block in current["results"].items():
        base = baseline["results"][mode]["metrics"]
        for name in gated(block["metrics"]):
            value, before = block["metrics"][name], base[name]
            if before is None:
                continue
            if value is None:
                out.append(f"{mode} {name}: {before:.4f} -> n/a (nothing left to measure)")
                continue
            drop = before - value
            if drop > max_drop + 1e-12:
                out.append(
                    f"{mode} {name}: {before:.4f} -> {value:.4f} (drop {drop:.4f} > {max_drop})"
                )
    return out


def baseline_notes(current: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """Differences worth a look that do not fail the gate: a changed number of scored
    questions usually means the labelled set changed since the baseline was recorded."""
    notes = []
    for mode, block in current["results"].items():
        base = baseline.get("results", {}).get(mode, {}).get("metrics", {})
        now, before = block["metrics"].get("queries"), base.get("queries")
        if before is not None and now != before:
            notes.append(f"{mode}: {now} questions scored, the baseline scored {before}")
    ours, theirs = current.get("config"), baseline.get("config")
    if isinstance(ours, dict) and isinstance(theirs, dict):  # older baselines have none
        labels = ("labels_hash", "labels_from")
        changed = [
            f"{key} {theirs[key]} (this run: {ours.get(key)})"
            for key in theirs
            if key in ours and ours[key] != theirs[key] and key not in labels
        ]
        if changed:
            notes.append(f"the baseline was measured with {', '.join(changed)}")
        if "labels_hash" in theirs and theirs["labels_hash"] != ours.get("labels_hash"):
            notes.append(
                "the baseline was measured on other labels (a question, judgement, evidence "
                f"string or answerable flag changed: labels {theirs['labels_hash']}, this run "
                f"{ours.get('labels_hash')}): a change in a metric may be the labels', not "
                "retrieval's"
            )
    if not metrics_compared(current, baseline):
        notes.append(
            "the gate compared no metric: none it checks has a value in both runs "
            "(no_answer_precision and no_answer_recall are reported, not gated)"
        )
    return notes


def metrics_compared(current: dict[str, Any], baseline: dict[str, Any]) -> int:
    """How many (mode, metric) values the gate compared: measured in the run and the baseline."""
    return sum(
        block["metrics"].get(name) is not None and base.get(name) is not None
        for mode, block in current["results"].items()
        for base in [baseline.get("results", {}).get(mode, {}).get("metrics", {})]
        for name in gated(block["metrics"])
    )


def retrieval_doc(runs: list[dict[str, Any]]) -> str:
    """docs/retrieval.md: every set x mode, under the settings that produced them, stated once
    (:func:`measured_settings`: every run of one ``kb eval-all`` has the same)."""
    import datetime as dt

    parts = [
        "# Retrieval quality\n",
        "Regenerate with `kb eval-all` (reads `../shared/datasets` and `kb/`).\n",
        f"Generated {dt.date.today().isoformat()} with {measured_settings(runs[0]['config'])}. "
        "Document-level metrics rank documents by their best passage; `evidence_hit@k` asks "
        "whether a top-k passage contains an evidence string, `highlight_hit@1` whether the "
        "sentence highlighted in the first passage is evidence; `recall@k` is the share of "
        "relevant documents found (StackFAQ has ~5.75 relevant answers per query, so its "
        "recall@1 cannot exceed ~0.2: read `mrr@10` there).\n",
    ]
    for run in runs:
        parts.append(markdown_table(run, with_config=False))
        parts.append(mode_comparison(run))
    return "\n".join(p for p in parts if p)


SINGLE_MODES = ("dense", "bm25")
# Per-question values compared between two runs, and the rank each one turns on.
COMPARED = (("ndcg@10", "first_relevant_rank"), ("evidence_hit@1", "evidence_rank"))
# A committed baseline keeps per-question values to this many digits (small diffs), so a
# question counts as moved only beyond that rounding: 0.38685 against a kept 0.3869 is the same.
KEPT_DIGITS = 4
SAME_WITHIN = 0.5 * 10**-KEPT_DIGITS + 1e-9


def mode_comparison(run: dict[str, Any]) -> str:
    """How the fused ranking (``default``, else ``hybrid``) fares question by question against
    each single mode of ``run``, as a Markdown table ('' when the run has nothing to compare):
    a mean a thousandth below another mode's reads differently when the questions split
    evenly than when they go one way."""
    results = run.get("results", {})
    mode = next((m for m in ("default", "hybrid") if m in results), None)
    if mode is None:
        return ""
    rows = []
    for other, block in results.items():
        if other not in SINGLE_MODES:
            continue
        cells = {c["metric"]: c for c in _question_splits(mode, results[mode], block)}
        if not cells:
            continue
        rows.append(
            f"| {other} | "
            + " | ".join(
                f"{len(c['better'])} / {len(c['worse'])} / {c['unchanged']} (p = {c['p']:.2g})"
                if (c := cells.get(name))
                else "-"
                for name, _ in COMPARED
            )
            + " |"
        )
    if not rows:
        return ""
    names = " | ".join(f"{name}: better / worse / same" for name, _ in COMPARED)
    return (
        f"Per question, {mode} against each single mode (sign test over the questions that "
        "moved):\n\n"
        f"| against | {names} |\n|---|{'---|' * len(COMPARED)}\n" + "\n".join(rows) + "\n"
    )


def sign_test(worse: int, better: int) -> float:
    """Two-sided exact sign test: how likely a split at least this uneven is when each changed
    question was as likely to go either way (ties left out), as noise would."""
    n = worse + better
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(worse, better) + 1)) / 2**n
    return min(1.0, 2 * tail)


def compare_questions(current: dict[str, Any], baseline: dict[str, Any]) -> list[dict[str, Any]]:
    """Per mode and compared metric, the questions of both runs that got worse (largest drop
    first) or better, how many stayed, and the sign test of that split.

    A mean moves for two reasons: a change that helps or hurts, or the int8 noise that moves a
    few questions each way. Which questions moved, and whether they moved mostly one way, tells
    an evaluator which. Needs ``per_query`` in both runs (``kb eval --json`` writes it); modes
    or questions only one run has are left out. Each moved question is a dict of its id, its
    text (from ``current``), the metric and the rank it turns on, before and after.
    """
    out = []
    for mode, block in current.get("results", {}).items():
        out += _question_splits(mode, block, baseline.get("results", {}).get(mode) or {})
    return out


def _question_splits(
    mode: str, block: dict[str, Any], before: dict[str, Any]
) -> list[dict[str, Any]]:
    """:func:`compare_questions` for one mode's results, ``block`` against ``before``."""
    out = []
    before_rows = before.get("per_query") or []
    rows = {r.get("query_id"): r for r in block.get("per_query") or []}
    pairs = [(b, rows[b.get("query_id")]) for b in before_rows if b.get("query_id") in rows]
    for name, rank in COMPARED:
        moved = [
            {
                "query_id": a.get("query_id"),
                "question": a.get("query", ""),
                "before": b[name],
                "after": a[name],
                "rank before": b.get(rank),
                "rank after": a.get(rank),
            }
            for b, a in pairs
            if isinstance(b.get(name), int | float) and isinstance(a.get(name), int | float)
        ]
        if not moved:
            continue
        worse = sorted(
            (m for m in moved if m["after"] < m["before"] - SAME_WITHIN),
            key=lambda m: m["after"] - m["before"],
        )
        better = [m for m in moved if m["after"] > m["before"] + SAME_WITHIN]
        out.append(
            {
                "mode": mode,
                "metric": name,
                "rank": rank,
                "worse": worse,
                "better": better,
                "unchanged": len(moved) - len(worse) - len(better),
                "p": sign_test(len(worse), len(better)),
            }
        )
    return out


def moved_summary(change: dict[str, Any]) -> str:
    """'2 questions worse, 1 better, 40 unchanged (sign test p = 1)' for one comparison."""
    worse = len(change["worse"])
    return (
        f"{worse} question{'s' if worse != 1 else ''} worse, {len(change['better'])} better, "
        f"{change['unchanged']} unchanged (sign test p = {change['p']:.2g})"
    )


def question_changes(current: dict[str, Any], baseline: dict[str, Any], most: int = 5) -> list[str]:
    """:func:`compare_questions` as readable lines, with the ``most`` largest drops."""
    out = []
    for c in compare_questions(current, baseline):
        out.append(f"{c['mode']} {c['metric']}: {moved_summary(c)}")
        for m in c["worse"][:most]:
            out.append(
                f"  {m['query_id']}: {c['metric']} {m['before']:.2f} -> {m['after']:.2f}, "
                f"{c['rank']} {m['rank before']} -> {m['rank after']}: {str(m['question'])[:70]}"
            )
    return out


_KEPT = ("query_id", *(field for pair in COMPARED for field in pair))  # text: from the run


def _kept(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: round(row[k], KEPT_DIGITS) if isinstance(row[k], float) else row[k]
        for k in _KEPT
        if k in row
    }


def as_baseline(results: dict[str, Any], note: str = "") -> dict[str, Any]:
    """A run slimmed to what the gate reads: per mode its metrics, and per question the values
    :func:`question_changes` compares (not the passages read), so a committed baseline stays
    small and a failed gate can still say which questions moved."""
    out: dict[str, Any] = {"dataset": results["dataset"], "split": results.get("split")}
    if "config" in results:
        out["config"] = results["config"]
    out["results"] = {
        mode: {
            "metrics": block["metrics"],
            "per_query": [_kept(row) for row in block.get("per_query") or []],
        }
        for mode, block in results["results"].items()
    }
    if note:
        out["note"] = note
    return out


def baseline_text(baseline: dict[str, Any]) -> str:
    """``baseline`` as JSON with one line per question: a re-recorded baseline then shows in
    a diff as the questions that changed."""
    marks = {}
    shaped = json.loads(json.dumps(baseline))
    for mode, block in shaped.get("results", {}).items():
        if block.get("per_query"):
            marks[f"@rows:{mode}@"] = block["per_query"]
            block["per_query"] = [f"@rows:{mode}@"]
    text = json.dumps(shaped, indent=2, ensure_ascii=False)
    for mark, rows in marks.items():
        text = text.replace(
            json.dumps(mark),
            ",\n        ".join(json.dumps(r, ensure_ascii=False) for r in rows),
        )
    return text + "\n"
