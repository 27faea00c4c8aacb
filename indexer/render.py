"""Text shown as HTML: as written and escaped, its tables as tables, a cited span marked.

The Search page's cards (ui/views/agent.py) and the source page (``GET /source/...``) both
show documents' own text. A market table read as raw ``| DE | 14 days | ... |`` lines is where
an agent loses the row they need (46 of kb/'s 463 passages hold one), so runs of table rows
become HTML tables, with the marked span's rows marked cell by cell. Everything else stays as
written: a passage's own "#", "*" or "1." must show, so no Markdown is rendered. What counts as
a table row is the chunker's rule (:func:`indexer.chunking.table_rows`): the page shows as a
table what the model read as one.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from indexer.chunking import table_cells, table_rows

# A table's header rule: "|---|:--:|" or "--- | ---" (at least three dashes a cell).
_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_CELL = "border: 1px solid #ccc; padding: 2px 6px; text-align: left; overflow-wrap: anywhere"
MARK_OPEN, MARK_CLOSE = 2, -1  # orders of the mark's own tags among tags at one offset


def _fits(first: str, line: str) -> bool:
    """Whether ``line`` continues the table that ``first`` starts: a rule, or a row as wide and
    written alike (with or without an outer "|")."""
    if _RULE.match(line):
        return True
    alike = line.lstrip().startswith("|") == first.lstrip().startswith("|")
    return alike and len(table_cells(line)) == len(table_cells(first))


def _segments(text: str) -> list[tuple[int, int, list[tuple[int, str]]]]:
    """``text`` cut into (start, end, rows): rows empty for running text, else a table's lines
    (offset, line without its newline). Two or more adjacent rows make a table; a lone one is
    text."""
    lines = text.splitlines(keepends=True)
    kinds = table_rows([line.rstrip("\r\n") for line in lines])
    out: list[tuple[int, int, list[tuple[int, str]]]] = []
    pending: list[tuple[int, str]] = []
    offset = 0

    def add(start: int, end: int, rows: list[tuple[int, str]]) -> None:
        if not rows and out and not out[-1][2]:  # running text continues
            out[-1] = (out[-1][0], end, [])
        elif start < end:
            out.append((start, end, rows))

    def flush(upto: int) -> None:
        if len(pending) >= 2:
            add(pending[0][0], upto, list(pending))
        elif pending:
            add(pending[0][0], upto, [])
        pending.clear()

    for line, cells in zip(lines, kinds, strict=True):
        bare = line.rstrip("\r\n")
        if cells and (not pending or _fits(pending[0][1], bare)):
            pending.append((offset, bare))
        else:
            flush(offset)
            if cells:
                pending.append((offset, bare))
            else:
                add(offset, offset + len(line), [])
        offset += len(line)
    flush(offset)
    return out


class _Marks:
    """Opens <mark> tags; the first one carries ``mark_id`` (the source page scrolls to it)."""

    def __init__(self, mark_id: str | None) -> None:
        self.mark_id = mark_id

    def open(self) -> str:
        if self.mark_id is None:
            return "<mark>"
        tag, self.mark_id = f'<mark id="{html.escape(self.mark_id)}">', None
        return tag


def _table(rows: list[tuple[int, str]], start: int, end: int, marks: _Marks) -> str:
    """Table lines as an HTML table; a row the span [start, end) touches has every cell marked.
    A rule as the second line makes the first a header."""
    header = len(rows) > 1 and bool(_RULE.match(rows[1][1]))
    # Long codes and URLs break inside their cell, and a table still too wide for a narrow
    # window (a side panel beside the ticket tool) scrolls inside its own box: at 390 px a
    # table of long error codes pushed its answer column off the page.
    out = [
        "<div style='overflow-x: auto; max-width: 100%'>"
        "<table style='border-collapse: collapse; margin: 0.25em 0'>"
    ]
    for i, (offset, line) in enumerate(rows):
        if _RULE.match(line):
            continue
        tag = "th" if header and i == 0 else "td"
        hit = offset < end and start < offset + len(line)
        cells = "".join(
            f"<{tag} style='{_CELL}'>"
            + (f"{marks.open()}{html.escape(c)}</mark>" if hit and c else html.escape(c))
            + f"</{tag}>"
            for c in table_cells(line)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</table></div>")
    return "".join(out)


def _running(
    text: str, a: int, b: int, start: int, end: int, tags: list[tuple[int, int, str]], marks: _Marks
) -> str:
    """text[a:b] escaped, with ``tags`` (offset, order, html) inside it and [start, end) marked."""
    events = [t for t in tags if a <= t[0] < b]
    lo, hi = max(a, start), min(b, end)
    opened: list[tuple[int, int, str | None]] = list(events)
    if lo < hi:
        opened += [(lo, MARK_OPEN, None), (hi, MARK_CLOSE, "</mark>")]  # None: the mark's open
    opened.sort(key=lambda e: (e[0], e[1]))
    parts, pos = [], a
    for at, _, tag in opened:
        parts.append(html.escape(text[pos:at]))
        parts.append(marks.open() if tag is None else tag)
        pos = at
    parts.append(html.escape(text[pos:b]))
    return "".join(parts)


def marked_html(
    text: str,
    start: int = 0,
    end: int = 0,
    tags: Sequence[tuple[int, int, str]] = (),
    mark_id: str | None = None,
) -> str:
    """``text`` as HTML for a ``white-space: pre-wrap`` block: escaped, [start, end) marked, its
    tables as tables, and ``tags`` (offset, order among tags at one offset, trusted HTML: the
    source page's section anchors and page marks) placed at their offsets, or just before the
    table they fall in."""
    tags = sorted(tags, key=lambda t: (t[0], t[1]))
    marks = _Marks(mark_id)
    parts = []
    for a, b, rows in _segments(text):
        if rows:
            parts += [tag for at, _, tag in tags if a <= at < b]
            parts.append(_table(rows, start, end, marks))
        else:
            parts.append(_running(text, a, b, start, end, tags, marks))
    parts += [tag for at, _, tag in tags if at >= len(text)]
    return "".join(parts)


# Languages written right to left (primary subtags): Arabic, Hebrew, Persian, Urdu, Pashto,
# Yiddish, Dhivehi, Sindhi, Uyghur, Kurdish (Sorani), Syriac.
RTL_LANGUAGES = frozenset("ar he iw fa ur ps yi dv sd ug ckb syr".split())


def primary_language(language: str) -> str:
    """A language tag's primary subtag: "pt-br", "pt_br" and "pt" are one language to filter
    by (a document tagged pt-BR was left out of every search filtered on pt), and "ar-EG" is
    written as Arabic is."""
    return language.replace("_", "-").split("-", 1)[0]


def text_direction(language: str) -> str:
    """The HTML ``dir`` for a document's text: "rtl" for a language written right to left
    (an Arabic policy showed its lines left-aligned, punctuation at the wrong end), else
    "auto" (each paragraph takes its first strong letter's direction)."""
    primary = primary_language(language).strip().lower()
    return "rtl" if primary in RTL_LANGUAGES else "auto"


def table_header(text: str, start: int, end: int) -> str | None:
    """The header line of the table whose row [start, end) marks, when that table has one
    (a rule under its first line, or a first line of words alone in a table of three rows
    or more) and the span is not the header itself; else None.

    A highlighted row read alone ("| MY | MYR 14.90 | MYR 149.00 |") does not say which
    column is which: the terminal prints the header above it (the page shows the table)."""
    for a, b, rows in _segments(text):
        if not rows or not a <= start < b:
            continue
        if len(rows) > 2 and _RULE.match(rows[1][1]) and start >= rows[2][0]:
            return rows[0][1]
        # The PDF, DOCX and HTML loaders write no rule row: a first row of words alone
        # ("Market | Currency | Threshold") heads its table; one with figures is data.
        if len(rows) > 2 and start >= rows[1][0] and not any(c.isdigit() for c in rows[0][1]):
            return rows[0][1]
        return None
    return None
