"""DataFrame -> plotly Figure for the Insights page (no Streamlit here, so tests call them directly)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from core import labels

FN_LABELS = ("false_negative", "partial")  # the calibrator's target (core.risk.calibration)
LABEL_COLORS = {"negative": "#16a34a", "false_negative": "#dc2626", "partial": "#d97706",
                "unsure": "#6b7280"}


def _empty(title: str, note: str) -> go.Figure:
    """A titled figure that says why it is empty: no axes (plotly's default -1..4 grid reads as data)."""
    fig = go.Figure()
    fig.update_layout(title=title, annotations=[{"text": note, "showarrow": False, "x": 0.5, "y": 0.5,
                                                  "xref": "paper", "yref": "paper",
                                                  "font": {"size": 14}}],
                      xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def fn_rate_by_rank(rank_risk: pd.DataFrame, table: pd.DataFrame,
                    sample: str = "random audit sample") -> go.Figure:
    """FN rate by mining rank, bucketed as `core.labels.rank_bucket` (the report's buckets).

    Args:
        rank_risk: rank, mean_risk, n (per best rank, from SQL): the estimated rate (mean
            fn_risk over every scored item) as bars.
        table: `core.labels.fn_rate_table` of the estimator's sample: the judged rate of false negative or
            partial per bucket (what fn_risk estimates, so the bars compare with it) with its 95% Wilson
            interval, and the overall rate as a dashed line. The report's headline FN-only rate is in its table.
    """
    title = "False-negative rate by mining rank"
    judged = table[(table["bucket"] != "all") & (table["n"] > 0)] if len(table) else table
    if rank_risk.empty and judged.empty:
        return _empty(title, "no candidates scored yet")
    fig = go.Figure()
    top = 0.0  # the tallest bar or interval: the axis is fitted to it (2% bars vanish on 0-1)
    if not rank_risk.empty:
        rr = rank_risk.assign(bucket=labels.rank_buckets(rank_risk["rank"]),
                              w=rank_risk.mean_risk * rank_risk.n)
        est = rr.groupby("bucket", observed=True)[["w", "n"]].sum()
        rate = est.w / est.n
        fig.add_bar(x=est.index.astype(str), y=rate, name="estimated FN+partial (mean fn_risk)",
                    marker_color="#93c5fd")
        top = max(top, float(rate.max()))
    if not judged.empty:
        fig.add_scatter(
            x=judged["bucket"], y=judged["fn_or_partial_rate"], mode="lines+markers+text",
            name=f"judged FN+partial ({sample})", marker_color="#dc2626",
            text=[f"n={int(n)}" for n in judged["n"]], textposition="middle right",  # a point from 3 items shows it
            error_y={"type": "data", "symmetric": False,
                     "array": judged["fnp_ci_high"] - judged["fn_or_partial_rate"],
                     "arrayminus": judged["fn_or_partial_rate"] - judged["fnp_ci_low"]},
            customdata=np.stack([judged["n"], judged["false_negative"] + judged["partial"]], axis=-1),
            hovertemplate="rank %{x}<br>FN+partial rate %{y:.1%}<br>%{customdata[1]} of "
                          "%{customdata[0]}<extra></extra>")
        top = max(top, float(judged["fnp_ci_high"].max()))
        overall = table[table["bucket"] == "all"].iloc[0]
        fig.add_hline(y=float(overall["fn_or_partial_rate"]), line_dash="dash", annotation_position="top right",
                      annotation_text=(
            "overall FN+partial "
            f"{labels.format_rate(overall['fn_or_partial_rate'], overall['fnp_ci_low'], overall['fnp_ci_high'])}"
            f", n={int(overall['n'])}"))
    fig.update_layout(title=title, xaxis_title="mining rank (best over miners; labelled positives hold ranks too)",
                      yaxis_title="rate",
                      yaxis_range=[0, rate_axis_top(top)], barmode="overlay", showlegend=True,
                      legend={"orientation": "h", "y": -0.25},
                      xaxis={"categoryorder": "array", "categoryarray": labels.bucket_order()[1:]})
    return fig


def rate_axis_top(top: float) -> float:
    """Upper end of a rate axis: the whole 0-1 scale where the data reach past a half, else the next
    0.05 step above the tallest value (at least 0.1), so a 2% false-negative rate stays visible."""
    if not np.isfinite(top) or top > 0.5:
        return 1.0
    return max(0.1, float(np.ceil(top * 1.1 / 0.05) * 0.05))


def risk_histogram(all_bins: pd.DataFrame, judged: pd.DataFrame, bins: int = 20) -> go.Figure:
    """fn_risk histogram: every item (grey) and judged items split by their label."""
    title = "fn_risk by judged label"
    if all_bins.empty and judged.empty:
        return _empty(title, "no risk scores yet")
    centers = (np.arange(bins) + 0.5) / bins
    fig = go.Figure()
    if not all_bins.empty:
        counts = np.zeros(bins)
        counts[all_bins["bin"].astype(int).clip(0, bins - 1).to_numpy()] = all_bins.n
        fig.add_bar(x=centers, y=counts / max(counts.sum(), 1), name=f"all items (share of {int(counts.sum()):,})",
                    marker_color="#d1d5db", width=1 / bins)
    j = judged.dropna(subset=["fn_risk", "label"]) if not judged.empty else judged
    for label, g in (j.groupby("label") if not j.empty else []):
        h, _ = np.histogram(g.fn_risk, bins=bins, range=(0, 1))
        fig.add_bar(x=centers, y=h / max(h.sum(), 1), name=f"{label} (share of {len(g):,})",
                    marker_color=LABEL_COLORS.get(label), width=1 / bins, opacity=0.7)
    fig.update_layout(title=title, xaxis_title="fn_risk", yaxis_title="share of items",
                      barmode="overlay", legend={"orientation": "h", "y": -0.25})
    return fig


def _reliability_points(judged: pd.DataFrame, bins: int) -> pd.DataFrame | None:
    j = judged.dropna(subset=["fn_risk", "label"]) if not judged.empty else judged
    j = j[j.label != "unsure"] if not j.empty else j
    if j.empty:
        return None
    b = np.minimum((j.fn_risk.to_numpy(dtype=float) * bins).astype(int), bins - 1)
    return j.assign(bin=b, fn=j.label.isin(FN_LABELS)).groupby("bin").agg(
        risk=("fn_risk", "mean"), rate=("fn", "mean"), n=("fn", "size"))


def reliability(judged: pd.DataFrame, bins: int = 10, before: pd.DataFrame | None = None
                ) -> go.Figure:
    """Calibration: judged FN rate per fn_risk bin against the diagonal (unsure excluded).

    `before`: the same judged items with the scorer's own fn_risk, drawn as a second line when
    the learning queue has refitted risk from judgments.
    """
    title = "Reliability diagram (calibration of fn_risk)"
    g = _reliability_points(judged, bins)
    if g is None:
        return _empty(title, "no judged, scored items yet")
    fig = go.Figure()
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line_dash="dash",
                    line_color="#9ca3af")
    g0 = _reliability_points(before, bins) if before is not None else None
    if g0 is not None:
        fig.add_scatter(x=g0.risk, y=g0.rate, mode="lines+markers", name="scorer (before)",
                        text=[f"n={n}" for n in g0.n], line_color="#9ca3af",
                        marker_size=np.clip(np.sqrt(g0.n) * 4, 6, 24))
    fig.add_scatter(x=g.risk, y=g.rate, mode="lines+markers",
                    name=(f"judged ({int(g.n.sum())} items; marker size = items in the bin)" if g0 is None
                          else f"refitted (after; {int(g.n.sum())} items)"),
                    text=[f"n={n}" for n in g.n], marker_size=np.clip(np.sqrt(g.n) * 4, 6, 24))
    fig.update_layout(title=title, xaxis_title="mean fn_risk in bin",
                      yaxis_title="judged rate of false negative or partial", xaxis_range=[0, 1],
                      yaxis_range=[0, 1], legend={"orientation": "h", "y": -0.25})  # a side legend squeezed the plot
    return fig


def judged_at_k(query_bias: pd.DataFrame, k: int | None = None) -> go.Figure:
    """Per-query pooling bias: distribution of Judged@k of the strong miner's top-k (`k` in the title
    when the scorer recorded it)."""
    at = "k" if k is None else str(int(k))
    title = f"Pooling bias per query: Judged@{at}"
    if query_bias.empty or query_bias.judged_at_k.dropna().empty:
        return _empty(title, "no pooling-bias scores yet")
    # Fixed 0.05-wide bins on the whole 0-1 scale: one value alone filled the plot as one wide bar. A query
    # fully judged (1.0) goes in the last bin, 95-100%: its own bin [1.0, 1.05) fell outside the axis.
    vals = query_bias.judged_at_k.dropna().clip(upper=1.0 - 1e-9)
    fig = go.Figure(go.Histogram(x=vals, marker_color="#6366f1",
                                 xbins={"start": 0.0, "end": 1.0, "size": 0.05}))
    fig.update_layout(title=title, xaxis_title=f"Judged@{at} (share of the dense top-{at} with any label)",
                      yaxis_title="queries", xaxis={"range": [0, 1.0], "tickformat": ".0%"})
    return fig


def throughput(tp: pd.DataFrame) -> go.Figure:
    """Decisions per annotator per hour."""
    title = "Annotator throughput"
    if tp.empty:
        return _empty(title, "no judgments yet")
    fig = go.Figure()
    hour_ms = 3_600_000
    for name, g in tp.groupby("annotator"):
        # an hour-wide bar starting at its hour (plotly centres a datetime bar and sizes it to the data)
        fig.add_bar(x=g.hour, y=g.decisions, name=str(name), width=hour_ms * 0.9, offset=0,
                    hovertemplate="%{x|%b %d %H:00} UTC<br>%{y} actions<extra>" + str(name) + "</extra>")
    hours = pd.to_datetime(tp.hour)
    # at least a few hours across: one busy hour alone got sub-second ticks ("18:59:59.9996")
    lo, hi = hours.min() - pd.Timedelta(hours=1), max(hours.max() + pd.Timedelta(hours=2),
                                                      hours.min() + pd.Timedelta(hours=4))
    fig.update_layout(title=title, xaxis_title="hour (UTC)", yaxis_title="actions (labels, undos, adjudications)",
                      barmode="stack",
                      xaxis={"type": "date", "range": [lo, hi], "tickformat": "%b %d %H:%M"})
    return fig


KAPPA_MIN_ITEMS = 20  # fewer shared items and a pair's kappa is mostly chance: said in the cell


def agreement(pairs: pd.DataFrame) -> go.Figure:
    """Pairwise Cohen's kappa between annotators (heatmap), each cell with the items the pair shares:
    a kappa of 0.00 from one shared item read as a finding."""
    title = "Agreement (Cohen's kappa, pairwise)"
    if pairs.empty:
        return _empty(title, "needs two annotators on the same items (overlap k ≥ 2)")
    names = sorted(set(pairs.a) | set(pairs.b))
    m = pd.DataFrame(np.nan, index=names, columns=names)
    text = pd.DataFrame("", index=names, columns=names)
    for r in pairs.itertuples():
        m.loc[r.a, r.b] = m.loc[r.b, r.a] = r.kappa
        few = " (few)" if r.items < KAPPA_MIN_ITEMS else ""
        cell = "n/a" if pd.isna(r.kappa) else f"{r.kappa:.2f}"
        text.loc[r.a, r.b] = text.loc[r.b, r.a] = f"{cell}<br>{int(r.items)} items{few}"
    fig = go.Figure(go.Heatmap(z=m.to_numpy(), x=names, y=names, zmin=-1, zmax=1, colorscale="RdBu",
                               text=text.to_numpy(), texttemplate="%{text}",
                               hovertemplate="%{y} · %{x}<br>kappa %{text}<extra></extra>"))
    thin = int((pairs["items"] < KAPPA_MIN_ITEMS).sum())
    fig.update_layout(title=title if not thin else
                      f"{title}<br><sup>{thin} pair(s) share fewer than {KAPPA_MIN_ITEMS} items: "
                      "their kappa is mostly chance</sup>")
    return fig
