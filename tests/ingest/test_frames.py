"""`core.ingest.load_beir`: a BEIR folder in memory holds exactly what `ingest_beir` stores."""

from __future__ import annotations

from pathlib import Path

from core.ingest import ingest_beir, load_beir
from core.ingest.skips import skips_of


def test_load_beir_matches_the_store(fixtures: Path, store) -> None:
    root = fixtures / "beir_scifact"
    data = load_beir(root, "test")
    ingest_beir(store, root, "sf", splits=["test"])
    assert sorted(data.doc_ids) == sorted(store.docs("sf")["doc_id"])
    stored = store.qrels("sf", "test")
    assert sorted(zip(data.qrels.query_id, data.qrels.doc_id, data.qrels.relevance)) == \
        sorted(zip(stored.query_id, stored.doc_id, stored.relevance.astype(int)))
    assert set(data.qrels.split) == {"test"}
    assert len(data.queries) == len(store.queries("sf"))


def test_every_split_and_records(fixtures: Path) -> None:
    root = fixtures / "beir_scifact"
    every, test = load_beir(root, None), load_beir(root, "test")
    assert set(every.qrels.split) == {"train", "test"}
    queries, docs, qrels = test.records(max_queries=3)
    assert len(queries) == 3 and len(docs) == len(test.docs)
    assert {q.query_id for q in queries} == {r.query_id for r in qrels}
    assert all(r.relevance > 0 and r.split == "test" for r in qrels)
    judged = set(test.judged_queries().query_id)
    assert {q.query_id for q in queries} <= judged
    first = test.docs.iloc[0]
    assert test.doc_texts[0] == (f"{first.title.strip()} {first.text}" if first.title.strip()
                                 else first.text)


def test_what_ingest_skips_is_skipped_and_reported(fixtures: Path) -> None:
    data = load_beir(fixtures / "beir_empty_docs", None)
    assert "4381486" not in set(data.doc_ids)  # empty title and text: not a doc
    assert skips_of(data.report)
