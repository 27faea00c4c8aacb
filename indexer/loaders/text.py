"""Plain text: headings are underlined (=== / ---) or ALL-CAPS lines, as plain-text SOPs are."""

from __future__ import annotations

import re

from indexer.loaders.common import Heading, Parsed, decode_text

_UNDERLINE_RE = re.compile(r"^[ \t]*(=+|-+)[ \t]*$")
_MAX_HEADING_CHARS = 90


def _is_caps_heading(line: str) -> bool:
    """ALL-CAPS short line without final punctuation, e.g. 'ESCALATION PATH'."""
    s = line.strip()
    letters = [c for c in s if c.isalpha()]
    if len(letters) < 3 or len(s) > _MAX_HEADING_CHARS or s.endswith((".", ",", ";")):
        return False
    return sum(c.isupper() for c in letters) / len(letters) >= 0.9


def parse(data: bytes) -> Parsed:
    """Parse plain text; the text is kept byte-for-byte (newlines normalised)."""
    text = decode_text(data)
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    headings: list[Heading] = []
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or _UNDERLINE_RE.match(s):
            continue
        prev_blank = i == 0 or not lines[i - 1].strip()
        nxt = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if len(s) <= _MAX_HEADING_CHARS and _UNDERLINE_RE.match(nxt) and len(nxt) >= 3:
            headings.append(Heading(1 if nxt.startswith("=") else 2, s, offsets[i]))
        elif prev_blank and _is_caps_heading(s):
            headings.append(Heading(2, s, offsets[i]))
    title = ""
    if headings and headings[0].level == 1:
        title = headings[0].title
    return Parsed(text=text, headings=headings, title=title)
