"""A tiny but complete dataset in a real DuckDB file: every export policy branch is present.

q1..q3 are train queries, q4 is a test query. Judgments (consensus):
  q1/d1 false_negative (single)      q1/d2 negative (agreed)       q1/d3 partial (single)
  q1/d4 false_negative vs negative (tie → disagreement)            q2/d7 tie adjudicated → false_negative
  q2/d8 unsure                        q2/d9 false_negative (the dataset had it as relevance 0)
q1/p1 is also mined (already positive). q3's candidates were never scored (no risk rows).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from toy_data import DS, build_toy  # noqa: F401 - re-exported for the tests


@pytest.fixture(scope="session")
def toy_db(tmp_path_factory) -> Path:
    from core.store import Store

    path = tmp_path_factory.mktemp("toy") / "toy.duckdb"
    with Store.open(str(path)) as s:
        build_toy(s)
    return path


@pytest.fixture
def store(toy_db: Path, tmp_path: Path):
    """A private copy of the toy database (tests may write)."""
    from core.store import Store

    dst = tmp_path / "toy.duckdb"
    dst.write_bytes(toy_db.read_bytes())
    s = Store.open(str(dst))
    yield s
    s.close()
