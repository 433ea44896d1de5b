"""Bad input of every reader gives an InputError naming file, line and field — and no dataset.

Structural errors (bad JSON, missing fields, wrong types, bad numbers) fail in both modes; an empty
record fails only with `strict` (the default skips and reports it: see test_skips.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from core.ingest import ingest_beir, ingest_msmarco, ingest_st, ingest_trec_qrels, ingest_trec_run
from core.types import InputError

DOC = '{"_id": "d1", "title": "", "text": "hello"}'


def _beir(tmp: Path, corpus: str | bytes = DOC + "\n", queries: str = '{"_id": "q1", "text": "hi"}\n',
          qrels: str = "query-id\tcorpus-id\tscore\nq1\td1\t1\n") -> Path:
    root = tmp / "beir"
    (root / "qrels").mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_bytes(corpus if isinstance(corpus, bytes) else corpus.encode())
    (root / "queries.jsonl").write_text(queries)
    (root / "qrels" / "test.tsv").write_text(qrels)
    return root


BEIR_CASES = [
    # (corpus, queries, qrels, file, line, field, message)
    (DOC + "\n{bad json\n", None, None, "corpus.jsonl", 2, None, "bad JSON"),
    ('{"title": "t", "text": "x"}\n', None, None, "corpus.jsonl", 1, "_id", "missing field"),
    ('{"_id": 5, "text": "x"}\n', None, None, "corpus.jsonl", 1, "_id", "ids must be strings"),
    ('{"_id": "d1"}\n', None, None, "corpus.jsonl", 1, "text", "missing field"),
    ('{"_id": "d1", "text": 7}\n', None, None, "corpus.jsonl", 1, "text", "expected text"),
    ('{"_id": "d1", "text": NaN}\n', None, None, "corpus.jsonl", 1, "text", "expected text"),
    (DOC + '\n{"_id": "d1", "text": "other"}\n', None, None, "corpus.jsonl", 2, "_id",
     "different text"),
    ('[1, 2]\n', None, None, "corpus.jsonl", 1, None, "JSON object"),
    (None, '{"_id": "q1"}\n', None, "queries.jsonl", 1, "text", "missing field"),
    (None, None, "query-id\tcorpus-id\tscore\nq1\td1\t1.5\n", "test.tsv", 2, "score",
     "integer"),
    (None, None, "q1\td1\n", "test.tsv", 1, None, "3 tab-separated fields"),
    ("\n", None, "query-id\tcorpus-id\tscore\n", "corpus.jsonl", None, None, "no docs"),  # once imported
    (None, "\n", "query-id\tcorpus-id\tscore\n", "queries.jsonl", None, None, "no queries"),
]
BEIR_STRICT_CASES = [  # empty records: skipped by default, errors with strict
    (DOC + '\n{"_id": "d2", "text": ""}\n', None, None, "corpus.jsonl", 2, "text", "empty text"),
    (DOC + '\n{"_id": "d2", "title": " ", "text": null}\n', None, None, "corpus.jsonl", 2,
     "text", "empty text and no title"),
    (None, '{"_id": "q1", "text": "hi"}\n{"_id": "q2", "text": "  "}\n', None, "queries.jsonl", 2,
     "text", "empty text"),
    (None, None, "query-id\tcorpus-id\tscore\nq1\td9\t1\n", "test.tsv", 2, "corpus-id",
     "unknown id 'd9'"),
]


def _beir_error(tmp_path: Path, store, corpus, queries, qrels, file, line, field, message,
                strict: bool) -> None:
    kwargs = {k: v for k, v in (("corpus", corpus), ("queries", queries), ("qrels", qrels)) if v}
    root = _beir(tmp_path, **kwargs)
    with pytest.raises(InputError, match=message) as info:
        ingest_beir(store, root, "bad", strict=strict)
    err = info.value
    assert Path(err.path).name == file and err.line == line and err.field == field
    assert "bad" not in store.dataset_names()


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("corpus,queries,qrels,file,line,field,message", BEIR_CASES)
def test_beir_errors(tmp_path: Path, store, corpus, queries, qrels, file, line, field,
                     message, strict: bool) -> None:
    _beir_error(tmp_path, store, corpus, queries, qrels, file, line, field, message, strict)


@pytest.mark.parametrize("corpus,queries,qrels,file,line,field,message", BEIR_STRICT_CASES)
def test_beir_strict_errors(tmp_path: Path, store, corpus, queries, qrels, file, line, field,
                            message) -> None:
    _beir_error(tmp_path, store, corpus, queries, qrels, file, line, field, message, True)
    kwargs = {k: v for k, v in (("corpus", corpus), ("queries", queries), ("qrels", qrels)) if v}
    out = ingest_beir(store, _beir(tmp_path, **kwargs), "lenient")  # the default skips instead
    assert out.get("skipped_empty") or out.get("skipped_unknown")


@pytest.mark.parametrize("strict", [False, True])
def test_empty_title_is_fine_empty_text_with_title_too(tmp_path: Path, store,
                                                       strict: bool) -> None:
    corpus = (DOC + '\n{"_id": "d2", "title": "A title", "text": ""}\n'
              + '{"_id": "d3", "title": "Only a title"}\n')
    out = ingest_beir(store, _beir(tmp_path, corpus), "ok", strict=strict)
    assert out["docs"] == 3 and "skipped_empty" not in out
    docs = store.docs("ok").set_index("doc_id")
    assert docs.loc["d3", "title"] == "Only a title" and docs.loc["d3", "text"] == ""


@pytest.mark.parametrize("raw,message", [
    (DOC.encode() + b'\n{"_id": "d2", "text": "caf\xe9"}\n', "not UTF-8"),
    (DOC.encode("utf-16"), "the encoding is UTF-16, not UTF-8; re-save the file as UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary data|not UTF-8"),
])
def test_encoding_and_binary(tmp_path: Path, store, raw: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        ingest_beir(store, _beir(tmp_path, raw), "bad")
    assert info.value.line is not None


def test_utf8_bom_is_fine(tmp_path: Path, store) -> None:
    raw = b"\xef\xbb\xbf" + DOC.encode() + b"\n"
    assert ingest_beir(store, _beir(tmp_path, raw), "ok")["docs"] == 1


@pytest.mark.parametrize("missing", ["corpus.jsonl", "queries.jsonl", "qrels"])
def test_beir_missing_files(tmp_path: Path, store, missing: str) -> None:
    root = _beir(tmp_path)
    target = root / missing
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(InputError, match="missing required"):
        ingest_beir(store, root, "bad")


def test_bad_late_line_leaves_no_partial_dataset(tmp_path: Path, store) -> None:
    """The docs chunks are written before the bad qrels line: the whole import must roll back."""
    corpus = "".join(f'{{"_id": "d{i}", "text": "t{i}"}}\n' for i in range(50))
    qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\tx\n"
    root = _beir(tmp_path, corpus, qrels=qrels)
    with pytest.raises(InputError, match="line 3"):
        ingest_beir(store, root, "bad", chunk_rows=4)
    assert "bad" not in store.dataset_names()
    assert store.docs("bad").empty and store.qrels("bad").empty


ST_CASES = [
    ("x.jsonl", '{"a": "q", "p": "d"}\n{"a": "q"}\n', 2, "p", "missing field"),
    ("x.jsonl", '{"a": "q", "p": "d"}\n{"a": 3, "p": "d"}\n', 2, "a", "expected text"),
    ("x.jsonl", '{"a": "q"}\n', None, None, "at least 2 columns"),
    ("x.csv", "a,p,n\nq,d,e\nq,d\n", 3, None, "expected 3 fields"),
    ("x.csv", "s1,s2,label\nq,d,1\nq,e,yes\n", 3, "label", "expected a number"),
    ("x.csv", "s1,s2,label\nq,d,1\nq,e,inf\n", 3, "label", "expected a finite number"),
    ("x.csv", "anchor,anchor,negative\nq,p,n\n", 1, "anchor", "names column .anchor. twice"),
    ("x.jsonl", '{"q": "a", "docs": ["x", "y"], "labels": [1]}\n', 1, "labels",
     "1 labels for 2 documents"),
    ("x.txt", "a,b\n", None, None, "unsupported file type"),
]


ST_STRICT_CASES = [  # empty texts: skipped by default, errors with strict
    ("x.jsonl", '{"a": "q", "p": "d"}\n{"a": "q", "p": ""}\n', 2, "p", "empty text"),
    ("x.jsonl", '{"a": "q", "p": "d"}\n{"a": null, "p": "d"}\n', 2, "a", "missing text"),
    ("x.csv", "a,p,n\nq,d,e\nq2,d,\n", 3, "n", "empty text"),
]


def _st_rejects(store, path: Path, line, field, message, strict: bool) -> None:
    """The import fails naming line and field, and leaves no dataset behind."""
    with pytest.raises(InputError, match=message) as info:
        ingest_st(store, path, "bad", strict=strict)
    assert info.value.line == line and info.value.field == field
    assert "bad" not in store.dataset_names()


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("name,content,line,field,message", ST_CASES)
def test_st_errors(tmp_path: Path, store, name, content, line, field, message,
                   strict: bool) -> None:
    path = tmp_path / name
    path.write_text(content)
    _st_rejects(store, path, line, field, message, strict)


@pytest.mark.parametrize("name,content,line,field,message", ST_STRICT_CASES)
def test_st_strict_errors(tmp_path: Path, store, name, content, line, field, message) -> None:
    path = tmp_path / name
    path.write_text(content)
    _st_rejects(store, path, line, field, message, strict=True)
    assert ingest_st(store, path, "lenient")["skipped_empty"]  # the default skips instead


def test_st_parquet_errors_name_the_row(tmp_path: Path, store) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": ["q", "q2"], "p": ["d", None]}), path)
    with pytest.raises(InputError, match="row 2: missing text") as info:
        ingest_st(store, path, "bad", strict=True)
    assert info.value.field == "p"
    out = ingest_st(store, path, "lenient")
    assert out["skipped_empty"] == {"rows": {"count": 1, "examples": ["row 2"]}}
    (tmp_path / "y.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="not a readable parquet"):
        ingest_st(store, tmp_path / "y.parquet", "bad")


@pytest.mark.parametrize("spec,message", [
    ("anchor=q,positive=nope", "no such column"),
    ("positive=p", "anchor"),
    ("anchor=q,bogus=p", "unknown role"),
    ("anchor=q,p", "bare column"),
    ("anchor=q", "name a positive"),  # queries alone: once 40 queries, 0 docs and no error
    ("anchor=q,positive=q", "plays two roles"),
])
def test_st_bad_columns_spec(tmp_path: Path, store, spec: str, message: str) -> None:
    path = tmp_path / "x.csv"
    path.write_text("q,p\na,b\n")
    with pytest.raises(InputError, match=message):
        ingest_st(store, path, "bad", columns=spec)


MSMARCO_CASES = [
    ("collection.tsv", "d1 no tab here\n", 1, "text", "no tab"),
    ("collection.tsv", "d1\ta\nd1\tb\n", 2, "pid", "different text"),
    ("queries.tsv", "q1\tx\nq1\ty\n", 2, "qid", "different text"),
    ("qrels.tsv", "q1 0 d1 high\n", 1, "relevance", "integer"),
    ("qrels.tsv", "q1 0 d1 1 extra\n", 1, None, "fields"),
    ("triples.tsv", "q1\td1\n", 1, None, "negative pid"),
]


MSMARCO_STRICT_CASES = [  # empty records: skipped by default, errors with strict
    ("collection.tsv", "d1\tone\nd2\t \n", 2, "text", "empty text"),
    ("queries.tsv", "q1\tquery\nq2\t\n", 2, "text", "empty text"),
]


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("file,content,line,field,message,strict_only",
                         [(*c, False) for c in MSMARCO_CASES]
                         + [(*c, True) for c in MSMARCO_STRICT_CASES])
def test_msmarco_errors(tmp_path: Path, store, file, content, line, field, message,
                        strict_only: bool, strict: bool) -> None:
    (tmp_path / "collection.tsv").write_text("d1\tone\nd2\ttwo\n")
    (tmp_path / "queries.tsv").write_text("q1\tquery\n")
    (tmp_path / "qrels.tsv").write_text("q1\t0\td1\t1\n")
    (tmp_path / file).write_text(content)
    if strict_only and not strict:
        assert ingest_msmarco(store, tmp_path, "lenient")["skipped_empty"]
        return
    with pytest.raises(InputError, match=message) as info:
        ingest_msmarco(store, tmp_path, "bad", strict=strict)
    assert Path(info.value.path).name == file
    assert info.value.line == line and info.value.field == field
    assert "bad" not in store.dataset_names()


def test_msmarco_missing_collection(tmp_path: Path, store) -> None:
    (tmp_path / "queries.tsv").write_text("q1\tquery\n")
    with pytest.raises(InputError, match="collection.tsv.*missing required"):
        ingest_msmarco(store, tmp_path, "bad")


def test_msmarco_text_triples_rejected_strict(tmp_path: Path, store) -> None:
    (tmp_path / "collection.tsv").write_text("d1\tone\n")
    (tmp_path / "queries.tsv").write_text("q1\tquery\n")
    (tmp_path / "triples.tsv").write_text("a query\tsome passage\tanother passage\n")
    with pytest.raises(InputError, match="only id triples"):
        ingest_msmarco(store, tmp_path, "bad", strict=True)


@pytest.mark.parametrize("content,line,field,message", [
    ("q1 Q0 d1 one 1.0 run\n", 1, "rank", "integer"),
    ("q1 Q0 d1 -1 1.0 run\n", 1, "rank", "cannot be negative"),
    ("q1 Q0 d1 1 high run\n", 1, "score", "number"),
    ("q1 Q0 d1 1 1.0\n", 1, None, "6 fields|got 5"),
])
def test_trec_run_errors(tmp_path: Path, store, content, line, field, message) -> None:
    _base(tmp_path, store)
    run = tmp_path / "run.txt"
    run.write_text("q1 Q0 d2 1 2.0 run\n" * 0 + content)
    with pytest.raises(InputError, match=message) as info:
        ingest_trec_run(store, run, "base")
    assert info.value.line == line and info.value.field == field
    assert store.candidates("base").empty


def test_trec_qrels_errors_roll_back(tmp_path: Path, store) -> None:
    _base(tmp_path, store)
    q = tmp_path / "q.txt"
    q.write_text("q1 0 d1 1\n" * 3 + "q1 0 d2 x\n")
    with pytest.raises(InputError, match="line 4"):
        ingest_trec_qrels(store, q, "base", chunk_rows=2)
    assert len(store.qrels("base")) == 1


def test_a_trec_qrels_line_without_its_relevance_says_so(tmp_path: Path, store) -> None:
    _base(tmp_path, store)
    q = tmp_path / "q.txt"
    q.write_text("q1 0 d1 1\nq1 0 d2\n")
    with pytest.raises(InputError, match="a TREC qrels line has 4") as info:
        ingest_trec_qrels(store, q, "base")
    assert info.value.line == 2 and info.value.field == "relevance"


@pytest.mark.parametrize("kind", ["qrels", "run"])
def test_an_empty_trec_file_is_an_error_not_nothing_added(tmp_path: Path, store, kind: str) -> None:
    _base(tmp_path, store)
    empty = tmp_path / f"empty.{kind}"
    empty.write_text("\n# only a comment\n" if kind == "qrels" else "\n")
    with pytest.raises(InputError, match=f"empty file: no {kind} lines"):
        (ingest_trec_qrels if kind == "qrels" else ingest_trec_run)(store, empty, "base")
    assert len(store.qrels("base")) == 1 and store.candidates("base").empty


def test_a_csv_error_names_the_first_line_of_a_multi_line_record(tmp_path: Path, store) -> None:
    """A quoted passage spanning lines made the error name the record's last line (21 for record 5)."""
    f = tmp_path / "ml.csv"
    f.write_text('anchor,positive,negative\nq1,p1,n1\nq2,"multi\nline\npositive",n2\nq3,"a\nb",n3,extra\n')
    with pytest.raises(InputError, match="got 4 \\(the record runs to line 7\\)") as info:
        ingest_st(store, f, "ml")
    assert info.value.line == 6


def _base(tmp_path: Path, store) -> None:
    root = _beir(tmp_path, DOC + '\n{"_id": "d2", "text": "two"}\n')
    ingest_beir(store, root, "base")


BIG = "a long passage, " * 700_000  # ~11 MB in one field


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "parquet", "beir", "msmarco"])
def test_a_10mb_passage_imports_exactly(tmp_path: Path, store, fmt: str) -> None:
    """One huge field is data, not an error (Python's csv module stops at 128 KiB by default)."""
    if fmt in ("csv", "tsv", "jsonl", "parquet"):
        path = tmp_path / f"big.{fmt}"
        if fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"a": ["query"], "p": [BIG]}), path)
        elif fmt == "jsonl":
            path.write_text(json.dumps({"a": "query", "p": BIG}) + "\n")
        else:
            sep = "," if fmt == "csv" else "\t"
            path.write_text(f"a{sep}p\nquery{sep}\"{BIG}\"\n")
        ingest_st(store, path, "big")
    elif fmt == "beir":
        ingest_beir(store, _beir(tmp_path, json.dumps({"_id": "d1", "text": BIG}) + "\n"), "big")
    else:
        (tmp_path / "collection.tsv").write_text(f"d1\t{BIG}\n")
        (tmp_path / "queries.tsv").write_text("q1\tquery\n")
        (tmp_path / "qrels.tsv").write_text("q1\t0\td1\t1\n")
        ingest_msmarco(store, tmp_path, "big")
    assert store.docs("big").text.tolist() == [BIG]


def test_duplicate_ids_with_the_same_text_and_extra_fields_are_fine(tmp_path: Path, store) -> None:
    corpus = (DOC + "\n" + DOC + "\n"
              + '{"_id": "d2", "text": "two", "metadata": {"url": "x"}, "extra": 1}\n')
    out = ingest_beir(store, _beir(tmp_path, corpus), "ok")
    assert out["docs"] == 2 and sorted(store.docs("ok").doc_id) == ["d1", "d2"]


@pytest.mark.parametrize("empty,kind", [("collection.tsv", "docs"), ("queries.tsv", "queries")])
def test_msmarco_file_with_no_records_is_named(tmp_path: Path, store, empty: str, kind: str) -> None:
    """An empty collection or query file once imported with exit 0 and an empty dataset."""
    (tmp_path / "collection.tsv").write_text("d1\tone\n")
    (tmp_path / "queries.tsv").write_text("q1\tquery\n")
    (tmp_path / "qrels.tsv").write_text("")
    (tmp_path / empty).write_text("\n")
    with pytest.raises(InputError, match=f"no {kind}: the file holds no records") as info:
        ingest_msmarco(store, tmp_path, "bad")
    assert Path(info.value.path).name in (empty, "queries*.tsv")
    assert "bad" not in store.dataset_names()
