from __future__ import annotations

import numpy as np
import pandas as pd

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
