"""Every CLI misuse is one `error: ...` line naming the option or file, exit code 2, no traceback.

Runs `core.cli.main(argv)` in-process on real files: a real DuckDB store, the BEIR fixture, a
file that is not a database. Validation must come before heavy work, so no test here loads the
model: a misuse that reached the model would be slow *and* fail the "--db file not created" checks.
"""

from __future__ import annotations

import contextlib
import io
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.cli import main
from core.cli.common import SEED_MAX
from core.store import Store
from core.types import NegauditError

FIX = Path(__file__).resolve().parents[1] / "fixtures"
BEIR = FIX / "beir_scifact"


@dataclass
class Result:
    code: int
    out: str
    err: str


def negaudit(*argv: str) -> Result:
    """`negaudit ARGV` in this process, stdout/stderr captured (Hypothesis-safe: no fixtures)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return Result(code, out.getvalue(), err.getvalue())


def assert_misuse(res: Result, *needles: str) -> str:
    """Exit 2, exactly one non-empty stderr line starting `error: `, naming every needle."""
    assert "Traceback" not in res.out + res.err, res.err
    assert res.code == 2, (res.code, res.out, res.err)
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1, res.err
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.fixture(autouse=True)
def _no_exec(monkeypatch) -> None:
    """`serve` ends in os.execve: if validation ever let a misuse through, fail, don't become
    Streamlit."""
    import os

    def refuse(*_a: object) -> None:
        raise AssertionError("negaudit serve reached exec: a misuse went unnoticed")

    monkeypatch.setattr(os, "execve", refuse)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """A real store with the SciFact fixture, a non-database file, an existing output, ..."""
    root = tmp_path_factory.mktemp("misuse")
    db = root / "real.duckdb"
    res = negaudit("ingest", "beir", BEIR, "--name", "sf", "--db", db)
    assert res.code == 0, res.err
    notdb = root / "notes.duckdb"
    notdb.write_text("these are my notes, not a database\n")
    existing = root / "existing.parquet"
    existing.write_bytes(b"precious")
    full = root / "full"
    full.mkdir()
    (full / "keep.txt").write_text("keep")
    audit_out = root / "audit_out"
    audit_out.mkdir()
    (audit_out / "candidates.parquet").write_bytes(b"earlier run")
    model = root / "not_a_model"
    model.mkdir()
    (model / "README.md").write_text("no config here")
    bad_json_model = root / "bad_model"
    bad_json_model.mkdir()
    (bad_json_model / "config.json").write_text("{not json")
    return {"root": root, "db": db, "notdb": notdb, "existing": existing, "full": full,
            "audit_out": audit_out, "model": model, "bad_json_model": bad_json_model}


# ---- the cases from the issue ------------------------------------------------------------------
@pytest.mark.parametrize("value", ["-5", "0", "abc", "1.5"])
def test_mine_top_k_out_of_range(files, value) -> None:
    fresh = files["root"] / f"never_{value}.duckdb"
    assert_misuse(negaudit("mine", "--name", "sf", "--db", fresh, "--top-k", value), "--top-k")
    assert not fresh.exists()  # rejected while parsing: no store was even created


def test_export_out_under_a_file_cannot_be_written(files) -> None:
    target = files["existing"] / "sub" / "train.parquet"
    line = assert_misuse(negaudit("export", "--name", "sf", "--db", files["db"], "--format",
                                  "triplet", "--out", target), "--out", str(files["existing"]))
    assert "is a file" in line


def test_export_out_existing_file_is_refused_without_overwrite(files) -> None:
    assert_misuse(negaudit("export", "--name", "sf", "--db", files["db"], "--format", "triplet",
                           "--out", files["existing"]), "--out", "--overwrite")
    assert files["existing"].read_bytes() == b"precious"


def test_export_overwrite_lets_an_existing_file_through(files) -> None:
    # corrected qrels: the dataset here is never mined, and training rows need candidates
    res = negaudit("export", "--name", "sf", "--db", files["db"], "--format", "trec-qrels",
                   "--out", files["root"] / "fresh.txt", "--overwrite")
    assert res.code == 0, res.err  # --overwrite on a new path is harmless
    again = negaudit("export", "--name", "sf", "--db", files["db"], "--format", "trec-qrels",
                     "--out", files["root"] / "fresh.txt", "--overwrite")
    assert again.code == 0, again.err
    unmined = negaudit("export", "--name", "sf", "--db", files["db"], "--format", "triplet",
                       "--out", files["root"] / "fresh.parquet")
    assert unmined.code == 2 and "no candidates to export as training rows" in unmined.err


@pytest.mark.parametrize("fmt", ["hf", "beir"])
def test_export_folder_formats_refuse_a_non_empty_folder_and_a_file(files, fmt) -> None:
    base = ["export", "--name", "sf", "--db", files["db"], "--format", fmt, "--out"]
    assert_misuse(negaudit(*base, files["full"]), "--out", str(files["full"]), "--overwrite")
    assert_misuse(negaudit(*base, files["existing"]), "--out", "is a file")
    assert (files["full"] / "keep.txt").read_text() == "keep"


def test_export_out_suffix_is_checked_before_the_store_opens(files) -> None:
    fresh = files["root"] / "never_suffix.duckdb"
    assert_misuse(negaudit("export", "--name", "sf", "--db", fresh, "--format", "triplet",
                           "--out", files["root"] / "train.csv"), "--out", ".parquet")
    assert not fresh.exists()


def test_export_out_is_a_folder_where_a_file_is_written(files) -> None:
    assert_misuse(negaudit("export", "--name", "sf", "--db", files["db"], "--format",
                           "trec-qrels", "--out", files["full"]), "--out", "is a folder")


@pytest.mark.parametrize("cmd", [["report", "--name", "sf"], ["datasets"], ["users", "list"],
                                 ["mine", "--name", "sf"], ["score", "--name", "sf"],
                                 ["export", "--name", "sf", "--format", "triplet", "--out",
                                  "/tmp/negaudit-never-written.parquet"],
                                 ["serve"]])
def test_db_that_is_not_a_database_names_the_file(files, cmd) -> None:
    line = assert_misuse(negaudit(*cmd, "--db", files["notdb"]), str(files["notdb"]))
    assert "DuckDB" in line
    assert files["notdb"].read_text().startswith("these are my notes")


@pytest.mark.parametrize("cmd", [["datasets"], ["report", "--name", "sf"],
                                 ["export", "--name", "sf", "--format", "triplet", "--out",
                                  "/tmp/negaudit-never-written.parquet"]])
def test_reading_commands_create_no_database_for_a_mistyped_db(files, cmd) -> None:
    """Listing, reporting and exporting only read: a mistyped --db is named, and no folder or file appears
    (`datasets` once created both and said "no datasets yet")."""
    missing = files["root"] / "typo" / "dir" / "x.duckdb"
    assert_misuse(negaudit(*cmd, "--db", missing), str(missing), "no such database file")
    assert not (files["root"] / "typo").exists()


def test_store_open_raises_the_projects_error_for_the_app_too(files) -> None:
    """The app opens stores through the same code: it gets the same message, not a driver error."""
    with pytest.raises(NegauditError, match="not a valid DuckDB database") as info:
        Store.open(str(files["notdb"]))
    assert str(files["notdb"]) in str(info.value)
    with pytest.raises(NegauditError, match="not a valid DuckDB database"):
        Store.open(str(files["notdb"]), read_only=True)


def test_db_folder_unsupported_url_and_foreign_duckdb_file(files) -> None:
    assert_misuse(negaudit("datasets", "--db", files["full"]), "--db", str(files["full"]),
                  "is a folder")
    assert_misuse(negaudit("report", "--name", "sf", "--db", "sqlite:///" + str(
        files["root"] / "x.sqlite")), "sqlite", "DuckDB or PostgreSQL")
    assert_misuse(negaudit("report", "--name", "sf", "--db", "nosuchdialect://h/db"),
                  "nosuchdialect://h/db")
    assert_misuse(negaudit("datasets", "--db", "mysql://u@h/db"), "mysql://", "DuckDB", "PostgreSQL")
    import duckdb

    foreign = files["root"] / "foreign.duckdb"
    duckdb.connect(str(foreign)).execute("CREATE TABLE t (a INT)").close()
    assert_misuse(negaudit("report", "--name", "sf", "--db", foreign), str(foreign),
                  "no negaudit data")
    missing = files["root"] / "missing.duckdb"
    assert_misuse(negaudit("report", "--name", "sf", "--db", missing), str(missing))


@pytest.mark.parametrize("cmd", [["mine", "--name", "sf"], ["score", "--name", "sf"],
                                 ["audit", str(BEIR), "--name", "a", "--out", "{root}/a_out"],
                                 ["cache", "export", "--name", "sf", "--out", "{root}/e.npz"]])
@pytest.mark.parametrize("which", ["missing", "file", "model", "bad_json_model"])
def test_bad_model_path_fails_before_anything_loads(files, cmd, which) -> None:
    model = {"missing": files["root"] / "no_such_model", "file": files["existing"]}.get(
        which, files.get(which))
    fresh = files["root"] / f"never_model_{cmd[0]}_{which}.duckdb"
    argv = [a.format(root=files["root"]) for a in cmd]
    assert_misuse(negaudit(*argv, "--db", fresh, "--model", model), "--model", str(model))
    assert not fresh.exists()


@pytest.mark.parametrize("option,value", [("--drop-risk-above", "1.5"),
                                          ("--drop-risk-above", "-0.1"),
                                          ("--drop-risk-above", "nan"),
                                          ("--drop-risk-above", "inf"),
                                          ("--drop-risk-above", "half"),
                                          ("--num-negatives", "0"),
                                          ("--num-negatives", "-3"),
                                          ("--seed", "-1"),
                                          ("--seed", str(SEED_MAX + 1))])
def test_export_numbers_out_of_range(files, option, value) -> None:
    fresh = files["root"] / "never_export.duckdb"
    assert_misuse(negaudit("export", "--name", "sf", "--db", fresh, "--format", "triplet",
                           "--out", files["root"] / "n.parquet", option, value), option)
    assert not fresh.exists()


def test_report_out_existing_refused_then_overwritten(files) -> None:
    out = files["root"] / "report.csv"
    out.write_text("old")
    assert_misuse(negaudit("report", "--name", "sf", "--db", files["db"], "--out", out),
                  "--out", "--overwrite")
    assert out.read_text() == "old"
    res = negaudit("report", "--name", "sf", "--db", files["db"], "--out", out, "--overwrite")
    assert res.code == 0, res.err
    assert out.read_text() != "old"
    nested = files["root"] / "new" / "dir" / "r.csv"  # missing parents are created, not an error
    assert negaudit("report", "--name", "sf", "--db", files["db"], "--out", nested).code == 0
    assert nested.is_file()


def test_report_seed_out_of_range(files) -> None:
    assert_misuse(negaudit("report", "--name", "sf", "--db", files["db"], "--seed", "-2"),
                  "--seed")


def test_audit_refuses_earlier_results_and_a_missing_folder(files) -> None:
    fresh = files["root"] / "never_audit.duckdb"
    assert_misuse(negaudit("audit", BEIR, "--name", "a", "--db", fresh, "--out",
                           files["audit_out"]), "--out", "candidates.parquet", "--overwrite")
    assert (files["audit_out"] / "candidates.parquet").read_bytes() == b"earlier run"
    assert_misuse(negaudit("audit", files["root"] / "no_beir", "--name", "a", "--db", fresh,
                           "--out", files["root"] / "o"), "no_beir")
    assert not fresh.exists()


def test_mine_unknown_miner_and_engine(files) -> None:
    fresh = files["root"] / "never_miner.duckdb"
    assert_misuse(negaudit("mine", "--name", "sf", "--db", fresh, "--miner", "splade"), "splade")
    assert_misuse(negaudit("mine", "--name", "sf", "--db", fresh, "--engine", "spark"), "spark")
    assert not fresh.exists()


def test_cache_export_and_import_misuse(files) -> None:
    held = files["root"] / "held.npz"
    held.write_bytes(b"precious")
    assert_misuse(negaudit("cache", "export", "--name", "sf", "--db", files["db"], "--out", held),
                  "--out", "--overwrite")
    assert held.read_bytes() == b"precious"
    assert_misuse(negaudit("cache", "export", "--name", "sf", "--db", files["db"], "--out",
                           files["root"] / "emb.txt"), "--out", "must end in .npz")
    assert not (files["root"] / "emb.txt").exists()
    assert_misuse(negaudit("cache", "import", files["notdb"]), str(files["notdb"]),
                  "cache export")
    assert_misuse(negaudit("cache", "import", files["root"] / "nothing.npz"), "nothing.npz")
    assert_misuse(negaudit("cache", "import", files["full"]), "full")


def test_serve_port_and_db(files) -> None:
    for port in ("0", "65536", "http"):
        assert_misuse(negaudit("serve", "--db", files["db"], "--port", port), "--port")


def test_users_add_unknown_role(files) -> None:
    assert_misuse(negaudit("users", "add", "bob", "--role", "king", "--db", files["db"]),
                  "--role", "king")


def test_users_rm_of_the_last_admin(tmp_path, monkeypatch) -> None:
    db = tmp_path / "users.duckdb"
    for name in ("alice", "bob"):
        monkeypatch.setattr("sys.stdin", io.StringIO("pw-x\n"))
        assert negaudit("users", "add", name, "--role", "admin", "--db", db).code == 0
    assert negaudit("users", "rm", "bob", "--db", db).code == 0
    assert_misuse(negaudit("users", "rm", "alice", "--db", db), "'alice' is the last admin")
    assert negaudit("users", "list", "--db", db).out.splitlines() == ["alice\tadmin"]


def test_backup_cli(files, tmp_path) -> None:
    out = tmp_path / "copy.duckdb"
    res = negaudit("backup", "--db", files["db"], "--out", out)
    assert res.code == 0 and f"backed up to {out}" in res.out, res.err
    with Store.open(str(out), read_only=True) as copy:
        assert "sf" in copy.dataset_names()
    assert_misuse(negaudit("backup", "--db", files["db"], "--out", out), "exists", "--overwrite")
    assert_misuse(negaudit("backup", "--db", files["db"], "--out", tmp_path / "c.db"), "must end in .duckdb")
    assert_misuse(negaudit("backup", "--db", files["db"], "--out", files["db"]), "the database itself")
    assert_misuse(negaudit("backup", "--db", tmp_path / "none.duckdb"), "no such database file")
    # another process (the app) holds the file: say where the backup is taken then
    import subprocess
    import sys

    held = tmp_path / "held.duckdb"
    held.write_bytes(Path(files["db"]).read_bytes())
    hold = "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(held)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert_misuse(negaudit("backup", "--db", held, "--out", tmp_path / "h.duckdb"), "Admin -> Backup")
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("argv,needle", [
    (["bench", "retrain", str(BEIR), "--seeds", "1,x"], "--seeds"),
    (["bench", "retrain", str(BEIR), "--seeds", ""], "--seeds"),
    (["bench", "retrain", str(BEIR), "--threshold", "1.01"], "--threshold"),
    (["bench", "retrain", str(BEIR), "--threshold", "nan"], "--threshold"),
    (["bench", "retrain", str(BEIR), "--sampling", "best"], "--sampling"),
    (["bench", "throughput", str(BEIR), "--paths", "raw,gpu"], "gpu"),
    (["bench", "onnx", str(BEIR), "--variants", ","], "--variants"),
    (["bench", "onnx", str(BEIR), "--cache", "{existing}"], "--cache"),
    (["bench", "store", "--backend", "mysql"], "--backend"),
    (["bench", "store", "--judgments", "-1"], "--judgments"),
    (["bench", "mining", "{root}/no_such_dir"], "no_such_dir"),
    (["bench", "fn-detection", "{existing}"], "existing.parquet"),
    (["bench", "mining", str(BEIR), "--json", "{existing}"], "--json"),
    (["bench", "mining", str(BEIR), "--orders", "sideways"], "--orders"),
    (["bench", "mining", str(BEIR), "--work-dir", "{existing}"], "--work-dir"),
    (["bench", "retrain", str(BEIR), "--json", "{existing}"], "--json"),
])
def test_bench_misuse(files, argv, needle) -> None:
    argv = [a.format(root=files["root"], existing=files["existing"]) for a in argv]
    assert_misuse(negaudit(*argv), needle)


@pytest.mark.parametrize("argv,needle", [
    (["mine"], "--name"),                       # a missing required option
    (["mine", "--name", "sf", "--topk", "3"], "--topk"),  # a typo
    (["exprot"], "exprot"),                      # an unknown command
    (["export", "--name", "sf", "--format", "csv", "--out", "x"], "--format"),
])
def test_usage_errors_are_one_line_too(argv, needle) -> None:
    line = assert_misuse(negaudit(*argv), needle)
    assert "--help" in line  # where to look next


# ---- Hypothesis over every numeric option ------------------------------------------------------
@dataclass(frozen=True)
class Num:
    """One numeric option: the command before it, its valid range, and a cheap stopper.

    The stopper makes an in-range run fail right after parsing (an existing --out, a --db that
    is not a database), so a valid value is shown to pass validation without any real work.
    """

    argv: tuple[str, ...]
    option: str
    lo: float
    hi: float | None = None
    real: bool = False  # a float option (else an integer)
    stop: tuple[str, ...] = ("--db", "{notdb}")
    stop_needle: str = "{notdb}"


EXPORT = ("export", "--name", "sf", "--format", "triplet", "--out", "{existing}")
OUT_STOP = {"stop": (), "stop_needle": "--overwrite"}
JSON_STOP = {"stop": ("--json", "{existing}"), "stop_needle": "--json"}
NUMERIC = [
    Num(("mine", "--name", "sf"), "--top-k", 1),
    Num(("audit", str(BEIR), "--name", "a", "--out", "{audit_out}"), "--top-k", 1, **OUT_STOP),
    Num(EXPORT, "--num-negatives", 1, **OUT_STOP),
    Num(EXPORT, "--seed", 0, SEED_MAX, **OUT_STOP),
    Num(EXPORT, "--drop-risk-above", 0, 1, real=True, **OUT_STOP),
    Num(EXPORT, "--range-min", 0, **OUT_STOP),
    Num(EXPORT, "--range-max", 1, **OUT_STOP),
    Num(EXPORT, "--min-score", -1, 1, real=True, **OUT_STOP),
    Num(EXPORT, "--max-score", -1, 1, real=True, **OUT_STOP),
    Num(EXPORT, "--absolute-margin", -2, 2, real=True, **OUT_STOP),
    Num(EXPORT, "--relative-margin", 0, 1, real=True, **OUT_STOP),
    Num(("report", "--name", "sf"), "--seed", 0, SEED_MAX),
    Num(("serve",), "--port", 1, 65535),
    Num(("bench", "fn-detection", str(BEIR)), "--keep-positives", 1, **JSON_STOP),
    Num(("bench", "fn-detection", str(BEIR)), "--top-k", 1, **JSON_STOP),
    Num(("bench", "fn-detection", str(BEIR)), "--seed", 0, SEED_MAX, **JSON_STOP),
    Num(("bench", "fn-detection", str(BEIR)), "--query-sample", 2, **JSON_STOP),
    Num(("bench", "fn-detection", str(BEIR)), "--doc-sample", 2, **JSON_STOP),
    Num(("bench", "mining", str(BEIR)), "--top-k", 1, **JSON_STOP),
    Num(("bench", "mining", str(BEIR)), "--batch-size", 1, **JSON_STOP),
    Num(("bench", "mining", str(BEIR)), "--max-queries", 1, **JSON_STOP),
    Num(("bench", "ingest", str(BEIR)), "--rows", 1, **JSON_STOP),
    Num(("bench", "store"), "--candidates", 1, **JSON_STOP),
    Num(("bench", "store"), "--judgments", 0, **JSON_STOP),
    Num(("bench", "store"), "--samples", 1, **JSON_STOP),
    Num(("bench", "throughput", str(BEIR)), "--n", 1, **JSON_STOP),
    Num(("bench", "throughput", str(BEIR)), "--batch-size", 1, **JSON_STOP),
    Num(("bench", "throughput", str(BEIR)), "--repeats", 1, **JSON_STOP),
    Num(("bench", "onnx", str(BEIR)), "--batch-size", 1, **JSON_STOP),
    Num(("bench", "retrain", str(BEIR)), "--max-steps", 1, **JSON_STOP),
    Num(("bench", "retrain", str(BEIR)), "--batch-size", 1, **JSON_STOP),
    Num(("bench", "retrain", str(BEIR)), "--eval-docs", 1, **JSON_STOP),
    Num(("bench", "retrain", str(BEIR)), "--top-k", 1, **JSON_STOP),
    Num(("bench", "retrain", str(BEIR)), "--threshold", 0, 1, real=True, **JSON_STOP),
    Num(("bench", "scale"), "--docs", 1, **JSON_STOP),
    Num(("bench", "scale"), "--queries", 1, **JSON_STOP),
    Num(("bench", "scale"), "--dim", 1, **JSON_STOP),
    Num(("bench", "scale"), "--top-k", 1, **JSON_STOP),
    Num(("bench", "scale"), "--sample", 1, **JSON_STOP),
    Num(("bench", "scale"), "--nprobe", 1, **JSON_STOP),
    Num(("bench", "scale"), "--recall-target", 0, 1, real=True, **JSON_STOP),
    Num(("bench", "scale"), "--seed", 0, SEED_MAX, **JSON_STOP),
    Num(("bench", "scoring"), "--docs-x", 1, **JSON_STOP),
    Num(("bench", "scoring"), "--queries-x", 1, **JSON_STOP),
    Num(("bench", "scoring"), "--top-k", 1, **JSON_STOP),
    Num(("bench", "scoring"), "--seed", 0, SEED_MAX, **JSON_STOP),
]
IDS = [f"{' '.join(n.argv[:2])} {n.option}" for n in NUMERIC]
WORDS = st.from_regex(r"[a-z][a-z0-9_.]{0,8}", fullmatch=True).filter(
    lambda s: s not in ("nan", "inf", "infinity", "none", "off"))


def _out_of_range(n: Num) -> st.SearchStrategy[str]:
    if n.real:
        outside = st.floats(allow_nan=True, allow_infinity=True).filter(
            lambda x: math.isnan(x) or not n.lo <= x <= n.hi)
        return st.one_of(outside.map(repr), st.sampled_from(["nan", "-inf", "1e400"]), WORDS)
    below = st.integers(max_value=int(n.lo) - 1)
    above = st.integers(min_value=int(n.hi) + 1) if n.hi is not None else st.nothing()
    return st.one_of(below.map(str), above.map(str), WORDS,
                     st.floats(allow_nan=False).filter(lambda x: x != int(x) if math.isfinite(x)
                                                       else True).map(repr))


def _in_range(n: Num) -> st.SearchStrategy[str]:
    if n.real:
        return st.floats(min_value=n.lo, max_value=n.hi).map(repr)
    return st.integers(min_value=int(n.lo), max_value=int(n.hi or 10**9)).map(str)


def _argv(n: Num, files: dict[str, Path], value: str, stop: bool) -> list[str]:
    fill = {k: str(v) for k, v in files.items()}
    parts = [*n.argv, n.option, value, *(n.stop if stop else ())]
    return [p.format(**fill) for p in parts]


SETTINGS = settings(max_examples=20, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@pytest.mark.parametrize("spec", NUMERIC, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_out_of_range_numbers_exit_2_naming_the_option(files, spec, data) -> None:
    value = data.draw(_out_of_range(spec), label="value")
    assert_misuse(negaudit(*_argv(spec, files, value, stop=False)), spec.option)


@pytest.mark.parametrize("spec", NUMERIC, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_in_range_numbers_pass_validation(files, spec, data) -> None:
    value = data.draw(_in_range(spec), label="value")
    line = assert_misuse(negaudit(*_argv(spec, files, value, stop=True)),
                         spec.stop_needle.format(**{k: str(v) for k, v in files.items()}))
    assert f"'{spec.option}'" not in line  # the number itself was accepted


def test_every_numeric_option_is_covered() -> None:
    """A new int/float option must join NUMERIC (validated and drawn above) for this to pass."""
    import typing

    from typer.main import get_command

    from core.cli import app

    covered = {(tuple(a for a in n.argv if not a.startswith("-") and a == a.lower()
                      and "/" not in a and "{" not in a), n.option) for n in NUMERIC}

    def leaves(cmd, path):
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from leaves(sub, (*path, name))
        if not getattr(cmd, "commands", None):
            yield path, cmd

    missing = []
    for path, cmd in leaves(get_command(app), ()):
        if path[0] in ("ingest", "datasets"):
            continue  # tests/cli/test_ingest_cli.py covers them
        for p in cmd.params:
            ann = p.type_descriptor.annotation
            kinds = set(typing.get_args(ann) or (ann,))
            numeric = kinds & {int, float} and p.opts[0].startswith("--")
            if numeric and not any(argv[: len(path)] == path and opt == p.opts[0]
                                   for argv, opt in covered):
                missing.append(f"{' '.join(path)} {p.opts[0]}")
    assert not missing, missing


def test_version_names_the_package_and_the_scorer() -> None:
    from importlib.metadata import version

    from core.risk import SCORER_VERSION

    res = negaudit("--version")
    assert res.code == 0 and res.out.strip() == f"negaudit {version('negaudit')} (scorer {SCORER_VERSION})"
