"""The queue learns: after every N new judgments fn_risk is refitted from them, off the click path.

The refit is the scorer's judgment re-ranker (`core.risk.learn.rerank`, on `core.risk.calibration.fit_offset`):
the scorer's own log-odds stay a fixed offset, and only an intercept plus L2-shrunk weights of judgment-weighed
features are learned from the consensus labels — the query's mean risk (`query_mass`), the stored similarity to
the kept positive (`signal_features`) and, on a store scored with late interaction, the query's mean token
MaxSim (`query_mean`; both via `static_extras`), where queries are expected to hold several false negatives how
many more the query's other judged items held than the scorer expected (`query_residual`) — and, when the
embedding cache already holds the vectors of the queries and docs in play, the bench learner's cosine evidence
(to docs judged FN / negative for the same query, and of the query to other queries that judged the same doc;
`core.review.vectors` looks them up and never encodes), with, where scoring cached the docs' rows of the corpus'
latent semantic space and queries hold several false negatives, the closeness to the query's judged FNs there
(`topic_evidence`); `core.risk.learn.LearnerFeatures` builds them for both. Any vector missing: the vector-free features, and the
refit's record says which path ran and why. The model and its shrinkage are chosen by query-grouped
cross-validation on the judged items, so a few judgments leave the unjudged items at the scorer's risk unless
they clearly re-order them; re-ordered, they keep the scorer's level (`core.risk.learn.anchor_levels`). No
re-mining, no model load, a fraction of a second for thousands of items (the bench's learner also has the spline
view's departure, which the store lacks). Writing risk bumps the store epoch, so the queue's cached heads
re-order at the next click. It runs in a daemon thread started after a decision, so the annotator never waits;
the next card is drawn from the re-ordered queue once it lands.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from core.auth import User, require_role
from core.encoders.cache import EmbeddingCache
from core.labels import consensus_from_labels
from core.review.settings import int_setting
from core.review.vectors import CachedVectors, cached_vectors
from core.risk.calibration import expected_calibration_error, judgment_targets, level_shift
from core.risk.combiner import logit, sigmoid
from core.risk.learn import LearnerFeatures, rerank
from core.store import Store
from core.store import learning as SL
from core.types import NegauditError, Role

EVERY_KEY = "learn_every"
DEFAULT_EVERY = 25
MIN_PER_CLASS = 2  # both classes at least twice, or there is nothing to learn from
MAX_HISTORY = 50
HEAD = 50  # "re-ordered": how many places of the unjudged top-HEAD hold another item now
_EPS = 1e-4


def learn_every(store: Store) -> int:
    """N: refit after every N new judgments (0 = never)."""
    return int_setting(store, EVERY_KEY, DEFAULT_EVERY, minimum=0)


def set_learn_every(store: Store, n: int, actor: User) -> None:
    require_role(actor, Role.ADMIN)
    if not 0 <= int(n) <= 10_000:
        raise NegauditError("refit interval must be between 0 (off) and 10000 judgments")
    store.set_setting(EVERY_KEY, str(int(n)))


def _history_key(dataset: str) -> str:
    return f"learn_history::{dataset}"


def history(store: Store, dataset: str) -> list[dict]:
    """The refits of a dataset, oldest first (judgments seen, ECE before/after, items moved)."""
    try:
        out = json.loads(store.get_setting(_history_key(dataset), "[]") or "[]")
    except ValueError:
        return []
    return out if isinstance(out, list) else []


def last_refit(store: Store, dataset: str) -> dict | None:
    """The refit whose fn_risk is in the store now (when, from how many judgments, and the level shift the
    random-order sample asked for), or None when the scorer's own risk is still in use."""
    done = [h for h in history(store, dataset) if "skipped" not in h]
    if not done:
        return None
    h = done[-1]
    return {k: h.get(k) for k in ("at", "judgments", "level_sample", "level_shift")}


# What a reader of the refit table looks for first (how many judgments, is the risk calibrated, was it
# re-levelled); timings, sizes and the long `evidence` text go to the right.
HISTORY_COLUMNS = ("at", "judgments", "ece_scorer", "ece_before", "ece_after", "level_sample", "level_shift",
                   "head_moved", "judged", "positives", "logloss_scorer", "logloss_before", "logloss_after",
                   "skipped", "evidence", "items", "vectors_s", "write_s")


def history_table(hist: list[dict]) -> pd.DataFrame:
    """The refit records as a table, newest first, in :data:`HISTORY_COLUMNS` order (any other key after)."""
    df = pd.DataFrame(hist).drop(columns=["features"], errors="ignore")
    cols = [c for c in HISTORY_COLUMNS if c in df.columns]
    return df[cols + [c for c in df.columns if c not in cols]].iloc[::-1].reset_index(drop=True)


def _signal(signals: pd.Series, name: str) -> np.ndarray | None:
    """One stored numeric signal per row (missing values at its mean); None when most rows lack it."""
    vals = []
    for s in signals:
        try:
            d = json.loads(s or "{}")
        except (TypeError, ValueError):
            d = {}
        v = d.get(name) if isinstance(d, dict) else None
        vals.append(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan)
    a = np.asarray(vals, dtype=float)
    ok = np.isfinite(a)
    if ok.mean() < 0.5 or np.ptp(a[ok]) == 0:
        return None
    return np.where(ok, a, a[ok].mean())


def item_keys(items: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(query codes, query ids, doc codes, doc ids) of the items: vectors are looked up in the ids' order."""
    q, qids = pd.factorize(items.query_id.astype(str))
    d, dids = pd.factorize(items.doc_id.astype(str))
    return q, np.asarray(qids), d, np.asarray(dids)


def _features(items: pd.DataFrame, base_logit: np.ndarray, judged: np.ndarray, labels: np.ndarray,
              vectors: CachedVectors | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(query codes, features, names): the bench learner's features (core.risk.learn.LearnerFeatures) with the
    cosine evidence when the vectors are given, the stored kept-positive similarity and late MaxSim when stored."""
    q, _, d, _ = item_keys(items)
    signals = items.signals.reset_index(drop=True)
    build = LearnerFeatures(q, d, base_logit, None,
                            None if vectors is None else vectors.doc, None if vectors is None else vectors.query,
                            None if vectors is None else vectors.topic,
                            _signal(signals, "pos_similarity"), _signal(signals, "late_maxsim"))
    Z, names = build(judged, labels)
    return q, Z, names


def targets(store: Store, dataset: str) -> pd.DataFrame:
    """query_id, doc_id, y from the consensus labels (FN/partial 1, negative 0; the rest out)."""
    cons = consensus_from_labels(store.current_labels(dataset))
    cons = cons[cons.label.notna()] if len(cons) else cons
    return judgment_targets(cons[["query_id", "doc_id", "label"]] if len(cons) else None)


def _logloss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def refit(items: pd.DataFrame, y_frame: pd.DataFrame,
          vectors: CachedVectors | None = None, sample: pd.DataFrame | None = None) -> tuple[np.ndarray, dict] | None:
    """New fn_risk for every row of `items` (query_id, doc_id, fn_risk, base, signals), or None.

    ``vectors``: the items' query / doc vectors in :func:`item_keys` order (cosine evidence), or None
    (vector-free features). None when the judged items do not hold both classes at least MIN_PER_CLASS times.
    ``sample``: query_id, doc_id of the items judged from the random order; where their labels reject the
    scorer's level (:func:`core.risk.calibration.level_shift`), every unjudged row's log-odds moves by that
    shift — their order stays, the number of false negatives the queue expects follows the unbiased sample.
    """
    key = pd.MultiIndex.from_frame(items[["query_id", "doc_id"]].astype(str))
    hit = key.get_indexer(pd.MultiIndex.from_frame(y_frame[["query_id", "doc_id"]].astype(str)))
    ok = hit >= 0
    idx, y = hit[ok], y_frame.y.to_numpy()[ok].astype(float)
    if min(int((y == 1).sum()), int((y == 0).sum())) < MIN_PER_CLASS:
        return None
    base = np.clip(items.base.to_numpy(dtype=float), _EPS, 1 - _EPS)
    judged = np.zeros(len(items), bool)
    judged[idx] = True
    labels = np.zeros(len(items))
    labels[idx] = y
    q, Z, names = _features(items, logit(base), judged, labels, vectors)
    z = rerank(logit(base), Z, judged, labels, groups=q)
    in_sample = np.zeros(len(items), bool)
    if sample is not None and len(sample):
        pos = key.get_indexer(pd.MultiIndex.from_frame(sample[["query_id", "doc_id"]].astype(str)))
        in_sample[pos[pos >= 0]] = True
    in_sample &= judged
    shift = level_shift(logit(base[in_sample]), labels[in_sample])
    # The shift moves the unjudged rows only: the judged rows' log-odds are already fitted to their labels,
    # and shifting them too counted the sample twice (their "after" ECE read as the refit's fault).
    new = np.clip(sigmoid(z + np.where(judged, 0.0, shift)), 0.0, 1.0)
    old = items.fn_risk.to_numpy(dtype=float)
    unjudged = np.ones(len(items), bool)
    unjudged[idx] = False
    rest = np.flatnonzero(unjudged)
    head_old = rest[np.argsort(-old[rest], kind="stable")][:HEAD]
    head_new = rest[np.argsort(-new[rest], kind="stable")][:HEAD]
    info = {
        "judged": len(y), "positives": int(y.sum()), "items": len(items),
        "features": names,
        "evidence": "cosine" if vectors is not None else "vector-free",
        "ece_scorer": round(expected_calibration_error(y, base[idx]), 4),
        "ece_before": round(expected_calibration_error(y, old[idx]), 4),
        "ece_after": round(expected_calibration_error(y, new[idx]), 4),
        "logloss_scorer": round(_logloss(y, base[idx]), 4),
        "logloss_before": round(_logloss(y, old[idx]), 4),
        "logloss_after": round(_logloss(y, new[idx]), 4),
        "head_moved": int((head_old != head_new).sum()),
        "level_sample": int(in_sample.sum()), "level_shift": round(shift, 4),
    }
    return new, info


def relearn(store: Store, dataset: str, cache: EmbeddingCache | str | None = None) -> dict | None:
    """Refit now and write the new fn_risk; the refit's record (also kept in the history).

    The cosine evidence is used when the embedding cache holds every vector of the items in play
    (``cache`` overrides the folder scoring recorded); else the vector-free features, and the record says why.
    """
    n_judgments = store.count_judgments(dataset)
    items = SL.risk_rows(store, dataset)
    y = targets(store, dataset)
    record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "judgments": n_judgments}
    vectors, why = None, ""
    if len(items) and len(y):
        _, qids, _, dids = item_keys(items)
        t0 = time.perf_counter()
        vectors, why = cached_vectors(store, dataset, qids, dids, cache)
        record["vectors_s"] = round(time.perf_counter() - t0, 3)
    out = refit(items, y, vectors, SL.random_sample_items(store, dataset)) if len(items) and len(y) else None
    if out is None:
        record["skipped"] = "both labels (false negative / negative) needed at least twice"
    else:
        new, info = out
        if why:
            info["evidence"] = f"vector-free: {why}"
        t0 = time.perf_counter()
        SL.write_risk(store, dataset, items.assign(fn_risk=new))
        record.update(info, write_s=round(time.perf_counter() - t0, 3))
    hist = [*history(store, dataset), record][-MAX_HISTORY:]
    store.set_setting(_history_key(dataset), json.dumps(hist))
    return record


def due(store: Store, dataset: str) -> bool:
    every = learn_every(store)
    if every <= 0:
        return False
    hist = history(store, dataset)
    last = int(hist[-1]["judgments"]) if hist else 0
    return store.count_judgments(dataset) - last >= every


_LOCK = threading.Lock()
_running: dict[tuple[str, str], threading.Thread] = {}
_errors: list[str] = []


def maybe_relearn(store: Store, dataset: str) -> bool:
    """Start a background refit when N new judgments have come in; True if one was started."""
    key = (store.url, dataset)
    with _LOCK:
        t = _running.get(key)
        if (t is not None and t.is_alive()) or not due(store, dataset):
            return False
        t = threading.Thread(target=_run, args=(store, dataset), name=f"relearn-{dataset}",
                             daemon=True)
        _running[key] = t
        t.start()
    return True


def _run(store: Store, dataset: str) -> None:
    try:
        relearn(store, dataset)
    except Exception as exc:  # noqa: BLE001 - a failed refit must never reach the annotator
        _errors.append(f"{dataset}: {type(exc).__name__}: {exc}")


def running(store: Store, dataset: str) -> bool:
    t = _running.get((store.url, dataset))
    return t is not None and t.is_alive()


def wait(timeout: float = 30.0) -> None:
    """Join every refit thread (tests, shutdown)."""
    for t in list(_running.values()):
        t.join(timeout)


def last_errors() -> list[str]:
    return list(_errors)


def calibration_frames(store: Store, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Judged items with the scorer's risk and with the current (refitted) risk, for plots."""
    items = SL.risk_rows(store, dataset)
    cons = consensus_from_labels(store.current_labels(dataset))
    if not len(items) or not len(cons):
        empty = pd.DataFrame(columns=["query_id", "doc_id", "label", "fn_risk"])
        return empty, empty
    j = cons[["query_id", "doc_id", "label"]].merge(items, on=["query_id", "doc_id"])
    before = j[["query_id", "doc_id", "label"]].assign(fn_risk=j.base)
    after = j[["query_id", "doc_id", "label", "fn_risk"]]
    return before, after
