"""The refit's cosine evidence on a really scored SciFact store: vectors from the real embedding cache
(the committed demo export), never encoded on the review path; a missing vector → the vector-free path."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from scored_store import build_scored_store

from core.encoders import doc_text, text_key
from core.encoders.cache import EmbeddingCache
from core.review import learning as L
from core.review import vectors as V
from core.risk.learn import OTHER_QUERY_NAMES, SAME_QUERY_NAMES, TOPIC_NAMES
from core.store import Store
from core.store import learning as SL

EVIDENCE_NAMES = SAME_QUERY_NAMES + OTHER_QUERY_NAMES

DS = "sf"


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    work = tmp_path_factory.mktemp("vec")
    db = build_scored_store(work / "seed.duckdb", work, DS, n_queries=10, n_docs=400, top_k=10)
    return db, work / "embeddings"


@pytest.fixture()
def store(seed, tmp_path):
    db, _ = seed
    shutil.copy(db, tmp_path / "s.duckdb")
    s = Store.open(str(tmp_path / "s.duckdb"))
    yield s
    s.close()


def _judge(store: Store, cache: str) -> None:
    """Judge two thirds of the items: false negative when the doc leans towards one topic direction
    (a doc's neighbours share its label, which only the cosine evidence can see), negative otherwise."""
    items = SL.risk_rows(store, DS)
    _, qids, d, dids = L.item_keys(items)
    vec, why = V.cached_vectors(store, DS, qids, dids, cache)
    assert vec is not None, why
    topic = vec.doc[np.argmax(np.bincount(d))]  # the doc in most queries' candidates
    fn = vec.doc @ topic > np.median(vec.doc @ topic)
    for i, r in enumerate(items.itertuples()):
        if i % 3:
            store.add_judgment(DS, r.query_id, r.doc_id, "ann", "false_negative" if fn[d[i]] else "negative")


def test_refit_uses_cached_vectors_and_they_change_the_ranking(store, seed):
    cache = str(seed[1])
    meta = store.dataset_info(DS)["meta"]["embedding"]
    assert meta["model_id"].startswith("all-MiniLM-L6-v2") and meta["cache_dir"] == cache
    _judge(store, cache)
    items, y = SL.risk_rows(store, DS), L.targets(store, DS)
    rec = L.relearn(store, DS, cache=cache)
    assert rec["evidence"] == "cosine", rec
    assert set(EVIDENCE_NAMES) <= set(rec["features"])
    with_ev = SL.risk_rows(store, DS).fn_risk.to_numpy()
    plain, info = L.refit(items, y, None)
    assert info["evidence"] == "vector-free" and "same_query_fn_cos" not in info["features"]
    # the evidence re-orders the queue: the cosine path's risk is not the vector-free one's
    assert not np.allclose(with_ev, plain, atol=1e-4)
    assert rec["logloss_after"] < info["logloss_after"]  # and fits the judged items better
    un = np.ones(len(items), bool)
    judged = items.set_index(["query_id", "doc_id"]).index.isin(list(zip(y.query_id, y.doc_id)))
    un[judged] = False
    assert (np.argsort(-with_ev[un])[:20] != np.argsort(-plain[un])[:20]).any()


def test_refit_falls_back_when_the_cache_lacks_a_vector(store, seed, tmp_path):
    full = EmbeddingCache(str(seed[1]))
    _judge(store, str(seed[1]))
    items = SL.risk_rows(store, DS)
    _, _, _, dids = L.item_keys(items)
    mid = store.dataset_info(DS)["meta"]["embedding"]["model_id"]
    docs = store.docs(DS, list(dids))
    texts = [doc_text(t, x) for t, x in zip(docs.title, docs.text)]
    keys = [text_key(t) for t in texts]
    _, vecs = full.lookup(mid, keys)
    partial = EmbeddingCache(str(tmp_path / "partial"))
    partial.put(mid, keys[1:], vecs[1:])  # every doc vector but one
    qs = store.queries(DS)
    _, qv = full.lookup(mid, [text_key(t) for t in qs.text])
    partial.put(mid, [text_key(t) for t in qs.text], qv)
    rec = L.relearn(store, DS, cache=partial)
    assert rec["evidence"].startswith("vector-free: doc vectors missing"), rec
    assert not set(EVIDENCE_NAMES) & set(rec["features"])
    plain, _ = L.refit(items, L.targets(store, DS), None)
    assert np.allclose(SL.risk_rows(store, DS).fn_risk.to_numpy(), plain)
    # an empty cache folder: the queries are missing first
    rec = L.relearn(store, DS, cache=str(tmp_path / "empty"))
    assert rec["evidence"].startswith("vector-free: query vectors missing")


def test_no_recorded_model_means_vector_free(store):
    with store.dataset_appender(DS) as w:
        w.merge_meta({"embedding": None})
    vec, why = V.cached_vectors(store, DS, [], [])
    assert vec is None and "no embedding model recorded" in why


def test_scoring_caches_the_docs_topic_rows_and_the_refit_weighs_them_where_queries_hold_several(store, seed):
    """Scoring put the candidate docs' LSA rows in the cache under an id naming the space; the refit looks them up
    (never refits the space) and adds the closeness to judged FNs there once queries hold several (learn gate)."""
    cache = str(seed[1])
    rec = store.dataset_info(DS)["meta"]["lsa"]
    assert rec["model_id"].startswith("lsa-") and rec["cache_dir"] == cache
    _judge(store, cache)
    items, y = SL.risk_rows(store, DS), L.targets(store, DS)
    _, qids, _, dids = L.item_keys(items)
    vec, why = V.cached_vectors(store, DS, qids, dids, cache)
    assert vec is not None and vec.topic is not None, why
    assert vec.topic.shape[0] == len(dids) and np.allclose(np.linalg.norm(vec.topic, axis=1), 1, atol=1e-4)
    # SciFact holds about one relevant doc per query: the scorer expects few, the topic evidence stays out
    _, info = L.refit(items, y, vec)
    assert info["evidence"] == "cosine" and not set(TOPIC_NAMES) & set(info["features"])
    # the same items as a scorer expecting several per query would hold them: it joins, after the same-query cosines
    rich = items.assign(base=0.4, fn_risk=0.4)
    new, info = L.refit(rich, y, vec)
    names = info["features"]
    assert names[:8] == SAME_QUERY_NAMES + TOPIC_NAMES + OTHER_QUERY_NAMES
    assert not np.allclose(new, L.refit(rich, y, V.CachedVectors(vec.model_id, vec.query, vec.doc))[0], atol=1e-6)
    # no record (a store scored before it, or without a cache): the cosine path without it
    with store.dataset_appender(DS) as w:
        w.merge_meta({"lsa": None})
    vec, _ = V.cached_vectors(store, DS, qids, dids, cache)
    assert vec is not None and vec.topic is None
