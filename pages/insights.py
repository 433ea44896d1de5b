"""Insights: FN rate by rank, risk by label, calibration (and the learning queue's refits),
pooling bias, annotators: time per decision, anchoring on blind cards, consistency."""

from __future__ import annotations

import math

import streamlit as st

from core import figures, labels, review
from core.review import checks, learning
from pages._ui import dataset_picker, off_review, store, user

me = user()
off_review(me)
db = store()
st.title("Insights")
dataset = dataset_picker()
if dataset is None:
    st.stop()

seed = int(st.session_state.get("seed", 0) or 0)
# The same assembly as `negaudit report --figures` (core.figures), the FN rate as `negaudit report` reads it.
found = figures.insights(db, dataset, seed)
table, meta, ag, figs = found.table, found.meta, found.agreement, found.figures
overall = table.iloc[0]
cons = review.consensus(db, dataset)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Judged items", f"{len(cons):,}")
c2.metric("Disagreements", f"{int((cons.status == 'disagreement').sum()) if len(cons) else 0:,}")
c3.metric(f"Alpha, {ag['items_multi']:,} items",
          "—" if math.isnan(ag["alpha"]) else f"{ag['alpha']:.2f}",
          help="Krippendorff's alpha over the items two or more annotators voted on (adjudications are not "
               "votes); 1 = full agreement, 0 = chance.")
rate = labels.format_rate(overall["fn_rate"], overall["ci_low"], overall["ci_high"])
c4.metric(f"FN rate (audit sample, n={int(overall['n'])})",
          "—" if overall["n"] == 0 else f"{overall['fn_rate']:.1%}",
          help="False negatives / decided items (negative, false negative, partial) in the judged "
               "prefix of the seeded random-audit queue: an unbiased sample. Same figure as "
               "`negaudit report`.")
if overall["n"] == 0:
    st.info(f"No false-negative rate yet: it is estimated from the first cards of the random audit order (a "
            f"uniform sample), judged at least 95% without gaps. Label some in Review with the queue 'Random "
            f"audit sample', seed {seed}.")
st.caption(f"False-negative rate {rate} (95% Wilson interval), n={int(overall['n'])} decided "
           f"items of the random-audit sample (seed {seed}, prefix {meta['prefix']}, "
           f"{meta['gaps']} gaps); false negative or partial (fn_risk's target): "
           f"{labels.format_rate(overall['fn_or_partial_rate'], overall['fnp_ci_low'], overall['fnp_ci_high'])}.")

pooling = found.pooling
for left_key, right_key in zip(figures.FIGURES[::2], figures.FIGURES[1::2]):
    left, right = st.columns(2)
    left.plotly_chart(figs[left_key], width="stretch")
    right.plotly_chart(figs[right_key], width="stretch")
    note = figures.judged_at_k_note(pooling) if right_key == "judged_at_k" else ""
    if note:
        right.caption(f"{note}; judgments since count after the next score (Datasets → Mine + score, or "
                      "`negaudit score`).")

st.subheader("Progress per annotator")
n_items = review.count_items(db, dataset)
st.caption(f"Each annotator's current votes by label (an undone vote is gone; adjudications are not votes); "
           f"share: of the dataset's {n_items:,} items. The throughput chart counts every action, "
           "undos included; time per decision counts each label as it was given.")
prog = review.progress(db, dataset)
accounts = set(db.annotators()["name"])
prog["annotator"] = [n if n in accounts else f"{n} (removed)" for n in prog["annotator"]]  # votes stay
st.dataframe(prog, hide_index=True, width="stretch",
             column_config={"share": st.column_config.NumberColumn("share of items", format="percent")})

st.subheader("The learning queue: calibration before and after")
hist = learning.history(db, dataset)
if hist:
    st.caption("The reliability diagram above draws the scorer's risk (before) beside the "
               "refitted one. Each refit: ECE / log loss of the scorer's risk, of the risk in use before the "
               "refit and after it, on the judged items (after = in-sample); `head_moved`: places "
               f"of the unjudged top {learning.HEAD} that hold another item now; `evidence`: `cosine` when "
               "the embedding cache held every query / doc vector in play (similarity to judged items), "
               "else `vector-free` and why; `level_sample`: judged items labelled in the *random* order (an "
               "unbiased sample of the queue), `level_shift`: the log-odds shift they asked of the scorer's "
               "level, 0 unless they reject it at 5% — judge some items in the random order to check the "
               "risk percentages. `judgments`: rows in the log when the refit ran (undos included); `judged` / "
               "`positives`: the decided items it learned from and how many of them were false negatives or "
               "partial; `items`: all items it re-scored; `vectors_s` / `write_s`: seconds to read the vectors "
               "and to write the new risk.")
    st.dataframe(learning.history_table(hist), hide_index=True, width="stretch")
else:
    every = learning.learn_every(db)
    st.caption(f"No refit yet: one runs after every {every} judgments (Admin → Review settings)." if every > 0
               else "The learning queue is off (Admin → Review settings sets how often it refits).")

st.subheader("Time per decision")
st.caption("Card shown → decision. The reading floor is a fast skim (600 words a minute) of the "
           "candidate plus one second; decisions under it are listed for a second look.")
st.dataframe(checks.time_per_annotator(db, dataset), hide_index=True, width="stretch",
             column_config={"too_fast_share": st.column_config.NumberColumn("too_fast_share", format="percent")})
fast = checks.too_fast(db, dataset)
if len(fast):
    with st.expander(f"{len(fast)} decisions under the reading floor"):
        st.dataframe(fast, hide_index=True, width="stretch")

st.subheader("Blind audits: do labels follow the shown risk?")
follow = checks.suggestion_follow(db, dataset)
st.dataframe(follow, hide_index=True, width="stretch",
             column_config={"follow_rate": st.column_config.NumberColumn("follow_rate", format="percent")})
st.caption("A label follows the suggestion when (fn_risk ≥ 50%) matches (false negative or "
           "partial). Much more following on shown cards than on blind ones means the number "
           "anchors the annotators.")

pairs = checks.inconsistent(db, dataset)
st.subheader("Consistency")
st.write(f"{len(pairs)} pair(s) of near-identical candidates labelled differently for one query"
         + (" — adjudicate them on Admin → Consistency." if len(pairs) else "."))
