"""Hypothesis: junk bytes or junk lines into any line reader give records or an InputError, never
another exception."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.ingest.common import SeenIds, read_jsonl, read_lines
from core.ingest.msmarco import _read_id_text
from core.ingest.st import read_st
from core.ingest.trec import read_qrels_lines, read_trec_run
from core.types import InputError

ALL = lambda ids: np.ones(len(ids), dtype=bool)

READERS: dict[str, Callable[[Path], object]] = {
    "lines": lambda p: read_lines(p),
    "jsonl": lambda p: read_jsonl(p),
    "collection": lambda p: _read_id_text(p, "docs", SeenIds(), None, 3),
    "qrels": lambda p: read_qrels_lines(p, split="t", origin="o", known_queries=ALL,
                                        known_docs=ALL, chunk_rows=3),
    "run": lambda p: read_trec_run(p, known_queries=ALL, known_docs=ALL, chunk_rows=3),
}
ST_SUFFIXES = (".jsonl", ".csv", ".tsv")

fragments = st.sampled_from(["\t", " ", ",", '"', "{", "}", "[", "]", ":", "0", "1", "-1", "1.5",
                             "Q0", "q1", "d1", "\n", "\r\n", '"_id"', '"text"', "\x00", "é",
                             "null", "true", "label", "anchor"])
junk_lines = st.lists(st.one_of(fragments, st.text(max_size=8)), max_size=40).map("".join)
junk_bytes = st.binary(max_size=300)


def _run(data: bytes, suffix: str, reader: Callable[[Path], object]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"f{suffix}"
        path.write_bytes(data)
        try:
            for _ in reader(path):  # type: ignore[attr-defined]
                pass
        except InputError as exc:
            assert exc.path and str(exc)


FUZZ = settings(max_examples=int(__import__("os").environ.get("FUZZ_N", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(data=st.one_of(junk_bytes, junk_lines.map(lambda s: s.encode("utf-8", "surrogatepass")
                                                  if s else b"")),
       which=st.sampled_from(sorted(READERS)))
def test_line_readers_never_crash(data: bytes, which: str) -> None:
    _run(data, ".txt", READERS[which])


@FUZZ
@given(data=st.one_of(junk_bytes, junk_lines.map(lambda s: s.encode("utf-8", "replace"))),
       suffix=st.sampled_from(ST_SUFFIXES))
def test_st_readers_never_crash(data: bytes, suffix: str) -> None:
    _run(data, suffix, lambda p: read_st(p, chunk_rows=2))


@FUZZ
@given(rows=st.lists(st.tuples(st.sampled_from(["q", "r", ""]), st.sampled_from(["d", "e", " "]),
                               st.sampled_from(["1", "0", "x", "2.5", "[1, 0]", ""])),
                     min_size=1, max_size=8))
def test_st_labeled_csv_never_crashes(rows: list[tuple[str, str, str]]) -> None:
    body = "s1,s2,label\n" + "".join(f"{a},{b},\"{c}\"\n" for a, b, c in rows)
    _run(body.encode(), ".csv", lambda p: read_st(p, chunk_rows=3))
