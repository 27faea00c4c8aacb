"""Markdown: YAML front matter for metadata, ATX headings (outside code fences) for sections."""

from __future__ import annotations

import re

import yaml

from indexer.loaders.common import Heading, Parsed, ParseError, decode_text

_FRONT_MATTER_RE = re.compile(r"\A---\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_HEADING_RE = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE_RE = re.compile(r"^(```|~~~)")


def split_front_matter(text: str) -> tuple[dict, str]:
    """Return (front matter dict, body); the body is what we index and cite."""
    match = _FRONT_MATTER_RE.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML front matter: {exc}") from exc
    if not isinstance(meta, dict):
        raise ParseError("front matter is not a mapping of fields")
    return meta, text[match.end() :]


def parse(data: bytes) -> Parsed:
    """Parse Markdown bytes into text (front matter removed), headings and metadata."""
    meta, body = split_front_matter(decode_text(data))
    headings: list[Heading] = []
    in_fence = False
    offset = 0
    for line in body.splitlines(keepends=True):
        stripped = line.rstrip("\n")
        if _FENCE_RE.match(stripped.lstrip()):
            in_fence = not in_fence
        elif not in_fence:
            match = _HEADING_RE.match(stripped)
            if match:
                headings.append(Heading(len(match.group(1)), match.group(2).strip(), offset))
        offset += len(line)
    title = next((h.title for h in headings if h.level == 1), "")
    return Parsed(text=body, headings=headings, title=title, metadata=meta)
