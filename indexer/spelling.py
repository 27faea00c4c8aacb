"""Keywords typed with one slip ("refnd", "chargebak", "acount"), read as the index's own words.

Agents type mid-ticket, fast. BM25 finds nothing for a word no passage holds, and the dense
model, reading a misspelt word as sub-word pieces, drifts. So a keyword the index has never seen
is replaced, for BM25, by the index term one edit away (a letter dropped, added, changed, or
two swapped) that the most passages hold; the model then reads the whole word of its own
vocabulary one edit away that has that term (:func:`model_spellings`). A real word the
knowledge base happens not to use ("mother", "crack", "warranty") must not be "corrected" into
another ("other", "track", "warrant"): only words missing from the model's own whole-word
vocabulary (WordPiece's ``vocab.txt``, 20k+ English words) are treated as slips, and without
that vocabulary nothing is corrected. Measured in docs/retrieval-experiments.md (one typo in
each ConditionalQA question: hit@1 0.753 with BM25's correction alone, 0.793 with the model's
too, 0.801 without typos).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from functools import lru_cache
from pathlib import Path

from indexer.highlight import term_pairs, terms

MIN_CHARS = 5  # shorter stems have too many neighbours one edit away ("shirt", "shift")
_LETTERS = "abcdefghijklmnopqrstuvwxyz"

# The document frequency of each given term the index holds (terms it lacks are left out).
DocFreq = Callable[[Collection[str]], dict[str, int]]


def edits1(word: str) -> set[str]:
    """Every string one deletion, insertion, substitution or adjacent swap from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return out


def query_terms(
    query: str, doc_freq: DocFreq, words: frozenset[str] | None
) -> tuple[list[str], dict[str, str]]:
    """The BM25 terms of ``query`` (repeats kept, as BM25 weighs them) with slips replaced,
    and the replacements made ({typed word: index term}).

    ``words`` is the model's whole-word vocabulary (:func:`model_words`); None turns
    correction off. ``doc_freq`` is asked about every term returned. A tie between two
    candidates goes to the alphabetically first, so both backends make the same choice.
    """
    pairs = term_pairs(query)
    stems = [stem for _word, stem in pairs]
    known = doc_freq(set(stems))  # asked even with correction off: a caller may keep the counts
    if words is None:
        return stems, {}
    slips = {
        stem: word
        for word, stem in pairs
        if stem not in known
        and len(stem) >= MIN_CHARS
        and stem.isalpha()
        and stem.isascii()  # the model's vocabulary is English: "décomposées" is no slip
        and word not in words
    }
    if not slips:
        return stems, {}
    candidates = {stem: edits1(stem) for stem in slips}
    found = doc_freq(set().union(*candidates.values()))
    fixed: dict[str, str] = {}
    for stem, near in candidates.items():
        ranked = sorted((-found[c], c) for c in near if found.get(c))
        if ranked:
            fixed[stem] = ranked[0][1]
    return [fixed.get(s, s) for s in stems], {slips[s]: t for s, t in fixed.items()}


def model_spellings(fixed: dict[str, str], words: frozenset[str] | None) -> dict[str, str]:
    """For each slip BM25 read as an index term (``fixed``, from :func:`query_terms`), the
    whole word of the model's vocabulary ``words`` one edit away whose term is that one (the
    alphabetically first of several): "acknowleged" -> "acknowledged". A slip with no such
    word stays as typed (the index term may be a stem, not a word).

    The model read slips as sub-word pieces: one typo per question cost ConditionalQA 0.04 of
    hit@1 that BM25's correction alone did not win back (docs/retrieval-experiments.md)."""
    if not fixed or not words:
        return {}
    out: dict[str, str] = {}
    for typed, term in fixed.items():
        near = sorted(w for w in edits1(typed) if w in words and terms(w) == [term])
        if near:
            out[typed] = near[0]
    return out


def read_as(slips: dict[str, str], words: dict[str, str]) -> list[tuple[str, str]]:
    """(typed, as read) for each corrected slip: the model's word where there is one, else
    the index term keyword search read it as (a stem, e.g. "chargeback")."""
    return [(typed, words.get(typed, term)) for typed, term in slips.items()]


def recording(doc_freq: DocFreq) -> tuple[DocFreq, dict[str, int]]:
    """``doc_freq``, and the counts of every term it is asked about: the question's terms
    are looked up once, for its slips, and their counts then weigh the highlight too."""
    seen: dict[str, int] = {}

    def asked(wanted: Collection[str]) -> dict[str, int]:
        found = doc_freq(wanted)
        seen.update(found)
        return found

    return asked, seen


def respelled(text: str, spellings: dict[str, str]) -> str:
    """``text`` with each whole word typed as a key of ``spellings`` (any case) replaced."""
    for typed, word in spellings.items():
        text = re.sub(rf"(?<![\w'-]){re.escape(typed)}(?![\w'-])", word, text, flags=re.I)
    return text


@lru_cache(maxsize=8)
def model_words(model_dir: str) -> frozenset[str] | None:
    """Whole lower-case words of a WordPiece model's vocabulary (no '##' pieces), or None
    when the model has no ``vocab.txt`` (then nothing is corrected)."""
    path = Path(model_dir) / "vocab.txt"
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return frozenset(w for w in lines if w.isalpha() and w.islower())
