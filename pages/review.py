"""Review: one screen per card (query; positive | candidate; risk; label keys), or one query's
candidates as a list judged by keys. Every decision is written at once, with its time."""

from __future__ import annotations

import time

import streamlit as st

from core import render, review
from core.quality import pace
from core.review import Mode, QueueSpec, learning
from core.review.blind import card_is_blind
from pages._review_common import (
    BOX_HEIGHT,
    CSS,
    LABELS,
    WORDS,
    common_terms,
    flash_line,
    guarded,
    item_tag,
    learned_line,
    next_query_button,
    query_choice,
    saved_line,
    undone_line,
)
from pages._review_list import list_view
from pages._ui import (
    NOTE_PLACEHOLDER,
    ON_REVIEW,
    dataset_picker,
    note_field_returns_keys,
    release_sidebar_focus,
    store,
    user,
)

MODES = {
    "Highest risk first": Mode.RISK,
    "Most uncertain": Mode.UNCERTAIN,
    "Random audit sample": Mode.RANDOM,
    "By query": Mode.QUERY,
}
VIEWS = ["One card", "List by query"]

me = user()
db = store()
st.session_state[ON_REVIEW] = True  # a card shown here is held: another page gives it back (pages/_ui.off_review)
st.markdown(CSS, unsafe_allow_html=True)
st.title("Review")
dataset = dataset_picker()
if dataset is None:
    st.stop()
state = st.session_state
sb = st.sidebar


def from_url(key: str, options: list[str]) -> None:
    """A reload starts a new Streamlit session: the view and queue it showed come back from the URL (the
    annotator pass lost 'By query' and its query on F5)."""
    if key not in state and st.query_params.get(key) in options:
        state[key] = st.query_params[key]


def to_url(key: str, value: object) -> None:
    if value is not None and st.query_params.get(key) != str(value):
        st.query_params[key] = str(value)


from_url("view", VIEWS)
view = sb.radio("View", VIEWS, key="view", horizontal=True)
to_url("view", view)
if state.get("last_view", view) != view:  # the keys go back to the card / list, not the radio just clicked
    release_sidebar_focus()
state["last_view"] = view
with sb.expander("Guidelines"):
    st.markdown(review.guidelines(db))
if view == VIEWS[1]:
    list_view(db, me, dataset)
    st.stop()

# ---- queue controls (sidebar) ----------------------------------------------------------------
from_url("mode", list(MODES))
mode = MODES[sb.radio("Queue", list(MODES), key="mode")]
to_url("mode", state["mode"])
miner = sb.selectbox("Miner", ["all", *review.miners(db, dataset)], key="miner")
risk_min, risk_max = sb.slider("fn_risk range", 0.0, 1.0, (0.0, 1.0), 0.05, key="risk_range")
# accounts and anyone whose votes are in this dataset (a removed account's labels stay reviewable by name)
others = sorted((set(db.annotators()["name"]) | set(review.progress(db, dataset)["annotator"])) - {me.name})
status_opts = {"Unreviewed by me": "unreviewed", "Reviewed by me": "mine",
               **{f"Reviewed by {n}": f"by:{n}" for n in others}, "All": "any"}
status = status_opts[sb.selectbox("Show", list(status_opts), key="status")]
query_id, seed, qtexts = None, 0, {}
if mode == Mode.QUERY:
    qtexts = dict(review.candidate_queries(db, dataset))
    from_url("query_id", list(qtexts))
    query_id = sb.selectbox("Query", list(qtexts), key="query_id",
                            format_func=lambda q: query_choice(q, qtexts[q])) if qtexts else None
    to_url("query_id", query_id)
if mode == Mode.RANDOM:
    seed = int(sb.number_input("Sample seed", 0, 10**6, 0, key="seed"))
spec = QueueSpec(dataset, mode, None if miner == "all" else miner, risk_min, risk_max, status,
                 query_id, seed)
sb.caption(learned_line(db, dataset))

# Skipped (and, outside "unreviewed", already re-labelled) items stay out of this session's queue.
if state.get("spec") != spec:
    if state.get("card_key") and state.get("spec"):
        review.skip(db, me, state["spec"].dataset, *state["card_key"])
    if state.get("spec") is not None:
        release_sidebar_focus()
    state["spec"], state["exclude"], state["card_key"] = spec, [], None
shown: dict = state.setdefault("shown_at", {})  # card key -> when it was first shown


STALE_KEY = "That key arrived while the next card was loading: nothing saved. Press it again."


def _stale(key: tuple[str, str]) -> bool:
    """A button's callback carries the card of the run that drew it. A key pressed after the next card
    was drawn but before its buttons were (a run interrupted between them) would reach the previous
    card's callback: write nothing rather than label a card the annotator is no longer looking at.
    A card already decided (or skipped) is no longer in `shown` until it is drawn again: keys pressed
    in a burst before the next card came each reached the same card's callback and wrote it again."""
    if key == state.get("card_key") and key in shown:
        return False
    state["flash"] = STALE_KEY
    return True


@guarded
def _decide(label: str, card: review.Card, blind: bool) -> None:
    if _stale(card.key):
        return
    qid, did = card.key
    secs = time.time() - shown.pop(card.key, time.time())
    note = state.get(f"note::{qid}::{did}", "")
    before = review.my_label(db, dataset, me.name, qid, did)
    review.decide(db, me, dataset, qid, did, label, note, seconds=secs, blind=blind,
                  shown_risk=card.fn_risk, queue=spec.mode.value)
    if spec.status != "unreviewed":
        state["exclude"].append((qid, did))
    floor = pace.reading_floor_s(render.shown_text(card.candidate.title, card.candidate.text))
    fast = f" Decided in {secs:.1f} s (a skim takes {floor:.0f} s): flagged for a second look." if secs < floor else ""
    state["flash"] = saved_line(label, qid, did, before if before != card.my_label else None) + fast
    learning.maybe_relearn(db, dataset)  # a background refit every N judgments; never waits


@guarded
def _skip(qid: str, did: str) -> None:
    if _stale((qid, did)):
        return
    review.skip(db, me, dataset, qid, did)
    shown.pop((qid, did), None)
    state["exclude"].append((qid, did))
    state["flash"] = (f"Skipped query {qid} / doc {did} for now (nothing written; it comes back after a reload "
                      "or the next sign-in).")


@guarded
def _undo() -> None:
    out = review.undo(db, me, dataset)
    if out is None:
        state["flash"] = "Nothing to undo."
        return
    state["exclude"] = [k for k in state["exclude"] if k != (out["query_id"], out["doc_id"])]
    state["flash"] = undone_line(out)


card = review.next_card(db, me.name, spec, state["exclude"])
state["card_key"] = card.key if card else None
st.markdown(flash_line(db, me, dataset, state.pop("flash", None), query_id if mode == Mode.QUERY else None),
            unsafe_allow_html=True)
if card is None:
    done = st.empty()
    if next_query_button(qtexts, query_id, "query_id", "next_query"):  # "By query": the way to the next
        done.info(f"Query {render.plain(query_id)} has nothing left for these filters.")
    else:
        done.info("Queue empty for these filters. Change the queue or filters in the sidebar.")
    st.button("Undo last", on_click=_undo, shortcut="Z", key="undo")
    st.stop()
shown.setdefault(card.key, time.time())

hl = render.card_highlight(card.query, card.positives, card.candidate,
                           common_terms(db, dataset))
st.markdown(render.query_html(card.query, hl), unsafe_allow_html=True)
left, right = st.columns(2)
left.markdown(render.box_html("positive", "labelled positive", card.positives[:3], hl,
                              BOX_HEIGHT, "#16a34a", more=max(0, len(card.positives) - 3)),
              unsafe_allow_html=True)
right.markdown(render.box_html("candidate", render.candidate_label(hl), [card.candidate], hl,
                               BOX_HEIGHT, "#d97706"), unsafe_allow_html=True)
blind = card_is_blind(db, dataset, *card.key, me.name)
st.markdown(render.blind_html() if blind else render.risk_html(card.fn_risk, card.reasons),
            unsafe_allow_html=True)

qid, did = card.key
# The card's buttons are its own widgets: Streamlit runs a click with the args of the *latest* run that drew
# a widget id, so with one id for every card a key pressed on a card still on screen, after the server had
# drawn the next, labelled that next card unseen (an audit at 200-250 ms between two keys). A click on an
# earlier card's button now reaches an id the page no longer holds, and Streamlit drops it.
tag = item_tag(qid, did)
state["card_tag"] = tag
mine = f" (yours now: {WORDS.get(card.my_label, card.my_label)})" if card.my_label else ""
note_field_returns_keys()
st.text_input("Note", key=f"note::{qid}::{did}", placeholder=f"{NOTE_PLACEHOLDER}: why? Enter returns to the keys{mine}",
              label_visibility="collapsed")
cols = st.columns(6)
for col, (label, text, key) in zip(cols, LABELS):
    col.button(text, key=f"lab_{label}_{tag}", shortcut=key, on_click=_decide,
               args=(label, card, blind), width="stretch",
               type="primary" if label == "false_negative" else "secondary")
cols[4].button("Skip", key=f"skip_{tag}", shortcut="S", on_click=_skip, args=(qid, did),
               width="stretch")
cols[5].button("Undo", key="undo", shortcut="Z", on_click=_undo, width="stretch")
if not blind:  # miner ranks and signals would give the score away on a blind card
    with st.expander("Miners and signals"):
        st.markdown(render.miners_html(card.miners, card.signals), unsafe_allow_html=True)
