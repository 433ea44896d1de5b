"""How biased were the labels: the false-negative rate among mined negatives, with a 95% CI.

The estimate is only unbiased on a *uniform random* sample of candidates. The review app's
random queue (`core.review.Mode.RANDOM`) shows items in a seeded hash order that does not depend
on any label or score, so the judged items inside a prefix of that order are a uniform sample
of the candidates — whichever queue they were actually judged from. We take the longest prefix
of the seeded order whose items are at least `min_coverage` (default 95%) judged; the remaining
gaps (skipped items) are reported, with the bounds the rate would have if every gap were a
false negative or none were. `sample="all"` uses every judged item instead: larger, but biased
toward whatever the risk queue chose to show (high-risk items first), so it overstates the rate.

Rates: `fn_rate` = false_negative / decided items, where decided = negative, false_negative or
partial (consensus label; `unsure` and ties are excluded and counted). `fn_or_partial_rate`
counts partial as a false negative too. Intervals are Wilson score intervals (good at small n
and near 0, unlike the normal approximation).
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.types import Label, NegauditError

Z95 = 1.959963984540054
RANK_EDGES = (1, 6, 11, 21, 51, 101)  # buckets 1-5, 6-10, 11-20, 21-50, 51-100, 101+
DECIDED = (Label.NEGATIVE.value, Label.FALSE_NEGATIVE.value, Label.PARTIAL.value)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
TABLE_COLUMNS = ["bucket", "n", "false_negative", "partial", "fn_rate", "ci_low", "ci_high",
                 "fn_or_partial_rate", "fnp_ci_low", "fnp_ci_high", "excluded"]


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials ((nan, nan) when n == 0)."""
    if n <= 0:
        return (float("nan"), float("nan"))
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At k = 0 (k = n) the bound is exactly 0 (1); say so rather than leave rounding noise.
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def rank_bucket(rank: float | None) -> str:
    """'1-5', '6-10', ..., '101+' ('unranked' for a missing rank)."""
    if rank is None or (isinstance(rank, float) and math.isnan(rank)):
        return "unranked"
    r = int(rank)
    for lo, hi in itertools.pairwise(RANK_EDGES):
        if lo <= r < hi:
            return f"{lo}-{hi - 1}"
    return f"{RANK_EDGES[-1]}+" if r >= RANK_EDGES[-1] else "unranked"


def bucket_order() -> list[str]:
    return ["all", *[f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(RANK_EDGES)],
            f"{RANK_EDGES[-1]}+", "unranked"]


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
    """FN rate overall and by rank bucket from judged items (query_id, doc_id, rank, label).

    `label` is the consensus label (None for a tie). Pure: the sample is chosen by the caller.
    """
    if items.empty:
        return pd.DataFrame([_rate_row("all", pd.Series([], dtype=object))],
                            columns=TABLE_COLUMNS)
    labels = items["label"].astype(object)
    buckets = items["rank"].map(rank_bucket) if "rank" in items.columns else pd.Series(
        "unranked", index=items.index)
    rows = [_rate_row("all", labels)]
    for b in bucket_order()[1:]:
        mask = buckets == b
        if mask.any():
            rows.append(_rate_row(b, labels[mask]))
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def random_prefix(order: pd.DataFrame, judged: pd.DataFrame, min_coverage: float = 0.95
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The judged items inside the longest prefix of `order` that is >= min_coverage judged.

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
    lengths = np.arange(1, len(hit) + 1)
    ok = np.flatnonzero(cum >= min_coverage * lengths - 1e-9)
    prefix = int(ok[-1] + 1) if len(ok) else 0
    in_prefix = order.iloc[:prefix][hit[:prefix]][["query_id", "doc_id"]].astype(str)
    sample = in_prefix.merge(judged.astype({"query_id": str, "doc_id": str}), how="left",
                             on=["query_id", "doc_id"])
    info.update(prefix=prefix, judged_in_prefix=len(sample),
                gaps=int(prefix - len(sample)),
                coverage=float(len(sample) / prefix) if prefix else float("nan"))
    return sample, info


def fn_rate_report(store: Any, name: str, sample: str = "random", seed: int = 0,
                   min_coverage: float = 0.95, miner: str | None = None
                   ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The FN-rate table for dataset `name` and what it was computed from.

    `sample="random"`: the judged prefix of the random queue with `seed` (unbiased);
    `sample="all"`: every judged candidate (biased toward the risk queue's choices).
    `miner` restricts to (and takes ranks from) one miner's candidates.
    """
    from core.review import consensus_from_labels

    if sample not in ("random", "all"):
        raise NegauditError(f"--sample must be 'random' or 'all', not {sample!r}")
    if not store.has_dataset(name):
        raise NegauditError(f"no dataset named {name!r}; see `negaudit datasets`")
    cand = store.candidates(name, miner=miner)
    ranks = (cand.groupby(["query_id", "doc_id"], as_index=False)["rank"].min()
             .astype({"query_id": str, "doc_id": str}))
    cons = consensus_from_labels(store.current_labels(name))
    cons = cons.astype({"query_id": str, "doc_id": str}).merge(
        ranks, how="inner", on=["query_id", "doc_id"])  # only judged *candidates*
    meta: dict[str, Any] = {"dataset": name, "sample": sample, "miner": miner}
    if sample == "random":
        order = random_order(store, name, seed)
        if miner is not None:
            order = order.merge(ranks[["query_id", "doc_id"]], how="inner")
        chosen, info = random_prefix(order, cons[["query_id", "doc_id", "label", "rank"]],
                                     min_coverage)
        meta.update(seed=seed, min_coverage=min_coverage, **info)
    else:
        chosen = cons[["query_id", "doc_id", "label", "rank"]]
        meta.update(judged=len(chosen),
                    warning="all judged items: biased toward the items the risk queue showed")
    table = fn_rate_table(chosen)
    if sample == "random" and meta.get("gaps"):
        overall = table.iloc[0]
        g, n = int(meta["gaps"]), int(overall["n"])
        meta["fn_rate_if_gaps_all_negative"] = overall["false_negative"] / (n + g) if n + g else None
        meta["fn_rate_if_gaps_all_fn"] = (overall["false_negative"] + g) / (n + g) if n + g else None
    return table, meta


def random_order(store: Any, name: str, seed: int = 0) -> pd.DataFrame:
    """Every item in the review app's random-queue order for `seed` (query_id, doc_id)."""
    from core.review import Mode, QueueSpec, next_keys
    from core.store import review as SR

    n = SR.count_items(store, name)
    if n == 0:
        return pd.DataFrame(columns=["query_id", "doc_id"])
    spec = QueueSpec(dataset=name, mode=Mode.RANDOM, status="any", seed=int(seed))
    # An annotator name no one can hold (auth names start with a letter or digit; PostgreSQL
    # text cannot hold NUL): no lease or own label reorders the queue.
    keys = next_keys(store, "(negaudit-report)", spec, limit=n, k=2**31 - 1)
    return keys[["query_id", "doc_id"]].reset_index(drop=True)


def fn_rate_figure(table: pd.DataFrame, title: str = "False-negative rate among mined negatives"):
    """Points with 95% Wilson error bars per rank bucket; a dashed line at the overall rate."""
    import plotly.graph_objects as go

    t = table[table["bucket"] != "all"]
    overall = table[table["bucket"] == "all"]
    fig = go.Figure(go.Scatter(
        x=t["bucket"], y=t["fn_rate"], mode="markers+lines", name="FN rate",
        error_y={"type": "data", "symmetric": False, "array": t["ci_high"] - t["fn_rate"],
                     "arrayminus": t["fn_rate"] - t["ci_low"]},
        customdata=np.stack([t["n"], t["false_negative"]], axis=-1) if len(t) else None,
        hovertemplate="rank %{x}<br>FN rate %{y:.1%}<br>%{customdata[1]} of %{customdata[0]}"
                      "<extra></extra>"))
    if len(overall) and not math.isnan(float(overall["fn_rate"].iloc[0])):
        r = overall.iloc[0]
        fig.add_hline(y=float(r["fn_rate"]), line_dash="dash",
                      annotation_text=f"overall {r['fn_rate']:.1%} "
                                      f"[{r['ci_low']:.1%}, {r['ci_high']:.1%}], n={int(r['n'])}")
    fig.update_layout(title=title, xaxis_title="mining rank", yaxis_title="false-negative rate",
                      yaxis_tickformat=".0%", yaxis_rangemode="tozero")
    return fig


def neutralise_cell(value: Any) -> Any:
    """Prefix `'` to text a spreadsheet would run as a formula (=, +, -, @, tab, CR)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells and column names neutralised; numbers stay numbers."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def spreadsheet_csv(table: pd.DataFrame) -> str:
    """CSV text for a download a spreadsheet will open (the app's consensus labels): neutralised."""
    return neutralise_frame(table).to_csv(index=False)


def write_report_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """A CSV for spreadsheets: formula-like text neutralised (training exports never are)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_frame(table).to_csv(path, index=False)
    return path
