"""DOCX: Word heading styles become sections; list items get their numbers; tables rows.

A list item's number is worked out as Word shows it where the file says how: a paragraph with
numbering properties (``w:numPr``, e.g. Word's default "List Paragraph" lists) counts in its
``numbering.xml`` list, in the level's format ("1.", "a)", "1.1."), bullets as "- ". As in
Word, the count belongs to the abstract list, so it goes on past headings, tables and plain
paragraphs, and restarts only where a new list instance says so (``w:startOverride``).

Paragraphs numbered only through the "List Number N" / "List Bullet N" styles (python-docx
output, or a style-driven template) have separate single-level lists per style in the default
template, which would read "1. / 1. / 2." for nested steps. For these the style's N is the level
and levels count together (1., a., i.): a deeper item restarts under each new parent, and a
plain paragraph between items does not end the list, but a heading or a table does (their
authors mean one list per section, though Word itself would keep counting).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

from indexer.loaders.common import Heading, Parsed, ParseError, clean_title

_HEADING_STYLE_RE = re.compile(r"^Heading (\d)$")
_LIST_STYLE_RE = re.compile(r"^List(?: (Number|Bullet))?(?: (\d))?$")
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MAX_LEVEL = 8
_HEADING_LEVELS = 9  # outline levels 1-9; Word's 10th is body text
_STYLE_FORMATS = ("decimal", "lowerLetter", "lowerRoman")  # Word's default levels: 1. a. i.
_ROMAN = (
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
)  # fmt: skip


@dataclass(frozen=True)
class _Level:
    """One level of a numbering.xml list: its number format, label template and start."""

    fmt: str = "decimal"
    text: str = ""  # e.g. "%1." or "%1.%2."; "" means the default "%<level>."
    start: int = 1
    legal: bool = False  # w:isLgl: every number in the label shown as decimal


@dataclass
class _Numbering:
    """numbering.xml: each list instance's abstract list and overrides, each abstract's levels."""

    abstract: dict[str, dict[int, _Level]] = field(default_factory=dict)
    nums: dict[str, tuple[str, dict[int, int], dict[int, _Level]]] = field(default_factory=dict)


@dataclass
class _Counters:
    """Running numbers: per abstract list and level, and for the style-only lists."""

    lists: dict[str, dict[int, int]] = field(default_factory=dict)
    started: set[tuple[str, int]] = field(default_factory=set)  # (numId, level) seen
    styled: list[int] = field(default_factory=list)  # per level, for "List Number N" styles


def parse(data: bytes) -> Parsed:
    """Parse a .docx file's body in order: paragraphs and tables."""
    import docx  # python-docx; imported here so importing the loaders stays cheap
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except MemoryError:
        raise  # a zip bomb: the isolation layer reports the memory cap
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ParseError(f"not a readable DOCX file ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # lxml and python-docx raise many unrelated types on bad input
        raise ParseError(f"malformed DOCX ({type(exc).__name__}: {exc})") from exc

    numbering = _read_numbering(document)
    counters = _Counters()
    notes = _Notes(_read_notes(data))
    blocks: list[tuple[str, int]] = []  # (text, heading level, or 0 for a paragraph, -1 a line)
    title = ""
    body = document._body
    for element in _block_elements(document.element.body):
        if element.tag == _TBL:
            counters.styled.clear()
            for row in Table(element, body).rows:
                cells = _unique_cells(row.cells)
                if cells:
                    blocks.append((" | ".join(cells), -1))
            continue
        item = Paragraph(element, body)
        style = item.style.name if item.style is not None else ""
        if _TOC_STYLE_RE.match(style):
            continue  # a table of contents outside a content control: the headings again
        text = " ".join(paragraph_text(element, notes).split())
        boxes = [(t, 0) for t in (" ".join(b.split()) for b in _text_box_texts(element)) if t]
        boxes.extend(notes.take())  # a footnote reads after the paragraph that cites it
        if not text:
            blocks.extend(boxes)  # a box anchored in an empty paragraph
            continue
        level = _heading_level(element, item.style)
        if style == "Title":
            title = title or text
            blocks.append((text, 1))
            counters.styled.clear()
        elif level is not None:
            blocks.append((text, level + (1 if title else 0)))
            counters.styled.clear()
        elif (marker := _list_marker(item, style, numbering, counters)) is not None:
            blocks.append((f"{marker}{text}", -1))
        else:
            blocks.append((text, 0))
        blocks.extend(boxes)  # a text box reads after the paragraph it is anchored in

    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    for i, (block, level) in enumerate(blocks):
        if i:
            sep = "\n" if level == -1 and blocks[i - 1][1] == -1 else "\n\n"
            parts.append(sep)
            offset += len(sep)
        if level > 0:
            headings.append(Heading(level, block, offset))
        parts.append(block)
        offset += len(block)
    # Word's "Document1" or a converter's file name there is not a title; the Title paragraph
    # then is (and it stands in for a core title that is only the file's own name)
    core_title = clean_title(document.core_properties.title or "")
    return Parsed(
        text="".join(parts) + "\n",
        headings=headings,
        title=core_title or title,
        fallback_title=title if core_title else "",
    )


def _heading_level(p, style) -> int | None:
    """A paragraph's heading level (1-9) as Word's navigation pane has it, None for body text.

    Beyond the built-in "Heading N" styles, templates use their own styles based on them
    ("SOP Section" based on "Heading 2") or set an outline level on a style or a paragraph.
    """
    own = _outline_level(p)
    if own is not None:
        return own if own <= _HEADING_LEVELS else None
    for _ in range(16):  # a based-on chain in a broken file may loop
        if style is None:
            return None
        if match := _HEADING_STYLE_RE.match(style.name or ""):
            return int(match.group(1))
        found = _outline_level(style.element)
        if found is not None:
            return found if found <= _HEADING_LEVELS else None
        style = style.base_style
    return None


def _outline_level(element) -> int | None:
    """The 1-based w:outlineLvl of a paragraph's or style's properties (10: body text)."""
    found = element.find(f"{_W}pPr/{_W}outlineLvl")
    level = _int(found.get(f"{_W}val")) if found is not None else None
    return None if level is None or level < 0 else level + 1


def _unique_cells(cells: list) -> list[str]:
    """Cell texts of a row; merged cells appear repeatedly in python-docx, keep them once."""
    seen: list[int] = []
    out: list[str] = []
    for cell in cells:
        if id(cell._tc) in seen:
            continue
        seen.append(id(cell._tc))
        text = cell_text(cell._tc)
        if text:
            out.append(text)
    return out


def cell_text(tc) -> str:
    """A table cell's text on one line: its paragraphs joined by spaces; a table nested in it
    keeps its rows apart with "; " and its cells with ", " (as the HTML loader does)."""
    parts: list[str] = []
    words: list[str] = []
    for element in _block_elements(tc):
        if element.tag == _TBL:
            if words:
                parts.append(" ".join(words))
                words = []
            for tr in element.iter(f"{_W}tr"):
                if tr.getparent() is not element:
                    continue  # a row of a table nested deeper: part of its cell's text
                cells = [cell_text(c) for c in tr.iterchildren(f"{_W}tc")]
                if row := ", ".join(c for c in cells if c):
                    parts.append(row)
        else:
            words.extend(paragraph_text(element).split())
            words.extend(w for t in _text_box_texts(element) for w in t.split())
    if words:
        parts.append(" ".join(words))
    return "; ".join(parts)


# Containers whose content Word shows in place: tracked insertions and moves, hyperlinks,
# content controls, smart tags, custom XML, simple fields (their shown result). A tracked
# deletion (w:del, w:moveFrom) is not shown, nor a field's code (w:instrText).
_SHOWN = frozenset(
    f"{_W}{t}" for t in ("ins", "moveTo", "hyperlink", "smartTag", "customXml", "fldSimple", "dir",
                         "bdo", "sdt", "sdtContent")
)  # fmt: skip
_R = f"{_W}r"
_P = f"{_W}p"
_TBL = f"{_W}tbl"
_TXBX = f"{_W}txbxContent"
_MC_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_TOC_STYLE_RE = re.compile(r"^(?:TOC|toc) ?\d$|^TOC Heading$")


def paragraph_text(p, notes: _Notes | None = None) -> str:
    """A paragraph's text as Word shows it: runs anywhere inside shown containers count.

    python-docx reads only the paragraph's own runs and hyperlinks, which drops text inserted
    with tracked changes on ("within 5 minutes" read "within minutes"), text in content
    controls (a template's phone number field) and field results. A footnote or endnote
    reference reads as its number ("[1]") when ``notes`` holds the notes.
    """
    out: list[str] = []
    for child in p:
        if child.tag == _R:
            out.append(child.text)  # python-docx: w:t, tabs, breaks, no-break hyphens
            if notes is not None:
                out.extend(notes.cite(ref) for ref in child if ref.tag in _NOTE_REFS)
        elif child.tag in _SHOWN:
            out.append(paragraph_text(child, notes))
    return "".join(out)


_NOTE_REFS = {f"{_W}footnoteReference": "footnotes", f"{_W}endnoteReference": "endnotes"}


def _read_notes(data: bytes) -> dict[tuple[str, str], str]:
    """Footnote and endnote texts by (part, id): policy exceptions often sit in them, and
    python-docx does not read them (they were dropped without a word)."""
    from lxml import etree

    notes: dict[tuple[str, str], str] = {}
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return notes
    for part in ("footnotes", "endnotes"):
        try:
            root = etree.fromstring(archive.read(f"word/{part}.xml"))
        except (KeyError, etree.XMLSyntaxError):
            continue
        for note in root.iter(f"{_W}footnote", f"{_W}endnote"):
            if note.get(f"{_W}type") not in (None, "normal"):
                continue  # the separator lines Word keeps as notes
            paragraphs = (
                " ".join("".join(t.text or "" for t in p.iter(f"{_W}t")).split())
                for p in note.iter(_P)
            )
            text = " ".join(t for t in paragraphs if t)
            if text:
                notes[(part, note.get(f"{_W}id") or "")] = text
    return notes


class _Notes:
    """Numbers footnotes and endnotes in the order the text cites them, as Word shows them,
    and hands over the texts a paragraph cited once it is read."""

    def __init__(self, texts: dict[tuple[str, str], str]) -> None:
        self.texts = texts
        self.numbers: dict[str, int] = {"footnotes": 0, "endnotes": 0}
        self.cited: list[tuple[str, str]] = []

    def cite(self, ref) -> str:
        key = (_NOTE_REFS[ref.tag], ref.get(f"{_W}id") or "")
        if key not in self.texts:
            return ""
        self.numbers[key[0]] += 1
        mark = str(self.numbers[key[0]])
        if key[0] == "endnotes":
            mark = _format_number(self.numbers[key[0]], "lowerRoman")  # Word's endnotes: i, ii
        self.cited.append((mark, self.texts[key]))
        return f"[{mark}]"

    def take(self) -> list[tuple[str, int]]:
        """The notes cited since the last call, as paragraphs: "[1] The note's text."."""
        out = [(f"[{mark}] {text}", 0) for mark, text in self.cited]
        self.cited.clear()
        return out


def _block_elements(container) -> list:
    """The paragraphs and tables of a body, cell or text box in order, looking inside block
    content controls and tracked insertions, except a table-of-contents control."""
    out: list = []
    for child in container:
        if child.tag in (_P, _TBL):
            out.append(child)
        elif child.tag in _SHOWN or child.tag == f"{_W}sdtContent":
            if not _is_toc_control(child):
                out.extend(_block_elements(child))
    return out


def _is_toc_control(element) -> bool:
    """A w:sdt that Word made for its table of contents (docPartGallery "Table of Contents")."""
    gallery = element.find(f"{_W}sdtPr/{_W}docPartObj/{_W}docPartGallery")
    return gallery is not None and "contents" in (gallery.get(f"{_W}val") or "").lower()


def _text_box_texts(p) -> list[str]:
    """Texts of the text boxes anchored in a paragraph, one per box paragraph.

    Word stores each box twice (mc:Choice for current readers, a VML mc:Fallback for old
    ones): the fallback copy is skipped. A box inside a box is read with its outer box.
    """
    out: list[str] = []
    for box in p.iter(_TXBX):
        if any(a.tag in (_MC_FALLBACK, _TXBX) for a in box.iterancestors()):
            continue
        for element in _block_elements(box):
            if element.tag == _TBL:
                out.extend(
                    " | ".join(c for c in (cell_text(tc) for tc in tr.iterchildren(f"{_W}tc")) if c)
                    for tr in element.iterchildren(f"{_W}tr")
                )
            else:
                out.append(paragraph_text(element))
                out.extend(_text_box_texts(element))
    return out


def _list_marker(paragraph, style: str, numbering: _Numbering, counters: _Counters) -> str | None:
    """The "3. " or "- " a list paragraph starts with, counting it; None if not a list item."""
    own = _num_pr(paragraph._p)
    num_id, level = own if own is not None else (None, None)
    styled = _LIST_STYLE_RE.match(style)
    if own is not None or styled is None:  # "List Number N" alone: counted by the style
        num_id, level = _style_num_pr(paragraph.style, num_id, level)
    if num_id == "0":
        return None  # numbering switched off on this paragraph
    if num_id is not None and num_id in numbering.nums:
        return _counted_marker(numbering, counters, num_id, level or 0)
    if styled is None:
        return "- " if style.startswith("List") else None
    depth = int(styled.group(2) or 1) - 1  # "List Number 2" is the second level
    if level is not None:
        depth = level
    del counters.styled[depth + 1 :]
    if styled.group(1) != "Number":
        return "- "
    counters.styled.extend([0] * (depth + 1 - len(counters.styled)))
    counters.styled[depth] += 1
    return f"{_format_number(counters.styled[depth], _STYLE_FORMATS[depth % 3])}. "


def _counted_marker(numbering: _Numbering, counters: _Counters, num_id: str, level: int) -> str:
    """Count an item of a numbering.xml list and label it as its level's lvlText says."""
    abstract_id, starts, overrides = numbering.nums[num_id]
    levels = {**numbering.abstract.get(abstract_id, {}), **overrides}
    spec = levels.get(level, _Level())
    running = counters.lists.setdefault(abstract_id, {})
    for deeper in [k for k in running if k > level]:
        del running[deeper]  # a deeper level restarts under each new item of this one
    if (num_id, level) not in counters.started:
        counters.started.add((num_id, level))
        if level in starts:
            running[level] = starts[level] - 1
    running[level] = running.get(level, spec.start - 1) + 1
    if spec.fmt == "bullet":
        return "- "
    if spec.fmt == "none":
        return ""

    def number(found: re.Match) -> str:
        n = int(found.group(1)) - 1
        lvl = levels.get(n, _Level())
        fmt = "decimal" if spec.legal else lvl.fmt
        return _format_number(running.get(n, lvl.start), fmt)

    label = re.sub(r"%([1-9])", number, spec.text or f"%{level + 1}.").strip()
    return f"{label} " if label else ""


def _format_number(n: int, fmt: str) -> str:
    """A list number in a Word numFmt; unknown formats read as decimal."""
    if fmt in ("lowerLetter", "upperLetter") and 0 < n <= 26 * 20:
        letter = chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)  # Word: y, z, aa, bb
        return letter.upper() if fmt == "upperLetter" else letter
    if fmt in ("lowerRoman", "upperRoman") and 0 < n < 4000:
        out = ""
        for value, numeral in _ROMAN:
            while n >= value:
                out, n = out + numeral, n - value
        return out.upper() if fmt == "upperRoman" else out
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)


def _num_pr(element) -> tuple[str | None, int | None] | None:
    """(numId, ilvl) from an element's w:pPr/w:numPr, either may be None; None if absent."""
    num_pr = element.find(f"{_W}pPr/{_W}numPr")
    if num_pr is None:
        return None
    num_id = num_pr.find(f"{_W}numId")
    level = num_pr.find(f"{_W}ilvl")
    ilvl = _int(level.get(f"{_W}val")) if level is not None else None
    return (
        num_id.get(f"{_W}val") if num_id is not None else None,
        None if ilvl is None else min(max(ilvl, 0), _MAX_LEVEL),  # Word has levels 0-8
    )


def _style_num_pr(style, num_id: str | None, level: int | None) -> tuple[str | None, int | None]:
    """Fill a paragraph's missing numId / ilvl from its style and the styles it is based on."""
    for _ in range(16):  # a based-on chain in a broken file may loop
        if style is None or (num_id is not None and level is not None):
            break
        found = _num_pr(style.element)
        if found is not None:
            num_id = num_id if num_id is not None else found[0]
            level = level if level is not None else found[1]
        style = style.base_style
    return num_id, level


def _read_numbering(document) -> _Numbering:
    """The list definitions in numbering.xml (none if the file has no numbering part)."""
    out = _Numbering()
    try:
        root = document.part.numbering_part.element
    except (KeyError, NotImplementedError):
        return out
    links: dict[str, str] = {}  # abstractNumId -> numbering style it defers to (numStyleLink)
    for abstract in root.iter(f"{_W}abstractNum"):
        abstract_id = abstract.get(f"{_W}abstractNumId") or ""
        out.abstract[abstract_id] = _levels(abstract)
        link = abstract.find(f"{_W}numStyleLink")
        if link is not None and link.get(f"{_W}val"):
            links[abstract_id] = link.get(f"{_W}val") or ""
    for num in root.iter(f"{_W}num"):
        ref = num.find(f"{_W}abstractNumId")
        abstract_id = (ref.get(f"{_W}val") or "") if ref is not None else ""
        starts: dict[int, int] = {}
        overrides: dict[int, _Level] = {}
        for override in num.iter(f"{_W}lvlOverride"):
            level = _int(override.get(f"{_W}ilvl"))
            start = override.find(f"{_W}startOverride")
            if level is not None and start is not None:
                starts[level] = _int_or(start.get(f"{_W}val"), 1)
            overrides.update(_levels(override))
        out.nums[num.get(f"{_W}numId") or ""] = (abstract_id, starts, overrides)
    for abstract_id, style_id in links.items():  # the list's levels live behind its style
        target = _linked_abstract(document, out, style_id)
        if target is not None:
            out.abstract[abstract_id] = out.abstract.get(target, {})
    return out


def _linked_abstract(document, numbering: _Numbering, style_id: str) -> str | None:
    """The abstract list a numbering style (numStyleLink's target) points at."""
    for style in document.styles.element.iter(f"{_W}style"):
        if style.get(f"{_W}styleId") == style_id:
            found = _num_pr(style)
            if found is not None and found[0] in numbering.nums:
                return numbering.nums[found[0]][0]
    return None


def _levels(element) -> dict[int, _Level]:
    """The w:lvl children of an abstractNum or lvlOverride, by ilvl."""
    levels: dict[int, _Level] = {}
    for lvl in element.findall(f"{_W}lvl"):
        ilvl = _int(lvl.get(f"{_W}ilvl"))
        if ilvl is None:
            continue
        fmt = lvl.find(f"{_W}numFmt")
        text = lvl.find(f"{_W}lvlText")
        start = lvl.find(f"{_W}start")
        levels[ilvl] = _Level(
            fmt=(fmt.get(f"{_W}val") if fmt is not None else None) or "decimal",
            text=(text.get(f"{_W}val") if text is not None else None) or "",
            start=_int_or(start.get(f"{_W}val") if start is not None else None, 1),
            legal=lvl.find(f"{_W}isLgl") is not None,
        )
    return levels


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _int_or(value: str | None, default: int) -> int:
    found = _int(value)
    return default if found is None else found
