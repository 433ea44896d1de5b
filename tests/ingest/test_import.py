"""The curated public API imports and lists only what exists."""

from __future__ import annotations


def test_public_api() -> None:
    from core import ingest

    for name in ingest.__all__:
        assert hasattr(ingest, name), name
    assert callable(ingest.ingest_beir) and callable(ingest.ingest_upload)
