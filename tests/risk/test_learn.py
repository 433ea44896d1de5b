"""The learning queue's pure functions: leave-one-out evidence, the static order until judgments, gains."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from core.risk.combiner import sigmoid
from core.risk.learn import (
    OTHER_QUERY_NAMES,
    RESIDUAL_MAX_JUDGED,
    SAME_QUERY_NAMES,
    SEVERAL_GATE,
    TOPIC_NAMES,
    LearnerFeatures,
    choose_fit,
    doc_evidence,
    judgment_evidence,
    learning_features,
    query_mass,
    query_mean,
    query_residual,
    rerank,
    several_expected,
    signal_features,
    topic_evidence,
)


def _world(seed: int, n_q: int = 12, per_q: int = 40):
    """Per query a relevant cluster and a non-relevant one; the static score is only weakly informative."""
    rng = np.random.default_rng(seed)
    dim = 16
    rows_q, rows_d, y, emb = [], [], [], []
    for qi in range(n_q):
        rel, non = rng.normal(size=dim), rng.normal(size=dim)
        for _ in range(per_q):
            lab = int(rng.random() < 0.3)
            v = (rel if lab else non) + 0.6 * rng.normal(size=dim)
            emb.append(v / np.linalg.norm(v))
            rows_q.append(qi)
            rows_d.append(len(emb) - 1)
            y.append(lab)
    y = np.array(y)
    static = 0.5 * y + rng.normal(size=len(y))
    return np.array(rows_q), np.array(rows_d), y, np.array(emb, dtype=np.float32), static


def test_static_order_stands_without_two_classes() -> None:
    _, _, y, _, static = _world(0)
    judged = np.zeros(len(y), bool)
    np.testing.assert_array_equal(rerank(static, None, judged, y), static)
    judged[np.flatnonzero(y == 1)[:5]] = True  # one class only
    np.testing.assert_array_equal(rerank(static, None, judged, y), static)


def test_evidence_leaves_the_row_itself_out() -> None:
    q, d, y, emb, _ = _world(1)
    j = np.arange(0, len(y), 3)
    ev = judgment_evidence(emb, q, d, q[j], d[j], y[j])
    flipped = y.copy()
    flipped[j[0]] = 1 - flipped[j[0]]
    ev2 = judgment_evidence(emb, q, d, q[j], d[j], flipped[j])
    np.testing.assert_allclose(ev[j[0]], ev2[j[0]])  # its own label never reaches its own evidence
    assert (np.abs(ev) <= 1 + 1e-6).all()


def test_judgments_improve_the_rest_of_the_queue() -> None:
    q, d, y, emb, static = _world(2)
    judged = np.zeros(len(y), bool)
    judged[np.argsort(-static)[:120]] = True
    j = np.flatnonzero(judged)
    ev = judgment_evidence(emb, q, d, q[j], d[j], y[j])
    z = rerank(static, learning_features(static, static, ev), judged, y)
    un = ~judged
    assert average_precision_score(y[un], z[un]) > average_precision_score(y[un], static[un]) + 0.1


def test_features_wait_for_judgments_over_enough_queries() -> None:
    """The same informative evidence: judged within 12 of 40 queries, the static order stands (intercept only);
    spread over MIN_JUDGED_QUERIES or more — or over every query of a smaller collection — it re-ranks the rest."""
    from core.risk.learn import MIN_JUDGED_QUERIES

    def run(q, d, y, emb, static, judged):
        j = np.flatnonzero(judged)
        ev = judgment_evidence(emb, q, d, q[j], d[j], y[j])
        return rerank(static, learning_features(static, static, ev), judged, y, groups=q)

    big = _world(2, 40, 16)
    q, y, static = big[0], big[2], big[4]
    few = np.zeros(len(y), bool)
    few[np.flatnonzero(q < 12)[np.argsort(-static[q < 12])[:120]]] = True
    z = run(*big, few)
    np.testing.assert_allclose(z[~few], static[~few])  # intercept only: the rest of the queue is the static score
    for world, judged in ((big, None), (_world(2, 12, 40), None)):
        q, y, static = world[0], world[2], world[4]
        judged = np.zeros(len(y), bool)
        judged[np.argsort(-static)[:120]] = True
        assert len(np.unique(q[judged])) >= min(MIN_JUDGED_QUERIES, len(np.unique(q)))
        z, un = run(*world, judged), ~judged
        assert average_precision_score(y[un], z[un]) > average_precision_score(y[un], static[un]) + 0.1


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), perm_seed=st.integers(0, 1000))
def test_rerank_is_row_order_free(seed: int, perm_seed: int) -> None:
    q, d, y, emb, static = _world(seed % 7, 30, 16)
    judged = np.random.default_rng(seed).random(len(y)) < 0.3
    j = np.flatnonzero(judged)
    Z = learning_features(static, 0.8 * static, judgment_evidence(emb, q, d, q[j], d[j], y[j]))
    a = rerank(static, Z, judged, y)
    p = np.random.default_rng(perm_seed).permutation(len(y))
    b = rerank(static[p], Z[p], judged[p], y[p])
    np.testing.assert_allclose(a[p], b, rtol=1e-5, atol=1e-6)
    assert np.isfinite(a).all()


def _full_features(q, d, y, emb, static, judged):
    """The bench's feature set: departure, same-query and other-query evidence, query mass, kept-positive sim."""
    j = np.flatnonzero(judged)
    qemb = emb[: q.max() + 1]  # any unit vectors serve as query vectors here
    return learning_features(static, 0.8 * static, judgment_evidence(emb, q, d, q[j], d[j], y[j]),
                             doc_evidence(qemb, q, d, q[j], d[j], y[j]), query_mass(q, static),
                             signal_features(q, static + y))


def test_doc_evidence_counts_other_queries_only() -> None:
    q, d, y, emb, _ = _world(3)
    d = d % 60  # docs shared between queries
    j = np.arange(0, len(y), 4)
    ev = doc_evidence(emb, q, d, q[j], d[j], y[j])
    assert ev.shape == (len(y), 2) and (ev >= 0).all() and (ev <= 1 + 1e-6).all()
    own = j[0]
    flipped = y.copy()
    flipped[own] = 1 - flipped[own]
    same_query = (q == q[own]) & (d == d[own])
    ev2 = doc_evidence(emb, q, d, q[j], d[j], flipped[j])
    np.testing.assert_allclose(ev[same_query], ev2[same_query])  # a query's own judgment is not evidence
    alone = doc_evidence(emb, q, d, q[j][:1], d[j][:1], y[j][:1])  # one judgment, (q[own], d[own])
    assert not alone[(q == q[own]) | (d != d[own])].any()  # only other queries' rows of that doc see it
    assert alone[(q != q[own]) & (d == d[own]), int(y[own])].sum() == 0  # and only in its label's column


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 1000))
def test_query_mass_and_signal_features(seed: int) -> None:
    q, _, _, _, static = _world(seed % 5)
    p = np.random.default_rng(seed).permutation(len(q))
    m = query_mass(q, static)
    assert np.isfinite(m).all()
    for qq in np.unique(q):
        assert np.ptp(m[q == qq]) < 1e-12  # one value per query
    np.testing.assert_allclose(query_mass(q[p], static[p]), m[p])
    f = signal_features(q, static)
    assert f.shape == (len(q), 2) and np.isfinite(f).all()
    np.testing.assert_allclose(signal_features(q[p], static[p]), f[p])
    assert (np.diff(f[np.argsort(static), 0]) >= 0).all()  # the percentile keeps the signal's order


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 1000))
def test_query_mean_is_the_querys_mean_in_range_and_order_free(seed: int) -> None:
    """The late MaxSim's query mean: one value per query, inside the signal's range, rows in any order;
    it takes no labels, so no judgment (hidden or not) can reach it."""
    q, _, _, _, _ = _world(seed % 5)
    v = np.random.default_rng(seed).uniform(0.1, 0.9, len(q))
    m = query_mean(q, v)
    for qq in np.unique(q):
        np.testing.assert_allclose(m[q == qq], v[q == qq].mean())
    assert (m >= v.min() - 1e-12).all() and (m <= v.max() + 1e-12).all()
    p = np.random.default_rng(seed + 1).permutation(len(q))
    np.testing.assert_allclose(query_mean(q[p], v[p]), m[p])
    assert query_mean(np.zeros(0, int), np.zeros(0)).shape == (0,)


def test_few_noisy_judgments_keep_the_static_order() -> None:
    rng = np.random.default_rng(5)
    static = rng.normal(size=400)
    noise = rng.normal(size=(400, 3))
    y = (rng.random(400) < 0.3).astype(int)
    cal = choose_fit(static[:30], y[:30].astype(float), noise[:30], groups=np.arange(30) % 6)
    assert not cal.weights.any()  # features that do not help held-out judged items stay out
    z = rerank(static, noise, np.arange(400) < 30, y, groups=np.arange(400) % 40)
    np.testing.assert_allclose(z[30:], static[30:])  # the unjudged rest keeps the static score


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 1000), perm_seed=st.integers(0, 1000))
def test_full_learner_row_order_free_and_blind_to_unjudged_labels(seed: int, perm_seed: int) -> None:
    q, d, y, emb, static = _world(seed % 7, 30, 16)
    rng = np.random.default_rng(seed)
    judged = rng.random(len(y)) < 0.3
    Z = _full_features(q, d, y, emb, static, judged)
    a = rerank(static, Z, judged, y, groups=q)
    assert a.shape == static.shape and np.isfinite(a).all()
    p = np.random.default_rng(perm_seed).permutation(len(y))
    Zp = _full_features(q[p], d[p], y[p], emb, static[p], judged[p])
    np.testing.assert_allclose(rerank(static[p], Zp, judged[p], y[p], groups=q[p]), a[p], rtol=1e-5, atol=1e-6)
    hidden = np.where(judged, y, rng.integers(0, 2, len(y)))  # other labels on the unjudged rows
    np.testing.assert_allclose(rerank(static, Z, judged, hidden, groups=q), a)


def test_full_learner_improves_the_rest() -> None:
    q, d, y, emb, static = _world(4, 30, 16)  # the judged head spans >= MIN_JUDGED_QUERIES queries
    judged = np.zeros(len(y), bool)
    judged[np.argsort(-static)[:120]] = True
    z = rerank(static, _full_features(q, d, y, emb, static, judged), judged, y, groups=q)
    un = ~judged
    assert average_precision_score(y[un], z[un]) > average_precision_score(y[un], static[un]) + 0.1


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), copies=st.integers(2, 12))
def test_gain_standard_error_counts_a_query_once(seed: int, copies: int) -> None:
    """The held-out gain's SE is cluster-robust by query: repeating each query's row ``copies`` times adds no
    evidence, so the SE stays; the per-row SE (no groups) would shrink by ~sqrt(copies) and let features in."""
    from core.risk.learn import _mean_se

    v = np.random.default_rng(seed).normal(size=30)
    g = np.arange(30)
    one = _mean_se(v, g)
    assert abs(one - v.std(ddof=1) / np.sqrt(30)) < 1e-12  # one row per query: the usual SE
    rep, rg = np.repeat(v, copies), np.repeat(g, copies)
    assert abs(_mean_se(rep, rg) - one) < 1e-12
    assert _mean_se(rep, None) < one / np.sqrt(copies) * 1.2


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 1000))
def test_anchor_levels_keeps_the_static_count_per_group(seed: int, perm_seed: int) -> None:
    """Unjudged rows: per group (queries with judged rows / without) the mean probability is the static
    score's, the order inside a group is the learner's; judged rows as fitted; rows in any order."""
    from core.risk.combiner import sigmoid
    from core.risk.learn import anchor_levels

    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    q = rng.integers(0, max(1, n // 8), n)
    static, z = rng.normal(-2, 2, n), rng.normal(-3, 3, n)
    judged = rng.random(n) < rng.uniform(0, 0.5)
    a = anchor_levels(z, static, judged, q)
    assert np.isfinite(a).all()
    np.testing.assert_array_equal(a[judged], z[judged])
    touched = np.isin(q, q[judged])
    for part in (touched & ~judged, ~touched & ~judged):
        if part.any():
            np.testing.assert_allclose(sigmoid(a[part]).mean(), sigmoid(static[part]).mean(), atol=1e-6)
            np.testing.assert_allclose(a[part] - z[part], (a[part] - z[part])[0], atol=1e-9)  # one shift: same order
    p = np.random.default_rng(perm_seed).permutation(n)
    np.testing.assert_allclose(anchor_levels(z[p], static[p], judged[p], q[p]), a[p], atol=1e-9)


def test_rerank_keeps_the_rest_at_the_static_level() -> None:
    """A head judged mostly relevant teaches a high intercept; the rest of the queue (the unjudged queries
    above all) must not inherit it: their mean probability stays the static score's."""
    from core.risk.combiner import sigmoid

    q, d, y, emb, static = _world(4, 30, 16)
    judged = np.zeros(len(y), bool)
    judged[np.argsort(-static)[:120]] = True
    z = rerank(static, _full_features(q, d, y, emb, static, judged), judged, y, groups=q)
    untouched = ~np.isin(q, q[judged])
    for part in (~judged & ~untouched, untouched):
        if part.any():
            assert abs(sigmoid(z[part]).mean() - sigmoid(static[part]).mean()) < 1e-6
    assert not np.allclose(z[~judged], static[~judged])  # and it did re-rank


def test_the_gate_lets_a_real_feature_in_and_keeps_most_noise_out() -> None:
    """Z_GAIN's trade, on judged rows spread over 40 queries: an informative column passes on every seed,
    pure noise on few (at 1 standard error about one seed in five)."""
    noise_in = signal_in = 0
    for seed in range(20):
        rng = np.random.default_rng(seed)
        q, static, sig = rng.integers(0, 40, 300), rng.normal(size=300), rng.normal(size=300)
        y = (rng.random(300) < 1 / (1 + np.exp(-(static - 1.0 + 1.5 * sig)))).astype(float)
        noise = rng.normal(size=(300, 3))
        noise_in += bool(choose_fit(static, y, noise, groups=q).weights.any())
        signal_in += bool(choose_fit(static, y, np.column_stack([sig, noise[:, :2]]), groups=q).weights.any())
    assert signal_in == 20 and noise_in <= 6


def test_weights_reach_untouched_queries_once_judgments_spread() -> None:
    """A feature the static score misses, informative in every query: judged over 30 of 60 queries (enough to
    learn, fewer than SPREAD_QUERIES) it re-ranks the judged queries' rest and leaves the others at the static
    score; judged over 50 it re-ranks those too."""
    from core.risk.learn import SPREAD_QUERIES

    assert 30 < SPREAD_QUERIES <= 50
    rng = np.random.default_rng(3)
    q = np.repeat(np.arange(60), 16)
    y = (rng.random(len(q)) < 0.3).astype(int)
    static = rng.normal(size=len(q))
    sig = (1.5 * y + rng.normal(size=len(q)))[:, None]
    for n_touched in (30, 50):
        judged = (q < n_touched) & (np.arange(len(q)) % 16 < 10)
        z = rerank(static, sig, judged, y, groups=q)
        rest, untouched = ~judged & (q < n_touched), q >= n_touched
        assert not np.allclose(z[rest], static[rest])
        if n_touched == 30:
            np.testing.assert_array_equal(z[untouched], static[untouched])
        else:
            un = ~judged
            assert not np.allclose(z[untouched], static[untouched])
            assert average_precision_score(y[un], z[un]) > average_precision_score(y[un], static[un]) + 0.1


def _residual_brute(q, static, judged, y):
    """query_residual row by row: the query's other judged rows, found minus expected, over sqrt(n + 1)."""
    p = sigmoid(static)
    out = np.zeros(len(q))
    for i in range(len(q)):
        o = (q == q[i]) & judged
        o[i] = False
        if o.any():
            out[i] = (y[o].sum() - p[o].sum()) / np.sqrt(o.sum() + 1)
    return out


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), n_q=st.integers(1, 8), share=st.floats(0.0, 1.0))
def test_query_residual_is_leave_one_out_blind_to_unjudged_labels_and_order_free(seed: int, n_q: int,
                                                                                  share: float) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    q = rng.integers(0, n_q, n)
    static = rng.normal(1.5, 1.0, n)  # rich queries: several false negatives expected
    y = rng.integers(0, 2, n)
    judged = rng.random(n) < share
    res = query_residual(q, static, judged, y)
    if several_expected(q, static) < SEVERAL_GATE or not judged.any() or judged.mean() > RESIDUAL_MAX_JUDGED:
        assert res is None
        return
    np.testing.assert_allclose(res, _residual_brute(q, static, judged, y), atol=1e-9)
    # the row's own label never reaches its own value; unjudged labels never reach any value
    i = int(np.flatnonzero(judged)[0])
    flipped = y.copy()
    flipped[i] = 1 - flipped[i]
    assert query_residual(q, static, judged, flipped)[i] == res[i]
    hidden = np.where(judged, y, 1 - y)
    np.testing.assert_allclose(query_residual(q, static, judged, hidden), res)
    p = rng.permutation(n)
    np.testing.assert_allclose(query_residual(q[p], static[p], judged[p], y[p]), res[p], atol=1e-12)


def test_query_residual_waits_for_queries_expected_to_hold_several() -> None:
    q = np.repeat(np.arange(10), 30)
    judged = np.arange(300) % 3 == 0
    y = (np.arange(300) % 2).astype(int)
    sparse = np.full(300, -5.0)  # ~0.2 expected per query (SciFact-like): a found one says the rest holds none
    assert several_expected(q, sparse) < SEVERAL_GATE and query_residual(q, sparse, judged, y) is None
    rich = np.full(300, -1.0)  # ~8 per query (NFCorpus-like)
    assert several_expected(q, rich) > SEVERAL_GATE
    assert query_residual(q, rich, judged, y) is not None
    assert query_residual(q, rich, np.zeros(300, bool), y) is None  # nothing judged: nothing to say
    assert query_residual(q, rich, np.arange(300) % 2 == 0, y) is None  # half the rows judged: the rest is a tail
    assert 0.0 <= several_expected(q, sparse) < several_expected(q, rich) <= 1.0
    assert several_expected(np.array([], int), np.array([])) == 0.0


@given(seed=st.integers(0, 10_000), perm_seed=st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_topic_evidence_is_the_same_query_fn_closeness_leave_one_out_and_blind_to_unjudged_labels(
        seed: int, perm_seed: int) -> None:
    q, d, y, emb, _ = _world(seed, n_q=4, per_q=15)
    rich = np.full(len(q), -1.0)  # several false negatives expected per query: the evidence is on
    judged = np.random.default_rng(seed).random(len(q)) < 0.4
    j = np.flatnonzero(judged)
    ev = topic_evidence(emb, q, d, q[j], d[j], y[j], rich)
    assert ev.shape == (len(q), 1)
    # the relevant class's column of the same-query evidence, in whatever space it is given
    np.testing.assert_allclose(ev[:, 0], judgment_evidence(emb, q, d, q[j], d[j], y[j])[:, 0], atol=1e-6)
    for i in range(len(q)):  # brute force: max cosine to the query's *other* judged false negatives
        others = [k for k in j if q[k] == q[i] and y[k] == 1 and d[k] != d[i]]
        want = max(float(emb[d[i]] @ emb[d[k]]) for k in others) if others else 0.0
        assert abs(ev[i, 0] - want) < 1e-5
    hidden = np.where(judged, y, 1 - y)  # unjudged labels flipped: nothing moves
    np.testing.assert_allclose(topic_evidence(emb, q, d, q[j], d[j], hidden[j], rich), ev)
    p = np.random.default_rng(perm_seed).permutation(len(q))
    jp = np.flatnonzero(judged[p])
    np.testing.assert_allclose(topic_evidence(emb, q[p], d[p], q[p][jp], d[p][jp], y[p][jp], rich), ev[p],
                               atol=1e-6)


def test_topic_evidence_waits_for_queries_expected_to_hold_several_and_joins_the_features() -> None:
    q, d, y, emb, static = _world(0)
    j = np.flatnonzero(np.arange(len(q)) % 3 == 0)
    sparse = np.full(len(q), -5.0)
    assert topic_evidence(emb, q, d, q[j], d[j], y[j], sparse) is None  # SciFact-like: off
    top = topic_evidence(emb, q, d, q[j], d[j], y[j], np.full(len(q), -1.0))
    ev = judgment_evidence(emb, q, d, q[j], d[j], y[j])
    plain = learning_features(static, None, ev, None, query_mass(q, static))
    both = learning_features(static, None, ev, None, query_mass(q, static), topic=top)
    # presence-encoded with the same-query evidence: two more columns, the rest unchanged
    assert both.shape[1] == plain.shape[1] + 2
    np.testing.assert_allclose(both[:, :4], plain[:, :4])
    np.testing.assert_allclose(both[:, 6:], plain[:, 4:])
    assert (both[:, 4] == (top[:, 0] != 0)).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), vec_mask=st.integers(0, 7), with_offset=st.booleans(), rich=st.booleans(),
       n_judged=st.integers(0, 200))
def test_learner_features_name_every_column_and_read_only_judged_labels(seed, vec_mask, with_offset, rich,
                                                                         n_judged) -> None:
    """The one builder of the bench's and the app's learner features: a name per column in the order the direct
    calls give, each vector set optional, unjudged labels never read, row order irrelevant."""
    q, d, y, emb, static = _world(seed % 50)
    static = static + (0.0 if rich else -6.0)  # rich: queries expected to hold several (residual, topic gates)
    rng = np.random.default_rng(seed)
    judged = np.zeros(len(q), bool)
    judged[rng.choice(len(q), size=n_judged, replace=False)] = True
    qv = np.asarray(rng.normal(size=(q.max() + 1, emb.shape[1])), dtype=np.float32)
    qv /= np.linalg.norm(qv, axis=1, keepdims=True)
    doc_vec, query_vec, topic_vec = (v if vec_mask >> i & 1 else None for i, v in enumerate((emb, qv, emb[:, ::-1])))
    offset = 0.7 * static if with_offset else None
    pos = np.abs(rng.normal(size=len(q)))
    build = LearnerFeatures(q, d, static, offset, doc_vec, query_vec, topic_vec, pos)
    Z, names = build(judged, y)
    assert Z.shape == (len(q), len(names)) and len(set(names)) == len(names)
    assert names[-1] == "query_residual" if rich and 0 < judged.mean() <= RESIDUAL_MAX_JUDGED else "query_residual" not in names
    assert ("departure" in names) == with_offset and (SAME_QUERY_NAMES[0] in names) == (doc_vec is not None)
    assert (OTHER_QUERY_NAMES[0] in names) == (query_vec is not None)
    assert (TOPIC_NAMES[0] in names) == (topic_vec is not None and rich)
    # the same columns as the direct calls, in the same order
    j = np.flatnonzero(judged)
    ev = None if doc_vec is None else judgment_evidence(emb, q, d, q[j], d[j], y[j])
    dev = None if query_vec is None else doc_evidence(qv, q, d, q[j], d[j], y[j])
    top = None if topic_vec is None else topic_evidence(topic_vec, q, d, q[j], d[j], y[j], static)
    extra = signal_features(q, pos)
    direct = learning_features(static, offset, ev, dev, query_mass(q, static), extra,
                               query_residual(q, static, judged, y), top)
    np.testing.assert_allclose(Z, direct)
    # unjudged labels never read
    np.testing.assert_array_equal(build(judged, np.where(judged, y, 1 - y))[0], Z)
    # row order irrelevant (the presence columns centre over the rows, the same set)
    p = rng.permutation(len(q))
    Zp, names_p = LearnerFeatures(q[p], d[p], static[p], None if offset is None else offset[p], doc_vec, query_vec,
                                  topic_vec, pos[p])(judged[p], y[p])
    assert names_p == names
    np.testing.assert_allclose(Zp, Z[p], atol=1e-6)
