"""The fn-detection bench on a small real subset (NFCorpus, 20 queries, stored embeddings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FIX = Path(__file__).parents[1] / "fixtures" / "risk" / "nfcorpus_small"


def test_sparsify_keeps_one_and_hides_rest() -> None:
    import pandas as pd

    from core.bench.fn_detection import sparsify_qrels

    q = pd.DataFrame({"query_id": ["q"] * 3 + ["r"], "doc_id": ["a", "b", "c", "d"], "relevance": [1, 2, 0, 1]})
    kept, hidden = sparsify_qrels(q, 1, 0)
    assert len(kept["q"]) == 1 and kept["q"] | hidden["q"] == {"a", "b"} and hidden["r"] == set()


def test_sample_queries_is_seeded_sorted_and_order_free() -> None:
    """The few-query check (``--query-sample``): the same draw for the same seed whatever order the ids came in,
    another for another seed, all of them when N is not smaller."""
    from core.bench.fn_detection import sample_queries

    ids = [f"q{i}" for i in range(300)]
    a = sample_queries(ids, 35, 0)
    assert len(a) == len(set(a)) == 35 and a == sorted(a) and set(a) <= set(ids)
    assert sample_queries(list(reversed(ids)), 35, 0) == a
    assert sample_queries(ids, 35, 1) != a
    assert sample_queries(ids, 300, 0) == sample_queries(ids, 999, 0) == sorted(ids)


def test_sample_docs_is_fixed_in_corpus_order_with_its_qrels() -> None:
    """The small-collection check (``--doc-sample``): the same N docs whatever order the corpus came in (so every
    ``--seed`` sees one collection), kept in corpus order beside their texts, the qrels on them only; the whole
    corpus when N is not smaller."""
    import pandas as pd

    from core.bench.fn_detection import sample_docs

    ids = [f"d{i}" for i in range(500)]
    texts = [f"text of {d}" for d in ids]
    qrels = pd.DataFrame({"query_id": ["q"] * 500, "doc_id": ids, "relevance": [1] * 500})
    d, t, q = sample_docs(ids, texts, qrels, 140)
    assert len(d) == len(set(d)) == 140 and set(d) <= set(ids)
    assert [ids.index(x) for x in d] == sorted(ids.index(x) for x in d)  # corpus order
    assert t == [f"text of {x}" for x in d] and set(q.doc_id) == set(d) and len(q) == 140
    r_d, r_t, _ = sample_docs(list(reversed(ids)), list(reversed(texts)), qrels, 140)
    assert set(r_d) == set(d) and r_t == [f"text of {x}" for x in r_d]
    assert sample_docs(ids, texts, qrels, 500) == (ids, texts, qrels)


@pytest.mark.slow
def test_bench_doc_sample_scores_on_that_many_docs() -> None:
    from core.bench.fn_detection import format_tables, run_fn_detection

    r = run_fn_detection(FIX, embeddings=str(FIX / "emb"), judgments=(0,), verbose=False, doc_sample=400)
    assert r["n_docs"] == 400 and r["doc_sample"] == 400 and 0 < r["n_queries"] <= 20
    assert r["n_candidates"] == 30 * r["n_queries"] and 0 <= r["detection"]["fn_risk"]["AP"] <= 1
    assert "a fixed sample of 400 docs" in format_tables(r)


@pytest.mark.slow
def test_bench_query_sample_scores_that_many_queries() -> None:
    from core.bench.fn_detection import format_tables, run_fn_detection

    r = run_fn_detection(FIX, embeddings=str(FIX / "emb"), judgments=(0,), verbose=False, query_sample=10)
    assert r["n_queries"] == 10 and r["n_candidates"] == 300 and r["query_sample"] == 10
    assert "a seeded sample of 10 queries" in format_tables(r)


@pytest.mark.slow
def test_bench_runs_on_small_real_subset() -> None:
    from core.bench.fn_detection import format_tables, run_fn_detection

    r = run_fn_detection(FIX, embeddings=str(FIX / "emb"), judgments=(0, 50, 100), verbose=False)
    assert r["n_queries"] == 20 and r["n_candidates"] == 600
    for name in ("fn_risk", "1/rank", "dense score", "NV-Retriever ratio", "BM25", "RRF(dense,BM25)",
                 "sim. to kept positive", "BM25 + RM3 feedback"):
        m = r["detection"][name]
        assert 0 <= m["AP"] <= 1 and 0 <= m["P@50"] <= 1 and 0 <= m["P@100"] <= 1
    lo, hi = r["fn_risk_range"]
    assert 0.01 <= lo <= hi <= 0.99  # before any judgment: never 0% or 100%
    assert 0 <= r["ceiling"]["AP"] <= 1 and "ceiling of these signals" in format_tables(r)
    assert [row["sample"] for row in r["probe_calibration"]] == [50, 100, 200]
    assert all(0 <= row["ECE_levelled"] <= 1 and 0 <= row["moved"] <= 1 for row in r["probe_calibration"])
    assert "judged at random" in format_tables(r)
    curve = r["learning_curve"]
    assert [row["judgments"] for row in curve] == [0, 50, 100]
    assert curve[0]["static"] == curve[0]["learned"]  # nothing judged: the static order
    assert curve[2]["remaining"] == 500 and curve[2]["found_static"] <= 100
    assert "learning curve" in format_tables(r) and "P@50" in format_tables(r)
    assert "headroom" not in curve[0]  # nothing judged: nothing to bound
    for row in curve[1:]:
        h = row["headroom"]
        assert all(0 <= h[k] <= 1 for k in ("level_oracle", "level_oracle_untouched", "learner_fit",
                                            "untouched_share_of_fn"))
    assert "level oracle" in format_tables(r)
    # the LSA closeness to the positives' topic: fused on NFCorpus (queries with several relevant docs), and
    # reported alone as evidence
    assert 0 < r["view"]["fused"]["lsa_feedback"] <= 0.35 and "lsa_feedback fused at" in format_tables(r)
    assert 0 <= r["evidence"]["LSA feedback alone"]["AP"] <= 1 and 0 <= r["evidence"]["LSA graph alone"]["AP"] <= 1
    assert r["view"]["fused"]["graph_lsa"] == r["view"]["fused"]["lsa_feedback"]
    assert r["lsa_s"] > 0 and "LSA space (truncated SVD of the BM25 index)" in format_tables(r)


@pytest.mark.slow
def test_bench_token_maxsim_static_by_default_contextual_on_flag_off_on_request() -> None:
    from core.bench.fn_detection import format_tables, run_fn_detection

    kw = {"embeddings": str(FIX / "emb"), "judgments": (0,), "verbose": False}
    static = run_fn_detection(FIX, **kw)
    ctx = run_fn_detection(FIX, late_interaction=True, **kw)
    off = run_fn_detection(FIX, static_maxsim=False, **kw)
    assert (static["maxsim"], ctx["maxsim"], off["maxsim"]) == ("static", "contextual", None)
    for r in (static, ctx):
        assert "late_maxsim" in r["combiner"] and r["late_interaction_s"] > 0
        assert r["view"]["fused"]["late_maxsim"] == 0.25 and "late_maxsim fused at 0.25" in format_tables(r)
        alone = r["evidence"]["token MaxSim alone"]
        assert 0 <= alone["AP"] <= 1 and "(new evidence, not a baseline)" in format_tables(r)
    assert "late_maxsim" not in off["combiner"] and off["late_interaction_s"] is None and "token MaxSim alone" not in off["evidence"]
    assert "late_maxsim" not in off["view"]["fused"] and "token MaxSim" not in format_tables(off)
    assert "token MaxSim (static word pieces)" in format_tables(static)
    assert "token MaxSim (contextual, a second model pass)" in format_tables(ctx)
    assert static["evidence"] != ctx["evidence"]  # two different token tables
    assert static["n_candidates"] == ctx["n_candidates"] == off["n_candidates"]


def test_query_field_takes_another_field_and_leaves_out_queries_without_it(tmp_path: Path) -> None:
    import shutil

    from core.bench.fn_detection import load_beir, query_field_texts
    from core.types import InputError

    folder = tmp_path / "nf"
    shutil.copytree(FIX, folder, ignore=shutil.ignore_patterns("emb*"))
    lines = (folder / "queries.jsonl").read_text().splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[1])
    first["vid-desc"] = "a sentence about <b>deafness</b> and how diet may help"
    second["vid-desc"] = "   "  # blank: left out, as a query without the field
    (folder / "queries.jsonl").write_text("\n".join([json.dumps(first), json.dumps(second), *lines[2:]]) + "\n")
    _, _, queries, qrels = load_beir(folder, query_field="vid-desc")
    assert queries == {first["_id"]: first["vid-desc"]}
    assert len(load_beir(folder)[2]) == len(lines)  # without the option: every query's text
    assert set(qrels["query_id"]) > set(queries)  # qrels untouched; the bench keeps judged queries it has
    with pytest.raises(InputError, match=r"queries\.jsonl, field 'nope': no query holds this field"):
        query_field_texts(folder / "queries.jsonl", "nope", set(queries))
    second["vid-desc"] = 3
    (folder / "queries.jsonl").write_text("\n".join([json.dumps(first), json.dumps(second)]) + "\n")
    with pytest.raises(InputError, match=r"line 2, field 'vid-desc': expected text, got int"):
        query_field_texts(folder / "queries.jsonl", "vid-desc", {first["_id"], second["_id"]})
    (folder / "queries.jsonl").write_text(json.dumps(first) + "\n{not json\n")
    with pytest.raises(InputError, match=r"line 2: bad JSON"):
        query_field_texts(folder / "queries.jsonl", "vid-desc", {first["_id"]})


def test_module_arguments_end_at_the_first_flag() -> None:
    """``python -m core.bench.fn_detection``: "-" skips a positional, a flag is never read as a path, a bad
    option or call says so."""
    from core.bench.fn_detection import main_kwargs

    kw = main_kwargs(["D", "2", "train", "E", "1", "--late-interaction"])
    assert kw["qrels_file"] is None and kw["late_interaction"] and kw["seed"] == 2 and kw["split"] == "train"
    kw = main_kwargs(["D", "0", "test", "-", "2", "Q.tsv", "--query-field", "vid-desc", "--no-static-maxsim"])
    assert (kw["embeddings"], kw["keep_positives"], kw["qrels_file"]) == (None, 2, "Q.tsv")
    assert kw["query_field"] == "vid-desc" and not kw["static_maxsim"] and not kw["late_interaction"]
    assert main_kwargs(["D"]) == {"beir_dir": "D", "seed": 0, "split": "test", "embeddings": None,
                                  "keep_positives": 1, "qrels_file": None, "late_interaction": False,
                                  "static_maxsim": True, "query_field": None, "query_sample": None,
                                  "doc_sample": None}
    assert main_kwargs(["D", "--query-sample", "35"])["query_sample"] == 35
    kw = main_kwargs(["D", "--doc-sample", "1400", "--query-sample", "35"])
    assert (kw["doc_sample"], kw["query_sample"]) == (1400, 35)
    for bad in (["D", "--late"], ["D", "--query-field"], [], ["--late-interaction"], ["D", "--query-sample", "x"],
                ["D", "--query-sample", "1"], ["D", "--query-sample"], ["D", "--doc-sample", "1"],
                ["D", "--doc-sample", "many"]):
        with pytest.raises(SystemExit):
            main_kwargs(bad)


def test_bench_figures_do_not_depend_on_the_interpreter_hash_seed() -> None:
    """The same inputs, three processes with different PYTHONHASHSEED: the same figures to the last digit.
    (Before BM25 term ids were sorted, RM3's tie-breaking followed set order: AP 0.5227 or 0.5236 here.)"""
    import os
    import subprocess
    import sys

    code = ("import json, sys\nfrom core.bench.fn_detection import run_fn_detection\n"
            f"r = run_fn_detection({str(FIX)!r}, embeddings={str(FIX / 'emb')!r}, judgments=(0, 50), verbose=False)\n"
            "json.dump({k: r[k] for k in ('detection', 'ECE', 'fn_risk_range', 'learning_curve')}, sys.stdout, "
            "sort_keys=True)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**env, "PYTHONHASHSEED": str(h)}).stdout for h in (1, 2, 3)}
    assert len(outs) == 1 and json.loads(outs.pop())["detection"]["fn_risk"]["AP"] > 0
