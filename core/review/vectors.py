"""The refit's vectors, looked up in the embedding cache and never encoded: no model on the review path.

Scoring records which model's vectors (and which cache folder) scored a dataset (`meta.embedding`, see
`core.pipeline.score_dataset`; supplied vectors are recorded under `meta.embeddings`). The refit asks the
cache for the vectors of the queries and docs of the items in play (candidates, judged ones among them):
all present → the cosine evidence of `core.risk.learn`; any missing → None and a one-line reason, and the
refit keeps its vector-free features. Memory: (queries + docs in play) × dim float32, e.g. 1.5 MB for the
demo's ~1,000 texts at 384-d; the texts' keys are hashed once per refit.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from core.encoders.cache import EmbeddingCache, l2_normalise, text_key
from core.encoders.encode import doc_text

RECORD_KEY = "embedding"  # written by core.pipeline.score_dataset
LSA_KEY = "lsa"  # ditto (core.pipeline._record_lsa): the LSA doc rows' cache id and folder
SUPPLIED_KEY = "embeddings"  # core.ingest.embeddings.META_KEY: supplied vectors
_CHUNK = 5_000  # ids per IN (...) query


@dataclass(frozen=True)
class CachedVectors:
    """Unit vectors of the queries / docs in play, rows in the order their ids were asked for."""

    model_id: str
    query: np.ndarray
    doc: np.ndarray
    topic: np.ndarray | None = None  # the docs' rows in the corpus' latent semantic space, when scoring cached them


def embedding_source(meta: dict) -> tuple[str, str | None] | None:
    """(cache model id, cache folder or None for the default) of the vectors that scored the dataset."""
    rec = meta.get(RECORD_KEY)
    if isinstance(rec, dict) and rec.get("model_id"):
        return str(rec["model_id"]), rec.get("cache_dir")
    sup = meta.get(SUPPLIED_KEY)
    if isinstance(sup, dict) and sup.get("cache_model_id"):
        return str(sup["cache_model_id"]), sup.get("cache_dir")
    return None


@lru_cache(maxsize=8)
def _cache(root: str | None) -> EmbeddingCache:
    """One cache object per folder: it reads its shards' keys once, then only the new shards."""
    return EmbeddingCache(root)


def lookup_texts(cache: EmbeddingCache, mid: str, texts: Sequence[str]) -> np.ndarray | None:
    """Unit vectors of these texts in order, or None when the cache lacks any of them."""
    keys = [text_key(t) for t in texts]
    hit, found = cache.lookup(mid, keys)
    if len(keys) and (found is None or not hit.all()):
        return None
    return l2_normalise(found) if found is not None else np.zeros((0, 0), np.float32)


def cached_vectors(store, dataset: str, query_ids: Sequence[str], doc_ids: Sequence[str],
                   cache: EmbeddingCache | str | os.PathLike | None = None) -> tuple[CachedVectors | None, str]:
    """(vectors, "") when the cache holds every query and doc vector asked for, else (None, why not).

    ``cache`` overrides the recorded folder (tests, a moved cache).
    """
    meta = store.dataset_info(dataset)["meta"]
    src = embedding_source(meta)
    if src is None:
        return None, "no embedding model recorded for the dataset (score it again)"
    mid, root = src
    c = _resolve(cache, root)
    q = store.queries(dataset).astype({"query_id": str}).set_index("query_id")
    qids = [str(i) for i in query_ids]
    if not q.index.is_unique or not set(qids) <= set(q.index):
        return None, "a query in play is not in the dataset"
    dids = [str(i) for i in doc_ids]
    parts = [store.docs(dataset, dids[i:i + _CHUNK]) for i in range(0, len(dids), _CHUNK)]
    if not parts:
        return None, "no docs in play"
    d = pd.concat(parts).astype({"doc_id": str}).drop_duplicates("doc_id").set_index("doc_id")
    if not set(dids) <= set(d.index):
        return None, "a doc in play is not in the dataset"
    qv = lookup_texts(c, mid, q.loc[qids, "text"].tolist())
    if qv is None:
        return None, f"query vectors missing from the cache (model {mid})"
    texts = [doc_text(t, x) for t, x in zip(d.loc[dids, "title"], d.loc[dids, "text"])]
    dv = lookup_texts(c, mid, texts)
    if dv is None:
        return None, f"doc vectors missing from the cache (model {mid})"
    return CachedVectors(mid, qv, dv, _topic_rows(meta, texts, cache)), ""


def _resolve(cache: EmbeddingCache | str | os.PathLike | None, recorded: str | None) -> EmbeddingCache:
    """The cache to read: the one given (tests, a moved cache), else the folder scoring recorded, else the default."""
    if isinstance(cache, EmbeddingCache):
        return cache
    root = cache or recorded
    return _cache(None if root is None else str(root))


def _topic_rows(meta: dict, texts: list[str], cache: EmbeddingCache | str | os.PathLike | None) -> np.ndarray | None:
    """The docs' rows in the corpus' latent semantic space, as scoring cached them, or None (not recorded, or
    any missing: the refit then goes without its topic evidence)."""
    rec = meta.get(LSA_KEY)
    if not isinstance(rec, dict) or not rec.get("model_id"):
        return None
    return lookup_texts(_resolve(cache, rec.get("cache_dir")), str(rec["model_id"]), texts)
