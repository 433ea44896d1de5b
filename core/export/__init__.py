"""Export: audited judgments flow back into clean training data and corrected qrels.

Policies (`policy.py`) decide each candidate's fate; writers (`writers.py`) lay the result out
as sentence-transformers tables, a HF `datasets` folder, a BEIR folder or TREC qrels; the
manifest (`manifest.py`) records provenance; `export_dataset` (`api.py`) ties them together.
"""

from core.export.api import FILE_FORMATS, FORMATS, export_dataset, preview, relabels_from_consensus
from core.export.manifest import manifest_path, verify_manifest
from core.export.policy import (
    CANDIDATE_BRANCHES,
    ExportPolicy,
    apply_policy,
    parse_threshold,
    summarize_counts,
    unscored_note,
)
from core.export.writers import TABLE_LAYOUTS, relabel_qrels, shape_rows

__all__ = [
    "CANDIDATE_BRANCHES",
    "FILE_FORMATS",
    "FORMATS",
    "TABLE_LAYOUTS",
    "ExportPolicy",
    "apply_policy",
    "export_dataset",
    "manifest_path",
    "parse_threshold",
    "preview",
    "relabel_qrels",
    "relabels_from_consensus",
    "shape_rows",
    "summarize_counts",
    "unscored_note",
    "verify_manifest",
]
