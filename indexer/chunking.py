"""Structure-aware chunking: pure functions from a Document to Chunks with exact spans.

Rules, in order of priority:
- a chunk never exceeds ``max_tokens`` of the embedding model's tokenizer (nothing is silently
  truncated at embedding time);
- a chunk does not cross a heading, unless sections are tiny (under ``min_tokens``);
- a numbered list, a bulleted list or a table stays in one chunk when it fits, and is otherwise
  split between items or rows, never inside one unless a single item is itself too long;
- a heading line and a lead-in line ending in ':' stay with what follows them.
Every chunk's text is ``document.text[start:end]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from indexer.documents import Chunk, Document

# v2: sentence windows inside chunks; v4: setext headings stay with their text, overlong
# words cut to fit with the model's own tokens (v3 was an experiment, never released); v5:
# windows of one sentence (docs/retrieval-experiments.md); v6: table rows read by the model with
# light separators (model_view); v7: only rows of a table, not a lone 'a | b' line; v8: no
# sentence ends after an abbreviation ("e.g.", "Inc." before a lower-case word); v9: no cut
# inside a sentence wrapped over lines (PDF text)
CHUNKER_VERSION = "structure-v10"
TokenCounter = Callable[[str], int]

_PARA_SPLIT_RE = re.compile(r"\n[ \t]*\n+")
_ITEM_RE = re.compile(r"^\s*(?:\d+[.)]|[-*+\u2022]|[a-z][.)])\s+|^\s*\|")
_SETEXT_RE = re.compile(r"\n {0,3}(?:=+|-+)[ \t]*\Z")  # "Title\n-----": a heading's last line
# A sentence ends at . ! ? (Arabic ؟, Devanagari ।) and the space after, where the next
# sentence starts with a capital in any script, a letter of a script without case (Han,
# Hangul, Arabic...), a digit, a quote or a bracket ("Über", "É", "코인" were cut mid-sentence
# instead); or at 。！？ with or without a space (Chinese and Japanese use none).
_SENTENCE_END_RE = re.compile(
    r"(?<=[.!?\u061f\u0964])[\"')\]]*\s+(?=[^\s])|(?<=[\u3002\uff01\uff1f])[\u300d\u300f\uff09]*\s*"
)
_WORD_CHAR_RE = re.compile(r"[^\W_]")  # a row without one is a rule row: | --- | :-: |


@dataclass
class _Span:
    start: int
    end: int
    section: int  # index of the section the span lies in


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Non-blank paragraphs of ``text[start:end]`` as trimmed absolute spans."""
    out: list[tuple[int, int]] = []
    pos = start
    for match in _PARA_SPLIT_RE.finditer(text, start, end):
        out.append((pos, match.start()))
        pos = match.end()
    out.append((pos, end))
    return [s for s in (_trim(text, a, b) for a, b in out) if s]


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def _is_item(text: str, start: int, end: int) -> bool:
    """A paragraph that is a list item or table row (or starts a run of them)."""
    first_line = text[start:end].split("\n", 1)[0]
    return bool(_ITEM_RE.match(first_line)) or " | " in first_line


def _blocks(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Paragraphs grouped so lists, tables, headings and lead-ins stay with what they belong to."""
    paras = _paragraphs(text, start, end)
    blocks: list[list[int]] = []
    glue_next = False
    for a, b in paras:
        item = _is_item(text, a, b)
        if blocks and (glue_next or (item and blocks[-1][2])):
            blocks[-1][1] = b
            blocks[-1][2] = item
        else:
            blocks.append([a, b, item])
        stripped = text[a:b].rstrip()
        glue_next = (
            stripped.endswith(":")
            or stripped.startswith("#")
            or bool(_SETEXT_RE.search(stripped))
            or (
                a == paras[0][0]
                and "\n" not in stripped
                and len(stripped) < 100
                and not item
                and not stripped.endswith((".", "?", "!"))
            )
        )
    return [(a, b) for a, b, _ in blocks]


_HARD_END_RE = re.compile(r"[.!?:;][\"')\]]*\Z")  # a line that ends a sentence or a lead-in


def _split_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Lines, a line wrapped mid-sentence joined to the next: a PDF's text (and hard-wrapped
    prose) breaks every visual line, and a cut there can split "Do / not action it". A list
    item or table row always starts a line of its own."""
    out: list[tuple[int, int]] = []
    for a, b in _split_raw_lines(text, start, end):
        if out and not _ends_line(text, *out[-1]) and not _is_item(text, a, b):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _ends_line(text: str, start: int, end: int) -> bool:
    """Whether a (joined) line ends where the next may start a piece of its own."""
    last = text[max(start, text.rfind("\n", start, end) + 1) : end]
    return bool(_HARD_END_RE.search(last)) or " | " in last


def _split_raw_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out = []
    pos = start
    while pos < end:
        nl = text.find("\n", pos, end)
        stop = end if nl == -1 else nl
        span = _trim(text, pos, stop)
        if span:
            out.append(span)
        pos = stop + 1
    return out


def _sentence_starts(text: str, at: int) -> bool:
    """Whether ``text[at]`` can begin a sentence after a full stop and a space: not a word
    in lower case ("e.g. the form", "approx. five"), nor a symbol ("- ", "€5", as before)."""
    if at >= len(text):
        return False
    ch = text[at]
    return ch in "0123456789\"'([" or (ch.isalpha() and not ch.islower())


def _split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out = []
    pos = start
    for match in _SENTENCE_END_RE.finditer(text, start, end):
        if text[match.start() - 1] in ".!?\u061f\u0964" and not _sentence_starts(text, match.end()):
            continue
        span = _trim(text, pos, match.start())
        if span:
            out.append(span)
        pos = match.end()
    span = _trim(text, pos, end)
    if span:
        out.append(span)
    return out


def _split_words(
    text: str, start: int, end: int, count: TokenCounter, max_tokens: int
) -> list[tuple[int, int]]:
    """Last resort for one overlong sentence: greedy runs of whole words under the limit.

    Each run's end is found by bisection (a run's token count grows with its words): growing
    it a word at a time counted the whole run again per word, and a 1 MB line with no
    sentence end took 38 s of tokenizing."""
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        first = start + words[i][0]
        j, hi = i + 1, min(len(words), i + max(1, max_tokens))  # a word is at least a token
        while j < hi:  # the longest run from word i that fits (word i alone always goes)
            mid = (j + hi + 1) // 2
            if count(text[first : start + words[mid - 1][1]]) <= max_tokens:
                j = mid
            else:
                hi = mid - 1
        if j == i + 1 and count(text[start + words[i][0] : start + words[i][1]]) > max_tokens:
            # A single "word" longer than the limit (a URL, a hash): cut it by characters,
            # each piece shortened until it fits (the count includes the model's own tokens).
            a, b = start + words[i][0], start + words[i][1]
            k = a
            while k < b:
                e = min(k + max(1, max_tokens), b)
                while e - k > 1 and count(text[k:e]) > max_tokens:
                    e -= max(1, (e - k) // 16)
                out.append((k, e))
                k = e
        else:
            out.append((start + words[i][0], start + words[j - 1][1]))
        i = j
    return out


def _fit(
    text: str, span: tuple[int, int], count: TokenCounter, max_tokens: int, depth: int = 0
) -> list[tuple[int, int]]:
    """Split one span into pieces under ``max_tokens``: by lines (a wrapped sentence kept
    whole), then sentences, then every line break (cells one per line, no sentence ends),
    then words."""
    a, b = span
    if count(text[a:b]) <= max_tokens:
        return [span]
    splitters = (_split_lines, _split_sentences, _split_raw_lines)
    for splitter in splitters[depth:]:
        pieces = splitter(text, a, b)
        depth += 1
        if len(pieces) > 1:
            return _pack(
                text,
                [p for piece in pieces for p in _fit(text, piece, count, max_tokens, depth)],
                count,
                max_tokens,
            )
    return _split_words(text, a, b, count, max_tokens)


def _pack(
    text: str, spans: list[tuple[int, int]], count: TokenCounter, max_tokens: int
) -> list[tuple[int, int]]:
    """Greedily merge consecutive spans while the merged text stays under the limit."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and count(text[out[-1][0] : b]) <= max_tokens:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def chunk_spans(
    doc: Document, count: TokenCounter, max_tokens: int, min_tokens: int
) -> list[_Span]:
    """Chunk spans for a document, before they become Chunk objects."""
    text = doc.text
    sections = doc.sections or []
    if not sections:
        from indexer.documents import Section

        sections = [Section(path=(), start=0, end=len(text))]
    # 1. Per section: blocks, each made to fit, then packed.
    per_section: list[list[tuple[int, int]]] = []
    for sec in sections:
        pieces: list[tuple[int, int]] = []
        for block in _blocks(text, sec.start, sec.end):
            pieces.extend(_fit(text, block, count, max_tokens))
        per_section.append(_pack(text, pieces, count, max_tokens))
    # 2. A tiny section (a heading with a line or two) joins the next chunk, or failing that
    #    the previous one, when the result still fits.
    spans: list[_Span] = []
    pending: _Span | None = None
    for index, packed in enumerate(per_section):
        tiny = len(packed) == 1 and count(text[packed[0][0] : packed[0][1]]) < min_tokens
        for a, b in packed:
            span = _Span(a, b, index)
            if pending is not None:
                if count(text[pending.start : b]) <= max_tokens:
                    major = index if (b - a) >= (pending.end - pending.start) else pending.section
                    span = _Span(pending.start, b, major)
                else:
                    spans.append(pending)
                pending = None
            if tiny:
                pending = span
            else:
                spans.append(span)
    if pending is not None:
        prev = spans[-1] if spans else None
        if prev is not None and count(text[prev.start : pending.end]) <= max_tokens:
            spans[-1] = _Span(prev.start, pending.end, prev.section)
        else:
            spans.append(pending)
    return spans


def chunk_document(
    doc: Document, count: TokenCounter, max_tokens: int = 160, min_tokens: int = 24
) -> list[Chunk]:
    """Cut a Document into Chunks that follow its structure (see module docstring)."""
    sections = doc.sections
    chunks: list[Chunk] = []
    for ordinal, span in enumerate(chunk_spans(doc, count, max_tokens, min_tokens)):
        path = sections[span.section].path if sections else ()
        chunks.append(
            Chunk(
                doc_id=doc.doc_id,
                start=span.start,
                end=span.end,
                text=doc.text[span.start : span.end],
                heading_path=path,
                pages=tuple(doc.pages_for(span.start, span.end)),
                ordinal=ordinal,
            )
        )
    return chunks


def model_view(text: str) -> str:
    """``text`` as the model reads it: a table row's '|' marks become ';' between cells and
    spaces at its ends, and a Markdown rule row ('|---|---|') becomes spaces.

    The marks are layout, not words: a row "| DE | 13 | Yes |" is half '|' tokens, and mean
    pooling then makes every table look alike and unlike any question. A row is a line that
    starts with '|' (Markdown), or one of two or more adjacent lines of 'a | b' with as many
    cells each (the HTML, DOCX and PDF loaders' rows): a shell pipeline in an FAQ answer
    ("cat log | grep error") stays as written. The text keeps its length, so spans into it
    (sentence windows, pooled windows) stay where they were.
    """
    if "|" not in text:
        return text
    lines = text.split("\n")
    counts = [len(table_cells(line)) for line in lines]
    rows = _rows(lines, counts)
    for i, line in enumerate(lines):
        if not counts[i]:
            continue
        if not _WORD_CHAR_RE.search(line):
            lines[i] = " " * len(line)
            continue
        if not rows[i]:
            continue  # a lone 'a | b' line: a pipeline or a title line, not a table
        lead = len(line) - len(line.lstrip())
        tail = len(line.rstrip())
        chars = list(line)
        for j in range(lead, tail):
            if chars[j] == "|":
                chars[j] = " " if j in (lead, tail - 1) else ";"
        lines[i] = "".join(chars)
    return "\n".join(lines)


def table_rows(lines: list[str]) -> list[int]:
    """Per line, how many cells it has as a table row, or 0 when it is none: a line that
    starts with '|', or one of two or more adjacent 'a | b' lines with as many cells each.

    One definition for what the model reads as a table (:func:`model_view`) and what the
    Search page and the source page show as one (indexer/render.py).
    """
    return _rows(lines, [len(table_cells(line)) for line in lines])


def _rows(lines: list[str], counts: list[int]) -> list[int]:
    """:func:`table_rows`, given each line's cell count."""
    return [
        n
        if n
        and (
            line.lstrip().startswith("|")
            or any(0 <= j < len(lines) and counts[j] == n for j in (i - 1, i + 1))
        )
        else 0
        for i, (line, n) in enumerate(zip(lines, counts, strict=True))
    ]


def table_cells(line: str) -> list[str]:
    """The cells of a line read as a table row ('| a | b |' or 'a | b'), stripped; [] if it
    is none."""
    body = line.strip()
    if not body.startswith("|") and " | " not in body:
        return []
    if body.startswith("|"):
        body = body[1:].removesuffix("|")
    return [cell.strip() for cell in body.split("|")]


def embedding_text(
    title: str, heading_path: tuple[str, ...], text: str, count: TokenCounter, limit: int
) -> str:
    """The text we embed: title and heading path give a passage its context.

    The context is shortened (never the passage) so the whole stays within ``limit`` tokens.
    """
    trail = [title] + [
        h.lstrip("#").strip() for h in heading_path if h.lstrip("#").strip() != title
    ]
    text = model_view(text)
    while trail:
        candidate = " > ".join(trail) + "\n" + text
        if count(candidate) <= limit:
            return candidate
        trail.pop()
    return text


def sentence_windows(text: str, size: int = 1) -> list[tuple[int, int]]:
    """Spans of ``size`` consecutive sentences (heading lines left out) within a chunk's text.

    Embedded next to whole chunks, they let a one-sentence answer inside a long passage be
    found (multi-granularity retrieval) and name the sentence to highlight. One sentence each
    (the default) ranked first passages better on every shared set than overlapping pairs,
    and the model reads half the tokens (docs/retrieval-experiments.md).
    """
    from indexer.highlight import sentence_spans

    spans = [s for s in sentence_spans(text) if not text[s[0] : s[1]].lstrip().startswith("#")]
    if len(spans) <= 1:
        return spans
    return [
        (spans[i][0], spans[min(i + size - 1, len(spans) - 1)][1])
        for i in range(len(spans) - size + 1)
    ]
