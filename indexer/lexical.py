"""Keyword retrieval: BM25 (bm25s) over the same chunks the dense index holds.

Tokens are ``highlight.terms`` (lower-cased, light stemming, stopwords out), so the words
that make BM25 match are the ones the highlighter marks. Saved as JSON + .npy, never pickle.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from indexer.highlight import terms
from indexer.memo import RebuildMemo, remembered

logger = logging.getLogger(__name__)

BM25_DIR = "bm25"
EMPTY_TOKEN = "\x00empty"


def tokenize(text: str) -> list[str]:
    """BM25 tokens of a text; never empty, so every chunk has a row."""
    return terms(text) or [EMPTY_TOKEN]


# Bump when ``highlight.terms`` changes what it returns: saved terms of older generations are
# then tokenised again instead of reused.
# 2: a final 'e' is stemmed away with the suffixes ('archive' and 'archived' match).
# 3: a stopword typed as two capitals is a market code and kept ('MY', 'IN', 'IT').
# 4: a hyphenated code of letters and digits is also one term ('BR-03': 'br', '03', 'br03').
# 5: words in every script, accents folded (Müller = muller), unspaced scripts as character
#    pairs (返金, 환불, เหรียญ were no words at all).
# 6: non-ASCII text read in compatibility form (NFKC) before it is cut into words.
TERMS_VERSION = 6
TERMS_FILE = "bm25_terms.npy"  # int32 term ids of every chunk, concatenated in row order
TERM_OFFSETS_FILE = "bm25_offsets.npy"  # int64: chunk i's ids are terms[offsets[i]:offsets[i+1]]
TERM_VOCAB_FILE = "bm25_vocab.json"  # {"version": TERMS_VERSION, "terms": [term of each id]}
TERM_FILES = (TERMS_FILE, TERM_OFFSETS_FILE, TERM_VOCAB_FILE)


@dataclass(frozen=True)
class ChunkTerms:
    """Every chunk's BM25 tokens as ids into one vocabulary, saved with each generation.

    Tokenising is most of BM25's build time (about 0.12 ms a passage here), so a rebuild takes
    the terms of passages it already indexed from the previous generation and tokenises only
    the new ones; the statistics over all rows are recomputed every time.
    """

    vocab: list[str]
    ids: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def of(self, row: int) -> np.ndarray:
        return self.ids[self.offsets[row] : self.offsets[row + 1]]


def chunk_terms(
    texts: list[str],
    memo: RebuildMemo | None = None,
    known: Callable[[str], np.ndarray | None] | None = None,
    known_vocab: list[str] | None = None,
) -> ChunkTerms:
    """Terms of ``texts``: ``known(text)`` gives ids into ``known_vocab`` for texts indexed
    before (None when new); the others are tokenised (through ``memo`` when there is one).

    Terms no chunk uses any more (deleted documents) leave the vocabulary, so it stays the
    size of the knowledge base's own vocabulary however many rebuilds it has seen.
    """
    vocab = list(known_vocab or [])
    index = {term: i for i, term in enumerate(vocab)}
    pieces: list[np.ndarray] = []
    for text in texts:
        ids = None if known is None else known(text)
        if ids is None:
            tokens = remembered(memo, ("bm25", text), lambda t=text: tokenize(t))
            ids = np.fromiter(
                (index.setdefault(t, len(index)) for t in tokens), np.int32, len(tokens)
            )
        pieces.append(ids)
    vocab.extend(list(index)[len(vocab) :])
    lengths = np.fromiter((len(p) for p in pieces), np.int64, len(pieces))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
    used, compact = np.unique(flat, return_inverse=True)
    return ChunkTerms([vocab[i] for i in used], compact.astype(np.int32), offsets)


def build_bm25(texts: list[str], memo: RebuildMemo | None = None):
    """A bm25s index over ``texts`` (one row per chunk, same order as the vectors)."""
    return bm25_from_terms(chunk_terms(texts, memo))


def bm25_from_terms(found: ChunkTerms):
    """A bm25s index over the chunks' terms, its score matrix computed with numpy.

    bm25s builds the same matrix with a Python loop per chunk (0.2 s per 2,000 passages);
    this takes its idf and term-frequency formulas and applies them to all rows at once. The
    result is checked against bm25s's own ``index`` in the tests.
    """
    import bm25s
    from bm25s.scoring import _select_idf_scorer, _select_tfc_scorer

    retriever = bm25s.BM25()
    n_docs, n_vocab = len(found), len(found.vocab)
    lengths = np.diff(found.offsets)
    doc = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    # One key per (term, chunk): sorted, they are the column-major order of the matrix.
    stride = max(n_docs, 1)
    keys, tf = np.unique(found.ids.astype(np.int64) * stride + doc, return_counts=True)
    term, row = np.divmod(keys, stride)
    df = np.bincount(term, minlength=n_vocab)
    idf_of = _select_idf_scorer(retriever.idf_method)
    distinct, inverse = np.unique(df, return_inverse=True)
    idf = np.array([idf_of(int(d), N=n_docs) if d else 0.0 for d in distinct], np.float32)
    tfc = _select_tfc_scorer(retriever.method)(
        tf_array=tf.astype(np.float32), l_d=lengths[row],
        l_avg=lengths.mean() if n_docs else 1.0, k1=retriever.k1, b=retriever.b,
        delta=retriever.delta,
    )  # fmt: skip
    data = (idf[inverse][term] * tfc).astype(retriever.dtype)
    retriever.scores = {
        "data": data,
        "indices": row.astype(retriever.int_dtype),
        "indptr": np.concatenate([[0], np.cumsum(df)]).astype(np.int64),
        "num_docs": n_docs,
    }
    retriever.vocab_dict = {term: i for i, term in enumerate(found.vocab)}
    retriever.unique_token_ids_set = set(retriever.vocab_dict.values())
    retriever.nonoccurrence_array = None  # only BM25L and BM25+ use one; the default is Lucene
    return retriever


def save_terms(found: ChunkTerms, index_dir: Path) -> None:
    index_dir = Path(index_dir)
    np.save(index_dir / TERMS_FILE, found.ids, allow_pickle=False)
    np.save(index_dir / TERM_OFFSETS_FILE, found.offsets, allow_pickle=False)
    (index_dir / TERM_VOCAB_FILE).write_text(
        json.dumps({"version": TERMS_VERSION, "terms": found.vocab}), encoding="utf-8"
    )


def read_terms(index_dir: Path) -> ChunkTerms | None:
    """A generation's saved terms; None when it has none or they came from another tokeniser."""
    index_dir = Path(index_dir)
    try:
        vocab = json.loads((index_dir / TERM_VOCAB_FILE).read_text(encoding="utf-8"))
        if vocab.get("version") != TERMS_VERSION:
            return None
        ids = np.load(index_dir / TERMS_FILE, allow_pickle=False)
        offsets = np.load(index_dir / TERM_OFFSETS_FILE, allow_pickle=False)
    except (OSError, ValueError, AttributeError):
        return None
    terms_ = vocab.get("terms")
    if not isinstance(terms_, list) or not len(offsets) or offsets[-1] != len(ids):
        return None
    if len(ids) and (ids.min() < 0 or ids.max() >= len(terms_)):
        return None
    return ChunkTerms(terms_, ids.astype(np.int32), offsets.astype(np.int64))


def save_bm25(retriever, index_dir: Path) -> None:
    retriever.save(str(Path(index_dir) / BM25_DIR), allow_pickle=False, show_progress=False)


def load_bm25(index_dir: Path):
    import bm25s

    return bm25s.BM25.load(
        str(Path(index_dir) / BM25_DIR), allow_pickle=False, show_progress=False, verbosity=0
    )


def doc_freq_of(
    retriever, counts: np.ndarray | None = None
) -> Callable[[Collection[str]], dict[str, int]]:
    """How many chunks hold each of the terms asked about (terms the index lacks left out),
    read from the BM25 matrix itself: a column per term, its rows the chunks holding it.

    ``counts`` (:func:`visible_doc_freqs`) gives them per term as one caller may see them: a
    term only hidden documents hold is then absent, so spelling correction never reads a slip
    as a word the caller could not otherwise learn the knowledge base holds.
    """
    vocab = retriever.vocab_dict
    indptr = retriever.scores["indptr"]
    if counts is not None:
        return lambda wanted: {
            t: int(counts[i]) for t in wanted if (i := vocab.get(t)) is not None and counts[i]
        }

    def doc_freq(wanted: Collection[str]) -> dict[str, int]:
        return {
            t: int(indptr[i + 1] - indptr[i]) for t in wanted if (i := vocab.get(t)) is not None
        }

    return doc_freq


def visible_doc_freqs(retriever, rows: np.ndarray) -> np.ndarray:
    """Per term of the BM25 vocabulary, how many of the chunk rows marked in ``rows`` (a mask)
    hold it: one pass over the matrix."""
    indptr, indices = retriever.scores["indptr"], retriever.scores["indices"]
    held = np.concatenate(([0], np.cumsum(rows[indices], dtype=np.int64)))
    return held[indptr[1:]] - held[indptr[:-1]]


def bm25_scores(retriever, found: list[str], n_rows: int) -> np.ndarray:
    """BM25 score of every chunk for the query terms ``found`` (:func:`query_terms`: slips
    already read as index terms; zeros for terms the index never saw)."""
    vocab = retriever.vocab_dict
    known = [t for t in found if t in vocab]
    if not known:
        return np.zeros(n_rows, dtype=np.float32)
    return np.asarray(retriever.get_scores(known), dtype=np.float32)
