"""Export (admins only): clean training data and corrected qrels, via `core.export` when present."""

from __future__ import annotations

import importlib

import streamlit as st

from core import review
from pages._ui import dataset_picker, require_admin, store

me = require_admin()
db = store()
st.title("Export")
dataset = dataset_picker()
if dataset is None:
    st.stop()

try:
    export = importlib.import_module("core.export")
except ModuleNotFoundError as exc:
    if exc.name != "core.export":
        raise
    export = None

cons = review.consensus(db, dataset)
st.caption(f"{len(cons):,} judged items; "
           f"{int((cons.status == 'disagreement').sum()) if len(cons) else 0:,} disagreements "
           "still need adjudication (Admin page).")
if export is None or not hasattr(export, "render_export_page"):
    st.info("Export is not available yet: `core/export.py` (training data, corrected qrels, "
            "report) is being written by another engineer. Until then, the consensus labels "
            "below can be downloaded as CSV.")
    st.download_button("Consensus labels (CSV)", cons.drop(columns=["votes"]).to_csv(index=False),
                       file_name=f"{dataset}-consensus.csv", mime="text/csv")
else:
    export.render_export_page(st, db, dataset, me)
