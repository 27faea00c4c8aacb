"""A PNG bar chart comparing modes on the headline metrics, for evaluators who read charts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

CHART_METRICS = ("recall@1", "recall@5", "mrr@10", "ndcg@10", "evidence_hit@1", "evidence_hit@3")


def write_chart(results: dict[str, Any], path: Path) -> Path:
    """The chart of ``chart_figure`` as a PNG at ``path``."""
    import matplotlib.pyplot as plt

    fig = chart_figure(results)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def chart_figure(results: dict[str, Any]) -> Figure:
    """Grouped bars: one group per metric, one bar per mode; an "n/a" metric (None) gets no
    bar but an "n/a" mark, so it does not read as a score of 0. The caller closes it."""
    import matplotlib

    matplotlib.use("Agg")  # no display here or in CI
    import matplotlib.pyplot as plt

    modes = list(results["results"])
    names = [
        m for m in CHART_METRICS if any(m in results["results"][mode]["metrics"] for mode in modes)
    ]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names)) + 1.5, 4))  # + the legend
    width = 0.8 / max(1, len(modes))
    for i, mode in enumerate(modes):
        values = [results["results"][mode]["metrics"].get(n) for n in names]
        xs = [x + i * width for x in range(len(names))]
        ax.bar(xs, [math.nan if v is None else v for v in values], width, label=mode)
        for x, v in zip(xs, values, strict=True):
            if v is None:
                ax.text(x, 0.01, "n/a", ha="center", va="bottom", fontsize=8, rotation=90)
    # Long names such as evidence_hit@1 run into each other when set level.
    ax.set_xticks([x + width * (len(modes) - 1) / 2 for x in range(len(names))], names)
    ax.tick_params(axis="x", labelrotation=30)
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
        label.set_rotation_mode("anchor")
    ax.set_ylim(0, 1)
    # Set, not left to the bars: with every metric n/a there are none, and the last group's
    # marks fell outside the plot.
    ax.set_xlim(-0.5, len(names) - 0.5 + width * (len(modes) - 1))
    title = results["dataset"] + (f" ({results['split']})" if results.get("split") else "")
    ax.set_title(f"Retrieval quality: {title}")
    # Beside the plot, not over the last group's bars (lower right hid evidence_hit@3's).
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
