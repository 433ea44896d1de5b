"""`negaudit ingest` end to end in a subprocess: counts printed, user errors are one line with exit
code 2 and no traceback, a held DuckDB file gets the clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.store import Store

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def negaudit_subprocess(*args: str) -> subprocess.CompletedProcess:
    """A real process: proves no traceback escapes and the exit code reaches the shell."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-c", "from core.cli import main; main()", *args],
                          capture_output=True, text=True, env=env, timeout=120, check=False)


@pytest.fixture
def negaudit(capsys, monkeypatch):
    """In-process `main(argv)` (fast); same exit codes and output as the console script."""
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    from core.cli import main

    def run(*args: str) -> subprocess.CompletedProcess:
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    return run


def _assert_user_error(res: subprocess.CompletedProcess, *needles: str) -> None:
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("error: ")
    for n in needles:
        assert n in res.stderr, res.stderr


def test_ingest_every_format_then_datasets(tmp_path: Path, negaudit) -> None:
    db = str(tmp_path / "x.duckdb")
    res = negaudit("ingest", "beir", str(FIX / "beir_scifact"), "--name", "sf", "--db", db)
    assert res.returncode == 0, res.stderr
    assert "150 docs" in res.stdout and "60 queries" in res.stdout
    assert negaudit("ingest", "beir", str(FIX / "beir_scifact"), "--name", "sft", "--split",
                    "test", "--db", db).returncode == 0
    assert negaudit("ingest", "st", str(FIX / "st" / "ntuples.parquet"), "--name", "nt",
                    "--db", db).returncode == 0
    res = negaudit("ingest", "st", str(FIX / "st" / "triplets.csv"), "--name", "tc", "--columns",
                   "anchor=anchor,positive=positive,negative=negative", "--db", db)
    assert res.returncode == 0, res.stderr
    assert negaudit("ingest", "msmarco", str(FIX / "msmarco"), "--name", "mm",
                    "--db", db).returncode == 0
    res = negaudit("ingest", "trec-qrels", str(FIX / "trec" / "qrels.test.txt"), "--into", "mm",
                   "--split", "test", "--db", db)
    assert res.returncode == 0 and "qrels" in res.stdout
    res = negaudit("ingest", "trec-run", str(FIX / "trec" / "run.txt"), "--into", "mm",
                   "--db", db)
    assert res.returncode == 0 and "overlap" in res.stdout
    listing = negaudit("datasets", "--db", db)
    assert listing.returncode == 0
    for name in ("sf", "sft", "nt", "tc", "mm"):
        assert name in listing.stdout


def test_user_errors_are_one_line(tmp_path: Path, negaudit) -> None:
    db = str(tmp_path / "x.duckdb")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": "q", "p": "d"}\n{"a": "q", "p": ""}\n')
    _assert_user_error(negaudit_subprocess("ingest", "st", str(bad), "--name", "b", "--strict",
                                           "--db", db),
                       "bad.jsonl, line 2, field 'p': empty text")
    _assert_user_error(negaudit("ingest", "beir", str(tmp_path), "--name", "b", "--db", db),
                       "corpus.jsonl", "missing required file")
    assert negaudit("ingest", "beir", str(FIX / "beir_nfcorpus"), "--name", "nf",
                    "--db", db).returncode == 0
    _assert_user_error(negaudit("ingest", "beir", str(FIX / "beir_nfcorpus"), "--name", "nf",
                                "--db", db), "already exists", "--replace")
    _assert_user_error(negaudit("ingest", "trec-run", str(FIX / "trec" / "run.txt"), "--into",
                                "nope", "--db", db), "no dataset named 'nope'")
    assert negaudit("ingest", "beir", str(FIX / "beir_nfcorpus"), "--name", "nf", "--replace",
                    "--db", db).returncode == 0


def test_replace_says_the_candidates_went_with_it(tmp_path: Path, negaudit) -> None:
    """The team audit: `--replace` dropped 66,537 candidates and their risk without a word, and annotators met
    an empty queue."""
    db = str(tmp_path / "x.duckdb")
    assert negaudit("ingest", "beir", str(FIX / "beir_scifact"), "--name", "nf", "--db", db).returncode == 0
    assert negaudit("ingest", "trec-run", str(FIX / "trec" / "run.txt"), "--into", "nf", "--db", db).returncode == 0
    with Store.open(db, read_only=True) as s:
        n = s.counts("nf")[0].candidates
    assert n > 0
    res = negaudit("ingest", "beir", str(FIX / "beir_scifact"), "--name", "nf", "--replace", "--db", db)
    said = " ".join(res.stdout.split())
    assert res.returncode == 0 and f"replaced: its {n:,} candidate rows and their risk are gone" in said, said
    again = negaudit("ingest", "beir", str(FIX / "beir_scifact"), "--name", "nf", "--replace", "--db", db)
    assert again.returncode == 0 and "replaced:" not in again.stdout  # nothing mined to lose


def test_strict_rejects_unknown_ids(tmp_path: Path, negaudit) -> None:
    db = str(tmp_path / "x.duckdb")
    assert negaudit("ingest", "beir", str(FIX / "beir_nfcorpus"), "--name", "nf",
                    "--db", db).returncode == 0
    res = negaudit("ingest", "trec-run", str(FIX / "trec" / "run.txt"), "--into", "nf",
                   "--db", db)
    assert res.returncode == 0 and "unknown" in res.stdout  # scifact ids are unknown to nf
    _assert_user_error(negaudit("ingest", "trec-run", str(FIX / "trec" / "run.txt"), "--into",
                                "nf", "--strict", "--db", db), "line 1", "unknown id")


def test_empty_records_are_skipped_reported_and_listed(tmp_path: Path, negaudit) -> None:
    """Issue 13's must-show: a BEIR folder with empty and title-only docs imports, skips reported
    by `ingest` and by `datasets`; --strict stops with file, line and field."""
    db = str(tmp_path / "x.duckdb")
    res = negaudit("ingest", "beir", str(FIX / "beir_empty_docs"), "--name", "hostile",
                   "--db", db)
    assert res.returncode == 0, res.stderr
    assert "imported 'hostile': 6 docs, 7 queries, 5 qrels" in res.stdout
    assert ("skipped 2 docs with neither title nor text (e.g. '4381486', '12486491')"
            in res.stdout)
    assert "skipped 1 query with no text (e.g. '1019')" in res.stdout
    assert "skipped 2 qrels naming a skipped doc or query" in res.stdout
    res = negaudit("ingest", "msmarco", str(FIX / "msmarco_empty"), "--name", "mm", "--db", db)
    assert res.returncode == 0 and "1 triple naming a skipped doc" in res.stdout
    res = negaudit("ingest", "st", str(FIX / "st" / "triplets_empty.csv"), "--name", "st",
                   "--db", db)
    assert res.returncode == 0 and "(e.g. line 3, line 4)" in res.stdout
    listing = negaudit("datasets", "--db", db).stdout
    assert "2 empty docs, 1 empty query, 2 qrels of skipped records" in listing
    assert "hostile: skipped 2 docs with neither title nor text (e.g. '4381486'" in listing
    assert "mm: skipped 1 triple naming a skipped doc or query (e.g. '4422734')" in listing
    assert "st: skipped 2 rows with an empty anchor" in listing
    _assert_user_error(negaudit("ingest", "beir", str(FIX / "beir_empty_docs"), "--name", "s",
                                "--strict", "--db", db),
                       "corpus.jsonl, line 2, field 'text': empty text and no title")
    _assert_user_error(negaudit("ingest", "msmarco", str(FIX / "msmarco_empty"), "--name", "s",
                                "--strict", "--db", db),
                       "collection.tsv, line 2, field 'text': empty text")
    _assert_user_error(negaudit("ingest", "st", str(FIX / "st" / "triplets_empty.csv"), "--name",
                                "s", "--strict", "--db", db),
                       "triplets_empty.csv, line 3, field 'anchor': empty text")


def _misuse(tmp: Path) -> list[tuple[list[str], str]]:
    """`negaudit ingest` misuses and the words their one-line error must hold."""
    (tmp / "dir.csv").mkdir()
    (tmp / "blank.csv").write_text("a,p\n ,x\n,\n")
    beir = tmp / "beir"
    (beir / "qrels" / "dev.tsv").mkdir(parents=True)  # a folder posing as a split is ignored
    (beir / "corpus.jsonl").write_text('{"_id": "d1", "title": "", "text": ""}\n')
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "x"}\n')
    (beir / "qrels" / "test.tsv").write_text("q1\td1\t1\n")
    fix = str(FIX / "beir_nfcorpus")
    return [
        (["beir", str(tmp / "nope"), "--name", "a"], "not a folder"),
        (["beir", str(FIX / "beir_nfcorpus" / "corpus.jsonl"), "--name", "a"], "not a folder"),
        (["beir", fix], "Missing option '--name'"),
        (["beir", fix, "--name", " "], "non-empty --name"),
        (["beir", fix, "--name", "a", "--split", "nope"], "no such split"),
        (["beir", fix, "--name", "a", "--bogus"], "No such option"),
        (["beir", str(beir), "--name", "a"], "nothing to import: all 1 docs are empty"),
        (["beir", "a\x01b", "--name", "a"], "not a folder"),
        (["msmarco", fix, "--name", "a"], "collection.tsv"),
        (["st", str(tmp / "dir.csv"), "--name", "a"], "is a folder; expected a file"),
        (["st", str(tmp / "nope.csv"), "--name", "a"], "no such file"),
        (["st", fix + "/corpus.jsonl", "--name", "a", "--columns", "anchor=x"], "no such column"),
        (["st", str(tmp / "blank.csv"), "--name", "a"], "nothing to import: all 2 rows are empty"),
        (["trec-qrels", str(tmp), "--into", "base"], "is a folder; expected a file"),
        (["trec-run", str(tmp / "nope.txt"), "--into", "base"], "no such file"),
        (["trec-run", str(FIX / "trec" / "run.txt"), "--into", "nope"], "no dataset named"),
        (["bogus"], "No such command"),
    ]


def test_ingest_misuse_is_one_line_and_exit_2(tmp_path: Path, negaudit) -> None:
    from core.store import Store

    db = str(tmp_path / "x.duckdb")
    assert negaudit("ingest", "beir", str(FIX / "beir_nfcorpus"), "--name", "base",
                    "--db", db).returncode == 0
    for args, needle in _misuse(tmp_path):
        res = negaudit("ingest", *args, "--db", db)
        _assert_user_error(res, needle)
        assert len([ln for ln in res.stderr.splitlines() if ln.strip()]) == 1, res.stderr
    with Store.open(db) as store:  # nothing half-imported
        assert store.dataset_names() == ["base"]


HOLD = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
print("ready", flush=True)
sys.stdin.read()
"""


def test_held_db_file_gives_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        res = negaudit_subprocess("ingest", "beir", str(FIX / "beir_nfcorpus"), "--name", "nf",
                                  "--db", str(path))
        _assert_user_error(res, "in use by another process")
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


@pytest.mark.slow
def test_nfcorpus_counts(tmp_path: Path) -> None:
    negaudit = negaudit_subprocess
    """The issue's must-show: the full NFCorpus from ../shared (slow: reads outside the repo)."""
    src = Path(__file__).resolve().parents[3] / "shared" / "data" / "nfcorpus"
    if not src.is_dir():
        pytest.skip("../shared/data/nfcorpus not present")
    db = str(tmp_path / "x.duckdb")
    assert negaudit("ingest", "beir", str(src), "--name", "nfcorpus", "--db", db).returncode == 0
    out = negaudit("datasets", "--db", db).stdout
    assert "3,395" in out and "325" in out and "323" in out and "12,334" in out


def test_ingest_embeddings(tmp_path: Path, negaudit, monkeypatch) -> None:
    """Bring your own embeddings from the command line; a bad file is one line and exit 2."""
    import json

    import numpy as np

    from core.encoders import load_embeddings

    monkeypatch.setenv("NEGAUDIT_CACHE", str(tmp_path / "cache"))
    db = str(tmp_path / "x.duckdb")
    assert negaudit("ingest", "beir", str(FIX / "beir_scifact"), "--name", "sf",
                    "--db", db).returncode == 0
    ef = load_embeddings(FIX.parents[1] / "data" / "scifact.minilm.emb.f16.npz")
    pos = {rid: i for i, rid in enumerate(ef.ids)}
    ids = [json.loads(ln)["_id"] for ln in (FIX / "beir_scifact" / "corpus.jsonl").open()]
    np.save(tmp_path / "docs.npy", ef.embeddings[[pos["doc:" + i] for i in ids]])
    (tmp_path / "docs.ids").write_text("\n".join(ids) + "\n")
    res = negaudit("ingest", "embeddings", str(tmp_path / "docs.npy"), "--into", "sf", "--ids",
                   str(tmp_path / "docs.ids"), "--kind", "doc", "--model", "minilm", "--db", db)
    assert res.returncode == 0, res.stderr
    assert "added 150 vectors" in res.stdout and "coverage: 150/150 docs, 0/60 queries" in res.stdout
    assert (tmp_path / "cache" / "supplied-minilm-384d").is_dir()
    listing = negaudit("datasets", "--db", db).stdout
    assert "sf: supplied embeddings from 'minilm', 384-d, for 150/150 docs and 0/60 queries" in listing
    _assert_user_error(negaudit("ingest", "embeddings", str(tmp_path / "docs.npy"), "--into", "sf",
                                "--model", "minilm", "--db", db), "docs.npy", "give --ids FILE")
    _assert_user_error(negaudit("ingest", "embeddings", str(tmp_path / "docs.npy"), "--into", "sf",
                                "--ids", str(tmp_path / "docs.ids"), "--kind", "passage",
                                "--model", "minilm", "--db", db), "must be 'doc' or 'query'")
    _assert_user_error(negaudit("ingest", "embeddings", str(tmp_path / "docs.npy"), "--into", "sf",
                                "--ids", str(tmp_path / "docs.ids"), "--kind", "doc",
                                "--model", "e5", "--db", db), "one model per dataset")
