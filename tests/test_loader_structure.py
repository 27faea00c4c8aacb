"""Document structure the loaders must get right: Markdown headings, HTML lists and tables,
DOCX list numbering, PDF running lines and numbered steps (each a reviewer's bug report)."""

from __future__ import annotations

import io

from indexer.chunking import chunk_document
from indexer.documents import Document
from indexer.loaders import docx, html, markdown, pdf
from indexer.loaders.common import sections_from_headings

# ---------------------------------------------------------------- Markdown


def _headings(text: str) -> list[tuple[int, str]]:
    return [(h.level, h.title) for h in markdown.parse(text.encode()).headings]


def test_markdown_setext_headings_are_sections_with_exact_spans() -> None:
    text = (
        "Refund Policy\n=============\n\nIntro.\n\n"
        "Windows\n-------\n\nUsers have 14 days.\n\n"
        "---\n\nAfter a thematic break.\n\n"
        "- an item\n---\n\n"
        "Steps\n---\n\n1. Open it.\n"
    )
    parsed = markdown.parse(text.encode())
    assert parsed.text == text  # the body as written: citations point into the source
    assert [(h.level, h.title) for h in parsed.headings] == [
        (1, "Refund Policy"),
        (2, "Windows"),
        (2, "Steps"),
    ]
    assert parsed.title == "Refund Policy"
    sections = sections_from_headings(parsed.text, parsed.headings)
    windows = next(s for s in sections if s.path == ("Refund Policy", "Windows"))
    assert text[windows.start : windows.end] == (
        "Windows\n-------\n\nUsers have 14 days.\n\n---\n\nAfter a thematic break.\n\n"
        "- an item\n---\n\n"
    )
    doc = Document("d.md", "T", text, "d.md", "md", sections)
    for chunk in chunk_document(doc, lambda t: len(t.split()), max_tokens=40, min_tokens=2):
        assert chunk.text == text[chunk.start : chunk.end]


def test_markdown_multiline_setext_heading_and_no_underline_in_lists_or_tables() -> None:
    text = (
        "Refunds for minors\nin Malaysia\n------------------\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n---\n\n"
        "> quoted\n===\n"
    )
    assert _headings(text) == [(2, "Refunds for minors in Malaysia")]


def test_markdown_long_paragraph_over_dashes_is_not_a_heading() -> None:
    lines = [f"Line {i} of a long paragraph about coin refunds and windows." for i in range(6)]
    text = "# Refunds\n\n" + "\n".join(lines) + "\n---\n\nAfter.\n"
    assert _headings(text) == [(1, "Refunds")]  # the '---' is a thematic break
    long_line = "word " * 60  # one line, 300 characters
    assert _headings(f"{long_line}\n===\n\n## Next\n") == [(2, "Next")]
    # a short multi-line title is still one heading
    assert _headings("Refunds for minors\nin Malaysia\n---\n") == [
        (2, "Refunds for minors in Malaysia")
    ]


def test_markdown_fence_closes_only_on_same_character_and_length() -> None:
    text = (
        "~~~\n```\n# not a heading (inside a tilde fence)\n~~~\n\n"
        "````md\n```\n# not a heading (the fence needs four backticks)\n````\n\n"
        "# Real heading\n"
    )
    assert _headings(text) == [(1, "Real heading")]


def test_markdown_atx_heading_keeps_a_hash_that_is_part_of_a_word() -> None:
    text = "## Refunds for C#\n\n## Closed ##\n\n### F# and C# ###\n\n#hashtag\n"
    assert _headings(text) == [(2, "Refunds for C#"), (2, "Closed"), (3, "F# and C#")]


def test_markdown_headings_indented_up_to_three_spaces() -> None:
    text = "   ## Three spaces\n\n    # four spaces is code\n"
    parsed = markdown.parse(text.encode())
    assert [(h.level, h.title, h.start) for h in parsed.headings] == [(2, "Three spaces", 0)]


# ---------------------------------------------------------------- HTML


def _html(body: str) -> str:
    return html.parse(f"<html><body>{body}</body></html>".encode()).text


def test_html_list_item_paragraph_keeps_its_number() -> None:
    text = _html("<ol><li><p>Open the report</p></li><li>\n <p>Check the history</p></li></ol>")
    assert text == "1. Open the report\n2. Check the history\n"


def test_html_ordered_list_start_attribute() -> None:
    assert _html('<ol start="4"><li>Four</li><li>Five</li></ol>') == "4. Four\n5. Five\n"


def test_html_cell_line_breaks_and_paragraphs_stay_separated() -> None:
    text = _html(
        "<table><tr><th>Market</th><th>Window</th></tr>"
        "<tr><td>DE</td><td>14 days<br>30 days</td><td><p>Refund</p><p>Reverse</p></td></tr>"
        "</table>"
    )
    assert text == "Market | Window\nDE | 14 days; 30 days | Refund; Reverse\n"


def test_html_nested_table_keeps_the_outer_row() -> None:
    text = _html(
        "<table><tr><td>DE</td>"
        "<td><table><tr><td>coins</td><td>14 days</td></tr></table></td>"
        "<td>escalate</td></tr><tr><td>US</td><td>7 days</td><td>refund</td></tr></table>"
    )
    assert text == "DE | coins, 14 days | escalate\nUS | 7 days | refund\n"


def test_html_header_inside_article_is_content_page_header_is_chrome() -> None:
    page = (
        "<html><body><header><a>Help centre</a></header>"
        "<article><header><h1>Coin refunds</h1><p>Owner: Payments</p></header>"
        "<p>Refund within 14 days.</p></article><footer>Copyright</footer></body></html>"
    )
    parsed = html.parse(page.encode())
    assert parsed.text == "Coin refunds\n\nOwner: Payments\n\nRefund within 14 days.\n"
    assert [(h.level, h.title, h.start) for h in parsed.headings] == [(1, "Coin refunds", 0)]


def test_html_site_chrome_in_a_page_wide_main_or_section_is_dropped() -> None:
    for wrapper in ("main", "section"):
        page = (
            f"<html><body><{wrapper} class=page>"
            "<header class=site><a>Vybe Help Center</a> Login Search</header>"
            "<nav>Home | FAQs</nav><section><h1>Real</h1><p>text</p></section>"
            "<footer class=site>Cookie settings Privacy</footer>"
            + ("" if wrapper == "section" else f"</{wrapper}>")  # a section left unclosed
            + "</body></html>"
        )
        parsed = html.parse(page.encode())
        assert parsed.text == "Real\n\ntext\n", wrapper
        assert [(h.level, h.title, h.start) for h in parsed.headings] == [(1, "Real", 0)]


def test_html_article_header_with_heading_kept_without_heading_dropped() -> None:
    page = (
        "<main><header><a>Vybe Help Center</a> Login</header>"
        "<article><header><nav>Home</nav><h1>Coin refunds</h1></header>"
        "<header><p>Share this</p></header><p>Body.</p><footer>Updated 2026</footer></article>"
        "<footer>Cookie settings</footer></main>"
    )
    parsed = html.parse(page.encode())
    assert parsed.text == "Coin refunds\n\nBody.\n\nUpdated 2026\n"
    assert [(h.level, h.title, h.start) for h in parsed.headings] == [(1, "Coin refunds", 0)]


# ---------------------------------------------------------------- DOCX

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _docx_bytes(build) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    build(document)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _word_list(document, levels: list[tuple[str, str]], num_id: int, restart: bool = False):
    """A numbering.xml list like Word's own: an abstractNum with ``levels`` (numFmt, lvlText)
    and a w:num ``num_id`` pointing at it (with a startOverride when ``restart``)."""
    from docx.oxml import parse_xml

    numbering = document.part.numbering_part.element
    abstract_id = 900 + num_id
    lvls = "".join(
        f'<w:lvl w:ilvl="{i}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/>'
        f'<w:lvlText w:val="{label}"/></w:lvl>'
        for i, (fmt, label) in enumerate(levels)
    )
    abstract = parse_xml(
        f'<w:abstractNum xmlns:w="{_W_NS}" w:abstractNumId="{abstract_id}">{lvls}</w:abstractNum>'
    )
    first_num = numbering.find(f"{{{_W_NS}}}num")
    first_num.addprevious(abstract)  # abstractNums come before nums in the schema
    override = (
        '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride>' if restart else ""
    )
    numbering.append(
        parse_xml(
            f'<w:num xmlns:w="{_W_NS}" w:numId="{num_id}">'
            f'<w:abstractNumId w:val="{abstract_id}"/>{override}</w:num>'
        )
    )


def _numbered(document, text: str, num_id: int, level: int = 0, style: str = "List Paragraph"):
    paragraph = document.add_paragraph(text, style=style)
    num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
    num_pr.get_or_add_ilvl().val = level
    num_pr.get_or_add_numId().val = num_id
    return paragraph


def test_docx_list_number_styles_number_each_level() -> None:
    def build(d) -> None:
        d.add_paragraph("Open the report.", style="List Number")
        d.add_paragraph("Check the reporter.", style="List Number 2")
        d.add_paragraph("Check the account.", style="List Number 2")
        d.add_paragraph("Escalate.", style="List Number")
        d.add_paragraph("Under the second step.", style="List Number 2")

    text = docx.parse(_docx_bytes(build)).text
    assert text == (
        "1. Open the report.\na. Check the reporter.\nb. Check the account.\n"
        "2. Escalate.\na. Under the second step.\n"
    )


def test_docx_plain_paragraph_does_not_restart_a_list_but_a_heading_does() -> None:
    def build(d) -> None:
        d.add_paragraph("Open the report.", style="List Number")
        d.add_paragraph("Note: the report may be hidden.")
        d.add_paragraph("Escalate.", style="List Number")
        d.add_heading("Appeals", level=1)
        d.add_paragraph("Open the appeal.", style="List Number")

    text = docx.parse(_docx_bytes(build)).text
    assert "1. Open the report.\n\nNote: the report may be hidden.\n\n2. Escalate." in text
    assert "Appeals\n\n1. Open the appeal." in text


def test_docx_word_default_numbered_list_reads_numbering_xml() -> None:
    multilevel = [("decimal", "%1."), ("lowerLetter", "%2)"), ("lowerRoman", "%3.")]

    def build(d) -> None:
        _word_list(d, multilevel, num_id=71)
        _word_list(d, [("bullet", "\uf0b7")], num_id=72)
        _word_list(d, [("decimal", "%1."), ("decimal", "%1.%2.")], num_id=73)
        _numbered(d, "Open the report.", 71)
        _numbered(d, "Check the history.", 71, level=1)
        d.add_paragraph("A plain paragraph does not end the list.")
        _numbered(d, "Escalate.", 71)
        _numbered(d, "A bullet.", 72)
        _numbered(d, "Legal one.", 73)
        _numbered(d, "Legal one point one.", 73, level=1)

    text = docx.parse(_docx_bytes(build)).text
    assert text == (
        "1. Open the report.\na) Check the history.\n\n"
        "A plain paragraph does not end the list.\n\n"
        "2. Escalate.\n- A bullet.\n1. Legal one.\n1.1. Legal one point one.\n"
    )


def test_docx_new_list_instance_with_start_override_restarts() -> None:
    def build(d) -> None:
        _word_list(d, [("decimal", "%1.")], num_id=81)
        from docx.oxml import parse_xml

        numbering = d.part.numbering_part.element
        # a second instance of the same abstract list, restarted as Word's "Restart at 1" does
        numbering.append(
            parse_xml(
                f'<w:num xmlns:w="{_W_NS}" w:numId="82"><w:abstractNumId w:val="981"/>'
                '<w:lvlOverride w:ilvl="0"><w:startOverride w:val="1"/></w:lvlOverride></w:num>'
            )
        )
        _numbered(d, "First list, one.", 81)
        _numbered(d, "First list, two.", 81)
        d.add_paragraph("Between the lists.")
        _numbered(d, "Second list, one.", 82)
        _numbered(d, "Second list, two.", 82)

    text = docx.parse(_docx_bytes(build)).text
    assert "1. First list, one.\n2. First list, two." in text
    assert "1. Second list, one.\n2. Second list, two." in text


# ---------------------------------------------------------------- PDF


def _pdf(pages: list[list[str]], outline: list[tuple[str, int]] | None = None) -> bytes:
    """A PDF with the given lines top-down on each page, bookmarks as (title, page index)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    for i, lines in enumerate(pages):
        c.bookmarkPage(f"p{i}")
        for title, page in outline or []:
            if page == i:
                c.addOutlineEntry(title, f"p{i}", level=0)
        c.setFont("Helvetica", 11)
        for n, line in enumerate(lines):
            c.drawString(72, 780 - 20 * n, line)
        c.showPage()
    c.save()
    return buf.getvalue()


def test_pdf_one_page_chapters_are_not_running_headers_but_page_numbers_are() -> None:
    pages = [
        [f"Chapter {n}", f"Body of chapter {n} about refunds.", f"Page {n} of 3"] for n in (1, 2, 3)
    ]
    parsed = pdf.parse(_pdf(pages, outline=[(f"Chapter {n}", n - 1) for n in (1, 2, 3)]))
    assert "Page 2 of 3" not in parsed.text
    assert "Body of chapter 2 about refunds." in parsed.text  # counts with the page, is content
    assert [(h.title, parsed.text[h.start :].split("\n")[0]) for h in parsed.headings] == [
        ("Chapter 1", "Chapter 1"),
        ("Chapter 2", "Chapter 2"),
        ("Chapter 3", "Chapter 3"),
    ]


def test_pdf_running_lines_still_stripped() -> None:
    pages = [
        ["Vybe SOP v2.0 - INTERNAL", f"Step text number {n} differs.", f"- {n + 4} -"]
        for n in (1, 2, 3, 4)
    ]
    texts = pdf.strip_running_lines(["\n".join(p) for p in pages])
    assert texts == [f"Step text number {n} differs." for n in (1, 2, 3, 4)]
    titled = [f"Body {n}.\nCoin Refund SOP | {n + 1}" for n in (1, 2, 3)]
    assert pdf.strip_running_lines(titled) == [f"Body {n}." for n in (1, 2, 3)]
    dated = [f"Updated 2026-0{n}-01\nBody {n}." for n in (3, 1, 4)]  # not counting pages
    assert pdf.strip_running_lines(dated) == dated


def test_pdf_numbered_running_titles_are_stripped_without_an_outline() -> None:
    body = ["alpha", "bravo", "charlie", "delta"]
    for footer in ("Vybe Help Center {n}", "{n} Vybe Refund SOP", "Refund SOP ({n})"):
        pages = [
            [f"{w} paragraph on page {n} about refund rule {w * n}." for w in body]
            + [footer.format(n=n)]
            for n in (1, 2, 3, 4)
        ]
        parsed = pdf.parse(_pdf(pages))
        assert "Vybe" not in parsed.text and "SOP" not in parsed.text, footer
        assert parsed.headings == []
        assert "delta paragraph on page 4" in parsed.text
    # the same line named by the outline is a heading, not a running line
    texts = ["Chapter 3\nBody three.", "Chapter 4\nBody four.", "Chapter 5\nBody five."]
    assert pdf.strip_running_lines(texts, outline_titles=["Chapter 3", "Chapter 4"]) == texts
    assert pdf.strip_running_lines(texts) == ["Body three.", "Body four.", "Body five."]


def test_pdf_numbered_steps_are_not_headings_without_an_outline() -> None:
    pages = [
        ["1. Scope", "This SOP covers reports of dangerous challenges."],
        [
            "2. Escalation",
            "Follow these steps:",
            "1. Open the report in Guardian",
            "2. Check the reporter history",
            "3. Escalate to Tier 2",
        ],
        ["3. Evidence", "Preserve the video id.", "3.1 Retention", "Keep it for 90 days."],
    ]
    parsed = pdf.parse(_pdf(pages))
    assert [h.title for h in parsed.headings] == [
        "1. Scope",
        "2. Escalation",
        "3. Evidence",
        "3.1 Retention",
    ]


def test_plain_text_caps_headings_nest_under_underlined_ones_and_may_carry_a_tag() -> None:
    """'P1 - CRITICAL' under '1. PRIORITY LEVELS' (underlined) was cited as its sibling, and a
    glossary term tagged '[internal]' was no heading at all: its text was cited under the term
    before it."""
    from indexer.loaders import text

    parsed = text.parse(
        b"SLA REFERENCE\n=============\n\nIntro.\n\n1. PRIORITY LEVELS\n------------------\n\n"
        b"P1 - CRITICAL\n  First response: 1 hour\n\nGUARDIAN QUEUE [internal]\nThe queue.\n\n"
        b"2. TIMERS\n---------\n\nTimers run.\n"
    )
    assert [(h.level, h.title) for h in parsed.headings] == [
        (1, "SLA REFERENCE"),
        (2, "1. PRIORITY LEVELS"),
        (3, "P1 - CRITICAL"),
        (3, "GUARDIAN QUEUE [internal]"),
        (2, "2. TIMERS"),
    ]
    plain = text.parse(b"GUIDE\n=====\n\nWHY IT MATTERS\nBecause.\n\nSee also [the FAQ]\n")
    assert [(h.level, h.title) for h in plain.headings] == [(1, "GUIDE"), (2, "WHY IT MATTERS")]
