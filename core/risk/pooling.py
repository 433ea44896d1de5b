"""Per-query pooling bias and per-dataset false-negative rates: plain DataFrame-returning functions.

``pooling_bias_risk`` is a fixed, documented mean of four [0,1] parts, each "higher = more unlabelled
relevant docs likely" (Buckley & Voorhees; Yilmaz & Aslam on incomplete judgments):
  0.4 x (1 - judged_at_k)      Judged@k of the strong miner: the direct measure of pooling holes;
  0.2 x (1 - lexical_overlap)  the strong miner and the (lexical) pool retriever disagree -> the pool missed docs;
  0.2 x 1 / n_positives        one or no positive: labels are sparse (1 when there is none);
  0.2 x positive_depth         log(rank)/log(k+1) of the best labelled positive under the strong miner
                               (1 if outside the top-k): docs the miner prefers to the positive are suspects.
Weights are not fitted to any dataset (there is no per-query ground truth in a user's data).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd


def query_pooling_bias(
    dense_ranking: Mapping[str, Sequence[str]],
    lexical_ranking: Mapping[str, Sequence[str]],
    labelled: Mapping[str, Collection[str]],
    positives: Mapping[str, Collection[str]],
    k: int = 10,
) -> pd.DataFrame:
    """One row per query of ``dense_ranking`` (the strong miner's ranking *before* removing labelled docs).

    ``labelled``: docs with any label for the query (any qrel grade, including 0, and judgments);
    ``positives``: relevance > 0 only.
    """
    rows = []
    for qid, ranked in dense_ranking.items():
        top = list(ranked)[:k]
        lab = set(labelled.get(qid, ()))
        pos = set(positives.get(qid, ()))
        judged = sum(d in lab for d in top) / len(top) if top else 0.0
        lex = set(list(lexical_ranking.get(qid, ()))[:k])
        overlap = len(lex & set(top)) / len(top) if top else 0.0
        ranks = [i + 1 for i, d in enumerate(ranked) if d in pos]
        best = min(ranks) if ranks else np.nan
        depth = 1.0 if not ranks or best > k else float(np.log(best) / np.log(k + 1))
        sparse = 1.0 / len(pos) if pos else 1.0
        risk = 0.4 * (1 - judged) + 0.2 * (1 - overlap) + 0.2 * sparse + 0.2 * depth
        rows.append((qid, len(pos), judged, overlap, best, float(np.clip(risk, 0, 1))))
    return pd.DataFrame(rows, columns=["query_id", "n_positives", "judged_at_k", "lexical_overlap",
                                       "positive_rank", "pooling_bias_risk"])


def fn_rate_by_rank(scored: pd.DataFrame, judgments: pd.DataFrame | None = None,
                    miner: str = "dense") -> pd.DataFrame:
    """False-negative rate by mining-rank bucket (`core.labels.rank_bucket`, the report's buckets):
    estimated (mean fn_risk) and judged (the calibrator's target) where judgments exist."""
    from core.labels import rank_buckets
    from core.risk.calibration import judgment_targets

    df = scored[scored["miner"] == miner] if "miner" in scored else scored
    df = df.assign(bucket=rank_buckets(df["rank"]))
    if judgments is not None and len(judgments):
        jt = judgment_targets(judgments)
        df = df.merge(jt, how="left", on=["query_id", "doc_id"])
    else:
        df = df.assign(y=np.nan)
    g = df.groupby("bucket", observed=True)
    return pd.DataFrame({
        "n": g.size(),
        "est_fn_rate": g["fn_risk"].mean(),
        "n_judged": g["y"].count(),
        "judged_fn_rate": g["y"].mean(),
    }).reset_index()


def risk_distribution(scored: pd.DataFrame, bins: int = 10) -> pd.DataFrame:
    """Histogram of fn_risk over equal-width bins, with the expected number of false negatives per bin."""
    edges = np.linspace(0, 1, bins + 1)
    b = np.clip(np.digitize(scored["fn_risk"], edges[1:-1]), 0, bins - 1)
    df = pd.DataFrame({"bin": b, "fn_risk": scored["fn_risk"].to_numpy()})
    g = df.groupby("bin")
    out = pd.DataFrame({"lo": edges[:-1], "hi": edges[1:]})
    out["n"] = g.size().reindex(range(bins), fill_value=0).to_numpy()
    out["expected_fn"] = g["fn_risk"].sum().reindex(range(bins), fill_value=0.0).to_numpy()
    return out
