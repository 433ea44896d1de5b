"""`--engine ray` gives what the in-process engine gives, on a local Ray instance and a real SciFact subset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("ray")
pytestmark = pytest.mark.ray  # deselect with -m "not ray"

from core import encoders as models
from core.engines import ray_engine
from core.ingest import ingest_beir
from core.pipeline import load_corpus, mine_dataset, score_dataset
from core.store import Store

FIXTURE = Path(__file__).parents[1] / "fixtures" / "beir_scifact"
KEY = ["miner", "query_id", "doc_id"]


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray instance for the session (2 CPUs, as in CI), shut down afterwards."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module", autouse=True)
def torch_encoder():
    """The torch encoder in this module (the driver passes its choice to the actors): dynamic int8,
    the default, scales activations per batch and the engines batch differently, so their int8
    vectors differ in the third decimal and the equality checks below would not hold."""
    mp = pytest.MonkeyPatch()
    mp.setenv("NEGAUDIT_ENCODER", "torch")
    yield
    mp.undo()


@pytest.fixture(scope="module")
def both(tmp_path_factory, bi_encoder, ray_local):
    """The same dataset mined and scored in-process and on Ray, each with its own empty cache."""
    tmp = tmp_path_factory.mktemp("ray")
    mp = pytest.MonkeyPatch()
    # several query batches / score partitions, so partitioning is exercised on 60 queries
    mp.setattr(ray_engine, "QUERIES_PER_MINE_BATCH", 16)
    mp.setattr(ray_engine, "QUERIES_PER_SCORE_PART", 16)
    mp.setenv("NEGAUDIT_RAY_WORK", str(tmp / "work"))
    out = {}
    for engine in ("local", "ray"):
        store = Store.open(str(tmp / f"{engine}.duckdb"))
        ingest_beir(store, FIXTURE, "sf")
        cache = tmp / f"cache-{engine}"
        model = bi_encoder if engine == "local" else None  # Ray actors load the packaged model themselves
        corpus = load_corpus(store, "sf")
        cands = mine_dataset(store, "sf", model=model, cache=cache, engine=engine, corpus=corpus)
        encoded = corpus.encoded
        top = cands.sort_values(["query_id", "score"], ascending=[True, False]).groupby("query_id").head(2)
        for i, row in enumerate(top.head(8).itertuples()):  # judgments of both classes: the refit runs
            store.add_judgment("sf", row.query_id, row.doc_id, "ann", ["false_negative", "negative"][i % 2])
        scored = score_dataset(store, "sf", model=model, cache=cache, engine=engine)
        out[engine] = {"store": store, "cands": cands, "scored": scored, "cache": cache, "encoded": encoded}
    yield out
    mp.undo()
    for v in out.values():
        v["store"].close()


def _near_tie_swaps(local: pd.DataFrame, ray: pd.DataFrame) -> pd.DataFrame:
    """Rank slots where the two engines put different docs; both docs must score the same within 1e-6."""
    m = local.merge(ray, on=["miner", "query_id", "rank"], how="outer", suffixes=("", "_ray"))
    return m[m.doc_id != m.doc_id_ray]


def test_ray_candidates_equal_in_process(both):
    local, ray = both["local"]["cands"], both["ray"]["cands"]
    assert len(local) == len(ray) > 0
    assert list(local.columns) == list(ray.columns)
    # faiss and numpy's BLAS may order two docs whose cosines differ by rounding only
    swaps = _near_tie_swaps(local, ray)
    assert len(swaps) <= 4 and ((swaps.score - swaps.score_ray).abs() < 1e-6).all()
    same = ~local.set_index(["miner", "query_id", "rank"]).index.isin(
        swaps.set_index(["miner", "query_id", "rank"]).index)
    pd.testing.assert_frame_equal(local.loc[same, KEY + ["rank"]].reset_index(drop=True),
                                  ray.loc[same, KEY + ["rank"]].reset_index(drop=True), check_dtype=False)
    np.testing.assert_allclose(ray["score"], local["score"], atol=1e-5)
    np.testing.assert_allclose(ray["pos_score"], local["pos_score"], atol=1e-5)


def test_ray_numpy_knn_is_bit_identical(both, bi_encoder):
    store = both["ray"]["store"]
    corpus = load_corpus(store, "sf")
    ray_engine.embed_corpus(corpus, None, both["ray"]["cache"])
    ours = ray_engine.mine_corpus(corpus, 30, ("dense", "bm25"), backend="numpy")
    local = both["local"]["cands"]
    pd.testing.assert_frame_equal(local.reset_index(drop=True), ours, check_dtype=False)


def test_ray_fn_risk_equals_in_process(both):
    local, ray = both["local"]["scored"], both["ray"]["scored"]
    assert local.judgments_used == ray.judgments_used == 8
    m = local.candidates.merge(ray.candidates, on=KEY, suffixes=("", "_ray"))
    assert len(m) >= len(local.candidates) - 4  # all but the near-tie swaps above
    np.testing.assert_allclose(m["fn_risk_ray"], m["fn_risk"], atol=1e-5)
    assert (m["reasons_ray"] == m["reasons"]).mean() > 0.99  # a float at a threshold may flip one
    pd.testing.assert_frame_equal(local.queries.reset_index(drop=True), ray.queries.reset_index(drop=True),
                                  check_dtype=False, atol=1e-6)
    risk = both["ray"]["store"].risk("sf")
    assert len(risk) == ray.candidates[["query_id", "doc_id"]].drop_duplicates().shape[0]


def test_ray_embeddings_come_from_the_shared_cache(both, bi_encoder):
    assert both["ray"]["encoded"] == 210  # 150 docs + 60 queries, encoded by the actors
    mid = models.model_id(None)
    assert models.EmbeddingCache(both["ray"]["cache"]).count(mid) == 210
    store = both["ray"]["store"]
    corpus = load_corpus(store, "sf")
    assert ray_engine.fill_cache(corpus.doc_texts, None, both["ray"]["cache"]) == 0  # no actor starts
    emb = ray_engine.embed_texts(corpus.doc_texts, None, both["ray"]["cache"])
    ref, stats = models.encode_texts_with_stats(bi_encoder, corpus.doc_texts, cache=both["local"]["cache"])
    assert stats.encoded == 0
    np.testing.assert_allclose(emb, ref, atol=1e-5)


def test_cli_mine_and_score_with_engine_ray(both, ray_local, tmp_path):
    """The CLI joins the running cluster (RAY_ADDRESS); embeddings are already in the cache."""
    env = {**os.environ, "NEGAUDIT_CACHE": str(both["ray"]["cache"]), "NEGAUDIT_RAY_WORK": str(tmp_path),
           "RAY_ADDRESS": ray_local.get_runtime_context().gcs_address, "HF_HUB_OFFLINE": "1"}
    path = tmp_path / "cli.duckdb"
    cli = [sys.executable, "-m", "core.cli"]
    with Store.open(str(path)) as store:
        ingest_beir(store, FIXTURE, "sf")
    for cmd in (["mine", "--name", "sf", "--engine", "ray"], ["score", "--name", "sf", "--engine", "ray"]):
        out = subprocess.run(cli + cmd + ["--db", str(path)], check=False, capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr[-2000:]
    assert "scored" in out.stdout
    with Store.open(str(path)) as store:
        cands = store.candidates("sf")
    assert len(cands) == len(both["ray"]["cands"])


def test_unknown_engine_is_a_user_error():
    from core.engines import get_engine
    from core.types import NegauditError

    with pytest.raises(NegauditError, match="unknown engine 'spark'"):
        get_engine("spark")
