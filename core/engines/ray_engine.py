"""Big corpora: the pipeline's embed, kNN and scoring steps as Ray Data batch jobs over Parquet.

Each job runs the *same core functions* as the in-process engine on a partition of the rows, so the
results are the same (``tests/test_ray_engine.py`` checks it):

* **embed** — texts the embedding cache lacks are written to Parquet and encoded by a pool of actors
  (the model is loaded once per actor) through :func:`core.encoders.encode_texts` into the shared
  on-disk :class:`core.encoders.EmbeddingCache`; the driver then reads every vector from the cache. A
  second run starts no actor. On a multi-node cluster the cache folder must be shared storage.
* **mine** — queries are read from Parquet in batches; each task runs the registered miners
  (:func:`core.mining.mine_with`: an exact faiss index over the corpus embeddings, BM25).
* **score** — the dataset-level fits (the PU combiner, the judgment recalibration) happen once in the
  driver; candidates are written as one Parquet file per partition of whole queries and each task
  scores its files with :func:`core.risk.score_false_negatives` and those fits (every row depends
  only on its own pair then).

Ray starts a local instance unless ``RAY_ADDRESS`` names a cluster. Work files live under
``<cache>/.ray-work/`` (shared with the cache) and are removed after each job.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.encoders import (
    as_cache,
    default_cache_dir,
    default_encoder,
    encode_texts,
    encode_texts_with_stats,
    load_encoder,
    model_id,
    text_key,
)
from core.encoders.cache import EmbeddingCache
from core.mining import (
    MineInputs,
    check_miners,
    ensure_index,
    mine_with,
    miner_names,
    needs_embeddings,
)
from core.types import NegauditError

ROWS_PER_EMBED_BATCH = 1024  # texts per actor call: one cache shard each
QUERIES_PER_MINE_BATCH = 512
QUERIES_PER_SCORE_PART = 256


# --- cluster ------------------------------------------------------------------------------------


def init(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Connect to ``address`` / ``$RAY_ADDRESS``, else start a local instance; True if this call started it."""
    import ray

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    ray.init(address=address, num_cpus=None if address else num_cpus, include_dashboard=False,
             log_to_driver=False, ignore_reinit_error=True)
    from ray.data import DataContext

    DataContext.get_current().enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # no progress lines over the CLI's output
    return True


@contextlib.contextmanager
def session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Ray for the duration of a block; shut down afterwards only if this block started it."""
    started = init(address, num_cpus)
    try:
        yield
    finally:
        if started:
            import ray

            ray.shutdown()


def cluster_cpus() -> int:
    import ray

    init()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _pool(actors: int | None, threads: int, batches: int) -> tuple[Any, float]:
    """An actor pool filling the cluster's CPUs at ``threads`` torch/faiss threads per actor."""
    from ray.data import ActorPoolStrategy

    cpus = cluster_cpus()
    size = max(1, min(actors or cpus // max(1, threads), batches))
    return ActorPoolStrategy(size=size), float(min(threads, cpus))


@contextlib.contextmanager
def _work_dir(root: Path) -> Iterator[Path]:
    path = root / ".ray-work" / uuid.uuid4().hex
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write_parquet(df: pd.DataFrame, folder: Path, rows_per_file: int) -> str:
    """Several files, so Ray reads them as several blocks."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, start in enumerate(range(0, max(len(df), 1), max(1, rows_per_file))):
        df.iloc[start : start + rows_per_file].to_parquet(folder / f"part-{i:05d}.parquet", index=False)
    return str(folder)


def _get(ref: list[Any]) -> Any:
    """Resolve a boxed ObjectRef (boxed so Ray does not resolve it when shipping the function)."""
    import ray

    return ray.get(ref[0])


def _set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(threads)
        with contextlib.suppress(ImportError):
            import faiss

            faiss.omp_set_num_threads(threads)


# --- embed --------------------------------------------------------------------------------------


class _Embedder:
    """One actor: loads the model once, encodes batches of texts into the shared cache."""

    def __init__(self, model: Any, encoder: str, cache_root: str, batch_size: int, threads: int):
        _set_threads(threads)
        model = _get(model) if isinstance(model, list) else model
        if model is None or isinstance(model, (str, os.PathLike)):
            model = load_encoder(model, encoder=encoder)
        self.model = model
        self.cache = EmbeddingCache(cache_root)
        self.batch_size = batch_size

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        _, stats = encode_texts_with_stats(self.model, batch["text"].tolist(), cache=self.cache,
                                           batch_size=self.batch_size)
        return pd.DataFrame({"texts": [len(batch)], "encoded": [stats.encoded]})


def fill_cache(texts: Sequence[str], model: Any = None, cache: Any = None, batch_size: int = 64, *,
               encoder: str | None = None, actors: int | None = None, threads: int | None = None,
               rows_per_batch: int = ROWS_PER_EMBED_BATCH) -> int:
    """Encode the texts the cache lacks with a Ray actor pool (one model load per actor); returns how many.

    ``threads``: torch threads per actor (default: all of a node's CPUs in one actor, 1 per actor
    with ``actors`` set); ``actors``: pool size (default: the cluster's CPUs / ``threads``).
    """
    import ray

    encoder = encoder or default_encoder()
    store = as_cache(cache)
    if store is None:
        raise NegauditError("the Ray engine needs the on-disk embedding cache (actors write into it)")
    init()
    mid = model_id(model, encoder=encoder)
    unique = list(dict.fromkeys(texts))
    hit, _ = store.lookup(mid, [text_key(t) for t in unique])
    todo = [t for t, h in zip(unique, hit) if not h]
    if not todo:
        return 0
    todo.sort(key=len, reverse=True)  # similar lengths share a batch: less padding, as encode does
    if threads is None:
        threads = 1 if actors else min(cluster_cpus(), os.cpu_count() or 1)
    n_batches = math.ceil(len(todo) / rows_per_batch)
    compute, cpus = _pool(actors, threads, n_batches)
    shipped = model if model is None or isinstance(model, (str, os.PathLike)) else [ray.put(model)]
    with _work_dir(store.root) as work:
        src = _write_parquet(pd.DataFrame({"text": todo}), work / "texts", rows_per_batch)
        out = ray.data.read_parquet(src).materialize().map_batches(
            _Embedder, batch_size=rows_per_batch, batch_format="pandas", compute=compute, num_cpus=cpus,
            fn_constructor_kwargs={"model": shipped, "encoder": encoder, "cache_root": str(store.root),
                                   "batch_size": batch_size, "threads": threads},
        ).to_pandas()
    return int(out["encoded"].sum())


def embed_texts(texts: Sequence[str], model: Any = None, cache: Any = None, batch_size: int = 64, *,
                encoder: str | None = None, **kw: Any) -> np.ndarray:
    """:func:`core.encoders.encode_texts` with the cache misses encoded on Ray (:func:`fill_cache`).

    Returns the same float32, L2-normalised rows as ``encode_texts``, read back from the cache.
    """
    store = as_cache(cache)
    fill_cache(texts, model, store, batch_size, encoder=encoder, **kw)
    return encode_texts(model, texts, cache=store, batch_size=batch_size, encoder=encoder)


def embed_corpus(corpus: Any, model: Any = None, cache: Any = None, batch_size: int = 64,
                 progress: Any = None, encoder: str | None = None, **kw: Any) -> Any:
    """The local engine's ``embed_corpus`` on Ray: docs and queries in one job, through the shared cache."""
    t0 = time.perf_counter()
    store = as_cache(cache)
    if progress:
        progress("embedding documents and queries (Ray)", 0.0)
    corpus.encoded += fill_cache(list(corpus.doc_texts) + list(corpus.query_texts), model, store,
                                 batch_size, encoder=encoder, **kw)
    corpus.doc_emb = encode_texts(model, corpus.doc_texts, cache=store, encoder=encoder)
    corpus.query_emb = encode_texts(model, corpus.query_texts, cache=store, encoder=encoder)
    corpus.timings["embed"] = time.perf_counter() - t0
    return corpus


# --- mine ---------------------------------------------------------------------------------------


def _mine_batch(batch: pd.DataFrame, ctx: list[Any], miners: Sequence[str], top_k: int,
                backend: str) -> pd.DataFrame:
    """One task: the registered miners' candidates for a batch of queries (dense: an exact faiss index).

    Building the flat index is a copy of the embeddings, small next to searching it, so tasks (which
    reuse Ray's idle workers) beat long-lived actors here.
    """
    c, rows = _get(ctx), batch["qpos"].to_numpy()
    q_emb = c["query_emb"]
    inputs = MineInputs(query_ids=[c["query_ids"][i] for i in rows],
                        query_texts=[c["query_texts"][i] for i in rows], doc_ids=c["doc_ids"],
                        positives=c["positives"], query_emb=None if q_emb is None else q_emb[rows],
                        doc_emb=c["doc_emb"], bm25=c["bm25"])
    out = mine_with(inputs, miners, top_k, backend)
    out.insert(0, "qpos", batch.set_index("query_id")["qpos"].reindex(out["query_id"]).to_numpy())
    return out


def mine_corpus(corpus: Any, top_k: int = 30, miners: Sequence[str] = ("dense", "bm25"), *,
                backend: str = "faiss", queries_per_batch: int | None = None) -> pd.DataFrame:
    """The local engine's ``mine_corpus`` on Ray: query batches mined by tasks, rows in the same order.

    ``backend="faiss"`` (exact inner product) ranks like the in-process numpy backend except where
    two docs' cosines differ by float rounding only (< 1e-6): the two BLAS libraries may order such a
    near-tie differently. ``backend="numpy"`` reproduces the in-process candidates bit for bit.
    """
    import ray

    queries_per_batch = queries_per_batch or QUERIES_PER_MINE_BATCH
    miners = check_miners(miners)
    if needs_embeddings(miners) and corpus.doc_emb is None:
        raise ValueError("embed_corpus first")
    if "bm25" in miners:
        ensure_index(corpus)  # built once in the driver, shipped to every task
    init()
    t0 = time.perf_counter()
    ctx = ray.put({"query_ids": corpus.query_ids, "query_texts": corpus.query_texts,
                   "query_emb": corpus.query_emb, "doc_ids": corpus.doc_ids, "doc_emb": corpus.doc_emb,
                   "positives": corpus.positives, "bm25": corpus.bm25 if "bm25" in miners else None})
    queries = pd.DataFrame({"qpos": np.arange(len(corpus.query_ids)), "query_id": corpus.query_ids})
    with _work_dir(_default_work_root()) as work:
        src = _write_parquet(queries, work / "queries", queries_per_batch)
        out = ray.data.read_parquet(src).map_batches(
            _mine_batch, batch_size=queries_per_batch, batch_format="pandas",
            fn_kwargs={"ctx": [ctx], "miners": list(miners), "top_k": top_k, "backend": backend},
        ).to_pandas()
    order = {m: i for i, m in enumerate(miner_names())}
    out["_m"] = out["miner"].map(order)
    out = out.sort_values(["_m", "qpos", "rank"], kind="stable").drop(columns=["_m", "qpos"])
    corpus.timings["mine"] = time.perf_counter() - t0
    return out.reset_index(drop=True)


def _default_work_root() -> Path:
    """``$NEGAUDIT_RAY_WORK``, else the default cache folder (shared storage on a real cluster)."""
    return Path(os.environ.get("NEGAUDIT_RAY_WORK") or default_cache_dir())


# --- score --------------------------------------------------------------------------------------


def _score_parts(batch: pd.DataFrame, ctx: list[Any]) -> pd.DataFrame:
    """One task: score the query partitions whose Parquet files are named in ``batch``."""
    from core.risk import score_false_negatives

    c = _get(ctx)
    frames = [score_false_negatives(pd.read_parquet(path), c["inputs"], model=c["model"]) for path in batch["path"]]
    return pd.concat(frames, ignore_index=True)


def score_candidates(candidates: pd.DataFrame, inputs: Any, *, queries_per_part: int | None = None) -> pd.DataFrame:
    """``core.risk.score_false_negatives`` on Ray: dataset-level fits here, query partitions in tasks.

    Candidates are written as one Parquet file per partition of whole queries (a pair's rows of every
    miner stay together); each task scores its files with the driver's PU model.
    """
    import ray

    from core.risk import train_combiner
    queries_per_part = queries_per_part or QUERIES_PER_SCORE_PART
    init()
    model = train_combiner(inputs)
    df = candidates.reset_index(drop=True).astype({"query_id": str, "doc_id": str})
    df["_row"] = np.arange(len(df))
    part = inputs.qrow(df["query_id"].tolist()) // max(1, queries_per_part)
    ctx = ray.put({"inputs": inputs, "model": model})
    with _work_dir(_default_work_root()) as work:
        paths = []
        for p, rows in df.groupby(part, sort=True).groups.items():
            paths.append(str(work / f"part-{int(p):06d}.parquet"))
            df.loc[rows].to_parquet(paths[-1], index=False)
        out = ray.data.from_items([{"path": p} for p in paths]).map_batches(
            _score_parts, batch_size=1, batch_format="pandas", fn_kwargs={"ctx": [ctx]},
        ).to_pandas()
    return out.sort_values("_row", kind="stable").drop(columns=["_row"]).reset_index(drop=True)
