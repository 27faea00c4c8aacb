"""Pieces every loader shares: the Parsed result, text decoding and heading -> section spans."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, TypeVar

from indexer.documents import PageSpan, Section

T = TypeVar("T")

# How much of a file is looked at for NULs to tell binary from text (as git does).
BINARY_SNIFF_BYTES = 8192
NUL = "\x00"
# What a NUL becomes: one character for one, so no span after it moves.
NUL_REPLACEMENT = "\ufffd"


class ParseError(Exception):
    """Raised by a format parser with a short, human reason; turned into DocumentLoadError."""


class ParseLimitError(ParseError):
    """Parsing was stopped by a time or memory limit, or the parser died: it may pass on a
    quieter machine, so a one-shot ``kb index`` tries such a file again next time."""


@dataclass
class Heading:
    """A heading found by a parser: its level (1 = top), title and where its line starts."""

    level: int
    title: str
    start: int
    anchor: str = ""


@dataclass
class Parsed:
    """What a format parser returns: text plus structure, before metadata is merged in."""

    text: str
    headings: list[Heading] = field(default_factory=list)
    pages: list[PageSpan] = field(default_factory=list)
    title: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    # The title to show when ``title`` (from the file's properties) is only the file's own
    # name: a DOCX's Title paragraph under its core-properties title; "" for the file name.
    fallback_title: str = ""


BYTE_ORDER_MARKS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")  # UTF-8, UTF-16 LE and BE


def decode_text(data: bytes, charset: str | None = None) -> str:
    """Decode UTF-8/UTF-16 text with newlines normalised; refuse binary or undecodable bytes.

    We refuse rather than guess a legacy code page: a wrongly decoded policy would be indexed
    as plausible-looking garbage and cited to agents. ``charset`` is one the file itself
    declares (an HTML page's <meta>), followed strictly; a byte-order mark outranks it, as in
    browsers. A NUL within the first 8 KiB marks a binary file (in UTF-16, a NUL character:
    its text has NUL bytes in every ASCII letter); a stray one later on is kept, and replaced
    as every loader's are (:func:`without_nul`).
    """
    if data.startswith(BYTE_ORDER_MARKS[0]):
        data, charset = data[3:], None
    elif data.startswith(BYTE_ORDER_MARKS[1:]):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ParseError(f"undecodable UTF-16 text: {exc.reason}") from exc
        if NUL in text[: BINARY_SNIFF_BYTES // 2]:
            raise ParseError("binary content (NUL characters), not text")
        if _mostly_not_text(text[: BINARY_SNIFF_BYTES // 2]):
            raise ParseError("binary content (unassigned or control characters), not text")
        return normalise_newlines(text)
    if b"\x00" in data[:BINARY_SNIFF_BYTES]:
        raise ParseError("binary content (NUL bytes), not text")
    try:
        text = data.decode(charset or "utf-8")
    except UnicodeDecodeError as exc:
        what = f"{charset} text, the charset the file declares," if charset else "UTF-8 text"
        raise ParseError(f"not valid {what} (bad byte at offset {exc.start})") from exc
    return normalise_newlines(text)


_TEXT_CONTROLS = frozenset("\t\n\r\f\v")


def _mostly_not_text(sample: str) -> bool:
    """Whether more than 2% of ``sample``'s characters are unassigned, private-use or control
    characters: bytes after a UTF-16 byte-order mark that were never text decode to those
    (about a fifth of random code points), a written document has next to none."""
    if not sample:
        return False
    odd = sum(
        1
        for c in sample
        if c not in _TEXT_CONTROLS and unicodedata.category(c) in ("Cn", "Co", "Cc", "Cs")
    )
    return odd > 0.02 * len(sample)


def without_nul(value: T) -> T:
    """``value`` with U+0000 replaced by U+FFFD in every string in it (strings, lists, tuples,
    dict keys and values).

    PostgreSQL's text and JSONB cannot hold U+0000 while the local files can: a NUL that got
    past the binary sniff (late in a text file, in a PDF's extracted text, in a YAML "\\0"
    escape) would make the two backends index different documents.
    """
    if isinstance(value, str):
        return value.replace(NUL, NUL_REPLACEMENT) if NUL in value else value  # type: ignore[return-value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [without_nul(v) for v in value]  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(without_nul(v) for v in value)  # type: ignore[return-value]
    return value


# What tools write into a file's Title property when its author set none: Word's and
# PowerPoint's print drivers prefix the source file's name, others write a file name or a
# default word (reportlab's "untitled", Word's "Document1").
_OFFICE_PREFIX_RE = re.compile(
    r"^Microsoft (?:Office )?(?:Word|PowerPoint|Excel|Publisher|Visio) - ", re.IGNORECASE
)
_FILE_EXTENSION_RE = re.compile(
    r"\.(?:pdf|docx?|docm|dotx?|odt|rtf|txt|md|html?|tex|dvi|ps|pptx?|xlsx?|pages|indd)$",
    re.IGNORECASE,
)
_PLACEHOLDER_TITLE_RE = re.compile(
    r"^(?:untitled(?:[ _-]?(?:document|\d+))?|document[ _-]?\d*|no title)$", re.IGNORECASE
)


def clean_title(raw: str) -> str:
    """A Title property (a PDF's Info, a DOCX's core properties) as a citation can show it,
    or "" for a placeholder (the caller then falls back): "Microsoft Word - Refund SOP.docx"
    is "Refund SOP"; "untitled", "Document1", a bare file name or blanks are nothing."""
    title = " ".join(raw.split())
    office = _OFFICE_PREFIX_RE.match(title)
    if office:
        title = _FILE_EXTENSION_RE.sub("", title[office.end() :]).strip()
    elif _FILE_EXTENSION_RE.search(title):
        return ""  # a file name, not a title someone wrote
    return "" if _PLACEHOLDER_TITLE_RE.match(title) else title


def is_own_name(title: str, stem: str) -> bool:
    """Whether a Title property is only the file's own name ('refund-sop' in refund-sop.pdf),
    which converters write when the author set no title."""
    return bool(stem) and title.strip().casefold() == stem.casefold()


def normalise_newlines(text: str) -> str:
    """Unify line endings so spans mean the same thing on every platform."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def slugify(title: str) -> str:
    """GitHub-style anchor for a heading, for viewers that open a section: letters, digits
    and marks of any script, lower-cased, runs of anything else one "-". A-Z only gave
    "환불 정책" or "سياسة الاسترداد" no anchor at all ("")."""
    lowered = unicodedata.normalize("NFC", title.lower())
    kept = [c if unicodedata.category(c)[0] in "LNM" else " " for c in lowered]
    return "-".join("".join(kept).split())


def _unique(anchor: str, taken: set[str]) -> str:
    """``anchor``, or ``anchor-1``, ``anchor-2``... when a heading earlier in the document
    already has it (GitHub's rule): two "Exceptions" sections were one id, and a link to the
    second opened the first."""
    base, n = anchor or "section", 0
    while anchor in taken or not anchor:
        n += 1
        anchor = f"{base}-{n}"
    taken.add(anchor)
    return anchor


def sections_from_headings(text: str, headings: list[Heading]) -> list[Section]:
    """Cut ``text`` into consecutive sections, one per heading, with full heading paths.

    A section runs from its heading line to the next heading of any level, so sections never
    overlap and together cover the text; text before the first heading is a section with an
    empty path.
    """
    ordered = sorted(headings, key=lambda h: h.start)
    sections: list[Section] = []
    first = ordered[0].start if ordered else len(text)
    if text[:first].strip():
        sections.append(Section(path=(), start=0, end=first))
    stack: list[Heading] = []
    # A document's own ids (HTML) stay as written: links from outside point at them.
    taken = {h.anchor for h in ordered if h.anchor}
    for i, heading in enumerate(ordered):
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
        end = ordered[i + 1].start if i + 1 < len(ordered) else len(text)
        anchor = heading.anchor or _unique(slugify(heading.title), taken)
        path = tuple(h.title for h in stack)
        sections.append(Section(path=path, start=heading.start, end=end, anchor=anchor))
    return sections
