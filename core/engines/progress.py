"""The progress callback the pipeline hands to an engine: ``(step description, fraction done 0..1)``."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, float], None]


def no_progress(_step: str, _frac: float) -> None:
    """The default: says nothing (the local engine then lets the encoder show its own progress bar)."""
    return
