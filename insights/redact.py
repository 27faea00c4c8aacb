"""Remove personal data from free text before it is stored (pure; no I/O).

Agents paste ticket text into the search box, so queries and feedback comments can hold e-mail
addresses, phone numbers, card numbers, @handles and order or ticket ids. Each is replaced by a
typed placeholder (``[EMAIL]``, ``[PHONE]``, ...), so analytics still see that a question was
about "a refund for [ORDER]" without anyone's data reaching disk. Dates, amounts and durations
("14 days", "$4.99", "2026-03-01") are kept: they are what policy questions are about.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_ID_WORDS = (
    r"order|ord|purchase|transaction|txn|invoice|ticket|tkt|case|incident|inc|request|req|"
    r"user\s*id|uid|account\s*id|acct|ref|reference|refund\s*id|payout\s*id|report"
)
_ISO_DATE = re.compile(r"^\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$|^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
URL_WITH_USER = re.compile(r"https?://\S+")
CARD = re.compile(r"(?<![\w+-])(?:\d[ -]?){12,18}\d(?![\w-])")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
PHONE = re.compile(
    r"(?<![\w+])(?:\+|00)?\d{0,3}[\s.-]?(?:\(\d{1,5}\)[\s.-]?)?\d{2,5}(?:[\s.-]?\d{2,5}){1,4}(?![\w])"
)
HANDLE = re.compile(r"(?<![\w@/])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29}[A-Za-z0-9_])?")
LABELLED_ID = re.compile(
    rf"\b(?P<label>{_ID_WORDS})\b(?P<sep>\s*(?:id|number|no\.?|nr\.?|num)?\s*[:#]?\s*#?\s*)"
    r"(?P<id>[A-Za-z0-9][A-Za-z0-9_-]{3,})",
    re.IGNORECASE,
)
PREFIXED_ID = re.compile(
    r"\b(?:ORD|ORDER|TKT|TICKET|INC|CASE|REQ|SR|TXN|INV|RMA|CS|ZD|JIRA|SUP)[-_#]?\d[\dA-Z-]{3,}\b",
    re.IGNORECASE,
)
HASH_ID = re.compile(r"(?<![\w&])#\d{4,}\b")
LONG_NUMBER = re.compile(r"(?<![\w.,$€£-])\d{7,}(?![\w.,%])")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if len(digits) < 7 or len(digits) > 15 or _ISO_DATE.match(text.strip()):
        return text
    # "12 34" style short groups without a leading + are usually not phone numbers.
    if not text.lstrip().startswith(("+", "00", "(")) and len(digits) < 9:
        return text
    return "[PHONE]"


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[CARD]" if 13 <= len(digits) <= 19 else match.group(0)


def _labelled(match: re.Match[str]) -> str:
    ident = match.group("id")
    if not re.search(r"\d", ident):
        return match.group(0)  # "order status", "ticket priority": words, not ids
    label = match.group("label").lower()
    kind = (
        "TICKET"
        if label in {"ticket", "tkt", "case", "incident", "inc", "request", "req"}
        else (
            "ORDER"
            if label in {"order", "ord", "purchase", "transaction", "txn", "invoice", "refund id"}
            else "ID"
        )
    )
    return f"{match.group('label')}{match.group('sep')}[{kind}]"


RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (URL_WITH_USER, "[URL]"),
    (EMAIL, "[EMAIL]"),
    (IBAN, "[IBAN]"),
    (CARD, _card),
    (LABELLED_ID, _labelled),
    (PREFIXED_ID, "[ID]"),
    (HASH_ID, "[ID]"),
    (IPV4, "[IP]"),
    (PHONE, _phone),
    (HANDLE, "[HANDLE]"),
    (LONG_NUMBER, "[NUMBER]"),
]


def redact(text: str | None) -> str:
    """``text`` with personal data replaced by typed placeholders."""
    if not text:
        return ""
    out = str(text)
    for pattern, replacement in RULES:
        out = pattern.sub(replacement, out)
    return out
