"""The default engine: everything in this process (what ``core.pipeline`` always did)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.pipeline import embed_corpus, mine_corpus

__all__ = ["embed_corpus", "mine_corpus", "score_candidates"]


def score_candidates(candidates: pd.DataFrame, inputs: Any, judgments: pd.DataFrame | None) -> pd.DataFrame:
    from core.risk import score_false_negatives

    return score_false_negatives(candidates, inputs, judgments=judgments)
