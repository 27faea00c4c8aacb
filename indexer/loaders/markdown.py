"""Markdown: YAML or TOML front matter for metadata, ATX, setext and raw HTML headings
(outside code) for sections."""

from __future__ import annotations

import html
import re

from indexer.loaders.common import Heading, Parsed, ParseError, decode_text
from indexer.loaders.metadata import parse_fields, parse_toml_fields

# YAML between '---' lines; Pandoc and Jekyll also close it with YAML's end marker '...'.
# An empty one ('---' twice, as Jekyll writes for a page with no fields) is front matter too.
# Either marker may carry trailing blanks, as editors leave them.
_FRONT_MATTER_RE = re.compile(r"\A---[ \t]*\n(?:(.*?)\n)??(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
# An opening '---' line followed by a 'field:' line: front matter, even if never closed.
_OPENED_RE = re.compile(r"\A---[ \t]*\n[A-Za-z_][\w-]*[ \t]*:(?:[ \t]|\n|\Z)")
# Hugo's TOML front matter between '+++' lines.
_TOML_FRONT_MATTER_RE = re.compile(r"\A\+\+\+[ \t]*\n(.*?)\n\+\+\+[ \t]*(?:\n|\Z)", re.DOTALL)
# CommonMark block starts, each allowed 0-3 spaces of indent (4 or more is an indented code
# block). Containers (lists, block quotes) are not modelled: their lines only keep a following
# '---' or '===' from being read as a setext underline.
_ATX_RE = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?[ \t]*$")
_ATX_CLOSE_RE = re.compile(r"(?:^|[ \t]+)#+$")  # '## C#' keeps its '#': no space before it
_FENCE_OPEN_RE = re.compile(r"^ {0,3}(`{3,}(?=[^`]*$)|~{3,})")  # a ``` info string has no `
_FENCE_CLOSE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})[ \t]*$")
_SETEXT_RE = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_BREAK_RE = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST_RE = re.compile(r"^ {0,3}(?:[-+*]|(\d{1,9})[.)])(?:[ \t]+(\S)|[ \t]*$)")
_QUOTE_RE = re.compile(r"^ {0,3}>")
_HTML_RE = re.compile(r"^ {0,3}<[A-Za-z/!?]")
# A raw HTML heading alone on its line, as Confluence and other exporters write them.
_HTML_HEADING_RE = re.compile(
    r"^ {0,3}<h([1-6])((?:[ \t][^>]*)?)>((?:(?!</?h[1-6]\b).)*)</h\1[ \t]*>[ \t]*$", re.IGNORECASE
)
_HTML_ID_RE = re.compile(r"""(?:^|[ \t])id[ \t]*=[ \t]*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_TABLE_RULE_RE = re.compile(r"^[ \t]*[|:\-][|:\- \t]*$")  # with a "|": |---|:--|
# Inline markup in a heading's title (see plain_title).
_ATTR_BLOCK_RE = re.compile(r"[ \t]*\{((?:[ \t]*[#.][\w:.-]+|[ \t]*[\w-]+=\S+)+)[ \t]*\}[ \t]*$")
_ATTR_ID_RE = re.compile(r"#([\w:.-]+)")
_HTML_TAG_RE = re.compile(r"</?[A-Za-z][^<>]*>")
_LINK_RE = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_CODE_RE = re.compile(r"`+([^`]+?)`+")
_STRONG_RE = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_EM_RE = re.compile(r"(?<![\w*])(\*|_)(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_ESCAPE_RE = re.compile(r"\\([!-/:-@\[-`{-~])")  # CommonMark: any ASCII punctuation
_ESCAPED = 0xF0000  # private-use plane: where escaped characters wait out the patterns
# A paragraph longer than this over '---' or '===' is text, not a heading title (CommonMark
# would make the whole paragraph the title): the underline is then a thematic break or text.
_SETEXT_MAX_LINES = 3
_SETEXT_MAX_CHARS = 200


def split_front_matter(text: str) -> tuple[dict, str]:
    """Return (front matter dict, body); the body is what we index and cite."""
    if match := _FRONT_MATTER_RE.match(text):
        return parse_fields(match.group(1) or "", "front matter", 2), text[match.end() :]
    if match := _TOML_FRONT_MATTER_RE.match(text):
        return parse_toml_fields(match.group(1), "front matter"), text[match.end() :]
    if _OPENED_RE.match(text):
        # Indexed as text, its fields would be lost without a word and the YAML cited as
        # policy: a 'status: superseded' or an effective date ignored.
        raise ParseError("front matter opened on line 1 is never closed (no '---' line after it)")
    return {}, text


def parse(data: bytes) -> Parsed:
    """Parse Markdown bytes into text (front matter removed), headings and metadata.

    The text is the body exactly as written, so citation spans point into the source; a
    setext heading's section starts at its title line, like an ATX heading's.
    """
    meta, body = split_front_matter(decode_text(data))
    headings = find_headings(body)
    title = next((h.title for h in headings if h.level == 1), "")
    return Parsed(text=body, headings=headings, title=title, metadata=meta)


def find_headings(body: str) -> list[Heading]:
    """ATX ('## Title'), setext ('Title' over '===' or '---') and raw HTML ('<h2>Title</h2>'
    alone on a line) headings outside code.

    Follows CommonMark where it matters for sections: a fence closes only on the same
    character at least as long as it opened; indented 4+ spaces is code; a '---' under a
    paragraph of at most 3 lines and 200 characters is an h2 underline, elsewhere a thematic
    break; a '---' or '===' under a list item, quote, table or HTML block is not an underline
    (setext cannot be a lazy line).
    """
    headings: list[Heading] = []
    fence = ""  # the opening fence run while inside a fenced block
    block = ""  # "para" (may become a setext heading), "other" (list, quote...) or ""
    para: list[str] = []
    para_start = 0
    offset = 0
    for line in body.splitlines(keepends=True):
        s = line.rstrip("\n")
        start, offset = offset, offset + len(line)
        if fence:
            close = _FENCE_CLOSE_RE.match(s)
            if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
                fence = ""
            continue
        if not s.strip():
            block = ""
            continue
        if (
            block == "para"
            and (underline := _SETEXT_RE.match(s))
            and len(para) <= _SETEXT_MAX_LINES
            and len(title := " ".join(" ".join(para).split())) <= _SETEXT_MAX_CHARS
        ):
            level = 1 if underline.group(1)[0] == "=" else 2
            title, anchor = plain_title(title)
            headings.append(Heading(level, title, para_start, anchor))
            block = ""
            continue
        if _indent(s) >= 4 and not block:
            continue  # indented code
        if opening := _FENCE_OPEN_RE.match(s):
            fence, block = opening.group(1), ""
            continue
        if _BREAK_RE.match(s):
            block = ""
            continue
        if atx := _ATX_RE.match(s):
            title, anchor = plain_title(_ATX_CLOSE_RE.sub("", (atx.group(2) or "").strip()))
            if title:
                headings.append(Heading(len(atx.group(1)), title, start, anchor))
            block = ""
            continue
        if tag := _HTML_HEADING_RE.match(s):
            if title := html_title(tag.group(3)):
                headings.append(Heading(int(tag.group(1)), title, start, html_id(tag.group(2))))
            block = "other"  # an HTML block runs to the next blank line
            continue
        if block == "para" and "|" in para[-1] and "|" in s and _TABLE_RULE_RE.match(s):
            block = "other"  # a GFM table: its header row and rule row
        elif _QUOTE_RE.match(s) or (not block and _HTML_RE.match(s)):
            block = "other"
        elif (item := _LIST_RE.match(s)) and (
            block != "para" or (item.group(2) and item.group(1) in (None, "1"))
        ):
            block = "other"  # a list item; only a non-empty bullet or '1.' interrupts a paragraph
        elif not block:
            block, para, para_start = "para", [s], start
        elif block == "para":
            para.append(s)
    return headings


def plain_title(raw: str) -> tuple[str, str]:
    """A heading's title as a reader sees it, and its explicit anchor ('' if none).

    Exporters write markup into headings: Google Docs bolds them ('## **Purpose**'),
    Confluence escapes punctuation ('## 1\\. Scope'), Pandoc and MkDocs add an attribute
    block ('## Signals {#signals}'), others inline code, links or HTML. Left in, the markup
    shows in every citation's heading path; the text itself is not changed.
    """
    anchor = ""
    if attrs := _ATTR_BLOCK_RE.search(raw):
        raw = raw[: attrs.start()]
        anchor = next(iter(_ATTR_ID_RE.findall(attrs.group(1))), "")
    # an escaped character is literal: hidden from the markup patterns, then put back
    title = _ESCAPE_RE.sub(lambda m: chr(_ESCAPED + ord(m.group(1))), raw)
    title = _HTML_TAG_RE.sub("", title)
    title = _LINK_RE.sub(r"\1", title)
    title = _CODE_RE.sub(r"\1", title)
    title = _STRONG_RE.sub(r"\2", title)
    title = _EM_RE.sub(r"\2", title)
    title = "".join(chr(ord(c) - _ESCAPED) if _ESCAPED <= ord(c) < _ESCAPED + 128 else c
                    for c in title)  # fmt: skip
    return " ".join(title.split()), anchor


def html_title(inner: str) -> str:
    """A raw HTML heading's text: tags dropped, entities decoded, spacing collapsed (inside
    HTML, Markdown emphasis and backslash escapes are literal, so plain_title does not apply)."""
    return " ".join(html.unescape(_HTML_TAG_RE.sub("", inner)).split())


def html_id(attrs: str) -> str:
    """The id attribute among a tag's attributes ('' if none): the heading's anchor."""
    found = _HTML_ID_RE.search(attrs)
    return next((g for g in found.groups() if g is not None), "") if found else ""


def _indent(line: str) -> int:
    """Columns of leading whitespace, a tab reaching the next multiple of 4 (CommonMark)."""
    return len(line[: len(line) - len(line.lstrip(" \t"))].expandtabs(4))
