"""`negaudit bench scoring`: what scoring costs on a big corpus with supplied vectors, step by step.

Users with a big corpus bring its vectors (`negaudit ingest embeddings`), so mining encodes nothing and
the scorer is the rest of the bill. This bench grows the bundled SciFact (``data/scifact`` and its
committed vectors) ``docs_x`` times and its queries ``queries_x`` times, then runs the pipeline as a user
would, each step a whole CLI process (its wall, CPU seconds and peak RSS its own, ``wait4``):
``ingest beir`` → ``ingest embeddings`` → ``mine`` → ``score``. The mining step is the reference: the
same candidates, so *score / mine* says what the scorer adds on top.

How the corpus grows (texts stay real, vectors stay consistent with them): copy 0 of every doc and query
is the original; a later copy of a doc drops one of its sentences and appends the first sentence of
another random doc, its vector the normalised sum of the two originals' (weight 0.3 on the other) plus a
little noise; a later copy of a query drops about 15% of its words, its vector the original's plus noise.
Each query copy keeps its original's labelled docs, each at a random copy of that doc. The figures are
costs, not detection quality: the copies are near-duplicates by construction.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.bench.mining import _env, _spawn

ROOT = Path(__file__).resolve().parents[2]
SCIFACT = ROOT / "data" / "scifact"
VECTORS = ROOT / "data" / "scifact.minilm.emb.f16.npz"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
STEPS = ("ingest", "embeddings", "mine", "score")


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text) if s]


def grow_scifact(out: Path, docs_x: int, queries_x: int, seed: int = 0, source: Path = SCIFACT,
                 vectors: Path = VECTORS) -> dict[str, Any]:
    """A BEIR folder ``out`` (qrels split ``train``) and ``out.npz`` of its vectors, grown from ``source``."""
    rng = np.random.default_rng(seed)
    with np.load(vectors) as z:  # each z[...] reads the archive again: read both once
        emb, keys = z["embeddings"].astype(np.float32), z["ids"].tolist()
    vec = dict(zip(keys, emb))
    docs = [json.loads(line) for line in (source / "corpus.jsonl").open()]
    queries = [json.loads(line) for line in (source / "queries.jsonl").open()]
    qrels: dict[str, list[str]] = {}
    for f in sorted((source / "qrels").glob("*.tsv")):
        for line in f.read_text().splitlines()[1:]:
            q, d, s = line.split("\t")
            if float(s) > 0:
                qrels.setdefault(q, []).append(d)
    out.mkdir(parents=True, exist_ok=True)
    (out / "qrels").mkdir(exist_ok=True)
    ids, kinds, rows = [], [], []
    with (out / "corpus.jsonl").open("w") as fo:
        for j in range(docs_x):
            for doc in docs:
                base = vec[f"doc:{doc['_id']}"]
                if j == 0:
                    did, text, v = doc["_id"], doc["text"], base
                else:
                    other = docs[int(rng.integers(len(docs)))]
                    ss = _sentences(doc["text"]) or [""]
                    drop = int(rng.integers(len(ss)))
                    text = " ".join([*ss[:drop], *ss[drop + 1:], *_sentences(other["text"])[:1]])
                    did = f"{doc['_id']}~{j}"
                    v = base + 0.3 * vec[f"doc:{other['_id']}"] + rng.normal(0, 0.02, base.shape)
                fo.write(json.dumps({"_id": did, "title": doc.get("title", ""), "text": text}) + "\n")
                ids.append(did)
                kinds.append("doc")
                rows.append(_unit(v))  # the committed vectors are float16: re-normalised too
    pairs = []
    with (out / "queries.jsonl").open("w") as fo:
        for j in range(queries_x):
            for query in queries:
                if query["_id"] not in qrels:
                    continue
                base = vec[f"query:{query['_id']}"]
                words = query["text"].split()
                if j:
                    words = [w for w in words if rng.random() > 0.15] or words
                qid = query["_id"] if j == 0 else f"{query['_id']}~{j}"
                fo.write(json.dumps({"_id": qid, "text": " ".join(words)}) + "\n")
                ids.append(qid)
                kinds.append("query")
                rows.append(_unit(base if j == 0 else base + rng.normal(0, 0.02, base.shape)))
                for d in qrels[query["_id"]]:
                    copy = int(rng.integers(docs_x))
                    pairs.append((qid, d if copy == 0 else f"{d}~{copy}"))
    with (out / "qrels" / "train.tsv").open("w") as fo:
        fo.write("query-id\tcorpus-id\tscore\n")
        fo.writelines(f"{q}\t{d}\t1\n" for q, d in pairs)
    np.savez(out.with_suffix(".npz"), ids=np.array(ids), kinds=np.array(kinds),
             vectors=np.stack(rows).astype(np.float32), model=np.array(MODEL))
    return {"docs": kinds.count("doc"), "queries": kinds.count("query"), "qrels": len(pairs)}


def _commands(folder: Path, db: Path, top_k: int) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "core.cli"]
    return {
        "ingest": [*cli, "ingest", "beir", str(folder), "--name", "grown", "--db", str(db)],
        "embeddings": [*cli, "ingest", "embeddings", str(folder.with_suffix(".npz")), "--into", "grown",
                       "--db", str(db)],
        "mine": [*cli, "mine", "--name", "grown", "--db", str(db), "--top-k", str(top_k)],
        "score": [*cli, "score", "--name", "grown", "--db", str(db)],
    }


def run_scoring_bench(docs_x: int = 20, queries_x: int = 9, top_k: int = 30, seed: int = 0,
                      work_dir: str | Path | None = None, verbose: bool = True) -> dict[str, Any]:
    """Grow SciFact, then time ingest / supplied vectors / mine / score, each in its own process."""
    with tempfile.TemporaryDirectory(prefix="negaudit-bench-scoring-") as tmp:
        work = Path(work_dir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        folder, db = work / "grown", work / "grown.duckdb"
        db.unlink(missing_ok=True)
        t0 = time.perf_counter()
        sizes = grow_scifact(folder, docs_x, queries_x, seed)
        result: dict[str, Any] = {**sizes, "docs_x": docs_x, "queries_x": queries_x, "top_k": top_k,
                                  "seed": seed, "grow_s": time.perf_counter() - t0, "cpu_count": os.cpu_count()}
        env = _env(work / "cache")  # a cache of its own: the grown texts never reach the user's
        for step, cmd in _commands(folder, db, top_k).items():
            if verbose:
                print(f"{step} ... (load {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
            log = work / f"{step}.log"
            result[step] = {**_spawn(cmd, env, log), "said": log.read_text().strip().splitlines()[-1:]}
    if verbose:
        print(format_report(result))
    return result


def format_report(r: dict[str, Any]) -> str:
    lines = [(f"SciFact grown {r['docs_x']}x docs / {r['queries_x']}x queries: {r['docs']:,} docs, "
              f"{r['queries']:,} queries, {r['qrels']:,} qrels, top-{r['top_k']}; {r['cpu_count']} cores"),
             f"{'step':<12}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}{'load':>11}"]
    for step in STEPS:
        s = r[step]
        lines.append(f"{step:<12}{s['process_wall_s']:>9.1f}{s['cpu_s']:>9.1f}{s['peak_rss_mb']:>13,.0f}"
                     f"{s['load_1m_before']:>6.1f}>{s['load_1m_after']:.1f}")
    mine, score = r["mine"], r["score"]
    lines.append(f"score / mine: {score['process_wall_s'] / mine['process_wall_s']:.2f}x wall, "
                 f"{score['cpu_s'] / mine['cpu_s']:.2f}x CPU")
    lines += [f"  {step}: {r[step]['said'][0]}" for step in ("mine", "score") if r[step]["said"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--docs-x", type=int, default=20)
    p.add_argument("--queries-x", type=int, default=9)
    p.add_argument("--top-k", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work-dir")
    p.add_argument("--json", dest="json_out")
    a = p.parse_args(argv)
    r = run_scoring_bench(a.docs_x, a.queries_x, a.top_k, a.seed, a.work_dir)
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(r, indent=2, default=str))


if __name__ == "__main__":
    main()
