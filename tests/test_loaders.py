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
