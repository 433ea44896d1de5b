"""List judging: one query's candidates beside its pinned positive; J/K move the focus, a label
key labels the focused row (written at once) and moves on; Z undoes as in card mode."""

from __future__ import annotations

import time

import streamlit as st

from core import render, review
from core.auth import User
from core.quality.blind import is_blind
from core.review import learning, listing
from core.review.blind import blind_share
from core.store import Store
from core.types import Mode
from pages._review_common import (
    BOX_HEIGHT,
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
from pages._ui import release_sidebar_focus


def list_view(db: Store, me: User, dataset: str) -> None:
    """Render the list mode of the Review page for the signed-in annotator."""
    state, sb = st.session_state, st.sidebar
    qtexts = dict(review.candidate_queries(db, dataset))
    if not qtexts:
        st.info("No candidates to judge in this dataset yet.")
        return
    qid = sb.selectbox("Query", list(qtexts), key="list_query", format_func=lambda q: query_choice(q, qtexts[q]))
    sb.caption(learned_line(db, dataset))
    if state.get("list_key") != (db.url, dataset, qid):
        if state.get("list_key") is not None:
            release_sidebar_focus()
        state["list_key"] = (db.url, dataset, qid)
        state["list_cards"] = listing.query_cards(db, me.name, dataset, qid)
        state["list_focus"], state["list_t0"] = 0, time.time()
    cards: list[review.Card] = state["list_cards"]
    if not cards:
        st.info("This query has no candidates.")
        return
    n = len(cards)
    share = blind_share(db)
    blind = [is_blind(dataset, c.query_id, c.doc_id, me.name, share) for c in cards]

    def _move(delta: int) -> None:
        state["list_focus"] = listing.move(state["list_focus"], delta, n)
        state["list_t0"] = time.time()

    @guarded
    def _label(label: str, drawn: int) -> None:
        i = state["list_focus"]
        if i != drawn:  # the focus moved on after the buttons were drawn: the row on screen is not this one
            state["flash"] = "That key arrived while the list was moving on: nothing saved. Press it again."
            return
        c = cards[i]
        secs = time.time() - state["list_t0"]
        review.decide(db, me, dataset, c.query_id, c.doc_id, label, "", seconds=secs,
                      blind=blind[i], shown_risk=c.fn_risk, queue=Mode.QUERY.value)
        state["flash"] = saved_line(label, c.query_id, c.doc_id)
        state["list_focus"], state["list_t0"] = listing.after_label(i, n), time.time()
        learning.maybe_relearn(db, dataset)

    @guarded
    def _undo() -> None:
        out = review.undo(db, me, dataset)
        if out is None:
            state["flash"] = "Nothing to undo."
            return
        keys = [c.key for c in cards]
        if (out["query_id"], out["doc_id"]) in keys:
            state["list_focus"] = keys.index((out["query_id"], out["doc_id"]))
            state["list_t0"] = time.time()
        state["flash"] = undone_line(out)

    st.markdown(flash_line(db, me, dataset, state.pop("flash", None)), unsafe_allow_html=True)
    focus = state["list_focus"] = min(state["list_focus"], n - 1)
    labels = listing.my_labels(db, dataset, me.name, cards)
    common = common_terms(db, dataset)
    hls = [render.card_highlight(c.query, c.positives, c.candidate, common) for c in cards]
    now = cards[focus]
    st.markdown(render.query_html(now.query, hls[focus]), unsafe_allow_html=True)
    left, right = st.columns(2)
    left.markdown(render.box_html("positive", "labelled positive (pinned)", now.positives[:3],
                                  hls[focus], BOX_HEIGHT, "#16a34a",
                                  more=max(0, len(now.positives) - 3)),
                  unsafe_allow_html=True)
    said = {k: WORDS.get(v, v) for k, v in labels.items()}  # the buttons' words, not stored values
    rows = [render.ListRow(c.candidate, None if blind[i] else c.fn_risk, said.get(c.key),
                           blind[i]) for i, c in enumerate(cards)]
    right.markdown(render.list_html(rows, focus, hls, BOX_HEIGHT), unsafe_allow_html=True)
    st.markdown(render.blind_html() if blind[focus] else
                render.risk_html(now.fn_risk, now.reasons), unsafe_allow_html=True)
    cols = st.columns([0.75, 0.9, 1.1, 1.4, 0.95, 0.95, 0.95])  # room for "False negative" (wraps at 1024 px)
    cols[0].button("Up", key="list_up", shortcut="K", on_click=_move, args=(-1,),
                   width="stretch")
    cols[1].button("Down", key="list_down", shortcut="J", on_click=_move, args=(1,),
                   width="stretch")
    # The label buttons carry the focused row's id, as the card's do: a quick second key pressed before the list
    # redrew reached the next row, never focused on screen (an audit: N then P 150 ms apart labelled two rows).
    tag = item_tag(*now.key)
    for col, (label, text, key) in zip(cols[2:6], LABELS):
        col.button(text, key=f"list_{label}_{tag}", shortcut=key, on_click=_label,
                   args=(label, focus), width="stretch",
                   type="primary" if label == "false_negative" else "secondary")
    cols[6].button("Undo", key="list_undo", shortcut="Z", on_click=_undo, width="stretch")
    if all(labels.get(c.key) for c in cards):  # every row judged: the way on, as in card mode
        next_query_button(qtexts, qid, "list_query", "list_next")
