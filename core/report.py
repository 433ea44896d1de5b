"""`negaudit report` and the app's Insights metric: the false-negative rate of one store's dataset.

The estimator (sample, what counts, interval, rank buckets) is defined once in `core.labels`;
this module only reads its inputs from the store: consensus labels, best mining ranks and the
random-audit queue's seeded order. Plus the CSV writers for spreadsheets (formula-neutralised).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from core.labels import MIN_COVERAGE, consensus_from_labels, estimate_fn_rate
from core.types import Mode, NegauditError, QueueSpec

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def fn_rate_report(store: Any, name: str, sample: str = "random", seed: int = 0,
                   min_coverage: float = MIN_COVERAGE, miner: str | None = None
                   ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The FN-rate table for dataset `name` and what it was computed from (`core.labels`).

    `sample="random"`: the judged prefix of the random queue with `seed` (unbiased);
    `sample="all"`: every judged candidate (biased toward the risk queue's choices).
    `miner` restricts to (and takes ranks from) one miner's candidates.
    """
    if sample not in ("random", "all"):
        raise NegauditError(f"--sample must be 'random' or 'all', not {sample!r}")
    if not store.has_dataset(name):
        raise NegauditError(f"no dataset named {name!r}; see `negaudit datasets`")
    ranks = (store.candidates(name, miner=miner).groupby(["query_id", "doc_id"], as_index=False)
             ["rank"].min())
    if miner is not None and ranks.empty:
        miners = sorted(store.candidates(name)["miner"].astype(str).unique())
        raise NegauditError(f"dataset {name!r} has no candidates from miner {miner!r}; its miners: "
                            f"{', '.join(miners) or 'none (run `negaudit mine`)'}")
    cons = consensus_from_labels(store.current_labels(name))
    meta: dict[str, Any] = {"dataset": name, "sample": sample, "miner": miner}
    order = None
    if sample == "random":
        order = random_order(store, name, seed)
        if miner is not None:
            order = order.merge(ranks[["query_id", "doc_id"]].astype(str), how="inner")
        meta["seed"] = seed
    table, info = estimate_fn_rate(order, cons, ranks, min_coverage)
    meta.update(info)
    return table, meta


def random_order(store: Any, name: str, seed: int = 0) -> pd.DataFrame:
    """Every item in the review app's random-queue order for `seed` (query_id, doc_id)."""
    from core.store import queue as SQ

    spec = QueueSpec(dataset=name, mode=Mode.RANDOM, status="any", seed=int(seed))
    return SQ.order(store, spec).reset_index(drop=True)


def neutralise_cell(value: Any) -> Any:
    """Prefix `'` to text a spreadsheet would run as a formula (=, +, -, @, tab, CR)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Text cells and column names neutralised; numbers stay numbers."""
    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


def spreadsheet_csv(table: pd.DataFrame) -> str:
    """CSV text for a download a spreadsheet will open (the app's consensus labels): neutralised."""
    return neutralise_frame(table).to_csv(index=False)


def report_frame(table: pd.DataFrame, meta: dict[str, Any] | None = None) -> pd.DataFrame:
    """The FN-rate table as a file holds it: each row carries what the table was computed from (dataset,
    sample, seed, prefix, gaps, ...: a CSV of the biased `all` sample could not be told from a random
    one), and rank buckets read "ranks 1-5" (a spreadsheet turns a bare "1-5" into 5 January)."""
    out = table.copy()
    if "bucket" in out.columns:
        out["bucket"] = [f"ranks {b}" if b[:1].isdigit() else b for b in out["bucket"].astype(str)]
    for k, v in (meta or {}).items():
        if v is not None and not (isinstance(v, float) and math.isnan(v)) and k not in out.columns:
            out[k] = v
    return out


def write_report_csv(table: pd.DataFrame, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """A CSV for spreadsheets (`report_frame`): formula-like text neutralised (training exports never are)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    neutralise_frame(report_frame(table, meta)).to_csv(path, index=False)
    return path
