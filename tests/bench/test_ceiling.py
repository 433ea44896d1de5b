"""The bench's supervised ceiling: out of fold (a row's own hidden label never reaches its score), order-free."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from core.bench.ceiling import level_oracle, signal_columns, supervised_ceiling


def _rows(seed: int, n_q: int = 40, per: int = 12):
    rng = np.random.default_rng(seed)
    q = np.repeat(np.arange(n_q), per)
    y = (rng.random(len(q)) < 0.2).astype(int)
    signals = {"strong": y * 1.5 + rng.normal(size=len(q)), "noise": rng.normal(size=len(q)),
               "flat": np.ones(len(q)), "query_level": np.repeat(rng.normal(size=n_q), per)}
    return q, y, signals, rng.normal(size=len(q))  # fn_logit: knows nothing


def test_columns_drop_constant_signals_and_centre_within_query() -> None:
    q, _, signals, _ = _rows(0)
    X = signal_columns(q, signals)
    assert X.shape == (len(q), 6)  # "flat" dropped: two columns each for the other three
    z = X[:, 1::2]
    for k in np.unique(q):
        assert np.allclose(z[q == k].mean(axis=0), 0.0, atol=1e-9)
    assert np.all((X[:, 0::2] > 0) & (X[:, 0::2] <= 1))  # percentiles
    assert np.all(z[:, 1] == 0.0)  # a query-level signal has no spread within its query: z 0, not NaN


def test_ceiling_finds_what_the_signals_carry() -> None:
    from sklearn.metrics import average_precision_score as ap

    q, y, signals, fn_logit = _rows(1)
    s = supervised_ceiling(y, q, signals, fn_logit, seed=0)
    assert ap(y, s) > ap(y, fn_logit) + 0.2


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_a_query_own_labels_never_reach_its_scores(seed: int) -> None:
    """Flip every hidden label of one query: its rows' scores do not move (folds are by query)."""
    q, y, signals, fn_logit = _rows(seed)
    base = supervised_ceiling(y, q, signals, fn_logit, seed=3)
    k = int(np.random.default_rng(seed).integers(0, q.max() + 1))
    flipped = np.where(q == k, 1 - y, y)
    assert np.allclose(supervised_ceiling(flipped, q, signals, fn_logit, seed=3)[q == k], base[q == k])


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_row_order_is_irrelevant(seed: int) -> None:
    q, y, signals, fn_logit = _rows(seed)
    perm = np.random.default_rng(seed + 1).permutation(len(q))
    base = supervised_ceiling(y, q, signals, fn_logit, seed=5)
    moved = supervised_ceiling(y[perm], q[perm], {k: v[perm] for k, v in signals.items()}, fn_logit[perm], seed=5)
    assert np.allclose(moved, base[perm], atol=1e-5)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_level_oracle_sets_each_query_level_to_its_true_share_and_keeps_its_order(seed: int) -> None:
    q, y, _, fn_logit = _rows(seed)
    z = level_oracle(y, q, fn_logit)
    p = 1 / (1 + np.exp(-z))
    for k in np.unique(q):
        m = q == k
        assert abs(p[m].mean() - np.clip(y[m].mean(), 1e-4, 1 - 1e-4)) < 1e-6  # the level is the truth
        assert np.array_equal(np.argsort(z[m], kind="stable"), np.argsort(fn_logit[m], kind="stable"))


def test_level_oracle_moves_only_the_queries_asked_and_knows_only_query_counts() -> None:
    from sklearn.metrics import average_precision_score as ap

    q, y, _, fn_logit = _rows(4)
    which = q < 20
    z = level_oracle(y, q, fn_logit, which)
    assert np.array_equal(z[~which], fn_logit[~which])
    # swapping labels inside a query changes nothing: only each query's count reaches it
    k = np.flatnonzero(q == 0)
    swapped = y.copy()
    swapped[k] = y[k][::-1]
    assert np.allclose(level_oracle(swapped, q, fn_logit), level_oracle(y, q, fn_logit))
    assert ap(y, level_oracle(y, q, fn_logit)) > ap(y, fn_logit)  # query levels carry ranking power
