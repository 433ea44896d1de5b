"""Insights: FN rate by rank, risk by label, calibration, pooling bias, annotators (plots in core)."""

from __future__ import annotations

import math

import streamlit as st

from core import plots, review
from core.store import review as SR
from pages._ui import dataset_picker, store, user

user()
db = store()
st.title("Insights")
dataset = dataset_picker()
if dataset is None:
    st.stop()

judged = review.judged_items(db, dataset)
est = review.audit_estimate(db, dataset, seed=int(st.session_state.get("seed", 0) or 0))
cons = review.consensus(db, dataset)
ag = review.agreement(db, dataset)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Judged items", f"{len(cons):,}")
c2.metric("Disagreements", f"{int((cons.status == 'disagreement').sum()) if len(cons) else 0:,}")
c3.metric("Krippendorff's alpha", "—" if math.isnan(ag["alpha"]) else f"{ag['alpha']:.2f}")
c4.metric("Audit FN rate (random sample)",
          "—" if est["n"] == 0 else f"{est['rate']:.1%}",
          help="From the judged prefix of the seeded random-audit queue: an unbiased sample. "
               + ("" if est["n"] == 0 else
                  f"n={est['n']}, 95% CI {est['low']:.1%}–{est['high']:.1%}"))

left, right = st.columns(2)
left.plotly_chart(plots.fn_rate_by_rank(SR.rank_risk_summary(db, dataset), judged),
                  width="stretch")
right.plotly_chart(plots.risk_histogram(SR.risk_histogram(db, dataset), judged),
                   width="stretch")
left, right = st.columns(2)
left.plotly_chart(plots.reliability(judged), width="stretch")
right.plotly_chart(plots.judged_at_k(db.query_bias(dataset)), width="stretch")
left, right = st.columns(2)
left.plotly_chart(plots.throughput(review.throughput(db, dataset)), width="stretch")
right.plotly_chart(plots.agreement(ag["pairs"]), width="stretch")

st.subheader("Progress per annotator")
st.dataframe(review.progress(db, dataset), hide_index=True, width="stretch")
