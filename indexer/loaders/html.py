"""HTML: visible text of the main content; h1-h6 become sections, lists and tables stay lines.

Page chrome (nav, header, footer, aside, scripts) is dropped so it never pollutes passages.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from indexer.loaders.common import Heading, Parsed, decode_text

_SKIP = {"script", "style", "nav", "footer", "header", "aside", "noscript", "template", "svg"}
_BLOCK = {
    "p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "dl", "dt",
    "dd", "table", "thead", "tbody", "tfoot", "form", "figure", "figcaption", "br", "hr",
    "address", "details", "summary",
}  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_WS_RE = re.compile(r"\s+")


class _Extractor(HTMLParser):
    """Streams the page into blocks of text; headings, list items and table rows are blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, int, str]] = []  # (text, heading level or 0, anchor)
        self.title = ""
        self._buf: list[str] = []
        self._skip_depth = 0
        self._in_title = False
        self._heading: tuple[int, str] | None = None
        self._lists: list[list] = []  # stack of [tag, counter]
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in_pre = False

    def _flush(self, level: int = 0, anchor: str = "") -> None:
        raw = "".join(self._buf)
        text = raw.strip("\n") if self._in_pre else _WS_RE.sub(" ", raw).strip()
        self._buf = []
        if text:
            self.blocks.append((text, level, anchor))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag == "title":
            self._in_title = True
        elif tag in _HEADINGS:
            self._flush()
            self._heading = (_HEADINGS[tag], dict(attrs).get("id") or "")
        elif tag in ("ul", "ol"):
            self._flush()
            self._lists.append([tag, 0])
        elif tag == "li":
            self._flush()
            if self._lists:
                self._lists[-1][1] += 1
                kind, n = self._lists[-1]
                self._buf.append(f"{n}. " if kind == "ol" else "- ")
            else:
                self._buf.append("- ")
        elif tag == "tr":
            self._flush()
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "pre":
            self._flush()
            self._in_pre = True
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag == "title":
            self._in_title = False
        elif tag in _HEADINGS and self._heading:
            level, anchor = self._heading
            self._heading = None
            self._flush(level, anchor)
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(_WS_RE.sub(" ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            cells = [c for c in self._row if c]
            self._row = None
            if cells:
                self.blocks.append((" | ".join(cells), 0, ""))
        elif tag in ("ul", "ol"):
            self._flush()
            if self._lists:
                self._lists.pop()
        elif tag == "pre":
            self._flush()
            self._in_pre = False
        elif tag in _BLOCK or tag == "li":
            self._flush()

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if self._in_title:
            self.title += data
        elif self._cell is not None:
            self._cell.append(data)
        else:
            self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def parse(data: bytes) -> Parsed:
    """Parse an HTML page into readable text with one block per paragraph, item or row."""
    extractor = _Extractor()
    extractor.feed(decode_text(data))
    extractor.close()
    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    for i, (block, level, anchor) in enumerate(extractor.blocks):
        if i:
            # List items and table rows sit on consecutive lines; other blocks are paragraphs.
            tight = _is_line_item(block) and _is_line_item(extractor.blocks[i - 1][0])
            sep = "\n" if tight else "\n\n"
            parts.append(sep)
            offset += len(sep)
        if level:
            headings.append(Heading(level, block, offset, anchor))
        parts.append(block)
        offset += len(block)
    text = "".join(parts) + "\n"
    title = _WS_RE.sub(" ", extractor.title).strip()
    if not title:
        title = next((h.title for h in headings if h.level == 1), "")
    return Parsed(text=text, headings=headings, title=title)


_ITEM_RE = re.compile(r"^(- |\d+\. )")


def _is_line_item(block: str) -> bool:
    """List items and table rows, which read best one per line."""
    return bool(_ITEM_RE.match(block)) or " | " in block
