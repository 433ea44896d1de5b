"""MS MARCO style folders: `collection.tsv` (pid, text), `queries*.tsv` (qid, text), `qrels*.tsv`
(TREC 4-column or 2/3-column, detected per line) and optional id triples `triples*.tsv`
(qid, positive pid, negative pid).

A passage or query line with an id and no text is skipped and reported (`report["skipped_empty"]`,
count and first ids), with the qrels and triples naming it; `strict` makes it an error.

Split names come from the file name: `qrels.dev.tsv` → "dev", a plain `qrels.tsv` → "train".
Triples add their positive pairs as qrels (origin "triples", when not already labelled) and their
negatives as candidates (miner "imported", rank = order of appearance for that query).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from core.ingest.common import (
    CHUNK_ROWS,
    Batch,
    Chunk,
    Progress,
    SeenIds,
    Skipped,
    dedupe_records,
    files_in,
    frame,
    hash64,
    note_unknown,
    pair_keys,
    read_lines,
    require_file,
)
from core.ingest.trec import read_qrels_lines
from core.types import InputError

MINER = "imported"


def _split_of(path: Path) -> str:
    parts = path.name.split(".")
    return parts[1] if len(parts) > 2 else "train"


def msmarco_files(root: Path) -> dict[str, list[Path]]:
    """The files an MS MARCO folder offers, by role (missing required ones are an InputError)."""
    collection = require_file(root / "collection.tsv",
                              "an MS MARCO folder has collection.tsv (pid<TAB>text)")
    queries = files_in(root, "queries*.tsv")
    if not queries:
        raise InputError(root / "queries.tsv", None, None,
                         "missing required file (queries.tsv: qid<TAB>text)")
    qrels = files_in(root, "qrels*.tsv")
    triples = files_in(root, "triples*.tsv")
    if not qrels and not triples:
        raise InputError(root / "qrels.tsv", None, None,
                         "missing required file (qrels.tsv, or id triples triples.tsv)")
    return {"collection": [collection], "queries": queries, "qrels": qrels, "triples": triples}


def _read_id_text(path: Path, table: str, seen: SeenIds, skipped: Skipped, strict: bool,
                  progress: Progress | None, chunk_rows: int) -> Iterator[Chunk]:
    batch = Batch(table, chunk_rows)
    id_field = "pid" if table == "docs" else "qid"

    def flush() -> Chunk:
        cols, lines = batch.take()
        ids = cols["doc_id" if table == "docs" else "query_id"]
        keep = dedupe_records(seen, ids, cols["text"], lines, path, id_field)
        name, df = frame(table, cols)
        return name, df[keep]

    for line, text in read_lines(path, progress):
        if not text.strip():
            continue
        if "\t" not in text:
            raise InputError(path, line, "text", f"expected `{id_field}<TAB>text`, found no tab")
        rid, body = text.split("\t", 1)
        rid = rid.strip()
        if not rid:
            raise InputError(path, line, id_field, "empty id")
        if not body.strip():
            if strict:
                raise InputError(path, line, "text", "empty text")
            skipped.add(table, rid)
            continue
        if table == "docs":
            batch.append(line, rid, "", body)
        else:
            batch.append(line, rid, body)
        if batch.full():
            yield flush()
    yield flush()


def read_msmarco(
    path: str | Path,
    *,
    strict: bool = False,
    report: dict | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Chunk]:
    """Stream an MS MARCO folder as docs, queries, qrels and (from triples) candidates."""
    root = Path(path)
    if not root.is_dir():
        raise InputError(root, None, None, "not a folder (an MS MARCO dataset is a folder "
                                           "holding collection.tsv, queries.tsv and qrels.tsv)")
    files = msmarco_files(root)
    report = report if report is not None else {}
    seen_docs, seen_queries = SeenIds(), SeenIds()
    known_q = lambda ids: seen_queries.contains(hash64(ids))
    known_d = lambda ids: seen_docs.contains(hash64(ids))
    skipped = Skipped(report)
    yield from _read_id_text(files["collection"][0], "docs", seen_docs, skipped, strict, progress,
                             chunk_rows)
    for qfile in files["queries"]:
        yield from _read_id_text(qfile, "queries", seen_queries, skipped, strict, progress,
                                 chunk_rows)
    labelled = SeenIds()
    for qfile in files["qrels"]:
        for table, df in read_qrels_lines(qfile, split=_split_of(qfile), origin="dataset",
                                          known_queries=known_q, known_docs=known_d,
                                          strict=strict, report=report, progress=progress,
                                          chunk_rows=chunk_rows, skipped=skipped):
            if not df.empty:
                pos = df[df.relevance > 0]
                keys = pair_keys(list(pos.query_id), list(pos.doc_id))
                labelled.add(keys[~labelled.contains(keys)])
            yield table, df
    for tfile in files["triples"]:
        yield from _read_triples(tfile, known_q, known_d, labelled, strict, report, progress,
                                 chunk_rows, skipped)


def _read_triples(path: Path, known_q, known_d, labelled: SeenIds, strict: bool,
                  report: dict, progress: Progress | None, chunk_rows: int,
                  skipped: Skipped) -> Iterator[Chunk]:
    """Id triples → qrels for new positive pairs, candidates for negatives (first time seen)."""
    import numpy as np

    ranks: dict[str, int] = {}
    negs = SeenIds()
    rows: list[tuple[int, str, str, str]] = []

    def flush() -> Iterator[Chunk]:
        if not rows:
            return
        lines, qids, poss, negids = (list(x) for x in zip(*rows))
        rows.clear()
        kq, kp, kn = known_q(qids), known_d(poss), known_d(negids)
        ok = kq & kp & kn
        if not ok.all():
            i = int((~ok).argmax())
            if strict:
                raise InputError(path, lines[i], None,
                                 f"unknown id in ({qids[i]!r}, {poss[i]!r}, {negids[i]!r}): only "
                                 f"id triples are supported, and every id must be in "
                                 f"collection.tsv / queries")
            # A triple is "of a skipped record" when its positive or negative was skipped.
            unknown = skipped.split_unknown("triples", ok, kq, kp & kn, qids,
                                            [p if not a else n for p, n, a in zip(poss, negids, kp)])
            if unknown.any():
                j = int(unknown.argmax())  # the example is the id the dataset lacks, not the query's
                missing = qids[j] if not kq[j] else poss[j] if not kp[j] else negids[j]
                note_unknown(report, "triples", [missing], int(unknown.sum()))
            keep_idx = np.flatnonzero(ok)
            lines, qids, poss, negids = ([x[j] for j in keep_idx]
                                         for x in (lines, qids, poss, negids))
        if not lines:
            return
        pos_new = labelled.first_new(pair_keys(qids, poss))
        n = int(pos_new.sum())
        idx = np.flatnonzero(pos_new)
        yield frame("qrels", {"query_id": [qids[j] for j in idx], "doc_id": [poss[j] for j in idx],
                              "relevance": [1] * n, "split": ["train"] * n,
                              "origin": ["triples"] * n})
        nk = pair_keys(qids, negids)
        neg_new = ~labelled.contains(nk) & negs.first_new(nk)
        cq, cd, cr = [], [], []
        for j in np.flatnonzero(neg_new):
            ranks[qids[j]] = ranks.get(qids[j], 0) + 1
            cq.append(qids[j]), cd.append(negids[j]), cr.append(ranks[qids[j]])
        yield frame("candidates", {"query_id": cq, "doc_id": cd, "miner": [MINER] * len(cq),
                                   "rank": cr, "score": [None] * len(cq)})

    for line, text in read_lines(path, progress):
        if not text.strip():
            continue
        parts = text.split("\t")
        if len(parts) != 3:
            raise InputError(path, line, None,
                             f"expected `qid<TAB>positive pid<TAB>negative pid`, got "
                             f"{len(parts)} fields")
        rows.append((line, parts[0].strip(), parts[1].strip(), parts[2].strip()))
        if len(rows) >= chunk_rows:
            yield from flush()
    yield from flush()
