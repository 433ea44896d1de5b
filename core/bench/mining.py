"""`negaudit bench mining`: default cold ``negaudit audit`` vs ``mine_hard_negatives``, whole processes.

Both sides read one BEIR folder made for the bench (the corpus, the split's queries that have a
positive, that split's qrels), so they see the same queries, corpus texts (``title + " " + text``),
model, batch size and top-k. Each side is a fresh process; the bench waits on it with ``wait4``,
so wall time, CPU seconds and peak RSS are that process's alone (imports and model load included):

* ``st``     — ``sentence_transformers.util.mine_hard_negatives`` with the NV-Retriever recipe
  (TopK-PercPos 95%: ``relative_margin=0.05``, ``sampling_strategy="top"``), ``range_max`` =
  ``num_negatives`` = top_k, ``output_format="labeled-pair"``, the packaged MiniLM on torch;
* ``audit``  — ``negaudit audit FOLDER`` exactly as a user runs it (ingest into a new DuckDB file,
  dense + BM25 top-k, ``fn_risk`` for every candidate, two Parquet files) with an *empty*
  embedding cache and the default encoder; the ONNX export (a model file, made once per machine)
  lives in ``$NEGAUDIT_ONNX_DIR`` and is made before the timed runs;
* ``cached`` — the same command again on the filled cache (a new database; since 9e5fd6a the cache also
  holds the corpus' BM25 index, so this pass tokenises nothing for BM25 either);
* ``late``   — with ``--late-interaction`` only: ``negaudit audit --late-interaction``, cold (its own
  empty cache), right after ``audit``: the opt-in token-MaxSim signal's cost, reported apart as the
  difference to ``audit`` in the same pass.

Passes: ``st, audit, cached`` then ``audit, st`` (both orders: load drifts on shared cores).
Afterwards the parity table: nDCG@10 (full-corpus cosine ranking, ``ir_measures``) of the vectors
each side used — the ST side's are captured from its own ``encode`` calls, ours read back from the
run's cache — and fn-detection AP (``core.bench.fn_detection``'s protocol) on each side's vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

_T_START = time.perf_counter()
DEFAULT_DIR = Path("/work/shared/data/nfcorpus")
ROOT = Path(__file__).resolve().parents[2]


# --- data ----------------------------------------------------------------------------------------


def read_beir(beir_dir: str | Path, split: str = "test", max_queries: int | None = None):
    """(queries with a positive, all docs, positive qrels) of a BEIR folder, read through core.ingest."""
    from core.ingest import load_beir

    return load_beir(beir_dir, split).records(max_queries)


def bench_folder(beir_dir: str | Path, split: str, out: Path, max_queries: int | None = None) -> Path:
    """A BEIR folder both sides read: the corpus, the split's queries with a positive, its qrels."""
    queries, _, qrels = read_beir(beir_dir, split, max_queries)
    keep = {q.query_id for q in queries}
    out.mkdir(parents=True, exist_ok=True)
    (out / "qrels").mkdir(exist_ok=True)
    corpus = out / "corpus.jsonl"
    if not corpus.exists():
        corpus.symlink_to(Path(beir_dir).resolve() / "corpus.jsonl")
    with (out / "queries.jsonl").open("w") as fh:
        for q in queries:
            fh.write(json.dumps({"_id": q.query_id, "text": q.text}) + "\n")
    from core.ingest import load_beir

    graded = load_beir(beir_dir, split).qrels
    graded = graded[graded.query_id.isin(keep)]
    with (out / "qrels" / f"{split}.tsv").open("w") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for q, d, r in zip(graded.query_id, graded.doc_id, graded.relevance):
            fh.write(f"{q}\t{d}\t{int(r)}\n")
    assert len(keep) == len({r.query_id for r in qrels})
    return out


def _cpu_s() -> float:
    """CPU seconds of this process (all threads): unlike wall time, not inflated by other load."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --- the ST side (runs in its own process) -------------------------------------------------------


def _st_side(args: argparse.Namespace) -> dict[str, Any]:
    t_work = time.perf_counter()  # imports count as work on both sides
    import contextlib
    import io

    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    from core.encoders import doc_text, load_bi_encoder

    queries, docs, qrels = read_beir(args.beir_dir, args.split)
    model = load_bi_encoder(args.model)
    spent: dict[str, Any] = {"encode_s": 0.0, "encode_cpu_s": 0.0}
    captured: list[tuple[list[str], np.ndarray]] = []
    encode = model.encode

    def timed_encode(*a: Any, **k: Any) -> Any:  # encode_document/_query call encode
        t, c = time.perf_counter(), _cpu_s()
        out = encode(*a, **k)
        sentences = a[0] if a else k.get("inputs", k.get("sentences"))
        spent["encode_s"] += time.perf_counter() - t
        spent["encode_cpu_s"] += _cpu_s() - c
        if args.vectors_out and isinstance(sentences, list):
            captured.append((sentences, np.asarray(out)))  # for the parity table, after the clock
        return out

    model.encode = timed_encode
    qtext = {q.query_id: q.text for q in queries}
    dtext = {d.doc_id: doc_text(d.title, d.text) for d in docs}
    pairs = [(qtext[r.query_id], dtext[r.doc_id]) for r in qrels if r.doc_id in dtext]
    ds = Dataset.from_dict({"query": [a for a, _ in pairs], "positive": [b for _, b in pairs]})
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        out = mine_hard_negatives(
            ds, model, corpus=list(dtext.values()), range_max=args.top_k, num_negatives=args.top_k,
            relative_margin=args.relative_margin, sampling_strategy="top", batch_size=args.batch_size,
            output_format="labeled-pair", output_scores=True, verbose=True,
        )  # fmt: skip
    n_queries = len({a for a, _ in pairs})
    kept = len(out) - len(set(pairs))
    possible = n_queries * args.top_k
    work_s = time.perf_counter() - t_work
    if args.vectors_out:
        texts = [t for batch, _ in captured for t in batch]
        vecs = np.vstack([v for _, v in captured]).astype(np.float32)
        np.savez(args.vectors_out, texts=np.array(texts), vectors=vecs)
    return {
        "work_s": work_s, **spent, "n_queries": n_queries, "n_docs": len(dtext),
        "positive_pairs": len(pairs), "negatives_kept": kept, "negatives_possible": possible,
        "dropped_share": 1 - kept / possible if possible else 0.0,
        "st_log": [ln for ln in log.getvalue().splitlines() if ln.startswith(("Skipped", "Could not"))],
    }  # fmt: skip


# --- processes -----------------------------------------------------------------------------------


def _spawn(cmd: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run one side to the end: its own wall, CPU seconds and peak RSS (``wait4``'s rusage)."""
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"bench side failed ({' '.join(cmd[:6])} ...):\n{log.read_text()[-3000:]}")
    return {"process_wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime,
            "peak_rss_mb": ru.ru_maxrss / 1024, "load_1m_before": load,
            "load_1m_after": os.getloadavg()[0]}


def _env(cache: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "NO_COLOR": "1"}
    if cache is not None:
        env["NEGAUDIT_CACHE"] = str(cache)
    return env


def _run_st(a: argparse.Namespace, folder: Path, work: Path, tag: str) -> dict[str, Any]:
    result_json = work / f"{tag}.json"
    cmd = [sys.executable, "-m", "core.bench.mining", "--side", "st", "--beir-dir", str(folder),
           "--split", a.split, "--top-k", str(a.top_k), "--batch-size", str(a.batch_size),
           "--relative-margin", str(a.relative_margin), "--result-json", str(result_json),
           "--vectors-out", str(work / f"{tag}.vectors.npz")]
    if a.model:
        cmd += ["--model", a.model]
    figures = _spawn(cmd, _env(), work / f"{tag}.log")
    return {**json.loads(result_json.read_text()), **figures}


def _run_audit(a: argparse.Namespace, folder: Path, work: Path, tag: str, cache: Path,
               late: bool = False) -> dict[str, Any]:
    db, out = work / f"{tag}.duckdb", work / f"{tag}-out"
    cmd = [sys.executable, "-m", "core.cli", "audit", str(folder), "--name", "bench", "--out", str(out),
           "--db", str(db), "--top-k", str(a.top_k)]
    if a.model:
        cmd += ["--model", a.model]
    if late:
        cmd += ["--late-interaction"]
    figures = _spawn(cmd, _env(cache), work / f"{tag}.log")
    import pandas as pd

    cands = pd.read_parquet(out / "candidates.parquet", columns=["miner", "fn_risk"])
    log = (work / f"{tag}.log").read_text()
    return {**figures, "candidates": len(cands), "late_interaction": "with late interaction" in log,
            "candidates_by_miner": cands.groupby("miner").size().to_dict(),
            "scored": bool(cands.fn_risk.notna().all()),
            "summary": log.strip().splitlines()[-2:]}


def prepare_encoder(a: argparse.Namespace) -> dict[str, Any]:
    """Make the default encoder's model file once (ONNX export + int8), outside the timed runs."""
    from core.encoders import default_encoder, load_encoder

    t0 = time.perf_counter()
    load_encoder(a.model, default_encoder())
    return {"encoder": default_encoder(), "prepare_s": time.perf_counter() - t0,
            "onnx_dir": os.environ.get("NEGAUDIT_ONNX_DIR")}


# --- parity --------------------------------------------------------------------------------------


def ndcg_at_10(folder: Path, split: str, qids: list[str], q_emb: np.ndarray, dids: list[str],
               d_emb: np.ndarray) -> float:
    """nDCG@10 of a full-corpus cosine ranking (top 100 per query) with the split's graded qrels."""
    import ir_measures
    from ir_measures import nDCG

    from core.ingest import load_beir
    from core.mining import dense_topk

    qrels = load_beir(folder, split).qrels
    idx, sc = dense_topk(q_emb, d_emb, 100)
    run = [ir_measures.ScoredDoc(q, dids[i], float(s))
           for q, ii, ss in zip(qids, idx, sc) for i, s in zip(ii, ss)]
    rel = [ir_measures.Qrel(q, d, int(r)) for q, d, r in zip(qrels.query_id, qrels.doc_id, qrels.relevance)]
    return float(ir_measures.calc_aggregate([nDCG @ 10], rel, run)[nDCG @ 10])


def fn_ap(folder: Path, split: str, prefix: Path, qids: list[str], q_emb: np.ndarray,
          dids: list[str], d_emb: np.ndarray, seed: int = 0) -> float:
    """fn-detection AP of ``fn_risk`` (core.bench.fn_detection's protocol) on these vectors."""
    from core.bench.fn_detection import run_fn_detection

    for part, ids, emb in (("queries", qids, q_emb), ("corpus", dids, d_emb)):
        np.save(f"{prefix}_{part}.npy", emb)
        Path(f"{prefix}_{part}_ids.json").write_text(json.dumps(ids))
    r = run_fn_detection(folder, split=split, seed=seed, embeddings=str(prefix), judgments=(0,),
                         verbose=False)
    return float(r["detection"]["fn_risk"]["AP"])


def _texts(folder: Path, split: str) -> tuple[list[str], list[str], list[str], list[str]]:
    from core.encoders import doc_text

    queries, docs, _ = read_beir(folder, split)
    return ([q.query_id for q in queries], [q.text for q in queries], [d.doc_id for d in docs],
            [doc_text(d.title, d.text) for d in docs])


def parity(folder: Path, split: str, work: Path, st_vectors: Path, cache: Path,
           with_ap: bool = True) -> dict[str, Any]:
    """nDCG@10 and fn-detection AP of the ST side's vectors (torch) and ours (default encoder)."""
    from core.encoders import default_encoder, encode_texts_with_stats

    qids, qtexts, dids, dtexts = _texts(folder, split)
    z = np.load(st_vectors)
    by_text = dict(zip(z["texts"].tolist(), z["vectors"]))
    st_q = np.stack([by_text[t] for t in qtexts])
    st_d = np.stack([by_text[t] for t in dtexts])
    ours_d, sd = encode_texts_with_stats(None, dtexts, cache=cache)
    ours_q, sq = encode_texts_with_stats(None, qtexts, cache=cache)
    if sd.encoded or sq.encoded:
        raise RuntimeError("the audit run's cache lacks some texts: not the vectors it used")
    out: dict[str, Any] = {"encoder": default_encoder()}
    cos = np.sum(st_d * ours_d, axis=1) / np.linalg.norm(st_d, axis=1) / np.linalg.norm(ours_d, axis=1)
    out["doc_cosine_min_mean"] = [float(cos.min()), float(cos.mean())]
    for side, q, d in (("st", st_q, st_d), ("ours", ours_q, ours_d)):
        out[side] = {"nDCG@10": ndcg_at_10(folder, split, qids, q, dids, d)}
        if with_ap:
            out[side]["fn_AP"] = fn_ap(folder, split, work / f"emb-{side}", qids, q, dids, d)
    out["delta_nDCG@10"] = out["ours"]["nDCG@10"] - out["st"]["nDCG@10"]
    if with_ap:
        out["delta_fn_AP"] = out["ours"]["fn_AP"] - out["st"]["fn_AP"]
    return out


# --- orchestration -------------------------------------------------------------------------------


def run_mining_bench(
    beir_dir: str | Path = DEFAULT_DIR, top_k: int = 30, split: str = "test", batch_size: int = 64,
    relative_margin: float = 0.05, model: str | None = None, max_queries: int | None = None,
    orders: str = "both", with_parity: bool = True, with_ap: bool = True, verbose: bool = True,
    work_dir: str | Path | None = None, late_interaction: bool = False,
) -> dict[str, Any]:
    """Run the passes (see the module docstring) and return their figures (and print the tables).

    ``late_interaction``: also time a cold audit with the opt-in late-interaction signal after each
    pass's ``audit`` (side ``late``), so its cost is reported apart from the default's.
    """
    a = argparse.Namespace(top_k=top_k, split=split, batch_size=batch_size,
                           relative_margin=relative_margin, model=model)
    with tempfile.TemporaryDirectory(prefix="negaudit-bench-mining-") as tmp:
        work = Path(work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        folder = bench_folder(beir_dir, split, work / "beir", max_queries)
        result: dict[str, Any] = {
            "beir_dir": str(beir_dir), "split": split, "top_k": top_k, "batch_size": batch_size,
            "relative_margin": relative_margin, "cpu_count": os.cpu_count(),
            "prepare": prepare_encoder(a), "passes": [],
        }  # fmt: skip
        plan = {"both": [["st", "audit", "cached"], ["audit", "st"]],
                "st-first": [["st", "audit", "cached"]], "ours-first": [["audit", "st", "cached"]]}[orders]
        if late_interaction:
            plan = [[s for side in order for s in ((side, "late") if side == "audit" else (side,))]
                    for order in plan]
        first_cache, first_st = None, None
        for p, order in enumerate(plan):
            cache = work / f"cache-{p}"  # empty for this pass's cold audit
            row: dict[str, Any] = {"order": order}
            for side in order:
                if verbose:
                    print(f"pass {p + 1}: {side} ... (load {os.getloadavg()[0]:.1f})", file=sys.stderr,
                          flush=True)
                if side == "st":
                    row["st"] = _run_st(a, folder, work, f"st-{p}")
                    first_st = first_st or work / f"st-{p}.vectors.npz"
                elif side == "late":  # cold too: its own empty cache
                    row[side] = _run_audit(a, folder, work, f"{side}-{p}", work / f"cache-late-{p}", late=True)
                else:
                    row[side] = _run_audit(a, folder, work, f"{side}-{p}", cache)
                # figures so far, in case a long run is cut short
                (work / "partial.json").write_text(json.dumps({**result, "current": row}, default=str))
            first_cache = first_cache or cache
            row["ratio_wall"] = row["audit"]["process_wall_s"] / row["st"]["process_wall_s"]
            row["ratio_cpu"] = row["audit"]["cpu_s"] / row["st"]["cpu_s"]
            if "late" in row:
                row["late_extra_wall_s"] = row["late"]["process_wall_s"] - row["audit"]["process_wall_s"]
                row["ratio_wall_late"] = row["late"]["process_wall_s"] / row["st"]["process_wall_s"]
            result["passes"].append(row)
        if with_parity and first_st is not None and first_cache is not None:
            if verbose:
                print("parity ...", file=sys.stderr, flush=True)
            result["parity"] = parity(folder, split, work, first_st, first_cache, with_ap)
    if verbose:
        print(format_report(result))
    return result


def format_report(r: dict[str, Any]) -> str:
    lines = [(f"{r['beir_dir']} ({r['split']}), top-k {r['top_k']}, batch {r['batch_size']}, "
              f"{r['cpu_count']} cores; our encoder {r['prepare']['encoder']} (model file ready in "
              f"{r['prepare']['prepare_s']:.1f} s before the runs)"),
             f"{'pass':4s} {'side':20s} {'wall s':>8s} {'CPU s':>8s} {'RSS MB':>7s} {'load':>9s}  rows"]
    names = {"st": "mine_hard_negatives", "audit": "negaudit audit", "cached": "audit, cached",
             "late": "audit --late-inter."}
    for p, row in enumerate(r["passes"], 1):
        for side in row["order"]:
            s = row[side]
            rows = (f"{s['negatives_kept']:,} kept of {s['negatives_possible']:,}" if side == "st"
                    else f"{s['candidates']:,} candidates {s['candidates_by_miner']}, scored {s['scored']}")
            lines.append(f"{p:<4d} {names[side]:20s} {s['process_wall_s']:8.1f} {s['cpu_s']:8.1f} "
                         f"{s['peak_rss_mb']:7.0f} {s['load_1m_before']:4.1f}>{s['load_1m_after']:<4.1f}  {rows}")
        lines.append(f"     audit / mine_hard_negatives: {row['ratio_wall']:.2f}x wall, "
                     f"{row['ratio_cpu']:.2f}x CPU s (target <= 0.6x wall)")
        if "late" in row:
            lines.append(f"     with --late-interaction (opt-in): {row['ratio_wall_late']:.2f}x wall; the signal "
                         f"adds {row['late_extra_wall_s']:+.1f} s wall to the cold audit")
    par = r.get("parity")
    if par:
        lines += ["", (f"parity (torch vectors of mine_hard_negatives vs ours, {par['encoder']}; doc cosine "
                       f"min {par['doc_cosine_min_mean'][0]:.4f} mean {par['doc_cosine_min_mean'][1]:.4f}):"),
                  f"{'':22s} {'nDCG@10':>8s} {'fn AP':>7s}"]
        for side in ("st", "ours"):
            ap = par[side].get("fn_AP")
            lines.append(f"{names['st' if side == 'st' else 'audit']:22s} {par[side]['nDCG@10']:8.4f} "
                         + (f"{ap:7.3f}" if ap is not None else "      -"))
        lines.append(f"{'delta (ours - torch)':22s} {par['delta_nDCG@10']:+8.4f} "
                     + (f"{par['delta_fn_AP']:+7.3f}" if "delta_fn_AP" in par else "")
                     + "  (parity: |nDCG| <= 0.005, |AP| <= 0.01)")
    return "\n".join(lines)


def _side_main(args: argparse.Namespace) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    result = _st_side(args)
    result["inner_wall_s"] = time.perf_counter() - _T_START
    Path(args.result_json).write_text(json.dumps(result, default=str))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("beir_dir", nargs="?", default=str(DEFAULT_DIR))
    p.add_argument("--beir-dir", dest="beir_dir_opt")
    p.add_argument("--side", choices=["st"])
    p.add_argument("--split", default="test")
    p.add_argument("--top-k", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--relative-margin", type=float, default=0.05)
    p.add_argument("--model")
    p.add_argument("--max-queries", type=int)
    p.add_argument("--orders", choices=["both", "st-first", "ours-first"], default="both")
    p.add_argument("--no-parity", action="store_true")
    p.add_argument("--no-ap", action="store_true", help="parity table without fn-detection AP")
    p.add_argument("--work-dir", help="keep the runs' folders, logs and caches here")
    p.add_argument("--late-interaction", action="store_true",
                   help="also time a cold audit with the opt-in late-interaction signal, reported apart")
    p.add_argument("--result-json")
    p.add_argument("--vectors-out")
    p.add_argument("--json", dest="json_out", help="write the figures here too")
    args = p.parse_args(argv)
    args.beir_dir = args.beir_dir_opt or args.beir_dir
    if args.side:
        _side_main(args)
        return
    result = run_mining_bench(
        args.beir_dir, args.top_k, args.split, args.batch_size, args.relative_margin, args.model,
        args.max_queries, args.orders, not args.no_parity, not args.no_ap, work_dir=args.work_dir,
        late_interaction=args.late_interaction,
    )  # fmt: skip
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
