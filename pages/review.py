"""Review: one card at a time, a label per keypress, every decision written immediately."""

from __future__ import annotations

import streamlit as st

from core import render, review
from core.review import Mode, QueueSpec
from pages._ui import dataset_picker, store, user

LABELS = [  # (label, button text, shortcut)
    ("negative", "Negative", "N"),
    ("false_negative", "False negative", "F"),
    ("partial", "Partial", "P"),
    ("unsure", "Unsure", "U"),
]
MODES = {
    "Highest risk first": Mode.RISK,
    "Most uncertain": Mode.UNCERTAIN,
    "Random audit sample": Mode.RANDOM,
    "By query": Mode.QUERY,
}

me = user()
db = store()
st.title("Review")
dataset = dataset_picker()
if dataset is None:
    st.stop()

# ---- queue controls (sidebar) ----------------------------------------------------------------
sb = st.sidebar
mode = MODES[sb.radio("Queue", list(MODES), key="mode")]
miners = review.miners(db, dataset)
miner = sb.selectbox("Miner", ["all", *miners], key="miner")
risk_min, risk_max = sb.slider("fn_risk range", 0.0, 1.0, (0.0, 1.0), 0.05, key="risk_range")
others = [n for n in db.annotators()["name"] if n != me.name]
status_opts = {"Unreviewed by me": "unreviewed", "Reviewed by me": "mine",
               **{f"Reviewed by {n}": f"by:{n}" for n in others}, "All": "any"}
status = status_opts[sb.selectbox("Show", list(status_opts), key="status")]
query_id, seed = None, 0
if mode == Mode.QUERY:
    qids = review.candidate_query_ids(db, dataset)
    query_id = sb.selectbox("Query", qids, key="query_id") if qids else None
if mode == Mode.RANDOM:
    seed = int(sb.number_input("Sample seed", 0, 10**6, 0, key="seed"))
spec = QueueSpec(dataset, mode, None if miner == "all" else miner, risk_min, risk_max, status,
                 query_id, seed)

# Skipped (and, outside "unreviewed", already re-labelled) items stay out of this session's queue.
state = st.session_state
if state.get("spec") != spec:
    if state.get("card_key") and state.get("spec"):
        review.skip(db, me, state["spec"].dataset, *state["card_key"])
    state["spec"], state["exclude"], state["card_key"] = spec, [], None


def _decide(label: str, qid: str, did: str) -> None:
    note = state.get(f"note::{qid}::{did}", "")
    review.decide(db, me, dataset, qid, did, label, note)
    if spec.status != "unreviewed":
        state["exclude"].append((qid, did))
    state["flash"] = f"Saved **{label}** for {did}."


def _skip(qid: str, did: str) -> None:
    review.skip(db, me, dataset, qid, did)
    state["exclude"].append((qid, did))
    state["flash"] = f"Skipped {did} (nothing written)."


def _undo() -> None:
    out = review.undo(db, me, dataset)
    if out is None:
        state["flash"] = "Nothing to undo."
        return
    state["exclude"] = [k for k in state["exclude"] if k != (out["query_id"], out["doc_id"])]
    restored = out["restored"] or "unlabelled"
    state["flash"] = f"Undid your last decision on {out['doc_id']}: now {restored}."


# ---- progress --------------------------------------------------------------------------------
prog = review.progress(db, dataset)
mine_row = prog[prog.annotator == me.name]
done = int(mine_row.total.iloc[0]) if not mine_row.empty else 0
total = review.count_items(db, dataset)
st.progress(min(done / max(total, 1), 1.0), text=f"You: {done:,} of {total:,} items labelled")
if state.get("flash"):
    st.success(state.pop("flash"), icon=":material/check:")
with st.expander("Guidelines"):
    st.markdown(review.guidelines(db))

card = review.next_card(db, me.name, spec, state["exclude"])
state["card_key"] = card.key if card else None
if card is None:
    st.info("Queue empty for these filters. Change the queue or filters in the sidebar.")
    st.button("Undo last (Z)", on_click=_undo, shortcut="Z", key="undo")
    st.stop()

left, right = st.columns([3, 1])
with left:
    st.markdown(render.card_html(card.query, card.positives, card.candidate),
                unsafe_allow_html=True)
with right:
    st.markdown(render.risk_html(card.fn_risk, card.reasons), unsafe_allow_html=True)
    st.markdown(render.miners_html(card.miners, card.signals), unsafe_allow_html=True)
    if card.my_label:
        st.caption(f"Your current label: {card.my_label}")

qid, did = card.key
st.text_input("Note (optional)", key=f"note::{qid}::{did}", placeholder="why?")
cols = st.columns(6)
for col, (label, text, key) in zip(cols, LABELS):
    col.button(f"{text} ({key})", key=f"lab_{label}", shortcut=key, on_click=_decide,
               args=(label, qid, did), type="primary" if label == "false_negative" else "secondary",
               width="stretch")
cols[4].button("Skip (S)", key="skip", shortcut="S", on_click=_skip, args=(qid, did),
               width="stretch")
cols[5].button("Undo (Z)", key="undo", shortcut="Z", on_click=_undo, width="stretch")
