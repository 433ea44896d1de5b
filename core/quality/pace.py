"""Time per decision against a reading floor: a label given faster than the passage can be read
deserves a second look.

The floor is deliberately generous to the annotator: a fast skim (600 words a minute, about twice
ordinary reading speed) plus one second to press a key. Only decisions below it are flagged.
"""

from __future__ import annotations

import math
import re

import pandas as pd

FAST_WPM = 600.0
BASE_S = 1.0
_WORD = re.compile(r"\w+", re.UNICODE)


def word_count(text: str | None) -> int:
    return len(_WORD.findall(text or ""))


def reading_floor_s(text: str | None, wpm: float = FAST_WPM, base_s: float = BASE_S) -> float:
    """The fewest seconds a decision on a passage of this length can honestly take."""
    if wpm <= 0:
        raise ValueError(f"wpm must be positive, got {wpm}")
    return word_count(text) * 60.0 / wpm + base_s


def too_fast(seconds: float | None, text: str | None, wpm: float = FAST_WPM,
             base_s: float = BASE_S) -> bool:
    """True when a measured decision time is below the floor; unknown times are never flagged."""
    if seconds is None or math.isnan(float(seconds)):
        return False
    return float(seconds) < reading_floor_s(text, wpm, base_s)


def flag_fast(decisions: pd.DataFrame, wpm: float = FAST_WPM, base_s: float = BASE_S
              ) -> pd.DataFrame:
    """`decisions` (needs `seconds` and `text`) with `floor_s` and `too_fast` columns added."""
    out = decisions.copy()
    out["floor_s"] = [reading_floor_s(t, wpm, base_s) for t in out["text"]]
    secs = pd.to_numeric(out["seconds"], errors="coerce")
    out["too_fast"] = secs.notna() & (secs < out["floor_s"])
    return out


def per_annotator(decisions: pd.DataFrame, wpm: float = FAST_WPM, base_s: float = BASE_S
                  ) -> pd.DataFrame:
    """annotator, decisions, timed, median_s, too_fast (count), too_fast_share: one row each.

    `decisions` needs `seconds` and either `text` or an existing `too_fast` column.
    """
    cols = ["annotator", "decisions", "timed", "median_s", "too_fast", "too_fast_share"]
    if decisions is None or len(decisions) == 0:
        return pd.DataFrame(columns=cols)
    f = decisions.copy() if "too_fast" in decisions else flag_fast(decisions, wpm, base_s)
    f["seconds"] = pd.to_numeric(f["seconds"], errors="coerce")
    g = f.groupby("annotator", sort=True)
    out = pd.DataFrame({
        "decisions": g.size(),
        "timed": g["seconds"].count(),
        "median_s": g["seconds"].median(),
        "too_fast": g["too_fast"].sum().astype(int),
    }).reset_index()
    out["too_fast_share"] = out["too_fast"] / out["timed"].where(out["timed"] > 0)
    return out[cols]
