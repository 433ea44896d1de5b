"""`negaudit mine`, `negaudit score`, `negaudit audit`: thin calls into `core.pipeline`."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, Literal

import typer

from core.cli.common import DbOption, check_output, model_folder, open_store

MinerOption = Annotated[
    list[str], typer.Option("--miner", help="dense (packaged MiniLM or --model) and/or bm25")
]
EngineOption = Annotated[
    Literal["local", "ray"], typer.Option("--engine", help="local (this process) or ray (Ray Data batch jobs; RAY_ADDRESS "
                      "names a cluster, else a local instance starts)")
]
ModelOption = Annotated[
    str | None, typer.Option("--model", callback=model_folder,
                                help="local sentence-transformers folder (default: packaged all-MiniLM-L6-v2)")
]
TopKOption = Annotated[int, typer.Option("--top-k", min=1, help="candidates per query and miner")]


def _progress():
    from rich.console import Console

    console = Console(stderr=True)

    def report(step: str, frac: float) -> None:
        console.print(f"[dim]{frac:4.0%}[/dim] {step}")

    return report


def _engine_session(engine: str) -> contextlib.AbstractContextManager[None]:
    """Ray is started (or joined) for the command and shut down before the CLI exits hard."""
    from core.engines import get_engine

    mod = get_engine(engine)  # unknown names fail here, before any work
    return mod.session() if engine == "ray" else contextlib.nullcontext()


def mine(
    name: Annotated[str, typer.Option("--name", help="dataset to mine")],
    db: DbOption = None,
    top_k: TopKOption = 30,
    miner: MinerOption = ["dense", "bm25"],  # noqa: B006 - typer needs a literal default
    model: ModelOption = None,
    engine: EngineOption = "local",
) -> None:
    """Mine candidates (every one kept, with miner, rank and score) for a stored dataset."""
    from core.mining.registry import check_miners
    from core.pipeline import mine_dataset

    check_miners(miner)  # before the store opens or the model loads
    session = _engine_session(engine)
    with open_store(db) as store, session:
        cands = mine_dataset(store, name, model=model, top_k=top_k, miners=miner,
                             progress=_progress(), engine=engine)
        scored = not store.risk(name).empty
    counts = ", ".join(f"{n:,} {m}" for m, n in cands.groupby("miner", sort=False).size().items())
    typer.echo(f"mined {len(cands):,} candidates for {cands.query_id.nunique():,} queries ({counts})")
    if scored:  # the old fn_risk covers the old candidates only; export would pass new ones unfiltered
        typer.secho(f"fn_risk now predates these candidates: run `negaudit score --name {name}` before review "
                    "or export (a candidate never scored skips export's risk rule)", fg="yellow")
    if cands.attrs.get("knn"):
        from core.mining.knn import knn_summary

        typer.echo(knn_summary(cands.attrs["knn"]))


LateOption = Annotated[bool, typer.Option(
    "--late-interaction",
    help="the token MaxSim from contextual token vectors instead of the static word-piece table (AP +0.005 to "
         "+0.01 on NFCorpus over the default; one more model pass over the docs, about the cost of embedding "
         "them again)")]


def score(
    name: Annotated[str, typer.Option("--name", help="dataset to score")],
    db: DbOption = None,
    model: ModelOption = None,
    engine: EngineOption = "local",
    late_interaction: LateOption = False,
) -> None:
    """Score every candidate's false-negative risk and every query's pooling-bias risk."""
    from core.pipeline import score_dataset

    session = _engine_session(engine)
    with open_store(db) as store, session:
        res = score_dataset(store, name, model=model, progress=_progress(), engine=engine,
                            late=late_interaction)
    typer.echo(res.summary())


def audit(
    directory: Annotated[Path, typer.Argument(exists=True, file_okay=False,
                                              help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/")],
    name: Annotated[str, typer.Option("--name", help="dataset to create (see --replace)")],
    out: Annotated[Path, typer.Option("--out", help="folder for candidates.parquet and queries.parquet")],
    db: DbOption = None,
    top_k: TopKOption = 30,
    replace: Annotated[bool, typer.Option("--replace", help="rebuild an existing dataset")] = False,
    model: ModelOption = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="replace candidates.parquet / queries.parquet already in --out")] = False,
    late_interaction: LateOption = False,
) -> None:
    """One shot: ingest a BEIR folder, mine, score, and write Parquet files."""
    from core.pipeline import audit_beir

    check_output(out, folder=True, overwrite=True)  # a folder that can exist; its two files:
    for file in ("candidates.parquet", "queries.parquet"):
        check_output(out / file, overwrite=overwrite)
    with open_store(db) as store:
        res = audit_beir(store, directory, name, out, top_k=top_k, replace=replace, model=model,
                         progress=_progress(), late=late_interaction)
    typer.echo(res.summary())
    typer.echo(f"wrote {out / 'candidates.parquet'} and {out / 'queries.parquet'}")


def register(app: typer.Typer) -> None:
    app.command()(mine)
    app.command()(score)
    app.command()(audit)
