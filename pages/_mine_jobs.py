"""Mine + score from the Datasets page as a job of the app's process: a page's script stops when its user
leaves the page, and it took the run with it (the admin audit: an unscored half of a dataset, no word)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import streamlit as st

from core import pipeline
from core.store import Store


@dataclass
class MineJob:
    """One `pipeline.run` in a thread; the page reads its step and fraction, then its summary or error."""

    dataset: str
    step: str = "starting..."
    frac: float = 0.0
    summary: str | None = None
    error: Exception | None = None
    started: float = field(default_factory=time.time)
    thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _progress(self, step: str, frac: float) -> None:
        self.step, self.frac = step, min(max(float(frac), 0.0), 1.0)

    def _work(self, store: Store, top_k: int) -> None:
        try:  # mine + score, encoding the corpus once
            self.summary = pipeline.run(store, self.dataset, top_k=top_k, progress=self._progress).summary()
        except Exception as exc:  # noqa: BLE001 - shown on the page, never lost in a thread
            self.error = exc

    @classmethod
    def start(cls, store: Store, dataset: str, top_k: int) -> MineJob:
        job = cls(dataset)
        job.thread = threading.Thread(target=job._work, args=(store, top_k), name=f"mine-{dataset}", daemon=True)
        job.thread.start()
        return job


@st.cache_resource(show_spinner=False)
def mine_jobs() -> dict[tuple[str, str], MineJob]:
    """(store URL, dataset) -> its latest run, shared by every session of this app process."""
    return {}
