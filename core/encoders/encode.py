"""Texts → vectors through the cache: choose the runtime (``load_encoder``), encode only the misses.

What a call did (requested, unique, cache hits, encoded) is *returned* (:func:`encode_texts_with_stats`),
never left in a module global: the bench, the engines and the tests count from the value they get.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.encoders.cache import (
    EmbeddingCache,
    as_cache,
    l2_normalise,
    text_key,
    write_embeddings,
)
from core.encoders.ids import ID_ATTR, check_encoder, default_encoder, model_id
from core.encoders.torch import load_bi_encoder


def doc_text(title: str | None, text: str | None) -> str:
    """The text a doc is embedded as: ``title + " " + text`` when there is a title (BEIR convention)."""
    title, text = (title or "").strip(), text or ""
    return f"{title} {text}" if title else text


def load_encoder(path: str | os.PathLike | None = None, encoder: str | None = None,
                 device: str = "cpu") -> Any:
    """A bi-encoder with SentenceTransformer's ``encode``: the machine's default (``auto``: torch in bf16
    autocast on AMX CPUs, else onnxruntime int8 with the FFN output fp32), or the one named."""
    encoder = check_encoder(encoder or default_encoder())
    if encoder == "torch":
        return load_bi_encoder(path, device)
    if encoder == "torch-bf16":
        from core.encoders.torch import load_bf16_encoder

        return load_bf16_encoder(path)
    from core.encoders.onnx import load_onnx  # onnxruntime only when asked for

    return load_onnx(path, encoder)


class LazyEncoder:
    """An encoder named, not loaded: its model id serves cache look-ups, the model loads on the first
    miss. A run whose texts are all cached (the demo on its committed vectors) never loads a runtime."""

    def __init__(self, path: str | os.PathLike | None = None, encoder: str | None = None):
        self.path = path
        self.encoder = check_encoder(encoder or default_encoder())
        self._model: Any = None
        setattr(self, ID_ATTR, model_id(path, encoder=self.encoder))

    def encode(self, *args: Any, **kwargs: Any) -> Any:
        if self._model is None:
            self._model = load_encoder(self.path, self.encoder)
        return self._model.encode(*args, **kwargs)


@dataclass
class EncodeStats:
    """What one encode call did: tests and the bench count, they do not time."""

    requested: int = 0
    unique: int = 0
    cache_hits: int = 0
    encoded: int = 0

    def __add__(self, other: EncodeStats) -> EncodeStats:
        return EncodeStats(self.requested + other.requested, self.unique + other.unique,
                           self.cache_hits + other.cache_hits, self.encoded + other.encoded)


def encode_texts_with_stats(
    model: Any,
    texts: Sequence[str],
    cache: EmbeddingCache | str | os.PathLike | bool | None = None,
    batch_size: int = 64,
    show_progress: bool = False,
    device: str = "cpu",
    encoder: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, EncodeStats]:
    """:func:`encode_texts` plus what it did (how many texts came from the cache, how many were encoded).

    ``on_progress(done, total)`` hears the texts encoded so far of those the cache lacked, after each batch,
    where the encoder reports batches (the onnx encoders; torch reports only at the end)."""
    texts = list(texts)
    mid = model_id(model, encoder=encoder)
    keys = [text_key(t) for t in texts]
    first: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    ukeys = list(first)
    stats = EncodeStats(requested=len(texts), unique=len(ukeys))
    store = as_cache(cache)
    dim = None
    uvecs: np.ndarray | None = None
    hit = np.zeros(len(ukeys), dtype=bool)
    if store is not None and ukeys:
        hit, found = store.lookup(mid, ukeys)
        if found is not None:
            dim = found.shape[1]
            uvecs = np.empty((len(ukeys), dim), dtype=np.float32)
            uvecs[hit] = found
    stats.cache_hits = int(hit.sum())
    miss = np.flatnonzero(~hit)
    if len(miss):
        st = (
            model
            if not isinstance(model, (str, os.PathLike, type(None)))
            else load_encoder(model, encoder, device)
        )
        hook = {}
        if on_progress is not None and "progress" in inspect.signature(st.encode).parameters:
            hook["progress"] = lambda n: on_progress(n, len(miss))
        new = st.encode(
            [texts[first[ukeys[i]]] for i in miss],
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
            **hook,
        )
        if on_progress is not None:
            on_progress(len(miss), len(miss))
        new = l2_normalise(new)
        if uvecs is None:
            uvecs = np.empty((len(ukeys), new.shape[1]), dtype=np.float32)
        uvecs[miss] = new
        stats.encoded = len(miss)
        if store is not None:
            store.put(mid, [ukeys[i] for i in miss], new)
    if uvecs is None:  # no texts at all
        return np.zeros((0, dim or 0), dtype=np.float32), stats
    pos = {k: j for j, k in enumerate(ukeys)}
    return l2_normalise(uvecs[[pos[k] for k in keys]]), stats


def encode_texts(
    model: Any,
    texts: Sequence[str],
    cache: EmbeddingCache | str | os.PathLike | bool | None = None,
    batch_size: int = 64,
    show_progress: bool = False,
    device: str = "cpu",
    encoder: str | None = None,
) -> np.ndarray:
    """Embed texts (float32, L2-normalised, one row per input), encoding only what the cache lacks.

    Identical texts are encoded once. ``model`` may be a loaded SentenceTransformer, or a local path /
    ``None`` (packaged MiniLM) that is loaded only if something actually needs encoding, so a fully
    cached run never imports torch. ``cache=None`` uses the default cache folder; pass ``False`` to
    disable caching. ``encoder`` (auto, torch, torch-bf16, onnx, onnx-int8-mixed, onnx-int8; default
    ``$NEGAUDIT_ENCODER`` or auto: torch-bf16 on AMX CPUs, else onnx-int8-mixed) applies when
    ``model`` is a path or ``None``.
    """
    return encode_texts_with_stats(model, texts, cache, batch_size, show_progress, device, encoder)[0]


def save_embeddings(
    path: str | os.PathLike,
    ids: Sequence[str],
    texts: Sequence[str] | None,
    embeddings: np.ndarray,
    model: Any = None,
    text_sha256: Sequence[bytes] | None = None,
) -> Path:
    """Write ``ids``, sha256 of each text and float16 vectors to one ``.npz`` (see ``write_embeddings``).

    Give ``texts`` (hashed here) or precomputed ``text_sha256``. ``model`` is the model (or path, or
    ``None`` for the packaged MiniLM) the vectors came from; its id is stored and checked on import.
    """
    if text_sha256 is None:
        if texts is None:
            raise ValueError("give texts or text_sha256")
        text_sha256 = [text_key(t) for t in texts]
    return write_embeddings(path, model_id(model), ids, text_sha256, embeddings)


def export_cache(
    path: str | os.PathLike,
    ids: Sequence[str],
    texts: Sequence[str],
    model: Any = None,
    cache: EmbeddingCache | str | os.PathLike | None = None,
    **encode_kwargs: Any,
) -> Path:
    """Embed (through the cache) and export the given texts as float16: what the demo commits under data/."""
    emb = encode_texts(model, texts, cache=cache, **encode_kwargs)
    return save_embeddings(path, ids, texts, emb, model=model)
