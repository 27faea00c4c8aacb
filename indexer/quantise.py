"""Sentence-window vectors kept as int8 codes with one scale per row.

Windows are most of an index's bytes (about six per passage, 1.5 KB each in float32). As int8
they take a quarter of that, on disk and in the page cache the API workers share, while a
window's cosine moves by at most ~0.003 and no shared set's metric by more than noise
(docs/retrieval-experiments.md). Pure functions and a read-only view; no model involved.
"""

from __future__ import annotations

import numpy as np

INT8_MAX = 127.0
SCORE_BLOCK = 256  # rows decoded per step: 256 x 384 float32 is 384 KiB, within a core's L2


def quantise(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 codes, float32 scale per row): a row's largest component maps to +-127.

    Quantising decoded rows again gives the same codes, so a vector copied from one
    generation into the next does not drift.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"expected a 2-d array of vectors, got shape {vectors.shape}")
    scales = (np.abs(vectors).max(axis=1) if vectors.size else np.zeros(len(vectors))) / INT8_MAX
    scales = scales.astype(np.float32)
    safe = np.where(scales > 0, scales, np.float32(1.0))
    codes = np.clip(np.rint(vectors / safe[:, None]), -INT8_MAX, INT8_MAX).astype(np.int8)
    return codes, scales


def dequantise(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Float32 rows back from their codes (what every search scores with)."""
    return codes.astype(np.float32) * scales[:, None]


class Int8Rows:
    """Rows of int8 codes decoded on demand: indexing gives float32 vectors, ``score`` scores.

    The codes are usually memory-mapped; only the rows a search reads are paged in.
    """

    def __init__(self, codes: np.ndarray, scales: np.ndarray) -> None:
        if codes.ndim != 2 or len(codes) != len(scales):
            raise ValueError(f"{len(scales)} scales for codes of shape {codes.shape}")
        self.codes = codes
        self.scales = np.asarray(scales, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def shape(self) -> tuple[int, int]:
        return self.codes.shape

    def __getitem__(self, index) -> np.ndarray:
        """Decoded float32 rows (a slice, an index array or a mask)."""
        codes, scales = self.codes[index], self.scales[index]
        if codes.ndim == 1:
            return codes.astype(np.float32) * scales
        return dequantise(codes, scales)

    def score(self, vector: np.ndarray, index: np.ndarray) -> np.ndarray:
        """Scores of the rows at ``index`` (an array of row numbers) against ``vector``.

        The scale multiplies each score, not each component, so decoding costs one conversion
        of the codes. Rows are decoded SCORE_BLOCK at a time so the float32 copy stays in the
        core's cache between conversion and product (measured over ~4,000 candidate windows:
        0.65-1.0 ms against 1.1-1.45 ms for one conversion of them all).
        """
        index = np.asarray(index)
        out = np.empty(len(index), np.float32)
        for i in range(0, len(index), SCORE_BLOCK):
            block = index[i : i + SCORE_BLOCK]
            out[i : i + len(block)] = self.codes[block].astype(np.float32) @ vector
        return out * self.scales[index]

    def take(self, order: np.ndarray) -> Int8Rows:
        """The rows in another order (a copy of the codes, still int8)."""
        return Int8Rows(np.asarray(self.codes[order]), self.scales[order])
