"""Which view ranks the candidates: chosen by held-out *labelled* positives, never by hidden labels.

A view is a fitted model over the learned signals (local PU gradient boosting or logistic regression on the
query's top region, or the global PU regression) or one registered signal as it is. Each is scored on
every labelled query's top region with that query's label unseen by the model (query folds); a labelled
positive in that region is, under the selected-completely-at-random assumption, a draw of the region's
relevant docs — a stand-in for a hidden false negative. The view whose held-out positives rank highest
(average precision pooled over queries, the measure the bench reports) wins, so the combiner is never
worse than its best signal *by that measure*, on any collection, with no per-dataset constant.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FOLDS = 5
EPS = 1e-6
P_MIN, P_MAX = 0.01, 0.99  # before judgments: never shown as 0% or 100%


class EqualWeights:
    """The learned signals standardised and summed with equal weights: a ranking that reads no label.

    Why beside the PU regression: that regression is fitted against uniform corpus docs, a different task from
    ranking a query's top candidates, and on few labelled positives (35-225 queries) its weights are also noisy
    — there it fell below a one-signal sort (NFCorpus 3-2-1, 64 queries: AP 0.359 vs RRF's 0.432; SciFact
    train, 225 queries: 0.087 vs the dense score's 0.122), while this sum held 0.49 / 0.15. Averaged with the
    regression (select.py) it hedges: +0.016 AP on average over 21 few-query bench runs (-0.015 to +0.082),
    -0.006 to +0.007 on the 12 whole-collection runs (docs/benchmarks.md, session 17). Its statistics are the
    rows it is fitted on (label-free).
    """

    def __init__(self, skip: tuple[int, ...] = ()) -> None:
        self.skip = tuple(skip)  # columns left out (the token MaxSim: the view fuses it apart, select.py)

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> EqualWeights:
        X = np.asarray(X, dtype=float)
        self.mean_ = X.mean(axis=0) if len(X) else np.zeros(X.shape[1])
        sd = X.std(axis=0) if len(X) else np.zeros(X.shape[1])
        self.weight_ = (sd > 1e-12).astype(float)  # a signal constant where fitted says nothing: weight 0
        self.weight_[list(self.skip)] = 0.0
        self.scale_ = np.where(sd > 1e-12, sd, 1.0)
        return self

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """Per column: its term of :meth:`log_odds` (the standardised value, 0 where left out)."""
        return (np.asarray(X, dtype=float) - self.mean_) / self.scale_ * self.weight_

    def log_odds(self, X: np.ndarray) -> np.ndarray:
        return self.contributions(X).sum(axis=1)


def make_model(kind: str, skip: tuple[int, ...] = ()) -> Any:
    """A fresh classifier of one kind (fixed settings for every collection); ``skip``: columns the equal-weight
    sum leaves out."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "region_gbm":
        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                              min_samples_leaf=40, l2_regularization=1.0, random_state=0)
    if kind == "global_linear":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))
    if kind == "equal_weights":
        return EqualWeights(skip)
    raise ValueError(f"unknown view model {kind!r}")


def model_score(model: Any, X: np.ndarray) -> np.ndarray:
    """Log-odds of the classifier (comparable scale across kinds); a label-free ranking's own score."""
    if hasattr(model, "log_odds"):
        return model.log_odds(X)
    g = np.clip(model.predict_proba(X)[:, 1], EPS, 1 - EPS)
    return np.log(g / (1 - g))


def average_precision(y: np.ndarray, s: np.ndarray, w: np.ndarray | None = None) -> float:
    from sklearn.metrics import average_precision_score

    y = np.asarray(y)
    return float(average_precision_score(y, s, sample_weight=w)) if 0 < y.sum() < len(y) else float("nan")


@dataclass
class View:
    """The chosen ranking and its probability map (Platt on held-out scores, then Elkan-Noto)."""

    name: str
    score: Callable[[np.ndarray, dict[str, np.ndarray]], np.ndarray]  # (learned X, all signals) -> score
    platt: tuple[float, float]  # P(labelled | score, region) = sigmoid(a * score + b)
    c: float  # label frequency of the region: mean P(labelled | x) over its labelled positives
    prior: float  # Elkan-Noto estimate of the unlabelled relevant share in the region
    n_labelled: int  # labelled positives in the region the map was fitted on
    heldout: dict[str, float] = field(default_factory=dict)  # view -> held-out AP

    def log_odds(self, s: np.ndarray) -> np.ndarray:
        """Elkan-Noto log-odds of relevance given unlabelled (Platt on the view's score): the static offset."""
        a, b = self.platt
        return a * np.asarray(s, dtype=float) + b + np.log((1 - self.c) / self.c)

    def probability(self, s: np.ndarray) -> np.ndarray:
        """P(relevant | score, unlabelled), never 0 or 1 before any judgment, strictly monotone in ``s``.

        Elkan-Noto odds as a probability, shrunk toward the prior like a rule of succession (the map rests
        on ``n_labelled`` labelled positives: that many observations against one at the prior), then
        squeezed linearly into [0.01, 0.99], the percentages the review card can show. Monotone maps
        only: the queue order is the view's order, with no ties made by clipping.
        """
        return self.probability_of_log_odds(self.log_odds(s))

    def probability_of_log_odds(self, z: np.ndarray) -> np.ndarray:
        """:meth:`probability` from the log-odds (:meth:`log_odds`, after any step that moves them)."""
        p = 1.0 / (1.0 + np.exp(-np.clip(np.asarray(z, dtype=float), -500, 500)))
        n = max(self.n_labelled, 1)
        p = (n * p + self.prior) / (n + 1)
        return P_MIN + (P_MAX - P_MIN) * p


def query_folds(q: np.ndarray, seed: int) -> np.ndarray:
    """Fold per row from its query (a query's rows never straddle folds)."""
    uq, inv = np.unique(q, return_inverse=True)
    return np.random.default_rng(seed).integers(0, FOLDS, len(uq))[inv]


def crossfit(kind: str, Xr: np.ndarray, yr: np.ndarray, fr: np.ndarray,
             train: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Held-out scores of the region rows: fold f is scored by a model fitted on the other folds.

    ``train`` (X, y, fold) replaces the region rows as training data (the global PU view).
    """
    Xt, yt, ft = train if train is not None else (Xr, yr, fr)
    out = np.zeros(len(Xr))
    for f in range(FOLDS):
        te, tr = fr == f, ft != f
        if not te.any():
            continue
        if yt[tr].min() == yt[tr].max():
            out[te] = 0.0
            continue
        out[te] = model_score(make_model(kind).fit(Xt[tr], yt[tr]), Xr[te])
    return out


def fit_platt(s: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    if y.min() == y.max():
        return 0.0, float(np.log((y.mean() + EPS) / (1 - y.mean() + EPS)))
    lr = LogisticRegression(C=1e4, max_iter=1000).fit(np.asarray(s, float)[:, None], y)
    return float(lr.coef_[0, 0]), float(lr.intercept_[0])
