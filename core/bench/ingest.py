"""Ingest throughput and peak memory: docs/s for a BEIR folder (NFCorpus) and rows/s for a
generated 1M-line triplet file — to check that ingest streams (RSS flat in file size).

    python -m core.bench.ingest [--nfcorpus DIR] [--rows 1000000] [--format jsonl|parquet|csv]

Each case runs in its own worker process; a wrapper process per case reads
`resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`, so the peak RSS is that case's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_NFCORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "nfcorpus"
_WORDS = ["protein", "cell", "cancer", "risk", "diet", "study", "effect", "patients", "vitamin", "heart", "blood", "trial", "dose", "acid", "gene", "brain", "fiber", "meat", "milk", "sugar", "fat", "levels", "women", "men", "children"]


def make_triplets(path: Path, rows: int, seed: int = 0) -> Path:
    """Write a synthetic triplet file (jsonl / csv / parquet by suffix) with realistic text sizes:
    unique anchors and positives, negatives drawn from a pool so de-duplication has work to do."""
    rng = random.Random(seed)

    def sentence(n: int, tag: str) -> str:
        return tag + " " + " ".join(rng.choice(_WORDS) for _ in range(n))

    pool = [sentence(30, f"neg{i}") for i in range(max(1, rows // 4))]
    records = ({"anchor": sentence(8, f"q{i}"), "positive": sentence(40, f"p{i}"),
                "negative": rng.choice(pool)} for i in range(rows))
    if path.suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        batch: list[dict] = []
        for r in records:
            batch.append(r)
            if len(batch) == 100_000:
                t = pa.Table.from_pylist(batch)
                writer = writer or pq.ParquetWriter(path, t.schema)
                writer.write_table(t)
                batch = []
        if batch:
            t = pa.Table.from_pylist(batch)
            writer = writer or pq.ParquetWriter(path, t.schema)
            writer.write_table(t)
        if writer:
            writer.close()
    elif path.suffix == ".csv":
        import csv

        with open(path, "w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["anchor", "positive", "negative"])
            w.writeheader()
            w.writerows(records)
    else:
        with open(path, "w", encoding="utf-8") as fh:
            for r in records:
                fh.write(json.dumps(r) + "\n")
    return path


def _worker(case: str, src: str, db: str) -> dict[str, Any]:
    """Run one ingest in this process and time it (imports excluded)."""
    from core.ingest import ingest_beir, ingest_st
    from core.store import Store

    with Store.open(db) as store:
        start = time.perf_counter()
        if case == "beir":
            counts = ingest_beir(store, src, "bench")
        else:
            counts = ingest_st(store, src, "bench")
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "counts": {k: counts.get(k, 0) for k in
                                           ("docs", "queries", "qrels", "candidates")}}


def _measure(case: str, src: str, db: str) -> dict[str, Any]:
    """Spawn the worker and read its peak RSS (this process has no other children)."""
    import resource

    res = subprocess.run([sys.executable, "-m", "core.bench.ingest", "--_worker", case, src, db],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"bench worker failed: {res.stderr.strip()[-2000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    out["peak_rss_mb"] = round(kib / 1024, 1)
    return out


def _case(case: str, src: str, db: str) -> dict[str, Any]:
    res = subprocess.run([sys.executable, "-m", "core.bench.ingest", "--_measure", case, src, db],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(res.stderr.strip()[-2000:])
    return json.loads(res.stdout.strip().splitlines()[-1])


def run_ingest_bench(nfcorpus: str | Path | None = DEFAULT_NFCORPUS, rows: int = 1_000_000,
                     fmt: str = "jsonl", workdir: str | Path | None = None) -> dict[str, Any]:
    """Both cases; returns per case seconds, throughput, counts and peak RSS (MB)."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp_path = Path(tmp)
        if nfcorpus and Path(nfcorpus).is_dir():
            r = _case("beir", str(nfcorpus), str(tmp_path / "beir.duckdb"))
            r["docs_per_s"] = round(r["counts"]["docs"] / r["seconds"])
            results["nfcorpus"] = r
        if rows:
            src = make_triplets(tmp_path / f"triplets.{fmt}", rows)
            r = _case("st", str(src), str(tmp_path / "st.duckdb"))
            r["rows"] = rows
            r["file_mb"] = round(src.stat().st_size / 2**20, 1)
            r["rows_per_s"] = round(rows / r["seconds"])
            results[f"triplets_{fmt}"] = r
    return results


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in ("--_worker", "--_measure"):
        fn = _worker if argv[0] == "--_worker" else _measure
        print(json.dumps(fn(*argv[1:4])))
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nfcorpus", default=str(DEFAULT_NFCORPUS))
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--format", default="jsonl", choices=["jsonl", "parquet", "csv"])
    args = p.parse_args(argv)
    results = run_ingest_bench(args.nfcorpus, args.rows, args.format)
    print(f"ingest bench ({os.cpu_count()} CPUs)")
    for name, r in results.items():
        rate = (f"{r['docs_per_s']:,} docs/s" if "docs_per_s" in r
                else f"{r['rows_per_s']:,} rows/s ({r['file_mb']} MB file)")
        counts = ", ".join(f"{v:,} {k}" for k, v in r["counts"].items() if v)
        print(f"  {name:18s} {r['seconds']:7.2f} s  {rate}  peak RSS {r['peak_rss_mb']} MB"
              f"  [{counts}]")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
