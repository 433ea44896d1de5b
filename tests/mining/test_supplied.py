"""Mining and scoring a dataset with supplied embeddings (issue 16) encode nothing, use exactly the
supplied vectors, and refuse a run that asks for another model. Real MiniLM vectors of the SciFact
fixture (the demo's committed export) are supplied as a user who encoded elsewhere would."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.ingest import ingest_beir
from core.ingest.embeddings import ingest_embeddings
from core.types import NegauditError

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures" / "beir_scifact"
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def supplied_npz(tmp_path_factory) -> Path:
    """The fixture's 150 docs and 60 queries, vectors from data/scifact.minilm.emb.f16.npz."""
    from core.encoders import load_embeddings

    ef = load_embeddings(ROOT / "data" / "scifact.minilm.emb.f16.npz")
    pos = {rid: i for i, rid in enumerate(ef.ids)}
    arrays = {}
    for kind, file in (("doc", "corpus.jsonl"), ("query", "queries.jsonl")):
        ids = [json.loads(line)["_id"] for line in (FIX / file).read_text().splitlines()]
        arrays[f"{kind}_ids"] = np.array(ids)
        arrays[f"{kind}_vectors"] = ef.embeddings[[pos[f"{kind}:{i}"] for i in ids]]
    path = tmp_path_factory.mktemp("supplied") / "sf.npz"
    np.savez(path, model=np.array(MODEL), **arrays)
    return path


@pytest.fixture
def store(tmp_path: Path):
    from core.store import Store

    s = Store.open(str(tmp_path / "t.duckdb"))
    ingest_beir(s, FIX, "sf")
    yield s
    s.close()


def test_run_encodes_nothing_and_mines_the_supplied_vectors(tmp_path: Path, store, supplied_npz,
                                                             monkeypatch) -> None:
    from core.encoders import encode
    from core.mining import dense_topk
    from core.pipeline import load_corpus, run

    ingest_embeddings(store, supplied_npz, "sf", cache=tmp_path / "cache")

    def no_model(*_a, **_k):  # a real failure, not a mock of the product: nothing may load a model
        raise AssertionError("a model was loaded for a dataset with supplied embeddings")

    monkeypatch.setattr(encode, "load_encoder", no_model)
    res = run(store, "sf", top_k=10)  # no cache given: the one the vectors went into is used
    assert res.encoded == 0
    corpus = load_corpus(store, "sf")
    assert corpus.supplied is not None and corpus.knn_backend == "auto"
    z = np.load(supplied_npz)
    doc_vec = dict(zip(z["doc_ids"].tolist(), z["doc_vectors"]))
    q_vec = dict(zip(z["query_ids"].tolist(), z["query_vectors"]))
    dense = res.candidates[res.candidates.miner == "dense"]
    assert len(dense) == 10 * len(corpus.query_ids)  # every query, top 10 unlabelled docs
    cos = [float(doc_vec[d] @ q_vec[q] / np.linalg.norm(doc_vec[d]) / np.linalg.norm(q_vec[q]))
           for q, d in zip(dense.query_id, dense.doc_id)]
    np.testing.assert_allclose(dense.score, cos, atol=1e-5)  # scores are the supplied cosines
    qid = dense.query_id.iloc[0]
    d_ids = list(doc_vec)
    dmat = np.stack([doc_vec[d] for d in d_ids])
    dmat /= np.linalg.norm(dmat, axis=1, keepdims=True)
    q = q_vec[qid] / np.linalg.norm(q_vec[qid])
    top, _ = dense_topk(q[None], dmat, 10 + len(corpus.positives.get(qid, ())))
    expect = [d_ids[i] for i in top[0] if d_ids[i] not in corpus.positives.get(qid, ())][:10]
    assert dense[dense.query_id == qid].doc_id.tolist() == expect
    assert res.candidates.fn_risk.between(0, 1).all() and len(res.queries) > 0


def test_a_run_naming_another_model_is_one_clear_error(tmp_path: Path, store, supplied_npz) -> None:
    from core.encoders import default_model_path
    from core.pipeline import mine_dataset, score_dataset

    ingest_embeddings(store, supplied_npz, "sf", cache=tmp_path / "cache")
    for other in ("e5-base", str(default_model_path())):
        for call in (mine_dataset, score_dataset):
            with pytest.raises(NegauditError, match="has supplied embeddings from model "
                                                    "'all-MiniLM-L6-v2' \\(384-d\\); this run asks "
                                                    "for model") as info:
                call(store, "sf", model=other)
            assert "\n" not in str(info.value)
    mine_dataset(store, "sf", model=MODEL, miners=("dense",), top_k=3)  # its own name is fine


def test_missing_vectors_are_an_error_not_a_silent_encode(tmp_path: Path, store, supplied_npz
                                                          ) -> None:
    from core.pipeline import mine_dataset

    z = dict(np.load(supplied_npz))
    np.savez(tmp_path / "part.npz", model=z["model"], doc_ids=z["doc_ids"][:100],
             doc_vectors=z["doc_vectors"][:100], query_ids=z["query_ids"],
             query_vectors=z["query_vectors"])
    ingest_embeddings(store, tmp_path / "part.npz", "sf", cache=tmp_path / "cache")
    with pytest.raises(NegauditError, match="50 texts of dataset 'sf' have no supplied vector"):
        mine_dataset(store, "sf", miners=("dense",))
    mine_dataset(store, "sf", miners=("bm25",))  # BM25 needs no vectors


def test_cli_mine_refuses_another_model_with_exit_2(tmp_path: Path, supplied_npz) -> None:
    import os
    import subprocess
    import sys

    from core.encoders import default_model_path

    db = str(tmp_path / "c.duckdb")
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "NEGAUDIT_CACHE": str(tmp_path / "c")}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "core.cli", *args], capture_output=True,
                              text=True, env=env, timeout=300, check=False, cwd=ROOT)

    assert cli("ingest", "beir", str(FIX), "--name", "sf", "--db", db).returncode == 0
    r = cli("ingest", "embeddings", str(supplied_npz), "--into", "sf", "--db", db)
    assert r.returncode == 0, r.stderr
    r = cli("mine", "--name", "sf", "--db", db, "--model", str(default_model_path()))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("error: ") and "supplied embeddings" in r.stderr, r.stderr
    r = cli("mine", "--name", "sf", "--db", db, "--top-k", "5")
    assert r.returncode == 0 and "mined" in r.stdout, r.stderr
