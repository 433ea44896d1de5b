"""How far re-weighting the stored signals could go: a supervised fit on the *hidden* labels (a bound, not a scorer).

The bench asks whether fn_risk leaves ranking power in its own signals unused, or whether a better queue needs
evidence they do not carry. This fits a logistic regression on the hidden labels over every signal (its
global percentile and its within-query z-score) plus fn_risk's log-odds, out of fold with query-grouped
folds, and reports the queue it makes. Where fn_risk is at or above it, new evidence is what is missing
(NFCorpus, session 3; the sentence-query proxies, session 11). Bench-only: it reads hidden labels.
"""

from __future__ import annotations

import numpy as np

FOLDS = 5
C = 1.0  # one setting for every collection (L2 on standardised columns)


def signal_columns(q: np.ndarray, signals: dict[str, np.ndarray]) -> np.ndarray:
    """Two columns per non-constant signal: percentile over all rows, z-score within the query (NaN -> 0)."""
    from scipy.stats import rankdata

    q = np.asarray(q)
    _, inv = np.unique(q, return_inverse=True)
    n_q = np.bincount(inv)
    cols = []
    for name in sorted(signals):
        v = np.nan_to_num(np.asarray(signals[name], dtype=float))
        if len(v) == 0 or np.ptp(v) == 0:
            continue
        mean = (np.bincount(inv, weights=v) / n_q)[inv]
        sd = np.sqrt(np.bincount(inv, weights=(v - mean) ** 2) / n_q)[inv]
        spread = sd > 1e-9 * (1.0 + np.abs(mean))  # rounding, not spread: a query-level signal gets z 0
        cols += [rankdata(v) / len(v), np.where(spread, (v - mean) / np.where(spread, sd, 1.0), 0.0)]
    return np.column_stack(cols) if cols else np.zeros((len(q), 0))


def supervised_ceiling(y: np.ndarray, q: np.ndarray, signals: dict[str, np.ndarray], fn_logit: np.ndarray,
                       seed: int = 0) -> np.ndarray:
    """Out-of-fold P(relevant) of each row from a logistic regression fitted on the other query folds' hidden
    labels over :func:`signal_columns` and fn_risk's log-odds. A fold whose training rows hold one class only
    gets fn_risk's log-odds (nothing to fit)."""
    from sklearn.linear_model import LogisticRegression

    y, q = np.asarray(y, dtype=int), np.asarray(q)
    X = np.column_stack([signal_columns(q, signals), np.asarray(fn_logit, dtype=float)])
    uq, inv = np.unique(q, return_inverse=True)
    fold = np.random.default_rng(seed).integers(0, FOLDS, len(uq))[inv]
    out = np.asarray(fn_logit, dtype=float).copy()
    for f in range(FOLDS):
        te, tr = fold == f, fold != f
        if not te.any() or y[tr].min() == y[tr].max():
            continue
        mu, sd = X[tr].mean(0), X[tr].std(0)
        sd[sd == 0] = 1.0
        model = LogisticRegression(C=C, max_iter=3000).fit((X[tr] - mu) / sd, y[tr])
        out[te] = model.decision_function((X[te] - mu) / sd)
    return out


def level_oracle(y: np.ndarray, q: np.ndarray, fn_logit: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
    """fn_risk's log-odds with each query's level moved so its rows' mean probability is the query's *true* share
    of false negatives; the order inside a query stays fn_risk's. ``which``: a row mask of the queries to move
    (e.g. those no judgment touched); the others keep fn_risk's level.

    A bound for query-level evidence: how much a queue gains from knowing how many false negatives each query
    holds, which one labelled positive per query cannot say (NFCorpus: 0 to dozens per query)."""
    from core.risk.learn import shift_to_mean

    y, q = np.asarray(y, dtype=float), np.asarray(q)
    out = np.asarray(fn_logit, dtype=float).copy()
    move = np.ones(len(y), bool) if which is None else np.asarray(which, dtype=bool)
    _, inv = np.unique(q, return_inverse=True)
    for k in np.unique(inv[move]):
        rows = np.flatnonzero((inv == k) & move)
        out[rows] += shift_to_mean(out[rows], float(y[rows].mean()))
    return out
