"""Near-duplicate passages in different documents that disagree (pure: arrays and rows in).

Two passages conflict when their embeddings are close (they talk about the same thing) and a
quantity of the same kind differs: a number of days or hours, an amount of money, a percentage,
an age or a date, in two sentences that share most of their words (the sentence-level check
carries the precision, so the passage similarity bar can stay low). Versions that supersede one
another, superseded documents and documents' own bookkeeping lines (version, effective and
review dates) are expected to differ and are left out.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

_UNITS = {
    "business day": "days",
    "working day": "days",
    "calendar day": "days",
    "day": "days",
    "hour": "hours",
    "hr": "hours",
    "h": "hours",
    "minute": "minutes",
    "min": "minutes",
    "week": "weeks",
    "month": "months",
    "year": "years",
    "coin": "coins",
    "%": "percent",
    "percent": "percent",
}
QUANTITY = re.compile(
    r"(?P<date>\b\d{4}-\d{2}-\d{2}\b)"
    r"|(?P<cur>[$€£])\s?(?P<amount>\d+(?:[.,]\d+)?)"
    r"|(?P<num>\b\d+(?:\.\d+)?)\s?(?:-|\s)?"
    r"(?P<unit>business days?|working days?|calendar days?|days?|hours?|hrs?|h\b|minutes?|mins?"
    r"|weeks?|months?|years?|coins?|%|percent)"
    r"|(?P<age>\b(?:under|over|aged?|at least)\s(?P<age_n>\d{1,2})\b(?![,.]?\d))",
    re.IGNORECASE,
)


def quantities(text: str) -> dict[str, set[str]]:
    """Quantities by kind: ``{"days": {"14"}, "money": {"$50"}, "date": {...}, ...}``."""
    out: dict[str, set[str]] = {}
    for m in QUANTITY.finditer(text):
        if m.group("date"):
            kind, value = "date", m.group("date")
        elif m.group("cur"):
            kind, value = "money", m.group("cur") + m.group("amount").replace(",", ".")
        elif m.group("age"):
            kind, value = "age", m.group("age_n")
        else:
            unit = m.group("unit").lower()
            key = unit.rstrip("s") if unit not in ("%", "hrs", "mins") else unit
            key = {"hr": "hr", "hrs": "hr", "mins": "min"}.get(key, key)
            kind, value = _UNITS.get(key, key), m.group("num")
        out.setdefault(kind, set()).add(value)
    return out


_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORDS = re.compile(r"[a-z][a-z'-]+")
_STOP = set(
    "the and for are with that this from not any all can will must have has been their they "
    "you your our its into per than then when within after before under over at least".split()
)


# A document's own bookkeeping line ("Version 1.1 | Effective 2026-04-20 | Review by ...")
# differs between any two documents; it is metadata, not a statement to compare.
_BOOKKEEPING = re.compile(
    r"\b(?:version|effective|review(?:ed)? by|last (?:updated|reviewed)|owner:|published)\b",
    re.IGNORECASE,
)


def _statements(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(text) if s.strip() and not _BOOKKEEPING.search(s)]


def _words(sentence: str) -> set[str]:
    masked = QUANTITY.sub(" ", sentence.lower())
    return {w for w in _WORDS.findall(masked) if w not in _STOP and len(w) > 2}


def disagreements(a: str, b: str, min_overlap: float = 0.4) -> dict[str, list[list[str]]]:
    """Quantities that differ between sentences saying the same thing in ``a`` and ``b``.

    Two sentences say the same thing when their words, quantities masked, overlap by at least
    ``min_overlap`` (Jaccard); they disagree when a kind of quantity both state differs.
    Returns ``{kind: [values in a, values in b]}``.
    """
    found: dict[str, list[set[str]]] = {}
    parsed_b = [(s, _words(s), quantities(s)) for s in _statements(b)]
    for sa in _statements(a):
        qa = quantities(sa)
        if not qa:
            continue
        wa = _words(sa)
        for _sb, wb, qb in parsed_b:
            if not wa or not wb or len(wa & wb) / len(wa | wb) < min_overlap:
                continue
            for kind in set(qa) & set(qb):
                if qa[kind] != qb[kind]:
                    entry = found.setdefault(kind, [set(), set()])
                    entry[0] |= qa[kind]
                    entry[1] |= qb[kind]
    return {kind: [sorted(va), sorted(vb)] for kind, (va, vb) in sorted(found.items())}


def _related(doc_a: dict[str, Any], doc_b: dict[str, Any]) -> bool:
    """Whether one document is a version of the other (supersedes / superseded_by)."""
    ma, mb = doc_a.get("metadata", {}), doc_b.get("metadata", {})
    return doc_b["doc_id"] in (ma.get("superseded_by"), ma.get("supersedes")) or doc_a[
        "doc_id"
    ] in (mb.get("superseded_by"), mb.get("supersedes"))


def _retired(*docs: dict[str, Any]) -> bool:
    """Whether any of the documents is a superseded version (expected to be out of date)."""
    return any(d.get("metadata", {}).get("status") == "superseded" for d in docs)


def find_conflicts(
    chunks: list[dict[str, Any]],
    vectors: np.ndarray,
    documents: list[dict[str, Any]],
    min_similarity: float = 0.5,
    limit: int = 100,
    include_versions: bool = False,
) -> list[dict[str, Any]]:
    """Pairs of similar passages from different documents whose quantities differ."""
    if len(chunks) < 2:
        return []
    v = np.asarray(vectors, dtype=np.float32)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sim = v @ v.T
    docs = {d["doc_id"]: d for d in documents}
    doc_of = np.array([c["doc_id"] for c in chunks])
    ii, jj = np.where(np.triu(sim, k=1) >= min_similarity)
    out = []
    for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
        a, b = chunks[i], chunks[j]
        if doc_of[i] == doc_of[j]:
            continue
        da, db = docs.get(a["doc_id"]), docs.get(b["doc_id"])
        if da and db and not include_versions and (_related(da, db) or _retired(da, db)):
            continue
        differ = disagreements(a["text"], b["text"])
        if not differ:
            continue
        out.append(
            {
                "similarity": round(float(sim[i, j]), 3),
                "doc_a": a["doc_id"],
                "title_a": da["title"] if da else "",
                "section_a": " > ".join(_path(a)),
                "text_a": a["text"],
                "doc_b": b["doc_id"],
                "title_b": db["title"] if db else "",
                "section_b": " > ".join(_path(b)),
                "text_b": b["text"],
                "differences": differ,
            }
        )
    out.sort(key=lambda c: -c["similarity"])
    return out[:limit]


def _path(chunk: dict[str, Any]) -> list[str]:
    value = chunk.get("heading_path") or []
    return json.loads(value) if isinstance(value, str) else list(value)
