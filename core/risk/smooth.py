"""Score regularisation within a query's candidates: a candidate's log-odds pulled toward its closest fellows'.

Relevant docs flock (the cluster hypothesis): where a candidate's most similar fellow candidates *for the same
query* are rated likely relevant, it is likelier than its own signals say, and one rated high among unlikely
fellows less so. Diaz ("Regularizing ad hoc retrieval scores", CIKM 2005) smooths retrieval scores over the
doc graph this way. The doc graph signals (``graph_dense``, ``graph_bm25``) already average the query's raw
scores over a doc's nearest docs in the whole corpus; this step averages the *final* score, which carries the
kept positive's feedback, LSA and the query-level terms, over the query's own candidate list, after the view.

Label-free and local to a query: a row moves with its own query's candidates only, so query partitions score
alike (core/engines). At ``CO_CANDIDATES`` 3 and ``CO_WEIGHT`` 0.2 (chosen on 22 bench runs): +0.0045 AP over 25
bench runs (23 up; SciFact train s2 -0.012) and +0.0058 over 18 held out (15 up; SciFact train s3 -0.003); on
the sentence-query stand-ins 11 of 24 runs now reach 1.25x the best baseline (docs/benchmarks.md, session 22).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

CO_CANDIDATES = 3  # the fellow candidates a row's log-odds is pulled toward (5: a little less; 10: lost on SciFact)
CO_WEIGHT = 0.2  # how far: (1 - w) own + w fellows' mean (0.5 lost on four of six runs)


def co_candidate_shift(log_odds: np.ndarray, groups: np.ndarray, vecs: np.ndarray, k: int = CO_CANDIDATES,
                       weight: float = CO_WEIGHT) -> np.ndarray:
    """Per row: ``weight`` x (the mean log-odds of its ``k`` most similar other rows of the same group, by the
    cosine of ``vecs`` (unit rows), minus its own). 0 for a row alone in its group; fewer fellows than ``k``: all
    of them. Ties in similarity go to the earlier row."""
    z = np.asarray(log_odds, dtype=np.float64)
    groups = np.asarray(groups)
    out = np.zeros(len(z))
    if not len(z) or k < 1:
        return out
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1], True])
    for a, b in pairwise(bounds):
        rows = order[a:b]
        if len(rows) < 2:
            continue
        V = np.asarray(vecs[rows], dtype=np.float64)
        sims = V @ V.T
        np.fill_diagonal(sims, -np.inf)
        m = min(k, len(rows) - 1)
        fellows = np.argsort(-sims, axis=1, kind="stable")[:, :m]
        out[rows] = weight * (z[rows][fellows].mean(1) - z[rows])
    return out
