"""Corpora go in as they are: empty records are skipped and reported, not fatal (issue 13).

The fixtures are real SciFact records with hostile edits (tests/fixtures/beir_empty_docs,
msmarco_empty, st/triplets_empty.csv): an empty doc, a whitespace-only doc, two title-only docs, an
empty query, qrels naming the skipped records and one unknown id. The report must be in the ingest
result and stored with the dataset; `strict` must stop at the first empty record, naming
file/line/field.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from core.ingest import ingest_beir, ingest_msmarco, ingest_st, ingest_trec_qrels
from core.ingest.skips import META_KEY, counted, merge_skips, skip_lines, skip_summary
from core.types import InputError

BEIR_SKIPS = {
    "empty": {
        "docs": {"count": 2, "examples": ["4381486", "12486491"]},
        "queries": {"count": 1, "examples": ["1019"]},
        "qrels": {"count": 2, "examples": ["4381486", "1019"]},
    },
    "unknown": {"qrels": {"count": 1, "examples": ["99999999"]}},
}


def test_beir_with_empty_and_title_only_docs_imports(fixtures: Path, store) -> None:
    root = fixtures / "beir_empty_docs"
    out = ingest_beir(store, root, "hostile")
    assert (out["docs"], out["queries"], out["qrels"]) == (6, 7, 5)
    assert out["skipped_empty"] == BEIR_SKIPS["empty"]
    assert out["skipped_unknown"] == BEIR_SKIPS["unknown"]
    docs = store.docs("hostile").set_index("doc_id")
    assert "4381486" not in docs.index and "12486491" not in docs.index
    title_only = docs.loc[["9745001", "6277638"]]
    assert (title_only.text == "").all() and (title_only.title.str.len() > 20).all()
    qrels = store.qrels("hostile")
    assert "1019" not in set(qrels.query_id) and "4381486" not in set(qrels.doc_id)
    assert ("1012", "9745001") in set(zip(qrels.query_id, qrels.doc_id))  # title-only keeps labels
    assert store.dataset_info("hostile")["meta"][META_KEY] == BEIR_SKIPS


def test_beir_strict_stops_at_the_first_empty_record(fixtures: Path, store) -> None:
    with pytest.raises(InputError) as info:
        ingest_beir(store, fixtures / "beir_empty_docs", "hostile", strict=True)
    err = info.value
    assert (Path(err.path).name, err.line, err.field) == ("corpus.jsonl", 2, "text")
    assert "empty text and no title" in str(err)
    assert "hostile" not in store.dataset_names()


def test_skip_report_lines_name_counts_and_ids() -> None:
    lines = skip_lines(BEIR_SKIPS)
    assert lines[0] == "skipped 2 docs with neither title nor text (e.g. '4381486', '12486491')"
    assert "skipped 1 query with no text (e.g. '1019')" in lines[1]
    assert "2 qrels naming a skipped doc or query" in lines[2]
    assert "1 qrels line with an id unknown to the dataset (e.g. '99999999')" in lines[3]
    assert skip_summary(BEIR_SKIPS) == ("2 empty docs, 1 empty query, 2 qrels of skipped "
                                        "records, 1 unknown-id qrels")


@pytest.mark.parametrize("n,what,said", [
    (1, "queries with no text", "1 query with no text"),
    (2, "queries with no text", "2 queries with no text"),
    (1, "empty texts dropped from kept rows", "1 empty text dropped from kept rows"),
    (1, "queries with too few negatives", "1 query with too few negatives"),  # the first plural only
    (1, "duplicate run lines", "1 duplicate run line"),
    (1_234, "docs", "1,234 docs"),
    (1, "qrels already held", "1 qrel already held"),
])
def test_counted_says_one_in_the_singular(n: int, what: str, said: str) -> None:
    assert counted(n, what) == said
    assert skip_summary({}) == "-"


def test_replace_without_skips_clears_the_stored_report(fixtures: Path, store) -> None:
    ingest_beir(store, fixtures / "beir_empty_docs", "x")
    ingest_beir(store, fixtures / "beir_nfcorpus", "x", replace=True)
    assert META_KEY not in store.dataset_info("x")["meta"]


def test_trec_qrels_merge_their_skips_into_the_stored_report(tmp_path: Path, fixtures: Path,
                                                             store) -> None:
    ingest_beir(store, fixtures / "beir_empty_docs", "hostile")
    extra = tmp_path / "extra.txt"
    extra.write_text("1 0 31715818 2\n1 0 55555555 1\n1 0 66666666 1\n")
    out = ingest_trec_qrels(store, extra, "hostile", split="dev")
    assert out["qrels"] == 1 and out["skipped_unknown"]["qrels"]["count"] == 2
    stored = store.dataset_info("hostile")["meta"][META_KEY]
    assert stored["unknown"]["qrels"] == {"count": 3,
                                          "examples": ["99999999", "55555555", "66666666"]}
    assert stored["empty"] == BEIR_SKIPS["empty"]
    assert merge_skips(stored, {}) == stored


def test_msmarco_with_empty_passages_and_queries_imports(fixtures: Path, store) -> None:
    root = fixtures / "msmarco_empty"
    out = ingest_msmarco(store, root, "mm")
    assert (out["docs"], out["queries"], out["qrels"], out["candidates"]) == (6, 3, 2, 3)
    assert out["skipped_empty"] == {
        "docs": {"count": 2, "examples": ["32587939", "4422734"]},
        "queries": {"count": 1, "examples": ["105"]},
        "qrels": {"count": 2, "examples": ["32587939", "105"]},
        "triples": {"count": 1, "examples": ["4422734"]},
    }
    assert out["skipped_unknown"] == {"qrels": {"count": 1, "examples": ["77777777"]}}
    assert "4422734" not in set(store.candidates("mm").doc_id)
    assert store.dataset_info("mm")["meta"][META_KEY]["empty"]["docs"]["count"] == 2
    with pytest.raises(InputError) as info:
        ingest_msmarco(store, root, "mm_strict", strict=True)
    assert (Path(info.value.path).name, info.value.line, info.value.field) == (
        "collection.tsv", 2, "text")


def test_st_triplets_with_empty_cells_import(fixtures: Path, store) -> None:
    path = fixtures / "st" / "triplets_empty.csv"
    rows = list(csv.DictReader(path.open(newline="")))
    kept = [r for r in rows if r["anchor"].strip() and r["positive"].strip()]
    out = ingest_st(store, path, "st")
    assert out["skipped_empty"] == {"rows": {"count": 2, "examples": ["line 3", "line 4"]},
                                    "texts": {"count": 1, "examples": ["line 5"]}}
    assert out["queries"] == len({r["anchor"] for r in kept})
    assert out["qrels"] == len({(r["anchor"], r["positive"]) for r in kept})
    assert out["candidates"] == len({(r["anchor"], r["negative"]) for r in kept
                                     if r["negative"].strip()})
    assert "" not in set(store.docs("st").text.str.strip())
    assert store.dataset_info("st")["meta"][META_KEY]["empty"]["rows"]["count"] == 2
    with pytest.raises(InputError) as info:
        ingest_st(store, path, "st_strict", strict=True)
    assert (info.value.line, info.value.field) == (3, "anchor")


def test_st_ntuple_list_with_an_empty_negative(tmp_path: Path, store) -> None:
    path = tmp_path / "lists.jsonl"
    path.write_text(json.dumps({"q": "a query", "p": "its passage", "n": ["neg one", " ", None]})
                    + "\n" + json.dumps({"q": "other", "p": None, "n": ["neg two"]}) + "\n")
    out = ingest_st(store, path, "nt")
    assert out["candidates"] == 1 and out["queries"] == 1
    assert out["skipped_empty"] == {"texts": {"count": 2, "examples": ["line 1"]},
                                    "rows": {"count": 1, "examples": ["line 2"]}}


def test_datasets_page_shows_the_skips(tmp_path: Path, fixtures: Path, monkeypatch) -> None:
    """The app's Datasets page lists each dataset's stored skips and warns after an import."""
    from streamlit.testing.v1 import AppTest

    from core import auth
    from core.store import Store
    from core.store.engine import resolve_url

    root = Path(__file__).resolve().parents[2]
    monkeypatch.syspath_prepend(str(root))  # app.py imports `pages._ui`, as under `streamlit run`
    db = tmp_path / "app.duckdb"
    with Store.open(str(db)) as s:
        ingest_beir(s, fixtures / "beir_empty_docs", "hostile")
        auth.add_user(s, "boss", "admin", "pw-boss")
    monkeypatch.setenv("NEGAUDIT_DB", str(db))
    from pages._ui import _open_store

    try:
        _, token = auth.sign_in(_open_store(resolve_url(str(db))), "boss", "pw-boss")
        at = AppTest.from_file(str(root / "app.py"), default_timeout=60)
        at.query_params["session"] = token
        at.run()
        at.switch_page("pages/datasets.py")
        at.run()
        assert not at.exception, at.exception
        table = at.dataframe[0].value.set_index("name")
        assert table.loc["hostile", "skipped at import"].startswith("2 empty docs, 1 empty q")
        at.text_input[0].input(str(fixtures / "beir_empty_docs"))
        at.text_input(key="path_name").input("again")
        next(b for b in at.button if b.label == "Import folder").click().run()
        assert not at.exception and not at.error
        warnings = [w.value for w in at.warning]
        assert any("4381486" in w and "neither title nor text" in w for w in warnings), warnings
    finally:
        _open_store.clear()


def test_skip_report_is_stored_on_both_backends(store_url: str, fixtures: Path,
                                                tmp_path: Path) -> None:
    """merge_meta runs inside the import's transaction on DuckDB and PostgreSQL alike."""
    from core.store import Store

    with Store.open(store_url) as s:
        ingest_beir(s, fixtures / "beir_empty_docs", "hostile")
        extra = tmp_path / "extra.txt"
        extra.write_text("1 0 55555555 1\n")
        ingest_trec_qrels(s, extra, "hostile")
        meta = s.dataset_info("hostile")["meta"]
    assert meta["splits"] == "all"  # the writer's own meta survives the merge
    assert meta[META_KEY]["empty"] == BEIR_SKIPS["empty"]
    assert meta[META_KEY]["unknown"]["qrels"]["count"] == 2


def test_msmarco_unknown_triple_names_the_missing_id(fixtures: Path, store, tmp_path: Path) -> None:
    """The skip note's example is the id the collection lacks (it once named the triple's query)."""
    import shutil

    root = tmp_path / "mm"
    shutil.copytree(fixtures / "msmarco_empty", root)
    with (root / "triples.tsv").open("a") as f:
        f.write("0\t31715818\tnosuchdoc\n")
    out = ingest_msmarco(store, root, "mm")
    assert out["skipped_unknown"]["triples"] == {"count": 1, "examples": ["nosuchdoc"]}
