"""Ingest: one streaming reader per format, all yielding canonical `(table, DataFrame)` chunks,
one transactional `ingest_*` call per format for the CLI and the app, and `load_beir` (a BEIR
folder in memory) for benches and experiments."""

from core.ingest.api import (
    ingest_beir,
    ingest_msmarco,
    ingest_st,
    ingest_trec_qrels,
    ingest_trec_run,
    ingest_upload,
)
from core.ingest.beir import read_beir
from core.ingest.common import CHUNK_ROWS, content_id, read_jsonl, read_lines
from core.ingest.embeddings import ingest_embeddings, supplied_model
from core.ingest.frames import BeirData, load_beir
from core.ingest.msmarco import read_msmarco
from core.ingest.st import parse_columns, read_st
from core.ingest.trec import read_qrels_lines, read_trec_run

__all__ = [
    "CHUNK_ROWS",
    "BeirData",
    "content_id",
    "ingest_beir",
    "ingest_embeddings",
    "ingest_msmarco",
    "ingest_st",
    "ingest_trec_qrels",
    "ingest_trec_run",
    "ingest_upload",
    "load_beir",
    "parse_columns",
    "read_beir",
    "read_jsonl",
    "read_lines",
    "read_msmarco",
    "read_qrels_lines",
    "read_st",
    "read_trec_run",
    "supplied_model",
]
