"""The review workflow: queue modes, overlap-k leases, decisions, consensus and agreement.

Pure logic plus `Store` calls, so the Streamlit pages stay thin and pytest reaches all of it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import Enum

import pandas as pd

from core.auth import User, require_role
from core.labels import agreement_from_labels, consensus_from_labels
from core.render import CardText
from core.store import Store
from core.store import review as SR
from core.types import Label, NegauditError, Role

LEASE_TTL = timedelta(minutes=30)
OVERLAP_KEY = "overlap_k"
GUIDELINES_KEY = "guidelines"
DEFAULT_GUIDELINES = """\
**negative** — the candidate does not answer the query: safe to train on as a negative.
**false_negative** — the candidate answers the query as well as a labelled positive would.
**partial** — it answers part of the query, or a closely related question.
**unsure** — you cannot tell from the text; add a note saying why.
"""


class Mode(str, Enum):
    RISK = "risk"  # highest fn_risk first: find false negatives fast
    UNCERTAIN = "uncertain"  # |risk - 0.5| smallest: the judgments that teach the calibrator most
    RANDOM = "random"  # seeded uniform permutation: an unbiased audit sample
    QUERY = "query"  # one query's candidates together


@dataclass(frozen=True)
class QueueSpec:
    """What the annotator asked to see. `status`: unreviewed | mine | any | by:<name>."""

    dataset: str
    mode: Mode = Mode.RISK
    miner: str | None = None
    risk_min: float = 0.0
    risk_max: float = 1.0
    status: str = "unreviewed"
    query_id: str | None = None
    seed: int = 0


@dataclass
class Card:
    """Everything the review card shows for one (query, candidate) item."""

    dataset: str
    query_id: str
    doc_id: str
    query: str
    positives: list[CardText]
    candidate: CardText
    fn_risk: float | None
    reasons: str
    signals: dict = field(default_factory=dict)
    miners: list[dict] = field(default_factory=list)
    my_label: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.query_id, self.doc_id)


# ---- settings -------------------------------------------------------------------------------
def overlap_k(store: Store) -> int:
    """How many annotators an item goes to (and at most holds at once); 1 = no overlap."""
    try:
        return max(1, int(store.get_setting(OVERLAP_KEY, "1") or 1))
    except ValueError:
        return 1


def set_overlap_k(store: Store, k: int, actor: User) -> None:
    require_role(actor, Role.ADMIN)
    if not 1 <= int(k) <= 20:
        raise NegauditError("overlap k must be between 1 and 20")
    store.set_setting(OVERLAP_KEY, str(int(k)))


def guidelines(store: Store) -> str:
    return store.get_setting(GUIDELINES_KEY, DEFAULT_GUIDELINES) or ""


def set_guidelines(store: Store, markdown: str, actor: User) -> None:
    require_role(actor, Role.ADMIN)
    store.set_setting(GUIDELINES_KEY, markdown or "")


# ---- queue ----------------------------------------------------------------------------------
def _order_sql(spec: QueueSpec, duckdb: bool) -> str:
    tie = "i.query_id, i.doc_id"
    if spec.mode == Mode.UNCERTAIN:
        return f"abs(i.fn_risk - 0.5) ASC NULLS LAST, {tie}"
    if spec.mode == Mode.RANDOM:
        # PostgreSQL (>= 11): hashtextextended is ~4x cheaper than md5 over 1M rows.
        key = ("hash(i.query_id, i.doc_id, :seed)" if duckdb else
               "hashtextextended(i.query_id || chr(31) || i.doc_id, CAST(:seed AS BIGINT))")
        return f"{key}, {tie}"
    if spec.mode == Mode.QUERY:
        return f"i.query_id, i.fn_risk DESC NULLS LAST, {tie}"
    return f"i.fn_risk DESC NULLS LAST, {tie}"


def _filters(spec: QueueSpec, exclude: list[tuple[str, str]], use_risk: bool
             ) -> tuple[str, str, dict]:
    """SQL fragments: `pre` (cheap, per row of the big scan) and `post` (on the top rows only)."""
    pre: list[str] = []
    post: list[str] = []
    params: dict = {"seed": int(spec.seed)}
    if use_risk and (spec.risk_min > 0.0 or spec.risk_max < 1.0):
        pre.append("i.fn_risk BETWEEN :rmin AND :rmax")
        params.update(rmin=float(spec.risk_min), rmax=float(spec.risk_max))
    if spec.query_id:
        pre.append("i.query_id = :qid")
        params["qid"] = spec.query_id
    if spec.miner:
        post.append("EXISTS (SELECT 1 FROM candidates c WHERE c.dataset = :dataset "
                    "AND c.query_id = i.query_id AND c.doc_id = i.doc_id AND c.miner = :miner)")
        params["miner"] = spec.miner
    if spec.status == "mine":
        post.append("m.label IS NOT NULL")
    elif spec.status.startswith("by:"):
        post.append("EXISTS (SELECT 1 FROM cur o WHERE o.annotator = :other "
                    "AND o.query_id = i.query_id AND o.doc_id = i.doc_id)")
        params["other"] = spec.status[3:]
    elif spec.status not in ("unreviewed", "any"):
        raise NegauditError(f"unknown status filter {spec.status!r}")
    for n, (q, d) in enumerate(exclude):
        post.append(f"NOT (i.query_id = :xq{n} AND i.doc_id = :xd{n})")
        params[f"xq{n}"], params[f"xd{n}"] = q, d
    join = "".join(f" AND {x}" for x in pre), "".join(f" AND {x}" for x in post)
    return join[0], join[1], params


WINDOW_SIZE = 2000
RACE_HEAD = 8  # items next_card may try when concurrent sessions take the first ones
WINDOW_TTL_S = 60.0
_windows: dict[tuple, tuple[float, pd.DataFrame]] = {}


def _window(store: Store, spec: QueueSpec, use_risk: bool) -> tuple[pd.DataFrame, bool]:
    """The cached head of this queue order (annotator-independent filters applied).

    Returns (window, complete): complete means the window holds the whole filtered queue.
    Cached per process for WINDOW_TTL_S: risk scores change only when a dataset is re-scored.
    """
    pre, post, params = _filters(replace(spec, status="any"), [], use_risk)
    key = (store.url, spec.dataset, spec.mode, spec.miner, spec.risk_min, spec.risk_max,
           spec.query_id, spec.seed, use_risk)
    hit = _windows.get(key)
    now = time.monotonic()
    if hit is None or now - hit[0] > WINDOW_TTL_S:
        # The window is taken before the miner filter (post) so `complete` is exact.
        win = SR.queue_window(store, spec.dataset, _order_sql(spec, store.is_duckdb), pre,
                              "", params, WINDOW_SIZE, use_risk)
        raw_n = len(win)
        if post:
            win = SR.queue_window(store, spec.dataset, _order_sql(spec, store.is_duckdb), pre,
                                  post, params, WINDOW_SIZE, use_risk)
        hit = (now, win, raw_n < WINDOW_SIZE)
        _windows[key] = hit
        if len(_windows) > 64:
            _windows.pop(next(iter(_windows)))
    return hit[1], hit[2]


def clear_windows() -> None:
    """Forget cached queue heads (after re-scoring a dataset)."""
    _windows.clear()
    _risk_flags.clear()


_risk_flags: dict[tuple[str, str], tuple[float, bool]] = {}


def _has_risk(store: Store, dataset: str) -> bool:
    """Whether a dataset is scored; cached like the queue heads (one query less per click)."""
    key, now = (store.url, dataset), time.monotonic()
    hit = _risk_flags.get(key)
    if hit is None or now - hit[0] > WINDOW_TTL_S:
        hit = (now, SR.has_risk(store, dataset))
        _risk_flags[key] = hit
    return hit[1]


def next_keys(store: Store, annotator: str, spec: QueueSpec, exclude: list[tuple[str, str]] = (),
              limit: int = 1, k: int | None = None, resume: bool = True) -> pd.DataFrame:
    """The next items for `annotator`; my own live lease first, so a refresh resumes.

    Fast on big tables: a top-N over risk then small anti-joins; N grows only when filters
    applied after the top-N (miner, exclusions, items held by others) leave too few rows.
    """
    exclude = list(exclude)
    use_risk = _has_risk(store, spec.dataset)
    k = overlap_k(store) if k is None else k
    pre, post, params = _filters(spec, exclude, use_risk)
    qmode = {"unreviewed": "unreviewed", "any": "any"}.get(spec.status, "labelled")
    common = {"dataset": spec.dataset, "annotator": annotator,
              "order_sql": _order_sql(spec, store.is_duckdb), "k": k, "use_risk": use_risk,
              "mode": qmode}
    if resume:
        for q, d in SR.my_leases(store, spec.dataset, annotator)[:3]:
            if (q, d) in exclude:
                continue
            rows = SR.next_items(store, pre_sql=pre + " AND i.query_id = :lq AND i.doc_id = :ld",
                                 post_sql=post, params={**params, "lq": q, "ld": d}, limit=1,
                                 top_n=1, **common)
            if not rows.empty:
                return rows.assign(my_lease=True)
    if qmode in ("unreviewed", "any") and limit <= 50:
        fast = _from_window(store, annotator, spec, exclude, limit, k, use_risk, qmode)
        if fast is not None:
            return fast.assign(my_lease=False)
    top_n = limit + len(exclude) + 16
    if qmode == "unreviewed":
        top_n += SR.count_blocked(store, spec.dataset, annotator, k)
    total = None
    while True:
        rows = SR.next_items(store, pre_sql=pre, post_sql=post, params=params, limit=limit,
                             top_n=top_n, **common)
        if len(rows) >= limit or qmode == "labelled":
            break
        total = SR.count_items(store, spec.dataset) if total is None else total
        if top_n >= total:
            break
        top_n *= 4
    return rows.assign(my_lease=False)


def _from_window(store: Store, annotator: str, spec: QueueSpec, exclude: list[tuple[str, str]],
                 limit: int, k: int, use_risk: bool, qmode: str) -> pd.DataFrame | None:
    """Serve the next items from the cached queue head; None when the head is used up."""
    win, complete = _window(store, spec, use_risk)
    keys = list(zip(win.query_id, win.doc_id))
    blocked = (SR.blocked_keys(store, spec.dataset, annotator, k, among=keys)
               if qmode == "unreviewed" else set())
    skip_keys = blocked | set(exclude)
    take = [i for i, key in enumerate(keys) if key not in skip_keys][:limit]
    if len(take) < limit and not complete:
        return None  # the head is exhausted: the SQL path scans further
    rows = win.iloc[take].reset_index(drop=True)
    if qmode == "unreviewed":  # by definition I have no label on these
        return rows.assign(my_label=None)
    mine = SR.my_labels(store, spec.dataset, annotator, list(zip(rows.query_id, rows.doc_id)))
    rows["my_label"] = [mine.get(key) for key in zip(rows.query_id, rows.doc_id)]
    return rows


def next_card(store: Store, annotator: str, spec: QueueSpec,
              exclude: list[tuple[str, str]] = ()) -> Card | None:
    """Pick, lease and load the next card; None when the queue is empty.

    Sessions race for the same queue head: the store takes a lease only while fewer than k
    others hold the item (an atomic check), so an item lost to a faster session is passed over
    for the next one of the head.
    """
    k = overlap_k(store)
    check = k if spec.status == "unreviewed" else None  # revisiting labelled items: no limit
    lost: list[tuple[str, str]] = []
    while True:
        rows = next_keys(store, annotator, spec, [*exclude, *lost], limit=RACE_HEAD, k=k)
        if rows.empty:
            return None
        for row in rows.itertuples(index=False):
            if row.my_lease or SR.lease(store, spec.dataset, row.query_id, row.doc_id,
                                        annotator, LEASE_TTL, k=check):
                return load_card(store, spec.dataset, row.query_id, row.doc_id, row._asdict())
            lost.append((row.query_id, row.doc_id))


def load_card(store: Store, dataset: str, query_id: str, doc_id: str, row: dict | None = None
              ) -> Card:
    """Assemble one card with point look-ups (no scans of the big tables)."""
    row = {**(row or {}), **SR.risk_row(store, dataset, query_id, doc_id)}
    pos_ids, docs = SR.card_docs(store, dataset, query_id, doc_id, max_positives=3)
    docs = docs.set_index("doc_id")

    def card_text(did: str) -> CardText:
        if did in docs.index:
            d = docs.loc[did]
            return CardText(did, str(d["title"] or ""), str(d["text"] or ""))
        return CardText(did, "", "(document text not found)")

    try:
        signals = json.loads(row.get("signals") or "{}")
    except (TypeError, ValueError):
        signals = {}
    risk = row.get("fn_risk")
    return Card(
        dataset=dataset, query_id=query_id, doc_id=doc_id,
        query=SR.query_text(store, dataset, query_id),
        positives=[card_text(p) for p in pos_ids],
        candidate=card_text(doc_id),
        fn_risk=None if risk is None or pd.isna(risk) else float(risk),
        reasons=str(row.get("reasons") or ""),
        signals=signals if isinstance(signals, dict) else {},
        miners=SR.item_candidates(store, dataset, query_id, doc_id).to_dict("records"),
        my_label=None if pd.isna(row.get("my_label")) else row.get("my_label"),
    )


# ---- decisions ------------------------------------------------------------------------------
def decide(store: Store, user: User, dataset: str, query_id: str, doc_id: str,
           label: Label | str, note: str = "") -> int:
    """Write one label now (durable before the next card is chosen) and free the lease."""
    jid = store.add_judgment(dataset, query_id, doc_id, user.name, Label.parse(
        label.value if isinstance(label, Label) else label), note=note.strip())
    SR.release(store, dataset, query_id, doc_id, user.name)
    return jid


def skip(store: Store, user: User, dataset: str, query_id: str, doc_id: str) -> None:
    """Move on without a row: only the lease goes, so someone else may take the item."""
    SR.release(store, dataset, query_id, doc_id, user.name)


def undo(store: Store, user: User, dataset: str) -> dict | None:
    """Append an undo row; the undone item is leased back so it is the next card shown."""
    out = store.undo_last(dataset, user.name)
    if out is not None:
        SR.lease(store, dataset, out["query_id"], out["doc_id"], user.name, LEASE_TTL)
    return out


def adjudicate(store: Store, actor: User, dataset: str, query_id: str, doc_id: str,
               label: Label | str, note: str = "") -> int:
    """An admin's final label for a disputed item."""
    require_role(actor, Role.ADMIN)
    return store.add_judgment(dataset, query_id, doc_id, actor.name, Label.parse(
        label.value if isinstance(label, Label) else label), note=note, action="adjudicate")


# ---- consensus & agreement ------------------------------------------------------------------
def consensus(store: Store, dataset: str) -> pd.DataFrame:
    """Per judged item: votes, consensus label and status (single/agreed/disagreement/adjudicated)."""
    cur = store.current_labels(dataset)
    return consensus_from_labels(cur)


def disagreements(store: Store, dataset: str) -> pd.DataFrame:
    c = consensus(store, dataset)
    return c[c.status == "disagreement"].reset_index(drop=True)


def agreement(store: Store, dataset: str) -> dict:
    """Pairwise Cohen's kappa and overall Krippendorff's alpha over the annotators' labels."""
    return agreement_from_labels(store.current_labels(dataset))


# ---- progress & insights --------------------------------------------------------------------
def progress(store: Store, dataset: str) -> pd.DataFrame:
    """Per annotator: current labels by label value, total, and share of the dataset's items."""
    cur = store.current_labels(dataset)
    labels = [m.value for m in Label]
    if cur.empty:
        return pd.DataFrame(columns=["annotator", *labels, "total", "share"])
    t = cur.pivot_table(index="annotator", columns="label", values="id", aggfunc="count",
                        fill_value=0)
    for lab in labels:
        if lab not in t.columns:
            t[lab] = 0
    t = t[labels]
    t["total"] = t.sum(axis=1)
    total_items = max(SR.count_items(store, dataset), 1)
    t["share"] = t["total"] / total_items
    return t.reset_index()


def throughput(store: Store, dataset: str) -> pd.DataFrame:
    """Decisions per annotator per hour (undos included: they are work too)."""
    j = store.judgments(dataset)
    if j.empty:
        return pd.DataFrame(columns=["annotator", "hour", "decisions"])
    hours = pd.to_datetime(j.created_at, utc=True).dt.floor("h")
    return (j.assign(hour=hours).groupby(["annotator", "hour"]).size()
            .reset_index(name="decisions"))


def judged_items(store: Store, dataset: str) -> pd.DataFrame:
    """Judged items with consensus label, fn_risk and best mining rank (small: judged only)."""
    c = consensus(store, dataset)
    if c.empty:
        return pd.DataFrame(columns=["query_id", "doc_id", "label", "status", "fn_risk", "rank",
                                     "miner"])
    detail = SR.items_detail(store, dataset, c[["query_id", "doc_id"]])
    return c[["query_id", "doc_id", "label", "status"]].merge(detail, how="left")
