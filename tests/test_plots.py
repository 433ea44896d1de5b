"""Plot builders: DataFrame in, plotly Figure out, sane on empty input and on real shapes."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import pytest

from core import labels, plots

JUDGED = pd.DataFrame({
    "rank": [1, 1, 2, 5, 8, 12, 25, 40],
    "label": ["false_negative", "negative", "partial", "negative", "negative", "unsure",
              "negative", "false_negative"],
    "fn_risk": [0.9, 0.4, 0.7, 0.2, 0.1, 0.5, 0.05, 0.6],
})
EMPTY = pd.DataFrame(columns=["rank", "label", "fn_risk"])


def test_fn_rate_by_rank_estimated_and_judged():
    rr = pd.DataFrame({"miner": "dense", "rank": [1, 2, 3, 10], "mean_risk": [0.5, 0.4, 0.3, 0.1],
                       "n": [10, 10, 10, 10]})
    fig = plots.fn_rate_by_rank(rr, labels.fn_rate_table(JUDGED))
    assert isinstance(fig, go.Figure) and len(fig.data) == 2
    est, judged = fig.data
    assert list(est.x) == ["1-5", "6-10"] and est.y[0] == 0.4  # ranks 1-3 weighted by n
    # the report's buckets; the line is what the bars estimate, FN+partial: ranks 1, 1, 2, 5 -> one FN and one
    # partial of four decided (the report's FN-only rate, 0.25, is its table's headline)
    assert judged.x[0] == "1-5" and judged.y[0] == 0.5 and judged.name.startswith("judged FN+partial")
    assert fig.layout.shapes[0].y0 == labels.fn_rate_table(JUDGED).iloc[0].fn_or_partial_rate
    assert judged.error_y.array[0] > 0 and fig.layout.shapes  # Wilson interval, overall line


def test_histogram_reliability_and_empties():
    bins = pd.DataFrame({"bin": [0, 5, 19], "n": [10, 5, 1]})
    assert len(plots.risk_histogram(bins, JUDGED).data) == 1 + JUDGED.label.nunique()
    rel = plots.reliability(JUDGED)
    assert len(rel.data) == 2 and all(0 <= y <= 1 for y in rel.data[1].y)
    for fig in (plots.fn_rate_by_rank(pd.DataFrame(), labels.fn_rate_table(EMPTY)),
                plots.reliability(EMPTY),
                plots.risk_histogram(pd.DataFrame(), EMPTY),
                plots.judged_at_k(pd.DataFrame({"judged_at_k": []})),
                plots.throughput(pd.DataFrame()), plots.agreement(pd.DataFrame())):
        assert not fig.data and fig.layout.annotations  # says why it is empty
        assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False  # no fake grid


def test_judged_at_k_throughput_agreement():
    assert len(plots.judged_at_k(pd.DataFrame({"judged_at_k": [0.1, 0.5, 0.9]})).data) == 1
    tp = pd.DataFrame({"annotator": ["a", "a", "b"], "hour": pd.to_datetime(
        ["2026-01-01 10:00", "2026-01-01 11:00", "2026-01-01 10:00"], utc=True),
        "decisions": [5, 7, 3]})
    assert len(plots.throughput(tp).data) == 2
    # one busy hour alone: the axis still spans hours (plotly's own fit gave sub-second ticks)
    one = plots.throughput(tp.iloc[[0]])
    lo, hi = (pd.Timestamp(x) for x in one.layout.xaxis.range)
    assert hi - lo >= pd.Timedelta(hours=4) and lo < tp.hour[0] < hi
    assert one.layout.xaxis.tickformat == "%b %d %H:%M" and one.data[0].width == 0.9 * 3_600_000
    pairs = pd.DataFrame({"a": ["a", "a"], "b": ["b", "c"], "items": [4, 40], "kappa": [0.5, 0.8]})
    fig = plots.agreement(pairs)
    z, text = fig.data[0].z, fig.data[0].text
    assert z[0][1] == z[1][0] == 0.5 and z[0][2] == 0.8
    # each cell says how many items the pair shares; a thin pair is flagged, in the cell and the title
    assert text[0][1] == "0.50<br>4 items (few)" and text[0][2] == "0.80<br>40 items"
    assert "1 pair(s) share fewer than 20 items" in fig.layout.title.text
    # one Judged@k value alone is one 0.05-wide bar on the 0-1 scale, not the whole plot
    one = plots.judged_at_k(pd.DataFrame({"judged_at_k": [0.4, 0.4, 0.4]}))
    assert one.data[0].xbins.size == 0.05 and tuple(one.layout.xaxis.range) == (0, 1)
    # a fully judged query is drawn, in the last bin on the axis (its own bin began at 1.0, off the axis)
    full = plots.judged_at_k(pd.DataFrame({"judged_at_k": [1.0, 1.0, 0.3]})).data[0]
    assert max(full.x) < full.xbins.end <= 1.0 and sum(x >= 0.95 for x in full.x) == 2


def test_rate_axis_fits_small_rates():
    """A 2% rate on a 0-1 axis is a hairline: the axis is fitted to the data, up to the whole scale."""
    assert plots.rate_axis_top(0.02) == 0.1
    assert plots.rate_axis_top(0.18) == 0.2
    assert plots.rate_axis_top(0.3) == pytest.approx(0.35)
    assert plots.rate_axis_top(0.6) == 1.0 and plots.rate_axis_top(float("nan")) == 1.0
    rr = pd.DataFrame({"miner": "dense", "rank": [1, 8], "mean_risk": [0.02, 0.01], "n": [50, 50]})
    fig = plots.fn_rate_by_rank(rr, labels.fn_rate_table(EMPTY))
    assert tuple(fig.layout.yaxis.range) == (0, 0.1) and fig.layout.showlegend
    # judged intervals count too: the Wilson interval's top stays on the axis
    fig = plots.fn_rate_by_rank(rr, labels.fn_rate_table(JUDGED))
    assert fig.layout.yaxis.range[1] >= max(fig.data[1].y + fig.data[1].error_y.array)


def test_names_say_what_is_counted():
    """One name per quantity, with its n: the bars estimate FN+partial, the line is judged FN+partial."""
    judged = pd.DataFrame({"fn_risk": [0.1, 0.8, 0.9], "label": ["negative", "false_negative", "partial"]})
    fig = plots.risk_histogram(pd.DataFrame({"bin": [1, 16], "n": [30, 10]}), judged)
    assert [t.name for t in fig.data] == ["all items (share of 40)", "false_negative (share of 1)",
                                          "negative (share of 1)", "partial (share of 1)"]
    assert plots.reliability(judged).layout.yaxis.title.text == "judged rate of false negative or partial"
    rr = pd.DataFrame({"rank": [1, 8], "mean_risk": [0.2, 0.1], "n": [5, 5]})
    names = [t.name for t in plots.fn_rate_by_rank(rr, labels.fn_rate_table(EMPTY)).data]
    assert names == ["estimated FN+partial (mean fn_risk)"]
