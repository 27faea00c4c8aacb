"""Documents' text as HTML (Search cards, source page): as written and escaped, tables as tables,
the cited span marked."""

from __future__ import annotations

import html
import re

from indexer.render import marked_html, table_header

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
    out = marked_html(TABLE)
    assert out.count("<table") == 1 and "|---|" not in out and "| US |" not in out
    rows = _rows(out)
    assert len(rows) == 3  # header, US, GB: the rule is not a row
    assert re.findall(r"<th[^>]*>(.*?)</th>", rows[0]) == ["Market", "Monthly", "Yearly"]
    assert re.findall(r"<td[^>]*>(.*?)</td>", rows[2]) == ["GB", "GBP 4.49", "GBP 44.99"]
    # Text around the table stays as written: its heading marks and its lone '|'.
    assert out.startswith("## How much does it cost?\n\n")
    assert out.endswith("</table></div>Prices include VAT | where it applies.")
    # At 390 px a table of long codes pushed its answer column off the page: cells break long
    # words, and what is still too wide scrolls inside the table's own box.
    assert out.count("<div style='overflow-x: auto") == 1
    assert all("overflow-wrap: anywhere" in cell for cell in re.findall(r"<t[dh][^>]*>", out))


def test_the_highlighted_row_is_marked_in_every_cell_and_only_it() -> None:
    start = TABLE.index("| GB")
    out = marked_html(TABLE, start, start + len("| GB | GBP 4.49 | GBP 44.99 |"))
    rows = _rows(out)
    assert rows[2].count("<mark>") == 3 and "<mark>GBP 4.49</mark>" in rows[2]
    assert all("<mark>" not in r for r in rows[:2])
    assert "<mark>" not in out.split("</table>")[1]


def test_rows_without_outer_bars_or_header_are_a_table_too() -> None:
    # DOCX and HTML tables arrive as "a | b | c" lines; a passage may start inside a table.
    text = "Code | Meaning | Agent action\nBR-01 | Account closed | Ask for a new account"
    rows = _rows(marked_html(text))
    assert len(rows) == 2 and "<th" not in marked_html(text)
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
    assert marked_html(text, start, end) == expected
    assert marked_html(text) == html.escape(text)


def test_cells_are_escaped_and_rows_of_another_width_end_the_table() -> None:
    text = "| a | <script>x</script> |\n| b | c |\n| one | two | three |\n| four | five | six |"
    out = marked_html(text)
    assert out.count("<table") == 2 and "<script>" not in out
    assert "&lt;script&gt;x&lt;/script&gt;" in out


def _old_source_page(text: str, events: list[tuple[int, int, str]], start: int, end: int) -> str:
    """How the source page marked a document before tables were shown as tables."""
    events = [*events, (start, 2, '<mark id="passage">'), (end, -1, "</mark>")]
    events.sort(key=lambda e: (e[0], e[1]))
    parts, pos = [], 0
    for at, _, tag in events:
        parts.append(html.escape(text[pos:at]))
        parts.append(tag)
        pos = at
    parts.append(html.escape(text[pos:]))
    return "".join(parts)


DOC = (
    "# Title\n\nIntro & <b>terms</b>.\n\n## Refunds\nRefunds take 5 days.\n\n"
    "Page two text | one bar."
)
EVENTS = [
    (DOC.index("## Refunds"), 1, '<span id="refunds"></span>'),
    (DOC.index("Refunds take"), 0, '<span class="page" id="page-2">page 2</span>'),
    (DOC.index("Page two"), 0, '<span class="page" id="page-3">page 3</span>'),
]


def test_a_document_without_tables_shows_as_the_source_page_always_did() -> None:
    for start, end in [
        (DOC.index("Refunds take"), DOC.index(" 5 days")),  # a page mark at the span's start
        (DOC.index("Intro"), DOC.index("Page two") + 4),  # anchors and pages inside the span
        (0, len(DOC)),
    ]:
        assert marked_html(DOC, start, end, EVENTS, "passage") == _old_source_page(
            DOC, EVENTS, start, end
        )


def test_tags_in_a_table_go_before_it_and_only_the_first_mark_has_the_id() -> None:
    text = "Intro line.\n" + TABLE.split("\n\n", 1)[1] + "\nOutro."
    page = (text.index("| GB"), 2, '<span class="page" id="page-2">page 2</span>')
    start, end = text.index("line."), text.index("Outro") + 3  # text, table, text
    out = marked_html(text, start, end, [page], "passage")
    assert out.index('id="page-2"') < out.index("<table") < out.index("</table>")
    assert out.count('<mark id="passage">') == 1
    assert out.index('<mark id="passage">') < out.index("<table")  # the first: "line."
    assert out.endswith("Out</mark>ro.") and "<mark>GB</mark>" in out
    tags_at_end = marked_html("abc", 0, 0, [(3, 1, "<span id='end'></span>")])
    assert tags_at_end == "abc<span id='end'></span>"


def test_a_highlighted_row_comes_with_its_tables_header() -> None:
    row = TABLE.index("| GB")
    assert table_header(TABLE, row, row + 10) == "| Market | Monthly | Yearly |"
    assert table_header(TABLE, 3, 10) is None  # in the heading, not a table
    assert table_header(TABLE, TABLE.index("| Market"), TABLE.index("| Market") + 5) is None
    rows_only = TABLE.split("|---|---|---|\n", 1)[1]  # a passage that starts inside a table
    assert table_header(rows_only, 0, 5) is None
