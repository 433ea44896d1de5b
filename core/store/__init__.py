"""Storage: one `Store` facade over a SQLAlchemy engine (DuckDB file by default)."""

from core.store.engine import resolve_url
from core.store.store import DatasetWriter, Store

__all__ = ["DatasetWriter", "Store", "resolve_url"]
