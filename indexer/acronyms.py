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
from collections.abc import Iterable

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


def acronym_map(texts: Iterable[str]) -> dict[str, list]:
    """``{short form: [long form, any_case]}`` over a knowledge base's texts.

    A short form defined in several ways keeps its most frequent long form; a tie is left out
    rather than guessed. ``any_case`` says whether a question may type it in lower case
    ("csam"): only for three letters or more, and only when the knowledge base never uses
    that lower-case spelling as a word of its own ("act", "pip").
    """
    texts = list(texts)
    seen: dict[str, Counter] = defaultdict(Counter)
    spelled: dict[tuple[str, str], str] = {}
    for text in texts:
        if "(" not in text:
            continue
        for short, long in definitions(text):
            seen[short][long.lower()] += 1
            spelled.setdefault((short, long.lower()), long)
    chosen: dict[str, str] = {}
    for short, forms in seen.items():
        ranked = forms.most_common(2)
        if len(ranked) == 2 and ranked[0][1] == ranked[1][1]:
            continue
        chosen[short] = spelled[(short, ranked[0][0])]
    if len(chosen) > MAX_ACRONYMS:
        keep = sorted(chosen, key=lambda s: -sum(seen[s].values()))[:MAX_ACRONYMS]
        chosen = {s: chosen[s] for s in keep}
    candidates = {short.lower() for short in chosen if len(short) >= 3}
    # One pass over the lower-case runs of letters (~0.05 s per 2 MB of text), whatever the
    # number of candidates: searching for each one scanned the text once per acronym.
    lower_words = (
        {w for t in texts for w in _LOWER_RUN.findall(t)} & candidates if candidates else set()
    )
    return {
        short: [long, len(short) >= 3 and short.lower() not in lower_words]
        for short, long in sorted(chosen.items())
    }


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
        if token != short and not acronyms.get(short, ("", False))[1]:
            return token
        long = acronyms[short][0]
        if long.lower() in query.lower():
            return token
        if (short, long) not in used:
            used.append((short, long))
        return f"{token} ({long})"

    return _QUERY_TOKEN.sub(spell, query), used
