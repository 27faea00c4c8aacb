"""A passage as the Search page shows it: its text as written, its tables as tables.

What counts as a table row is the chunker's rule (``indexer.chunking.table_rows``), so the
page shows as a table what the model read as one.

A market table read as raw ``| DE | 14 days | ... |`` lines is where an agent loses the row
they need; 46 of kb/'s 463 passages hold one. Everything else stays as written (a passage's own
"#", "*" or "1." must show, so no Markdown is rendered), and the highlighted span stays marked,
in a table row by row.
"""

from __future__ import annotations

import html
import re

from indexer.chunking import table_rows

# A table's header rule: "|---|:--:|" or "--- | ---" (at least three dashes a cell).
_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _cells(line: str) -> list[str]:
    """The cells of a table line ("| a | b |" or "a | b"); fewer than two: not a table line."""
    body = line.strip()
    if body.startswith("|"):
        body = body[1:]
    if body.endswith("|"):
        body = body[:-1]
    cells = [c.strip() for c in body.split("|")]
    return cells if len(cells) >= 2 else []


def _fits(first: str, line: str) -> bool:
    """Whether ``line`` continues the table that ``first`` starts: a rule, or a row as wide and
    written alike (with or without an outer "|")."""
    if _RULE.match(line):
        return True
    alike = line.lstrip().startswith("|") == first.lstrip().startswith("|")
    return alike and len(_cells(line)) == len(_cells(first))


def _marked(text: str, start: int, end: int) -> str:
    """``text`` escaped, with [start, end) (clipped to it) inside <mark>."""
    a, b = max(0, min(start, len(text))), max(0, min(end, len(text)))
    if a >= b:
        return html.escape(text)
    return (
        html.escape(text[:a])
        + "<mark>"
        + html.escape(text[a:b])
        + "</mark>"
        + html.escape(text[b:])
    )


def _table_html(rows: list[tuple[int, str]], start: int, end: int) -> str:
    """Table lines (offset in the passage, line) as an HTML table; a row the span [start, end)
    touches has every cell marked. A rule as the second line makes the first a header."""
    header = len(rows) > 1 and bool(_RULE.match(rows[1][1]))
    out = ["<table style='border-collapse: collapse; margin: 0.25em 0'>"]
    for i, (offset, line) in enumerate(rows):
        if _RULE.match(line):
            continue
        tag = "th" if header and i == 0 else "td"
        hit = offset < end and start < offset + len(line)
        cells = "".join(
            f"<{tag} style='border: 1px solid #ccc; padding: 2px 6px; text-align: left'>"
            + (f"<mark>{html.escape(c)}</mark>" if hit and c else html.escape(c))
            + f"</{tag}>"
            for c in _cells(line)
        )
        out.append(f"<tr>{cells}</tr>")
    out.append("</table>")
    return "".join(out)


def passage_html(text: str, start: int = 0, end: int = 0) -> str:
    """``text`` as HTML for a ``white-space: pre-wrap`` block: escaped, [start, end) marked,
    and each run of two or more table lines shown as a table."""
    lines = text.splitlines(keepends=True)
    rows = table_rows([line.rstrip("\r\n") for line in lines])  # as the model reads tables
    parts: list[str] = []
    pending: list[tuple[int, str, str]] = []  # table lines not yet written: offset, bare, whole
    offset = 0

    def flush() -> None:
        if len(pending) >= 2:
            parts.append(_table_html([(at, bare) for at, bare, _ in pending], start, end))
        else:  # a lone line with a "|" in it is text
            for at, _, whole in pending:
                parts.append(_marked(whole, start - at, end - at))
        pending.clear()

    for line, cells in zip(lines, rows, strict=True):
        bare = line.rstrip("\r\n")
        if cells:
            if pending and not _fits(pending[0][1], bare):
                flush()
            pending.append((offset, bare, line))
        else:
            flush()
            parts.append(_marked(line, start - offset, end - offset))
        offset += len(line)
    flush()
    return "".join(parts)
