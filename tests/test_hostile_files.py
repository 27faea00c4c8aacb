"""Hostile files end in a typed, reported skip reason; the batch goes on, within bounds."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from indexer.loaders import ParseLimits, load_directory
from indexer.loaders.common import Parsed, ParseError
from indexer.loaders.isolation import parse_isolated
from tests.hostile_files import write_hostile_corpus

LIMITS = ParseLimits(timeout_s=20, memory_mb=256)


def test_hostile_corpus_is_skipped_with_reasons(tmp_path: Path) -> None:
    expected = write_hostile_corpus(tmp_path / "kb")
    started = time.monotonic()
    documents, skipped = load_directory(tmp_path / "kb", limits=LIMITS)
    assert time.monotonic() - started < 120
    assert [d.doc_id for d in documents] == ["good.md"]
    reasons = {s.path: s.reason for s in skipped}
    assert set(reasons) == set(expected)
    for name, words in expected.items():
        assert any(w in reasons[name] for w in words), (name, reasons[name])


def _sleeps_forever(data: bytes) -> Parsed:
    while True:
        time.sleep(0.1)


def _eats_memory(data: bytes) -> Parsed:
    hoard = []
    while True:
        hoard.append(bytearray(64 * 1024 * 1024))


def _fails(data: bytes) -> Parsed:
    raise ParseError("bad header")


def _works(data: bytes) -> Parsed:
    return Parsed(text=data.decode())


def test_a_hanging_parser_is_stopped() -> None:
    started = time.monotonic()
    with pytest.raises(ParseError, match="took longer than 1s"):
        parse_isolated(_sleeps_forever, b"", ParseLimits(timeout_s=1, memory_mb=64))
    assert time.monotonic() - started < 10


def test_memory_cap_and_errors_cross_the_process_boundary() -> None:
    with pytest.raises(ParseError, match="memory cap|parser died"):
        parse_isolated(_eats_memory, b"", ParseLimits(timeout_s=20, memory_mb=128))
    with pytest.raises(ParseError, match="bad header"):
        parse_isolated(_fails, b"", LIMITS)
    assert parse_isolated(_works, b"fine", LIMITS).text == "fine"
