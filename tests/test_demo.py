"""The demo's committed embeddings reach the cache, and the build log says how many it holds and how many were new."""

from __future__ import annotations

from core.demo import demo_embedding_exports, seed_demo_cache


def test_seeding_the_demo_cache_reports_held_and_new_vectors(tmp_path) -> None:
    """A fresh cache takes every committed vector; seeding again adds none, yet the exports still hold them all
    (a machine that built the demo before must not read "0 cached embeddings")."""
    assert demo_embedding_exports()  # the repo ships the demo's vectors
    notes: list[str] = []
    added, held = seed_demo_cache(notes.append, cache=tmp_path / "cache")
    assert held > 5000 and added == held and not notes  # SciFact's 5,183 docs and its queries
    again = seed_demo_cache(notes.append, cache=tmp_path / "cache")
    assert again == (0, held) and not notes


def test_a_broken_export_is_reported_and_skipped(tmp_path, monkeypatch) -> None:
    """A corrupt export costs encoding time only: the log names it and nothing is counted from it."""
    from core import demo

    bad = tmp_path / "broken.emb.f16.npz"
    bad.write_bytes(b"not an npz file")
    monkeypatch.setattr(demo, "demo_embedding_exports", lambda: [bad])
    notes: list[str] = []
    assert demo.seed_demo_cache(notes.append, cache=tmp_path / "cache") == (0, 0)
    assert len(notes) == 1 and "broken.emb.f16.npz" in notes[0] and "encoding instead" in notes[0]
