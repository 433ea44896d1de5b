"""Record types shared by every module: one place, so ingest, store, risk and export agree."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Label(str, Enum):
    """A human judgment of one (query, candidate doc) pair."""

    NEGATIVE = "negative"  # a true negative: fine to train on
    FALSE_NEGATIVE = "false_negative"  # relevant but unlabelled: must not be a negative
    PARTIAL = "partial"  # partially relevant
    UNSURE = "unsure"

    @classmethod
    def parse(cls, value: str) -> Label:
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown label {value!r}; expected one of: {allowed}") from None


class Role(str, Enum):
    ANNOTATOR = "annotator"
    ADMIN = "admin"


class Mode(str, Enum):
    """The order of the review queue."""

    RISK = "risk"  # highest fn_risk first: find false negatives fast
    UNCERTAIN = "uncertain"  # |risk - 0.5| smallest: the judgments that teach the calibrator most
    RANDOM = "random"  # seeded uniform permutation: an unbiased audit sample
    QUERY = "query"  # one query's candidates together


QUEUE_STATUSES = ("unreviewed", "mine", "any")  # plus "by:<annotator>"


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """What the annotator asked to see: data only, so the store builds its SQL from it.

    `status`: unreviewed | mine | any | by:<name>.
    """

    dataset: str
    mode: Mode = Mode.RISK
    miner: str | None = None
    risk_min: float = 0.0
    risk_max: float = 1.0
    status: str = "unreviewed"
    query_id: str | None = None
    seed: int = 0


@dataclass(frozen=True, slots=True)
class Query:
    query_id: str
    text: str


@dataclass(frozen=True, slots=True)
class Doc:
    doc_id: str
    text: str
    title: str = ""


@dataclass(frozen=True, slots=True)
class Qrel:
    """A label the dataset came with (or one merged in from a TREC qrels file)."""

    query_id: str
    doc_id: str
    relevance: int
    split: str = "train"
    origin: str = "dataset"


@dataclass(frozen=True, slots=True)
class Candidate:
    """An unlabelled doc a miner ranked high for a query: a would-be negative."""

    query_id: str
    doc_id: str
    miner: str
    rank: int
    score: float | None = None


@dataclass(frozen=True, slots=True)
class Judgment:
    """One appended row of the judgments log (never updated, never deleted)."""

    dataset: str
    query_id: str
    doc_id: str
    annotator: str
    label: Label
    note: str = ""
    action: str = "label"  # label | undo | adjudicate


@dataclass(slots=True)
class DatasetCounts:
    name: str
    docs: int = 0
    queries: int = 0
    queries_with_positive: int = 0
    qrels: int = 0
    candidates: int = 0
    judgments: int = 0
    extra: dict = field(default_factory=dict)


class NegauditError(Exception):
    """A user-facing error: the CLI prints its message and exits non-zero, no traceback."""


class InputError(NegauditError):
    """Malformed input: always says which file, which line and which field."""

    MAX_REASON = 500  # a message quoting a 10 MB field stays readable

    def __init__(self, path: object, line: int | None, field: str | None, message: str):
        if len(message) > self.MAX_REASON:
            message = message[: self.MAX_REASON] + f"… ({len(message):,} characters)"
        self.path, self.line, self.field, self.reason = str(path), line, field, message
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


class StoreLockedError(NegauditError):
    """The DuckDB file is held by another process (usually the running app)."""


class AuthorizationError(NegauditError):
    """The acting user lacks the role an operation needs."""
