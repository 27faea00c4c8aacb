"""Plain text: headings are underlined (=== / ---) or ALL-CAPS lines, as plain-text SOPs are;
an ALL-CAPS line sits one level below the last underlined heading."""

from __future__ import annotations

import re

from indexer.loaders.common import Heading, Parsed, decode_text

_UNDERLINE_RE = re.compile(r"^[ \t]*(=+|-+)[ \t]*$")
_MAX_HEADING_CHARS = 90


_TAG_RE = re.compile(r"\[[^\]]*\]|\([^)]*\)")  # 'AGE HOLD [internal]', 'MODIFIED (APPEAL ...)'


def _is_caps_heading(line: str) -> bool:
    """ALL-CAPS short line without final punctuation, e.g. 'ESCALATION PATH'; a tag in
    brackets ('GUARDIAN QUEUE [internal]') is not counted against it."""
    s = line.strip()
    letters = [c for c in _TAG_RE.sub("", s) if c.isalpha()]
    if len(letters) < 3 or len(s) > _MAX_HEADING_CHARS or s.endswith((".", ",", ";")):
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= 0.9


_TERM_MAX_WORDS = 8
_TERM_MIN_ENTRIES = 3  # a glossary: so many term lines, each opening a definition paragraph
_SENTENCE_END = (".", "!", "?", '."', ".)")


def _term_lines(lines: list[str]) -> set[int]:
    """Lines that name a glossary term: a short line without final punctuation opening a
    paragraph, whose next line, not indented, is a sentence ("Dispatch window" / "Another
    name for handling time: ..."). Taken only where a file holds at least ``_TERM_MIN_ENTRIES`` of
    them, so a lone label line stays text; ALL-CAPS terms were headings already, Title-case
    ones made a glossary one section, cited without its term."""
    found = set()
    for i, line in enumerate(lines[:-1]):
        s, nxt = line.strip(), lines[i + 1].strip()
        opens = bool(s) and (i == 0 or not lines[i - 1].strip())
        short = len(s.split()) <= _TERM_MAX_WORDS and len(s) <= _MAX_HEADING_CHARS
        named = opens and short and (s[-1].isalnum() or s.endswith(")"))
        if named and not s.startswith(("-", "*", "•")) and not _UNDERLINE_RE.match(nxt):
            flush = not lines[i + 1][:1].isspace()  # an indented line is a list's item
            if flush and len(nxt.split()) > len(s.split()) and nxt.endswith(_SENTENCE_END):
                found.add(i)
    return found if len(found) >= _TERM_MIN_ENTRIES else set()


def parse(data: bytes) -> Parsed:
    """Parse plain text; the text is kept byte-for-byte (newlines normalised)."""
    text = decode_text(data)
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    headings: list[Heading] = []
    underlined = 1  # the deepest underlined level so far: ALL-CAPS lines sit one below it
    terms = _term_lines(lines)
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or _UNDERLINE_RE.match(s):
            continue
        prev_blank = i == 0 or not lines[i - 1].strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if len(s) <= _MAX_HEADING_CHARS and _UNDERLINE_RE.match(nxt) and len(nxt) >= 3:
            underlined = 1 if nxt.startswith("=") else 2
            headings.append(Heading(underlined, s, offsets[i]))
        elif prev_blank and (_is_caps_heading(s) or i in terms):
            # Under '1. PRIORITY LEVELS' (underlined '---'), 'P1 - CRITICAL' is a subsection,
            # not its sibling; under the title ('===') an ALL-CAPS line is a section.
            headings.append(Heading(underlined + 1, s, offsets[i]))
    title = ""
    if headings and headings[0].level == 1:
        title = headings[0].title
    return Parsed(text=text, headings=headings, title=title)
