"""Loaders on documents as real tools write them (Word with tracked changes and content
controls, Chrome's print to PDF with ligatures, typeset PDFs with hyphenation, Markdown from
Google Docs and Pandoc, help-centre and wiki HTML): each test is one bug found that way."""

from __future__ import annotations

import io
import os

from indexer.loaders import docx, pdf

_W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_W = f'xmlns:w="{_W_NS}"'


def _docx_bytes(build) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    build(document)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


def _append(document, xml: str) -> None:
    """Raw WordprocessingML appended to the body (what python-docx cannot write itself)."""
    from docx.oxml import parse_xml

    document.element.body.sectPr.addprevious(parse_xml(xml))


# ---------------------------------------------------------------- DOCX


def test_docx_tracked_insertions_fields_and_inline_controls_are_read() -> None:
    def build(d) -> None:
        _append(
            d,
            f"<w:p {_W}><w:r><w:t xml:space='preserve'>Respond within </w:t></w:r>"
            "<w:del w:id='1' w:author='L'><w:r><w:delText>15</w:delText></w:r></w:del>"
            "<w:ins w:id='2' w:author='L'><w:r><w:t>5</w:t></w:r></w:ins>"
            "<w:r><w:t xml:space='preserve'> minutes.</w:t></w:r></w:p>",
        )
        _append(
            d,
            f"<w:p {_W}><w:ins w:id='3' w:author='L'><w:r><w:t>A new rule.</w:t></w:r></w:ins>"
            "</w:p>",
        )
        _append(
            d,
            f"<w:p {_W}><w:r><w:t xml:space='preserve'>Call </w:t></w:r>"
            "<w:sdt><w:sdtPr><w:alias w:val='Phone'/></w:sdtPr><w:sdtContent>"
            "<w:r><w:t>+1 555 0100</w:t></w:r></w:sdtContent></w:sdt>"
            "<w:r><w:t xml:space='preserve'> and use the </w:t></w:r>"
            "<w:fldSimple w:instr=' MACROBUTTON Hold '><w:r><w:t>PAYOUT-HOLD</w:t></w:r>"
            "</w:fldSimple><w:r><w:t xml:space='preserve'> macro for </w:t></w:r>"
            "<w:smartTag w:uri='urn:x' w:element='place'><w:r><w:t>Creator Fund</w:t></w:r>"
            "</w:smartTag><w:r><w:t>.</w:t></w:r></w:p>",
        )

    text = docx.parse(_docx_bytes(build)).text
    assert text == (
        "Respond within 5 minutes.\n\nA new rule.\n\n"
        "Call +1 555 0100 and use the PAYOUT-HOLD macro for Creator Fund.\n"
    )


def test_docx_section_in_a_block_content_control_is_read_the_toc_is_not() -> None:
    from docx.enum.style import WD_STYLE_TYPE

    def build(d) -> None:
        d.add_heading("Triggers", level=1)
        d.add_paragraph("Start when a host says they will hurt themselves.")
        _append(
            d,
            f"<w:sdt {_W}><w:sdtPr><w:docPartObj><w:docPartGallery w:val='Table of Contents'/>"
            "</w:docPartObj></w:sdtPr><w:sdtContent>"
            "<w:p><w:r><w:t>Contents</w:t></w:r></w:p>"
            "<w:p><w:hyperlink w:anchor='_Toc1'><w:r><w:t>Triggers</w:t></w:r><w:r><w:tab/>"
            "</w:r><w:r><w:t>2</w:t></w:r></w:hyperlink></w:p></w:sdtContent></w:sdt>",
        )
        d.styles.add_style("TOC 1", WD_STYLE_TYPE.PARAGRAPH)
        d.add_paragraph("Aftercare\t3", style="TOC 1")  # a TOC line outside a control
        _append(
            d,
            f"<w:sdt {_W}><w:sdtPr><w:tag w:val='aftercare'/></w:sdtPr><w:sdtContent>"
            "<w:p><w:pPr><w:pStyle w:val='Heading1'/></w:pPr><w:r><w:t>Aftercare</w:t></w:r>"
            "</w:p><w:p><w:r><w:t>Check the account after 24 hours.</w:t></w:r></w:p>"
            "</w:sdtContent></w:sdt>",
        )

    parsed = docx.parse(_docx_bytes(build))
    assert parsed.text == (
        "Triggers\n\nStart when a host says they will hurt themselves.\n\n"
        "Aftercare\n\nCheck the account after 24 hours.\n"
    )
    assert [(h.level, h.title) for h in parsed.headings] == [(1, "Triggers"), (1, "Aftercare")]


def test_docx_text_box_is_read_once_after_its_paragraph() -> None:
    inner = "<w:p><w:r><w:t>Never end the LIVE first.</w:t></w:r></w:p>"
    mc = "http://schemas.openxmlformats.org/markup-compatibility/2006"
    wps = "http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
    run = (
        f"<w:r><mc:AlternateContent xmlns:mc='{mc}'><mc:Choice Requires='wps'><w:drawing>"
        f"<wps:txbx xmlns:wps='{wps}'><w:txbxContent>{inner}</w:txbxContent></wps:txbx>"
        "</w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>"
        f"{inner}</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
    )

    def build(d) -> None:
        _append(d, f"<w:p {_W}><w:r><w:t>Send the message.</w:t></w:r>{run}</w:p>")
        _append(d, f"<w:p {_W}>{run}</w:p>")  # a box anchored in an empty paragraph
        d.add_paragraph("Then watch the stream.")

    assert docx.parse(_docx_bytes(build)).text == (
        "Send the message.\n\nNever end the LIVE first.\n\nNever end the LIVE first.\n\n"
        "Then watch the stream.\n"
    )


def test_docx_table_nested_in_a_cell_is_read() -> None:
    def build(d) -> None:
        table = d.add_table(rows=1, cols=2)
        table.cell(0, 0).text = "Chargeback ratio"
        cell = table.cell(0, 1)
        cell.text = "Depends on the ratio"
        inner = cell.add_table(rows=2, cols=2)
        inner.cell(0, 0).text, inner.cell(0, 1).text = "above 1%", "14-day hold"
        inner.cell(1, 0).text, inner.cell(1, 1).text = "above 3%", "hold until review"

    assert docx.parse(_docx_bytes(build)).text == (
        "Chargeback ratio | Depends on the ratio; above 1%, 14-day hold; "
        "above 3%, hold until review\n"
    )


# ---------------------------------------------------------------- PDF


def _ligature_pdf() -> bytes:
    """A page set in Vera (shipped with reportlab) with its fi/fl ligature glyphs, as a
    typesetter draws them, and a bookmark spelled with plain letters."""
    import reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    font = os.path.join(os.path.dirname(reportlab.__file__), "fonts", "Vera.ttf")
    pdfmetrics.registerFont(TTFont("VeraLig", font))
    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    c.bookmarkPage("p0")
    c.addOutlineEntry("1. Definitions", "p0", level=0)
    c.setFont("VeraLig", 11)
    c.drawString(72, 760, "1. De\ufb01nitions")
    c.drawString(72, 740, "Flag the account and \ufb01le the of\ufb02ine report.")
    c.showPage()
    c.save()
    return buf.getvalue()


def test_pdf_ligature_glyphs_read_as_letters() -> None:
    parsed = pdf.parse(_ligature_pdf())
    assert "Flag the account and file the offline report." in parsed.text
    assert not any(0xFB00 <= ord(ch) <= 0xFB06 for ch in parsed.text)
    # the bookmark, written with plain letters, now finds its line
    assert [(h.title, h.start) for h in parsed.headings] == [("1. Definitions", 0)]
    assert pdf.expand_ligatures("o\ufb00icial \ufb03x \ufb04e") == "official ffix ffle"


def test_pdf_words_hyphenated_at_line_ends_are_mended() -> None:
    pages = [
        "This procedure defines how the Legal Re-\nsponse team works in every market\n"
        "unless a local annex says other-\nwise.",
        "The self-harm queue and the self-\nharm policy. Issue the au-\nthority, then close.",
    ]
    assert pdf.join_hyphenated_lines(pages) == [
        "This procedure defines how the Legal Response\nteam works in every market\n"
        "unless a local annex says otherwise.",
        # 'self-harm' is written with its hyphen elsewhere: a compound broken at its hyphen
        "The self-harm queue and the self-\nharm policy. Issue the authority,\nthen close.",
    ]
    # a capital, a digit or a one-letter prefix after or before the break: left as it is
    kept = ["Use the Tier-\nTwo queue, the v2-\n3 form and e-\nmail."]
    assert pdf.join_hyphenated_lines(kept) == kept


# ---------------------------------------------------------------- Markdown


def test_markdown_heading_markup_from_exporters_is_not_in_the_heading_path() -> None:
    from indexer.loaders import markdown

    text = (
        "# **Harassment Appeals Playbook**\n\n"  # Google Docs bolds headings
        "## 1\\. Scope\n\n"  # Confluence escapes punctuation
        "## Signals of gift fraud {#signals}\n\n"  # Pandoc / MkDocs attribute block
        "## Run `kb index` on the [share](x.md)\n\n"
        "## <span id='x'></span>T\\&S *review* of snake_case_name and \\*stars\\*\n\n"
        "## Costs {in USD}\n\n"
        "Setext **bold**\n---\n"
    )
    parsed = markdown.parse(text.encode())
    assert parsed.text == text  # the body is still exactly as written
    assert [(h.title, h.anchor) for h in parsed.headings] == [
        ("Harassment Appeals Playbook", ""),
        ("1. Scope", ""),
        ("Signals of gift fraud", "signals"),
        ("Run kb index on the share", ""),
        ("T&S review of snake_case_name and *stars*", ""),
        ("Costs {in USD}", ""),  # braces that are not an attribute block stay
        ("Setext bold", ""),
    ]
    assert parsed.title == "Harassment Appeals Playbook"


# ---------------------------------------------------------------- HTML


def test_html_heading_permalinks_and_wiki_edit_links_are_not_in_titles() -> None:
    from indexer.loaders import html

    page = (
        "<h1 id='t'>Spam Rings<a class='headerlink' href='#t'>&para;</a></h1><p>Intro.</p>"
        "<h2 id='p'>Purpose<a href='#p' aria-hidden='true'>#</a></h2><p>Five accounts.</p>"
        "<h2><span class='mw-headline' id='R'>Removal</span><span class='mw-editsection'>"
        "<span>[</span><a href='?action=edit'>edit</a><span>]</span></span></h2><p>Remove.</p>"
        "<h2>Refunds for C#</h2><p>Kept.</p>"
    )
    parsed = html.parse(page.encode())
    assert [h.title for h in parsed.headings] == [
        "Spam Rings",
        "Purpose",
        "Removal",
        "Refunds for C#",
    ]
    assert parsed.text == (
        "Spam Rings\n\nIntro.\n\nPurpose\n\nFive accounts.\n\nRemoval\n\nRemove.\n\n"
        "Refunds for C#\n\nKept.\n"
    )


def test_html_landmark_roles_breadcrumbs_and_iframe_fallback_are_chrome() -> None:
    from indexer.loaders import html

    page = (
        "<div class='sub-nav'><ol class='breadcrumbs'><li><a>Help Center</a></li>"
        "<li><a>Payments</a></li></ol>"
        "<form role='search'><input type='search' placeholder='Search'><label>Search</label>"
        "</form></div>"
        "<div id='toc' role='navigation'><h2>Contents</h2><ul><li>1 Removal</li></ul></div>"
        "<h1>Gift refunds</h1><p>Gifts are not refundable.</p>"
        "<iframe src='v'>Your browser does not support iframes.</iframe>"
        "<div role='note'><div>Note: reverse once per year.</div></div>"
        "<div id='footer' role='contentinfo'><p>Document generated by Confluence</p>"
        "<div><a>Atlassian</a></div></div><p>After the footer.</p>"
    )
    parsed = html.parse(page.encode())
    assert parsed.text == (
        "Gift refunds\n\nGifts are not refundable.\n\nNote: reverse once per year.\n\n"
        "After the footer.\n"
    )
    assert [h.title for h in parsed.headings] == ["Gift refunds"]
    # an unclosed <li> marked as chrome would swallow the page: such tags are not skipped
    assert "Kept" in html.parse(b"<ul><li role='navigation'>Home<li>x</ul><p>Kept</p>").text
