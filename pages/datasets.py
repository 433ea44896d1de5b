"""Datasets: import (folder path or upload), mine + score with a progress bar, counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

import pandas as pd
import streamlit as st

from core import ingest, render
from core.ingest import skips
from core.types import NegauditError, Role
from pages._mine_jobs import MineJob, mine_jobs
from pages._ui import off_review, show_error, store, user

me = user()
off_review(me)
db = store()
st.title("Datasets")
# The CLI flags core's messages name, in this page's words.
IMPORT_WORDS = {"--name": "dataset name", "--replace": '"Replace if it exists"', "--columns": '"Column roles"'}


def _skipped(name: str) -> dict:
    """What the dataset's import skipped (empty records, unknown ids), stored in its meta."""
    return db.dataset_info(name)["meta"].get(skips.META_KEY, {})


def _show_skips(out: dict) -> None:
    for line in skips.skip_lines(skips.skips_of(out)):
        st.warning(render.plain(line))


def _table() -> None:
    counts = db.counts()
    if counts:
        box = table.container()
        box.dataframe(pd.DataFrame([{**{k: v for k, v in asdict(c).items() if k != "extra"},
                                       "skipped at import": skips.skip_summary(_skipped(c.name))}
                                      for c in counts]).rename(columns={"candidates": "candidate rows"}),
                        hide_index=True, width="stretch")
        box.caption("candidate rows: one per (query, doc, miner); the review queue counts each (query, doc) once.")
    else:
        table.info("No datasets yet.")


def _imported(name: str, out: dict) -> str:
    """What an import added, in words (not the result dict)."""
    parts = ", ".join(f"{out[t]:,} {t}" for t in ("docs", "queries", "qrels", "candidates") if out.get(t))
    gone = out.get("replaced_candidates")
    again = (f" Its {gone:,} candidate rows and their risk were replaced too (judgments kept): mine + score it "
             "again below to review mined candidates by risk." if gone else "")
    return f"Imported {name}: {parts or 'nothing new'}.{again}"


def _run_import(name: str, do_import: Callable[[Callable[[str, int, int], None]], dict]) -> None:
    """One import (folder or upload) with its bar, then what it added and skipped; the table above is redrawn
    and the Mine picker holds the dataset just imported (the next step)."""
    bar = st.progress(0.0, text="reading...")

    def progress(what: str, done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0) if total else 0.5, text=f"{what}: {done:,}")

    try:
        out = do_import(progress)
    except (NegauditError, OSError) as exc:
        bar.empty()  # a bar left at "reading..." read as still working
        show_error(exc, IMPORT_WORDS)
        return
    bar.progress(1.0, text="done")
    st.success(render.plain(_imported(name, out)))
    _show_skips(out)
    _table()
    st.session_state["mine_dataset"] = name


table = st.empty()  # filled last: a dataset imported below is listed at once
_table()
if me.role != Role.ADMIN:  # replacing a dataset empties its queue until it is mined again
    st.info("Importing, replacing and mining datasets is for admins.")
    st.stop()

st.subheader("Import")
tab_path, tab_upload = st.tabs(["BEIR folder on this machine", "Upload a file"])
with tab_path, st.form("import_path"):
    path = st.text_input("Folder (corpus.jsonl, queries.jsonl, qrels/*.tsv)",
                         placeholder="data/scifact")
    name = st.text_input("Dataset name", key="path_name")
    replace = st.checkbox("Replace if it exists (judgments are kept)", key="path_replace")
    if st.form_submit_button("Import folder", type="primary"):
        _run_import(name.strip(), lambda progress: ingest.ingest_beir(db, path.strip(), name.strip(),
                                                                      replace=replace, progress=progress))
with tab_upload, st.form("import_upload"):
    up = st.file_uploader("A sentence-transformers file (.parquet/.jsonl/.csv/.tsv) or a "
                          ".zip of a BEIR / MS MARCO folder")
    name = st.text_input("Dataset name", key="up_name")
    columns = st.text_input("Column roles (optional; sentence-transformers files map columns by position)",
                            key="up_columns", placeholder="anchor=question,positive=answer,negative=neg1,neg2")
    replace = st.checkbox("Replace if it exists (judgments are kept)", key="up_replace")
    submitted = st.form_submit_button("Import upload", type="primary")
    if submitted and up is None:
        st.warning("Choose a file to upload first.")
    elif submitted:
        _run_import(name.strip(), lambda progress: ingest.ingest_upload(
            db, up.name, up.getvalue(), name.strip(), columns=columns.strip() or None, replace=replace,
            progress=progress))

st.subheader("Mine and score")
names = db.dataset_names()
if not names:
    st.stop()
target = st.selectbox("Dataset", names, key="mine_dataset")
top_k = st.number_input("Candidates per query and miner (top-k)", 5, 200, 30)
jobs = mine_jobs()
running = jobs.get((db.url, target))
busy = running is not None and running.alive
if st.button("Mine + score", type="primary", disabled=busy,
             help="Runs in the app's process: you may leave this page, and come back to see how far it got."):
    jobs[(db.url, target)] = MineJob.start(db, target, int(top_k))
    st.session_state.pop(f"mine_seen::{target}", None)


@st.fragment(run_every=1.0 if any(j.alive for j in jobs.values()) else None)  # polls only while one runs
def _mine_progress() -> None:
    """The runs of this store, redrawn every second; a finished one once more with its summary (the table
    above is re-read then)."""
    for (url, name), job in sorted(mine_jobs().items(), key=lambda kv: kv[1].started):
        if url != db.url:
            continue
        if job.alive:
            st.progress(job.frac, text=f"{name}: {job.step} (runs on if you leave this page)")
        elif job.error is not None:
            show_error(job.error)
        else:
            st.success(render.plain(f"{name}: {job.summary}"))
            if not st.session_state.get(f"mine_seen::{name}"):  # the counts above change once
                st.session_state[f"mine_seen::{name}"] = True
                st.rerun(scope="app")


_mine_progress()
