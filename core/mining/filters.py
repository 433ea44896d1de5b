"""``mine_hard_negatives``' knobs as a *view*: every candidate kept, marked with why a filter drops it.

Users know ``sentence_transformers.util.mine_hard_negatives``: it retrieves, removes positives, then
*drops* candidates by rank window, margin and score and records nothing. Here mining keeps every
candidate row and :func:`mark_filters` reproduces, row by row, which ones ``mine_hard_negatives``
would have kept and why the others go (``filter_reason``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Literal

import pandas as pd


@dataclass(frozen=True)
class MiningConfig:
    """The knobs of ``sentence_transformers.util.mine_hard_negatives`` (same names, same defaults).

    Semantics follow its source (sentence-transformers 6.2), see :func:`mark_filters`. ``seed`` seeds
    ``random.Random`` for ``sampling_strategy="random"`` (ST uses the global ``random`` module, so
    ``random.seed(seed)`` before calling it reproduces our choice).
    """

    range_min: int = 0
    range_max: int | None = None
    num_negatives: int = 3
    max_score: float | None = None
    min_score: float | None = None
    absolute_margin: float | None = None
    relative_margin: float | None = None
    sampling_strategy: Literal["top", "random"] = "top"
    seed: int = 0

    def resolved_range_max(self, max_positives: int) -> int:
        """ST's default: range_min + num_negatives (x10 when a score filter is set) + max_positives."""
        if self.range_max is not None:
            return self.range_max
        filtering = any(
            v is not None for v in (self.absolute_margin, self.relative_margin, self.max_score)
        )
        return self.range_min + self.num_negatives * (10 if filtering else 1) + max_positives

    def validate(self, max_positives: int) -> None:
        """Reject what ST rejects, with its reasons."""
        rmax = self.resolved_range_max(max_positives)
        if self.num_negatives < 1:
            raise ValueError(f"num_negatives must be at least 1, got {self.num_negatives}")
        if self.range_min < 0:
            raise ValueError(f"range_min must be non-negative, got {self.range_min}")
        if self.range_min >= rmax:
            raise ValueError(
                f"range_min ({self.range_min}) must be smaller than range_max ({rmax})"
            )
        if self.num_negatives > rmax - self.range_min:
            raise ValueError(
                f"cannot keep {self.num_negatives} negatives from a window of {rmax - self.range_min}"
            )
        if self.sampling_strategy not in ("top", "random"):
            raise ValueError(
                f"sampling_strategy must be 'top' or 'random', not {self.sampling_strategy!r}"
            )


def _score_reason(score: float, pos_min: float, cfg: MiningConfig) -> str:
    """The first score filter (in ST's order) that rejects this candidate, or ''."""
    if not math.isnan(pos_min):
        if cfg.absolute_margin is not None and score + cfg.absolute_margin > pos_min:
            return "absolute_margin"
        if cfg.relative_margin is not None and score > pos_min - abs(pos_min) * cfg.relative_margin:
            return "relative_margin"
    if cfg.max_score is not None and score > cfg.max_score:
        return "max_score"
    if cfg.min_score is not None and score < cfg.min_score:
        return "min_score"
    return ""


def _select_group(
    g: pd.DataFrame, cfg: MiningConfig, window: int, rmax: int, rng: random.Random
) -> list[str]:
    """Reasons for one (miner, query) ranking, rows sorted by rank; '' means ST keeps it."""
    reasons = ["outside_window" if r > window else "" for r in g["rank"].tolist()]
    pos_min = float(g["pos_score_min"].iloc[0]) if "pos_score_min" in g else math.nan
    for i, s in enumerate(g["score"].tolist()):
        if not reasons[i]:
            reasons[i] = _score_reason(s, pos_min, cfg)
    survivors = [i for i, r in enumerate(reasons) if not r]
    for o, i in enumerate(survivors):
        if o < cfg.range_min:
            reasons[i] = "range_min"
        elif o >= rmax:
            reasons[i] = "range_max"
    pool = survivors[cfg.range_min : rmax]
    if cfg.sampling_strategy == "top":
        chosen = set(pool[: cfg.num_negatives])
    else:  # mirror ST: sample positions of a window padded with -inf slots, drop the padding
        options = max(len(pool), cfg.num_negatives)
        picks = rng.sample(range(options), k=cfg.num_negatives)
        chosen = {pool[p] for p in picks if p < len(pool)}
    for i in pool:
        if i not in chosen:
            reasons[i] = "not_sampled"
    return reasons


def _query_order(mdf: pd.DataFrame) -> list[str]:
    """Queries in order of first appearance, those with positives first (ST only sees those)."""
    first = mdf.drop_duplicates("query_id")
    if "n_positives" in first:
        first = pd.concat([first[first["n_positives"] > 0], first[first["n_positives"] <= 0]])
    return first["query_id"].tolist()


def mark_filters(
    df: pd.DataFrame, config: MiningConfig, max_positives: int | None = None
) -> pd.DataFrame:
    """A copy of ``df`` with ``passes_filters`` (bool) and ``filter_reason`` ('' when it passes).

    Reproduces ``mine_hard_negatives`` per (miner, query), queries in order of first appearance:
    1. window: ST retrieves the top ``range_max + max_positives`` docs of the full ranking (rank),
       ``max_positives`` being the largest positive count of any query (default: ``n_positives`` max);
    2. score filters, margins against the query's *minimum* positive score (``pos_score_min``):
       ``absolute_margin`` drops ``score + m > pos``; ``relative_margin`` drops
       ``score > pos - |pos| * m``; then ``max_score`` / ``min_score``;
    3. of the survivors in score order, the first ``range_min`` go, then all past ``range_max``;
    4. ``top`` keeps the first ``num_negatives``; ``random`` samples them (seeded).
    Rows must carry every candidate of the window for an exact match (mine ``top_k`` >= window).
    Reasons: outside_window, absolute_margin, relative_margin, max_score, min_score, range_min,
    range_max, not_sampled.
    """
    out = df.copy()
    if out.empty:
        out["passes_filters"] = pd.Series(dtype=bool)
        out["filter_reason"] = pd.Series(dtype=str)
        return out
    if max_positives is None:
        max_positives = int(out["n_positives"].max()) if "n_positives" in out else 0
    config.validate(max_positives)
    rmax = config.resolved_range_max(max_positives)
    window = rmax + max_positives
    reasons = pd.Series("", index=out.index, dtype=object)
    for miner, mdf in out.groupby("miner", sort=False):
        rng = random.Random(config.seed)
        mdf = mdf.sort_values(["rank"], kind="stable")
        groups = dict(list(mdf.groupby("query_id", sort=False)))
        for qid in _query_order(out.loc[out["miner"] == miner]):
            g = groups[qid]
            reasons.loc[g.index] = _select_group(g, config, window, rmax, rng)
    out["filter_reason"] = reasons.astype(str)
    out["passes_filters"] = out["filter_reason"] == ""
    return out


def drop_summary(marked: pd.DataFrame) -> pd.DataFrame:
    """Counts and shares of candidates per miner and reason, for reports ("ST would drop 85%")."""
    g = marked.groupby(["miner", "filter_reason"]).size().rename("n").reset_index()
    g["share"] = g["n"] / g.groupby("miner")["n"].transform("sum")
    g["filter_reason"] = g["filter_reason"].replace("", "kept")
    return g
