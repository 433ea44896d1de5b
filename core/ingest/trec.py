"""TREC qrels (`qid 0 docid rel`) and TREC runs (`qid Q0 docid rank score tag`).

Both are merged into an existing dataset, so every id must already be known to it: unknown ids
are counted (with up to five examples) and skipped, or rejected with `strict`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from core.ingest.common import (
    CHUNK_ROWS,
    Batch,
    Chunk,
    Progress,
    SeenIds,
    Skipped,
    drop_repeated_qrels,
    frame,
    input_file,
    note_unknown,
    parse_int,
    read_lines,
)
from core.types import InputError

Known = Callable[[list[str]], np.ndarray]
"""`known(ids) -> bool mask`: which ids the dataset has."""


def known_in(ids: set[str]) -> Known:
    """A `Known` over a plain set of ids (what `Store.ids` returns)."""
    return lambda values: np.fromiter((v in ids for v in values), dtype=bool, count=len(values))


def parse_qrel_fields(text: str, path: Path, line: int) -> tuple[str, str, int]:
    """One qrels line in any of the usual shapes: `qid 0 docid rel`, `qid docid rel`, `qid docid`."""
    parts = text.split()
    if len(parts) == 4:
        qid, _, did, rel = parts
        return qid, did, parse_int(rel, path, line, "relevance")
    if len(parts) == 3:
        qid, did, rel = parts
        try:
            return qid, did, int(rel)
        except ValueError:  # e.g. `q1 0 doc7`: a TREC line that lost its relevance, not `qid docid relevance`
            raise InputError(path, line, "relevance",
                             f"expected an integer, got {rel!r}: 3 fields are read as `qid docid relevance`; a TREC "
                             f"qrels line has 4 (`qid 0 docid relevance`)") from None
    if len(parts) == 2:
        return parts[0], parts[1], 1
    raise InputError(path, line, None,
                     f"expected a qrels line `qid 0 docid relevance` (or 2/3 fields), "
                     f"got {len(parts)} fields")


def read_qrels_lines(
    path: str | Path,
    *,
    split: str,
    origin: str,
    known_queries: Known,
    known_docs: Known,
    strict: bool = False,
    report: dict | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
    skipped: Skipped | None = None,
    seen_qrels: SeenIds | None = None,
    empty_ok: bool = True,
) -> Iterator[Chunk]:
    """Stream a TREC / MS MARCO qrels file as qrels chunks (a header line and `#` comments are skipped).

    `skipped`: the docs/queries the same import skipped for having no text; qrels naming them
    are reported with that skip rather than as unknown ids. `seen_qrels`: the (split, query, doc) keys
    already held (the dataset's stored qrels, `core.ingest.common.dedupe_qrels`); a qrel repeats once.
    `empty_ok` False: a file with no qrels line is an error (a qrels file given on its own; a folder's
    split may be empty).
    """
    path = input_file(path)
    report = report if report is not None else {}
    seen = seen_qrels if seen_qrels is not None else SeenIds()
    batch = Batch("qrels", chunk_rows)
    lines = 0
    for line, text in read_lines(path, progress):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        if line == 1 and _is_header(text):
            continue
        lines += 1
        qid, did, rel = parse_qrel_fields(text, path, line)
        batch.append(line, qid, did, rel, split, origin)
        if batch.full():
            yield _checked(batch, path, known_queries, known_docs, strict, report, "qrels",
                           skipped, seen)
    if not lines and not empty_ok:  # "added ...: nothing" and exit 0 read as success
        raise InputError(path, None, None, "empty file: no qrels lines (`qid 0 docid relevance`)")
    yield _checked(batch, path, known_queries, known_docs, strict, report, "qrels", skipped, seen)


def _is_header(text: str) -> bool:
    last = text.split()[-1] if text.split() else ""
    try:
        int(last)
        return False
    except ValueError:
        return len(text.split()) in (2, 3, 4) and last.lower() in (
            "score", "relevance", "rel", "label", "qrel", "docid", "pid", "corpus-id")


def _checked(batch: Batch, path: Path, known_queries: Known, known_docs: Known, strict: bool,
             report: dict, kind: str, skipped: Skipped | None = None, seen: SeenIds | None = None) -> Chunk:
    """Drop (or with `strict`, reject) rows whose query or doc id the dataset lacks; qrels also drop
    the (split, query, doc) keys ``seen`` holds (a repeat; another grade is an error)."""
    cols, lines = batch.take()
    table, df = frame(batch.table, cols)
    if df.empty:
        return table, df
    kq = known_queries(cols["query_id"])
    kd = known_docs(cols["doc_id"])
    ok = kq & kd
    if not ok.all():
        bad = np.flatnonzero(~ok)
        i = int(bad[0])
        if strict:
            field, value = ("query_id", cols["query_id"][i]) if not kq[i] else (
                "doc_id", cols["doc_id"][i])
            raise InputError(path, lines[i], field,
                             f"unknown id {value!r}: the dataset has no such "
                             f"{'query' if field == 'query_id' else 'doc'}")
        if skipped is not None:
            bad = np.flatnonzero(skipped.split_unknown(kind, ok, kq, kd, cols["query_id"],
                                                       cols["doc_id"]))
        examples = [cols["query_id"][j] if not kq[j] else cols["doc_id"][j] for j in bad[:5]]
        if len(bad):
            note_unknown(report, kind, examples, len(bad))
        df = df[ok]
    if seen is not None:
        df = drop_repeated_qrels(seen, df, [ln for ln, k in zip(lines, ok) if k], path, "relevance", report)
    return table, df


def read_trec_run(
    path: str | Path,
    *,
    known_queries: Known,
    known_docs: Known,
    positives: set[tuple[str, str]] | None = None,
    strict: bool = False,
    report: dict | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Chunk]:
    """Stream a TREC run as candidates (miner = the run tag, rank and score as given).

    A candidate is an *unlabelled* doc: pairs labelled positive in `positives` are skipped
    (counted in `report["skipped_positive"]`), and a repeated (query, doc, tag) keeps its first line.
    """
    path = input_file(path)
    report = report if report is not None else {}
    positives = positives or set()
    seen: set[int] = set()
    report.setdefault("skipped_positive", 0)
    report.setdefault("skipped_duplicate", 0)
    report.setdefault("miners", [])
    batch = Batch("candidates", chunk_rows)
    lines = 0
    for line, text in read_lines(path, progress):
        if not text.strip():
            continue
        lines += 1
        parts = text.split()
        if len(parts) != 6:
            raise InputError(path, line, None,
                             f"expected a run line `qid Q0 docid rank score tag`, got "
                             f"{len(parts)} fields")
        qid, _, did, rank_s, score_s, tag = parts
        rank = parse_int(rank_s, path, line, "rank")
        if rank < 0:  # 0-based runs are common; a negative rank is a broken file
            raise InputError(path, line, "rank", f"a rank cannot be negative, got {rank}")
        try:
            score = float(score_s)
        except ValueError:
            raise InputError(path, line, "score", f"expected a number, got {score_s!r}") from None
        if math.isnan(score):
            raise InputError(path, line, "score", "score is NaN")
        if tag not in report["miners"]:
            report["miners"].append(tag)
        if (qid, did) in positives:
            report["skipped_positive"] += 1
            continue
        key = hash((qid, did, tag))
        if key in seen:
            report["skipped_duplicate"] += 1
            continue
        seen.add(key)
        batch.append(line, qid, did, tag, rank, score)
        if batch.full():
            yield _checked(batch, path, known_queries, known_docs, strict, report, "run")
    if not lines:
        raise InputError(path, None, None, "empty file: no run lines (`qid Q0 docid rank score tag`)")
    yield _checked(batch, path, known_queries, known_docs, strict, report, "run")


__all__ = ["known_in", "parse_qrel_fields", "read_qrels_lines", "read_trec_run"]
