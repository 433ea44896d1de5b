"""Alembic migrations of the store (DuckDB and PostgreSQL); `core.store.migrate` runs them."""
