"""`negaudit datasets` — list datasets with their counts; `datasets rm NAME` deletes one."""

from __future__ import annotations

import typer

from core.cli.common import DbOption, console, open_store

datasets_app = typer.Typer(help="List or delete datasets.", invoke_without_command=True)


@datasets_app.callback()
def list_datasets(ctx: typer.Context, db: DbOption = None) -> None:
    """Per dataset: docs, queries, queries with a positive, qrels, candidates, judgments."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.markup import escape
    from rich.table import Table

    from core.ingest.skips import META_KEY, skip_lines, skip_summary

    with open_store(db, read_only=True) as store:  # a listing creates nothing (a mistyped --db made a file)
        rows = store.counts()
        metas = {r.name: store.dataset_info(r.name)["meta"] for r in rows}
    skips = {name: meta.get(META_KEY, {}) for name, meta in metas.items()}
    if not rows:
        typer.echo("no datasets yet; try `negaudit ingest beir DIR --name NAME`")
        return
    table = Table("dataset", "docs", "queries", "with positive", "qrels", "candidate rows", "judgments",
                  "skipped at import", caption="candidate rows: one per (query, doc, miner); `score`, `report` and "
                                               "the review queue count each (query, doc) once")
    for r in rows:
        table.add_row(escape(r.name), *(f"{v:,}" for v in (
            r.docs, r.queries, r.queries_with_positive, r.qrels, r.candidates, r.judgments)),
            skip_summary(skips[r.name]))
    out = console()
    out.print(table)
    for name, skipped in skips.items():  # the first ids, so the records can be found and fixed
        for line in skip_lines(skipped):
            out.print(escape(f"{name}: {line}"), soft_wrap=True)
    for name, meta in metas.items():
        emb = meta.get("embeddings")
        if emb:  # supplied vectors (`negaudit ingest embeddings`): which model, how complete
            cov = emb["coverage"]
            out.print(escape(f"{name}: supplied embeddings from {emb['model']!r}, {emb['dim']}-d, "
                             f"for {cov['doc'][0]:,}/{cov['doc'][1]:,} docs and "
                             f"{cov['query'][0]:,}/{cov['query'][1]:,} queries"), soft_wrap=True)


@datasets_app.command("rm")
def remove(
    name: str,
    db: DbOption = None,
    force: bool = typer.Option(False, "--force", help="also delete the dataset's judgments"),
) -> None:
    """Delete a dataset (refuses while it has judgments, unless --force)."""
    with open_store(db) as store:
        store.delete_dataset(name, force=force)
    typer.echo(f"deleted dataset {name!r}")


def register(app: typer.Typer) -> None:
    app.add_typer(datasets_app, name="datasets")
