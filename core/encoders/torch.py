"""The bi-encoder on torch through sentence-transformers, loaded from local folders only.

torch and sentence-transformers are imported inside the function, so importing this module (and
``negaudit --help``) stays instant. ``import torch`` elsewhere still means the real torch: imports
are absolute.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from core.encoders.ids import ID_ATTR, model_id, resolve_model_path

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

_LOADED: dict[tuple[str, str], Any] = {}


def offline() -> None:
    """Models load from local paths only: the hub must never be contacted."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def load_bi_encoder(path: str | os.PathLike | None = None, device: str = "cpu") -> SentenceTransformer:
    """Load a sentence-transformers bi-encoder from a local folder (default: the packaged MiniLM).

    Loaded models are memoised per (path, device): the app and the CLI may ask many times.
    """
    resolved = resolve_model_path(path)
    key = (str(resolved), device)
    if key not in _LOADED:
        offline()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        shown = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # its "Loading weights" bar broke into the CLI's own progress lines
        try:
            model = SentenceTransformer(str(resolved), device=device, local_files_only=True)
        finally:
            if shown:
                hf_logging.enable_progress_bar()
        setattr(model, ID_ATTR, model_id(resolved, encoder="torch"))
        _LOADED[key] = model
    return _LOADED[key]


class Bf16Encoder:
    """A loaded SentenceTransformer whose ``encode`` runs under CPU bfloat16 autocast.

    On CPUs with AMX bf16 tile units the linear layers run in bf16 with
    fp32 accumulation: NFCorpus docs' cosine to fp32 torch 0.99998 on average (int8 ONNX: 0.994-0.998)
    at about half fp32's CPU time. Without native bf16 the same code is emulated and slower than fp32,
    hence :func:`native_bf16` guards the default (core.encoders.ids).
    """

    def __init__(self, model: Any, mid: str):
        self.model = model
        self.max_seq_length = model.max_seq_length
        setattr(self, ID_ATTR, mid)

    def encode(self, sentences: Any, batch_size: int = 64, show_progress_bar: bool = False,
               convert_to_numpy: bool = True, normalize_embeddings: bool = True, **_: Any) -> Any:
        """Float32 (n, dim) in input order, L2-normalised in fp32 when asked."""
        import numpy as np
        import torch

        texts = list(sentences)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            out = self.model.encode(texts, batch_size=batch_size, show_progress_bar=show_progress_bar,
                                    convert_to_tensor=True, normalize_embeddings=False)
        out = out.float()
        if normalize_embeddings:
            out = torch.nn.functional.normalize(out, p=2, dim=1)
        return out.numpy()


def load_bf16_encoder(path: str | os.PathLike | None = None) -> Bf16Encoder:
    """The bi-encoder of :func:`load_bi_encoder` run in bf16 autocast (cached apart: ``…-torch-bf16``)."""
    resolved = resolve_model_path(path)
    key = (str(resolved), "cpu-bf16")
    if key not in _LOADED:
        _LOADED[key] = Bf16Encoder(load_bi_encoder(resolved), model_id(resolved, encoder="torch-bf16"))
    return _LOADED[key]
