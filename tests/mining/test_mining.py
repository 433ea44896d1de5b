"""Mining checked against brute force and, knob by knob, against sentence-transformers' mine_hard_negatives."""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import encoders as MO
from core import mining as M
from core.mining.bm25 import _sorted_postings as sorted_postings
from core.types import Doc, Qrel, Query

ROOT = Path(__file__).parents[2]
FX = ROOT / "tests" / "fixtures" / "mining"


# --- a real subset: 20 SciFact queries x 300 docs, float16 embeddings by the packaged MiniLM ----


@pytest.fixture(scope="module")
def subset():
    docs = [json.loads(line) for line in (FX / "corpus.jsonl").read_text().splitlines()]
    queries = [json.loads(line) for line in (FX / "queries.jsonl").read_text().splitlines()]
    rows = [line.split("\t") for line in (FX / "qrels/test.tsv").read_text().splitlines()][1:]
    positives: dict[str, set[str]] = {}
    for q, d, _ in rows:
        positives.setdefault(q, set()).add(d)
    ef = MO.load_embeddings(FX / "embeddings.npz")
    vec = dict(zip(ef.ids, ef.embeddings))
    dids = [d["_id"] for d in docs]
    qids = [q["_id"] for q in queries]
    return {
        "doc_ids": dids,
        "doc_texts": [MO.doc_text(d["title"], d["text"]) for d in docs],
        "query_ids": qids,
        "query_texts": [q["text"] for q in queries],
        "positives": positives,
        "D": np.stack([vec[i] for i in dids]),
        "Q": np.stack([vec[i] for i in qids]),
        "records": (
            [Query(q["_id"], q["text"]) for q in queries],
            [Doc(d["_id"], d["text"], d["title"]) for d in docs],
            [Qrel(q, d, int(r)) for q, d, r in rows],
        ),
    }


# --- dense ----------------------------------------------------------------------------------------


def _brute(Q: np.ndarray, D: np.ndarray) -> np.ndarray:
    s = Q @ D.T
    return np.lexsort((np.broadcast_to(np.arange(D.shape[0]), s.shape), -s), axis=1)


@pytest.mark.parametrize("chunk_size", [1, 7, None])
def test_dense_topk_matches_brute_force(chunk_size):
    rng = np.random.default_rng(0)
    Q = rng.normal(size=(23, 16)).astype(np.float32)
    D = rng.normal(size=(101, 16)).astype(np.float32)
    idx, scores = M.dense_topk(Q, D, 10, chunk_size=chunk_size)
    ref = _brute(Q, D)[:, :10]
    assert np.array_equal(np.stack(idx), ref)
    assert np.allclose(np.stack(scores), np.take_along_axis(Q @ D.T, ref, axis=1), atol=1e-5)


def test_dense_topk_faiss_agrees_with_numpy(subset):
    a, sa = M.dense_topk(subset["Q"], subset["D"], 30)
    b, sb = M.dense_topk(subset["Q"], subset["D"], 30, backend="faiss")
    assert np.array_equal(np.stack(a), np.stack(b))
    assert np.allclose(np.stack(sa), np.stack(sb), atol=1e-5)


def test_mine_dense_excludes_positives_and_keeps_full_ranking_ranks(subset):
    df = M.mine_dense(
        subset["query_ids"], subset["Q"], subset["doc_ids"], subset["D"], subset["positives"], 30
    )
    assert list(df.columns[:5]) == M.CANDIDATE_COLUMNS
    assert (df["miner"] == "dense").all()
    order = _brute(subset["Q"], subset["D"])
    for qi, qid in enumerate(subset["query_ids"]):
        g = df[df["query_id"] == qid]
        pos = subset["positives"][qid]
        assert len(g) == 30 and not set(g["doc_id"]) & pos
        full = [subset["doc_ids"][i] for i in order[qi]]
        assert [full[r - 1] for r in g["rank"]] == list(g["doc_id"])
        unlabelled = [d for d in full if d not in pos][:30]
        assert list(g["doc_id"]) == unlabelled
        pscores = [float(subset["D"][subset["doc_ids"].index(d)] @ subset["Q"][qi]) for d in pos]
        assert g["pos_score"].iloc[0] == pytest.approx(max(pscores), abs=1e-5)
        assert g["pos_score_min"].iloc[0] == pytest.approx(min(pscores), abs=1e-5)
        assert g["n_positives"].iloc[0] == len(pos)


@settings(max_examples=40, deadline=None)
@given(
    n_docs=st.integers(1, 40),
    n_queries=st.integers(1, 6),
    top_k=st.integers(1, 15),
    seed=st.integers(0, 10_000),
    pos_share=st.floats(0, 0.5),
)
def test_mining_invariants(n_docs, n_queries, top_k, seed, pos_share):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(n_docs, 8)).astype(np.float32)
    Q = rng.normal(size=(n_queries, 8)).astype(np.float32)
    dids = [f"d{i}" for i in range(n_docs)]
    qids = [f"q{i}" for i in range(n_queries)]
    positives = {q: {d for d in dids if rng.random() < pos_share} for q in qids}
    df = M.mine_dense(qids, Q, dids, D, positives, top_k, chunk_size=2)
    for q in qids:
        g = df[df["query_id"] == q]
        assert not set(g["doc_id"]) & positives[q]
        assert len(g) == min(top_k, n_docs - len(positives[q]))
        assert g["rank"].is_monotonic_increasing and g["rank"].is_unique
        assert (np.diff(g["score"].to_numpy()) <= 1e-6).all()
        # rank minus the positives ranked above it is 1, 2, 3, ...: the unlabelled docs in order
        gaps = g["rank"].to_numpy() - np.arange(1, len(g) + 1)
        assert (gaps >= 0).all() and (gaps <= len(positives[q])).all()
    # permuting the corpus does not change what is mined
    perm = rng.permutation(n_docs)
    df2 = M.mine_dense(qids, Q, [dids[i] for i in perm], D[perm], positives, top_k)
    key = ["query_id", "doc_id", "rank"]
    a = df.sort_values(key)[key].reset_index(drop=True)
    b = df2.sort_values(key)[key].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


# --- BM25 -----------------------------------------------------------------------------------------


def test_bm25_always_stems_with_the_pinned_snowball_stemmer():
    name, stem = M.bm25_stemmer()
    assert name == "snowball-english"
    assert stem(["studies", "proteins", "running", "glasses"]) == ["studi", "protein", "run", "glass"]
    assert M.bm25_tokenize(["The studies of proteins"]) == [["studi", "protein"]]
    pin = re.search(r'"PyStemmer==([^"]+)"', (ROOT / "pyproject.toml").read_text())
    assert pin and f"PyStemmer-{pin.group(1)}-snowball-english" in M.TOKENIZER_ID


def test_bm25_without_pystemmer_is_one_clear_error():
    """No silent fallback: scores would differ between machines."""
    code = ("import sys; sys.modules['Stemmer'] = None\n"
            "from core.mining import bm25_tokenize\nbm25_tokenize(['proteins'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=False)
    assert out.returncode != 0
    assert "BM25 needs PyStemmer" in out.stderr.strip().splitlines()[-1]


def test_bm25_ranks_the_lexical_match_first_and_drops_zero_scores():
    docs = [
        "Cats purr when they are content.",
        "Dogs bark at strangers.",
        "Vitamin D and bone fractures in older adults.",
        "The stock market fell sharply.",
    ]
    df = M.mine_bm25(
        ["q1", "q2"],
        ["vitamin d fracture", "why do cats purr"],
        ["a", "b", "c", "d"],
        docs,
        positives={},
        top_k=4,
    )
    q1 = df[df["query_id"] == "q1"]
    assert list(q1["doc_id"]) == ["c"]  # plural 'fractures' matches 'fracture'; others score 0
    assert list(df[df["query_id"] == "q2"]["doc_id"]) == ["a"]
    assert (df["miner"] == "bm25").all() and (df["score"] > 0).all()


def test_term_coverage_is_the_idf_weighted_share_of_query_terms_in_each_doc():
    """Read from the real bm25s postings: stemmed terms, idf log(N / (1 + df)) + 1, unknown terms count."""
    docs = ["Cats purr when they are content.", "Dogs bark at cats.", "Vitamin D and bone fractures.",
            "Cats and dogs fight.", "The stock market fell."]
    cov = M.term_coverage(M.Bm25Index.build(docs), ["cats purr", "dog fractures unicorn"])
    idf = lambda df: np.log(5 / (1 + df)) + 1
    got = cov(np.array([0, 1]), np.array([[0, 1, 4], [2, 3, 4]]))
    cat, purr = idf(3), idf(1)  # 'cat' in docs 0, 1, 3; 'purr' in doc 0
    dog, frac, unicorn = idf(2), idf(1), idf(0)
    np.testing.assert_allclose(got[0], [1.0, cat / (cat + purr), 0.0])
    np.testing.assert_allclose(got[1], [frac / (dog + frac + unicorn), dog / (dog + frac + unicorn), 0.0])
    assert ((got >= 0) & (got <= 1)).all()


def test_term_coverage_matches_a_set_test_over_each_posting(subset):
    """The binary search of sorted postings gives exactly what a membership test over every posting gives."""
    idx = M.Bm25Index.build(subset["doc_texts"])
    cov = M.term_coverage(idx, subset["query_texts"])
    scores = idx.retriever.scores
    indptr, postings = np.asarray(scores["indptr"]), np.asarray(scores["indices"])
    vocab, n = idx.retriever.vocab_dict, idx.n_docs
    rng = np.random.default_rng(0)
    q = np.arange(len(subset["query_texts"]))
    docs = rng.integers(0, n, (len(q), 12))
    want = np.zeros(docs.shape)
    for i, toks in enumerate(M.bm25_tokenize(subset["query_texts"])):
        total = 0.0
        for t in sorted(set(toks) - {""}):
            tid = vocab.get(t)
            posting = postings[indptr[tid]: indptr[tid + 1]] if tid is not None else postings[:0]
            w = np.log(n / (1.0 + len(posting))) + 1.0
            total += w
            want[i] += w * np.isin(docs[i], posting)
        want[i] /= total or 1.0
    np.testing.assert_array_equal(cov(q, docs), want)


def test_postings_are_sorted_per_term_when_a_bm25s_version_leaves_them_unsorted():
    indptr = np.array([0, 3, 3, 5])
    postings = np.array([7, 2, 5, 9, 1])
    np.testing.assert_array_equal(sorted_postings(indptr, postings), [2, 5, 7, 1, 9])
    already = np.array([2, 5, 7, 1, 9])
    assert sorted_postings(indptr, already) is already


def test_bm25_on_the_subset_keeps_full_ranking_ranks(subset):
    idx = M.Bm25Index.build(subset["doc_texts"])
    raw, _ = M.bm25_topk(idx, subset["query_texts"], 60)
    df = M.mine_bm25(
        subset["query_ids"],
        subset["query_texts"],
        subset["doc_ids"],
        positives=subset["positives"],
        top_k=30,
        index=idx,
    )
    for qi, qid in enumerate(subset["query_ids"]):
        g = df[df["query_id"] == qid]
        full = [subset["doc_ids"][i] for i in raw[qi]]
        assert [full[r - 1] for r in g["rank"]] == list(g["doc_id"])
        assert not set(g["doc_id"]) & subset["positives"][qid]
    # on SciFact the labelled positive is usually in BM25's top 10
    hit = 0
    for qi, qid in enumerate(subset["query_ids"]):
        hit += bool({subset["doc_ids"][i] for i in raw[qi][:10]} & subset["positives"][qid])
    assert hit >= 14


def _same_index(a: M.Bm25Index, b: M.Bm25Index, query_texts: list[str]) -> None:
    assert a.n_docs == b.n_docs and a.retriever.vocab_dict == b.retriever.vocab_dict
    for key in ("data", "indices", "indptr"):
        np.testing.assert_array_equal(a.retriever.scores[key], b.retriever.scores[key])
    toks = M.bm25_tokenize(query_texts)
    np.testing.assert_array_equal(a.scores(toks), b.scores(toks))


def test_a_cached_bm25_index_is_the_built_one_and_is_stored_once(subset, tmp_path):
    """mine and score run as separate processes over one corpus: the second loads what the first built."""
    texts = subset["doc_texts"]
    built = M.Bm25Index.build(texts)
    first = M.Bm25Index.cached(texts, tmp_path)
    stored = [p for p in tmp_path.iterdir()]
    assert [p.name for p in stored] == [M.bm25.index_key(texts)]  # one folder, no temporary left behind
    params = stored[0] / "params.index.json"
    params.write_text(params.read_text().replace('"k1": 1.5', '"k1": 1.25'))  # a mark only a load carries
    second = M.Bm25Index.cached(texts, tmp_path)
    assert second.retriever.k1 == 1.25 and first.retriever.k1 == 1.5  # loaded from disk, not rebuilt
    _same_index(first, built, subset["query_texts"])
    _same_index(second, built, subset["query_texts"])
    cov_built = M.term_coverage(built, subset["query_texts"])(np.arange(3), np.tile(np.arange(5), (3, 1)))
    cov_loaded = M.term_coverage(second, subset["query_texts"])(np.arange(3), np.tile(np.arange(5), (3, 1)))
    np.testing.assert_array_equal(cov_loaded, cov_built)


def test_the_bm25_cache_key_covers_every_text_and_its_order():
    key = M.bm25.index_key
    assert key(["a b", "c"]) != key(["a", "b c"])  # boundaries count (length-prefixed)
    assert key(["a", "b"]) != key(["b", "a"])
    assert key(["a", "b"]) != key(["a", "b", ""])
    assert key(["a", "b"]) == key(("a", "b"))


def test_a_broken_or_unwritable_bm25_cache_still_gives_the_right_index(subset, tmp_path):
    texts, queries = subset["doc_texts"][:120], subset["query_texts"]
    built = M.Bm25Index.build(texts)
    M.Bm25Index.cached(texts, tmp_path)
    folder = tmp_path / M.bm25.index_key(texts)
    (folder / "data.csc.index.npy").write_bytes(b"not an array")  # a torn or tampered file: rebuilt over
    _same_index(M.Bm25Index.cached(texts, tmp_path), built, queries)
    _same_index(M.Bm25Index.cached(texts, tmp_path), built, queries)  # and the rebuilt folder loads
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # a cache root that cannot hold folders (works as root too, unlike chmod)
    _same_index(M.Bm25Index.cached(texts, blocked), built, queries)


def test_mine_candidates_default_is_dense_plus_bm25_from_the_cache(subset, tmp_path, monkeypatch):
    monkeypatch.setenv("NEGAUDIT_ENCODER", "torch")  # the fixture's vectors are torch's
    MO.seed_cache(FX / "embeddings.npz", tmp_path)
    cached = MO.EmbeddingCache(tmp_path).count(MO.model_id(None))
    queries, docs, qrels = subset["records"]
    df = M.mine_candidates(queries, docs, qrels, cache=tmp_path)
    assert MO.EmbeddingCache(tmp_path).count(MO.model_id(None)) == cached  # nothing new was encoded
    assert set(df["miner"]) == {"dense", "bm25"}
    assert df.groupby("miner").size()["dense"] == 20 * 30
    assert (df.groupby(["miner", "query_id"]).size() <= 30).all()


# --- the mine_hard_negatives knobs, against the real function -----------------------------------

KNOBS = [
    {},
    {"num_negatives": 5},
    {"range_min": 3, "range_max": 20, "num_negatives": 5},
    {"relative_margin": 0.05, "num_negatives": 10},
    {"relative_margin": 0.3, "num_negatives": 10},
    {"absolute_margin": 0.1, "num_negatives": 4},
    {"absolute_margin": -0.05, "num_negatives": 6},
    {"max_score": 0.5, "num_negatives": 8, "range_max": 25},
    {"min_score": 0.3, "num_negatives": 3, "range_max": 30},
    {"sampling_strategy": "random", "num_negatives": 5, "range_max": 30},
    {"sampling_strategy": "random", "num_negatives": 6, "relative_margin": 0.05, "range_min": 2},
    {
        "relative_margin": 0.05,
        "absolute_margin": 0.02,
        "max_score": 0.6,
        "range_min": 1,
        "range_max": 40,
        "num_negatives": 30,
    },
]


@pytest.fixture(scope="module")
def st_inputs(subset, tmp_path_factory, bi_encoder):
    """mine_hard_negatives' inputs, with its own cache pre-filled with our vectors (no encoding)."""
    from datasets import Dataset

    dt, qt = subset["doc_texts"], subset["query_texts"]
    pairs = [
        (qt[i], dt[subset["doc_ids"].index(d)])
        for i, q in enumerate(subset["query_ids"])
        for d in sorted(subset["positives"][q])
    ]
    ds = Dataset.from_dict({"query": [a for a, _ in pairs], "answer": [b for _, b in pairs]})
    cache = tmp_path_factory.mktemp("st_cache")
    name = bi_encoder.model_card_data.base_model or ""
    corpus = list(dict.fromkeys(dt + [b for _, b in pairs]))
    queries = list(dict.fromkeys(a for a, _ in pairs))

    def h(texts):
        return hashlib.sha256(repr((name, None, None, texts)).encode()).hexdigest()

    np.save(
        cache / f"query_embeddings_{h(queries)}.npy", subset["Q"][[qt.index(x) for x in queries]]
    )
    np.save(
        cache / f"corpus_embeddings_{h(corpus)}.npy", subset["D"][[dt.index(x) for x in corpus]]
    )
    return ds, str(cache)


@pytest.mark.parametrize(
    "knobs", KNOBS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "defaults"
)
def test_knobs_match_mine_hard_negatives(subset, st_inputs, bi_encoder, knobs):
    from sentence_transformers.util import mine_hard_negatives

    ds, cache = st_inputs
    random.seed(0)
    out = mine_hard_negatives(
        ds,
        bi_encoder,
        corpus=subset["doc_texts"],
        output_format="labeled-pair",
        output_scores=True,
        cache_folder=cache,
        verbose=False,
        **knobs,
    )
    text2id = dict(zip(subset["doc_texts"], subset["doc_ids"]))
    q_of = dict(zip(subset["query_texts"], subset["query_ids"]))
    theirs: dict[str, dict[str, float]] = {}
    for q, d, s in zip(out["query"], out["answer"], out["score"]):
        qid, did = q_of[q], text2id[d]
        if did not in subset["positives"][qid]:
            theirs.setdefault(qid, {})[did] = s

    df = M.mine_dense(
        subset["query_ids"], subset["Q"], subset["doc_ids"], subset["D"], subset["positives"], 300
    )
    marked = M.mark_filters(df, M.MiningConfig(**knobs, seed=0))
    assert len(marked) == len(df)  # a view: nothing is dropped
    kept = marked[marked["passes_filters"]]
    ours = {q: dict(zip(g["doc_id"], g["score"])) for q, g in kept.groupby("query_id")}
    for qid in subset["query_ids"]:
        assert set(ours.get(qid, {})) == set(theirs.get(qid, {})), qid
        for d, s in theirs.get(qid, {}).items():
            assert ours[qid][d] == pytest.approx(s, abs=1e-5)
    reasons = set(marked["filter_reason"])
    assert reasons <= {
        "",
        "outside_window",
        "absolute_margin",
        "relative_margin",
        "max_score",
        "min_score",
        "range_min",
        "range_max",
        "not_sampled",
    }
    for knob in ("absolute_margin", "relative_margin", "max_score", "min_score"):
        if knob not in knobs:
            assert knob not in reasons


@pytest.mark.parametrize(
    "knobs", [k for k in KNOBS if k.get("sampling_strategy") != "random"],
    ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()) or "defaults")
def test_export_knobs_keep_what_mine_hard_negatives_keeps(subset, knobs):
    """`negaudit export` with the same knobs, on candidates mined as deep as mine_hard_negatives looks
    (the window above), keeps the negatives `mark_filters` keeps: the ones the real function keeps."""
    from core.export import ExportPolicy, apply_policy

    df = M.mine_dense(
        subset["query_ids"], subset["Q"], subset["doc_ids"], subset["D"], subset["positives"], 300
    )
    cfg = M.MiningConfig(**knobs, seed=0)
    marked = M.mark_filters(df, cfg)
    window = cfg.resolved_range_max(int(df["n_positives"].max())) + int(df["n_positives"].max())
    mined = df[df["rank"] <= window]
    risk = mined.assign(
        fn_risk=0.0, pos_score=mined["pos_score_min"],  # the only positive of most queries
        signals=[json.dumps({"dense_score": float(s)}) for s in mined["score"]])
    qrels = pd.DataFrame([(q, d, 1, "test") for q, ds in subset["positives"].items() for d in ds],
                         columns=["query_id", "doc_id", "relevance", "split"])
    policy = ExportPolicy(drop_risk_above=None, sampling="top", num_negatives=cfg.num_negatives,
                          range_min=cfg.range_min, range_max=cfg.resolved_range_max(int(df["n_positives"].max())),
                          **{k: knobs[k] for k in ("min_score", "max_score", "absolute_margin",
                                                   "relative_margin") if k in knobs})
    rows, _ = apply_policy(mined, risk, None, qrels, policy)
    ours = rows[rows.label == 0].groupby("query_id")["doc_id"].apply(set).to_dict()
    theirs = marked[marked["passes_filters"]].groupby("query_id")["doc_id"].apply(set).to_dict()
    assert ours == theirs
    if knobs:
        assert sum(map(len, ours.values())) < len(mined)


def test_some_knobs_really_drop_candidates(subset):
    df = M.mine_dense(
        subset["query_ids"], subset["Q"], subset["doc_ids"], subset["D"], subset["positives"], 300
    )
    marked = M.mark_filters(df, M.MiningConfig(relative_margin=0.3, num_negatives=10))
    assert (marked["filter_reason"] == "relative_margin").sum() > 0
    summary = M.drop_summary(marked)
    assert summary["share"].sum() == pytest.approx(1.0)
    assert "kept" in set(summary["filter_reason"])


@pytest.mark.parametrize(
    "knobs, message",
    [
        ({"num_negatives": 0}, "num_negatives"),
        ({"range_min": 5, "range_max": 5}, "range_min"),
        ({"range_min": 5, "range_max": 7, "num_negatives": 3}, "cannot keep"),
        ({"sampling_strategy": "best"}, "sampling_strategy"),
    ],
)
def test_config_rejects_what_mine_hard_negatives_rejects(knobs, message):
    df = pd.DataFrame(
        {
            "query_id": ["q"],
            "doc_id": ["d"],
            "miner": ["dense"],
            "rank": [1],
            "score": [0.5],
            "n_positives": [1],
            "pos_score": [0.6],
            "pos_score_min": [0.6],
        }
    )
    with pytest.raises(ValueError, match=message):
        M.mark_filters(df, M.MiningConfig(**knobs))


def test_default_range_max_follows_mine_hard_negatives():
    assert M.MiningConfig(num_negatives=3).resolved_range_max(2) == 5
    assert M.MiningConfig(num_negatives=3, relative_margin=0.05).resolved_range_max(2) == 32
    assert M.MiningConfig(range_min=4, num_negatives=3, max_score=0.9).resolved_range_max(1) == 35


@pytest.mark.slow
def test_mining_bench_on_the_subset(tmp_path):
    """The whole bench (whole processes: mine_hard_negatives, `negaudit audit` cold and cached, real
    encoding) on 20 queries x 300 docs, one order, with the nDCG@10 parity table."""
    from core.bench.mining import format_report, run_mining_bench

    r = run_mining_bench(FX, top_k=30, orders="st-first", with_ap=False, verbose=False,
                         work_dir=tmp_path)
    row = r["passes"][0]
    st, audit, cached = row["st"], row["audit"], row["cached"]
    assert st["n_queries"] == 20 and st["n_docs"] == 300
    assert 0 <= st["negatives_kept"] <= st["negatives_possible"] == 600
    assert audit["candidates_by_miner"]["dense"] == 600 and audit["scored"]
    cache = MO.EmbeddingCache(tmp_path / "cache-0")
    assert cache.count(MO.model_id(None)) == 320  # every doc and query, once, by the default encoder
    assert cached["candidates"] == audit["candidates"] and cached["cpu_s"] < audit["cpu_s"]
    for side in (st, audit, cached):
        assert side["peak_rss_mb"] > 0 and side["process_wall_s"] > 0 and side["cpu_s"] > 0
    par = r["parity"]
    assert 0 < par["st"]["nDCG@10"] <= 1 and abs(par["delta_nDCG@10"]) < 0.05
    assert "mine_hard_negatives" in format_report(r) and "nDCG@10" in format_report(r)


@pytest.mark.slow
def test_mining_bench_times_late_interaction_apart(tmp_path):
    """`--late-interaction`: a cold audit with the opt-in signal right after the default one, its extra
    wall reported apart; the default audit stays without it."""
    from core.bench.mining import format_report, run_mining_bench

    r = run_mining_bench(FX, top_k=30, orders="ours-first", with_parity=False, verbose=False,
                         work_dir=tmp_path, late_interaction=True)
    row = r["passes"][0]
    assert row["order"] == ["audit", "late", "st", "cached"]
    audit, late = row["audit"], row["late"]
    assert late["late_interaction"] and not audit["late_interaction"] and not row["cached"]["late_interaction"]
    assert late["candidates"] == audit["candidates"] and late["scored"]
    assert row["late_extra_wall_s"] == late["process_wall_s"] - audit["process_wall_s"]
    assert row["ratio_wall_late"] == late["process_wall_s"] / row["st"]["process_wall_s"]
    assert "with --late-interaction (opt-in)" in format_report(r)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    num_negatives=st.integers(1, 5),
    range_min=st.integers(0, 3),
    relative_margin=st.one_of(st.none(), st.floats(0, 0.5)),
    max_score=st.one_of(st.none(), st.floats(-1, 1)),
)
def test_filters_are_a_view_independent_of_row_order(
    seed, num_negatives, range_min, relative_margin, max_score
):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(40, 8)).astype(np.float32)
    D /= np.linalg.norm(D, axis=1, keepdims=True)
    Q = rng.normal(size=(5, 8)).astype(np.float32)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    dids, qids = [f"d{i}" for i in range(40)], [f"q{i}" for i in range(5)]
    positives = {q: {dids[j] for j in rng.choice(40, 2, replace=False)} for q in qids}
    df = M.mine_dense(qids, Q, dids, D, positives, top_k=30)
    cfg = M.MiningConfig(
        range_min=range_min,
        num_negatives=num_negatives,
        relative_margin=relative_margin,
        max_score=max_score,
    )
    marked = M.mark_filters(df, cfg)
    assert len(marked) == len(df)
    assert (marked.groupby("query_id")["passes_filters"].sum() <= num_negatives).all()
    assert ((marked["filter_reason"] == "") == marked["passes_filters"]).all()
    shuffled = M.mark_filters(df.sample(frac=1, random_state=seed), cfg)
    key = ["query_id", "doc_id"]
    a = marked.sort_values(key)[key + ["passes_filters", "filter_reason"]].reset_index(drop=True)
    b = shuffled.sort_values(key)[key + ["passes_filters", "filter_reason"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


@given(st.lists(st.sampled_from(["vitamin", "deafness", "flax", "oil", "b12", "omega-3", "Dr.", "soy"]),
                min_size=1, max_size=6),
       st.sampled_from(["the", "of", "in", "and", "with", "is"]), st.randoms(use_true_random=False))
def test_topic_queries_names_topics_and_any_stop_word_makes_a_sentence(words, stop, rnd) -> None:
    """A query of content words names a topic whatever their order or case; one stop word anywhere makes it a
    sentence; an empty query names nothing."""
    from core.mining import topic_queries

    shuffled = words[:]
    rnd.shuffle(shuffled)
    at = rnd.randrange(len(words) + 1)
    sentence = [*words[:at], stop.upper() if at % 2 else stop, *words[at:]]
    out = topic_queries([" ".join(words), " ".join(shuffled).upper(), " ".join(sentence), "", "  ?! "])
    assert out.tolist() == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_topic_queries_on_real_nfcorpus_queries() -> None:
    from core.mining import topic_queries

    assert topic_queries(["deafness", "dr. dean ornish", "endocrine disruptors", "stopping heart disease in childhood",
                          "the role of fruit and vegetable consumption in preventing cancer ."]).tolist() == [1, 1, 1, 0, 0]


def test_bm25s_debug_lines_stay_out_of_the_output():
    """bm25s sets its logger to DEBUG on import; the index builder puts it back at WARNING."""
    import logging

    from core.mining.bm25 import Bm25Index

    Bm25Index.build(["one doc about cells", "another doc about mice"])
    assert logging.getLogger("bm25s").getEffectiveLevel() == logging.WARNING
