"""One call per format: read a file or folder and write it into the store in one transaction.

The CLI and the app's Datasets page both call these, so a bad file fails the same way in both:
an `InputError` raised inside the writer's transaction, which leaves no partial dataset behind.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from core.ingest.beir import read_beir
from core.ingest.common import CHUNK_ROWS, Progress, SeenIds, grade_values, qrel_keys, write_chunks
from core.ingest.msmarco import read_msmarco
from core.ingest.skips import META_KEY, merge_skips, skips_of
from core.ingest.st import ST_SUFFIXES, read_st
from core.ingest.trec import known_in, read_qrels_lines, read_trec_run
from core.types import InputError, NegauditError

_TABLES = ("docs", "queries", "qrels", "candidates")


def _checked(path: str | Path) -> Path:
    """A path typed into the app or the CLI: a NUL byte would crash the OS call, say so instead."""
    if "\x00" in str(path):
        raise InputError(repr(str(path)), None, None, "a path cannot contain a NUL character")
    return Path(path)


def _require_some(path: Path, counts: dict[str, int], report: dict, files: dict[str, str] | None = None
                  ) -> None:
    """Skipping every record is not an import: fail (rolling back) rather than store nothing.

    `files`: the file each table comes from (a folder format); one that held no record at all is named.
    """
    empty = report.get("skipped_empty", {})
    for table, kind in (("docs", "docs"), ("queries", "queries"), ("queries", "rows")):
        if not counts.get(table) and kind in empty:
            raise InputError(path, None, None,
                             f"nothing to import: all {empty[kind]['count']:,} {kind} are empty "
                             f"(e.g. {', '.join(map(repr, empty[kind]['examples']))})")
    for table, name in (files or {}).items():
        if not counts.get(table):  # an empty corpus or query file once imported "successfully"
            raise InputError(path / name, None, None, f"no {table}: the file holds no records")


def _keep_skips(writer: Any, report: dict, old: dict | None = None) -> None:
    """Store the import's skip report with the dataset (merged into `old` for appenders)."""
    skips = skips_of(report)
    if old:
        skips = merge_skips(old, skips)
    if skips:
        writer.merge_meta({META_KEY: skips})


def _stored_skips(store: Any, name: str) -> dict:
    return store.dataset_info(name)["meta"].get(META_KEY, {})


def _replacing(store: Any, name: str, replace: bool, report: dict) -> None:
    """A rebuild drops the dataset's candidates and their risk with its rows (judgments stay): note how many,
    so the import can say that the review queue is empty until `mine` and `score` run again."""
    if replace and store.has_dataset(name):
        report["replaced_candidates"] = store.counts(name)[0].candidates


def _result(counts: dict[str, int], report: dict) -> dict[str, Any]:
    out: dict[str, Any] = {t: counts.get(t, 0) for t in _TABLES}
    out.update({k: v for k, v in report.items() if v not in (None, {}, [], 0)})
    return out


def ingest_beir(store: Any, path: str | Path, name: str, splits: list[str] | None = None,
                replace: bool = False, progress: Progress | None = None, strict: bool = False,
                chunk_rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """Import a BEIR folder as dataset `name`; returns counts per table (+ skipped ids)."""
    path = _checked(path)
    report: dict = {}
    chunks = read_beir(path, splits, strict=strict, report=report, progress=progress,
                       chunk_rows=chunk_rows)
    _replacing(store, name, replace, report)
    with store.dataset_writer(name, source=str(Path(path).resolve()), fmt="beir",
                              replace=replace, meta={"splits": splits or "all"}) as writer:
        counts = write_chunks(writer, chunks)
        _require_some(path, counts, report, {"docs": "corpus.jsonl", "queries": "queries.jsonl"})
        _keep_skips(writer, report)
    return _result(counts, report)


def ingest_st(store: Any, path: str | Path, name: str, columns: str | dict | None = None,
              replace: bool = False, progress: Progress | None = None,
              chunk_rows: int = CHUNK_ROWS, source: str | None = None, strict: bool = False
              ) -> dict[str, Any]:
    """Import a sentence-transformers training file (parquet/jsonl/csv/tsv) as dataset `name`."""
    path = _checked(path)
    report: dict = {}
    chunks = read_st(path, columns, strict=strict, report=report, progress=progress,
                     chunk_rows=chunk_rows)
    _replacing(store, name, replace, report)
    with store.dataset_writer(name, source=source or str(Path(path).resolve()), fmt="st",
                              replace=replace) as writer:
        counts = write_chunks(writer, chunks)
        _require_some(path, counts, report)
        _keep_skips(writer, report)
        meta_cols = report.get("columns")
    out = _result(counts, report)
    out["columns"] = meta_cols
    return out


def ingest_msmarco(store: Any, path: str | Path, name: str, replace: bool = False,
                   progress: Progress | None = None, strict: bool = False,
                   chunk_rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """Import an MS MARCO style folder (collection, queries, qrels, optional id triples)."""
    path = _checked(path)
    report: dict = {}
    chunks = read_msmarco(path, strict=strict, report=report, progress=progress,
                          chunk_rows=chunk_rows)
    _replacing(store, name, replace, report)
    with store.dataset_writer(name, source=str(Path(path).resolve()), fmt="msmarco",
                              replace=replace) as writer:
        counts = write_chunks(writer, chunks)
        _require_some(path, counts, report, {"docs": "collection.tsv", "queries": "queries*.tsv"})
        _keep_skips(writer, report)
    return _result(counts, report)


def _reserved_tags() -> frozenset[str]:
    from core.ingest.st import MINER as IMPORTED
    from core.mining import miner_names

    return frozenset([*miner_names(), IMPORTED])


def _require_dataset(store: Any, name: str) -> None:
    if not store.has_dataset(name):
        raise NegauditError(f"no dataset named {name!r}; see `negaudit datasets`")


def _stored_qrels(store: Any, name: str, split: str) -> SeenIds:
    """The (split, query, doc) keys and grades dataset `name` already holds in `split`: a qrels file merged
    in adds only what is new (imported twice, it adds nothing) and may not regrade a stored pair."""
    seen = SeenIds()
    q = store.qrels(name, split)
    if len(q):
        keys = qrel_keys([split] * len(q), q["query_id"].astype(str).tolist(), q["doc_id"].astype(str).tolist())
        _, first = np.unique(keys, return_index=True)
        seen.add(keys[first], grade_values(q["relevance"].to_numpy()[first]))
    return seen


def ingest_trec_qrels(store: Any, path: str | Path, into: str, split: str = "test",
                      strict: bool = False, progress: Progress | None = None,
                      chunk_rows: int = CHUNK_ROWS) -> dict[str, Any]:
    """Add a TREC qrels file's labels to dataset `into` (origin = the file name)."""
    path = _checked(path)
    _require_dataset(store, into)
    report: dict = {}
    chunks = read_qrels_lines(
        path, split=split, origin=Path(path).name,
        known_queries=known_in(store.ids(into, "queries")),
        known_docs=known_in(store.ids(into, "docs")),
        strict=strict, report=report, progress=progress, chunk_rows=chunk_rows,
        seen_qrels=_stored_qrels(store, into, split), empty_ok=False)
    old = _stored_skips(store, into)
    with store.dataset_appender(into) as writer:
        counts = write_chunks(writer, chunks)
        _keep_skips(writer, report, old)
    return _result(counts, report)


def ingest_trec_run(store: Any, path: str | Path, into: str, strict: bool = False,
                    progress: Progress | None = None, chunk_rows: int = CHUNK_ROWS
                    ) -> dict[str, Any]:
    """Add a TREC run to dataset `into` as candidates (miner = run tag; positives skipped).

    A run tag that already has candidates in the dataset is refused: re-importing would
    duplicate them (delete and re-create the dataset, or rename the tag).
    """
    path = _checked(path)
    _require_dataset(store, into)
    qrels = store.qrels(into)
    positives = set(zip(qrels.query_id[qrels.relevance > 0], qrels.doc_id[qrels.relevance > 0]))
    report: dict = {}
    chunks = read_trec_run(
        path, known_queries=known_in(store.ids(into, "queries")),
        known_docs=known_in(store.ids(into, "docs")), positives=positives,
        strict=strict, report=report, progress=progress, chunk_rows=chunk_rows)
    existing = (set(store.candidates(into).miner.unique())
                if store.counts(into)[0].candidates else set())
    old = _stored_skips(store, into)
    with store.dataset_appender(into) as writer:
        counts: dict[str, int] = {}
        for table, df in chunks:
            reserved = sorted(set(report.get("miners", [])) & _reserved_tags())
            if reserved:  # `negaudit mine` replaces its own miners' candidates: the run's would go silently
                raise InputError(path, None, "tag", f"run tag(s) {reserved} name negaudit's own miners, whose "
                                                    f"candidates `mine` replaces; rename the tag in the run")
            clash = existing.intersection(report.get("miners", []))
            if clash:
                raise InputError(path, None, "tag",
                                 f"dataset {into!r} already has candidates from run tag(s) "
                                 f"{sorted(clash)}; use another tag")
            if not df.empty:
                counts[table] = counts.get(table, 0) + writer.add(table, df)
        _keep_skips(writer, report, old)
    return _result(counts, report)


def _find_root(root: Path, marker: str) -> Path | None:
    hits = sorted(root.rglob(marker), key=lambda p: len(p.parts))
    return hits[0].parent if hits else None


MAX_UNZIPPED_BYTES = 16 * 2**30  # a zip that would expand beyond this is refused (zip bombs)


def _upload_name(filename: str) -> str:
    """The uploaded file's base name as shown in messages: no folders, no control chars, short."""
    name = Path(str(filename).replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()) or "upload"
    return name if len(name) <= 120 else name[:100] + "…" + name[-19:]


def ingest_upload(store: Any, filename: str, data: bytes | str | Path, name: str,
                  columns: str | dict | None = None, replace: bool = False,
                  progress: Progress | None = None, splits: list[str] | None = None
                  ) -> dict[str, Any]:
    """Import an uploaded file by its suffix: a sentence-transformers file, or a .zip holding a
    BEIR folder (corpus.jsonl) or an MS MARCO folder (collection.tsv). `data` is the file's bytes
    or a path to them.

    The client's file name only picks the format and names the file in errors: the bytes are
    saved under a fixed name in a fresh temporary folder (no path traversal, no odd names), and
    zip members must stay inside it. Every bad input is a `NegauditError` naming the upload.
    """
    shown = _upload_name(filename)
    suffix = Path(shown).suffix.lower()
    if suffix not in ST_SUFFIXES and suffix != ".zip":
        raise InputError(shown, None, None,
                         f"unsupported upload type {suffix!r}; expected a .zip of a BEIR or MS "
                         f"MARCO folder, or one of {', '.join(sorted(ST_SUFFIXES))}")
    tmp = Path(tempfile.mkdtemp(prefix="negaudit-upload-"))
    target, root = tmp / f"upload{suffix}", tmp / "x"
    try:
        if isinstance(data, (bytes, bytearray)):
            target.write_bytes(bytes(data))
        else:
            shutil.copyfile(data, target)
        if suffix != ".zip":
            return ingest_st(store, target, name, columns=columns, replace=replace,
                             progress=progress, source=shown)
        _unzip(target, root, shown)
        beir_root = _find_root(root, "corpus.jsonl")
        if beir_root is not None:
            return ingest_beir(store, beir_root, name, splits=splits, replace=replace,
                               progress=progress)
        marco_root = _find_root(root, "collection.tsv")
        if marco_root is not None:
            return ingest_msmarco(store, marco_root, name, replace=replace, progress=progress)
        raise InputError(shown, None, None,
                         "the zip holds neither corpus.jsonl (BEIR) nor collection.tsv (MS MARCO)")
    except InputError as exc:
        raise _as_uploaded(exc, target, root, shown) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unzip(path: Path, root: Path, shown: str) -> None:
    """Extract a zip into `root`; refuse members outside it, encrypted or oversized archives."""
    try:
        with zipfile.ZipFile(path) as zf:
            members = zf.infolist()
            inside = root.resolve()
            for m in members:
                if "\x00" in m.filename or not (inside / m.filename).resolve().is_relative_to(
                        inside):
                    raise InputError(shown, None, m.filename, "unsafe path inside the zip")
            if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
                raise InputError(shown, None, None, f"the zip would expand beyond "
                                 f"{MAX_UNZIPPED_BYTES // 2**30} GiB")
            zf.extractall(root)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise InputError(shown, None, None, f"not a valid zip file ({exc})") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted, unsupported compression
        raise InputError(shown, None, None, f"cannot extract the zip ({exc})") from None


def _as_uploaded(exc: InputError, target: Path, root: Path, shown: str) -> InputError:
    """The same error, naming the upload (and the member inside a zip) instead of temp paths."""
    path = Path(exc.path)
    if path == target:
        where = shown
    elif path.is_relative_to(root):
        where = f"{shown}/{path.relative_to(root).as_posix()}"
    else:
        where = exc.path
    return InputError(where, exc.line, exc.field, exc.reason)
