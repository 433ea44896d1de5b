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

        model = SentenceTransformer(str(resolved), device=device, local_files_only=True)
        setattr(model, ID_ATTR, model_id(resolved, encoder="torch"))
        _LOADED[key] = model
    return _LOADED[key]
