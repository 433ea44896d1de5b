"""The pull toward a candidate's closest fellow candidates (core/risk/smooth.py): a brute force, the rows it may
read, and on real NFCorpus how the scorer uses it (query partitions score alike, the card names it)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from core.risk import score_false_negatives, train_combiner
from core.risk.signals import CO_CANDIDATES
from core.risk.smooth import CO_FELLOWS as K
from core.risk.smooth import CO_WEIGHT, co_candidate_shift

SAID_AT_LEAST = 1  # 3 of the 600 candidates here are pulled up by half a log-odds or more


def _brute(z: np.ndarray, g: np.ndarray, V: np.ndarray, k: int, w: float) -> np.ndarray:
    out = np.zeros(len(z))
    for i in range(len(z)):
        mates = [j for j in range(len(z)) if g[j] == g[i] and j != i]
        if not mates:
            continue
        sims = [float(V[i] @ V[j]) for j in mates]
        best = [mates[t] for t in np.argsort(-np.array(sims), kind="stable")[:k]]
        out[i] = w * (z[best].mean() - z[i])
    return out


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), n_groups=st.integers(1, 6), k=st.integers(1, 5), seed=st.integers(0, 10_000))
def test_shift_matches_a_brute_force_reads_only_its_group_and_ignores_row_order(n, n_groups, k, seed) -> None:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, n_groups, n)
    V = rng.normal(size=(n, 8))
    V /= np.linalg.norm(V, axis=1, keepdims=True)
    z = rng.normal(size=n) * 2
    got = co_candidate_shift(z, g, V, k, 0.2)
    np.testing.assert_allclose(got, _brute(z, g, V, k, 0.2), atol=1e-12)
    alone = np.bincount(g, minlength=n_groups)[g] == 1
    assert (got[alone] == 0).all()  # a row alone in its query keeps its score
    p = rng.permutation(n)
    np.testing.assert_allclose(co_candidate_shift(z[p], g[p], V[p], k, 0.2), got[p], atol=1e-12)
    # another query's rows never move this query's: add a group of rows with extreme scores
    g2, V2 = np.r_[g, np.full(5, n_groups)], np.vstack([V, V[:1].repeat(5, 0)])
    z2 = np.r_[z, np.full(5, 50.0)]
    np.testing.assert_allclose(co_candidate_shift(z2, g2, V2, k, 0.2)[:n], got, atol=1e-12)
    # and the shift never takes a row past its fellows: it moves toward their mean, by the weight
    if k == 1:
        assert (np.abs(got) <= 0.2 * np.abs(z.max() - z.min()) + 1e-12).all()


def test_on_real_nfcorpus_partitions_score_alike_and_the_card_names_the_pull(nfcorpus_small) -> None:
    inputs, cands = nfcorpus_small
    model = train_combiner(inputs)
    full = score_false_negatives(cands, inputs, model=model)
    qs = sorted(cands.query_id.unique())
    first = cands.query_id.isin(qs[: len(qs) // 2])
    parts = pd.concat([score_false_negatives(cands[first], inputs, model=model),
                       score_false_negatives(cands[~first], inputs, model=model)])
    both = full.merge(parts, on=["query_id", "doc_id"], suffixes=("", "_part"))
    assert len(both) == len(full)
    np.testing.assert_allclose(both.fn_risk, both.fn_risk_part, atol=1e-6)  # whole queries: the same (float32 blocks)
    shift = np.array([json.loads(s)[CO_CANDIDATES] for s in full.signals])
    assert (shift > 0).any() and (shift < 0).any()
    said = full.reasons.str.contains("closest fellow candidates", regex=False).to_numpy()
    assert (said == (shift >= 0.5)).all() and said.sum() >= SAID_AT_LEAST
    # one candidate dropped from a query moves that query's other rows only
    drop = full.sort_values("fn_risk").iloc[0]
    fewer = score_false_negatives(cands[~((cands.query_id == drop.query_id) & (cands.doc_id == drop.doc_id))],
                                  inputs, model=model)
    m = full.merge(fewer, on=["query_id", "doc_id"], suffixes=("", "_fewer"))
    other = m.query_id != drop.query_id
    np.testing.assert_allclose(m.fn_risk[other], m.fn_risk_fewer[other], atol=1e-6)
    assert np.abs(m.fn_risk[~other] - m.fn_risk_fewer[~other]).max() > 1e-4  # its own query's rows did move
    assert K == 3 and 0 < CO_WEIGHT < 0.5
