"""What a loaded document is made of must be what was read, and storable by every backend:
NUL characters anywhere, a save that keeps a file's mtime and size, a file that changes
while it is being loaded, and placeholder DOCX titles."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

import indexer.loaders as loaders
from indexer.documents import Document
from indexer.errors import DocumentLoadError
from indexer.loaders import load_directory, load_file
from indexer.memo import RebuildMemo
from indexer.stat_cache import StatCache

FILLER = "Coins bought as gifts follow the refund policy of the buyer.\n" * 200  # > 8 KiB


def _nul_free(doc: Document) -> bool:
    """Whether nothing a backend stores of ``doc`` holds U+0000."""
    stored = (doc.text, doc.title, repr(doc.metadata), repr(doc.structure()))
    return not any("\x00" in value for value in stored)


# ---------------------------------------------------------------- NUL characters


def _raw_pdf(lines: list[bytes]) -> bytes:
    """A one-page PDF whose text operators show ``lines`` as written (a '\\000' escape is a NUL
    byte, which pypdf extracts as U+0000 through the font's WinAnsi encoding)."""
    content = b"BT /F1 11 Tf 72 780 Td 14 TL " + b" ".join(b"(%s) '" % x for x in lines) + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def test_a_nul_past_the_binary_sniff_reads_as_a_replacement_character(tmp_path: Path) -> None:
    """A stray NUL after the first 8 KiB (an export tool's) was indexed as is by the local
    backend and refused by PostgreSQL; it reads as U+FFFD, one character for one, so every
    span after it stays where it was."""
    body = f"# Gift refunds\n\n{FILLER}\n## Exceptions\x00\n\nA stray \x00 byte.\n"
    path = tmp_path / "notes.md"
    path.write_text(body, encoding="utf-8")
    doc = load_file(path, tmp_path)
    assert _nul_free(doc)
    assert doc.text == body.replace("\x00", "\ufffd")
    assert [s.path for s in doc.sections] == [
        ("Gift refunds",),
        ("Gift refunds", "Exceptions\ufffd"),
    ]
    clean = tmp_path / "clean.md"
    clean.write_text(body.replace("\x00", " "), encoding="utf-8")
    assert [(s.start, s.end) for s in doc.sections] == [
        (s.start, s.end) for s in load_file(clean, tmp_path).sections
    ]


def test_nul_in_utf16_text_is_replaced(tmp_path: Path) -> None:
    """The UTF-16 path was not looked at for NULs at all."""
    text = f"REFUND WINDOWS\n\n{FILLER}\nCoins are refundable\x00 within 14 days.\n"
    path = tmp_path / "windows.txt"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    doc = load_file(path, tmp_path)
    assert _nul_free(doc) and doc.text == text.replace("\x00", "\ufffd")


def test_nul_in_html_and_pdf_text_is_replaced(tmp_path: Path) -> None:
    page = f"<html><body><h1>Gift refunds</h1><p>{FILLER}</p><p>Stray \x00 byte.</p></body></html>"
    (tmp_path / "gifts.html").write_text(page, encoding="utf-8")
    (tmp_path / "gifts.pdf").write_bytes(_raw_pdf([b"Refunds are\\000issued in 14 days."]))
    html_doc = load_file(tmp_path / "gifts.html", tmp_path)
    pdf_doc = load_file(tmp_path / "gifts.pdf", tmp_path)
    assert _nul_free(html_doc) and html_doc.text.endswith("Stray \ufffd byte.\n")
    assert _nul_free(pdf_doc) and "Refunds are\ufffdissued in 14 days." in pdf_doc.text
    assert pdf_doc.pages[0].end == len(pdf_doc.text)


def test_nul_in_front_matter_and_sidecar_metadata_is_replaced(tmp_path: Path) -> None:
    """YAML's "\\0" and TOML's "\\u0000" escapes put NULs into metadata and the title."""
    md = tmp_path / "a.md"
    md.write_text('---\ntitle: "Gift\\0refunds"\nowner_team: "T\\0S"\n---\n# Body\n\nText.\n')
    toml = tmp_path / "b.md"
    toml.write_text('+++\ntags = ["gift\\u0000s"]\n+++\n# Body\n\nText.\n')
    txt = tmp_path / "c.txt"
    txt.write_text("Refunds are issued within 14 days.\n")
    (tmp_path / "c.txt.meta.yaml").write_text('markets: ["D\\0E"]\nversion: "3\\0"\n')
    a, b, c = (load_file(p, tmp_path) for p in (md, toml, txt))
    assert all(_nul_free(d) for d in (a, b, c))
    assert (a.title, a.metadata["owner_team"]) == ("Gift\ufffdrefunds", "T\ufffdS")
    assert b.metadata["tags"] == ["gift\ufffds"]
    assert (c.metadata["markets"], c.metadata["version"]) == (["D\ufffdE"], "3\ufffd")


def test_a_pdf_whose_text_is_only_nuls_has_no_text(tmp_path: Path) -> None:
    """Replaced, its NULs would index a page of replacement characters."""
    (tmp_path / "blank.pdf").write_bytes(_raw_pdf([b"\\000\\000\\000", b"\\000 \\000"]))
    with pytest.raises(DocumentLoadError, match="no text content"):
        load_file(tmp_path / "blank.pdf", tmp_path)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe" + b"\x00" * 400,  # UTF-16 that decodes to NULs only
        b"\xff\xfe" + "GIF89a".encode("utf-16-le") + b"\x00" * 300,
        b"\xfe\xff" + b"\x00" * 64 + "Refunds".encode("utf-16-be"),
    ],
    ids=["nuls", "image-header", "big-endian"],
)
def test_utf16_files_of_nuls_are_still_binary(tmp_path: Path, data: bytes) -> None:
    """Replacing NULs must not turn a binary file into a document of replacement characters."""
    (tmp_path / "blob.txt").write_bytes(data)
    with pytest.raises(DocumentLoadError, match="binary"):
        load_file(tmp_path / "blob.txt", tmp_path)


def test_utf16_bom_before_bytes_that_were_never_text_is_binary(tmp_path: Path) -> None:
    """FF FE before random bytes decodes as UTF-16 into CJK, private-use and unassigned
    characters: indexed, that would be a document of garbage cited to agents."""
    import random

    rng = random.Random(7)
    units = []
    while len(units) < 600:  # random UTF-16 code units, no surrogates (those fail to decode)
        unit = rng.randrange(1, 0x10000)
        if not 0xD800 <= unit < 0xE000:
            units.append(unit)
    blob = b"\xff\xfe" + b"".join(u.to_bytes(2, "little") for u in units)
    blob.decode("utf-16")  # it does decode: only its characters tell
    (tmp_path / "blob.txt").write_bytes(blob)
    with pytest.raises(DocumentLoadError, match="binary"):
        load_file(tmp_path / "blob.txt", tmp_path)
    # real UTF-16 text in other scripts still loads
    text = "返金ポリシー\n\nコインは14日以内に返金されます。\nВозврат в течение 14 дней.\n"
    (tmp_path / "ja.txt").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    assert load_file(tmp_path / "ja.txt", tmp_path).text == text


@pytest.fixture(params=["local", "postgres"])
def target(request, tmp_path: Path):
    """Where an index goes: a local directory, or a fresh migrated database."""
    if request.param == "local":
        return tmp_path / "ix"
    return request.getfixturevalue("pg_database")


def test_both_backends_index_a_document_with_a_stray_nul_alike(
    target, sample_kb: Path, fake_embedder
) -> None:
    from indexer.build import build_index
    from indexer.search import open_searcher
    from indexer.settings import Settings

    text = f"# Long notes\n\n{FILLER}\nA stray \x00 byte from an export tool.\n"
    (sample_kb / "policies" / "long-notes.md").write_text(text, encoding="utf-8")
    build_index(sample_kb, target, fake_embedder, max_tokens=60, min_tokens=8)
    s = open_searcher(target, fake_embedder, Settings())
    try:
        stored = s.get_document("policies/long-notes.md")
    finally:
        s.close()
    assert stored["text"] == text.replace("\x00", "\ufffd")


# ---------------------------------------------------------------- watch-mode memo


def _same_stat_rewrite(path: Path, text: str, atomic: bool) -> None:
    """Give ``path`` new content of the same size and its old mtime, as ``cp -p``, ``rsync -t``
    or an atomic save whose temporary file carries the old mtime do."""
    before = path.stat()
    assert len(text.encode()) == before.st_size
    if atomic:
        temp = path.with_name(".save.tmp")
        temp.write_text(text, encoding="utf-8")
        os.utime(temp, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(temp, path)
    else:
        deadline = time.monotonic() + 5
        while time.time_ns() <= before.st_ctime_ns + 20_000_000 and time.monotonic() < deadline:
            time.sleep(0.01)  # file timestamps tick coarsely: let ctime move past the old one
        path.write_text(text, encoding="utf-8")
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


@pytest.mark.parametrize("atomic", [False, True], ids=["in-place", "atomic"])
def test_memo_sees_a_save_that_keeps_mtime_and_size(tmp_path: Path, atomic: bool) -> None:
    path = tmp_path / "refunds.md"
    path.write_text("# Refunds\n\nRefunds close after 14 days.\n", encoding="utf-8")
    memo = RebuildMemo()
    memo.start_build()
    (first,), _ = load_directory(tmp_path, memo=memo)
    assert "14 days" in first.text
    _same_stat_rewrite(path, "# Refunds\n\nRefunds close after 30 days.\n", atomic)
    memo.start_build()
    (second,), _ = load_directory(tmp_path, memo=memo)
    assert "30 days" in second.text


# ---------------------------------------------------------------- one read per load


@pytest.mark.parametrize("with_stats", [False, True], ids=["hash", "stat-cache"])
def test_a_file_saved_while_it_loads_is_not_recorded_under_the_other_version(
    tmp_path: Path, monkeypatch, with_stats: bool
) -> None:
    """The hash came from one read and the text from a second: a save in between recorded
    hash(A) with B's text, so reverting the file to A later kept serving B."""
    root = tmp_path / "kb"
    root.mkdir()
    path = root / "refunds.md"
    version_a = "# Refunds\n\nRefunds close after 14 days.\n"
    version_b = "# Refunds\n\nRefunds close after 30 days, not 14.\n"
    path.write_text(version_a, encoding="utf-8")
    real = loaders.load_file
    saves = [version_b]

    def saved_meanwhile(file: Path, *args, **kwargs) -> Document:
        if saves:  # the editor's save lands between the hash and the parse
            file.write_text(saves.pop(), encoding="utf-8")
        return real(file, *args, **kwargs)

    monkeypatch.setattr(loaders, "load_file", saved_meanwhile)
    stats = StatCache(tmp_path / "stats.sqlite", racy_s=0) if with_stats else None
    try:
        (first,), _ = load_directory(root, stats=stats)
        assert first.source_hash
        path.write_text(version_a, encoding="utf-8")  # reverted
        (again,), _ = load_directory(root, previous={first.source_hash: first}, stats=stats)
    finally:
        if stats is not None:
            stats.close()
    assert again.text == version_a
    assert first.text == version_a  # what the recorded hash was made from


# ---------------------------------------------------------------- DOCX core-property titles


def _docx(core_title: str, title_paragraph: str = "") -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = core_title
    if title_paragraph:
        document.add_paragraph(title_paragraph, style="Title")
    document.add_heading("Purpose", level=1)
    document.add_paragraph("Refunds are issued within 14 days.")
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("core_title", "title_paragraph", "expected"),
    [
        ("Document1", "", "Refund Sop"),
        ("Document1", "Coin Refund SOP", "Coin Refund SOP"),
        ("Microsoft Word - Refund SOP v2.docx", "", "Refund SOP v2"),
        ("   ", "Coin Refund SOP", "Coin Refund SOP"),
        ("", "", "Refund Sop"),
        ("refund-sop", "Coin Refund SOP", "Coin Refund SOP"),  # the file's own name
        ("refund-sop", "", "Refund Sop"),
        ("Refund_SOP_final.docx", "", "Refund Sop"),
        ("Untitled", "", "Refund Sop"),
        ("Coin Refund SOP v3.1", "Draft heading", "Coin Refund SOP v3.1"),  # a real title
    ],
)
def test_docx_placeholder_core_titles_fall_back(
    tmp_path: Path, core_title: str, title_paragraph: str, expected: str
) -> None:
    path = tmp_path / "refund-sop.docx"
    path.write_bytes(_docx(core_title, title_paragraph))
    assert load_file(path, tmp_path).title == expected
