"""Checks on what callers type, shared by the search core, the API's schemas and the CLI.

Plain Python (no numpy, no model), so the CLI can refuse a typo before anything loads.
"""

from __future__ import annotations

import re
import unicodedata

_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # Unicode's Cc: C0, DEL and C1

INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})  # controls, format marks, separators


def is_blank(value: str) -> bool:
    """Whether ``value`` shows nothing: whitespace, zero-width and direction marks, a BOM or
    control characters only. ``str.strip`` keeps "\\u200b" or "\\x00", which a pasted
    question can be: searching them returns the nearest passages and logs an empty gap topic.
    """
    return all(ch.isspace() or unicodedata.category(ch) in INVISIBLE for ch in value)


def without_controls(value: str) -> str:
    """``value`` with each control character (a NUL, an escape, a C1 code from a mangled
    paste) read as a space: ``str.split`` keeps them, and a question keeping them was echoed
    in answers and written to the query log and its CSV export."""
    return _CONTROLS.sub(" ", value)


def as_typed_plainly(value: str) -> str:
    """``value`` in Unicode's compatibility form (NFKC) without format marks: full-width
    letters typed on an East Asian keyboard ("ＵＳ"), a ligature pasted from a PDF ("ﬁle") and
    a zero-width space or soft hyphen pasted from a web page ("re\u200bfund") read as the
    words the documents hold. Left as typed they matched no keyword (BM25 and the highlight
    compare words as written) and spelling correction could not mend them."""
    value = unicodedata.normalize("NFKC", value)
    return "".join(ch for ch in value if unicodedata.category(ch) != "Cf")


def is_text(value: str) -> bool:
    """False for a string holding a lone surrogate: ``"\\ud800"`` is valid JSON, but no
    tokenizer, database or UTF-8 encoder takes it, so it is refused as bad input rather than
    failing deep inside a search."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_plain_date(value: str) -> bool:
    """Whether ``value`` is written YYYY-MM-DD (not necessarily a real day).

    Date-times (even at midnight), timestamps and Python's other ISO forms (``20260101``,
    ``2026-W01-1``) are refused rather than read as a date: which day a time means depends on
    a time zone we would have to guess, and effective dates are plain dates.
    """
    return bool(_PLAIN_DATE.fullmatch(value))
