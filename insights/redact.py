"""Remove personal data from free text before it is stored (pure; no I/O).

Agents paste ticket text into the search box, so queries and feedback comments can hold e-mail
addresses, phone numbers, card numbers, @handles and order or ticket ids. Each is replaced by a
typed placeholder (``[EMAIL]``, ``[PHONE]``, ...), so analytics still see that a question was
about "a refund for [ORDER]" without anyone's data reaching disk. Dates, amounts and durations
("14 days", "$4.99", "2026-03-01", "01/03/2026") are kept: they are what policy questions are
about, so dates are set aside before any rule runs and put back after.

Text leaving for a spreadsheet gets the same care: :func:`spreadsheet_safe` is the one place
the API's and the UI's CSV downloads neutralise cells a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

_ID_WORDS = (
    r"order|ord|purchase|transaction|txn|invoice|ticket|tkt|case|incident|inc|request|req|"
    r"user\s*id|uid|account\s*id|acct|ref|reference|refund\s*id|payout\s*id|report|"
    r"tracking|awb|shipment|parcel|consignment"
)
_SPACE = r"[ \t\u00a0\u202f]"  # a separator inside one number never spans a line break

# Dates are policy facts ("bought on 2026-03-01"), never personal data here: they are set aside
# before any rule runs, so no rule (cards, phones, ids, long numbers) can eat one.
DATE = re.compile(
    r"(?<![\w.,/-])(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.](?:\d{4}|\d{2}))"
    r"(?:T\d{1,2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w/-]|[.,]\d)"
)

EMAIL = re.compile(r"\w[\w.%+'’-]*@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")
# An address spelled out so that filters miss it: "maria dot k at gmail dot com",
# "jo [at] example [dot] org".
_AT, _DOT = r"(?:\s+at\s+|\s*[\[(]at[\])]\s*)", r"(?:\s+dot\s+|\s*[\[(]dot[\])]\s*)"
SPELLED_EMAIL = re.compile(
    rf"\b[\w.+-]+(?:{_DOT}[\w-]+)*{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[^\W\d_]{{2,}}\b",
    re.IGNORECASE,
)
URL_WITH_USER = re.compile(r"https?://\S+")
# A card number: 13-19 digits, maybe grouped by spaces, dashes or dots.
CARD = re.compile(r"(?<![\w+.,-])\d(?:[ .-]?\d){12,18}(?![\w]|[.-]\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){3,7}(?:[ ]?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
# A dotted quad after a "v" or before more dotted parts is a version ("v1.2.3.4", "1.2.3.4.5").
IPV4 = re.compile(r"(?<![\d.])(?<!\b[vV])(?:\d{1,3}\.){3}\d{1,3}(?![\d]|\.\d)")
# Groups of digits, "(0)" or "(415)" among them, joined by spaces, dots, dashes, en dashes or
# slashes: "+353 1 234 5678", "+49 (0)30 / 1234 5678", "030/1234 5678", "020–7946–0958".
_GROUP = r"(?:\(\d{1,5}\)|\d{1,10})"
_SEP = rf"(?:{_SPACE}*[/.\-–—]{_SPACE}*|{_SPACE}+|(?<=\)))"
PHONE = re.compile(rf"(?<![\w+])(?:\+|00)?{_GROUP}(?:{_SEP}{_GROUP}){{1,7}}(?!\w)")
HANDLE = re.compile(r"(?<![\w@/])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,29}[A-Za-z0-9_])?")
# "order number is A1B2C3", "order no. A1B2C3", "order #: A1B2C3", "ticket 204981": "is" or
# "was" only after number/no./id ("the order is 1000 coins" is an amount, not an id).
LABELLED_ID = re.compile(
    rf"\b(?P<label>{_ID_WORDS})\b"
    r"(?P<sep>\s*(?:(?:id|number|no\.?|nr\.?|num)\s*(?:(?:[:#=]|\bis\b|\bwas\b)\s*){0,2}"
    r"|(?:[:#=]\s*){0,2}))"
    r"(?P<id>[A-Za-z0-9][A-Za-z0-9_-]{3,})",
    re.IGNORECASE,
)
# A number followed by one of these is an amount or a duration ("1234 days", "14days", "5 %").
_UNIT = re.compile(
    r"[ \t]*-?(?:(?:business|working|calendar)[ \t]+days?|days?|d|hours?|hrs?|h|minutes?|mins?"
    r"|weeks?|wks?|months?|years?|yrs?|coins?|diamonds?|gems?|points?|credits?|followers?"
    r"|%|percent|usd|eur|gbp|dollars?|euros?|pounds?)(?![^\W\d_])",
    re.IGNORECASE,
)
PREFIXED_ID = re.compile(
    r"\b(?:ORD|ORDER|TKT|TICKET|INC|CASE|REQ|SR|TXN|INV|RMA|CS|ZD|JIRA|SUP)[-_#]?\d[\dA-Z-]{3,}\b",
    re.IGNORECASE,
)
HASH_ID = re.compile(r"(?<![\w&])#\d{4,}\b")
LONG_NUMBER = re.compile(r"(?<![\w.,$€£-])\d{7,}(?![\w.,%])")


def _is_date(text: str) -> bool:
    """Whether ``text`` (as :data:`DATE` matched it) names a real day, in Y-M-D, D-M-Y or
    M-D-Y order: "01.23.45" in a French phone number is not a date."""
    parts = re.split(r"[-/.]", text.split("T")[0])
    if len(parts[0]) == 4:
        month, day = int(parts[1]), int(parts[2])
        return 1 <= month <= 12 and 1 <= day <= 31
    first, second = int(parts[0]), int(parts[1])
    return (1 <= first <= 31 and 1 <= second <= 12) or (1 <= first <= 12 and 1 <= second <= 31)


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment card number passes (and most other digit runs fail)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _amount_follows(match: re.Match[str]) -> bool:
    return bool(_UNIT.match(match.string, match.end()))


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    if not _amount_follows(match):
        return "[PHONE]" if _phone_like(text) else text
    # The last group counts what follows ("30/60/90/120 days"); what precedes it may still be
    # a phone number ("+44 20 7946 0958 2 days").
    split = re.fullmatch(r"(.*[\d)])([^\d)]+\d+)", text, re.DOTALL)
    if split and _phone_like(split.group(1)):
        return "[PHONE]" + split.group(2)
    return text


def _phone_like(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if len(digits) < 7 or len(digits) > 15:
        return False
    separators = set(re.findall(r"[/.\-–—]", text))
    international = text.lstrip().startswith(("+", "00", "("))
    # Decimals beside other separators ("1.99 - 4.99 - 9.99", "3.10.2 / 3.10.3") are prices or
    # versions; slashes between numbers without a leading 0 or + ("10/20/30/40/50") are a list.
    if not international and "." in separators and (len(separators) > 1 or " " in text.strip()):
        return False
    if "/" in separators and not text.lstrip().startswith(("+", "0", "(")):
        return False
    # "12 34" style short groups without a leading + are usually not phone numbers, and one
    # long bare run is an account or order number (LONG_NUMBER names it).
    return international or (len(digits) >= 9 and not (len(digits) > 12 and digits == text))


def _card(match: re.Match[str]) -> str:
    """A Luhn-valid run of 13-19 digits, or one grouped like a card (4111 1111 1111 1112):
    a bare length test also took runs of other numbers for cards."""
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    grouped = re.fullmatch(r"\d{4}([ .-])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?", text)
    return "[CARD]" if 13 <= len(digits) <= 19 and (grouped or luhn_valid(digits)) else text


def _iban(match: re.Match[str]) -> str:
    """An IBAN in any letter case; "is12 this that here" has no digits after its check digits,
    so it is words, not an account number."""
    text = match.group(0)
    return "[IBAN]" if len(re.findall(r"\d", text[4:])) >= 8 else text


def _labelled(match: re.Match[str]) -> str:
    ident = match.group("id")
    if not re.search(r"\d", ident):
        return match.group(0)  # "order status", "ticket priority": words, not ids
    number = re.match(r"\d+(?:[.,]\d+)?", ident)
    if number and (
        _UNIT.fullmatch(ident, number.end())  # "request 14days"
        or (number.end() == len(ident) and _amount_follows(match))  # "ticket 1234 days old"
    ):
        return match.group(0)  # amounts and durations, not ids
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
    (SPELLED_EMAIL, "[EMAIL]"),
    (IBAN, _iban),
    (CARD, _card),
    (LABELLED_ID, _labelled),
    (PREFIXED_ID, "[ID]"),
    (HASH_ID, "[ID]"),
    (IPV4, "[IP]"),
    (PHONE, _phone),
    (HANDLE, "[HANDLE]"),
    (LONG_NUMBER, "[NUMBER]"),
]

# Stand-ins for dates while the rules run: private-use characters, which no rule matches.
_MARK = "\ue000"
_HELD = re.compile(f"{_MARK}([\ue100-\uf8ff]){_MARK}")


def redact(text: str | None) -> str:
    """``text`` with personal data replaced by typed placeholders, dates left as they were."""
    if not text:
        return ""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        if not _is_date(match.group(0)) or len(held) >= 0xF8FF - 0xE100:
            return match.group(0)
        held.append(match.group(0))
        return f"{_MARK}{chr(0xE100 + len(held) - 1)}{_MARK}"

    out = DATE.sub(hold, str(text).replace(_MARK, " "))
    for pattern, replacement in RULES:
        out = pattern.sub(replacement, out)
    return _HELD.sub(lambda m: held[ord(m.group(1)) - 0xE100], out)


# A spreadsheet runs a cell starting with one of these as a formula (CSV injection, OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """``value`` as a CSV cell no spreadsheet will run: text starting with = + - @, a tab or a
    carriage return (after any spaces) gets a leading single quote, as OWASP advises; numbers
    and everything else pass unchanged, so -0.5 in a numeric column stays a number."""
    if isinstance(value, str) and value.lstrip(" ").startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_text(rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """``rows`` as CSV for a spreadsheet, the one writer of the API's and the UI's downloads.

    Lists and dicts are written as JSON, missing values (None, NaN) as empty cells, and every
    text cell through :func:`spreadsheet_safe`: queries and comments are typed by anyone, and
    "=1+2*3 vybe+ student discount" must reach Excel as text, not as a formula.
    """
    rows = list(rows)
    names = list(columns or [])
    if columns is None:
        for row in rows:
            names += [k for k in row if k not in names]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=names or ["empty"], extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: spreadsheet_safe(_cell(v)) for k, v in row.items()})
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)  # "£15" as written, not "\u00a315"
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value
