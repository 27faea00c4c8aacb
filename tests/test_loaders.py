"""Each loader on small per-format fixtures, and the skip reasons for unreadable files."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.errors import DocumentLoadError
from indexer.loaders import load_directory, load_file
from tests import fixture_files


def _section_titles(doc) -> list[tuple[str, ...]]:
    return [s.path for s in doc.sections]


def test_markdown_front_matter_sections_and_metadata(sample_kb: Path) -> None:
    doc = load_file(sample_kb / "policies" / "coin-refunds.md", sample_kb)
    assert doc.doc_id == "policies/coin-refunds.md"
    assert doc.title == "Coin Refund Policy"
    assert not doc.text.startswith("---")  # front matter is metadata, not text
    assert doc.metadata["version"] == "3.0"
    assert doc.metadata["effective_date"] == "2026-03-01"
    assert doc.metadata["markets"] == ["DE", "FR"]
    assert ("Coin Refund Policy", "Refund windows") in _section_titles(doc)
    sec = next(s for s in doc.sections if s.path[-1] == "How to refund")
    assert doc.text[sec.start :].startswith("## How to refund")
    assert "3. Issue the refund" in doc.text[sec.start : sec.end]
    assert sec.anchor == "how-to-refund"


def test_sections_tile_the_text(sample_kb: Path) -> None:
    for path in sorted(p for p in sample_kb.rglob("*") if "broken" not in p.parts):
        if path.suffix not in {".md", ".txt", ".html", ".pdf", ".docx"}:
            continue
        doc = load_file(path, sample_kb)
        spans = [(s.start, s.end) for s in doc.sections]
        assert spans == sorted(spans)
        for (_a, b), (c, _d) in zip(spans, spans[1:], strict=False):
            assert b == c, f"gap or overlap in {path.name}"
        assert spans[-1][1] == len(doc.text)


def test_text_headings_and_sidecar(sample_kb: Path) -> None:
    doc = load_file(sample_kb / "sops" / "account-recovery.txt", sample_kb)
    assert doc.title == "Account Recovery SOP"  # from the sidecar
    assert doc.metadata["access_groups"] == ["tns-specialists"]
    assert ("ACCOUNT RECOVERY SOP", "ESCALATION") in _section_titles(doc)
    assert ("ACCOUNT RECOVERY SOP", "STEPS") in _section_titles(doc)


def test_html_drops_chrome_keeps_lists_tables_and_anchors(sample_kb: Path) -> None:
    doc = load_file(sample_kb / "policies" / "live-gifts.html", sample_kb)
    assert doc.title == "LIVE Gifts Reference"
    assert "Help centre" not in doc.text and "tracking" not in doc.text
    assert "Copyright" not in doc.text
    assert "1. Open the creator profile.\n2. Check the diamonds balance." in doc.text
    assert "US | 50%" in doc.text
    share = next(s for s in doc.sections if s.path[-1] == "Revenue share")
    assert share.anchor == "share"
    assert share.path == ("LIVE Gifts Reference", "Revenue share")


def test_pdf_pages_and_outline_sections(sample_kb: Path) -> None:
    doc = load_file(sample_kb / "sops" / "dangerous-challenges.pdf", sample_kb)
    assert [p.number for p in doc.pages] == [1, 2, 3]
    escalation = next(s for s in doc.sections if s.path == ("2 Escalation",))
    assert doc.pages_for(escalation.start, escalation.end) == [2]
    assert "Guardian queue" in doc.text[escalation.start : escalation.end]
    page3 = doc.pages[2]
    assert "Preserve the video id" in doc.text[page3.start : page3.end]


def test_pdf_without_outline_uses_numbered_headings(tmp_path: Path) -> None:
    path = tmp_path / "plain.pdf"
    path.write_bytes(fixture_files.make_pdf(fixture_files.PDF_PAGES, outline=False))
    doc = load_file(path, tmp_path)
    assert ("3 Evidence",) in _section_titles(doc)


def test_docx_headings_numbered_steps_and_table(sample_kb: Path) -> None:
    doc = load_file(sample_kb / "sops" / "seller-dispute.docx", sample_kb)
    assert doc.title == "Seller Dispute SOP"
    assert "1. Collect the order id.\n2. Ask the seller" in doc.text
    assert "US | 5 days" in doc.text
    assert ("Seller Dispute SOP", "Steps") in _section_titles(doc)
    assert doc.metadata["doc_type"] == "document"  # no sidecar: defaults


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("encrypted.pdf", "encrypted"),
        ("scan.pdf", "no extractable text"),
        ("garbage.pdf", "malformed PDF"),
        ("empty.md", "empty file"),
        ("latin1.txt", "not valid UTF-8"),
        ("binary.txt", "binary"),
    ],
)
def test_unreadable_files_raise_with_reason(sample_kb: Path, name: str, reason: str) -> None:
    with pytest.raises(DocumentLoadError) as info:
        load_file(sample_kb / "broken" / name, sample_kb)
    assert reason in info.value.reason


def test_directory_load_skips_bad_files_and_goes_on(sample_kb: Path) -> None:
    documents, skipped = load_directory(sample_kb)
    assert sorted(d.doc_id for d in documents) == [
        "policies/coin-refunds.md",
        "policies/live-gifts.html",
        "sops/account-recovery.txt",
        "sops/dangerous-challenges.pdf",
        "sops/seller-dispute.docx",
    ]
    assert {s.path for s in skipped} == {
        "broken/encrypted.pdf",
        "broken/scan.pdf",
        "broken/garbage.pdf",
        "broken/empty.md",
        "broken/latin1.txt",
        "broken/binary.txt",
    }
    assert all(s.reason for s in skipped)


def test_bad_sidecar_date_is_a_skip_reason(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Some text here.", encoding="utf-8")
    (tmp_path / "a.txt.meta.yaml").write_text("effective_date: next tuesday\n", encoding="utf-8")
    with pytest.raises(DocumentLoadError, match="effective_date is not an ISO date"):
        load_file(tmp_path / "a.txt", tmp_path)


def test_pdf_running_footers_are_dropped(sample_kb: Path) -> None:
    doc = load_file(sample_kb / "sops" / "dangerous-challenges.pdf", sample_kb)
    assert "Page 2" not in doc.text
    assert "Escalate imminent risk" in doc.text


def _md(tmp_path: Path, front: str, body: str = "# Gift policy\n\nGifts are final.\n") -> Path:
    path = tmp_path / "doc.md"
    path.write_text(f"---\n{front}\n---\n{body}", encoding="utf-8")
    return path


def test_front_matter_values_are_read_as_written(tmp_path: Path) -> None:
    # YAML 1.1 would read 3.10 as 3.1 and the market NO (Norway) and language "no" as False.
    path = _md(tmp_path, "version: 3.10\nmarkets: [DE, NO, ~, FR]\nlanguage: no\ntags: [yes]")
    meta = load_file(path, tmp_path).metadata
    assert meta["version"] == "3.10"
    assert meta["markets"] == ["DE", "NO", "FR"]
    assert meta["language"] == "no"
    assert meta["tags"] == ["yes"]


@pytest.mark.parametrize("written", ["2026-03-01 09:00:00", "2026-03-01T09:00:00Z", "2026-03-01"])
def test_an_effective_date_with_a_time_is_its_date(tmp_path: Path, written: str) -> None:
    meta = load_file(_md(tmp_path, f"effective_date: {written}"), tmp_path).metadata
    assert meta["effective_date"] == "2026-03-01"


def test_a_document_without_a_version_has_none(tmp_path: Path) -> None:
    from indexer.search import version_label

    meta = load_file(_md(tmp_path, "title: Gifts"), tmp_path).metadata
    assert meta["version"] == ""
    assert version_label(meta) == "no version (no effective date)"


@pytest.mark.parametrize(
    ("front", "reason"),
    [
        ("effective_date: 2026-02-30", "effective_date is not an ISO date"),
        ("review_date: 2026-13-01", "review_date is not an ISO date"),
        ("superseded_by: [new.md]", "superseded_by must be a single value"),
        ("markets: {DE: 1}", "markets must be a list"),
        ("tags: [[a, b]]", "tags must be a list of single values"),
        ("title: [a, b]", "title must be a single value"),
        ("- just\n- a list", "front matter is not a mapping"),
    ],
)
def test_bad_front_matter_is_a_skip_reason_naming_the_field(
    tmp_path: Path, front: str, reason: str
) -> None:
    path = _md(tmp_path, front)
    with pytest.raises(DocumentLoadError, match=reason) as caught:
        load_file(path, tmp_path)
    assert str(path) in str(caught.value)
    # and in a directory build the rest of the batch is loaded
    (tmp_path / "ok.md").write_text("# Fine\n\nAll good.\n", encoding="utf-8")
    docs, skipped = load_directory(tmp_path)
    assert [d.doc_id for d in docs] == ["ok.md"]
    assert [s.path for s in skipped] == ["doc.md"] and reason.split()[0] in skipped[0].reason


def test_bad_sidecar_values_are_skip_reasons(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Some text here.", encoding="utf-8")
    (tmp_path / "a.txt.meta.yaml").write_text("effective_date: 2026-02-30\n", encoding="utf-8")
    with pytest.raises(DocumentLoadError, match="effective_date is not an ISO date"):
        load_file(tmp_path / "a.txt", tmp_path)
    (tmp_path / "a.txt.meta.yaml").write_text("markets: [DE, NO]\nversion: 2.10\n", "utf-8")
    meta = load_file(tmp_path / "a.txt", tmp_path).metadata
    assert meta["markets"] == ["DE", "NO"] and meta["version"] == "2.10"


def test_a_misspelt_field_is_reported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _md(tmp_path, "effectve_date: 2026-01-01\nsla_hours: 4")
    with caplog.at_level("WARNING"):
        doc = load_file(path, tmp_path)
    assert "effective_date" not in doc.metadata
    assert doc.metadata["sla_hours"] == "4"  # a team's own field is kept, and not reported
    warned = [r.getMessage() for r in caplog.records]
    assert any("effectve_date (did you mean effective_date?)" in m for m in warned)
    assert not any("sla_hours" in m for m in warned)


def test_a_file_name_that_is_not_utf8_is_skipped_not_fatal(tmp_path: Path) -> None:
    import os

    (tmp_path / "ok.md").write_text("# Fine\n\nAll good.\n", encoding="utf-8")
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.md")
    with open(raw, "wb") as fh:
        fh.write(b"# Cafe\n\nCoffee policy.\n")
    docs, skipped = load_directory(tmp_path)
    assert [d.doc_id for d in docs] == ["ok.md"]
    assert len(skipped) == 1 and "not valid UTF-8" in skipped[0].reason
    skipped[0].path.encode("utf-8")  # storable and printable


def test_content_hash_follows_title_and_structure(tmp_path: Path) -> None:
    import dataclasses

    from indexer.documents import Section

    doc = load_file(_md(tmp_path, "title: Gifts"), tmp_path)
    retitled = dataclasses.replace(doc, title="Gift rules")
    restructured = dataclasses.replace(doc, sections=[Section(("Other",), 0, len(doc.text))])
    hashes = {doc.content_hash, retitled.content_hash, restructured.content_hash}
    assert len(hashes) == 3
    assert dataclasses.replace(doc).content_hash == doc.content_hash


def test_source_is_absolute_so_the_api_can_open_it_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.md").write_text("# A\n\nText.\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    doc = load_file(Path("a.md"), Path("."))
    assert Path(doc.source).is_absolute() and Path(doc.source) == tmp_path / "a.md"
    assert doc.doc_id == "a.md"


def test_a_parser_warning_names_its_file(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    """pypdf warns from the isolated child process; the warning must say which file."""
    import logging

    data = fixture_files.make_pdf([("Refunds", "Coins are refunded within 14 days.")])
    path = tmp_path / "no-eof.pdf"
    path.write_bytes(data[: data.rindex(b"%%EOF")])  # pypdf: "EOF marker not found"
    handler = logging.StreamHandler()  # the CLI's stderr handler, as logging.basicConfig sets it
    logging.getLogger().addHandler(handler)
    try:
        load_file(path, tmp_path)
    except DocumentLoadError:
        pass  # whether pypdf recovers is its business; the warning is ours to name
    finally:
        logging.getLogger().removeHandler(handler)
    warned = [line for line in capfd.readouterr().err.splitlines() if "EOF" in line]
    assert warned and all(str(path) in line for line in warned)


def test_a_broken_symlink_is_a_skip_reason(tmp_path: Path) -> None:
    (tmp_path / "ok.md").write_text("# Fine\n\nAll good.\n", encoding="utf-8")
    (tmp_path / "gone.md").symlink_to(tmp_path / "moved-away.md")
    docs, skipped = load_directory(tmp_path)
    assert [d.doc_id for d in docs] == ["ok.md"]
    assert [(s.path, s.reason) for s in skipped] == [
        ("gone.md", "broken symbolic link (its target is missing)")
    ]


def test_a_named_parser_warning_survives_percent_signs_and_several_handlers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from indexer.loaders.isolation import _name_records

    before = logging.getLogRecordFactory()
    extra = logging.StreamHandler()
    logging.getLogger().addHandler(extra)
    try:
        _name_records("/kb/100%25 off.pdf")
        with caplog.at_level("WARNING"):
            logging.getLogger("pypdf._reader").warning("skipped %d bytes", 12)
    finally:
        logging.setLogRecordFactory(before)
        logging.getLogger().removeHandler(extra)
    assert [r.getMessage() for r in caplog.records] == ["/kb/100%25 off.pdf: skipped 12 bytes"]


def test_a_plain_text_glossary_with_title_case_terms_has_a_section_per_term() -> None:
    """Only ALL-CAPS term lines were headings: a glossary written "Dispatch window" then its
    definition was one section, its passages cited without the term they define."""
    from indexer.loaders.text import parse

    entries = {
        "ATO hold": "A restriction applied when an account takeover is suspected.",
        "Dispatch window": "Another name for handling time: the business days to ship.",
        "Final value fee (FVF)": "The share of the sale that is charged when an item sells.",
    }
    body = "".join(f"{term}\n{text}\n\n" for term, text in entries.items())
    text = "SUPPORT GLOSSARY\n================\n\nShort definitions, listed alphabetically.\n\n"
    parsed = parse((text + body).encode())
    assert [(h.level, h.title) for h in parsed.headings] == [
        (1, "SUPPORT GLOSSARY"),
        *((2, term) for term in entries),
    ]
    # two terms are no glossary; a list's indented items and a label line stay text
    two = "".join(f"{t}\n{d}\n\n" for t, d in list(entries.items())[:2])
    assert [h.title for h in parse(("NOTES\n\n" + two).encode()).headings] == ["NOTES"]
    indented = "".join(f"{t}\n  {d}\n\n" for t, d in entries.items())
    assert [h.title for h in parse(("CODES\n\n" + indented).encode()).headings] == ["CODES"]


def test_a_field_the_file_and_its_sidecar_set_differently_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The sidecar's value won silently: the version cited was not the one the file shows."""
    (tmp_path / "p.md").write_text(
        '---\nversion: "1.0"\nmarkets: [US, GB]\n---\n# T\n\nText.\n', encoding="utf-8"
    )
    (tmp_path / "p.md.meta.yaml").write_text('version: "2.0"\nmarkets: US, GB\n')
    with caplog.at_level("WARNING"):
        doc = load_file(tmp_path / "p.md", tmp_path)
    assert doc.metadata["version"] == "2.0"
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "version is '1.0' in the file and '2.0'" in warned[0]


def test_html_drops_cookie_banners_but_not_pages_about_cookies() -> None:
    """A consent banner was the first line of a page and of its first passage."""
    from indexer.loaders import html

    page = (
        b"<html><body><div id='cookie-banner' class='cookie-consent'>We use cookies. Accept all"
        b"</div><div id='onetrust-banner-sdk'>Manage preferences</div>"
        b"<main><h1>Cookie policy</h1><section class='cookie-policy'><p>We keep session cookies"
        b" for 30 days.</p></section></main></body></html>"
    )
    text = html.parse(page).text
    assert "Accept all" not in text and "Manage preferences" not in text
    assert "Cookie policy" in text and "session cookies for 30 days" in text


def test_office_lock_files_and_unread_types_are_left_out_and_counted(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    from indexer.build import build_index

    (sample_kb / "sops" / "~$seller-dispute.docx").write_bytes(b"\x00lock")
    (sample_kb / "sops" / "rates.xlsx").write_bytes(b"PK")
    (sample_kb / "sops" / "chart.png").write_bytes(b"\x89PNG")
    (sample_kb / "README").write_text("notes", encoding="utf-8")
    report = build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    assert all("~$" not in s.path for s in report.skipped)
    assert {"": 1, ".png": 1, ".xlsx": 1}.items() <= report.ignored.items()
    assert not any(kind.endswith(".yaml") for kind in report.ignored)  # sidecars are read


def _docx_with_notes() -> bytes:
    """A DOCX whose body cites a footnote and an endnote (python-docx writes neither)."""
    import io
    import zipfile

    import docx

    document = docx.Document()
    document.add_heading("Gift refunds", level=1)
    document.add_paragraph("Gifts are never refunded.XXFOOTXX").add_run(" Coins are.XXENDXX")
    document.add_paragraph("Contact Payments Support for anything else.")
    buffer = io.BytesIO()
    document.save(buffer)
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'

    def notes(kind: str, text: str) -> bytes:
        return (
            f'<w:{kind}s {w}><w:{kind} w:type="separator" w:id="-1"><w:p><w:r><w:separator/>'
            f'</w:r></w:p></w:{kind}><w:{kind} w:id="2"><w:p><w:r><w:t>{text}</w:t></w:r>'
            f"</w:p></w:{kind}></w:{kind}s>"
        ).encode()

    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "word/document.xml":
                text = data.decode()
                for mark, kind in (("XXFOOTXX", "footnote"), ("XXENDXX", "endnote")):
                    text = text.replace(
                        f"{mark}</w:t></w:r>",
                        f'</w:t></w:r><w:r><w:{kind}Reference w:id="2"/></w:r>',
                    )
                data = text.encode()
            dst.writestr(item, data)
        dst.writestr(
            "word/footnotes.xml",
            notes("footnote", "Except in KR, where gifts sent by minors are refunded."),
        )
        dst.writestr("word/endnotes.xml", notes("endnote", "See the coin policy v3."))
    return out.getvalue()


def test_docx_footnotes_and_endnotes_read_after_the_paragraph_citing_them() -> None:
    from indexer.loaders import docx as docx_loader

    text = docx_loader.parse(_docx_with_notes()).text
    assert "Gifts are never refunded.[1] Coins are.[i]" in text
    cited = text.index("Coins are.[i]")
    footnote = text.index("[1] Except in KR, where gifts sent by minors are refunded.")
    endnote = text.index("[i] See the coin policy v3.")
    assert cited < footnote < endnote < text.index("Contact Payments Support")
    assert "separator" not in text


def test_section_anchors_in_any_script_and_unique(tmp_path: Path) -> None:
    """A-Z-only anchors gave Korean or Arabic headings none (""), and two "Exceptions"
    sections one id, so a link to the second opened the first."""
    (tmp_path / "doc.md").write_text(
        "# 환불 정책\n\n본문.\n\n## Exceptions\n\nA.\n\n## سياسة الاسترداد\n\nB.\n\n"
        "## Exceptions\n\nC.\n\n## —\n\nD.\n\n## Refunds & Exceptions (EU)\n\nE.\n",
        encoding="utf-8",
    )
    doc = load_file(tmp_path / "doc.md", tmp_path)
    assert [s.anchor for s in doc.sections] == [
        "환불-정책", "exceptions", "سياسة-الاسترداد", "exceptions-1", "section-1",
        "refunds-exceptions-eu",
    ]  # fmt: skip


def test_a_date_written_with_a_time_of_day_is_read_as_its_day_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """ "effective_date: 2026-03-01T18:00:00+01:00" was cut to its day without a word."""
    (tmp_path / "timed.md").write_text(
        "---\neffective_date: 2026-03-01T18:00:00+01:00\nreview_date: 2026-09-01T00:00:00\n"
        "---\n# A\n\nText.\n",
        encoding="utf-8",
    )
    (tmp_path / "plain.md").write_text("---\neffective_date: 2026-03-01\n---\n# B\n\nT.\n", "utf-8")
    with caplog.at_level("WARNING"):
        timed = load_file(tmp_path / "timed.md", tmp_path)
        load_file(tmp_path / "plain.md", tmp_path)
    assert timed.metadata["effective_date"] == "2026-03-01"
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1, said  # midnight and a plain date are days already
    assert "timed.md: effective_date '2026-03-01T18:00:00+01:00' has a time of day" in said[0]
    assert "reads as 2026-03-01 (all day)" in said[0]
