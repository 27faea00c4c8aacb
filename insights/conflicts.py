"""Near-duplicate passages in different documents that disagree (pure: arrays and rows in).

Two passages conflict when their embeddings are close (they talk about the same thing) and a
value of the same kind really differs: a number of days or hours, an amount of money, a
percentage, an age, a date, a phone number, an e-mail address or the team a case is escalated
to, in two sentences that share most of their words; or when one states a rule ("must",
"are allowed", "can") that the other, with nearly the same words, negates (the sentence-level
check carries the precision, so the passage similarity bar can stay low). Each pair names the
values that disagree, one spelling per value ("two weeks" is "14 days", "5 EUR" is "€5").
Sentences are cut at sentence ends, not at line wraps; a range ("3 to 5 business days") is one
value; a sentence that states only some of the other's values, or a number inside the other's
range, agrees with it. Versions that supersede one another, superseded documents and
documents' own bookkeeping lines (version, effective and review dates) are expected to differ
and are left out."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

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
    r"(?P<unit>business days?|working days?|calendar days?|days?|hours?|hrs?|h\b|minutes?|mins?"
    r"|weeks?|months?|years?\b(?!\sold)|coins?|%|percent)"
    # an age, unless a unit follows ("at least 7 days old" is a duration, not an age)
    r"|(?P<age>\b(?:under|over|aged?|at least|(?:under|over|above|below) the age of)"
    r"\s(?P<age_n>\d{1,2})\b(?![,.]?\d)"
    r"(?!\s?-?(?:business|working|calendar|days?\b|hours?\b|hrs?\b|h\b|minutes?\b|mins?\b"
    r"|weeks?\b|months?\b|coins?\b|%|percent)))"
    # "18 or older", "16+", "13 years old"
    r"|\b(?P<age2_n>\d{1,2})(?:\+|\s(?:or\s(?:older|over|above)|years?\sold)\b)",
    re.IGNORECASE,
)


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
        return "age", m.group("age_n")
    if m.group("age2_n"):
        return "age", m.group("age2_n")
    unit = m.group("unit").lower()
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
    masked = QUANTITY.sub(" ", _TEAM.sub(_mask_team, sentence)).lower()
    return {_fold(w) for w in _WORDS.findall(masked) if w not in _STOP and len(w) > 2}


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
# "cannot". Only sentences with a modal are rules; an odd number of negations flips one.
_NEGATIONS = set(
    "not never cannot can't mustn't shouldn't don't doesn't isn't aren't won't without".split()
)
_DEONTIC = re.compile(
    r"\b(?:must|may|can|cannot|can't|should|shall|allowed|permitted|required|eligible)\b",
    re.IGNORECASE,
)
_RULE_PHRASE = re.compile(
    r"\b(?:must|may|can|cannot|can't|should|shall|is|are)(?:\s(?:not|never))?\s(?:be\s)?[a-z]+",
    re.IGNORECASE,
)
_TOKEN = re.compile(r"[a-z']+")
_SAME_RULE = 0.8  # Jaccard overlap of two rules' words: the same action, not a similar one


def _negated(sentence: str) -> bool | None:
    """Whether a rule is negated (an odd number of negations); None for no rule."""
    if not _DEONTIC.search(sentence):
        return None
    return sum(t in _NEGATIONS for t in _TOKEN.findall(sentence.lower())) % 2 == 1


def _rule(sentence: str) -> str:
    """The words that carry a rule's polarity ("must not share"), to show what disagrees."""
    m = _RULE_PHRASE.search(sentence)
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
    negated: bool | None


@lru_cache(maxsize=8192)
def _parsed(text: str) -> tuple[_Statement, ...]:
    """A passage's statements, parsed once per passage rather than once per pair it is in
    (a passage meets hundreds of others on a low similarity bar)."""
    return tuple(
        _Statement(
            s, clause, frozenset(_words(s)), frozenset(_markets(s)), _facts(s), _prose(s),
            _negated(s),
        )
        for s, clause in _statements(text)
    )  # fmt: skip


def disagreements(
    a: str, b: str, min_overlap: float = 0.4, min_shared: int = 3
) -> dict[str, list[list[str]]]:
    """Values that really differ between sentences saying the same thing in ``a`` and ``b``.

    Two sentences say the same thing when :func:`_same_statement` holds for their words,
    quantities and teams masked; they disagree on a kind of quantity (or on the ``team`` a case
    goes to) when each states a value of it the other does not (a subset, or a value inside the
    other's range, is agreement). Two rules with nearly all words in common disagree on
    ``rule`` when one is negated and the other not ("must" / "must not").
    Returns ``{kind: [values only in a, values only in b]}``.
    """
    found: dict[str, list[set[str]]] = {}
    for sa in _parsed(a):
        for sb in _parsed(b):
            if sa.markets and sb.markets and not sa.markets & sb.markets:
                continue  # the same rule for different markets
            prose = sa.prose and sb.prose
            overlap = max(min_overlap, _CLAUSE_OVERLAP) if sa.clause or sb.clause else min_overlap
            if (
                sa.facts
                and sb.facts
                and _same_statement(sa.words, sb.words, overlap, min_shared, prose)
            ):
                for kind in set(sa.facts) & set(sb.facts):
                    if kind != "team" or _same_case(sa.words, sb.words, overlap):
                        _add(found, kind, *_conflicting(sa.facts[kind], sb.facts[kind]))
            if prose and _opposite_rules(sa, sb, min_shared):
                _add(found, "rule", {_rule(sa.text)}, {_rule(sb.text)})
    return {
        kind: [sorted(va, key=_order), sorted(vb, key=_order)]
        for kind, (va, vb) in sorted(found.items())
    }


def _same_case(wa: frozenset[str], wb: frozenset[str], min_overlap: float) -> bool:
    """Whether two routing sentences name the same case, not only the same routine ("transfer
    the ticket to the LERT queue" and "... to the Guardian queue" are two cases' steps)."""
    ca, cb = wa - _ROUTING, wb - _ROUTING
    shared = len(ca & cb)
    return shared >= 2 and shared / len(ca | cb) >= min_overlap


def _add(found: dict[str, list[set[str]]], kind: str, only_a: set[str], only_b: set[str]) -> None:
    if only_a and only_b:
        entry = found.setdefault(kind, [set(), set()])
        entry[0] |= only_a
        entry[1] |= only_b


def _opposite_rules(sa: _Statement, sb: _Statement, min_shared: int) -> bool:
    """Whether two sentences state one rule, about one action, once negated and once not."""
    if sa.negated is None or sb.negated is None or sa.negated == sb.negated:
        return False
    wa, wb = sa.words - _NEGATIONS, sb.words - _NEGATIONS
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
    # Each unordered pair once: masking the lower triangle with zeros kept it whenever the
    # threshold was 0 or below, and every conflict was listed twice.
    iu, ju = np.triu_indices(len(chunks), k=1)
    keep = sim[iu, ju] >= min_similarity
    ii, jj = iu[keep], ju[keep]
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
