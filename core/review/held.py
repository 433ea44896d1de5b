"""Which items of a cached queue head an annotator may not get now (own label, or k others hold it).

The same rule as the queue SQL's `blocked` (core.store.queue), computed for the head's items
without joining the whole judgments table on every click: that join scanned every judgment on
DuckDB (1M judgments at 10M candidates: ~0.1 s per click, growing with the store).

Judgments are append-only and numbered by a sequence, so each call reads, in one statement, the
dataset's judgment count, its top id and the rows above the top id seen last time. When the
count grew by exactly the rows above that id, those rows are all that changed and they update
the head's labels; otherwise (a row that committed late with a lower id, rows deleted) the
head's labels are read again in full. Every call thus sees every committed judgment, from this
process or another one. Leases change in place, so they are read live each call (few rows).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from core.store import Store
from core.store import queue as SQ

Key = tuple[str, str]


@dataclass
class _Labels:
    """The head's current labels as of a judgments mark (count, top id)."""

    count: int
    top: int
    latest: dict[Key, dict[str, tuple[int, str]]] = field(default_factory=dict)

    def apply(self, rows: list[tuple[str, str, str, str, int]], keys: set[Key]) -> None:
        """Fold judgments in: per item and annotator, the highest id wins. Each changed item
        gets a new dict, so a copy of `latest` never shares a changed one (copy on write)."""
        for q, d, who, label, jid in rows:
            if (q, d) not in keys:
                continue
            by = self.latest.get((q, d), {})
            if who not in by or by[who][0] < jid:
                self.latest[(q, d)] = {**by, who: (int(jid), label)}


class HeldItems:
    """Per cached head: its labels, kept current by the judgments mark (see the module doc)."""

    def __init__(self, max_entries: int = 64):
        self._lock = threading.Lock()
        self._entries: dict[tuple, _Labels] = {}
        self.max_entries = max_entries
        self.full_reads = 0  # how often a head's labels were read in full (tests, profiling)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()

    def _labels(self, store: Store, head_id: tuple, dataset: str, keys: list[Key],
                keyset: set[Key]) -> _Labels:
        if store.is_postgres:  # its item index makes the live read cheap, and counting is not
            live = _Labels(0, 0)
            live.apply(SQ.labels_among(store, dataset, keys), keyset)
            return live
        with self._lock:
            old = self._entries.get(head_id)
        if old is not None:
            count, top, rows = SQ.judgment_mark(store, dataset, old.top)
            if count == old.count and not rows:
                return old
            if count - old.count == len(rows):  # nothing committed below the old top
                # Copy on write: another thread may be reading `old`.
                new = _Labels(count, max(top, old.top), dict(old.latest))
                new.apply(rows, keyset)
                return self._keep(head_id, new)
        count, top, _ = SQ.judgment_mark(store, dataset, 2**62)  # the mark first: see the doc
        new = _Labels(count, top)
        new.apply(SQ.labels_among(store, dataset, keys), keyset)
        self.full_reads += 1
        return self._keep(head_id, new)

    def _keep(self, head_id: tuple, labels: _Labels) -> _Labels:
        with self._lock:
            self._entries[head_id] = labels
            if len(self._entries) > self.max_entries:
                self._entries.pop(next(iter(self._entries)))
        return labels

    def blocked(self, store: Store, head_id: tuple, dataset: str, keys: list[Key],
                keyset: set[Key], annotator: str, k: int) -> set[Key]:
        """Head items `annotator` may not get: own current label, or held by >= k others
        (a current label or a live lease); an empty label (undo) holds nothing."""
        labels = self._labels(store, head_id, dataset, keys, keyset)
        holders: dict[Key, set[str]] = {}
        for q, d, who in SQ.live_leases(store, dataset):
            if who != annotator and (q, d) in keyset:
                holders.setdefault((q, d), set()).add(who)
        out: set[Key] = set()
        for key, by in labels.latest.items():
            if by.get(annotator, (0, ""))[1] != "":
                out.add(key)
                continue
            held = holders.setdefault(key, set())
            held.update(who for who, (_, label) in by.items() if label != "" and who != annotator)
        out.update(key for key, held in holders.items() if len(held) >= int(k))
        return out
