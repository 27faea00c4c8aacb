"""Plain data passed between pipeline stages: a loaded Document and the Chunks cut from it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """A heading and the character span of its section (heading line included) in the text.

    ``path`` is the heading path from the top, e.g. ``("Refunds", "Exceptions")``; ``anchor``
    is an HTML id or slug a viewer can jump to.
    """

    path: tuple[str, ...]
    start: int
    end: int
    anchor: str = ""


@dataclass(frozen=True)
class PageSpan:
    """Where a 1-based page of the source lies in the document text."""

    number: int
    start: int
    end: int


@dataclass
class Document:
    """A loaded source file: its plain text, structure and metadata.

    Every span (sections, pages, chunks) indexes into ``text``, the same text the API serves,
    so a citation can be opened at its exact place.
    """

    doc_id: str
    title: str
    text: str
    source: str
    format: str
    sections: list[Section] = field(default_factory=list)
    pages: list[PageSpan] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    # What the document was parsed from (indexer.loaders.source_hash); "" when not from a file
    source_hash: str = field(default="", compare=False)

    @property
    def content_hash(self) -> str:
        """Hash of everything a chunk is made from: text, title (embedded with every passage),
        sections (heading paths), pages and metadata. Changes whenever what we index would."""
        h = hashlib.sha256(self.text.encode("utf-8"))
        h.update(repr(sorted(self.metadata.items())).encode("utf-8"))
        h.update(repr((self.title, self.structure())).encode("utf-8"))
        return h.hexdigest()

    def structure(self) -> tuple[list[list[Any]], list[list[int]]]:
        """Sections and pages as plain lists: how both backends store them (JSON)."""
        return (
            [[list(s.path), s.start, s.end, s.anchor] for s in self.sections],
            [[p.number, p.start, p.end] for p in self.pages],
        )

    @classmethod
    def from_record(cls, record: Any, decode: Callable[[Any], Any] = lambda v: v) -> Document:
        """A stored document back as it was loaded: ``record`` maps the table's columns, and
        ``decode`` turns its sections, pages and metadata columns into :meth:`structure`'s
        lists and a dict (``json.loads`` for SQLite's text; PostgreSQL's JSONB arrives decoded).
        """
        sections, pages, metadata = (decode(record[k]) for k in ("sections", "pages", "metadata"))
        return cls(
            doc_id=record["doc_id"], title=record["title"], text=record["text"],
            source=record["source"], format=record["format"],
            sections=[Section(tuple(path), a, b, anchor) for path, a, b, anchor in sections],
            pages=[PageSpan(*p) for p in pages], metadata=metadata,
            source_hash=record["source_hash"],
        )  # fmt: skip

    def pages_for(self, start: int, end: int) -> list[int]:
        """1-based page numbers that the span ``[start, end)`` touches (empty if unpaged)."""
        return [p.number for p in self.pages if p.start < end and start < p.end]


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: the unit we embed, retrieve and cite."""

    doc_id: str
    start: int
    end: int
    text: str
    heading_path: tuple[str, ...]
    pages: tuple[int, ...]
    ordinal: int

    @property
    def chunk_id(self) -> str:
        """Deterministic id from source, span and text, so citations survive re-indexing."""
        return chunk_id_of(self.doc_id, self.start, self.end, self.text)


def chunk_id_of(doc_id: str, start: int, end: int, text: str) -> str:
    """The id of the passage ``text`` at ``start``-``end`` of a document: a citation's link
    can then tell whether the document still holds what was cited, without the index."""
    key = f"{doc_id}\x00{start}\x00{end}\x00{text}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]
