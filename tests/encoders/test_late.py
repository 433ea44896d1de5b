"""Late interaction (token MaxSim) with the packaged MiniLM on real SciFact texts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.encoders.late import late_interaction_pairs
from tests.encoders.conftest import assert_query_as_doc_scores_one


@pytest.fixture(scope="module")
def late(bi_encoder, texts):
    queries, docs = texts
    return late_interaction_pairs(queries, docs + queries, model=bi_encoder, bf16=False)


def _reference(model, query: str, doc: str, corpus: list[str]) -> float:
    """idf-weighted MaxSim from the model's token vectors, computed independently of the module."""
    q, d = (model.encode([t], output_value="token_embeddings")[0].float().numpy()[1:-1] for t in (query, doc))
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    pieces = model.tokenizer.tokenize(query)
    df = np.array([sum(p in model.tokenizer.tokenize(c) for c in corpus) for p in pieces])
    w = np.log(len(corpus) / (1 + df)) + 1
    return float((q @ d.T).max(1) @ w / w.sum())


def test_matches_an_independent_idf_weighted_maxsim(late, bi_encoder, texts) -> None:
    queries, docs = texts
    corpus = docs + queries
    got = late(np.array([0, 1, 2]), np.array([0, 5, 11]))
    want = [_reference(bi_encoder, queries[0], docs[0], corpus), _reference(bi_encoder, queries[1], docs[5], corpus),
            _reference(bi_encoder, queries[2], docs[11], corpus)]
    np.testing.assert_allclose(got, want, atol=2e-3)  # float16 storage of the per-token maxima


def test_rare_query_pieces_weigh_more(bi_encoder) -> None:
    from core.encoders.late import piece_idf

    idf = piece_idf(bi_encoder, ["the statin trial", "the diet", "the cohort"])
    the, trial = bi_encoder.tokenizer.convert_tokens_to_ids(["the", "trial"])  # one piece each
    assert idf[trial] > idf[the] > 0 and idf[trial] < idf.max()  # in one doc of three; unseen pieces rank first


def test_a_doc_that_is_the_query_scores_one_and_beats_the_others(late, texts) -> None:
    assert_query_as_doc_scores_one(late, texts, tol=2e-3)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 15)), min_size=1, max_size=30), st.randoms())
def test_in_range_and_row_order_irrelevant(late, pairs, rnd) -> None:
    q, d = (np.array(x, np.int64) for x in zip(*pairs))
    base = late(q, d)
    assert np.all(base >= -1 - 1e-3) and np.all(base <= 1 + 1e-3)
    perm = np.array(rnd.sample(range(len(q)), len(q)), np.int64)
    np.testing.assert_array_equal(late(q[perm], d[perm]), base[perm])


def test_empty_texts_score_zero(bi_encoder, texts) -> None:
    """An empty doc or query has no tokens: MaxSim 0, as the static MaxSim gives (not the cosine of
    [CLS]/[SEP] vectors, which every text shares)."""
    queries, docs = texts
    late = late_interaction_pairs(queries[:2] + [""], docs[:3] + [""], model=bi_encoder, bf16=False)
    got = late(np.array([0, 1, 2, 2]), np.array([3, 3, 0, 3]))
    assert got.tolist() == [0.0, 0.0, 0.0, 0.0]
    assert np.all(late(np.array([0, 1]), np.array([0, 1])) > 0.1)  # non-empty texts still score
