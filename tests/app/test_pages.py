"""Every page through streamlit's AppTest on a real temp DuckDB file."""

from __future__ import annotations

import html
import json
import re
import time
from html import unescape
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core import render, review
from core.auth import User
from core.types import Role
from tests.app.conftest import card_button

ROOT = Path(__file__).resolve().parents[2]

DS = "mini"  # the dataset conftest seeds


def _text(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_signed_out_sees_only_sign_in(app, store_of):
    at = app(None)
    assert not at.exception
    assert at.title[0].value.startswith("negaudit")
    at.text_input[0].input("ann")
    at.text_input[1].input("wrong")
    at.button[0].click().run()
    assert at.error and "wrong password" in at.error[0].value
    at.text_input[1].input("pw-ann")
    at.button[0].click().run()
    assert not at.exception
    assert "session" in at.query_params  # the token that lets a refresh resume
    assert any(t.value == "Review" for t in at.title)


def _top(store, query_id: str | None = None):
    """The store's highest-risk item (of one query), as the risk queue must show it first."""
    r = store.risk(DS)
    if query_id is not None:
        r = r[r.query_id == query_id]
    return r.sort_values(["fn_risk", "query_id", "doc_id"], ascending=[False, True, True]).iloc[0]


def test_review_card_shows_the_real_score_reasons_and_signals(app, store_of):
    at = app("ann")
    assert not at.exception, at.exception
    top = _top(store_of)
    assert at.session_state["card_key"] == (top.query_id, top.doc_id)
    assert top.scorer_version != "demo-lexical-0" and top.reasons  # really scored
    html = _text(at)
    assert render.risk_html(float(top.fn_risk), top.reasons) in html  # the pipeline's reasons
    signals = json.loads(top.signals)
    assert len(signals) >= 5  # the registered signals, with their values
    assert all(f"{render.escape_text(k)} = {v:.3f}" in html for k, v in list(signals.items())[:3])


def test_review_escapes_hostile_passages(app, store_of):
    """The hostile near-duplicates of query `HOSTILE_Q`'s positive are mined and scored high for
    it: step through that query's cards, labelling each, and see their markup only as text."""
    hostile = store_of.risk(DS)
    hostile = hostile[hostile.doc_id.str.startswith("hostile-")]
    assert len(hostile) >= 2 and hostile.query_id.nunique() == 1  # mined by the real miners
    at = app("ann")
    at.radio(key="mode").set_value("By query").run()
    at.selectbox(key="query_id").set_value(hostile.query_id.iloc[0]).run()
    seen = set()
    n = int((store_of.risk(DS).query_id == hostile.query_id.iloc[0]).sum())
    left = [int(m) for m in re.findall(rf"(\d+) of {n} left in this query", unescape(_text(at)))]
    assert len(left) == 1 and 0 < left[0] <= n  # the card view's own count for the query
    for i in range(12):
        key = at.session_state["card_key"]
        if key is None:
            break
        html = _text(at)
        assert f"{left[0] - i} of {n} left in this query" in unescape(html)  # one fewer per label
        assert "<strong>" not in html and "<img" not in html and "<script" not in html
        if key[1].startswith("hostile-"):
            seen.add(key[1])
            assert "&#60;" in html or "&#42;&#42;" in html or "&#91;x&#93;" in html
        card_button(at, "lab_negative").click().run()
        assert not at.exception, at.exception
    assert seen == set(hostile.doc_id)


def test_review_labels_skips_and_undoes(app, store_of):
    at = app("ann")
    assert not at.exception, at.exception
    html = _text(at)
    assert "Query" in html and "false-negative risk" in html
    first = at.session_state["card_key"]
    at.text_input(key=f"note::{first[0]}::{first[1]}").input("looks unrelated")
    card_button(at, "lab_negative").click().run()
    j = store_of.judgments(DS)
    assert list(zip(j.doc_id, j.label, j.note)) == [(first[1], "negative", "looks unrelated")]
    assert f"Saved Negative for query {first[0]} / doc {first[1]}." in unescape(_text(at))  # button words
    assert "labelled, 1 this session" in unescape(_text(at))
    second = at.session_state["card_key"]
    assert second != first
    card_button(at, "skip").click().run()
    assert len(store_of.judgments(DS)) == 1  # skip writes nothing
    third = at.session_state["card_key"]
    assert third not in (first, second)
    card_button(at, "lab_false_negative").click().run()
    at.button(key="undo").click().run()
    j = store_of.judgments(DS)
    assert list(j.action) == ["label", "label", "undo"]
    assert at.session_state["card_key"] == third  # the undone card is back
    said = unescape(_text(at))  # names the query too: one doc is often labelled for several queries
    assert f"Undid your last decision on query {third[0]} / doc {third[1]}: now unlabelled." in said, said
    assert "labelled, 1 this session" in said  # two labels, one taken back (the audit read 33 for 29)
    reload = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)  # F5: the same sign-in, a new page
    reload.query_params["session"] = at.session_state["token"]
    reload.run()
    assert "labelled, 1 this session" in unescape(_text(reload))  # counted from the log since the sign-in
    # A refresh (new session, same URL token) resumes on the same card.
    again = app("ann")
    assert again.session_state["card_key"] == third


def test_a_second_tab_on_the_same_card_says_whose_label_it_replaces(app, store_of):
    """One account, two tabs, one card: the later key wins (both rows stay in the log) and says what it replaced."""
    one, two = app("ann"), app("ann")
    key = one.session_state["card_key"]
    assert two.session_state["card_key"] == key  # the card held for this annotator, in both tabs
    card_button(one, "lab_negative").click().run()
    assert "replaces" not in unescape(_text(one))
    card_button(two, "lab_false_negative").click().run()
    said = unescape(_text(two))
    assert f"Saved False negative for query {key[0]} / doc {key[1]}. It replaces your Negative from another tab" in said
    j = store_of.judgments(DS)
    j = j[(j.query_id == key[0]) & (j.doc_id == key[1])]
    assert list(j.label) == ["negative", "false_negative"] and set(j.annotator) == {"ann"}


def test_review_queue_modes_and_filters(app, store_of):
    at = app("ann")
    at.radio(key="mode").set_value("Most uncertain").run()
    assert not at.exception
    at.radio(key="mode").set_value("Random audit sample").run()
    assert not at.exception
    at.radio(key="mode").set_value("By query").run()
    assert not at.exception and at.selectbox(key="query_id").value
    picker = at.selectbox(key="query_id")
    first = picker.value
    texts = dict(review.candidate_queries(store_of, DS))
    assert picker.options[0].startswith(f"{first} · {' '.join(texts[first].split())[:20]}")  # says what it asks
    at.selectbox(key="miner").set_value("bm25").run()
    at.selectbox(key="status").set_value("Reviewed by me").run()
    assert not at.exception
    # the end of a query leads to the next one (Q), not to a dead end
    assert any("has nothing left" in i.value for i in at.info)
    at.button(key="next_query").click().run()
    assert at.selectbox(key="query_id").value == list(texts)[1] and not at.exception
    reload = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)  # F5: the queue comes back from the URL
    reload.query_params.update({k: at.query_params[k] for k in ("session", "mode", "query_id")})
    reload.run()
    assert reload.radio(key="mode").value == "By query" and reload.selectbox(key="query_id").value == list(texts)[1]
    at.selectbox(key="query_id").set_value(list(texts)[-1]).run()
    assert any("Queue empty" in i.value for i in at.info)  # the last query: nothing after it
    assert not [b for b in at.button if b.key == "next_query"]


def test_datasets_page_counts_and_imports_a_beir_folder(app, store_of):
    ann = app("ann", "pages/datasets.py")  # an annotator sees the counts, and cannot replace or mine
    assert not ann.exception and DS in set(ann.dataframe[0].value["name"])
    assert any("for admins" in i.value for i in ann.info) and not ann.text_input and not ann.button
    at = app("boss", "pages/datasets.py")
    assert not at.exception, at.exception
    assert at.dataframe and DS in set(at.dataframe[0].value["name"])
    at.text_input[0].input(str(ROOT / "tests" / "fixtures" / "beir_scifact"))
    at.text_input(key="path_name").input("scifact-small")
    next(b for b in at.button if b.label == "Import folder").click().run()
    assert not at.exception, at.exception
    assert not at.error, at.error[0].value
    docs = store_of.counts("scifact-small")[0].docs
    assert docs > 0
    assert "scifact-small" in set(at.dataframe[0].value["name"])  # listed at once, not on the next visit
    assert any(f"{docs} docs" in m.value for m in at.success)  # in words, not the result dict
    assert at.selectbox(key="mine_dataset").value == "scifact-small"  # the next step, for it
    next(b for b in at.button if b.label == "Import upload").click().run()  # no file chosen: said so
    assert any("Choose a file" in w.value for w in at.warning)
    next(b for b in at.button if b.label == "Import folder").click().run()  # again: in the page's words
    said = html.unescape(at.error[0].value)
    assert '"Replace if it exists" to rebuild it' in said and "--replace" not in said, said
    # Mine + score runs on when its admin leaves the page (the audit: leaving stopped it half done, unsaid)
    at.selectbox(key="mine_dataset").set_value("scifact-small").run()
    at.number_input[0].set_value(5).run()
    next(b for b in at.button if b.label == "Mine + score").click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/insights.py").run()  # away, at once
    deadline = time.time() + 600
    while time.time() < deadline and not store_of.risk("scifact-small").shape[0]:
        time.sleep(1)
    counts = store_of.counts("scifact-small")[0]
    assert counts.candidates > 0 and len(store_of.risk("scifact-small")) > 0  # mined and scored all the same
    at.switch_page("pages/datasets.py").run()
    deadline = time.time() + 60
    while time.time() < deadline and not any("scifact-small: scored" in html.unescape(m.value) for m in at.success):
        time.sleep(1)
        at.run()
    assert any("scifact-small: scored" in html.unescape(m.value) for m in at.success), [m.value for m in at.success]


def test_insights_page(app, store_of):
    from core.auth import User
    from core.types import Role

    a, b = User("ann", Role.ANNOTATOR), User("boss", Role.ADMIN)
    keys = review.next_keys(store_of, "x", review.QueueSpec(DS), limit=4)
    for i, (q, d) in enumerate(keys[["query_id", "doc_id"]].itertuples(index=False)):
        review.decide(store_of, a, DS, q, d, "negative" if i % 2 else "false_negative")
        review.decide(store_of, b, DS, q, d, "negative")
    at = app("ann", "pages/insights.py")
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 6
    assert at.metric[0].value == "4"
    assert any("No false-negative rate yet" in i.value for i in at.info)  # risk-queue cards only: says how


def test_export_admin_only(app, tmp_path):
    at = app("boss", "pages/export.py")
    assert not at.exception, at.exception
    assert at.get("download_button")
    out = tmp_path / "exported"
    at.selectbox(key="fmt").set_value("beir").run()
    next(t for t in at.text_input if t.label.startswith("Output path")).input(str(out))
    next(b for b in at.button if b.label == "Export").click().run()
    assert not at.exception, at.exception
    assert not at.error, at.error[0].value
    assert out.exists() and any(out.iterdir())
    # The hardest-first sampling reaches the policy written into the manifest.
    next(n for n in at.number_input if n.label.startswith("Negatives per query")).set_value(1)
    at.radio[0].set_value("top")
    at.selectbox(key="fmt").set_value("triplet").run()
    out2 = tmp_path / "triplets.parquet"
    next(t for t in at.text_input if t.label.startswith("Output path")).input(str(out2))
    next(b for b in at.button if b.label == "Export").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    manifest = json.loads((tmp_path / "triplets.parquet.manifest.json").read_text())
    assert manifest["policy"]["sampling"] == "top" and manifest["policy"]["num_negatives"] == 1
    # mine_hard_negatives' knobs reach the policy too, and what they remove is counted.
    next(n for n in at.number_input if n.label.startswith("Skip the N best-ranked")).set_value(2)
    next(n for n in at.number_input if n.label.startswith("Relative margin")).set_value(0.05).run()
    assert not at.exception and not at.error, (at.exception, at.error)
    next(t for t in at.text_input if t.label.startswith("Output path")).input(str(out2))
    at.checkbox[-1].check()
    next(b for b in at.button if b.label == "Export").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    manifest = json.loads((tmp_path / "triplets.parquet.manifest.json").read_text())
    assert manifest["policy"]["range_min"] == 2 and manifest["policy"]["relative_margin"] == 0.05
    assert manifest["counts"]["totals"]["filtered"] > 0
    at.checkbox[-1].uncheck().run()
    assert [b for b in at.get("download_button") if b.key == "download_export"]
    # the admin audit: another policy, no new export, and Download gave the old policy's file
    next(n for n in at.number_input if n.label.startswith("Negatives per query")).set_value(2).run()
    assert not [b for b in at.get("download_button") if b.key == "download_export"]
    assert any("settings changed since this file was exported" in i.value for i in at.info)
    next(n for n in at.number_input if n.label.startswith("Negatives per query")).set_value(1).run()
    assert [b for b in at.get("download_button") if b.key == "download_export"]  # the file's own settings again
    next(b for b in at.button if b.label == "Export").click().run()  # again, no overwrite: refused...
    said = html.unescape(at.error[0].value) if at.error else ""
    assert 'exists; choose "Overwrite an existing export" or pick another output path' in said, said
    assert not [b for b in at.get("download_button") if b.key == "download_export"]  # ...with no stale download
    at.selectbox(key="fmt").set_value("judgments").run()  # the judgment log is one file, .parquet by default
    path = next(t for t in at.text_input if t.label.startswith("Output path")).value
    assert path.endswith("-judgments.parquet"), path
    ann = app("ann")
    assert not ann.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        ann.switch_page("pages/export.py")  # not in an annotator's navigation
    # ...and the page itself refuses an annotator even when reached directly.
    direct = AppTest.from_file(str(ROOT / "pages" / "export.py"), default_timeout=60)
    direct.session_state["user"] = User("ann", Role.ANNOTATOR)
    direct.run()
    assert direct.error and "Admins only" in direct.error[0].value
    assert not direct.get("download_button")


def test_admin_backup_copies_the_store_in_use(app, store_of, tmp_path):
    from core.auth import User
    from core.store import Store
    from core.types import Role

    q, d = review.next_keys(store_of, "x", review.QueueSpec(DS), limit=1).iloc[0][["query_id", "doc_id"]]
    review.decide(store_of, User("ann", Role.ANNOTATOR), DS, q, d, "false_negative")
    at = app("boss", "pages/admin.py")
    at.text_input(key="backup_folder").input(str(tmp_path / "backups")).run()
    at.button(key="backup_now").click().run()
    assert not at.exception and not at.error, (at.exception, at.error)
    [copy] = (tmp_path / "backups").glob("*.duckdb")
    assert copy.name in html.unescape(at.success[0].value)
    with Store.open(str(copy), read_only=True) as s:  # the app holds the store; the copy has its judgment
        assert s.judgments(DS)[["query_id", "doc_id", "label"]].values.tolist() == [[q, d, "false_negative"]]


def test_admin_page_settings_and_adjudication(app, store_of):
    from core.auth import User
    from core.types import Role

    q, d = review.next_keys(store_of, "x", review.QueueSpec(DS), limit=1).iloc[0][
        ["query_id", "doc_id"]]
    review.decide(store_of, User("ann", Role.ANNOTATOR), DS, q, d, "negative")
    review.decide(store_of, User("boss", Role.ADMIN), DS, q, d, "false_negative")
    at = app("boss", "pages/admin.py")
    assert not at.exception, at.exception
    at.number_input[0].set_value(2).run()
    next(b for b in at.button if b.label == "Save overlap").click().run()
    assert review.overlap_k(store_of) == 2
    assert {"Negative", "False negative", "Partial", "Unsure"} <= {b.label for b in at.button}  # words, not values
    assert any("Disputed item 1 of 1" in m.value for m in at.markdown)  # where the admin is in the list
    box = [m.value for m in at.markdown if "na-candidate" in m.value]
    assert box and "disputed candidate" in box[0]  # beside the positive, not under it
    next(b for b in at.button if b.label == "False negative").click().run()
    c = review.consensus(store_of, DS)
    assert c.set_index(["query_id", "doc_id"]).loc[(q, d), "status"] == "adjudicated"
    assert store_of.judgments(DS).label.iloc[-1] == "false_negative"


def test_a_verdict_goes_to_the_item_on_screen_when_the_list_changed(app, store_of):
    """The team audit: an annotator settled the disputed item on the admin's screen, and the admin's click then
    adjudicated the next item, never shown. The buttons carry the shown item's ids now."""
    from core.auth import User
    from core.types import Role

    keys = review.next_keys(store_of, "x", review.QueueSpec(DS), limit=2)[["query_id", "doc_id"]].values.tolist()
    ann, boss = User("ann", Role.ANNOTATOR), User("boss", Role.ADMIN)
    for q, d in keys:
        review.decide(store_of, ann, DS, q, d, "negative")
        review.decide(store_of, boss, DS, q, d, "false_negative")
    at = app("boss", "pages/admin.py")
    assert any("Disputed item 1 of 2" in m.value for m in at.markdown)
    shown = review.disagreements(store_of, DS).iloc[0]
    other = next(k for k in keys if tuple(k) != (shown.query_id, shown.doc_id))
    review.decide(store_of, ann, DS, shown.query_id, shown.doc_id, "false_negative")  # settled meanwhile
    next(b for b in at.button if b.label == "Partial").click().run()
    last = store_of.judgments(DS).iloc[-1]
    assert (last.query_id, last.doc_id, last.label, last.action) == (shown.query_id, shown.doc_id, "partial",
                                                                     "adjudicate")
    assert review.consensus(store_of, DS).set_index(["query_id", "doc_id"]).loc[tuple(other), "status"] != "adjudicated"
    assert any(f"Final label for query {shown.query_id} / doc {shown.doc_id}: Partial." in unescape(m.value) for m in at.success)
    # the admin audit: an adjudicated item left the list, so a mis-click could not be checked or changed
    assert at.selectbox(key="adj_redo").value == (str(shown.query_id), str(shown.doc_id))
    next(b for b in at.button if (b.key or "").startswith("redo_negative_")).click().run()
    cons = review.consensus(store_of, DS).set_index(["query_id", "doc_id"]).loc[(shown.query_id, shown.doc_id)]
    assert (cons.label, cons.status) == ("negative", "adjudicated")
    log = store_of.judgments(DS, action="adjudicate")
    assert list(log.label) == ["partial", "negative"]  # both verdicts in the log, the latest in force


def test_leaving_review_or_signing_out_gives_the_card_back(app, store_of):
    from core.store import leases

    at = app("boss")  # signing in lands on Review, which holds the card it shows
    assert not at.exception, at.exception
    assert leases.my_leases(store_of, DS, "boss")
    at.switch_page("pages/admin.py")
    at.run()
    assert not at.exception and leases.my_leases(store_of, DS, "boss") == []  # held no more off Review


def test_accounts_say_add_from_reset_and_remove_only_when_confirmed(app, store_of):
    at = app("boss", "pages/admin.py")

    def save(name: str, pw: str) -> None:
        form = [t for t in at.text_input if t.label in ("Name", "Password")]
        form[0].input(name)
        form[1].input(pw)
        next(b for b in at.button if b.label == "Save account").click().run()
        assert not at.exception and not at.error, (at.exception, at.error)

    born = store_of.annotators().set_index("name").created_at["ann"]
    save("cat", "pw-cat")
    assert "Added cat" in html.unescape(at.success[0].value)
    save("ann", "pw-new")  # an existing name: a reset, said as one; the account keeps its creation time
    assert "Reset ann" in html.unescape(at.success[0].value)
    assert store_of.annotators().set_index("name").created_at["ann"] == born
    at.selectbox(key="who").set_value("ann").run()
    at.checkbox(key="confirm_remove::ann").check().run()  # ticked for ann...
    at.selectbox(key="who").set_value("cat").run()
    remove = next(b for b in at.button if b.label == "Remove account")
    assert remove.disabled and not at.checkbox(key="confirm_remove::cat").value  # ...not carried over to cat
    assert at.selectbox(key="new_role::cat").value == "annotator"  # starts at the account's own role
    at.checkbox(key="confirm_remove::cat").check().run()
    next(b for b in at.button if b.label == "Remove account").click().run()
    assert "cat" not in set(store_of.annotators()["name"])
    assert "Removed cat" in html.unescape(at.success[0].value)
    assert "cat" not in at.selectbox(key="who").options  # the picker forgets it at once


def test_a_removed_accounts_labels_stay_reviewable_by_name(app, store_of):
    from core import auth
    from core.auth import User
    from core.types import Role

    auth.add_user(store_of, "cat", "annotator", "pw-cat")
    q, d = review.next_keys(store_of, "x", review.QueueSpec(DS), limit=1).iloc[0][["query_id", "doc_id"]]
    review.decide(store_of, User("cat", Role.ANNOTATOR), DS, q, d, "false_negative")
    auth.remove_user(store_of, "cat")  # the account goes, the vote stays
    at = app("ann")
    assert "Reviewed by cat" in at.selectbox(key="status").options
    ins = app("ann", "pages/insights.py")
    assert "cat (removed)" in set(ins.dataframe[0].value["annotator"])  # progress marks the account gone
    admin = app("boss", "pages/admin.py")  # a new account of that name takes the votes over: said so
    form = [t for t in admin.text_input if t.label in ("Name", "Password")]
    form[0].input("cat")
    form[1].input("pw-cat2")
    next(b for b in admin.button if b.label == "Save account").click().run()
    assert any("already has 1 judgment in the log" in html.unescape(w.value) for w in admin.warning)
