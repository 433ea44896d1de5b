"""Fit every view on the labelled data, keep the one whose held-out labelled positives rank best.

See :mod:`core.risk.views` for why held-out labelled positives in each query's top region stand in for the
hidden false negatives. Everything here sees only ``inputs`` (the sparse labels), never a hidden label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.risk.combiner import linear_contributions, several_chance
from core.risk.inputs import DENSE_NQC, POSITIVE_MEAN, QUERY_MEANS, RiskInputs, pair_arrays
from core.risk.region import region_pairs
from core.risk.signals import SIGNALS, compute_signals
from core.risk.views import (
    FOLDS,
    View,
    average_precision,
    crossfit,
    fit_platt,
    make_model,
    model_score,
)

MODEL_VIEWS = ("linear_equal", "region_gbm")
# The default view: the PU regression over the whole corpus averaged with the equal-weight sum of the same
# standardised signals (views.EqualWeights). Held-out labelled positives cannot weigh the two (they prefer the
# regression on SciFact while the hidden false negatives prefer the sum), so the average is fixed; the blend of
# both views and each part alone are reported in View.heldout, never chosen (docs/benchmarks.md, session 17).
GLOBAL_PARTS = ("global_linear", "equal_weights")
DEFAULT_VIEW = "linear_equal"  # robust with few labelled positives; the boosted view must beat it clearly
BOOTSTRAP = 200  # query resamples for the paired test below
MIN_REGION_POSITIVES = 200  # fewer labelled positives in the top regions: too few for boosted leaves of 40
WIN_SHARE = 0.95  # another view replaces the default only if it wins in this share of resamples
# Single signals are scored (View.heldout) but never chosen: held-out AP weighs every query alike while the
# false negatives crowd into rich queries, so it misjudges query-level signals (graph_bm25 on NFCorpus: held-out
# AP 0.02, bench AP 0.44).
SKIP_SIGNALS = ("inverse_rank", "topic_query")  # topic_query: a gate, not evidence

# Terms fused beside the view, each standardised on the region's top rows and added at a constant weight for
# every collection. Held-out labelled positives cannot set any of them (one per query, rich query or not; a
# positive is what feedback moves toward), so each weight was screened on bench runs and checked on runs not
# used to choose it; the figures are in docs/benchmarks.md under the session named.
# The token MaxSim: fitted against uniform corpus docs the PU models give it the small weight that separates "on
# topic" from random, while among mined candidates it ranks nearly as well as the whole view (session 10: 0.5 ->
# 0.25 lifted the sentence queries +0.022 to +0.025 AP; at 0 SciFact lost 0.02-0.03).
LATE_WEIGHT = 0.25
LATE_SIGNAL = "late_maxsim"
# For queries that name a topic (TOPIC_GATE 1): how much of the query its top docs answer (QUERY_SIGNALS: mean
# term coverage and, with late interaction, mean MaxSim), at QUERY_WEIGHT times the chance that a query holds two
# or more unlabelled relevant docs (:func:`several_share`, label-free: ~0.9 on NFCorpus, ~0.02 on SciFact train).
# Such queries hold more relevant docs; for a sentence the same term measures its wording (session 9: NFCorpus
# asked in descriptions 0.444 -> 0.292 ungated; gated, the collection 0.560 -> 0.580). Signals without the gate
# (older stored rows): the term applies to every query.
QUERY_WEIGHT = 1.0
QUERY_SIGNALS = QUERY_MEANS
TOPIC_GATE = "topic_query"
# For sentence queries (TOPIC_GATE 0): how close the query's top unlabelled docs are to its labelled positive
# (inputs.POSITIVE_MEAN). Top docs far from the positive answer another reading of the words (session 17:
# SciFact train +0.032 to +0.035 AP; ungated it cost NFCorpus 0.01-0.03).
SENTENCE_SIGNAL = POSITIVE_MEAN
SENTENCE_WEIGHT = 0.15
# For sentence queries: how far the retriever commits to some of its top docs over the others (inputs.DENSE_NQC,
# the NQC query-performance predictor, label-free), at NQC_WEIGHT times the topic term's factor (session 19: +0.007
# to +0.019 AP on 11 sentence stand-in runs, -0.001 to +0.026 on 10 more; for topic queries it cost NFCorpus at
# 35 queries up to 0.023).
NQC_WEIGHT = 0.2
# For every query: the doc's closeness to its labelled positives' topic in the corpus' LSA space (``lsa_feedback``,
# core/mining/lsa.py; already standardised against the query's own top docs) and its mean over the doc's nearest
# docs (``graph_lsa``, pu-view-13), at LSA_WEIGHT times the topic term's factor: topical closeness says
# "relevant" where queries hold several relevant docs, not where relevance is specific (session 21: 22 runs,
# 16 up, mean +0.008; the graph mean +0.004 over 25).
LSA_SIGNAL = "lsa_feedback"
LSA_WEIGHT = 0.35
LSA_GRAPH_SIGNAL = "graph_lsa"


def _signal_views() -> list[str]:
    return [n for n in SIGNALS if n not in SKIP_SIGNALS]


@dataclass
class ViewScore:
    """Sum of standardised model log-odds (one model: its log-odds), plus the standardised late-interaction
    MaxSim at ``LATE_WEIGHT`` when ``late`` is set, plus the topic queries' query-level term when ``query`` is
    set, plus the sentence queries' term when ``sentence`` is set, plus their NQC term when ``nqc`` is set, plus
    the LSA closeness to the positives' topic (and its doc-graph mean, ``lsa_graph``) when ``lsa`` is set; a
    class, not a lambda, so it pickles."""

    models: dict[str, Any]
    norm: dict[str, tuple[float, float]]  # model name -> (mean, sd) of its held-out region scores
    centre: tuple[float, float] = (0.0, 1.0)  # (mean, sd) of that sum on the region's top rows
    late: tuple[float, float, float] | None = None  # (weight, mean, sd) of the MaxSim on the region's top rows
    query: tuple[float, dict[str, tuple[float, float]]] | None = None  # (weight, signal -> (mean, sd) likewise)
    sentence: tuple[float, float, float] | None = None  # (weight, mean, sd) of SENTENCE_SIGNAL likewise
    nqc: tuple[float, float, float] | None = None  # (weight, mean, sd) of DENSE_NQC likewise
    lsa: float | None = None  # weight of LSA_SIGNAL (standardised per query already)
    lsa_graph: bool = False  # LSA_GRAPH_SIGNAL too, at the same weight (False in views pickled before pu-view-13)

    def __call__(self, X: np.ndarray, signals: dict[str, np.ndarray] | None = None) -> np.ndarray:
        out = sum((model_score(self.models[k], X) - m) / sd for k, (m, sd) in self.norm.items())
        out = (out - self.centre[0]) / self.centre[1]
        if self.late is not None:
            out = out + self.late[0] * self.late_z(signals)
        if self.query is not None:
            out = out + self.query[0] * self.query_z(signals)
        if self.sentence is not None and signals is not None and SENTENCE_SIGNAL in signals:
            out = out + self.sentence[0] * self.sentence_z(signals)  # rows stored before the signal: no term
        if self.nqc is not None and signals is not None and DENSE_NQC in signals:
            out = out + self.nqc[0] * self.nqc_z(signals)  # rows stored before the signal: no term
        for term in self.lsa_terms(signals).values():
            out = out + term
        return out

    def lsa_terms(self, signals: dict[str, np.ndarray] | None) -> dict[str, np.ndarray]:
        """Signal -> the term the view adds for it: the LSA closeness to the positives' topic at ``lsa`` and, from
        pu-view-13 (``lsa_graph``), its doc-graph mean at the same weight; none where the view fuses no LSA term
        (or was pickled before the fields) or the rows were stored before the signal."""
        if not getattr(self, "lsa", None) or signals is None or LSA_SIGNAL not in signals:
            return {}
        names = [LSA_SIGNAL] + ([LSA_GRAPH_SIGNAL] if getattr(self, "lsa_graph", False) and LSA_GRAPH_SIGNAL in signals
                                else [])
        return {n: self.lsa * np.asarray(signals[n], dtype=float) for n in names}

    def nqc_z(self, signals: dict[str, np.ndarray] | None) -> np.ndarray:
        """The retriever's commitment to the query's top docs (``DENSE_NQC``), standardised as on the region's
        top rows, for sentence queries (``TOPIC_GATE`` 0); 0 for topic queries."""
        return _sentence_only(self.nqc, signals, DENSE_NQC, "NQC")

    def sentence_z(self, signals: dict[str, np.ndarray] | None) -> np.ndarray:
        """The sentence-query term: the query's top docs' closeness to its labelled positive, standardised as on
        the region's top rows, for sentence queries (``TOPIC_GATE`` 0); 0 for topic queries."""
        return _sentence_only(self.sentence, signals, SENTENCE_SIGNAL, "sentence-query")

    def contributions(self, X: np.ndarray) -> np.ndarray | None:
        """Per-signal share of the models' part of the score, when every model is linear in the signals (the
        default view: the regression's coef x standardised value and the equal-weight z-scores, each over its
        norm's sd, over the centre's sd) — what ``reasons`` names; None for a boosted view."""
        total = np.zeros(np.shape(X), dtype=float)
        for k, (_, sd) in self.norm.items():
            model = self.models[k]
            if hasattr(model, "contributions"):
                part = model.contributions(X)
            elif hasattr(model, "steps") and hasattr(model.steps[-1][1], "coef_"):
                part = linear_contributions(model, X)
            else:
                return None
            total += part / sd
        return total / self.centre[1]

    def late_z(self, signals: dict[str, np.ndarray] | None) -> np.ndarray:
        """The fused MaxSim, standardised as on the region's top rows (the view fuses it at ``late[0]``)."""
        if self.late is None:
            raise ValueError("this view fuses no late-interaction signal")
        _, m, sd = self.late
        return (_signal(signals, LATE_SIGNAL) - m) / sd

    def query_z(self, signals: dict[str, np.ndarray] | None) -> np.ndarray:
        """The query-level term: the mean of its signals, each standardised as on the region's top rows, for
        the queries that name a topic (``TOPIC_GATE``); 0 for sentence queries."""
        if self.query is None:
            raise ValueError("this view fuses no query-level signal")
        z = sum((_signal(signals, n) - m) / sd for n, (m, sd) in self.query[1].items()) / len(self.query[1])
        gate = (signals or {}).get(TOPIC_GATE)
        return z if gate is None else z * np.asarray(gate, dtype=float)


def _signal(signals: dict[str, np.ndarray] | None, name: str) -> np.ndarray:
    if signals is None or name not in signals:
        raise ValueError(f"this view fuses the {name} signal: pass the signals to score it")
    return np.asarray(signals[name], dtype=float)


def _sentence_only(term: tuple[float, float, float] | None, signals: dict[str, np.ndarray] | None, name: str,
                   what: str) -> np.ndarray:
    """A fused term's signal ``name`` standardised by the term's (weight, mean, sd), for sentence queries
    (``TOPIC_GATE`` 0); 0 for topic queries, and everywhere when the rows carry no gate."""
    if term is None:
        raise ValueError(f"this view fuses no {what} term")
    _, m, sd = term
    z = (_signal(signals, name) - m) / sd
    gate = signals.get(TOPIC_GATE)
    return z * (1.0 - np.asarray(gate, dtype=float)) if gate is not None else np.zeros_like(z)


def _standard(v: np.ndarray) -> tuple[float, float]:
    return float(v.mean()), float(v.std()) or 1.0


def _wins(q: np.ndarray, y: np.ndarray, s_new: np.ndarray, s_old: np.ndarray, seed: int,
          w: np.ndarray | None = None) -> bool:
    """Paired bootstrap over queries: does ``s_new`` beat ``s_old`` in AP in >= WIN_SHARE of resamples?

    With few labelled positives in the top region (NFCorpus: ~100) held-out AP is noisy; a switch away
    from the default must be more than noise.
    """
    uq, inv = np.unique(q, return_inverse=True)
    groups = [np.flatnonzero(inv == i) for i in range(len(uq))]
    rng = np.random.default_rng(seed)
    wins = 0
    for _ in range(BOOTSTRAP):
        rows = np.concatenate([groups[i] for i in rng.integers(0, len(uq), len(uq))])
        ww = None if w is None else w[rows]
        a, b = average_precision(y[rows], s_new[rows], ww), average_precision(y[rows], s_old[rows], ww)
        wins += bool(a > b)
    return wins >= WIN_SHARE * BOOTSTRAP


def choose_view(inputs: RiskInputs, names: list[str], global_train: tuple[np.ndarray, np.ndarray, np.ndarray],
                max_queries: int) -> View:
    """The best view by pooled held-out AP of labelled positives among each query's top ``top_k + 1``.

    ``names``: the learned signals (model features); ``global_train``: (X, labelled, query rows) of the
    global PU pairs (labelled positives vs uniform corpus docs).
    """
    q, d, y = region_pairs(inputs, inputs.region_depth, max_queries)
    a = pair_arrays(inputs, q, d, ranks=True)
    a["rank"] = a["dense_rank"]
    sig = compute_signals(a, [n for n in SIGNALS if n != "inverse_rank"])
    X = np.column_stack([sig[n] for n in names])
    fold_of_query = np.random.default_rng(inputs.seed).integers(0, FOLDS, len(inputs.query_ids))
    fr = fold_of_query[q]
    Xt, yt, qt = global_train
    ev = a["dense_rank"] <= inputs.top_k + 1
    held: dict[str, np.ndarray] = {}
    held["global_linear"] = crossfit("global_linear", X, y, fr, (Xt, yt, fold_of_query[qt]))
    skip = tuple(i for i, n in enumerate(names) if n == LATE_SIGNAL)  # fused apart below, at LATE_WEIGHT
    equal = make_model("equal_weights", skip).fit(X[ev] if ev.any() else X)  # label-free: no fold to hold out
    held["equal_weights"] = model_score(equal, X)
    parts = {k: _standard(held[k]) for k in GLOBAL_PARTS}
    held[DEFAULT_VIEW] = sum((held[k] - m) / sd for k, (m, sd) in parts.items())
    kinds = (DEFAULT_VIEW, "region_gbm") if y.sum() >= MIN_REGION_POSITIVES else (DEFAULT_VIEW,)
    if len(kinds) == 2:
        held["region_gbm"] = crossfit("region_gbm", X, y, fr)
        held["blend"] = sum((held[k] - m) / sd for k, (m, sd) in ((k, _standard(held[k])) for k in kinds))
    for n in _signal_views():
        held[n] = np.nan_to_num(np.asarray(sig[n], dtype=float))
    ap = {v: average_precision(y[ev], s[ev]) for v, s in held.items()}
    # the boosted view must beat the PU regression, as before the equal-weight half joined: held-out positives
    # cannot judge that half (above), and against it the boosted view won SciFact train at 225 queries,
    # where it ranked the hidden false negatives worse (AP 0.172 vs 0.236 on seed 1; session 17)
    gbm = "region_gbm" in held and ap["region_gbm"] > ap["global_linear"]  # NaN (no positive in reach): False
    best = "region_gbm" if gbm and _wins(q[ev], y[ev], held["region_gbm"][ev], held["global_linear"][ev],
                                         inputs.seed) else DEFAULT_VIEW
    if best == DEFAULT_VIEW:
        score = ViewScore({"global_linear": make_model("global_linear").fit(Xt, yt), "equal_weights": equal}, parts)
    else:
        score = ViewScore({"region_gbm": make_model("region_gbm").fit(X, y)}, {best: (0.0, 1.0)})
    fused, name = held[best], best
    late = np.asarray(sig.get(LATE_SIGNAL, np.zeros(len(y))), dtype=float)
    fuse_late = bool(np.ptp(late) > 0 and ev.any())  # late interaction on: fuse it (see LATE_WEIGHT)
    qsig = {n: np.asarray(sig[n], dtype=float) for n in QUERY_SIGNALS if n in sig and ev.any() and np.ptp(sig[n][ev]) > 0}
    if TOPIC_GATE in sig and not np.asarray(sig[TOPIC_GATE])[ev].any():
        qsig = {}  # no query names a topic: no query-level term
    if ev.any():  # standardised on the region's top rows whatever is fused, so the map is one fit either way
        m, sd = _standard(fused[ev])
        fused = (fused - m) / sd
        score = ViewScore(score.models, score.norm, (m, sd))
    if fuse_late:
        lm, lsd = _standard(late[ev])
        score.late = (LATE_WEIGHT, lm, lsd)
        fused = fused + LATE_WEIGHT * (late - lm) / lsd
        name = f"{name}+late"
    # The probability map is fitted before the query-level term joins: the labelled positives (one per query,
    # rich query or not) cannot weigh it, so a Platt fit with it flattens the slope of everything (measured:
    # ECE 0.04 -> 0.07-0.10 on NFCorpus). The term enters the log-odds at that slope.
    platt, c, prior, _ = _elkan_noto(fused, y)
    several = several_share(fused[ev], y[ev], q[ev]) if ev.any() else 0.0
    if qsig:
        score.query = (QUERY_WEIGHT * several, {n: _standard(v[ev]) for n, v in qsig.items()})
        name = f"{name}+query"
    gate = np.asarray(sig.get(TOPIC_GATE, np.ones(len(y))), dtype=float)
    pmean = np.asarray(sig.get(SENTENCE_SIGNAL, np.zeros(len(y))), dtype=float)
    if ev.any() and (gate[ev] == 0).any() and np.ptp(pmean[ev]) > 0:  # some sentence queries: fuse it
        score.sentence = (SENTENCE_WEIGHT, *_standard(pmean[ev]))
        name = f"{name}+sentence"
    nqc = np.asarray(sig.get(DENSE_NQC, np.zeros(len(y))), dtype=float)
    if ev.any() and (gate[ev] == 0).any() and np.ptp(nqc[ev]) > 0 and NQC_WEIGHT * several > 0:
        score.nqc = (NQC_WEIGHT * several, *_standard(nqc[ev]))
        name = f"{name}+nqc"
    if inputs.lsa is not None and LSA_WEIGHT * several > 0:  # read when ranking (feedback arrays), not here
        score.lsa, score.lsa_graph = LSA_WEIGHT * several, True
        name = f"{name}+lsa"
    return View(name, score, platt, c, prior, int(y.sum()), {k: round(v, 4) for k, v in ap.items()})


def several_share(score: np.ndarray, y: np.ndarray, q: np.ndarray) -> float:
    """P(N >= 2), N ~ Poisson(r), r the unlabelled relevant docs the view expects per query
    among these rows (each query's top ``top_k``, label-free: its Elkan-Noto probabilities summed).

    A query-level term ranks whole queries by how many relevant docs they hold; that is worth something only
    where a query may hold more than one — with about one per query the rows within it carry the ranking.
    NFCorpus r 3.7 -> 0.89; SciFact train r 0.23 -> 0.02 (at r / (1 + r), 0.19, SciFact lost 0.026 AP).
    """
    _, _, _, rel = _elkan_noto(score, y)
    _, inv = np.unique(q, return_inverse=True)
    r = float(np.bincount(inv, weights=np.where(y == 0, rel, 0.0)).mean()) if len(q) else 0.0
    return several_chance(r)


def _elkan_noto(score: np.ndarray, y: np.ndarray) -> tuple[tuple[float, float], float, float, np.ndarray]:
    """Platt fit of P(labelled | score), the label frequency c, the unlabelled relevant share (prior), and
    every row's P(relevant | score, unlabelled) — Elkan & Noto (2008)."""
    platt = fit_platt(score, y)
    g = 1.0 / (1.0 + np.exp(-(platt[0] * score + platt[1])))
    c = float(np.clip(g[y == 1].mean(), 1e-6, 1 - 1e-6)) if y.any() else 0.5
    odds = (1 - c) / c * g / np.clip(1 - g, 1e-6, None)
    rel = odds / (1 + odds)
    un = y == 0
    prior = float(rel[un].mean()) if un.any() else 0.0
    return platt, c, prior, rel
