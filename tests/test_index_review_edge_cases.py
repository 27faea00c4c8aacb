"""Indexing review with real-world files (/tmp/idx-review): what a knowledge manager's folder
holds that the loaders mishandled. Each test failed before its fix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexer.build import build_index
from indexer.errors import DocumentLoadError
from indexer.files import visible_files
from indexer.loaders import html, load_directory, load_file
from indexer.stat_cache import StatCache

BODY = "# Coin refunds\n\nCoins are refundable within 14 days.\n"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- symbolic link loops


def test_symlink_loop_is_reported_not_silently_dropped(tmp_path: Path) -> None:
    """A link loop was left out of the walk without a word (a dangling link was reported)."""
    _write(tmp_path / "good.md", BODY)
    os.symlink("loop-b.md", tmp_path / "loop-a.md")
    os.symlink("loop-a.md", tmp_path / "loop-b.md")
    assert [p.name for p, _ in visible_files(tmp_path)] == ["good.md", "loop-a.md", "loop-b.md"]
    documents, skipped = load_directory(tmp_path)
    assert [d.doc_id for d in documents] == ["good.md"]
    assert {s.path: s.reason for s in skipped} == {
        "loop-a.md": "symbolic link loop (the link leads back to itself)",
        "loop-b.md": "symbolic link loop (the link leads back to itself)",
    }


def test_symlink_loop_does_not_fail_the_build(tmp_path: Path, fake_embedder) -> None:
    """With the stat cache a build keeps, a listed link loop must not end the whole build
    (os.stat raises ELOOP, not FileNotFoundError)."""
    kb = tmp_path / "kb"
    kb.mkdir()
    _write(kb / "good.md", BODY)
    os.symlink("loop-b.md", kb / "loop-a.md")
    os.symlink("loop-a.md", kb / "loop-b.md")
    cache = tmp_path / "cache.sqlite"
    documents, skipped = load_directory(kb, stats=StatCache(cache))
    assert [d.doc_id for d in documents] == ["good.md"]
    assert [s.path for s in skipped] == ["loop-a.md", "loop-b.md"]
    report = build_index(
        kb, tmp_path / "ix", fake_embedder, max_tokens=60, min_tokens=8, cache_path=cache
    )
    assert report.documents == 1
    assert [s.path for s in report.skipped] == ["loop-a.md", "loop-b.md"]


def test_dangling_link_still_says_its_target_is_missing(tmp_path: Path) -> None:
    os.symlink("missing.md", tmp_path / "dangling.md")
    with pytest.raises(DocumentLoadError, match="broken symbolic link"):
        load_file(tmp_path / "dangling.md", tmp_path)


# ---------------------------------------------------------------- metadata sidecars


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_sidecar_is_read(tmp_path: Path, encoding: str) -> None:
    """Windows PowerShell 5's `>` and Out-File write UTF-16 with a byte-order mark: such a
    sidecar made its file skipped ('unreadable metadata sidecar'), though a UTF-16 text file
    itself is read."""
    _write(tmp_path / "sop.txt", "Escalate to tier 2 after 48 hours.\n")
    text = "title: Escalation SOP\r\naccess_groups: [tier2]\r\n"
    data = text.encode(encoding)
    if encoding != "utf-16":  # Python's "utf-16" writes its own BOM
        data = "\ufeff".encode(encoding) + data
    (tmp_path / "sop.txt.meta.yaml").write_bytes(data)
    doc = load_file(tmp_path / "sop.txt", tmp_path)
    assert doc.title == "Escalation SOP"
    assert doc.metadata["access_groups"] == ["tier2"]


def test_undecodable_sidecar_names_the_sidecar_and_the_fix(tmp_path: Path) -> None:
    _write(tmp_path / "sop.txt", "Escalate.\n")
    (tmp_path / "sop.txt.meta.yaml").write_bytes("title: Caf\u00e9\n".encode("latin-1"))
    with pytest.raises(DocumentLoadError) as info:
        load_file(tmp_path / "sop.txt", tmp_path)
    assert info.value.reason.startswith("unreadable metadata sidecar sop.txt.meta.yaml:")
    assert "not valid UTF-8" in info.value.reason
    assert "codec" not in info.value.reason


# ---------------------------------------------------------------- YAML error messages


def test_front_matter_yaml_error_is_one_line_with_the_files_line_number(tmp_path: Path) -> None:
    """The reason was PyYAML's multi-line report: '<unicode string>', a caret line, and line
    numbers counted from inside the front matter (line 2 for the file's line 3)."""
    path = _write(tmp_path / "a.md", f"---\ntitle: Tabs\n\tdoc_type: policy\n---\n{BODY}")
    with pytest.raises(DocumentLoadError) as info:
        load_file(path, tmp_path)
    reason = info.value.reason
    assert "\n" not in reason and "<unicode string>" not in reason and "^" not in reason
    assert reason.startswith("invalid YAML in front matter at line 3, column 1:")
    assert "tab" in reason


def test_a_field_given_twice_with_different_values_is_refused_with_both_lines(
    tmp_path: Path,
) -> None:
    """PyYAML kept the last of two effective dates without a word: which date a policy is in
    force from was an accident of line order."""
    text = (
        "---\ntitle: Dup\neffective_date: 2025-01-01\nowner_team: Ops\n"
        "effective_date: 2025-06-01\n---\n"
    )
    path = _write(tmp_path / "a.md", text + BODY)
    with pytest.raises(DocumentLoadError) as info:
        load_file(path, tmp_path)
    reason = info.value.reason
    assert reason.startswith("invalid YAML in front matter at line 3, column 1:")
    assert "'effective_date'" in reason and "line 5" in reason and "keep one" in reason


def test_a_field_repeated_with_the_same_value_is_harmless(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", "Text.\n")
    _write(tmp_path / "a.txt.meta.yaml", "title: Ok\ntags: [refunds]\ntags: [refunds]\n")
    assert load_file(tmp_path / "a.txt", tmp_path).metadata["tags"] == ["refunds"]


def test_sidecar_yaml_error_names_its_own_line(tmp_path: Path) -> None:
    _write(tmp_path / "a.txt", "Text.\n")
    _write(tmp_path / "a.txt.meta.yaml", 'title: Ok\nowner_team: "Payments\n')
    with pytest.raises(DocumentLoadError) as info:
        load_file(tmp_path / "a.txt", tmp_path)
    reason = info.value.reason
    assert "\n" not in reason and "<unicode string>" not in reason
    assert reason.startswith("invalid YAML in metadata sidecar a.txt.meta.yaml at line 2")


# ---------------------------------------------------------------- status and version links


def test_status_is_read_case_insensitively(tmp_path: Path) -> None:
    """'status: Superseded' was kept as written, and the in-force rule (status ==
    'superseded') then took a retired policy for a current one."""
    path = _write(tmp_path / "old.md", f"---\nstatus: Superseded\n---\n{BODY}")
    assert load_file(path, tmp_path).metadata["status"] == "superseded"
    path = _write(tmp_path / "new.md", f"---\nstatus: ' ACTIVE '\n---\n{BODY}")
    assert load_file(path, tmp_path).metadata["status"] == "active"


@pytest.mark.parametrize("field", ["supersedes", "superseded_by"])
def test_version_link_to_the_document_itself_is_refused(tmp_path: Path, field: str) -> None:
    """A document naming itself as its own successor was indexed and then never shown: the
    in-force rule retired it in favour of itself. Now it is skipped with the reason."""
    (tmp_path / "policies").mkdir()
    path = _write(tmp_path / "policies" / "p.md", f"---\n{field}: policies/p.md\n---\n{BODY}")
    _write(tmp_path / "other.md", f"---\n{field}: policies/p.md\n---\n{BODY}")
    documents, skipped = load_directory(tmp_path)
    assert [d.doc_id for d in documents] == ["other.md"]
    assert [(s.path, s.reason) for s in skipped] == [
        ("policies/p.md", f"{field} names the document itself (policies/p.md)")
    ]
    assert path.exists()


# ---------------------------------------------------------------- Markdown front matter


@pytest.mark.parametrize("opening", ["---\n---\n", "---\n...\n", "---\r\n---\r\n"])
def test_empty_front_matter_is_not_text(tmp_path: Path, opening: str) -> None:
    """Jekyll's empty front matter ('---' twice) stayed in the text and the title fell back
    to the file name."""
    path = tmp_path / "a.md"
    path.write_bytes((opening + BODY).encode())
    doc = load_file(path, tmp_path)
    assert doc.text == BODY
    assert doc.title == "Coin refunds"


@pytest.mark.parametrize("opening", ["--- \n", "---\t\n", "---  \r\n"])
def test_front_matter_whose_opening_line_ends_in_blanks_is_read(
    tmp_path: Path, opening: str
) -> None:
    """'--- ' (an editor's trailing space) made the whole block body text: its version lost
    and the YAML indexed and cited as policy."""
    path = tmp_path / "a.md"
    path.write_bytes((opening + 'title: Spaced\nversion: "5"\n---\n' + BODY).encode())
    doc = load_file(path, tmp_path)
    assert doc.text == BODY
    assert (doc.title, doc.metadata["version"]) == ("Spaced", "5")


def test_front_matter_never_closed_is_refused_not_indexed_as_text(tmp_path: Path) -> None:
    """Its fields (a 'status: superseded', an effective date) were silently dropped and the
    YAML served as the policy's first passage."""
    path = _write(tmp_path / "a.md", "---\ntitle: Open\nstatus: superseded\n\n" + BODY)
    with pytest.raises(DocumentLoadError) as info:
        load_file(path, tmp_path)
    assert info.value.reason == (
        "front matter opened on line 1 is never closed (no '---' line after it)"
    )


def test_a_thematic_break_first_is_not_front_matter(tmp_path: Path) -> None:
    text = "---\n\n" + BODY
    assert load_file(_write(tmp_path / "a.md", text), tmp_path).text == text


# ---------------------------------------------------------------- HTML tables


def test_html_rowspan_cell_is_repeated_on_the_rows_it_spans() -> None:
    """'US | 30 days' lost the 'Coins' its row belongs to; a DOCX's merged cell is repeated."""
    page = b"""<table>
    <tr><th>Product</th><th>Market</th><th>Window</th></tr>
    <tr><td rowspan="3">Coins</td><td>EU</td><td>14 days</td></tr>
    <tr><td>US</td><td rowspan=2>30 days</td></tr>
    <tr><td>BR</td></tr>
    <tr><td>Gifts</td><td>all</td><td>none</td></tr>
    </table>"""
    assert html.parse(page).text.splitlines() == [
        "Product | Market | Window",
        "Coins | EU | 14 days",
        "Coins | US | 30 days",
        "Coins | BR | 30 days",
        "Gifts | all | none",
    ]


def test_html_rowspan_with_colspan_and_bad_values() -> None:
    page = b"""<table>
    <tr><td rowspan="2" colspan="2">Coins, all markets</td><td>14 days</td></tr>
    <tr><td>30 days</td></tr>
    <tr><td rowspan="x">A</td><td rowspan="0">B</td><td rowspan="99999">C</td></tr>
    <tr><td>D</td></tr>
    </table>
    <table><tr><td>Next table</td></tr></table>"""
    assert [line for line in html.parse(page).text.splitlines() if line] == [
        "Coins, all markets | 14 days",
        "Coins, all markets | 30 days",
        "A | B | C",
        "D | B | C",
        "Next table",
    ]


def test_a_file_that_cannot_be_stated_is_hashed_by_reading_it(tmp_path: Path) -> None:
    """The stat cache caught only "not found": a link loop's "too many levels of symbolic
    links" ended the build there (the loader now reads such a path to say why)."""
    from indexer.stat_cache import _stat

    loop = tmp_path / "loop.md"
    loop.symlink_to(tmp_path / "loop.md")
    assert _stat(str(loop)) is None
    assert _stat(str(tmp_path / "gone.md")) is None
    assert _stat(str(tmp_path)) is not None


def test_a_linked_folder_is_named_at_build_time(tmp_path: Path) -> None:
    """A symbolic link to a folder is not followed (it can loop or lead out of the knowledge
    base); its files were left out without a word, unlike a dangling link to a file."""
    from indexer.build import linked_folders

    kb = tmp_path / "kb"
    (kb / "faqs").mkdir(parents=True)
    (kb / "faqs" / "a.md").write_text("# A\n\nText.\n", encoding="utf-8")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "b.md").write_text("# B\n\nText.\n", encoding="utf-8")
    (kb / "faqs" / "linked").symlink_to(shared, target_is_directory=True)
    (kb / ".hidden").symlink_to(shared, target_is_directory=True)
    assert [p.split(":")[0] for p in linked_folders(kb)] == ["faqs/linked"]


def test_identical_documents_are_named_at_build_time() -> None:
    """Four copies of one FAQ filled the first four results with one passage, unwarned."""
    from indexer.build import SHOWN_PROBLEMS, identical_documents
    from indexer.documents import Document

    def doc(doc_id: str, text: str) -> Document:
        return Document(doc_id, doc_id, text, doc_id, "md")

    docs = [doc(f"copy{i}.md", "Delete an account in Settings.") for i in range(6)]
    docs.append(doc("other.md", "Something else."))
    (line,) = identical_documents(docs)
    assert line.startswith("copy0.md: the same text as copy1.md, copy2.md, copy3.md and 2 more")
    many = [doc(f"{i}-{j}.md", f"text {i}") for i in range(SHOWN_PROBLEMS + 3) for j in (0, 1)]
    found = identical_documents(many)
    assert len(found) == SHOWN_PROBLEMS + 1 and found[-1].startswith("... and 3 more")
