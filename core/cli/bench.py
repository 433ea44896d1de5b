"""`negaudit bench ...`: benchmarks that print figures (never timed tests).

Every option is checked while parsing and every `--json` target before the run starts: a typo
must not cost an hour of benchmarking.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from core.cli.common import (
    SEED_MAX,
    OverwriteOption,
    check_output,
    choice_list,
    seed_list,
    unit_interval,
)

bench_app = typer.Typer(help="Benchmarks that print figures, side by side with their reference.",
                        no_args_is_help=True)

JsonOption = Annotated[Path | None, typer.Option("--json", help="also write the figures here")]
TopKOption = Annotated[int, typer.Option("--top-k", min=1, help="mined candidates per query")]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1)]


def _folder(help: str) -> typer.models.ArgumentInfo:
    return typer.Argument(exists=True, file_okay=False, help=help)


def _json_target(path: Path | None, overwrite: bool) -> None:
    if path is not None:
        check_output(path, "--json", overwrite=overwrite)


def _dump(result: dict, path: Path | None) -> None:
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, default=str))
        typer.echo(f"wrote {path}")


def _counts(value: str) -> str:
    """Callback for --judgments: comma-separated non-negative integers, at least one."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts or not all(p.isascii() and p.isdigit() and int(p) <= 10**7 for p in parts):
        raise typer.BadParameter(f"{value!r} is not a comma-separated list of judgment counts (e.g. 0,50,200).")
    return value


@bench_app.command("fn-detection")
def fn_detection(
    directory: Annotated[Path, _folder("densely judged BEIR folder (e.g. NFCorpus)")],
    keep_positives: Annotated[int, typer.Option("--keep-positives", min=1)] = 1,
    top_k: TopKOption = 30,
    seed: Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX)] = 0,
    split: Annotated[str, typer.Option("--split", help="qrels split to sparsify")] = "test",
    qrels: Annotated[Path | None, typer.Option("--qrels", exists=True, dir_okay=False,
                                               help="another qrels TSV of the folder (e.g. a finer grading)")] = None,
    judgments: Annotated[str, typer.Option("--judgments", callback=_counts,
                                           help="learning-curve points: judged queue items, e.g. 0,50,200")] = "0,50,100,200,500",
    late_interaction: Annotated[bool, typer.Option(
        "--late-interaction", help="the token MaxSim from contextual token vectors (a second model pass, timed "
        "apart) instead of the static word-piece one")] = False,
    static_maxsim: Annotated[bool, typer.Option(
        "--static-maxsim/--no-static-maxsim", help="the static word-piece token MaxSim (on, as the product "
        "scores; off to measure without it)")] = True,
    query_field: Annotated[str | None, typer.Option(
        "--query-field", help="another queries.jsonl field as the query text (NFCorpus: vid-desc, the topics "
        "asked as sentences); queries without it are left out")] = None,
    query_sample: Annotated[int | None, typer.Option(
        "--query-sample", min=2, help="score a seeded random N of the judged queries only (few-query "
        "collections: the PU model learns from N labelled positives)")] = None,
    doc_sample: Annotated[int | None, typer.Option(
        "--doc-sample", min=2, help="keep a fixed random N of the corpus and the qrels on those docs (small "
        "collections: the same docs for every --seed)")] = None,
    json_out: JsonOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Hide all but N positives per query, mine, and measure how well fn_risk finds the hidden ones."""
    from core.bench.fn_detection import run_fn_detection

    _json_target(json_out, overwrite)
    points = tuple(sorted({int(p) for p in judgments.split(",") if p.strip()}))
    _dump(run_fn_detection(directory, keep_positives=keep_positives, top_k=top_k, seed=seed, split=split,
                           judgments=points, qrels_file=str(qrels) if qrels else None,
                           late_interaction=late_interaction, static_maxsim=static_maxsim,
                           query_field=query_field, query_sample=query_sample, doc_sample=doc_sample), json_out)


class Orders(str, Enum):
    both = "both"
    st_first = "st-first"
    ours_first = "ours-first"


@bench_app.command("mining")
def mining(
    directory: Annotated[Path, _folder("BEIR folder")] = Path("data/scifact"),
    top_k: TopKOption = 30,
    split: Annotated[str, typer.Option("--split", help="qrels split whose queries are mined")] = "test",
    batch_size: BatchOption = 64,
    max_queries: Annotated[int | None, typer.Option("--max-queries", min=1)] = None,
    orders: Annotated[Orders, typer.Option(
        "--orders", help="both: mine_hard_negatives first, then ours first; or one pass")] = Orders.both,
    parity: Annotated[bool, typer.Option(
        "--parity/--no-parity", help="nDCG@10 and fn-detection AP of each side's vectors afterwards")] = True,
    late_interaction: Annotated[bool, typer.Option(
        "--late-interaction", help="also time a cold audit with the opt-in contextual token MaxSim, apart")] = False,
    work_dir: Annotated[Path | None, typer.Option(
        "--work-dir", file_okay=False, help="keep the runs' folders, logs and caches here")] = None,
    json_out: JsonOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """A cold `negaudit audit` process vs sentence_transformers.util.mine_hard_negatives, then the cached re-run."""
    from core.bench.mining import run_mining_bench

    _json_target(json_out, overwrite)
    _dump(run_mining_bench(directory, top_k=top_k, split=split, batch_size=batch_size, max_queries=max_queries,
                           orders=orders.value, with_parity=parity, late_interaction=late_interaction,
                           work_dir=work_dir), json_out)


@bench_app.command("ingest")
def ingest(
    directory: Annotated[Path, _folder("BEIR folder")] = Path("data/scifact"),
    rows: Annotated[int, typer.Option("--rows", min=1,
                                      help="lines of the generated triplet file")] = 1_000_000,
    json_out: JsonOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Ingest throughput: docs/s for a BEIR folder, rows/s for a generated triplet file."""
    from core.bench.ingest import run_ingest_bench

    _json_target(json_out, overwrite)
    _dump(run_ingest_bench(directory, rows=rows), json_out)


class Backend(str, Enum):
    duckdb = "duckdb"
    postgres = "postgres"


@bench_app.command("store")
def store(
    backend: Annotated[Backend, typer.Option("--backend", help="duckdb or postgres")
                       ] = Backend.duckdb,
    candidates: Annotated[int, typer.Option("--candidates", min=1)] = 1_000_000,
    judgments: Annotated[int, typer.Option("--judgments", min=0)] = 100_000,
    db: Annotated[str | None, typer.Option(
        "--db", help="database to fill (default: a temp DuckDB file / throw-away PostgreSQL)")] = None,
    samples: Annotated[int, typer.Option("--samples", min=1,
                                         help="cold queue queries per mode")] = 20,
    json_out: JsonOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """The store at 1M candidates: ingest, queue query, judgment insert, export, peak RSS."""
    from core.bench.store import run_store_bench

    _json_target(json_out, overwrite)
    _dump(run_store_bench(backend.value, candidates=candidates, judgments=judgments, db=db,
                          queue_samples=samples, log=typer.echo), json_out)


def _paths(value: str) -> str:
    from core.bench.throughput import PATHS

    return choice_list(PATHS)(value)


@bench_app.command("throughput")
def throughput(
    directory: Annotated[Path, _folder("BEIR folder")] = Path("../shared/data/scifact"),
    n: Annotated[int, typer.Option("--n", min=1, help="passages (the first N of the corpus)")] = 400,
    batch_size: BatchOption = 64,
    paths: Annotated[str, typer.Option("--paths", callback=_paths,
                                       help="comma-separated: raw, ours, ray, ray-2x1, onnx, "
                                            "onnx-int8-mixed, onnx-int8")] = "raw,ours,ray",
    repeats: Annotated[int, typer.Option("--repeats", min=1,
                                         help="2 = forward then reverse order")] = 1,
    json_out: JsonOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Embed passages/s: raw SentenceTransformer.encode vs our encode_texts vs the Ray engine."""
    from core.bench.throughput import run_throughput_bench

    _json_target(json_out, overwrite)
    _dump(run_throughput_bench(directory, n=n, batch_size=batch_size,
                               paths=tuple(p.strip() for p in paths.split(",") if p.strip()),
                               repeats=repeats), json_out)


def _variants(value: str) -> str:
    from core.bench.onnx import VARIANTS

    return choice_list(VARIANTS)(value)


@bench_app.command("onnx")
def onnx(
    directory: Annotated[Path, _folder("BEIR folder")] = Path("data/scifact"),
    variants: Annotated[str, typer.Option("--variants", callback=_variants)
                        ] = "torch,torch-bf16,onnx,onnx-int8-mixed,onnx-int8",
    batch_size: BatchOption = 64,
    cache: Annotated[Path | None, typer.Option("--cache", help="this bench's embedding cache")] = None,
    fresh: Annotated[bool, typer.Option("--fresh", help="empty that cache first (time every encode)")] = False,
    json_out: JsonOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Encoder runtimes (torch-bf16, onnxruntime fp32 / int8) vs torch: passages/s, nDCG@10 parity."""
    from core.bench.onnx import run_onnx_bench

    if cache is not None:  # a folder that may exist (that is the point of a cache)
        check_output(cache, "--cache", overwrite=True, folder=True)
    _json_target(json_out, overwrite)
    _dump(run_onnx_bench(directory, batch_size=batch_size,
                         variants=tuple(v.strip() for v in variants.split(",") if v.strip()),
                         cache=cache, fresh=fresh), json_out)


class Sampling(str, Enum):
    random = "random"
    top = "top"


@bench_app.command("retrain")
def retrain(
    beir_dir: Annotated[Path, _folder("BEIR folder with train and test qrels")
                        ] = Path("data/scifact"),
    seeds: Annotated[str, typer.Option("--seeds", callback=seed_list,
                                       help="comma-separated seeds")] = "0,1,2",
    max_steps: Annotated[int, typer.Option("--max-steps", min=1,
                                           help="training steps per run")] = 60,
    batch_size: BatchOption = 16,
    threshold: Annotated[float, typer.Option(
        "--threshold", callback=unit_interval,
        help="(b) drops candidates with fn_risk >= this")] = 0.5,
    eval_docs: Annotated[int, typer.Option(
        "--eval-docs", min=1, help="corpus subset for evaluation (all test positives + a sample)")
    ] = 1500,
    top_k: TopKOption = 30,
    sampling: Annotated[Sampling, typer.Option(
        "--sampling", help="negative per row: seeded random from the top-k, or the hardest")
    ] = Sampling.random,
    json_out: JsonOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Fine-tune MiniLM on raw vs risk-cleaned mined negatives; nDCG@10 / R@100 on test."""
    from core.bench.retrain import main

    _json_target(json_out, overwrite)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
    main(json_out=str(json_out) if json_out else None, beir_dir=str(beir_dir),
         seeds=tuple(int(s) for s in seeds.split(",") if s.strip()), max_steps=max_steps,
         batch_size=batch_size, threshold=threshold, eval_docs=eval_docs, top_k=top_k,
         sampling=sampling.value)


class ScaleData(str, Enum):
    random = "random"
    clustered = "clustered"


class KnnMethod(str, Enum):
    auto = "auto"
    exact = "exact"
    ivf = "ivf"


@bench_app.command("scale")
def scale(
    docs: Annotated[int, typer.Option("--docs", min=1, help="supplied doc vectors")] = 1_000_000,
    queries: Annotated[int, typer.Option("--queries", min=1)] = 10_000,
    dim: Annotated[int, typer.Option("--dim", min=1, help="vector dimension")] = 384,
    top_k: TopKOption = 30,
    sample: Annotated[int, typer.Option("--sample", min=1,
                                        help="queries searched exactly for recall")] = 1_000,
    data: Annotated[ScaleData, typer.Option("--data", help="vector distribution")
                    ] = ScaleData.random,
    method: Annotated[KnnMethod, typer.Option(
        "--method", help="auto: exact up to a size; above, IVF with its recall checked (or exact)")
                      ] = KnnMethod.auto,
    nprobe: Annotated[int | None, typer.Option(
        "--nprobe", min=1, help="IVF lists searched (auto: the first count tried)")] = None,
    recall_target: Annotated[float | None, typer.Option(
        "--recall-target", min=0.0, max=1.0,
        help="auto: sampled recall@k the IVF must reach (default 0.95; 0: unchecked)")] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX)] = 0,
    json_out: JsonOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Dense mining from supplied embeddings at scale: wall, peak RSS, recall@k vs exact."""
    from core.bench.scale import run_scale_bench

    _json_target(json_out, overwrite)
    _dump(run_scale_bench(docs, queries, dim, top_k, sample, data.value, method.value, seed=seed,
                          nprobe=nprobe, recall_target=recall_target), json_out)


@bench_app.command("scoring")
def scoring(
    docs_x: Annotated[int, typer.Option("--docs-x", min=1, help="copies of each bundled SciFact doc")] = 20,
    queries_x: Annotated[int, typer.Option("--queries-x", min=1, help="copies of each SciFact query")] = 9,
    top_k: TopKOption = 30,
    seed: Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX)] = 0,
    work_dir: Annotated[Path | None, typer.Option(
        "--work-dir", file_okay=False, help="keep the grown folder, store, logs and cache here")] = None,
    json_out: JsonOption = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Scoring at scale with supplied vectors: ingest, vectors, mine, score of a grown SciFact, each timed."""
    from core.bench.scoring import run_scoring_bench

    _json_target(json_out, overwrite)
    _dump(run_scoring_bench(docs_x, queries_x, top_k, seed, work_dir), json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
