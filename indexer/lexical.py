"""Keyword retrieval: BM25 (bm25s) over the same chunks the dense index holds.

Tokens are ``highlight.terms`` (lower-cased, light stemming, stopwords out), so the words
that make BM25 match are the ones the highlighter marks. Saved as JSON + .npy, never pickle.
"""

from __future__ import annotations

import logging
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


def build_bm25(texts: list[str], memo: RebuildMemo | None = None):
    """A bm25s index over ``texts`` (one row per chunk, same order as the vectors).

    Tokenising is most of a small rebuild's BM25 time; ``memo`` reuses the tokens of texts
    the previous build saw (the statistics over all rows are recomputed every time).
    """
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every build at DEBUG
    retriever = bm25s.BM25()
    tokens = [remembered(memo, ("bm25", t), lambda t=t: tokenize(t)) for t in texts]
    retriever.index(tokens, show_progress=False)
    return retriever


def save_bm25(retriever, index_dir: Path) -> None:
    retriever.save(str(Path(index_dir) / BM25_DIR), allow_pickle=False, show_progress=False)


def load_bm25(index_dir: Path):
    import bm25s

    return bm25s.BM25.load(
        str(Path(index_dir) / BM25_DIR), allow_pickle=False, show_progress=False, verbosity=0
    )


def bm25_scores(retriever, query: str, n_rows: int) -> np.ndarray:
    """BM25 score of every chunk for ``query`` (zeros for words the index never saw)."""
    vocab = retriever.vocab_dict
    known = [t for t in terms(query) if t in vocab]
    if not known:
        return np.zeros(n_rows, dtype=np.float32)
    return np.asarray(retriever.get_scores(known), dtype=np.float32)
