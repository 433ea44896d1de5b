"""negaudit's logic: one room per job (see docs/architecture.md for the tour).

Data flows ingest -> encoders/mining -> risk -> store -> review -> export / report; `pipeline` runs mine and
score over one corpus, `cli/` and the Streamlit pages are thin calls into these rooms. Import a room
(`from core import export`), not its modules: each package's ``__init__`` is its public API.
"""
