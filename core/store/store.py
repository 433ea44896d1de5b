"""The `Store` facade: the only place that talks SQL. The app, the CLI and the pipeline all use it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Engine,
    Float,
    Integer,
    and_,
    delete,
    func,
    insert,
    select,
    text,
    update,
)

from core.store import schema as S
from core.store.base import bump_epoch, read_epoch, utcnow
from core.store.engine import make_engine, resolve_url
from core.store.migrate import migrate, require_current
from core.types import DatasetCounts, Label, Mode, NegauditError

if TYPE_CHECKING:  # Python 3.10 has no typing.Self
    from typing_extensions import Self

_DATA_TABLES = ("queries", "docs", "qrels", "candidates", "risk", "query_bias")


def _is_conflict(exc: BaseException) -> bool:
    text_ = str(exc)
    return "Conflict" in text_ or "could not serialize" in text_ or "deadlock" in text_


class DatasetWriter:
    """Bulk inserts into one dataset inside one open transaction (all or nothing)."""

    def __init__(self, store: Store, conn: Connection, dataset: str):
        self.store, self.conn, self.dataset = store, conn, dataset
        self.rows: dict[str, int] = {}

    def add(self, table: str, frame: pd.DataFrame) -> int:
        """Append a chunk; `frame` holds `schema.BULK_COLUMNS[table]` (the dataset is added here)."""
        n = self.store._bulk_insert(self.conn, table, self.dataset, frame)
        self.rows[table] = self.rows.get(table, 0) + n
        return n

    def merge_meta(self, changes: dict[str, Any]) -> None:
        """Merge keys into the dataset's `meta` in this transaction: what an import learns only
        after reading its files (the skip report) is stored with the rows, all or nothing."""
        where = S.datasets.c.name == self.dataset
        meta = json.loads(self.conn.execute(select(S.datasets.c.meta).where(where)).scalar_one()
                          or "{}")
        meta.update(changes)
        self.conn.execute(update(S.datasets).where(where).values(meta=json.dumps(meta)))


def check_new_name(name: str) -> None:
    """A new dataset's name becomes part of paths (the app's default export path, `cache export` files) and of
    commands the app prints: no slashes, no control characters, at most 120 characters. Names stored before
    this rule keep working."""
    bad = [ch for ch in name if ch in "/\\" or not ch.isprintable()]
    if bad or len(name) > 120 or name.strip() != name:
        raise NegauditError(f"dataset name {name[:60]!r} is not usable: use at most 120 printable characters "
                            "without '/' or '\\' and without leading or trailing spaces (e.g. 'scifact-train')")


def dataset_exists(name: str) -> NegauditError:
    """The one message for a name already taken (the store's import and `audit`'s early check)."""
    return NegauditError(f"dataset {name!r} already exists; pass --replace to rebuild it "
                         f"(its judgments are kept) or `negaudit datasets rm {name}`")


class Store:
    """One database (DuckDB file or any SQLAlchemy URL) holding every dataset, label and judgment."""

    def __init__(self, engine: Engine, url: str, read_only: bool = False):
        self.engine, self.url = engine, url
        self.is_duckdb = engine.dialect.name == "duckdb"
        self.is_postgres = engine.dialect.name == "postgresql"
        if not read_only:
            migrate(engine)  # Alembic: upgrade to head (or stamp a pre-migration database)
        else:
            try:
                require_current(engine)  # an older schema is one clear line, not a missing column later
            except NegauditError:
                engine.dispose()  # DuckDB: the file must not stay open read-only in this process
                raise

    @classmethod
    def open(cls, db: str | None = None, read_only: bool = False) -> Store:
        url = resolve_url(db, create=not read_only)
        return cls(make_engine(url, read_only=read_only), url, read_only=read_only)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- bulk path -------------------------------------------------------------------------
    def _bulk_insert(self, conn: Connection, table: str, dataset: str, frame: pd.DataFrame) -> int:
        cols = S.BULK_COLUMNS[table]
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{table}: frame lacks columns {missing}")
        if frame.empty:
            return 0
        frame = frame[cols]
        if self.is_duckdb:
            # Arrow/pandas scan inside DuckDB: orders of magnitude faster than executemany.
            raw = conn.connection.driver_connection
            view = f"_bulk_{uuid.uuid4().hex}"
            raw.register(view, frame)
            try:
                col_list = ", ".join(f'"{c}"' for c in cols)
                raw.execute(
                    f'INSERT INTO "{table}" ("dataset", {col_list}) SELECT ?, {col_list} FROM {view}',
                    [dataset],
                )
            finally:
                raw.unregister(view)
        elif self.is_postgres:
            _copy_into(conn, table, dataset, frame)
        else:
            records = frame.astype(object).where(frame.notna(), None).to_dict("records")
            for r in records:
                r["dataset"] = dataset
            tbl = S.metadata.tables[table]
            for i in range(0, len(records), 10_000):
                conn.execute(insert(tbl), records[i : i + 10_000])
        return len(frame)

    def _lock_dataset(self, conn: Connection, name: str) -> None:
        """One writer of a dataset's rows at a time on PostgreSQL, until the transaction ends: two `mine` runs
        each deleted what they could see (not the other's uncommitted rows) and inserted, storing every row
        twice. DuckDB has one writing process per file already."""
        if self.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": f"negaudit:{name}"})

    # ---- datasets ----------------------------------------------------------------------------
    def has_dataset(self, name: str) -> bool:
        with self.engine.connect() as conn:
            q = select(func.count()).select_from(S.datasets).where(S.datasets.c.name == name)
            return conn.execute(q).scalar_one() > 0

    def _delete_rows(self, conn: Connection, name: str, keep_judgments: bool = True) -> None:
        for t in _DATA_TABLES:
            tbl = S.metadata.tables[t]
            conn.execute(delete(tbl).where(tbl.c.dataset == name))
        conn.execute(delete(S.assignments).where(S.assignments.c.dataset == name))
        if not keep_judgments:
            conn.execute(delete(S.judgments).where(S.judgments.c.dataset == name))
        conn.execute(delete(S.datasets).where(S.datasets.c.name == name))
        bump_epoch(conn)  # the review queue's cached heads are stale now

    @contextmanager
    def dataset_writer(
        self, name: str, source: str = "", fmt: str = "", replace: bool = False,
        meta: dict | None = None,
    ) -> Iterator[DatasetWriter]:
        """Create (or with `replace`, rebuild) a dataset in one transaction: a failure leaves nothing.

        Replacing keeps the dataset's judgments: human work outlives a re-import.
        """
        if not name or not name.strip():
            raise NegauditError("a dataset needs a non-empty --name")
        with self.engine.begin() as conn:
            self._lock_dataset(conn, name)
            exists = conn.execute(
                select(func.count()).select_from(S.datasets).where(S.datasets.c.name == name)
            ).scalar_one()
            if not exists:
                check_new_name(name)
            if exists and not replace:
                raise dataset_exists(name)
            if exists:
                self._delete_rows(conn, name, keep_judgments=True)
            conn.execute(insert(S.datasets).values(
                name=name, source=source, format=fmt, created_at=utcnow(),
                meta=json.dumps(meta or {}),
            ))
            bump_epoch(conn)
            yield DatasetWriter(self, conn, name)

    @contextmanager
    def dataset_appender(self, name: str) -> Iterator[DatasetWriter]:
        """Add rows (qrels, a run) to an existing dataset in one transaction."""
        if not self.has_dataset(name):
            raise NegauditError(f"no dataset named {name!r}; see `negaudit datasets`")
        with self.engine.begin() as conn:
            self._lock_dataset(conn, name)
            bump_epoch(conn)
            yield DatasetWriter(self, conn, name)

    def delete_dataset(self, name: str, force: bool = False) -> None:
        if not self.has_dataset(name):
            raise NegauditError(f"no dataset named {name!r}; see `negaudit datasets`")
        n = self.count_judgments(name)
        if n and not force:
            raise NegauditError(
                f"dataset {name!r} has {n} judgments; export them first or pass --force "
                f"to delete them too"
            )
        with self.engine.begin() as conn:
            self._lock_dataset(conn, name)
            self._delete_rows(conn, name, keep_judgments=False)

    def dataset_names(self) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(S.datasets.c.name).order_by(S.datasets.c.name)).scalars())

    def dataset_info(self, name: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(S.datasets).where(S.datasets.c.name == name)).mappings().first()
        if row is None:
            raise NegauditError(f"no dataset named {name!r}; see `negaudit datasets`")
        out = dict(row)
        out["meta"] = json.loads(out["meta"] or "{}")
        return out

    def counts(self, name: str | None = None) -> list[DatasetCounts]:
        """Per dataset: docs, queries, queries with a positive, qrels, candidates, judgments."""
        names = [name] if name else self.dataset_names()
        out = []
        with self.engine.connect() as conn:
            for n in names:
                def count(tbl, *where, col=None, n=n):
                    c = func.count(func.distinct(col)) if col is not None else func.count()
                    return conn.execute(
                        select(c).select_from(tbl).where(tbl.c.dataset == n, *where)
                    ).scalar_one()
                out.append(DatasetCounts(
                    name=n,
                    docs=count(S.docs),
                    queries=count(S.queries),
                    queries_with_positive=count(S.qrels, S.qrels.c.relevance > 0,
                                                col=S.qrels.c.query_id),
                    qrels=count(S.qrels),
                    candidates=count(S.candidates),
                    judgments=count(S.judgments),
                ))
        return out

    # ---- reads -------------------------------------------------------------------------------
    def _frame(self, table: str, name: str, where: Any = None, columns: list[str] | None = None
               ) -> pd.DataFrame:
        tbl = S.metadata.tables[table]
        cols = [tbl.c[c] for c in columns] if columns else [c for c in tbl.c if c.name != "dataset"]
        q = select(*cols).where(tbl.c.dataset == name)
        if where is not None:
            q = q.where(where)
        with self.engine.connect() as conn:
            res = conn.execute(q)
            return _to_frame(res)

    def queries(self, name: str) -> pd.DataFrame:
        return self._frame("queries", name)

    def docs(self, name: str, doc_ids: list[str] | None = None) -> pd.DataFrame:
        where = S.docs.c.doc_id.in_(doc_ids) if doc_ids is not None else None
        return self._frame("docs", name, where)

    def qrels(self, name: str, split: str | None = None) -> pd.DataFrame:
        where = S.qrels.c.split == split if split else None
        return self._frame("qrels", name, where)

    def candidates(self, name: str, miner: str | None = None) -> pd.DataFrame:
        where = S.candidates.c.miner == miner if miner else None
        return self._frame("candidates", name, where)

    def risk(self, name: str) -> pd.DataFrame:
        return self._frame("risk", name)

    def query_bias(self, name: str) -> pd.DataFrame:
        return self._frame("query_bias", name)

    def ids(self, name: str, table: str) -> set[str]:
        col = "doc_id" if table == "docs" else "query_id"
        return set(self._frame(table, name, columns=[col])[col])

    # ---- derived tables (mining, scoring) --------------------------------------------------
    def replace_rows(self, table: str, name: str, frame: pd.DataFrame,
                     where: dict[str, list[str]] | None = None) -> int:
        """Swap a dataset's rows of `table` (optionally only those matching `where`) atomically."""
        tbl = S.metadata.tables[table]
        with self.engine.begin() as conn:
            self._lock_dataset(conn, name)
            cond = [tbl.c.dataset == name]
            for col, values in (where or {}).items():
                cond.append(tbl.c[col].in_(values))
            conn.execute(delete(tbl).where(and_(*cond)))
            if table in ("risk", "candidates"):  # what the review queue orders and shows
                bump_epoch(conn)
            return self._bulk_insert(conn, table, name, frame)

    # ---- judgments (append-only) ------------------------------------------------------------
    def add_judgment(self, dataset: str, query_id: str, doc_id: str, annotator: str,
                     label: Label | str, note: str = "", action: str = "label",
                     seconds: float | None = None, blind: bool | None = None,
                     shown_risk: float | None = None, queue: str | None = None) -> int:
        """Append one judgment; retried on write conflicts. Returns its id once it is durable.

        `seconds` (card shown -> decision), `blind` and `shown_risk` are what the app measured; `queue` the
        review queue's order the card came from (`core.types.Mode` value).
        """
        label_value = label.value if isinstance(label, Label) else str(label)
        if action != "undo":
            Label.parse(label_value)
        row = {"dataset": dataset, "query_id": query_id, "doc_id": doc_id, "annotator": annotator,
               "label": label_value, "note": note or "", "action": action, "created_at": utcnow(),
               "seconds": None if seconds is None else float(seconds),
               "blind": None if blind is None else bool(blind),
               "shown_risk": None if shown_risk is None else float(shown_risk),
               "queue": None if queue is None else Mode(queue).value}
        return self._retry(lambda conn: conn.execute(
            insert(S.judgments).values(**row).returning(S.judgments.c.id)
        ).scalar_one())

    def _retry(self, fn, attempts: int = 20):
        delay = 0.005
        for i in range(attempts):
            try:
                with self.engine.begin() as conn:
                    return fn(conn)
            except Exception as exc:
                if i == attempts - 1 or not _is_conflict(exc):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
        raise AssertionError("unreachable")

    def undo_last(self, dataset: str, annotator: str) -> dict | None:
        """Undo the annotator's latest decision not yet undone, by appending the label it replaced.

        Each call goes one decision further back, across items (a stack, as in an editor); None when every
        decision is undone (nothing is written then).
        """
        j = self.judgments(dataset, annotator=annotator)
        stack = _undo_stack(j)
        if not stack:
            return None
        query_id, doc_id, previous = stack[-1]
        self.add_judgment(dataset, query_id, doc_id, annotator, previous, note="undo", action="undo")
        return {"query_id": query_id, "doc_id": doc_id, "restored": previous}

    def judgments(self, dataset: str, annotator: str | None = None, action: str | None = None) -> pd.DataFrame:
        conds = [c for c in (S.judgments.c.annotator == annotator if annotator else None,
                             S.judgments.c.action == action if action else None) if c is not None]
        where = and_(*conds) if len(conds) > 1 else (conds[0] if conds else None)
        df = self._frame("judgments", dataset, where)
        return df.sort_values("id").reset_index(drop=True) if not df.empty else df

    def count_judgments(self, dataset: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(S.judgments)
                                .where(S.judgments.c.dataset == dataset)).scalar_one()

    def current_labels(self, dataset: str, votes_only: bool = False) -> pd.DataFrame:
        """Latest label per (query, doc, annotator); an undo back to nothing removes the row.

        `votes_only`: each annotator's own vote, leaving adjudications out. An admin who voted and then
        adjudicated the item keeps the vote there (the adjudication replaces it in the default view, where
        it settles the item): agreement and per-annotator counts read votes, not verdicts.
        """
        votes = "AND action <> 'adjudicate'" if votes_only else ""
        sql = text(f"""
            SELECT query_id, doc_id, annotator, label, note, action, created_at, id FROM (
              SELECT *, row_number() OVER (PARTITION BY query_id, doc_id, annotator
                                           ORDER BY id DESC) AS rn
              FROM judgments WHERE dataset = :d {votes}) t
            WHERE rn = 1 AND label <> ''
            ORDER BY id""")
        with self.engine.connect() as conn:
            res = conn.execute(sql, {"d": dataset})
            return _to_frame(res)

    # ---- annotators, sessions, settings ---------------------------------------------------
    def add_annotator(self, name: str, role: str, password_hash: str) -> None:
        """Create an account, or change an existing one's role and password hash (its creation time stays)."""
        a = S.annotators.c
        with self.engine.begin() as conn:
            changed = conn.execute(update(S.annotators).where(a.name == name).values(
                role=role, password_hash=password_hash)).rowcount
            if not changed:
                conn.execute(insert(S.annotators).values(
                    name=name, role=role, password_hash=password_hash, created_at=utcnow()))

    def annotator(self, name: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(S.annotators).where(S.annotators.c.name == name)
                               ).mappings().first()
        return dict(row) if row else None

    def annotators(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            res = conn.execute(select(S.annotators.c.name, S.annotators.c.role,
                                      S.annotators.c.created_at).order_by(S.annotators.c.name))
            return _to_frame(res)

    def epoch(self) -> int:
        """The store epoch: changes whenever risk, candidates or a dataset's rows change."""
        return read_epoch(self.engine)

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self.engine.connect() as conn:
            v = conn.execute(select(S.settings.c.value).where(S.settings.c.key == key)).scalar()
        return default if v is None else v

    def set_setting(self, key: str, value: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(S.settings).where(S.settings.c.key == key))
            conn.execute(insert(S.settings).values(key=key, value=value))


def _to_frame(res: Any) -> pd.DataFrame:
    """The DBAPI rows straight into pandas: 5x faster than via SQLAlchemy Row objects at 1M rows
    (the store's column types need no result processing on DuckDB or psycopg)."""
    return pd.DataFrame.from_records(res.cursor.fetchall(), columns=list(res.keys()))


def _copy_into(conn: Connection, table: str, dataset: str, frame: pd.DataFrame) -> None:
    """PostgreSQL's bulk path: binary COPY ... FROM STDIN on the transaction's own connection."""
    tbl = S.metadata.tables[table]
    cols = ["dataset", *frame.columns]
    types = [_pg_type(tbl.c[c].type) for c in cols]
    values = [[dataset] * len(frame)] + [_copy_values(frame[c], t)
                                         for c, t in zip(frame.columns, types[1:])]
    col_list = ", ".join(f'"{c}"' for c in cols)
    cur = conn.connection.driver_connection.cursor()
    with cur.copy(f'COPY "{table}" ({col_list}) FROM STDIN (FORMAT BINARY)') as copy:
        copy.set_types(types)
        for row in zip(*values):
            copy.write_row(row)


def _pg_type(t: Any) -> str:
    if isinstance(t, BigInteger):
        return "int8"
    if isinstance(t, Integer):
        return "int4"
    if isinstance(t, Float):
        return "float8"
    if isinstance(t, DateTime):
        return "timestamptz"
    return "text"


def _copy_values(col: pd.Series, pg_type: str) -> list:
    """Python values for COPY: NaN/NA become None (NULL, as DuckDB reads them), ids become str."""
    if pg_type in ("int4", "int8"):
        col = pd.Series(pd.array(col, dtype="Int64"))
    elif pg_type == "float8":
        col = pd.to_numeric(col)
    values = col.astype(object).where(col.notna(), None).tolist()
    if pg_type == "text" and not pd.api.types.is_string_dtype(col):
        values = [None if v is None else str(v) for v in values]
    return values


def _undo_stack(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    """Replay one annotator's rows into the decisions an undo can still take back, oldest first:
    (query, doc, the label the decision replaced). An undo row takes back the latest decision on its item
    still on the stack (rows written before undo walked across items read the same; an undo that found
    nothing to take back is ignored)."""
    stack: list[tuple[str, str, str]] = []
    current: dict[tuple[str, str], str] = {}
    if rows.empty:
        return stack
    for q, d, label, action in zip(rows["query_id"], rows["doc_id"], rows["label"], rows["action"]):
        item = (str(q), str(d))
        if action == "undo":
            hit = next((i for i in range(len(stack) - 1, -1, -1) if stack[i][:2] == item), None)
            if hit is not None:
                current[item] = stack.pop(hit)[2]
        else:
            stack.append((*item, current.get(item, "")))
            current[item] = label
    return stack
