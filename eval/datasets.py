"""Read labelled sets in the shape of ``../shared/datasets`` (BEIR-like) or a kb/ folder.

A dataset folder holds ``corpus.jsonl`` (or, like ``kb/``, the documents themselves),
``queries[.SPLIT].jsonl``, ``qrels[.SPLIT].tsv`` with a header line, and optionally
``evidence[.SPLIT].jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from indexer.documents import Document
from indexer.errors import KBError
from indexer.loaders import load_directory
from indexer.loaders.common import sections_from_headings
from indexer.loaders.markdown import parse as parse_markdown
from indexer.loaders.metadata import normalise


@dataclass
class Dataset:
    """Documents, queries ``{qid: text}``, qrels ``{qid: {doc_id: rel}}`` and evidence."""

    name: str
    split: str | None
    documents: list[Document]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]
    evidence: dict[str, list[str]] = field(default_factory=dict)
    unanswerable: set[str] = field(default_factory=set)

    @property
    def corpus_hash(self) -> str:
        """Changes whenever any document's text or metadata changes (the index cache key)."""
        digest = hashlib.sha256()
        for doc in sorted(self.documents, key=lambda d: d.doc_id):
            digest.update(doc.doc_id.encode())
            digest.update(doc.content_hash.encode())
        return digest.hexdigest()[:16]


def _jsonl(path: Path) -> list[dict]:
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def _suffix(split: str | None) -> str:
    return f".{split}" if split else ""


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query_id doc_id relevance`` rows after a header line."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or lines[0].split("\t")[:2] != ["query_id", "doc_id"]:
        raise KBError(f"{path} must start with the header 'query_id<TAB>doc_id<TAB>relevance'")
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise KBError(f"{path}:{number}: expected 3 tab-separated fields")
        qrels[parts[0]][parts[1]] = int(parts[2])
    return dict(qrels)


def corpus_documents(path: Path) -> list[Document]:
    """Documents of a corpus.jsonl; '##' headings in the text become sections."""
    documents = []
    for row in _jsonl(path):
        parsed = parse_markdown(row["text"].encode("utf-8"))
        meta = {k: v for k, v in row.items() if k in ("url",)}
        documents.append(
            Document(
                doc_id=str(row["doc_id"]),
                title=row.get("title") or str(row["doc_id"]),
                text=parsed.text,
                source=row.get("url") or f"{path.name}#{row['doc_id']}",
                format="md",
                sections=sections_from_headings(parsed.text, parsed.headings),
                metadata=normalise(meta),
            )
        )
    return documents


def dataset_name(folder: Path) -> str:
    """The folder's own name, also for "." or "kb/": results and baselines are matched by it."""
    return Path(os.path.abspath(folder)).name


def load_dataset(folder: Path, split: str | None = None, corpus: str = "corpus.jsonl") -> Dataset:
    """Load a labelled set; without ``split`` the unsuffixed files are read."""
    folder = Path(folder)
    queries_path = folder / f"queries{_suffix(split)}.jsonl"
    qrels_path = folder / f"qrels{_suffix(split)}.tsv"
    for needed in (queries_path, qrels_path):
        if not needed.is_file():
            raise KBError(f"dataset {folder} has no {needed.name}")
    if (folder / corpus).is_file():
        documents = corpus_documents(folder / corpus)
    else:
        documents, _skipped = load_directory(folder)
    rows = _jsonl(queries_path)
    queries = {str(r["query_id"]): r["text"] for r in rows}
    unanswerable = {
        str(r["query_id"])
        for r in rows
        if r.get("answerable") is False or r.get("not_answerable") is True
    }
    evidence: dict[str, list[str]] = defaultdict(list)
    evidence_path = folder / f"evidence{_suffix(split)}.jsonl"
    if evidence_path.is_file():
        for r in _jsonl(evidence_path):
            evidence[str(r["query_id"])].extend(r.get("evidence") or [])
    return Dataset(
        name=dataset_name(folder),
        split=split,
        documents=documents,
        queries=queries,
        qrels=read_qrels(qrels_path),
        evidence=dict(evidence),
        unanswerable=unanswerable,
    )
