"""Score regularisation within a query's candidates: a candidate's log-odds pulled toward its closest fellows'.

Relevant docs flock (the cluster hypothesis): where a candidate's most similar fellow candidates *for the same
query* are rated likely relevant, it is likelier than its own signals say, and one rated high among unlikely
fellows less so. Diaz ("Regularizing ad hoc retrieval scores", CIKM 2005) smooths retrieval scores over the
doc graph this way. The doc graph signals (``graph_dense``, ``graph_bm25``) already average the query's raw
scores over a doc's nearest docs in the whole corpus; this step averages the *final* score, which carries the
kept positive's feedback, LSA and the query-level terms, over the query's own candidate list, after the view.

Label-free and local to a query: a row moves with its own query's candidates only, so query partitions score
alike (core/engines). At ``CO_FELLOWS`` 3 and ``CO_WEIGHT`` 0.2 (chosen on 22 bench runs): +0.0045 AP over 25
bench runs (23 up; SciFact train s2 -0.012) and +0.0058 over 18 held out (15 up; SciFact train s3 -0.003); on
the sentence-query stand-ins 11 of 24 runs now reach 1.25x the best baseline (docs/benchmarks.md, session 22).
"""

from __future__ import annotations

import numpy as np

CO_FELLOWS = 3  # the fellow candidates a row's log-odds is pulled toward (5: a little less; 10: lost on SciFact)
CO_WEIGHT = 0.2  # how far: (1 - w) own + w fellows' mean (0.5 lost on four of six runs)


_BLOCK = 1 << 22  # numbers per batched (queries x rows x dim) block of vectors: ~32 MB as float64


def co_candidate_shift(log_odds: np.ndarray, groups: np.ndarray, vecs: np.ndarray, k: int = CO_FELLOWS,
                       weight: float = CO_WEIGHT) -> np.ndarray:
    """Per row: ``weight`` x (the mean log-odds of its ``k`` most similar other rows of the same group, by the
    cosine of ``vecs`` (unit rows), minus its own). 0 for a row alone in its group; fewer fellows than ``k``: all
    of them. Ties in similarity go to the earlier row. Groups of one size are done together, in blocks (a
    candidate list is mostly the same length for every query)."""
    z = np.asarray(log_odds, dtype=np.float64)
    groups = np.asarray(groups)
    out = np.zeros(len(z))
    if not len(z) or k < 1:
        return out
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.r_[True, groups[order][1:] != groups[order][:-1], True])
    starts, sizes = bounds[:-1], np.diff(bounds)
    dim = int(np.shape(vecs)[1]) if np.ndim(vecs) == 2 else 1
    for n in np.unique(sizes[sizes > 1]).tolist():
        m = min(k, n - 1)
        same = np.flatnonzero(sizes == n)
        per = max(1, _BLOCK // (n * max(dim, n)))
        for lo in range(0, len(same), per):
            rows = order[starts[same[lo:lo + per]][:, None] + np.arange(n)]  # (queries, n), in input order
            V = np.asarray(vecs[rows], dtype=np.float64)
            sims = V @ V.transpose(0, 2, 1)
            sims[:, np.arange(n), np.arange(n)] = -np.inf
            fellows = np.argsort(-sims, axis=2, kind="stable")[:, :, :m]
            Z = z[rows]
            mean = np.take_along_axis(np.broadcast_to(Z[:, None, :], (len(rows), n, n)), fellows, axis=2).mean(2)
            out[rows] = weight * (mean - Z)
    return out
