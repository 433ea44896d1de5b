"""apply_policy: each named branch on inline frames, and invariants under Hypothesis."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.export import ExportPolicy, apply_policy, parse_threshold, summarize_counts, unscored_note
from core.export.policy import CANDIDATE_BRANCHES, QREL_POSITIVE
from core.labels import consensus_from_labels
from core.types import NegauditError


def frames():
    cand = pd.DataFrame({
        "query_id": ["q1"] * 7 + ["q2"] * 3,
        "doc_id": ["fn", "neg", "part", "tie", "low", "high", "pos", "a", "b", "c"],
        "rank": range(1, 11)})
    risk = pd.DataFrame({"query_id": ["q1"] * 6, "doc_id": ["fn", "neg", "part", "tie", "low",
                                                          "high"],
                         "fn_risk": [0.9, 0.9, 0.9, 0.9, 0.1, 0.7]})
    cons = pd.DataFrame({"query_id": ["q1"] * 4, "doc_id": ["fn", "neg", "part", "tie"],
                         "label": ["false_negative", "negative", "partial", None],
                         "status": ["single", "agreed", "single", "disagreement"]})
    qrels = pd.DataFrame({"query_id": ["q1", "q2"], "doc_id": ["pos", "p2"], "relevance": [1, 2],
                          "split": ["train", "test"]})
    return cand, risk, cons, qrels


def outcome(rows: pd.DataFrame, q: str, d: str) -> int | None:
    hit = rows[(rows.query_id == q) & (rows.doc_id == d)]
    return None if hit.empty else int(hit.label.iloc[0])


def test_default_policy_branches():
    rows, counts = apply_policy(*frames(), ExportPolicy())
    assert outcome(rows, "q1", "fn") == 1  # to-positive
    assert outcome(rows, "q1", "neg") == 0  # judged negative kept although fn_risk is 0.9
    assert outcome(rows, "q1", "part") is None  # partial: drop
    assert outcome(rows, "q1", "tie") is None  # disagreement, risk 0.9 >= 0.5
    assert outcome(rows, "q1", "low") == 0
    assert outcome(rows, "q1", "high") is None  # unreviewed, risk 0.7 >= 0.5
    assert outcome(rows, "q1", "pos") == 1 and (rows.doc_id == "pos").sum() == 1  # never negative
    assert [outcome(rows, "q2", d) for d in "abc"] == [0, 0, 0]  # unscored: kept
    assert counts["unscored"] == {"negative": 3}
    assert counts["already_positive"] == {"dropped": 1}
    assert counts["disagreement"] == {"dropped": 1}
    assert counts[QREL_POSITIVE] == {"positive": 2}
    assert summarize_counts(counts)["candidates"] == 10


def test_alternative_policies():
    rows, counts = apply_policy(*frames(), ExportPolicy(
        false_negatives="drop", partial="negative", drop_risk_above=None))
    assert outcome(rows, "q1", "fn") is None and counts["judged_false_negative"] == {"dropped": 1}
    assert outcome(rows, "q1", "part") == 0
    assert outcome(rows, "q1", "high") == 0 and outcome(rows, "q1", "tie") == 0
    rows, _ = apply_policy(*frames(), ExportPolicy(partial="positive", flagged="drop",
                                                   drop_risk_above=None))
    assert outcome(rows, "q1", "part") == 1 and outcome(rows, "q1", "tie") is None


def test_split_keeps_other_queries_out():
    rows, counts = apply_policy(*frames(), ExportPolicy(split="train"))
    assert set(rows.query_id) == {"q1"}
    assert counts["out_of_split"] == {"dropped": 3}


def test_judged_negatives_come_first_then_seeded_sample():
    cand, risk, cons, qrels = frames()
    pol = ExportPolicy(num_negatives=1, drop_risk_above=None)
    rows, counts = apply_policy(cand, risk, cons, qrels, pol)
    assert list(rows[(rows.query_id == "q1") & (rows.label == 0)].doc_id) == ["neg"]
    assert counts["unreviewed"] == {"sampled_out": 2}
    picks = {tuple(apply_policy(cand, risk, cons, qrels, ExportPolicy(
        num_negatives=1, seed=s)).__getitem__(0).query("query_id == 'q2'").doc_id)
        for s in range(12)}
    assert len(picks) > 1  # the seed matters for unjudged candidates


def test_top_sampling_takes_the_hardest_after_the_risk_rule():
    cand, risk, cons, qrels = frames()
    # q2's unscored a, b, c have ranks 8, 9, 10: `top` keeps rank 8 whatever the seed.
    for s in range(6):
        rows, _ = apply_policy(cand, risk, cons, qrels,
                               ExportPolicy(num_negatives=1, seed=s, sampling="top"))
        assert list(rows[(rows.query_id == "q2") & (rows.label == 0)].doc_id) == ["a"]
    # q1 with no judgments: risky fn/neg/part/tie/high (ranks 1-4, 6) go, `low` (rank 5) is next.
    rows, _ = apply_policy(cand, risk, None, qrels, ExportPolicy(num_negatives=1, sampling="top"))
    assert list(rows[(rows.query_id == "q1") & (rows.label == 0)].doc_id) == ["low"]
    rows, _ = apply_policy(cand, risk, None, qrels,
                           ExportPolicy(num_negatives=2, sampling="top", drop_risk_above=None))
    assert list(rows[(rows.query_id == "q1") & (rows.label == 0)].doc_id) == ["fn", "neg"]


def negatives(rows: pd.DataFrame, q: str) -> list[str]:
    return list(rows[(rows.query_id == q) & (rows.label == 0)].doc_id)


def test_rank_window_counts_every_candidate_and_spares_judged_negatives():
    cand, risk, cons, qrels = frames()
    # q1's candidates in rank order, the positive left out: fn, neg, part, tie, low, high (0-5).
    rows, counts = apply_policy(cand, risk, None, qrels,
                                ExportPolicy(drop_risk_above=None, range_min=2, range_max=4, sampling="top"))
    assert negatives(rows, "q1") == ["part", "tie"] and negatives(rows, "q2") == ["c"]
    assert counts["unreviewed"] == {"filtered": 4, "negative": 2}
    assert summarize_counts(counts)["filtered"] == 6
    # Judged: positions stay the same; the judged negative at position 1 is kept (a person checked it).
    rows, counts = apply_policy(cand, risk, cons, qrels,
                                ExportPolicy(drop_risk_above=None, range_min=2, sampling="top"))
    assert negatives(rows, "q1") == ["neg", "tie", "low", "high"]
    assert outcome(rows, "q1", "fn") == 1 and counts["judged_negative"] == {"negative": 1}


def scored_frames():
    cand, risk, cons, qrels = frames()
    cand = cand[cand.query_id == "q1"]
    dense = {"fn": 0.79, "neg": 0.75, "part": 0.7, "tie": 0.6, "low": 0.3, "high": 0.1}
    risk = risk.assign(pos_score=0.8, signals=[f'{{"dense_score": {dense[d]}, "rrf": 0.5}}'
                                               for d in risk.doc_id])
    return cand, risk, cons, qrels


@pytest.mark.parametrize(("knobs", "kept"), [
    ({"relative_margin": 0.1}, ["part", "tie", "low", "high"]),  # drops score > 0.8 - 0.08
    ({"absolute_margin": 0.15}, ["tie", "low", "high"]),  # drops score + 0.15 > 0.8
    ({"max_score": 0.65, "min_score": 0.2}, ["tie", "low"]),
    ({"relative_margin": 0.1, "range_min": 1, "range_max": 3}, ["tie", "low"]),  # positions after the margin
])
def test_score_filters_follow_mine_hard_negatives(knobs, kept):
    rows, counts = apply_policy(*scored_frames()[:2], None, scored_frames()[3],
                                ExportPolicy(drop_risk_above=None, sampling="top", **knobs))
    assert negatives(rows, "q1") == kept
    assert counts["unreviewed"].get("filtered", 0) == 6 - len(kept)


def test_unscored_candidates_are_named():
    cand, risk, cons, qrels = frames()
    _, counts = apply_policy(cand, risk, cons, qrels, ExportPolicy())
    assert unscored_note(counts).startswith("3 candidates were never scored")
    _, counts = apply_policy(cand, None, None, qrels, ExportPolicy())
    assert unscored_note(counts).startswith("no candidate has a fn_risk (9 never scored)")
    _, counts = apply_policy(cand[cand.query_id == "q1"], risk, cons, qrels, ExportPolicy())
    assert unscored_note(counts) is None


def test_score_filters_need_the_scorer():
    cand, _, cons, qrels = frames()  # q2's candidates were never scored
    risk = scored_frames()[1]
    with pytest.raises(NegauditError, match="3 candidates have no dense score"):
        apply_policy(cand, risk, cons, qrels, ExportPolicy(max_score=0.5))
    with pytest.raises(NegauditError, match="negaudit score"):
        apply_policy(cand, None, cons, qrels, ExportPolicy(relative_margin=0.05))
    apply_policy(cand, None, cons, qrels, ExportPolicy(range_min=1))  # ranks need no scorer


def test_consensus_from_app_is_used_verbatim():
    cur = pd.DataFrame({
        "query_id": ["q1", "q1", "q1", "q1", "q1"], "doc_id": ["x", "x", "x", "y", "y"],
        "annotator": ["a", "b", "admin", "a", "b"],
        "label": ["false_negative", "negative", "negative", "false_negative", "negative"],
        "action": ["label", "label", "adjudicate", "label", "label"], "id": [1, 2, 3, 4, 5]})
    cons = consensus_from_labels(cur)
    cand = pd.DataFrame({"query_id": ["q1", "q1"], "doc_id": ["x", "y"], "rank": [1, 2]})
    qrels = pd.DataFrame({"query_id": ["q1"], "doc_id": ["p"], "relevance": [1], "split": ["t"]})
    rows, counts = apply_policy(cand, None, cons, qrels, ExportPolicy())
    assert outcome(rows, "q1", "x") == 0  # the admin's adjudication wins over the tie
    assert counts["judged_negative"] == {"negative": 1}
    assert counts["disagreement"] == {"dropped": 1}  # a tie where someone said false negative: never a negative


def test_a_tie_where_someone_said_relevant_is_never_a_negative():
    """The team audit: FN-vs-partial and FN-vs-negative ties at low risk went out as hard negatives."""
    votes = {"fp": ("false_negative", "partial"), "fn": ("false_negative", "negative"),
             "nu": ("negative", "unsure")}
    cur = pd.DataFrame([("q1", d, who, lab, "label", i * 2 + j) for i, (d, labs) in enumerate(votes.items())
                        for j, (who, lab) in enumerate(zip("ab", labs))],
                       columns=["query_id", "doc_id", "annotator", "label", "action", "id"])
    cons = consensus_from_labels(cur)
    assert set(cons.status) == {"disagreement"}
    cand = pd.DataFrame({"query_id": "q1", "doc_id": list(votes), "rank": [1, 2, 3]})
    risk = pd.DataFrame({"query_id": "q1", "doc_id": list(votes), "fn_risk": [0.12, 0.14, 0.1]})
    qrels = pd.DataFrame({"query_id": ["q1"], "doc_id": ["p"], "relevance": [1], "split": ["t"]})
    rows, counts = apply_policy(cand, risk, cons, qrels, ExportPolicy())
    assert outcome(rows, "q1", "fp") is None and outcome(rows, "q1", "fn") is None
    assert outcome(rows, "q1", "nu") == 0  # nobody said relevant: the risk rule, as for unreviewed
    assert counts["disagreement"] == {"dropped": 2, "negative": 1}
    no_votes = cons.drop(columns=["votes"])  # a caller without votes: the risk rule alone
    assert apply_policy(cand, risk, no_votes, qrels, ExportPolicy())[1]["disagreement"] == {"negative": 3}


def test_policy_validation():
    with pytest.raises(NegauditError):
        ExportPolicy(false_negatives="keep")
    with pytest.raises(NegauditError):
        ExportPolicy(partial="maybe")
    with pytest.raises(NegauditError):
        ExportPolicy(drop_risk_above=1.5)
    with pytest.raises(NegauditError):
        ExportPolicy(num_negatives=0)
    with pytest.raises(NegauditError):
        ExportPolicy(sampling="hardest")
    with pytest.raises(NegauditError, match="--range-min must be 0 or more"):
        ExportPolicy(range_min=-1)
    with pytest.raises(NegauditError, match=r"--range-max \(3\) must be larger than --range-min \(3\)"):
        ExportPolicy(range_min=3, range_max=3)
    with pytest.raises(NegauditError, match="--max-score must be a number"):
        ExportPolicy(max_score=float("nan"))
    with pytest.raises(NegauditError, match="nothing could pass"):
        ExportPolicy(min_score=0.6, max_score=0.5)
    assert parse_threshold("none") is None and parse_threshold("0.3") == 0.3
    with pytest.raises(NegauditError):
        parse_threshold("high")


# ---- invariants ---------------------------------------------------------------------------------
LABELS = st.sampled_from([None, "negative", "false_negative", "partial", "unsure", "tie"])


@st.composite
def scenario(draw):
    qs = [f"q{i}" for i in range(draw(st.integers(1, 4)))]
    ds = [f"d{i}" for i in range(draw(st.integers(1, 8)))]
    pairs = draw(st.lists(st.tuples(st.sampled_from(qs), st.sampled_from(ds)), min_size=1,
                          max_size=30))
    cand = pd.DataFrame(pairs, columns=["query_id", "doc_id"])
    cand["rank"] = draw(st.lists(st.integers(1, 50), min_size=len(cand), max_size=len(cand)))
    uniq = sorted(set(pairs))
    labels = draw(st.lists(LABELS, min_size=len(uniq), max_size=len(uniq)))
    cons = pd.DataFrame([(q, d, None if lab == "tie" else lab,
                          "disagreement" if lab == "tie" else "single")
                         for (q, d), lab in zip(uniq, labels) if lab is not None],
                        columns=["query_id", "doc_id", "label", "status"])
    risks = draw(st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=len(uniq),
                          max_size=len(uniq)))
    risk = pd.DataFrame([(q, d, r) for (q, d), r in zip(uniq, risks) if r is not None],
                        columns=["query_id", "doc_id", "fn_risk"])
    qrel_pairs = draw(st.lists(st.tuples(st.sampled_from(qs), st.sampled_from(ds + ["p"])),
                               max_size=6))
    qrels = pd.DataFrame(qrel_pairs, columns=["query_id", "doc_id"])
    qrels["relevance"] = draw(st.lists(st.integers(0, 2), min_size=len(qrels),
                                       max_size=len(qrels)))
    qrels["split"] = draw(st.lists(st.sampled_from(["train", "test"]), min_size=len(qrels),
                                   max_size=len(qrels)))
    policy = ExportPolicy(
        false_negatives=draw(st.sampled_from(["to-positive", "drop"])),
        partial=draw(st.sampled_from(["positive", "drop", "negative"])),
        drop_risk_above=draw(st.one_of(st.none(), st.floats(0, 1))),
        flagged=draw(st.sampled_from(["risk", "drop"])),
        num_negatives=draw(st.one_of(st.none(), st.integers(1, 4))),
        sampling=draw(st.sampled_from(["random", "top"])),
        seed=draw(st.integers(0, 3)),
        split=draw(st.sampled_from([None, "train"])),
        range_min=draw(st.integers(0, 2)), range_max=draw(st.one_of(st.none(), st.integers(3, 5))))
    return cand, risk, cons, qrels, policy


SETTINGS = settings(max_examples=35, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(scenario())
def test_counts_add_up(s):
    cand, risk, cons, qrels, policy = s
    rows, counts = apply_policy(cand, risk, cons, qrels, policy)
    assert set(counts) <= set(CANDIDATE_BRANCHES) | {QREL_POSITIVE}
    n_distinct = len(cand.drop_duplicates(["query_id", "doc_id"]))
    assert summarize_counts(counts)["candidates"] == n_distinct
    tot = summarize_counts(counts)
    assert (rows.label == 0).sum() == tot["negatives_out"]
    assert (rows.label == 1).sum() == tot["promoted_to_positive"] + tot["dataset_positives_out"]
    if policy.num_negatives is not None and len(rows):
        per_query = rows[rows.label == 0].groupby("query_id").size()
        assert per_query.empty or per_query.max() <= policy.num_negatives


@SETTINGS
@given(scenario())
def test_no_judged_false_negative_or_positive_is_ever_a_negative(s):
    cand, risk, cons, qrels, policy = s
    rows, _ = apply_policy(cand, risk, cons, qrels, policy)
    negs = set(zip(rows.query_id[rows.label == 0], rows.doc_id[rows.label == 0]))
    fns = set(zip(cons.query_id[cons.label == "false_negative"],
                  cons.doc_id[cons.label == "false_negative"]))
    pos = set(zip(qrels.query_id[qrels.relevance > 0], qrels.doc_id[qrels.relevance > 0]))
    assert not negs & fns
    assert not negs & pos
    assert not rows.duplicated(["query_id", "doc_id"]).any()
    if policy.false_negatives == "drop":
        assert not set(zip(rows.query_id, rows.doc_id)) & (fns - pos)
    # Judged true negatives first: a query that exports any unjudged negative exports them all.
    judged_neg = set(zip(cons.query_id[cons.label == "negative"],
                         cons.doc_id[cons.label == "negative"])) - pos
    for q, g in rows[rows.label == 0].groupby("query_id"):
        if (g.branch != "judged_negative").any():
            assert {d for qq, d in judged_neg if qq == q} <= set(g.doc_id)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario(), st.randoms(use_true_random=False))
def test_seeded_and_independent_of_row_order(s, rnd):
    cand, risk, cons, qrels, policy = s
    rows, counts = apply_policy(cand, risk, cons, qrels, policy)
    again, counts2 = apply_policy(cand, risk, cons, qrels, policy)
    pd.testing.assert_frame_equal(rows, again)
    idx = list(cand.index)
    rnd.shuffle(idx)
    shuffled, counts3 = apply_policy(cand.loc[idx].reset_index(drop=True), risk.iloc[::-1],
                                     cons.iloc[::-1], qrels, policy)
    pd.testing.assert_frame_equal(rows, shuffled)
    assert counts == counts2 == counts3
