"""Admin: accounts and roles, guidelines, overlap k, review settings (blind audits, the learning
queue), adjudication of disagreements and of near-identical candidates labelled differently."""

from __future__ import annotations

import streamlit as st

from core import auth, render, review
from core.review import checks, learning
from core.review.blind import blind_share, set_blind_share
from core.store import backup
from core.types import Label, NegauditError, Role
from pages._review_common import LABELS, WORDS, item_tag
from pages._ui import dataset_picker, off_review, require_admin, show_error, store

ADJ_BOX = "max(160px, calc(100vh - 600px))"  # the passage boxes: votes, note and buttons in view at 800 px

me = require_admin()
off_review(me)
db = store()
st.title("Admin")

tab_users, tab_settings, tab_review, tab_adj, tab_cons, tab_backup = st.tabs(
    ["Annotators", "Guidelines & overlap", "Review settings", "Adjudicate", "Consistency", "Backup"])

with tab_users:
    if "accounts_said" in st.session_state:  # what the last change did, said after the page redrew
        st.success(render.plain(st.session_state.pop("accounts_said")))
    accounts = st.empty()  # filled last: an account saved, re-roled or removed below shows at once
    with st.form("add_user", clear_on_submit=True):
        st.markdown("**Add an account, or reset one's password and role**")
        c1, c2, c3 = st.columns(3)
        name = c1.text_input("Name")
        role = c2.selectbox("Role", [r.value for r in Role])
        pw = c3.text_input("Password", type="password")
        if st.form_submit_button("Save account"):
            name = name.strip()
            existed = db.annotator(name) is not None
            inherited = auth.earlier_judgments(db, name)
            try:
                auth.add_user(db, name, role, pw, actor=me)
                if inherited:
                    many = "s" if inherited != 1 else ""
                    st.warning(render.plain(f"{name} already has {inherited:,} judgment{many} in the log from an "
                                            f"earlier account of that name: they count as this account's."))
                if name == me.name:
                    st.warning("You changed your own account: your sessions are signed out; sign in again "
                               "with the new password.")
                elif existed:
                    st.success(render.plain(f"Reset {name}: new password, role {role}; their open sessions "
                                            f"are signed out."))
                else:
                    st.success(render.plain(f"Added {name} ({role})."))
            except NegauditError as exc:
                show_error(exc)
    others = [n for n in db.annotators()["name"] if n != me.name]
    if others:
        c1, c2, c3 = st.columns([2, 1, 1])
        who = c1.selectbox("Account", others, key="who")
        roles = [r.value for r in Role]
        now = (db.annotator(who) or {}).get("role")
        # keyed by account: a tick (or a role picked) for one account must not carry over to the next one chosen
        new_role = c2.selectbox("New role", roles, index=roles.index(now) if now in roles else 0,
                                key=f"new_role::{who}")
        sure = c3.checkbox(f"Yes, remove {who}", key=f"confirm_remove::{who}",
                           help="Their judgments stay (the log is append-only).")
        try:
            if c2.button("Change role", disabled=new_role == now):
                auth.set_role(db, who, new_role, me)
                st.session_state["accounts_said"] = f"{who} is now {new_role} (their open sessions are signed out)."
                st.rerun()
            if c3.button("Remove account", disabled=not sure):
                auth.remove_user(db, who, me)
                st.session_state["accounts_said"] = f"Removed {who} (their judgments stay)."
                st.session_state.pop(f"confirm_remove::{who}", None)
                st.rerun()
        except NegauditError as exc:  # e.g. the account was removed in another session
            show_error(exc)
    accounts.dataframe(db.annotators(), hide_index=True, width="stretch")

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

with tab_review:
    share = st.number_input("Blind audit share (%)", 0, 100, round(100 * blind_share(db)),
                            key="blind_share",
                            help="Cards shown without fn_risk and reasons, a fixed random share "
                                 "per annotator: Insights compares labels on both.")
    every = st.number_input("Refit risk after every N new judgments (0 = off)", 0, 10_000,
                            learning.learn_every(db), key="learn_every",
                            help="The learning queue: fn_risk is refitted from the judgments in the "
                                 "background and the risk queue re-orders; the unjudged items keep "
                                 "the scorer's expected number of false negatives.")
    if st.button("Save review settings", key="save_review_settings"):
        try:
            set_blind_share(db, share / 100.0, me)
            learning.set_learn_every(db, int(every), me)
            st.success(f"Blind audits: {share}% of cards; refit every {int(every)} judgments"
                       + (" (off)." if int(every) == 0 else "."))
        except NegauditError as exc:
            show_error(exc)

def _adjudicate(dataset: str, qid: str, did: str, label: str, note_key: str) -> None:
    review.adjudicate(db, me, dataset, qid, did, label, st.session_state.get(note_key, ""))
    st.session_state["adj_done"] = f"Final label for query {qid} / doc {did}: {WORDS.get(label, label)}."


def _both(dataset: str, qid: str, doc_a: str, doc_b: str, label: str) -> None:
    for did in (doc_a, doc_b):
        review.adjudicate(db, me, dataset, qid, did, label, "consistency: near-identical texts")
    st.session_state["cons_done"] = (f"Labelled both {doc_a} and {doc_b} {WORDS.get(label, label)} "
                                     f"for query {qid}.")


with tab_adj:
    dataset = dataset_picker(key="adj_dataset", where=st)
    if "adj_done" in st.session_state:  # the item leaves the list: say what was written, and on which item
        st.success(render.plain(st.session_state.pop("adj_done")))
    dis = review.disagreements(db, dataset) if dataset else None
    if dis is None or dis.empty:
        st.info("No disagreements to adjudicate.")
    else:
        i = st.session_state.get("adj_at", 0) % len(dis)  # "Next" walks the list; a decision drops an item
        row = dis.iloc[i]
        card = review.load_card(db, dataset, row.query_id, row.doc_id)
        # The Review card's layout: positive | disputed candidate side by side, each scrolling in itself,
        # so the votes and the buttons stay in view (the stacked card put them two screens down).
        hl = render.card_highlight(card.query, card.positives, card.candidate)
        head, nxt = st.columns([5, 1])
        head.markdown(f'<div style="font-size:0.9em;opacity:0.85">Disputed item {i + 1} of {len(dis)} '
                      f'&#183; your label here is final</div>{render.votes_html(row.votes)}',
                      unsafe_allow_html=True)
        if nxt.button("Next disputed", key="adj_next", disabled=len(dis) < 2):
            st.session_state["adj_at"] = i + 1
            st.rerun()
        st.markdown(render.query_html(card.query, hl), unsafe_allow_html=True)
        left, right = st.columns(2)
        left.markdown(render.box_html("positive", "labelled positive", card.positives[:3], hl, ADJ_BOX,
                                      "#16a34a", more=max(0, len(card.positives) - 3)), unsafe_allow_html=True)
        right.markdown(render.box_html("candidate", "disputed candidate", [card.candidate], hl, ADJ_BOX,
                                       "#d97706"), unsafe_allow_html=True)
        note_key = f"adj_note::{row.query_id}::{row.doc_id}"
        st.text_input("Adjudication note", key=note_key)
        # A verdict goes to the item on screen: the buttons carry its ids (a button read as `if st.button(...)`
        # applied to whatever item the rerun drew at that place, after an annotator had changed the list).
        tag = item_tag(row.query_id, row.doc_id)
        cols = st.columns(4)
        for col, (lab, text, _) in zip(cols, LABELS):  # no shortcut keys: every tab's buttons are on the page
            col.button(text, key=f"adj_{lab}_{tag}", width="stretch", on_click=_adjudicate,
                       args=(dataset, str(row.query_id), str(row.doc_id), lab, note_key),
                       type="primary" if lab == Label.FALSE_NEGATIVE.value else "secondary")
    given = review.verdicts(db, dataset) if dataset else None
    if given is not None and not given.empty:
        # An adjudicated item leaves the list above: a mis-click is found and changed here (a new verdict row;
        # the latest one is final, the log keeps both).
        with st.expander(f"Verdicts given ({len(given):,}, newest first): check or change one"):
            st.dataframe(given[["query_id", "doc_id", "label", "annotator", "note", "created_at"]],
                         hide_index=True, width="stretch")
            keys = list(zip(given.query_id.astype(str), given.doc_id.astype(str)))
            pick = st.selectbox("Change the verdict on", keys, key="adj_redo",
                                format_func=lambda k: f"query {k[0]} / doc {k[1]}")
            redo_note = f"adj_redo_note::{pick[0]}::{pick[1]}"
            st.text_input("Note for the new verdict", key=redo_note)
            cols = st.columns(4)
            for col, (lab, text, _) in zip(cols, LABELS):
                col.button(text, key=f"redo_{lab}_{item_tag(*pick)}", width="stretch", on_click=_adjudicate,
                           args=(dataset, pick[0], pick[1], lab, redo_note))

with tab_cons:
    dataset = dataset_picker(key="cons_dataset", where=st)
    if "cons_done" in st.session_state:  # the pair leaves the list: say what was written
        st.success(render.plain(st.session_state.pop("cons_done")))
    pairs = checks.inconsistent(db, dataset) if dataset else None
    if pairs is None or pairs.empty:
        st.info("No near-identical candidates with different labels.")
    else:
        st.caption(f"{len(pairs)} pair(s) of near-identical candidates (same text, or ≥ 90% "
                   "of words shared) got different labels for one query. `same_annotator` names "
                   "who labelled both copies differently. Your label here is final for both.")
        st.dataframe(pairs, hide_index=True, width="stretch")
        row = pairs.iloc[0]
        a = review.load_card(db, dataset, row.query_id, row.doc_a)
        b = review.load_card(db, dataset, row.query_id, row.doc_b)
        hl = render.card_highlight(a.query, [b.candidate], a.candidate)
        st.markdown(render.query_html(a.query, hl), unsafe_allow_html=True)
        left, right = st.columns(2)
        for col, card, votes in ((left, a, row.labels_a), (right, b, row.labels_b)):
            col.markdown(render.box_html("candidate", f"labels: {votes}", [card.candidate], hl,
                                         ADJ_BOX, "#d97706"), unsafe_allow_html=True)
        cols = st.columns(4)
        tag = item_tag(row.query_id, f"{row.doc_a}\x1f{row.doc_b}")
        for col, (lab, text, _) in zip(cols, LABELS):
            col.button(f"Both: {text}", key=f"cons_{lab}_{tag}", width="stretch", on_click=_both,
                       args=(dataset, str(row.query_id), str(row.doc_a), str(row.doc_b), lab))

with tab_backup:
    if not db.is_duckdb:
        st.info("This store is a PostgreSQL database: back it up with the server's tools (pg_dump).")
    else:
        st.caption("A consistent copy of the whole store (every dataset, judgment, account and setting) in one "
                   "new DuckDB file on the server, taken while annotators work. A copy of the database file "
                   "alone can miss the latest judgments (DuckDB holds them in its .wal until a checkpoint); "
                   "this one needs nothing beside it. Same as `negaudit backup` with the app stopped.")
        folder = st.text_input("Folder on the server", ".negaudit/backups", key="backup_folder")
        if st.button("Back up now", key="backup_now"):
            try:
                path = backup.backup(db, backup.default_backup_path(db, folder), actor=me)
                st.success(render.plain(f"Backed up to {path} ({path.stat().st_size / 2**20:,.1f} MiB)."))
            except NegauditError as exc:
                show_error(exc)
            except OSError as exc:  # the folder: a one-line reason, not "[Errno 2] ..."
                st.error(render.plain(f"Cannot write a backup into {folder}: {exc.strerror or exc}"
                                      + (f" ({exc.filename})" if exc.filename else "") + "."))
