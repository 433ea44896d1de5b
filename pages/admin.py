"""Admin: accounts and roles, guidelines, overlap k, adjudication of disagreements."""

from __future__ import annotations

import streamlit as st

from core import auth, render, review
from core.types import Label, NegauditError, Role
from pages._ui import dataset_picker, require_admin, store

me = require_admin()
db = store()
st.title("Admin")

tab_users, tab_settings, tab_adj = st.tabs(["Annotators", "Guidelines & overlap", "Adjudicate"])

with tab_users:
    st.dataframe(db.annotators(), hide_index=True, width="stretch")
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add or reset an account**")
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Name")
        role = c2.selectbox("Role", [r.value for r in Role])
        pw = c3.text_input("Password", type="password")
        if st.form_submit_button("Save account"):
            try:
                auth.add_user(db, name.strip(), role, pw, actor=me)
                st.success(f"Saved {name.strip()} ({role}).")
            except NegauditError as exc:
                st.error(render.plain(str(exc)))
    others = [n for n in db.annotators()["name"] if n != me.name]
    if others:
        c1, c2, c3 = st.columns([2, 1, 1])
        who = c1.selectbox("Account", others, key="who")
        new_role = c2.selectbox("New role", [r.value for r in Role], key="new_role")
        try:
            if c3.button("Change role"):
                auth.set_role(db, who, new_role, me)
                st.success(f"{who} is now {new_role}.")
            if c3.button("Remove account"):
                auth.remove_user(db, who, me)
                st.success(f"Removed {who} (their judgments stay).")
        except NegauditError as exc:  # e.g. the account was removed in another session
            st.error(render.plain(str(exc)))

with tab_settings:
    k = st.number_input("Overlap k: how many annotators label each item", 1, 20,
                        review.overlap_k(db))
    if st.button("Save overlap"):
        review.set_overlap_k(db, int(k), me)
        st.success(f"Overlap k = {int(k)}.")
    text = st.text_area("Guidelines (markdown, shown on the Review page)",
                        review.guidelines(db), height=220)
    if st.button("Save guidelines"):
        review.set_guidelines(db, text, me)
        st.success("Guidelines saved.")

with tab_adj:
    dataset = dataset_picker(key="adj_dataset", where=st)
    dis = review.disagreements(db, dataset) if dataset else None
    if dis is None or dis.empty:
        st.info("No disagreements to adjudicate.")
    else:
        st.caption(f"{len(dis)} disputed items; your label here is final.")
        row = dis.iloc[0]
        card = review.load_card(db, dataset, row.query_id, row.doc_id)
        st.markdown(render.card_html(card.query, card.positives, card.candidate),
                    unsafe_allow_html=True)
        st.markdown(render.votes_html(row.votes), unsafe_allow_html=True)
        note = st.text_input("Adjudication note", key=f"adj_note::{row.query_id}::{row.doc_id}")
        cols = st.columns(4)
        for col, lab in zip(cols, Label):
            if col.button(lab.value, key=f"adj_{lab.value}"):
                review.adjudicate(db, me, dataset, row.query_id, row.doc_id, lab, note)
                st.rerun()
