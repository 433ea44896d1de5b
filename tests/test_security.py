"""Security across modules: hostile names and ids flow through ingest, review, insights, export and
report as plain data (every SQL value is bound); passwords never reach logs, output or the DB
file in the clear; every admin-only core function refuses an annotator."""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import inspect

from core import auth, report, review
from core.auth import User
from core.export import ExportPolicy, export_dataset
from core.ingest import ingest_beir, ingest_trec_qrels, ingest_trec_run
from core.review import Mode, QueueSpec
from core.store import Store
from core.store import schema as S
from core.store.backup import backup
from core.types import AuthorizationError, NegauditError, Role

DS = "ds'); DROP TABLE judgments;--"
Q1 = "x');DROP/**/TABLE/**/judgments;--"  # no spaces: TREC files split on them
Q2 = 'q" OR 1=1; DELETE FROM docs;--'
D = ["d1'; DROP TABLE docs;--", "=cmd|'/C_calc'!A0", "d3\\';--", "d4)/**/UNION/**/SELECT/**/1--"]
TAG = "tag');DROP/**/TABLE/**/candidates;--"
WHO = "o'brien\"; DROP TABLE annotators;--"  # core takes any name; auth.add_user would refuse it


@pytest.fixture()
def store(tmp_path):
    s = Store.open(str(tmp_path / "sec.duckdb"))
    yield s
    s.close()


def _beir(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    docs = [{"_id": d, "title": "", "text": f"{d} passage {i}"} for i, d in enumerate(D)]
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text(json.dumps({"_id": Q1, "text": "q one"}) + "\n"
                                        + json.dumps({"_id": Q2, "text": "q two"}) + "\n")
    (root / "qrels" / "test.tsv").write_text(f"query-id\tcorpus-id\tscore\n{Q1}\t{D[0]}\t1\n"
                                             f"{Q2}\t{D[0]}\t1\n")
    return root


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def test_hostile_names_and_ids_are_data_everywhere(store, tmp_path):
    tables = _tables(store)
    assert {"judgments", "docs", "annotators", "candidates"} <= tables
    ingest_beir(store, _beir(tmp_path / "beir"), DS)
    # TREC files split on whitespace: ids with spaces cannot occur there, these can
    run = tmp_path / "run.txt"
    run.write_text("".join(f"{Q1} Q0 {d} {r} {9 - r}.0 {TAG}\n"
                           for r, d in enumerate(D[1:], start=1)))
    qrels = tmp_path / "more.qrels"
    qrels.write_text(f"{Q1} 0 {D[3]} 0\n")
    ingest_trec_qrels(store, qrels, DS)
    ingest_trec_run(store, run, DS)
    assert store.dataset_names() == [DS]
    cands = store.candidates(DS, miner=TAG)
    assert set(cands.doc_id) == set(D[1:]) and set(cands.query_id) == {Q1}

    # review through every queue mode and filter, hostile values in each bound parameter
    me = User(WHO, Role.ANNOTATOR)
    for spec in (QueueSpec(DS, miner=TAG), QueueSpec(DS, Mode.QUERY, query_id=Q1),
                 QueueSpec(DS, Mode.RANDOM, seed=7), QueueSpec(DS, Mode.UNCERTAIN)):
        card = review.next_card(store, me.name, spec, exclude=[(Q1, D[2])])
        assert card is not None and card.query_id == Q1 and card.doc_id in D
        review.skip(store, me, DS, card.query_id, card.doc_id)
    card = review.next_card(store, me.name, QueueSpec(DS, miner=TAG))
    review.decide(store, me, DS, card.query_id, card.doc_id, "false_negative", note=Q2)
    assert review.next_card(store, "boss", QueueSpec(DS, status=f"by:{WHO}")).doc_id == card.doc_id
    review.undo(store, me, DS)
    review.decide(store, me, DS, card.query_id, card.doc_id, "false_negative", note=Q2)
    review.adjudicate(store, User("boss", Role.ADMIN), DS, Q1, D[2], "negative", note=DS)
    j = store.judgments(DS)
    assert set(j.annotator) == {WHO, "boss"} and set(j.note) >= {Q2, DS}
    assert review.consensus(store, DS).shape[0] == 2
    review.progress(store, DS)
    review.agreement(store, DS)
    review.rank_risk_summary(store, DS)
    review.judged_items(store, DS)

    # export: the ids come out exactly as they went in
    out = tmp_path / "clean.jsonl"
    export_dataset(store, DS, "triplet", out, policy=ExportPolicy(drop_risk_above=None))
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows and all(r["anchor"] == "q one" for r in rows)
    fn_text = f"{card.doc_id} passage {D.index(card.doc_id)}"
    assert any(r["positive"] == fn_text for r in rows)  # the judged FN became a positive
    assert any(r["positive"] == f"{D[1]} passage 1" for r in rows)  # "=..." text kept exact
    with pytest.raises(NegauditError, match="whitespace"):  # TREC cannot hold Q2: said so
        export_dataset(store, DS, "trec-qrels", tmp_path / "fixed.qrels")
    export_dataset(store, DS, "beir", tmp_path / "fixed")
    corpus = [json.loads(x)["_id"] for x in (tmp_path / "fixed" / "corpus.jsonl").open()]
    assert sorted(corpus) == sorted(D)
    fixed = pd.read_csv(tmp_path / "fixed" / "qrels" / "test.tsv", sep="\t", dtype=str,
                        keep_default_na=False, quoting=3)
    assert {(Q1, D[2]), (Q2, D[0])} <= set(zip(fixed["query-id"], fixed["corpus-id"]))
    csv = report.write_report_csv(report.fn_rate_report(store, DS, sample="all")[0],
                                  tmp_path / "r.csv")
    assert csv.exists()

    # nothing was executed: every table and row is still there
    assert _tables(store) == tables
    c = store.counts(DS)[0]
    assert (c.docs, c.queries, c.qrels, c.candidates) == (4, 2, 3, 3)
    store.delete_dataset(DS, force=True)
    assert store.dataset_names() == [] and store.judgments(DS).empty


def test_passwords_never_logged_printed_or_stored_in_clear(store, tmp_path, caplog, capfd):
    secret = "correct-horse-battery-staple-42"
    caplog.set_level(logging.DEBUG)  # every logger, every level (SQLAlchemy, DuckDB, ours)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
    try:
        auth.add_user(store, "ann", "annotator", secret)
        _, token = auth.sign_in(store, "ann", secret)
        assert auth.sign_in(store, "ann", secret + "x") is None
        assert auth.user_for_token(store, token).name == "ann"
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert caplog.records  # SQL statements were logged ...
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert secret not in logged and token not in logged  # ... never the password or token
    out, err = capfd.readouterr()
    assert secret not in out + err
    with store.engine.connect() as conn:
        dump = repr([tuple(r) for t in (S.annotators, S.sessions)
                     for r in conn.execute(t.select())])
    assert secret not in dump and token not in dump
    assert "$argon2id$" in dump  # a real KDF (argon2id, salted)
    store.close()
    raw = Path(store.url.removeprefix("duckdb:///")).read_bytes()
    assert secret.encode() not in raw and token.encode() not in raw


def test_users_cli_does_not_echo_the_password(tmp_path):
    from typer.testing import CliRunner

    from core.cli import app as cli

    secret = "s3cret-from-stdin"
    r = CliRunner().invoke(cli, ["users", "add", "alice", "--role", "admin", "--db",
                                 str(tmp_path / "u.duckdb")], input=f"{secret}\n{secret}\n")
    assert r.exit_code == 0, r.output
    assert secret not in r.output


ADMIN_ONLY = {
    "export_dataset": lambda s, u, tmp: export_dataset(s, "d", "triplet", tmp / "o.jsonl",
                                                       actor=u),
    "add_user": lambda s, u, tmp: auth.add_user(s, "eve", "admin", "pw12345", actor=u),
    "remove_user": lambda s, u, tmp: auth.remove_user(s, "boss", u),
    "set_role": lambda s, u, tmp: auth.set_role(s, "ann", "admin", u),
    "backup": lambda s, u, tmp: backup(s, tmp / "o.jsonl.duckdb", actor=u),
    "set_overlap_k": lambda s, u, tmp: review.set_overlap_k(s, 3, u),
    "set_guidelines": lambda s, u, tmp: review.set_guidelines(s, "pwned", u),
    "adjudicate": lambda s, u, tmp: review.adjudicate(s, u, "d", "q", "x", "negative"),
}

# actor=None is the CLI, which acts with the rights of whoever holds the database file
CLI_WHEN_NO_ACTOR = {"export_dataset", "add_user", "remove_user", "backup"}


@pytest.mark.parametrize("name", sorted(ADMIN_ONLY))
def test_annotator_gets_authorization_error_from_every_admin_function(store, tmp_path, name):
    auth.add_user(store, "boss", "admin", "pw-boss")
    ann = auth.add_user(store, "ann", "annotator", "pw-ann")
    before = (store.annotators().to_dict("records"), store.get_setting("overlap_k"),
              store.get_setting("guidelines"), len(store.judgments("d")))
    with pytest.raises(AuthorizationError):
        ADMIN_ONLY[name](store, ann, tmp_path)
    if name not in CLI_WHEN_NO_ACTOR:
        with pytest.raises(AuthorizationError):
            ADMIN_ONLY[name](store, None, tmp_path)  # signed out
    after = (store.annotators().to_dict("records"), store.get_setting("overlap_k"),
             store.get_setting("guidelines"), len(store.judgments("d")))
    assert after == before and not list(tmp_path.glob("o.jsonl*"))


def test_signed_out_or_expired_token_is_nobody(store):
    auth.add_user(store, "ann", "annotator", "pw-ann")
    assert auth.user_for_token(store, None) is None
    assert auth.user_for_token(store, "") is None
    assert auth.user_for_token(store, "x" * 10_000) is None
    assert auth.user_for_token(store, "' OR '1'='1") is None


def test_spreadsheet_csvs_neutralise_formulas_training_text_stays_exact(store, tmp_path):
    """The consensus-labels download and the report CSV: =, +, -, @ cells get a leading '."""
    import csv
    import io

    ingest_beir(store, _beir(tmp_path / "beir"), "plain")
    run = tmp_path / "run.txt"
    run.write_text("".join(f"{Q1} Q0 {d} {r} 1.0 t\n" for r, d in enumerate(D[1:], start=1)))
    ingest_trec_run(store, run, "plain")
    ann = User("ann", Role.ANNOTATOR)
    for d in D[:2]:  # D[1] = "=cmd|'/C_calc'!A0"
        review.decide(store, ann, "plain", Q1, d, "negative", note="@SUM(A1:A9)")
    cons = review.consensus(store, "plain").drop(columns=["votes"])
    rows = list(csv.DictReader(io.StringIO(report.spreadsheet_csv(cons))))
    assert {r["doc_id"] for r in rows} == {D[0], "'" + D[1]}
    for bad in ("=1+1", "+1", "-1+2", "@A1", "\t=1"):
        assert report.neutralise_cell(bad) == "'" + bad
    assert report.neutralise_cell(-1.5) == -1.5 and report.neutralise_cell("a=1") == "a=1"
    # the training export of the same text is byte-exact
    out = tmp_path / "t.jsonl"
    export_dataset(store, "plain", "labeled-pair", out, policy=ExportPolicy(drop_risk_above=None))
    texts = {v for x in out.read_text().splitlines() for v in json.loads(x).values()}
    assert f"{D[1]} passage 1" in texts


def test_messages_quoting_input_render_as_plain_text():
    from core.render import plain

    hostile = "**b** [x](javascript:alert(1)) <img src=x onerror=alert(1)> :red[x] $x$ `c`\n# h"
    out = plain(hostile)  # (checked in Chromium: st.error shows it literally)
    bare = __import__("re").sub(r"&#\d+;", "", out)
    assert not any(ch in bare for ch in "*[]()<>:$`#&;\n")
    assert html.unescape(out) == hostile.replace("\n", " ")


def test_sessions_expire_after_their_ttl(store):
    from datetime import timedelta

    auth.add_user(store, "ann", "annotator", "pw-ann")
    _, token = auth.sign_in(store, "ann", "pw-ann", ttl=timedelta(seconds=1))
    assert auth.user_for_token(store, token).name == "ann"
    __import__("time").sleep(1.2)
    assert auth.user_for_token(store, token) is None
