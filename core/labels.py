"""What the judgments say: consensus, agreement and the false-negative rate, as pure functions.

No store, no auth, no UI: every function takes label frames (or lists) and returns numbers or
frames, so the pipeline (recalibration), the export, `negaudit report` and the app's Insights
all compute the same thing.

**Consensus** per (query, doc): the majority of the annotators' current labels; a tie is a
`disagreement` (label None); an admin's `adjudicate` row is final (the latest one wins).

**The false-negative-rate estimator** (one definition, used by `negaudit report`, the Insights
metric and its plot):
- *Sample*: the review app's random-audit queue orders every candidate item by a seeded hash that
  depends on no label or score. We take the longest prefix of that order whose items are at least
  `min_coverage` (95%) judged; the judged items inside it are a uniform random sample of the
  candidates, whichever queue they were judged from. The prefix's unjudged items (gaps) are
  reported, with the rate the sample would have if every gap were a false negative or none were.
- *What counts*: the consensus label. Decided = negative, false_negative or partial.
  `fn_rate` = false_negative / decided; partial is kept apart (`fn_or_partial_rate` counts it as
  a false negative too). `unsure` and ties are excluded and counted (`excluded`).
- *Interval*: 95% Wilson score interval (scipy), good at small n and near 0.
- *Rank buckets*: the best mining rank of the item, bucketed by `RANK_EDGES`
  (1-5, 6-10, 11-20, 21-50, 51-100, 101+, unranked) — the one bucketing of every rank figure.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from core.types import Label, NegauditError

CONFIDENCE = 0.95
MIN_COVERAGE = 0.95
RANK_EDGES = (1, 6, 11, 21, 51, 101)  # buckets 1-5, 6-10, 11-20, 21-50, 51-100, 101+
DECIDED = (Label.NEGATIVE.value, Label.FALSE_NEGATIVE.value, Label.PARTIAL.value)
CONSENSUS_COLUMNS = ["query_id", "doc_id", "n", "votes", "label", "status"]
TABLE_COLUMNS = ["bucket", "n", "false_negative", "partial", "fn_rate", "ci_low", "ci_high",
                 "fn_or_partial_rate", "fnp_ci_low", "fnp_ci_high", "excluded"]


# ---- consensus ----------------------------------------------------------------------------------
def consensus_from_labels(cur: pd.DataFrame) -> pd.DataFrame:
    """Consensus per item from current labels (query_id, doc_id, annotator, label, action, id).

    Returns query_id, doc_id, n (voters), votes ({annotator: label}), label (None on a tie) and
    status: single | agreed | majority | disagreement | adjudicated. One pass over arrays.
    """
    if cur.empty:
        return pd.DataFrame(columns=CONSENSUS_COLUMNS)
    items: dict[tuple, list] = {}  # (q, d) -> [votes, adjudication (id, label) or None]
    for q, d, who, lab, act, jid in zip(cur.query_id.tolist(), cur.doc_id.tolist(),
                                        cur.annotator.tolist(), cur.label.tolist(),
                                        cur.action.tolist(), cur.id.tolist()):
        item = items.get((q, d))
        if item is None:
            item = items[(q, d)] = [{}, None]
        if act == "adjudicate":
            if item[1] is None or jid >= item[1][0]:
                item[1] = (jid, lab)
        else:
            item[0][who] = lab
    out = []
    for (q, d), (votes, adj) in items.items():
        if adj is not None:
            label, status = adj[1], "adjudicated"
        else:
            counts = Counter(votes.values()).most_common()
            if len(counts) > 1 and counts[0][1] == counts[1][1]:
                label, status = None, "disagreement"
            else:
                label = counts[0][0]
                status = "single" if len(votes) == 1 else (
                    "agreed" if len(counts) == 1 else "majority")
        out.append((q, d, len(votes), votes, label, status))
    return pd.DataFrame(out, columns=CONSENSUS_COLUMNS)


# ---- agreement ----------------------------------------------------------------------------------
def cohen_kappa(a: list[str], b: list[str]) -> float:
    """Cohen's kappa of two annotators' labels on the same items (nan when undefined)."""
    from sklearn.metrics import cohen_kappa_score

    if len(a) != len(b) or not a or len(set(a) | set(b)) < 2:
        return float("nan")  # one category only: chance agreement is 1, kappa undefined
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(cohen_kappa_score(list(a), list(b)))


def krippendorff_alpha(units: list[list[str]]) -> float:
    """Krippendorff's alpha, nominal, any number of coders; units with < 2 values are ignored.

    Hand-written (coincidence matrix, Krippendorff 2011): neither scikit-learn nor scipy has it.
    """
    units = [u for u in units if len(u) >= 2]
    if not units:
        return float("nan")
    cats = sorted({v for u in units for v in u})
    idx = {c: i for i, c in enumerate(cats)}
    o = np.zeros((len(cats), len(cats)))
    for u in units:
        cnt = np.zeros(len(cats))
        for v in u:
            cnt[idx[v]] += 1
        o += (np.outer(cnt, cnt) - np.diag(cnt)) / (len(u) - 1)
    n_c = o.sum(1)
    n = n_c.sum()
    d_o = o.sum() - np.trace(o)
    d_e = (n_c.sum() ** 2 - (n_c**2).sum()) / (n - 1)
    return float("nan") if d_e == 0 else float(1 - d_o / d_e)


def agreement_from_labels(cur: pd.DataFrame) -> dict[str, Any]:
    """Pairwise Cohen's kappa and overall Krippendorff's alpha over current labels.

    Adjudications are not votes and are left out. Returns alpha, pairs (a, b, items, kappa) and
    items_multi (items with two or more annotators).
    """
    cur = cur[cur.action != "adjudicate"] if not cur.empty else cur
    if cur.empty:
        return {"alpha": float("nan"), "pairs": pd.DataFrame(
            columns=["a", "b", "items", "kappa"]), "items_multi": 0}
    wide = cur.pivot_table(index=["query_id", "doc_id"], columns="annotator", values="label",
                           aggfunc="last")
    names = list(wide.columns)
    pairs = []
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            both = wide[[a, b]].dropna()
            if len(both):
                pairs.append((a, b, len(both), cohen_kappa(list(both[a]), list(both[b]))))
    units = [[v for v in row if isinstance(v, str)] for row in wide.itertuples(index=False)]
    return {"alpha": krippendorff_alpha(units),
            "pairs": pd.DataFrame(pairs, columns=["a", "b", "items", "kappa"]),
            "items_multi": sum(1 for u in units if len(u) >= 2)}


# ---- the false-negative-rate estimator ------------------------------------------------------------
def wilson_interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials ((nan, nan) when n == 0)."""
    from scipy.stats import binomtest

    if n <= 0:
        return (float("nan"), float("nan"))
    ci = binomtest(int(k), int(n)).proportion_ci(confidence, method="wilson")
    # At k = 0 (k = n) the bound is exactly 0 (1); say so rather than leave rounding noise.
    return (0.0 if k == 0 else float(ci.low), 1.0 if k == n else float(ci.high))


def format_rate(rate: float, low: float, high: float) -> str:
    """'12.3% [4.5%, 20.1%]' — the one way the app and the CLI print a rate with its interval."""
    if rate is None or math.isnan(rate):
        return "n/a"
    return f"{rate:.1%} [{low:.1%}, {high:.1%}]"


def rank_bucket(rank: float | None) -> str:
    """'1-5', '6-10', ..., '101+' ('unranked' for a missing rank)."""
    if rank is None or (isinstance(rank, float) and math.isnan(rank)) or pd.isna(rank):
        return "unranked"
    r = int(rank)
    for lo, hi in itertools.pairwise(RANK_EDGES):
        if lo <= r < hi:
            return f"{lo}-{hi - 1}"
    return f"{RANK_EDGES[-1]}+" if r >= RANK_EDGES[-1] else "unranked"


def bucket_order() -> list[str]:
    """'all', then the rank buckets in order, then 'unranked'."""
    return ["all", *[f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(RANK_EDGES)],
            f"{RANK_EDGES[-1]}+", "unranked"]


def rank_buckets(ranks: pd.Series) -> pd.Categorical:
    """`rank_bucket` over a Series, as an ordered categorical (sorts and groups in rank order)."""
    return pd.Categorical(ranks.map(rank_bucket), categories=bucket_order()[1:], ordered=True)


def _rate_row(bucket: str, labels: pd.Series) -> dict[str, Any]:
    decided = labels[labels.isin(DECIDED)]
    n = len(decided)
    fn = int((decided == Label.FALSE_NEGATIVE.value).sum())
    part = int((decided == Label.PARTIAL.value).sum())
    lo, hi = wilson_interval(fn, n)
    plo, phi = wilson_interval(fn + part, n)
    return {"bucket": bucket, "n": n, "false_negative": fn, "partial": part,
            "fn_rate": fn / n if n else float("nan"), "ci_low": lo, "ci_high": hi,
            "fn_or_partial_rate": (fn + part) / n if n else float("nan"),
            "fnp_ci_low": plo, "fnp_ci_high": phi, "excluded": int(len(labels) - n)}


def fn_rate_table(items: pd.DataFrame) -> pd.DataFrame:
    """FN rate overall ('all') and by rank bucket from judged items (rank, label).

    `label` is the consensus label (None for a tie). Pure: the sample is chosen by the caller.
    """
    if items.empty:
        return pd.DataFrame([_rate_row("all", pd.Series([], dtype=object))],
                            columns=TABLE_COLUMNS)
    labels = items["label"].astype(object)
    buckets = (items["rank"].map(rank_bucket) if "rank" in items.columns
               else pd.Series("unranked", index=items.index))
    rows = [_rate_row("all", labels)]
    for b in bucket_order()[1:]:
        mask = buckets == b
        if mask.any():
            rows.append(_rate_row(b, labels[mask]))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def random_prefix(order: pd.DataFrame, judged: pd.DataFrame, min_coverage: float = MIN_COVERAGE
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The judged items inside the longest prefix of `order` that is >= min_coverage judged (it ends at
    a judged item).

    Args:
        order: query_id, doc_id in the random queue's seeded order (every candidate item).
        judged: query_id, doc_id (+ label, ...) of the judged items (consensus rows).
    """
    if not 0.0 < min_coverage <= 1.0:
        raise NegauditError("min_coverage must be in (0, 1]")
    keys = pd.MultiIndex.from_frame(order[["query_id", "doc_id"]].astype(str))
    jkeys = pd.MultiIndex.from_frame(judged[["query_id", "doc_id"]].astype(str))
    hit = np.asarray(keys.isin(jkeys), dtype=bool)
    info: dict[str, Any] = {"items": len(order), "judged_anywhere": len(judged)}
    if not hit.any():
        info.update(prefix=0, judged_in_prefix=0, gaps=0, coverage=float("nan"))
        return judged.iloc[0:0], info
    cum = np.cumsum(hit)
    ok = np.flatnonzero(cum >= min_coverage * np.arange(1, len(hit) + 1) - 1e-9)
    prefix = int(ok[-1] + 1) if len(ok) else 0
    if prefix:  # end at its last judged item: a gap nobody reached after it widened the gap bounds
        prefix = int(np.flatnonzero(hit[:prefix])[-1] + 1)
    in_prefix = order.iloc[:prefix][hit[:prefix]][["query_id", "doc_id"]].astype(str)
    sample = in_prefix.merge(judged.astype({"query_id": str, "doc_id": str}), how="left",
                             on=["query_id", "doc_id"])
    info.update(prefix=prefix, judged_in_prefix=len(sample), gaps=int(prefix - len(sample)),
                coverage=float(len(sample) / prefix) if prefix else float("nan"))
    return sample, info


def gap_bounds(overall: pd.Series | dict, gaps: int) -> dict[str, float | None]:
    """The rate if every gap of the prefix were a true negative, or every one a false negative."""
    n, fn = int(overall["n"]), int(overall["false_negative"])
    if not gaps or not n + gaps:
        return {}
    return {"fn_rate_if_gaps_all_negative": fn / (n + gaps),
            "fn_rate_if_gaps_all_fn": (fn + gaps) / (n + gaps)}


def estimate_fn_rate(order: pd.DataFrame | None, consensus: pd.DataFrame, ranks: pd.DataFrame,
                     min_coverage: float = MIN_COVERAGE) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The estimator end to end: judged candidates → sample → table (+ what it was computed from).

    Args:
        order: the random queue's order (query_id, doc_id) for the `random` sample, or None to
            use every judged candidate (biased toward what the risk queue showed).
        consensus: `consensus_from_labels` output.
        ranks: query_id, doc_id, rank (best rank per candidate item).
    """
    ranks = ranks.astype({"query_id": str, "doc_id": str})
    cons = consensus.astype({"query_id": str, "doc_id": str}).merge(
        ranks, how="inner", on=["query_id", "doc_id"])[["query_id", "doc_id", "label", "rank"]]
    if order is None:
        table = fn_rate_table(cons)
        return table, {"judged": len(cons), "warning":
                       "all judged items: biased toward the items the risk queue showed"}
    chosen, info = random_prefix(order, cons, min_coverage)
    table = fn_rate_table(chosen)
    info.update(min_coverage=min_coverage, **gap_bounds(table.iloc[0], info["gaps"]))
    return table, info
