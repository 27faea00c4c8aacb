"""Acronyms a knowledge base defines, and questions with them spelled out for the model.

Policies define their abbreviations once ("Bereavement Support Payment (BSP)") and agents type
the short form ("BSP claim after 2 years?"). The keyword index matches the short form where a
passage uses it, but the embedding model has never seen most of them, so the question's vector
misses the topic. The build collects each ``Long Form (SF)`` definition (initials matched to
the letters, in the manner of Schwartz and Hearst's abbreviation finder); a search reads the
question to the model with the long form after each defined short form. Pure functions: the
map travels in the index's manifest, so both backends expand alike.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable

# Words a long form may skip without spending a letter ("Department for Work and Pensions").
_SKIPPABLE = frozenset("of and the for to in on a an at by with or & de".split())
_SHORT = re.compile(r"\(\s*[‘'\"“]?([A-Z][A-Za-z0-9&]{1,9})[’'\"”]?\s*\)")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’]*|&")
_QUERY_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9&]{1,9}")
_LOWER_RUN = re.compile(r"(?<![A-Za-z0-9])[a-z][a-z0-9]*")
MAX_ACRONYMS = 5000  # a manifest stays small even for a knowledge base of jargon


def _long_form(words: list[str], letters: str) -> list[str] | None:
    """The shortest run of trailing ``words`` whose initials spell ``letters`` in order."""

    def start(i: int, j: int) -> int | None:
        if j == 0:
            return i + 1
        if i < 0:
            return None
        word = words[i]
        if word[0].lower() == letters[j - 1]:
            found = start(i - 1, j - 1)
            if found is not None:
                return found
        return start(i - 1, j) if word.lower() in _SKIPPABLE else None

    first = start(len(words) - 1, len(letters))
    return None if first is None else words[first:]


def definitions(text: str) -> list[tuple[str, str]]:
    """Every ``(short form, long form)`` that ``text`` defines as ``Long Form (SF)``.

    A short form needs two capitals ("BSP", "DfE"); a plural's ``s`` ("ISPs") is dropped.
    The long form must start right after the sentence or bracket before it allows, and spell
    the short form with the initials of its words, skipping only small words.
    """
    out: list[tuple[str, str]] = []
    for match in _SHORT.finditer(text):
        short = match.group(1)
        if sum(c.isupper() for c in short) < 2:
            continue
        if short.endswith("s") and sum(c.isupper() for c in short) > 2:
            short = short[:-1]
        letters = "".join(c.lower() for c in short if c.isalnum())
        before = re.split(r"[.;:!?\n()\[\]]", text[max(0, match.start() - 200) : match.start()])
        words = _WORD.findall(before[-1])[-(len(letters) + 5) :]
        found = _long_form(words, letters)
        if found and len(found) >= 2:
            out.append((short, " ".join(found)))
    return out


def acronym_sources(texts: Iterable[tuple[str, str]]) -> dict[str, dict[str, list]]:
    """``{short: {"defined": [[long form, doc id, count], ...], "lower": [doc ids]}}`` over
    ``(doc id, text)`` pairs, in the order first seen.

    Kept per document because what a question may be read as depends on who asks: only the
    definitions, and the lower-case uses of a short form ("lower", for three letters or more),
    in documents the caller may see count (``expand_for``).
    """
    texts = list(texts)
    defined: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for doc_id, text in texts:
        if "(" not in text:
            continue
        for short, long in definitions(text):
            key = (long, doc_id)
            defined[short][key] = defined[short].get(key, 0) + 1
    if len(defined) > MAX_ACRONYMS:
        keep = sorted(defined, key=lambda s: -sum(defined[s].values()))[:MAX_ACRONYMS]
        defined = {s: defined[s] for s in keep}
    candidates: dict[str, list[str]] = defaultdict(list)  # "dfe": ["DFE", "DfE"]
    for short in defined:
        if len(short) >= 3:
            candidates[short.lower()].append(short)
    lower: dict[str, dict[str, None]] = defaultdict(dict)  # an ordered set of doc ids
    if candidates:
        # One pass over the lower-case runs of letters (~0.05 s per 2 MB of text), whatever
        # the number of candidates: searching for each one scanned the text once per acronym.
        for doc_id, text in texts:
            for word in set(_LOWER_RUN.findall(text)) & candidates.keys():
                for short in candidates[word]:
                    lower[short][doc_id] = None
    return {
        short: {
            "defined": [[long, doc_id, n] for (long, doc_id), n in defined[short].items()],
            "lower": list(lower.get(short, ())),
        }
        for short in sorted(defined)
    }


def _resolve(
    short: str, entry: dict[str, list], may_see: Callable[[str], bool] | None = None
) -> list | None:
    """``[long form, any_case]`` for ``short`` from the documents ``may_see`` allows (None:
    all), or None when they define none or tie.

    The most frequent long form wins and a tie is left out rather than guessed. ``any_case``
    says whether a question may type it in lower case ("csam"): only for three letters or
    more, and only when those documents never use that lower-case spelling as a word of their
    own ("act", "pip").
    """

    def seen(doc_id: str) -> bool:
        return may_see is None or may_see(doc_id)

    counts: Counter[str] = Counter()
    spelled: dict[str, str] = {}
    for long, doc_id, n in entry.get("defined", ()):
        if seen(doc_id):
            counts[long.lower()] += n
            spelled.setdefault(long.lower(), long)
    ranked = counts.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    used_lower = any(seen(doc_id) for doc_id in entry.get("lower", ()))
    return [spelled[ranked[0][0]], len(short) >= 3 and not used_lower]


def acronym_map(texts: Iterable[str]) -> dict[str, list]:
    """``{short form: [long form, any_case]}`` over a knowledge base's texts, all of them
    visible (see ``resolve``)."""
    return resolved(acronym_sources(("", text) for text in texts))


def resolved(
    sources: dict[str, dict[str, list]], may_see: Callable[[str], bool] | None = None
) -> dict[str, list]:
    """Every short form ``sources`` define, as the documents ``may_see`` allows define it."""
    out = {short: _resolve(short, entry, may_see) for short, entry in sources.items()}
    return {short: found for short, found in out.items() if found is not None}


def expand_for(
    query: str, sources: dict[str, dict[str, list]], may_see: Callable[[str], bool] | None
) -> tuple[str, list[tuple[str, str]]]:
    """``expand`` with the definitions of the documents ``may_see`` allows (None: all).

    Only the short forms the query could name are resolved: a few lookups per query, however
    many the knowledge base defines and whoever asks.
    """
    named = {
        short
        for token in _QUERY_TOKEN.findall(query)
        for short in (token, token.upper())
        if short in sources
    }
    return expand(query, resolved({short: sources[short] for short in named}, may_see))


def expand(query: str, acronyms: dict[str, list]) -> tuple[str, list[tuple[str, str]]]:
    """The query with each defined short form followed by its long form, and the pairs used.

    A form the question already spells out is not added again. Typed in another case, a
    short form counts only where ``any_case`` allows and it is all capitals ("csam" for CSAM).
    """
    if not acronyms:
        return query, []
    used: list[tuple[str, str]] = []

    def spell(match: re.Match[str]) -> str:
        # A dictionary lookup per token: nothing is built per query, however large the map.
        token = match.group(0)
        short = token if token in acronyms else token.upper()
        entry = acronyms.get(short)
        if entry is None or (token != short and not entry[1]):
            return token
        long = entry[0]
        if long.lower() in query.lower():
            return token
        if (short, long) not in used:
            used.append((short, long))
        return f"{token} ({long})"

    return _QUERY_TOKEN.sub(spell, query), used
