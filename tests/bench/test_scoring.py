"""`negaudit bench scoring`: the grown SciFact is a valid dataset, and the bench runs end to end (slow)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.bench.scoring import format_report, grow_scifact, run_scoring_bench
from core.ingest import load_beir


def test_grown_scifact_is_a_consistent_beir_folder_with_vectors(tmp_path):
    out = tmp_path / "grown"
    sizes = grow_scifact(out, docs_x=2, queries_x=2, seed=1)
    docs = [json.loads(line) for line in (out / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (out / "queries.jsonl").open()]
    assert sizes["docs"] == len(docs) == 2 * 5183
    assert sizes["queries"] == len(queries) == 2 * 1109
    doc_ids = {d["_id"] for d in docs}
    assert len(doc_ids) == len(docs) and len({q["_id"] for q in queries}) == len(queries)
    qrels = [line.split("\t") for line in (out / "qrels" / "train.tsv").read_text().splitlines()[1:]]
    assert len(qrels) == sizes["qrels"] and {d for _, d, _ in qrels} <= doc_ids
    by_id = {d["_id"]: d for d in docs}
    copy = next(d for d in docs if d["_id"].endswith("~1"))
    assert copy["text"] != by_id[copy["_id"][:-2]]["text"]  # a copy is a new text, not the original
    z = np.load(out.with_suffix(".npz"))
    assert list(z["ids"]) == [d["_id"] for d in docs] + [q["_id"] for q in queries]
    np.testing.assert_allclose(np.linalg.norm(z["vectors"], axis=1), 1.0, atol=1e-5)
    # the folder reads as a user's BEIR data would (ids, qrels and split)
    ds = load_beir(out, "train")
    assert len(ds.docs) == len(docs) and len(ds.qrels) == len(qrels) and set(ds.qrels.split) == {"train"}


@pytest.mark.slow
def test_scoring_bench_runs_the_pipeline_steps_and_reports_them(tmp_path):
    r = run_scoring_bench(docs_x=1, queries_x=1, top_k=5, work_dir=tmp_path, verbose=False)
    for step in ("ingest", "embeddings", "mine", "score"):
        assert r[step]["process_wall_s"] > 0 and r[step]["peak_rss_mb"] > 0
    assert r["score"]["said"][0].startswith("scored ")
    assert any((tmp_path / "cache").rglob("*")), "the vectors went to the bench's own cache"
    text = format_report(r)
    assert "score / mine" in text and "5,183 docs" in text
