"""Pieces every loader shares: the Parsed result, text decoding and heading -> section spans."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from indexer.documents import PageSpan, Section


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


def decode_text(data: bytes) -> str:
    """Decode UTF-8/UTF-16 text with newlines normalised; refuse binary or undecodable bytes.

    We refuse rather than guess a legacy code page: a wrongly decoded policy would be indexed
    as plausible-looking garbage and cited to agents.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return normalise_newlines(data.decode("utf-16"))
        except UnicodeDecodeError as exc:
            raise ParseError(f"undecodable UTF-16 text: {exc.reason}") from exc
    if b"\x00" in data[:8192]:
        raise ParseError("binary content (NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(f"not valid UTF-8 text (bad byte at offset {exc.start})") from exc
    return normalise_newlines(text)


def normalise_newlines(text: str) -> str:
    """Unify line endings so spans mean the same thing on every platform."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


_SLUG_RE = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    """GitHub-style anchor for a heading, for viewers that open a section."""
    return _SLUG_RE.sub("-", title.lower()).strip("-")


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
    for i, heading in enumerate(ordered):
        while stack and stack[-1].level >= heading.level:
            stack.pop()
        stack.append(heading)
        end = ordered[i + 1].start if i + 1 < len(ordered) else len(text)
        anchor = heading.anchor or slugify(heading.title)
        path = tuple(h.title for h in stack)
        sections.append(Section(path=path, start=heading.start, end=end, anchor=anchor))
    return sections
