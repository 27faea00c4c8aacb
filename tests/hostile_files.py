"""Generator of hostile input files for the indexer (no hand-made binaries in the repo).

Each maker returns bytes; ``write_hostile_corpus`` writes them with the skip reason expected.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from pathlib import Path

from tests import fixture_files


def _pdf_with_stream(content: bytes) -> bytes:
    """A one-page PDF whose page content is ``content``, Flate-compressed."""
    stream = zlib.compress(content, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def pdf_decompression_bomb(megabytes: int = 400) -> bytes:
    """A small PDF whose content stream inflates to ``megabytes`` of text operators."""
    line = b"BT /F1 12 Tf 72 720 Td (bomb) Tj ET\n"
    return _pdf_with_stream(line * (megabytes * 1024 * 1024 // len(line)))


def docx_zip_bomb(megabytes: int = 300) -> bytes:
    """A DOCX whose document.xml inflates to ``megabytes`` of paragraphs."""
    para = b"<w:p><w:r><w:t>zip bomb paragraph text</w:t></w:r></w:p>"
    body = para * (megabytes * 1024 * 1024 // len(para))
    ns = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    xml = b'<?xml version="1.0" encoding="UTF-8"?><w:document ' + ns + b"><w:body>" + body
    xml += b"</w:body></w:document>"
    types = (
        b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        b'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats'
        b'-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
        b'<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        b'officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    rels = (
        b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
        b'2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
        b"</Relationships>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", rels)
        z.writestr("word/document.xml", xml)
    return buf.getvalue()


def truncated_pdf() -> bytes:
    data = fixture_files.make_pdf(fixture_files.PDF_PAGES)
    return data[: len(data) // 3]


# (file name, bytes maker, words the skip reason must contain: any of them)
HOSTILE: list[tuple[str, object, tuple[str, ...]]] = [
    (
        "bomb.pdf",
        pdf_decompression_bomb,
        ("decompression", "memory cap", "took longer", "parser died"),
    ),
    ("bomb.docx", docx_zip_bomb, ("memory cap", "took longer", "parser died")),
    ("truncated.pdf", truncated_pdf, ("malformed", "no extractable text", "no pages")),
    ("encrypted.pdf", fixture_files.make_encrypted_pdf, ("encrypted",)),
    ("scan.pdf", fixture_files.make_image_only_pdf, ("no extractable text",)),
    ("not-a-docx.docx", lambda: b"PK\x03\x04 not really a zip", ("not a readable DOCX",)),
    ("binary.md", lambda: os.urandom(256) + b"\x00" * 64, ("binary", "not valid UTF-8")),
    ("binary.txt", lambda: b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200, ("binary",)),
    ("utf16-nuls.txt", lambda: b"\xff\xfe" + b"\x00" * 400, ("binary",)),
    ("cp1252.txt", lambda: "Preis: 5\u20ac f\u00fcr alle".encode("cp1252"), ("not valid UTF-8",)),
    ("empty.txt", lambda: b"", ("empty file",)),
    ("blank.md", lambda: b"   \n\n  \t\n", ("no text content",)),
]


def write_hostile_corpus(root: Path) -> dict[str, tuple[str, ...]]:
    """Write every hostile file plus one good one; returns {name: expected reason words}."""
    root.mkdir(parents=True, exist_ok=True)
    for name, make, _ in HOSTILE:
        (root / name).write_bytes(make())
    with open(root / "huge.txt", "wb") as fh:  # sparse: large on stat, cheap on disk
        fh.truncate(60 * 1024 * 1024)
    (root / "good.md").write_text("# Good\n\nThis document is fine.\n", encoding="utf-8")
    expected = {name: words for name, _, words in HOSTILE}
    expected["huge.txt"] = ("file too large",)
    return expected
