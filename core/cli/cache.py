"""`negaudit cache export|import`: ship a dataset's embeddings (float16) so a fresh start encodes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.cli.common import DbOption, OverwriteOption, check_output, model_folder, open_store

cache_app = typer.Typer(help="Export or import embedding caches.", no_args_is_help=True)


@cache_app.command("export")
def export(
    name: Annotated[str, typer.Option("--name", help="dataset whose docs and queries to export")],
    out: Annotated[Path, typer.Option("--out", help=".npz file to write")],
    db: DbOption = None,
    model: Annotated[str | None, typer.Option("--model", callback=model_folder)] = None,
    overwrite: OverwriteOption = False,
) -> None:
    """Embed (through the cache) every doc and query of a dataset and write them as float16."""
    from core.encoders import export_cache
    from core.pipeline import load_corpus

    check_output(out, overwrite=overwrite)
    with open_store(db, read_only=True) as store:
        corpus = load_corpus(store, name)
    texts = corpus.doc_texts + corpus.query_texts
    ids = [f"doc:{d}" for d in corpus.doc_ids] + [f"query:{q}" for q in corpus.query_ids]
    path = export_cache(out, ids, texts, model=model, show_progress=True)
    typer.echo(f"wrote {len(texts):,} embeddings to {path} ({path.stat().st_size / 1e6:.1f} MB)")


@cache_app.command("import")
def import_(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False,
                                                 help=".npz written by `cache export`")]) -> None:
    """Seed the local embedding cache from an export (only the vectors it lacks)."""
    import zipfile

    from core.encoders import seed_cache
    from core.types import NegauditError

    try:
        n = seed_cache(file)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # what numpy raises
        first = (str(exc).splitlines() or [""])[0]
        raise NegauditError(f"{file} is not an embedding export written by `negaudit cache "
                            f"export` ({type(exc).__name__}: {first})") from None
    typer.echo(f"added {n:,} embeddings to the cache")


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
