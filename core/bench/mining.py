"""`negaudit bench mining`: our default mine (+score) vs ``mine_hard_negatives``, then our cached re-run.

Each side runs in its own subprocess, so its peak RSS (``getrusage`` ``ru_maxrss``, monotonic per
process) is its own and no side inherits another's warm caches in memory. Sides, in order:

1. ``st``     — ``sentence_transformers.util.mine_hard_negatives`` with the NV-Retriever recipe
   (TopK-PercPos 95%: ``relative_margin=0.05``, ``sampling_strategy="top"``), ``range_max`` =
   ``num_negatives`` = top_k, ``output_format="labeled-pair"`` (its smallest output: one row per
   positive and kept negative, no per-positive explosion), same model, same batch size;
2. ``ours``   — :func:`core.mining.mine_candidates` (dense + BM25, every candidate kept) through an
   empty embedding cache, the same knobs as a :func:`core.mining.mark_filters` view, and
   ``core.risk.score_false_negatives``;
3. ``cached`` — ``ours`` again on the now-filled cache.

Both sides see the same queries (those with a positive in the split) and the same corpus texts
(``title + " " + text``). Wall times are whole-process (imports and model load included) and
work-only (after imports, before exit).
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

_T_START = time.perf_counter()
DEFAULT_DIR = Path("/work/shared/data/nfcorpus")


# --- data ----------------------------------------------------------------------------------------


def read_beir(beir_dir: str | Path, split: str = "test", max_queries: int | None = None):
    """(queries with a positive, all docs, positive qrels) of a BEIR folder, read through core.ingest."""
    from core.ingest import load_beir

    return load_beir(beir_dir, split).records(max_queries)


def _cpu_s() -> float:
    """CPU seconds of this process (all threads): unlike wall time, not inflated by other load."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --- sides (each runs in its own process) --------------------------------------------------------


def _st_side(args: argparse.Namespace) -> dict[str, Any]:
    t_work = time.perf_counter()  # imports count as work on both sides (ours imports torch lazily)
    import contextlib
    import io

    from datasets import Dataset
    from sentence_transformers.util import mine_hard_negatives

    from core.encoders import doc_text, load_bi_encoder

    queries, docs, qrels = read_beir(args.beir_dir, args.split, args.max_queries)
    model = load_bi_encoder(args.model)
    spent = {"encode_s": 0.0, "encode_cpu_s": 0.0}
    encode = model.encode

    def timed_encode(*a: Any, **k: Any) -> Any:  # encode_document/encode_query call encode
        t, c = time.perf_counter(), _cpu_s()
        out = encode(*a, **k)
        spent["encode_s"] += time.perf_counter() - t
        spent["encode_cpu_s"] += _cpu_s() - c
        return out

    model.encode = timed_encode
    qtext = {q.query_id: q.text for q in queries}
    dtext = {d.doc_id: doc_text(d.title, d.text) for d in docs}
    pairs = [(qtext[r.query_id], dtext[r.doc_id]) for r in qrels if r.doc_id in dtext]
    ds = Dataset.from_dict({"query": [a for a, _ in pairs], "positive": [b for _, b in pairs]})
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        out = mine_hard_negatives(
            ds,
            model,
            corpus=list(dtext.values()),
            range_max=args.top_k,
            num_negatives=args.top_k,
            relative_margin=args.relative_margin,
            sampling_strategy="top",
            batch_size=args.batch_size,
            output_format="labeled-pair",
            output_scores=True,
            verbose=True,
        )
    n_queries = len({a for a, _ in pairs})
    n_pos_rows = len(pairs)  # labeled-pair: one row per (query, positive) pair, then negatives
    kept = len(out) - len(set(pairs))
    possible = n_queries * args.top_k
    skipped = [ln for ln in log.getvalue().splitlines() if ln.startswith(("Skipped", "Could not"))]
    model.encode = encode
    return {
        "work_s": time.perf_counter() - t_work,
        **spent,
        "n_queries": n_queries,
        "n_docs": len(dtext),
        "positive_pairs": n_pos_rows,
        "negatives_kept": kept,
        "negatives_possible": possible,
        "dropped_share": 1 - kept / possible if possible else 0.0,
        "st_log": skipped,
    }


def _ours_side(args: argparse.Namespace) -> dict[str, Any]:
    """The default pipeline: embed through the cache, dense + BM25 top-k, then fn_risk."""
    t_work = time.perf_counter()
    from core.encoders import doc_text, encode_texts_with_stats, load_bi_encoder
    from core.mining import (
        Bm25Index,
        MiningConfig,
        drop_summary,
        mark_filters,
        mine_bm25,
        mine_dense,
        positives_by_query,
    )

    queries, docs, qrels = read_beir(args.beir_dir, args.split, args.max_queries)
    t0 = time.perf_counter()
    if args.side != "cached":  # the cached side must not load a model at all
        load_bi_encoder(args.model)  # memoised: encode_texts below reuses it
    t_load = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), _cpu_s()
    qids, qtexts = [q.query_id for q in queries], [q.text for q in queries]
    dids = [d.doc_id for d in docs]
    dtexts = [doc_text(d.title, d.text) for d in docs]
    kw = {"cache": args.cache, "batch_size": args.batch_size}
    d_emb, d_stats = encode_texts_with_stats(args.model, dtexts, **kw)
    q_emb, q_stats = encode_texts_with_stats(args.model, qtexts, **kw)
    t_embed = time.perf_counter() - t0
    cpu_embed = _cpu_s() - c0
    positives = positives_by_query(qrels)
    bm25 = Bm25Index.build(dtexts)
    cands = _concat(
        mine_dense(qids, q_emb, dids, d_emb, positives, args.top_k),
        mine_bm25(qids, qtexts, dids, positives=positives, top_k=args.top_k, index=bm25),
    )
    t_mine = time.perf_counter() - t0 - t_embed
    t0 = time.perf_counter()
    scored, score_note = _try_score(cands, qids, q_emb, dids, d_emb, positives, qtexts, bm25)
    t_score = time.perf_counter() - t0
    cfg = MiningConfig(
        range_max=args.top_k, num_negatives=args.top_k, relative_margin=args.relative_margin
    )
    marked = mark_filters(cands[cands["miner"] == "dense"], cfg)
    summary = drop_summary(marked)
    return {
        "work_s": time.perf_counter() - t_work,
        "load_s": t_load,  # imports + model load (before this was part of embed_s)
        "embed_s": t_embed,
        "embed_cpu_s": cpu_embed,
        "mine_s": t_mine,
        "score_s": t_score,
        "scored": scored,
        "score_note": score_note,
        "candidates": len(cands),
        "candidates_by_miner": cands.groupby("miner").size().to_dict(),
        "texts_encoded": d_stats.encoded + q_stats.encoded,
        "model_loaded": "sentence_transformers" in sys.modules,
        "view_dropped_share": float(1 - marked["passes_filters"].mean()) if len(marked) else 0.0,
        "view_reasons": dict(zip(summary["filter_reason"], summary["n"].astype(int).tolist())),
    }


def _concat(*frames: Any) -> Any:
    import pandas as pd

    return pd.concat(frames, ignore_index=True)


def _try_score(cands, qids, q_emb, dids, d_emb, positives, qtexts, bm25) -> tuple[bool, str]:
    """fn_risk via core.risk.score_false_negatives, built as core.pipeline builds it."""
    from core.mining import bm25_rows
    from core.risk import RiskInputs, score_false_negatives

    inputs = RiskInputs(qids, q_emb, dids, d_emb, positives, bm25=bm25_rows(bm25, qtexts))
    try:
        out = score_false_negatives(cands, inputs)
    except Exception as exc:  # noqa: BLE001 — report, do not hide: the mine figures stay valid
        return False, f"score_false_negatives failed: {type(exc).__name__}: {exc}"
    return True, f"scored {len(out):,} candidates with core.risk.score_false_negatives"


# --- orchestration -------------------------------------------------------------------------------


def _run_side(side: str, args: argparse.Namespace, cache: str) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    cmd = [
        sys.executable, "-m", "core.bench.mining", "--side", side,
        "--beir-dir", str(args.beir_dir), "--split", args.split, "--top-k", str(args.top_k),
        "--batch-size", str(args.batch_size), "--relative-margin", str(args.relative_margin),
        "--cache", cache, "--result-json", out,
    ]  # fmt: skip
    if args.model:
        cmd += ["--model", args.model]
    if args.max_queries:
        cmd += ["--max-queries", str(args.max_queries)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    root = Path(__file__).resolve().parents[2]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"bench side {side!r} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(Path(out).read_text())
    Path(out).unlink(missing_ok=True)
    result["process_wall_s"] = wall
    return result


def run_mining_bench(
    beir_dir: str | Path = DEFAULT_DIR,
    top_k: int = 30,
    split: str = "test",
    batch_size: int = 64,
    relative_margin: float = 0.05,
    model: str | None = None,
    max_queries: int | None = None,
    cache_dir: str | Path | None = None,
    verbose: bool = True,
    ours_first: bool = False,
) -> dict[str, Any]:
    """Run the three sides and return their figures (and print a side-by-side table).

    ``ours_first`` swaps the order of the two cold runs: on a shared machine load drifts, so run
    both orders before trusting a ratio.
    """
    args = argparse.Namespace(
        beir_dir=str(beir_dir), top_k=top_k, split=split, batch_size=batch_size,
        relative_margin=relative_margin, model=model, max_queries=max_queries,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="negaudit-bench-cache-") as tmp:
        cache = str(cache_dir or tmp)
        result: dict[str, Any] = {
            "beir_dir": str(beir_dir), "top_k": top_k, "batch_size": batch_size,
            "relative_margin": relative_margin, "max_queries": max_queries,
            "cpu_count": os.cpu_count(),
            "load_avg_1m_before": os.getloadavg()[0],
        }  # fmt: skip
        result["order"] = ["ours", "st", "cached"] if ours_first else ["st", "ours", "cached"]
        for side in result["order"]:
            if verbose:
                print(f"running {side} ...", file=sys.stderr, flush=True)
            result[side] = _run_side(side, args, cache)
            result[side]["load_avg_1m_after"] = os.getloadavg()[0]
    st, ours, cached = result["st"], result["ours"], result["cached"]
    result["ratio_ours_over_st_process"] = ours["process_wall_s"] / st["process_wall_s"]
    result["ratio_ours_over_st_work"] = ours["work_s"] / st["work_s"]
    result["speedup_cached_process"] = ours["process_wall_s"] / cached["process_wall_s"]
    result["speedup_cached_work"] = ours["work_s"] / cached["work_s"]
    if verbose:
        print(format_report(result))
    return result


def format_report(r: dict[str, Any]) -> str:
    st, ours, cached = r["st"], r["ours"], r["cached"]
    what = "mine+score" if ours["scored"] else "mine only"
    rows = [
        ("", "mine_hard_negatives", f"ours ({what})", "ours, cached"),
        *[
            (label, *(f"{s[key]:.1f}" for s in (st, ours, cached)))
            for label, key in [
                ("process wall (s)", "process_wall_s"),
                ("work wall (s)", "work_s"),
                ("peak RSS (MB)", "peak_rss_mb"),
            ]
        ],
        ("rows out", f"{st['negatives_kept']:,}", f"{ours['candidates']:,}", f"{cached['candidates']:,}"),
    ]  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(row, widths))) for row in rows]  # fmt: skip
    lines += [
        (
            f"ours / mine_hard_negatives: {r['ratio_ours_over_st_process']:.2f}x process wall, "
            f"{r['ratio_ours_over_st_work']:.2f}x work (target <= 1.1x)"
        ),
        (
            f"cached re-run: {r['speedup_cached_process']:.1f}x faster process wall, "
            f"{r['speedup_cached_work']:.1f}x work (target >= 10x); model loaded: {cached['model_loaded']}"
        ),
        (
            f"mine_hard_negatives kept {st['negatives_kept']:,} of {st['negatives_possible']:,} "
            f"candidate slots (dropped {st['dropped_share']:.1%}); our view of the same knobs drops "
            f"{ours['view_dropped_share']:.1%} of the dense rows and keeps them all, with reasons "
            f"{ours['view_reasons']}"
        ),
        *[f"  ST: {ln}" for ln in st["st_log"]],
        "1-min load average before / after each side (2 shared cores): "
        f"{r['load_avg_1m_before']:.1f} / "
        + ", ".join(f"{s['load_avg_1m_after']:.1f}" for s in (st, ours, cached)),
        f"scoring: {ours['score_note']}",
    ]
    return "\n".join(lines)


def _side_main(args: argparse.Namespace) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    result = _st_side(args) if args.side == "st" else _ours_side(args)
    result["peak_rss_mb"] = _peak_rss_mb()
    result["cpu_s"] = _cpu_s()
    result["inner_wall_s"] = time.perf_counter() - _T_START
    Path(args.result_json).write_text(json.dumps(result, default=str))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("beir_dir", nargs="?", default=str(DEFAULT_DIR))
    p.add_argument("--beir-dir", dest="beir_dir_opt")
    p.add_argument("--side", choices=["st", "ours", "cached"])
    p.add_argument("--split", default="test")
    p.add_argument("--top-k", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--relative-margin", type=float, default=0.05)
    p.add_argument("--model")
    p.add_argument("--max-queries", type=int)
    p.add_argument("--cache")
    p.add_argument("--result-json")
    p.add_argument("--json", dest="json_out", help="write the figures here too")
    p.add_argument("--ours-first", action="store_true", help="run our cold side before ST's")
    args = p.parse_args(argv)
    args.beir_dir = args.beir_dir_opt or args.beir_dir
    if args.side:
        _side_main(args)
        return
    result = run_mining_bench(
        args.beir_dir, args.top_k, args.split, args.batch_size, args.relative_margin,
        args.model, args.max_queries, args.cache, ours_first=args.ours_first,
    )  # fmt: skip
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
