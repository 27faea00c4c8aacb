"""Pick the sentence of a passage that best answers the query (pure, no model call).

Query terms are weighted by inverse document frequency over the index's chunks, so rare,
telling words ('chargeback', 'MY') count more than common ones ('account', 'user').
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

# A word as typed, in any script ("refund", "Müller", "contraseña", "返金"): a two-capital
# code counts. Only A-Z used to count, so "Müller" was read as "m" and "ller" and a word in
# Japanese, Korean, Arabic or Thai was no word at all (BM25 could not find it verbatim).
# Combining marks inside words: accents written apart, Thai and Lao vowels and tones, Indic
# vowel signs, Arabic and Hebrew points, kana voicing (not letters to the regex's \w).
_MARKS = (
    "\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670"
    "\u06d6-\u06ed\u0900-\u0903\u093a-\u094f\u0951-\u0957\u0962\u0963\u0981-\u0983"
    "\u09bc-\u09d7\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u0eb1\u0eb4-\u0ebc\u0ec8-\u0ecd"
    "\u102b-\u103e\u17b4-\u17d3\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\u3099\u309a"
    "\ufe20-\ufe2f"
)
_WORD_RE = re.compile(f"(?:[^\\W_]|[{_MARKS}])+(?:'(?:[^\\W_]|[{_MARKS}])+)?")
# Scripts written without spaces between words (Han, kana, Hangul, Thai, Lao, Khmer, Myanmar):
# a run of them is read as its overlapping character pairs ("ヤマト運輸": ヤマ マト ト運 運輸),
# as search engines index them, so a word matches inside a longer run and across particles.
_UNSPACED_RE = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]+"
)
_HYPHENATED_RE = re.compile(r"(?<![\w-])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)+(?![\w-])")
# . ! ? (Arabic ؟, Devanagari ।) and the spaces after; 。！？ with or without one.
_SENTENCE_END_RE = re.compile(
    r"(?<=[.!?\u061f\u0964])[\"')\]]*[ \t]+|(?<=[\u3002\uff01\uff1f])[\u300d\u300f\uff09]*[ \t]*"
)
_LIST_MARKER_RE = re.compile(r"(?:\d+|[a-zA-Z])[.)]")
# Abbreviations that never end a sentence ("e.g. the SA302 form"), and those that end one only
# before a capital ("Vybe Inc. is", "see No. 5", but "... refunds, gifts etc. The next" and
# an FAQ's "No. Agents cannot ..."): a window cut there read "Vybe Inc." alone.
_NEVER_END = frozenset("e.g. i.e. vs. cf. approx. incl. viz. mr. mrs. ms. dr.".split())
_END_BEFORE_CAPITAL = frozenset(
    "etc. inc. ltd. co. corp. llc. no. nos. st. jr. sr. u.s. u.k. a.m. p.m. fig. l.p.".split()
)
_LAST_TOKEN_RE = re.compile(r"[\w.]+$")
_WORDLESS_RE = re.compile(r"[\W_]*")  # a table rule '|---|', a stray '|', a '***' line
STOPWORDS = frozenset(
    "a an and are as at be by can do does for from has have how i if in is it its me my of on "
    "or our so that the their them they this to was we what when where which who will with you "
    "your".split()
)


def _stem(word: str) -> str:
    """The word without one common suffix ('ing', 'ed', 'es', 's'), '' for a stopword.

    A final 'e' goes too, so a word and its inflections share one stem ('archive',
    'archived', 'archiving': 'archiv'; 'change', 'changes': 'chang'). Keeping it made BM25
    miss "undo archive" against "accidentally archived" (measured: docs/retrieval-experiments.md).
    """
    if word in STOPWORDS:
        return ""
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            word = word[: -len(suffix)]
            if suffix in ("ed", "es"):  # 'agreed', 'changes': the base's own 'e' went with it
                return word
            break
    return word[:-1] if len(word) >= 4 and word.endswith("e") else word


_STEMS: dict[str, str] = {}  # word -> stem: a knowledge base repeats a few thousand words
_MAX_STEMS = 500_000  # a bound against hostile text with endless distinct words


def _term(word: str) -> str:
    """The term of one word as typed: its lower-cased stem, '' for a stopword, except that a
    stopword typed as two capitals is a code and kept as typed.

    Support knowledge bases name markets by ISO code, and several codes are English stopwords:
    "MY buyer", "IN user", "IT", "AT", "BE". Lower-cased they vanished from BM25 on both sides,
    so "MY buyer return window" could not find the passage that starts "MY: ...".
    """
    lower = folded(word)
    if lower in STOPWORDS:
        return word if len(word) == 2 and word.isupper() else ""
    return _stem(lower)


def codes(text: str) -> list[str]:
    """Hyphenated codes of letters and digits ("BR-03", "PAY-502", "W-8BEN") written as one
    word ("BR03"), to be matched whole besides their parts.

    Support agents paste error and reason codes; their parts alone are common ("03" is in
    every date of March and in "PP-03"), so "BR-03" matched the "BR-08" row as well as its
    own. Dates, ranges and phone numbers (digits only) and words ("co-host") are not codes.
    """
    if "-" not in text:
        return []
    found = (m.group() for m in _HYPHENATED_RE.finditer(text))
    return [
        code.replace("-", "")
        for code in found
        if any(c.isdigit() for c in code) and any(c.isalpha() for c in code)
    ]


def words(text: str) -> list[str]:
    """The words of ``text`` as typed, then its hyphenated codes written whole (:func:`codes`):
    what :func:`terms` and :func:`term_pairs` read. A run of a script written without spaces
    becomes its character pairs (:data:`_UNSPACED_RE`)."""
    if text.isascii():
        return _WORD_RE.findall(text) + codes(text)
    # In compatibility form first, as questions are read: Thai ำ is two characters in it, and
    # a document's pairs must be cut as a question's are.
    found = _WORD_RE.findall(unicodedata.normalize("NFKC", text))
    return [part for word in found for part in split_unspaced(word)] + codes(text)


def split_unspaced(word: str) -> list[str]:
    """``word`` as it is, or, holding a run of an unspaced script, its other parts and the
    run's overlapping character pairs (a lone character stays one)."""
    if word.isascii() or not _UNSPACED_RE.search(word):
        return [word]
    out: list[str] = []
    at = 0
    for run in _UNSPACED_RE.finditer(word):
        if run.start() > at:
            out.append(word[at : run.start()])
        chars = run.group()
        out.extend([chars[i : i + 2] for i in range(len(chars) - 1)] or [chars])
        at = run.end()
    if at < len(word):
        out.append(word[at:])
    return out


def folded(word: str) -> str:
    """``word`` lower-cased without accents: "Müller", "MULLER" and "muller" are one term, as
    are "café" and "cafe", "Straße" and "strasse" (an agent types what their keyboard has)."""
    if word.isascii():
        return word.lower()
    out = []
    for ch in unicodedata.normalize("NFKC", word).casefold():
        if ord(ch) < _ACCENTED_BELOW:  # Latin, Greek, Cyrillic: the accents go
            out.extend(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        else:  # elsewhere a mark is part of the letter (Japanese で is not て, Thai vowels)
            out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


_ACCENTED_BELOW = 0x0530  # the end of the Latin, Greek and Cyrillic blocks


def terms(text: str) -> list[str]:
    """Word stems without stopwords (see :func:`_term`), and hyphenated codes whole: the unit
    of matching.

    Stems are memoised: every chunk is tokenised for BM25 on each build, and a lookup costs
    a fraction of re-stemming (re-index of 1,000 documents: see bench/PROFILE.md).
    """
    stems = _STEMS
    out = []
    for word in words(text):
        stem = stems.get(word)
        if stem is None:
            if len(stems) >= _MAX_STEMS:
                stems.clear()
            stem = stems[word] = _term(word)
        if stem:
            out.append(stem)
    return out


def term_pairs(text: str) -> list[tuple[str, str]]:
    """(word as typed, lower-cased; its term) for each word of ``text`` that is a term: what
    :func:`terms` returns, with the words it came from (spelling correction needs both)."""
    return [(folded(w), t) for w in words(text) if (t := _term(w))]


def idf_table(texts: Iterable[str]) -> dict[str, float]:
    """Smoothed inverse document frequency of every term over ``texts``."""
    df: Counter[str] = Counter()
    n = 0
    for text in texts:
        n += 1
        df.update(set(terms(text)))
    return idf_of(df, n)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences and lines of ``text`` as (start, end) spans, whitespace trimmed.

    A list marker ('1.', 'a)') does not end a sentence.
    """
    spans: list[tuple[int, int]] = []

    def emit(a: int, b: int) -> None:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if b > a:
            spans.append((a, b))

    line_start = 0
    for line in text.split("\n"):
        line_end = line_start + len(line)
        pos = line_start
        for match in _SENTENCE_END_RE.finditer(text, line_start, line_end):
            if _LIST_MARKER_RE.fullmatch(text[pos : match.start()].strip()):
                continue
            if _abbreviation_ends(text, pos, match.start(), match.end()):
                continue
            emit(pos, match.start())
            pos = match.end()
        emit(pos, line_end)
        line_start = line_end + 1
    return spans or [(0, len(text))]


def _abbreviation_ends(text: str, start: int, end: int, after: int) -> bool:
    """Whether the sentence-like stretch ``text[start:end]`` ends in an abbreviation that does
    not end a sentence where the text goes on at ``after``."""
    if text[end - 1] != ".":
        return False
    token = _LAST_TOKEN_RE.search(text, start, end)
    word = token.group().lower() if token else ""
    if word in _NEVER_END:
        return True
    return word in _END_BEFORE_CAPITAL and not text[after : after + 1].isupper()


_PLACEHOLDER_RE = re.compile(r"\{\{[^{}]*\}\}|\[[A-Z_]+\]")  # a macro's {{user_name}}, [EMAIL]
# A macro's closing words ("Kind regards,"), alone on their line.
_CLOSING = (
    r"(?:(?:kind|best|warm|warmest) )?regards|best(?: wishes)?|cheers|sincerely(?: yours)?"
    r"|yours sincerely|(?:many )?thanks(?: again)?|thank you"
)
_SALUTATION_RE = re.compile(rf"\W*(?:hi|hello|hey|dear|{_CLOSING})?\W*", re.IGNORECASE)


# A macro's opening courtesy ("Thanks for contacting us about order {{order_id}}.", "Thank
# you for your patience."): it follows the greeting and says nothing an agent acts on.
_THANKS_RE = re.compile(
    r"\s*thank(?:s| you)(?: so much| very much)? for (?:contacting|reaching out|getting in touch"
    r"|checking in|following up|writing|your (?:message|patience|email|e-mail|report|appeal"
    r"|question|request|understanding))\b(?:\s+[^\s.!?]+){0,5}\s*[.!?]?\s*$",  # short: a courtesy
    re.IGNORECASE,
)


# A macro's closing line ("Kind regards,"): the lines after it, to the paragraph's end, are
# its signature ("{{agent_name}}", "Vybe Support").
_VALEDICTION_RE = re.compile(rf"^[ \t]*(?:{_CLOSING})[ \t]*[,.!]?[ \t]*$", re.I | re.M)
_PARAGRAPH_END_RE = re.compile(r"\n[ \t]*\n")


def _signatures(text: str) -> list[tuple[int, int]]:
    """Spans of ``text`` that sign a macro off: from a closing line to its paragraph's end."""
    out = []
    for m in _VALEDICTION_RE.finditer(text):
        end = _PARAGRAPH_END_RE.search(text, m.end())
        out.append((m.end(), end.start() if end else len(text)))
    return out


def readable(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """The spans with a letter or digit in them, other than a macro's greeting or sign-off:
    what a highlight may show.

    A Markdown table's rule row or the '|' left after a table cell's last sentence is a
    "sentence" to the splitter (and stays one in sentence windows, whose vectors were measured
    that way), but shown as the highlight it is noise an agent reads first; so is a macro's
    "Hi {{user_name}},", "Thanks for contacting us." or the "{{agent_name}} / Vybe Support"
    signature under "Kind regards,", whose window matches every question about the macro's
    subject through the title it is embedded with.
    """
    signed = _signatures(text)
    return [
        (a, b)
        for a, b in spans
        if not _WORDLESS_RE.fullmatch(text, a, b)
        and not any(lo <= a and b <= hi for lo, hi in signed)
        and not _SALUTATION_RE.fullmatch(_PLACEHOLDER_RE.sub(" ", text[a:b]))
        and not _THANKS_RE.match(text, a, b)
    ]


def _lines(text: str, start: int, stop: int) -> Iterator[tuple[int, str]]:
    """(offset, line) of each line of ``text[start:stop]``."""
    for line in text[start:stop].split("\n"):
        yield start, line
        start += len(line) + 1


def within_section(
    text: str,
    a: int,
    b: int,
    query: str,
    headings: Iterable[str] = (),
    breaks: Iterable[int] = (),
) -> tuple[int, int]:
    """Span ``[a, b)`` of ``text`` (a sentence window) without heading lines and without
    running past one: only its sentences on one side of the heading, the side sharing more
    words with the query (the first on a tie).

    A window can run into the next section's heading. Shown as the highlight,
    "Do not promise a refund. ### Can we still refund after a chargeback?" would answer a
    question the agent did not ask. Heading lines start with '#' (Markdown) or are one of
    ``headings`` (heading titles, for formats whose headings are plain lines). ``breaks`` are
    offsets where a section or a page begins: a highlight stays on one side of each, so the
    heading path and page it is cited with are where all of it is.
    """
    names = {h.lstrip("#").strip() for h in headings}
    cuts = sorted(breaks)
    runs: list[list[tuple[int, int]]] = [[]]
    # Only the lines the window touches (it may start inside a heading line).
    start = text.rfind("\n", 0, a) + 1
    stop = len(text) if (found := text.find("\n", b)) < 0 else found
    previous = -1
    heading_lines: list[tuple[int, int]] = []  # the heading lines the window touches
    for line_start, line in _lines(text, start, stop):
        if not line.strip():
            continue
        heading = _heading_line(line, names)
        crossed = any(previous < cut <= line_start for cut in cuts)
        previous = line_start
        if (heading or crossed) and runs[-1]:
            runs.append([])
        lo = line_start + len(line) - len(line.lstrip())
        if heading and lo < b and line_start + len(line.rstrip()) > a:
            heading_lines.append((lo, line_start + len(line.rstrip())))
        for s, e in [] if heading else readable(line, sentence_spans(line)):
            if line_start + e > a and line_start + s < b:
                runs[-1].append((line_start + s, line_start + e))
    runs = [run for run in runs if run]
    wanted = set(terms(query))
    if not runs:
        # Nothing but heading text (a heading line's own words, or a heading directly followed
        # by another): the heading sharing more words with the query (the later on a tie, the
        # innermost), and what it introduces is the highlight: its section's first sentence.
        if not heading_lines:  # a wordless window: a table's rule row, a '***' line
            near = _nearest_readable(text, a, b, names, cuts)
            return whole_sentence(text, *near, names, cuts) if near else (a, b)
        heading = max(
            reversed(heading_lines), key=lambda h: len(wanted & set(terms(text[h[0] : h[1]])))
        )
        first = _first_sentence_after(text, heading, names, cuts)
        return whole_sentence(text, *first, names, cuts) if first else _without_marks(text, heading)
    best = max(runs, key=lambda run: len(wanted & set(terms(text[run[0][0] : run[-1][1]]))))
    return _with_its_question(text, *whole_sentence(text, best[0][0], best[-1][1], names, cuts),
                              names, cuts)  # fmt: skip


_SHORT_WORDS = 4  # "No.", "Never.", "Yes, once.": a reply that means nothing without its question


def _with_its_question(
    text: str, a: int, b: int, names: set[str], cuts: list[int]
) -> tuple[int, int]:
    """A reply of a few words grown by the question just before it in its section ("Can we
    still refund? No."): "No." alone, quoted to a user, says nothing. Only a question: a
    short table cell ("15 days") is not joined to the cell before it."""
    if len(words(text[a:b])) >= _SHORT_WORDS:
        return a, b
    for line_start, line in reversed(list(_lines(text, 0, a))):
        if any(line_start < cut <= a for cut in cuts) or _heading_line(line, names):
            return a, b  # the section starts here: nothing before it to lean on
        before = [(s, e) for s, e in readable(line, sentence_spans(line)) if line_start + e <= a]
        if before:
            s, e = before[-1]
            asked = line[s:e].rstrip("\"')]*").endswith("?")
            return (line_start + s, b) if asked else (a, b)
    return a, b


_TERMINAL_RE = re.compile(r"[.!?:;][\"')\]]*$")  # a line that ends its sentence
_BLOCK_START_RE = re.compile(r"(?:[-*+•|>#=]|(?:\d+|[a-zA-Z])[.)](?:\s|$))")  # a new item
_WRAPPED_WIDTH = 80  # a line this long that ends mid-word was wrapped at the page width


def _wrapped(line: str, following: str, names: set[str]) -> bool:
    """Whether the break between ``line`` and ``following`` falls inside a sentence: a PDF's
    (or a plain-text file's) paragraph hard-wrapped at the page width.

    The next line continues in lower case, or the line is full width and ends mid-clause
    ('... never by Tier' then '1 reviewers'). A table row (cells split by ' | ' or aligned
    with runs of spaces), a list item, a heading or a line closing its sentence ends there.
    """
    a, b = line.strip(), following.strip()
    if not a or not b or a in names or b in names or a.startswith(("#", "|")):
        return False
    if _TERMINAL_RE.search(a) or _BLOCK_START_RE.match(b):
        return False
    if b[0].islower():
        return True
    return (
        len(a) >= _WRAPPED_WIDTH
        and (a[-1].isalnum() or a[-1] == ",")
        and not any("  " in x or " | " in x for x in (a, b))
    )


def whole_sentence(
    text: str, a: int, b: int, names: Iterable[str] = (), cuts: Iterable[int] = ()
) -> tuple[int, int]:
    """``[a, b)`` grown to whole sentences across wrapped line breaks (never across a heading
    line or a section or page break in ``cuts``).

    Sentences are split at every line end, so in a hard-wrapped PDF paragraph a highlight
    would be one printed line: 'A final balance ... is paid once it has been held for 180
    days,' dropped, 'regardless of the threshold.' shown, or a clause cut off at '... never by
    Tier' (Tier 1 reviewers). A highlight an agent quotes must be the whole sentence.
    """
    names = {h.lstrip("#").strip() for h in names}
    cuts = list(cuts)
    while (line_start := text.rfind("\n", 0, a) + 1) > 0 and not text[line_start:a].strip():
        prev_start = text.rfind("\n", 0, line_start - 1) + 1
        prev = text[prev_start : line_start - 1]
        line_end = len(text) if (found := text.find("\n", a)) < 0 else found
        if any(prev_start < cut <= a for cut in cuts):
            break
        spans = readable(prev, sentence_spans(prev))
        if not spans or not _wrapped(prev, text[line_start:line_end], names):
            break
        a = prev_start + spans[-1][0]
    while (line_end := text.find("\n", b)) >= 0 and not text[b:line_end].strip():
        next_start = line_end + 1
        next_end = len(text) if (found := text.find("\n", next_start)) < 0 else found
        following = text[next_start:next_end]
        if any(b < cut <= next_start for cut in cuts):
            break
        spans = readable(following, sentence_spans(following))
        line = text[text.rfind("\n", 0, b) + 1 : line_end]
        if not spans or not _wrapped(line, following, names):
            break
        b = next_start + spans[0][1]
    return a, b


def _first_sentence_after(
    text: str, heading: tuple[int, int], names: set[str], cuts: list[int]
) -> tuple[int, int] | None:
    """The first readable sentence under a heading line, if the passage holds one before
    the next heading, page or section break."""
    for line_start, line in _lines(text, heading[1], len(text)):
        if not line.strip():
            continue
        if any(heading[1] < cut <= line_start for cut in cuts):
            return None
        if _heading_line(line, names):
            return None
        spans = readable(line, sentence_spans(line))
        if spans:
            return line_start + spans[0][0], line_start + spans[0][1]
    return None


def _nearest_readable(
    text: str, a: int, b: int, names: set[str], cuts: list[int]
) -> tuple[int, int] | None:
    """The readable sentence next to a wordless window ``[a, b)``, in its section: the first
    after it, else the last before it (a table rule's neighbours are the table's rows)."""
    after = _first_sentence_after(text, (a, b), names, cuts)
    if after:
        return after
    for line_start, line in reversed(list(_lines(text, 0, a))):
        if _heading_line(line, names):
            return None  # the section starts here
        spans = readable(line, sentence_spans(line))
        if spans:
            s, e = line_start + spans[-1][0], line_start + spans[-1][1]
            return None if any(e <= cut <= a for cut in cuts) else (s, e)
    return None


def _heading_line(line: str, names: set[str]) -> bool:
    """A Markdown heading, or a plain line that is one of the section titles ``names``
    (formats whose headings are plain lines: DOCX, HTML, PDF, text)."""
    return line.lstrip().startswith("#") or line.strip() in names


def _without_marks(text: str, line: tuple[int, int]) -> tuple[int, int]:
    """A heading line's span without its Markdown '#' marks."""
    marks = re.match(r"#+[ \t]*", text[line[0] : line[1]])
    return (line[0] + marks.end(), line[1]) if marks and marks.end() < line[1] - line[0] else line


def idf_of(counts: dict[str, int], n: int) -> dict[str, float]:
    """Smoothed inverse document frequency (bm25s' lucene variant) of terms held by
    ``counts[t]`` of ``n`` passages: one formula for the highlighter and postgres' BM25, from
    counts a backend keeps (:func:`idf_table` counts them from texts)."""
    return {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in counts.items() if c > 0}


# Cosine units per whole share of the question's rare words a window holds: 0, 0.1, 0.2 and
# 0.4 measured on kb/, ConditionalQA, PolicyQA and held-out ConditionalQA-with-scenario
# questions; 0.4 marked the evidence at least as often as the others on every one of them
# (docs/retrieval-experiments.md).
KEYWORD_WEIGHT = 0.4


# A word typed in capitals or with digits: a market (DE), a code (BR-05, RD-03), a tier (P1).
_CODE_RE = re.compile(r"\b(?:[A-Z]{2,}|[A-Z]+[0-9]+|[A-Z]+-[A-Z0-9]+)(?:-[A-Z0-9]+)*\b")


def pick_window(
    text: str,
    windows: Sequence[tuple[float, int, int]],
    query: str,
    idf: dict[str, float],
    weight: float = KEYWORD_WEIGHT,
) -> int:
    """Index of the sentence window of ``text`` to highlight; ``windows`` are (cosine to the
    query, start, end).

    The passage was ranked as a whole; which of its sentences settles the question often
    turns on a word the model barely hears. A window naming more of the codes the agent typed
    in capitals (a market 'DE', a code 'BR-05') comes first: "refund window in DE" marks the
    DE row, not the MY row the model finds nearer. Then a window's cosine is raised by
    ``weight`` times its share of the question's words (weighted by ``idf``) among those the
    passage holds. Windows with nothing readable (a macro's "Vybe Support" signature, a table
    rule) are passed over while another is left.
    """
    if not windows:
        raise ValueError("no window to pick from")
    wanted = {t: idf[t] for t in set(terms(query)) if t in idf}
    hits = [_matched(wanted, set(terms(text[a:b]))) for _, a, b in windows]
    present = {t: w for t, w in wanted.items() if any(t in hit for hit in hits)}
    total = sum(present.values())
    shown = set(readable(text, [(a, b) for _, a, b in windows]))
    typed = {re.compile(rf"\b{re.escape(c)}\b") for c in _CODE_RE.findall(query)}
    codes = [c for c in typed if c.search(text)]
    numbers = set(_NUMBER_RE.findall(query))

    def rank(i: int) -> tuple[int, int, float, int]:
        a, b = windows[i][1:]
        keyed = _keyed_by(text, a, b, numbers)
        named = sum(bool(c.search(text, a, b)) for c in codes) + keyed
        share = sum(w for t, w in present.items() if t in hits[i]) / total if total else 0
        # the first of equals, as argmax; a row keyed by the typed number before a sentence
        # naming as many capitals ("4 LIVE strikes": the row "4 | ...", not "a LIVE strike")
        return named, keyed, windows[i][0] + weight * share, -i

    pool = [i for i, (_, a, b) in enumerate(windows) if (a, b) in shown]
    return max(pool or range(len(windows)), key=rank)


# A count the question types ("4 strikes", "16yo"); not 2.5, 10/02, a year-month or "3rd".
_NUMBER_RE = re.compile(r"(?<![\w.,/-])\d{1,4}(?!\d|st\b|nd\b|rd\b|th\b)(?![.,/-]\d)")


def _keyed_by(text: str, a: int, b: int, numbers: set[str]) -> int:
    """1 when ``text[a:b]`` is a table row whose first cell is a number the question typed:
    "host hit 4 LIVE strikes" marked the table's intro sentence, not the row "4 | ...", as a
    code typed in capitals marks its row."""
    if not numbers or " | " not in text[a:b]:
        return 0
    first = text[a:b].strip().lstrip("|").split(" | ", 1)[0].strip()
    lead = re.match(r"\d+", first)
    return int(bool(lead) and lead.group() in numbers and len(first) <= lead.end() + 12)


def best_sentence(text: str, query: str, idf: dict[str, float]) -> tuple[int, int]:
    """Span (relative to ``text``) of the sentence sharing the most query weight."""
    query_terms = set(terms(query))
    default = max(idf.values(), default=1.0)
    best, best_score = None, 0.0
    spans = readable(text, sentence_spans(text)) or sentence_spans(text)
    for a, b in spans:
        held = _matched(query_terms, set(terms(text[a:b])))
        score = sum(idf.get(t, default) for t in query_terms if t in held)
        # Prefer real sentences over a bare heading line with the same words.
        if score > best_score + 1e-9:
            best, best_score = (a, b), score
    if best is None:
        body = [s for s in spans if not text[s[0] : s[1]].lstrip().startswith("#")]
        best = (body or spans)[0]
    return best


def _matched(wanted: Iterable[str], words: set[str]) -> set[str]:
    """The terms of ``wanted`` found in ``words``: as an exact stem, or as a shared prefix of
    two words of four letters or more ('german' ~ 'germany').

    Such a prefix match shares the first four letters, so only words whose first four are a
    sought term's are compared: a search highlights five passages of several windows each,
    and comparing every term with every word took a tenth of its time.
    """
    found = {t for t in wanted if t in words}
    sought: dict[str, list[str]] = {}
    for t in wanted:
        if len(t) >= 4 and t not in found:
            sought.setdefault(t[:4], []).append(t)
    if sought:
        for w in words:
            for t in sought.get(w[:4], ()) if len(w) >= 4 else ():
                if w.startswith(t) or t.startswith(w):
                    found.add(t)
    return found
