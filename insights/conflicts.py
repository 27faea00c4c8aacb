"""Near-duplicate passages in different documents that disagree (pure: arrays and rows in).

Two passages conflict when their embeddings are close (they talk about the same thing) and a
quantity of the same kind really differs: a number of days or hours, an amount of money, a
percentage, an age or a date, in two sentences that share most of their words (the
sentence-level check carries the precision, so the passage similarity bar can stay low).
Sentences are cut at sentence ends, not at line wraps; a range ("3 to 5 business days") is one
value; a sentence that states only some of the other's values, or a number inside the other's
range, agrees with it. Versions that supersede one another, superseded documents and
documents' own bookkeeping lines (version, effective and review dates) are expected to differ
and are left out."""

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
_NUMBER = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?"
QUANTITY = re.compile(
    r"(?P<date>\b\d{4}-\d{2}-\d{2}\b)"
    r"|(?P<cur>[$€£])\s?(?P<amount>\d+(?:[.,]\d+)?)"
    # "3 to 5 business days", "3-5 days", "3–5 days", "between 3 and 5 days": one range
    rf"|\b(?:between\s(?P<between>{_NUMBER})\sand\s|(?P<low>{_NUMBER})\s?(?:to|-|–|—)\s?)?"
    rf"(?P<num>{_NUMBER})\s?(?:-|\s)?"
    r"(?P<unit>business days?|working days?|calendar days?|days?|hours?|hrs?|h\b|minutes?|mins?"
    r"|weeks?|months?|years?|coins?|%|percent)"
    # an age, unless a unit follows ("at least 7 days old" is a duration, not an age)
    r"|(?P<age>\b(?:under|over|aged?|at least)\s(?P<age_n>\d{1,2})\b(?![,.]?\d)"
    r"(?!\s?-?(?:business|working|calendar|days?\b|hours?\b|hrs?\b|h\b|minutes?\b|mins?\b"
    r"|weeks?\b|months?\b|coins?\b|%|percent)))",
    re.IGNORECASE,
)


def quantities(text: str) -> dict[str, set[str]]:
    """Quantities by kind: ``{"days": {"14", "3-5"}, "money": {"$50"}, "date": {...}, ...}``.

    A range ("3 to 5 business days") is one value, ``"3-5"``: reading only its upper end made
    "3 to 5 days" and "5 days" look like the same statement, and "3 to 5" unlike "3-5".
    """
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
            high = m.group("num").replace(",", "")
            low = (m.group("between") or m.group("low") or high).replace(",", "")
            kind, value = _UNITS.get(key, key), high if low == high else f"{low}-{high}"
        out.setdefault(kind, set()).add(value)
    return out


def _span(value: str) -> tuple[float, float] | None:
    """``"3-5"`` as (3, 5) and ``"14"`` as (14, 14); None for a date or an amount of money."""
    low, _, high = value.partition("-")
    try:
        return float(low), float(high or low)
    except ValueError:
        return None


def _agree(x: str, y: str) -> bool:
    """Whether two values of one kind can both hold: equal, or a single number inside the
    other's range ("within 5 days" and "3 to 5 days"). Two different ranges disagree
    ("5-7 business days" and "5-10 business days" promise different things)."""
    if x == y:
        return True
    sx, sy = _span(x), _span(y)
    if sx is None or sy is None or (sx[0] != sx[1] and sy[0] != sy[1]):
        return False
    return sx[0] <= sy[0] <= sy[1] <= sx[1] or sy[0] <= sx[0] <= sx[1] <= sy[1]


def _conflicting(va: set[str], vb: set[str]) -> tuple[set[str], set[str]]:
    """The values each side states that the other does not, when the two really disagree.

    A sentence stating some of the other's values ("30 days" beside "30 days, and 45 days for
    CCPA") adds detail rather than contradicting it: only when both sides hold a value the
    other lacks do they disagree. Empty sets mean they agree.
    """
    only_a = {x for x in va if not any(_agree(x, y) for y in vb)}
    only_b = {y for y in vb if not any(_agree(x, y) for x in va)}
    return (only_a, only_b) if only_a and only_b else (set(), set())


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

# Sentences end at . ! ? or ; before a space. A single newline is mostly a line wrap (PDF text,
# hard-wrapped Markdown), so it joins; list items, table rows, headings and short label-like
# lines (table cells, field names) stand on their own.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_BLOCK_START = re.compile(r"(?:[-*•+]\s|\d{1,2}[.)]\s|#|\||>)")
_WRAP_WORDS = 8  # a line at least this long, without a full stop, is prose that wrapped


def _units(paragraph: str) -> list[str]:
    """The lines of one paragraph, joined where a line only wrapped."""
    units: list[str] = []
    joinable = False  # may the next line continue the last unit?
    wrapped = False  # was the last line long enough to be wrapped prose?
    for raw in paragraph.splitlines():
        line = raw.strip()
        if not line:
            continue
        block = bool(_BLOCK_START.match(line))
        if units and joinable and not block and (line[0].islower() or wrapped):
            units[-1] = f"{units[-1]} {line}"
        else:
            units.append(line)
        joinable = not (
            line.startswith(("|", "#")) or " | " in line or line.endswith((".", "!", "?", ";"))
        )  # a row of fields ("Version 2.0 | Effective ...") ends where its line does
        wrapped = len(line.split()) >= _WRAP_WORDS
    return units


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences: at sentence ends, list items and table rows, never at a
    line wrap (a wrapped PDF line split one statement into two that each looked partial)."""
    out = []
    for paragraph in _PARAGRAPH.split(text):
        for unit in _units(paragraph):
            out += [s.strip() for s in _SENTENCE_END.split(unit) if s.strip()]
    return out


def _statements(text: str) -> list[str]:
    return [s for s in sentences(text) if not _BOOKKEEPING.search(s)]


def _words(sentence: str) -> set[str]:
    masked = QUANTITY.sub(" ", sentence.lower())
    return {_fold(w) for w in _WORDS.findall(masked) if w not in _STOP and len(w) > 2}


# Market codes a sentence is about ("MX: the window is 15 days", "(19 in KR)"): the same rule
# for two different markets may rightly state two different numbers.
_MARKET = re.compile(r"\b[A-Z]{2}\b")


def _markets(sentence: str) -> set[str]:
    return set(_MARKET.findall(sentence))


def _fold(word: str) -> str:
    """A plural and its singular count as one word ("refunds", "refund")."""
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


_PROSE_WORDS = 5  # fewer words than this is a label or a fragment, not a sentence


def _prose(sentence: str) -> bool:
    """A full sentence of running text: not a table row, heading or short label-like fragment
    ("| Permanent ban | 7 days |", "30-day account suspension;")."""
    text = sentence.strip()
    return (
        not text.startswith(("|", "#"))
        and text.endswith((".", "!", "?"))
        and len(re.findall(r"\w+", text)) >= _PROSE_WORDS
    )


def _same_statement(
    wa: set[str], wb: set[str], min_overlap: float, min_shared: int, prose: bool = False
) -> bool:
    """Whether two sentences' words say the same thing: a Jaccard overlap of at least
    ``min_overlap`` on at least ``min_shared`` words, or the very same words (a short sentence
    that differs only in its numbers), or, between two ``prose`` sentences, at least two words
    and every word of one in the other ("Coins can be refunded within 14 days." beside "Unused
    coins can be refunded within 30 days of purchase."). Two shared words beside a word the
    other lacks are too little: "IP Operations reviews notices within 2 days" and "IP
    Operations reviews appeals within 5 days" are two different rules; and a table cell or
    heading ("| Permanent ban | 7 days |") is contained in too many sentences to count."""
    if not wa or not wb:
        return False
    shared = len(wa & wb)
    if shared / len(wa | wb) < min_overlap:
        return False
    contained = prose and shared >= 2 and (wa <= wb or wb <= wa)
    return shared >= min_shared or wa == wb or contained


def disagreements(
    a: str, b: str, min_overlap: float = 0.4, min_shared: int = 3
) -> dict[str, list[list[str]]]:
    """Quantities that really differ between sentences saying the same thing in ``a`` and ``b``.

    Two sentences say the same thing when :func:`_same_statement` holds for their words,
    quantities masked; they disagree on a kind of quantity when each states a value of it the
    other does not (a subset, or a value inside the other's range, is agreement).
    Returns ``{kind: [values only in a, values only in b]}``.
    """
    found: dict[str, list[set[str]]] = {}
    parsed_b = [(_words(s), _markets(s), quantities(s), _prose(s)) for s in _statements(b)]
    for sa in _statements(a):
        qa = quantities(sa)
        if not qa:
            continue
        wa, ma, pa = _words(sa), _markets(sa), _prose(sa)
        for wb, mb, qb, pb in parsed_b:
            same = _same_statement(wa, wb, min_overlap, min_shared, pa and pb)
            if not same or (ma and mb and not ma & mb):
                continue  # different words, or the same rule for different markets
            for kind in set(qa) & set(qb):
                only_a, only_b = _conflicting(qa[kind], qb[kind])
                if only_a:
                    entry = found.setdefault(kind, [set(), set()])
                    entry[0] |= only_a
                    entry[1] |= only_b
    return {
        kind: [sorted(va, key=_order), sorted(vb, key=_order)]
        for kind, (va, vb) in sorted(found.items())
    }


def _order(value: str) -> tuple[float, str]:
    span = _span(value)
    return (span[0] if span else 0.0, value)


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
