"""Static token MaxSim: late interaction over the model's *input* word-piece table, with no forward pass.

For each query word piece, the best cosine between its row of the model's input embedding table and the
rows of the doc's word pieces (the model's 256-piece window, special tokens left out), averaged over the
query's pieces with the same idf weights as the contextual MaxSim (core/encoders/late.py). It asks the
same question — is every part of the query met somewhere in the doc, exactly or by a near word piece —
without running the model: the tokenizer plus one matrix product per chunk of queries.

Issue 18, measured in the bench on NFCorpus keep 1, seeds 0-4 (docs/benchmarks.md, session 8): fn_risk AP
0.529-0.539 -> 0.551-0.562 at 2-4 s, where the contextual MaxSim (``--late-interaction``) reaches 0.558-0.567
at a second model pass over the corpus; SciFact train 0.200-0.224 -> 0.233-0.243 at ~10-12 s. Hence on by
default: it fills the ``late_maxsim`` slot unless the contextual one is asked for.

Memory: the table rows of the pieces the corpus and queries use (float32, NFCorpus ~15k x 384: 23 MB),
each doc's unique pieces as one CSR array, no per-pair state. Pickles small (the Ray engine ships it).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

QUERY_CHUNK = 64  # queries whose piece rows meet the whole table in one product (64 x ~10 x |V| floats)


def _window(folder: Path) -> int:
    """The model's token window (``max_seq_length`` of its sentence-transformers config; else 256)."""
    cfg = folder / "sentence_bert_config.json"
    return int(json.loads(cfg.read_text()).get("max_seq_length", 256)) if cfg.exists() else 256


def _find_word_table(folder: Path) -> tuple[Path, str] | None:
    """(safetensors file, tensor name) of the input word-piece table, read from the headers only."""
    from safetensors import safe_open

    for f in sorted(folder.glob("*.safetensors")):
        with safe_open(str(f), "np") as fh:
            names = fh.keys()  # a safetensors handle is not iterable itself
            for key in names:
                if key.endswith("word_embeddings.weight"):
                    return f, key
    return None


def _word_table(folder: Path) -> np.ndarray:
    """The input word-piece embedding table from the folder's safetensors (no torch import)."""
    from safetensors import safe_open

    found = _find_word_table(folder)
    if found is None:
        raise ValueError(f"{folder}: no word_embeddings.weight in a .safetensors file (a BERT-style model is "
                         "needed for the static token MaxSim)")
    with safe_open(str(found[0]), "np") as fh:
        return np.asarray(fh.get_tensor(found[1]), np.float32)


def piece_encoder(folder: str | os.PathLike) -> Callable[[Sequence[str]], list[np.ndarray]]:
    """Texts -> word-piece ids as the model sees them (its window; [CLS]/[SEP] dropped), via ``tokenizers``."""
    from tokenizers import Tokenizer

    folder = Path(folder)
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()
    tok.enable_truncation(max_length=_window(folder))

    def encode(texts: Sequence[str]) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        for s in range(0, len(texts), 4096):
            for e in tok.encode_batch(list(texts[s : s + 4096])):
                ids = e.ids
                out.append(np.asarray(ids[1:-1], np.int64))  # an empty text: [CLS] [SEP] only
        return out

    return encode


def _csr(rows: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(rows) + 1, np.int64)
    ptr[1:] = np.cumsum([len(r) for r in rows])
    return ptr, (np.concatenate(rows) if rows else np.zeros(0, np.int64))


class StaticMaxSim:
    """MaxSim of (query row, doc row) pairs over the static word-piece table: what ``RiskInputs.late`` takes.

    Built once per corpus (:func:`static_maxsim_pairs`); a call groups its pairs by query, so each chunk of
    queries meets the table in one matrix product and each pair costs a gather and a segment maximum.
    """

    def __init__(self, table: np.ndarray, query_pieces: list[np.ndarray], doc_pieces: list[np.ndarray]):
        n_docs = len(doc_pieces)
        df = np.zeros(len(table), np.float64)
        uniq = [np.unique(p) for p in doc_pieces]
        for u in uniq:
            df[u] += 1
        idf = np.log(max(n_docs, 1) / (1.0 + df)) + 1.0
        used = np.unique(np.concatenate([*uniq, *query_pieces, np.zeros(0, np.int64)]))
        t = table[used]
        self.table = (t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)).astype(np.float32)

        def col(ids: np.ndarray) -> np.ndarray:  # piece id -> row of self.table
            return np.searchsorted(used, ids)

        self.doc_ptr, self.doc_cols = _csr([col(u) for u in uniq])
        weights = []
        for p in query_pieces:
            w = idf[p]
            weights.append((w / w.sum()).astype(np.float32) if len(p) else np.zeros(0, np.float32))
        self.q_ptr, self.q_cols = _csr([col(p) for p in query_pieces])
        self.q_w = np.concatenate(weights) if weights else np.zeros(0, np.float32)

    def __call__(self, q: np.ndarray, d: np.ndarray) -> np.ndarray:
        q, d = np.asarray(q, np.int64), np.asarray(d, np.int64)
        out = np.zeros(len(q), np.float64)
        if not len(q):
            return out
        order = np.argsort(q, kind="stable")
        qs = q[order]
        starts = np.flatnonzero(np.r_[True, qs[1:] != qs[:-1]])
        groups = np.split(order, starts[1:])
        for c in range(0, len(groups), QUERY_CHUNK):
            chunk = groups[c : c + QUERY_CHUNK]
            qrows = [int(q[g[0]]) for g in chunk]
            spans = [(self.q_ptr[r], self.q_ptr[r + 1]) for r in qrows]
            rows = np.concatenate([self.q_cols[a:b] for a, b in spans])
            # queries share word pieces: one table row per distinct piece of the chunk (about half as many)
            uniq, inv = np.unique(rows, return_inverse=True)
            sims = self.table[uniq] @ self.table.T if len(uniq) else np.zeros((0, len(self.table)), np.float32)
            at = 0
            for g, (a, b) in zip(chunk, spans):
                n = b - a
                if n:
                    out[g] = self._pairs(sims, inv[at : at + n], self.q_w[a:b], d[g])
                at += n
        return out

    def _pairs(self, sims: np.ndarray, pieces: np.ndarray, w: np.ndarray, docs: np.ndarray) -> np.ndarray:
        """One query's weighted MaxSim against each of ``docs`` (0 for a doc with no pieces); its pieces are
        rows ``pieces`` of ``sims``."""
        lo, hi = self.doc_ptr[docs], self.doc_ptr[docs + 1]
        lens = hi - lo
        vals = np.zeros(len(docs), np.float64)
        ok = lens > 0
        if not ok.any():
            return vals
        lo, lens = lo[ok], lens[ok]
        seg = np.concatenate([[0], np.cumsum(lens)[:-1]])
        cols = self.doc_cols[np.repeat(lo - seg, lens) + np.arange(lens.sum())]
        best = np.maximum.reduceat(sims[pieces][:, cols], seg, axis=1)  # (query pieces, docs)
        vals[ok] = (best * w[:, None].astype(np.float64)).sum(0)  # column by column: no lane-dependent rounding
        return vals


def static_maxsim_pairs(query_texts: Sequence[str], doc_texts: Sequence[str],
                        model: str | os.PathLike | None = None) -> StaticMaxSim:
    """The static token MaxSim over a model folder's table and tokenizer (default: the packaged MiniLM)."""
    from core.encoders.ids import resolve_model_path

    folder = resolve_model_path(model)
    encode = piece_encoder(folder)
    return StaticMaxSim(_word_table(folder), encode(list(query_texts)), encode(list(doc_texts)))


def has_word_table(model: Any) -> bool:
    """Whether a model folder carries what the static MaxSim needs (tokenizer.json and a word table)."""
    from core.encoders.ids import resolve_model_path

    try:
        folder = resolve_model_path(model)
        found = _find_word_table(folder)  # headers only: the table itself is read once, when it is used
    except (ValueError, FileNotFoundError, OSError):
        return False
    return found is not None and (folder / "tokenizer.json").exists()
