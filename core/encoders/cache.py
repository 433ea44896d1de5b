"""The on-disk embedding cache: keys and arrays only. Encoding dominates every run, so never do it twice.

The cache knows nothing of models: callers pass a model id (:func:`core.encoders.model_id`) and raw
sha256 keys of the texts (:func:`text_key`). The encoders call the cache, never the reverse.

Layout (one folder per model id under ``$NEGAUDIT_CACHE`` or ``~/.cache/negaudit/embeddings``)::

    <root>/<model_id>/shard-<uuid>.keys.npy   # (n, 32) uint8: raw sha256 digests of the texts
    <root>/<model_id>/shard-<uuid>.emb.npy    # (n, dim) float32 (or float16 when seeded from an export)

Each :meth:`EmbeddingCache.put` appends one shard (written to a temporary name, then renamed, so
concurrent readers never see half a shard). Lookups read every shard's keys once per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EXPORT_FORMAT = "negaudit-embeddings/1"


def safe_name(name: str) -> str:
    """A file-system-safe folder name (model ids become folder names)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "model"


def text_key(text: str) -> bytes:
    """Cache key of one text: its raw sha256 digest (32 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def keys_to_array(keys: Sequence[bytes]) -> np.ndarray:
    """(n, 32) uint8; numpy's fixed-width bytes dtype would strip trailing NUL bytes of a digest."""
    if any(len(k) != 32 for k in keys):
        raise ValueError("keys must be raw 32-byte sha256 digests")
    return np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32)


def keys_from_array(arr: np.ndarray) -> list[bytes]:
    raw = np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Float32 rows of unit length (vectors are compared by dot product everywhere)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def default_cache_dir() -> Path:
    return Path(
        os.environ.get("NEGAUDIT_CACHE") or Path.home() / ".cache" / "negaudit" / "embeddings"
    )


BM25_FOLDER = "bm25"  # core.mining.bm25: one folder per corpus index
ONNX_FOLDER = "onnx"  # core.encoders.onnx: one folder per exported model
_KINDS = {BM25_FOLDER: "bm25 indexes", ONNX_FOLDER: "onnx exports"}


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def cache_usage(root: str | os.PathLike | None = None) -> list[dict]:
    """What the cache root holds, a row per folder: ``folder``, ``kind`` (embeddings of one model id, bm25
    indexes, onnx exports, other), ``entries`` (vectors, indexes or exports) and ``bytes``.

    Why: the cache only grows (every corpus and model run adds to it); users need to see where the space
    went before they clear a part of it (``negaudit cache info`` / ``clear``). Reads ``.npy`` headers only.
    """
    root = Path(root) if root is not None else default_cache_dir()
    rows = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if folder.name in _KINDS:
            kind = _KINDS[folder.name]
            entries = sum(1 for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
        elif any(folder.glob("shard-*.keys.npy")):
            kind = "embeddings"
            entries = sum(int(np.load(f, mmap_mode="r").shape[0]) for f in folder.glob("shard-*.keys.npy"))
        else:
            kind, entries = "other", sum(1 for _ in folder.iterdir())
        rows.append({"folder": folder.name, "kind": kind, "entries": entries, "bytes": _folder_bytes(folder)})
    return rows


class EmbeddingCache:
    """Key → vector store on disk, one folder per model id; append-only shards of .npy files."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self._index: dict[str, dict[bytes, tuple[int, int]]] = {}
        self._shards: dict[str, list[np.ndarray]] = {}
        self._seen_files: dict[str, set[str]] = {}

    def folder(self, mid: str) -> Path:
        return self.root / safe_name(mid)

    def _refresh(self, mid: str) -> None:
        """Pick up shards written since the last look (by this or another process)."""
        folder = self.folder(mid)
        index = self._index.setdefault(mid, {})
        shards = self._shards.setdefault(mid, [])
        seen = self._seen_files.setdefault(mid, set())
        if not folder.is_dir():
            return
        for keys_file in sorted(folder.glob("shard-*.keys.npy")):
            if keys_file.name in seen:
                continue
            emb_file = keys_file.with_name(keys_file.name.replace(".keys.npy", ".emb.npy"))
            if not emb_file.exists():
                continue
            keys = keys_from_array(np.load(keys_file))
            emb = np.load(emb_file, mmap_mode="r")
            s = len(shards)
            shards.append(emb)
            for row, k in enumerate(keys):
                index[k] = (s, row)
            seen.add(keys_file.name)

    def __len__(self) -> int:
        return sum(len(v) for v in self._index.values())

    def count(self, mid: str) -> int:
        self._refresh(mid)
        return len(self._index[mid])

    def lookup(self, mid: str, keys: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray | None]:
        """Return (hit mask, vectors of the hits in order) for these keys."""
        self._refresh(mid)
        index = self._index[mid]
        locs = [index.get(k) for k in keys]
        hit = np.array([loc is not None for loc in locs], dtype=bool)
        if not hit.any():
            return hit, None
        shards = self._shards[mid]
        found = [loc for loc in locs if loc is not None]
        shard_of = np.fromiter((s for s, _ in found), dtype=np.int64, count=len(found))
        row_of = np.fromiter((r for _, r in found), dtype=np.int64, count=len(found))
        out = np.empty((len(found), shards[0].shape[1]), dtype=np.float32)
        for s in np.unique(shard_of):  # one fancy-index read per shard, not one per row
            sel = np.flatnonzero(shard_of == s)
            out[sel] = shards[int(s)][row_of[sel]]
        return hit, out

    def put(self, mid: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Append one shard (atomic rename, so a concurrent reader never sees half of it)."""
        if len(keys) == 0:
            return
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys but {len(vectors)} vectors")
        folder = self.folder(mid)
        folder.mkdir(parents=True, exist_ok=True)
        name = f"shard-{uuid.uuid4().hex}"
        keys_arr = keys_to_array(keys)
        for suffix, arr in ((".emb.npy", np.asarray(vectors)), (".keys.npy", keys_arr)):
            tmp = folder / f".{name}{suffix}.tmp"
            with tmp.open("wb") as fh:
                np.save(fh, arr)
            os.replace(tmp, folder / f"{name}{suffix}")  # keys last: a shard exists once its keys do
        self._refresh(mid)

    def compact(self, mid: str) -> int:
        """Merge a model's shards into one (many small runs leave many shards); returns vectors kept."""
        self._refresh(mid)
        folder = self.folder(mid)
        old = sorted(folder.glob("shard-*.keys.npy")) if folder.is_dir() else []
        if len(old) <= 1:
            return self.count(mid)
        keys = list(self._index[mid])
        _, vectors = self.lookup(mid, keys)
        self._index.pop(mid), self._shards.pop(mid), self._seen_files.pop(mid)
        self.put(mid, keys, vectors if vectors is not None else np.zeros((0, 0), np.float32))
        for keys_file in old:
            keys_file.unlink(missing_ok=True)
            Path(str(keys_file).replace(".keys.npy", ".emb.npy")).unlink(missing_ok=True)
        self._index.pop(mid), self._shards.pop(mid), self._seen_files.pop(mid)
        return self.count(mid)


def as_cache(cache: EmbeddingCache | str | os.PathLike | bool | None) -> EmbeddingCache | None:
    """``False`` → no cache; a cache → itself; ``None``/``True`` → the default folder; else that folder."""
    if cache is False:
        return None
    if isinstance(cache, EmbeddingCache):
        return cache
    return EmbeddingCache(None if cache in (None, True) else cache)


# --- export / import of a dataset's embeddings (float16, committed with a demo dataset) -------------


@dataclass
class EmbeddingFile:
    """A dataset's embeddings as shipped in a repo: ids, text hashes, float16 vectors, model id."""

    model_id: str
    ids: list[str]
    text_sha256: list[bytes]  # raw 32-byte digests
    embeddings: np.ndarray  # (n, dim) float16 on disk; float32 after load_embeddings


def write_embeddings(path: str | os.PathLike, mid: str, ids: Sequence[str], keys: Sequence[bytes],
                     embeddings: np.ndarray) -> Path:
    """One ``.npz``: ids, text keys, float16 vectors (~0.77 KB per 384-d vector) and the model id."""
    if not (len(ids) == len(keys) == len(embeddings)):
        raise ValueError("ids, texts and embeddings must have the same length")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"model_id": mid, "format": EXPORT_FORMAT})
    with path.open("wb") as fh:
        np.savez(
            fh,
            meta=np.array(meta),
            ids=np.array(list(ids), dtype=str),
            text_sha256=keys_to_array(keys),
            embeddings=np.asarray(embeddings, dtype=np.float16),
        )
    return path


def _meta(z: np.lib.npyio.NpzFile) -> dict:
    return json.loads(str(z["meta"]))


def export_model_id(path: str | os.PathLike) -> str:
    """The model id of an export, read without decoding its vectors (an npz member loads on access)."""
    with np.load(Path(path), allow_pickle=False) as z:
        return _meta(z)["model_id"]


def load_embeddings(path: str | os.PathLike) -> EmbeddingFile:
    """Read an export written by :func:`write_embeddings`; vectors come back float32, re-normalised."""
    with np.load(Path(path), allow_pickle=False) as z:
        meta = _meta(z)
        return EmbeddingFile(
            model_id=meta["model_id"],
            ids=[str(i) for i in z["ids"]],
            text_sha256=keys_from_array(z["text_sha256"]),
            embeddings=l2_normalise(z["embeddings"]),
        )


def seed_cache(path: str | os.PathLike, cache: EmbeddingCache | str | os.PathLike | None = None) -> int:
    """Import an export into the cache (only keys it lacks); returns how many vectors were added."""
    return import_embeddings(load_embeddings(path), cache)


def import_embeddings(ef: EmbeddingFile, cache: EmbeddingCache | str | os.PathLike | None = None) -> int:
    """:func:`seed_cache` for an export already read (a caller that also counts its vectors reads it once)."""
    store = as_cache(cache)
    assert store is not None
    keys = ef.text_sha256
    hit, _ = store.lookup(ef.model_id, keys)
    seen: dict[bytes, int] = {}  # de-duplicate keys inside the export itself
    for i in np.flatnonzero(~hit).tolist():
        seen.setdefault(keys[i], i)
    rows = list(seen.values())
    store.put(ef.model_id, [keys[i] for i in rows], ef.embeddings[rows])
    return len(rows)
