"""Read labelled sets in the shape of ``../shared/datasets`` (BEIR-like) or a kb/ folder.

A dataset folder holds ``corpus.jsonl`` (or, like ``kb/``, the documents themselves),
``queries[.SPLIT].jsonl``, ``qrels[.SPLIT].tsv`` with a header line, and optionally
``evidence[.SPLIT].jsonl``.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
import os
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.metrics import normalise_ws
from indexer.documents import Document
from indexer.errors import DatasetError
from indexer.inputs import as_typed_plainly, is_blank, is_text, without_controls
from indexer.loaders import load_directory
from indexer.loaders.common import sections_from_headings
from indexer.loaders.markdown import parse as parse_markdown
from indexer.loaders.metadata import normalise

logger = logging.getLogger(__name__)


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
    # (document the evidence row names, or "" for any, string) per question: a string counts
    # only in a passage of its document ("surgery" is in other pages too).
    evidence_docs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    labels_from: list[str] = field(default_factory=list)  # the files read, for the report

    def evidence_of(self, qid: str) -> list[tuple[str, str]]:
        """(document or "", string) of a question's evidence."""
        if qid in self.evidence_docs:
            return self.evidence_docs[qid]
        return [("", text) for text in self.evidence.get(qid, [])]

    @property
    def labels_hash(self) -> str:
        """Changes whenever a question, a judgement, an evidence string or an answerable flag
        does: a baseline measured on other labels is told apart from a retrieval change."""
        digest = hashlib.sha256()
        for qid in sorted(self.queries):
            row = [
                qid,
                self.queries[qid],
                qid in self.unanswerable,
                sorted(self.qrels.get(qid, {}).items()),
                sorted(self.evidence_of(qid)),
            ]
            digest.update(json.dumps(row, ensure_ascii=False).encode())
        return digest.hexdigest()[:16]

    @property
    def corpus_hash(self) -> str:
        """Changes whenever any document's text or metadata changes (the index cache key)."""
        digest = hashlib.sha256()
        for doc in sorted(self.documents, key=lambda d: d.doc_id):
            digest.update(doc.doc_id.encode())
            digest.update(doc.content_hash.encode())
        return digest.hexdigest()[:16]


_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # JSON Lines' breaks (see _lines)


def _read(path: Path) -> str:
    """A dataset file's text (UTF-8, a byte-order mark allowed), or an error naming the file
    and, for bytes that are not UTF-8, the line they are on (a byte offset alone sent the
    evaluator counting through the file)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        start = exc.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        line = len(_LINE_BREAK.findall(data[:start].decode("utf-8", errors="replace"))) + 1
        raise DatasetError(
            f"{path}:{line}: not UTF-8 text (byte {start}, {data[start : start + 1]!r}; "
            "save the file as UTF-8)"
        ) from None


def _lines(text: str) -> list[str]:
    """A file's lines, split at line feeds and carriage returns only. ``str.splitlines`` also
    splits at U+2028, U+2029 and U+0085, which JSON allows inside a string (``json.dumps(...,
    ensure_ascii=False)`` writes them as they are): a valid line holding one was refused as
    broken JSON, and every later line number was off by one."""
    return _LINE_BREAK.split(text)


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a broken line is named, file and line,
    before any indexing starts (a byte-order mark, as some editors write, is allowed)."""
    rows = []
    text = _read(path)
    for number, line in enumerate(_lines(text), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        except RecursionError:  # "[[[[..." deeper than the parser goes: not a traceback
            raise DatasetError(f"{path}:{number}: JSON nested too deep") from None
        if not isinstance(row, dict):
            raise DatasetError(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        if not _all_text(row):
            raise DatasetError(
                f"{path}:{number}: holds half a character, a \\u escape of an unpaired UTF-16 "
                "surrogate (as a string cut inside an emoji leaves): valid JSON, but not text"
            )
        rows.append((number, row))
    return rows


def _all_text(value: Any) -> bool:
    """Whether every string of a decoded JSON value (keys too) is text: ``"\\ud83d"`` is
    valid JSON that no UTF-8 encoder takes, and it failed as a traceback while hashing the
    labels, or as a failed search after the indexing."""
    if isinstance(value, str):
        return is_text(value)
    if isinstance(value, dict):
        return all(is_text(k) and _all_text(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_all_text(v) for v in value)
    return True


def _field(row: dict[str, Any], names: tuple[str, ...], where: str) -> Any:
    """The first of ``names`` the row has (ours, then BEIR's spelling), or an error naming it."""
    for name in names:
        if row.get(name) is not None:
            return row[name]
    raise DatasetError(f"{where}: missing field {names[0]!r}")


def _text(row: dict[str, Any], where: str) -> str:
    value = _field(row, ("text",), where)
    if not isinstance(value, str):
        raise DatasetError(f"{where}: 'text' must be a string, got {type(value).__name__}")
    return value


def _suffix(split: str | None) -> str:
    return f".{split}" if split else ""


QRELS_HEADERS = (["query_id", "doc_id"], ["query-id", "corpus-id"])  # ours, BEIR's


def _relevance(value: str, where: str) -> int:
    """An integer grade; "1.0" is 1, anything else that is not a whole number is an error."""
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number.is_integer():
        raise DatasetError(f"{where}: relevance must be a whole number, got {value!r}")
    return int(number)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query_id doc_id relevance`` rows after a header line; a pair judged twice is an error
    (the later row would silently replace the earlier, 1 then 0 dropping the question)."""
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    seen: dict[tuple[str, str], int] = {}
    lines = _lines(_read(path))
    if not lines or [h.strip() for h in lines[0].split("\t")[:2]] not in QRELS_HEADERS:
        first = lines[0] if lines else ""
        raise DatasetError(
            f"{path}:1: must start with the header 'query_id<TAB>doc_id<TAB>relevance'; "
            + (f"its first line is {first[:80]!r}" if first.strip() else "it is empty")
            + _header_hint(first)
        )
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("\t")]
        if len(parts) != 3:
            raise DatasetError(
                f"{path}:{number}: expected 3 tab-separated fields (query_id, doc_id, "
                f"relevance), got {len(parts)}: {line[:80]!r}" + _fields_hint(parts)
            )
        pair = (parts[0], parts[1])
        if pair in seen:
            raise DatasetError(
                f"{path}:{number}: {pair[0]} -> {pair[1]} is judged again (line {seen[pair]})"
            )
        seen[pair] = number
        qrels[parts[0]][parts[1]] = _relevance(parts[2], f"{path}:{number}")
    return dict(qrels)


def _header_hint(first: str) -> str:
    """Why a qrels file's first line is not the header, where the usual slips show: the
    header left out (a judgement in its place), spaces or commas for tabs, pandas' index."""
    fields = first.split("\t")
    if len(fields) == 3 and fields[0] not in ("query_id", "query-id"):
        return " (a judgement: add the header line above it)"
    if "\t" not in first and ("," in first or " " in first.strip()):
        return " (the fields must be separated by tabs)"
    if len(fields) == 4 and not fields[0].strip():
        return " (a leading index column, as pandas writes: to_csv(..., index=False))"
    return ""


def _fields_hint(parts: list[str]) -> str:
    """The likely slip behind a judgement line of another shape than three fields."""
    if len(parts) > 3 and not any(parts[3:]):
        return " (a tab after the last field)"
    if len(parts) == 4:
        return " (TREC's 'query Q0 doc relevance' has 4: drop the second)"
    return ""


def corpus_documents(path: Path) -> list[Document]:
    """Documents of a corpus.jsonl; '##' headings in the text become sections."""
    documents = []
    seen: dict[str, int] = {}
    for number, row in _jsonl(path):
        where = f"{path}:{number}"
        doc_id = str(_field(row, ("doc_id", "_id"), where))
        if doc_id in seen:
            raise DatasetError(f"{where}: doc_id {doc_id!r} already used on line {seen[doc_id]}")
        seen[doc_id] = number
        parsed = parse_markdown(_text(row, where).encode("utf-8"))
        meta = {k: v for k, v in row.items() if k in ("url",)}
        documents.append(
            Document(
                doc_id=doc_id,
                title=str(row.get("title") or doc_id),
                text=parsed.text,
                source=row.get("url") or f"{path.name}#{doc_id}",
                format="md",
                sections=sections_from_headings(parsed.text, parsed.headings),
                metadata=normalise(meta),
            )
        )
    return documents


def read_queries(path: Path) -> tuple[dict[str, str], set[str]]:
    """``{query_id: text}`` and the ids marked unanswerable; an empty or repeated question is
    an error here, not a failed search after minutes of indexing."""
    queries: dict[str, str] = {}
    unanswerable: set[str] = set()
    for number, row in _jsonl(path):
        where = f"{path}:{number}"
        qid = str(_field(row, ("query_id", "_id"), where))
        text = _text(row, where)
        if is_blank(without_controls(as_typed_plainly(text))):  # as search reads it:
            # "\u200b" and "\x00" are empty too (a failed run after the indexing, otherwise)
            raise DatasetError(f"{where}: question {qid!r} is empty")
        if qid in queries:
            raise DatasetError(f"{where}: query_id {qid!r} is repeated")
        queries[qid] = text
        for name in ("answerable", "not_answerable"):
            if name in row and not isinstance(row[name], bool):  # "false" and 0 were ignored
                raise DatasetError(
                    f"{where}: {name!r} must be true or false (a JSON boolean), "
                    f"got {json.dumps(row[name])}"
                )
        if row.get("answerable") is False or row.get("not_answerable") is True:
            unanswerable.add(qid)
    return queries, unanswerable


def read_evidence(path: Path) -> tuple[dict[str, list[str]], list[tuple[str, str, str]]]:
    """Evidence strings per question, and every (question, document its row names or "",
    string) as written; one string alone is a list of one (extending a list by a string would
    add its characters, and every passage holds some letter)."""
    evidence: dict[str, list[str]] = defaultdict(list)
    named: list[tuple[str, str, str]] = []
    for number, row in _jsonl(path):
        where = f"{path}:{number}"
        value = row.get("evidence") or []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DatasetError(f"{where}: 'evidence' must be a list of strings")
        if any(not v.strip() for v in value):  # scored, it counted as a miss on every run
            raise DatasetError(f"{where}: an evidence string is blank")
        qid = str(_field(row, ("query_id",), where))
        evidence[qid].extend(value)
        named.extend((qid, str(row.get("doc_id") or ""), v) for v in value)
    return dict(evidence), named


def dataset_name(folder: Path) -> str:
    """The folder's own name, also for "." or "kb/": results and baselines are matched by it."""
    return Path(os.path.abspath(folder)).name


def judgements_of(folder: Path, stem: str, split: str | None, ext: str) -> Path | None:
    """The split's own qrels or evidence file, else those of the split it extends.

    A split that re-words the same questions, such as ConditionalQA's ``dev_with_scenario``
    (same ids as ``dev``, the asker's scenario prepended), shares its judgements: the longest
    ``_``-prefix with a file of its own is used. A split never takes the unsuffixed files: a
    ``queries.test.jsonl`` without ``qrels.test.tsv`` was scored against ``qrels.tsv``, the
    labels of other questions with the same ids, without a word.
    """
    if not split:
        path = folder / f"{stem}{ext}"
        return path if path.is_file() else None
    parts = split.split("_")
    for n in range(len(parts), 0, -1):
        path = folder / f"{stem}{_suffix('_'.join(parts[:n]))}{ext}"
        if path.is_file():
            if n < len(parts):
                logger.info("%s split %s: judgements read from %s", folder, split, path.name)
            return path
    return None


QUERIES_FILE = re.compile(r"queries(?:\.([^.]+))?\.jsonl")


def splits_of(folder: Path) -> list[str | None]:
    """The splits a folder has questions for (None: the unsuffixed queries.jsonl), by the
    file names ``load_dataset`` reads: queries_old.jsonl or queries.dev.v2.jsonl are none."""
    found = []
    for path in sorted(Path(folder).glob("queries*.jsonl")):
        match = QUERIES_FILE.fullmatch(path.name)
        if match:
            found.append(match.group(1))
    return found


def _no_split(folder: Path, queries_path: Path) -> DatasetError:
    """Why a split cannot be read, naming the splits the folder has."""
    if not folder.exists():
        return DatasetError(f"dataset {folder} does not exist")
    if not folder.is_dir():
        return DatasetError(f"dataset {folder} is not a folder (name the folder of queries.jsonl)")
    splits = splits_of(folder)
    if not splits:
        return DatasetError(
            f"dataset {folder} has no {queries_path.name} (no queries*.jsonl at all)"
        )
    names = ", ".join(s or "(none: omit --split)" for s in splits)
    return DatasetError(
        f"dataset {folder} has no {queries_path.name} (its splits: {names}; pass one with --split)"
    )


def load_dataset(folder: Path, split: str | None = None, corpus: str = "corpus.jsonl") -> Dataset:
    """Load a labelled set; without ``split`` the unsuffixed files are read.

    A set that can measure nothing (no documents, no questions, no question with a document
    judged relevant and none marked unanswerable) is an error here: run, it would report
    zeros or "n/a", and against a baseline a regression, for what is a fault in the data.
    """
    folder = Path(folder)
    queries_path = folder / f"queries{_suffix(split)}.jsonl"
    if not queries_path.is_file():
        raise _no_split(folder, queries_path)
    qrels_path = judgements_of(folder, "qrels", split, ".tsv")
    if qrels_path is None:
        raise DatasetError(f"dataset {folder} has no qrels{_suffix(split)}.tsv")
    if (folder / corpus).is_file():
        documents = corpus_documents(folder / corpus)
        if not documents:
            raise DatasetError(f"{folder / corpus} has no documents")
    else:
        documents, _skipped = load_directory(folder)
        if not documents:
            raise DatasetError(f"dataset {folder} has no {corpus} and no documents of its own")
    queries, unanswerable = read_queries(queries_path)
    if not queries:
        raise DatasetError(f"{queries_path} has no questions")
    evidence_path = judgements_of(folder, "evidence", split, ".jsonl")
    if evidence_path is None and split and (folder / "evidence.jsonl").is_file():
        # not an error, as a missing qrels file is (evidence is optional), but not silence:
        # the evidence metrics vanished from the run without a word
        logger.warning(
            "%s: evidence.jsonl is not read for split %s (it labels queries.jsonl); name this "
            "split's evidence evidence.%s.jsonl: this run has no evidence metrics",
            folder,
            split,
            split,
        )
    evidence, named = read_evidence(evidence_path) if evidence_path else ({}, [])
    qrels = read_qrels(qrels_path)
    own = (f"qrels{_suffix(split)}.tsv", f"evidence{_suffix(split)}.jsonl")
    for path, keyed in ((qrels_path, qrels), (evidence_path, evidence)):
        if path is not None and path.name in own:  # not a split's it borrows from
            _warn_unknown_questions(keyed, queries, path, queries_path)
    evidence = {qid: found for qid, found in evidence.items() if qid in queries}
    evidence_docs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for qid, doc_id, text in named:
        if qid in queries:
            evidence_docs[qid].append((doc_id, text))
    _warn_contradictions(unanswerable, qrels, queries_path, qrels_path)
    if not unanswerable and not any(
        rel > 0 for qid in queries for rel in qrels.get(qid, {}).values()
    ):
        raise DatasetError(
            f"{qrels_path}: no question of {queries_path.name} has a document judged relevant "
            "(relevance > 0) and none is marked unanswerable: nothing to measure"
        )
    _warn_dangling(qrels, queries, documents, qrels_path)
    if evidence_path is not None:
        asked = [row for row in named if row[0] in queries]
        _warn_unfound_evidence(asked, documents, evidence_path)
    return Dataset(
        name=dataset_name(folder),
        split=split,
        documents=documents,
        queries=queries,
        qrels=qrels,
        evidence=evidence,
        unanswerable=unanswerable,
        evidence_docs=dict(evidence_docs),
        labels_from=[p.name for p in (queries_path, qrels_path, evidence_path) if p is not None],
    )


def _warn_dangling(
    qrels: dict[str, dict[str, int]],
    queries: dict[str, str],
    documents: list[Document],
    path: Path,
) -> None:
    """A judgement naming a document the corpus lacks, or one with no text (no passage to
    find), can only ever count as a miss (a typo in an id would read as a retrieval failure),
    so the evaluator hears of it."""
    texts = {doc.doc_id: doc.text for doc in documents}
    judged = sorted(
        (qid, doc_id)
        for qid, found in qrels.items()
        if qid in queries
        for doc_id, rel in found.items()
        if rel > 0
    )
    for what, pairs in (
        ("name documents that are not in the corpus", [p for p in judged if p[1] not in texts]),
        ("name documents with no text", [p for p in judged if not texts.get(p[1], "x").strip()]),
    ):
        examples = [f"{q} -> {d}" for q, d in pairs]
        _warn_misses(path, f"{len(pairs)} judgement(s) {what}", examples, 5)


def _warn_contradictions(
    unanswerable: set[str], qrels: dict[str, dict[str, int]], queries_path: Path, path: Path
) -> None:
    """A question marked unanswerable that also has a document judged relevant is scored as
    unanswerable; one of the two labels is a slip, so the evaluator hears of it."""
    both = sorted(q for q in unanswerable if any(r > 0 for r in qrels.get(q, {}).values()))
    if both:
        logger.warning(
            "%s marks %d question(s) unanswerable that %s judges a document relevant for "
            "(%s): they are scored as unanswerable",
            queries_path,
            len(both),
            path.name,
            _some(both),
        )


def _warn_misses(path: Path, what: str, examples: list[str], shown: int) -> None:
    """Tell the evaluator that ``what`` (labels no search can satisfy) will only count as
    misses, with the first ``shown`` of the ``examples``; nothing when there are none."""
    if examples:
        more = " ..." if len(examples) > shown else ""
        logger.warning(
            "%s: %s and can only count as misses (%s%s)",
            path,
            what,
            "; ".join(examples[:shown]),
            more,
        )


def unfound_evidence(
    named: list[tuple[str, str, str]], documents: list[Document]
) -> list[tuple[str, str]]:
    """(question, evidence string) of the ``named`` rows (question, document or "", string)
    whose string no passage can ever contain: it is not in the document named (or that
    document is not in the corpus), or, naming none, in no document. Whitespace is
    normalised, as the metric does."""
    texts = {d.doc_id: normalise_ws(d.text) for d in documents}
    everything: str | None = None
    out = []
    for qid, doc_id, text in named:
        wanted = normalise_ws(text)
        if not wanted:
            continue
        if doc_id:
            found = wanted in texts.get(doc_id, "")
        else:
            everything = everything or "\n".join(texts.values())
            found = wanted in everything
        if not found:
            out.append((qid, text))
    return out


def _warn_unfound_evidence(
    named: list[tuple[str, str, str]], documents: list[Document], path: Path
) -> None:
    """Evidence that is not verbatim in its document can only count as a miss, so a labelling
    slip would read as a retrieval failure: the evaluator hears of it."""
    unfound = unfound_evidence(named, documents)
    _warn_misses(
        path,
        f"{len(unfound)} evidence string(s) are not in the document they name (or in any, "
        "naming none)",
        [f"{q}: {t[:60]!r}" for q, t in unfound],
        3,
    )


def _warn_unknown_questions(
    keyed: dict[str, Any], queries: dict[str, str], path: Path, queries_path: Path
) -> None:
    """Rows of a split's own qrels or evidence for questions it does not have are ignored;
    ids spelled otherwise ("Q-1" for "q1") would drop every evidence metric unseen."""
    unknown = sorted(qid for qid in keyed if qid not in queries)
    if unknown:
        known = {unicodedata.normalize("NFC", q) for q in queries}
        lookalike = any(unicodedata.normalize("NFC", q) in known for q in unknown)
        logger.warning(
            "%s names %d question(s) not in %s (%s); their rows are ignored%s",
            path,
            len(unknown),
            queries_path.name,
            _some(unknown),
            " (some differ from a question's id only in how Unicode composes its letters: "
            "save both files in the same normal form, NFC)"
            if lookalike
            else "",
        )


def _some(ids: list[str], shown: int = 5) -> str:
    """The first ``shown`` ids, and " ..." when there are more."""
    return ", ".join(ids[:shown]) + (" ..." if len(ids) > shown else "")
