"""BEIR folders: `corpus.jsonl`, `queries.jsonl`, `qrels/<split>.tsv` (header `query-id corpus-id score`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from core.ingest.common import (
    CHUNK_ROWS,
    Batch,
    Chunk,
    Progress,
    SeenIds,
    Skipped,
    dedupe_records,
    drop_repeated_qrels,
    files_in,
    frame,
    get_id,
    get_text,
    hash64,
    is_blank,
    note_unknown,
    parse_int,
    read_jsonl,
    read_lines,
    require_file,
)
from core.types import InputError

QRELS_HEADER = ("query-id", "corpus-id", "score")


def beir_splits(path: Path) -> list[str]:
    """The split names a BEIR folder offers (one `qrels/<split>.tsv` each)."""
    qdir = Path(path) / "qrels"
    return [p.stem for p in files_in(qdir, "*.tsv")] if qdir.is_dir() else []


def read_beir(
    path: str | Path,
    splits: list[str] | None = None,
    *,
    strict: bool = False,
    report: dict | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Chunk]:
    """Stream a BEIR folder as docs, queries and qrels chunks (qrels keep their split).

    A doc with a title and no text is a doc (TREC-COVID style records). A doc or query with
    neither is skipped and counted in `report["skipped_empty"]` (count, first ids), and so are
    qrels naming it; qrels naming an id absent from the corpus or queries are skipped and counted
    in `report["skipped_unknown"]`. `strict` makes the first of either an error.
    """
    root = Path(path)
    if not root.is_dir():
        raise InputError(root, None, None, "not a folder (a BEIR dataset is a folder holding "
                                           "corpus.jsonl, queries.jsonl and qrels/<split>.tsv)")
    corpus = require_file(root / "corpus.jsonl", "a BEIR folder has corpus.jsonl")
    queries = require_file(root / "queries.jsonl", "a BEIR folder has queries.jsonl")
    available = beir_splits(root)
    if not available:
        raise InputError(root / "qrels", None, None,
                         "missing required qrels: expected qrels/<split>.tsv files")
    chosen = list(splits) if splits else available
    for s in chosen:
        if s not in available:
            raise InputError(root / "qrels" / f"{s}.tsv", None, None,
                             f"no such split; available: {', '.join(available)}")
    report = report if report is not None else {}

    seen_docs, seen_queries = SeenIds(), SeenIds()
    skipped = Skipped(report)
    yield from _read_docs(corpus, seen_docs, skipped, strict, progress, chunk_rows)
    yield from _read_queries(queries, seen_queries, skipped, strict, progress, chunk_rows)
    for split in chosen:
        yield from read_qrels_tsv(root / "qrels" / f"{split}.tsv", split, seen_queries,
                                  seen_docs, strict=strict, report=report, progress=progress,
                                  chunk_rows=chunk_rows, skipped=skipped)


def _body(obj: dict, path: Path, line: int, strict: bool, title: str = "") -> str | None:
    """The record's `text`: None when it has neither text nor title (skip it, unless `strict`).

    A missing `text` key is a wrong schema, not an empty record: an error unless a title stands in.
    """
    if "text" not in obj and not title.strip():
        raise InputError(path, line, "text", "missing field")
    value = obj.get("text")
    if not is_blank(value):
        return get_text(obj, "text", path, line)
    if value is not None and not isinstance(value, str):  # NaN is a number, not a text
        raise InputError(path, line, "text", f"expected text, got {type(value).__name__}")
    if title.strip():
        return ""
    if strict:
        raise InputError(path, line, "text", "empty text" + (" and no title" if "title" in obj
                                                             else ""))
    return None


def _read_docs(path: Path, seen: SeenIds, skipped: Skipped, strict: bool,
               progress: Progress | None, chunk_rows: int) -> Iterator[Chunk]:
    batch = Batch("docs", chunk_rows)
    for line, obj in read_jsonl(path, progress):
        doc_id = get_id(obj, "_id", path, line)
        title = get_text(obj, "title", path, line, allow_empty=True, required=False)
        text = _body(obj, path, line, strict, title)
        if text is None:
            skipped.add("docs", doc_id)
            continue
        batch.append(line, doc_id, title, text)
        if batch.full():
            yield _flush_records(batch, seen, path)
    yield _flush_records(batch, seen, path)


def _read_queries(path: Path, seen: SeenIds, skipped: Skipped, strict: bool,
                  progress: Progress | None, chunk_rows: int) -> Iterator[Chunk]:
    batch = Batch("queries", chunk_rows)
    for line, obj in read_jsonl(path, progress):
        query_id = get_id(obj, "_id", path, line)
        text = _body(obj, path, line, strict)
        if text is None:
            skipped.add("queries", query_id)
            continue
        batch.append(line, query_id, text)
        if batch.full():
            yield _flush_records(batch, seen, path)
    yield _flush_records(batch, seen, path)


def _flush_records(batch: Batch, seen: SeenIds, path: Path) -> Chunk:
    """De-duplicate one chunk of docs/queries (same id + same text: kept once, silently)."""
    cols, lines = batch.take()
    id_col = "doc_id" if batch.table == "docs" else "query_id"
    ids = cols[id_col]
    texts = cols["text"] if batch.table == "queries" else [
        f"{t}\x1f{x}" for t, x in zip(cols["title"], cols["text"])]
    keep = dedupe_records(seen, ids, texts, lines, path, "_id")
    table, df = frame(batch.table, cols)
    return table, df[keep] if len(df) and not keep.all() else df


def read_qrels_tsv(
    path: Path,
    split: str,
    seen_queries: SeenIds,
    seen_docs: SeenIds,
    *,
    strict: bool = False,
    report: dict,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
    origin: str = "dataset",
    skipped: Skipped | None = None,
) -> Iterator[Chunk]:
    """BEIR qrels: `query-id corpus-id score` (tab-separated, header optional, score an int)."""
    batch = Batch("qrels", chunk_rows)
    seen = SeenIds()  # (split, query, doc) once: a repeated line adds nothing, another grade is an error
    for line, text in read_lines(path, progress):
        if not text.strip():
            continue
        parts = text.split("\t")
        if len(parts) != 3:
            parts = text.split()
        if line == 1 and tuple(p.strip().lower() for p in parts) == QRELS_HEADER:
            continue
        if len(parts) != 3:
            raise InputError(path, line, None,
                             f"expected 3 tab-separated fields (query-id corpus-id score), "
                             f"got {len(parts)}")
        qid, did, score = (p.strip() for p in parts)
        if not qid:
            raise InputError(path, line, "query-id", "empty id")
        if not did:
            raise InputError(path, line, "corpus-id", "empty id")
        batch.append(line, qid, did, parse_int(score, path, line, "score"), split, origin)
        if batch.full():
            yield _flush_qrels(batch, seen_queries, seen_docs, path, strict, report, skipped, seen)
    yield _flush_qrels(batch, seen_queries, seen_docs, path, strict, report, skipped, seen)


def _flush_qrels(batch: Batch, seen_queries: SeenIds, seen_docs: SeenIds, path: Path,
                 strict: bool, report: dict, skipped: Skipped | None, seen: SeenIds) -> Chunk:
    cols, lines = batch.take()
    table, df = frame("qrels", cols)
    if df.empty:
        return table, df
    known_q = seen_queries.contains(hash64(cols["query_id"]))
    known_d = seen_docs.contains(hash64(cols["doc_id"]))
    ok = known_q & known_d
    if not ok.all():
        i = int(np.argmax(~ok))
        field, value = ("query-id", cols["query_id"][i]) if not known_q[i] else (
            "corpus-id", cols["doc_id"][i])
        if strict:
            raise InputError(path, lines[i], field, f"unknown id {value!r}")
        unknown = ~ok if skipped is None else skipped.split_unknown(
            "qrels", ok, known_q, known_d, cols["query_id"], cols["doc_id"])
        if unknown.any():
            note_unknown(report, "qrels", [
                cols["query_id"][j] if not known_q[j] else cols["doc_id"][j]
                for j in np.flatnonzero(unknown)[:5]], int(unknown.sum()))
        df = df[ok]
    return table, drop_repeated_qrels(seen, df, [ln for ln, k in zip(lines, ok) if k], path, "score", report)

