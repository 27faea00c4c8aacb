"""PDF tables as rows: pypdf's plain text reads a table one cell (or cell line) per line.

"DE\\n30 days\\n30 days\\n14 days" tells an agent nothing, and a sentence window of "DE" is what
search would highlight. pypdf's layout mode keeps each row on its line, cells in columns, but
pads the page with spaces. So the plain text stays the document's text, and each table found
in the layout text replaces its stretch of the plain text as one line per row,
"DE | 30 days | 30 days | 14 days", the way the HTML and DOCX loaders write table rows.

Pure functions over the two texts of one page; a table whose words do not match the plain text
word for word, in order, is left as the plain text had it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_GAP_RE = re.compile(r"\S+(?: \S+)*")  # a run of words with single spaces: one cell's line
_WORD_RE = re.compile(r"\S+")
_TOLERANCE = 2  # columns: where one cell starts, measured in characters of the layout line
_MIN_GAP = 3  # spaces between two cells of a row (a sentence has one between words)


@dataclass
class _Block:
    """Consecutive layout lines whose cells sit on the same columns: a table, maybe followed by
    a line that only looks like part of it (a short heading under the first column)."""

    columns: list[int]  # where each column starts in the layout lines
    lines: list[list[tuple[int, str]]] = field(default_factory=list)  # (column, text) per line


def _segments(line: str) -> list[tuple[int, str]]:
    """(start column, text) of each run of words separated by at least ``_MIN_GAP`` spaces."""
    out: list[tuple[int, str]] = []
    for match in _GAP_RE.finditer(line):
        text = match.group()
        # Runs split at single spaces above; glue back words closer than the minimum gap.
        if out and match.start() - (out[-1][0] + len(out[-1][1])) < _MIN_GAP:
            start = out[-1][0]
            out[-1] = (start, line[start : match.end()])
        else:
            out.append((match.start(), text))
    return out


def _column_of(start: int, columns: list[int]) -> int | None:
    for i, col in enumerate(columns):
        if abs(start - col) <= _TOLERANCE:
            return i
    return None


def _fits(segments: list[tuple[int, str]], columns: list[int]) -> list[int] | None:
    """The column of each segment when every one starts on a column and ends before the next
    column starts (a paragraph's line runs across them), else None."""
    found = []
    for start, text in segments:
        i = _column_of(start, columns)
        if i is None or (found and i <= found[-1]):
            return None
        if i + 1 < len(columns) and start + len(text) > columns[i + 1] - 1:
            return None
        found.append(i)
    return found


def layout_blocks(layout: str) -> list[_Block]:
    """Candidate tables in a page's layout text: a line of at least two cells sets the
    columns, and the lines after it whose cells all sit on those columns join it."""
    blocks: list[_Block] = []
    current: _Block | None = None
    for line in layout.split("\n"):
        if not line.strip():
            continue  # layout mode spaces rows apart with empty lines, irregularly
        segments = _segments(line)
        if current is not None:
            cols = _fits(segments, current.columns)
            if cols is not None:
                current.lines.append(
                    [(i, text) for i, (_s, text) in zip(cols, segments, strict=True)]
                )
                continue
            blocks.append(current)
            current = None
        if len(segments) >= 2:
            current = _Block([start for start, _ in segments])
            current.lines.append([(i, text) for i, (_s, text) in enumerate(segments)])
    if current is not None:
        blocks.append(current)
    return [b for b in blocks if len(b.lines) >= 2]


def _cells_of(block: _Block, first: int, last: int) -> list[list[str]]:
    """The cells of one row made of layout lines ``first`` to ``last``: per column, its lines."""
    cells: list[list[str]] = [[] for _ in block.columns]
    for line in block.lines[first : last + 1]:
        for col, text in line:
            cells[col].append(text)
    return cells


def _rows(block: _Block, tokens: list[str], at: int) -> tuple[list[list[list[str]]], int]:
    """Rows of ``block`` read against the plain text's words from ``at``, and where they end.

    pypdf's plain text reads a table row by row, each cell whole (its wrapped lines together),
    so a row is the shortest run of lines, opening in the first column with cells in at least
    two columns, whose cells read as the next words of the plain text. A line in the first
    column may open a row or continue a wrapped first cell; the plain text's order decides.
    The table ends at the first line that fits neither.
    """
    rows: list[list[list[str]]] = []
    j = 0
    n = len(block.lines)
    while j < n and block.lines[j][0][0] == 0:
        for k in range(j, n):
            if k + 1 < n and block.lines[k + 1][0][0] != 0:
                continue  # the next line continues this row's cells
            cells = _cells_of(block, j, k)
            if sum(1 for c in cells if c) < 2:
                continue
            words = [w for cell in cells for line in cell for w in line.split()]
            if tokens[at : at + len(words)] == words:
                rows.append(cells)
                at += len(words)
                j = k + 1
                break
        else:
            break
    return rows, at


def rows_text(rows: list[list[list[str]]]) -> str:
    """One line per row, cells joined by ' | ' and a wrapped cell's lines by a space."""
    return "\n".join(" | ".join(" ".join(cell) for cell in row) for row in rows)


def may_hold_table(plain: str, run: int = 3, width: int = 60) -> bool:
    """Whether a page's plain text has ``run`` consecutive short lines, as a table's cells
    read one per line do; a page of prose has none, and is not read a second time in layout
    mode (which takes about as long again as the plain text)."""
    short = 0
    for line in plain.split("\n"):
        short = short + 1 if 0 < len(line.strip()) <= width else 0
        if short >= run:
            return True
    return False


def with_table_rows(plain: str, layout: str) -> str:
    """``plain`` with each table of ``layout`` rewritten as rows where its words, read row by
    row and cell by cell, are exactly the words of a stretch of ``plain``."""
    words = list(_WORD_RE.finditer(plain))
    tokens = [w.group() for w in words]
    edits: list[tuple[int, int, str]] = []
    at = 0
    for block in layout_blocks(layout):
        opening = block.lines[0][0][1].split()
        for i in range(at, len(tokens) - len(opening) + 1):
            if tokens[i : i + len(opening)] != opening:
                continue
            rows, end = _rows(block, tokens, i)
            if len(rows) >= 2:
                edits.append((words[i].start(), words[end - 1].end(), rows_text(rows)))
                at = end
                break
    for start, end, text in reversed(edits):
        plain = plain[:start] + text + plain[end:]
    return plain
