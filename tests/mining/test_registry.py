"""The miner registry: one place that knows the miners and validates their names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core import mining as M
from core.types import NegauditError

DOCS = ["vitamin d and bone fractures", "statins lower cholesterol", "green tea catechins",
        "vitamin c and colds", "bone density in older adults"]
QUERIES = ["vitamin d bone", "cholesterol statins"]


def test_miners_are_registered_in_the_order_rows_are_written():
    assert M.miner_names() == ["dense", "bm25"]
    assert M.check_miners(["bm25", "dense"]) == ["dense", "bm25"]
    assert M.needs_embeddings(["dense"]) and not M.needs_embeddings(["bm25"])


@pytest.mark.parametrize("names, message", [
    (["dense", "splade"], r"unknown miner\(s\) \['splade'\]; choose from dense, bm25"),
    ([], "no miner given; choose from dense, bm25"),
])
def test_a_bad_miner_name_is_one_clear_user_error(names, message):
    with pytest.raises(NegauditError, match=message):
        M.check_miners(names)


def test_mine_with_runs_the_registered_miners_like_the_direct_calls():
    rng = np.random.default_rng(0)
    d_emb = rng.normal(size=(len(DOCS), 8)).astype(np.float32)
    q_emb = rng.normal(size=(len(QUERIES), 8)).astype(np.float32)
    d_emb /= np.linalg.norm(d_emb, axis=1, keepdims=True)
    q_emb /= np.linalg.norm(q_emb, axis=1, keepdims=True)
    ids = [f"d{i}" for i in range(len(DOCS))]
    positives = {"q0": {"d0"}}
    inputs = M.MineInputs(["q0", "q1"], QUERIES, ids, positives, doc_texts=DOCS,
                          query_emb=q_emb, doc_emb=d_emb)
    got = M.mine_with(inputs, ["bm25", "dense"], top_k=3)
    want = pd.concat([M.mine_dense(["q0", "q1"], q_emb, ids, d_emb, positives, 3),
                      M.mine_bm25(["q0", "q1"], QUERIES, ids, DOCS, positives, 3)], ignore_index=True)
    pd.testing.assert_frame_equal(got, want)
    assert inputs.bm25 is not None  # the index is built once and kept for the next call
    with pytest.raises(ValueError, match="embed_corpus first"):
        M.mine_with(M.MineInputs(["q0"], QUERIES[:1], ids, {}, doc_texts=DOCS), ["dense"], 3)
