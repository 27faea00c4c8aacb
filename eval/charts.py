"""A PNG bar chart comparing modes on the headline metrics, for evaluators who read charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHART_METRICS = ("recall@1", "recall@5", "mrr@10", "ndcg@10", "evidence_hit@1", "evidence_hit@3")


def write_chart(results: dict[str, Any], path: Path) -> Path:
    """Grouped bars: one group per metric, one bar per mode."""
    import matplotlib

    matplotlib.use("Agg")  # no display here or in CI
    import matplotlib.pyplot as plt

    modes = list(results["results"])
    names = [
        m for m in CHART_METRICS if any(m in results["results"][mode]["metrics"] for mode in modes)
    ]
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(names)), 4))
    width = 0.8 / max(1, len(modes))
    for i, mode in enumerate(modes):
        values = [results["results"][mode]["metrics"].get(n, 0.0) for n in names]
        ax.bar([x + i * width for x in range(len(names))], values, width, label=mode)
    ax.set_xticks([x + width * (len(modes) - 1) / 2 for x in range(len(names))], names)
    ax.set_ylim(0, 1)
    title = results["dataset"] + (f" ({results['split']})" if results.get("split") else "")
    ax.set_title(f"Retrieval quality: {title}")
    ax.legend(loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
