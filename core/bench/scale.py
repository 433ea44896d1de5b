"""`negaudit bench scale`: dense mining from supplied embeddings at a million docs, bounded memory.

Synthetic vectors stand in for a corpus encoded elsewhere (speed does not depend on their values;
recall does): ``random`` unit vectors (the hardest case for an approximate index: no structure,
neighbours nearly equidistant) or ``clustered`` ones (unit vectors around ``n_clusters`` random
centres, as real embeddings cluster by topic). Docs are written to a float32 ``.npy`` on disk in
chunks and memory-mapped, as the embedding cache's shards are.

Each step runs in its own process (its wall and peak RSS are its own, ``wait4``):

1. ``mine``  — :func:`core.mining.mine_dense` over every query, top-k, with the pipeline's
   ``auto`` method (exact up to ``exact_max_docs``; above, IVF with its recall measured on a query
   sample and nprobe raised to the target, or exact search where IVF cannot win) or the one named;
   what it chose (method, nprobe, sampled recall, estimates) is reported;
2. ``exact`` — the exact method (``faiss.IndexFlatIP`` over doc chunks) on a sample of queries:
   the reference for recall@k of step 1.
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

ROOT = Path(__file__).resolve().parents[2]


def write_vectors(path: Path, n: int, dim: int, seed: int, data: str, centres: np.ndarray | None,
                  chunk: int = 100_000, noise: float = 0.6) -> Path:
    """``n`` unit vectors written chunk by chunk to a float32 .npy (never all in memory)."""
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, dim))
    for s in range(0, n, chunk):
        m = min(chunk, n - s)
        x = rng.standard_normal((m, dim), dtype=np.float32)
        if data == "clustered" and centres is not None:
            x = centres[rng.integers(0, len(centres), m)] + noise * x / np.sqrt(dim)
        out[s : s + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    out.flush()
    del out
    return path


def _step(args: argparse.Namespace) -> dict[str, Any]:
    """One child step: mine (all queries) or exact (a sample); writes the doc indices it found."""
    from core.mining import mine_dense
    from core.mining.knn import KnnConfig, knn_topk

    docs = np.load(args.docs, mmap_mode="r")
    queries = np.load(args.queries)
    t0 = time.perf_counter()
    if args.step == "mine":
        qids = [f"q{i}" for i in range(len(queries))]
        dids = np.char.add("d", np.arange(len(docs)).astype(str)).tolist()
        if args.method != "auto":
            os.environ["NEGAUDIT_KNN_EXACT_MAX"] = str(len(docs) if args.method == "exact" else 0)
        t_ids = time.perf_counter() - t0
        knn: dict[str, Any] = {}
        cands = mine_dense(qids, queries, dids, docs, {}, top_k=args.top_k, backend="auto", knn_stats=knn)
        wall = time.perf_counter() - t0
        pos = {d: i for i, d in enumerate(dids)}
        found = np.full((len(queries), args.top_k), -1, dtype=np.int64)
        for qi, (_, g) in enumerate(cands.groupby("query_id", sort=False)):
            found[int(g.query_id.iloc[0][1:]), : len(g)] = [pos[d] for d in g.doc_id]
        extra = {"rows": len(cands), "ids_s": t_ids, "knn": knn}
    else:
        sample = np.load(args.sample)
        idx, _ = knn_topk(queries[sample], docs, [args.top_k] * len(sample), "exact", KnnConfig())
        wall = time.perf_counter() - t0
        found = np.stack(idx)
        extra = {"queries": len(sample)}
    np.save(args.found, found)
    cfg = KnnConfig.from_env()
    return {"step": args.step, "work_s": wall, "exact_max_docs": cfg.exact_max_docs,
            "recall_target": cfg.recall_target, "recall_sample": cfg.recall_sample,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}


def _child(step: str, a: argparse.Namespace, work: Path, env: dict[str, str]) -> dict[str, Any]:
    out = work / f"{step}.json"
    cmd = [sys.executable, "-m", "core.bench.scale", "--step", step, "--docs", str(work / "docs.npy"),
           "--queries", str(work / "queries.npy"), "--sample", str(work / "sample.npy"),
           "--found", str(work / f"{step}.found.npy"), "--top-k", str(a.top_k), "--method", a.method,
           "--result-json", str(out)]
    t0, load = time.perf_counter(), os.getloadavg()[0]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    _, status, ru = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"bench scale step {step} failed")
    return {**json.loads(out.read_text()), "process_wall_s": time.perf_counter() - t0,
            "process_peak_rss_mb": ru.ru_maxrss / 1024, "load_1m_before": load,
            "load_1m_after": os.getloadavg()[0]}


def run_scale_bench(docs: int = 1_000_000, queries: int = 10_000, dim: int = 384, top_k: int = 30,
                    sample: int = 1_000, data: str = "random", method: str = "auto",
                    n_clusters: int = 2_000, seed: int = 0, nprobe: int | None = None,
                    work_dir: str | Path | None = None, verbose: bool = True,
                    recall_target: float | None = None) -> dict[str, Any]:
    from core.mining.knn import recall_at_k

    a = argparse.Namespace(top_k=top_k, method=method)
    env = {**os.environ}
    if nprobe:
        env["NEGAUDIT_KNN_NPROBE"] = str(nprobe)
    if recall_target is not None:
        env["NEGAUDIT_KNN_RECALL"] = str(recall_target)
    with tempfile.TemporaryDirectory(prefix="negaudit-bench-scale-") as tmp:
        work = Path(work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        centres = None
        if data == "clustered":
            c = rng.standard_normal((n_clusters, dim), dtype=np.float32)
            centres = c / np.linalg.norm(c, axis=1, keepdims=True)
        t0 = time.perf_counter()
        write_vectors(work / "docs.npy", docs, dim, seed + 1, data, centres)
        write_vectors(work / "queries.npy", queries, dim, seed + 2, data, centres)
        np.save(work / "sample.npy", np.sort(rng.choice(queries, min(sample, queries), replace=False)))
        result: dict[str, Any] = {"docs": docs, "queries": queries, "dim": dim, "top_k": top_k,
                                  "data": data, "method": method, "sample": sample,
                                  "generate_s": time.perf_counter() - t0,
                                  "docs_file_mb": (work / "docs.npy").stat().st_size / 1e6,
                                  "cpu_count": os.cpu_count()}
        for step in ("mine", "exact"):
            if verbose:
                print(f"{step} ... (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
            result[step] = _child(step, a, work, env)
        sample_rows = np.load(work / "sample.npy")
        mined = np.load(work / "mine.found.npy")[sample_rows]
        exact = np.load(work / "exact.found.npy")
        result[f"recall@{top_k}"] = recall_at_k(mined, exact, top_k)
    if verbose:
        print(format_report(result))
    return result


def format_report(r: dict[str, Any]) -> str:
    from core.mining.knn import knn_summary

    m, e = r["mine"], r["exact"]
    k = r["top_k"]
    knn = m.get("knn") or {}
    timings = ", ".join(f"{name} {knn[key]:.1f} s" for name, key in (
        ("IVF build", "build_s"), ("exact sample", "exact_sample_s"), ("final search", "search_s"))
        if knn.get(key) is not None)
    return "\n".join([
        (f"{r['docs']:,} docs x {r['dim']}-d ({r['data']}, {r['docs_file_mb']:,.0f} MB float32 on disk), "
        f"{r['queries']:,} queries, top-{k}; {r['cpu_count']} cores"),
        (f"mine_dense (method {r['method']}): {m['process_wall_s']:.1f} s process "
        f"({m['work_s']:.1f} s mining; {timings or 'no stage timings'}), "
        f"peak RSS {m['process_peak_rss_mb']:,.0f} MB, {m['rows']:,} rows, "
        f"load {m['load_1m_before']:.1f}>{m['load_1m_after']:.1f}"),
        f"  {knn_summary(knn)}",
        (f"exact reference on {e['queries']:,} sampled queries: {e['work_s']:.1f} s "
        f"({e['work_s'] / e['queries'] * r['queries']:.0f} s extrapolated to all), peak RSS "
        f"{e['process_peak_rss_mb']:,.0f} MB, load {e['load_1m_before']:.1f}>{e['load_1m_after']:.1f}"),
        f"recall@{k} of mine_dense vs exact on the sample: {r[f'recall@{k}']:.3f}",
    ])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs", default="1000000")
    p.add_argument("--queries", default="10000")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--top-k", type=int, default=30)
    p.add_argument("--sample", default="1000")
    p.add_argument("--data", choices=["random", "clustered"], default="random")
    p.add_argument("--method", choices=["auto", "exact", "ivf"], default="auto")
    p.add_argument("--nprobe", type=int, help="IVF probes (auto: the first count tried)")
    p.add_argument("--recall-target", type=float,
                   help="auto: sampled recall@k the IVF must reach (default 0.95; 0: unchecked)")
    p.add_argument("--work-dir")
    p.add_argument("--step", choices=["mine", "exact"])
    p.add_argument("--found")
    p.add_argument("--result-json")
    p.add_argument("--json", dest="json_out")
    a = p.parse_args(argv)
    if a.step:
        Path(a.result_json).write_text(json.dumps(_step(a)))
        return
    r = run_scale_bench(int(a.docs), int(a.queries), a.dim, a.top_k, int(a.sample), a.data, a.method,
                        nprobe=a.nprobe, work_dir=a.work_dir, recall_target=a.recall_target)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(r, indent=2, default=str))


if __name__ == "__main__":
    main()
