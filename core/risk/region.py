"""Local positive-unlabelled data: each query's dense top-``depth`` docs, its labelled positives where they fall.

Mined candidates live at the top of a query's ranking, where a model fitted on labelled positives vs the
*whole* corpus hardly discriminates (it learns "on topic or not"). Restricting *both* sides to the same
label-independent region (dense rank <= depth, decided by the embeddings alone) keeps the selected-completely-
at-random assumption of Elkan & Noto inside it: a labelled positive that ranks in the region is a random
draw of the region's relevant docs, just like a hidden false negative among the candidates. (Contrasting
positives from anywhere with the mined candidates instead learns the miner's selection: DESIGN.md.)
"""

from __future__ import annotations

import numpy as np

from core.mining.candidates import top_sets
from core.risk.inputs import RiskInputs


def region_pairs(inputs: RiskInputs, depth: int, max_queries: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query rows, doc rows, labelled) of every labelled query's dense top-``depth`` docs.

    Only queries with a labelled positive take part (the others hold no positive to learn from); at most
    ``max_queries`` of them, drawn with ``inputs.seed``.
    """
    pos_rows = inputs.positive_rows()
    qs = np.flatnonzero([len(p) > 0 for p in pos_rows])
    if len(qs) > max_queries:
        qs = np.sort(np.random.default_rng(inputs.seed).choice(qs, max_queries, replace=False))
    n_docs = len(inputs.doc_ids)
    depth = min(depth, n_docs)
    q_out, d_out, y_out = [], [], []
    for s in range(0, len(qs), inputs.query_block):
        block = qs[s : s + inputs.query_block]
        sims = inputs.query_emb[block] @ inputs.doc_emb.T
        top = top_sets(sims, depth)  # every doc where the corpus is no deeper than depth
        for qi, docs in zip(block.tolist(), top):
            docs = np.sort(docs)
            q_out.append(np.full(len(docs), qi, np.int64))
            d_out.append(docs.astype(np.int64))
            y_out.append(np.isin(docs, pos_rows[qi]).astype(np.int64))
    cat = lambda xs, t: np.concatenate(xs).astype(t) if xs else np.zeros(0, t)
    return cat(q_out, np.int64), cat(d_out, np.int64), cat(y_out, np.int64)
