"""Bring your own embeddings: vectors computed elsewhere (a GPU, a service) for a dataset's texts.

A corpus of millions of passages cannot be encoded on a small CPU; users who encode elsewhere bring
the vectors. Accepted files (any dimension, one model):

* parquet: columns `id` (string), `kind` ("doc" | "query"), `vector` (list of numbers); the model
  name may sit in the file's metadata under `model`.
* npz: `ids`, `vectors` (n, d) and `kinds` (or `--kind` for all rows); or `doc_ids`/`doc_vectors`
  and/or `query_ids`/`query_vectors`; optional `model` (a 0-d string).
* npy: one (n, d) matrix; its ids from `--ids FILE` (one per line), all of one `--kind`.

The vectors go into the embedding cache (`core.encoders`) under the model id
`supplied-<model>-<d>d`, keyed by the text they embed (a doc's `doc_text(title, text)`, a query's
text), so mining and scoring with `supplied_model(store, name)` hit the cache for every text and
encode nothing. The dataset records `{model, dim, cache_model_id, docs, queries}` in
`meta["embeddings"]`; a later import (or run) naming another model or dimension is refused. The
cache keeps the first vector per text: to change vectors for the same texts, use a new model name.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.ingest.common import input_file, read_lines
from core.types import InputError, NegauditError

META_KEY = "embeddings"
KINDS = ("doc", "query")
SUFFIXES = (".parquet", ".pq", ".npz", ".npy")


@dataclass
class Block:
    """Vectors of one kind: ids and an (n, d) float32 matrix, row i for ids[i]."""

    ids: list[str]
    vectors: np.ndarray
    rows: list[int] = field(default_factory=list)  # row numbers in the file, for messages


@dataclass
class Supplied:
    """What a file holds: a block per kind (either may be empty) and the model it names, if any."""

    blocks: dict[str, Block]
    model: str | None = None

    @property
    def dim(self) -> int:
        return next(b.vectors.shape[1] for b in self.blocks.values() if len(b.ids))


# ---- reading ---------------------------------------------------------------------------------

def _ids(values: Any, path: Path, field_: str) -> list[str]:
    """Ids as strings: strings or integers (numpy writes those), never floats, blanks or None."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(path, None, field_, f"expected a 1-d array of ids, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return [str(int(v)) for v in arr]
    if arr.dtype.kind not in "UO":
        raise InputError(path, None, field_, f"ids must be strings, got {arr.dtype} values")
    out = []
    for i, v in enumerate(arr.tolist()):
        if not isinstance(v, str) or not v.strip():
            raise InputError(path, None, field_, f"row {i + 1}: missing id ({v!r})")
        out.append(v)
    return out


def _matrix(values: Any, path: Path, field_: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 2:
        raise InputError(path, None, field_, f"expected a 2-d (rows × dimension) array of vectors, "
                                             f"got shape {arr.shape}")
    if arr.dtype.kind not in "fiu":
        raise InputError(path, None, field_, f"vectors must be numbers, got {arr.dtype} values")
    if arr.shape[1] == 0:
        raise InputError(path, None, field_, "vectors have dimension 0")
    return np.asarray(arr, dtype=np.float32)


def _block(path: Path, ids: list[str], vectors: np.ndarray, field_: str,
           rows: list[int] | None = None) -> Block:
    """Check one block: as many ids as rows, ids unique, every value finite, no zero vector."""
    rows = rows or list(range(1, len(ids) + 1))
    if len(ids) != len(vectors):
        raise InputError(path, None, field_,
                         f"{len(ids):,} ids for {len(vectors):,} vectors: every vector needs an id")
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise InputError(path, None, field_,
                         f"row {rows[i]} (id {ids[i]!r}): NaN or infinite value in the vector")
    zero = ~np.any(vectors, axis=1)
    if zero.any():
        i = int(np.argmax(zero))
        raise InputError(path, None, field_,
                         f"row {rows[i]} (id {ids[i]!r}): an all-zero vector has no direction")
    seen: dict[str, int] = {}
    for i, rid in enumerate(ids):
        if rid in seen:
            raise InputError(path, None, "id", f"row {rows[i]}: duplicate id {rid!r} (first on "
                                               f"row {rows[seen[rid]]})")
        seen[rid] = i
    return Block(ids, vectors, rows)


def _kinds(values: Any, path: Path) -> list[str]:
    kinds = [str(k) if k is not None else "" for k in np.asarray(values).tolist()]
    for i, k in enumerate(kinds):
        if k not in KINDS:
            raise InputError(path, None, "kind", f"row {i + 1}: kind must be 'doc' or 'query', "
                                                 f"got {k!r}")
    return kinds


def _split(path: Path, ids: list[str], kinds: list[str], vectors: np.ndarray,
           field_: str) -> dict[str, Block]:
    if not (len(ids) == len(kinds) == len(vectors)):
        raise InputError(path, None, field_, f"{len(ids):,} ids, {len(kinds):,} kinds and "
                                             f"{len(vectors):,} vectors: one each per row")
    kinds_arr = np.asarray(kinds)
    out = {}
    for kind in KINDS:
        sel = np.flatnonzero(kinds_arr == kind)
        out[kind] = _block(path, [ids[i] for i in sel], vectors[sel], field_,
                           [int(i) + 1 for i in sel])
    return out


def _read_parquet(path: Path) -> Supplied:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        missing = [c for c in ("id", "kind", "vector") if c not in names]
        if missing:
            raise InputError(path, None, missing[0], f"missing column; expected id, kind, vector; "
                                                     f"the file has: {', '.join(names)}")
        table = pf.read(columns=["id", "kind", "vector"])
        meta = pf.schema_arrow.metadata or {}
    except (pa.ArrowException, OSError, ValueError, EOFError) as exc:
        raise InputError(path, None, None, f"not a readable parquet file ({exc})") from None
    vec = table.column("vector").combine_chunks()
    if not (pa.types.is_list(vec.type) or pa.types.is_large_list(vec.type)
            or pa.types.is_fixed_size_list(vec.type)):
        raise InputError(path, None, "vector", f"expected a list of numbers per row, got {vec.type}")
    if vec.null_count:
        i = int(np.flatnonzero(vec.is_null().to_numpy(zero_copy_only=False))[0])
        raise InputError(path, None, "vector", f"row {i + 1}: missing vector")
    lengths = pc.list_value_length(vec).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths != lengths[0]).any():
        i = int(np.flatnonzero(lengths != lengths[0])[0])
        raise InputError(path, None, "vector", f"row {i + 1}: vector has {lengths[i]} values, row 1 "
                                               f"has {lengths[0]} (all vectors need one dimension)")
    values = vec.flatten()
    if not (pa.types.is_floating(values.type) or pa.types.is_integer(values.type)):
        raise InputError(path, None, "vector", f"vectors must be numbers, got {values.type}")
    if values.null_count:
        raise InputError(path, None, "vector", "a vector holds a missing (null) value")
    dim = int(lengths[0]) if len(lengths) else 0
    vectors = values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(len(vec), dim)
    ids = _ids(np.asarray(table.column("id").to_pylist(), dtype=object), path, "id")
    model = meta.get(b"model", b"").decode("utf-8", "replace") or None
    return Supplied(_split(path, ids, _kinds(table.column("kind").to_pylist(), path), vectors,
                           "vector"), model)


def _check_magic(path: Path, magic: bytes, what: str) -> None:
    """A file that does not start like ``what`` is named as such (numpy would call it pickled data, or the
    command would only say "aborted": click turns numpy's EOFError on an empty file into an abort)."""
    with open(path, "rb") as f:
        head = f.read(len(magic))
    if head != magic:
        raise InputError(path, None, None, "empty file" if not head else f"not a {what} file (it does not "
                                                                          f"start with the {what} header)")


def _read_npz(path: Path, kind: str | None) -> Supplied:
    _check_magic(path, b"PK", ".npz")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except ValueError as exc:  # object arrays need pickle, which we never load
        raise InputError(path, None, None, f"cannot read the npz without pickle ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:  # truncated or corrupt
        raise InputError(path, None, None, f"not a readable npz file ({type(exc).__name__}: {exc})") from None
    model = str(arrays["model"]) if "model" in arrays else None
    if "ids" in arrays or "vectors" in arrays:
        for key in ("ids", "vectors"):
            if key not in arrays:
                raise InputError(path, None, key, f"missing array; the file has: "
                                                  f"{', '.join(arrays)}")
        ids = _ids(arrays["ids"], path, "ids")
        vectors = _matrix(arrays["vectors"], path, "vectors")
        if "kinds" in arrays:
            kinds = _kinds(arrays["kinds"], path)
        elif kind:
            kinds = [kind] * len(ids)
        else:
            raise InputError(path, None, "kinds", "missing array: give `kinds` (doc/query per row) "
                                                  "or --kind for all rows")
        return Supplied(_split(path, ids, kinds, vectors, "vectors"), model)
    blocks = {}
    for k in KINDS:
        if f"{k}_ids" in arrays or f"{k}_vectors" in arrays:
            if f"{k}_ids" not in arrays or f"{k}_vectors" not in arrays:
                raise InputError(path, None, f"{k}_ids", f"{k}_ids and {k}_vectors go together")
            blocks[k] = _block(path, _ids(arrays[f"{k}_ids"], path, f"{k}_ids"),
                               _matrix(arrays[f"{k}_vectors"], path, f"{k}_vectors"),
                               f"{k}_vectors")
    if not blocks:
        raise InputError(path, None, None, f"no vectors: expected ids + vectors (+ kinds) or "
                                           f"doc_ids/doc_vectors, query_ids/query_vectors; the file "
                                           f"has: {', '.join(arrays) or 'nothing'}")
    return Supplied(blocks, model)


def _read_npy(path: Path, ids_path: str | Path | None, kind: str | None) -> Supplied:
    if ids_path is None or kind is None:
        raise InputError(path, None, None, "a .npy matrix has no ids: give --ids FILE (one id per "
                                           "line) and --kind doc|query")
    _check_magic(path, b"\x93NUMPY", ".npy")
    try:
        vectors = _matrix(np.load(path, allow_pickle=False), path, None)
    except (ValueError, OSError, EOFError) as exc:  # truncated, or object arrays (pickle is never loaded)
        raise InputError(path, None, None, f"not a readable npy file ({type(exc).__name__}: {exc})") from None
    ids_file = input_file(ids_path)
    ids = []
    for line, text in read_lines(ids_file):
        if not text.strip():
            raise InputError(ids_file, line, None, "missing id (blank line)")
        ids.append(text.strip())
    return Supplied({kind: _block(path, ids, vectors, None)})


def read_embeddings(path: str | Path, ids: str | Path | None = None, kind: str | None = None
                    ) -> Supplied:
    """Read and check a file of supplied vectors (see the module docstring for the layouts)."""
    path = input_file(path)
    if kind is not None and kind not in KINDS:
        raise InputError("--kind", None, None, f"must be 'doc' or 'query', got {kind!r}")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        out = _read_parquet(path)
    elif suffix == ".npz":
        out = _read_npz(path, kind)
    elif suffix == ".npy":
        out = _read_npy(path, ids, kind)
    else:
        raise InputError(path, None, None, f"unsupported file type {path.suffix!r}; expected one "
                                           f"of {', '.join(SUFFIXES)}")
    blocks = {k: b for k, b in out.blocks.items() if len(b.ids)}
    if not blocks:
        raise InputError(path, None, None, "no vectors in the file")
    dims = {k: b.vectors.shape[1] for k, b in blocks.items()}
    if len(set(dims.values())) > 1:
        raise InputError(path, None, None, f"doc vectors have dimension {dims['doc']}, query "
                                           f"vectors {dims['query']}: one model, one dimension")
    out.blocks = blocks
    return out


# ---- into the cache, recorded with the dataset ------------------------------------------------

def cache_model_id(model: str, dim: int) -> str:
    """The cache's model id for supplied vectors: never one of a real encoder's ids."""
    from core.encoders.cache import safe_name

    return f"supplied-{safe_name(model)}-{dim}d"


def _texts(store: Any, name: str, kind: str) -> tuple[list[str], list[str]]:
    """Every id of `kind` in the dataset and the text its vector embeds (what mining encodes)."""
    from core.encoders import doc_text

    if kind == "doc":
        docs = store.docs(name)
        return docs.doc_id.tolist(), [doc_text(t, x) for t, x in zip(docs.title, docs.text)]
    queries = store.queries(name)
    return queries.query_id.tolist(), queries.text.tolist()


def _check_model(recorded: dict | None, model: str, dim: int, into: str, replace: bool) -> None:
    if recorded is None or replace:
        return
    if recorded["model"] != model:
        raise NegauditError(f"dataset {into!r} has embeddings from model {recorded['model']!r}; "
                            f"these name {model!r}: one model per dataset (--replace to switch)")
    if recorded["dim"] != dim:
        raise NegauditError(f"dimension {dim} does not match dataset {into!r}'s {recorded['dim']}-d "
                            f"embeddings from {model!r}")


def ingest_embeddings(store: Any, path: str | Path, into: str, model: str | None = None,
                      ids: str | Path | None = None, kind: str | None = None,
                      replace: bool = False, cache: Any = None) -> dict[str, Any]:
    """Put a file's vectors into the embedding cache for dataset `into` and record the model.

    Every id must be one of the dataset's docs/queries; the dataset's coverage (how many of its
    docs and queries now have a vector) is returned and recorded.
    """
    from core.encoders import as_cache, text_key

    if not store.has_dataset(into):
        raise NegauditError(f"no dataset named {into!r}; see `negaudit datasets`")
    supplied = read_embeddings(path, ids, kind)
    if model and supplied.model and model != supplied.model:
        raise InputError(path, None, "model", f"the file names model {supplied.model!r}, --model "
                                              f"says {model!r}")
    model = (model or supplied.model or "").strip()
    if not model:
        raise NegauditError("name the model the vectors came from: --model NAME")
    dim = supplied.dim
    recorded = store.dataset_info(into)["meta"].get(META_KEY)
    _check_model(recorded, model, dim, into, replace)
    mid, cache_ = cache_model_id(model, dim), as_cache(cache if cache is not None else True)
    coverage, added, staged = {}, 0, {}
    for k in KINDS:  # every check before any write: a refused file adds nothing to the cache
        all_ids, texts = _texts(store, into, k)
        keys = {rid: text_key(t) for rid, t in zip(all_ids, texts)}
        block = supplied.blocks.get(k)
        if block is not None:
            unknown = [rid for rid in block.ids if rid not in keys]
            if unknown:
                raise InputError(path, None, "id", f"{len(unknown):,} {k} ids are not in dataset "
                                                   f"{into!r} (e.g. {', '.join(map(repr, unknown[:5]))})")
            clash = _clashes(cache_, mid, [keys[rid] for rid in block.ids], block.vectors)
            if len(clash):  # the cache keeps the first vector per text: the new ones would be ignored silently
                shown = ", ".join(repr(block.ids[i]) for i in clash[:3])
                raise InputError(path, None, "vector", f"model {model!r} already holds other vectors for "
                                                       f"{len(clash):,} of these {k} texts (e.g. {shown}): name "
                                                       f"these vectors' model differently (--model), or clear "
                                                       f"the old ones (`negaudit cache clear --model`)")
        staged[k] = (keys, block)
    for k, (keys, block) in staged.items():
        if block is not None:
            added += _put(cache_, mid, [keys[rid] for rid in block.ids], block.vectors)
        hit, _ = cache_.lookup(mid, list(keys.values())) if keys else (np.zeros(0, bool), None)
        coverage[k] = [int(hit.sum()), len(keys)]
    info = {"model": model, "dim": dim, "cache_model_id": mid, "cache_dir": str(cache_.root),
            "coverage": coverage}
    with store.dataset_appender(into) as writer:
        writer.merge_meta({META_KEY: info})
    return {**info, "added": added,
            "in_file": {k: len(supplied.blocks[k].ids) if k in supplied.blocks else 0
                        for k in KINDS}}


SAME_VECTOR = 0.999  # cosine above which a supplied vector is the cached one (float16 round trips: ~0.99999)


def _clashes(cache: Any, mid: str, keys: list[bytes], vectors: np.ndarray) -> np.ndarray:
    """Rows whose text the cache already holds under this model with another vector."""
    hit, held = cache.lookup(mid, keys)
    if held is None:
        return np.zeros(0, dtype=np.int64)
    new = np.asarray(vectors[hit], dtype=np.float32)
    norms = np.linalg.norm(new, axis=1) * np.linalg.norm(held, axis=1)
    cos = np.einsum("ij,ij->i", new, held) / np.where(norms > 0, norms, 1.0)
    return np.flatnonzero(hit)[cos < SAME_VECTOR]


def _put(cache: Any, mid: str, keys: list[bytes], vectors: np.ndarray) -> int:
    """Add the vectors whose text the cache lacks (first vector per text); returns how many."""
    hit, _ = cache.lookup(mid, keys)
    first: dict[bytes, int] = {}
    for i in np.flatnonzero(~hit).tolist():
        first.setdefault(keys[i], i)
    rows = list(first.values())
    cache.put(mid, [keys[i] for i in rows], vectors[rows])
    return len(rows)


class SuppliedModel:
    """Stands in for a bi-encoder where a dataset has supplied vectors: its model id is theirs, so
    every cached text is served from them, and a text without one is an error — never silently
    encoded by another model."""

    def __init__(self, info: dict, dataset: str) -> None:
        from core.encoders.ids import ID_ATTR

        self.info, self.dataset = info, dataset
        setattr(self, ID_ATTR, info["cache_model_id"])

    def encode(self, texts: list[str], **_: Any) -> np.ndarray:
        raise NegauditError(
            f"{len(texts):,} texts of dataset {self.dataset!r} have no supplied vector from "
            f"{self.info['model']!r} in the cache {self.info.get('cache_dir')!r} (e.g. "
            f"{texts[0][:60]!r}); supply them with `negaudit ingest embeddings`")


def supplied_model(store: Any, name: str, model: Any = None) -> SuppliedModel | None:
    """The dataset's supplied-embeddings model, or None if it has none.

    A run that names a model (a string) other than the one recorded is refused: vectors of two
    models cannot be compared.
    """
    info = store.dataset_info(name)["meta"].get(META_KEY)
    if info is None:
        return None
    if isinstance(model, str) and model and model != info["model"]:
        raise NegauditError(f"dataset {name!r} has supplied embeddings from {info['model']!r}; "
                            f"this run names model {model!r}")
    return SuppliedModel(info, name)
