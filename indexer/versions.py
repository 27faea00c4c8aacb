"""Which version of a policy a question asks about, when it names one.

Agents ask about earlier versions in words: "under the old coin policy", "the returns policy
(1.4)", "an order delivered 25 aug 2026". Searches are as of today, so the superseded version
they ask about was left out and its successor answered instead. Pure functions over document
metadata: a *family* is a set of versions linked by ``supersedes`` / ``superseded_by``; a
question that names a version, a date or an earlier policy picks one version per family,
and every other document is searched as before.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4,
    "april": 4, "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8,
    "sep": 9, "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11,
    "november": 11, "dec": 12, "december": 12,
}  # fmt: skip
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_BEFORE = r"(?P<before>\bbefore\s+(?:the\s+)?)?"
_DATES = [
    re.compile(_BEFORE + r"\b(?P<y>20\d\d)-(?P<m>\d\d)-(?P<d>\d\d)\b"),
    re.compile(
        _BEFORE + rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon>{_MONTH})\.?,?\s+(?P<y>20\d\d)\b",
        re.I,
    ),
    re.compile(
        _BEFORE + rf"\b(?P<mon>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>20\d\d)\b",
        re.I,
    ),
    re.compile(_BEFORE + rf"\b(?P<mon>{_MONTH})\.?,?\s+(?P<y>20\d\d)\b", re.I),  # a month
    # A year alone, after a word that makes it a time ("back in 2024", "before 2025"), not a
    # count ("2024 followers") or part of a code or date.
    re.compile(
        r"(?:(?P<before>\bbefore\s+)|\b(?:in|during|throughout)\s+)(?P<y>20\d\d)\b(?![-/.:]\d)",
        re.I,
    ),
]
_EARLIER = re.compile(
    r"\b(?:old|older|previous|prior|former|earlier|outdated)\b(?:\s+[\w-]+){0,3}?\s+"
    r"(?:policy|policies|rules?|version|terms|guidelines?|limits?|process|sop|faq"
    r"|windows?|thresholds?|requirements?|fees?|deadlines?)\b",
    re.I,
)
# "v2.1", "version 1.3", "(1.4)", and a dotted number right after what a document is called
# ("LIVE policy 1.3", "returns faq 2.0": not "policy 2 strikes", which has no dot).
_VERSION = re.compile(
    r"(?:\bv|\bversion\s+|\(|\b(?:policy|policies|rules|faq|sop|guidelines?|terms|process)"
    r"\s+(?=\d+\.\d))(\d+(?:\.\d+)*)\b",
    re.I,
)
# "v1" or "version 1" (not "(1)", a list item): any 1.x is meant, as titles say "(v1)".
_MAJOR = re.compile(r"(?:\bv|\bversion\s+)(\d+)\b(?!\.\d)", re.I)


@dataclass(frozen=True)
class Pick:
    """One family's version chosen by the question, instead of the one in force."""

    doc_id: str
    instead_of: str
    why: str


# A day and month with no year ("bought 2 feb", "delivered aug 25th"): agents mid-ticket
# leave the year out. "may" is left out, since "may 5 people join" is no date.
_DAY_MONTH = "|".join(m for m in sorted(_MONTHS, key=len, reverse=True) if m != "may")
_YEARLESS = [
    re.compile(
        _BEFORE + rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<mon>{_DAY_MONTH})\b(?!\.?,?\s*\d)",
        re.I,
    ),
    re.compile(
        _BEFORE + rf"\b(?P<mon>{_DAY_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?![\d:./-])",
        re.I,
    ),
]


# Dates in digits: "02/10/2026", "2/10/26", "2026/02/10", "02.10.2026" (dots: day first, as
# written wherever dots are used). Not "30/60/90 days", "1/2", "10/2026" or a version "1.2.3".
_NUMERIC = re.compile(
    _BEFORE + r"(?<![\w./-])(?:(?P<y1>20\d\d)/(?P<b1>\d{1,2})/(?P<c1>\d{1,2})"
    r"|(?P<a>\d{1,2})(?P<sep>[/.])(?P<b>\d{1,2})(?P=sep)(?P<y>20\d\d|\d\d))(?![\w/-]|\.\d)"
)
_RECENT_YEARS = 10  # "5/3/19" is 2019; a two-digit year further back or ahead is no date


def question_date(query: str, today: str | None = None, order: str = "auto") -> str | None:
    """The first date the question names (ISO), a day early after "before"; a month alone
    reads as its middle ("bought in jan 2026"), a year alone as its middle too ("back in
    2024": 1 July), each as its eve after "before". Given ``today``, a day and month without
    a year ("bought 2 feb") is the last such day on or before it: what a ticket reports
    (a purchase, a delivery) has happened; and a date in digits (:func:`_numeric`) is read."""
    found = _dated(query)
    if found is None and today:
        day = dt.date.fromisoformat(today)
        found = _numeric(query, day, order) or _yearless(query, day)
    return found


def _numeric(query: str, today: dt.date, order: str) -> str | None:
    """A date written in digits. "02/10/2026" is 2 October day first and 10 February month
    first: ``order`` "dmy" or "mdy" settles it the way the team writes dates; "auto" reads
    only what one reading allows: a part over 12 ("10/13/2026"), both parts equal, dots (day
    first), year first, or the one reading on or before ``today`` (a ticket reports what has
    happened). Otherwise it is not read, and the question is searched as of ``today``."""
    for m in _NUMERIC.finditer(query):
        if m.group("y1"):
            year, readings = int(m.group("y1")), [(int(m.group("b1")), int(m.group("c1")))]
        else:
            year, a, b = int(m.group("y")), int(m.group("a")), int(m.group("b"))
            if year < 100:  # "2/10/26"; not "10/20/30 day tiers" or an app's "4.1.25"
                if m.group("sep") == ".":
                    continue
                year += 2000
                if not today.year - _RECENT_YEARS <= year <= today.year + 1:
                    continue
            readings = [(b, a)] if m.group("sep") == "." else [(a, b), (b, a)]
            if order == "dmy":
                readings.reverse()  # day first; a part over 12 still reads the other way
        dates = [d for month, day in readings if (d := _valid(year, month, day))]
        if order == "auto" and len(set(dates)) > 1:
            dates = [d for d in dates if d <= today]
            if len(dates) > 1:
                continue  # both readings possible: not guessed
        if dates:
            date = dates[0]
            return (date - dt.timedelta(days=1) if m.group("before") else date).isoformat()
    return None


def _valid(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _yearless(query: str, today: dt.date) -> str | None:
    for pattern in _YEARLESS:
        m = pattern.search(query)
        if not m:
            continue
        month, day = _MONTHS[m.group("mon").lower()], int(m.group("d"))
        for year in (today.year, today.year - 1):
            try:
                date = dt.date(year, month, day)
            except ValueError:
                break  # no such day ("31 feb"): not a date
            if date <= today:
                return (date - dt.timedelta(days=1) if m.group("before") else date).isoformat()
    return None


def _dated(query: str) -> str | None:
    for pattern in _DATES:
        m = pattern.search(query)
        if not m:
            continue
        parts = m.groupdict()
        if parts.get("mon") is None and parts.get("m") is None:  # a year: 1 July, or 1 Jan
            month, day = (1, 1) if parts["before"] else (7, 1)
        else:
            month = int(parts["m"]) if parts.get("m") else _MONTHS[parts["mon"].lower()]
            day = int(parts["d"]) if parts.get("d") else (1 if parts["before"] else 15)
        try:
            date = dt.date(int(parts["y"]), month, day)
        except ValueError:
            continue
        return (date - dt.timedelta(days=1) if parts["before"] else date).isoformat()
    return None


def families(docs: Iterable[tuple[str, dict[str, Any]]]) -> list[list[str]]:
    """Versions linked by ``supersedes`` / ``superseded_by``, oldest effective date first;
    only sets of two or more documents."""
    meta = dict(docs)
    parent = {d: d for d in meta}

    def root(d: str) -> str:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    for doc_id, m in meta.items():
        for other in (m.get("supersedes"), m.get("superseded_by")):
            if isinstance(other, str) and other in meta:
                parent[root(doc_id)] = root(other)
    groups: dict[str, list[str]] = {}
    for doc_id in meta:
        groups.setdefault(root(doc_id), []).append(doc_id)
    order = lambda d: (str(meta[d].get("effective_date") or ""), d)  # noqa: E731
    return [sorted(g, key=order) for g in groups.values() if len(g) > 1]


def _in_force_on(versions: list[str], meta: dict[str, dict[str, Any]], date: str) -> str | None:
    """The family's version in force on ``date``: the latest effective on or before it."""
    started = [v for v in versions if str(meta[v].get("effective_date") or "") <= date]
    return started[-1] if started else None


def _same_version(version: str, named: str, majors: Iterable[str] = ()) -> bool:
    """Whether a document's ``version`` is the one the question ``named`` (equal up to
    trailing zeros: "2" and "2.0"), or of a major version in ``majors`` (named as "v1" or
    "version 1": "1.3"; the family's latest such version is the one picked)."""
    trim = lambda v: re.sub(r"(\.0+)+$", "", v.strip().lstrip("vV"))  # noqa: E731
    return trim(version) == trim(named) or trim(version).split(".")[0] in majors


def asked_versions(
    query: str,
    meta: dict[str, dict[str, Any]],
    linked: list[list[str]],
    as_of: str,
    date_order: str = "auto",
) -> list[Pick]:
    """Per family (``linked``: :func:`families` of the documents whose metadata ``meta``
    holds), the version the question asks about where it is not the one in force on
    ``as_of``: a version number it names ("v2.1", "(1.4)", "version 1.3"), else the version in
    force on a date it names, else, when it asks about an "old" or "previous" policy, the one
    before today's. Nothing when the question names none of these."""
    named = [m.group(1) for m in _VERSION.finditer(query)]
    majors = {m.group(1) for m in _MAJOR.finditer(query)}
    date = question_date(query, as_of, date_order)
    earlier = bool(_EARLIER.search(query))
    if not (named or date or earlier):
        return []
    picks: list[Pick] = []
    for versions in linked:
        current = _in_force_on(versions, meta, as_of)
        if current is None:
            continue
        chosen, why = None, ""
        for v in versions:
            version = str(meta[v].get("version") or "")
            if version and any(_same_version(version, n) for n in named):
                chosen, why = v, f"the question names version {version}"
            elif version and _same_version(version, "", majors):
                major = version.lstrip("vV").split(".")[0]
                chosen, why = v, f"the question names version {major} ({version})"
        if chosen is None and date:
            chosen, why = _in_force_on(versions, meta, date), f"the question asks about {date}"
        if chosen is None and earlier and not named and not date:
            before = versions.index(current) - 1
            chosen = versions[before] if before >= 0 else None
            why = "the question asks about an earlier version"
        if chosen is not None and chosen != current:
            picks.append(Pick(chosen, current, why))
    return picks
