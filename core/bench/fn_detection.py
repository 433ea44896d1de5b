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

from core.bench.ceiling import supervised_ceiling
from core.risk import RiskInputs, expected_calibration_error, score_false_negatives, train_combiner

BASELINES = {  # table name -> registered signal
    "1/rank": "inverse_rank",
    "dense score": "dense_score",
    "NV-Retriever ratio": "pos_ratio",
    "BM25": "bm25_score",
    "RRF(dense,BM25)": "rrf",
    "sim. to kept positive": "pos_similarity",
    "BM25 + RM3 feedback": "bm25_rm3_z",  # the query expanded with its kept positives' terms (session 3)
}


def load_beir(beir_dir: str | Path, split: str = "test", query_field: str | None = None
              ) -> tuple[list[str], list[str], dict[str, str], pd.DataFrame]:
    """(doc ids, doc texts as title + " " + text, query id -> text, qrels[query_id, doc_id, relevance]),
    read by the product's own BEIR reader (`core.ingest.load_beir`).

    ``query_field``: another field of queries.jsonl as the query text (NFCorpus' ``vid-desc``: the same
    topics asked as sentences); queries without it are left out.
    """
    from core.ingest import load_beir as read_folder

    data = read_folder(beir_dir, split)
    queries = dict(zip(data.queries["query_id"], data.queries["text"]))
    if query_field:
        queries = query_field_texts(Path(beir_dir) / "queries.jsonl", query_field, set(queries))
    qrels = data.qrels[["query_id", "doc_id", "relevance"]].astype({"relevance": int})
    return data.doc_ids, data.doc_texts, queries, qrels.reset_index(drop=True)


def query_field_texts(path: Path, field: str, known: set[str]) -> dict[str, str]:
    """Query id -> its ``field`` text, for the known queries that hold a non-empty one.

    Why a second reader: the product's BEIR reader keeps ``text`` only; this bench option asks the same
    topics another way (how fn_risk fares when queries are sentences, not keywords)."""
    from core.ingest.common import get_text, read_jsonl
    from core.types import InputError

    out: dict[str, str] = {}
    for n, obj in read_jsonl(path):
        value = get_text(obj, field, path, n, allow_empty=True, required=False)
        if value.strip() and str(obj.get("_id")) in known:
            out[str(obj["_id"])] = value
    if not out:
        raise InputError(path, None, field, "no query holds this field")
    return out


def sparsify_qrels(qrels: pd.DataFrame, keep: int, seed: int) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(kept, hidden) positives per judged query: ``random.Random(seed).sample`` of the sorted positives."""
    rng = random.Random(seed)
    pos = qrels[qrels.relevance > 0].groupby("query_id")["doc_id"].apply(sorted).to_dict()
    kept, hidden = {}, {}
    for q in sorted(pos):
        k = set(rng.sample(pos[q], min(keep, len(pos[q]))))
        kept[q], hidden[q] = k, set(pos[q]) - k
    return kept, hidden


def sample_queries(qids: list[str], n: int, seed: int) -> list[str]:
    """A seeded random ``n`` of ``qids``, sorted (all of them when ``n`` is not smaller): the same for the same
    seed in every process (a string seed), whatever order ``qids`` came in."""
    qids = sorted(qids)
    return qids if n >= len(qids) else sorted(random.Random(f"queries-{seed}").sample(qids, n))


def sample_docs(doc_ids: list[str], doc_texts: list[str], qrels: pd.DataFrame, n: int
                ) -> tuple[list[str], list[str], pd.DataFrame]:
    """A fixed random ``n`` of the corpus (``random.Random(0)`` over the sorted ids: the same docs for every
    ``--seed``, so seeds vary the labels, not the collection), in corpus order, with the qrels on those docs.

    Why: how fn_risk fares on a small collection (classic test collections hold 1,400-6,000 docs), where the PU
    sample, the doc graph and the LSA space all come from few docs. The whole corpus when ``n`` is not smaller.
    """
    if n >= len(doc_ids):
        return doc_ids, doc_texts, qrels
    keep = set(random.Random(0).sample(sorted(doc_ids), n))
    rows = [i for i, d in enumerate(doc_ids) if d in keep]
    return ([doc_ids[i] for i in rows], [doc_texts[i] for i in rows],
            qrels[qrels.doc_id.isin(keep)].reset_index(drop=True))


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


def _metrics(y: np.ndarray, s: np.ndarray, heads: tuple[int, ...] = (50, 100)) -> dict[str, float]:
    """AP and AUROC of the whole queue, and precision of its head (what annotators see first)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    s = np.nan_to_num(np.asarray(s, dtype=float))
    order = np.argsort(-s, kind="stable")
    ok = 0 < y.sum() < len(y)
    out = {"AP": float(average_precision_score(y, s)) if ok else float("nan"),
           "AUROC": float(roc_auc_score(y, s)) if ok else float("nan")}
    for n in heads:
        out[f"P@{n}"] = float(y[order[:n]].mean()) if len(order) else float("nan")
    return out


def _bm25_rows(doc_texts: list[str], query_texts: list[str]):
    """(BM25 rows, RM3 feedback rows, term coverage, LSA space) over one index: what ``RiskInputs.bm25`` /
    ``bm25_feedback`` / ``coverage`` / ``lsa`` expect."""
    from core.mining import Bm25Index, bm25_rows, term_coverage
    from core.mining.feedback import bm25_feedback_rows
    from core.mining.lsa import lsa_space

    index = Bm25Index.cached(doc_texts)
    return (bm25_rows(index, query_texts), bm25_feedback_rows(index, query_texts), term_coverage(index, query_texts),
            lsa_space(index, query_texts))


def load_qrels(path: str | Path) -> pd.DataFrame:
    """A BEIR-style qrels TSV (header, then query id, doc id, grade) from any path (e.g. a second grading)."""
    qrels = pd.read_csv(path, sep="\t", dtype=str)
    qrels.columns = ["query_id", "doc_id", "relevance"]
    return qrels.astype({"relevance": int})


def learning_curve(y: np.ndarray, static_logit: np.ndarray, offset: np.ndarray, doc_emb: np.ndarray,
                   q: np.ndarray, d: np.ndarray, checkpoints: tuple[int, ...], batch: int = 25,
                   query_emb: np.ndarray | None = None, pos_similarity: np.ndarray | None = None,
                   late: np.ndarray | None = None, topic_doc: np.ndarray | None = None) -> list[dict]:
    """Judgments from the head of the queue (hidden labels as the oracle), then re-rank the rest.

    Per checkpoint N: (1) judge the static queue's first N and re-rank the others with
    :func:`core.risk.learn.rerank`; AP/P@50/P@100/ECE of the re-ranked order vs the static score on the
    *same* unjudged items. (2) A queue that learns as it goes: judge batches of ``batch`` from the head of
    the current order, re-ranking after each; false negatives found after N, vs the static queue's first N.
    ``late``: the late-interaction MaxSim per row (its query mean becomes a learner feature), or None.
    ``topic_doc``: the docs' rows in the corpus' latent semantic space (the learner's topic evidence), or None.
    """
    from core.risk.combiner import sigmoid
    from core.risk.learn import LearnerFeatures, rerank

    build = LearnerFeatures(q, d, static_logit, offset, doc_emb, query_emb, topic_doc, pos_similarity, late)

    def features(judged: np.ndarray) -> np.ndarray:
        return build(judged, y)[0]  # only the judged rows' labels are read

    def relearn(judged: np.ndarray) -> np.ndarray:
        return rerank(static_logit, features(judged), judged, y, groups=q)

    order = np.argsort(-static_logit, kind="stable")
    found_live, judged, cur = {0: 0}, np.zeros(len(y), dtype=bool), static_logit.copy()
    for n in range(batch, max(checkpoints, default=0) + 1, batch):
        un = np.flatnonzero(~judged)
        judged[un[np.argsort(-cur[un], kind="stable")[:batch]]] = True
        cur = relearn(judged)
        found_live[int(judged.sum())] = int(y[judged].sum())
    rows = []
    for n in checkpoints:
        judged = np.zeros(len(y), dtype=bool)
        judged[order[:n]] = True
        F = features(judged) if n else None  # one evidence pass serves the re-ranking and its headroom
        z = rerank(static_logit, F, judged, y, groups=q) if n else static_logit
        un = ~judged
        row = {"judgments": int(n), "found_static": int(y[judged].sum()), "found_learning": found_live.get(n),
               "remaining": int(un.sum())}
        if n:
            row["headroom"] = learning_headroom(y, q, static_logit, F, judged)
        for tag, s in (("static", static_logit), ("learned", z)):
            m = _metrics(y[un], s[un])
            row[tag] = {"AP": m["AP"], "P@50": m["P@50"], "P@100": m["P@100"],
                        "ECE": expected_calibration_error(y[un], sigmoid(s[un]))}
        rows.append(row)
    return rows


def learning_headroom(y: np.ndarray, q: np.ndarray, static_logit: np.ndarray, features: np.ndarray,
                      judged: np.ndarray) -> dict[str, float]:
    """AP of the still-unjudged rows under three references that read their hidden labels (bench-only): the
    static order with every query's level set to its true share of false negatives (``level_oracle``), the same
    for the queries no judgment touched only (``level_oracle_untouched``), and an out-of-fold supervised fit
    over the learner's features and the static log-odds (``learner_fit``; a fit, not a bound: the learner
    sometimes beats it). Where both the learner and the fit stay near the static score and only the level
    oracle is far above, the judgments lack query-level evidence: a better fit would not find it."""
    from core.bench.ceiling import level_oracle, supervised_ceiling

    un = ~judged
    yu, qu, su = y[un], q[un], static_logit[un]
    untouched = ~np.isin(qu, q[judged])
    cols = {f"f{i}": features[un, i] for i in range(features.shape[1])}
    return {"level_oracle": _metrics(yu, level_oracle(yu, qu, su))["AP"],
            "level_oracle_untouched": _metrics(yu, level_oracle(yu, qu, su, untouched))["AP"],
            "learner_fit": _metrics(yu, supervised_ceiling(yu, qu, cols, su))["AP"],
            "untouched_share_of_fn": float(yu[untouched].sum() / max(yu.sum(), 1))}


def probe_calibration(y: np.ndarray, static_logit: np.ndarray, sizes: tuple[int, ...] = (50, 100, 200),
                      draws: int = 10, seed: int = 0) -> list[dict]:
    """ECE of the rest of the queue, before and after :func:`core.risk.calibration.level_shift` from N
    judgments drawn uniformly from the whole queue (the review queue's random order; hidden labels as the
    oracle), averaged over ``draws`` seeded samples; also the share of draws in which the sample moved the level.
    The level the static score claims can be checked only by a sample that is not its own head (session 11)."""
    from core.risk.calibration import level_shift
    from core.risk.combiner import sigmoid

    rows = []
    for n in sizes:
        if n >= len(y):
            continue
        before, after, moved = [], [], 0
        for r in range(draws):
            pick = np.zeros(len(y), dtype=bool)
            pick[np.random.default_rng([seed, n, r]).choice(len(y), n, replace=False)] = True
            shift = level_shift(static_logit[pick], y[pick])
            rest = ~pick
            before.append(expected_calibration_error(y[rest], sigmoid(static_logit[rest])))
            after.append(expected_calibration_error(y[rest], sigmoid(static_logit[rest] + shift)))
            moved += shift != 0.0
        rows.append({"sample": int(n), "draws": int(draws), "ECE_static": float(np.mean(before)),
                     "ECE_levelled": float(np.mean(after)), "worse_draws": int(np.sum(np.array(after) > np.array(before) + 0.01)),
                     "moved": moved / draws})
    return rows


class _timed:
    """A pair function that adds up the wall seconds spent in it (the late-interaction cost, reported apart)."""

    def __init__(self, fn):
        self.fn, self.seconds = fn, 0.0

    def __call__(self, q, d):
        import time

        t0 = time.perf_counter()
        try:
            return self.fn(q, d)
        finally:
            self.seconds += time.perf_counter() - t0


def run_fn_detection(beir_dir: str | Path, keep_positives: int = 1, top_k: int = 30, seed: int = 0,
                     split: str = "test", judgments: tuple[int, ...] = (0, 50, 100, 200, 500),
                     embeddings: str | None = None, max_queries: int | None = None, qrels_file: str | None = None,
                     verbose: bool = True, late_interaction: bool = False, static_maxsim: bool = True,
                     query_field: str | None = None, query_sample: int | None = None,
                     doc_sample: int | None = None) -> dict:
    """Run the protocol; print the tables; return them as a dict (for ``--json``).

    ``query_sample``: score only a seeded random N of the judged queries (the corpus stays whole) — how fn_risk
    fares on collections with few queries, where its PU model learns from few labelled positives (classic test
    collections hold 35-225 judged queries). ``doc_sample``: keep a fixed random N of the corpus and the qrels on
    those docs (:func:`sample_docs`; classic test collections hold 1,400-6,000 docs).

    The token MaxSim signal is the static one over the word-piece table (core/encoders/static_late.py, as the
    product scores by default; ``static_maxsim=False`` leaves it out); ``late_interaction``: the contextual one
    instead (core/encoders/late.py; a second model pass). Its wall time, built and called, is
    ``late_interaction_s``.
    """
    import time

    from core.mining import mine_dense, topic_queries
    from core.risk.score import static_log_odds

    doc_ids, doc_texts, queries, qrels = load_beir(beir_dir, split, query_field)
    if qrels_file:
        qrels = load_qrels(qrels_file)
    if doc_sample:
        doc_ids, doc_texts, qrels = sample_docs(doc_ids, doc_texts, qrels, doc_sample)
    kept, hidden = sparsify_qrels(qrels, keep_positives, seed)
    qids = [q for q in sorted(kept) if q in queries]
    if query_sample:
        qids = sample_queries(qids, query_sample, seed)
    if max_queries:
        qids = qids[:max_queries]
    qtexts = [queries[q] for q in qids]
    q_emb, d_emb = embed(qtexts, doc_texts, embeddings, qids, doc_ids)
    sparse = {q: kept[q] for q in qids}  # the only labels the scorer ever receives
    cands = mine_dense(qids, q_emb, doc_ids, d_emb, sparse, top_k=top_k)
    cands = cands[["query_id", "doc_id", "miner", "rank", "score"]]
    bm25, feedback, coverage, lsa = _bm25_rows(doc_texts, qtexts)
    late, t0 = None, time.perf_counter()
    if late_interaction:
        from core.encoders.late import late_interaction_pairs

        late = _timed(late_interaction_pairs(qtexts, doc_texts))
    elif static_maxsim:
        from core.encoders.static_late import static_maxsim_pairs

        late = _timed(static_maxsim_pairs(qtexts, doc_texts))
    built_s = time.perf_counter() - t0
    inputs = RiskInputs(qids, q_emb, doc_ids, d_emb, sparse, bm25=bm25, bm25_feedback=feedback, seed=seed,
                        top_k=top_k, late=late, coverage=coverage, lsa=lsa, topic=topic_queries(qtexts))
    model = train_combiner(inputs)
    scored = score_false_negatives(cands, inputs, model=model)
    late_s = None if late is None else built_s + late.seconds

    y = np.array([d in hidden.get(q, ()) for q, d in zip(scored.query_id, scored.doc_id)], dtype=int)
    sig = pd.DataFrame([json.loads(s) for s in scored.signals])
    sig["inverse_rank"] = 1.0 / (scored.groupby("query_id").cumcount() + 1)  # rank among the candidates
    p = scored.fn_risk.to_numpy()
    table = {"fn_risk": _metrics(y, p)}
    table.update({name: _metrics(y, sig[s].to_numpy()) for name, s in BASELINES.items()})

    sigd = {k: sig[k].to_numpy(dtype=float) for k in sig}
    X = np.column_stack([sigd[n] for n in model.names])
    qrow, drow = inputs.qrow(scored.query_id.tolist()), inputs.drow(scored.doc_id.tolist())
    static, offset = static_log_odds(model, X, sigd, qrow, d_emb[drow]), model.shape_logit(X)
    late_row = sigd.get("late_maxsim") if late is not None else None
    evidence = {} if late_row is None else {"token MaxSim alone": _metrics(y, late_row)}
    if lsa is not None:
        evidence["LSA feedback alone"] = _metrics(y, sigd["lsa_feedback"])
        evidence["LSA graph alone"] = _metrics(y, sigd["graph_lsa"])
    ceiling = _metrics(y, supervised_ceiling(y, qrow, sigd, static, seed))
    probes = probe_calibration(y, static, seed=seed)
    curve = learning_curve(y, static, offset, d_emb, qrow, drow, tuple(judgments), query_emb=q_emb,
                           pos_similarity=sigd["pos_similarity"], late=late_row,
                           topic_doc=None if lsa is None else lsa.doc)
    view = model.view
    maxsim = None if late is None else ("contextual" if late_interaction else "static")
    result = {
        "dataset": str(beir_dir), "split": split, "qrels": str(qrels_file or f"qrels/{split}.tsv"), "seed": seed,
        "keep_positives": keep_positives, "top_k": top_k, "query_field": query_field or "text",
        "query_sample": query_sample, "doc_sample": doc_sample, "n_docs": len(doc_ids),
        "n_queries": len(qids), "n_candidates": len(scored),
        "fn_rate": float(y.mean()), "detection": table, "maxsim": maxsim, "late_interaction_s": late_s,
        "lsa_s": None if lsa is None else round(lsa.fit_s, 3),
        "evidence": evidence, "ceiling": ceiling, "probe_calibration": probes,
        "fn_risk_range": [float(p.min()), float(p.max())], "ECE": expected_calibration_error(y, p),
        "view": None if view is None else {"name": view.name, "c": view.c, "prior": view.prior,
                                           "n_labelled": view.n_labelled, "heldout_AP": view.heldout,
                                           "fused": _fused_weights(view)},
        "learning_curve": curve,
        "combiner": dict(zip(model.names, model.linear.steps[-1][1].coef_[0].round(3).tolist())),
    }
    if verbose:
        print(format_tables(result))
    return result


def _fused_weights(view) -> dict[str, float]:
    """The weights of the terms a view fuses beside its model (core/risk/select.py), by signal."""
    from core.risk.inputs import DENSE_NQC
    from core.risk.select import LATE_SIGNAL, LSA_GRAPH_SIGNAL, LSA_SIGNAL, SENTENCE_SIGNAL

    score = view.score
    late, query = getattr(score, "late", None), getattr(score, "query", None)
    out = {} if late is None else {LATE_SIGNAL: round(float(late[0]), 4)}
    if query is not None:
        out["+".join(query[1])] = round(float(query[0]), 4)
    for name, term in ((SENTENCE_SIGNAL, getattr(score, "sentence", None)), (DENSE_NQC, getattr(score, "nqc", None))):
        if term is not None:
            out[name] = round(float(term[0]), 4)
    if getattr(score, "lsa", None):
        out[LSA_SIGNAL] = round(float(score.lsa), 4)
        if getattr(score, "lsa_graph", False):
            out[LSA_GRAPH_SIGNAL] = round(float(score.lsa), 4)
    return out


def format_tables(r: dict) -> str:
    field = "" if r.get("query_field", "text") == "text" else f", queries from {r['query_field']!r}"
    if r.get("query_sample"):
        field += f", a seeded sample of {r['query_sample']} queries"
    if r.get("doc_sample"):
        field += f", a fixed sample of {r['n_docs']} docs"
    lines = [(f"{r['dataset']} ({r['qrels']}{field}) seed {r['seed']}, keep {r['keep_positives']}: {r['n_queries']} "
              f"queries, {r['n_candidates']} candidates, {r['fn_rate']:.1%} false negatives"),
             f"{'scorer':24s} {'AP':>6s} {'AUROC':>6s} {'P@50':>6s} {'P@100':>6s}"]
    for name, m in r["detection"].items():
        lines.append(f"{name:24s} {m['AP']:6.3f} {m['AUROC']:6.3f} {m['P@50']:6.2f} {m['P@100']:6.2f}")
    lo, hi = r["fn_risk_range"]
    v = r["view"]
    lines.append(f"fn_risk range [{lo:.3f}, {hi:.3f}], ECE {r['ECE']:.3f}; ranking view: "
                 + ("linear PU" if v is None else f"{v['name']} (Elkan-Noto c {v['c']:.3f}, "
                    f"{v['n_labelled']} labelled in the top region"
                    + "".join(f"; {k} fused at {w:.2f}" for k, w in v.get("fused", {}).items()) + ")"))
    for name, m in r.get("evidence", {}).items():
        lines.append(f"{name:24s} {m['AP']:6.3f} {m['AUROC']:6.3f} {m['P@50']:6.2f} {m['P@100']:6.2f}  "
                     "(new evidence, not a baseline)")
    if r.get("ceiling"):
        m = r["ceiling"]
        lines.append(f"{'ceiling of these signals':24s} {m['AP']:6.3f} {m['AUROC']:6.3f} {m['P@50']:6.2f} {m['P@100']:6.2f}  "
                     "(a fit on hidden labels, out of fold: a reference, not a bound; the scorer can pass it)")
    if r.get("late_interaction_s") is not None:
        how = "contextual, a second model pass" if r.get("maxsim") == "contextual" else "static word pieces"
        lines.append(f"token MaxSim ({how}): {r['late_interaction_s']:.1f} s wall")
    if r.get("lsa_s") is not None:
        lines.append(f"LSA space (truncated SVD of the BM25 index): {r['lsa_s']:.1f} s wall")
    if r.get("probe_calibration"):
        lines += ["", "the level from a random audit sample (the review queue's random order): ECE of the rest, static",
                  "-> shifted where the sample rejects the static level at 5% (mean of the draws):"]
        for row in r["probe_calibration"]:
            lines.append(f"{row['sample']:6d} judged at random: ECE {row['ECE_static']:.3f} -> {row['ECE_levelled']:.3f}"
                         f" (moved in {row['moved']:.0%} of {row['draws']} draws; worse by > 0.01 in {row['worse_draws']})")
    if r["learning_curve"]:
        lines += ["", "learning curve: the static queue's first N judged (hidden labels as the oracle); on the",
                  "still-unjudged candidates, static score | re-ranked from the judgments; false negatives found",
                  "in the first N by the static queue and by a queue re-ranking after every 25 (as the app does).",
                  "ECE here is of the log-odds as probabilities, before fn_risk's shrink toward the prior and its",
                  "[1%, 99%] squeeze (the ECE above is fn_risk's own):",
                  (f"{'judged':>6s} | {'AP':>6s} {'P@50':>5s} {'P@100':>5s} {'ECE':>6s} | "
                   f"{'AP':>6s} {'P@50':>5s} {'P@100':>5s} {'ECE':>6s} | found static/learning")]
        for row in r["learning_curve"]:
            s, L = row["static"], row["learned"]
            live = "-" if row["found_learning"] is None else str(row["found_learning"])
            lines.append(f"{row['judgments']:6d} | {s['AP']:6.3f} {s['P@50']:5.2f} {s['P@100']:5.2f} "
                         f"{s['ECE']:6.3f} | {L['AP']:6.3f} {L['P@50']:5.2f} {L['P@100']:5.2f} {L['ECE']:6.3f} | "
                         f"{row['found_static']}/{live}")
        heads = [row for row in r["learning_curve"] if row.get("headroom")]
        if heads:
            lines += ["", "headroom of the still-unjudged (AP; bounds that read the hidden labels): every query's level",
                      "set to its true share of false negatives | only the untouched queries' | a supervised fit (out of",
                      "fold) over the learner's features; share of the remaining false negatives in untouched queries:"]
            for row in heads:
                h = row["headroom"]
                lines.append(f"{row['judgments']:6d} | level oracle {h['level_oracle']:.3f} | untouched only "
                             f"{h['level_oracle_untouched']:.3f} | learner fit {h['learner_fit']:.3f} | "
                             f"{h['untouched_share_of_fn']:.0%} in untouched queries")
    return "\n".join(lines)


def main_kwargs(argv: list[str]) -> dict:
    """``python -m core.bench.fn_detection DIR [SEED] [SPLIT] [EMB_PREFIX] [KEEP] [QRELS] [flags]`` as keyword
    arguments of :func:`run_fn_detection` ("-" skips a positional). The flags (``--late-interaction``,
    ``--no-static-maxsim``, ``--query-field F``, ``--query-sample N``, ``--doc-sample N``) end the positionals, so a
    flag is never read as a path."""
    flags = {"--late-interaction": 0, "--no-static-maxsim": 0, "--query-field": 1, "--query-sample": 1,
             "--doc-sample": 1}
    first = next((i for i, a in enumerate(argv) if a.startswith("--")), len(argv))
    pos, rest = argv[:first], argv[first:]
    if not pos or len(pos) > 6:
        raise SystemExit("usage: python -m core.bench.fn_detection DIR [SEED] [SPLIT] [EMB_PREFIX] [KEEP] [QRELS] "
                         "[--late-interaction] [--no-static-maxsim] [--query-field F] [--query-sample N] "
                         "[--doc-sample N]")
    i, field, sample = 0, None, {"--query-sample": None, "--doc-sample": None}
    while i < len(rest):
        if rest[i] not in flags or i + flags[rest[i]] >= len(rest):
            raise SystemExit(f"fn_detection: unknown or incomplete option {rest[i]!r} (options: {', '.join(flags)})")
        if rest[i] == "--query-field":
            field = rest[i + 1]
        if rest[i] in sample:
            what = "queries" if rest[i] == "--query-sample" else "docs"
            if not rest[i + 1].isdigit() or int(rest[i + 1]) < 2:
                raise SystemExit(f"fn_detection: {rest[i]} takes a number of {what} (2 or more), not {rest[i + 1]!r}")
            sample[rest[i]] = int(rest[i + 1])
        i += 1 + flags[rest[i]]

    def at(k: int) -> str | None:
        return pos[k] if len(pos) > k and pos[k] != "-" else None

    return {"beir_dir": pos[0], "seed": int(at(1) or 0), "split": at(2) or "test", "embeddings": at(3),
            "keep_positives": int(at(4) or 1), "qrels_file": at(5), "late_interaction": "--late-interaction" in rest,
            "static_maxsim": "--no-static-maxsim" not in rest, "query_field": field,
            "query_sample": sample["--query-sample"], "doc_sample": sample["--doc-sample"]}


if __name__ == "__main__":
    run_fn_detection(**main_kwargs(sys.argv[1:]))
