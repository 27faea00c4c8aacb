"""Tables for people and the regression gate for CI, from evaluation results (pure)."""

from __future__ import annotations

from typing import Any

# Not gated: counts and lengths are not "higher is better"; the no-answer flag's precision and
# recall rest on a handful of questions, where one flip moves them by 0.05-0.2.
HIGHER_IS_BETTER_SKIP = {"mean_passage_chars", "queries", "no_answer_precision", "no_answer_recall"}


def markdown_table(results: dict[str, Any]) -> str:
    """One row per mode, one column per metric."""
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
    return f"{title}\n\n{head}" + "\n".join(rows) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value <= 1.0 else f"{value:.1f}"
    return str(value)


def regressions(current: dict[str, Any], baseline: dict[str, Any], max_drop: float) -> list[str]:
    """Metrics that fell by more than ``max_drop`` against the baseline, as readable lines."""
    out = []
    for mode, block in current["results"].items():
        base = baseline.get("results", {}).get(mode)
        if base is None:
            continue
        for name, value in block["metrics"].items():
            if name in HIGHER_IS_BETTER_SKIP or name not in base["metrics"]:
                continue
            drop = base["metrics"][name] - value
            if drop > max_drop + 1e-12:
                out.append(
                    f"{mode} {name}: {base['metrics'][name]:.4f} -> {value:.4f} "
                    f"(drop {drop:.4f} > {max_drop})"
                )
    return out


def retrieval_doc(runs: list[dict[str, Any]], settings: Any) -> str:
    """docs/retrieval.md: every set x mode, with the configuration that produced it."""
    import datetime as dt

    parts = [
        "# Retrieval quality\n",
        "Regenerate with `kb eval-all` (reads `../shared/datasets` and `kb/`).\n",
        f"Generated {dt.date.today().isoformat()} with model `{settings.model}` "
        f"(backend `{settings.embed_backend}`, sentence windows `{settings.window_vectors}`), "
        "chunks "
        f"{settings.chunk_max_tokens}/{settings.chunk_min_tokens} tokens (max/min), "
        f"window weight {settings.window_weight}, lexical boost {settings.lexical_boost}"
        + (
            f" within {settings.lexical_reach} of the best dense score"
            if settings.lexical_reach
            else ""
        )
        + f", document support {settings.document_support} (hybrid), acronyms "
        + ("spelled out for the model. " if settings.expand_acronyms else "as typed. ")
        + "Document-level metrics rank documents by their best passage; `evidence_hit@k` asks "
        "whether a top-k passage contains an evidence string; `recall@k` is the share of "
        "relevant documents found (StackFAQ has ~5.75 relevant answers per query, so its "
        "recall@1 cannot exceed ~0.2: read `mrr@10` there). The default mode is `hybrid`.\n",
    ]
    parts += [markdown_table(run) for run in runs]
    return "\n".join(parts)
