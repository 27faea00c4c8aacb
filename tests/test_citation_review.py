"""Citation precision across formats: spans, pages, heading paths and highlights that an
agent can open and defend later (found in a review of what `POST /search` cites)."""

from __future__ import annotations


def test_a_window_of_two_headings_highlights_what_one_of_them_introduces() -> None:
    """A heading directly followed by another (an FAQ's section and its first question) made
    a sentence window of heading text only, shown whole: the highlight then ran over a
    section break and was cited with the outer heading's path."""
    from indexer.highlight import within_section

    text = (
        "Tickets are kept for 3 years.\n\n"
        "Privacy rights requests\n\n"
        "How quickly do we have to answer a GDPR request?\n\n"
        "Within one month of the request."
    )
    headings = ["Privacy rights requests", "How quickly do we have to answer a GDPR request?"]
    a = text.index("Privacy")
    b = text.index("request?") + len("request?")
    # the answer the question heading introduces, in that heading's section
    got = within_section(text, a, b, "answer a GDPR request", headings)
    assert text[got[0] : got[1]] == "Within one month of the request."
    # no word shared with the question: the later heading's, whose section the text below is in
    got = within_section(text, a, b, "zebra", headings)
    assert text[got[0] : got[1]] == "Within one month of the request."
    # a heading with nothing under it in the passage: the heading itself
    got = within_section(text[:b], a, b, "answer a GDPR request", headings)
    assert text[got[0] : got[1]] == headings[1]


def test_a_window_of_a_stray_line_and_a_heading_highlights_what_the_heading_introduces() -> None:
    """Plain text: a wordless line ('-') left over from the previous section and an ALL-CAPS
    heading: the '-' belongs to the previous section, so the highlight is the heading's first
    sentence."""
    from indexer.highlight import within_section

    text = "APPEAL\nOne appeal per action.\n\nB\n-\n\nBAN EVASION\nCreating a new account."
    a = text.index("-\n")
    b = text.index("EVASION") + len("EVASION")
    got = within_section(text, a, b, "ban evasion", ["APPEAL", "BAN EVASION"])
    assert text[got[0] : got[1]] == "Creating a new account."


def _html_sections(body: str) -> list[tuple[tuple[str, ...], str]]:
    from indexer.loaders import html
    from indexer.loaders.common import sections_from_headings

    parsed = html.parse(f"<html><body>{body}</body></html>".encode())
    return [
        (s.path, parsed.text[s.start : s.end].strip())
        for s in sections_from_headings(parsed.text, parsed.headings)
    ]


def test_html_heading_with_a_line_break_or_a_wrapper_keeps_its_title() -> None:
    """Editors write '<h2>Refunds<br>EU</h2>' and CMS exports '<h2><div>Refunds</div></h2>':
    the block tag inside the heading ended it, so its path named only 'EU' (the rest became
    a paragraph of the previous section) or the heading was lost and its text cited under
    the section above."""
    assert _html_sections("<h1>Doc</h1><p>Intro.</p><h2>Refunds<br>EU</h2><p>Body.</p>") == [
        (("Doc",), "Doc\n\nIntro."),
        (("Doc", "Refunds EU"), "Refunds EU\n\nBody."),
    ]
    assert _html_sections(
        "<h1>Doc</h1><h2><div>Refunds</div></h2><p>Body.</p><h3><p>Exceptions</p></h3><p>X.</p>"
    ) == [
        (("Doc",), "Doc"),
        (("Doc", "Refunds"), "Refunds\n\nBody."),
        (("Doc", "Refunds", "Exceptions"), "Exceptions\n\nX."),
    ]
    # a heading whose end tag is missing ends where a block with text after it begins
    assert _html_sections("<h1>Doc</h1><h2>Refunds<p>Body.</p><p>More.</p>") == [
        (("Doc",), "Doc"),
        (("Doc", "Refunds"), "Refunds\n\nBody.\n\nMore."),
    ]


def _pdf_lines(pages: list[list[str]], outline: list[tuple[str, int, int, int]]) -> bytes:
    """A PDF of plain lines; ``outline`` is (title, page index, level, line index) bookmarks."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    for i, lines in enumerate(pages):
        for j, line in enumerate(lines):
            y = 780 - 20 * j
            for k, (title, page, level, at) in enumerate(outline):
                if (page, at) == (i, j):
                    c.bookmarkHorizontal(f"b{k}", 0, y + 15)
                    c.addOutlineEntry(title, f"b{k}", level=level)
            c.drawString(72, y, line)
        c.showPage()
    c.save()
    return buf.getvalue()


def _pdf_sections(data: bytes) -> list[tuple[tuple[str, ...], str]]:
    from indexer.loaders import pdf
    from indexer.loaders.common import sections_from_headings

    parsed = pdf.parse(data)
    return [
        (s.path, parsed.text[s.start : s.end].strip())
        for s in sections_from_headings(parsed.text, parsed.headings)
    ]


def test_pdf_bookmarks_with_the_same_title_on_one_page_are_both_sections() -> None:
    """'Refunds > Exceptions' and 'Chargebacks > Exceptions' on one page: each bookmark was
    looked up from the page's top, so the second found the first's line and was dropped,
    and its text was cited under 'Chargebacks'."""
    lines = [
        "Refund SOP", "Refunds", "Refunds are paid within 5 days.", "Exceptions",
        "No refund after a chargeback.", "Chargebacks", "Chargebacks go to the Disputes team.",
        "Exceptions", "A chargeback won by the user is final.",
    ]  # fmt: skip
    outline = [("Refund SOP", 0, 0, 0), ("Refunds", 0, 1, 1), ("Exceptions", 0, 2, 3),
               ("Chargebacks", 0, 1, 5), ("Exceptions", 0, 2, 7)]  # fmt: skip
    sections = _pdf_sections(_pdf_lines([lines], outline))
    assert sections[-1] == (
        ("Refund SOP", "Chargebacks", "Exceptions"),
        "Exceptions\nA chargeback won by the user is final.",
    )
    assert [path for path, _ in sections] == [
        ("Refund SOP",), ("Refund SOP", "Refunds"), ("Refund SOP", "Refunds", "Exceptions"),
        ("Refund SOP", "Chargebacks"), ("Refund SOP", "Chargebacks", "Exceptions"),
    ]  # fmt: skip


def test_pdf_bookmark_is_found_on_its_own_line_not_a_sentence_starting_with_it() -> None:
    """A body line that starts with the heading's words ('Escalation is rare...') above the
    heading itself on the page: the section began at that sentence."""
    lines = [
        "Scope", "This SOP covers payouts.", "Escalation is rare for payouts.", "Escalation",
        "Send the ticket to Tier 2.",
    ]  # fmt: skip
    sections = _pdf_sections(_pdf_lines([lines], [("Scope", 0, 0, 0), ("Escalation", 0, 0, 3)]))
    assert sections == [
        (("Scope",), "Scope\nThis SOP covers payouts.\nEscalation is rare for payouts."),
        (("Escalation",), "Escalation\nSend the ticket to Tier 2."),
    ]


def test_docx_heading_styles_based_on_word_headings_are_headings() -> None:
    """Corporate templates style headings with their own styles based on Word's ('SOP
    Section' based on Heading 2), or set an outline level: Word's navigation pane lists them
    as headings, but their text was cited under the heading above."""
    import io

    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.oxml.ns import qn
    from docx.oxml.parser import OxmlElement

    from indexer.loaders import docx as docx_loader

    d = docx.Document()
    d.add_heading("Payouts", level=1)
    custom = d.styles.add_style("SOP Section", WD_STYLE_TYPE.PARAGRAPH)
    custom.base_style = d.styles["Heading 2"]
    d.add_paragraph("Holds", style="SOP Section")
    d.add_paragraph("A hold lasts ninety days.")
    outlined = d.add_paragraph("Appeals")
    level = OxmlElement("w:outlineLvl")
    level.set(qn("w:val"), "2")  # 0-based: a level 3 heading
    outlined._p.get_or_add_pPr().append(level)
    d.add_paragraph("Appeal within thirty days.")
    buf = io.BytesIO()
    d.save(buf)
    parsed = docx_loader.parse(buf.getvalue())
    assert [(h.level, h.title) for h in parsed.headings] == [
        (1, "Payouts"), (2, "Holds"), (3, "Appeals"),
    ]  # fmt: skip


def test_docx_outline_level_nine_is_a_heading_and_body_text_level_is_not() -> None:
    import io

    import docx
    from docx.oxml.ns import qn
    from docx.oxml.parser import OxmlElement

    from indexer.loaders import docx as docx_loader

    d = docx.Document()
    for title, value in (("Deepest", "8"), ("Plain", "9")):
        paragraph = d.add_paragraph(title)
        level = OxmlElement("w:outlineLvl")
        level.set(qn("w:val"), value)
        paragraph._p.get_or_add_pPr().append(level)
        d.add_paragraph("Body.")
    d.add_heading("Styled", level=9)
    buf = io.BytesIO()
    d.save(buf)
    parsed = docx_loader.parse(buf.getvalue())
    assert [(h.level, h.title) for h in parsed.headings] == [(9, "Deepest"), (9, "Styled")]


FAQ_HTML = """<html><head><title>Privacy FAQ</title></head><body>
<h1>Privacy FAQ</h1>
<h2>Handling data</h2>
<h3>How long do we keep support tickets?</h3>
<p>Support tickets are kept for three years after the ticket is closed, then deleted.</p>
<h2>Privacy rights requests</h2>
<h3>How quickly do we have to answer a GDPR request?</h3>
<p>Within one month of receiving it. The clock stops while we wait for an identity check.</p>
</body></html>"""


def _cited_correctly(searcher, result) -> list[str]:
    """What is wrong with one result's citation, checked against the served document."""
    doc = searcher.get_document(result.doc_id)
    text, high = doc["text"], result.highlight
    wrong = []
    if text[result.start : result.end] != result.text:
        wrong.append("passage span")
    inside = result.start <= high.start < high.end <= result.end
    if not inside or text[high.start : high.end] != high.text:
        wrong.append("highlight span")
    held = [s for s in doc["sections"] if s["start"] <= high.start < s["end"]]
    if (held[0]["heading_path"] if held else []) != result.heading_path:
        wrong.append(f"heading path {result.heading_path}")
    if any(high.start < s["start"] < high.end for s in doc["sections"]):
        wrong.append("highlight crosses a section")
    on = [p["page"] for p in doc["pages"] if p["start"] <= high.start < p["end"]]
    if doc["pages"] and on != [result.page]:
        wrong.append(f"page {result.page}, highlight on {on}")
    return wrong


def test_search_cites_an_faq_answer_under_its_question(tmp_path, fake_embedder) -> None:
    """End to end: every result's spans, heading path and page agree with the document the
    API serves, on an FAQ whose sections open with a heading directly followed by another."""
    from indexer.build import build_index
    from indexer.search import Searcher

    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "privacy-faq.html").write_text(FAQ_HTML, encoding="utf-8")
    build_index(kb, tmp_path / "ix", fake_embedder, max_tokens=40, min_tokens=8)
    searcher = Searcher(tmp_path / "ix", fake_embedder)
    queries = [
        "privacy rights requests how quickly do we have to answer a GDPR request",
        "how long do we keep support tickets",
        "does the clock stop for an identity check",
    ]
    for query in queries:
        for mode in ("dense", "bm25", "hybrid"):
            for result in searcher.search(query, top_k=3, mode=mode).results:
                assert _cited_correctly(searcher, result) == [], (query, mode, result.highlight)


def test_search_cites_pdf_pages_around_a_blank_page_and_a_page_break(
    tmp_path, fake_embedder
) -> None:
    """Passages at the very top and bottom of a page, after a page with no text, and one
    running over a page break: the page cited is the one the highlighted sentence is on."""
    from indexer.build import build_index
    from indexer.search import Searcher

    pages = [
        ["Holds SOP", "Holds are reviewed every Monday morning by the risk team."],
        [],
        ["Releasing", "Only the risk team releases a hold after a manual review.",
         "If the creator disputes the hold, collect the payout id and"],
        ["the reason the creator gives, then escalate to Risk Tier 2 within one day.",
         "Fraud holds last ninety days and support cannot shorten them."],
    ]  # fmt: skip
    outline = [("Holds SOP", 0, 0, 0), ("Releasing", 2, 1, 0)]
    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "holds.pdf").write_bytes(_pdf_lines(pages, outline))
    build_index(kb, tmp_path / "ix", fake_embedder, max_tokens=24, min_tokens=4)
    searcher = Searcher(tmp_path / "ix", fake_embedder)
    doc = searcher.get_document("holds.pdf")
    assert [p["page"] for p in doc["pages"]] == [1, 2, 3, 4]
    expected = {
        "holds reviewed every monday morning": 1,
        "only the risk team releases a hold manual review": 3,
        "escalate to risk tier 2 within one day": 4,
        "fraud holds last ninety days support cannot shorten": 4,
    }
    for query, page in expected.items():
        for mode in ("dense", "bm25", "hybrid"):
            results = searcher.search(query, top_k=3, mode=mode).results
            assert results[0].page == page, (query, mode, results[0].highlight)
            for result in results:
                assert _cited_correctly(searcher, result) == [], (query, mode, result.highlight)


def test_a_citation_link_after_its_document_changed_marks_nothing(tmp_path, fake_embedder) -> None:
    """A source link made before an edit pointed its start-end at whatever text now sits
    there and marked it as the citation. The link carries the passage's chunk id; when the
    document no longer holds that passage at that span the page says so and marks
    nothing, and the UI's links carry the id."""
    from fastapi.testclient import TestClient

    from api.app import create_app
    from indexer.build import build_index
    from indexer.search import Searcher
    from indexer.settings import Settings
    from ui.client import ApiClient

    kb = tmp_path / "kb"
    kb.mkdir()
    doc = kb / "refunds.md"
    doc.write_text(
        "# Refunds\n\nGem refunds in the US are refused after ten days.\n\n"
        "## EU\n\nGem refunds in the EU are granted within fourteen days.\n",
        encoding="utf-8",
    )
    settings = Settings(index_dir=tmp_path / "ix", reload_interval_s=0,
                        log_path=tmp_path / "log.sqlite")  # fmt: skip
    build_index(kb, settings.index_dir, fake_embedder, max_tokens=24, min_tokens=4)
    searcher = Searcher(settings.index_dir, fake_embedder, settings)
    with TestClient(create_app(settings, searcher=searcher)) as client:
        result = client.post("/search", json={"query": "US refused ten days"}).json()["results"][0]
        link = ApiClient(base_url="").source_url(result)
        assert f"chunk={result['chunk_id']}" in link
        fresh = client.get(link.split("#")[0])
        assert fresh.status_code == 200 and '<mark id="passage">' in fresh.text
    doc.write_text(
        "# Refunds\n\nRead the whole policy before answering a ticket.\n\n"
        + doc.read_text(encoding="utf-8").split("\n\n", 1)[1],
        encoding="utf-8",
    )
    build_index(kb, settings.index_dir, fake_embedder, max_tokens=24, min_tokens=4)
    searcher = Searcher(settings.index_dir, fake_embedder, settings)
    with TestClient(create_app(settings, searcher=searcher)) as client:
        stale = client.get(link.split("#")[0])
        assert stale.status_code == 200 and stale.headers["x-citation-changed"] == "true"
        assert '<mark id="passage">' not in stale.text and "changed" in stale.text
        unchecked = client.get(
            f"/source/{result['doc_id']}", params={"start": result["start"], "end": result["end"]}
        )
        assert unchecked.status_code == 200  # a bare span is still marked, as before


def test_a_window_on_a_markdown_heading_line_highlights_its_first_sentence() -> None:
    """'## 8. Time limits and closing' splits after '8.': the rest is a sentence window of its
    own (it helps ranking), but shown as the highlight it was the heading, marks and all."""
    from indexer.highlight import within_section

    text = (
        "Close the ticket after 7 days.\n\n## 8. Time limits and closing\n\n"
        "A ticket with no reply is closed. Tell the user first."
    )
    a = text.index("Time limits")
    b = a + len("Time limits and closing")
    got = within_section(text, a, b, "how long until closing")
    assert text[got[0] : got[1]] == "A ticket with no reply is closed."
    got = within_section(text[:b], a, b, "how long until closing")
    assert text[got[0] : got[1]] == "8. Time limits and closing"


def test_the_original_pdf_opens_on_the_page_the_citation_names() -> None:
    """A passage from page 3 whose highlighted sentence is on page 4 is cited "page 4"; the
    source page's link to the original PDF opened page 3 (where the span starts)."""
    from api.insights_routes import _cited_page
    from ui.client import ApiClient

    pages = [{"page": 3, "start": 0, "end": 100}, {"page": 4, "start": 100, "end": 200}]
    assert _cited_page(pages, 50, 150, 4) == 4
    assert _cited_page(pages, 50, 150, None) == 3
    assert _cited_page(pages, 50, 90, 4) == 3  # a page the span does not reach is ignored
    assert _cited_page(pages, None, None, 4) is None
    result = {"doc_id": "sops/a.pdf", "start": 50, "end": 150, "chunk_id": "c" * 20, "page": 4}
    assert "&page=4#passage" in ApiClient(base_url="").source_url(result)
