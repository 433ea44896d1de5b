"""A queue that learns from judgments: the static fn_risk as a fixed offset, judgment-born evidence learned.

Judgments come from the head of the queue, a biased sample: within it the static score hardly discriminates, so
a model refitted on the judged items alone drops it and the rest of the queue gets *worse* (measured,
DESIGN.md). :func:`rerank` keeps the static log-odds as an offset with slope 1 and learns only an intercept plus
L2-shrunk weights of a few features (:func:`learning_features`): how far the ranking view departs from the
spline PU view, how close a candidate is to docs judged relevant / not relevant for the same query
(:func:`judgment_evidence`), whether similar queries judged the same doc (:func:`doc_evidence`), the query's
mean static probability (:func:`query_mass`: on NFCorpus a query holds from 0 to dozens of hidden relevant docs,
and only judgments say how much that mean is worth), and, where queries hold several false negatives, how many
more its other judged rows held than the static score expected (:func:`query_residual`). Which model, and how
much shrinkage, is chosen by query-grouped cross-validated log-loss on the judged rows against the static score
(intercept only): the features only if the gain is one (query-clustered) standard error clear, the L2 by the
one-SE rule (:func:`choose_fit`), so with few judgments the static order stands. The fit re-orders the rest of
the queue, but its level there is the static score's (:func:`anchor_levels`): the head's level does not carry to
the rest. Pure functions over arrays: the app's recalibration and the bench's learning curve call the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from core.risk.calibration import OffsetCalibration, fit_offset
from core.risk.combiner import logit, several_chance, sigmoid

MIN_JUDGED = 2  # and both classes among them; fewer: the static order stands
L2_GRID = (1.0, 3.0, 10.0, 30.0, 100.0)
FOLDS = 5
# Features are learned only once the judgments span this many queries (4 per fold): the head crowds into a few
# rich queries, and cross-validation over 8-16 of them let features in that cost NFCorpus up to 0.04-0.06 AP of
# the rest of the queue after 100 judgments (docs/benchmarks.md, session 6); until then an intercept only.
MIN_JUDGED_QUERIES = 4 * FOLDS
# Learned weights reach the queries no judgment touched only once the judgments span this many queries: until
# then the fit comes from a few rich queries at the head, and carried to the others it cost NFCorpus seed 1 0.040
# AP of the rest of the queue after 200 judgments over 32 queries (untouched queries 0.397 -> 0.335). In the bench
# after 200 judgments: NFCorpus s1 -0.040 -> +0.003, keep 2 +0.011 -> +0.006, 3-2-1 +0.017 -> +0.013, no other of
# 13 runs; at 500 every run spans 75+ queries (docs/benchmarks.md, session 10). Smaller collections: all of theirs.
SPREAD_QUERIES = 2 * MIN_JUDGED_QUERIES
Z_GAIN = 1.0  # switch only if the held-out log-loss gain exceeds this many (query-clustered) standard errors;
# 1 since pu-view-5 (its better head leaves fewer judged negatives): at 2, after 200 judgments the features stayed
# out (or lost 0.004) on 6 of 11 default runs, at 1 five of those gained +0.017 to +0.043 AP of the rest; no
# checkpoint (50-500) lost on 17 runs (docs/benchmarks.md, session 8)
# The judged query residual (query_residual) is learned only where the static score expects a query to hold two
# or more false negatives more likely than not (NFCorpus forms at 102-323 queries 0.9-1.0, vid-titles at 35 s1 0.37;
# SciFact train 0.004-0.005).
SEVERAL_GATE = 0.5
# ... and only while at most this share of all rows is judged: past it the head-learned residual no longer describes
# the rest (at 35 queries after 500 judgments, 48% of the rows, it cost NFCorpus 0.176 and vid-desc 0.024 AP of
# the rest; at 64 queries, 26%, all four runs gained +0.008 to +0.023; docs/benchmarks.md, session 20).
RESIDUAL_MAX_JUDGED = 1 / 3
_EPS = 1e-4


def _groups(keys: np.ndarray) -> dict[int, np.ndarray]:
    """Row indices per key (one sort instead of a scan per key)."""
    order = np.argsort(keys, kind="stable")
    uniq, start = np.unique(keys[order], return_index=True)
    return {int(k): order[s:e] for k, s, e in zip(uniq, start, [*start[1:], len(order)])}


def judgment_evidence(doc_emb: np.ndarray, q: np.ndarray, d: np.ndarray, jq: np.ndarray, jd: np.ndarray,
                      jy: np.ndarray) -> np.ndarray:
    """Per row (q[i], d[i]): max cosine to docs judged relevant / not relevant for the same query.

    The row's own judgment never counts (leave-one-out), so a judged row's evidence means what an
    unjudged row's does. 0 where the query has no judged doc of that class.
    """
    return _max_sim(doc_emb, q, d, jq, jd, jy)


def doc_evidence(query_emb: np.ndarray, q: np.ndarray, d: np.ndarray, jq: np.ndarray, jd: np.ndarray,
                 jy: np.ndarray) -> np.ndarray:
    """Per row: max cosine (floored at 0) of its query to *other* queries that judged the same doc relevant /
    not relevant — a doc judged a false negative for a near-duplicate query is likely one here too.

    0 where no other query judged the doc (the row's own judgment never counts).
    """
    return np.maximum(_max_sim(query_emb, d, q, jd, jq, jy), 0.0)


def _max_sim(emb: np.ndarray, key: np.ndarray, item: np.ndarray, jkey: np.ndarray, jitem: np.ndarray,
             jy: np.ndarray) -> np.ndarray:
    """Per row: max emb-cosine of item[i] to the judged items of the same key, per class, the same item left out."""
    key, item, jkey, jitem, jy = (np.asarray(v) for v in (key, item, jkey, jitem, jy))
    out = np.zeros((len(key), 2))
    if len(jkey) == 0 or len(key) == 0:
        return out
    rows_of = _groups(key)
    for k, jidx in _groups(jkey).items():
        rows = rows_of.get(k)
        if rows is None:
            continue
        sims = emb[item[rows]] @ emb[jitem[jidx]].T
        sims = np.where(item[rows][:, None] == jitem[jidx][None, :], -np.inf, sims)  # leave the row itself out
        for col, lab in ((0, 1), (1, 0)):
            m = jy[jidx] == lab
            if m.any():
                best = sims[:, m].max(axis=1)
                out[rows, col] = np.where(np.isfinite(best), best, 0.0)
    return out


def topic_evidence(topic_doc: np.ndarray, q: np.ndarray, d: np.ndarray, jq: np.ndarray, jd: np.ndarray,
                   jy: np.ndarray, static_logit: np.ndarray) -> np.ndarray | None:
    """Per row: max cosine, in the corpus' latent semantic space (``topic_doc``: core/mining/lsa.py doc rows),
    to the docs judged relevant for the same query, the row's own judgment left out; 0 where the query has none.

    :func:`judgment_evidence` asks the same in MiniLM's space; this one sees which words *this* corpus uses
    together, as the static ``lsa_feedback`` signal does with the labelled positives. None unless queries are
    expected to hold several false negatives (:func:`several_expected` at least ``SEVERAL_GATE``): with about one
    per query, closeness to a found one says little (SciFact train s0 lost 0.005 AP of the rest after 200 and
    0.028 after 500 ungated). Gated, over 8 runs not used to build it it added +0.007 AP of the rest after 200
    judgments (7 up, none down) and +0.015 after 500 (docs/benchmarks.md, session 21).
    """
    if several_expected(q, static_logit) < SEVERAL_GATE:
        return None
    return _max_sim(topic_doc, q, d, jq, jd, jy)[:, :1]


def query_mass(q: np.ndarray, static_logit: np.ndarray) -> np.ndarray:
    """Per row: log-odds of the mean static probability over its query's rows (label-free; judgments weigh it)."""
    mean = query_mean(q, sigmoid(np.asarray(static_logit, dtype=float)))
    return logit(np.clip(mean, _EPS, 1 - _EPS))


def several_expected(q: np.ndarray, static_logit: np.ndarray) -> float:
    """P(N >= 2), N ~ Poisson(r), r the false negatives the static score expects per query (its probabilities
    summed over each query's rows): as ``select.several_share``, from the stored score alone (label-free)."""
    q = np.asarray(q)
    if not len(q):
        return 0.0
    _, inv = np.unique(q, return_inverse=True)
    r = float(np.bincount(inv, weights=sigmoid(np.asarray(static_logit, dtype=float))).mean())
    return several_chance(r)


def query_residual(q: np.ndarray, static_logit: np.ndarray, judged: np.ndarray,
                   labels: np.ndarray) -> np.ndarray | None:
    """Per row: how many more false negatives its query's *other* judged rows held than the static score
    expected of them, ``(found - expected) / sqrt(n + 1)`` over those ``n`` rows; 0 where there are none.

    Leave-one-out, as :func:`judgment_evidence`: a judged row's own label never enters its value, and
    unjudged rows' labels are never read. None unless queries are expected to hold several false negatives
    (:func:`several_expected` at least ``SEVERAL_GATE``): with about one per query a query's found false
    negative says the rest of it holds none, and fitted there it cost SciFact train s0 0.014 AP of the rest
    after 200 judgments. None too once more than ``RESIDUAL_MAX_JUDGED`` of all rows are judged. Where queries
    hold many (NFCorpus asked in sentences) it tells the rich touched queries from the poor ones: after 500 head
    judgments the rest gained +0.004 to +0.041 AP more on 11 of 13 sentence-query runs (docs/benchmarks.md,
    session 20).
    """
    q, judged = np.asarray(q), np.asarray(judged, dtype=bool)
    static_logit = np.asarray(static_logit, dtype=float)
    if not judged.any() or judged.mean() > RESIDUAL_MAX_JUDGED or several_expected(q, static_logit) < SEVERAL_GATE:
        return None
    p = sigmoid(static_logit)
    y = np.where(judged, np.asarray(labels, dtype=float), 0.0)  # unjudged labels never read
    _, inv = np.unique(q, return_inverse=True)
    k = int(inv.max()) + 1

    def per_query(v: np.ndarray) -> np.ndarray:
        return np.bincount(inv, weights=v, minlength=k)[inv]

    w = judged.astype(float)
    found = per_query(y) - y  # the row's own judgment left out
    expected = per_query(p * w) - p * w
    n = per_query(w) - w
    return np.where(n > 0, (found - expected) / np.sqrt(n + 1.0), 0.0)


def query_mean(q: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Per row: the mean of a label-free signal over its query's rows — query-level evidence only judgments weigh.

    Used for the late-interaction MaxSim: how well a query's candidates cover its tokens says how many of them
    are relevant (NFCorpus test: Spearman 0.56 between a query's mean MaxSim over its 30 candidates and its
    count of hidden relevant ones, 0.15 with its length). One labelled positive per query cannot say that
    (the static score does not use it); the head's judgments can (docs/benchmarks.md, learner v3).
    """
    q, v = np.asarray(q), np.asarray(signal, dtype=float)
    _, inv = np.unique(q, return_inverse=True)
    return (np.bincount(inv, weights=v) / np.bincount(inv))[inv] if len(v) else np.zeros(0)


def signal_features(q: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """A static signal as two learnable columns: log-odds of its percentile over all rows, and its z-score
    within the query. Used for the similarity to the kept positive: after the head is judged, the static score
    ranks the rest poorly where that similarity still ranks it well (SciFact train: remaining AP 0.027 vs 0.101).
    """
    from scipy.stats import rankdata

    q, v = np.asarray(q), np.asarray(signal, dtype=float)
    pct = logit(np.clip((rankdata(v) - 0.5) / max(len(v), 1), _EPS, 1 - _EPS))
    _, inv = np.unique(q, return_inverse=True)
    n = np.bincount(inv)
    mean = np.bincount(inv, weights=v) / n
    sd = np.sqrt(np.maximum(np.bincount(inv, weights=v * v) / n - mean ** 2, 0.0))
    z = np.where(sd[inv] > 1e-9, (v - mean[inv]) / np.where(sd[inv] > 1e-9, sd[inv], 1.0), 0.0)
    return np.column_stack([pct, z])


def static_extras(q: np.ndarray, pos_similarity: np.ndarray | None,
                  late: np.ndarray | None) -> tuple[np.ndarray | None, list[str]]:
    """The learner's ``extra`` columns from stored signals, and their names: the kept-positive similarity
    (:func:`signal_features`) and the query's mean late MaxSim (:func:`query_mean`), each where given.
    One place for the bench's learning curve and the app's refit."""
    cols, names = [], []
    if pos_similarity is not None:
        cols.append(signal_features(q, pos_similarity))
        names += ["pos_similarity_pct", "pos_similarity_query_z"]
    if late is not None:
        cols.append(query_mean(q, late)[:, None])
        names.append("late_maxsim_query_mean")
    return (np.column_stack(cols) if cols else None), names


def _presence(ev: np.ndarray) -> np.ndarray:
    """Each evidence column as (present?, value minus its mean where present, 0 elsewhere): an absent query is
    not a query whose judged docs are dissimilar."""
    cols = []
    for c in range(ev.shape[1]):
        has = ev[:, c] != 0
        mu = ev[has, c].mean() if has.any() else 0.0
        cols += [has.astype(float), np.where(has, ev[:, c] - mu, 0.0)]
    return np.column_stack(cols) if cols else np.zeros((len(ev), 0))


def learning_features(rank_logit: np.ndarray, offset: np.ndarray | None, evidence: np.ndarray | None,
                      doc_ev: np.ndarray | None = None, mass: np.ndarray | None = None,
                      extra: np.ndarray | None = None, residual: np.ndarray | None = None,
                      topic: np.ndarray | None = None) -> np.ndarray:
    """The re-ranker's features: the ranking view's departure from the spline view (when there is one), the
    same-query evidence then its topic column (:func:`topic_evidence`, when given; presence-encoded together),
    the other-query evidence, the query mass, then ``extra`` columns
    (e.g. :func:`signal_features` of the similarity to the kept positive), then the judged query residual
    (:func:`query_residual`) when given.

    Measured (judge the static top 200, re-rank the rest; AP of the unjudged vs the static score): departure +
    raw evidence gave +0.028 to +0.080 on NFCorpus, +0.012 to +0.020 on SciFact train (pu-view-2); this set,
    chosen by :func:`choose_fit`, +0.033 to +0.070 and +0.010 / +0.063 (pu-view-3; docs/benchmarks.md).
    """
    rank_logit = np.asarray(rank_logit, dtype=float)
    cols = [] if offset is None else [(rank_logit - np.asarray(offset, dtype=float))[:, None]]
    if evidence is not None or topic is not None:
        parts = [np.asarray(v, dtype=float).reshape(len(rank_logit), -1) for v in (evidence, topic) if v is not None]
        cols.append(_presence(np.hstack(parts)))
    if doc_ev is not None:
        cols.append(np.asarray(doc_ev, dtype=float).reshape(len(rank_logit), -1))
    if mass is not None:
        cols.append(np.asarray(mass, dtype=float)[:, None])
    if extra is not None:
        cols.append(np.asarray(extra, dtype=float).reshape(len(rank_logit), -1))
    if residual is not None:
        cols.append(np.asarray(residual, dtype=float)[:, None])
    return np.column_stack(cols) if cols else np.zeros((len(rank_logit), 0))


# The names of learning_features' evidence columns, in its order (_presence: a has / value pair per column).
SAME_QUERY_NAMES = ["same_query_fn_has", "same_query_fn_cos", "same_query_neg_has", "same_query_neg_cos"]
TOPIC_NAMES = ["same_query_fn_topic_has", "same_query_fn_topic_cos"]
OTHER_QUERY_NAMES = ["other_query_fn_cos", "other_query_neg_cos"]


@dataclass(frozen=True, eq=False)
class LearnerFeatures:
    """The learner's features over one set of rows, built one way for the bench's learning curve and the app's
    refit (each had written the same calls, and every new column had to be added to both). The label-free parts
    (query mass, the ``static_extras``) are built once; each call adds the judgment evidence, which reads only
    the judged rows' labels. A vector set left None drops its columns: the app's vector-free path, a bench
    without query vectors. ``offset``: the spline view's log-odds, whose departure the bench can show (the store
    does not keep it)."""

    q: np.ndarray
    d: np.ndarray
    static_logit: np.ndarray
    offset: np.ndarray | None = None
    doc_vec: np.ndarray | None = None  # MiniLM doc rows: same-query evidence (judgment_evidence)
    query_vec: np.ndarray | None = None  # MiniLM query rows: other-query evidence (doc_evidence)
    topic_vec: np.ndarray | None = None  # LSA doc rows: topic evidence (topic_evidence)
    pos_similarity: np.ndarray | None = None
    late: np.ndarray | None = None

    @cached_property
    def _label_free(self) -> tuple[np.ndarray, np.ndarray | None, list[str]]:
        extra, names = static_extras(self.q, self.pos_similarity, self.late)
        return query_mass(self.q, self.static_logit), extra, names

    def __call__(self, judged: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """(features, their names) given which rows are judged; ``labels`` is read on the judged rows only."""
        judged = np.asarray(judged, dtype=bool)
        j = np.flatnonzero(judged)
        jq, jd, jy = self.q[j], self.d[j], np.asarray(labels, dtype=float)[j]
        ev = None if self.doc_vec is None else judgment_evidence(self.doc_vec, self.q, self.d, jq, jd, jy)
        dev = None if self.query_vec is None else doc_evidence(self.query_vec, self.q, self.d, jq, jd, jy)
        top = (None if self.topic_vec is None
               else topic_evidence(self.topic_vec, self.q, self.d, jq, jd, jy, self.static_logit))
        res = query_residual(self.q, self.static_logit, judged, labels)
        mass, extra, extra_names = self._label_free
        Z = learning_features(self.static_logit, self.offset, ev, dev, mass, extra, res, top)
        names = ([] if self.offset is None else ["departure"]) + ([] if ev is None else SAME_QUERY_NAMES)
        names += ([] if top is None else TOPIC_NAMES) + ([] if dev is None else OTHER_QUERY_NAMES)
        names += ["query_mass", *extra_names] + ([] if res is None else ["query_residual"])
        return Z, names


def _heldout_loss(offset: np.ndarray, y: np.ndarray, Z: np.ndarray | None, l2: float,
                  fold: np.ndarray) -> np.ndarray | None:
    """Per judged row: log-loss when its fold (a set of whole queries) was left out of the fit."""
    out = np.empty(len(y))
    for k in np.unique(fold):
        te, tr = fold == k, fold != k
        if y[tr].min() == y[tr].max():
            return None
        cal = fit_offset(offset[tr], y[tr], None if Z is None else Z[tr], l2=l2)
        p = np.clip(cal(offset[te], None if Z is None else Z[te]), _EPS, 1 - _EPS)
        out[te] = -(y[te] * np.log(p) + (1 - y[te]) * np.log(1 - p))
    return out


def _folds(groups: np.ndarray) -> np.ndarray:
    """Fold of each judged row: its group's position in a fixed shuffle of the sorted group keys (row order free)."""
    uniq, inv = np.unique(groups, return_inverse=True)
    return np.random.default_rng(0).permutation(len(uniq))[inv] % min(FOLDS, len(uniq))


def choose_fit(offset: np.ndarray, y: np.ndarray, Z: np.ndarray | None, groups: np.ndarray | None = None,
               l2_grid: tuple[float, ...] = L2_GRID, z_gain: float | None = None,
               min_groups: int = MIN_JUDGED_QUERIES) -> OffsetCalibration:
    """Fit on judged rows only: the features, if their grouped held-out log-loss beats the offset's (intercept
    only) by more than ``z_gain`` standard errors of the paired per-row gain, else the intercept; the L2 by the
    one-standard-error rule.

    ``groups`` (e.g. query rows) keeps a query's judged rows in one fold, as unjudged queries are unseen; with
    fewer than ``min_groups`` of them among the judged rows, the intercept only.
    """
    z_gain = Z_GAIN if z_gain is None else z_gain
    offset, y = np.asarray(offset, dtype=float), np.asarray(y, dtype=float)
    n_feat = 0 if Z is None else np.asarray(Z).shape[1]
    plain = fit_offset(offset, y)
    plain = OffsetCalibration(plain.intercept, np.zeros(n_feat), np.zeros(n_feat), np.ones(n_feat))
    if not n_feat:
        return plain
    Z = np.asarray(Z, dtype=float)
    # no groups: rows fold by the rank of their offset, so the choice does not depend on row order
    fold = _folds(np.argsort(np.argsort(offset, kind="stable")) if groups is None else np.asarray(groups))
    if len(np.unique(fold)) < 2 or (groups is not None and len(np.unique(groups)) < min_groups):
        return plain
    ref = _heldout_loss(offset, y, None, 0.0, fold)
    if ref is None:
        return plain
    stats = {}  # l2 -> (mean gain, its standard error), for the L2s whose gain is clear
    for l2 in l2_grid:
        loss = _heldout_loss(offset, y, Z, l2, fold)
        if loss is None:
            continue
        gain = ref - loss
        mean, se = float(gain.mean()), _mean_se(gain, groups)
        if mean > z_gain * se:
            stats[l2] = (mean, se)
    if not stats:
        return plain
    # one-standard-error rule: the most shrunk L2 within one SE of the best gain (the head rewards fitting
    # the head; the rest of the queue, measured, prefers more shrinkage)
    top_mean, top_se = max(stats.values())
    best_l2 = max(l2 for l2, (mean, _) in stats.items() if mean >= top_mean - top_se)
    return fit_offset(offset, y, Z, l2=best_l2)


def _mean_se(v: np.ndarray, groups: np.ndarray | None) -> float:
    """Standard error of ``v.mean()``; with ``groups``, cluster-robust (rows of one query are not independent:
    the head's judgments crowd into a few rich queries, and a per-row SE let features in that hurt the rest
    of the queue — NFCorpus after 200 judgments +0.004 vs +0.031 with this, docs/benchmarks.md session 6)."""
    if groups is None:
        return float(v.std() / np.sqrt(len(v)))
    _, inv = np.unique(np.asarray(groups), return_inverse=True)
    k = int(inv.max()) + 1
    resid = np.bincount(inv, weights=v - v.mean(), minlength=k)  # per-group sums of deviations
    return float(np.sqrt(k / max(k - 1, 1) * (resid ** 2).sum()) / len(v))


def rerank(static_logit: np.ndarray, features: np.ndarray | None, judged: np.ndarray, labels: np.ndarray,
           groups: np.ndarray | None = None) -> np.ndarray:
    """Log-odds of every row after learning from the judged rows (``judged`` mask, ``labels`` 0/1 there).

    ``static_logit``: the fixed offset; ``features``: e.g. :func:`learning_features`, or None; ``groups``: the
    query of each row (cross-validation folds; while the judgments span fewer than ``SPREAD_QUERIES`` queries,
    the queries no judgment touched keep the static score). Returns the offset unchanged until at least two
    judged rows hold both labels; labels of unjudged rows are never read.
    """
    static_logit = np.asarray(static_logit, dtype=float)
    judged = np.asarray(judged, dtype=bool)
    y = np.asarray(labels, dtype=float)[judged]
    if judged.sum() < MIN_JUDGED or y.min() == y.max():
        return static_logit.copy()
    Z = None if features is None else np.asarray(features, dtype=float)
    g = None if groups is None else np.asarray(groups)[judged]
    # a collection with fewer queries than MIN_JUDGED_QUERIES learns once all of them hold judgments
    need = MIN_JUDGED_QUERIES if groups is None else min(MIN_JUDGED_QUERIES, len(np.unique(groups)))
    cal = choose_fit(static_logit[judged], y, None if Z is None else Z[judged], g, min_groups=need)
    z = anchor_levels(logit(cal(static_logit, Z)), static_logit, judged, groups)
    if groups is not None:
        groups = np.asarray(groups)
        if len(np.unique(g)) < min(SPREAD_QUERIES, len(np.unique(groups))):
            untouched = ~np.isin(groups, g)
            z[untouched] = static_logit[untouched]  # too few queries judged for their weights to carry
    return z


def anchor_levels(z: np.ndarray, static_logit: np.ndarray, judged: np.ndarray,
                  groups: np.ndarray | None = None) -> np.ndarray:
    """The unjudged rows of ``z`` shifted, per group, so their mean probability is the static score's there;
    the groups are the queries with judged rows and the queries without (one group without ``groups``).

    Why: the fit learns its level on the head of the queue, and the head's level does not carry to the rest.
    Measured after 200 head judgments (15 bench runs: NFCorpus, SciFact train, half-title): on the queries
    no judgment touched the learner predicted 0.02-0.08 where 0.10-0.12 were false negatives (the static
    score 0.09-0.17), and ECE of the rest rose from 0.02 to 0.05-0.08. The learner re-orders inside each group;
    the static score, calibrated on all candidates, says how many false negatives each group still holds.
    Anchored, ECE stays at the static's and the rest's AP gains up to +0.02 more (docs/benchmarks.md, session 7).
    An intercept-only fit thus leaves the unjudged rows exactly at the static score.
    """
    z = np.asarray(z, dtype=float).copy()
    static_logit = np.asarray(static_logit, dtype=float)
    judged = np.asarray(judged, dtype=bool)
    touched = np.zeros(len(z), bool) if groups is None else np.isin(groups, np.asarray(groups)[judged])
    for part in (touched & ~judged, ~touched & ~judged):
        if part.any():
            z[part] += shift_to_mean(z[part], float(sigmoid(static_logit[part]).mean()))
    return z


def shift_to_mean(z: np.ndarray, target: float) -> float:
    """The c with mean(sigmoid(z + c)) == target: monotone in c, bracketed by moving every z onto logit(target)."""
    from scipy.optimize import brentq

    p = float(np.clip(target, _EPS, 1 - _EPS))
    t = float(logit(p))
    lo, hi = t - float(z.max()), t - float(z.min())
    if hi - lo < 1e-12:
        return lo
    return float(brentq(lambda c: sigmoid(z + c).mean() - p, lo, hi, xtol=1e-10))
