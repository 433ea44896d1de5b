"""`export_dataset`: one call for the CLI and the app's Export page (store in, files + manifest out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from core.export import writers as W
from core.export.manifest import (
    MANIFEST_VERSION,
    file_entries,
    manifest_path,
    utc_timestamp,
    write_manifest,
)
from core.export.policy import ExportPolicy, apply_policy, summarize_counts
from core.labels import consensus_from_labels
from core.review.learning import last_refit
from core.types import Label, NegauditError, Role

FORMATS = ("triplet", "n-tuple", "labeled-pair", "labeled-list", "hf", "beir", "trec-qrels", "judgments")
# Formats written as one .parquet / .jsonl file (the suffix picks the type).
FILE_FORMATS = (*W.TABLE_LAYOUTS, "judgments")
CONSENSUS_RULE = ("majority of the annotators' current labels; an admin's adjudication is final; "
                  "a tie without adjudication is a disagreement (treated as unreviewed but "
                  "flagged)")


def load_consensus(store: Any, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(current labels, consensus) — the consensus of `core.labels`."""
    cur = store.current_labels(name)
    return cur, consensus_from_labels(cur)


def policy_inputs(store: Any, name: str) -> dict[str, pd.DataFrame]:
    """The frames `apply_policy` needs, read once from the store."""
    if not store.has_dataset(name):
        raise NegauditError(f"no dataset named {name!r}; see `negaudit datasets`")
    cur, cons = load_consensus(store, name)
    return {"candidates": store.candidates(name), "risk": store.risk(name),
            "consensus": cons, "current": cur, "qrels": store.qrels(name)}


def preview(store: Any, name: str, policy: ExportPolicy) -> dict[str, Any]:
    """Counts by branch and totals for a policy, writing nothing (the Export page's preview)."""
    f = policy_inputs(store, name)
    rows, counts = apply_policy(f["candidates"], f["risk"], f["consensus"], f["qrels"], policy)
    return {"by_branch": counts, "totals": summarize_counts(counts),
            "queries": int(rows["query_id"].nunique())}


def relabels_from_consensus(consensus: pd.DataFrame, policy: ExportPolicy) -> pd.DataFrame:
    """Qrels rows the judgments add: false negative → 1 (always: it is a correction), judged
    negative → 0, partial → 1 / 0 / nothing by `policy.partial`; unsure and ties add nothing."""
    if consensus.empty:
        return pd.DataFrame(columns=["query_id", "doc_id", "relevance"])
    rel = {Label.FALSE_NEGATIVE.value: 1, Label.NEGATIVE.value: 0}
    if policy.partial == "positive":
        rel[Label.PARTIAL.value] = 1
    elif policy.partial == "negative":
        rel[Label.PARTIAL.value] = 0
    c = consensus[consensus["label"].isin(list(rel))]
    return pd.DataFrame({"query_id": c["query_id"].astype(str), "doc_id": c["doc_id"].astype(str),
                         "relevance": c["label"].map(rel).astype("int64")})


def _judgment_summary(cur: pd.DataFrame, cons: pd.DataFrame, store: Any, name: str
                      ) -> dict[str, Any]:
    j = store.judgments(name)
    return {
        "rows": len(j),
        "max_id": int(j["id"].max()) if len(j) else None,
        "current_labels": len(cur),
        "items": len(cons),
        "by_status": {str(k): int(v) for k, v in cons["status"].value_counts().items()}
        if len(cons) else {},
        "by_label": {str(k): int(v) for k, v in cons["label"].value_counts().items()}
        if len(cons) else {},
        "consensus_rule": CONSENSUS_RULE,
    }


def _log_summary(log: pd.DataFrame) -> dict[str, Any]:
    """What a judgments export holds: rows by action and by annotator, and the time it spans."""
    if log.empty:
        return {"by_action": {}, "by_annotator": {}, "first": None, "last": None}
    when = pd.to_datetime(log["created_at"], utc=True)
    return {"by_action": {str(k): int(v) for k, v in log["action"].value_counts().sort_index().items()},
            "by_annotator": {str(k): int(v) for k, v in log["annotator"].value_counts().sort_index().items()},
            "first": when.min().isoformat(), "last": when.max().isoformat()}


def _texts(store: Any, name: str, rows: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    queries = store.queries(name)
    ids = sorted(set(rows["doc_id"].astype(str)))
    docs = store.docs(name, doc_ids=ids) if len(ids) <= 20_000 else store.docs(name)
    return dict(zip(queries["query_id"].astype(str), queries["text"])), W.doc_texts(docs)


def export_dataset(store: Any, name: str, fmt: str, out: str | Path,
                   policy: ExportPolicy | None = None, actor: Any = None,
                   layout: str = "triplet", overwrite: bool = False) -> dict[str, Any]:
    """Write dataset `name` as `fmt` to `out` with a manifest beside it; returns the manifest.

    `actor` is the app's signed-in `core.auth.User`: exporting needs the admin role. The CLI
    passes None and acts with the rights of whoever holds the database file.
    `layout` picks the table shape of the `hf` format (the other table formats name their own).
    """
    if actor is not None:
        from core.auth import require_role

        require_role(actor, Role.ADMIN)
    if fmt not in FORMATS:
        raise NegauditError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    policy = policy or ExportPolicy()
    out = Path(out).expanduser()  # the app's path field: "~/x" went to a folder named "~" in the cwd
    f = policy_inputs(store, name)
    held = sorted(set(f["qrels"]["split"].astype(str)))
    if policy.split and policy.split not in held:  # it would export nothing, and say "wrote 0 rows"
        raise NegauditError(f"dataset {name!r} has no qrels split {policy.split!r}; its splits: "
                            f"{', '.join(held) or 'none'}")
    info = store.dataset_info(name)
    written: dict[str, Any] = {}
    if fmt == "judgments":  # the append-only log itself: every row, undos and adjudications included
        log = store.judgments(name)
        # the texts beside the ids: a sentence-transformers import's ids are content hashes (q_..., d_...)
        qtext, dtext = _texts(store, name, log)
        log = log.assign(query_text=log["query_id"].astype(str).map(qtext),
                         doc_text=log["doc_id"].astype(str).map(dtext))
        W.check_file_target(out, overwrite)
        W.write_table(log, out)
        written.update(layout="judgments", rows=len(log), columns=list(log.columns), **_log_summary(log))
        rows, counts = log[["query_id", "doc_id"]], None  # no policy: the log is written as it is
    else:
        rows, counts = apply_policy(f["candidates"], f["risk"], f["consensus"], f["qrels"], policy)
    if fmt in W.TABLE_LAYOUTS or fmt == "hf":
        if f["candidates"].empty:  # training rows need negatives; it would "wrote 0 rows" and exit 0
            raise NegauditError(f"dataset {name!r} has no candidates to export as training rows: run "
                                f"`negaudit mine --name {name}` first (beir and trec-qrels export its qrels as they are)")
        shape = fmt if fmt != "hf" else layout
        qtext, dtext = _texts(store, name, rows)
        table, skipped = W.shape_rows(rows, shape, qtext, dtext, n=policy.num_negatives)
        written.update(layout=shape, rows=len(table), queries=table.attrs.get("queries"),
                       columns=list(table.columns), skipped=skipped)
        if fmt == "hf":
            with W.atomic_folder(out, overwrite) as tmp:
                W.write_hf(table, tmp)
        else:
            W.check_file_target(out, overwrite)
            W.write_table(table, out)
    elif fmt in ("beir", "trec-qrels"):
        relabels = relabels_from_consensus(f["consensus"], policy)
        qrels, stats = W.relabel_qrels(f["qrels"], relabels, policy.relabel_split)
        written.update(qrels=len(qrels), relabels=stats,
                       qrels_by_split={str(k): int(v) for k, v in
                                       qrels["split"].value_counts().sort_index().items()})
        if fmt == "beir":
            with W.atomic_folder(out, overwrite) as tmp:
                W.write_beir(tmp, store.queries(name), store.docs(name), qrels)
        else:
            W.check_existing_file(out, overwrite)
            if policy.split:
                qrels = qrels[qrels["split"] == policy.split]
            W.write_trec_qrels(out, qrels)

    files = sorted(p for p in out.rglob("*") if p.is_file()) if out.is_dir() else [out]
    files = [p for p in files if p.name != "manifest.json"]
    root = out if out.is_dir() else out.parent
    scorer = sorted(set(f["risk"]["scorer_version"].dropna().astype(str))) if len(f["risk"]) else []
    annotators = sorted(set(f["current"]["annotator"])) if len(f["current"]) else []
    manifest = {
        "negaudit_manifest": MANIFEST_VERSION,
        "created_at": utc_timestamp(),
        "format": fmt,
        "source": {"dataset": name, "source": info.get("source"), "format": info.get("format"),
                   "imported_at": info.get("created_at"), "meta": info.get("meta")},
        "exported_by": getattr(actor, "name", None) or "cli",
        "policy": policy.to_dict() if counts is not None else None,
        "counts": {"by_branch": counts, "totals": summarize_counts(counts),
                   "queries": int(rows["query_id"].nunique())} if counts is not None
        else {"queries": int(rows["query_id"].nunique())},
        "written": written,
        "annotators": annotators,
        "judgments": _judgment_summary(f["current"], f["consensus"], store, name),
        "scorer_versions": scorer,
        "risk_refit": last_refit(store, name),  # None: the scorer's own fn_risk filtered the candidates
        "files": file_entries(files, root),
    }
    write_manifest(manifest_path(out), manifest)
    return manifest
