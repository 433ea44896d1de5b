"""One test per reader on real subsets (tests/fixtures, built by make_fixtures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.ingest import (
    content_id,
    ingest_beir,
    ingest_msmarco,
    ingest_st,
    ingest_trec_qrels,
    ingest_trec_run,
    ingest_upload,
    read_beir,
    read_st,
)
from core.store.schema import BULK_COLUMNS


def _collect(chunks) -> dict[str, pd.DataFrame]:
    out: dict[str, list] = {}
    for table, df in chunks:
        assert list(df.columns) == BULK_COLUMNS[table]
        out.setdefault(table, []).append(df)
    return {t: pd.concat(v, ignore_index=True) for t, v in out.items()}


def test_beir_counts_and_splits(fixtures: Path, store) -> None:
    root = fixtures / "beir_scifact"
    n_docs = len((root / "corpus.jsonl").read_text().splitlines())
    n_train = len((root / "qrels" / "train.tsv").read_text().splitlines()) - 1
    n_test = len((root / "qrels" / "test.tsv").read_text().splitlines()) - 1
    result = ingest_beir(store, root, "sf")
    assert result["docs"] == n_docs and result["qrels"] == n_train + n_test
    qrels = store.qrels("sf")
    assert set(qrels.split) == {"train", "test"}
    assert (qrels.split == "train").sum() == n_train
    assert set(qrels.origin) == {"dataset"}
    only_test = ingest_beir(store, root, "sf_test", splits=["test"])
    assert only_test["qrels"] == n_test


def test_beir_small_chunks_same_result(fixtures: Path) -> None:
    big = _collect(read_beir(fixtures / "beir_nfcorpus"))
    small = _collect(read_beir(fixtures / "beir_nfcorpus", chunk_rows=7))
    for t in big:
        pd.testing.assert_frame_equal(big[t], small[t])
    assert set(big["qrels"].relevance) <= {1, 2}


def test_beir_duplicate_same_text_is_deduped(tmp_path: Path, fixtures: Path) -> None:
    root = tmp_path / "b"
    (root / "qrels").mkdir(parents=True)
    lines = (fixtures / "beir_scifact" / "corpus.jsonl").read_text().splitlines()
    (root / "corpus.jsonl").write_text("\n".join(lines + lines[:3]) + "\n")
    (root / "queries.jsonl").write_text((fixtures / "beir_scifact" / "queries.jsonl").read_text())
    (root / "qrels" / "test.tsv").write_text(
        (fixtures / "beir_scifact" / "qrels" / "test.tsv").read_text())
    got = _collect(read_beir(root, chunk_rows=5))
    assert len(got["docs"]) == len(lines)


@pytest.mark.parametrize("name", ["triplets.parquet", "triplets.jsonl", "triplets.csv"])
def test_st_triplets_every_format_agrees(fixtures: Path, store, name: str) -> None:
    result = ingest_st(store, fixtures / "st" / name, "t")
    assert result["columns"] == {"anchor": "anchor", "positive": ["positive"],
                                 "negative": ["negative"]}
    first = json.loads((fixtures / "st" / "triplets.jsonl").read_text().splitlines()[0])
    qid = content_id("q_", first["anchor"])
    pos = content_id("d_", first["positive"])
    neg = content_id("d_", first["negative"])
    qrels, cands = store.qrels("t"), store.candidates("t")
    assert ((qrels.query_id == qid) & (qrels.doc_id == pos) & (qrels.relevance == 1)).any()
    row = cands[(cands.query_id == qid) & (cands.doc_id == neg)]
    assert list(row.miner) == ["imported"] and list(row["rank"]) == [1]
    assert row.score.isna().all()
    assert set(qrels.split) == {"train"}
    assert store.docs("t").doc_id.is_unique


def test_st_formats_give_identical_records(fixtures: Path) -> None:
    frames = [_collect(read_st(fixtures / "st" / n, chunk_rows=9))
              for n in ("triplets.parquet", "triplets.jsonl", "triplets.csv")]
    for other in frames[1:]:
        for t in frames[0]:
            pd.testing.assert_frame_equal(frames[0][t], other[t])


def test_gzip_text_files_read_as_their_plain_form(fixtures: Path, tmp_path: Path) -> None:
    """The Hugging Face hub ships BEIR corpora as corpus.jsonl.gz and ST files gzip'd: same records."""
    import gzip
    import shutil

    from core.types import InputError

    root = tmp_path / "beir"
    shutil.copytree(fixtures / "beir_scifact", root)
    plain = _collect(read_beir(root))
    for name in ("corpus.jsonl", "queries.jsonl"):
        (root / f"{name}.gz").write_bytes(gzip.compress((root / name).read_bytes()))
        (root / name).unlink()
    packed = _collect(read_beir(root, chunk_rows=7))
    for t in plain:
        pd.testing.assert_frame_equal(plain[t], packed[t])
    for name in ("triplets.jsonl", "triplets.csv"):
        gz = tmp_path / f"{name}.gz"
        gz.write_bytes(gzip.compress((fixtures / "st" / name).read_bytes()))
        want, got = _collect(read_st(fixtures / "st" / name)), _collect(read_st(gz))
        for t in want:
            pd.testing.assert_frame_equal(want[t], got[t])
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(gzip.compress((fixtures / "st" / "triplets.jsonl").read_bytes())[:-40])  # truncated
    with pytest.raises(InputError, match="not a readable gzip file") as info:
        _collect(read_st(broken))
    assert info.value.path == str(broken) and info.value.line is not None and info.value.line > 1
    with pytest.raises(InputError, match="parquet file compresses itself"):
        _collect(read_st(tmp_path / "x.parquet.gz"))


def test_st_ntuple_list_column_ranks(fixtures: Path) -> None:
    got = _collect(read_st(fixtures / "st" / "ntuples.parquet"))
    ranks = got["candidates"].groupby("query_id")["rank"].apply(sorted)
    assert all(r[:3] == [1, 2, 3] for r in ranks)


def test_st_labeled_pair_and_list(fixtures: Path) -> None:
    pairs = _collect(read_st(fixtures / "st" / "pairs.csv"))
    assert len(pairs["qrels"]) > 0 and len(pairs["candidates"]) > 0
    lists = _collect(read_st(fixtures / "st" / "lists.jsonl"))
    n_rows = len((fixtures / "st" / "lists.jsonl").read_text().splitlines())
    assert len(lists["qrels"]) == n_rows
    assert set(lists["candidates"]["rank"]) == {1, 2, 3}


def test_st_columns_override(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,n1,q,p,n2\n7,neg one,what is x,x is y,neg two\n")
    report: dict = {}
    got = _collect(read_st(path, "anchor=q,positive=p,negative=n1,n2", report=report))
    assert got["queries"].text.tolist() == ["what is x"]
    assert got["candidates"].sort_values("rank").doc_id.tolist() == [
        content_id("d_", "neg one"), content_id("d_", "neg two")]


def test_st_columns_named_against_their_position_are_refused(tmp_path: Path) -> None:
    """sentence-transformers maps by position; a file whose names say otherwise was read with the
    abstracts as queries and no word said."""
    from core.types import InputError

    bad = tmp_path / "reordered.parquet"
    pd.DataFrame({"positive": ["p"], "anchor": ["a"], "negative": ["n"]}).to_parquet(bad)
    with pytest.raises(InputError, match="named like a positive but sits where sentence-transformers reads the "
                                         "anchor") as info:
        _collect(read_st(bad))
    assert info.value.field == "positive"
    got = _collect(read_st(bad, columns="anchor=anchor,positive=positive,negative=negative"))
    assert len(got["queries"]) == 1 and got["queries"].text.tolist() == ["a"]
    fine = tmp_path / "fine.parquet"  # names that agree with their places, numbered negatives too
    pd.DataFrame({"query": ["q"], "pos": ["p"], "negative_1": ["n"], "negative_2": ["m"]}).to_parquet(fine)
    assert len(_collect(read_st(fine))["candidates"]) == 2


def test_st_fractional_scores_are_refused_not_read_as_positives(tmp_path: Path) -> None:
    """Pairs scored 0.9 / 0.1 once became 618 positives and no candidate, unsaid."""
    from core.types import InputError

    f = tmp_path / "scored.csv"
    f.write_text("sentence1,sentence2,score\nq one,doc a,1\nq one,doc b,0\nq two,doc c,0.9\n")
    with pytest.raises(InputError, match="a fractional score 0.9") as info:
        _collect(read_st(f))
    assert info.value.line == 4 and info.value.field == "score"
    f.write_text("sentence1,sentence2,label\nq one,doc a,2\nq one,doc b,0.0\n")  # grades and 0.0 are fine
    got = _collect(read_st(f))
    assert len(got["qrels"]) == 1 and len(got["candidates"]) == 1


def test_st_negative_equal_to_positive_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": "q", "p": "same", "n": "other"}\n{"a": "q", "p": "x", "n": "same"}\n')
    report: dict = {}
    got = _collect(read_st(path, report=report))
    assert content_id("d_", "same") not in set(got["candidates"].doc_id)
    assert report["dropped_positive_negatives"] == 1


def test_msmarco_folder(fixtures: Path, store) -> None:
    result = ingest_msmarco(store, fixtures / "msmarco", "mm")
    n_pos = len((fixtures / "msmarco" / "qrels.tsv").read_text().splitlines())
    assert result["docs"] == 150 and result["qrels"] == n_pos  # triples' positives are in qrels
    cands = store.candidates("mm")
    assert len(cands) > 0 and set(cands.miner) == {"imported"}
    pos = set(zip(store.qrels("mm").query_id, store.qrels("mm").doc_id))
    assert not any(p in pos for p in zip(cands.query_id, cands.doc_id))


@pytest.mark.parametrize("qrels", ["1\t0\td1\t1\n", "1\td1\t1\n", "1\td1\n"])
def test_msmarco_qrels_shapes(tmp_path: Path, qrels: str) -> None:
    from core.ingest import read_msmarco

    (tmp_path / "collection.tsv").write_text("d1\tsome text\nd2\tother text\n")
    (tmp_path / "queries.tsv").write_text("1\ta query\n")
    (tmp_path / "qrels.tsv").write_text(qrels)
    got = _collect(read_msmarco(tmp_path))
    assert got["qrels"][["query_id", "doc_id", "relevance"]].values.tolist() == [["1", "d1", 1]]


def test_trec_qrels_and_run_into_existing(fixtures: Path, store) -> None:
    ingest_msmarco(store, fixtures / "msmarco", "mm")
    before = len(store.qrels("mm"))
    res = ingest_trec_qrels(store, fixtures / "trec" / "qrels.test.txt", "mm")
    qrels = store.qrels("mm")
    assert len(qrels) == before + res["qrels"]
    assert set(qrels[qrels.split == "test"].origin) == {"qrels.test.txt"}
    run = ingest_trec_run(store, fixtures / "trec" / "run.txt", "mm")
    assert run["miners"] == ["overlap"] and run["skipped_positive"] > 0
    c = store.candidates("mm", miner="overlap")
    assert len(c) == run["candidates"] and c.score.notna().all()


def test_trec_unknown_ids_skipped_or_strict(fixtures: Path, store, tmp_path: Path) -> None:
    from core.types import InputError

    ingest_beir(store, fixtures / "beir_scifact", "sf")
    qid = store.queries("sf").query_id[0]
    did = store.docs("sf").doc_id[0]
    run = tmp_path / "run.txt"
    run.write_text(f"{qid} Q0 {did} 1 9.5 r\n" + "".join(
        f"{qid} Q0 nope{i} {i + 2} 1.0 r\n" for i in range(7)))
    res = ingest_trec_run(store, run, "sf")
    info = res["skipped_unknown"]["run"]
    assert info["count"] == 7 and len(info["examples"]) == 5 and res["candidates"] <= 1
    with pytest.raises(InputError, match="line 2.*unknown id 'nope0'"):
        ingest_trec_qrels(store, _qrels(tmp_path, qid, did), "sf", strict=True)
    mine = tmp_path / "dense.run"  # a tag `negaudit mine` owns: its candidates would be replaced silently
    mine.write_text(f"{qid} Q0 {did} 1 9.5 dense\n")
    with pytest.raises(InputError, match=r"field 'tag'.*\['dense'\] name negaudit's own miners"):
        ingest_trec_run(store, mine, "sf")
    assert "dense" not in set(store.candidates("sf").miner)


def _qrels(tmp: Path, qid: str, did: str) -> Path:
    p = tmp / "q.txt"
    p.write_text(f"{qid} 0 {did} 1\n{qid} 0 nope0 1\n")
    return p


def test_upload_dispatch(fixtures: Path, store, tmp_path: Path) -> None:
    import zipfile

    data = (fixtures / "st" / "triplets.parquet").read_bytes()
    assert ingest_upload(store, "train.parquet", data, "up")["qrels"] > 0
    zpath = tmp_path / "b.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for f in (fixtures / "beir_nfcorpus").rglob("*"):
            if f.is_file():
                zf.write(f, "nf/" + str(f.relative_to(fixtures / "beir_nfcorpus")))
    assert ingest_upload(store, "nf.zip", zpath.read_bytes(), "upz")["docs"] == 150


def test_qrels_repeat_once_and_a_regrade_is_named(fixtures: Path, store, tmp_path: Path) -> None:
    """A qrel is (split, query, doc) once: a file imported twice or a line listed twice adds nothing (exports
    once wrote each such qrel as often as it was imported); the pair again with another grade names both."""
    from core.types import InputError

    ingest_msmarco(store, fixtures / "msmarco", "mm")
    src = fixtures / "trec" / "qrels.test.txt"
    first = ingest_trec_qrels(store, src, "mm", chunk_rows=3)
    held = store.qrels("mm", "test")
    assert first["qrels"] == len(held) > 3
    assert len(held.drop_duplicates(["query_id", "doc_id"])) == len(held)
    again = ingest_trec_qrels(store, src, "mm", chunk_rows=3)
    assert again["qrels"] == 0 and again["duplicate_qrels"] == first["qrels"]
    pd.testing.assert_frame_equal(store.qrels("mm", "test"), held)
    other = ingest_trec_qrels(store, src, "mm", split="dev")  # another split: its own qrels
    assert other["qrels"] == first["qrels"] and "duplicate_qrels" not in other

    q, d, g = held.iloc[0][["query_id", "doc_id", "relevance"]]
    regrade = tmp_path / "regrade.txt"
    regrade.write_text(f"{q} 0 {d} {g + 1}\n")
    with pytest.raises(InputError, match=f"regrade.txt, line 1.*graded {g + 1} here but {g} on the dataset's "
                                         f"stored 'test' qrels"):
        ingest_trec_qrels(store, regrade, "mm")
    twice = tmp_path / "twice.txt"  # within one file, across chunks: the earlier line is named
    twice.write_text(f"# judged by hand\n{q} 0 {d} 1\n{q} 0 {d} 1\n{q} 0 {d} 0\n")
    with pytest.raises(InputError, match="twice.txt, line 4.*graded 0 here but 1 on line 2"):
        ingest_trec_qrels(store, twice, "mm", split="new", chunk_rows=1)
    pd.testing.assert_frame_equal(store.qrels("mm", "test"), held)
    assert store.qrels("mm", "new").empty  # a failed import stores nothing


def test_beir_qrels_repeat_once_and_a_regrade_is_named(tmp_path: Path, fixtures: Path) -> None:
    from core.types import InputError

    src = fixtures / "beir_scifact"
    root = tmp_path / "b"
    (root / "qrels").mkdir(parents=True)
    for f in ("corpus.jsonl", "queries.jsonl"):
        (root / f).write_text((src / f).read_text())
    lines = (src / "qrels" / "test.tsv").read_text().splitlines()
    (root / "qrels" / "test.tsv").write_text("\n".join(lines + lines[1:3]) + "\n")
    report: dict = {}
    got = _collect(read_beir(root, chunk_rows=2, report=report))
    assert len(got["qrels"]) == len(lines) - 1 and report["duplicate_qrels"] == 2
    q, d, g = lines[1].split("\t")
    (root / "qrels" / "test.tsv").write_text("\n".join(lines + [f"{q}\t{d}\t{int(g) + 1}"]) + "\n")
    with pytest.raises(InputError, match=f"line {len(lines) + 1}, field 'score'.*but {g} on line 2"):
        _collect(read_beir(root))
