"""Candidate mining that keeps every candidate; ``mine_hard_negatives``' knobs apply at export.

* ``registry.py``   — miners registered by name (``check_miners`` is the one place names are validated);
* ``candidates.py`` — the candidate frame's columns and conventions, the shared top-k primitive;
* ``dense.py``      — cosine kNN (numpy or faiss), miner ``dense``;
* ``knn.py``        — bounded-memory faiss kNN methods (``exact`` in chunks, ``ivf``, ``auto``), the dense
  miner's backend for supplied embeddings;
* ``bm25.py``       — bm25s with the pinned Snowball stemmer, miner ``bm25``;
* ``filters.py``    — ``MiningConfig`` + ``mark_filters``: why ``mine_hard_negatives`` would drop a row (the
  reference the export's knobs are tested against);
* ``feedback.py``   — lexical RM3 from the kept positives (the query expanded with their terms);
* ``lsa.py``        — latent semantic analysis of the BM25 index (which words the corpus uses together);
* ``records.py``    — ``mine_candidates`` from record lists.

Importing the package registers the miners (``dense`` first, then ``bm25``: the order rows are written).
"""

from core.mining.bm25 import (
    TOKENIZER_ID,
    Bm25Index,
    bm25_rows,
    bm25_stemmer,
    bm25_tokenize,
    bm25_topk,
    ensure_index,
    mine_bm25,
    term_coverage,
    topic_queries,
)
from core.mining.candidates import CANDIDATE_COLUMNS, EXTRA_COLUMNS, positives_by_query
from core.mining.dense import dense_topk, faiss_index, mine_dense
from core.mining.filters import MiningConfig, drop_summary, mark_filters
from core.mining.records import mine_candidates
from core.mining.registry import (
    MINERS,
    MineInputs,
    check_miners,
    mine_with,
    miner_names,
    needs_embeddings,
    register,
)

__all__ = [
    "CANDIDATE_COLUMNS",
    "EXTRA_COLUMNS",
    "MINERS",
    "TOKENIZER_ID",
    "Bm25Index",
    "MineInputs",
    "MiningConfig",
    "bm25_rows",
    "bm25_stemmer",
    "bm25_tokenize",
    "bm25_topk",
    "check_miners",
    "dense_topk",
    "drop_summary",
    "ensure_index",
    "faiss_index",
    "mark_filters",
    "mine_bm25",
    "mine_candidates",
    "mine_dense",
    "mine_with",
    "miner_names",
    "needs_embeddings",
    "positives_by_query",
    "register",
    "term_coverage",
    "topic_queries",
]
