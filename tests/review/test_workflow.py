"""Queue modes, filters, overlap-k leases, undo, consensus and agreement on a real store."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score
from synthetic import seed_sample

from core import auth, review
from core.review import Mode, QueueSpec
from core.store import Store

DS = "mini"


@pytest.fixture(scope="module", params=["duckdb", pytest.param("postgres",
                                                               marks=pytest.mark.postgres)])
def seeded(request, databases, tmp_path_factory):
    """One seeded database per backend; each test gets a copy (tests/conftest.py `databases`)."""
    url = databases.new(request.param, tmp_path_factory.mktemp("rv"))
    with Store.open(url) as s:
        seed_sample(s, DS, n_queries=5, n_docs=200, per_query=4)
    return request.param, url


@pytest.fixture()
def store(seeded, databases, tmp_path):
    backend, url = seeded
    s = Store.open(databases.new(backend, tmp_path, template=url))
    yield s
    s.close()


@pytest.fixture()
def users(store):
    return {n: auth.add_user(store, n, "admin" if n == "boss" else "annotator", "pw12")
            for n in ("ann", "bob", "cat", "boss")}


def test_risk_mode_orders_by_fn_risk(store, users):
    keys = review.next_keys(store, "ann", QueueSpec(DS), limit=50)
    risks = list(keys.fn_risk)
    assert risks == sorted(risks, reverse=True) and len(keys) == 20


def test_uncertain_and_random_modes(store, users):
    unc = review.next_keys(store, "ann", QueueSpec(DS, Mode.UNCERTAIN), limit=50)
    d = [abs(r - 0.5) for r in unc.fn_risk]
    assert d == sorted(d)
    r0 = review.next_keys(store, "ann", QueueSpec(DS, Mode.RANDOM, seed=0), limit=50)
    r0b = review.next_keys(store, "ann", QueueSpec(DS, Mode.RANDOM, seed=0), limit=50)
    r1 = review.next_keys(store, "ann", QueueSpec(DS, Mode.RANDOM, seed=1), limit=50)
    assert list(r0.doc_id) == list(r0b.doc_id)  # seeded: reproducible
    assert set(zip(r0.query_id, r0.doc_id)) == set(zip(r1.query_id, r1.doc_id))
    assert list(r0.doc_id) != list(r1.doc_id)


def test_filters(store, users):
    qid = review.next_keys(store, "ann", QueueSpec(DS), limit=1).query_id[0]
    by_q = review.next_keys(store, "ann", QueueSpec(DS, Mode.QUERY, query_id=qid), limit=50)
    assert set(by_q.query_id) == {qid} and len(by_q) == 4
    band = review.next_keys(store, "ann", QueueSpec(DS, risk_min=0.2, risk_max=0.6), limit=50)
    assert all(0.2 <= r <= 0.6 for r in band.fn_risk)
    assert review.next_keys(store, "ann", QueueSpec(DS, miner="nope"), limit=5).empty
    card = review.next_card(store, "bob", QueueSpec(DS))
    review.decide(store, users["bob"], DS, card.query_id, card.doc_id, "negative")
    by_bob = review.next_keys(store, "ann", QueueSpec(DS, status="by:bob"), limit=50)
    assert list(zip(by_bob.query_id, by_bob.doc_id)) == [card.key]
    mine = review.next_keys(store, "bob", QueueSpec(DS, status="mine"), limit=50)
    assert list(mine.my_label) == ["negative"]
    unrev = review.next_keys(store, "bob", QueueSpec(DS), limit=50)
    assert card.key not in set(zip(unrev.query_id, unrev.doc_id))


def test_card_content(store, users):
    card = review.next_card(store, "ann", QueueSpec(DS))
    assert card.query and card.positives and card.candidate.text
    assert card.miners[0]["miner"] == "bm25-lite" and 0 <= card.fn_risk <= 1
    assert card.candidate.doc_id not in {p.doc_id for p in card.positives}


def test_refresh_resumes_same_card_and_skip_moves_on(store, users):
    spec = QueueSpec(DS)
    c1 = review.next_card(store, "ann", spec)
    assert review.next_card(store, "ann", spec).key == c1.key  # a refresh: same card
    review.skip(store, users["ann"], DS, *c1.key)
    c2 = review.next_card(store, "ann", spec, exclude=[c1.key])
    assert c2.key != c1.key
    assert store.judgments(DS).empty  # skip writes nothing


def test_overlap_k_leases(store, users):
    spec = QueueSpec(DS)
    a = review.next_card(store, "ann", spec)
    b = review.next_card(store, "bob", spec)
    assert a.key != b.key  # k=1: a held item is not handed out twice
    review.set_overlap_k(store, 2, users["boss"])
    c = review.next_card(store, "cat", spec)
    assert c.key == a.key  # k=2: the top item goes to a second annotator
    d = review.next_card(store, "boss", spec)
    assert d.key not in (a.key,)  # ...but never to a third at once
    review.decide(store, users["ann"], DS, *a.key, "negative")
    assert review.next_card(store, "bob", spec).key == b.key  # bob resumes his own lease


def test_stepping_away_gives_the_held_card_back(store, users):
    """Signing in lands on Review and leases the head; an admin who goes straight to Admin, or anyone who
    signs out, held it for 30 minutes (with k = 1 nobody else saw the queue's top item)."""
    spec = QueueSpec(DS)
    a = review.next_card(store, "boss", spec)
    assert review.next_card(store, "ann", spec).key != a.key  # held: ann gets the next one
    review.skip(store, users["ann"], DS, *review.next_card(store, "ann", spec).key)
    review.step_away(store, users["boss"])
    from core.store import leases

    assert leases.my_leases(store, DS, "boss") == []
    assert review.next_card(store, "bob", spec).key == a.key  # the head is free again
    review.step_away(store, users["boss"])  # nothing held: nothing happens


def test_undo_appends_and_restores(store, users):
    ann, spec = users["ann"], QueueSpec(DS)
    c1 = review.next_card(store, "ann", spec)
    review.decide(store, ann, DS, *c1.key, "false_negative", note="same finding")
    c2 = review.next_card(store, "ann", spec)
    review.decide(store, ann, DS, *c2.key, "negative")
    review.undo(store, ann, DS)
    j = store.judgments(DS)
    assert list(j.action) == ["label", "label", "undo"] and j.label.iloc[-1] == ""
    assert review.next_card(store, "ann", spec).key == c2.key  # the undone card comes back
    cur = store.current_labels(DS)
    assert list(zip(cur.doc_id, cur.label)) == [(c1.doc_id, "false_negative")]


def test_consensus_majority_tie_and_adjudication(store, users):
    keys = review.next_keys(store, "x", QueueSpec(DS), limit=3)
    k1, k2, k3 = [tuple(r) for r in keys[["query_id", "doc_id"]].itertuples(index=False)]
    for name, lab in (("ann", "negative"), ("bob", "negative"), ("cat", "false_negative")):
        review.decide(store, users[name], DS, *k1, lab)
    review.decide(store, users["ann"], DS, *k2, "negative")
    review.decide(store, users["bob"], DS, *k2, "partial")
    review.decide(store, users["ann"], DS, *k3, "unsure")
    c = review.consensus(store, DS).set_index(["query_id", "doc_id"])
    assert c.loc[k1, "label"] == "negative" and c.loc[k1, "status"] == "majority"
    assert c.loc[k2, "status"] == "disagreement" and pd.isna(c.loc[k2, "label"])
    assert c.loc[k3, "status"] == "single"
    assert list(zip(review.disagreements(store, DS).doc_id)) == [(k2[1],)]
    review.adjudicate(store, users["boss"], DS, *k2, "partial", note="final")
    c = review.consensus(store, DS).set_index(["query_id", "doc_id"])
    assert c.loc[k2, "label"] == "partial" and c.loc[k2, "status"] == "adjudicated"
    review.decide(store, users["cat"], DS, *k2, "negative")  # a later vote can't override
    assert review.consensus(store, DS).set_index(["query_id", "doc_id"]).loc[k2, "label"] == "partial"


def test_agreement_progress_and_judged_items(store, users):
    keys = review.next_keys(store, "x", QueueSpec(DS, Mode.RANDOM, status="any"), limit=6)
    for i, (q, d) in enumerate(keys[["query_id", "doc_id"]].itertuples(index=False)):
        review.decide(store, users["ann"], DS, q, d, "negative" if i % 2 else "false_negative")
        review.decide(store, users["bob"], DS, q, d, "negative" if i % 3 else "false_negative")
    ag = review.agreement(store, DS)
    assert ag["items_multi"] == 6 and len(ag["pairs"]) == 1
    pa = [("negative" if i % 2 else "false_negative") for i in range(6)]
    pb = [("negative" if i % 3 else "false_negative") for i in range(6)]
    assert ag["pairs"].kappa[0] == pytest.approx(cohen_kappa_score(pa, pb))
    assert not math.isnan(ag["alpha"])
    prog = review.progress(store, DS).set_index("annotator")
    assert prog.loc["ann", "total"] == 6 and prog.loc["ann", "false_negative"] == 3
    judged = review.judged_items(store, DS)
    assert len(judged) == 6 and judged["rank"].notna().all() and judged.fn_risk.notna().all()
    assert isinstance(review.throughput(store, DS), pd.DataFrame)
    # the estimated-rate bars count each item once, at its best rank (as the judged rate does)
    cands = store.candidates(DS)
    again = cands.head(3).assign(miner="dense", rank=cands.head(3)["rank"] + 1)  # found by a second miner too
    store.replace_rows("candidates", DS, again, where={"miner": ["dense"]})
    cands = store.candidates(DS)
    assert cands.duplicated(["query_id", "doc_id"]).sum() == 3
    rr = review.rank_risk_summary(store, DS)
    best = cands.groupby(["query_id", "doc_id"])["rank"].min()
    assert rr["n"].sum() == len(best) and rr.set_index("rank")["n"].to_dict() == best.value_counts().to_dict()


def test_an_adjudication_keeps_its_authors_vote_in_agreement_and_progress(store, users):
    """An admin who voted on an item and then adjudicated it: the verdict settles the item, the vote still
    counts in agreement and progress (the verdict used to replace the vote: kappa and alpha moved)."""
    keys = review.next_keys(store, "x", QueueSpec(DS, Mode.RANDOM, status="any"), limit=4)
    items = [tuple(r) for r in keys[["query_id", "doc_id"]].itertuples(index=False)]
    for i, k in enumerate(items):
        review.decide(store, users["ann"], DS, *k, "negative")
        review.decide(store, users["boss"], DS, *k, "false_negative" if i < 2 else "negative")
    before = review.agreement(store, DS)
    review.adjudicate(store, users["boss"], DS, *items[0], "negative", note="on reflection")
    after = review.agreement(store, DS)
    assert after["pairs"]["items"].tolist() == before["pairs"]["items"].tolist() == [4]
    assert after["pairs"].kappa.tolist() == before["pairs"].kappa.tolist()
    assert after["alpha"] == before["alpha"] and after["items_multi"] == 4
    prog = review.progress(store, DS).set_index("annotator")
    assert prog.loc["boss", "false_negative"] == 2 and prog.loc["boss", "total"] == 4
    c = review.consensus(store, DS).set_index(["query_id", "doc_id"])
    assert c.loc[items[0], "status"] == "adjudicated" and c.loc[items[0], "label"] == "negative"
    # an adjudication by someone who never voted adds no vote
    review.adjudicate(store, users["boss"], DS, *items[2], "partial")
    assert review.progress(store, DS).set_index("annotator").loc["boss", "total"] == 4


def test_cached_queue_head_matches_the_sql_path(store, users):
    ann = users["ann"]
    for c in range(3):  # some labels so the head has holes
        card = review.next_card(store, "ann", QueueSpec(DS))
        review.decide(store, ann, DS, *card.key, "negative")
    queue = review.Queue(store, window_size=4)  # a small head, so it runs out
    for spec in (QueueSpec(DS), QueueSpec(DS, Mode.RANDOM, seed=3),
                 QueueSpec(DS, Mode.UNCERTAIN, miner="bm25-lite", risk_min=0.1)):
        via_sql = queue.next_keys("ann", spec, limit=60, resume=False)
        for n in (1, 2, 5):
            fast = queue.next_keys("ann", spec, limit=n, resume=False)
            assert list(fast.doc_id) == list(via_sql.doc_id[:n]), (spec, n)
