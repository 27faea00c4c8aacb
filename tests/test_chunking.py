"""Chunker properties: exact spans, token limits, headings and lists respected."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.chunking import chunk_document, embedding_text, model_view
from indexer.documents import Document
from indexer.loaders import load_directory, load_file
from indexer.loaders.common import Heading, sections_from_headings


def _doc(text: str, headings: list[Heading] | None = None) -> Document:
    return Document("d.md", "T", text, "d.md", "md", sections_from_headings(text, headings or []))


def test_spans_map_back_to_text_and_respect_limit(sample_kb: Path, fake_embedder) -> None:
    documents, _ = load_directory(sample_kb)
    for doc in documents:
        chunks = chunk_document(doc, fake_embedder.count_tokens, max_tokens=40, min_tokens=8)
        assert chunks, doc.doc_id
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text
            assert fake_embedder.count_tokens(c.text) <= 40
        # Chunks are in order and do not overlap.
        for a, b in zip(chunks, chunks[1:], strict=False):
            assert a.end <= b.start


def test_no_chunk_crosses_a_heading_when_sections_are_big(fake_embedder) -> None:
    body = " ".join(f"Sentence {i} about refunds." for i in range(12))
    text = f"## Alpha\n\n{body}\n\n## Beta\n\n{body}\n"
    beta = text.index("## Beta")
    doc = _doc(text, [Heading(2, "Alpha", 0), Heading(2, "Beta", beta)])
    chunks = chunk_document(doc, fake_embedder.count_tokens, max_tokens=60, min_tokens=5)
    for c in chunks:
        assert not (c.start < beta < c.end), "chunk crosses the Beta heading"
    assert {c.heading_path for c in chunks} == {("Alpha",), ("Beta",)}


def test_tiny_sections_merge(fake_embedder) -> None:
    text = "# Title\n\n## Purpose\n\nShort.\n\n## Scope\n\nAlso short.\n"
    heads = [
        Heading(1, "Title", 0),
        Heading(2, "Purpose", text.index("## Purpose")),
        Heading(2, "Scope", text.index("## Scope")),
    ]
    chunks = chunk_document(_doc(text, heads), fake_embedder.count_tokens, 100, 20)
    assert len(chunks) == 1
    assert chunks[0].text == text.strip()


def test_numbered_steps_stay_together(fake_embedder) -> None:
    intro = " ".join(["Background sentence."] * 15)
    steps = "\n".join(f"{i}. Do step number {i} carefully." for i in range(1, 6))
    text = (
        f"## Procedure\n\n{intro}\n\nFollow these steps:\n\n{steps}\n\nAfterwards close the ticket."
    )
    doc = _doc(text, [Heading(2, "Procedure", 0)])
    chunks = chunk_document(doc, fake_embedder.count_tokens, max_tokens=70, min_tokens=5)
    holder = [c for c in chunks if "1. Do step" in c.text]
    assert len(holder) == 1
    assert "5. Do step number 5" in holder[0].text
    assert "Follow these steps:" in holder[0].text  # the lead-in stays with its list


def test_long_list_splits_between_items_only(fake_embedder) -> None:
    steps = "\n".join(f"{i}. Do step number {i} carefully and log it." for i in range(1, 30))
    doc = _doc(f"## Steps\n\n{steps}\n", [Heading(2, "Steps", 0)])
    chunks = chunk_document(doc, fake_embedder.count_tokens, max_tokens=50, min_tokens=5)
    assert len(chunks) > 1
    for c in chunks:
        for line in filter(None, c.text.splitlines()):
            assert line.startswith(("## Steps", *[f"{i}. " for i in range(1, 30)]))


def test_table_rows_are_never_cut(fake_embedder) -> None:
    rows = "\n".join(f"| M{i} | {i} days | note {i} |" for i in range(40))
    doc = _doc(
        f"## Windows\n\n| Market | Window | Note |\n|---|---|---|\n{rows}\n",
        [Heading(2, "Windows", 0)],
    )
    for c in chunk_document(doc, fake_embedder.count_tokens, max_tokens=60, min_tokens=5):
        for line in filter(None, c.text.splitlines()):
            if line.startswith("## "):
                continue
            assert line.startswith("|") and line.endswith("|")


def test_overlong_sentence_is_split_not_truncated(fake_embedder) -> None:
    words = " ".join(f"w{i}" for i in range(500))
    doc = _doc(words)
    chunks = chunk_document(doc, fake_embedder.count_tokens, max_tokens=50, min_tokens=5)
    assert " ".join(c.text for c in chunks) == words
    assert all(fake_embedder.count_tokens(c.text) <= 50 for c in chunks)


def test_chunk_ids_are_stable_and_distinct(sample_kb: Path, fake_embedder) -> None:
    doc = load_file(sample_kb / "policies" / "coin-refunds.md", sample_kb)
    first = [c.chunk_id for c in chunk_document(doc, fake_embedder.count_tokens, 40, 8)]
    second = [c.chunk_id for c in chunk_document(doc, fake_embedder.count_tokens, 40, 8)]
    assert first == second
    assert len(set(first)) == len(first)


def test_pdf_chunks_carry_pages(sample_kb: Path, fake_embedder) -> None:
    doc = load_file(sample_kb / "sops" / "dangerous-challenges.pdf", sample_kb)
    chunks = chunk_document(doc, fake_embedder.count_tokens, 30, 4)
    guardian = next(c for c in chunks if "Guardian queue" in c.text)
    assert guardian.pages == (2,)
    assert guardian.heading_path == ("2 Escalation",)


@pytest.mark.parametrize("limit", [20, 30, 64])
def test_embedding_text_fits_the_model(fake_embedder, limit: int) -> None:
    text = "word " * 15
    out = embedding_text(
        "A very long document title indeed",
        ("Section one", "Sub two"),
        text.strip(),
        fake_embedder.count_tokens,
        limit,
    )
    assert out.endswith(text.strip())
    assert fake_embedder.count_tokens(out) <= max(limit, fake_embedder.count_tokens(text))


def test_a_word_longer_than_the_limit_is_cut_into_pieces_that_fit() -> None:
    def per_char(text: str) -> int:  # a tokenizer that reads every character, plus [CLS] [SEP]
        return len(text) + 2

    text = "See " + "x" * 1000 + " for details."
    chunks = chunk_document(_doc(text), per_char, max_tokens=200, min_tokens=8)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")
    assert all(per_char(c.text) <= 200 for c in chunks)


def test_version_links_to_missing_documents_are_reported() -> None:
    from indexer.build import dangling_versions

    old = _doc("Old rules.")
    old.metadata = {"superseded_by": "policies/new.md"}
    new = Document(
        "policies/new.md", "New", "New rules.", "n.md", "md", metadata={"supersedes": "d.md"}
    )
    assert dangling_versions([old, new]) == []
    gone = dangling_versions([old])
    assert gone == [
        "d.md: superseded_by names 'policies/new.md', which is not in the knowledge base"
    ]


def test_version_links_that_loop_are_reported() -> None:
    """Two policies that each supersede the other were both retired, silently: no search
    showed either (found by a review of odd knowledge bases)."""
    from indexer.build import version_cycles

    def doc(doc_id: str, **links: str) -> Document:
        return Document(doc_id, doc_id, "Rules.", doc_id, "md", metadata=dict(links))

    a, b = doc("a.md", supersedes="b.md"), doc("b.md", supersedes="a.md")
    chain = [doc("v1.md", superseded_by="v2.md"), doc("v2.md", supersedes="v1.md")]
    assert version_cycles([a, b, *chain]) == [
        "a.md, b.md: their supersedes / superseded_by links form a loop, so each version "
        "retires another and no search shows any of them; fix one link"
    ]
    assert version_cycles(chain) == []
    three = [doc("x.md", superseded_by="y.md"), doc("y.md", superseded_by="z.md"),
             doc("z.md", superseded_by="x.md"), doc("w.md", supersedes="x.md")]  # fmt: skip
    assert len(version_cycles(three)) == 1 and "w.md" not in version_cycles(three)[0]


def test_a_setext_heading_stays_with_its_text(fake_embedder) -> None:
    """An underlined heading in text the loader found no sections in (plain text) starts the
    passage of its paragraph instead of trailing the one before."""
    body = " ".join(f"Step {i} of the refund rules." for i in range(4))
    text = f"{body}\n\nChargebacks\n-----------\n\n{body}\n"
    chunks = chunk_document(_doc(text), fake_embedder.count_tokens, max_tokens=60, min_tokens=8)
    assert len(chunks) == 2
    assert chunks[1].text.startswith("Chargebacks\n---") and chunks[0].text.endswith("rules.")


def test_the_model_reads_table_rows_without_their_pipes_and_at_the_same_length(
    fake_embedder,
) -> None:
    table = (
        "Minimum ages:\n"
        "| Market | Minimum age |\n"
        "|---|:---:|\n"
        "| DE | 13 |\n"
        "KR | 14\n"  # a row as the HTML, DOCX and PDF loaders write it
        "Use AND|OR with care."
    )
    seen = model_view(table)
    assert len(seen) == len(table)  # spans into the passage stay where they were
    lines = seen.split("\n")
    assert [line.split() for line in lines[1:5]] == [
        ["Market", ";", "Minimum", "age"],
        [],
        ["DE", ";", "13"],
        ["KR", ";", "14"],
    ]
    assert lines[0] == "Minimum ages:" and lines[5] == "Use AND|OR with care."
    # A lone 'a | b' line is a shell pipeline or a title line, not a table: left as written.
    faq = "Run this:\ncat app.log | grep error | wc -l\nThen restart."
    assert model_view(faq) == faq
    out = embedding_text("Policy", ("Ages",), table, fake_embedder.count_tokens, 200)
    assert out.endswith(seen) and "|" not in out.replace("AND|OR", "")


def test_a_row_window_is_read_as_its_table_reads_it(fake_embedder) -> None:
    """A window is one row; whether 'DE | EUR' is a table row depends on the lines around it,
    so the window takes its text from the whole passage's view."""
    from indexer.build import windows_of

    text = "Payouts by market.\nMarket | Currency\nUS | USD\nDE | EUR\n"
    text += "To check one:\ncat log | grep DE"
    chunks = chunk_document(_doc(text), fake_embedder.count_tokens, max_tokens=200)
    spans, texts = windows_of(chunks, {"d.md": "T"})
    by_span = {text[int(a) : int(b)]: t for (_r, a, b), t in zip(spans, texts, strict=True)}
    assert by_span["DE | EUR"] == "T\nDE ; EUR"
    assert by_span["cat log | grep DE"] == "T\ncat log | grep DE"  # a lone line: as written


def _split_words_one_word_at_a_time(text, start, end, count, max_tokens):
    """The greedy split as it was written before bisection: the runs must not change."""
    import re

    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text[start:end])]
    out, i = [], 0
    while i < len(words):
        j = i + 1
        while (
            j < len(words) and count(text[start + words[i][0] : start + words[j][1]]) <= max_tokens
        ):
            j += 1
        out.append((start + words[i][0], start + words[j - 1][1]))
        i = j
    return out


@pytest.mark.parametrize("max_tokens", [3, 7, 40])
def test_a_run_on_line_is_split_as_before_with_few_counts(max_tokens: int) -> None:
    """Runs of a line with no sentence end are found by bisection: the same runs, with a
    count per halving instead of one per word (a 1 MB line took 38 s of tokenizing)."""
    import random

    from indexer.chunking import _split_words

    rng = random.Random(max_tokens)
    text = " ".join(
        rng.choice(["refund", "a", "chargeback-dispute", "coins", "x" * rng.randint(1, 6)])
        for _ in range(3_000)
    )
    calls = 0

    def count(piece: str) -> int:  # tokens as a word-piece model counts them, roughly
        nonlocal calls
        calls += 1
        return sum(1 + len(w) // 8 for w in piece.split())

    expected = _split_words_one_word_at_a_time(text, 0, len(text), count, max_tokens)
    calls = 0
    assert _split_words(text, 0, len(text), count, max_tokens) == expected
    runs = len(expected)
    assert calls <= runs * (max_tokens.bit_length() + 2), (calls, runs)


def test_a_sentence_wrapped_over_lines_is_not_cut_at_a_wrap(fake_embedder) -> None:
    """A PDF's text breaks every printed line. Splitting an overlong paragraph at lines cut
    "... says do" / "not ...", reversing the rule; a paragraph of cells one per line (no
    sentence ends) is still split between lines."""
    words = " ".join(["word"] * 8)
    text = "\n".join(f"Rule {i} says do\n not {words} here." for i in range(6))
    chunks = chunk_document(_doc(text), fake_embedder.count_tokens, max_tokens=40, min_tokens=5)
    assert len(chunks) > 1
    assert all(c.text.endswith("here.") for c in chunks), [c.text[-12:] for c in chunks]
    cells = "\n".join(f"cell value number {i}" for i in range(40))
    pieces = chunk_document(_doc(cells), fake_embedder.count_tokens, max_tokens=40, min_tokens=5)
    assert len(pieces) > 1 and all(c.text.endswith(tuple("0123456789")) for c in pieces)
