"""The skip report of an import: what lenient ingest left out, kept with the dataset and shown.

Readers fill `report["skipped_empty"]` (docs/queries with no text, the qrels/triples naming them,
sentence-transformers rows and texts) and `report["skipped_unknown"]` (lines naming ids the dataset
lacks), each `{kind: {"count": n, "examples": [first ids or lines]}}`. The importer stores both in
the dataset's `meta["skipped"]`, so `negaudit datasets` and the Datasets page can say, long after
the import, what the dataset is missing.
"""

from __future__ import annotations

from typing import Any

from core.ingest.common import MAX_EXAMPLES

META_KEY = "skipped"
_SECTIONS = {"skipped_empty": "empty", "skipped_unknown": "unknown"}

_EMPTY_WHAT = {
    "docs": "docs with neither title nor text",
    "queries": "queries with no text",
    "qrels": "qrels naming a skipped doc or query",
    "triples": "triples naming a skipped doc or query",
    "rows": "rows with an empty anchor or no non-empty positive",
    "texts": "empty texts dropped from kept rows",
}

Skips = dict[str, dict[str, dict[str, Any]]]
"""`{"empty" | "unknown": {kind: {"count": int, "examples": [str, ...]}}}`."""


def skips_of(report: dict[str, Any]) -> Skips:
    """The part of an ingest report that is stored with the dataset (empty when nothing skipped)."""
    return {short: {k: dict(v) for k, v in report[key].items()}
            for key, short in _SECTIONS.items() if report.get(key)}


def merge_skips(old: Skips, new: Skips) -> Skips:
    """Add a later import's skips (a TREC file merged in) to those stored with the dataset."""
    out: Skips = {sec: {k: {"count": v["count"], "examples": list(v["examples"])}
                        for k, v in kinds.items()} for sec, kinds in old.items()}
    for sec, kinds in new.items():
        for kind, info in kinds.items():
            entry = out.setdefault(sec, {}).setdefault(kind, {"count": 0, "examples": []})
            entry["count"] += info["count"]
            for e in info["examples"]:
                if len(entry["examples"]) < MAX_EXAMPLES and e not in entry["examples"]:
                    entry["examples"].append(e)
    return out


_SINGULAR = {"docs": "doc", "queries": "query", "qrels": "qrel", "triples": "triple", "rows": "row", "texts": "text",
             "lines": "line", "negatives": "negative", "records": "record"}


def counted(n: int, what: str) -> str:
    """``n`` and what it counts, its first plural noun made singular for one ("1 query with no text")."""
    if n == 1:
        words = what.split(" ")
        for i, w in enumerate(words):
            if w in _SINGULAR:
                words[i] = _SINGULAR[w]
                break
        what = " ".join(words)
    return f"{n:,} {what}"


def _examples(examples: list[str]) -> str:
    shown = [e if e.startswith(("line ", "row ")) else repr(e) for e in examples]
    return f" (e.g. {', '.join(shown)})" if shown else ""


def skip_lines(skips: Skips) -> list[str]:
    """One human line per kind of skip, with its count and first ids."""
    lines = []
    for kind, info in skips.get("empty", {}).items():
        what = _EMPTY_WHAT.get(kind, f"empty {kind}")
        verb = "" if kind == "texts" else "skipped "
        lines.append(f"{verb}{counted(info['count'], what)}{_examples(info['examples'])}")
    for kind, info in skips.get("unknown", {}).items():
        n = info["count"]
        lines.append(f"skipped {n:,} {kind} {'line with an id' if n == 1 else 'lines with ids'} unknown to the dataset"
                     f"{_examples(info['examples'])}")
    return lines


_EMPTY_SHORT = {"qrels": "qrels of skipped records", "triples": "triples of skipped records"}


def skip_summary(skips: Skips) -> str:
    """A short cell for a table of datasets: `2 empty docs, 1 qrels of skipped records, ...`."""
    parts = [counted(info["count"], _EMPTY_SHORT.get(kind, "empty " + kind))
             for kind, info in skips.get("empty", {}).items()]
    parts += [f"{info['count']:,} unknown-id {kind}"
              for kind, info in skips.get("unknown", {}).items()]
    return ", ".join(parts) or "-"
