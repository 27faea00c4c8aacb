"""int8 window vectors: close to float32, stable when copied between generations."""

from __future__ import annotations

import numpy as np
import pytest

from indexer.quantise import SCORE_BLOCK, Int8Rows, dequantise, quantise


def _unit_rows(n: int, d: int = 384, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_scores_stay_within_a_few_thousandths() -> None:
    rows, queries = _unit_rows(2000), _unit_rows(20, seed=1)
    codes, scales = quantise(rows)
    assert codes.dtype == np.int8 and codes.nbytes * 4 == rows.nbytes
    assert np.abs(codes).max() == 127  # each row's largest component uses the full range
    exact, approx = rows @ queries.T, dequantise(codes, scales) @ queries.T
    assert np.abs(exact - approx).max() < 0.005
    assert np.abs(exact - approx).max() > 0  # it is a lossy code, and the test can tell


def test_quantising_decoded_rows_gives_the_same_codes() -> None:
    """A window copied from the previous generation is decoded and stored again: no drift."""
    codes, scales = quantise(_unit_rows(500))
    again, again_scales = quantise(dequantise(codes, scales))
    np.testing.assert_array_equal(again, codes)
    np.testing.assert_allclose(again_scales, scales, rtol=1e-6)


def test_rows_decode_like_the_whole_matrix() -> None:
    rows = _unit_rows(20_000, d=16)
    view = Int8Rows(*quantise(rows))
    whole = view[:]
    vector = rows[3]
    pick = np.array([5, 17, 19_999])
    np.testing.assert_array_equal(view[pick], whole[pick])
    np.testing.assert_array_equal(view[7], whole[7])
    np.testing.assert_allclose(view.score(vector, np.arange(len(rows))), whole @ vector, atol=1e-6)
    # scored in blocks of SCORE_BLOCK rows: an unsorted pick spanning several blocks, the
    # last one partial, scores like the whole matrix row by row
    scattered = np.random.default_rng(2).choice(len(rows), 3 * SCORE_BLOCK + 7, replace=False)
    np.testing.assert_allclose(view.score(vector, scattered), whole[scattered] @ vector, atol=1e-6)
    assert view.score(vector, np.array([], np.int64)).shape == (0,)
    order = np.arange(len(rows))[::-1]
    np.testing.assert_array_equal(view.take(order)[:], whole[order])
    assert len(view) == 20_000 and view.shape == (20_000, 16)


def test_zero_rows_and_empty_input() -> None:
    codes, scales = quantise(np.zeros((2, 4), np.float32))
    assert not codes.any() and not scales.any()
    codes, scales = quantise(np.zeros((0, 4), np.float32))
    assert codes.shape == (0, 4) and scales.shape == (0,)
    with pytest.raises(ValueError):
        quantise(np.zeros(4, np.float32))
    with pytest.raises(ValueError):
        Int8Rows(np.zeros((3, 4), np.int8), np.zeros(2, np.float32))
