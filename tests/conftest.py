"""Shared fixtures. One real model per test session (loading it costs seconds), as sentence-transformers does."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def bi_encoder():
    """The packaged all-MiniLM-L6-v2, loaded once per session (CPU)."""
    from core.models import load_bi_encoder

    return load_bi_encoder()
