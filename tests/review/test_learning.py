"""The learning queue on a real DuckDB file: refit from judgments, written back, re-ordered."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from synthetic import seed_sample

from core.auth import User
from core.review import learning as L
from core.risk.combiner import logit
from core.risk.learn import RESIDUAL_MAX_JUDGED, SEVERAL_GATE, several_expected
from core.store import Store
from core.store import learning as SL
from core.types import NegauditError, Role

DS = "mini"
BOSS = User("boss", Role.ADMIN)


@pytest.fixture()
def store(tmp_path):
    s = Store.open(str(tmp_path / "learn.duckdb"))
    seed_sample(s, DS, n_queries=8, n_docs=300, per_query=10)
    yield s
    s.close()


def _with_signal(store: Store, fn_docs: set[str]) -> pd.DataFrame:
    """Give every item a kept-positive similarity that separates the docs the annotator will call FN."""
    r = store.risk(DS)
    r["signals"] = [json.dumps({"pos_similarity": 0.9 if d in fn_docs else 0.2, "noise": i % 3})
                    for i, d in enumerate(r.doc_id)]
    store.replace_rows("risk", DS, r[["query_id", "doc_id", "scorer_version", "pos_score",
                                      "fn_risk", "signals", "reasons"]])
    return r


def test_refit_writes_risk_keeps_base_and_reorders(store):
    items = SL.risk_rows(store, DS)
    # a seeded random third are (we say) false negatives, and a stored signal knows which
    rng = np.random.default_rng(0)
    low = set(rng.choice(sorted(set(items.doc_id)), size=len(items) // 3, replace=False))
    _with_signal(store, low)
    before = SL.risk_rows(store, DS).set_index(["query_id", "doc_id"])
    judged = items.iloc[::2]  # half the items judged
    for r in judged.itertuples():
        store.add_judgment(DS, r.query_id, r.doc_id, "ann",
                           "false_negative" if r.doc_id in low else "negative")
    rec = L.relearn(store, DS)
    assert "skipped" not in rec and rec["judged"] == len(judged)
    assert "pos_similarity_pct" in rec["features"] and "noise" not in rec["features"]
    assert "late_maxsim_query_mean" not in rec["features"]  # the store holds no late interaction
    # half the items judged: past RESIDUAL_MAX_JUDGED the judged query residual stays out
    assert "query_residual" not in rec["features"]
    # the seeded store records no embedding model: the vector-free path, and the record says so
    assert rec["evidence"].startswith("vector-free: no embedding model recorded")
    # the fit starts at the scorer (weights 0) and minimises a penalised log loss: never worse
    assert rec["logloss_after"] < rec["logloss_scorer"]
    after = SL.risk_rows(store, DS).set_index(["query_id", "doc_id"])
    # the scorer's value is kept as base; fn_risk moved
    assert np.allclose(after.base.loc[before.index], before.fn_risk)
    assert not np.allclose(after.fn_risk.loc[before.index], before.fn_risk)
    # unjudged items similar to the kept positive rose above the unjudged rest: the queue re-ordered
    un = after.drop(index=list(zip(judged.query_id, judged.doc_id)))
    hint = un.index.get_level_values("doc_id").isin(low)
    assert un.fn_risk[hint].mean() > un.fn_risk[~hint].mean()
    assert rec["head_moved"] > 0
    # re-ordered, not re-levelled: the unjudged items still hold the scorer's expected count of false negatives
    assert abs(un.fn_risk.mean() - un.base.mean()) < 1e-6
    # a second refit starts from the scorer's score again (no compounding)
    rec2 = L.relearn(store, DS)
    again = SL.risk_rows(store, DS).set_index(["query_id", "doc_id"])
    assert np.allclose(again.fn_risk, after.fn_risk, atol=1e-6)
    assert [h["judgments"] for h in L.history(store, DS)] == [rec["judgments"], rec2["judgments"]]


def test_the_judged_query_residual_joins_where_queries_hold_several(store):
    """A quarter of the items judged on a store whose scorer expects several false negatives per query: the refit
    weighs the query residual (learn.query_residual) and says so in its record."""
    items = SL.risk_rows(store, DS)
    q = pd.factorize(items.query_id.astype(str))[0]
    assert several_expected(q, logit(np.clip(items.base.to_numpy(float), 1e-4, 1 - 1e-4))) >= SEVERAL_GATE
    rng = np.random.default_rng(3)
    judged = items.iloc[::4]
    assert len(judged) / len(items) <= RESIDUAL_MAX_JUDGED
    for r in judged.itertuples():
        store.add_judgment(DS, r.query_id, r.doc_id, "ann", "false_negative" if rng.random() < 0.5 else "negative")
    rec = L.relearn(store, DS)
    assert "skipped" not in rec and "query_residual" in rec["features"]


def test_a_store_scored_with_late_interaction_adds_its_query_mean(store):
    """Stored late MaxSim: the refit weighs its per-query mean (queries whose candidates cover their tokens hold
    more relevant docs); the feature is listed in the refit's record."""
    r = store.risk(DS)
    queries = sorted(set(r.query_id))
    rich = set(queries[: len(queries) // 2])  # in these queries most candidates are false negatives
    rng = np.random.default_rng(1)
    r["signals"] = [json.dumps({"pos_similarity": float(rng.random()),
                                "late_maxsim": (0.8 if q in rich else 0.4) + 0.05 * float(rng.random())})
                    for q in r.query_id]
    store.replace_rows("risk", DS, r[["query_id", "doc_id", "scorer_version", "pos_score",
                                      "fn_risk", "signals", "reasons"]])
    items = SL.risk_rows(store, DS)
    for i, row in enumerate(items.itertuples()):
        if i % 2 == 0:
            fn = row.query_id in rich and i % 5 != 0 or row.query_id not in rich and i % 5 == 0
            store.add_judgment(DS, row.query_id, row.doc_id, "ann", "false_negative" if fn else "negative")
    rec = L.relearn(store, DS)
    assert "skipped" not in rec and "late_maxsim_query_mean" in rec["features"]
    after = SL.risk_rows(store, DS)
    judged = set(zip(items.query_id[::2], items.doc_id[::2]))
    un = after[[(q, d) not in judged for q, d in zip(after.query_id, after.doc_id)]]
    assert un.fn_risk[un.query_id.isin(rich)].mean() > un.fn_risk[~un.query_id.isin(rich)].mean()


def test_skips_without_both_classes(store):
    items = SL.risk_rows(store, DS)
    for r in items.head(5).itertuples():
        store.add_judgment(DS, r.query_id, r.doc_id, "ann", "negative")
    rec = L.relearn(store, DS)
    assert "skipped" in rec
    assert SL.risk_rows(store, DS).fn_risk.tolist() == items.fn_risk.tolist()


def test_trigger_every_n_in_background(store):
    L.set_learn_every(store, 4, BOSS)
    with pytest.raises(NegauditError):
        L.set_learn_every(store, -1, BOSS)
    items = SL.risk_rows(store, DS).sort_values("fn_risk")
    labels = ["negative", "false_negative"] * 2
    for i, (r, lab) in enumerate(zip(items.itertuples(), labels)):
        assert not L.due(store, DS) or i == 4
        store.add_judgment(DS, r.query_id, r.doc_id, "ann", lab)
    assert L.due(store, DS)
    assert L.maybe_relearn(store, DS)
    L.wait(30)
    assert not L.last_errors()
    assert len(L.history(store, DS)) == 1 and not L.due(store, DS)
    assert not L.maybe_relearn(store, DS)  # nothing new since
    assert SL.risk_rows(store, DS).fn_risk.tolist() != items.sort_index().fn_risk.tolist()


@pytest.mark.parametrize("queue", [None, "risk", "random"])
def test_random_order_judgments_set_the_level_others_do_not(tmp_path, queue):
    """Labels from the random order are an unbiased sample: where they find far fewer false negatives than the
    scorer claims, every item's risk moves down (order kept). The same labels from the risk order, or written
    by the CLI (no queue), leave the unjudged items at the scorer's level."""
    s = Store.open(str(tmp_path / f"level-{queue}.duckdb"))
    try:
        seed_sample(s, DS, n_queries=8, n_docs=300, per_query=10)
        items = SL.risk_rows(s, DS)
        pick = items.sample(40, random_state=0)
        claimed = float(pick.base.mean())
        fn = set(pick.doc_id.iloc[:3])  # 3 of 40 false negatives, far below what the scorer claims
        assert claimed > 0.2
        for r in pick.itertuples():
            s.add_judgment(DS, r.query_id, r.doc_id, "ann", "false_negative" if r.doc_id in fn else "negative",
                           queue=queue)
        rec = L.relearn(s, DS)
        after = SL.risk_rows(s, DS).set_index(["query_id", "doc_id"])
        un = after.drop(index=list(zip(pick.query_id, pick.doc_id)))
        judged = after.loc[list(zip(pick.query_id, pick.doc_id))]
        # the judged rows are fitted to their own labels (3 of 40) whichever order they came from:
        # the level shift is for the rows nobody judged (applied to both, their risk sat far below 3/40)
        assert abs(judged.fn_risk.mean() - 3 / 40) < 0.03, judged.fn_risk.mean()
        if queue == "random":
            assert rec["level_sample"] == 40 and rec["level_shift"] < 0
            assert un.fn_risk.mean() < un.base.mean() - 0.05
            # the export that filters on this risk says so in its manifest
            from core.export import export_dataset

            m = export_dataset(s, DS, "triplet", tmp_path / f"t-{queue}.parquet")
            assert m["risk_refit"]["level_shift"] == rec["level_shift"] and m["risk_refit"]["level_sample"] == 40
        else:
            assert rec["level_sample"] == 0 and rec["level_shift"] == 0
            assert abs(un.fn_risk.mean() - un.base.mean()) < 1e-6
    finally:
        s.close()


def test_an_unknown_queue_name_is_refused(store):
    with pytest.raises(ValueError):
        store.add_judgment(DS, "q", "d", "ann", "negative", queue="sideways")


def test_history_table_puts_calibration_first_and_newest_on_top():
    """Insights' refit table: at 1280 px the first columns are what a reader looks for; a skipped refit and a
    key the table does not know still show."""
    hist = [{"at": "t1", "judgments": 25, "skipped": "both labels needed"},
            {"at": "t2", "judgments": 50, "judged": 50, "positives": 9, "items": 900, "features": ["a"],
             "evidence": "vector-free: no embedding model recorded", "ece_scorer": 0.1, "ece_before": 0.1,
             "ece_after": 0.05, "level_sample": 12, "level_shift": 0.0, "head_moved": 3, "vectors_s": 0.01,
             "new_key": 1}]
    t = L.history_table(hist)
    assert list(t["at"]) == ["t2", "t1"] and "features" not in t.columns
    assert list(t.columns[:7]) == ["at", "judgments", "ece_scorer", "ece_before", "ece_after", "level_sample",
                                   "level_shift"]
    assert t.columns[-1] == "new_key" and list(t.columns).index("evidence") > list(t.columns).index("skipped")
    assert L.history_table([]).empty
