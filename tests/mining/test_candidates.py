"""The top-k primitive every miner and the scorer share: exactly a full sort's first k, ties to the lower column."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from core.mining.candidates import top_sets, topk_rows


def brute_force(scores: np.ndarray, k: int) -> np.ndarray:
    """Each row fully sorted by (score desc, column asc), NaN last: the first k columns."""
    cols = np.arange(scores.shape[1])
    return np.stack([np.lexsort((cols, -row))[:k] for row in scores]) if len(scores) else np.zeros((0, k), int)


def matrix(kind: int, rows: int, n: int, rng: np.random.Generator) -> np.ndarray:
    if kind == 0:  # continuous (dense cosines)
        return rng.normal(size=(rows, n)).astype(np.float32)
    if kind == 1:  # few distinct values: ties at the k-th score everywhere
        return rng.integers(0, 4, size=(rows, n)).astype(np.float32)
    if kind == 2:  # BM25-like: mostly zeros, a few matches (fewer than k in some rows)
        return np.where(rng.random((rows, n)) < 0.004, rng.random((rows, n)), 0.0).astype(np.float32)
    if kind == 3:  # already sorted along the row (a strided sample sees the worst case)
        return np.sort(rng.normal(size=(rows, n)), axis=1)
    if kind == 4:  # duplicated columns: exact ties among the best
        base = rng.normal(size=(rows, -(-n // 3))).astype(np.float32)
        return np.repeat(base, 3, axis=1)[:, :n]
    out = rng.normal(size=(rows, n)).astype(np.float32)  # a few NaN: never chosen before a number
    out[rng.random((rows, n)) < 0.01] = np.nan
    return out


@settings(max_examples=120, deadline=None)
@given(kind=st.integers(0, 5), rows=st.integers(0, 12), n=st.sampled_from([1, 5, 40, 700, 3000, 9000]),
       k=st.integers(1, 60), seed=st.integers(0, 10_000))
@example(kind=5, rows=11, n=40, k=39, seed=0)  # two NaN in a row with k > its numbers: CI's failing draw
def test_topk_rows_is_a_full_sorts_head(kind, rows, n, k, seed):
    scores = matrix(kind, rows, n, np.random.default_rng(seed))
    idx, vals = topk_rows(scores, k)
    want = brute_force(scores, min(k, n))
    assert np.array_equal(idx, want)
    assert np.array_equal(vals, np.take_along_axis(scores, want, axis=1).astype(np.float32), equal_nan=True)
    assert np.array_equal(np.sort(top_sets(scores, min(k, n)), axis=1), np.sort(want, axis=1))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 40))
def test_rows_do_not_depend_on_their_neighbours(seed, k):
    """A row's top-k is the same alone, in a block, or with its block shuffled (miners chunk queries freely)."""
    rng = np.random.default_rng(seed)
    scores = matrix(int(rng.integers(0, 6)), 9, 5000, rng)
    whole = topk_rows(scores, k)[0]
    perm = rng.permutation(len(scores))
    assert np.array_equal(topk_rows(scores[perm], k)[0], whole[perm])
    for r in range(len(scores)):
        assert np.array_equal(topk_rows(scores[r : r + 1], k)[0][0], whole[r])


def test_integer_scores_and_k_at_or_past_the_row():
    scores = np.array([[3, 1, 3, 2], [0, 0, 0, 0]])
    assert topk_rows(scores, 2)[0].tolist() == [[0, 2], [0, 1]]
    assert topk_rows(scores, 9)[0].tolist() == [[0, 2, 3, 1], [0, 1, 2, 3]]
    big = np.tile(np.arange(6000), (2, 1))  # integers on the fast path
    assert topk_rows(big, 3)[0].tolist() == [[5999, 5998, 5997]] * 2
