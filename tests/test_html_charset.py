"""HTML pages in the charset they declare: exported intranet policies are often windows-1252."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.loaders import load_directory
from indexer.loaders.common import ParseError
from indexer.loaders.html import parse

PAGE = (
    '<html><head><meta charset="{label}"><title>Refunds</title></head>'
    "<body><h1>Caf\u00e9 refunds</h1><p>A \u20ac5 fee applies to \u201cexpress\u201d returns.</p>"
    "</body></html>"
)


@pytest.mark.parametrize("label", ["windows-1252", "ISO-8859-1", "latin1", "us-ascii"])
def test_a_page_in_a_declared_western_charset_is_read(label: str) -> None:
    # Browsers read Latin-1 and ASCII labels as windows-1252, whose euro and quotes such
    # pages hold; a strict Latin-1 decode would turn them into C1 control characters.
    parsed = parse(PAGE.format(label=label).encode("cp1252"))
    assert "Caf\u00e9 refunds" in parsed.text
    assert "A \u20ac5 fee applies to \u201cexpress\u201d returns." in parsed.text
    assert [h.title for h in parsed.headings] == ["Caf\u00e9 refunds"]


WORD_PAGE = (  # Word's "Web Page, Filtered" export: attribute values without quotes
    '<html><head><meta http-equiv=Content-Type content="text/html; charset=windows-1252">'
    "</head><body><p class=MsoNormal>Stra\u00dfe \u2013 5 \u20ac</p></body></html>"
)


@pytest.mark.parametrize(
    ("page", "encoding", "text"),
    [
        pytest.param(
            '<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-15">'
            "<p>Gesamtpreis 5 \u20ac, na\u00efve</p>",
            "iso-8859-15",
            "Gesamtpreis 5 \u20ac, na\u00efve",
            id="http-equiv",
        ),
        pytest.param(WORD_PAGE, "cp1252", "Stra\u00dfe \u2013 5 \u20ac", id="word-export"),
        pytest.param(
            WORD_PAGE.replace(
                '"text/html; charset=windows-1252"', "text/html;charset=windows-1252"
            ),
            "cp1252",
            "Stra\u00dfe \u2013 5 \u20ac",
            id="word-export-unquoted-content",
        ),
        pytest.param(
            '<?xml version="1.0" encoding="ISO-8859-1"?>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml">'
            "<body><p>Kundenservice f\u00fcr \u00d6sterreich</p></body></html>",
            "latin-1",
            "Kundenservice f\u00fcr \u00d6sterreich",
            id="xhtml-xml-declaration",
        ),
    ],
)
def test_other_forms_of_the_declaration_are_read(page: str, encoding: str, text: str) -> None:
    assert text in parse(page.encode(encoding)).text


def test_a_byte_order_mark_outranks_the_declaration() -> None:
    page = '<meta charset="windows-1252"><p>Caf\u00e9</p>'
    assert "Caf\u00e9" in parse(b"\xef\xbb\xbf" + page.encode("utf-8")).text
    odd = '<meta charset="klingon"><p>Caf\u00e9</p>'  # not even looked up behind a mark
    assert "Caf\u00e9" in parse(b"\xef\xbb\xbf" + odd.encode("utf-8")).text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<meta charset=klingon><p>x</p>", "unknown charset 'klingon'"),
        (b"<meta charset=utf-8><p>\xe9</p>", "not valid UTF-8"),
        (b"<meta charset=shift_jis><p>\x81</p>", "not valid shift_jis text"),
        (b"<p>Caf\xe9</p>", "not valid UTF-8"),  # no declaration: no guessing either
    ],
)
def test_bytes_that_do_not_fit_are_refused_with_the_reason(data: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse(data)


def test_a_declared_charset_page_is_indexed_and_a_wrong_one_is_reported(tmp_path: Path) -> None:
    (tmp_path / "refunds.html").write_bytes(PAGE.format(label="windows-1252").encode("cp1252"))
    (tmp_path / "broken.html").write_bytes(b"<meta charset=utf-8><p>Caf\xe9</p>")
    documents, skipped = load_directory(tmp_path)
    assert [d.doc_id for d in documents] == ["refunds.html"]
    assert "\u20ac5 fee" in documents[0].text
    assert [(s.path, "not valid UTF-8" in s.reason) for s in skipped] == [("broken.html", True)]
