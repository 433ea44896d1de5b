"""Shared plumbing of the readers: strict UTF-8 line reading, id de-duplication, chunked writing.

Every reader yields `(table, DataFrame)` chunks whose columns are `BULK_COLUMNS[table]`, so the
store never sees a whole file at once and memory stays bounded by the chunk size.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.types import InputError

CHUNK_ROWS = 20_000
"""Rows per DataFrame chunk: big enough for fast bulk inserts, small enough to bound memory."""

Progress = Callable[[str, int, "int | None"], None]
"""`progress(step, done, total)`: bytes (or rows) done of `total` for the file `step`."""

Chunk = tuple[str, pd.DataFrame]

_BOM = b"\xef\xbb\xbf"


def frame(table: str, rows: dict[str, Any]) -> Chunk:
    """A chunk for `table` from column lists (candidate scores become nullable floats)."""
    df = pd.DataFrame(rows)
    if table == "candidates":
        df["score"] = pd.array(df["score"], dtype="Float64")
    if "relevance" in df or "rank" in df:
        for col in ("relevance", "rank"):
            if col in df:
                df[col] = df[col].astype("int64")
    return table, df


def read_lines(path: Path, progress: Progress | None = None, keepends: bool = False
               ) -> Iterator[tuple[int, str]]:
    """Yield `(line_number, text)` decoded as strict UTF-8; a BOM is fine, NUL bytes mean binary.

    A name ending `.gz` is read through gzip (the Hugging Face hub ships BEIR corpora as `corpus.jsonl.gz`);
    progress follows the compressed bytes read.
    """
    path = Path(path)
    total = path.stat().st_size
    step = path.name
    with open(path, "rb") as raw_fh, (gzip.open(raw_fh) if path.name.lower().endswith(".gz") else raw_fh) as fh:
        for lineno, raw in _numbered(fh, path):
            if lineno == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            if b"\x00" in raw:
                if lineno == 1 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Windows' "Unicode" text
                    raise InputError(path, lineno, None, "the encoding is UTF-16, not UTF-8; re-save the file as UTF-8")
                raise InputError(path, lineno, None,
                                 "binary data (NUL byte): this is not a text file")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = raw[exc.start:exc.start + 1].hex()
                raise InputError(
                    path, lineno, None,
                    f"the encoding is not UTF-8 (byte 0x{bad} at column {exc.start + 1}); "
                    f"re-save the file as UTF-8",
                ) from None
            if not keepends:
                line = line.rstrip("\r\n")
            yield lineno, line
            if progress is not None and lineno % 20_000 == 0:
                progress(step, raw_fh.tell(), total)
    if progress is not None:
        progress(step, total, total)


def _numbered(fh: Any, path: Path) -> Iterator[tuple[int, bytes]]:
    """The lines of a (possibly gzip) binary file, numbered from 1; a broken gzip stream names its line."""
    lineno = 0
    try:
        for lineno, raw in enumerate(fh, start=1):
            yield lineno, raw
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise InputError(path, lineno + 1, None, f"not a readable gzip file ({exc or 'truncated'})") from None


def read_jsonl(path: Path, progress: Progress | None = None) -> Iterator[tuple[int, dict]]:
    """Yield `(line_number, object)` per non-blank line; bad JSON or a non-object is an InputError."""
    for lineno, line in read_lines(path, progress):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(path, lineno, None,
                             f"bad JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise InputError(path, lineno, None,
                             f"expected a JSON object per line, got {type(obj).__name__}")
        yield lineno, obj


def get_id(obj: dict, key: str, path: Path, line: int | None) -> str:
    """A record id: present, a string, not blank."""
    if key not in obj:
        raise InputError(path, line, key, "missing field")
    value = obj[key]
    if not isinstance(value, str):
        raise InputError(path, line, key,
                         f"ids must be strings, got {type(value).__name__} {value!r}")
    if not value.strip():
        raise InputError(path, line, key, "empty id")
    return value


def get_text(obj: dict, key: str, path: Path, line: int | None, *, allow_empty: bool = False,
             required: bool = True) -> str:
    """A text field: a string, and non-empty unless `allow_empty` (titles may be empty)."""
    if key not in obj or obj[key] is None:
        if required:
            raise InputError(path, line, key, "missing field")
        return ""
    value = obj[key]
    if not isinstance(value, str):
        raise InputError(path, line, key, f"expected text, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise InputError(path, line, key, "empty text")
    return value


def parse_int(value: str, path: Path, line: int, field: str) -> int:
    """An integer field of a TSV line (qrels scores, ranks)."""
    try:
        return int(value)
    except ValueError:
        raise InputError(path, line, field, f"expected an integer, got {value!r}") from None


def content_id(prefix: str, text: str) -> str:
    """Stable id for a text that came without one: same text, same id, in every import."""
    return prefix + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def hash64(values: Iterable[str] | pd.Series) -> np.ndarray:
    """64-bit hashes of strings for compact sets of seen ids / pairs within one ingest.

    Python's own `hash` (SipHash, cached on each str) is ~10x faster than hashing through pandas;
    it differs between processes, which is fine: the sets never outlive one import.
    """
    vals = values.tolist() if isinstance(values, pd.Series) else list(values)
    return np.fromiter((hash(v) for v in vals), dtype=np.int64, count=len(vals)).view(np.uint64)


class SeenIds:
    """A compact set of id hashes (with a text hash and line each) that grows in sorted runs.

    8 bytes per key instead of ~100 for a Python set of strings: a 10M-passage corpus needs
    ~240 MB here rather than gigabytes, and lookups stay vectorised per chunk.
    """

    def __init__(self) -> None:
        self._runs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.size = 0

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each key: found?, its stored value, its stored line."""
        found = np.zeros(len(keys), dtype=bool)
        vals = np.zeros(len(keys), dtype=np.uint64)
        lines = np.zeros(len(keys), dtype=np.int64)
        for k, v, ln in self._runs:
            pos = np.searchsorted(k, keys)
            pos[pos >= len(k)] = 0
            hit = (k[pos] == keys) & ~found if len(k) else np.zeros(len(keys), dtype=bool)
            vals[hit], lines[hit] = v[pos[hit]], ln[pos[hit]]
            found |= hit
        return found, vals, lines

    def contains(self, keys: np.ndarray) -> np.ndarray:
        return self.lookup(keys)[0]

    def add(self, keys: np.ndarray, vals: np.ndarray | None = None,
            lines: np.ndarray | None = None) -> None:
        """Add keys not yet present (callers filter with `lookup` first)."""
        if len(keys) == 0:
            return
        vals = np.zeros(len(keys), np.uint64) if vals is None else np.asarray(vals, np.uint64)
        lines = np.zeros(len(keys), np.int64) if lines is None else np.asarray(lines, np.int64)
        order = np.argsort(keys, kind="stable")
        run = (keys[order], vals[order], lines[order])
        self._runs.append(run)
        self.size += len(keys)
        # Merge runs of similar size (LSM style): O(log n) runs, amortised O(n log n) work.
        while len(self._runs) >= 2 and len(self._runs[-2][0]) <= 2 * len(self._runs[-1][0]):
            b, a = self._runs.pop(), self._runs.pop()
            k = np.concatenate([a[0], b[0]])
            order = np.argsort(k, kind="stable")
            self._runs.append((k[order], np.concatenate([a[1], b[1]])[order],
                               np.concatenate([a[2], b[2]])[order]))

    def first_new(self, keys: np.ndarray) -> np.ndarray:
        """Mask of keys seen neither earlier in this chunk nor in earlier chunks; records them.

        Pair keys (qrels, candidates) stream in chunks: one mask keeps the first of each pair.
        """
        _, first_idx = np.unique(keys, return_index=True)
        first = np.zeros(len(keys), dtype=bool)
        first[first_idx] = True
        keep = first & ~self.contains(keys)
        self.add(keys[keep])
        return keep


def _first_occurrences(seen: SeenIds, keys: np.ndarray, vals: np.ndarray, lines: list[int],
                       clash: Callable[[int, int, int], InputError]) -> np.ndarray:
    """Mask of each key's first occurrence, in this chunk and in `seen` (which records them).

    A key again with another value raises ``clash(i, first_line, first_value)`` for its first such row.
    """
    line_arr = np.asarray(lines, dtype=np.int64)
    # Within the chunk: first occurrence of each key.
    _, first_idx, inverse = np.unique(keys, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    conflict = vals != vals[first_idx][inverse]
    if conflict.any():
        i = int(np.argmax(conflict))
        j = int(first_idx[inverse[i]])
        raise clash(i, int(lines[j]), int(vals[j]))
    first = np.zeros(len(keys), dtype=bool)
    first[first_idx] = True
    # Across chunks.
    found, old_vals, old_lines = seen.lookup(keys)
    bad = found & (old_vals != vals)
    if bad.any():
        i = int(np.argmax(bad))
        raise clash(i, int(old_lines[i]), int(old_vals[i]))
    keep = first & ~found
    seen.add(keys[keep], vals[keep], line_arr[keep])
    return keep


def dedupe_records(seen: SeenIds, ids: list[str], texts: list[str] | None, lines: list[int],
                   path: Path, field: str) -> np.ndarray:
    """Mask of first occurrences; the same id again with a different text is an InputError.

    `texts=None` when ids are content hashes of the texts (no conflict is possible).
    """
    if not ids:
        return np.zeros(0, dtype=bool)
    keys = hash64(ids)
    vals = hash64(texts) if texts is not None else keys
    return _first_occurrences(seen, keys, vals, lines, lambda i, line, _: InputError(
        path, lines[i], field, f"duplicate id {ids[i]!r} with a different text (first seen on line {line})"))


def drop_repeated_qrels(seen: SeenIds, df: pd.DataFrame, lines: list[int], path: Path, field: str,
                        report: dict) -> pd.DataFrame:
    """`df` (qrels rows, `lines` their line numbers) without the qrels `seen` already holds (`dedupe_qrels`)."""
    if df.empty:
        return df
    cols = {c: df[c].tolist() for c in ("query_id", "doc_id", "relevance", "split")}
    keep = dedupe_qrels(seen, cols, lines, path, field, report)
    return df if keep.all() else df[keep]


def qrel_keys(splits: list[str], query_ids: list[str], doc_ids: list[str]) -> np.ndarray:
    """64-bit keys of (split, query, doc): a pair is labelled once per split."""
    keys = (hash((s, q, d)) for s, q, d in zip(splits, query_ids, doc_ids))
    return np.fromiter(keys, dtype=np.int64, count=len(query_ids)).view(np.uint64)


def grade_values(grades: Iterable[int]) -> np.ndarray:
    """Grades as `SeenIds` values (negative grades too: the uint64 view round-trips through int64)."""
    return np.asarray(list(grades), dtype=np.int64).view(np.uint64)


def dedupe_qrels(seen: SeenIds, cols: dict[str, list], lines: list[int], path: Path, field: str,
                 report: dict) -> np.ndarray:
    """Mask of each (split, query, doc)'s first qrel; the pair again with another grade is an InputError.

    A repeated qrel (same grade) is dropped and counted in ``report["duplicate_qrels"]``: a file imported
    twice, or a pair listed twice, would otherwise count twice in every export. `seen` may hold the
    dataset's stored qrels (line 0: "stored"), so a file merged in cannot contradict them either.
    """
    if not lines:
        return np.zeros(0, dtype=bool)
    q, d, sp = cols["query_id"], cols["doc_id"], cols["split"]
    grades = grade_values(cols["relevance"])

    def clash(i: int, line: int, old: int) -> InputError:
        old = int(np.uint64(old).view(np.int64))
        where = (f"line {line}" if line else f"the dataset's stored {sp[i]!r} qrels (import into another "
                                             f"--split, or re-import the dataset with --replace)")
        return InputError(path, lines[i], field, f"query {q[i]!r}, doc {d[i]!r} graded "
                                                 f"{cols['relevance'][i]} here but {old} on {where}")

    keep = _first_occurrences(seen, qrel_keys(sp, q, d), grades, lines, clash)
    if not keep.all():
        report["duplicate_qrels"] = report.get("duplicate_qrels", 0) + int((~keep).sum())
    return keep


def pair_keys(query_ids: list[str], doc_ids: list[str]) -> np.ndarray:
    """64-bit keys of (query, doc) pairs."""
    n = len(query_ids)
    keys = (hash((q, d)) for q, d in zip(query_ids, doc_ids))
    return np.fromiter(keys, dtype=np.int64, count=n).view(np.uint64)


MAX_EXAMPLES = 5
"""Ids kept per skip kind: enough to find the records, small enough to store with the dataset."""


def _note(report: dict, key: str, kind: str, examples: list[str], count: int) -> None:
    entry = report.setdefault(key, {}).setdefault(kind, {"count": 0, "examples": []})
    entry["count"] += count
    for e in examples:
        if len(entry["examples"]) < MAX_EXAMPLES and e not in entry["examples"]:
            entry["examples"].append(e)


def note_unknown(report: dict, kind: str, examples: list[str], count: int) -> None:
    """Accumulate skipped-unknown-id counts and up to five examples in an ingest report."""
    _note(report, "skipped_unknown", kind, examples, count)


def note_empty(report: dict, kind: str, examples: list[str], count: int) -> None:
    """Accumulate records skipped for having no text (and the qrels/triples that pointed at them)."""
    _note(report, "skipped_empty", kind, examples, count)


def is_blank(value: Any) -> bool:
    """No text at all: None, NaN, or a string of only whitespace (what lenient ingest skips)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and not value.strip()


class Skipped:
    """Ids of docs and queries skipped for having no text, so qrels naming them are attributed
    to the skip (not reported as unknown ids)."""

    def __init__(self, report: dict) -> None:
        self.report = report
        self.ids = {"docs": SeenIds(), "queries": SeenIds()}

    def add(self, kind: str, rid: str) -> None:
        """Skip record `rid` of `kind` ("docs" / "queries"); a repeated id is counted once."""
        key = hash64([rid])
        if not self.ids[kind].contains(key)[0]:
            self.ids[kind].add(key)
            note_empty(self.report, kind, [rid], 1)

    def contains(self, kind: str, ids: list[str]) -> np.ndarray:
        return self.ids[kind].contains(hash64(ids))

    def split_unknown(self, kind: str, ok: np.ndarray, known_q: np.ndarray, known_d: np.ndarray,
                      qids: list[str], dids: list[str]) -> np.ndarray:
        """Report the rows of `~ok` that point at a skipped query or doc under `kind`; returns the
        mask of the remaining bad rows (truly unknown ids)."""
        sq = ~known_q & self.contains("queries", qids)
        sd = ~known_d & self.contains("docs", dids)
        of_skipped = ~ok & (sq | sd)
        if of_skipped.any():
            idx = np.flatnonzero(of_skipped)
            note_empty(self.report, kind, [qids[j] if sq[j] else dids[j]
                                           for j in idx[:MAX_EXAMPLES]], len(idx))
        return ~ok & ~of_skipped


def require_file(path: Path, what: str) -> Path:
    """A file a folder format needs; its absence is an InputError naming it."""
    if path.is_dir():
        raise InputError(path, None, None, f"is a folder; expected a file ({what})")
    if not path.is_file():
        packed = path.with_name(path.name + ".gz")  # corpus.jsonl.gz, as the Hugging Face hub ships it
        if packed.is_file():
            return packed
        raise InputError(path, None, None, f"missing required file ({what}; {path.name}.gz is read too)")
    return path


def input_file(path: str | Path) -> Path:
    """A file named on the command line or in the app: it exists and is not a folder."""
    path = Path(path)
    if path.is_dir():
        raise InputError(path, None, None, "is a folder; expected a file")
    if not path.is_file():
        raise InputError(path, None, None, "no such file")
    return path


def files_in(root: Path, pattern: str) -> list[Path]:
    """The files (not folders) of `root` matching `pattern`, sorted."""
    return sorted(p for p in root.glob(pattern) if not p.is_dir())


def write_chunks(writer: Any, chunks: Iterable[Chunk]) -> dict[str, int]:
    """Feed reader chunks into a `DatasetWriter`; returns rows written per table."""
    counts: dict[str, int] = {}
    for table, df in chunks:
        if df is None or df.empty:
            continue
        counts[table] = counts.get(table, 0) + writer.add(table, df)
    return counts


class Batch:
    """Column lists for one table that flush into a chunk every `CHUNK_ROWS` rows."""

    def __init__(self, table: str, chunk_rows: int = CHUNK_ROWS):
        from core.store.schema import BULK_COLUMNS

        self.table, self.chunk_rows = table, chunk_rows
        self.cols: dict[str, list] = {c: [] for c in BULK_COLUMNS[table]}
        self.lines: list[int] = []

    def __len__(self) -> int:
        return len(self.lines)

    def append(self, line: int, *values: Any) -> None:
        for col, v in zip(self.cols.values(), values):
            col.append(v)
        self.lines.append(line)

    def full(self) -> bool:
        return len(self.lines) >= self.chunk_rows

    def take(self) -> tuple[dict[str, list], list[int]]:
        """Hand over the buffered columns (and their line numbers) and start afresh."""
        cols, lines = self.cols, self.lines
        self.cols = {c: [] for c in cols}
        self.lines = []
        return cols, lines
