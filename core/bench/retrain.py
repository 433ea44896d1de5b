"""`negaudit bench retrain`: does cleaning mined negatives help the model trained on them?

Protocol (SciFact train → test by default; see docs/retrain.md for why SciFact):
1. Embed the corpus with the packaged MiniLM (through the embedding cache), mine the dense top-K
   unlabelled docs for every train query, score them with `core.risk.score_false_negatives`
   (trained on the train positives only — test labels never reach mining or scoring).
2. Build two training sets with `core.export.apply_policy` — the same code the export uses:
   (a) raw: `num_negatives` seeded from the top-K per query, no risk rule;
   (b) cleaned: the same, after dropping candidates with fn_risk >= `threshold`.
3. Fine-tune a fresh copy of MiniLM on each with MultipleNegativesRankingLoss, same steps, batch
   size, learning rate and seed; repeat for every seed.
4. Evaluate base, (a) and (b) on the test queries with `ir_measures` (nDCG@10, R@100) over a
   fixed corpus subset: every test positive plus a seeded uniform sample of the other docs
   (the subset keeps the bench inside 30 min on a 2-core CPU; the same subset for every model).
5. Report mean ± std over seeds and paired tests (b − a): a paired t-test over seeds and a
   Wilcoxon signed-rank test over queries (per-query scores averaged across seeds).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MEASURES = ("nDCG@10", "R@100")


@dataclass
class RetrainConfig:
    """Every knob of the bench; written into the result so a table says how it was made."""

    beir_dir: str = "data/scifact"
    train_split: str = "train"
    test_split: str = "test"
    seeds: tuple[int, ...] = (0, 1, 2)
    top_k: int = 30  # mined candidates per train query
    num_negatives: int = 1  # negatives per (query, positive) row: triplets
    sampling: str = "random"  # `random` from the top-K, or `top`: the hardest first
    threshold: float = 0.5  # (b) drops unreviewed candidates with fn_risk >= this
    max_steps: int = 60
    batch_size: int = 16
    learning_rate: float = 2e-5
    max_seq_length: int = 128  # for training and for every evaluated model
    eval_docs: int = 1500  # corpus subset size (all test positives + seeded sample)
    max_train_queries: int | None = None
    max_test_queries: int | None = None
    cache: str | None = None  # embedding cache folder (default: core.encoders' default)
    out_dir: str | None = None  # where fine-tuned checkpoints go (default: a temp folder)
    timings: dict[str, float] = field(default_factory=dict)


def eval_subset(doc_ids: list[str], test_positives: set[str], size: int, seed: int = 0
                ) -> list[str]:
    """Every test positive plus a seeded uniform sample of the rest, in corpus order."""
    rng = np.random.default_rng(seed)
    others = [d for d in doc_ids if d not in test_positives]
    k = max(0, min(len(others), size - len(test_positives)))
    picked = set(rng.choice(len(others), size=k, replace=False).tolist()) if k else set()
    keep = test_positives | {others[i] for i in picked}
    return [d for d in doc_ids if d in keep]


def evaluate(model: Any, query_ids: list[str], query_texts: list[str], doc_ids: list[str],
             doc_texts: list[str], qrels: pd.DataFrame) -> pd.DataFrame:
    """Per-query nDCG@10 and R@100 (ir_measures) of a bi-encoder by exhaustive cosine search."""
    import ir_measures
    from ir_measures import R, nDCG

    q = model.encode(query_texts, batch_size=64, normalize_embeddings=True,
                     convert_to_numpy=True)
    d = model.encode(doc_texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    scores = q @ d.T
    top = np.argsort(-scores, axis=1)[:, :100]
    run = [ir_measures.ScoredDoc(qid, doc_ids[j], float(scores[i, j]))
           for i, qid in enumerate(query_ids) for j in top[i]]
    qr = [ir_measures.Qrel(str(a), str(b), int(c)) for a, b, c in
          zip(qrels.query_id, qrels.doc_id, qrels.relevance)]
    rows: dict[str, dict[str, float]] = {}
    for m in ir_measures.iter_calc([nDCG @ 10, R @ 100], qr, run):
        rows.setdefault(m.query_id, {})[str(m.measure)] = float(m.value)
    out = pd.DataFrame.from_dict(rows, orient="index").reindex(query_ids).fillna(0.0)
    out.index.name = "query_id"
    return out[list(MEASURES)]


def fine_tune(base: Any, train: pd.DataFrame, cfg: RetrainConfig, seed: int, out: Path) -> Any:
    """A fresh copy of `base` trained with MNRL for exactly `cfg.max_steps` steps."""
    from datasets import Dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    model = copy.deepcopy(base)
    args = SentenceTransformerTrainingArguments(
        output_dir=str(out), max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        learning_rate=cfg.learning_rate, warmup_steps=max(1, cfg.max_steps // 10), seed=seed,
        data_seed=seed, report_to="none", save_strategy="no", logging_steps=max(1, cfg.max_steps),
        use_cpu=True, dataloader_num_workers=0, batch_sampler="no_duplicates", disable_tqdm=True)
    trainer = SentenceTransformerTrainer(
        model=model, args=args, train_dataset=Dataset.from_pandas(train, preserve_index=False),
        loss=MultipleNegativesRankingLoss(model))
    trainer.train()
    return model


def _paired(a: np.ndarray, b: np.ndarray, test: str) -> dict[str, float]:
    from scipy import stats

    diff = b - a
    if len(diff) < 2 or np.allclose(diff, 0):
        return {"mean_diff": float(diff.mean()) if len(diff) else float("nan"), "p": float("nan")}
    res = stats.ttest_rel(b, a) if test == "t" else stats.wilcoxon(b, a)
    return {"mean_diff": float(diff.mean()), "p": float(res.pvalue)}


def summarize(per_seed: pd.DataFrame, per_query: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """mean ± std per model and measure; paired tests of cleaned vs raw."""
    table = {}
    for model, g in per_seed.groupby("model", sort=False):
        table[model] = {m: {"mean": float(g[m].mean()), "std": float(g[m].std(ddof=1))
                            if len(g) > 1 else 0.0} for m in MEASURES}
    tests = {}
    raw = per_seed[per_seed.model == "raw"].sort_values("seed")
    clean = per_seed[per_seed.model == "cleaned"].sort_values("seed")
    for m in MEASURES:
        tests[m] = {"t_over_seeds": _paired(raw[m].to_numpy(), clean[m].to_numpy(), "t")}
        if "raw" in per_query and "cleaned" in per_query:
            tests[m]["wilcoxon_over_queries"] = _paired(per_query["raw"][m].to_numpy(),
                                                        per_query["cleaned"][m].to_numpy(), "w")
    return {"table": table, "paired_cleaned_vs_raw": tests}


def run_retrain(cfg: RetrainConfig | None = None, verbose: bool = True) -> dict[str, Any]:
    """Run the whole protocol; returns the config, per-seed scores, the summary and timings."""
    import tempfile

    from core.encoders import encode_texts, load_bi_encoder
    from core.encoders.static_late import static_maxsim_pairs
    from core.export import ExportPolicy, apply_policy
    from core.export.writers import shape_rows
    from core.ingest import load_beir
    from core.mining import Bm25Index, bm25_rows, mine_dense, term_coverage, topic_queries
    from core.mining.lsa import lsa_space
    from core.risk import RiskInputs, score_false_negatives

    cfg = cfg or RetrainConfig()
    log = print if verbose else (lambda *_a, **_k: None)
    t0 = time.perf_counter()
    train, test = load_beir(cfg.beir_dir, cfg.train_split), load_beir(cfg.beir_dir, cfg.test_split)
    doc_ids, doc_texts = train.doc_ids, train.doc_texts
    queries = dict(zip(train.queries["query_id"], train.queries["text"]))
    train_qrels = train.qrels[["query_id", "doc_id", "relevance"]]
    test_qrels = test.qrels[["query_id", "doc_id", "relevance"]]
    train_q = sorted(set(train_qrels.query_id[train_qrels.relevance > 0]) & set(queries))
    test_q = sorted(set(test_qrels.query_id[test_qrels.relevance > 0]) & set(queries))
    train_q = train_q[: cfg.max_train_queries] if cfg.max_train_queries else train_q
    test_q = test_q[: cfg.max_test_queries] if cfg.max_test_queries else test_q
    train_qrels = train_qrels[train_qrels.query_id.isin(train_q)].assign(split=cfg.train_split)
    test_qrels = test_qrels[test_qrels.query_id.isin(test_q)]
    positives: dict[str, set[str]] = {}
    for q, d in zip(train_qrels.query_id[train_qrels.relevance > 0],
                    train_qrels.doc_id[train_qrels.relevance > 0]):
        positives.setdefault(q, set()).add(d)

    # Mining and scoring use the packaged model as the app does (and share its embedding cache);
    # training and evaluation use a copy truncated to `max_seq_length`.
    miner_model = load_bi_encoder()
    log(f"embedding {len(doc_ids)} docs and {len(train_q)} train queries (cached)...")
    d_emb = encode_texts(miner_model, doc_texts, cache=cfg.cache)
    q_emb = encode_texts(miner_model, [queries[q] for q in train_q], cache=cfg.cache)
    base = copy.deepcopy(miner_model)
    base.max_seq_length = cfg.max_seq_length
    cfg.timings["embed"] = time.perf_counter() - t0

    cands = mine_dense(train_q, q_emb, doc_ids, d_emb, positives, top_k=cfg.top_k)
    cands = cands[["query_id", "doc_id", "miner", "rank", "score"]]
    index, qtexts = Bm25Index.build(doc_texts), [queries[q] for q in train_q]
    inputs = RiskInputs(train_q, q_emb, doc_ids, d_emb, positives, bm25=bm25_rows(index, qtexts),
                        coverage=term_coverage(index, qtexts), topic=topic_queries(qtexts), lsa=lsa_space(index, qtexts),
                        late=static_maxsim_pairs(qtexts, doc_texts))
    risk = score_false_negatives(cands, inputs)
    cfg.timings["mine_score"] = time.perf_counter() - t0 - cfg.timings["embed"]
    log(f"mined {len(cands)} candidates; {(risk.fn_risk >= cfg.threshold).sum()} with "
        f"fn_risk >= {cfg.threshold}")

    qtext = {q: queries[q] for q in train_q}
    dtext = dict(zip(doc_ids, doc_texts))
    test_pos = set(test_qrels.doc_id[test_qrels.relevance > 0])
    sub = eval_subset(doc_ids, test_pos, cfg.eval_docs, seed=0)
    sub_texts = [dtext[d] for d in sub]
    test_texts = [queries[q] for q in test_q]

    t_eval = time.perf_counter()
    per_query: dict[str, list[pd.DataFrame]] = {"base": [], "raw": [], "cleaned": []}
    base_scores = evaluate(base, test_q, test_texts, sub, sub_texts, test_qrels)
    cfg.timings["eval_one"] = time.perf_counter() - t_eval
    rows = [{"model": "base", "seed": None, **base_scores.mean().to_dict()}]
    per_query["base"].append(base_scores)
    log(f"base: {base_scores.mean().round(4).to_dict()}")

    data_stats = {}
    tmp = Path(cfg.out_dir or tempfile.mkdtemp(prefix="negaudit-retrain-"))
    for seed in cfg.seeds:
        for name, threshold in (("raw", None), ("cleaned", cfg.threshold)):
            policy = ExportPolicy(drop_risk_above=threshold, num_negatives=cfg.num_negatives,
                                  seed=seed, sampling=cfg.sampling)
            train_rows, counts = apply_policy(cands, risk if threshold is not None else None,
                                              None, train_qrels, policy)
            table, _ = shape_rows(train_rows, "triplet" if cfg.num_negatives == 1 else "n-tuple",
                                  qtext, dtext, n=cfg.num_negatives)
            data_stats[f"{name}/seed{seed}"] = {"rows": len(table), "counts": counts}
            t1 = time.perf_counter()
            model = fine_tune(base, table, cfg, seed, tmp / f"{name}-{seed}")
            cfg.timings[f"train_{name}_{seed}"] = time.perf_counter() - t1
            scores = evaluate(model, test_q, test_texts, sub, sub_texts, test_qrels)
            per_query[name].append(scores)
            rows.append({"model": name, "seed": seed, **scores.mean().to_dict()})
            log(f"{name} seed {seed}: {scores.mean().round(4).to_dict()} "
                f"({len(table)} training rows)")
            del model
    per_seed = pd.DataFrame(rows)
    mean_pq = {k: sum(v) / len(v) for k, v in per_query.items() if v}
    cfg.timings["total"] = time.perf_counter() - t0
    result = {"config": asdict(cfg), "per_seed": per_seed.to_dict("records"),
              "summary": summarize(per_seed[per_seed.model != "base"], mean_pq),
              "base": rows[0], "training_data": data_stats,
              "eval": {"queries": len(test_q), "docs": len(sub), "test_positives": len(test_pos)}}
    log(format_table(result))
    return result


def format_table(result: dict[str, Any]) -> str:
    """The markdown table docs/retrain.md shows."""
    lines = ["| model | nDCG@10 | R@100 |", "|---|---|---|"]
    b = result["base"]
    lines.append(f"| base MiniLM | {b['nDCG@10']:.4f} | {b['R@100']:.4f} |")
    for name, label in (("raw", "(a) raw mined negatives"), ("cleaned", "(b) risk-cleaned")):
        t = result["summary"]["table"].get(name)
        if t:
            lines.append(f"| {label} | {t['nDCG@10']['mean']:.4f} ± {t['nDCG@10']['std']:.4f} | "
                         f"{t['R@100']['mean']:.4f} ± {t['R@100']['std']:.4f} |")
    for m, tests in result["summary"]["paired_cleaned_vs_raw"].items():
        parts = [f"{k}: Δ={v['mean_diff']:+.4f}, p={v['p']:.3g}" for k, v in tests.items()]
        lines.append(f"\n{m} (b − a): " + "; ".join(parts))
    return "\n".join(lines)


def main(json_out: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Entry point of `negaudit bench retrain`."""
    cfg = RetrainConfig(**{k: v for k, v in overrides.items() if v is not None})
    result = run_retrain(cfg)
    if json_out:
        Path(json_out).write_text(json.dumps(result, indent=2, default=str))
    return result
