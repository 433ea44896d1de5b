"""Export (admins only): clean training data and corrected qrels through `core.export`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core import archive, export, render, review
from core.report import spreadsheet_csv
from core.review import learning
from core.types import NegauditError
from pages._ui import dataset_picker, off_review, require_admin, show_error, store

# The CLI flags core's messages name, in this page's words.
POLICY_WORDS = {"--false-negatives": '"Judged false negatives"', "--partial": '"Judged partials"',
                "--flagged": '"Disagreements / unsure"', "--drop-risk-above": "the risk threshold",
                "--num-negatives": '"Negatives per query"', "--sampling": "how negatives are chosen",
                "--split": '"Split"', "--range-min": '"Skip the N best-ranked"',
                "--range-max": '"Only ranks before"', "--min-score": '"Min dense score"',
                "--max-score": '"Max dense score"', "--absolute-margin": '"Absolute margin"',
                "--relative-margin": '"Relative margin"'}
OUT_WORDS = {"--out": "output path", "--overwrite": '"Overwrite an existing export"'}

me = require_admin()
off_review(me)
db = store()
st.title("Export")
dataset = dataset_picker()
if dataset is None:
    st.stop()

cons = review.consensus(db, dataset)
st.caption(f"{len(cons):,} judged items; "
           f"{int((cons.status == 'disagreement').sum()) if len(cons) else 0:,} disagreements "
           "still need adjudication (Admin page).")
st.download_button("Consensus labels (CSV)", spreadsheet_csv(cons.drop(columns=["votes"])),
                   file_name=f"{dataset}-consensus.csv", mime="text/csv")
c1, c2, c3 = st.columns(3)
fn = c1.selectbox("Judged false negatives", ["to-positive", "drop"])
partial = c2.selectbox("Judged partials", ["drop", "positive", "negative"])
flagged = c3.selectbox("Disagreements / unsure", ["risk", "drop"])
c1, c2, c3 = st.columns(3)
use_risk = c1.checkbox("Drop unreviewed candidates by risk", value=True)
thr = c1.slider("…with fn_risk ≥", 0.0, 1.0, 0.5, 0.05, disabled=not use_risk)
refit = learning.last_refit(db, dataset)
if refit and use_risk:
    shift = float(refit.get("level_shift") or 0.0)
    c1.caption(f"fn_risk was refitted from {refit['judgments']:,} judgments at {refit['at']}"
               + (f", re-levelled by {shift:+.2f} log-odds from {refit['level_sample']:,} random-order "
                  "judgments" if shift else "")
               + " (Insights → the learning queue).")
num_neg = int(c2.number_input("Negatives per query (0 = all)", 0, 1000, 0))
sampling = c2.radio("…chosen", ["random", "top"], horizontal=True,
                    help="a seeded random sample, or the best-ranked (hardest) first")
split = c3.selectbox("Split", ["(all)", "train", "dev", "test"])
with st.expander("mine_hard_negatives' filters (unjudged negatives only)"):
    st.caption("The knobs of sentence-transformers' mine_hard_negatives, same names and tests. Positions count "
               "each query's candidates in rank order, judged ones too; a judged negative is always kept. "
               "Scores are the dense cosine with the query; margins compare it with the query's positive.")
    k1, k2, k3 = st.columns(3)
    range_min = int(k1.number_input("Skip the N best-ranked (range_min)", 0, 10_000, 0))
    range_max = k1.number_input("Only ranks before (range_max; empty = all)", 1, 10_000, value=None)
    min_score = k2.number_input("Min dense score (min_score)", -1.0, 1.0, value=None, step=0.05)
    max_score = k2.number_input("Max dense score (max_score)", -1.0, 1.0, value=None, step=0.05)
    abs_margin = k3.number_input("Absolute margin (absolute_margin)", -1.0, 1.0, value=None, step=0.01)
    rel_margin = k3.number_input("Relative margin (relative_margin)", 0.0, 1.0, value=None, step=0.01,
                                 help="NV-Retriever's TopK-PercPos uses 0.05")
try:
    policy = export.ExportPolicy(false_negatives=fn, partial=partial, flagged=flagged,
                                 drop_risk_above=thr if use_risk else None,
                                 num_negatives=num_neg or None, sampling=sampling,
                                 split=None if split == "(all)" else split, range_min=range_min,
                                 range_max=None if range_max is None else int(range_max), min_score=min_score,
                                 max_score=max_score, absolute_margin=abs_margin, relative_margin=rel_margin)
    pv = export.preview(db, dataset, policy)
    st.subheader("Preview")
    st.write(f"{pv['queries']:,} queries")
    st.dataframe(pd.DataFrame([pv["totals"]]), hide_index=True, width="stretch",
                 column_config={k: st.column_config.NumberColumn(k.replace("_", " "), format="localized")
                                for k in pv["totals"]})  # 56,692, not 56692
    note = export.unscored_note(pv["by_branch"])
    if note:
        st.warning(note.replace("`negaudit score`", "Mine + score (Datasets page)"))
except NegauditError as exc:
    show_error(exc, POLICY_WORDS)
    st.stop()

fmt = st.selectbox("Format", list(export.FORMATS), key="fmt")
suffix = ".parquet" if fmt in export.FILE_FORMATS else (".txt" if fmt == "trec-qrels" else "")
if fmt == "judgments":
    st.info("The judgment log is written whole (every label, undo and adjudication, as stored): the settings "
            "and the preview above do not apply to it.")
out = st.text_input("Output path on the server (a .parquet/.jsonl file for table formats, "
                    "a folder otherwise)",
                    str(Path(".negaudit") / "exports" / f"{dataset}-{fmt}{suffix}"))
overwrite = st.checkbox("Overwrite an existing export")
if st.button("Export", type="primary"):
    st.session_state.pop("exported", None)  # a failed export must not sit above the last one's download
    try:
        manifest = export.export_dataset(db, dataset, fmt, out, policy=policy, actor=me,
                                         overwrite=overwrite)
        st.session_state["exported"] = (str(Path(out).expanduser().resolve()), manifest,
                                        (dataset, fmt, out, policy))
    except NegauditError as exc:
        show_error(exc, OUT_WORDS)
done = st.session_state.get("exported")
if done and done[2][:3] == (dataset, fmt, out) and done[2] != (dataset, fmt, out, policy):
    # the admin audit downloaded the last policy's file under a preview of the new one
    st.info("The settings changed since this file was exported: press Export again for a file that matches the "
            "preview above.")
elif done and done[2] == (dataset, fmt, out, policy) and Path(done[0]).exists():  # this choice's export only
    # The file itself (a folder format as one zip) beside the server path it was written to.
    data, name, mime = archive.download(done[0])
    c1, c2 = st.columns([1, 2])
    c1.download_button(f"Download {name}", data, file_name=name, mime=mime, type="primary",
                       key="download_export", on_click="ignore")
    c2.success(f"Exported to {render.plain(done[0])} on the server ({len(data):,} bytes).")
    st.caption("Manifest: counts per policy branch, what was left out, annotators, file hashes")
    st.json(done[1], expanded=False)
