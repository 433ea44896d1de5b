"""sentence-transformers training files (parquet / jsonl / csv): triplet, n-tuple, labeled pair/list.

Columns map by position, as sentence-transformers trains: the first text column is the anchor,
the second the positive, the rest negatives. A column named `label`/`score` (or `labels`/`scores`)
makes it labeled: a labeled pair (anchor, document, number) or a labeled list (anchor, list of
documents, list of numbers); label > 0 means positive. `--columns` overrides the mapping:

    anchor=q,positive=p,negative=n1,n2      a bare name continues the previous role's list
    anchor=q,document=docs,label=labels     labeled pair / labeled list

Texts carry no ids, so ids are content hashes (`q_`/`d_` + sha1[:16]): stable across imports and
de-duplicated. A row with an empty anchor (or with every positive / document empty) is skipped,
an empty negative is dropped from its row; both are counted in `report["skipped_empty"]` ("rows",
"texts", with the first line numbers) and `strict` makes them errors. Positives become qrels
(relevance 1, split "train", origin "dataset"); negatives become candidates with miner "imported",
rank = position among that row's negatives, no score. Reading the file itself is tables.py's job.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.ingest.common import (
    CHUNK_ROWS,
    Chunk,
    Progress,
    SeenIds,
    content_id,
    dedupe_records,
    frame,
    is_blank,
    note_empty,
    pair_keys,
)
from core.ingest.tables import ST_SUFFIXES, iter_st_table, st_format
from core.types import InputError

__all__ = ["ST_SUFFIXES", "ColumnMap", "iter_st_table", "parse_columns", "read_st",
           "resolve_columns", "st_format"]

LABEL_NAMES = ("label", "score", "labels", "scores")
MINER = "imported"
_ROLE_ALIASES = {
    "anchor": "anchor", "query": "anchor",
    "positive": "positive", "positives": "positive", "pos": "positive",
    "negative": "negative", "negatives": "negative", "neg": "negative",
    "document": "document", "documents": "document", "doc": "document", "docs": "document",
    "label": "label", "labels": "label", "score": "label", "scores": "label",
}
_MULTI = ("positive", "negative")


@dataclass
class ColumnMap:
    """Which column plays which role (see the module docstring)."""

    anchor: str
    positive: list[str] = field(default_factory=list)
    negative: list[str] = field(default_factory=list)
    document: str | None = None
    label: str | None = None

    def used(self) -> list[str]:
        cols = [self.anchor, *self.positive, *self.negative]
        return cols + [c for c in (self.document, self.label) if c]


def parse_columns(spec: str) -> dict[str, list[str]]:
    """Parse `anchor=q,positive=p,negative=n1,n2` into roles; bare names extend the last role."""
    roles: dict[str, list[str]] = {}
    last: str | None = None
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        if "=" in part:
            role_name, col = (x.strip() for x in part.split("=", 1))
            role = _ROLE_ALIASES.get(role_name.lower())
            if role is None:
                raise InputError("--columns", None, role_name,
                                 "unknown role; use anchor, positive, negative, document, label")
            roles.setdefault(role, []).append(col)
            last = role
        elif last in _MULTI:
            roles[last].append(part)
        else:
            raise InputError("--columns", None, part,
                             "a bare column name must follow positive=... or negative=...")
    for role in ("anchor", "document", "label"):
        if len(roles.get(role, [])) > 1:
            raise InputError("--columns", None, role, "takes exactly one column")
    if "anchor" not in roles:
        raise InputError("--columns", None, "anchor", "missing: name the anchor (query) column")
    return roles


def resolve_columns(columns: list[str], spec: str | dict | None, path: Path) -> ColumnMap:
    """The role of each column: from `spec` when given, else by position as sentence-transformers."""
    if spec:
        roles = parse_columns(spec) if isinstance(spec, str) else {
            _ROLE_ALIASES.get(k, k): ([v] if isinstance(v, str) else list(v))
            for k, v in spec.items()}
        cmap = ColumnMap(anchor=roles["anchor"][0], positive=roles.get("positive", []),
                         negative=roles.get("negative", []),
                         document=(roles.get("document") or [None])[0],
                         label=(roles.get("label") or [None])[0])
        if cmap.label and not cmap.document:
            if len(cmap.positive) != 1 or cmap.negative:
                raise InputError("--columns", None, "document",
                                 "a label needs one document column (document=...)")
            cmap.document, cmap.positive = cmap.positive[0], []
        if cmap.document and not cmap.label:
            raise InputError("--columns", None, "label", "document=... needs label=...")
        for col in cmap.used():
            if col not in columns:
                raise InputError(path, None, col,
                                 f"no such column; the file has: {', '.join(columns)}")
        if not cmap.document and not cmap.positive:  # anchors alone: queries with nothing to judge them by
            raise InputError("--columns", None, "positive", "missing: name a positive=... column (or "
                                                            "document=... with label=...)")
        if len(set(cmap.used())) < len(cmap.used()):
            raise InputError("--columns", None, None, f"a column plays two roles: {', '.join(cmap.used())}")
        return cmap
    labels = [c for c in columns if c.lower() in LABEL_NAMES]
    texts = [c for c in columns if c.lower() not in LABEL_NAMES]
    if labels:
        if len(texts) != 2:
            raise InputError(path, None, labels[0],
                             f"a labeled dataset needs 2 text columns (anchor, document) besides "
                             f"the label, found {len(texts)}: {', '.join(texts)}; use --columns")
        return ColumnMap(anchor=texts[0], document=texts[1], label=labels[0])
    if len(texts) < 2:
        raise InputError(path, None, None,
                         f"need at least 2 columns (anchor, positive[, negatives...]), found "
                         f"{len(columns)}: {', '.join(columns) or 'none'}")
    cmap = ColumnMap(anchor=texts[0], positive=[texts[1]], negative=texts[2:])
    role = {texts[0]: "anchor", texts[1]: "positive", **{c: "negative" for c in texts[2:]}}
    for col in texts:  # columns named for a role they do not hold by position: a silent misread otherwise
        named = _ROLE_ALIASES.get(col.lower().rstrip("_0123456789"))
        if named in ("anchor", "positive", "negative") and named != role[col]:
            raise InputError(path, None, col,
                             f"this column is named like a {named} but sits where sentence-transformers reads "
                             f"the {role[col]} (columns map by position: {', '.join(texts)}); reorder the columns "
                             f"or name each role with --columns (e.g. --columns anchor=...,positive=...,negative=...)")
    return cmap


# ---- rows → canonical records --------------------------------------------------------------

class _Rows:
    """Turns table rows into queries/docs/qrels/candidates, de-duplicated across chunks."""

    def __init__(self, path: Path, fmt: str, chunk_rows: int, strict: bool = True,
                 report: dict | None = None):
        self.path, self.fmt, self.chunk_rows = path, fmt, chunk_rows
        self.strict, self.report = strict, report if report is not None else {}
        self.seen = {"queries": SeenIds(), "docs": SeenIds()}
        self.pairs = {"qrels": SeenIds(), "candidates": SeenIds()}
        self.dropped_positive = 0

    def _where(self, line: int) -> int | None:
        return None if self.fmt == "parquet" else line

    def _where_text(self, line: int) -> str:
        return f"{'row' if self.fmt == 'parquet' else 'line'} {line}"

    def skip(self, kind: str, line: int) -> None:
        """Count a skipped row / dropped empty text (lenient mode), naming its line or row."""
        note_empty(self.report, kind, [self._where_text(line)], 1)

    def _err(self, line: int, col: str, message: str) -> InputError:
        if self.fmt == "parquet":
            message = f"row {line}: {message}"
        return InputError(self.path, self._where(line), col, message)

    def text(self, value: Any, line: int, col: str) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise self._err(line, col, "missing text")
        if not isinstance(value, str):
            raise self._err(line, col, f"expected text, got {type(value).__name__}")
        if not value.strip():
            raise self._err(line, col, "empty text")
        return value

    def label(self, value: Any, line: int, col: str) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise self._err(line, col, f"expected a number, got {value!r}") from None
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self._err(line, col, f"expected a finite number, got {value!r}")
        if value != int(value):  # a similarity score (0.9, 0.1): label > 0 would make every pair a positive
            raise self._err(line, col, f"a fractional score {value!r}: labels are relevance grades (1 relevant, "
                                       f"0 not; graded integers are fine), read as relevant when > 0; threshold "
                                       f"the scores first")
        return float(value)

    def texts(self, value: Any, line: int, col: str) -> list[str | None]:
        """A cell that is a text or a list of texts (n-tuple negatives stored as a list).

        Lenient mode gives None for an empty text (the caller drops it); strict raises.
        """
        if isinstance(value, (list, tuple)):
            return [self.maybe_text(v, line, col) for v in value]
        if self.fmt in ("csv", "tsv") and isinstance(value, str) and value.startswith("["):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                parsed = None
            if isinstance(parsed, list):
                return [self.maybe_text(v, line, col) for v in parsed]
        return [self.maybe_text(value, line, col)]

    def maybe_text(self, value: Any, line: int, col: str) -> str | None:
        """`text`, except that lenient mode returns None for an empty or missing text."""
        if not self.strict and is_blank(value):
            return None
        return self.text(value, line, col)

    def _present(self, texts: list[str | None], line: int) -> list[str]:
        kept = [t for t in texts if t is not None]
        if len(kept) < len(texts):
            note_empty(self.report, "texts", [self._where_text(line)], len(texts) - len(kept))
        return kept

    def labels(self, value: Any, line: int, col: str) -> list[float]:
        if isinstance(value, str) and value.startswith("["):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise self._err(line, col, f"expected a list of numbers, got {value!r}") from None
        if isinstance(value, (list, tuple)):
            return [self.label(v, line, col) for v in value]
        return [self.label(value, line, col)]

    def convert(self, cmap: ColumnMap, data: dict[str, list], lines: list[int]
                ) -> Iterator[Chunk]:
        # Plain column lists (not `Batch`): this loop is the hot path of big st imports.
        q_id, q_text, q_line = [], [], []
        d_id, d_text, d_line = [], [], []
        r_q, r_d = [], []
        c_q, c_d, c_rank = [], [], []
        for i, line in enumerate(lines):
            anchor = self.maybe_text(data[cmap.anchor][i], line, cmap.anchor)
            if anchor is None:
                self.skip("rows", line)
                continue
            pos_raw: list[str | None] = []
            neg_raw: list[str | None] = []
            for col in cmap.positive:
                pos_raw += self.texts(data[col][i], line, col)
            for col in cmap.negative:
                neg_raw += self.texts(data[col][i], line, col)
            if cmap.document:
                docs = self.texts(data[cmap.document][i], line, cmap.document)
                labels = self.labels(data[cmap.label][i], line, cmap.label)
                if len(labels) != len(docs):
                    raise self._err(line, cmap.label,
                                    f"{len(labels)} labels for {len(docs)} documents")
                if docs and all(t is None for t in docs):
                    self.skip("rows", line)
                    continue
                for text, lab in zip(docs, labels):
                    (pos_raw if lab > 0 else neg_raw).append(text)
            elif pos_raw and all(t is None for t in pos_raw):
                self.skip("rows", line)
                continue
            positives = self._present(pos_raw, line)
            negatives = self._present(neg_raw, line)
            qid = content_id("q_", anchor)
            q_id.append(qid), q_text.append(anchor), q_line.append(line)
            pos_ids = set()
            for text in positives:
                did = content_id("d_", text)
                pos_ids.add(did)
                d_id.append(did), d_text.append(text), d_line.append(line)
                r_q.append(qid), r_d.append(did)
            rank = 0
            for text in negatives:
                did = content_id("d_", text)
                d_id.append(did), d_text.append(text), d_line.append(line)
                if did in pos_ids:
                    self.dropped_positive += 1
                    continue
                rank += 1
                c_q.append(qid), c_d.append(did), c_rank.append(rank)
        keep = dedupe_records(self.seen["queries"], q_id, None, q_line, self.path, "text")
        yield _sub(frame("queries", {"query_id": q_id, "text": q_text}), keep)
        keep = dedupe_records(self.seen["docs"], d_id, None, d_line, self.path, "text")
        yield _sub(frame("docs", {"doc_id": d_id, "title": [""] * len(d_id), "text": d_text}),
                   keep)
        if r_q:
            keep = self.pairs["qrels"].first_new(pair_keys(r_q, r_d))
            n = len(r_q)
            yield _sub(frame("qrels", {"query_id": r_q, "doc_id": r_d, "relevance": [1] * n,
                                       "split": ["train"] * n, "origin": ["dataset"] * n}), keep)
        if c_q:
            keys = pair_keys(c_q, c_d)
            keep = self.pairs["candidates"].first_new(keys)
            labelled = self.pairs["qrels"].contains(keys)
            self.dropped_positive += int((keep & labelled).sum())
            keep &= ~labelled
            n = len(c_q)
            yield _sub(frame("candidates", {"query_id": c_q, "doc_id": c_d,
                                            "miner": [MINER] * n, "rank": c_rank,
                                            "score": [None] * n}), keep)


def _sub(chunk: Chunk, keep: Any) -> Chunk:
    table, df = chunk
    return table, df if keep.all() else df[keep]


def read_st(
    path: str | Path,
    columns: str | dict | None = None,
    *,
    strict: bool = False,
    report: dict | None = None,
    progress: Progress | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Chunk]:
    """Stream a sentence-transformers training file as canonical chunks (see module docstring).

    A negative that is also a positive of the same anchor (in its row or an earlier row) is
    dropped, not imported as a candidate; `report["dropped_positive_negatives"]` counts them.
    """
    path = Path(path)
    report = report if report is not None else {}
    rows = _Rows(path, st_format(path), chunk_rows, strict=strict, report=report)
    cmap: ColumnMap | None = None
    for cols, data, lines in iter_st_table(path, chunk_rows, progress):
        if cmap is None:
            cmap = resolve_columns(cols, columns, path)
            report["columns"] = {k: v for k, v in cmap.__dict__.items() if v}
        yield from rows.convert(cmap, data, lines)
    if cmap is None:
        raise InputError(path, None, None, "empty file: no rows")
    report["dropped_positive_negatives"] = rows.dropped_positive
