"""PDF: text per page (pypdf) with page spans; sections from the outline, else from headings.

Unreadable PDFs (encrypted, malformed, empty, image-only) raise ParseError with the reason.
"""

from __future__ import annotations

import io
import logging
import re

from indexer.documents import PageSpan
from indexer.loaders.common import Heading, Parsed, ParseError, normalise_newlines

logger = logging.getLogger(__name__)

PAGE_SEPARATOR = "\n\n"
_NUMBERED_HEADING_RE = re.compile(r"^(\d+(?:\.\d+)*)\.?\s+([A-Z][^\n]{1,70})$")


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
        page_texts = [normalise_newlines(page.extract_text() or "") for page in reader.pages]
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
    page_texts = strip_running_lines(page_texts)

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

    headings = _outline_headings(reader, text, pages) or _heuristic_headings(text)
    title = (reader.metadata.title if reader.metadata and reader.metadata.title else "") or ""
    return Parsed(text=text, headings=headings, pages=pages, title=str(title).strip())


_DIGITS_RE = re.compile(r"\d+")


def strip_running_lines(page_texts: list[str], edge: int = 2) -> list[str]:
    """Drop running headers and footers ('Page 3 of 8', a repeated title) from every page.

    A line within ``edge`` lines of a page's top or bottom that recurs, digits aside, on at
    least 60% of the pages (and at least 3) is page furniture, not content.
    """
    if len(page_texts) < 3:
        return page_texts
    pages = [t.split("\n") for t in page_texts]

    def key(line: str) -> str:
        return _DIGITS_RE.sub("#", " ".join(line.split()).lower())

    seen: dict[str, int] = {}
    for lines in pages:
        edges = {key(x) for x in lines[:edge] + lines[-edge:] if x.strip()}
        for k in edges:
            seen[k] = seen.get(k, 0) + 1
    running = {k for k, n in seen.items() if n >= max(3, 0.6 * len(pages))}
    if not running:
        return page_texts
    out = []
    for lines in pages:
        keep = list(lines)
        for i in list(range(min(edge, len(keep)))) + list(
            range(max(0, len(keep) - edge), len(keep))
        ):
            if key(keep[i]) in running:
                keep[i] = None
        out.append("\n".join(x for x in keep if x is not None))
    return out


def _outline_headings(reader, text: str, pages: list[PageSpan]) -> list[Heading]:
    """Headings from the PDF's bookmarks, located in the text of the page they point to."""
    try:
        outline = reader.outline
    except Exception as exc:  # a broken outline should not cost us the document
        logger.warning("ignoring unreadable PDF outline: %s", exc)
        return []
    found: list[Heading] = []

    def walk(items: list, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            try:
                page_index = reader.get_destination_page_number(item)
            except Exception:
                continue
            title = " ".join(str(item.title or "").split())
            if not title or not 0 <= page_index < len(pages):
                continue
            start = _find_line(text, title, pages[page_index].start, pages[page_index].end)
            if start is not None:
                found.append(Heading(level, title, start))

    walk(outline, 1)
    found.sort(key=lambda h: h.start)
    unique: list[Heading] = []
    for h in found:
        if not unique or unique[-1].start != h.start:
            unique.append(h)
    return unique


def _find_line(text: str, title: str, lo: int, hi: int) -> int | None:
    """Start of the line where ``title`` appears between ``lo`` and ``hi`` (spacing-tolerant).

    A match at the start of a line wins over one inside running text (a cross-reference).
    """
    pattern = re.compile(r"\s+".join(re.escape(w) for w in title.split()))
    first: int | None = None
    for match in pattern.finditer(text, lo, hi):
        line_start = text.rfind("\n", lo, match.start()) + 1 or lo
        line_start = max(line_start, lo)
        if not text[line_start : match.start()].strip():
            return line_start
        if first is None:
            first = line_start
    return first


def _heuristic_headings(text: str) -> list[Heading]:
    """Numbered headings such as '2.1 Refund windows' for PDFs without bookmarks."""
    headings: list[Heading] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        s = line.strip()
        match = _NUMBERED_HEADING_RE.match(s)
        if match and not s.endswith((".", ",", ";", ":")) and len(s.split()) <= 10:
            level = match.group(1).count(".") + 1
            headings.append(Heading(level, s, offset))
        offset += len(line)
    return headings
