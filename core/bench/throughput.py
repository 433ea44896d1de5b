"""`negaudit bench throughput`: passages/s of the embed step, from the model's physical limit to Ray.

Every path encodes the same first N passages (``title + " " + text``) of a BEIR corpus, each in its
own fresh process (no warm caches, its own thread pools), with an empty embedding cache:

* ``raw``        — ``SentenceTransformer.encode`` (normalised, numpy): the model's limit on this CPU;
* ``ours``       — ``core.encoders.encode_texts`` (hashing, de-duplication, cache write included);
* ``ray``        — ``core.engines.ray_engine.fill_cache`` on a local Ray instance: one actor with all
  CPUs' threads (model load in the actor and Ray's job overhead included, Ray start-up apart);
* ``ray-2x1``    — the same with one actor per CPU, one torch thread each;
* ``onnx``, ``onnx-int8-mixed``, ``onnx-int8`` — ``encode_texts`` with the onnxruntime encoder
  (export done beforehand, not timed).

``encode_s`` times the encode call only (after a short warm-up batch), ``load_s`` the model load.
Paths run in the given order, then (with ``--repeats 2``) in reverse, so load drift on shared
cores shows up as a difference between the two passes. The 1-minute load average is recorded
next to every figure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "scifact"
PATHS = ("raw", "ours", "ray", "ray-2x1", "onnx", "onnx-int8-mixed", "onnx-int8")
DEFAULT_PATHS = ("raw", "ours", "ray")


def read_passages(beir_dir: str | Path, n: int) -> list[str]:
    """The first ``n`` passages (``title + " " + text``) of a BEIR corpus, read through ``core.ingest``.

    Stops reading once it has them (a 5M-passage corpus is not loaded for 400 passages).
    """
    from core.encoders import doc_text
    from core.ingest import read_beir

    out: list[str] = []
    for table, df in read_beir(beir_dir, chunk_rows=max(1, min(n, 20_000))):
        if table != "docs" or len(out) >= n:
            break
        df = df.fillna({"title": "", "text": ""})
        out += [doc_text(t, x) for t, x in zip(df["title"], df["text"])]
    return out[:n]


def _path_main(args: argparse.Namespace) -> dict[str, Any]:
    """One path, in this (fresh) process."""
    import torch

    texts = read_passages(args.beir_dir, args.n)
    res: dict[str, Any] = {"path": args.path, "n": len(texts), "torch_threads": torch.get_num_threads()}
    cache = tempfile.mkdtemp(prefix="negaudit-tp-")
    t0 = time.perf_counter()
    if args.path.startswith("ray"):
        from core.engines import ray_engine

        ray_engine.init(num_cpus=os.cpu_count())
        res["ray_init_s"] = time.perf_counter() - t0
        kw = {"actors": os.cpu_count(), "threads": 1} if args.path == "ray-2x1" else {}
        t0 = time.perf_counter()
        encoded = ray_engine.fill_cache(texts, None, cache, args.batch_size, **kw)
        res["encode_s"] = time.perf_counter() - t0  # actor start + model load + encode + job overhead
        res["encoded"] = encoded
        import ray

        ray.shutdown()
        return res
    from core.encoders import encode_texts_with_stats, load_bi_encoder, load_encoder

    if args.path == "raw":
        model = load_bi_encoder()
    else:
        model = load_encoder(None, encoder="torch" if args.path == "ours" else args.path)
    res["load_s"] = time.perf_counter() - t0
    model.encode(["warm up", "a second, slightly longer warm-up text"], batch_size=2)
    t0 = time.perf_counter()
    if args.path == "raw":
        model.encode(texts, batch_size=args.batch_size, convert_to_numpy=True, normalize_embeddings=True)
    else:
        _, stats = encode_texts_with_stats(model, texts, cache=cache, batch_size=args.batch_size)
        res["encoded"] = stats.encoded
    res["encode_s"] = time.perf_counter() - t0
    return res


def _run_path(path: str, args: argparse.Namespace) -> dict[str, Any]:
    from core.bench.fresh import run_fresh

    res = run_fresh("core.bench.throughput", ["--path", path, "--beir-dir", str(args.beir_dir),
                                              "--n", str(args.n), "--batch-size", str(args.batch_size)],
                    f"throughput path {path!r}")
    res["passages_per_s"] = res["n"] / res["encode_s"]
    return res


def run_throughput_bench(beir_dir: str | Path = DEFAULT_DIR, n: int = 400, batch_size: int = 64,
                         paths: tuple[str, ...] = DEFAULT_PATHS, repeats: int = 1,
                         verbose: bool = True) -> dict[str, Any]:
    args = argparse.Namespace(beir_dir=str(beir_dir), n=n, batch_size=batch_size)
    if any(p.startswith("onnx") for p in paths):  # export outside the timed processes
        from core.encoders import load_encoder

        for p in paths:
            if p.startswith("onnx"):
                load_encoder(None, encoder=p)
    order = [p for r in range(repeats) for p in (paths if r % 2 == 0 else tuple(reversed(paths)))]
    runs = []
    for p in order:
        if verbose:
            print(f"running {p} ...", file=sys.stderr, flush=True)
        runs.append(_run_path(p, args))
    best = {p: max(r["passages_per_s"] for r in runs if r["path"] == p) for p in paths}
    result = {"beir_dir": str(beir_dir), "n": n, "batch_size": batch_size, "cpu_count": os.cpu_count(),
              "runs": runs, "best_passages_per_s": best,
              "ratio_to_raw": {p: v / best["raw"] for p, v in best.items()} if "raw" in best else {}}
    if verbose:
        print(format_report(result))
    return result


def format_report(r: dict[str, Any]) -> str:
    lines = [f"{r['n']} passages of {r['beir_dir']}, batch {r['batch_size']}, {r['cpu_count']} CPUs",
             f"{'path':<10} {'passages/s':>10} {'encode s':>9} {'load 1m before/after':>21}"]
    for x in r["runs"]:
        lines.append(f"{x['path']:<10} {x['passages_per_s']:>10.1f} {x['encode_s']:>9.1f} "
                     f"{x['load_1m_before']:>10.1f} / {x['load_1m_after']:<8.1f}")
    if r["ratio_to_raw"]:
        lines.append("best of each path / raw encode: " + ", ".join(
            f"{p} {v:.2f}" for p, v in r["ratio_to_raw"].items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    from core.bench.fresh import bench_main, bench_parser

    p = bench_parser(__doc__, DEFAULT_DIR)
    p.add_argument("--path", choices=PATHS)
    p.add_argument("--paths", default=",".join(DEFAULT_PATHS))
    p.add_argument("--n", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--repeats", type=int, default=1)
    bench_main(p, argv, "path", _path_main, lambda a: run_throughput_bench(
        a.beir_dir, a.n, a.batch_size, tuple(a.paths.split(",")), a.repeats))


if __name__ == "__main__":
    main()
