"""`negaudit ingest beir|st|msmarco|trec-qrels|trec-run` — thin wrappers over `core.ingest`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from core.cli.common import DbOption, open_store

ingest_app = typer.Typer(help="Import a dataset (BEIR, sentence-transformers, MS MARCO) or add "
                              "TREC qrels / a TREC run to one.", no_args_is_help=True)

NameOption = Annotated[str, typer.Option("--name", help="name of the new dataset")]
IntoOption = Annotated[str, typer.Option("--into", help="existing dataset to add to")]
ReplaceOption = Annotated[bool, typer.Option(
    "--replace", help="rebuild the dataset if it exists (its judgments are kept)")]
StrictOption = Annotated[bool, typer.Option(
    "--strict", help="stop at the first empty record or unknown id (default: skip and report)")]


@contextmanager
def _progress():
    """A rich progress bar per file; silent when stderr is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    tasks: dict[str, Any] = {}
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as bar:
        def update(step: str, done: int, total: int | None) -> None:
            if step not in tasks:
                tasks[step] = bar.add_task(step, total=total)
            bar.update(tasks[step], completed=done, total=total)
        yield update


def _run(ingest: Callable[..., dict[str, Any]], db: str | None, path: Path, dataset: str,
         **options: Any) -> dict[str, Any]:
    """One `core.ingest` call on the --db store, with a progress bar: the body every command shares."""
    with open_store(db) as store, _progress() as progress:
        return ingest(store, path, dataset, progress=progress, **options)


def _print(result: dict[str, Any], what: str) -> None:
    """The counts imported, then what was skipped (ids from the user's files, never markup)."""
    from rich.console import Console
    from rich.markup import escape

    from core.ingest.skips import counted, skip_lines, skips_of

    console = Console()
    counts = ", ".join(f"{result.get(t, 0):,} {t}" for t in ("docs", "queries", "qrels",
                                                            "candidates") if result.get(t))
    console.print(escape(f"{what}: {counts or 'nothing'}"))
    lines = skip_lines(skips_of(result))
    for line in lines:  # ids come from the user's files: no rich markup from them
        console.print(f"[yellow]{escape(line)}[/yellow]")
    if lines:
        console.print("[yellow](kept with the dataset, see `negaudit datasets`; --strict stops "
                      "at the first instead)[/yellow]")
    if result.get("replaced_candidates"):
        console.print(f"[yellow]replaced: its {counted(result['replaced_candidates'], 'candidate rows')} and their "
                      "risk are gone (judgments kept); run `negaudit mine` and `negaudit score` again to review "
                      "mined candidates by risk[/yellow]")
    for key, label in (("skipped_positive", "run lines labelled positive (not negatives)"),
                       ("skipped_duplicate", "duplicate run lines"),
                       ("duplicate_qrels", "qrels already held (same query, doc, split and grade)"),
                       ("dropped_positive_negatives", "negatives that are also positives")):
        if result.get(key):
            console.print(f"[yellow]skipped {counted(result[key], label)}[/yellow]")


@ingest_app.command("beir")
def beir(
    path: Annotated[Path, typer.Argument(help="BEIR folder: corpus.jsonl, queries.jsonl, qrels/")],
    name: NameOption,
    split: Annotated[list[str] | None, typer.Option(
        "--split", help="qrels split to import (repeatable; default: every qrels/*.tsv)")] = None,
    replace: ReplaceOption = False,
    strict: StrictOption = False,
    db: DbOption = None,
) -> None:
    """Import a BEIR folder; each qrel keeps its split."""
    from core.ingest import ingest_beir

    result = _run(ingest_beir, db, path, name, splits=split or None, replace=replace,
                  strict=strict)
    _print(result, f"imported {name!r}")


@ingest_app.command("st")
def st(
    path: Annotated[Path, typer.Argument(help="parquet / jsonl / csv / tsv training file")],
    name: NameOption,
    columns: Annotated[str | None, typer.Option(
        "--columns", help="roles by column, e.g. anchor=q,positive=p,negative=n1,n2 or "
                          "anchor=q,document=d,label=score (default: by position)")] = None,
    replace: ReplaceOption = False,
    strict: StrictOption = False,
    db: DbOption = None,
) -> None:
    """Import a sentence-transformers dataset (triplet, n-tuple, labeled pair or list)."""
    from core.ingest import ingest_st

    result = _run(ingest_st, db, path, name, columns=columns, replace=replace, strict=strict)
    roles = "; ".join(f"{role}: {', '.join(c) if isinstance(c, list) else c}"
                      for role, c in (result.get("columns") or {}).items() if c)
    _print(result, f"imported {name!r} (columns {roles})")


@ingest_app.command("msmarco")
def msmarco(
    path: Annotated[Path, typer.Argument(
        help="folder: collection.tsv, queries*.tsv, qrels*.tsv, optional triples*.tsv")],
    name: NameOption,
    replace: ReplaceOption = False,
    strict: StrictOption = False,
    db: DbOption = None,
) -> None:
    """Import an MS MARCO style folder (optional id triples become candidates)."""
    from core.ingest import ingest_msmarco

    result = _run(ingest_msmarco, db, path, name, replace=replace, strict=strict)
    _print(result, f"imported {name!r}")


@ingest_app.command("trec-qrels")
def trec_qrels(
    path: Annotated[Path, typer.Argument(help="TREC qrels: qid 0 docid relevance")],
    into: IntoOption,
    split: Annotated[str, typer.Option("--split", help="split of these labels")] = "test",
    strict: StrictOption = False,
    db: DbOption = None,
) -> None:
    """Add a TREC qrels file's labels to an existing dataset."""
    from core.ingest import ingest_trec_qrels

    result = _run(ingest_trec_qrels, db, path, into, split=split, strict=strict)
    _print(result, f"added to {into!r}")


@ingest_app.command("trec-run")
def trec_run(
    path: Annotated[Path, typer.Argument(help="TREC run: qid Q0 docid rank score tag")],
    into: IntoOption,
    strict: StrictOption = False,
    db: DbOption = None,
) -> None:
    """Add a TREC run to an existing dataset as candidates (miner = run tag)."""
    from core.ingest import ingest_trec_run

    result = _run(ingest_trec_run, db, path, into, strict=strict)
    _print(result, f"added to {into!r} (miners {', '.join(result.get('miners', []))})")


@ingest_app.command("embeddings")
def embeddings(
    path: Annotated[Path, typer.Argument(
        help="parquet (id, kind, vector), npz (ids, kinds, vectors) or npy (+ --ids, --kind)")],
    into: IntoOption,
    model: Annotated[str | None, typer.Option(
        "--model", help="name of the model the vectors came from (recorded; default: the "
                        "file's own `model` entry)")] = None,
    ids: Annotated[Path | None, typer.Option(
        "--ids", help="for a .npy matrix: a text file with one id per row")] = None,
    kind: Annotated[str | None, typer.Option(
        "--kind", help="doc or query: the kind of every row (a .npy, or an npz without kinds)")
    ] = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="switch the dataset to another model / dimension")] = False,
    db: DbOption = None,
) -> None:
    """Bring your own embeddings: vectors of a dataset's docs and queries, computed elsewhere."""
    from rich.console import Console
    from rich.markup import escape

    from core.ingest.embeddings import ingest_embeddings

    with open_store(db) as store:
        out = ingest_embeddings(store, path, into, model=model, ids=ids, kind=kind,
                                replace=replace)
    cov = out["coverage"]
    Console().print(escape(
        f"added {out['added']:,} vectors ({out['in_file']['doc']:,} docs, "
        f"{out['in_file']['query']:,} queries in the file) from {out['model']!r}, {out['dim']}-d, to {into!r}; coverage: "
        f"{cov['doc'][0]:,}/{cov['doc'][1]:,} docs, {cov['query'][0]:,}/{cov['query'][1]:,} "
        f"queries"))


def register(app: typer.Typer) -> None:
    app.add_typer(ingest_app, name="ingest")
