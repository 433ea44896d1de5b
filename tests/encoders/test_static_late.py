"""Static token MaxSim (the word-piece table, no forward pass) with the packaged MiniLM on real SciFact texts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.encoders.ids import default_model_path
from core.encoders.static_late import has_word_table, piece_encoder, static_maxsim_pairs
from tests.encoders.conftest import assert_query_as_doc_scores_one


@pytest.fixture(scope="module")
def corpus(texts) -> list[str]:
    queries, docs = texts
    return docs + queries + [""]  # the queries themselves, and one empty doc


@pytest.fixture(scope="module")
def static(texts, corpus):
    return static_maxsim_pairs(texts[0], corpus)


def _reference(bi_encoder, query: str, doc: str, corpus: list[str]) -> float:
    """idf-weighted MaxSim over the model's input word-piece rows, computed independently of the module
    (the tokenizer through transformers, the table through torch)."""
    emb = bi_encoder[0].auto_model.embeddings.word_embeddings.weight.detach().float().numpy()
    tok = bi_encoder.tokenizer

    def ids(t: str) -> list[int]:
        return tok(t, truncation=True, max_length=bi_encoder.max_seq_length)["input_ids"][1:-1]

    qi, di = ids(query), ids(doc)
    if not di:
        return 0.0
    q = emb[qi] / np.linalg.norm(emb[qi], axis=1, keepdims=True)
    d = emb[di] / np.linalg.norm(emb[di], axis=1, keepdims=True)
    df = np.array([sum(p in set(ids(c)) for c in corpus) for p in qi])
    w = np.log(len(corpus) / (1 + df)) + 1
    return float((q @ d.T).max(1) @ w / w.sum())


def test_matches_an_independent_idf_weighted_maxsim(static, bi_encoder, texts, corpus) -> None:
    queries = texts[0]
    q, d = np.array([0, 1, 2, 3, 0]), np.array([0, 5, 11, 13, len(corpus) - 1])
    want = [_reference(bi_encoder, queries[i], corpus[j], corpus) for i, j in zip(q, d)]
    np.testing.assert_allclose(static(q, d), want, atol=1e-5)


def test_pieces_are_the_models_own(bi_encoder, texts) -> None:
    """The tokenizers-library path gives the same word pieces as the model's own tokenizer, window included."""
    encode = piece_encoder(default_model_path())
    long = " ".join(texts[1]) * 3  # past the 256-piece window
    for t in [*texts[0], texts[1][0], long]:
        want = bi_encoder.tokenizer(t, truncation=True, max_length=bi_encoder.max_seq_length)["input_ids"][1:-1]
        assert encode([t])[0].tolist() == want


def test_a_doc_that_is_the_query_scores_one_and_beats_the_others(static, texts) -> None:
    assert_query_as_doc_scores_one(static, texts, tol=1e-5)


def test_an_empty_doc_scores_zero(static, texts, corpus) -> None:
    assert static(np.arange(4), np.full(4, len(corpus) - 1)).tolist() == [0.0] * 4


def test_pickles_to_the_same_scores(static) -> None:
    """The Ray engine ships it to workers: a round trip must score the same."""
    q, d = np.array([0, 1, 3, 2]), np.array([4, 4, 12, 0])
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(static))(q, d), static(q, d))


def test_has_word_table(tmp_path) -> None:
    assert has_word_table(None) and not has_word_table(tmp_path)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 16)), min_size=0, max_size=40), st.randoms())
def test_in_range_and_row_order_irrelevant(static, pairs, rnd) -> None:
    q, d = (np.array(x, np.int64) for x in zip(*pairs)) if pairs else (np.zeros(0, np.int64),) * 2
    base = static(q, d)
    assert base.shape == (len(q),) and np.all(base >= -1 - 1e-6) and np.all(base <= 1 + 1e-6)
    perm = np.array(rnd.sample(range(len(q)), len(q)), np.int64)
    np.testing.assert_array_equal(static(q[perm], d[perm]), base[perm])
