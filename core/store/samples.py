"""Small samples of a dataset's text for statistics that need no full scan (e.g. common terms)."""

from __future__ import annotations

from sqlalchemy import text

from core.store.store import Store

DEFAULT_N = 3000


def doc_texts(store: Store, dataset: str, n: int = DEFAULT_N) -> list[str]:
    """Title and text of up to `n` docs of a dataset, in doc_id order (stable across calls)."""
    sql = text("SELECT title, text FROM docs WHERE dataset = :d ORDER BY doc_id LIMIT :n")
    with store.engine.connect() as conn:
        return [f"{t or ''} {x or ''}" for t, x in conn.execute(sql, {"d": dataset, "n": int(n)})]
