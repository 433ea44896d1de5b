"""Point look-ups of one review item (the card's texts, risk row, miners) and the small
aggregates the Insights page plots; every function takes the `Store`."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select, text

from core.store import schema as S
from core.store.base import frame
from core.store.store import Store


def risk_row(store: Store, dataset: str, query_id: str, doc_id: str) -> dict:
    """fn_risk, reasons and signals of one item ({} when unscored)."""
    r = S.risk.c
    with store.engine.connect() as conn:
        row = conn.execute(select(r.fn_risk, r.reasons, r.signals).where(
            r.dataset == dataset, r.query_id == query_id, r.doc_id == doc_id)).mappings().first()
    return dict(row) if row else {}


def item_candidates(store: Store, dataset: str, query_id: str, doc_id: str) -> pd.DataFrame:
    """The miners that proposed this (query, doc), with rank and score."""
    c = S.candidates.c
    q = select(c.miner, c.rank, c.score).where(
        c.dataset == dataset, c.query_id == query_id, c.doc_id == doc_id).order_by(c.rank)
    return frame(store.engine, q)


def query_text(store: Store, dataset: str, query_id: str) -> str:
    with store.engine.connect() as conn:
        return conn.execute(select(S.queries.c.text).where(
            S.queries.c.dataset == dataset, S.queries.c.query_id == query_id)).scalar() or ""


def card_docs(store: Store, dataset: str, query_id: str, doc_id: str, max_positives: int = 3
              ) -> tuple[list[str], pd.DataFrame]:
    """All positive ids of a query, and the texts of the candidate + the first positives (1 query)."""
    sql = text("""
        WITH pos AS (SELECT doc_id, max(relevance) AS rel FROM qrels
                     WHERE dataset = :d AND query_id = :q AND relevance > 0 GROUP BY doc_id),
        ranked AS (SELECT doc_id, row_number() OVER (ORDER BY rel DESC, doc_id) AS rn FROM pos)
        SELECT r.doc_id AS pos_id, r.rn, d.doc_id, d.title, d.text
        FROM ranked r LEFT JOIN docs d ON d.dataset = :d AND d.doc_id = r.doc_id
                                       AND r.rn <= :m
        UNION ALL
        SELECT NULL, NULL, doc_id, title, text FROM docs WHERE dataset = :d AND doc_id = :c""")
    with store.engine.connect() as conn:
        rows = conn.execute(sql, {"d": dataset, "q": query_id, "c": doc_id,
                                  "m": int(max_positives)}).fetchall()
    pos = [r[0] for r in sorted((r for r in rows if r[0] is not None), key=lambda r: r[1])]
    docs = pd.DataFrame([(r[2], r[3], r[4]) for r in rows if r[2] is not None],
                        columns=["doc_id", "title", "text"]).drop_duplicates("doc_id")
    return pos, docs


def miners(store: Store, dataset: str) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT DISTINCT miner FROM candidates WHERE dataset = :d ORDER BY miner"),
            {"d": dataset}).scalars())


def candidate_queries(store: Store, dataset: str, limit: int = 5000) -> list[tuple[str, str]]:
    """(query_id, text) of the queries with candidates, by id: the query pickers show what each id asks."""
    sql = text(f"""
        SELECT c.query_id, coalesce(q.text, '') AS text
        FROM (SELECT DISTINCT query_id FROM candidates WHERE dataset = :d) c
        LEFT JOIN queries q ON q.dataset = :d AND q.query_id = c.query_id
        ORDER BY c.query_id LIMIT {int(limit)}""")
    with store.engine.connect() as conn:
        return [(str(q), str(t)) for q, t in conn.execute(sql, {"d": dataset})]


def rank_risk_summary(store: Store, dataset: str) -> pd.DataFrame:
    """Mean fn_risk and item count per best rank (each item once, at its best rank over the miners, as
    the judged FN rate buckets it: per (miner, rank) an item found by two miners counted twice)."""
    sql = text("""
        SELECT b.rank, avg(r.fn_risk) AS mean_risk, count(*) AS n
        FROM (SELECT query_id, doc_id, min(rank) AS rank FROM candidates WHERE dataset = :d
              GROUP BY query_id, doc_id) b
        JOIN risk r ON r.dataset = :d AND r.query_id = b.query_id AND r.doc_id = b.doc_id
        GROUP BY b.rank ORDER BY b.rank""")
    return frame(store.engine, sql, {"d": dataset})


def risk_histogram(store: Store, dataset: str, bins: int = 20) -> pd.DataFrame:
    """Counts of all items per fn_risk bin (the unjudged bulk), aggregated in SQL."""
    sql = text(f"""
        SELECT least(floor(fn_risk * {int(bins)}), {int(bins) - 1}) AS bin, count(*) AS n
        FROM risk WHERE dataset = :d GROUP BY 1 ORDER BY 1""")
    return frame(store.engine, sql, {"d": dataset})


def items_detail(store: Store, dataset: str, keys: pd.DataFrame) -> pd.DataFrame:
    """fn_risk and best rank for a (small) set of judged items."""
    if keys.empty:
        return pd.DataFrame(columns=["query_id", "doc_id", "fn_risk", "rank", "miner"])
    raw = store.engine.raw_connection()
    try:
        if store.is_duckdb:
            con = raw.driver_connection
            con.register("_keys", keys[["query_id", "doc_id"]].drop_duplicates())
            try:
                return con.execute("""
                    SELECT k.query_id, k.doc_id, r.fn_risk, c.rank, c.miner
                    FROM _keys k
                    LEFT JOIN risk r ON r.dataset = ? AND r.query_id = k.query_id
                                     AND r.doc_id = k.doc_id
                    LEFT JOIN (SELECT query_id, doc_id, min(rank) AS rank, min(miner) AS miner
                               FROM candidates WHERE dataset = ? GROUP BY query_id, doc_id) c
                      ON c.query_id = k.query_id AND c.doc_id = k.doc_id""",
                    [dataset, dataset]).df()
            finally:
                con.unregister("_keys")
    finally:
        raw.close()
    if store.is_postgres:  # the keys travel as two arrays; one hash join per big table
        k = keys[["query_id", "doc_id"]].drop_duplicates()
        sql = text("""
            WITH k AS (SELECT * FROM unnest(CAST(:q AS text[]), CAST(:c AS text[]))
                       AS k(query_id, doc_id)),
            c AS (SELECT c.query_id, c.doc_id, min(c.rank) AS rank, min(c.miner) AS miner
                  FROM candidates c JOIN k ON c.query_id = k.query_id AND c.doc_id = k.doc_id
                  WHERE c.dataset = :d GROUP BY c.query_id, c.doc_id)
            SELECT k.query_id, k.doc_id, r.fn_risk, c.rank, c.miner
            FROM k
            LEFT JOIN risk r ON r.dataset = :d AND r.query_id = k.query_id
                             AND r.doc_id = k.doc_id
            LEFT JOIN c ON c.query_id = k.query_id AND c.doc_id = k.doc_id""")
        return frame(store.engine, sql, {"d": dataset, "q": k.query_id.astype(str).tolist(),
                                   "c": k.doc_id.astype(str).tolist()})
    risk = store.risk(dataset)[["query_id", "doc_id", "fn_risk"]]
    cand = (store.candidates(dataset).groupby(["query_id", "doc_id"], as_index=False)
            .agg(rank=("rank", "min"), miner=("miner", "min")))
    return keys.merge(risk, how="left").merge(cand, how="left")
