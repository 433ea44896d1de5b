"""Hypothesis: junk bytes or junk lines into any line reader give records or an InputError, never
another exception."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.ingest import ingest_beir, ingest_msmarco, ingest_st, ingest_upload
from core.ingest.common import SeenIds, Skipped, read_jsonl, read_lines
from core.ingest.msmarco import _read_id_text
from core.ingest.st import read_st
from core.ingest.trec import read_qrels_lines, read_trec_run
from core.types import InputError, NegauditError

ALL = lambda ids: np.ones(len(ids), dtype=bool)

READERS: dict[str, Callable[[Path], object]] = {
    "lines": lambda p: read_lines(p),
    "jsonl": lambda p: read_jsonl(p),
    "collection": lambda p: _read_id_text(p, "docs", SeenIds(), Skipped({}), False, None, 3),
    "collection-strict": lambda p: _read_id_text(p, "docs", SeenIds(), Skipped({}), True, None,
                                                 3),
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


FUZZ = settings(max_examples=int(__import__("os").environ.get("FUZZ_N", "60")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


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


# ---- whole imports: a folder, a parquet file, an upload -> a dataset or a clear error, no partial

_seq = iter(range(10**9))


@pytest.fixture(scope="module")
def fuzz_store(tmp_path_factory):
    from core.store import Store

    s = Store.open(str(tmp_path_factory.mktemp("fuzz") / "fuzz.duckdb"))
    yield s
    s.close()


def _imports_or_says_why(store, run: Callable[[str], object]) -> None:
    """`run(name)` imports a dataset or raises a NegauditError; a failure leaves no dataset."""
    name = f"fz{next(_seq)}"
    try:
        out = run(name)
    except NegauditError as exc:
        assert str(exc)
        if isinstance(exc, InputError):
            assert exc.path
        assert name not in store.dataset_names()
        assert store.count_judgments(name) == 0 and store.docs(name).empty
    else:
        assert isinstance(out, dict) and name in store.dataset_names()


GOOD_BEIR = {"corpus.jsonl": b'{"_id": "d1", "text": "one"}\n{"_id": "d2", "text": "two"}\n',
             "queries.jsonl": b'{"_id": "q1", "text": "query"}\n',
             "qrels/test.tsv": b"query-id\tcorpus-id\tscore\nq1\td1\t1\n"}
GOOD_MARCO = {"collection.tsv": b"d1\tone\nd2\ttwo\n", "queries.tsv": b"q1\tquery\n",
              "qrels.tsv": b"q1\t0\td1\t1\n", "triples.tsv": b"q1\td1\td2\n"}
junk_file = st.one_of(junk_bytes, junk_lines.map(lambda s: s.encode("utf-8", "replace")))


def _folder(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def _junk_folder(store, good: dict[str, bytes], ingest: Callable, which: str, data: bytes,
                 keep: bool) -> None:
    """One of the folder's files replaced by junk (or junk appended to the good content)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = _folder(Path(tmp), {**good, which: (good[which] if keep else b"") + data})
        _imports_or_says_why(store, lambda n: ingest(store, root, n))


@FUZZ
@given(which=st.sampled_from(sorted(GOOD_BEIR)), data=junk_file, keep=st.booleans())
def test_beir_folder_import_is_all_or_nothing(fuzz_store, which: str, data: bytes,
                                              keep: bool) -> None:
    _junk_folder(fuzz_store, GOOD_BEIR, ingest_beir, which, data, keep)


@FUZZ
@given(which=st.sampled_from(sorted(GOOD_MARCO)), data=junk_file, keep=st.booleans())
def test_msmarco_folder_import_is_all_or_nothing(fuzz_store, which: str, data: bytes,
                                                 keep: bool) -> None:
    _junk_folder(fuzz_store, GOOD_MARCO, ingest_msmarco, which, data, keep)


cells = st.one_of(st.none(), st.text(max_size=12), st.integers(-3, 3), st.floats(allow_nan=True),
                  st.lists(st.one_of(st.text(max_size=5), st.integers(0, 2)), max_size=3))


def _parquet_bytes(rows: list[list], names: list[str]) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {n: [r[i] if i < len(r) else None for r in rows] for i, n in enumerate(names)}
    try:
        table = pa.table(cols)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        table = pa.table({n: [repr(v) for v in vals] for n, vals in cols.items()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


@FUZZ
@given(names=st.lists(st.sampled_from(["anchor", "positive", "negative", "label", "labels",
                                       "score", "x", "docs"]), min_size=0, max_size=4,
                      unique=True),
       rows=st.lists(st.lists(cells, max_size=4), max_size=5),
       damage=st.one_of(st.none(), st.tuples(st.integers(0, 10**6), st.binary(max_size=4)),
                        st.integers(1, 10**6)))
def test_parquet_reader_never_crashes(fuzz_store, names, rows, damage) -> None:
    """Random tables of any column types, then maybe bytes overwritten or the file truncated."""
    data = _parquet_bytes(rows, names)
    if isinstance(damage, tuple):
        at = damage[0] % max(len(data), 1)
        data = data[:at] + damage[1] + data[at + len(damage[1]):]
    elif isinstance(damage, int):
        data = data[: damage % max(len(data), 1)]
    _run(data, ".parquet", lambda p: read_st(p, chunk_rows=2))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.parquet"
        path.write_bytes(data)
        _imports_or_says_why(fuzz_store, lambda n: ingest_st(fuzz_store, path, n))


upload_names = st.one_of(
    st.text(max_size=40),
    st.tuples(st.sampled_from(["", "../", "../../etc/", "/abs/", "..\\..\\", "a/b/", "\x00",
                               "x" * 300, "名前 ", ".", "-", "=cmd|"]),
              st.text(max_size=8),
              st.sampled_from([".csv", ".tsv", ".jsonl", ".parquet", ".zip", ".CSV", ".exe",
                               "", ".csv\x00.png", ".zip/"])).map("".join))


def _zip_of(files: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


zip_members = st.sampled_from(["corpus.jsonl", "queries.jsonl", "qrels/test.tsv",
                               "collection.tsv", "queries.tsv", "qrels.tsv", "../x/corpus.jsonl",
                               "/abs/corpus.jsonl", "d/corpus.jsonl", "a\\..\\..\\b.tsv"])
upload_data = st.one_of(
    junk_file,
    st.sampled_from([b"anchor,positive\nq,d\n", b'{"a": "q", "p": "d"}\n', b"a\tp\nq\td\n"]),
    st.dictionaries(zip_members, junk_file, max_size=3).map(
        lambda extra: _zip_of({**GOOD_BEIR, **extra})),
    st.dictionaries(zip_members, junk_file, max_size=3).map(_zip_of),
)


@FUZZ
@given(filename=upload_names, data=upload_data)
def test_upload_imports_or_says_why(fuzz_store, filename: str, data: bytes) -> None:
    """The Datasets page's upload path (`ingest_upload`) with hostile names and contents: a
    dataset or a NegauditError (the page shows it with st.error), never another exception."""
    _imports_or_says_why(fuzz_store, lambda n: ingest_upload(fuzz_store, filename, data, n))
