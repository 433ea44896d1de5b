"""export_dataset on a real DuckDB file: every format, exact texts, manifest, roles, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from toy_data import DOC_TEXT, DS, QUERY_TEXT

from core.auth import User
from core.export import ExportPolicy, export_dataset, manifest_path, preview, verify_manifest
from core.types import AuthorizationError, NegauditError, Role

ADMIN, ANNOTATOR = User("boss", Role.ADMIN), User("ann", Role.ANNOTATOR)


def doc(d: str) -> str:
    from core.encoders import doc_text

    return doc_text("T " + d if d.startswith("p") else "", DOC_TEXT[d])


def test_preview_counts_every_branch(store):
    p = preview(store, DS, ExportPolicy())
    b = p["by_branch"]
    assert b["judged_false_negative"] == {"positive": 3}  # q1/d1, q2/d7 (adjudicated), q2/d9
    assert b["judged_negative"] == {"negative": 1}
    assert b["judged_partial"] == {"dropped": 1}
    assert b["disagreement"] == {"dropped": 1}  # q1/d4: tie, fn_risk 0.8
    assert b["judged_unsure"] == {"negative": 1}  # q2/d8: fn_risk 0.4 < 0.5
    assert b["already_positive"] == {"dropped": 1}
    assert b["unreviewed"] == {"negative": 6, "dropped": 2}
    assert b["unscored"] == {"negative": 4}
    assert p["totals"]["candidates"] == 20


def test_triplet_texts_exact_and_no_false_negative_as_negative(store, tmp_path):
    out = tmp_path / "train.parquet"
    m = export_dataset(store, DS, "triplet", out, ExportPolicy(split="train"))
    t = pd.read_parquet(out)
    assert list(t.columns) == ["anchor", "positive", "negative"]
    assert doc("d1") in set(t.positive)  # the false negative became a positive ...
    assert doc("d1") not in set(t.negative[t.anchor == QUERY_TEXT["q1"]])  # ... never a negative
    assert QUERY_TEXT["q4"] not in set(t.anchor)  # test query kept out by --split train
    # Formula-looking, unicode and whitespace texts come back byte for byte.
    assert QUERY_TEXT["q1"] in set(t.anchor) and doc("p1") in set(t.positive)
    assert doc("d2") in set(t.negative) and doc("p2") in set(t.positive)
    assert m["written"]["rows"] == len(t)
    assert verify_manifest(manifest_path(out)) == []


def test_manifest_provenance(store, tmp_path):
    out = tmp_path / "x.jsonl"
    export_dataset(store, DS, "labeled-pair", out, ExportPolicy(num_negatives=2, seed=3))
    man = json.loads((tmp_path / "x.jsonl.manifest.json").read_text())
    assert man["source"]["dataset"] == DS and man["policy"]["seed"] == 3
    assert man["annotators"] == ["ann", "bob", "boss"]
    assert man["judgments"]["rows"] == 12 and man["judgments"]["by_status"]["adjudicated"] == 1
    assert man["scorer_versions"] == ["risk-v1"]
    assert man["counts"]["totals"]["candidates"] == 20 and man["created_at"]
    [f] = man["files"]
    assert f["path"] == "x.jsonl" and len(f["sha256"]) == 64
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert {r["label"] for r in lines} == {0, 1}
    out.write_text("tampered", encoding="utf-8")
    assert verify_manifest(tmp_path / "x.jsonl.manifest.json") == ["x.jsonl"]


def test_n_tuple_and_labeled_list_layouts(store, tmp_path):
    m = export_dataset(store, DS, "n-tuple", tmp_path / "n.parquet", ExportPolicy(num_negatives=2))
    n = pd.read_parquet(tmp_path / "n.parquet")
    assert list(n.columns) == ["anchor", "positive", "negative_1", "negative_2"]
    assert n.notna().all().all()
    export_dataset(store, DS, "labeled-list", tmp_path / "l.parquet", ExportPolicy())
    lst = pd.read_parquet(tmp_path / "l.parquet")
    assert "negatives_past_the_n_columns" not in m["written"]["skipped"]  # the policy kept 2 per query
    # without --num-negatives n is the smallest count: the manifest counts the negatives that got no column
    m = export_dataset(store, DS, "n-tuple", tmp_path / "all.parquet", ExportPolicy())
    negs = [len(lab) - sum(lab) for lab in lst.labels if sum(lab) and len(lab) > sum(lab)]
    n_cols = len(pd.read_parquet(tmp_path / "all.parquet").columns) - 2
    assert n_cols == min(negs) and sum(negs) > n_cols * len(negs)
    assert m["written"]["skipped"]["negatives_past_the_n_columns"] == sum(negs) - n_cols * len(negs)
    assert list(lst.columns) == ["anchor", "positive", "labels"]
    assert all(len(p) == len(lab) for p, lab in zip(lst.positive, lst.labels))
    q1 = lst[lst.anchor == QUERY_TEXT["q1"]].iloc[0]
    assert list(q1.labels)[:2] == [1, 1]  # p1, then the promoted false negative d1


def test_hf_folder(store, tmp_path):
    from datasets import load_from_disk

    out = tmp_path / "hf"
    export_dataset(store, DS, "hf", out, ExportPolicy(), layout="n-tuple")
    ds = load_from_disk(str(out))
    assert ds.column_names[:2] == ["anchor", "positive"] and len(ds) > 0
    assert (out / "manifest.json").exists() and verify_manifest(out / "manifest.json") == []


def test_trec_qrels(store, tmp_path):
    out = tmp_path / "qrels.txt"
    m = export_dataset(store, DS, "trec-qrels", out, ExportPolicy(partial="positive"))
    lines = set(out.read_text().splitlines())
    assert {"q1 0 d1 1", "q2 0 d7 1", "q2 0 d9 1", "q1 0 d3 1", "q1 0 d2 0"} <= lines
    assert "q1 0 d4 1" not in lines and not any(x.startswith("q2 0 d8") for x in lines)
    assert m["written"]["relabels"] == {"added": 4, "raised": 1, "unchanged": 0}


def test_beir_round_trip_makes_false_negatives_positives(store, tmp_path):
    from core.ingest import ingest_beir

    out = tmp_path / "beir"
    export_dataset(store, DS, "beir", out, ExportPolicy())
    assert sorted(p.name for p in (out / "qrels").iterdir()) == ["test.tsv", "train.tsv"]
    ingest_beir(store, out, "toy-fixed")
    q = store.qrels("toy-fixed")
    pos = set(zip(q.query_id[q.relevance > 0], q.doc_id[q.relevance > 0]))
    assert {("q1", "d1"), ("q2", "d7"), ("q2", "d9")} <= pos  # relabelled false negatives
    assert ("q1", "d4") not in pos and ("q1", "d2") not in pos  # tie / judged negative
    assert set(q.split[(q.query_id == "q1") & (q.doc_id == "d1")]) == {"train"}  # query's split
    docs = store.docs("toy-fixed").set_index("doc_id")
    assert docs.loc["d1", "text"] == DOC_TEXT["d1"] and docs.loc["p2", "title"] == "T p2"
    # Training on the re-imported data: the relabelled pairs are positives, not candidates.
    again = preview(store, "toy-fixed", ExportPolicy())
    assert again["totals"]["candidates"] == 0 and again["totals"]["dataset_positives_out"] == 7


def test_actor_needs_admin_and_outputs_are_not_clobbered(store, tmp_path):
    out = tmp_path / "t.parquet"
    with pytest.raises(AuthorizationError):
        export_dataset(store, DS, "triplet", out, actor=ANNOTATOR)
    assert not out.exists()
    m = export_dataset(store, DS, "triplet", out, actor=ADMIN)
    assert m["exported_by"] == "boss"
    with pytest.raises(NegauditError, match="exists"):
        export_dataset(store, DS, "triplet", out)
    export_dataset(store, DS, "triplet", out, overwrite=True)
    with pytest.raises(NegauditError, match="parquet or .jsonl"):
        export_dataset(store, DS, "triplet", tmp_path / "t.csv")
    with pytest.raises(NegauditError, match="no dataset"):
        export_dataset(store, "nope", "triplet", tmp_path / "u.parquet")
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("toy")) == [
        "t.parquet", "t.parquet.manifest.json"]


def test_training_rows_need_candidates(store, tmp_path):
    """A dataset never mined has no negatives: a table export says so instead of writing 0 rows; its
    qrels still export."""
    with store.dataset_writer("bare", source="inline", fmt="test") as w:
        w.add("docs", pd.DataFrame({"doc_id": ["p1"], "title": [""], "text": ["a passage"]}))
        w.add("queries", pd.DataFrame({"query_id": ["q1"], "text": ["a query"]}))
        w.add("qrels", pd.DataFrame({"query_id": ["q1"], "doc_id": ["p1"], "relevance": [1],
                                     "split": ["test"], "origin": "dataset"}))
    with pytest.raises(NegauditError, match="no candidates to export as training rows: run `negaudit mine"):
        export_dataset(store, "bare", "triplet", tmp_path / "t.parquet")
    assert not (tmp_path / "t.parquet").exists()
    export_dataset(store, "bare", "trec-qrels", tmp_path / "q.txt")
    assert (tmp_path / "q.txt").read_text().split() == ["q1", "0", "p1", "1"]


def test_cli_export(toy_db, tmp_path):
    from typer.testing import CliRunner

    from core.cli import app

    db = tmp_path / "cli.duckdb"
    db.write_bytes(Path(toy_db).read_bytes())
    out = tmp_path / "cli.parquet"
    res = CliRunner().invoke(app, ["export", "--name", DS, "--db", str(db), "--format",
                                   "n-tuple", "--num-negatives", "1", "--drop-risk-above",
                                   "none", "--partial", "negative", "--out", str(out)])
    assert res.exit_code == 0, res.output
    man = json.loads((tmp_path / "cli.parquet.manifest.json").read_text())
    assert man["policy"]["drop_risk_above"] is None and man["policy"]["partial"] == "negative"
    assert list(pd.read_parquet(out).columns) == ["anchor", "positive", "negative_1"]
    assert "judged_false_negative" in res.output
    written = pd.read_parquet(out)
    assert man["written"]["queries"] == written.anchor.nunique() == 4  # toy queries have distinct texts
    assert f"for 4 of {man['counts']['queries']} queries" in " ".join(res.output.split())
    # q3's candidates have no risk row: the export says they skipped the risk rule.
    assert "4 candidates were never scored" in " ".join(res.output.split())


def test_folder_overwrite_replaces_only_an_earlier_export(store, tmp_path, monkeypatch):
    """--overwrite deletes the whole folder: only an earlier export's (it holds the export manifest), never
    a folder of other files, nor the folder the command runs in (`--out .` once emptied it)."""
    mine = tmp_path / "notes"
    (mine / "sub").mkdir(parents=True)
    (mine / "keep.txt").write_text("a")
    (mine / "sub" / "code.py").write_text("b")
    with pytest.raises(NegauditError, match="no negaudit export wrote"):
        export_dataset(store, DS, "beir", mine, overwrite=True)
    with pytest.raises(NegauditError, match="no negaudit export wrote"):  # a foreign manifest.json is not one
        (mine / "manifest.json").write_text('{"name": "mine"}')
        export_dataset(store, DS, "beir", mine, overwrite=True)
    assert (mine / "keep.txt").read_text() == "a" and (mine / "sub" / "code.py").read_text() == "b"

    out = tmp_path / "beir"
    export_dataset(store, DS, "beir", out)
    export_dataset(store, DS, "beir", out, overwrite=True)  # an earlier export: replaced
    assert (out / "corpus.jsonl").exists() and not verify_manifest(out / "manifest.json")
    monkeypatch.chdir(out)
    before = sorted(p.name for p in out.iterdir())
    for here in (Path("."), out, tmp_path):  # the current folder, by any name, or a folder above it
        with pytest.raises(NegauditError, match="current folder"):
            export_dataset(store, DS, "hf", here, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("fmt,name", [("judgments", "corpus.jsonl"), ("triplet", "decoy.parquet"),
                                      ("trec-qrels", "notes.txt")])
def test_file_overwrite_replaces_only_an_earlier_export(store, tmp_path, fmt, name):
    """The admin audit: "Overwrite" replaced a dataset's own corpus.jsonl with the judgment log, and any file
    with a table or qrels. Only a file with an export's manifest beside it is replaced now."""
    theirs = tmp_path / name
    theirs.write_text("not an export\n")
    with pytest.raises(NegauditError, match="no negaudit export wrote"):
        export_dataset(store, DS, fmt, theirs, overwrite=True)
    assert theirs.read_text() == "not an export\n"
    out = tmp_path / f"ours{theirs.suffix}"
    export_dataset(store, DS, fmt, out)
    first = out.read_bytes()
    export_dataset(store, DS, fmt, out, overwrite=True)  # an earlier export: replaced
    assert out.exists() and len(out.read_bytes()) == len(first)


def test_cli_refuses_to_overwrite_the_current_folder(toy_db, tmp_path, monkeypatch, capsys):
    from core.cli import main

    db = tmp_path / "cli.duckdb"
    db.write_bytes(Path(toy_db).read_bytes())
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("mine")
    monkeypatch.chdir(work)
    with pytest.raises(SystemExit) as done:  # the console entry point: one error line, exit 2, before any work
        main(["export", "--name", DS, "--db", str(db), "--format", "hf", "--out", ".", "--overwrite"])
    assert done.value.code == 2
    assert "current folder" in capsys.readouterr().err
    assert (work / "notes.txt").read_text() == "mine" and sorted(p.name for p in work.iterdir()) == ["notes.txt"]


def test_a_split_the_dataset_lacks_is_named_not_exported_empty(store, tmp_path):
    out = tmp_path / "t.parquet"
    splits = ", ".join(sorted(set(store.qrels(DS).split)))
    with pytest.raises(NegauditError, match=f"no qrels split 'nosuch'; its splits: {splits}"):
        export_dataset(store, DS, "triplet", out, ExportPolicy(split="nosuch"))
    assert not out.exists()


def test_exported_files_get_the_usual_mode(store, tmp_path):
    """mkstemp's 0600 made a triplet file unreadable to the group that reads corpus.jsonl beside it."""
    import os
    import stat

    out = tmp_path / "t.parquet"
    export_dataset(store, DS, "triplet", out)
    umask = os.umask(0o022)
    os.umask(umask)
    want = 0o666 & ~umask
    assert stat.S_IMODE(out.stat().st_mode) == want
    assert stat.S_IMODE((tmp_path / "t.parquet.manifest.json").stat().st_mode) == want
    export_dataset(store, DS, "beir", tmp_path / "folder")  # mkdtemp's 0700 hid a folder export
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == 0o777 & ~umask


def test_a_home_relative_out_goes_home(store, tmp_path, monkeypatch):
    """The app's path field takes "~/x" as typed: it made a folder named "~" in the server's folder."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    export_dataset(store, DS, "triplet", "~/exports/t.parquet")
    assert (tmp_path / "home" / "exports" / "t.parquet").exists() and not (tmp_path / "~").exists()


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_judgments_export_is_the_whole_log(store, tmp_path, suffix):
    """`--format judgments`: every row of the append-only log (adjudications, undos, notes, timings), as
    stored, for the researcher's own analysis; JSON lines give timestamps as ISO text and gaps as null."""
    from core import review

    ann = User("ann", Role.ANNOTATOR)
    q, d = review.next_keys(store, "x", review.QueueSpec(DS), limit=1).iloc[0][["query_id", "doc_id"]]
    review.decide(store, ann, DS, q, d, "negative", note='a "quoted" <note>')
    review.undo(store, ann, DS)
    log = store.judgments(DS)
    assert {"label", "undo", "adjudicate"} <= set(log.action)  # the toy holds an adjudication
    out = tmp_path / f"log{suffix}"
    m = export_dataset(store, DS, "judgments", out)
    back = pd.read_parquet(out) if suffix == ".parquet" else pd.read_json(out, lines=True, dtype=False)
    assert m["written"]["rows"] == len(log) == len(back)
    assert list(back.columns) == [*log.columns, "query_text", "doc_text"]  # texts: ST ids are content hashes
    texts = dict(zip(store.docs(DS).doc_id, store.docs(DS).text))
    assert back["query_text"].tolist() == log["query_id"].map(dict(zip(store.queries(DS).query_id,
                                                                       store.queries(DS).text))).tolist()
    assert all(texts[d] in t for d, t in zip(log["doc_id"], back["doc_text"]))  # the title may lead
    assert back["id"].tolist() == log["id"].tolist() and back["note"].tolist() == log["note"].tolist()
    when = pd.to_datetime(back["created_at"], utc=True)
    assert (when == pd.to_datetime(log["created_at"], utc=True)).all()
    if suffix == ".jsonl":
        first = json.loads(out.read_text().splitlines()[0])
        assert "T" in first["created_at"] and "NaN" not in out.read_text()
    assert verify_manifest(manifest_path(out)) == []
    # the manifest describes the log, not a training-data policy it never went through
    assert m["policy"] is None and "by_branch" not in m["counts"]
    assert sum(m["written"]["by_action"].values()) == len(log) and m["written"]["by_action"]["undo"] >= 1
    assert m["written"]["first"] <= m["written"]["last"]
    with pytest.raises(NegauditError, match="must end in .parquet or .jsonl"):
        export_dataset(store, DS, "judgments", tmp_path / "log.csv")


def test_a_folder_format_refuses_a_file_name(store, tmp_path):
    """`--format beir --out x.parquet` made a folder named x.parquet."""
    for fmt in ("beir", "hf"):
        with pytest.raises(NegauditError, match="this format writes a folder"):
            export_dataset(store, DS, fmt, tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


def test_cli_refuses_policy_flags_for_the_judgment_log(toy_db, tmp_path):
    from core.cli import main

    out = tmp_path / "log.parquet"
    with pytest.raises(SystemExit) as exc:
        main(["export", "--name", DS, "--db", str(toy_db), "--format", "judgments", "--out", str(out),
              "--num-negatives", "3"])
    assert exc.value.code == 2 and not out.exists()
    import inspect

    from core.cli.export import POLICY_OPTIONS, export

    assert set(POLICY_OPTIONS) <= set(inspect.signature(export).parameters)  # each name is one of export's options


@pytest.mark.parametrize(("fmt", "out", "flags", "named"), [
    ("trec-qrels", "q.txt", ["--num-negatives", "3", "--sampling", "top"], "--num-negatives, --sampling"),
    ("beir", "folder", ["--drop-risk-above", "0.3"], "--drop-risk-above"),
    ("triplet", "t.parquet", ["--layout", "n-tuple"], "--layout"),
    ("triplet", "t.parquet", ["--relabel-split", "train"], "--relabel-split"),
])
def test_cli_refuses_options_the_format_does_not_read(toy_db, tmp_path, capsys, fmt, out, flags, named):
    """Given and silently ignored, they would only mislead the manifest (its policy records them)."""
    from core.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["export", "--name", DS, "--db", str(toy_db), "--format", fmt, "--out", str(tmp_path / out), *flags])
    err = " ".join(capsys.readouterr().err.split())
    assert exc.value.code == 2 and f"{named} do" in err and "not apply" in err, err
    assert not (tmp_path / out).exists()
    from core.cli.export import APPLIES, POLICY_OPTIONS, Fmt

    assert set(APPLIES) == {f.value for f in Fmt} and set().union(*APPLIES.values()) <= set(POLICY_OPTIONS)
