"""Approximate nearest passages for large indexes: a FAISS IVF index over the passage vectors.

Below ``ann_min_chunks`` the Searcher scores every passage exactly (a matrix product is a few
milliseconds). Above it, an inverted-file index proposes candidate passages and the Searcher
re-scores only those exactly, with their sentence windows and BM25, so the ranking matches the
exact one whenever the right passage is among the candidates (recall@10 measured in bench/).

IVF rather than HNSW: it trains in seconds, a rebuild can reuse the previous generation's
centroids, and it honours a filter bitmap without a graph walk that stalls on narrow filters.
The lists hold 8-bit scalar-quantised codes, not float vectors: candidates are re-scored
exactly anyway, so the codes only need to find them, and a probe reads a quarter of the
bytes (measured at 100k passages: 2.6x faster than flat lists at the same candidate recall,
and 1.1 KiB less memory per passage, since the float vectors are held once, by the Searcher).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ANN_FILE = "passages.ivf.faiss"
TRAIN_POINTS_PER_LIST = 40  # k-means sample: enough for stable centroids, seconds to train


def list_count(n: int) -> int:
    """Inverted lists for ``n`` vectors: ~2 sqrt(n), the usual balance of probe and scan cost."""
    return int(min(8192, max(16, 2 * math.sqrt(n))))


def build_ivf(vectors: np.ndarray, previous: Path | None = None, seed: int = 7):
    """An inner-product IVF index over ``vectors``, reusing ``previous`` centroids if they fit."""
    import faiss

    n, dim = vectors.shape
    centroids = _previous_centroids(previous, dim, list_count(n))
    nlist = list_count(n) if centroids is None else len(centroids)
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT, False
    )  # codes of the vectors themselves, not residuals: no per-list offset at query time
    if centroids is not None:
        quantizer.add(centroids)  # a full quantizer: train() skips k-means, fits the codes only
    rng = np.random.default_rng(seed)
    sample = vectors[rng.choice(n, min(n, nlist * TRAIN_POINTS_PER_LIST), replace=False)]
    index.train(np.ascontiguousarray(sample, np.float32))
    index.add(np.ascontiguousarray(vectors, np.float32))
    return index


def _previous_centroids(path: Path | None, dim: int, nlist: int) -> np.ndarray | None:
    """Centroids of the previous generation's IVF index, while its list count still fits.

    Within a factor of two of the ideal count, old centroids serve as well as new ones and
    save the k-means step on every incremental rebuild.
    """
    import faiss

    if path is None or not path.is_file():
        return None
    try:
        stored = faiss.read_index(str(path))  # kept referenced: the IVF view borrows from it
        old = faiss.extract_index_ivf(stored)
    except RuntimeError:
        return None
    if old.d != dim or not nlist / 2 <= old.nlist <= nlist * 2:
        return None
    return old.quantizer.reconstruct_n(0, old.nlist)


def write_ivf(index, path: Path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read_ivf(index_dir: Path):
    """The IVF index of a generation, or None when it was small enough for exact search."""
    import faiss

    path = Path(index_dir) / ANN_FILE
    return faiss.read_index(str(path)) if path.is_file() else None


def search_ivf(index, vector: np.ndarray, k: int, nprobe: int, allowed: np.ndarray | None):
    """Rows of the ``k`` passages nearest ``vector`` among ``allowed`` ones (all when None)."""
    import faiss

    selector = None
    if allowed is not None:
        bits = np.packbits(allowed.astype(np.uint8), bitorder="little")
        selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
    params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)
    _scores, ids = index.search(vector.reshape(1, -1).astype(np.float32), k, params=params)
    rows = ids[0]
    return rows[rows >= 0]
