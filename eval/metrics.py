"""Retrieval metrics as pure functions over ranked ids and relevance judgements.

Shapes follow sentence-transformers' InformationRetrievalEvaluator: qrels ``{doc_id: rel}`` per
query, a ranked list of doc ids per query, scores per query and their mean.

A relevance of 0 or less means "judged not relevant" (as in TREC and BEIR). A document ranked
twice counts once, at its first rank: references such as ranx and ir-measures take a run as
``{doc_id: score}`` and so cannot hold a repeat, and a repeat must not earn gain twice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence


def distinct(ranked: Sequence[str]) -> list[str]:
    """``ranked`` without repeats, each document at its first rank."""
    return list(dict.fromkeys(ranked))


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """Share of the relevant documents found in the top ``k``."""
    rel = {d for d, r in relevant.items() if r > 0}
    if not rel:
        return 0.0
    return len(rel & set(distinct(ranked)[:k])) / len(rel)


def hit_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """1 if any relevant document is in the top ``k``."""
    return float(any(relevant.get(d, 0) > 0 for d in distinct(ranked)[:k]))


def mrr_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """Reciprocal rank of the first relevant document within the top ``k``."""
    for i, doc_id in enumerate(distinct(ranked)[:k], start=1):
        if relevant.get(doc_id, 0) > 0:
            return 1.0 / i
    return 0.0


def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """Normalised discounted cumulative gain with linear gains (as trec_eval and ranx)."""
    top = distinct(ranked)[:k]
    dcg = sum(max(relevant.get(d, 0), 0) / math.log2(i + 1) for i, d in enumerate(top, start=1))
    ideal = sorted((r for r in relevant.values() if r > 0), reverse=True)[:k]
    idcg = sum(r / math.log2(i + 1) for i, r in enumerate(ideal, start=1))
    return dcg / idcg if idcg else 0.0


def normalise_ws(text: str) -> str:
    """Collapse whitespace so evidence matches across line breaks and extraction quirks."""
    return " ".join(text.split())


def evidence_hit_at(passages: Sequence[str], evidence: Sequence[str], k: int) -> float:
    """1 if one of the top ``k`` passages contains one of the evidence strings."""
    wanted = [normalise_ws(e) for e in evidence if e.strip()]
    return float(any(e in normalise_ws(p) for p in passages[:k] for e in wanted))


def evidence_hits(
    passages: Sequence[tuple[str, str]], evidence: Sequence[tuple[str, str]]
) -> list[bool]:
    """For each (document, text) passage in rank order, whether it holds an evidence string
    of its own document: an evidence row names the document it was found in ("" for any), and
    a short string such as "surgery" in another page is not the evidence."""
    wanted = [(doc, normalise_ws(text)) for doc, text in evidence if text.strip()]
    return [
        any(w in body for doc, w in wanted if doc in ("", passage_doc))
        for passage_doc, body in ((d, normalise_ws(t)) for d, t in passages)
    ]


_ITEM_MARKS_RE = re.compile(r"^(?:[-*+\u2022|]|\(?\w{1,3}[.)])\s+|\s*\|$")  # "- ", "7. ", "| a |"
HIGHLIGHT_MIN_WORDS = 4  # "No." inside an evidence sentence does not point an agent at it


def highlight_hit(highlight: str, evidence: Sequence[str]) -> float:
    """1 if the highlighted sentence holds an evidence string, or is itself part of one (at
    least ``HIGHLIGHT_MIN_WORDS`` words of it): what an agent reads first settles the question.

    ``evidence_hit@1`` asks whether the first passage holds the evidence; this asks whether the
    sentence marked in it is that evidence, not a neighbour the agent would have to read past.
    """
    shown = _ITEM_MARKS_RE.sub("", normalise_ws(highlight))
    if not shown:
        return 0.0
    for e in (normalise_ws(e) for e in evidence if e.strip()):
        if e in shown or (shown in e and len(shown.split()) >= HIGHLIGHT_MIN_WORDS):
            return 1.0
    return 0.0


def mean(values: Sequence[float]) -> float:
    """Mean, 0.0 for nothing (per-query lengths; a metric over no queries uses mean_or_none)."""
    return sum(values) / len(values) if values else 0.0


def mean_or_none(values: Sequence[float]) -> float | None:
    """Mean, or None when there is nothing to average: "n/a" is not a score of 0."""
    return sum(values) / len(values) if values else None
