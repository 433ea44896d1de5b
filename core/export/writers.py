"""Writers: policy rows → sentence-transformers tables, HF `datasets` folders, BEIR and TREC qrels.

Texts are written exactly as stored (no formula neutralisation, no stripping): training data is
read by programs, not spreadsheets. Every writer writes to a temporary sibling and renames, so a
failure never leaves a half-written export behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from core.export.atomic import atomic_file, current_umask
from core.types import NegauditError

TABLE_LAYOUTS = ("triplet", "n-tuple", "labeled-pair", "labeled-list")
FILE_SUFFIXES = (".parquet", ".jsonl")


def doc_texts(docs_df: pd.DataFrame) -> dict[str, str]:
    """doc_id → the text a bi-encoder sees (`title + " " + text`, as `core.encoders.doc_text`)."""
    from core.encoders import doc_text

    return {str(d): doc_text(t, x) for d, t, x in
            zip(docs_df["doc_id"], docs_df["title"], docs_df["text"])}


def _groups(rows: pd.DataFrame) -> Iterator[tuple[str, list[str], list[str]]]:
    """(query_id, positive doc ids, negative doc ids) per query, in the rows' order."""
    # One pass over arrays: a pandas groupby with boolean masks per query took minutes at 1M rows.
    pos: dict[str, list[str]] = {}
    neg: dict[str, list[str]] = {}
    for q, d, lab in zip(rows["query_id"].tolist(), rows["doc_id"].tolist(),
                         rows["label"].tolist()):
        if pd.isna(q):  # groupby drops missing keys
            continue
        q = str(q)
        p, n = pos.setdefault(q, []), neg.setdefault(q, [])
        if lab == 1:
            p.append(str(d))
        elif lab == 0:
            n.append(str(d))
    for q, p in pos.items():
        yield q, p, neg[q]


def shape_rows(rows: pd.DataFrame, layout: str, query_text: dict[str, str],
               doc_text: dict[str, str], n: int | None = None
               ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Lay the policy's rows out as one of sentence-transformers' training formats.

    - triplet: one row per (query, positive, negative): anchor, positive, negative.
    - n-tuple: one row per (query, positive): anchor, positive, negative_1..negative_n; `n` is
      the requested count (default: the smallest number any query has); queries with fewer
      negatives are skipped and counted.
    - labeled-pair: anchor, positive (the doc), label (1/0): each positive and each negative once.
    - labeled-list: one row per query: anchor, positive (list of docs: positives then negatives),
      labels (list of 1/0).

    Returns the table and what was skipped (queries without a positive / with too few negatives, and for
    n-tuple the negatives past the n-th of each query).
    """
    if layout not in TABLE_LAYOUTS:
        raise NegauditError(f"unknown layout {layout!r}; expected one of {TABLE_LAYOUTS}")
    groups = list(_groups(rows))
    skipped = {"queries_without_positive": 0, "queries_without_negative": 0,
               "queries_with_too_few_negatives": 0, "negatives_past_the_n_columns": 0}
    missing = sorted({d for _, p, ng in groups for d in (*p, *ng) if d not in doc_text}
                     | {q for q, _, _ in groups if q not in query_text})
    if missing:
        raise NegauditError(f"{len(missing)} ids in the export have no text in the store "
                            f"(e.g. {missing[:3]}); re-import the dataset")
    out: list[dict] = []
    before, last = 0, None
    written: set[str | None] = set()  # queries with at least one row (the CLI says "for W of N queries")
    if layout == "n-tuple" and n is None:
        sizes = [len(ng) for _, p, ng in groups if p and ng]
        n = min(sizes) if sizes else 1
    for qid, positives, negatives in groups:
        if len(out) > before:
            written.add(last)
        before, last = len(out), qid
        if not positives:
            skipped["queries_without_positive"] += 1
            if layout != "labeled-pair":
                continue
        if not negatives and layout in ("triplet", "n-tuple"):
            skipped["queries_without_negative"] += 1
            continue
        anchor = query_text[qid]
        if layout == "triplet":
            out.extend({"anchor": anchor, "positive": doc_text[p], "negative": doc_text[d]}
                       for p in positives for d in negatives)
        elif layout == "n-tuple":
            if len(negatives) < n:
                skipped["queries_with_too_few_negatives"] += 1
                continue
            skipped["negatives_past_the_n_columns"] += len(negatives) - n  # n columns: a query's later negatives go
            negs = {f"negative_{i + 1}": doc_text[d] for i, d in enumerate(negatives[:n])}
            out.extend({"anchor": anchor, "positive": doc_text[p], **negs} for p in positives)
        elif layout == "labeled-pair":
            out.extend({"anchor": anchor, "positive": doc_text[p], "label": 1} for p in positives)
            out.extend({"anchor": anchor, "positive": doc_text[d], "label": 0} for d in negatives)
        else:
            out.append({"anchor": anchor,
                        "positive": [doc_text[d] for d in (*positives, *negatives)],
                        "labels": [1] * len(positives) + [0] * len(negatives)})
    columns = {
        "triplet": ["anchor", "positive", "negative"],
        "n-tuple": ["anchor", "positive", *[f"negative_{i + 1}" for i in range(n or 0)]],
        "labeled-pair": ["anchor", "positive", "label"],
        "labeled-list": ["anchor", "positive", "labels"],
    }[layout]
    if len(out) > before:
        written.add(last)
    table = pd.DataFrame(out, columns=columns)
    if layout == "labeled-pair":
        table["label"] = table["label"].astype("int64")
    table.attrs["queries"] = len(written)
    return table, {k: v for k, v in skipped.items() if v}


# ---- atomic file/folder writes -----------------------------------------------------------------
def _is_export_folder(path: Path) -> bool:
    """Does `path` hold the manifest an earlier negaudit export wrote (what --overwrite may replace)?"""
    from core.export.manifest import MANIFEST_NAME

    try:
        return "negaudit_manifest" in json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def check_folder_target(path: Path, overwrite: bool = False) -> None:
    """Refuse a folder export's `--out` whose replacement would lose what no export wrote.

    --overwrite replaces the whole folder, so it may only replace an earlier export's (one that holds its
    manifest), and never the current folder or one above it (`--out .` once emptied the folder it ran in).
    A name ending in .parquet / .jsonl is refused: a folder of that name is not what its writer meant.
    """
    if path.suffix.lower() in FILE_SUFFIXES:
        raise NegauditError(f"--out {path} names a {path.suffix} file, but this format writes a folder: "
                            f"give a folder path (the table formats write one {path.suffix} file)")
    if not path.exists():
        return
    if not path.is_dir():
        raise NegauditError(f"{path} is a file; this format writes a folder")
    if not any(path.iterdir()):
        return
    if not overwrite:
        raise NegauditError(f"{path} exists and is not empty; pass --overwrite or pick another --out")
    full, here = path.resolve(), Path.cwd().resolve()
    if full == here or full in here.parents:
        raise NegauditError(f"--out {path} is the current folder or holds it: --overwrite would delete it "
                            f"with everything in it; pick a new folder")
    if not _is_export_folder(full):
        raise NegauditError(f"--out {path} holds files no negaudit export wrote (no export manifest.json in "
                            f"it); --overwrite replaces only an earlier export's folder: pick a new or empty "
                            f"folder")


@contextmanager
def atomic_folder(path: Path, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temp folder beside `path`; it replaces `path` only if the block succeeds."""
    check_folder_target(path, overwrite)
    path = path.resolve()  # `.`'s parent is `.` itself: the temp folder must sit beside, not inside
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp's 0700 would hide the export from the files' readers
        if path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _is_export_file(path: Path) -> bool:
    """Does `path` have the `<file>.manifest.json` an earlier negaudit export wrote beside it?"""
    from core.export.manifest import manifest_path

    try:
        return "negaudit_manifest" in json.loads(manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, TypeError):
        return False


def check_existing_file(path: Path, overwrite: bool = False) -> None:
    """--overwrite replaces only an earlier export's file, as for folders: the admin audit replaced a
    dataset's own corpus.jsonl with a judgment log, and notes.txt with qrels."""
    if not path.exists():
        return
    if not overwrite:
        raise NegauditError(f"{path} exists; pass --overwrite or pick another --out")
    if path.is_dir():
        raise NegauditError(f"{path} is a folder; this format writes one file")
    if not _is_export_file(path):
        raise NegauditError(f"--out {path} is a file no negaudit export wrote (no {path.name}.manifest.json "
                            f"beside it); --overwrite replaces only an earlier export's file: pick another --out")


def check_file_target(path: Path, overwrite: bool = False) -> None:
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise NegauditError(f"--out {path} must end in .parquet or .jsonl for this format "
                            f"(the suffix picks the file type)")
    check_existing_file(path, overwrite)


def write_table(table: pd.DataFrame, path: Path) -> None:
    """Parquet or JSON lines by suffix; UTF-8, texts verbatim."""
    suffix = path.suffix.lower()
    with atomic_file(path) as tmp:
        if suffix == ".parquet":
            table.to_parquet(tmp, index=False)
        elif suffix == ".jsonl":
            when = table.select_dtypes(include=["datetime", "datetimetz"]).columns
            # timestamps as ISO 8601 text (json has no date type); a missing value as null, not NaN
            rows = table.assign(**{c: table[c].map(lambda t: None if pd.isna(t) else t.isoformat()) for c in when})
            gaps = [c for c in rows.columns if rows[c].dtype.kind in "fO" and rows[c].isna().any()]
            if gaps:
                rows = rows.assign(**{c: rows[c].astype(object).where(rows[c].notna(), None) for c in gaps})
            with open(tmp, "w", encoding="utf-8", newline="\n") as f:
                f.writelines(json.dumps(rec, ensure_ascii=False) + "\n" for rec in rows.to_dict("records"))
        else:
            raise NegauditError(f"unsupported suffix {suffix!r}; use .parquet or .jsonl")


def write_hf(table: pd.DataFrame, folder: Path) -> None:
    """A Hugging Face `datasets` folder (`Dataset.save_to_disk`); `load_from_disk` reads it."""
    try:
        from datasets import Dataset
    except ImportError:  # pragma: no cover - datasets is a dev extra
        raise NegauditError("the hf format needs the `datasets` package "
                            "(pip install datasets)") from None
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    was_off = are_progress_bars_disabled()
    disable_progress_bars()  # datasets' "Saving the dataset" bars broke the export's own summary
    try:
        Dataset.from_pandas(table, preserve_index=False).save_to_disk(str(folder))
    finally:
        if not was_off:
            enable_progress_bars()


# ---- corrected qrels ----------------------------------------------------------------------------
def relabel_qrels(qrels_df: pd.DataFrame, relabels: pd.DataFrame,
                  relabel_split: str | None = None, fallback_split: str = "audit"
                  ) -> tuple[pd.DataFrame, dict[str, int]]:
    """Merge human relabels into the dataset's qrels.

    `relabels` holds query_id, doc_id, relevance (1 for a false negative, 0 for a judged
    negative, ...). Each goes to `relabel_split`, or by default to the split where its query
    already has a positive qrel (the first such split by name; else any qrel's split; else
    `fallback_split`). A relabel never lowers an existing qrel: a pair the dataset already
    labels with relevance >= the relabel keeps its row; a higher relabel replaces it.
    """
    cols = ["query_id", "doc_id", "relevance", "split"]
    q = qrels_df[cols].astype({"query_id": str, "doc_id": str}).copy()
    q["origin"] = qrels_df["origin"] if "origin" in qrels_df.columns else "dataset"
    r = relabels[["query_id", "doc_id", "relevance"]].astype({"query_id": str, "doc_id": str})
    if r.empty:
        return q.reset_index(drop=True), {"added": 0, "raised": 0, "unchanged": 0}
    if relabel_split:
        r = r.assign(split=relabel_split)
    else:
        pos_split = (q[q["relevance"] > 0].sort_values("split")
                     .drop_duplicates("query_id").set_index("query_id")["split"])
        any_split = q.sort_values("split").drop_duplicates("query_id").set_index(
            "query_id")["split"]
        split = r["query_id"].map(pos_split).fillna(r["query_id"].map(any_split))
        r = r.assign(split=split.fillna(fallback_split))
    r = r.assign(origin="negaudit")
    merged = r.merge(q[["query_id", "doc_id", "split", "relevance"]], how="left",
                     on=["query_id", "doc_id", "split"], suffixes=("", "_old"))
    had = merged["relevance_old"].notna()
    raise_ = had & (merged["relevance"] > merged["relevance_old"])
    add = ~had
    stats = {"added": int(add.sum()), "raised": int(raise_.sum()),
             "unchanged": int((had & ~raise_).sum())}
    take = merged[add | raise_][cols + ["origin"]]
    if raise_.any():
        drop = set(zip(merged.loc[raise_, "query_id"], merged.loc[raise_, "doc_id"],
                       merged.loc[raise_, "split"]))
        keep = [k not in drop for k in zip(q["query_id"], q["doc_id"], q["split"])]
        q = q[keep]
    out = pd.concat([q, take], ignore_index=True)
    return out.reset_index(drop=True), stats


def write_beir(folder: Path, queries_df: pd.DataFrame, docs_df: pd.DataFrame,
               qrels_df: pd.DataFrame) -> None:
    """corpus.jsonl, queries.jsonl and qrels/<split>.tsv (header `query-id corpus-id score`)."""
    with open(folder / "corpus.jsonl", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(json.dumps({"_id": str(d), "title": t or "", "text": x or ""},
                               ensure_ascii=False) + "\n" for d, t, x in zip(docs_df["doc_id"], docs_df["title"], docs_df["text"]))
    with open(folder / "queries.jsonl", "w", encoding="utf-8", newline="\n") as f:
        f.writelines(json.dumps({"_id": str(q), "text": x}, ensure_ascii=False) + "\n" for q, x in zip(queries_df["query_id"], queries_df["text"]))
    (folder / "qrels").mkdir()
    for split, g in qrels_df.groupby("split", sort=True):
        _check_split_name(str(split))
        with open(folder / "qrels" / f"{split}.tsv", "w", encoding="utf-8", newline="\n") as f:
            f.write("query-id\tcorpus-id\tscore\n")
            f.writelines(f"{_tsv_id(q)}\t{_tsv_id(d)}\t{int(rel)}\n" for q, d, rel in zip(g["query_id"], g["doc_id"], g["relevance"]))


def write_trec_qrels(path: Path, qrels_df: pd.DataFrame) -> None:
    """`qid 0 docid relevance`; a pair in several splits keeps its highest relevance."""
    q = (qrels_df.sort_values("relevance", ascending=False)
         .drop_duplicates(["query_id", "doc_id"]).sort_values(["query_id", "doc_id"]))
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for qid, did, rel in zip(q["query_id"], q["doc_id"], q["relevance"]):
            if any(c.isspace() for c in f"{qid}{did}"):
                raise NegauditError(f"id with whitespace cannot be written as TREC qrels: "
                                    f"{qid!r} / {did!r}")
            f.write(f"{qid} 0 {did} {int(rel)}\n")


def _tsv_id(value: object) -> str:
    s = str(value)
    if "\t" in s or "\n" in s:
        raise NegauditError(f"id {s!r} holds a tab or newline; it cannot go into a BEIR .tsv")
    return s


def _check_split_name(split: str) -> None:
    if not split or "/" in split or "\\" in split or split.startswith("."):
        raise NegauditError(f"split name {split!r} cannot be a file name")

