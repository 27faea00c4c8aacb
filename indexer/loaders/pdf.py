"""PDF: text per page (pypdf) with page spans; sections from the outline, else from headings.

Tables are read as one line per row (:mod:`indexer.loaders.pdf_tables`).

Unreadable PDFs (encrypted, malformed, empty, image-only) raise ParseError with the reason.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Iterable

from indexer.documents import PageSpan
from indexer.loaders.common import Heading, Parsed, ParseError, clean_title, normalise_newlines
from indexer.loaders.pdf_tables import may_hold_table, with_table_rows

logger = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"
_NUMBERED_HEADING_RE = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+([A-Z][^\n]{1,70})$")
_ITEM_RE = re.compile(r"^(\d{1,3})([.)])\s+\S")  # '3. Open the report', '3) ...'
_SECTION_NUMBER_RE = re.compile(r"\s*(?:(?:\d+(?:\.\d+)*|[A-Z]|[IVX]+)[.)]?\s+)?")  # '2.1 '


def parse(data: bytes) -> Parsed:
    """Extract page texts, page spans and section headings from PDF bytes."""
    from pypdf import PdfReader
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported crypto
                raise ParseError(f"encrypted PDF that cannot be opened ({exc})") from exc
            if not ok:
                raise ParseError("encrypted PDF (a password is required)")
        page_texts = [_with_tables(page) for page in reader.pages]
    except ParseError:
        raise
    except LimitReachedError as exc:
        raise ParseError(
            f"decompression limit reached, a possible decompression bomb ({exc})"
        ) from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        raise ParseError(f"malformed PDF ({type(exc).__name__}: {exc})") from exc
    except RecursionError as exc:
        raise ParseError("malformed PDF (recursive structure)") from exc
    if not page_texts:
        raise ParseError("PDF has no pages")
    if not any(t.strip() for t in page_texts):
        raise ParseError("no extractable text (empty or image-only PDF; OCR is not supported)")
    outline = _read_outline(reader)
    page_texts = [expand_ligatures(t) for t in page_texts]
    page_texts = strip_running_lines(page_texts, outline_titles=[t for _, t, _ in outline])
    page_texts = join_hyphenated_lines(page_texts)

    parts: list[str] = []
    pages: list[PageSpan] = []
    offset = 0
    for number, page_text in enumerate(page_texts, start=1):
        page_text = page_text.strip("\n")
        if number > 1:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        pages.append(PageSpan(number=number, start=offset, end=offset + len(page_text)))
        parts.append(page_text)
        offset += len(page_text)
    text = "".join(parts)

    headings = _outline_headings(outline, text, pages) or _heuristic_headings(text)
    title = (reader.metadata.title if reader.metadata and reader.metadata.title else "") or ""
    return Parsed(text=text, headings=headings, pages=pages, title=clean_title(str(title)))


def _with_tables(page) -> str:
    """A page's plain text, its tables rewritten one line per row from pypdf's layout mode,
    which keeps a row on its line. A page with no run of short lines is not read twice; one
    whose layout text fails keeps its plain text."""
    plain = normalise_newlines(page.extract_text() or "")
    if not may_hold_table(plain):
        return plain
    try:
        layout = normalise_newlines(page.extract_text(extraction_mode="layout") or "")
    except Exception as exc:  # layout mode is younger than plain extraction: never fatal
        logger.debug("layout text of a PDF page failed: %s", exc)
        return plain
    return with_table_rows(plain, layout)


# Typesetters (Chrome's print to PDF, InDesign, reportlab with a TTF font) draw "fi", "fl",
# "ff", "ffi", "ffl" as one glyph that pypdf returns as U+FB00-U+FB06: "Deﬁnitions" matches
# neither the query "definitions" nor the outline entry "Definitions". NFKC of each is the
# letters it stands for.
_LIGATURES = {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}
_LIGATURE_RE = re.compile("[" + "".join(_LIGATURES) + "]")
# A word broken at a line end by hyphenation: letters and '-', then letters starting the next
# line in lower case, with what sticks to them (a comma, a full stop) and one following space.
_BROKEN_WORD_RE = re.compile(r"(?<![\w-])([^\W\d_]{2,})-\n([^\W\d_]+)(\S*)( (?=\S))?")
_COMPOUND_RE = re.compile(r"(?<![\w-])([^\W\d_]+)-([^\W\d_]+)(?![\w-])")


def expand_ligatures(text: str) -> str:
    """Ligature characters as the letters they join ("ﬁle" -> "file")."""
    return _LIGATURE_RE.sub(lambda m: _LIGATURES[m.group()], text)


def join_hyphenated_lines(page_texts: list[str]) -> list[str]:
    """Mend words that hyphenation split across lines: "Legal Re-\nsponse team" becomes
    "Legal Response\nteam", so the word is found and read whole.

    A break at a real compound's hyphen ("self-\nharm") looks the same; it is left alone when
    the document writes that compound with its hyphen elsewhere and never as one word.
    """
    whole = "\n".join(page_texts)
    compounds = {(a.lower(), b.lower()) for a, b in _COMPOUND_RE.findall(whole)}
    words = {w.lower() for w in re.findall(r"[^\W\d_]+", whole)}

    def mend(match: re.Match) -> str:
        first, rest, trail, space = match.groups()
        if (first.lower(), rest.lower()) in compounds and (first + rest).lower() not in words:
            return match.group()
        if not rest[0].islower():
            return match.group()
        return f"{first}{rest}{trail}" + ("\n" if space else "")

    return [_BROKEN_WORD_RE.sub(mend, text) for text in page_texts]


_DIGITS_RE = re.compile(r"\d+")
# What a page number looks like once digits are '#': "Page 3", "p. 3", "3 of 10", "3 / 10",
# a bare "- 3 -", or set off at either end of a running title ("Refund SOP | 3").
_PAGE_NUMBER_RE = re.compile(
    r"\b(?:page|pg|p|seite|página|pág|pagina|pag)\.?\s*#|#\s*(?:/|of|von|de|di)\s*#"
    r"|^\W*#\W*$|[|·•–—-]\s*#\W*$|^\W*#\s*[|·•–—-]",
    re.IGNORECASE,
)


# How deep into a page, at each edge, running lines are looked for: a template that draws its
# header block (title, classification, page number) and its footer before the body puts
# four to six lines of furniture at the top of every page's text.
_MAX_EDGE_LINES = 6


def strip_running_lines(
    page_texts: list[str], edge: int = 2, outline_titles: Iterable[str] = ()
) -> list[str]:
    """Drop running headers and footers ('Page 3 of 8', a repeated title) from every page.

    In a document of 3 or more pages, a line within ``edge`` non-blank lines of a page's top
    or bottom is page furniture when it recurs on at least 60% of the pages (and at least 3),
    either identical, or differing only in numbers that count up with the page ('Page 3 of 8',
    'Vybe Help Center 3', '3 Refund SOP'). Such a counting line is kept when it is an entry of
    the document's outline (``outline_titles``): 'Chapter 3' at the top of each one-page
    chapter is the heading the bookmark points to. A counting line that ends like a sentence
    is content too, unless it looks like a page number. Where every line examined at an edge
    was furniture, the next ``edge`` lines there are examined too (stacked header and footer),
    down to ``_MAX_EDGE_LINES``.

    Two pages are too few to tell a running line from a heading that repeats by how often it
    recurs, so there only a block anchored by a page number is furniture (see _two_page_running).
    """
    if len(page_texts) < 2:
        return page_texts
    pages = [t.split("\n") for t in page_texts]
    titles = {" ".join(t.split()).lower() for t in outline_titles}
    titles.discard("")
    if len(pages) == 2:
        drop = _two_page_running(pages, titles)
    else:
        drop = _frequent_running(pages, edge, titles)
    if not any(drop):
        return page_texts
    return [
        "\n".join(x for i, x in enumerate(lines) if i not in dropped)
        for lines, dropped in zip(pages, drop, strict=True)
    ]


def _frequent_running(pages: list[list[str]], edge: int, titles: set[str]) -> list[set[int]]:
    """Indices of each page's running lines by how often they recur (3 or more pages), edge
    window by edge window inwards while a page's whole window is furniture."""
    filled = [[i for i, x in enumerate(lines) if x.strip()] for lines in pages]
    drop: list[set[int]] = [set() for _ in pages]
    active = [[True, True] for _ in pages]  # [top, bottom]: still peeling at that edge
    threshold = max(3, 0.6 * len(pages))
    for _ in range(max(1, _MAX_EDGE_LINES // max(edge, 1))):
        windows = []  # per page: (top indices, bottom indices) examined this round
        for number, indices in enumerate(filled):
            left = [i for i in indices if i not in drop[number]]
            top, bottom = active[number]
            windows.append((left[:edge] if top else [], left[-edge:] if bottom and edge else []))
        seen: dict[str, list[tuple[int, tuple[int, ...]]]] = {}  # key -> [(page, numbers)]
        outlined: set[str] = set()  # keys of lines that are an outline entry
        for number, (top, bottom) in enumerate(windows):
            lines = pages[number]
            for k, numbers in {_running_key(lines[i]) for i in {*top, *bottom}}:
                seen.setdefault(k, []).append((number, numbers))
            if titles:
                outlined.update(
                    _running_key(lines[i])[0]
                    for i in {*top, *bottom}
                    if _is_outline_title(" ".join(lines[i].split()).lower(), titles)
                )
        running = {
            k
            for k, found in seen.items()
            if len(found) >= threshold and _counts_pages(k, found, k in outlined)
        }
        if not running:
            break
        for number, (top, bottom) in enumerate(windows):
            hit = {i for i in {*top, *bottom} if _running_key(pages[number][i])[0] in running}
            drop[number] |= hit
            active[number] = [bool(top) and set(top) <= hit, bool(bottom) and set(bottom) <= hit]
        if not any(any(a) for a in active):
            break
    return drop


def _two_page_running(pages: list[list[str]], titles: set[str]) -> list[set[int]]:
    """Indices of each page's running lines in a two-page document.

    From each edge inwards, the lines of both pages are compared in step while they are the
    same line, or the same but for numbers one higher on the second page. A run with such a
    counting line that looks like a page number is a header or footer block ('SOP v3.1',
    'INTERNAL', 'Page 1'): furniture up to its last page number, and up to 2 identical lines
    beyond it that do not end like a sentence (a running title on the inner side). A run
    without a page number (a heading, a first sentence that repeats) and lines that merely
    count ('Section 1') are content.
    """
    filled = [[i for i, x in enumerate(lines) if x.strip()] for lines in pages]
    drop: list[set[int]] = [set(), set()]
    for first, second in ((filled[0], filled[1]), (filled[0][::-1], filled[1][::-1])):
        kinds: list[str] = []  # per step inwards: "page" (a page number) or "same"
        for k in range(min(_MAX_EDGE_LINES, len(first), len(second))):
            key, numbers = _running_key(pages[0][first[k]])
            other, later = _running_key(pages[1][second[k]])
            if key != other or len(numbers) != len(later):
                break
            steps = {b - a for a, b in zip(numbers, later, strict=True) if a != b}
            if not steps:
                kinds.append("same")
                continue
            line = " ".join(pages[0][first[k]].split()).lower()
            if steps != {1} or not _PAGE_NUMBER_RE.search(key) or _is_outline_title(line, titles):
                break
            kinds.append("page")
        if "page" not in kinds:
            continue
        end = len(kinds) - kinds[::-1].index("page")  # just past the last page number
        for k in range(end, min(end + 2, len(kinds))):
            if pages[0][first[k]].rstrip().endswith((".", "!", "?", ":")):
                break
            end = k + 1
        drop[0].update(first[:end])
        drop[1].update(second[:end])
    return drop


def _is_outline_title(line: str, titles: set[str]) -> bool:
    """Whether a (normalised) line is a bookmark's title, or one of them starts the other with
    a number in the shared part ('Chapter 3' and 'Chapter 3: Refunds')."""
    if line in titles:
        return True
    for title in titles:
        short, long = sorted((line, title), key=len)
        if (
            long.startswith(short)
            and not long[len(short)].isalnum()
            and any(c.isdigit() for c in short)
        ):
            return True
    return False


def _running_key(line: str) -> tuple[str, tuple[int, ...]]:
    """A line with its numbers taken out ('page # of #'), and those numbers."""
    text = " ".join(line.split()).lower()
    return _DIGITS_RE.sub("#", text), tuple(int(n) for n in _DIGITS_RE.findall(text))


def _counts_pages(
    key: str, found: list[tuple[int, tuple[int, ...]]], outlined: bool = False
) -> bool:
    """Whether a recurring line is page furniture: each of its numbers either never changes
    or is the page index plus a constant, and if one changes, the line is not an outline entry
    (a chapter heading) and not a sentence, unless it looks like a page number."""
    if len({len(numbers) for _, numbers in found}) != 1:
        return False  # a literal '#' in some of the lines: not one running line
    varies = False
    for slot in range(len(found[0][1])):
        if len({numbers[slot] for _, numbers in found}) == 1:
            continue
        if len({numbers[slot] - page for page, numbers in found}) != 1:
            return False  # changes, but not with the page: content (a date, a count, a step)
        varies = True
    if not varies:
        return True
    if outlined:
        return False
    return bool(_PAGE_NUMBER_RE.search(key)) or not key.rstrip().endswith((".", "!", "?", ":"))


def _read_outline(reader) -> list[tuple[int, str, int]]:
    """The PDF's bookmarks as (level, title, page index), in outline order: read once, for
    running-line detection and for headings (none when the outline cannot be read)."""
    try:
        outline = reader.outline
    except Exception as exc:  # a broken outline should not cost us the document
        logger.warning("ignoring unreadable PDF outline: %s", exc)
        return []
    found: list[tuple[int, str, int]] = []

    def walk(items: list, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page_index = reader.get_destination_page_number(item)
            except Exception:
                page_index = -1
            found.append(
                (level, " ".join(str(getattr(item, "title", "") or "").split()), page_index)
            )

    walk(outline, 1)
    return found


def _outline_headings(
    outline: list[tuple[int, str, int]], text: str, pages: list[PageSpan]
) -> list[Heading]:
    """Headings from the PDF's bookmarks, located in the text of the page they point to."""
    found: list[Heading] = []
    for level, title, page_index in outline:
        if not title or not 0 <= page_index < len(pages):
            continue
        page = pages[page_index]
        # Bookmarks come in reading order: one on the page of the previous is looked for
        # below it, so a second 'Exceptions' on a page is not the first one found again.
        floor = found[-1].start + 1 if found and page.start <= found[-1].start < page.end else 0
        start = _find_line(text, title, max(page.start, floor), page.end)
        if start is None and floor:
            start = _find_line(text, title, page.start, page.end)
        if start is not None:
            found.append(Heading(level, title, start))
    found.sort(key=lambda h: h.start)
    unique: list[Heading] = []
    for h in found:
        if not unique or unique[-1].start != h.start:
            unique.append(h)
    return unique


def _find_line(text: str, title: str, lo: int, hi: int) -> int | None:
    """Start of the line where ``title`` appears between ``lo`` and ``hi`` (spacing-tolerant).

    A line that is the title alone (after a section number, '2.1') wins over one that starts
    with it (a sentence, 'Escalation is rare...'), which wins over one inside running text
    (a cross-reference).
    """
    pattern = re.compile(r"\s+".join(re.escape(w) for w in title.split()))
    first: int | None = None
    leading: int | None = None
    for match in pattern.finditer(text, lo, hi):
        line_start = text.rfind("\n", lo, match.start()) + 1 or lo
        line_start = max(line_start, lo)
        line_end = text.find("\n", match.end(), hi)
        before = text[line_start : match.start()]
        whole = not text[match.end() : hi if line_end < 0 else line_end].strip()
        if whole and _SECTION_NUMBER_RE.fullmatch(before):
            return line_start
        if leading is None and not before.strip():
            leading = line_start
        if first is None:
            first = line_start
    return leading if leading is not None else first


def _heuristic_headings(text: str) -> list[Heading]:
    """Numbered headings such as '2.1 Refund windows' for PDFs without bookmarks.

    '3. Open the report' is also how a numbered step looks, and pypdf gives us no font size
    to tell them apart, so that form (one number and a period) is a heading only when nothing
    around it says list: no lead-in ending in ':', the nearest item just above not numbered one
    less (a heading in between ends that list), no item numbered one more or a wrapped lower-case
    continuation just below.
    """
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    filled = [i for i, line in enumerate(lines) if line.strip()]
    items: dict[int, int] = {}  # line index -> number, for lines taken as list items
    headings: list[Heading] = []
    for pos, i in enumerate(filled):
        s = lines[i].strip()
        item = _ITEM_RE.match(s)
        match = _NUMBERED_HEADING_RE.match(s)
        heading = bool(match) and not s.endswith((".", ",", ";", ":")) and len(s.split()) <= 10
        if heading and item and item.group(2) == ".":
            number = int(item.group(1))
            before = lines[filled[pos - 1]].strip() if pos else ""
            after = lines[filled[pos + 1]].strip() if pos + 1 < len(filled) else ""
            follows = _ITEM_RE.match(after)
            heading = not (
                before.endswith(":")
                or _last_item(items, filled[max(0, pos - 3) : pos]) == number - 1
                or after[:1].islower()
                or (follows is not None and int(follows.group(1)) == number + 1)
            )
        if heading and match is not None:
            headings.append(Heading(match.group(1).count(".") + 1, s, offsets[i]))
            items[i] = -1  # ends the list above it
        elif item:
            items[i] = int(item.group(1))
    return headings


def _last_item(items: dict[int, int], indices: list[int]) -> int | None:
    """The number of the nearest numbered line among ``indices`` (-1 for a heading)."""
    return next((items[j] for j in reversed(indices) if j in items), None)
