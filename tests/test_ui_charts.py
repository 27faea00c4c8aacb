"""The charts' text alternatives: every figure a chart draws can be read."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ui.charts import metrics_chart_text, trend_table, trend_text


def test_the_evaluation_chart_in_words_names_every_bar() -> None:
    run = {
        "results": {
            "default": {"metrics": {"queries": 3, "recall@1": 2 / 3, "mrr@10": 0.75}},
            "bm25": {"metrics": {"queries": 3, "recall@1": 1.0, "mrr@10": None}},
        }
    }
    assert metrics_chart_text(run) == (
        "Bar chart of the headline metrics by mode (0 to 1). "
        "recall@1: default 0.667, bm25 1.000; mrr@10: default 0.750, bm25 n/a."
    )
    assert metrics_chart_text({"results": {"bm25": {"metrics": {"queries": 0}}}}) == (
        "No headline metric to chart."
    )


def _trend() -> pd.DataFrame:
    days = [dt.date(2026, 11, d) for d in (1, 2, 3)]
    frame = pd.DataFrame(
        {"1. crypto / wallet": [2.0, 0.0, 1.0], "2. zakat": [0.0, 0.0, 1.0]}, index=days
    )
    frame.index.name = "day"
    return frame


def test_the_trend_chart_in_words_gives_each_topic_its_total_and_busiest_day() -> None:
    assert trend_text(_trend()) == (
        "Gap searches per day from 2026-11-01 to 2026-11-03 (3 days). "
        "1. crypto / wallet: 3 searches, most on 2026-11-01 (2); "
        "2. zakat: 1 search, most on 2026-11-03 (1)."
    )
    assert trend_text(_trend().iloc[0:0]) == "No gap searches to chart."


def test_the_trend_table_holds_the_days_with_searches() -> None:
    table = trend_table(_trend())
    assert table.to_dict("records") == [
        {"day": "2026-11-01", "1. crypto / wallet": 2, "2. zakat": 0},
        {"day": "2026-11-03", "1. crypto / wallet": 1, "2. zakat": 1},
    ]
