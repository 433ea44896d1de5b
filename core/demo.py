"""The demo database: SciFact ingested, mined and scored, plus a demo admin.

`build_demo` runs the project's own ingest / mining / risk pipeline (the tests' synthetic seeder
lives in tests/synthetic.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from core.store import Store

ROOT = Path(__file__).resolve().parent.parent
SCIFACT = ROOT / "data" / "scifact"
DEMO_DB = ROOT / ".negaudit" / "demo.duckdb"
DEMO_DATASET = "scifact"
DEMO_USER, DEMO_PASSWORD = "demo", "demo"


def demo_embedding_exports(root: Path = ROOT / "data") -> list[Path]:
    """Committed float16 embedding exports for the demo (made by `negaudit cache export`)."""
    return sorted(p for p in root.glob("*") if "emb" in p.name.lower() and p.name != "NOTICE")


def seed_demo_cache(log: Callable[[str], None] = print, cache: str | Path | None = None) -> tuple[int, int]:
    """Load the committed demo embeddings into the cache so the demo encodes (almost) nothing: (vectors new to
    the cache, vectors the exports hold). On a machine that built the demo before, the first is 0 and every
    vector still comes from the cache, so the build log says both."""
    from core.encoders.cache import import_embeddings, load_embeddings

    added = held = 0
    for path in demo_embedding_exports():
        try:
            ef = load_embeddings(path)
            held += len(set(ef.text_sha256))  # distinct texts (an export may repeat one)
            added += import_embeddings(ef, cache)
        except Exception as exc:  # noqa: BLE001 - a bad export only costs encoding time
            log(f"note: could not use {path.name} ({exc}); encoding instead")
    return added, held


def demo_encoder() -> str | None:
    """The encoder the committed exports were made with (their model id names it): the demo runs it,
    so its vectors come from the cache on every machine, whatever that machine's default encoder."""
    from core.encoders import encoder_of
    from core.encoders.cache import export_model_id

    for path in demo_embedding_exports():
        try:
            mid = export_model_id(path)
        except Exception:  # noqa: BLE001, S112 - seed_demo_cache reports a bad export
            continue
        return encoder_of(mid)
    return None


def build_demo(db: Path = DEMO_DB, log: Callable[[str], None] = print) -> Path:
    """Build the demo DB once (SciFact ingested, mined, scored) and ensure the demo admin."""
    from core import auth
    from core.encoders.encode import LazyEncoder
    from core.ingest import ingest_beir
    from core.pipeline import run

    db.parent.mkdir(parents=True, exist_ok=True)
    with Store.open(str(db)) as store:
        ready = store.has_dataset(DEMO_DATASET) and store.counts(DEMO_DATASET)[0].candidates
        if not ready:
            t0 = time.perf_counter()
            added, held = seed_demo_cache(log)
            log(f"building the demo: ingest, mine and score SciFact ({held:,} embeddings from data/, "
                f"{added:,} of them new to the embedding cache)...")
            ingest_beir(store, SCIFACT, DEMO_DATASET, replace=True)
            run(store, DEMO_DATASET, model=LazyEncoder(None, demo_encoder()))
            log(f"demo built in {time.perf_counter() - t0:.0f}s")
        if store.annotator(DEMO_USER) is None:
            auth.add_user(store, DEMO_USER, "admin", DEMO_PASSWORD)
    return db
