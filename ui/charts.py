"""Text alternatives for the pages' charts: the figures a chart draws, in words and tables.

A chart is a picture to a screen reader (and bar heights are hard to read exactly for anyone):
each chart on the pages comes with these, so every figure it shows can be read too.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from eval.charts import CHART_METRICS


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def metrics_chart_text(run: dict[str, Any]) -> str:
    """The evaluation chart's figures (eval.charts: one group of bars per headline metric,
    one bar per mode), metric by metric: "recall@1: default 0.667, bm25 1.000; ...".
    A metric the run could not compute is "n/a", as on the chart."""
    results = run["results"]
    modes = list(results)
    names = [m for m in CHART_METRICS if any(m in results[mode]["metrics"] for mode in modes)]
    if not names:
        return "No headline metric to chart."
    per_metric = [
        f"{name}: "
        + ", ".join(f"{mode} {_figure(results[mode]['metrics'].get(name))}" for mode in modes)
        for name in names
    ]
    return f"Bar chart of the headline metrics by mode (0 to 1). {'; '.join(per_metric)}."


def _plural(count: int | float, one: str, many: str) -> str:
    count = int(count)
    return f"{count} {one if count == 1 else many}"


def trend_text(trend: pd.DataFrame) -> str:
    """What the gap-trend chart shows (a column per topic, a row per day, quiet days at 0),
    topic by topic: its searches in the span and its busiest day."""
    if trend.empty:
        return "No gap searches to chart."
    first, last = trend.index[0], trend.index[-1]
    days = _plural(len(trend), "day", "days")
    topics = []
    for topic in trend.columns:
        counts = trend[topic]
        busiest = counts.idxmax()
        topics.append(
            f"{topic}: {_plural(counts.sum(), 'search', 'searches')}, most on {busiest} "
            f"({int(counts.max())})"
        )
    return f"Gap searches per day from {first} to {last} ({days}). {'; '.join(topics)}."


def trend_table(trend: pd.DataFrame) -> pd.DataFrame:
    """The chart's figures as a table of the days with a gap search (quiet days, all zeros on
    the chart, left out so the table stays short), counts as whole numbers."""
    busy = trend[(trend != 0).any(axis=1)].astype(int)
    return busy.rename_axis("day").reset_index().astype({"day": str})
