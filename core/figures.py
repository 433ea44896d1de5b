"""The Insights figures of one dataset, read from the store: one assembly for the app's Insights page and
for `negaudit report --figures` (a self-contained HTML file a researcher can keep or send)."""

from __future__ import annotations

import html
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from core import plots, report, review
from core.review import learning
from core.store import Store

# Figure keys in the order the page and the file show them.
FIGURES = ("fn_rate_by_rank", "risk_by_label", "reliability", "judged_at_k", "throughput", "agreement")


@dataclass
class Insights:
    """What the Insights page shows above its tables: the FN-rate table (+ what it was computed from),
    the agreement statistics, the judged items and the figures (keys: `FIGURES`)."""

    table: pd.DataFrame
    meta: dict[str, Any]
    agreement: dict[str, Any]
    judged: pd.DataFrame
    pooling: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
    refitted: bool = False  # the learning queue has refitted risk from judgments (the diagram draws both)


def insights(store: Store, dataset: str, seed: int = 0,
             fn_rate: tuple[pd.DataFrame, dict[str, Any]] | None = None) -> Insights:
    """Read the dataset's judgments, risk and pooling bias once and build every figure.

    ``fn_rate``: `core.report.fn_rate_report`'s (table, meta) for the random sample of ``seed``, when the caller
    has it already (`negaudit report --figures`)."""
    judged = review.judged_items(store, dataset)
    # The one estimator (core.labels), read from the store as `negaudit report` reads it.
    table, meta = fn_rate or report.fn_rate_report(store, dataset, sample="random", seed=seed)
    ag = review.agreement(store, dataset)
    before, _ = learning.calibration_frames(store, dataset)
    refitted = any("skipped" not in h for h in learning.history(store, dataset))
    pooling = store.dataset_info(dataset)["meta"].get("pooling", {})
    figures = {
        "fn_rate_by_rank": plots.fn_rate_by_rank(review.rank_risk_summary(store, dataset), table),
        "risk_by_label": plots.risk_histogram(review.risk_histogram(store, dataset), judged),
        "reliability": plots.reliability(judged, before=before if refitted else None),
        "judged_at_k": plots.judged_at_k(store.query_bias(dataset), pooling.get("judged_k")),
        "throughput": plots.throughput(review.throughput(store, dataset)),
        "agreement": plots.agreement(ag["pairs"]),
    }
    return Insights(table, meta, ag, judged, pooling, figures, refitted)


def judged_at_k_note(pooling: dict[str, Any]) -> str:
    """What the Judged@k figure counts and when it was computed ("" before a score recorded it): the page's
    caption and the saved page's summary say it in the same words."""
    if not (pooling.get("scored_at") and pooling.get("judged_k")):
        return ""
    when = str(pooling["scored_at"]).replace("+00:00", "")  # an ISO time in UTC, said once
    return (f"Judged@{pooling['judged_k']} counts qrels and the {pooling.get('judgments', 0):,} judged items at the "
            f"last score ({when} UTC)")


def summary_line(found: Insights) -> str:
    """When and from what the figures were drawn: a saved page can be dated and tied to a state of the labels."""
    from datetime import UTC, datetime

    from core.labels import format_rate

    o, m = found.table.iloc[0], found.meta
    rate = (f"false-negative rate {format_rate(o['fn_rate'], o['ci_low'], o['ci_high'])} (95% Wilson), "
            f"n={int(o['n'])} of the random audit sample (seed {m.get('seed')}, prefix {m.get('prefix')}, "
            f"{m.get('gaps')} gaps)" if int(o["n"]) else "no random-audit sample judged yet")
    alpha, multi = found.agreement.get("alpha", float("nan")), found.agreement["items_multi"]
    value = "n/a" if math.isnan(alpha) else f"{alpha:.2f}"
    agree = (f"Krippendorff's alpha {value} over {multi:,} items with two or more votes" if multi
             else "no item has two votes yet (no agreement figure)")
    note = judged_at_k_note(found.pooling)
    judged_k = f" {note}." if note else ""
    refit = (" The reliability diagram's refitted curve is in-sample: drawn on the judged items it was fitted on."
             if found.refitted else "")
    return (f"Drawn {datetime.now(UTC):%Y-%m-%d %H:%M} UTC from {len(found.judged):,} judged items; {rate}; "
            f"{agree}.{judged_k}{refit}")


def figures_html(found: Insights, title: str) -> str:
    """One self-contained page (plotly.js inlined once, nothing fetched when opened) with every figure."""
    head = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body style='font-family:sans-serif;max-width:1100px;margin:auto'><h1>{html.escape(title)}</h1>"
            f"<p>{html.escape(summary_line(found))}</p>")
    parts = [head]
    for i, key in enumerate(FIGURES):
        parts.append(found.figures[key].to_html(full_html=False, include_plotlyjs=(i == 0), div_id=key))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_figures(found: Insights, path: str | os.PathLike, title: str) -> Path:
    """Write `figures_html` to `path` (via a temp file beside it, so a failure leaves no half page)."""
    from core.export.atomic import atomic_file

    path = Path(path).expanduser()
    with atomic_file(path) as tmp:
        Path(tmp).write_text(figures_html(found, title), encoding="utf-8")
    return path
