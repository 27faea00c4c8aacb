"""HTML: visible text of the main content; h1-h6 become sections, lists and tables stay lines.

Page chrome (nav, header, footer, aside, scripts) is dropped so it never pollutes passages; an
article's own footer, and its own header when that holds its heading (h1-h6), are kept. A list
item's number stays with its text, even inside a <p>; a table cell stays on its row's line.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

from indexer.loaders.common import BYTE_ORDER_MARKS, Heading, Parsed, ParseError, decode_text

_SKIP = {
    "script", "style", "nav", "footer", "header", "aside", "noscript", "template", "svg",
    "iframe", "noembed", "noframes",  # an iframe's content is only a fallback message
}  # fmt: skip
# A header or footer inside an <article> belongs to it (its h1, its byline), not to the page's
# chrome; a header is kept only if it holds a heading. <main> and <section> do not count: sites
# wrap the whole page, site header and footer included, in one (or leave one unclosed).
_OWN_CHROME = {"header", "footer"}
_BLOCK = {
    "p", "div", "section", "article", "main", "blockquote", "pre", "ul", "ol", "dl", "dt",
    "dd", "table", "thead", "tbody", "tfoot", "form", "figure", "figcaption", "br", "hr",
    "address", "details", "summary", "header", "footer", "li",
}  # fmt: skip
# Page chrome marked by what it is rather than by its tag: ARIA landmark roles equal to the
# skipped tags (a wiki's table of contents is role=navigation, a site footer role=contentinfo),
# breadcrumb trails, and the edit and permalink widgets wikis and doc generators put into
# headings ('Removal[edit]', 'Purpose¶'). Only elements whose end tag is required: a skipped
# <li> or <p> left open would take the rest of the page with it.
_CHROME_ROLES = {"navigation", "banner", "contentinfo", "search", "complementary", "menu"}
_CHROME_CLASSES = {"mw-editsection", "editsection", "headerlink"}
_OPTIONAL_END = {
    "li", "p", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "colgroup",
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
    "track", "wbr", "html", "head", "body",
}  # fmt: skip
# A cookie or consent banner ("cookie-banner", "cookie-consent", "consent-bar", OneTrust's
# and Cookiebot's): not a page about cookies ("cookie-policy", "cookie-faq").
_CONSENT_RE = re.compile(
    r"(?:cookie|consent)[-_ ]?(?:banner|bar|notice|popup|dialog|modal|consent|manager|wall)"
    r"|(?:banner|bar|notice|popup|dialog|modal)[-_ ]?(?:cookie|consent)|onetrust|cookiebot"
)
_PERMALINK_RE = re.compile(r"^\s*[¶§#🔗⚓]\s*$")
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_WS_RE = re.compile(r"\s+")
# Inside a table cell, block boundaries become separators so its parts do not run together
# ("14 days30 days") while its row stays one line: "; " between blocks (and the rows of a
# table nested in the cell), ", " between a nested table's cells.
_CELL_BLOCK_SEP = "\x1e"
_CELL_CELL_SEP = "\x1f"


def _cell_text(parts: list[str]) -> str:
    """A cell's text on one line, its blocks joined by '; ' and nested cells by ', '."""
    rows = []
    for row in "".join(parts).split(_CELL_BLOCK_SEP):
        cells = [_WS_RE.sub(" ", c).strip() for c in row.split(_CELL_CELL_SEP)]
        rows.append(", ".join(c for c in cells if c))
    return "; ".join(r for r in rows if r)


# The HTML standard's limits on a cell's spans; rowspan="0" reaches the end of the table.
_MAX_ROWSPAN = 65534
_MAX_COLSPAN = 1000


def _span_attr(attrs: list[tuple[str, str | None]], name: str, most: int) -> int:
    """A cell's colspan or rowspan: 1 when absent or not a number, at most ``most``."""
    value = _int_attr(attrs, name)
    if value is None or value < 0:
        return 1
    return most if value == 0 and name == "rowspan" else max(1, min(value, most))


def _int_attr(attrs: list[tuple[str, str | None]], name: str) -> int | None:
    """An integer attribute (<ol start>, <li value>); None when absent or not a number."""
    try:
        return int(str(dict(attrs).get(name)).strip())
    except ValueError:
        return None


class _Extractor(HTMLParser):
    """Streams the page into blocks of text; headings, list items and table rows are blocks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, int, str]] = []  # (text, heading level or 0, anchor)
        self.title = ""
        self._buf: list[str] = []
        self._skip_depth = 0
        self._articles = 0  # open <article> elements
        # kept <header>s still open: [index of their first block, whether they hold a heading]
        self._headers: list[list] = []
        self._in_title = False
        self._heading: tuple[int, str] | None = None
        self._lists: list[list] = []  # stack of [tag, number of the last item]
        self._marker = ""  # a list item's "3. " or "- ", until its first text
        self._row: list[str] | None = None
        self._row_spans: list[tuple[int, int]] = []  # each cell of _row's (colspan, rowspan)
        self._cell: list[str] | None = None
        self._cell_span = (1, 1)  # the open cell's (colspan, rowspan)
        # cells of earlier rows spanning down, by first column: [text, colspan, rows left]
        self._carried: dict[int, list] = {}
        self._nested_tables = 0  # tables inside the open cell, flattened into it
        self._in_pre = False
        self._chrome: list = []  # [tag, open count] of a role/class-marked chrome element
        self._links: list[int] = []  # where each <a> open inside a heading started in _buf

    def _is_chrome(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        """An element that is page chrome by its role, class, id or label (see _CHROME_ROLES)."""
        if tag in _OPTIONAL_END:
            return False
        found = dict(attrs)
        classes = set((found.get("class") or "").split())
        names = " ".join(str(found.get(k) or "") for k in ("class", "id", "aria-label")).lower()
        return (
            (found.get("role") or "").strip().lower() in _CHROME_ROLES
            or bool(classes & _CHROME_CLASSES)
            or "breadcrumb" in names
            or bool(_CONSENT_RE.search(names))
        )

    def _flush(self, level: int = 0, anchor: str = "") -> None:
        raw = "".join(self._buf)
        text = raw.strip("\n") if self._in_pre else _WS_RE.sub(" ", raw).strip()
        self._buf = []
        if text:
            self.blocks.append((text, level, anchor))

    def _start_cell(self, attrs: list[tuple[str, str | None]]) -> None:
        self._cell = []
        self._cell_span = (
            _span_attr(attrs, "colspan", _MAX_COLSPAN),
            _span_attr(attrs, "rowspan", _MAX_ROWSPAN),
        )

    def _end_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            self._row.append(_cell_text(self._cell))
            self._row_spans.append(self._cell_span)
        self._cell = None
        self._nested_tables = 0

    def _end_row(self) -> None:
        self._end_cell()
        if self._row is not None:
            cells = [c for c in self._lay_out(self._row, self._row_spans) if c]
            if cells:
                self.blocks.append((" | ".join(cells), 0, ""))
        self._row = None
        self._row_spans = []

    def _lay_out(self, row: list[str], spans: list[tuple[int, int]]) -> list[str]:
        """A row's cells in column order with the cells of earlier rows that span down into
        it ('Coins' over EU and US): each line then reads whole, as a DOCX's merged cell does."""
        out: list[str] = []
        carried, self._carried = self._carried, {}
        own = iter(zip(row, spans, strict=True))
        col = 0
        while True:
            if col in carried:
                text, width, left = carried.pop(col)
            elif (cell := next(own, None)) is not None:
                text, (width, left) = cell[0], cell[1]
            elif later := [c for c in carried if c > col]:
                col = min(later)  # a row ended early: cells spanning down still count
                continue
            else:
                return out
            out.append(text)
            if left > 1:
                self._carried[col] = [text, width, left - 1]
            col += width

    def _end_table(self) -> None:
        self._end_row()
        self._carried = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._chrome:
            if tag == self._chrome[0]:
                self._chrome[1] += 1
            return
        if self._is_chrome(tag, attrs):
            self._chrome = [tag, 1]
            return
        if tag == "a" and self._heading:
            self._links.append(len(self._buf))
        if tag in _SKIP and not (tag in _OWN_CHROME and self._articles and not self._skip_depth):
            self._skip_depth += 1
            return
        if self._skip_depth:
            return
        if tag == "article":
            self._articles += 1
        elif tag == "header":
            self._flush()
            self._headers.append([len(self.blocks), False])
        elif tag in _HEADINGS and self._headers:
            self._headers[-1][1] = True
        if self._heading and self._cell is None and tag in _BLOCK and self._block_in_heading(tag):
            return
        if tag == "title":
            self._in_title = True
        elif self._cell is not None:
            self._start_in_cell(tag, self._cell, attrs)
        elif tag in _HEADINGS:
            self._flush()
            self._heading = (_HEADINGS[tag], dict(attrs).get("id") or "")
        elif tag in ("ul", "ol"):
            self._flush()
            self._marker = ""
            start = _int_attr(attrs, "start") if tag == "ol" else None
            self._lists.append([tag, (start if start is not None else 1) - 1])
        elif tag == "li":
            self._flush()
            if self._lists and self._lists[-1][0] == "ol":
                value = _int_attr(attrs, "value")
                self._lists[-1][1] = value if value is not None else self._lists[-1][1] + 1
                self._marker = f"{self._lists[-1][1]}. "
            else:
                self._marker = "- "
        elif tag == "tr":
            self._flush()
            self._end_row()
            self._row = []
        elif tag in ("td", "th"):
            if self._row is None:  # a cell outside any <tr>: a row of its own
                self._flush()
                self._row = []
            self._start_cell(attrs)
        elif tag == "table":
            self._flush()
            self._end_table()  # a new table: no cell spans into it
        elif tag == "pre":
            self._flush()
            self._in_pre = True
        elif tag in _BLOCK:
            self._flush()

    def _block_in_heading(self, tag: str) -> bool:
        """A block tag opening inside a heading; True when it stays part of the title.

        '<h2>Refunds<br>EU</h2>' is one title on two lines, '<h2><div>Refunds</div></h2>' a
        wrapped one: neither may end the heading, or its path names half a title or none.
        A block after the title's text is taken as the end of a heading left unclosed.
        """
        if tag == "br":
            self._buf.append(" ")
            return True
        if not "".join(self._buf).strip():
            return True  # a wrapper around the title
        level, anchor = self._heading or (0, "")
        self._heading = None
        self._links = []
        self._flush(level, anchor)
        return False

    def _start_in_cell(
        self, tag: str, cell: list[str], attrs: list[tuple[str, str | None]]
    ) -> None:
        """A tag opening inside a table cell: blocks and nested tables only separate text."""
        if tag == "table":
            self._nested_tables += 1
            cell.append(_CELL_BLOCK_SEP)
        elif tag in ("td", "th") and not self._nested_tables:
            self._end_cell()  # the previous cell's end tag was omitted
            self._start_cell(attrs)
        elif tag == "tr" and not self._nested_tables:
            self._end_row()
            self._row = []
        elif tag in ("td", "th"):
            cell.append(_CELL_CELL_SEP)
        elif tag in _BLOCK or tag in _HEADINGS or tag == "tr":
            cell.append(_CELL_BLOCK_SEP)

    def handle_endtag(self, tag: str) -> None:
        if self._chrome:
            if tag == self._chrome[0]:
                self._chrome[1] -= 1
                if not self._chrome[1]:
                    self._chrome = []
            return
        if tag == "a" and self._links and self._heading and not self._skip_depth:
            start = self._links.pop()
            if _PERMALINK_RE.match("".join(self._buf[start:])):
                del self._buf[start:]  # 'Purpose¶': the heading's permalink, not its title
        # while skipping, every _SKIP end tag closes a skipped element; otherwise a header or
        # footer end closes one kept inside an article (a block, flushed below)
        if tag in _SKIP and (self._skip_depth or tag not in _OWN_CHROME):
            self._skip_depth = max(0, self._skip_depth - 1)
            return
        if self._skip_depth:
            return
        if tag == "article":
            self._articles = max(0, self._articles - 1)
        elif tag == "header" and self._headers:
            self._flush()
            first, has_heading = self._headers.pop()
            if not has_heading:
                del self.blocks[first:]  # a byline or logo without a heading: chrome
            elif self._headers:
                self._headers[-1][1] = True
            return
        if self._heading and self._cell is None and tag in _BLOCK:
            return  # a wrapper inside the heading closing: the title goes on
        if tag == "title":
            self._in_title = False
        elif self._cell is not None and self._end_in_cell(tag, self._cell):
            return
        elif tag in _HEADINGS and self._heading:
            level, anchor = self._heading
            self._heading = None
            self._links = []
            self._flush(level, anchor)
        elif tag == "tr":
            self._end_row()
            self._flush()
        elif tag == "table":
            self._end_table()
            self._flush()
        elif tag in ("ul", "ol", "li"):
            self._flush()
            self._marker = ""
            if tag != "li" and self._lists:
                self._lists.pop()
        elif tag == "pre":
            self._flush()
            self._in_pre = False
        elif tag in _BLOCK:
            self._flush()

    def _end_in_cell(self, tag: str, cell: list[str]) -> bool:
        """A tag closing inside a table cell; False when it closes the cell's own row/table."""
        if self._nested_tables:
            if tag == "table":
                self._nested_tables -= 1
                cell.append(_CELL_BLOCK_SEP)
            elif tag == "tr":
                cell.append(_CELL_BLOCK_SEP)
            elif tag in ("td", "th"):
                cell.append(_CELL_CELL_SEP)
            return True
        if tag in ("td", "th"):
            self._end_cell()
            return True
        if tag in ("tr", "table"):
            return False
        if tag in _BLOCK or tag in _HEADINGS:
            cell.append(_CELL_BLOCK_SEP)
        return True

    def handle_data(self, data: str) -> None:
        if self._skip_depth or self._chrome:
            return
        if self._in_title:
            self.title += data
        elif self._cell is not None:
            self._cell.append(data.replace(_CELL_BLOCK_SEP, " ").replace(_CELL_CELL_SEP, " "))
        else:
            if self._marker and data.strip():
                # the item's number goes with its first text, even inside a <p> in the <li>
                self._buf.append(self._marker)
                self._marker = ""
            self._buf.append(data)

    def close(self) -> None:
        super().close()
        self._end_row()
        self._flush()


# A charset declared in the page's first 1,024 bytes, as browsers prescan for it:
# <meta charset="...">, or <meta http-equiv="Content-Type" content="text/html; charset=...">.
_DECLARED_RE = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:+-]+)", re.I)
# An XHTML export's XML declaration (<?xml version="1.0" encoding="..."?>), when no <meta> says.
_XML_DECLARED_RE = re.compile(rb"\s*<\?xml\b[^>]*?\bencoding\s*=\s*[\"']([A-Za-z0-9_.:+-]+)", re.I)
# Labels browsers read as another encoding (WHATWG Encoding): pages labelled Latin-1 or ASCII
# are decoded as windows-1252, whose curly quotes and euro sign they usually hold.
_AS_WINDOWS_1252 = {"latin_1", "ascii", "iso8859_1", "cp819"}


def declared_charset(data: bytes) -> str | None:
    """The legacy charset an HTML page declares (a <meta> tag, else an XHTML page's XML
    declaration) as a Python codec name; None when it declares none or a UTF, or when a
    byte-order mark says which UTF it is (the mark outranks a declaration, as in browsers).

    Many intranet and exported policy pages are windows-1252 or Latin-1 and say so; reading
    them as UTF-8 refused the page. :func:`decode_text` follows the declaration strictly.
    """
    declared = _DECLARED_RE.search(data[:1024]) or _XML_DECLARED_RE.match(data)
    if declared is None or data.startswith(BYTE_ORDER_MARKS):
        return None
    label = declared.group(1).decode("ascii").lower()
    try:
        name = codecs.lookup(label).name
    except LookupError:
        raise ParseError(f"the page declares an unknown charset {label!r}") from None
    if name.startswith(("utf-8", "utf-16", "utf-32")):  # UTF-16 cannot declare itself in ASCII
        return None
    return "cp1252" if name.replace("-", "_") in _AS_WINDOWS_1252 else name


def parse(data: bytes) -> Parsed:
    """Parse an HTML page into readable text with one block per paragraph, item or row."""
    extractor = _Extractor()
    extractor.feed(decode_text(data, declared_charset(data)))
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
    h1s = [h.title for h in headings if h.level == 1]
    if not title:
        title = next(iter(h1s), "")
    elif len(h1s) == 1:
        title = without_site_suffix(title, h1s[0])
    return Parsed(text=text, headings=headings, title=title)


# After a page's own name, a <title> adds the site's: "Refund policy – Vybe Help Center",
# "Refund policy | Zendesk". A '-' counts only with a space before it ("Refund policy-EU").
_SITE_SUFFIX_RE = re.compile(r"^(?:\s*[–—|·:]|\s+-)\s*\S")


def without_site_suffix(title: str, h1: str) -> str:
    """The page's one h1 when the <title> is that h1, a separator and more (a site's name in
    every citation says nothing); otherwise the <title> as written."""
    head, rest = title[: len(h1)], title[len(h1) :]
    if head.casefold() == h1.casefold() and _SITE_SUFFIX_RE.match(rest):
        return h1
    return title


_ITEM_RE = re.compile(r"^(- |\d+\. )")


def _is_line_item(block: str) -> bool:
    """List items and table rows, which read best one per line."""
    return bool(_ITEM_RE.match(block)) or " | " in block
