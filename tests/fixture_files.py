"""Generators for the per-format test fixtures, broken files included (no hand-made binaries)."""

from __future__ import annotations

import io
from pathlib import Path

MARKDOWN = """---
title: Coin Refund Policy
doc_type: policy
owner_team: Payments Support
markets: [DE, FR]
product_area: payments
version: "3.0"
effective_date: 2026-03-01
review_date: 2027-03-01
access_groups: [all-agents]
---
# Coin Refund Policy

This policy explains when coins can be refunded.

## Refund windows

Users in Germany may withdraw from a coin purchase within 14 days. Users elsewhere have 7 days.

| Market | Window |
|---|---|
| DE | 14 days |
| US | 7 days |

## How to refund

Follow these steps:

1. Open the purchase in Tessera.
2. Confirm the coins are unspent.
3. Issue the refund and tag the ticket refund-coins.

## Exceptions

Chargebacks are never refunded twice.
"""

TEXT = """ACCOUNT RECOVERY SOP
====================

Use this procedure when a user says their account was hacked.

STEPS

1. Verify the e-mail on file.
2. Reset the session tokens.
3. Escalate to Tier 2 if 2FA was changed.

ESCALATION

Escalate to the Guardian queue within 1 hour when the account has more than 100k followers.
"""

HTML = """<!doctype html>
<html><head><title>LIVE Gifts Reference</title></head>
<body>
<nav><a href="/">Home</a> | <a href="/help">Help centre</a></nav>
<main>
<h1 id="top">LIVE Gifts Reference</h1>
<p>Creators receive a share of gift revenue.</p>
<h2 id="share">Revenue share</h2>
<p>The creator share is 50 percent of the gift value after store fees.</p>
<table><tr><th>Market</th><th>Share</th></tr><tr><td>US</td><td>50%</td></tr></table>
<h2 id="steps">Checking a payout</h2>
<ol><li>Open the creator profile.</li><li>Check the diamonds balance.</li></ol>
</main>
<footer>Copyright Vybe</footer>
<script>var tracking = 1;</script>
</body></html>
"""

SIDECAR = """title: {title}
doc_type: {doc_type}
owner_team: Trust and Safety
markets: [global]
product_area: safety
language: en
version: "2.0"
effective_date: 2026-01-10
review_date: 2026-12-31
access_groups: [tns-specialists]
"""

PDF_PAGES = [
    (
        "1 Scope",
        "This SOP covers reports of dangerous challenges. Agents follow it for every market.",
    ),
    (
        "2 Escalation",
        "Escalate imminent risk to T&S Tier 2 within 15 minutes via the Guardian queue.",
    ),
    ("3 Evidence", "Preserve the video id and the reporter id before removing anything."),
]


def make_pdf(pages: list[tuple[str, str]], outline: bool = True) -> bytes:
    """A multi-page PDF, one headed section per page, with bookmarks when ``outline``."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, invariant=1)
    c.setTitle("Dangerous Challenges SOP")
    for i, (heading, body) in enumerate(pages):
        key = f"s{i}"
        c.bookmarkPage(key)
        if outline:
            c.addOutlineEntry(heading, key, level=0)
        c.setFont("Helvetica-Bold", 16)
        c.drawString(72, 770, heading)
        c.setFont("Helvetica", 11)
        c.drawString(72, 740, body)
        c.drawString(72, 60, f"Page {i + 1}")
        c.showPage()
    c.save()
    return buf.getvalue()


def make_image_only_pdf() -> bytes:
    """A PDF whose only page holds a drawing and no text, like a scanned page."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=1)
    c.rect(100, 100, 200, 200, fill=1)
    c.showPage()
    c.save()
    return buf.getvalue()


def make_encrypted_pdf() -> bytes:
    """A PDF that needs a user password."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(make_pdf(PDF_PAGES[:1]))))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_docx() -> bytes:
    """A DOCX with a title, headings, numbered steps and a table."""
    import docx

    d = docx.Document()
    d.core_properties.title = "Seller Dispute SOP"
    d.add_heading("Seller Dispute SOP", level=0)
    d.add_paragraph("Use this SOP when a buyer and a seller disagree about an order.")
    d.add_heading("Steps", level=1)
    for step in (
        "Collect the order id.",
        "Ask the seller for proof of delivery.",
        "Decide within 5 business days.",
    ):
        d.add_paragraph(step, style="List Number")
    d.add_heading("Deadlines", level=1)
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Market", "Deadline"
    table.cell(1, 0).text, table.cell(1, 1).text = "US", "5 days"
    buf = io.BytesIO()
    d.save(buf)
    return buf.getvalue()


def write_sample_kb(root: Path) -> None:
    """One good file per format, with sidecars, plus files that must be skipped."""
    (root / "policies").mkdir(parents=True)
    (root / "sops").mkdir()
    (root / "broken").mkdir()
    (root / "policies" / "coin-refunds.md").write_text(MARKDOWN, encoding="utf-8")
    (root / "sops" / "account-recovery.txt").write_text(TEXT, encoding="utf-8")
    (root / "sops" / "account-recovery.txt.meta.yaml").write_text(
        SIDECAR.format(title="Account Recovery SOP", doc_type="sop"), encoding="utf-8"
    )
    (root / "policies" / "live-gifts.html").write_text(HTML, encoding="utf-8")
    (root / "sops" / "dangerous-challenges.pdf").write_bytes(make_pdf(PDF_PAGES))
    (root / "sops" / "dangerous-challenges.pdf.meta.yaml").write_text(
        SIDECAR.format(title="Dangerous Challenges SOP", doc_type="sop"), encoding="utf-8"
    )
    (root / "sops" / "seller-dispute.docx").write_bytes(make_docx())
    (root / "broken" / "encrypted.pdf").write_bytes(make_encrypted_pdf())
    (root / "broken" / "scan.pdf").write_bytes(make_image_only_pdf())
    (root / "broken" / "garbage.pdf").write_bytes(b"%PDF-1.7\n this is not a pdf at all")
    (root / "broken" / "empty.md").write_bytes(b"")
    (root / "broken" / "latin1.txt").write_bytes("Caf\xe9 policy".encode("latin-1"))
    (root / "broken" / "binary.txt").write_bytes(b"\x00\x01\x02binary\x00")
    (root / "broken" / "notes.csv").write_text("ignored,file\n", encoding="utf-8")


def write_superseded_coin_policy(root: Path, access_groups: str | None = None) -> Path:
    """An earlier version (2.0, effective 2025-01-01) of the sample's coin refund policy,
    superseded by it: the family the version tests search in."""
    current = (root / "policies" / "coin-refunds.md").read_text()
    old = current.replace(
        'version: "3.0"',
        'version: "2.0"\nstatus: superseded\nsuperseded_by: policies/coin-refunds.md',
    ).replace("effective_date: 2026-03-01", "effective_date: 2025-01-01")
    if access_groups:
        old = old.replace("access_groups: [all-agents]", f"access_groups: {access_groups}", 1)
    path = root / "policies" / "coin-refunds-old.md"
    path.write_text(old)
    return path
