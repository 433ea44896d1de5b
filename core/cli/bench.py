"""`negaudit bench ...`: benchmarks that print figures (never timed tests)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

bench_app = typer.Typer(help="Benchmarks that print figures, side by side with their reference.",
                        no_args_is_help=True)

JsonOption = Annotated[Optional[Path], typer.Option("--json", help="also write the figures here")]


def _dump(result: dict, path: Path | None) -> None:
    if path:
        path.write_text(json.dumps(result, indent=2, default=str))
        typer.echo(f"wrote {path}")


@bench_app.command("fn-detection")
def fn_detection(
    directory: Annotated[Path, typer.Argument(help="densely judged BEIR folder (e.g. NFCorpus)")],
    keep_positives: Annotated[int, typer.Option("--keep-positives")] = 1,
    top_k: Annotated[int, typer.Option("--top-k")] = 30,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    split: Annotated[str, typer.Option("--split", help="qrels split to sparsify")] = "test",
    json_out: JsonOption = None,
) -> None:
    """Hide all but N positives per query, mine, and measure how well fn_risk finds the hidden ones."""
    from core.bench.fn_detection import run_fn_detection

    _dump(run_fn_detection(directory, keep_positives=keep_positives, top_k=top_k, seed=seed,
                           split=split), json_out)


@bench_app.command("mining")
def mining(
    directory: Annotated[Path, typer.Argument(help="BEIR folder")] = Path("data/scifact"),
    top_k: Annotated[int, typer.Option("--top-k")] = 30,
    json_out: JsonOption = None,
) -> None:
    """Our mine+score vs sentence_transformers.util.mine_hard_negatives, then our cached re-run."""
    from core.bench.mining import run_mining_bench

    _dump(run_mining_bench(directory, top_k=top_k), json_out)


@bench_app.command("ingest")
def ingest(
    directory: Annotated[Path, typer.Argument(help="BEIR folder")] = Path("data/scifact"),
    rows: Annotated[int, typer.Option("--rows", help="lines of the generated triplet file")] = 1_000_000,
    json_out: JsonOption = None,
) -> None:
    """Ingest throughput: docs/s for a BEIR folder, rows/s for a generated triplet file."""
    from core.bench.ingest import run_ingest_bench

    _dump(run_ingest_bench(directory, rows=rows), json_out)


@bench_app.command("store")
def store(
    backend: Annotated[str, typer.Option("--backend", help="duckdb or postgres")] = "duckdb",
    candidates: Annotated[int, typer.Option("--candidates")] = 1_000_000,
    judgments: Annotated[int, typer.Option("--judgments")] = 100_000,
    db: Annotated[Optional[str], typer.Option(
        "--db", help="database to fill (default: a temp DuckDB file / throw-away PostgreSQL)")] = None,
    samples: Annotated[int, typer.Option("--samples", help="cold queue queries per mode")] = 20,
    json_out: JsonOption = None,
) -> None:
    """The store at 1M candidates: ingest, queue query, judgment insert, export, peak RSS."""
    from core.bench.store import run_store_bench

    if backend not in ("duckdb", "postgres"):
        raise typer.BadParameter("--backend must be duckdb or postgres")
    _dump(run_store_bench(backend, candidates=candidates, judgments=judgments, db=db,
                          queue_samples=samples, log=typer.echo), json_out)


@bench_app.command("throughput")
def throughput(
    directory: Annotated[Path, typer.Argument(help="BEIR folder")] = Path("../shared/data/scifact"),
    n: Annotated[int, typer.Option("--n", help="passages (the first N of the corpus)")] = 400,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
    paths: Annotated[str, typer.Option("--paths", help="comma-separated: raw, ours, ray, ray-2x1, "
                                       "onnx, onnx-int8")] = "raw,ours,ray",
    repeats: Annotated[int, typer.Option("--repeats", help="2 = forward then reverse order")] = 1,
    json_out: JsonOption = None,
) -> None:
    """Embed passages/s: raw SentenceTransformer.encode vs our encode_texts vs the Ray engine."""
    from core.bench.throughput import run_throughput_bench

    _dump(run_throughput_bench(directory, n=n, batch_size=batch_size, paths=tuple(paths.split(",")),
                               repeats=repeats), json_out)


@bench_app.command("onnx")
def onnx(
    directory: Annotated[Path, typer.Argument(help="BEIR folder")] = Path("data/scifact"),
    variants: Annotated[str, typer.Option("--variants")] = "torch,onnx,onnx-int8",
    batch_size: Annotated[int, typer.Option("--batch-size")] = 64,
    cache: Annotated[Optional[Path], typer.Option("--cache", help="this bench's embedding cache")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="empty that cache first (time every encode)")] = False,
    json_out: JsonOption = None,
) -> None:
    """onnxruntime encoder (fp32, int8) vs torch: passages/s and nDCG@10 parity on SciFact test."""
    from core.bench.onnx import run_onnx_bench

    _dump(run_onnx_bench(directory, batch_size=batch_size, variants=tuple(variants.split(",")),
                         cache=cache, fresh=fresh), json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
