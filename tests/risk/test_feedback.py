"""Feedback from the labelled positives: lexical (RM3) and dense (Rocchio) — the expansion itself, and its place in
the scorer (range, row order, labels seen)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from core.mining import Bm25Index
from core.mining.feedback import bm25_feedback_rows
from core.risk import RiskInputs, pair_arrays, score_false_negatives, train_combiner
from core.risk.inputs import DENSE_FEEDBACK_WEIGHT, with_feedback
from core.risk.signals import SIGNALS
from tests.risk.conftest import feedback_arrays_row_order_free, make_inputs

DOCS = ["statin cholesterol heart disease trial", "statin breast cancer survival cohort",
        "vitamin d bone density", "breast cancer survival tamoxifen cohort", "red meat colon cancer diet"]


def test_feedback_ranks_docs_sharing_the_positives_terms_first() -> None:
    rows = bm25_feedback_rows(Bm25Index.build(DOCS), ["statin"])
    plain, fed = rows([0, 0], [np.array([], np.int64), np.array([1], np.int64)])
    # the plain query never reaches doc 3 (no 'statin'); its feedback doc's terms (breast, cancer,
    # survival, cohort) lift doc 3 above the docs that share none of them
    assert plain[3] == 0 and fed[3] > fed[2] and fed[3] > fed[0] * 0.5
    assert 0 <= fed.min() and fed.max() <= 1 and plain.max() == 1


def test_without_feedback_docs_the_query_is_unchanged() -> None:
    index = Bm25Index.build(DOCS)
    rows = bm25_feedback_rows(index, ["cancer cohort"])
    base = index.scores([["cancer", "cohort"]])[0]
    np.testing.assert_allclose(rows([0], [np.array([], np.int64)])[0], base / base.max())


def _with_texts(seed: int) -> tuple[RiskInputs, pd.DataFrame]:
    """The tiny synthetic collection with real BM25 over word-per-topic texts."""
    inputs, cands = make_inputs(seed=seed)
    rng = np.random.default_rng(seed)
    topic = np.argmax(inputs.doc_emb[:, :4], axis=1)
    words = [[f"w{t}x{i}" for i in range(6)] for t in range(4)]
    vocab = [w for ws in words for w in ws]
    texts = [" ".join(rng.choice(words[t], 4).tolist() + rng.choice(vocab, 3).tolist()) for t in topic]
    queries = [" ".join(rng.choice(vocab, 2).tolist()) for _ in inputs.query_ids]
    index = Bm25Index.build(texts)
    from core.mining import bm25_rows

    inputs.bm25, inputs.bm25_feedback = bm25_rows(index, queries), bm25_feedback_rows(index, queries)
    return inputs, cands


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 4), perm_seed=st.integers(0, 10_000))
def test_feedback_arrays_finite_and_row_order_free(seed: int, perm_seed: int) -> None:
    inputs, cands = _with_texts(seed)
    q, d = inputs.qrow(cands.query_id.tolist()), inputs.drow(cands.doc_id.tolist())
    a = feedback_arrays_row_order_free(inputs, q, d, ("fb_bm25", "fb_bm25_std", "fb_graph_bm25"), perm_seed)
    z = SIGNALS["bm25_rm3_z"].fn(a)
    assert np.isfinite(z).all() and (a["fb_bm25"] >= 0).all() and (a["fb_bm25"] <= 1).all()
    out = score_false_negatives(cands, inputs, model=train_combiner(inputs))
    assert out.fn_risk.between(0.01, 0.99).all()


def test_feedback_sees_only_the_given_labels_and_never_a_positive_its_own_words() -> None:
    inputs, _ = _with_texts(0)
    qi, pos = 0, inputs.positive_rows()[0]
    others = np.setdiff1d(np.arange(len(inputs.doc_ids)), pos)
    rows = np.concatenate([pos, others])
    a = pair_arrays(inputs, np.full(len(rows), qi), rows, feedback=True)
    # leave-one-out: a lone labelled positive is scored by the plain query, exactly as without feedback
    plain = pair_arrays(inputs, np.full(len(rows), qi), rows)
    b = plain["bm25"][: len(pos)] / plain["bm25"].max() if plain["bm25"].max() > 0 else plain["bm25"][: len(pos)]
    assert len(pos) == 1 and np.allclose(a["fb_bm25"][: len(pos)], b)
    # another query's labels never reach this query's feedback arrays
    hidden = dict(inputs.positives)
    hidden[inputs.query_ids[1]] = set(hidden[inputs.query_ids[1]]) | {inputs.doc_ids[int(others[0])]}
    hidden_inputs = RiskInputs(inputs.query_ids, inputs.query_emb, inputs.doc_ids, inputs.doc_emb, hidden,
                               bm25=inputs.bm25, bm25_feedback=inputs.bm25_feedback)
    c = pair_arrays(hidden_inputs, np.full(len(rows), qi), rows, feedback=True)
    np.testing.assert_allclose(a["fb_bm25"], c["fb_bm25"])
    extra = dict(inputs.positives)
    extra[inputs.query_ids[qi]] = set(extra[inputs.query_ids[qi]]) | {inputs.doc_ids[int(others[0])]}
    changed = RiskInputs(inputs.query_ids, inputs.query_emb, inputs.doc_ids, inputs.doc_emb, extra,
                         bm25=inputs.bm25, bm25_feedback=inputs.bm25_feedback)
    e = pair_arrays(changed, np.full(len(rows), qi), rows, feedback=True)
    assert not np.allclose(a["fb_bm25"][len(pos) + 1:], e["fb_bm25"][len(pos) + 1:])


def _rocchio(inputs: RiskInputs, qi: int, fb: np.ndarray) -> np.ndarray:
    """The moved query vector, written out once more: (1 - w) q + w mean(positives), each unit, renormalised."""
    def unit(v: np.ndarray) -> np.ndarray:
        return v / np.linalg.norm(v)

    q = unit(np.asarray(inputs.query_emb[qi], np.float64))
    if not len(fb):
        return q
    return unit((1 - DENSE_FEEDBACK_WEIGHT) * q + DENSE_FEEDBACK_WEIGHT * unit(inputs.doc_emb[fb].astype(np.float64).mean(0)))


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 4), perm_seed=st.integers(0, 10_000))
def test_dense_feedback_matches_a_brute_force_rocchio_and_is_row_order_free(seed: int, perm_seed: int) -> None:
    inputs, cands = make_inputs(seed=seed)
    inputs.bm25 = None  # dense feedback needs no lexical index
    q, d = inputs.qrow(cands.query_id.tolist()), inputs.drow(cands.doc_id.tolist())
    a = feedback_arrays_row_order_free(inputs, q, d, ("fb_dense", "fb_dense_mean", "fb_dense_std", "fb_graph_dense"),
                                       perm_seed, rtol=1e-6, atol=1e-7)
    pos = inputs.positive_rows()
    for i in range(len(q)):
        v = _rocchio(inputs, int(q[i]), pos[int(q[i])][pos[int(q[i])] != d[i]])
        s = inputs.doc_emb.astype(np.float64) @ v
        assert abs(a["fb_dense"][i] - s[d[i]]) < 1e-5
        assert abs(a["fb_dense_mean"][i] - s.mean()) < 1e-5 and abs(a["fb_dense_std"][i] - s.std()) < 1e-5
    assert np.isfinite(a["fb_graph_dense"]).all() and (np.abs(a["fb_dense"]) <= 1 + 1e-6).all()


def test_dense_feedback_sees_only_the_querys_own_labels_never_a_positive_itself() -> None:
    inputs, _ = make_inputs(seed=1)
    qi, pos = 0, inputs.positive_rows()[0]
    others = np.setdiff1d(np.arange(len(inputs.doc_ids)), pos)
    rows = np.concatenate([pos, others])
    a = pair_arrays(inputs, np.full(len(rows), qi), rows, feedback=True)
    plain = pair_arrays(inputs, np.full(len(rows), qi), rows)
    # a lone labelled positive is scored by the plain query: its own vector never moves the query
    assert len(pos) == 1 and np.allclose(a["fb_dense"][:1], plain["dense"][:1], atol=1e-6)
    assert not np.allclose(a["fb_dense"][1:], plain["dense"][1:])  # the others see the moved query
    hidden = dict(inputs.positives)  # another query's labels never reach this query's arrays
    hidden[inputs.query_ids[1]] = set(hidden[inputs.query_ids[1]]) | {inputs.doc_ids[int(others[0])]}
    c = pair_arrays(RiskInputs(inputs.query_ids, inputs.query_emb, inputs.doc_ids, inputs.doc_emb, hidden,
                               graph_k=inputs.graph_k), np.full(len(rows), qi), rows, feedback=True)
    np.testing.assert_allclose(a["fb_dense"], c["fb_dense"])
    without = pair_arrays(inputs, np.full(len(rows), qi), rows, feedback=False)
    assert "fb_dense" not in without


def test_with_feedback_swaps_the_dense_arrays_when_there_are_some() -> None:
    a = {"dense": np.zeros(2), "dense_mean": np.zeros(2), "dense_std": np.ones(2), "graph_dense": np.zeros(2),
         "fb_dense": np.full(2, 0.5), "fb_dense_mean": np.full(2, 0.1), "fb_dense_std": np.full(2, 0.2),
         "fb_graph_dense": np.full(2, 2.0), "bm25": np.ones(2)}
    b = with_feedback(a)
    assert b["dense"][0] == 0.5 and b["graph_dense"][0] == 2.0 and b["bm25"] is a["bm25"]
    np.testing.assert_allclose(SIGNALS["dense_z"].fn(b), (0.5 - 0.1) / 0.2)


def test_with_feedback_swaps_only_the_lexical_arrays() -> None:
    a = {"dense": np.ones(2), "bm25": np.zeros(2), "fb_bm25": np.full(2, 3.0), "fb_bm25_max": np.ones(2),
         "fb_bm25_mean": np.ones(2), "fb_bm25_std": np.ones(2), "fb_graph_bm25": np.ones(2),
         "bm25_max": np.zeros(2), "bm25_mean": np.zeros(2), "bm25_std": np.zeros(2), "graph_bm25": np.zeros(2)}
    b = with_feedback(a)
    assert b["bm25"][0] == 3.0 and b["dense"] is a["dense"] and a["bm25"][0] == 0.0
    plain = {k: v for k, v in a.items() if not k.startswith("fb_")}
    assert with_feedback(plain) is plain


def test_feedback_is_the_same_whatever_the_interpreter_hash_seed() -> None:
    """Ties between equal term weights are broken by term id; ids once followed Python's set order, which
    changes with PYTHONHASHSEED, so the same inputs gave a different fn_risk in another process."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np\nfrom core.mining import Bm25Index\nfrom core.mining.feedback import bm25_feedback_rows\n"
            "words = [f'term{c}{k}' for c in 'abcdefgh' for k in 'xyz']\n"
            "docs = [' '.join(words)] + [f'{w} filler' for w in words]\n"
            "row = bm25_feedback_rows(Bm25Index.build(docs), ['filler'])([0], [np.array([0])])[0]\n"
            "print(np.round(row, 12).tolist())")
    rows = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout for h in (1, 2, 3)}
    assert len(rows) == 1 and rows.pop().startswith("[")


def test_term_ids_follow_sorted_tokens() -> None:
    vocab = Bm25Index.build(DOCS).retriever.vocab_dict
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1]) if t]  # bm25s appends "" for empty docs
    assert tokens == sorted(tokens) and len(tokens) > 5
