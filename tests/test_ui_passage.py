"""The Search page's passage: text as written and escaped, tables as tables, the span marked."""

from __future__ import annotations

import html
import re

from ui.passage import passage_html

TABLE = (
    "## How much does it cost?\n\n"
    "| Market | Monthly | Yearly |\n"
    "|---|---|---|\n"
    "| US | US$4.99 | US$49.99 |\n"
    "| GB | GBP 4.49 | GBP 44.99 |\n"
    "Prices include VAT | where it applies."
)


def _rows(out: str) -> list[str]:
    return re.findall(r"<tr>(.*?)</tr>", out)


def test_a_markdown_table_becomes_a_table_with_its_header() -> None:
    out = passage_html(TABLE)
    assert out.count("<table") == 1 and "|---|" not in out and "| US |" not in out
    rows = _rows(out)
    assert len(rows) == 3  # header, US, GB: the rule is not a row
    assert re.findall(r"<th[^>]*>(.*?)</th>", rows[0]) == ["Market", "Monthly", "Yearly"]
    assert re.findall(r"<td[^>]*>(.*?)</td>", rows[2]) == ["GB", "GBP 4.49", "GBP 44.99"]
    # Text around the table stays as written: its heading marks and its lone '|'.
    assert out.startswith("## How much does it cost?\n\n")
    assert out.endswith("</table>Prices include VAT | where it applies.")


def test_the_highlighted_row_is_marked_in_every_cell_and_only_it() -> None:
    start = TABLE.index("| GB")
    out = passage_html(TABLE, start, start + len("| GB | GBP 4.49 | GBP 44.99 |"))
    rows = _rows(out)
    assert rows[2].count("<mark>") == 3 and "<mark>GBP 4.49</mark>" in rows[2]
    assert all("<mark>" not in r for r in rows[:2])
    assert "<mark>" not in out.split("</table>")[1]


def test_rows_without_outer_bars_or_header_are_a_table_too() -> None:
    # DOCX and HTML tables arrive as "a | b | c" lines; a passage may start inside a table.
    text = "Code | Meaning | Agent action\nBR-01 | Account closed | Ask for a new account"
    rows = _rows(passage_html(text))
    assert len(rows) == 2 and "<th" not in passage_html(text)
    assert re.findall(r"<td[^>]*>(.*?)</td>", rows[1]) == [
        "BR-01",
        "Account closed",
        "Ask for a new account",
    ]


def test_text_without_a_table_is_escaped_and_marked_as_before() -> None:
    text = "# Heading\n<b>bold</b> & 1. item | one bar\nlast line"
    start, end = text.index("<b>"), text.index(" &")
    expected = (
        html.escape(text[:start])
        + "<mark>"
        + html.escape(text[start:end])
        + "</mark>"
        + html.escape(text[end:])
    )
    assert passage_html(text, start, end) == expected
    assert passage_html(text) == html.escape(text)


def test_cells_are_escaped_and_rows_of_another_width_end_the_table() -> None:
    text = "| a | <script>x</script> |\n| b | c |\n| one | two | three |\n| four | five | six |"
    out = passage_html(text)
    assert out.count("<table") == 2 and "<script>" not in out
    assert "&lt;script&gt;x&lt;/script&gt;" in out
