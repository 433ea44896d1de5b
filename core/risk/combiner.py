"""The learned combiner: positive-unlabelled learning from the dataset's own sparse labels.

Positives are the labelled (query, doc) pairs; the unlabelled side is a *uniform sample of the whole
corpus* per query, never the mined candidates (contrasting with candidates learns the miner's selection:
measured AP 0.31 vs 0.45+). Two models share that data: a logistic regression (ranks; linear in the
per-query normalised signals) and a spline logistic regression (shape of the probability, better
calibrated in the tails). Elkan & Noto (2008) turn P(labelled | x) into P(relevant | x, unlabelled).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))


def several_chance(r: float) -> float:
    """P(N >= 2) for N ~ Poisson(r): the chance that a query expecting ``r`` unlabelled relevant docs holds two or
    more — the one definition behind the view's query-level weights and the learner's residual gate."""
    return float(1.0 - np.exp(-r) * (1.0 + r))


def linear_contributions(pipeline: Any, X: np.ndarray) -> np.ndarray:
    """Per-signal terms of a scaler + logistic-regression pipeline's logit (coef x standardised value)."""
    scaler, lr = pipeline.steps[0][1], pipeline.steps[-1][1]
    return scaler.transform(X) * lr.coef_[0]


@dataclass
class PUModel:
    names: list[str]
    linear: Any  # sklearn pipeline: scaler + logistic regression
    spline: Any | None  # sklearn pipeline: scaler + splines + logistic regression
    c_linear: float  # Elkan-Noto label frequency, mean P(labelled) over labelled positives
    c_spline: float
    view: Any = None  # core.risk.views.View: the ranking chosen on held-out labelled positives (None: linear)

    def rank_logit(self, X: np.ndarray) -> np.ndarray:
        """Log-odds of being relevant given unlabelled (Elkan-Noto, linear model): the ranking score."""
        g = self.linear.predict_proba(X)[:, 1]
        return logit(g) + np.log((1 - self.c_linear) / self.c_linear)

    def shape_logit(self, X: np.ndarray) -> np.ndarray:
        """Same quantity from the spline model: used as the calibration offset when judgments arrive."""
        if self.spline is None:
            return self.rank_logit(X)
        g = self.spline.predict_proba(X)[:, 1]
        return logit(g) + np.log((1 - self.c_spline) / self.c_spline)

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per-signal contribution to the linear logit (coef x standardised value): drives ``reasons``."""
        return linear_contributions(self.linear, X)


def fit_pu(X: np.ndarray, labelled: np.ndarray, names: list[str], spline: bool = True) -> PUModel:
    """Fit both PU models on labelled positives (1) vs uniform corpus samples (0)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import SplineTransformer, StandardScaler

    y = np.asarray(labelled, dtype=int)
    if y.min() == y.max():
        raise ValueError("PU learning needs at least one labelled positive and one sampled doc")
    lin = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000)).fit(X, y)
    c_lin = float(np.clip(lin.predict_proba(X[y == 1])[:, 1].mean(), EPS, 1 - EPS))
    spl, c_spl = None, c_lin
    if spline and (y == 1).sum() >= 20:
        spl = make_pipeline(StandardScaler(), SplineTransformer(n_knots=5, degree=3),
                            LogisticRegression(C=1.0, max_iter=5000)).fit(X, y)
        c_spl = float(np.clip(spl.predict_proba(X[y == 1])[:, 1].mean(), EPS, 1 - EPS))
    return PUModel(names, lin, spl, c_lin, c_spl)
