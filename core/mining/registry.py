"""Miners registered by name, like the risk signals: the one place that knows which miners exist.

How to add one: write ``f(inputs, top_k, backend) -> DataFrame`` returning
:func:`core.mining.candidates.candidate_frame`'s columns, and decorate it with ``@register(name, position)``.
``inputs`` is anything with :class:`MineInputs`' attributes (the pipeline's ``Corpus`` is one).
Every caller (pipeline, engines, CLI) validates names with :func:`check_miners`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.types import NegauditError


@dataclass
class MineInputs:
    """What a miner reads, aligned by position; a miner uses only the fields it needs."""

    query_ids: Sequence[str]
    query_texts: Sequence[str]
    doc_ids: Sequence[str]
    positives: Mapping[str, Collection[str]]
    doc_texts: Sequence[str] | None = None
    query_emb: np.ndarray | None = None
    doc_emb: np.ndarray | None = None
    bm25: Any = None  # a prebuilt core.mining.bm25.Bm25Index


MinerFn = Callable[[Any, int, str], pd.DataFrame]


@dataclass(frozen=True)
class Miner:
    name: str
    fn: MinerFn
    needs_embeddings: bool  # the engine must embed the corpus first
    position: int  # candidates of several miners are written in this order


MINERS: dict[str, Miner] = {}


def register(name: str, position: int, needs_embeddings: bool = False) -> Callable[[MinerFn], MinerFn]:
    def deco(fn: MinerFn) -> MinerFn:
        MINERS[name] = Miner(name, fn, needs_embeddings, position)
        return fn

    return deco


def miner_names() -> list[str]:
    """Registered miners, in the order their candidates are written."""
    return sorted(MINERS, key=lambda m: (MINERS[m].position, m))


def check_miners(miners: Sequence[str]) -> list[str]:
    """The requested miners in registry order; unknown or no names are one clear user error."""
    names = miner_names()
    unknown = sorted(set(miners) - set(names))
    if unknown:
        raise NegauditError(f"unknown miner(s) {unknown}; choose from {', '.join(names)}")
    if not miners:
        raise NegauditError(f"no miner given; choose from {', '.join(names)}")
    return [m for m in names if m in miners]


def needs_embeddings(miners: Sequence[str]) -> bool:
    return any(MINERS[m].needs_embeddings for m in check_miners(miners))


def mine_with(inputs: Any, miners: Sequence[str], top_k: int, backend: str = "numpy") -> pd.DataFrame:
    """Candidates of every requested miner, concatenated in registry order."""
    frames = [MINERS[m].fn(inputs, top_k, backend) for m in check_miners(miners)]
    return pd.concat(frames, ignore_index=True)
