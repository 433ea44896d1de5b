"""Export policies: which mined candidates become training negatives, positives, or nothing.

A pure function over DataFrames (no store, no files), so every branch is unit-testable and the
app can preview counts before writing anything.

Branches (every distinct (query, doc) candidate lands in exactly one, first match wins):

| branch                  | what it is                                          | outcome                        |
|-------------------------|-----------------------------------------------------|--------------------------------|
| `out_of_split`          | its query has no qrels in `policy.split` (any split when None) | dropped (no test leakage) |
| `already_positive`      | the dataset labels it relevant (relevance > 0)      | dropped: never a negative      |
| `judged_false_negative` | consensus label false_negative                      | `to-positive` / `drop`         |
| `judged_partial`        | consensus label partial                             | `positive` / `drop` / `negative` |
| `judged_negative`       | consensus label negative                            | negative (sampled first)       |
| `judged_unsure`         | consensus label unsure: flagged                     | like unreviewed (or `flagged=drop`) |
| `disagreement`          | annotators tie, no adjudication: flagged            | like unreviewed, but dropped when a vote says false negative or partial (or `flagged=drop`) |
| `unreviewed`            | no judgment, has a `fn_risk`                        | dropped if fn_risk ≥ T, else negative |
| `unscored`              | no judgment, never scored (e.g. imported triplets)  | kept as negative, counted      |

Consensus is the app's (`core.labels.consensus_from_labels`): the majority of the annotators'
current labels; an admin's `adjudicate` row is final; a tie is a disagreement (label None).
Negatives are then capped at `num_negatives` per query: judged true negatives first, then
partials exported as negatives, the rest after. Inside each tier, `sampling="random"` (default)
takes a seeded order that depends only on (seed, query_id, doc_id) — reproducible and independent
of row order; `sampling="top"` takes the best-ranked (hardest) first, as `mine_hard_negatives`'
`sampling_strategy="top"` does, with the seeded order breaking ties.

`mine_hard_negatives`' other knobs (same names, same tests) filter the negatives nobody judged before the
cap: `min_score` / `max_score` on the candidate's dense cosine with the query (the `dense_score` the scorer
records), `absolute_margin` / `relative_margin` against the query's best labelled positive (`pos_score`),
then `range_min` / `range_max` over the survivors in rank order (0-based positions: `range_min = 10`
skips the ten best-ranked). Positions count every candidate that is not a labelled positive, judged or
not, so they mean the same before and after review; a judged negative is kept whatever they say (a person
checked it). What they remove is `filtered`. Unlike `mine_hard_negatives`, `range_max` has no default
window: the candidates are what `negaudit mine` kept (its `--top-k`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.types import Label, NegauditError

FALSE_NEGATIVE_POLICIES = ("to-positive", "drop")
PARTIAL_POLICIES = ("positive", "drop", "negative")
FLAGGED_POLICIES = ("risk", "drop")
SAMPLING_POLICIES = ("random", "top")

# Branch names, in the order they are tested.
OUT_OF_SPLIT = "out_of_split"
ALREADY_POSITIVE = "already_positive"
JUDGED_FALSE_NEGATIVE = "judged_false_negative"
JUDGED_PARTIAL = "judged_partial"
JUDGED_NEGATIVE = "judged_negative"
JUDGED_UNSURE = "judged_unsure"
DISAGREEMENT = "disagreement"
UNREVIEWED = "unreviewed"
UNSCORED = "unscored"
CANDIDATE_BRANCHES = (OUT_OF_SPLIT, ALREADY_POSITIVE, JUDGED_FALSE_NEGATIVE, JUDGED_PARTIAL,
                      JUDGED_NEGATIVE, JUDGED_UNSURE, DISAGREEMENT, UNREVIEWED, UNSCORED)
# Positives the dataset came with: not a candidate branch, reported beside them.
QREL_POSITIVE = "qrel_positive"

# Outcomes of one candidate.
NEGATIVE, POSITIVE, DROPPED, FILTERED, SAMPLED_OUT = "negative", "positive", "dropped", "filtered", "sampled_out"
OUTCOMES = (NEGATIVE, POSITIVE, DROPPED, FILTERED, SAMPLED_OUT)
# mine_hard_negatives' knobs that compare scores (they need the scorer's dense_score and pos_score).
SCORE_KNOBS = ("min_score", "max_score", "absolute_margin", "relative_margin")

ROW_COLUMNS = ["query_id", "doc_id", "label", "branch", "rank", "fn_risk"]


@dataclass(frozen=True)
class ExportPolicy:
    """The named choices an export makes; written verbatim into the manifest.

    Attributes:
        false_negatives: `to-positive` (a judged false negative becomes a positive) or `drop`.
        partial: judged partials become `positive`, `negative`, or are dropped (`drop`).
        drop_risk_above: drop unreviewed candidates with calibrated fn_risk >= this; None keeps all.
        flagged: disagreements and `unsure` consensus go through the risk rule like unreviewed
            ones (`risk`; a tie with a false-negative or partial vote is dropped) or are always dropped (`drop`).
        num_negatives: at most this many negatives per query (None: all).
        seed: seeds the per-query choice of negatives.
        sampling: `random` (seeded) or `top` (best mining rank first) inside each tier.
        split: only queries with qrels in this split (and their positives of that split); None
            takes every split. Use `train` to keep test queries out of training data.
        relabel_split: where BEIR/TREC exports put relabels; None: the query's own split.
        range_min, range_max: keep unjudged negatives at positions [range_min, range_max) of the query's
            candidates in rank order (after the score filters); None: no upper bound.
        min_score, max_score: keep unjudged negatives whose dense cosine with the query is inside.
        absolute_margin, relative_margin: drop unjudged negatives with score + m > positive's score, or
            score > positive's - |positive's| * m (as `mine_hard_negatives`).
    """

    false_negatives: str = "to-positive"
    partial: str = "drop"
    drop_risk_above: float | None = 0.5
    flagged: str = "risk"
    num_negatives: int | None = None
    seed: int = 0
    sampling: str = "random"
    split: str | None = None
    relabel_split: str | None = None
    range_min: int = 0
    range_max: int | None = None
    min_score: float | None = None
    max_score: float | None = None
    absolute_margin: float | None = None
    relative_margin: float | None = None

    def __post_init__(self) -> None:
        if self.false_negatives not in FALSE_NEGATIVE_POLICIES:
            raise NegauditError(f"--false-negatives must be one of {FALSE_NEGATIVE_POLICIES}, "
                                f"not {self.false_negatives!r}")
        if self.partial not in PARTIAL_POLICIES:
            raise NegauditError(f"--partial must be one of {PARTIAL_POLICIES}, "
                                f"not {self.partial!r}")
        if self.flagged not in FLAGGED_POLICIES:
            raise NegauditError(f"--flagged must be one of {FLAGGED_POLICIES}, "
                                f"not {self.flagged!r}")
        if self.sampling not in SAMPLING_POLICIES:
            raise NegauditError(f"--sampling must be one of {SAMPLING_POLICIES}, "
                                f"not {self.sampling!r}")
        if self.drop_risk_above is not None and not 0.0 <= float(self.drop_risk_above) <= 1.0:
            raise NegauditError("--drop-risk-above must be in [0, 1] or 'none'")
        if self.num_negatives is not None and int(self.num_negatives) < 1:
            raise NegauditError("--num-negatives must be at least 1")
        if int(self.range_min) < 0:
            raise NegauditError(f"--range-min must be 0 or more, not {self.range_min}")
        if self.range_max is not None and int(self.range_max) <= int(self.range_min):
            raise NegauditError(f"--range-max ({self.range_max}) must be larger than --range-min "
                                f"({self.range_min})")
        for knob in SCORE_KNOBS:
            v = getattr(self, knob)
            if v is not None and not np.isfinite(float(v)):
                raise NegauditError(f"--{knob.replace('_', '-')} must be a number, not {v!r}")
        if (self.min_score is not None and self.max_score is not None
                and float(self.min_score) > float(self.max_score)):
            raise NegauditError(f"--min-score ({self.min_score}) is above --max-score ({self.max_score}): "
                                "nothing could pass")

    @property
    def filters(self) -> bool:
        """Whether any of mine_hard_negatives' rank or score knobs is set."""
        return bool(self.range_min) or self.range_max is not None or self.scores

    @property
    def scores(self) -> bool:
        return any(getattr(self, k) is not None for k in SCORE_KNOBS)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_threshold(value: str | float | None) -> float | None:
    """`none` (or empty) keeps every unreviewed candidate; otherwise a float in [0, 1]."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().lower()
    if text in ("", "none", "off"):
        return None
    try:
        return float(text)
    except ValueError:
        raise NegauditError(f"--drop-risk-above takes a number in [0, 1] or 'none', "
                            f"not {value!r}") from None


def _empty_rows() -> pd.DataFrame:
    return pd.DataFrame({"query_id": pd.Series(dtype=object), "doc_id": pd.Series(dtype=object),
                         "label": pd.Series(dtype="int64"), "branch": pd.Series(dtype=object),
                         "rank": pd.Series(dtype="float64"), "fn_risk": pd.Series(dtype="float64")})


def order_key(query_ids: pd.Series, doc_ids: pd.Series, seed: int) -> np.ndarray:
    """A seeded pseudo-random key per (query, doc): the same pair always gets the same key."""
    key = hashlib.sha256(f"negaudit-export:{int(seed)}".encode()).hexdigest()[:16]
    frame = pd.DataFrame({"q": query_ids.astype(str).to_numpy(),
                          "d": doc_ids.astype(str).to_numpy()})
    return pd.util.hash_pandas_object(frame, index=False, hash_key=key).to_numpy()


_RELEVANT_VOTES = frozenset({Label.FALSE_NEGATIVE.value, Label.PARTIAL.value})


def _consensus_columns(consensus_df: pd.DataFrame | None) -> pd.DataFrame:
    """(query_id, doc_id, c_label, c_status, c_relevant_vote); a missing label with no status is a disagreement.

    ``c_relevant_vote``: some annotator's current vote says false negative or partial (from ``votes``, the
    {annotator: label} of `core.labels.consensus_from_labels`; False where the frame has no votes)."""
    cols = ["query_id", "doc_id", "c_label", "c_status", "c_relevant_vote"]
    if consensus_df is None or consensus_df.empty:
        return pd.DataFrame(columns=cols)
    c = consensus_df.copy()
    if "status" not in c.columns:
        c["status"] = np.where(c["label"].isna(), "disagreement", "single")
    votes = c["votes"] if "votes" in c.columns else pd.Series([None] * len(c), index=c.index)
    c["c_relevant_vote"] = [isinstance(v, dict) and not _RELEVANT_VOTES.isdisjoint(v.values()) for v in votes]
    c = c.rename(columns={"label": "c_label", "status": "c_status"})
    c["c_label"] = c["c_label"].astype(object).where(c["c_label"].notna(), None)
    return c[cols].drop_duplicates(["query_id", "doc_id"], keep="last")


def apply_policy(candidates_df: pd.DataFrame, risk_df: pd.DataFrame | None,
                 consensus_df: pd.DataFrame | None, qrels_df: pd.DataFrame,
                 policy: ExportPolicy) -> tuple[pd.DataFrame, dict[str, dict[str, int]]]:
    """Turn candidates + judgments + risk into labelled training rows, and count every decision.

    Args:
        candidates_df: query_id, doc_id (+ rank); one row per miner is fine (deduplicated here).
        risk_df: query_id, doc_id, fn_risk (may be None/empty: then everything is `unscored`).
        consensus_df: query_id, doc_id, label, status (as `core.labels.consensus_from_labels`).
        qrels_df: query_id, doc_id, relevance, split.

    Returns:
        rows: one row per training pair kept — query_id, doc_id, label (1 positive, 0 negative),
            branch, rank, fn_risk — positives first per query, negatives in selection order.
        counts: {branch: {outcome: n}}; candidate branches sum to the distinct candidates, and
            `qrel_positive` counts the dataset's own positives exported.
    """
    qrels = qrels_df if qrels_df is not None else pd.DataFrame(
        columns=["query_id", "doc_id", "relevance", "split"])
    in_split = qrels if policy.split is None else qrels[qrels["split"] == policy.split]
    scope = set(in_split["query_id"].astype(str))
    pos = in_split[in_split["relevance"] > 0]
    # A doc labelled relevant in *any* split must never be trained on as a negative.
    all_pos_keys = set(zip(qrels.loc[qrels["relevance"] > 0, "query_id"].astype(str),
                           qrels.loc[qrels["relevance"] > 0, "doc_id"].astype(str)))

    cand = candidates_df[["query_id", "doc_id"]].copy()
    cand["rank"] = candidates_df["rank"] if "rank" in candidates_df.columns else np.nan
    cand["query_id"] = cand["query_id"].astype(str)
    cand["doc_id"] = cand["doc_id"].astype(str)
    cand = cand.groupby(["query_id", "doc_id"], as_index=False, sort=False)["rank"].min()

    if risk_df is not None and not risk_df.empty:
        r = risk_df[["query_id", "doc_id", "fn_risk"]].drop_duplicates(
            ["query_id", "doc_id"], keep="last")
        cand = cand.merge(r.astype({"query_id": str, "doc_id": str}), how="left",
                          on=["query_id", "doc_id"])
    else:
        cand["fn_risk"] = np.nan
    cons = _consensus_columns(consensus_df)
    cand = cand.merge(cons.astype({"query_id": str, "doc_id": str}), how="left",
                      on=["query_id", "doc_id"])

    label = cand["c_label"].astype(object)
    status = cand["c_status"].astype(object)
    is_pos = pd.Series([k in all_pos_keys for k in zip(cand.query_id, cand.doc_id)],
                       index=cand.index, dtype=bool)
    judged = status.notna()
    scored = cand["fn_risk"].notna()
    conditions = [
        ~cand["query_id"].isin(scope),
        is_pos,
        label == Label.FALSE_NEGATIVE.value,
        label == Label.PARTIAL.value,
        label == Label.NEGATIVE.value,
        label == Label.UNSURE.value,
        judged,  # judged but no label: a tie without adjudication
        scored,
    ]
    cand["branch"] = np.select(conditions, CANDIDATE_BRANCHES[:-1], default=UNSCORED)

    b = cand["branch"]
    outcome = pd.Series(DROPPED, index=cand.index, dtype=object)
    outcome[b == JUDGED_NEGATIVE] = NEGATIVE
    outcome[b == UNSCORED] = NEGATIVE
    if policy.false_negatives == "to-positive":
        outcome[b == JUDGED_FALSE_NEGATIVE] = POSITIVE
    if policy.partial == "positive":
        outcome[b == JUDGED_PARTIAL] = POSITIVE
    elif policy.partial == "negative":
        outcome[b == JUDGED_PARTIAL] = NEGATIVE
    risky = scored & (cand["fn_risk"] >= policy.drop_risk_above) if (
        policy.drop_risk_above is not None) else pd.Series(False, index=cand.index)
    outcome[(b == UNREVIEWED) & ~risky] = NEGATIVE
    if policy.flagged == "risk":
        flagged = b.isin([JUDGED_UNSURE, DISAGREEMENT])
        # A tie where someone called it relevant is never a training negative, whatever the risk says: the
        # scorer's risk is not refitted on disputed items (the team audit exported FN-vs-partial ties at 12%).
        said_relevant = (b == DISAGREEMENT) & cand["c_relevant_vote"].fillna(False).astype(bool)
        outcome[flagged & ~risky & ~said_relevant] = NEGATIVE
    if policy.filters:  # mine_hard_negatives' knobs, on the negatives nobody judged
        keep = knob_mask(cand, risk_df, policy)
        outcome[(outcome == NEGATIVE) & ~b.isin([JUDGED_NEGATIVE, JUDGED_PARTIAL]) & ~keep] = FILTERED
    cand["outcome"] = outcome

    # Seeded per-query cap: judged true negatives first, then partial-as-negative, then the rest.
    neg = cand[cand["outcome"] == NEGATIVE].copy()
    neg["tier"] = np.select([neg["branch"] == JUDGED_NEGATIVE, neg["branch"] == JUDGED_PARTIAL],
                            [0, 1], 2)
    neg["key"] = order_key(neg["query_id"], neg["doc_id"], policy.seed)
    by = ["query_id", "tier", "key", "doc_id"]
    if policy.sampling == "top":  # hardest first; unranked candidates last
        neg["rank_key"] = neg["rank"].fillna(np.inf)
        by = ["query_id", "tier", "rank_key", "key", "doc_id"]
    neg = neg.sort_values(by, kind="mergesort")
    neg["pick"] = neg.groupby("query_id", sort=False).cumcount()
    if policy.num_negatives is not None:
        over = neg.index[neg["pick"] >= int(policy.num_negatives)]
        cand.loc[over, "outcome"] = SAMPLED_OUT
        neg = neg[neg["pick"] < int(policy.num_negatives)]

    counts: dict[str, dict[str, int]] = {}
    for (branch, out), n in cand.groupby(["branch", "outcome"]).size().items():
        counts.setdefault(branch, {})[out] = int(n)

    # Positives: the dataset's (in scope) and those the policy promotes.
    qpos = pos[["query_id", "doc_id", "relevance"]].astype({"query_id": str, "doc_id": str})
    qpos = (qpos.sort_values(["query_id", "relevance", "doc_id"], ascending=[True, False, True])
            .drop_duplicates(["query_id", "doc_id"]))
    qpos = qpos.assign(label=1, branch=QREL_POSITIVE, rank=np.nan, fn_risk=np.nan)
    if len(qpos):
        counts[QREL_POSITIVE] = {POSITIVE: len(qpos)}
    promoted = cand[cand["outcome"] == POSITIVE].sort_values(["query_id", "doc_id"])
    promoted = promoted.assign(label=1)
    negatives = neg.assign(label=0)

    parts = [p[ROW_COLUMNS] for p in (qpos, promoted, negatives) if len(p)]
    if not parts:
        return _empty_rows(), counts
    rows = pd.concat(parts, ignore_index=True)
    rows["_part"] = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    rows["_pos"] = np.arange(len(rows))
    rows = (rows.sort_values(["query_id", "_part", "_pos"], kind="mergesort")
            .drop(columns=["_part", "_pos"]).reset_index(drop=True))
    rows["label"] = rows["label"].astype("int64")
    rows["rank"] = rows["rank"].astype("float64")
    rows["fn_risk"] = rows["fn_risk"].astype("float64")
    return rows, counts


def dense_scores(risk_df: pd.DataFrame) -> pd.Series:
    """The scorer's `dense_score` signal per risk row (NaN where it is missing): the cosine
    `mine_hard_negatives` compares, for every candidate whichever miner found it."""
    found = risk_df["signals"].astype(str).str.extract(r'"dense_score":\s*(-?[0-9.eE+-]+)', expand=False)
    return pd.to_numeric(found, errors="coerce")


def knob_mask(cand: pd.DataFrame, risk_df: pd.DataFrame | None, policy: ExportPolicy) -> pd.Series:
    """True where a candidate passes `mine_hard_negatives`' score filters and rank window (see the module
    doc); labelled positives and out-of-split queries take no position."""
    b = cand["branch"]
    eligible = ~b.isin([OUT_OF_SPLIT, ALREADY_POSITIVE])
    ok = pd.Series(True, index=cand.index)
    if policy.scores:
        if risk_df is None or risk_df.empty or "signals" not in risk_df:
            raise NegauditError("the score filters (--min-score, --max-score, --absolute-margin, "
                                "--relative-margin) compare the scorer's dense scores: run `negaudit score` "
                                "first, or leave them out")
        r = risk_df[["query_id", "doc_id", "pos_score"]].astype({"query_id": str, "doc_id": str}).assign(
            dense_score=dense_scores(risk_df).to_numpy())
        r = r.drop_duplicates(["query_id", "doc_id"], keep="last")
        m = cand[["query_id", "doc_id"]].merge(r, how="left", on=["query_id", "doc_id"])
        score, pos = m["dense_score"].to_numpy(float), m["pos_score"].to_numpy(float)
        missing = int((eligible.to_numpy() & np.isnan(score)).sum())
        if missing:
            raise NegauditError(f"{missing:,} candidates have no dense score (never scored): run "
                                "`negaudit score` first, or leave the score filters out")
        has_pos = ~np.isnan(pos)
        with np.errstate(invalid="ignore"):
            if policy.absolute_margin is not None:
                ok &= ~(has_pos & (score + float(policy.absolute_margin) > pos))
            if policy.relative_margin is not None:
                ok &= ~(has_pos & (score > pos - np.abs(pos) * float(policy.relative_margin)))
            if policy.max_score is not None:
                ok &= ~(score > float(policy.max_score))
            if policy.min_score is not None:
                ok &= ~(score < float(policy.min_score))
        ok = pd.Series(ok.to_numpy(), index=cand.index)
    if policy.range_min or policy.range_max is not None:
        alive = cand[eligible & ok].sort_values(["query_id", "rank", "doc_id"], kind="mergesort",
                                                na_position="last")
        place = alive.groupby("query_id", sort=False).cumcount()
        inside = place >= int(policy.range_min)
        if policy.range_max is not None:
            inside &= place < int(policy.range_max)
        ok &= pd.Series(False, index=cand.index).where(~cand.index.isin(alive.index), inside).astype(bool)
    return ok & eligible


def unscored_note(counts: dict[str, dict[str, int]] | None) -> str | None:
    """What to say when candidates were never scored: they skip the risk rule (mined after the last score,
    or imported negatives nobody scored). None when every candidate has a fn_risk."""
    if not counts or not counts.get(UNSCORED):
        return None
    n = sum(counts[UNSCORED].values())
    if not counts.get(UNREVIEWED) and not any(counts.get(b) for b in (JUDGED_UNSURE, DISAGREEMENT)):
        return (f"no candidate has a fn_risk ({n:,} never scored): none went through the risk rule; "
                "`negaudit score` first to drop likely false negatives")
    return (f"{n:,} candidates were never scored (mined after the last score?): they skipped the risk rule; "
            "run `negaudit score` and export again")


def summarize_counts(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """Totals across branches: candidates in, negatives/positives out, dropped, sampled out."""
    cand = {b: v for b, v in counts.items() if b != QREL_POSITIVE}
    total = {o: sum(v.get(o, 0) for v in cand.values()) for o in OUTCOMES}
    return {
        "candidates": sum(total.values()),
        "negatives_out": total[NEGATIVE],
        "promoted_to_positive": total[POSITIVE],
        "dropped": total[DROPPED],
        "filtered": total[FILTERED],
        "sampled_out": total[SAMPLED_OUT],
        "dataset_positives_out": counts.get(QREL_POSITIVE, {}).get(POSITIVE, 0),
    }
