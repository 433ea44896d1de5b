"""Late interaction (ColBERT's MaxSim) with the packaged MiniLM's *contextual* token vectors.

For each query token, the best cosine to any token of the doc (the model's 256-piece window; [CLS] and
[SEP] left out), averaged over the query's tokens weighted by their idf in the corpus
(``log(N / (1 + df)) + 1`` over word pieces): a rare query word met in the doc counts more than "the".
A pooled cosine blurs a doc into one point; MaxSim asks whether every part of the query is met somewhere
in it. Issue 18, NFCorpus keep 1: alone AP 0.49 (the
pooled dense score 0.27); inside fn_risk's PU combiner +0.013 to +0.030 AP on five runs
with a plain mean, +0.026 to +0.038 on three with the idf weights (SciFact train +0.003 / +0.002 more);
fused into the chosen view as well (core/risk/select.py, session 5), +0.046 to +0.058 over the default
scorer on NFCorpus seeds 0-2 and +0.038 / +0.045 on SciFact train; since session 6 the default scorer has a
query-level coverage term and its query mean joins it: +0.029 to +0.035 on NFCorpus s0-s4 (AP 0.558-0.568,
P@100 0.87-0.90), +0.025 / +0.046 on SciFact train (docs/benchmarks.md).

Cost: one more forward pass over every doc it touches (the PU sample makes that the whole corpus on
small collections) — about what embedding the corpus costs again. Hence opt-in (``--late-interaction``),
not a default: the cold audit's bound against ``mine_hard_negatives`` would not hold. Since ``pu-view-5``
the default fills the same slot with the static word-piece MaxSim (core/encoders/static_late.py), which
gets most of this gain (NFCorpus 0.551-0.562) at no model pass.

Memory: per touched doc one row of MaxSim against *every query token* (float16), not its token matrix:
``n_docs x n_query_tokens x 2`` bytes (NFCorpus 3,395 x 3,600: 24 MB).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# (query rows, doc rows) -> MaxSim of each pair: what `RiskInputs.late` expects
LatePairs = Callable[[np.ndarray, np.ndarray], np.ndarray]
BATCH = 32


def _token_vectors(model: Any, texts: Sequence[str], bf16: bool) -> list[Any]:
    """L2-normalised contextual token vectors per text, special tokens dropped (fp32 torch tensors)."""
    import contextlib

    import torch

    ctx = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with torch.inference_mode(), ctx:
        out = model.encode(list(texts), output_value="token_embeddings", batch_size=BATCH,
                           convert_to_numpy=False, show_progress_bar=False)
    vecs = []
    for t in out:
        t = t.float()
        t = t[1:-1]  # an empty text is [CLS] [SEP] only: no tokens, so it scores 0 (as the static MaxSim)
        vecs.append(torch.nn.functional.normalize(t, dim=-1))
    return vecs


def _piece_ids(model: Any, texts: Sequence[str]) -> list[np.ndarray]:
    """Word-piece ids of each text as the model sees it (its window), special tokens dropped."""
    tok, n = model.tokenizer, model.max_seq_length
    out: list[np.ndarray] = []
    for s in range(0, len(texts), 4096):
        enc = tok(list(texts[s : s + 4096]), truncation=True, max_length=n)["input_ids"]
        out += [np.asarray(ids[1:-1], np.int64) for ids in enc]
    return out


def piece_idf(model: Any, doc_texts: Sequence[str]) -> np.ndarray:
    """``log(N / (1 + df)) + 1`` per vocabulary word piece, df over the docs' model windows."""
    df = np.zeros(len(model.tokenizer), np.float64)
    for ids in _piece_ids(model, doc_texts):
        df[np.unique(ids)] += 1
    return np.log(max(len(doc_texts), 1) / (1.0 + df)) + 1.0


def late_interaction_pairs(query_texts: Sequence[str], doc_texts: Sequence[str],
                           model: Any = None, bf16: bool | None = None) -> LatePairs:
    """MaxSim of each (query row, doc row) pair; docs are run through the model once, on first use.

    ``model``: a loaded SentenceTransformer (default: the packaged MiniLM on torch). ``bf16``: run under
    CPU bf16 autocast (default: where the CPU has native bf16, as the default encoder does).
    """
    import torch

    from core.encoders.ids import native_bf16
    from core.encoders.torch import load_bi_encoder

    model = model if model is not None else load_bi_encoder()
    bf16 = native_bf16() if bf16 is None else bf16
    qvec = _token_vectors(model, query_texts, bf16)
    lengths = np.array([len(t) for t in qvec], np.int64)
    idf = piece_idf(model, doc_texts)
    weights = []
    for ids, n in zip(_piece_ids(model, query_texts), lengths.tolist()):
        w = idf[ids] if len(ids) == n else np.ones(n)  # ids align with the token vectors
        weights.append((w / w.sum()).astype(np.float32) if n else w)
    all_q = torch.cat(qvec) if len(qvec) else torch.zeros((0, 1))
    rows: dict[int, np.ndarray] = {}  # doc row -> best cosine for every query token (float16)

    def fill(docs: list[int]) -> None:
        for s in range(0, len(docs), BATCH * 8):
            part = docs[s : s + BATCH * 8]
            for i, t in zip(part, _token_vectors(model, [doc_texts[i] for i in part], bf16)):
                rows[i] = (all_q @ t.T).max(1).values.numpy().astype(np.float16) if len(t) \
                    else np.zeros(len(all_q), np.float16)

    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])

    def pairs(q: np.ndarray, d: np.ndarray) -> np.ndarray:
        q, d = np.asarray(q, np.int64), np.asarray(d, np.int64)
        fill(sorted(set(d.tolist()) - rows.keys()))
        out = np.zeros(len(q), np.float64)
        for j, (qi, di) in enumerate(zip(q.tolist(), d.tolist())):
            n = lengths[qi]
            if n:
                out[j] = float(rows[di][starts[qi] : starts[qi] + n].astype(np.float32) @ weights[qi])
        return out

    return pairs
