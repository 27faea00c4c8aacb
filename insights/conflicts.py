"""Near-duplicate passages in different documents that disagree (pure: arrays and rows in).

Two passages conflict when their embeddings are close (they talk about the same thing) and a
value of the same kind really differs: a number of days or hours, an amount of money, a
percentage, an age, a date, a phone number, an e-mail address, the team a case is escalated
to, or a count of some thing ("at least 1,000 followers", "up to five devices": kind
``count``, compared only between counts of the same noun), in two sentences that share most
of their words (the counted nouns aside) and do not serve different actions ("to go LIVE",
"to use LIVE Studio"); or when one states a rule ("must", "are allowed", "can") that the
other, with nearly the same words, negates (the sentence-level check carries the precision,
so the passage similarity bar can stay low). Two rules are compared on their core: a purpose
or reason one side adds ("to verify the account", "so that ...") is left out, while an
exception or condition ("unless the user asks", "when a parcel is late") must be the same on
both sides, since a rule and its exception can both hold. Each pair names the values that
disagree, one spelling per value ("two weeks" is "14 days", "5 EUR" is "€5", "five devices"
is "5 devices", "1,000 followers" is "1000 followers"). Sentences are cut at sentence ends,
not at line wraps; a range ("3 to 5 business days", "between 3 and 5 devices") is one value;
a sentence that states only some of the other's values, or a number inside the other's
range, agrees with it. Numbers that label rather than count (section 4, Tier 2, version 3,
ordinals, list markers, ids, years, times of day) are no counts. Versions that supersede one
another, superseded documents and documents' own bookkeeping lines (version, effective and
review dates) are expected to differ and are left out. Durations are read in other languages
too ("14 Tagen", "48 heures", "7일", "7日以内", "7天"), and sentences in any script are compared
by their words (Han, kana, Hangul and Thai by character pairs); rules, counts and ages are read
in English only."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Collection
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from indexer.errors import DeadlineExceeded, InvalidQueryError
from indexer.highlight import folded, split_unspaced
from insights.redact import EMAIL

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
# Small numbers written as words ("two weeks", "three business days").
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "fifteen": 15,
    "twenty": 20, "thirty": 30, "forty-five": 45, "sixty": 60, "ninety": 90,
}  # fmt: skip
_WORD_NUMBER = "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
_CURRENCY = {
    "€": "€", "eur": "€", "euro": "€", "euros": "€",
    "$": "$", "usd": "$", "dollar": "$", "dollars": "$",
    "£": "£", "gbp": "£", "pound": "£", "pounds": "£",
}  # fmt: skip
_AMOUNT = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)|\d+(?:[.,]\d+)?"
_MONTH_NAMES = (
    "january february march april may june july august september october november december"
)
_MONTHS = {m: i for i, name in enumerate(_MONTH_NAMES.split(), 1) for m in (name, name[:3])}
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
# Units in other languages (German, French, Spanish, Portuguese, Italian, Dutch, Arabic), read
# as the English ones: "14 Tagen" is "14 days", "48 heures" "48 hours". Only the English
# units were read, so two German policies saying 14 and 30 Tagen did not disagree. Years as
# "ans" are left out: "18 ans" is an age.
_FOREIGN_UNITS = {
    "day": (
        "werktagen", "werktage", "werktag", "kalendertagen", "kalendertage", "tagen", "tage",
        "tag", "jours ouvrés", "jours ouvrables", "jours", "jour", "días hábiles", "días",
        "día", "dias úteis", "dias", "dia", "giorni lavorativi", "giorni", "giorno",
        "werkdagen", "werkdag", "dagen", "dag", "أيام", "يوما", "يومًا", "يوم",
    ),
    "hour": ("stunden", "stunde", "heures", "heure", "horas", "hora", "ore", "uren", "uur",
             "ساعات", "ساعة"),
    "week": ("wochen", "woche", "semaines", "semaine", "semanas", "semana", "settimane",
             "settimana", "weken", "أسابيع", "أسبوع"),
    "month": ("monaten", "monate", "monat", "mois", "meses", "mes", "mês", "mesi", "mese",
              "maanden", "maand", "أشهر", "شهرا", "شهر"),
    "year": ("jahren", "jahre", "jahr", "années", "année", "años", "año", "anos", "ano",
             "anni", "anno", "jaren", "jaar", "سنوات", "سنة"),
}  # fmt: skip
_FOREIGN_UNIT_OF = {w: unit for unit, words in _FOREIGN_UNITS.items() for w in words}
_FOREIGN_UNIT = "|".join(
    re.escape(w).replace(r"\ ", r"\s") for w in sorted(_FOREIGN_UNIT_OF, key=len, reverse=True)
)
_CJK_UNITS = {
    "일": "day", "日": "day", "天": "day", "วัน": "day",
    "시간": "hour", "時間": "hour", "小时": "hour", "小時": "hour", "ชั่วโมง": "hour",
    "주": "week", "週間": "week", "周": "week", "สัปดาห์": "week",
    "개월": "month", "ヶ月": "month", "か月": "month", "カ月": "month", "个月": "month",
    "個月": "month", "เดือน": "month",
}  # fmt: skip
_CJK_UNIT = "|".join(sorted(_CJK_UNITS, key=len, reverse=True))

QUANTITY = re.compile(
    rf"(?P<email>{EMAIL.pattern})"  # the address rule redaction uses
    # "+44 20 7946 0018", "+44 (0)20 7946-0018", "0800 123 4567": one phone number
    r"|(?P<phone>\+\d[\d\s()./-]{5,}\d|\b0\d{2,4}[\s-]\d{3,4}[\s-]?\d{3,4}\b)(?!\w)"
    r"|(?P<date>\b\d{4}-\d{2}-\d{2}\b)"
    rf"|\b(?P<dmy_d>\d{{1,2}})(?:st|nd|rd|th)?\s(?P<dmy_m>{_MONTH}),?\s(?P<dmy_y>\d{{4}})\b"
    rf"|\b(?P<mdy_m>{_MONTH})\s(?P<mdy_d>\d{{1,2}})(?:st|nd|rd|th)?,?\s(?P<mdy_y>\d{{4}})\b"
    rf"|(?P<cur>[$€£]|\b(?:EUR|USD|GBP)\b)\s?(?P<amount>{_AMOUNT})"
    rf"|\b(?P<amount2>{_AMOUNT})\s?(?P<cur2>EUR|USD|GBP|euros?|dollars?|pounds?)\b"
    # "3 to 5 business days", "3-5 days", "between 3 and 5 days", "50% to 70%": one range
    rf"|\b(?:between\s(?P<between>{_NUMBER})\sand\s|(?P<low>{_NUMBER})(?:\s?(?:%|percent))?"
    r"\s?(?:to|-|–|—)\s?)?"
    rf"(?P<num>{_NUMBER}|{_WORD_NUMBER})\s?(?:-|\s)?"
    # a unit ends at a word end: "3 minors" is no "3 min", "2 weekly reports" no "2 weeks"
    r"(?P<unit>(?:business days?|working days?|calendar days?|days?|hours?|hrs?|h|minutes?|mins?"
    rf"|weeks?|months?|years?(?!\s(?:old|of\sage))|coins?|percent|{_FOREIGN_UNIT})\b|%)"
    # "7일", "7日以内", "7天内", "ภายใน 7วัน": no word boundary after a unit in these scripts,
    # and "3月7日" / "3월 7일" are dates (the number follows a month)
    rf"|(?<![月월\d])(?<![月월]\s)(?P<cjk_num>\d+)\s?(?P<cjk_unit>{_CJK_UNIT})"
    # an age, unless a unit follows ("at least 7 days old" is a duration, not an age)
    r"|(?P<age>\b(?:under|over|aged?|at least|(?:under|over|above|below) the age of"
    # a minimum age as a label or a statement: "Minimum age: 13", "the minimum age to open
    # an account is 16", "Age requirement: 18", "an age limit of 18"
    r"|(?P<age_label>(?:(?:minimum|min\.|required|legal) age|age (?:requirement|limit|minimum))"
    r"(?P<age_for>\s(?:for|to) [^.:;\d]{1,60}?)?(?:\s(?:is|of)|:)?)"
    r")"
    r"\s(?P<age_n>\d{1,2})\b(?![,.]?\d)"
    r"(?!\s?-?(?:business|working|calendar|days?\b|hours?\b|hrs?\b|h\b|minutes?\b|mins?\b"
    r"|weeks?\b|months?\b|coins?\b|%|percent)))"
    # "18 or older", "16+", "13 years old", "13 years of age"
    r"|\b(?P<age2_n>\d{1,2})(?:\+|\s(?:or\s(?:older|over|above)|years?\s(?:old|of\sage))\b)",
    re.IGNORECASE,
)


def _mask_quantity(m: re.Match[str]) -> str:
    """A quantity masked out of a sentence's words, but not what a minimum age is for ("the
    minimum age to open an account is 16" keeps "open an account": the rule it sets)."""
    return f" ; {m.group('age_for')} ; " if m.group("age_for") else " ; "


def _number(text: str) -> float:
    """A number as written: digits with a thousands comma, or a small number word."""
    word = _NUMBER_WORDS.get(text.lower())
    return float(word) if word is not None else float(text.replace(",", ""))


def _plain(value: float) -> str:
    """``14.0`` as ``"14"``, ``2.5`` as ``"2.5"``: one spelling per number."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _money(currency: str, amount: str) -> str:
    """``"5 EUR"``, ``"€5.00"`` and ``"EUR 5"`` all as ``"€5"``; ``"€1,000"`` as ``"€1000"``
    (a thousands comma is no decimal point) and ``"€5,50"`` as ``"€5.50"``."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", amount):
        amount = amount.replace(",", "")
    value = float(amount.replace(",", "."))
    digits = f"{value:.2f}" if value != int(value) else str(int(value))
    return _CURRENCY[currency.lower()] + digits


def _match_value(m: re.Match[str]) -> tuple[str, str]:
    """The kind and the normalised value of one :data:`QUANTITY` match."""
    if m.group("email"):
        return "email", m.group("email").lower()
    if m.group("phone"):
        number = m.group("phone").replace("(0)", "")
        return "phone", ("+" if number.startswith("+") else "") + re.sub(r"\D", "", number)
    if m.group("date"):
        return "date", m.group("date")
    for prefix in ("dmy", "mdy"):
        if m.group(f"{prefix}_m"):
            month = _MONTHS.get(m.group(f"{prefix}_m").lower().rstrip(".")[:3])
            day, year = int(m.group(f"{prefix}_d")), m.group(f"{prefix}_y")
            return "date", f"{year}-{month or 0:02d}-{day:02d}"
    if m.group("cur"):
        return "money", _money(m.group("cur"), m.group("amount"))
    if m.group("amount2"):
        return "money", _money(m.group("cur2"), m.group("amount2"))
    if m.group("age"):
        # "at least 50 followers", "over 20 orders": a count, not an age; but "under 18
        # receive gifts" and "at least 18 years old" are ages
        noun = _noun_phrase(m.string[m.end() :], _number(m.group("age_n")))
        if noun and len(noun) == 1:
            return "count", _count_value(m.group("age_n"), None, noun)
        return "age", m.group("age_n")
    if m.group("age2_n"):
        return "age", m.group("age2_n")
    if m.group("cjk_num"):
        key = _CJK_UNITS[m.group("cjk_unit")]
        value = float(m.group("cjk_num")) * (7.0 if key == "week" else 1.0)
        return ("days" if key == "week" else _UNITS[key]), _plain(value)
    unit = re.sub(r"\s+", " ", m.group("unit").lower())
    if unit in _FOREIGN_UNIT_OF:
        unit = _FOREIGN_UNIT_OF[unit]
    key = unit.rstrip("s") if unit not in ("%", "hrs", "mins") else unit
    key = {"hr": "hr", "hrs": "hr", "mins": "min"}.get(key, key)
    scale = 7.0 if key == "week" else 1.0  # "two weeks" is "14 days", "3 weeks" is not
    high = _number(m.group("num")) * scale
    low_text = m.group("between") or m.group("low")
    low = _number(low_text) * scale if low_text else high
    kind = "days" if key == "week" else _UNITS.get(key, key)
    return kind, _plain(high) if low == high else f"{_plain(low)}-{_plain(high)}"


def quantities(text: str) -> dict[str, set[str]]:
    """Quantities by kind: ``{"days": {"14", "3-5"}, "money": {"$50"}, "date": {...}, ...}``.

    A range ("3 to 5 business days") is one value, ``"3-5"``: reading only its upper end made
    "3 to 5 days" and "5 days" look like the same statement, and "3 to 5" unlike "3-5". One
    value has one spelling, so that spellings never disagree: weeks count as days ("two weeks",
    "14 days"), amounts as symbol and number ("5 EUR", "€5.00": "€5"), dates as ISO ("1 April
    2026": "2026-04-01"), phone numbers as digits and e-mail addresses in lower case.
    """
    out: dict[str, set[str]] = {}
    for m in QUANTITY.finditer(text):
        kind, value = _match_value(m)
        out.setdefault(kind, set()).add(value)
    for _start, _end, value in _counts(QUANTITY.sub(_mask_quantity, text)):
        out.setdefault("count", set()).add(value)
    return out


# Counts of any countable noun ("at least 1,000 followers", "up to 3 pinned videos", "a maximum
# of five devices", "between 3 and 5 devices"), read after the kinds above took their numbers.
# An integer, not glued to other characters ("2.1", "17:00", "24/7", "3rd", "#12", "4-digit"),
# followed by a noun phrase in lower case: a heading ("3 Refunds") or a name ("Tier 3
# Creators") is no count.
_COUNT_NUMBER = rf"\d{{1,3}}(?:,\d{{3}})+|\d+|(?i:{_WORD_NUMBER})"
_COUNT = re.compile(
    rf"(?<![\w.,:/#§$€£+-])"
    rf"(?:(?i:between)\s(?P<between>{_COUNT_NUMBER})\s(?i:and)\s"
    rf"|(?P<low>{_COUNT_NUMBER})\s?(?:to|-|–|—)\s?)?"
    rf"(?P<num>{_COUNT_NUMBER})(?![\w%-]|[.,:/]\S)"
    r"(?:\s(?P<scale>thousand|million|billion)\b)?"
    r"(?:\sor\s(?:more|fewer|less|over|above|under|below)\b)?"
)
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9}
# Durations are kinds of their own, or an age ("18 years old"): never a count.
_TIME_NOUNS = {"year", "month", "week", "day", "hour", "minute"}
# Words that name a thing by its number ("section 4", "tier 2 agents", "top 10", "no. 5"): the
# number is a label, not a count.
_LABELS = set(
    "section sections step steps tier level levels version versions v chapter article art page "
    "pages p pp rule rules option phase stage priority part clause paragraph item items no no. "
    "nr nr. number num id ref ticket order case room line table figure fig appendix annex "
    "question grade category class type group day week month year round season episode lesson "
    "module unit batch wave generation top tab slide row column model release build port code "
    "gate floor ext extension form schedule exhibit § # sec sec. art. ch ch.".split()
)
# Words a noun phrase does not run through: articles, prepositions, modals and other verbs a
# count is often followed by.
_NOT_NOUN = set(
    "a an the this that these those and or but nor of to in on at by for from with within per "
    "into onto over under above below after before during until since than then as if when "
    "while where which who whom whose what is are was were be been being am do does did has "
    "have had can could may might must shall should will would cannot can't not no never each "
    "every any all some most less fewer other another such same only just also always "
    "often sometimes usually again once twice thus too very so its their his her our your my "
    "them they it he she we you us me i there here whereas unless except via "
    "perhaps afterwards towards besides news ago because although though whether together "
    "apart instead already still yet even ever later now today immediately automatically "
    "manually first".split()
)
# Words before a number that announce a count ("at least", "a maximum of", "up to", "exactly");
# a year-like number after one of them is a count ("up to 2000 followers"), unless the word
# also announces a time ("in 2026", "since 2025").
_COUNT_CUES = set(
    "least most to than maximum minimum max min exactly only about around approximately reach "
    "reaches reached need needs have has with over under above below of".split()
)
_YEAR_CUES = set("in since from until by before after during of the for".split())
# Modifiers that do not change what is counted ("3 more strikes" are strikes).
_NEUTRAL_MODIFIERS = {"more", "additional", "extra", "further", "total"}
_IRREGULAR_PLURALS = {"people": "person", "children": "child", "men": "man", "women": "woman"}
_IRREGULAR_SINGULARS = {v: k for k, v in _IRREGULAR_PLURALS.items()}
_NOUN_PHRASE = re.compile(r"\s+([a-z][a-z'-]*[a-z]|[A-Z]{2,})(?![\w])")


def _singular(word: str) -> str:
    """A noun's singular, for counts of one thing to meet ("1 device", "3 devices")."""
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(?:ss|x|ch|sh|zz)es$", word):
        return word[:-2]
    return word[:-1] if _plural(word) else word


def _plural(word: str) -> bool:
    """Whether a word looks like a plural noun ("followers", "replies", "people")."""
    return word in _IRREGULAR_PLURALS or (
        len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "'s"))
    )


def _plural_of(singular: str) -> str:
    """The plural written for a count other than one, so that one count has one spelling."""
    if singular in _IRREGULAR_SINGULARS:
        return _IRREGULAR_SINGULARS[singular]
    if re.search(r"[^aeiou]y$", singular):
        return singular[:-1] + "ies"
    if re.search(r"(?:s|x|ch|sh|z)$", singular):
        return singular + "es"
    return singular + "s"


def _noun_phrase(text: str, number: float) -> tuple[str, ...] | None:
    """The counted noun at the start of ``text``, with its modifiers, singular and in lower
    case (``("pinned", "video")`` for " pinned videos to their profile"); None when the
    number counts no noun ("3 to go", "9 am", "3 Refunds").

    Beyond one, the noun is the first plural among at most three words ("3 failed login
    attempts"); for one, the last word before a verb, article or preposition ("one login
    attempt per day"). A lower-case head only: a capitalised word names, it does not count."""
    words: list[str] = []
    pos = 0
    while len(words) < 3:
        m = _NOUN_PHRASE.match(text, pos)
        if not m or m.group(1).lower() in _NOT_NOUN:
            break
        word = m.group(1)
        if number != 1 and _plural(word) and word.islower():
            return _phrase(words, word)
        if number == 1 and words and (_plural(word) or word.endswith(("ed", "ly"))):
            break  # "one user goes", "1 device signed in": a verb or an adverb follows
        words.append(word)
        pos = m.end()
    if re.match(r"\s+[A-Z][a-z]", text[pos:]):
        return None  # "1 active Community Guidelines strike": a name goes on
    if number == 1 and words and words[-1].islower():
        return _phrase(words[:-1], words[-1])
    return None


def _phrase(modifiers: list[str], head: str) -> tuple[str, ...] | None:
    kept = [w if w.isupper() else w.lower() for w in modifiers if w not in _NEUTRAL_MODIFIERS]
    singular = _singular(head.lower())
    return None if singular in _TIME_NOUNS else (*kept, singular)


def _count_value(num: str, low: str | None, noun: tuple[str, ...], scale: float = 1) -> str:
    """``"1000 followers"``, ``"3-5 devices"``, ``"1 device"``: numbers as digits (a thousands
    comma, a number word and "1 million" read as numbers), the noun plural unless the count is
    one."""
    high = _number(num) * scale
    head = noun[-1] if high == 1 and low is None else _plural_of(noun[-1])
    amount = _plain(high) if low is None else f"{_plain(_number(low) * scale)}-{_plain(high)}"
    return " ".join((amount, *noun[:-1], head))


def _counts(text: str) -> list[tuple[int, int, str]]:
    """Each count in ``text`` (its other quantities masked): the span of its number(s) and
    its value. Not a count: a label's number ("section 4", "Tier 2 agents"), a year, a
    backwards range ("9 to 5")."""
    out = []
    for m in _COUNT.finditer(text):
        before = text[: m.start()].split()
        label = before[-1].lstrip("([{\"'*_") if before else ""
        cue = label.lower() in _NOT_NOUN or label.lower() in _COUNT_CUES
        if _names(label, " ".join(before[:-1])):
            continue  # "section 4", "Tier 3", "iOS 17", but "Send 3 reminders", "At least 5"
        num = m.group("num")
        if re.fullmatch(r"(?:19|20)\d\d", num) and not (cue and label.lower() not in _YEAR_CUES):
            continue  # "in 2026", but "at least 2000 followers"
        low = m.group("between") or m.group("low")
        if low is not None and _number(low) >= _number(num):
            continue
        scale = _SCALES[m.group("scale")] if m.group("scale") else 1.0
        noun = _noun_phrase(text[m.end() :], _number(num) * scale)
        if noun:
            out.append((m.start(), m.end(), _count_value(num, low, noun, scale)))
    return out


def _mask_counts(text: str) -> str:
    """``text`` with each count's number blanked and its noun kept: two sentences that differ
    only in a count say the same thing about another number of the same things."""
    for start, end, _value in reversed(_counts(text)):
        text = f"{text[:start]} {text[end:]}"
    return text


def _span(value: str) -> tuple[float, float] | None:
    """``"3-5"`` as (3, 5) and ``"14"`` as (14, 14), ``"3-5 devices"`` as (3, 5); None for a
    date, an amount of money or a team."""
    low, _, high = value.split(" ", 1)[0].partition("-")
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
    return sx is not None and sy is not None and _within(sx, sy)


def _within(sx: tuple[float, float], sy: tuple[float, float]) -> bool:
    """Whether two spans can both hold: equal, or a single number inside the other range."""
    if sx == sy:
        return True
    if sx[0] != sx[1] and sy[0] != sy[1]:
        return False
    return sx[0] <= sy[0] <= sy[1] <= sx[1] or sy[0] <= sx[0] <= sx[1] <= sy[1]


_HOURS_IN = {"days": 24.0, "hours": 1.0}  # durations read in either unit, compared in hours


def _durations(facts: dict[str, set[str]]) -> dict[str, tuple[float, float]]:
    """A sentence's durations as hours, by their spelling ("2 days", "48 hours"), when it
    states them in days or in hours, not both: "replies within 24 hours, refunds within 5
    days" states two things, which cannot be paired with one other duration."""
    kinds = [kind for kind in _HOURS_IN if kind in facts]
    if len(kinds) != 1:
        return {}
    kind, out = kinds[0], {}
    for value in facts[kind]:
        if span := _span(value):
            out[f"{value} {kind}"] = (span[0] * _HOURS_IN[kind], span[1] * _HOURS_IN[kind])
    return out


def _other_units(fa: dict[str, set[str]], fb: dict[str, set[str]]) -> tuple[set[str], set[str]]:
    """Durations one sentence states in days and the other in hours that disagree, as
    :func:`_conflicting` reads values of one unit: one SLA written "within 24 hours" and
    "within 2 days" was never compared (48 hours and "1 to 2 days" agree with 2 days)."""
    da, db = _durations(fa), _durations(fb)
    if not da or not db or set(fa) & set(fb) & set(_HOURS_IN):
        return set(), set()  # none, or in one unit: compared as that unit's values
    only_a = {x for x, sx in da.items() if not any(_within(sx, sy) for sy in db.values())}
    only_b = {y for y, sy in db.items() if not any(_within(sy, sx) for sx in da.values())}
    return (only_a, only_b) if only_a and only_b else (set(), set())


def _conflicting(va: set[str], vb: set[str], counts: bool = False) -> tuple[set[str], set[str]]:
    """The values each side states that the other does not, when the two really disagree.

    A sentence stating some of the other's values ("30 days" beside "30 days, and 45 days for
    CCPA") adds detail rather than contradicting it: only when both sides hold a value the
    other lacks do they disagree. Empty sets mean they agree. ``counts`` are compared only
    with counts of the same things (:func:`_same_things`): "3 videos" says nothing against
    "5 photos", nor "3 pinned videos" against "10 uploaded videos".
    """

    def lacks(x: str, other: set[str]) -> bool:
        rivals = [y for y in other if not counts or _same_things(x, y)]
        return bool(rivals) and not any(_agree(x, y) for y in rivals)

    only_a = {x for x in va if lacks(x, vb)}
    only_b = {y for y in vb if lacks(y, va)}
    return (only_a, only_b) if only_a and only_b else (set(), set())


def _same_things(x: str, y: str) -> bool:
    """Whether two counts count the same noun, one's modifiers all among the other's ("3 pinned
    videos" and "5 videos"; not "3 pinned videos" and "10 uploaded videos")."""
    *mx, hx = x.split()[1:]
    *my, hy = y.split()[1:]
    if _singular(hx) != _singular(hy):
        return False
    return set(mx) <= set(my) or set(my) <= set(mx)


# A word of letters in any script ("refund", "rückerstattung", "환불은"); a run of an unspaced
# script (Han, kana, Thai) is read as its character pairs, as keyword search reads it. Only
# a-z used to count: a German sentence was a handful of fragments ("ckerstattungen") and a
# Japanese one no word at all, so no two of them ever said the same thing.
_WORDS = re.compile(r"[^\W\d_](?:[^\W\d_]|['-])+|[^\W\d_]")
_STOP = set(
    "the and for are with that this from not any all can will must have has been their they "
    "you your our its into per than then when within after before under over at least".split()
)
# The same little words in German, French, Spanish, Portuguese, Italian and Dutch (accents
# folded; none an English word, so English sentences read as before): two sentences sharing
# only these say nothing alike.
_STOP_OTHER = set(
    "der das dem des und oder ein eine einen einem einer ist sind wird werden von mit fur "
    "uber auf bei nach innerhalb nicht kann konnen muss mussen les une est sont pour dans "
    "avec sur qui que peut doivent doit aux los las del una por para puede pueden debe "
    "deben como das uma com pode podem deve devem nao sao gli della delle degli nel puo "
    "possono devono het een van voor met niet moet worden zijn".split()
)


def _content_words(masked: str) -> list[str]:
    """Lower-cased ``masked``'s content words: ASCII words as before (stop words and words of
    two letters out, :func:`_fold` applied), other words accent-folded, unspaced runs as pairs."""
    out = []
    for word in _WORDS.findall(masked):
        if word.isascii():
            if word not in _STOP and word not in _STOP_OTHER and len(word) > 2:
                out.append(_fold(word))
            continue
        for part in split_unspaced(folded(word)):
            if not part.isascii():
                out.append(part)  # a Han, kana, Hangul or Thai pair, an Arabic word...
            elif part not in _STOP_OTHER and part not in _STOP and len(part) > 2:
                out.append(_fold(part))
    return out


# A document's own bookkeeping line ("Version 1.1 | Effective 2026-04-20 | Review by ...",
# "Published: ...") differs between any two documents; it is metadata, not a statement to
# compare. A sentence that only uses the word ("before it can be published") is a rule.
_BOOKKEEPING = re.compile(
    r"\b(?:version|effective|review(?:ed)? by|last (?:updated|reviewed)|owner:"
    r"|(?:first |last )?published(?:\s*:|\s+(?:on|in)\b))",
    re.IGNORECASE,
)

# Sentences end at . ! ? or ; before a space. A single newline is mostly a line wrap (PDF text,
# hard-wrapped Markdown), so it joins; list items, table rows, headings and short label-like
# lines (table cells, field names) stand on their own.
_SENTENCE_END = re.compile(
    r"(?<=[.!?;\u061f])\s+|(?<=[\u3002\uff01\uff1f])\s*"
)  # 。！？ need no space
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_BLOCK_START = re.compile(r"(?:[-*•+]\s|\d{1,2}[.)]\s|#|\||>)")
_ENDS = (".", "!", "?", ";", "\u061f", "\u3002", "\uff01", "\uff1f")
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
            line.startswith(("|", "#")) or " | " in line or line.endswith(_ENDS)
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


_CLAUSE = re.compile(r",\s(?:and|but|while|whereas)\s", re.IGNORECASE)
_CLAUSE_OVERLAP = 0.6


def _statements(text: str) -> list[tuple[str, bool]]:
    """Sentences, and the clauses of a sentence that joins two rules ("16 or older to go live,
    and 18 or older to receive gifts"): one clause can contradict another passage while the
    whole sentence, stating both values, looks like it only adds detail. A clause, shorter,
    must share more of its words (:data:`_CLAUSE_OVERLAP`) to say the same as another."""
    out = []
    for sentence in sentences(text):
        if _BOOKKEEPING.search(sentence):
            continue
        out.append((sentence, False))
        clauses = [c.strip() for c in _CLAUSE.split(sentence) if c.strip()]
        out += [(c, True) for c in clauses] if len(clauses) > 1 else []
    return out


def _words(sentence: str) -> set[str]:
    """Content words, quantities and team names left out: two sentences that differ only in
    those say the same thing about different values."""
    masked = _mask_counts(QUANTITY.sub(_mask_quantity, _TEAM.sub(_mask_team, sentence))).lower()
    return set(_content_words(masked))


# "Tier 1", "section 4.2", "Step 2", "iOS 17": a number that names a thing, not a value.
_LABELLED = re.compile(r"(?<![\w.])([A-Za-z][\w.]*)\s#?(\d+(?:\.\d+)*)\b(?![.,]\d)")


def _labels(sentence: str) -> frozenset[tuple[str, str]]:
    """The numbered names in a sentence (``("tier", "1")``), its other quantities masked."""
    masked = QUANTITY.sub(_mask_quantity, sentence)
    return frozenset(
        (m.group(1).lower(), m.group(2))
        for m in _LABELLED.finditer(masked)
        if _names(m.group(1), masked[: m.start()])
    )


def _names(word: str, before: str) -> bool:
    """Whether ``word`` before a number names a thing by that number: a label word ("section
    4", "tier 2") or a name ("Windows 10", "iOS 17", "Level 3" inside a sentence); not a
    capitalised first word ("Send 3 reminders") nor a word that announces a count ("At least 5",
    "Up to 3")."""
    low = word.lower()
    if low in _LABELS:
        return True
    if low == word or low in _NOT_NOUN or low in _COUNT_CUES:
        return False
    first = not before.strip() or bool(re.search(r"(?:[.!?:;]|^\s*[-*•+]|\d[.)])\s*$", before))
    return not first or any(c.isupper() for c in word[1:])


def _other_labels(la: frozenset[tuple[str, str]], lb: frozenset[tuple[str, str]]) -> bool:
    """Whether two sentences name other numbers of one name: "Tier 1 agents can approve refunds
    up to €50" and "Tier 2 agents ... €200" are two tiers' rules, not one rule stated twice,
    and "Step 1: ask for 2 documents" is another step than "Step 2: ask for 3"."""
    names = {name for name, _ in la} & {name for name, _ in lb}
    return any(
        not {n for x, n in la if x == name} & {n for x, n in lb if x == name} for name in names
    )


# "escalate ... to the Payments Risk team", "route the ticket to Trust & Safety": the team a case
# goes to, as a capitalised name (a lower-case "to the seller" is no team).
_TEAM = re.compile(
    r"(?i:\b(?:escalat(?:e|ed|es)|rout(?:e|ed|es)|transfer(?:red|s)?|forward(?:ed|s)?"
    r"|assign(?:ed|s)?|refer(?:red|s)?|hand(?:ed)?\s(?:\w+\s)?over)\b)"
    r"[^.;:!?]{0,60}?\sto\s(?:the\s)?"
    r"(?P<team>[A-Z][\w&-]*(?:\s(?:and\s)?[A-Z0-9&][\w&-]*)*)(?:\s(?:team|queue|desk)\b)?"
)


# The words of routing itself: two sentences sharing only these name no common case.
_ROUTING = set(
    "escalate escalated route routed transfer transferred forward forwarded assign assigned "
    "refer referred hand handed ticket case tag queue team desk tier them well immediately".split()
)  # words as :func:`_words` folds them ("tickets": "ticket")


def _mask_team(m: re.Match[str]) -> str:
    return m.string[m.start() : m.start("team")] + " "


def _teams(sentence: str) -> set[str]:
    """The teams a sentence sends cases to ("Trust and Safety" spelt "Trust & Safety")."""
    return {m.group("team").replace(" and ", " & ") for m in _TEAM.finditer(sentence)}


def _facts(sentence: str) -> dict[str, set[str]]:
    """What a sentence states that another could contradict: its quantities and teams."""
    facts = quantities(sentence)
    teams = _teams(sentence)
    if teams:
        facts["team"] = teams
    return facts


# A rule and its negation: "must" / "must not", "are allowed" / "are not allowed", "can" /
# "cannot". Only sentences with a modal are rules; a negation at a modal flips one.
_NEGATIONS = set(
    "not never cannot can't mustn't shouldn't don't doesn't isn't aren't won't without".split()
)
_MODALS = set("must mustn't may can cannot can't should shouldn't shall".split()) | set(
    "allowed permitted required eligible able possible".split()
)
_DEONTIC = re.compile(rf"\b(?:{'|'.join(sorted(_MODALS, key=len, reverse=True))})\b", re.IGNORECASE)
# What negates a modal next to it: "must not", "can never", "are not allowed", "cannot".
# "without a receipt", "not as described" or ", and never to minors" elsewhere in the
# sentence qualify what the rule is about; counted as negations, they made "can refund coins
# without a receipt" the negation of "can refund coins with a receipt".
_MODAL_NEGATIONS = set("not never cannot can't mustn't shouldn't isn't aren't".split())
_RULE_PHRASE = re.compile(
    r"\b(?:(?:(?:is|are)(?:\s(?:not|never|no\slonger))?|isn't|aren't)\s(?:allowed|permitted"
    r"|required|eligible|able|unable|possible|impossible)"
    r"|(?:must|mustn't|may|cannot|can't|can|should|shouldn't|shall)(?:\s(?:not|never))?"
    r"\s(?:be\s)?[a-z]+)",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[a-z']+")
_SAME_RULE = 0.8  # Jaccard overlap of two rules' words: the same action, not a similar one


def _negated(sentence: str) -> bool | None:
    """Whether a rule is negated (an odd number of negations at its modals, emphasis such as
    "also" or "always" skipped); None for no rule."""
    if not _DEONTIC.search(sentence):
        return None
    tokens = [t for t in _TOKEN.findall(sentence.lower()) if t not in _EMPHASIS]
    near = {j for i, t in enumerate(tokens) if t in _MODALS for j in (i - 1, i, i + 1)}
    return sum(tokens[j] in _MODAL_NEGATIONS for j in near if 0 <= j < len(tokens)) % 2 == 1


def _negations(text: str) -> int:
    return sum(t in _NEGATIONS for t in _TOKEN.findall(text.lower()))


# A condition or exception a rule holds under ("when a parcel is late", "unless the user asks",
# "If the order is late, ..."): it runs from its word to the next comma or the sentence end. Two
# rules under different conditions (or one under a condition the other lacks) can both hold.
_CONDITION = re.compile(
    r"\b(?:unless|except|excluding|if|when|whenever|while|where|provided|providing|once|until"
    r"|only\s(?:if|when|after|before|with|for|by|once|until|while|where|through|via|in)"
    r"|after|before|as long as)\b(?:(?!\s(?:so that|so as to|in order to|because)\b)[^,;:])*",
    re.IGNORECASE,
)
# A purpose or reason a rule adds ("to verify the account", "so that ...", "in order to ...",
# "because ..."): it runs to the sentence end and does not change what the rule says.
_PURPOSE = re.compile(
    r"(?:,\s*|\s)(?P<marker>in order to|so as to|so that|because|to"
    # "..., for copyright reasons", "..., as they are handled elsewhere": reasons too
    r"|for(?=\s(?:[\w-]+\s){0,3}reasons?\b)|(?<=,\s)as(?=\s(?:they|it|this|these|those|that)\b))"
    r"\s(?P<next>[\w']+)",
    re.IGNORECASE,
)
# "To verify the account, agents should ...": a purpose before the rule, up to its comma.
_LEADING_PURPOSE = re.compile(
    r"\s*(?:(?:in order|so as) to|so that|because|to(?=\s(?P<verb>[a-z]+)\b))\s[^,;:]*,\s*",
    re.IGNORECASE,
)
# "allowed to list", "need to", "remember to": the infinitive is the rule's own verb phrase.
_TAKES_INFINITIVE = set(
    "allowed permitted required able unable eligible need needs have has had want wants try "
    "going expected supposed used ought asked told encouraged forced obliged obligated likely "
    "free due how what whether remember forget continue start stop begin refuse agree offer "
    "choose decide fail fails hesitate accept accepts".split()
)
# "ask the user to confirm", "tell them to wait": the infinitive says what the object is to do.
_OBJECT_INFINITIVE = set(
    "ask tell require remind instruct advise encourage invite allow permit force help enable "
    "get urge prompt direct expect want need let make teach request persuade pressure convince "
    "warn order authorise authorize".split()
)
_PREPOSITIONS = set("for with from about in on at by of through via into during".split())
# Words after "to" that are no verb ("to people", "to someone"): the "to" is a preposition.
_NOT_VERB = _NOT_NOUN | set(
    "people someone anyone everyone nobody somebody anybody everybody staff police children "
    "support law legal finance whoever".split()
)


def _verb_like(word: str) -> bool:
    """Whether a word after "to" reads as a verb ("to verify"), not as the start of a noun
    phrase ("to the seller", "to buyers", "to Trust & Safety") or an adverb ("to yearly")."""
    return (
        word.isalpha()
        and word.islower()
        and word not in _NOT_VERB
        and not word.endswith(("s", "ed", "ing", "ly"))
    )


class _Rule(NamedTuple):
    """A rule's parts: its conditions, its core (conditions and any added purpose left out),
    the core's polarity and whether a purpose was added."""

    conditions: frozenset[str]
    core: frozenset[str]
    negated: bool | None
    purpose: bool


_EMPHASIS = {"alway", "always", "also", "still", "really", "strictly", "every", "each"}


def _rule_parts(sentence: str) -> _Rule:
    """The parts of a rule that two sentences must share to state one rule, for
    :func:`_opposite_rules`. A negation inside a condition ("if the item is not delivered")
    belongs to the condition, not to the rule."""
    conditions = [c.group(0) for c in _CONDITION.finditer(sentence)]
    cond_words = {w for c in conditions for w in _words(c)}
    if sum(_negations(c) for c in conditions) % 2:
        cond_words.add("¬")
    core = _CONDITION.sub(" ", sentence)
    lead = _LEADING_PURPOSE.match(core)
    if lead and lead.group("verb") and not _verb_like(lead.group("verb")):
        lead = None  # "To users, say ...": whom, not what for
    core = core[lead.end() :] if lead else core
    cut = _purpose_start(core)
    core = core[:cut] if cut is not None else core
    purpose = bool(lead) or cut is not None
    # "must always tell" states the rule of "must tell", "escalate every report" that of
    # "escalate reports": emphasis and quantifiers add no action
    words = frozenset(w for w in _words(core) if w not in _EMPHASIS)
    return _Rule(frozenset(cond_words), words, _negated(core), purpose)


def _purpose_start(text: str) -> int | None:
    """Where an added purpose or reason begins, after the rule's verb and its object; None for
    no purpose. "Agents should ask the user for their password to verify the account" adds one;
    "Sellers are allowed to list phones", "Agents should ask the user to confirm" and "Hosts
    must be 18 or older to receive gifts" (what the requirement is for) do not."""
    modal = _DEONTIC.search(text)
    if not modal:
        return None
    for m in _PURPOSE.finditer(text, modal.end()):
        if m.group("marker").lower() != "to":
            return m.start()
        between = [
            w for w in _TOKEN.findall(text[modal.end() : m.start()].lower()) if w not in _NEGATIONS
        ]
        if between[:1] in (["be"], ["have"]):
            return None  # a requirement for what follows, not a purpose added to an action
        if len(between) < 2 or between[-1] in _TAKES_INFINITIVE:
            continue  # "must remember to", "are allowed to": the rule's own verb phrase
        if _object_infinitive(between):
            continue  # "ask the user to confirm": what the user is asked to do
        if _verb_like(m.group("next")):
            return m.start()
    return None


def _object_infinitive(words: list[str]) -> bool:
    """Whether the words before a "to" end in a verb that takes an object and an infinitive
    and its short object ("ask the user", "or ask buyers"), with no preposition between."""
    for i in range(len(words) - 1, -1, -1):
        stem = words[i][:-3] if words[i].endswith("ing") else words[i]  # "asking"
        if {stem, stem + "e", words[i]} & _OBJECT_INFINITIVE:
            tail = words[i + 1 :]
            return 0 < len(tail) <= 3 and not _PREPOSITIONS & set(tail)
    return False


# "to go LIVE", "to receive gifts": what a value is needed or allowed for ("up to 3" is none).
_AIM = re.compile(r"(?<!\bup\s)(?<!\bUp\s)\bto\s([a-z]+)\b")


def _aims(sentence: str) -> frozenset[str]:
    """The actions a sentence's values are for: "1,000 followers to go LIVE" and "5,000
    followers to use LIVE Studio" are two requirements, not one stated twice."""
    masked = QUANTITY.sub(_mask_quantity, sentence)  # "to privacy@example.com" is no action
    return frozenset(v for v in _AIM.findall(masked) if _verb_like(v) and v not in _NUMBER_WORDS)


def _rule(sentence: str) -> str:
    """The words that carry a rule's polarity ("must not share"), to show what disagrees
    (an apostrophe as ASCII: "can’t refund" as "can't refund")."""
    m = _RULE_PHRASE.search(sentence.replace("\u2019", "'"))
    return m.group(0).lower() if m else sentence


# Market codes a sentence is about ("MX: the window is 15 days", "(19 in KR)"): the same rule
# for two different markets may rightly state two different numbers.
_MARKET = re.compile(r"\b[A-Z]{2}\b")


_MARKET_NAMES = {
    "germany": "DE", "france": "FR", "spain": "ES", "italy": "IT", "netherlands": "NL",
    "poland": "PL", "ireland": "IE", "united kingdom": "GB", "britain": "GB", "uk": "GB",
    "united states": "US", "usa": "US", "canada": "CA", "brazil": "BR", "mexico": "MX",
    "indonesia": "ID", "malaysia": "MY", "philippines": "PH", "thailand": "TH",
    "vietnam": "VN", "singapore": "SG", "japan": "JP", "south korea": "KR", "korea": "KR",
    "india": "IN", "australia": "AU", "turkey": "TR", "saudi arabia": "SA",
}  # fmt: skip
_MARKET_NAME = re.compile(
    r"\b(?:" + "|".join(sorted(_MARKET_NAMES, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


def _markets(sentence: str) -> set[str]:
    """Market codes a sentence names, by code ("KR") or by name ("South Korea")."""
    named = {_MARKET_NAMES[m.lower()] for m in _MARKET_NAME.findall(sentence)}
    return set(_MARKET.findall(sentence)) | named


def _fold(word: str) -> str:
    """A plural and its singular count as one word ("refunds", "refund"), and so do a verb's
    forms ("file", "filed", "filing"; "close", "closed"): "must be filed within 30 days" and
    "must file the appeal within 14 days" state one rule, and met too few words unfolded."""
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word[:-1] if len(word) > 3 and word.endswith("e") else word


_PROSE_WORDS = 5  # fewer words than this is a label or a fragment, not a sentence


def _prose(sentence: str) -> bool:
    """A full sentence of running text: not a table row, heading or short label-like fragment
    ("| Permanent ban | 7 days |", "30-day account suspension;")."""
    text = sentence.strip()
    return (
        not text.startswith(("|", "#"))
        and text.endswith(_ENDS)  # a clause cut at ";" is running text too
        # a run of Han, kana or Thai counts its character pairs: it has no spaces to count
        and sum(len(split_unspaced(w)) for w in re.findall(r"\w+", text)) >= _PROSE_WORDS
    )


def _same_statement(
    wa: frozenset[str] | set[str],
    wb: frozenset[str] | set[str],
    min_overlap: float,
    min_shared: int,
    prose: bool = False,
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


class _Statement(NamedTuple):
    """One sentence or clause, parsed once: the parts :func:`disagreements` compares."""

    text: str
    clause: bool
    words: frozenset[str]
    markets: frozenset[str]
    facts: dict[str, set[str]]
    prose: bool
    rule: _Rule
    aims: frozenset[str]
    labels: frozenset[tuple[str, str]]


@lru_cache(maxsize=8192)
def _parsed(text: str) -> tuple[_Statement, ...]:
    """A passage's statements, parsed once per passage rather than once per pair it is in
    (a passage meets hundreds of others on a low similarity bar)."""
    return tuple(
        _Statement(
            s, clause, frozenset(_words(p)), frozenset(_markets(p)), _facts(p), _prose(p),
            _rule_parts(p), _aims(p), _labels(p),
        )
        for s, clause in _statements(text)
        for p in [_as_read(s)]
    )  # fmt: skip


# How a changed rule says "not" in other words: "are no longer allowed", "unable to",
# "impossible to" (read as "not allowed", "not able", "not possible").
_OTHER_NEGATIONS = re.compile(r"\bno longer\b|\b(?:un(?=able\b)|im(?=possible\b))", re.IGNORECASE)


def _as_read(sentence: str) -> str:
    """The sentence as its rule is read: typographic apostrophes as ASCII ones (Word and most
    editors write "can’t", which read as "can" and "t" lost the rule's negation), and "no
    longer", "unable" and "impossible" as "not ...", which were not read as rules at all."""
    plain = sentence.replace("\u2019", "'")
    return _OTHER_NEGATIONS.sub(lambda m: "not" if " " in m.group(0) else "not ", plain)


def disagreements(
    a: str, b: str, min_overlap: float = 0.4, min_shared: int = 3
) -> dict[str, list[list[str]]]:
    """Values that really differ between sentences saying the same thing in ``a`` and ``b``.

    Two sentences say the same thing when :func:`_same_statement` holds for their words,
    quantities and teams masked, and they name no different actions their values are for
    (:func:`_aims`); they disagree on a kind of quantity (or on the ``team`` a case goes to)
    when each states a value of it the other does not (a subset, or a value inside the other's
    range, is agreement; a ``count`` meets only counts of the same noun). Two rules with nearly
    all words of their cores in common, under the same conditions, disagree on ``rule`` when
    one is negated and the other not ("must" / "must not"; :func:`_opposite_rules`).
    Returns ``{kind: [values only in a, values only in b]}``.
    """
    return compare(a, b, min_overlap, min_shared)[0]


def compare(
    a: str, b: str, min_overlap: float = 0.4, min_shared: int = 3
) -> tuple[dict[str, list[list[str]]], list[tuple[str, str]]]:
    """:func:`disagreements`, and the (sentence of ``a``, sentence of ``b``) pairs that
    disagree, in reading order: a manager acts on the sentences, not on two whole passages
    that hold several values each."""
    found: dict[str, list[set[str]]] = {}
    pairs: list[tuple[str, str]] = []
    for sa in _parsed(a):
        for sb in _parsed(b):
            if sa.markets and sb.markets and not sa.markets & sb.markets:
                continue  # the same rule for different markets
            if _other_labels(sa.labels, sb.labels):
                continue  # the same rule for another tier, section or step
            prose = sa.prose and sb.prose
            overlap = max(min_overlap, _CLAUSE_OVERLAP) if sa.clause or sb.clause else min_overlap
            differ = False
            if (
                sa.facts
                and sb.facts
                and not (sa.aims and sb.aims and not sa.aims & sb.aims)
                and _same_statement(sa.words, sb.words, overlap, min_shared, prose)
            ):
                for kind in set(sa.facts) & set(sb.facts):
                    if kind == "team" and not _same_case(sa.words, sb.words, overlap):
                        continue
                    if kind == "count" and not _same_count_case(sa, sb, overlap, min_shared):
                        continue
                    if kind == "count" and _floor_below_ceiling(sa, sb):
                        continue
                    va, vb = sa.facts[kind], sb.facts[kind]
                    differ |= _add(found, kind, *_conflicting(va, vb, counts=kind == "count"))
                if prose:  # a table row or fragment ("| 2 | 24-hour restriction") is a tier
                    differ |= _add(found, "duration", *_other_units(sa.facts, sb.facts))
            if prose and _opposite_rules(sa, sb, min_shared):
                differ |= _add(found, "rule", {_rule(sa.text)}, {_rule(sb.text)})
            if differ and (sa.text, sb.text) not in pairs:
                pairs.append((sa.text, sb.text))
    values = {
        kind: [sorted(va, key=_order), sorted(vb, key=_order)]
        for kind, (va, vb) in sorted(_only_one_side(found).items())
    }
    return values, pairs


def _only_one_side(found: dict[str, list[set[str]]]) -> dict[str, list[set[str]]]:
    """Each kind's values less those both sides list: tiers that moved up a row (1,000 then
    5,000 followers, against 5,000 then 10,000) listed 5,000 as stated "only" by each side.
    Kept when that would empty a side (two rows swapped: 3 and 5 days, against 5 and 3)."""
    out: dict[str, list[set[str]]] = {}
    for kind, (va, vb) in found.items():
        both = va & vb
        out[kind] = [va - both, vb - both] if va - both and vb - both else [va, vb]
    return out


def _same_case(wa: frozenset[str], wb: frozenset[str], min_overlap: float) -> bool:
    """Whether two routing sentences name the same case, not only the same routine ("transfer
    the ticket to the LERT queue" and "... to the Guardian queue" are two cases' steps)."""
    ca, cb = wa - _ROUTING, wb - _ROUTING
    shared = len(ca & cb)
    return shared >= 2 and shared / len(ca | cb) >= min_overlap


_COUNT_SHARED = 2  # words besides the counted noun two counting sentences must share


def _same_count_case(sa: _Statement, sb: _Statement, min_overlap: float, min_shared: int) -> bool:
    """Whether two sentences counting things say the same about them once the counted nouns
    are left out: sharing the noun is what makes two counts comparable, not evidence that two
    sentences state one rule ("8 to 20 characters, with at least one letter" for a password and
    "2 to 24 characters: letters, numbers" for a username). One other word in common is too
    little, even when it is all either says ("Accounts with 1 million or more followers" and
    "the account has at least 1,000 followers")."""
    counted = _counted_words(sa.facts["count"] | sb.facts["count"])
    wa, wb = sa.words - counted, sb.words - counted
    return len(wa & wb) >= _COUNT_SHARED and _same_statement(
        wa, wb, min_overlap, min_shared, sa.prose and sb.prose
    )


_FLOOR = re.compile(
    r"\b(?:at least|a minimum of|minimum of|min\.?|no fewer than|no less than|more than)\s"
    r"|\bor more\b",
    re.IGNORECASE,
)
_CEILING = re.compile(
    r"\b(?:up to|at most|a maximum of|maximum of|max\.?|no more than|not more than|fewer than"
    r"|less than)\s|\bor (?:fewer|less)\b",
    re.IGNORECASE,
)


def _bound(sentence: str) -> str | None:
    """Whether a sentence's counts are a floor ("at least 3 photos"), a ceiling ("up to 9
    photos") or neither (both cues, or none: an exact number)."""
    floor, ceiling = bool(_FLOOR.search(sentence)), bool(_CEILING.search(sentence))
    return "floor" if floor and not ceiling else "ceiling" if ceiling and not floor else None


def _floor_below_ceiling(sa: _Statement, sb: _Statement) -> bool:
    """Whether one sentence sets a floor and the other a ceiling that leaves room above it:
    "needs at least 3 photos" and "can show up to 9 photos" are two limits of one rule, not
    two answers to one question (a floor above the ceiling still conflicts)."""
    bounds = {_bound(sa.text): sa.facts["count"], _bound(sb.text): sb.facts["count"]}
    if set(bounds) != {"floor", "ceiling"}:
        return False
    return all(
        _span(low)[0] <= _span(high)[1]  # type: ignore[index]
        for low in bounds["floor"]
        for high in bounds["ceiling"]
        if _same_things(low, high) and _span(low) and _span(high)
    )


def _counted_words(values: set[str]) -> set[str]:
    """The counted nouns of count values, spelt as :func:`_words` spells words."""
    heads = {_singular(value.split()[-1].lower()) for value in values}
    return {_fold(w) for head in heads for w in (head, _plural_of(head))}


def _add(found: dict[str, list[set[str]]], kind: str, only_a: set[str], only_b: set[str]) -> bool:
    """Record values each side holds alone; whether there were any."""
    if only_a and only_b:
        entry = found.setdefault(kind, [set(), set()])
        entry[0] |= only_a
        entry[1] |= only_b
        return True
    return False


def _opposite_rules(sa: _Statement, sb: _Statement, min_shared: int) -> bool:
    """Whether two sentences state one rule, about one action, once negated and once not.

    The rules must hold under the same conditions: an exception or condition one side adds
    ("unless the user asks") can make both true. A purpose or reason one side adds ("to verify
    the account") does not: the other side's words must then all be in that side's core.
    """
    ra, rb = sa.rule, sb.rule
    if ra.negated is None or rb.negated is None or ra.negated == rb.negated:
        return False
    if ra.conditions != rb.conditions:
        return False
    if ra.purpose != rb.purpose:
        plain, added = (ra, rb) if rb.purpose else (rb, ra)
        wa, wb = plain.core - _NEGATIONS, added.core - _NEGATIONS
        if not wa <= wb:
            return False
    else:
        wa, wb = sa.words - _NEGATIONS - _EMPHASIS, sb.words - _NEGATIONS - _EMPHASIS
    shared = len(wa & wb)
    return shared >= min_shared and shared / len(wa | wb) >= _SAME_RULE


def _order(value: str) -> tuple[float, str]:
    span = _span(value)
    return (span[0] if span else 0.0, value)


def _related(doc_a: dict[str, Any], doc_b: dict[str, Any]) -> bool:
    """Whether one document is a version of the other (supersedes / superseded_by)."""
    ma, mb = doc_a.get("metadata", {}), doc_b.get("metadata", {})
    return doc_b["doc_id"] in (ma.get("superseded_by"), ma.get("supersedes")) or doc_a[
        "doc_id"
    ] in (mb.get("superseded_by"), mb.get("supersedes"))


def _retired(retired: Collection[str], *docs: dict[str, Any]) -> bool:
    """Whether any of the documents is a superseded version (expected to be out of date): one
    of ``retired``, or marked superseded."""
    return any(
        d["doc_id"] in retired or d.get("metadata", {}).get("status") == "superseded" for d in docs
    )


PAIR_BLOCK = 512  # rows of the similarity matrix computed at a time: memory n x 512, not n x n
MAX_PAIRS = 2_000_000  # candidate pairs one request may compare (each a sentence-level check)


def similar_pairs(
    vectors: np.ndarray, min_similarity: float, deadline: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, cosine) of every pair of rows i < j at least ``min_similarity`` alike, most alike
    first (cosine to 3 decimals, as reported; then i, then j).

    Computed a block of rows at a time: the whole matrix of 100k passages would take 40 GB.
    Raises InvalidQueryError past MAX_PAIRS (the threshold is too low for this many passages)
    and DeadlineExceeded past ``deadline`` (a ``time.monotonic()`` value).
    """
    v = np.asarray(vectors, dtype=np.float32)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    found_i, found_j, found_s, total = [], [], [], 0
    for start in range(0, len(v), PAIR_BLOCK):
        _in_time(deadline)
        block = v[start : start + PAIR_BLOCK] @ v[start:].T  # columns: rows start.. onwards
        rows, cols = np.nonzero(block >= min_similarity)
        later = cols > rows  # each unordered pair once, never a passage with itself
        rows, cols = rows[later], cols[later]
        total += len(rows)
        if total > MAX_PAIRS:
            raise InvalidQueryError(
                f"more than {MAX_PAIRS:,} pairs of passages are at least {min_similarity:g} "
                "alike: ask with a higher min_similarity",
                "min_similarity",
            )
        found_i.append(rows + start)
        found_j.append(cols + start)
        found_s.append(block[rows, cols])
    if not found_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    ii, jj, ss = np.concatenate(found_i), np.concatenate(found_j), np.concatenate(found_s)
    order = np.lexsort((jj, ii, -np.round(ss.astype(np.float64), 3)))
    return ii[order], jj[order], ss[order]


def _in_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise DeadlineExceeded(
            "looking for conflicts took longer than the request deadline; ask with a higher "
            "min_similarity"
        )


def find_conflicts(
    chunks: list[dict[str, Any]],
    vectors: np.ndarray,
    documents: list[dict[str, Any]],
    min_similarity: float = 0.5,
    limit: int = 100,
    include_versions: bool = False,
    retired: Collection[str] = (),
    deadline: float | None = None,
    section_of: Callable[[str, int], list[str] | None] | None = None,
) -> list[dict[str, Any]]:
    """Pairs of similar passages from different documents whose quantities differ, the most
    alike first, at most ``limit``; with the first pair of sentences that disagree
    (``sentence_a``, ``sentence_b``; every pair in ``sentences``, their sections in
    ``sections``), each side's section named where its sentence stands
    (``section_of(doc_id, offset)``, the document's heading path there: a passage can span
    several sections, and its first heading named the wrong one).

    ``retired``: ids of versions a newer one has taken over from (``insights.gaps.superseded``,
    the rule search follows); like versions of one policy, they are left out unless
    ``include_versions``. A version only its successor's ``supersedes`` names is one of them.
    ``deadline`` (``time.monotonic()``): past it, DeadlineExceeded (see :func:`similar_pairs`).
    """
    if len(chunks) < 2:
        return []
    docs = {d["doc_id"]: d for d in documents}
    doc_of = np.array([c["doc_id"] for c in chunks])
    ii, jj, ss = similar_pairs(vectors, min_similarity, deadline)
    out: list[dict[str, Any]] = []
    for n, (i, j, sim) in enumerate(zip(ii.tolist(), jj.tolist(), ss.tolist(), strict=True)):
        if len(out) == limit:
            break
        if n % 256 == 0:
            _in_time(deadline)
        a, b = chunks[i], chunks[j]
        if doc_of[i] == doc_of[j]:
            continue
        da, db = docs.get(a["doc_id"]), docs.get(b["doc_id"])
        if da and db and not include_versions and (_related(da, db) or _retired(retired, da, db)):
            continue
        differ, pairs = compare(a["text"], b["text"])
        if not differ:
            continue
        first_a, first_b = pairs[0] if pairs else ("", "")
        # each pair's own sections: a short policy is one passage of several sections, and
        # the first pair's section named an age that differs two sections further down
        sections = [
            [" > ".join(_section(a, sa, section_of)), " > ".join(_section(b, sb, section_of))]
            for sa, sb in pairs or [("", "")]
        ]
        out.append(
            {
                "similarity": round(float(sim), 3),
                "doc_a": a["doc_id"],
                "title_a": da["title"] if da else "",
                "section_a": sections[0][0],
                "sentence_a": first_a,
                "text_a": a["text"],
                "doc_b": b["doc_id"],
                "title_b": db["title"] if db else "",
                "section_b": sections[0][1],
                "sentence_b": first_b,
                "text_b": b["text"],
                "differences": differ,
                "sentences": [list(pair) for pair in pairs],
                "sections": sections[: len(pairs)],
            }
        )
    return out


def _path(chunk: dict[str, Any]) -> list[str]:
    value = chunk.get("heading_path") or []
    return json.loads(value) if isinstance(value, str) else list(value)


def _section(
    chunk: dict[str, Any],
    sentence: str,
    section_of: Callable[[str, int], list[str] | None] | None,
) -> list[str]:
    """The heading path where ``sentence`` stands in its document, else the passage's."""
    at = _offset(chunk["text"], sentence) if sentence and section_of else -1
    if at >= 0 and "start" in chunk:
        found = section_of(chunk["doc_id"], int(chunk["start"]) + at)
        if found:
            return found
    return _path(chunk)


def _offset(text: str, sentence: str) -> int:
    """Where ``sentence`` starts in ``text``: as written, or by its first words where the
    sentence was read with a wrapped line joined (-1: not found)."""
    at = text.find(sentence)
    if at < 0:
        first = " ".join(sentence.split()[:4])
        at = text.find(first) if first else -1
    return at
