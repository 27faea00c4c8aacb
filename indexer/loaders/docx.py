"""DOCX: Word heading styles become sections; numbered lists get their numbers; tables rows."""

from __future__ import annotations

import io
import re
import zipfile

from indexer.loaders.common import Heading, Parsed, ParseError

_HEADING_STYLE_RE = re.compile(r"^Heading (\d)$")


def parse(data: bytes) -> Parsed:
    """Parse a .docx file's body in order: paragraphs and tables."""
    import docx  # python-docx; imported here so importing the loaders stays cheap
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except MemoryError:
        raise  # a zip bomb: the isolation layer reports the memory cap
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ParseError(f"not a readable DOCX file ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # lxml and python-docx raise many unrelated types on bad input
        raise ParseError(f"malformed DOCX ({type(exc).__name__}: {exc})") from exc

    blocks: list[tuple[str, int]] = []  # (text, heading level or 0)
    title = ""
    counter = 0
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            counter = 0
            for row in item.rows:
                cells = _unique_cells(row.cells)
                if cells:
                    blocks.append((" | ".join(cells), -1))
            continue
        text = " ".join(item.text.split())
        style = item.style.name if item.style is not None else ""
        if not text:
            continue
        match = _HEADING_STYLE_RE.match(style)
        if style == "Title":
            title = title or text
            blocks.append((text, 1))
            counter = 0
        elif match:
            blocks.append((text, int(match.group(1)) + (1 if title else 0)))
            counter = 0
        elif style.startswith("List Number"):
            counter += 1
            blocks.append((f"{counter}. {text}", -1))
        elif style.startswith("List"):
            blocks.append((f"- {text}", -1))
        else:
            counter = 0
            blocks.append((text, 0))

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
    core_title = (document.core_properties.title or "").strip()
    return Parsed(text="".join(parts) + "\n", headings=headings, title=core_title or title)


def _unique_cells(cells: list) -> list[str]:
    """Cell texts of a row; merged cells appear repeatedly in python-docx, keep them once."""
    seen: list[int] = []
    out: list[str] = []
    for cell in cells:
        if id(cell._tc) in seen:
            continue
        seen.append(id(cell._tc))
        text = " ".join(cell.text.split())
        if text:
            out.append(text)
    return out
