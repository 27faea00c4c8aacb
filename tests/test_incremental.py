"""Re-indexing embeds only what changed; deletions vanish everywhere; no change, no work."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.search import Searcher


def _record_calls(monkeypatch, module, name: str, key) -> list:
    """Wrap ``module.name`` so every call records ``key(first argument)``, then runs as before."""
    calls: list = []
    real = getattr(module, name)

    def recording(first, *args, **kwargs):
        calls.append(key(first))
        return real(first, *args, **kwargs)

    monkeypatch.setattr(module, name, recording)
    return calls


def _build(kb: Path, ix: Path, embedder, cache: Path):
    return build_index(kb, ix, embedder, max_tokens=60, min_tokens=8, cache_path=cache)


def test_the_folder_named_relative_or_absolute_is_one_knowledge_base(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`kb index kb` after `./scripts/run`, then `kb index` (the default folder, absolute):
    the files' paths were hashed as typed, so nothing changed and everything was rebuilt."""
    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    monkeypatch.chdir(sample_kb.parent)
    first = _build(Path(sample_kb.name), ix, fake_embedder, cache)
    again = _build(sample_kb.absolute(), ix, fake_embedder, cache)
    assert again.unchanged and again.manifest.index_version == first.manifest.index_version
    assert _build(Path(sample_kb.name), ix, fake_embedder, tmp_path / "other.sqlite").unchanged


def test_reindex_embeds_only_changed_text(sample_kb: Path, fake_embedder, tmp_path: Path) -> None:
    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    first = _build(sample_kb, ix, fake_embedder, cache)
    assert first.embedded > 10 * first.reused  # only texts repeated within the corpus reuse

    same = _build(sample_kb, ix, fake_embedder, cache)
    assert same.unchanged and same.embedded == 0
    assert same.manifest.index_version == first.manifest.index_version  # not rewritten

    md = sample_kb / "policies" / "coin-refunds.md"
    md.write_text(
        md.read_text().replace(
            "Chargebacks are never refunded twice.",
            "Chargebacks are never refunded twice, not even in JP.",
        )
    )
    edited = _build(sample_kb, ix, fake_embedder, cache)
    assert not edited.unchanged
    assert 0 < edited.embedded <= 4  # the edited passage and its sentence windows
    assert edited.reused > 10 * edited.embedded
    s = Searcher(ix, fake_embedder)
    assert any("not even in JP" in c["text"] for c in s.chunks())


def test_deleted_documents_vanish_from_every_part(sample_kb: Path, fake_embedder, tmp_path) -> None:
    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    _build(sample_kb, ix, fake_embedder, cache)
    (sample_kb / "sops" / "seller-dispute.docx").unlink()
    report = _build(sample_kb, ix, fake_embedder, cache)
    assert report.embedded == 0  # nothing new to embed, but the index is rewritten
    s = Searcher(ix, fake_embedder)
    assert "sops/seller-dispute.docx" not in {d["doc_id"] for d in s.list_documents()}
    assert all(c["doc_id"] != "sops/seller-dispute.docx" for c in s.chunks())
    hits = s.search("seller proof of delivery order id", top_k=10, mode="bm25").results
    assert all(r.doc_id != "sops/seller-dispute.docx" for r in hits)
    assert len(s._matrix) == len(s.chunks()) == s.manifest.counts["chunks"]


@pytest.mark.parametrize("value", ["", "off", "none"])
def test_cache_can_be_switched_off(value: str, monkeypatch) -> None:
    from indexer.settings import Settings

    monkeypatch.setenv("KB_EMBED_CACHE_PATH", value)
    assert Settings().embed_cache_path is None


def test_pooled_windows_come_from_the_passage_pass_and_are_cached(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    import numpy as np

    from indexer.quantise import dequantise, quantise
    from indexer.store import current_generation, read_windows

    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    options = {"max_tokens": 60, "min_tokens": 8, "cache_path": cache, "windows": "pooled"}
    first = build_index(sample_kb, ix, fake_embedder, **options)
    assert first.manifest.chunker["windows"] == "pooled"
    assert first.embedded == first.chunks  # one pass per passage; windows ride along
    spans, vectors = read_windows(current_generation(ix))
    s = Searcher(ix, fake_embedder)
    texts = {c["row"]: c for c in s.chunks()}
    row, start, end = (int(x) for x in spans[0])
    chunk = texts[row]
    window_text = chunk["text"][start - chunk["start"] : end - chunk["start"]]
    stored = dequantise(*quantise(fake_embedder.encode([window_text])))[0]
    np.testing.assert_allclose(vectors[0], stored, atol=1e-6)

    md = sample_kb / "policies" / "coin-refunds.md"
    md.write_text(md.read_text() + "\nA new closing sentence. And one more after it.\n")
    edited = build_index(sample_kb, ix, fake_embedder, **options)
    assert 0 < edited.embedded <= 2  # only the changed passage ran; its windows came from cache
    # Switching the method is a different index: everything is built again.
    separate = build_index(sample_kb, ix, fake_embedder, **{**options, "windows": "separate"})
    assert not separate.unchanged and separate.manifest.chunker["windows"] == "separate"


def test_unchanged_documents_are_not_chunked_again(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    import indexer.build as build

    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    first = _build(sample_kb, ix, fake_embedder, cache)
    real = build.chunk_document
    cut = _record_calls(monkeypatch, build, "chunk_document", lambda doc: doc.doc_id)
    md = sample_kb / "policies" / "coin-refunds.md"
    md.write_text(md.read_text() + "\nOne more closing sentence.\n")
    edited = _build(sample_kb, ix, fake_embedder, cache)
    assert cut == ["policies/coin-refunds.md"]  # the others came from the previous generation
    assert edited.chunks >= first.chunks
    # The reused chunks are the ones a full re-chunk gives: same ids, same spans, same order.
    monkeypatch.setattr(build, "chunk_document", real)
    fresh = build.index_documents(
        build.load_directory(sample_kb)[0], tmp_path / "fresh", fake_embedder,
        max_tokens=60, min_tokens=8,
    )  # fmt: skip
    ids = [c["chunk_id"] for c in Searcher(ix, fake_embedder).chunks()]
    assert ids == [c["chunk_id"] for c in Searcher(tmp_path / "fresh", fake_embedder).chunks()]
    assert fresh.chunks == edited.chunks


def test_unchanged_passages_take_their_vectors_from_the_previous_generation(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    import numpy as np

    from indexer.quantise import dequantise, quantise
    from indexer.store import WINDOW_VECTORS, current_generation, read_windows

    ix = tmp_path / "ix"
    options = {"max_tokens": 60, "min_tokens": 8}  # and no embedding cache at all
    first = build_index(sample_kb, ix, fake_embedder, **options)
    md = sample_kb / "policies" / "coin-refunds.md"
    md.write_text(md.read_text() + "\nA closing sentence added. And a second one.\n")
    edited = build_index(sample_kb, ix, fake_embedder, **options)
    assert 0 < edited.embedded <= 4  # the edited passage and its windows, nothing else
    assert edited.reused >= first.embedded - 4
    # What was copied is what embedding the texts gives.
    s = Searcher(ix, fake_embedder)
    texts = [c["embed_text"] for c in s.chunks()]
    np.testing.assert_allclose(s.passage_vectors(), fake_embedder.encode(texts), atol=1e-6)
    spans, vectors = read_windows(current_generation(ix))
    rows = {c["row"]: c for c in s.chunks()}
    titles = {d["doc_id"]: d["title"] for d in s.list_documents()}
    for w in (0, len(spans) // 2, len(spans) - 1):
        row, a, b = (int(x) for x in spans[w])
        c = rows[row]
        text = f"{titles[c['doc_id']]}\n{c['text'][a - c['start'] : b - c['start']]}"
        stored = dequantise(*quantise(fake_embedder.encode([text])))[0]  # as windows are kept
        np.testing.assert_allclose(vectors[w], stored, atol=1e-6)

    # A damaged generation is not copied from: everything is embedded again, correctly.
    damaged = current_generation(ix) / WINDOW_VECTORS
    data = bytearray(damaged.read_bytes())
    data[-1] ^= 0xFF
    damaged.write_bytes(bytes(data))
    md.write_text(md.read_text() + "\nOne more.\n")
    again = build_index(sample_kb, ix, fake_embedder, **options)
    # Everything ran again; only texts the corpus repeats were reused, as in the first build.
    assert again.reused == first.reused and again.embedded >= first.embedded


def test_pooled_window_vectors_are_not_reused_for_separate_windows(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    ix = tmp_path / "ix"
    pooled = build_index(
        sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8, windows="pooled"
    )
    separate = build_index(
        sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8, windows="separate"
    )
    scratch = build_index(
        sample_kb, tmp_path / "scratch", fake_embedder, max_tokens=60, min_tokens=8
    )
    # Nothing came from the pooled generation: only what a build from scratch reuses (texts
    # the corpus repeats), and every other text ran through the model.
    assert (separate.embedded, separate.reused) == (scratch.embedded, scratch.reused)
    assert separate.embedded > pooled.embedded


def test_a_new_sentence_splitter_cuts_unchanged_passages_again(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    """Window spans of the previous generation are the old splitter's: a chunker version
    change must not carry them over (passage vectors, looked up by text, still may be)."""
    import indexer.build as build
    from indexer.store import current_generation, read_windows

    ix = tmp_path / "ix"
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    before = len(read_windows(current_generation(ix))[0])
    monkeypatch.setattr(build, "CHUNKER_VERSION", "test-splitter")
    monkeypatch.setattr(build, "sentence_windows", lambda text: [(0, len(text))])
    report = build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    spans = read_windows(current_generation(ix))[0]
    assert len(spans) == report.manifest.counts["chunks"] < before  # one window per passage
    assert report.reused > 0  # the passages themselves kept their vectors


def test_an_index_of_the_previous_format_is_refused_then_rebuilt(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    """An index written before int8 windows (format 4, float32 window file) is not read as
    if it were current: the API refuses it by name, and the next `kb index` rebuilds it."""
    import json

    import numpy as np

    from indexer.errors import IndexMismatchError
    from indexer.store import FORMAT_VERSION, WINDOW_SCALES, WINDOW_VECTORS, current_generation

    ix = tmp_path / "ix"
    first = build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    gen = current_generation(ix)
    (gen / WINDOW_SCALES).unlink()
    (gen / WINDOW_VECTORS).unlink()
    np.save(gen / "window_vectors.npy", np.zeros((3, 64), np.float32))
    manifest = json.loads((gen / "manifest.json").read_text())
    manifest["format_version"] = FORMAT_VERSION - 1
    (gen / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexMismatchError, match=f"this version reads {FORMAT_VERSION}"):
        Searcher(ix, fake_embedder)

    again = build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8)
    assert not again.unchanged and again.manifest.format_version == FORMAT_VERSION
    assert again.chunks == first.chunks
    s = Searcher(ix, fake_embedder)
    top = s.search("disputed chargebacks refund", top_k=1).results[0]
    assert top.highlight.text and top.doc_id


def _count_parses(monkeypatch) -> list[str]:
    """Names of the files the loaders actually parse (not taken from the current generation)."""
    import indexer.loaders as loaders

    return _record_calls(monkeypatch, loaders, "load_file", lambda path: path.name)


@pytest.fixture(params=["local", "postgres"])
def target(request, tmp_path: Path):
    """Where an index goes: a local directory, or a fresh migrated database."""
    if request.param == "local":
        return tmp_path / "ix"
    return request.getfixturevalue("pg_database")


def _previous_documents(target):
    from indexer import pgstore, store

    if isinstance(target, str):
        return pgstore.previous_documents(target)
    return store.previous_documents(target)


def test_one_shot_reindex_parses_only_changed_files(
    target, sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch, caplog
) -> None:
    from indexer.loaders import load_directory
    from indexer.search import open_searcher
    from indexer.settings import Settings

    ix, cache = target, tmp_path / "cache.sqlite"
    parsed = _count_parses(monkeypatch)
    first = _build(sample_kb, ix, fake_embedder, cache)
    files = len(parsed)
    assert files == first.documents + len(first.skipped)  # every file parsed once

    parsed.clear()
    caplog.clear()
    assert _build(sample_kb, ix, fake_embedder, cache).unchanged
    assert parsed == []  # broken files included: they stay skipped until they change
    warned = [r for r in caplog.records if r.levelname == "WARNING" and "skipped" in r.message]
    assert warned == []  # still in the report, but not warned about again

    side = sample_kb / "sops" / "dangerous-challenges.pdf.meta.yaml"
    side.write_text(side.read_text() + "tags: [edited-sidecar]\n")
    (sample_kb / "broken" / "garbage.pdf").write_bytes(b"%PDF-1.7\n still not a pdf")
    parsed.clear()
    caplog.clear()
    edited = _build(sample_kb, ix, fake_embedder, cache)
    assert sorted(parsed) == ["dangerous-challenges.pdf", "garbage.pdf"]
    warned = [r.message for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "garbage.pdf" in warned[0]  # it changed: news again
    assert not edited.unchanged and len(edited.skipped) == len(first.skipped)
    s = open_searcher(ix, fake_embedder, Settings())
    try:
        tags = s.get_document("sops/dangerous-challenges.pdf")["metadata"]["tags"]
    finally:
        s.close()
    assert "edited-sidecar" in tags

    # what came back from the index is what parsing gives: same documents, same hashes
    reused = {d.doc_id: d for d in load_directory(sample_kb, previous=None)[0]}
    stored = _previous_documents(ix).values()
    kept = {d.doc_id: d for d in stored if not isinstance(d, str)}
    assert kept.keys() == reused.keys()
    for doc_id, doc in reused.items():
        assert kept[doc_id] == doc and kept[doc_id].content_hash == doc.content_hash
        assert kept[doc_id].source_hash == doc.source_hash != ""


def test_a_database_behind_on_migrations_is_told_to_migrate_then_reuses(
    pg_database: str, sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    import psycopg

    from indexer import pgstore
    from indexer.errors import KBError

    cache = tmp_path / "cache.sqlite"
    first = _build(sample_kb, pg_database, fake_embedder, cache)
    with psycopg.connect(pg_database, autocommit=True) as con:  # as a database of 003 was
        con.execute("ALTER TABLE kb_documents DROP COLUMN source_hash")
        con.execute("ALTER TABLE kb_skipped DROP COLUMN source_hash")
        con.execute("DELETE FROM kb_schema_migrations WHERE name = '004_source_hashes.sql'")
    with pytest.raises(KBError, match=r"004_source_hashes.sql not applied\): run `kb db migrate`"):
        _build(sample_kb, pg_database, fake_embedder, cache)

    assert pgstore.migrate(pg_database) == ["004_source_hashes.sql"]
    parsed = _count_parses(monkeypatch)
    upgraded = _build(sample_kb, pg_database, fake_embedder, cache)
    every = first.documents + len(first.skipped)
    assert len(parsed) == every and not upgraded.unchanged  # hashes recorded this once
    assert upgraded.manifest.counts["documents_rewritten"] == 0  # no document itself changed
    assert len(_previous_documents(pg_database)) == every
    parsed.clear()
    assert _build(sample_kb, pg_database, fake_embedder, cache).unchanged and parsed == []


def test_loader_change_or_old_generation_parses_again(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    import indexer.loaders as loaders

    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    with monkeypatch.context() as old:  # a version that kept no source hashes
        old.setattr(loaders, "source_hash", lambda *args: "")
        first = _build(sample_kb, ix, fake_embedder, cache)
    every = first.documents + len(first.skipped)
    parsed = _count_parses(monkeypatch)
    again = _build(sample_kb, ix, fake_embedder, cache)
    assert len(parsed) == every and not again.unchanged  # written once more, with the hashes
    assert again.embedded == 0  # nothing in it changed: every vector is reused
    parsed.clear()
    assert _build(sample_kb, ix, fake_embedder, cache).unchanged and parsed == []

    monkeypatch.setattr(loaders, "loader_stamp", lambda: b"a fixed loader")
    assert not _build(sample_kb, ix, fake_embedder, cache).unchanged
    assert len(parsed) == every  # new loader code: every file is parsed again


def test_a_corrupt_generation_is_not_a_source_of_documents(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    import sqlite3

    from indexer import store

    ix = tmp_path / "ix"
    _build(sample_kb, ix, fake_embedder, tmp_path / "cache.sqlite")
    assert len(store.previous_documents(ix)) == 11  # 5 documents, 6 skipped files
    con = sqlite3.connect(store.current_generation(ix) / store.TABLE)
    con.execute("UPDATE documents SET text = 'tampered'")
    con.commit()
    con.close()
    assert store.previous_documents(ix) == {}


def test_a_file_stopped_by_a_limit_is_tried_again(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    import time

    import indexer.loaders as loaders
    from indexer.loaders import ParseLimits

    real = loaders.PARSERS[".pdf"]

    def slow_once(data: bytes):
        if b"SLOW" in data and not (tmp_path / "fast-now").exists():
            time.sleep(30)
        return real(data)

    monkeypatch.setitem(loaders.PARSERS, ".pdf", slow_once)
    slow = sample_kb / "sops" / "slow.pdf"
    slow.write_bytes((sample_kb / "sops" / "dangerous-challenges.pdf").read_bytes() + b"%SLOW\n")
    ix = tmp_path / "ix"

    def build():
        return build_index(
            sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8,
            limits=ParseLimits(timeout_s=1, memory_mb=1024),
        )  # fmt: skip

    first = build()
    assert any(s.path == "sops/slow.pdf" and "longer than 1s" in s.reason for s in first.skipped)
    (tmp_path / "fast-now").touch()  # the machine is quieter: the same bytes now parse in time
    parsed = _count_parses(monkeypatch)
    again = build()
    assert parsed == ["slow.pdf"]  # the only file not taken from the generation
    assert not again.unchanged and all(s.path != "sops/slow.pdf" for s in again.skipped)


def test_a_rebuild_hashes_the_current_chunk_table_once(
    sample_kb: Path, fake_embedder, tmp_path: Path, monkeypatch
) -> None:
    import indexer.store as store

    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    _build(sample_kb, ix, fake_embedder, cache)
    table = store.current_generation(ix) / store.TABLE
    store._CHECKED.clear()  # the next `kb index` is another process: it wrote none of these
    hashed = _record_calls(monkeypatch, store, "sha256_file", lambda path: Path(path))
    md = sample_kb / "policies" / "coin-refunds.md"
    md.write_text(md.read_text() + "\nOne more closing sentence.\n")
    edited = _build(sample_kb, ix, fake_embedder, cache)
    assert not edited.unchanged and edited.reused > 0  # documents and vectors were reused
    assert hashed.count(table) == 1  # checked for the documents, trusted for the vectors


def test_a_text_repeated_in_the_corpus_is_embedded_once(
    sample_kb: Path, fake_embedder, tmp_path: Path
) -> None:
    boilerplate = "If in doubt, escalate to your team lead. Never promise an outcome."
    sections = "".join(
        f"## Case {n}\n\nCase {n} has its own rule.\n\n{boilerplate}\n\n" for n in range(4)
    )
    (sample_kb / "policies" / "boilerplate.md").write_text(
        f"# Boilerplate\n\n{sections}", encoding="utf-8"
    )
    read: list[str] = []
    real = fake_embedder.encode

    def counting(texts, show_progress=False):
        read.extend(texts)
        return real(texts)

    fake_embedder.encode = counting
    report = build_index(sample_kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8)
    assert len(read) == len(set(read)) == report.embedded
    assert report.reused >= 3  # the boilerplate's window, once per section after the first
    s = Searcher(tmp_path / "ix", fake_embedder)
    try:
        top = s.search(boilerplate, top_k=1, mode="dense").results[0]
        # the highlight is one of the boilerplate's sentences (windows are single sentences)
        assert top.doc_id == "policies/boilerplate.md" and top.highlight.text in boilerplate
    finally:
        s.close()


def test_a_new_title_reaches_the_index(sample_kb: Path, fake_embedder, tmp_path: Path) -> None:
    """The title is embedded with every passage: changing only it is a change to index."""
    from indexer.memo import RebuildMemo

    ix, cache = tmp_path / "ix", tmp_path / "cache.sqlite"
    md, doc_id = sample_kb / "policies" / "coin-refunds.md", "policies/coin-refunds.md"
    memo = RebuildMemo()
    build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8, memo=memo)
    old = "Coin Refund Policy"
    for new, kwargs in (
        ("Coin Money Back", {"memo": memo}),
        ("Coin Cash Back", {"cache_path": cache}),
    ):
        md.write_text(md.read_text().replace(f"title: {old}", f"title: {new}"))
        again = build_index(sample_kb, ix, fake_embedder, max_tokens=60, min_tokens=8, **kwargs)
        assert not again.unchanged
        s = Searcher(ix, fake_embedder)
        titles = {d["doc_id"]: d["title"] for d in s.list_documents()}
        embedded = [c["embed_text"] for c in s.chunks() if c["doc_id"] == doc_id]
        s.close()
        assert titles[doc_id] == new
        assert embedded and all(t.startswith(new) for t in embedded)
        old = new


def test_a_passage_the_corpus_repeats_is_pooled_once(
    tmp_path: Path, fake_embedder, monkeypatch
) -> None:
    """Pooled windows (the early generation's) ran every copy of a repeated passage through
    the model: a 5 MB export of one boilerplate paragraph took minutes, not seconds."""
    kb = tmp_path / "kb"
    kb.mkdir()
    para = "Refunds are processed within five business days. Agents must not promise a date."
    body = "\n\n".join(f"## Notice\n\n{para}" for _ in range(40))
    (kb / "notices.md").write_text(f"# Notices\n\n{body}\n", encoding="utf-8")
    (kb / "other.md").write_text("# Other\n\nPayouts are weekly. Bank transfer only.\n")
    ran: list[int] = []
    real = type(fake_embedder).encode_with_spans

    def counting(self, texts, spans):
        ran.append(len(texts))
        return real(self, texts, spans)

    monkeypatch.setattr(type(fake_embedder), "encode_with_spans", counting)
    report = build_index(
        kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8, windows="pooled"
    )
    assert report.chunks >= 40
    assert sum(ran) == report.embedded <= 4  # distinct passages only
    s = Searcher(tmp_path / "ix", fake_embedder)
    hits = s.search("refunds processed five business days", top_k=3).results
    assert hits and hits[0].highlight.text  # copies got their windows too
