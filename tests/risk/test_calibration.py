from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from core.risk import calibrate, expected_calibration_error, judgment_targets
from core.risk.calibration import fit_offset


def test_judgment_targets_map_labels_and_drop_unsure() -> None:
    j = pd.DataFrame({"query_id": ["q"] * 4, "doc_id": list("abcd"),
                      "label": ["false_negative", "partial", "negative", "unsure"]})
    assert judgment_targets(j).y.tolist() == [1, 1, 0]


def test_ece_perfect_and_off() -> None:
    y = np.array([0, 0, 1, 1])
    assert expected_calibration_error(y, np.array([0.0, 0.0, 1.0, 1.0])) == 0
    assert abs(expected_calibration_error(y, np.full(4, 0.9)) - 0.4) < 1e-9


def test_offset_fit_recovers_shift() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=4000)
    y = rng.random(4000) < 1 / (1 + np.exp(-(z - 1.0)))
    cal = fit_offset(z, y)
    assert abs(cal.intercept + 1.0) < 0.15


def test_calibrate_methods_return_probabilities() -> None:
    s = np.linspace(0.01, 0.99, 50)
    y = (s > 0.5).astype(int)
    for m in ("offset", "platt", "isotonic"):
        p = calibrate(s, y, m)(s)
        assert ((p >= 0) & (p <= 1)).all()


def test_level_shift_lowers_an_over_stated_level_to_the_sample_rate() -> None:
    from core.risk.calibration import level_shift
    from core.risk.combiner import sigmoid

    rng = np.random.default_rng(0)
    s = rng.normal(-1.0, 1.0, 200)  # claims ~30% false negatives
    y = (rng.random(200) < 0.1).astype(int)  # the random sample finds ~10%
    d = level_shift(s, y)
    assert d < -0.5 and np.isclose(sigmoid(s + d).sum(), y.sum())


def test_a_handful_of_random_judgments_moves_no_level() -> None:
    """The annotator regression pass: 4 random-order judgments, 3 of them relevant where 1% was claimed, moved
    every risk of the dataset to about 52%."""
    from core.risk.calibration import LEVEL_MIN_SAMPLE, level_shift
    from core.risk.combiner import logit

    s = np.full(4, logit(0.01))
    assert level_shift(s, np.array([1, 1, 1, 0])) == 0.0
    n = LEVEL_MIN_SAMPLE
    assert level_shift(np.full(n, logit(0.01)), (np.arange(n) < 3 * n // 4).astype(int)) > 3  # a sample: it moves


def test_level_shift_keeps_a_level_the_sample_does_not_reject() -> None:
    from core.risk.calibration import level_shift
    from core.risk.combiner import sigmoid

    s = np.linspace(-3, 1, 100)
    y = np.zeros(100, int)
    y[np.argsort(-s)[: round(float(sigmoid(s).sum()))]] = 1  # as many as claimed
    assert level_shift(s, y) == 0.0 and level_shift(s[:0], y[:0]) == 0.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 300))
def test_level_shift_sign_order_and_bounds(seed: int, n: int) -> None:
    """Order-free; moves only when |observed - expected| >= 1.96 SE, towards the sample; finite for one-class samples."""
    from core.risk.calibration import LEVEL_MIN_SAMPLE, LEVEL_Z, level_shift
    from core.risk.combiner import sigmoid

    rng = np.random.default_rng(seed)
    s = rng.normal(rng.normal(0, 2), rng.uniform(0.1, 2), n)
    y = (rng.random(n) < rng.uniform(0, 1)).astype(int)
    d = level_shift(s, y)
    perm = rng.permutation(n)
    assert np.isclose(level_shift(s[perm], y[perm]), d, atol=1e-8) and np.isfinite(d)
    p = sigmoid(s)
    gap, se = y.sum() - p.sum(), np.sqrt(np.sum(p * (1 - p)))
    if abs(gap) < LEVEL_Z * se or n < LEVEL_MIN_SAMPLE:
        assert d == 0.0
    else:
        assert np.sign(d) == np.sign(gap)
