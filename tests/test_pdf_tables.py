"""PDF tables read as one line per row (indexer.loaders.pdf_tables), not one cell per line."""

from __future__ import annotations

import io
from pathlib import Path

from indexer.loaders import load_file, pdf
from indexer.loaders.pdf_tables import layout_blocks, may_hold_table, with_table_rows

KB = Path(__file__).resolve().parents[1] / "kb"

# What pypdf gives for one page in its two modes: plain text reads the table cell by cell,
# each wrapped cell's lines together; layout mode keeps rows on lines and cells in columns.
PLAIN = """2. Levels
Level
Signals
Response
Level 1
Stated intent with a plan,
means or timeframe
Section 3
Level 2
Suicidal thoughts without a plan
Section 5, Tier 2
review
2.1 Notes
If unsure, choose the higher level."""

LAYOUT = """ 2. Levels

   Level             Signals                              Response
   Level 1           Stated intent with a plan,           Section 3
                     means or timeframe

   Level 2           Suicidal thoughts without a plan     Section 5, Tier 2
                                                          review
   2.1 Notes

 If unsure, choose the higher level."""

ROWS = """Level | Signals | Response
Level 1 | Stated intent with a plan, means or timeframe | Section 3
Level 2 | Suicidal thoughts without a plan | Section 5, Tier 2 review"""


def test_a_table_becomes_one_line_per_row_with_wrapped_cells_joined() -> None:
    out = with_table_rows(PLAIN, LAYOUT)
    assert out == "2. Levels\n" + ROWS + "\n2.1 Notes\nIf unsure, choose the higher level."


def test_a_short_heading_under_the_first_column_is_not_a_row() -> None:
    # "2.1 Notes" sits where the first column starts and fits in it, but a row has cells in
    # at least two columns: the heading stays a line of its own.
    out = with_table_rows(PLAIN, LAYOUT)
    assert "\n2.1 Notes\n" in out
    assert "Notes |" not in out


def test_a_first_cell_wrapped_onto_a_line_of_its_own_is_read_by_the_plain_order() -> None:
    # "2703(d))" starts in the first column: a new row or the rest of "Court order ..."? The
    # plain text reads it right after "U.S.C.", so it continues that cell.
    plain = (
        "Request\nWhat\nTarget\nCourt order (18 U.S.C.\n2703(d))\nLogin IP\nlogs\n15 days\n"
        "Warrant\nContent\n15 days"
    )
    layout = (
        "  Request                   What              Target\n"
        "  Court order (18 U.S.C.    Login IP          15 days\n"
        "  2703(d))                  logs\n"
        "  Warrant                   Content           15 days"
    )
    assert with_table_rows(plain, layout) == (
        "Request | What | Target\n"
        "Court order (18 U.S.C. 2703(d)) | Login IP logs | 15 days\n"
        "Warrant | Content | 15 days"
    )


def test_words_that_do_not_match_the_plain_text_leave_it_alone() -> None:
    assert with_table_rows(PLAIN.replace("Section 3", "Section 4"), LAYOUT) == (
        PLAIN.replace("Section 3", "Section 4")
    )
    assert with_table_rows(PLAIN, "") == PLAIN


def test_prose_is_not_a_table() -> None:
    prose = (
        " This policy sets out when buyers can return items and how refunds are issued.\n"
        " Sellers may offer a longer return window than this policy, but never a shorter one.\n"
        "   1. Stay with the case.  Do not close it.\n"
    )
    assert layout_blocks(prose) == []


def _drawn_pdf(strings: list[tuple[float, float, str]]) -> bytes:
    """One A4 page with each (x, y, text) drawn in that order, as a typesetter would."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.setFont("Helvetica", 10)
    for x, y, text in strings:
        c.drawString(x, y, text)
    c.showPage()
    c.save()
    return buf.getvalue()


def _table_pdf() -> bytes:
    """One page: a heading, a three-column table with a wrapped cell, then a sentence."""
    # A table renderer draws each cell whole, its wrapped lines one under the other.
    rows = [
        (["Market"], ["Emergency number"], ["Crisis helpline"]),
        (["US"], ["911"], ["988 Suicide & Crisis Lifeline"]),
        (["DE"], ["112"], ["TelefonSeelsorge"]),
        (["KR"], ["112 (police) or", "119 (ambulance)"], ["Suicide prevention hotline"]),
    ]
    strings = [(72, 780, "Helplines by market")]
    y = 750
    for row in rows:
        for x, cell in zip((72, 200, 330), row, strict=True):
            strings += [(x, y - 12 * n, line) for n, line in enumerate(cell)]
        y -= 12 * max(len(cell) for cell in row) + 4
    strings.append((72, 660, "Call the emergency number first when life is at risk."))
    return _drawn_pdf(strings)


def test_a_pdf_table_is_indexed_as_rows() -> None:
    parsed = pdf.parse(_table_pdf())
    lines = parsed.text.split("\n")
    assert "KR | 112 (police) or 119 (ambulance) | Suicide prevention hotline" in lines
    assert "DE | 112 | TelefonSeelsorge" in lines
    assert lines[-1] == "Call the emergency number first when life is at risk."
    assert parsed.pages[0].end == len(parsed.text)


def test_the_sample_pdfs_read_their_tables_as_rows() -> None:
    doc = load_file(KB / "sops" / "self-harm-risk-response.pdf", KB)
    lines = doc.text.split("\n")
    assert "KR | 112 (police) or 119 (ambulance) | Suicide prevention hotline | 109" in lines
    assert (
        "Level 2 - Elevated risk | Suicidal thoughts or self-harm urges without a plan or "
        "timeframe | Section 5, resources and Tier 2 review" in lines
    )
    doc = load_file(KB / "sops" / "law-enforcement-requests.pdf", KB)
    assert (
        "Court order (for example 18 U.S.C. 2703(d)) | Non-content records such as login IP "
        "logs and device data | 15 business days" in doc.text.split("\n")
    )


def test_two_columns_of_prose_read_column_by_column_are_not_a_table() -> None:
    """A newsletter layout: pypdf reads the left column, then the right; read row by row the
    words would interleave, so the two columns are not mistaken for a table."""
    left = ["Refunds are issued to the original", "payment method within ten days of", "the end."]
    right = ["Sellers must respond within three", "calendar days or the return is", "accepted."]
    data = _drawn_pdf(
        [(x, 780 - 12 * n, line) for x, column in ((72, left), (320, right))
         for n, line in enumerate(column)]
    )  # fmt: skip
    assert pdf.parse(data).text == "\n".join(left + right)


def test_only_pages_with_a_run_of_short_lines_are_read_again_in_layout_mode() -> None:
    assert may_hold_table(PLAIN)
    prose = "\n".join(
        ["A line of prose that runs across the whole width of the page, as text does."] * 6
    )
    assert not may_hold_table(prose + "\nShort.\nShort too.\n" + prose)
