"""sentence-transformers files as raw column chunks: parquet, jsonl, csv or tsv, one reader each.

Each yields `(columns, {column: values}, line numbers)` per chunk; mapping columns to roles and
texts to records is st.py's job.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from core.ingest.common import CHUNK_ROWS, Progress, input_file, read_jsonl, read_lines
from core.types import InputError

ST_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".json": "jsonl",
               ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv"}


def st_format(path: str | Path) -> str:
    """parquet | jsonl | csv | tsv, from the file suffix (a text format may be gzip'd: `train.jsonl.gz`)."""
    suffixes = [s.lower() for s in Path(path).suffixes[-2:]]
    packed = suffixes[-1:] == [".gz"] and len(suffixes) == 2
    fmt = ST_SUFFIXES.get(suffixes[0] if packed else Path(path).suffix.lower())
    if packed and fmt == "parquet":  # parquet compresses inside the file
        raise InputError(path, None, None, "a parquet file compresses itself: give it unzipped (.parquet)")
    if fmt is None:
        raise InputError(path, None, None,
                         f"unsupported file type {Path(path).suffix!r}; expected one of "
                         f"{', '.join(sorted(ST_SUFFIXES))}")
    return fmt


Table = tuple[list[str], dict[str, list], list[int]]  # columns, column values, line/row numbers


def _iter_parquet(path: Path, chunk_rows: int, progress: Progress | None) -> Iterator[Table]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # A damaged file fails in many ways (Arrow, thrift, bad UTF-8 in metadata or in a page).
    broken = (pa.ArrowException, OSError, ValueError, EOFError)
    try:
        pf = pq.ParquetFile(path)
        total, row = pf.metadata.num_rows, 0
        batches = pf.iter_batches(batch_size=chunk_rows)
    except broken as exc:
        raise InputError(path, None, None, f"not a readable parquet file ({exc})") from None
    while True:
        try:
            batch = next(batches, None)
            if batch is None:
                break
            cols = batch.schema.names
            data = {c: batch.column(i).to_pylist() for i, c in enumerate(cols)}
        except broken as exc:
            raise InputError(path, row + 1, None,
                             f"damaged parquet data at or after row {row + 1} ({exc})") from None
        yield cols, data, list(range(row + 1, row + batch.num_rows + 1))
        row += batch.num_rows
        if progress is not None:
            progress(path.name, row, total)


def _iter_jsonl(path: Path, chunk_rows: int, progress: Progress | None) -> Iterator[Table]:
    cols: list[str] | None = None
    data: dict[str, list] = {}
    lines: list[int] = []
    for line, obj in read_jsonl(path, progress):
        if cols is None:
            cols = list(obj)
            data = {c: [] for c in cols}
        for c in cols:
            if c not in obj:
                raise InputError(path, line, c, "missing field")
            data[c].append(obj[c])
        lines.append(line)
        if len(lines) >= chunk_rows:
            yield cols, data, lines
            data, lines = {c: [] for c in cols}, []
    if cols is None:
        raise InputError(path, None, None, "empty file: no records")
    if lines:
        yield cols, data, lines


def _iter_csv(path: Path, chunk_rows: int, progress: Progress | None, delimiter: str
              ) -> Iterator[Table]:
    # Passages can be megabytes long; the csv module's default field limit is 128 KiB.
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    src = (text for _, text in read_lines(path, progress, keepends=True))
    reader = csv.reader(src, delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(path, None, None, "empty file: no header row") from None
    except csv.Error as exc:
        raise InputError(path, 1, None, f"bad CSV ({exc})") from None
    cols = [h.strip() for h in header]
    dup = next((c for i, c in enumerate(cols) if c in cols[:i]), None)
    if dup is not None:  # both would map onto one column: a query could become its own positive
        raise InputError(path, 1, dup, f"the header names column {dup!r} twice; give each column its own name")
    data: dict[str, list] = {c: [] for c in cols}
    lines: list[int] = []
    while True:
        start = reader.line_num + 1  # a quoted field may span lines: name the record's first line
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise InputError(path, start, None, f"bad CSV ({exc}){_span(start, reader.line_num)}") from None
        if not row:
            continue
        if len(row) != len(cols):
            raise InputError(path, start, None, f"expected {len(cols)} fields like the header, got "
                                                f"{len(row)}{_span(start, reader.line_num)}")
        for c, v in zip(cols, row):
            data[c].append(v)
        lines.append(start)
        if len(lines) >= chunk_rows:
            yield cols, data, lines
            data, lines = {c: [] for c in cols}, []
    if lines:
        yield cols, data, lines


def _span(first: int, last: int) -> str:
    return f" (the record runs to line {last})" if last > first else ""


def iter_st_table(path: str | Path, chunk_rows: int = CHUNK_ROWS,
                  progress: Progress | None = None) -> Iterator[Table]:
    """The file's rows as column chunks, whatever its format."""
    path = input_file(path)
    fmt = st_format(path)
    if fmt == "parquet":
        return _iter_parquet(path, chunk_rows, progress)
    if fmt == "jsonl":
        return _iter_jsonl(path, chunk_rows, progress)
    return _iter_csv(path, chunk_rows, progress, "," if fmt == "csv" else "\t")
