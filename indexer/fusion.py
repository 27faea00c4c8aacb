"""Combine dense and keyword scores into one ranking (pure functions over score arrays).

Reciprocal-rank fusion throws the scores away and lets a weak list drag a strong one down;
a convex combination of normalised scores keeps how sure each retriever is.
"""

from __future__ import annotations

import numpy as np


def _normalise(scores: np.ndarray, allowed: np.ndarray, depth: int) -> np.ndarray:
    """Min-max over the top ``depth`` allowed scores, so both lists speak on one 0..1 scale."""
    out = np.zeros_like(scores, dtype=np.float32)
    values = scores[allowed]
    if values.size == 0:
        return out
    top = np.partition(values, max(values.size - depth, 0))[max(values.size - depth, 0) :]
    hi, lo = float(top.max()), float(top.min())
    if hi - lo < 1e-9:
        return (scores >= hi).astype(np.float32) * (hi > 0)
    return np.clip((scores - lo) / (hi - lo), 0.0, None).astype(np.float32)


def convex(
    dense: np.ndarray, lexical: np.ndarray, allowed: np.ndarray, alpha: float, depth: int = 100
) -> np.ndarray:
    """``alpha * dense + (1 - alpha) * lexical`` after normalising each over its top ``depth``."""
    return alpha * _normalise(dense, allowed, depth) + (1 - alpha) * _normalise(
        lexical, allowed, depth
    )


def boost(
    dense: np.ndarray, lexical: np.ndarray, allowed: np.ndarray, weight: float, depth: int = 100
) -> np.ndarray:
    """Dense-led hybrid: ``dense * (1 + weight * lexical)``, lexical normalised over its top.

    Measured across ConditionalQA, StackFAQ, PolicyQA and kb/, a bounded multiplicative boost
    keeps dense ranking where keywords mislead (paraphrased FAQs) and lets exact terms
    (market codes, product names) lift the right passage where they matter.
    """
    return dense * (1.0 + weight * _normalise(lexical, allowed, depth))


def rrf(dense: np.ndarray, lexical: np.ndarray, allowed: np.ndarray, k: int = 60) -> np.ndarray:
    """Reciprocal-rank fusion, kept for comparison in the eval harness."""
    out = np.zeros_like(dense, dtype=np.float32)
    for scores in (dense, lexical):
        masked = np.where(allowed, scores, -np.inf)
        order = np.argsort(-masked, kind="stable")
        ranks = np.empty_like(order)
        ranks[order] = np.arange(1, len(order) + 1)
        out += np.where(allowed, 1.0 / (k + ranks), 0.0).astype(np.float32)
    return out


def top_rows(scores: np.ndarray, allowed: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` best allowed scores, best first."""
    candidates = np.flatnonzero(allowed)
    if candidates.size == 0:
        return candidates
    k = min(k, candidates.size)
    part = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
    return part[np.argsort(-scores[part], kind="stable")]


def diversify(rows: np.ndarray, section_of: list[str], k: int) -> list[int]:
    """Best ``k`` rows with at most one per section while others remain, in score order.

    Five passages of one section tell an agent less than the best passage of five sections;
    repeats fill in only when the candidates run out.
    """
    chosen: list[int] = []
    repeats: list[int] = []
    seen: set[str] = set()
    for row in rows:
        key = section_of[int(row)]
        if key in seen:
            repeats.append(int(row))
            continue
        seen.add(key)
        chosen.append(int(row))
        if len(chosen) == k:
            return chosen
    return chosen + repeats[: k - len(chosen)]
