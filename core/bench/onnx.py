"""`negaudit bench onnx`: speed and retrieval parity of the onnxruntime encoder against torch.

For each encoder variant (``torch``, ``torch-bf16``, ``onnx`` fp32, ``onnx-int8-mixed``, ``onnx-int8``), in its own
process: encode the corpus and the test queries of a BEIR folder (default SciFact) through
``core.encoders.encode_texts`` with a cache folder of this bench (a re-run reuses the vectors;
``--fresh`` empties it first), rank the whole corpus by cosine and score nDCG@10 and R@100 with
``ir_measures``. Passages/s is the corpus encode (export of the ONNX files happens before, untimed).
Also: cosine of each variant's vectors to torch's, mean and minimum. Parity rule for making a
variant the default: |Δ nDCG@10| ≤ 0.005.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

VARIANTS = ("torch", "torch-bf16", "onnx", "onnx-int8-mixed", "onnx-int8")
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "data" / "scifact"


def _read(beir_dir: Path, split: str) -> tuple[list[str], list[str], list[str], list[str], list[Any]]:
    """(judged query ids, their texts, doc ids, doc texts, qrels as (query, doc, relevance))."""
    from core.ingest import load_beir

    data = load_beir(beir_dir, split)
    judged = data.judged_queries(positive_only=False)
    qrels = list(zip(data.qrels["query_id"], data.qrels["doc_id"], data.qrels["relevance"].astype(int)))
    return (judged["query_id"].tolist(), judged["text"].tolist(), data.doc_ids, data.doc_texts,
            qrels)


def _variant_main(args: argparse.Namespace) -> dict[str, Any]:
    import ir_measures
    from ir_measures import R, nDCG

    from core.encoders import encode_texts, encode_texts_with_stats, load_encoder
    from core.mining import dense_topk

    qids, qtexts, dids, dtexts, qrels = _read(Path(args.beir_dir), args.split)
    model = load_encoder(None, encoder=args.variant)
    t0 = time.perf_counter()
    d_emb, stats = encode_texts_with_stats(model, dtexts, cache=args.cache, batch_size=args.batch_size)
    encode_s = time.perf_counter() - t0
    encoded = stats.encoded
    q_emb = encode_texts(model, qtexts, cache=args.cache, batch_size=args.batch_size)
    idx, sc = dense_topk(q_emb, d_emb, 100)
    run = [ir_measures.ScoredDoc(q, dids[i], float(s)) for q, ii, ss in zip(qids, idx, sc)
           for i, s in zip(ii.tolist(), ss.tolist())]
    qrel = [ir_measures.Qrel(q, d, r) for q, d, r in qrels]
    agg = ir_measures.calc_aggregate([nDCG @ 10, R @ 100], qrel, run)
    np.save(Path(args.out_dir) / f"{args.variant}.npy", d_emb[: args.cosine_rows])
    return {"variant": args.variant, "ndcg@10": agg[nDCG @ 10], "r@100": agg[R @ 100],
            "docs": len(dtexts), "queries": len(qids), "encoded": encoded, "encode_s": encode_s,
            "passages_per_s": encoded / encode_s if encoded else None,
            "load_1m": os.getloadavg()[0]}


def run_onnx_bench(beir_dir: str | Path = DEFAULT_DIR, split: str = "test", batch_size: int = 64,
                   variants: tuple[str, ...] = VARIANTS, cache: str | Path | None = None,
                   fresh: bool = False, verbose: bool = True) -> dict[str, Any]:
    from core.bench.fresh import run_fresh
    from core.encoders import default_cache_dir, load_encoder

    cache = Path(cache or default_cache_dir().parent / "bench-onnx")
    if fresh:
        shutil.rmtree(cache, ignore_errors=True)
    for v in variants:  # ONNX export/quantisation outside the timed processes
        if v != "torch":
            load_encoder(None, encoder=v)
    out_dir = Path(tempfile.mkdtemp(prefix="negaudit-onnx-"))
    rows = []
    for v in variants:
        if verbose:
            print(f"running {v} ...", file=sys.stderr, flush=True)
        rows.append(run_fresh("core.bench.onnx", [
            "--variant", v, "--beir-dir", str(beir_dir), "--split", split,
            "--batch-size", str(batch_size), "--cache", str(cache), "--out-dir", str(out_dir)],
            f"variant {v}"))
    ref = np.load(out_dir / "torch.npy") if "torch" in variants else None
    for r in rows:
        if ref is not None:
            cos = (np.load(out_dir / f"{r['variant']}.npy") * ref).sum(1)
            r["cosine_to_torch_mean"], r["cosine_to_torch_min"] = float(cos.mean()), float(cos.min())
    base = next((r for r in rows if r["variant"] == "torch"), None)
    for r in rows:
        if base:
            r["delta_ndcg@10"] = r["ndcg@10"] - base["ndcg@10"]
            r["parity"] = abs(r["delta_ndcg@10"]) <= 0.005
            if r["passages_per_s"] and base["passages_per_s"]:
                r["speedup"] = r["passages_per_s"] / base["passages_per_s"]
    shutil.rmtree(out_dir, ignore_errors=True)
    result = {"beir_dir": str(beir_dir), "split": split, "batch_size": batch_size, "cache": str(cache),
              "cpu_count": os.cpu_count(), "variants": rows}
    if verbose:
        print(format_report(result))
    return result


def format_report(r: dict[str, Any]) -> str:
    lines = [f"{r['beir_dir']} ({r['split']}), batch {r['batch_size']}, {r['cpu_count']} CPUs",
             (f"{'variant':<15} {'nDCG@10':>8} {'Δ':>7} {'R@100':>6} {'passages/s':>10} "
              f"{'cos min/mean':>14} {'load 1m':>8}")]
    for x in r["variants"]:
        pps = f"{x['passages_per_s']:.1f}" if x["passages_per_s"] else "cached"
        cos = (f"{x.get('cosine_to_torch_min', float('nan')):.4f}/"
               f"{x.get('cosine_to_torch_mean', float('nan')):.4f}")
        lines.append(f"{x['variant']:<15} {x['ndcg@10']:>8.4f} {x.get('delta_ndcg@10', 0):>+7.4f} "
                     f"{x['r@100']:>6.3f} {pps:>10} {cos:>14} {x['load_1m_before']:>8.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from core.bench.fresh import bench_main, bench_parser

    p = bench_parser(__doc__, DEFAULT_DIR)
    p.add_argument("--variant", choices=VARIANTS)
    p.add_argument("--variants", default=",".join(VARIANTS))
    p.add_argument("--split", default="test")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--cache")
    p.add_argument("--fresh", action="store_true")
    p.add_argument("--out-dir")
    p.add_argument("--cosine-rows", type=int, default=1000)
    bench_main(p, argv, "variant", _variant_main, lambda a: run_onnx_bench(
        a.beir_dir, a.split, a.batch_size, tuple(a.variants.split(",")), a.cache, a.fresh))


if __name__ == "__main__":
    main()
