"""The false-negative detection benchmark (DESIGN.md "How we measure it").

Simulate pooled sparse labels on a densely judged BEIR collection: per judged query keep ``keep_positives``
random positives (seeded), hide the rest, mine the dense top-K unlabelled docs; a mined doc whose hidden label
is relevant is a false negative. Hiding is structural: the scorer receives a ``RiskInputs`` built from the
sparsified qrels only; the hidden labels live in this module's evaluation code and nowhere else.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from core.risk import RiskInputs, expected_calibration_error, score_false_negatives, train_combiner

BASELINES = {  # table name -> registered signal
    "1/rank": "inverse_rank",
    "dense score": "dense_score",
    "NV-Retriever ratio": "pos_ratio",
    "BM25": "bm25_score",
    "RRF(dense,BM25)": "rrf",
    "sim. to kept positive": "pos_similarity",
}


def load_beir(beir_dir: str | Path, split: str = "test") -> tuple[list[str], list[str], dict[str, str], pd.DataFrame]:
    """(doc ids, doc texts as title + " " + text, query id -> text, qrels[query_id, doc_id, relevance])."""
    root = Path(beir_dir)
    ids, texts = [], []
    with open(root / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                o = json.loads(line)
                ids.append(str(o["_id"]))
                title = (o.get("title") or "").strip()
                texts.append(f"{title} {o.get('text') or ''}" if title else o.get("text") or "")
    with open(root / "queries.jsonl", encoding="utf-8") as fh:
        queries = {str(o["_id"]): o["text"] for o in map(json.loads, filter(str.strip, fh))}
    qrels = pd.read_csv(root / "qrels" / f"{split}.tsv", sep="\t", dtype=str)
    qrels.columns = ["query_id", "doc_id", "relevance"]
    return ids, texts, queries, qrels.astype({"relevance": int})


def sparsify_qrels(qrels: pd.DataFrame, keep: int, seed: int) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(kept, hidden) positives per judged query: ``random.Random(seed).sample`` of the sorted positives."""
    rng = random.Random(seed)
    pos = qrels[qrels.relevance > 0].groupby("query_id")["doc_id"].apply(sorted).to_dict()
    kept, hidden = {}, {}
    for q in sorted(pos):
        k = set(rng.sample(pos[q], min(keep, len(pos[q]))))
        kept[q], hidden[q] = k, set(pos[q]) - k
    return kept, hidden


def embed(query_texts: list[str], doc_texts: list[str], embeddings: str | None = None,
          query_ids: list[str] | None = None, doc_ids: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The one model-dependent step: precomputed ``{prefix}_{queries,corpus}.npy`` (+ ``_ids.json``) or MiniLM."""
    if embeddings:
        out = []
        for part, ids in (("queries", query_ids), ("corpus", doc_ids)):
            emb = np.load(f"{embeddings}_{part}.npy")
            stored = json.loads(Path(f"{embeddings}_{part}_ids.json").read_text())
            pos = {s: i for i, s in enumerate(stored)}
            out.append(emb[[pos[i] for i in ids]])
        return out[0], out[1]
    from core.encoders import encode_texts, load_bi_encoder

    model = load_bi_encoder()
    return encode_texts(model, query_texts), encode_texts(model, doc_texts)


def _metrics(y: np.ndarray, s: np.ndarray, n_top: int = 100) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    s = np.nan_to_num(np.asarray(s, dtype=float))
    top = np.argsort(-s, kind="stable")[:n_top]
    ok = 0 < y.sum() < len(y)
    return {"AP": float(average_precision_score(y, s)) if ok else float("nan"),
            "AUROC": float(roc_auc_score(y, s)) if ok else float("nan"),
            "P@100": float(y[top].mean()) if len(top) else float("nan")}


def _bm25_rows(doc_texts: list[str], query_texts: list[str]):
    from core.mining import Bm25Index, bm25_tokenize

    index = Bm25Index.build(doc_texts)
    toks = bm25_tokenize(query_texts)
    return lambda rows: index.scores([toks[r] for r in rows])


def run_fn_detection(beir_dir: str | Path, keep_positives: int = 1, top_k: int = 30, seed: int = 0,
                     split: str = "test", n_judgments: int = 200, embeddings: str | None = None,
                     max_queries: int | None = None, verbose: bool = True) -> dict:
    """Run the protocol; print the two tables; return them as a dict (for ``--json``)."""
    from core.mining import mine_dense

    doc_ids, doc_texts, queries, qrels = load_beir(beir_dir, split)
    kept, hidden = sparsify_qrels(qrels, keep_positives, seed)
    qids = [q for q in sorted(kept) if q in queries]
    if max_queries:
        qids = qids[:max_queries]
    qtexts = [queries[q] for q in qids]
    q_emb, d_emb = embed(qtexts, doc_texts, embeddings, qids, doc_ids)
    sparse = {q: kept[q] for q in qids}  # the only labels the scorer ever receives
    cands = mine_dense(qids, q_emb, doc_ids, d_emb, sparse, top_k=top_k)
    cands = cands[["query_id", "doc_id", "miner", "rank", "score"]]
    inputs = RiskInputs(qids, q_emb, doc_ids, d_emb, sparse, bm25=_bm25_rows(doc_texts, qtexts), seed=seed)
    model = train_combiner(inputs)
    scored = score_false_negatives(cands, inputs, model=model)

    y = np.array([d in hidden.get(q, ()) for q, d in zip(scored.query_id, scored.doc_id)], dtype=int)
    sig = pd.DataFrame([json.loads(s) for s in scored.signals])
    sig["inverse_rank"] = 1.0 / (scored.groupby("query_id").cumcount() + 1)  # rank among the candidates
    table = {"fn_risk": _metrics(y, scored.fn_risk.to_numpy())}
    table.update({name: _metrics(y, sig[s].to_numpy()) for name, s in BASELINES.items()})

    order = np.argsort(-scored.fn_risk.to_numpy(), kind="stable")
    rev, unrev = order[:n_judgments], order[n_judgments:]
    judg = pd.DataFrame({"query_id": scored.query_id.iloc[rev].values, "doc_id": scored.doc_id.iloc[rev].values,
                         "label": np.where(y[rev] == 1, "false_negative", "negative")})
    after = score_false_negatives(cands, inputs, judgments=judg, model=model)
    cal = {}
    for name, frame in (("before", scored), ("after", after)):
        p = frame.fn_risk.to_numpy()[unrev]
        m = _metrics(y[unrev], p)
        cal[name] = {"AP": m["AP"], "P@100": m["P@100"], "ECE": expected_calibration_error(y[unrev], p)}
    result = {
        "dataset": str(beir_dir), "split": split, "seed": seed, "keep_positives": keep_positives, "top_k": top_k,
        "n_queries": len(qids), "n_candidates": len(scored), "fn_rate": float(y.mean()),
        "n_judgments": len(rev), "revealed_fn_rate": float(y[rev].mean()) if len(rev) else float("nan"),
        "detection": table, "recalibration": cal, "combiner": dict(zip(model.names, model.linear.steps[-1][1].coef_[0].round(3).tolist())),
    }
    if verbose:
        print(format_tables(result))
    return result


def format_tables(r: dict) -> str:
    lines = [(f"{r['dataset']} ({r['split']}) seed {r['seed']}: {r['n_queries']} queries, "
             f"{r['n_candidates']} candidates, {r['fn_rate']:.1%} false negatives"),
             f"{'scorer':24s} {'AP':>6s} {'AUROC':>6s} {'P@100':>6s}"]
    for name, m in r["detection"].items():
        lines.append(f"{name:24s} {m['AP']:6.3f} {m['AUROC']:6.3f} {m['P@100']:6.2f}")
    lines += ["", (f"after {r['n_judgments']} simulated judgments ({r['revealed_fn_rate']:.0%} false negatives), "
              "on the unrevealed candidates:"), f"{'':24s} {'AP':>6s} {'P@100':>6s} {'ECE':>6s}"]
    for name, m in r["recalibration"].items():
        lines.append(f"{name:24s} {m['AP']:6.3f} {m['P@100']:6.2f} {m['ECE']:6.3f}")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m core.bench.fn_detection DIR [SEED] [SPLIT] [EMB_PREFIX]
    a = sys.argv[1:]
    run_fn_detection(a[0], seed=int(a[1]) if len(a) > 1 else 0, split=a[2] if len(a) > 2 else "test",
                     embeddings=a[3] if len(a) > 3 else None)
