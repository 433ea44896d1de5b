"""`negaudit cache export|import|info|clear`: ship a dataset's embeddings (float16) so a fresh start encodes
nothing; see what the cache holds and clear parts of it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.cli.common import DbOption, OverwriteOption, check_output, model_folder, open_store

cache_app = typer.Typer(help="See, export, import or clear the on-disk cache (embeddings, BM25 indexes).",
                        no_args_is_help=True)


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

    if out.suffix.lower() != ".npz":  # `cache import` and the demo read .npz only
        raise typer.BadParameter(f"{out} must end in .npz (the file is a NumPy .npz archive)",
                                 param_hint="'--out'")
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
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # what numpy raises (EOFError: empty)
        first = (str(exc).splitlines() or [""])[0]
        raise NegauditError(f"{file} is not an embedding export written by `negaudit cache "
                            f"export` ({type(exc).__name__}: {first})") from None
    typer.echo(f"added {n:,} embeddings to the cache")


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 1e9 else f"{n / 1e9:,.2f} GB"


@cache_app.command("info")
def info() -> None:
    """Where the cache is and what fills it: embeddings per model id, BM25 indexes, ONNX exports."""
    from core.encoders import default_cache_dir
    from core.encoders.cache import cache_usage

    root = default_cache_dir()
    rows = cache_usage(root)
    typer.echo(f"cache root: {root} ($NEGAUDIT_CACHE){'' if rows else ' — empty'}")
    w = max([44, *(len(r["folder"]) for r in rows)])  # model ids with an encoder suffix run past 44
    if rows:
        typer.echo(f"  {'folder':<{w}} {'kind':<13} {'entries':>11}  {'size':>10}")
    for r in rows:
        typer.echo(f"  {r['folder']:<{w}} {r['kind']:<13} {r['entries']:>11,}  {_size(r['bytes']):>10}")
    if rows:
        typer.echo(f"  {'total':<{w}} {'':<13} {'':>11}  {_size(sum(r['bytes'] for r in rows)):>10}")


@cache_app.command("clear")
def clear(
    bm25: Annotated[bool, typer.Option("--bm25", help="the BM25 indexes (rebuilt when next needed)")] = False,
    model: Annotated[list[str] | None, typer.Option(
        "--model", help="an embeddings folder as `cache info` names it (its texts are encoded again when next "
                        "needed); repeat for several")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="remove them; without it, only say what would go")] = False,
) -> None:
    """Remove parts of the cache. Nothing else is touched: stores, exports and labels live elsewhere."""
    import shutil

    from core.encoders import default_cache_dir
    from core.encoders.cache import BM25_FOLDER, cache_usage
    from core.types import NegauditError

    if not bm25 and not model:
        raise NegauditError("say what to clear: --bm25 and/or --model FOLDER (see `negaudit cache info`)")
    root = default_cache_dir()
    usage = {r["folder"]: r for r in cache_usage(root)}
    names = ([BM25_FOLDER] if bm25 and BM25_FOLDER in usage else []) + list(model or [])
    for name in model or []:
        if usage.get(name, {}).get("kind") != "embeddings":
            known = ", ".join(f for f, r in usage.items() if r["kind"] == "embeddings") or "none"
            raise NegauditError(f"--model {name!r} is not an embeddings folder under {root} (those there: {known})")
    if not names:
        typer.echo(f"nothing to clear under {root}")
        return
    freed = sum(usage[n]["bytes"] for n in names)
    for n in names:
        typer.echo(f"{'removing' if yes else 'would remove'} {root / n} ({usage[n]['kind']}, {_size(usage[n]['bytes'])})")
        if yes:
            shutil.rmtree(root / n)
    typer.echo(f"freed {_size(freed)}" if yes else "add --yes to remove them")


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
