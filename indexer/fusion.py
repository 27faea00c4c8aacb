"""Combine dense and keyword scores into one ranking (pure functions over score arrays).

Reciprocal-rank fusion and convex mixes were measured and lost to dense-only on paraphrased
FAQs (docs/retrieval.md); the dense-led ``boost`` kept here does not.
"""

from __future__ import annotations

import numpy as np


def _normalise(scores: np.ndarray, allowed: np.ndarray | None, depth: int) -> np.ndarray:
    """Min-max over the top ``depth`` allowed scores, so both lists speak on one 0..1 scale."""
    out = np.zeros_like(scores, dtype=np.float32)
    values = scores if allowed is None else scores[allowed]
    if values.size == 0:
        return out
    top = np.partition(values, max(values.size - depth, 0))[max(values.size - depth, 0) :]
    hi, lo = float(top.max()), float(top.min())
    if hi - lo < 1e-9:
        return (scores >= hi).astype(np.float32) * (hi > 0)
    return np.clip((scores - lo) / (hi - lo), 0.0, None).astype(np.float32)


LEXICAL_DEPTH = 100  # BM25 scores are normalised over this many best allowed passages


def reach_gate(dense: np.ndarray, allowed: np.ndarray | None, reach: float) -> np.ndarray:
    """Per passage, how much keyword evidence may lift it: 1 at the best dense score, falling
    linearly to 0 at ``reach`` below it (``reach`` <= 0: 1 everywhere).

    Keywords then reorder the passages that dense retrieval already finds close to the
    question, but cannot lift one it finds off-topic: on paraphrased FAQs an unbounded boost
    lets shared words promote wrong answers. Off by default: the limit also keeps BM25 from
    rescuing far-ranked right passages in long guidance pages (docs/retrieval-experiments.md).
    """
    values = dense if allowed is None else dense[allowed]
    if reach <= 0 or not values.size:
        return np.ones_like(dense, dtype=np.float32)
    top = float(values.max())
    return np.clip((dense - (top - reach)) / reach, 0.0, 1.0).astype(np.float32)


PEAK_DEPTH = 10  # keyword_peak compares BM25's best passage with this many best


def keyword_peak(lexical: np.ndarray, allowed: np.ndarray | None, depth: int = PEAK_DEPTH) -> float:
    """How far BM25's best allowed passage stands above the mean of its ``depth`` best, as a
    share of the best: 0 when the question's words score many passages alike, towards 1 when
    one passage holds them and the rest do not."""
    values = lexical if allowed is None else lexical[allowed]
    if values.size == 0:
        return 0.0
    k = min(depth, values.size)
    top = np.partition(values, values.size - k)[values.size - k :]  # the k best, unordered
    best = float(top.max())
    return 0.0 if best <= 0 else (best - float(top.mean())) / best


def boost(
    dense: np.ndarray,
    lexical: np.ndarray,
    allowed: np.ndarray | None,
    weight: float,
    reach: float = 0.0,
    depth: int = LEXICAL_DEPTH,
    peak_floor: float = 1.0,
) -> np.ndarray:
    """Dense-led hybrid: ``dense * (1 + w * gate * lexical)``, lexical normalised over its
    top and ``gate`` the passage's :func:`reach_gate`.

    Measured across ConditionalQA, StackFAQ, PolicyQA and kb/, a bounded multiplicative boost
    keeps dense ranking where keywords mislead (paraphrased FAQs) and lets exact terms
    (market codes, product names) lift the right passage where they matter. ``w`` is
    ``weight * min(1, peak_floor + keyword_peak)``: full where BM25 singles out a passage (a
    code, a product name only one page holds), down to ``peak_floor`` of it where the
    question's words are spread evenly over many passages, the case where they mislead
    (docs/retrieval-experiments.md; ``peak_floor`` 1: the same weight for every question).
    """
    weight *= min(1.0, peak_floor + keyword_peak(lexical, allowed))
    lifted = _normalise(lexical, allowed, depth)
    if reach > 0:
        lifted *= reach_gate(dense, allowed, reach)
    return dense * (1.0 + weight * lifted)


def mix(passage: np.ndarray, best_window: np.ndarray, weight: float) -> np.ndarray:
    """Dense score of a passage: its own similarity mixed with its best sentence window's."""
    return (1 - weight) * passage + weight * best_window


SUPPORT_DEPTH = 100  # a document's second passage counts if it is among this many best


def document_support(
    scores: np.ndarray,
    doc_of: np.ndarray,
    allowed: np.ndarray | None,
    weight: float,
    depth: int = SUPPORT_DEPTH,
    lone: np.ndarray | None = None,
) -> np.ndarray:
    """``scores`` with every passage of a document raised by ``weight`` times the score of that
    document's second-best passage among the ``depth`` best (nothing if it has none there).

    A page that answers a question usually matches it in more than one place; a lone close
    passage in an unrelated page is more often a near miss. Order inside a document is kept.
    Measured on all four sets (docs/retrieval-experiments.md): ndcg@10 and evidence_hit@1 up
    on ConditionalQA, PolicyQA and kb/.

    ``lone`` marks rows whose document has no other passage in the index (a short FAQ entry, a
    macro): such a passage is its whole document, so it supports itself (raised by ``weight``
    times its own score). Without that, a knowledge base of short entries and long pages
    favours the long ones for their length alone: StackFAQ ranked below dense-only by it.
    """
    if weight <= 0 or not len(scores):
        return scores
    out = scores.astype(np.float32, copy=True)
    if lone is not None:
        alone = lone if allowed is None else lone & allowed
        out[alone] += weight * np.maximum(scores[alone], 0.0)
    top = top_rows(scores, allowed, depth)  # best first
    docs = doc_of[top]
    later = np.ones(len(top), bool)
    later[np.unique(docs, return_index=True)[1]] = False  # each document's best passage
    supported, second = np.unique(docs[later], return_index=True)  # and its second best
    if not len(supported):
        return out
    bonus = weight * np.maximum(scores[top[later]][second], 0.0)
    pos = np.minimum(np.searchsorted(supported, doc_of), len(supported) - 1)
    hit = supported[pos] == doc_of
    out[hit] += bonus[pos[hit]]
    return out


def combine(
    mode: str,
    dense: np.ndarray,
    lexical: np.ndarray | None,
    allowed: np.ndarray | None,
    lexical_boost: float,
    lexical_reach: float = 0.0,
    doc_of: np.ndarray | None = None,
    support: float = 0.0,
    peak_floor: float = 1.0,
    lone: np.ndarray | None = None,
) -> np.ndarray:
    """The ranking score of a search ``mode`` from its dense and BM25 signals.

    Hybrid, the default, also weighs each document's second passage (:func:`document_support`,
    given ``doc_of``: a document number per row, and ``lone``: rows that are their document's
    only passage); dense and bm25 stay single signals, the baselines the hybrid is measured
    against.
    """
    if mode == "dense" or lexical is None:
        return dense
    if mode == "bm25":
        return lexical
    scores = boost(dense, lexical, allowed, lexical_boost, lexical_reach, peak_floor=peak_floor)
    if doc_of is None:
        return scores
    return document_support(scores, doc_of, allowed, support, lone=lone)


def top_rows(scores: np.ndarray, allowed: np.ndarray | None, k: int) -> np.ndarray:
    """Indices of the ``k`` best allowed scores, best first; ties go to the lower row.

    Deterministic tie-breaking keeps exact and approximate search (and reruns) identical.
    ``allowed`` None: every score is eligible (the arrays hold only the scored rows).
    """
    candidates = np.arange(len(scores)) if allowed is None else np.flatnonzero(allowed)
    if candidates.size == 0:
        return candidates
    k = min(k, candidates.size)
    values = scores[candidates]
    kth = np.partition(values, values.size - k)[values.size - k]
    part = candidates[values >= kth]
    order = np.lexsort((part, -scores[part]))
    return part[order][:k]


def diversify(rows: np.ndarray, section_of: list[str], k: int, per_section: int = 2) -> list[int]:
    """Best ``k`` rows with at most ``per_section`` of one section while others remain, in
    score order.

    Five passages of one section tell an agent less than the best passages of several
    sections; repeats fill in only when the candidates run out. Two rather than one: a
    section's second passage often holds what its first only introduces (a table after its
    heading's prose, the rest of a headingless policy), and the first three results still
    span two sections. Measured in docs/retrieval-experiments.md (one per section hid it).
    """
    chosen: list[int] = []
    repeats: list[int] = []
    count: dict[str, int] = {}
    for row in rows:
        key = section_of[int(row)]
        if count.get(key, 0) >= per_section:
            repeats.append(int(row))
            continue
        count[key] = count.get(key, 0) + 1
        chosen.append(int(row))
        if len(chosen) == k:
            return chosen
    return chosen + repeats[: k - len(chosen)]


def ranked(mode: str, scores: np.ndarray, allowed: np.ndarray | None, k: int) -> np.ndarray:
    """:func:`top_rows`, except that keyword search returns only passages sharing a term with
    the question: a BM25 score of 0 is no match at all, not a weak one to pad results with."""
    rows = top_rows(scores, allowed, k)
    return rows[scores[rows] > 0] if mode == "bm25" else rows
