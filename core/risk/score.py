"""score_false_negatives: signals -> PU combiner -> fn_risk + reasons (the static score; judgments refit it in
core.review.learning)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from core.mining.bm25 import TOKENIZER_ID
from core.risk.combiner import PUModel, fit_pu, sigmoid
from core.risk.inputs import DENSE_NQC, RiskInputs, pair_arrays, with_feedback
from core.risk.select import LATE_SIGNAL, QUERY_SIGNALS, choose_view
from core.risk.signals import CO_CANDIDATES, SIGNALS, compute_signals, learned_names
from core.risk.smooth import co_candidate_shift
from core.risk.views import P_MAX, P_MIN

SCORER_VERSION = f"pu-view-15+{TOKENIZER_ID}"  # 15: the log-odds pulled toward each candidate's 3 closest fellow candidates' (core/risk/smooth.py); 14: the graph signals weigh a doc's nearest docs by rank (inputs.graph_weights); 13: and its mean over the doc's nearest docs (graph_lsa) beside it; 12: the LSA closeness to the positives' topic fused at 0.35 x the topic term's factor; 11: the NQC of a sentence query's dense top docs fused at 0.2 x the topic term's factor; 10: dense feedback (the query vector moved 0.25 toward its labelled positives) when ranking; 9: a sentence query's top docs' closeness to its labelled positive fused at 0.15; 8: the global view averages the PU regression with the equal-weight sum of its signals; 7: the MaxSim fused at 0.25, not 0.5; 6: the query-level term for topic queries only; 5: the static token MaxSim; BM25 signals depend on the tokeniser: record which
MAX_TRAIN_QUERIES = 2000  # bounds PU training pairs at ~MAX_TRAIN_QUERIES * pu_sample
FOLDS_MIN_POSITIVES = 20  # fewer labelled positives than this: no held-out view choice, the linear view ranks


def pu_training_pairs(inputs: RiskInputs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query rows, doc rows, labelled): each query's labelled positives plus a uniform corpus sample."""
    rng = np.random.default_rng(inputs.seed)
    pos_rows = inputs.positive_rows()
    qs = np.flatnonzero([len(p) > 0 for p in pos_rows])
    if len(qs) > MAX_TRAIN_QUERIES:
        qs = np.sort(rng.choice(qs, MAX_TRAIN_QUERIES, replace=False))
    n_docs = len(inputs.doc_ids)
    m = min(inputs.pu_sample, n_docs)
    q, d, y = [], [], []
    for qi in qs:
        p = pos_rows[qi]
        u = rng.choice(n_docs, m, replace=False)
        u = u[~np.isin(u, p)]
        q += [np.full(len(p) + len(u), qi)]
        d += [p, u]
        y += [np.ones(len(p)), np.zeros(len(u))]
    cat = lambda xs, t: np.concatenate(xs).astype(t) if xs else np.zeros(0, t)
    return cat(q, np.int64), cat(d, np.int64), cat(y, np.int64)


def _features(a: dict[str, np.ndarray], names: list[str]) -> np.ndarray:
    sig = compute_signals(a, names)
    return np.column_stack([sig[n] for n in names]) if names else np.zeros((len(a["dense"]), 0))


def train_combiner(inputs: RiskInputs, choose: bool = True) -> PUModel:
    """Fit the PU combiner on the sparsified labels only (the learned signals that are not constant).

    ``choose``: also pick the ranking view on held-out labelled positives (core/risk/select.py); without
    it fn_risk is the global linear PU model's probability (the pre-v2 scorer).
    """
    q, d, y = pu_training_pairs(inputs)
    a = pair_arrays(inputs, q, d)
    names = [n for n in learned_names() if inputs.bm25 is not None or "bm25" not in n]
    X = _features(a, names)
    keep = [i for i in range(X.shape[1]) if np.ptp(X[:, i]) > 0]
    names = [names[i] for i in keep]
    model = fit_pu(X[:, keep], y, names)
    if choose and y.sum() >= FOLDS_MIN_POSITIVES:
        model.view = choose_view(inputs, names, (X[:, keep], y, q), MAX_TRAIN_QUERIES)
    return model


def static_log_odds(model: PUModel, X: np.ndarray, sig: dict[str, np.ndarray], groups: np.ndarray | None = None,
                    vecs: np.ndarray | None = None) -> np.ndarray:
    """The judgment-free log-odds that rank the queue (the chosen view's, else the linear PU model's); with
    ``groups`` (the query of each row) and ``vecs`` (its doc's unit vector), pulled toward the row's closest
    fellow candidates' (core/risk/smooth.py, since pu-view-15), as :func:`score_false_negatives` ranks."""
    z = model.rank_logit(X) if model.view is None else model.view.log_odds(model.view.score(X, sig))
    return z if groups is None else z + co_candidate_shift(z, groups, vecs)


QUERY_REASON = "a query likely to hold several relevant docs"
QUERY_LEVEL = (*QUERY_SIGNALS, DENSE_NQC)  # the fused query-level terms: one clause on the card


def _contributions(model: PUModel, X: np.ndarray) -> np.ndarray:
    """Per-signal contributions to what ranks the queue: the chosen view's models where they are linear in the
    signals (the default view averages the regression and the equal-weight sum), else the linear PU model's."""
    view = model.view.score.contributions(X) if model.view is not None and hasattr(model.view.score, "contributions") else None
    return model.contributions(X) if view is None else view


def _fused_high(model: PUModel, sig: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Signal -> rows where a term the view fuses (core/risk/select.py) is high: the MaxSim at z >= 1 on the
    region's top rows; the query-level signals (the NQC among them) and the LSA closeness to the positives'
    topic where their term adds half a standard deviation or more; the pull toward the fellow candidates where
    it adds half a log-odds or more."""
    score = model.view.score if model.view is not None else None
    out = {}
    if getattr(score, "late", None) is not None:
        out[LATE_SIGNAL] = score.late_z(sig) >= 1.0
    if getattr(score, "query", None) is not None:
        high = score.query[0] * score.query_z(sig) >= 0.5
        out.update({n: high for n in score.query[1]})
    if getattr(score, "nqc", None) is not None and DENSE_NQC in sig:
        out[DENSE_NQC] = score.nqc[0] * score.nqc_z(sig) >= 0.5
    if hasattr(score, "lsa_terms"):
        out.update({n: term >= 0.5 for n, term in score.lsa_terms(sig).items()})
    if CO_CANDIDATES in sig:
        out[CO_CANDIDATES] = np.asarray(sig[CO_CANDIDATES]) >= 0.5
    return out


def _reasons(contrib: np.ndarray, names: list[str], sig: dict[str, np.ndarray], a: dict[str, np.ndarray],
             fused: dict[str, np.ndarray] | None = None) -> list[str]:
    """Per row: the two largest positive linear contributions, plus the signals that fire on their own.

    ``fused``: signal -> rows where a term a view fuses beside its model is high (:func:`_fused_high`) — it
    ranks them more than any linear contribution says, so the card names it; the query-level signals in one
    clause that says why they count.
    """
    out = []
    for r in range(len(contrib)):
        raw = {k: float(v[r]) for k, v in a.items()}
        shown = [names[i] for i in np.argsort(-contrib[r])[:2] if contrib[r, i] > 0]
        shown += [n for n, rows in (fused or {}).items() if rows[r] and n not in shown and n not in QUERY_LEVEL]
        parts = [SIGNALS[n].reason(float(sig[n][r]), raw) for n in shown]
        query = [SIGNALS[n].reason(float(sig[n][r]), raw) for n, rows in (fused or {}).items()
                 if rows[r] and n in QUERY_LEVEL]
        if query:
            parts.append(f"{QUERY_REASON} ({' and '.join(query)})")
        if sig["pos_ratio"][r] >= 0.9:
            parts.append(SIGNALS["pos_ratio"].reason(float(sig["pos_ratio"][r]), raw))
        out.append("; ".join(parts) or "no signal stands out")
    return out


def score_false_negatives(candidates_df: pd.DataFrame, inputs: RiskInputs,
                          model: PUModel | None = None) -> pd.DataFrame:
    """Add pos_score, fn_risk (probability the candidate is an unlabelled relevant doc), reasons, signals.

    ``inputs.positives`` must be the labels the dataset came with (sparse): this is the static score, which
    sees no judgment. Judgments reach fn_risk through one path, the learning queue's refit
    (``core.review.learning.relearn``, run by the app and after `negaudit score`). Every output row depends
    only on its own query's candidates given ``model``, so a batch engine scores query-partitions separately
    with the dataset's :func:`train_combiner` model.
    """
    df = candidates_df.reset_index(drop=True).copy()
    pairs = df[["query_id", "doc_id"]].astype(str).drop_duplicates().reset_index(drop=True)
    q, d = inputs.qrow(pairs.query_id.tolist()), inputs.drow(pairs.doc_id.tolist())
    model = model or train_combiner(inputs)
    a = pair_arrays(inputs, q, d, ranks=True, feedback=True)
    a["rank"] = a["dense_rank"]
    if "rank" in df and "miner" in df:
        dense = df[df.miner == "dense"].astype({"query_id": str, "doc_id": str})
        rank = pairs.merge(dense[["query_id", "doc_id", "rank"]], how="left", on=["query_id", "doc_id"])["rank"]
        a["rank"] = np.where(rank.notna(), rank.to_numpy(dtype=float, na_value=0), a["dense_rank"])
    sig = compute_signals(a)
    # the model's features as it ranks: lexical ones of the query its labelled positives expand (RM3)
    sig.update(compute_signals(with_feedback(a), model.names))
    X = np.column_stack([sig[n] for n in model.names])
    z = static_log_odds(model, X, sig)
    sig[CO_CANDIDATES] = co_candidate_shift(z, q, inputs.doc_emb[d])  # each query's own rows: partitions agree
    z = z + sig[CO_CANDIDATES]
    if model.view is None:  # too few labels to choose a view: still never 0% or 100% before judgments
        risk = P_MIN + (P_MAX - P_MIN) * sigmoid(z)
    else:
        risk = model.view.probability_of_log_odds(z)
    pairs["pos_score"] = np.where(a["pos_score"] != 0, a["pos_score"], np.nan)
    pairs["fn_risk"] = np.clip(risk, 0.0, 1.0)
    pairs["reasons"] = _reasons(_contributions(model, X), model.names, sig, a, _fused_high(model, sig))
    keys = list(sig)
    vals = np.column_stack([sig[k] for k in keys])
    pairs["signals"] = [json.dumps({k: float(f"{v:.6g}") for k, v in zip(keys, row.tolist())}) for row in vals]
    df = df.drop(columns=[c for c in ("pos_score", "fn_risk", "reasons", "signals") if c in df])
    df = df.astype({"query_id": str, "doc_id": str})
    return df.merge(pairs, how="left", on=["query_id", "doc_id"])
