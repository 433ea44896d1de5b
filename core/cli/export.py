"""`negaudit export` and `negaudit report`: thin wrappers over `core.export` / `core.report`."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import Annotated, Literal

import typer

from core.cli.common import SEED_MAX, DbOption, check_output, interval, open_store, unit_interval


class Fmt(str, Enum):
    triplet = "triplet"
    n_tuple = "n-tuple"
    labeled_pair = "labeled-pair"
    labeled_list = "labeled-list"
    hf = "hf"
    beir = "beir"
    trec_qrels = "trec-qrels"
    judgments = "judgments"


class Layout(str, Enum):
    triplet = "triplet"
    n_tuple = "n-tuple"
    labeled_pair = "labeled-pair"
    labeled_list = "labeled-list"


class FnPolicy(str, Enum):
    to_positive = "to-positive"
    drop = "drop"


class PartialPolicy(str, Enum):
    positive = "positive"
    drop = "drop"
    negative = "negative"


class FlaggedPolicy(str, Enum):
    risk = "risk"
    drop = "drop"


class Sampling(str, Enum):
    random = "random"
    top = "top"


FOLDER_FORMATS = (Fmt.hf, Fmt.beir)
# `export`'s options that shape training data; the judgment log takes none of them.
POLICY_OPTIONS = ("false_negatives", "partial", "drop_risk_above", "flagged", "num_negatives", "seed",
                  "sampling", "split", "relabel_split", "layout", "range_min", "range_max", "min_score",
                  "max_score", "absolute_margin", "relative_margin")
KNOBS = "mine_hard_negatives' filters (unjudged negatives only)"
# The policy options each format reads; one it does not read is refused (given silently, it would only
# mislead the manifest). Corrected qrels take relabels from the judgments alone: a judged false negative is
# always a correction, and nothing is sampled or filtered.
_TABLE = set(POLICY_OPTIONS) - {"relabel_split", "layout"}
APPLIES: dict[str, set[str]] = {
    **{f: _TABLE for f in ("triplet", "n-tuple", "labeled-pair", "labeled-list")},
    "hf": _TABLE | {"layout"},
    "beir": {"partial", "relabel_split"},
    "trec-qrels": {"partial", "split", "relabel_split"},
    "judgments": set(),
}


def _threshold(value: str) -> str:
    """Callback: 'none' or a finite number in [0, 1], checked while parsing (kept as text)."""
    from core.export import parse_threshold
    from core.types import NegauditError

    try:
        unit_interval(parse_threshold(value))
    except NegauditError:
        raise typer.BadParameter(f"{value!r} is neither a number in [0, 1] nor 'none'.") from None
    return value


SeedOption = Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX,
                                         help="seed of the per-query sample")]


def export(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="dataset to export")],
    fmt: Annotated[Fmt, typer.Option("--format", help="output format")],
    out: Annotated[Path, typer.Option("--out", help="file (.parquet/.jsonl; TREC: any) or folder "
                                                    "(hf, beir); judgments: the whole judgment log")],
    false_negatives: Annotated[FnPolicy, typer.Option(
        "--false-negatives", help="judged false negatives become positives, or are dropped")
    ] = FnPolicy.to_positive,
    partial: Annotated[PartialPolicy, typer.Option(
        "--partial", help="judged partials become positives, negatives, or are dropped")
    ] = PartialPolicy.drop,
    drop_risk_above: Annotated[str, typer.Option(
        "--drop-risk-above", callback=_threshold,
        help="drop unreviewed candidates with calibrated fn_risk >= T; 'none' keeps all")] = "0.5",
    flagged: Annotated[FlaggedPolicy, typer.Option(
        "--flagged", help="disagreements and 'unsure': through the risk rule, or always dropped")
    ] = FlaggedPolicy.risk,
    num_negatives: Annotated[int | None, typer.Option(
        "--num-negatives", min=1, help="at most N negatives per query (judged negatives first, then a "
                                "seeded sample); default all")] = None,
    seed: SeedOption = 0,
    sampling: Annotated[Sampling, typer.Option(
        "--sampling", help="which negatives --num-negatives keeps inside each tier: a seeded "
                           "random sample, or the best-ranked (hardest) first")
    ] = Sampling.random,
    split: Annotated[str | None, typer.Option(
        "--split", help="only queries with qrels in this split (e.g. train); default all")] = None,
    relabel_split: Annotated[str | None, typer.Option(
        "--relabel-split", help="beir/trec-qrels: split for relabels (default: the query's own)")
    ] = None,
    layout: Annotated[Layout, typer.Option("--layout", help="table shape of the hf format")
                      ] = Layout.triplet,
    range_min: Annotated[int, typer.Option(
        "--range-min", min=0, rich_help_panel=KNOBS,
        help="skip each query's N best-ranked candidates (positions count judged ones too)")] = 0,
    range_max: Annotated[int | None, typer.Option(
        "--range-max", min=1, rich_help_panel=KNOBS,
        help="only candidates ranked before position N; default: all that `mine --top-k` kept")] = None,
    min_score: Annotated[float | None, typer.Option(
        "--min-score", rich_help_panel=KNOBS, callback=interval(-1, 1),
        help="drop candidates whose dense cosine with the query is below S (needs `negaudit score`)")] = None,
    max_score: Annotated[float | None, typer.Option(
        "--max-score", rich_help_panel=KNOBS, callback=interval(-1, 1), help="drop candidates whose dense cosine is above S")] = None,
    absolute_margin: Annotated[float | None, typer.Option(
        "--absolute-margin", rich_help_panel=KNOBS, callback=interval(-2, 2),
        help="drop candidates within M of the query's positive: score + M > positive's score")] = None,
    relative_margin: Annotated[float | None, typer.Option(
        "--relative-margin", rich_help_panel=KNOBS, callback=interval(0, 1),
        help="drop candidates above (1 - M) x the positive's score (NV-Retriever's TopK-PercPos: 0.05)")
    ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an existing --out")
                         ] = False,
    db: DbOption = None,
) -> None:
    """Write clean training data or corrected qrels, with a manifest (<out>.manifest.json beside a file, manifest.json inside a folder)."""
    from typer._click.core import ParameterSource

    from core.export import FILE_FORMATS, ExportPolicy, export_dataset, parse_threshold
    from core.export.writers import check_file_target, check_folder_target

    flags = [f"--{p.replace('_', '-')}" for p in POLICY_OPTIONS
             if p not in APPLIES[fmt.value] and ctx.get_parameter_source(p) == ParameterSource.COMMANDLINE]
    if flags:
        why = {"judgments": "the judgment log is written whole",
               "beir": "corrected qrels take their relabels from the judgments alone",
               "trec-qrels": "corrected qrels take their relabels from the judgments alone"}.get(
            fmt.value, "it shapes another format")
        raise typer.BadParameter(f"{', '.join(flags)} {'does' if len(flags) == 1 else 'do'} not apply: {why}",
                                 param_hint=f"--format {fmt.value}")
    check_output(out, overwrite=overwrite, folder=fmt in FOLDER_FORMATS)
    if fmt in FOLDER_FORMATS:
        check_folder_target(out, overwrite)  # --overwrite replaces only an earlier export's folder
    if fmt.value in FILE_FORMATS:
        check_file_target(out, overwrite)  # the suffix picks the file type

    policy = ExportPolicy(
        false_negatives=false_negatives.value, partial=partial.value,
        drop_risk_above=parse_threshold(drop_risk_above), flagged=flagged.value,
        num_negatives=num_negatives, seed=seed, sampling=sampling.value, split=split,
        relabel_split=relabel_split, range_min=range_min, range_max=range_max, min_score=min_score,
        max_score=max_score, absolute_margin=absolute_margin, relative_margin=relative_margin)
    with open_store(db, read_only=True) as store:
        manifest = export_dataset(store, name, fmt.value, out, policy, layout=layout.value,
                                  overwrite=overwrite)
    _print_summary(manifest, out)


def _print_summary(manifest: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Column, Table

    from core.export import unscored_note
    from core.export.manifest import manifest_path
    from core.ingest.skips import counted

    console = Console()
    if manifest["format"] != "judgments":  # the log is written whole: no policy branches
        outcomes = ("negative", "positive", "dropped", "filtered", "sampled_out")
        t = Table(Column("branch", no_wrap=True), *(Column(k.replace("_", " "), justify="right") for k in outcomes),
                  title="candidates by branch")
        for branch, by in manifest["counts"]["by_branch"].items():
            t.add_row(branch, *(f"{by.get(k, 0):,}" for k in outcomes))
        console.print(t)
    w = manifest["written"]
    what = f"{w['rows']:,} rows ({w['layout']})" if "rows" in w else f"{w['qrels']:,} qrels"
    if w.get("queries") is not None:  # a table layout: how many of the policy's queries made a row
        what += f" for {w['queries']:,} of {manifest['counts']['queries']:,} queries"
    console.print(f"wrote {what} to {out}; manifest {manifest_path(out)}", soft_wrap=True)  # paths unbroken
    note = unscored_note(manifest["counts"].get("by_branch"))
    if note:
        console.print(f"[yellow]{note}[/yellow]", soft_wrap=True)
    for k, v in (w.get("skipped") or {}).items():
        if v:
            console.print(f"[yellow]skipped {counted(v, k.replace('_', ' '))}[/yellow]")


def report(
    name: Annotated[str, typer.Option("--name", help="dataset")],
    out: Annotated[Path | None, typer.Option("--out", help="write the table as CSV here")
                   ] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace an existing --out")
                         ] = False,
    sample: Annotated[Literal["random", "all"], typer.Option(
        "--sample", help="'random' (the seeded random audit queue's judged prefix: unbiased) or "
                         "'all' (every judged item: biased toward what the risk queue showed)")
    ] = "random",
    seed: Annotated[int, typer.Option("--seed", min=0, max=SEED_MAX,
                                      help="seed of the random audit queue")] = 0,
    miner: Annotated[str | None, typer.Option(
        "--miner", help="only this miner's candidates, bucketed by its own ranks (e.g. dense, bm25)")] = None,
    figures: Annotated[Path | None, typer.Option(
        "--figures", help="also write the Insights figures to this .html file (self-contained, offline)")
    ] = None,
    db: DbOption = None,
) -> None:
    """False-negative rate among mined negatives, with a 95% Wilson interval, by rank bucket."""
    from rich.console import Console

    from core.report import fn_rate_report, write_report_csv

    if out is not None:
        check_output(out, overwrite=overwrite)
    if figures is not None:
        if figures.suffix.lower() != ".html":
            raise typer.BadParameter(f"{figures} must end in .html (one self-contained page)",
                                     param_hint="--figures")
        check_output(figures, "--figures", overwrite=overwrite)
        if out is not None and out.expanduser().resolve() == figures.expanduser().resolve():
            raise typer.BadParameter(f"{figures} is --out too: give the table and the figures two files",
                                     param_hint="--figures")
    with open_store(db, read_only=True) as store:
        table, meta = fn_rate_report(store, name, sample=sample, seed=seed, miner=miner)
        mined = store.counts(name)[0].candidates  # (the "all" sample's meta has no item count)
        if figures is not None:
            from core.figures import insights, write_figures

            same = sample == "random" and miner is None  # the figures' table is this one: not computed twice
            write_figures(insights(store, name, seed, fn_rate=(table, meta) if same else None), figures,
                          f"negaudit insights: {name} (random audit sample, seed {seed}, every miner)")
    from rich.table import Table

    console = Console()
    t = Table("rank", "n", "FN", "partial", "FN rate [95% CI]", "FN+partial [95% CI]", "excluded",
              title=f"false negatives among mined negatives ({sample} sample)")
    for r in table.itertuples():
        t.add_row(r.bucket, str(r.n), str(r.false_negative), str(r.partial),
                  _rate(r.fn_rate, r.ci_low, r.ci_high),
                  _rate(r.fn_or_partial_rate, r.fnp_ci_low, r.fnp_ci_high), str(r.excluded))
    console.print(t)
    for k, v in meta.items():  # no "miner: None" or "coverage: nan" (nothing judged yet)
        if v is None:
            continue
        if isinstance(v, float):  # rates and coverage in percent, as in the table
            v = "n/a" if math.isnan(v) else (f"{v:.1%}" if "rate" in k or k in ("coverage", "min_coverage")
                                             else f"{v:.3g}")
        console.print(f"{k}: {v}")
    if sample == "random" and not meta.get("prefix") and meta.get("judged_anywhere"):
        console.print(f"[yellow]none of the {meta['judged_anywhere']:,} judged items opens the random audit "
                      f"queue of seed {seed}: judge in the app's random audit queue with 'Sample seed' {seed}, or see "
                      f"`--sample all` (biased)[/yellow]")
    if not mined:
        console.print(f"[yellow]{name!r} has no candidates to estimate from: run `negaudit mine` and "
                      "`negaudit score` first[/yellow]")
    elif not meta.get("judged_anywhere", meta.get("judged")):
        console.print("[yellow]nothing judged yet: label candidates in the app's 'Random audit sample' queue "
                      "(an unbiased sample), then report again[/yellow]")
    if out:
        write_report_csv(table, out, meta)
        console.print(f"wrote {out}", soft_wrap=True)
    if figures is not None:
        console.print(f"wrote {figures} (open it in a browser)", soft_wrap=True)
        if not same:  # the page is the Insights page's view; the table above is another estimate
            console.print(f"[yellow]{figures.name} draws the Insights view (random audit sample of seed {seed}, "
                          "every miner), not this table's "
                          f"({'miner ' + repr(miner) + ', ' if miner else ''}{sample} sample)[/yellow]",
                          soft_wrap=True)


def _rate(p: float, lo: float, hi: float) -> str:
    return "n/a" if math.isnan(p) else f"{p:.1%} [{lo:.1%}, {hi:.1%}]"


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("report")(report)
