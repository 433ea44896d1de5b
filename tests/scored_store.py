"""A really scored store for the UI tests: a SciFact subset through the product's own pipeline
(`core.ingest.ingest_beir` → `core.pipeline.run`: dense + BM25 mining, the learned fn_risk with
its reasons and signals, pooling bias), built once per test session.

The subset is the first test queries with their positives and the first docs of the corpus, plus
four hostile passages: near-duplicates of the first query's positive with HTML / markdown /
Streamlit markup added. A near-duplicate of a labelled positive is the classic false negative,
so the real scorer ranks them at the top of that query — where the UI tests meet them. Vectors
come from the committed demo export (no encoding) except the hostile passages', which the
packaged model encodes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT / "data" / "scifact"
EMBEDDINGS = ROOT / "data" / "scifact.minilm.emb.f16.npz"
HOSTILE_MARKUP = {
    "hostile-script": ("<script>alert(1)</script>", "<script>alert('x')</script>"),
    "hostile-img": ("Image", "<img src=x onerror=alert(1)>"),
    "hostile-bold": ("**bold** title", "**bold** and _em_ and `code` # heading"),
    "hostile-link": ("Link", "[x](javascript:alert(1)) :red[red] $x^2$ www.evil.com"),
}


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_subset(dst: Path, n_queries: int = 4, n_docs: int = 150) -> Path:
    """A BEIR folder: the first `n_queries` SciFact test queries, their positives, the first
    `n_docs` corpus docs and the hostile near-duplicates."""
    with (SCIFACT / "qrels" / "test.tsv").open(encoding="utf-8") as f:
        qrels = [r for r in csv.DictReader(f, delimiter="\t")]
    qids = list(dict.fromkeys(r["query-id"] for r in qrels))[:n_queries]
    qrels = [r for r in qrels if r["query-id"] in qids]
    positives = {r["corpus-id"] for r in qrels}
    corpus = _jsonl(SCIFACT / "corpus.jsonl")
    docs = [d for i, d in enumerate(corpus) if i < n_docs or d["_id"] in positives]
    first_pos = next(d for d in corpus if d["_id"] == qrels[0]["corpus-id"])
    docs += [{"_id": k, "title": f"{title} {first_pos['title']}",
              "text": f"{first_pos['text']} {markup}"}
             for k, (title, markup) in HOSTILE_MARKUP.items()]
    queries = [q for q in _jsonl(SCIFACT / "queries.jsonl") if q["_id"] in qids]
    (dst / "qrels").mkdir(parents=True, exist_ok=True)
    (dst / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (dst / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (dst / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
        f"{r['query-id']}\t{r['corpus-id']}\t{r['score']}\n" for r in qrels))
    return dst


def build_scored_store(db: Path, work: Path, name: str, n_queries: int = 4, n_docs: int = 150,
                       top_k: int = 5) -> Path:
    """Ingest, mine and score the subset into the DuckDB file `db` (cache under `work`)."""
    from core.demo import demo_encoder
    from core.encoders import seed_cache
    from core.encoders.encode import LazyEncoder
    from core.ingest import ingest_beir
    from core.pipeline import run
    from core.store import Store

    cache = work / "embeddings"
    seed_cache(EMBEDDINGS, str(cache))
    folder = write_subset(work / "beir", n_queries, n_docs)
    with Store.open(str(db)) as store:
        ingest_beir(store, folder, name)
        run(store, name, top_k=top_k, cache=str(cache), model=LazyEncoder(None, demo_encoder()))
    return db
