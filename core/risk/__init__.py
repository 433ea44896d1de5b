"""False-negative and pooling-bias risk: pure functions over arrays and DataFrames (no SQL, no models)."""

from __future__ import annotations

from core.risk.calibration import calibrate, expected_calibration_error, judgment_targets
from core.risk.inputs import RiskInputs, pair_arrays
from core.risk.learn import judgment_evidence, learning_features, rerank
from core.risk.pooling import fn_rate_by_rank, query_pooling_bias, risk_distribution
from core.risk.score import SCORER_VERSION, score_false_negatives, train_combiner
from core.risk.signals import SIGNALS, register

__all__ = [
    "SCORER_VERSION",
    "SIGNALS",
    "RiskInputs",
    "calibrate",
    "expected_calibration_error",
    "fn_rate_by_rank",
    "judgment_evidence",
    "judgment_targets",
    "learning_features",
    "pair_arrays",
    "query_pooling_bias",
    "register",
    "rerank",
    "risk_distribution",
    "score_false_negatives",
    "train_combiner",
]
