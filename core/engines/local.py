"""The default engine: everything in this process."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from core.encoders import encode_texts_with_stats, encoder_of, model_id
from core.engines.progress import Progress, no_progress
from core.mining import check_miners, mine_with, needs_embeddings


def embed_corpus(corpus: Any, model: Any = None, cache: Any = None, batch_size: int = 64,
                 progress: Progress = no_progress) -> Any:
    """Embed docs and queries through the on-disk cache (a second run encodes nothing)."""
    t0 = time.perf_counter()
    mid = model_id(model)
    label = f"embedding documents ({encoder_of(mid) or mid})"
    progress(label, 0.0)
    corpus.doc_emb, docs = encode_texts_with_stats(model, corpus.doc_texts, cache=cache,
                                                   batch_size=batch_size,
                                                   show_progress=progress is no_progress,
                                                   on_progress=_every_tenth(progress, label, 0.5))
    progress("embedding queries", 0.5)
    corpus.query_emb, queries = encode_texts_with_stats(model, corpus.query_texts, cache=cache,
                                                        batch_size=batch_size)
    corpus.encoded += docs.encoded + queries.encoded
    corpus.timings["embed"] = time.perf_counter() - t0
    return corpus


def _every_tenth(progress: Progress, label: str, share: float) -> Any:
    """Batch-by-batch encoding progress as at most one report per tenth done: a 100k-doc corpus on 2 cores
    sat at '0% embedding documents' for an hour."""
    if progress is no_progress:
        return None
    last = [0]

    def report(done: int, total: int) -> None:
        tenth = 10 * done // max(total, 1)
        if tenth > last[0] and done < total:
            last[0] = tenth
            progress(f"{label}: {done:,} of {total:,} encoded", share * done / total)

    return report


def mine_corpus(corpus: Any, top_k: int = 30, miners: Sequence[str] = ("dense", "bm25"),
                backend: str = "numpy") -> pd.DataFrame:
    """Candidates of every miner: labelled positives excluded, every candidate kept (no filtering)."""
    miners = check_miners(miners)
    if needs_embeddings(miners) and corpus.doc_emb is None:
        raise ValueError("embed_corpus first")
    t0 = time.perf_counter()
    out = mine_with(corpus, miners, top_k, backend)
    corpus.timings["mine"] = time.perf_counter() - t0
    return out


def score_candidates(candidates: pd.DataFrame, inputs: Any) -> pd.DataFrame:
    from core.risk import score_false_negatives

    return score_false_negatives(candidates, inputs)
