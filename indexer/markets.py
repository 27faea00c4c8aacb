"""Countries an agent names, searched also as the market codes the knowledge base uses.

Support knowledge bases name markets by ISO 3166 code ("MY | 13 | No | ..."); agents type the
country ("buyer in malaysia", "korean user"). The bundled model does not link the two, and
keyword search cannot, so the right table row ranked nowhere. A question that names a country
whose code some document lists in its ``markets`` metadata is searched with that code added,
by keywords, the highlight and the model alike (indexer/search.py, ``keyword_text``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

COUNTRIES = Path(__file__).with_name("countries.tsv")
# Names in other languages (scripts/countries_i18n.py): "Deutschland", "Россия", "독일", "日本".
COUNTRIES_I18N = Path(__file__).with_name("countries-i18n.tsv")
_WORD = re.compile(r"\w+")
# Scripts written without spaces between words (and Korean, whose particles attach to the
# name: "독일에서"): a name there is found inside running text, not as a whole word.
_KANA = "\u30a0-\u30ff\uff66-\uff9f"
_HANGUL = "\uac00-\ud7a3"
_UNSPACED = re.compile(f"[\u3400-\u4dbf\u4e00-\u9fff{_KANA}{_HANGUL}\u0e00-\u0e7f]")


def _unspaced_alternative(name: str) -> str:
    """``name`` as a pattern that is not part of a longer word of its own script: katakana
    "インド" is not read inside "ウインドウ" (window), Korean "미국" not at the end of another
    word; a kanji or Thai name is matched anywhere (nothing marks where its words end)."""
    before = {"k": f"(?<![{_KANA}])", "h": f"(?<![{_HANGUL}])"}
    after = {"k": f"(?![{_KANA}])"}

    def kind(c: str) -> str:
        return "k" if re.match(f"[{_KANA}]", c) else "h" if re.match(f"[{_HANGUL}]", c) else ""

    return before.get(kind(name[0]), "") + re.escape(name) + after.get(kind(name[-1]), "")


def _key(name: str) -> str:
    """A name as the lists write it: lower case, a Turkish "İ" as "i" ("İsviçre".lower() is
    "i" and a combining dot)."""
    return name.lower().replace("i\u0307", "i")


@lru_cache(maxsize=1)
def _names() -> tuple[dict[str, str], re.Pattern[str], frozenset[str], re.Pattern[str]]:
    """Lower-cased name -> code; one pattern matching any name of a spaced script (longest
    first, so "south korea" wins over "korea") as a whole word; a word of each such name, so
    a question naming no country skips the pattern (a few microseconds instead of ~0.1 ms per
    search); and one pattern for the names of unspaced scripts."""
    names: dict[str, str] = {}
    for path in (COUNTRIES, COUNTRIES_I18N):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                code, name = line.split("\t")
                names.setdefault(name, code)
    spaced = sorted((n for n in names if not _UNSPACED.search(n)), key=len, reverse=True)
    unspaced = sorted((n for n in names if _UNSPACED.search(n)), key=len, reverse=True)
    alternatives = "|".join(re.escape(n) for n in spaced)
    pattern = re.compile(rf"(?<![\w.])({alternatives})(?!\w)", re.IGNORECASE)
    # A word every match must contain: a name's first word, or its second after "the".
    needed = {next((w for w in _WORD.findall(n) if w != "the"), "") for n in spaced}
    inside = re.compile("|".join(_unspaced_alternative(n) for n in unspaced))
    return names, pattern, frozenset(needed - {""}), inside


def market_codes(metadatas: Iterable[dict[str, Any]]) -> frozenset[str]:
    """The ISO codes documents list in ``markets`` (not "global"): the codes worth adding."""
    known = set(_names()[0].values())
    listed = (m for meta in metadatas for m in meta.get("markets") or [])
    return frozenset(m for m in listed if isinstance(m, str) and m in known)


def _named(query: str) -> list[tuple[str, str]]:
    """(name as typed, code) of each country the question names, the first name per code."""
    names, pattern, needed, inside = _names()
    found: dict[str, str] = {}
    if not needed.isdisjoint(_key(w) for w in _WORD.findall(query)):
        for match in pattern.finditer(query):
            found.setdefault(names[_key(match.group(1))], match.group(1))
    if _UNSPACED.search(query):
        for match in inside.finditer(query):
            found.setdefault(names[match.group(0)], match.group(0))
    return [(typed, code) for code, typed in found.items()]


def with_market_codes(query: str, codes: frozenset[str]) -> tuple[str, list[tuple[str, str]]]:
    """``query`` with the code of each country it names appended (when ``codes`` holds it and
    the question does not type it already), and the (name as typed, code) pairs added."""
    if not codes:
        return query, []
    added = [
        (typed, code)
        for typed, code in _named(query)
        if code in codes and not re.search(rf"\b{code}\b", query)
    ]
    if not added:
        return query, []
    return f"{query} {' '.join(code for _, code in added)}", added


def unlisted_markets(query: str, codes: frozenset[str]) -> list[tuple[str, str]]:
    """(name as typed, code) of each country the question names that no document lists in
    its ``markets`` (``codes``), when documents list markets at all: "refund for a buyer in
    mexico" in a knowledge base with rules for US, GB and DE answered with those rules and
    nothing said the agent had no rule for Mexico."""
    if not codes:
        return []
    return [(typed, code) for typed, code in _named(query) if code not in codes]


def filter_markets(
    values: list[str], codes: frozenset[str]
) -> tuple[list[str], list[tuple[str, str]]]:
    """A ``markets`` filter as the documents list markets, and its values no document lists.

    A country given by name ("Germany", "UK") is searched by its code when documents list
    that code; a value no document lists is returned as (value, code) to be said back, as
    :func:`unlisted_markets` does for the question: filtered on "UK", an API client got the
    global documents, marked answerable, and nothing said no document was for the UK.
    """
    if not codes:
        return values, []
    out: list[str] = []
    unlisted: list[tuple[str, str]] = []
    for value in values:
        if value.lower() == "global" or value.upper() in codes:
            out.append(value)
            continue
        named = {code for _typed, code in _named(value)}
        code = named.pop() if len(named) == 1 else ""
        if code in codes:
            out.append(code)
        else:
            out.append(value)
            unlisted.append((value, code or value.upper()))
    return out, unlisted
