"""The review queue: which item an annotator sees next, with overlap-k leases.

A `Queue` belongs to one `Store` and owns the cache of its queue heads (the first WINDOW_SIZE
items of each order, annotator-independent). The cache is valid for one *store epoch*
(`core.store.base`): the store bumps the epoch in the same transaction as every write of risk,
candidates or a dataset's rows, so a re-score — in this process or another one — is seen at the
next call. Leases are read per call; the head's labels are kept per head and brought up to date
on every call from the judgments' count and top id (`core.review.held`), so a judgment from any
process is seen at the next call without joining every judgment per click.
"""

from __future__ import annotations

import threading
import weakref

import pandas as pd

from core.review.cards import Card, load_card
from core.review.held import HeldItems
from core.review.settings import LEASE_TTL, overlap_k
from core.store import Store, leases
from core.store import queue as SQ
from core.types import QueueSpec

WINDOW_SIZE = 2000
RACE_HEAD = 8  # items next_card may try when concurrent sessions take the first ones
MAX_HEADS = 64


class Queue:
    """The review queue over one store, with its own cache of queue heads."""

    def __init__(self, store: Store, window_size: int = WINDOW_SIZE):
        self.store, self.window_size = store, int(window_size)
        self._lock = threading.Lock()
        # key -> (epoch, head, complete, the head's keys in order, the same as a set)
        self._heads: dict[tuple, tuple[int, pd.DataFrame, bool, list, set]] = {}
        self._scored: dict[str, tuple[int, bool]] = {}
        self.held = HeldItems(MAX_HEADS)

    def forget(self) -> None:
        """Drop every cached head (a benchmark's cold start; never needed for correctness)."""
        with self._lock:
            self._heads.clear()
            self._scored.clear()
        self.held.forget()

    def _has_risk(self, dataset: str, epoch: int) -> bool:
        hit = self._scored.get(dataset)
        if hit is None or hit[0] != epoch:
            hit = (epoch, SQ.has_risk(self.store, dataset))
            self._scored[dataset] = hit
        return hit[1]

    def head(self, spec: QueueSpec, use_risk: bool, epoch: int) -> tuple[pd.DataFrame, bool]:
        """The cached head of this order (annotator-independent filters applied).

        Returns (head, complete): complete means the head holds the whole filtered queue. An
        entry is used only for the epoch it was read at; the epoch is read before the rows, so
        a head is never older than its epoch.
        """
        return self._head(spec, use_risk, epoch)[1:3]

    @staticmethod
    def _key(spec: QueueSpec, use_risk: bool) -> tuple:
        return (spec.dataset, spec.mode, spec.miner, spec.risk_min, spec.risk_max, spec.query_id,
                spec.seed, use_risk)

    def _head(self, spec: QueueSpec, use_risk: bool, epoch: int
              ) -> tuple[int, pd.DataFrame, bool, list, set]:
        key = self._key(spec, use_risk)
        hit = self._heads.get(key)
        if hit is None or hit[0] != epoch:
            # Take the head before the miner filter too, so `complete` is exact.
            raw = SQ.window(self.store, spec, self.window_size, use_risk, with_post=False)
            win = (SQ.window(self.store, spec, self.window_size, use_risk)
                   if spec.miner else raw)
            keys = list(zip(win.query_id.tolist(), win.doc_id.tolist()))
            hit = (epoch, win, len(raw) < self.window_size, keys, set(keys))
            with self._lock:
                self._heads[key] = hit
                if len(self._heads) > MAX_HEADS:
                    self._heads.pop(next(iter(self._heads)))
        return hit

    def next_keys(self, annotator: str, spec: QueueSpec, exclude: list[tuple[str, str]] = (),
                  limit: int = 1, k: int | None = None, resume: bool = True) -> pd.DataFrame:
        """The next items for `annotator`; my own live lease first, so a refresh resumes.

        Fast on big tables: the cached head, then a top-N over risk whose N grows only when
        filters applied after it (miner, exclusions, items held by others) leave too few rows.
        """
        exclude = list(exclude)
        epoch = self.store.epoch()
        use_risk = self._has_risk(spec.dataset, epoch)
        k = overlap_k(self.store) if k is None else k
        common = {"k": k, "use_risk": use_risk, "exclude": exclude}
        if resume:
            for key in leases.my_leases(self.store, spec.dataset, annotator)[:3]:
                if key in exclude:
                    continue
                rows = SQ.next_items(self.store, spec, annotator, limit=1, top_n=1, only=key,
                                     **common)
                if not rows.empty:
                    return rows.assign(my_lease=True)
        listed = spec.status in ("unreviewed", "any")
        if listed and limit <= 50:
            fast = self._from_head(annotator, spec, exclude, limit, k, use_risk, epoch)
            if fast is not None:
                return fast.assign(my_lease=False)
        top_n = limit + len(exclude) + 16
        if spec.status == "unreviewed":
            top_n += SQ.count_blocked(self.store, spec.dataset, annotator, k)
        total = None
        while True:
            rows = SQ.next_items(self.store, spec, annotator, limit=limit, top_n=top_n, **common)
            if len(rows) >= limit or not listed:
                break
            total = SQ.count_items(self.store, spec.dataset) if total is None else total
            if top_n >= total:
                break
            top_n *= 4
        return rows.assign(my_lease=False)

    def _from_head(self, annotator: str, spec: QueueSpec, exclude: list[tuple[str, str]],
                   limit: int, k: int, use_risk: bool, epoch: int) -> pd.DataFrame | None:
        """Serve the next items from the cached head; None when the head is used up."""
        _, win, complete, keys, keyset = self._head(spec, use_risk, epoch)
        blocked = (self.held.blocked(self.store, (*self._key(spec, use_risk), epoch),
                                     spec.dataset, keys, keyset, annotator, k)
                   if spec.status == "unreviewed" else set())
        skip_keys = blocked | set(exclude)
        take = [i for i, key in enumerate(keys) if key not in skip_keys][:limit]
        if len(take) < limit and not complete:
            return None  # the head is exhausted: the SQL path scans further
        rows = win.iloc[take].reset_index(drop=True)
        if spec.status == "unreviewed":  # by definition I have no label on these
            return rows.assign(my_label=None)
        mine = SQ.my_labels(self.store, spec.dataset, annotator,
                            list(zip(rows.query_id, rows.doc_id)))
        rows["my_label"] = [mine.get(key) for key in zip(rows.query_id, rows.doc_id)]
        return rows

    def next_card(self, annotator: str, spec: QueueSpec,
                  exclude: list[tuple[str, str]] = ()) -> Card | None:
        """Pick, lease and load the next card; None when the queue is empty.

        Sessions race for the same queue head: the store takes a lease only while fewer than k
        others hold the item (an atomic check), so an item lost to a faster session is passed
        over for the next one of the head.
        """
        k = overlap_k(self.store)
        check = k if spec.status == "unreviewed" else None  # revisiting labelled items: no limit
        lost: list[tuple[str, str]] = []
        while True:
            rows = self.next_keys(annotator, spec, [*exclude, *lost], limit=RACE_HEAD, k=k)
            if rows.empty:
                return None
            for row in rows.itertuples(index=False):
                if row.my_lease or leases.lease(self.store, spec.dataset, row.query_id,
                                                row.doc_id, annotator, LEASE_TTL, k=check):
                    return load_card(self.store, spec.dataset, row.query_id, row.doc_id,
                                     row._asdict())
                lost.append((row.query_id, row.doc_id))


_QUEUES: weakref.WeakKeyDictionary[Store, Queue] = weakref.WeakKeyDictionary()
_QUEUES_LOCK = threading.Lock()


def queue_of(store: Store) -> Queue:
    """The one Queue of this Store object (its cache lives and dies with the store)."""
    with _QUEUES_LOCK:
        q = _QUEUES.get(store)
        if q is None:
            q = _QUEUES[store] = Queue(store)
        return q


def next_keys(store: Store, annotator: str, spec: QueueSpec,
              exclude: list[tuple[str, str]] = (), limit: int = 1, k: int | None = None,
              resume: bool = True) -> pd.DataFrame:
    """`Queue.next_keys` on the store's queue."""
    return queue_of(store).next_keys(annotator, spec, exclude, limit, k, resume)


def next_card(store: Store, annotator: str, spec: QueueSpec,
              exclude: list[tuple[str, str]] = ()) -> Card | None:
    """`Queue.next_card` on the store's queue."""
    return queue_of(store).next_card(annotator, spec, exclude)
