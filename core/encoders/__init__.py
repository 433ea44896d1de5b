"""Bi-encoders behind one ``encode``, and the on-disk embedding cache they fill.

Layout (arrows point down only; the cache never imports an encoder):

* ``cache.py``  — keys (sha256 of a text) and arrays on disk, float16 exports; no models.
* ``ids.py``    — the packaged model's path, machine-independent model ids, the encoder choice.
* ``torch.py``  — sentence-transformers on torch (local folders only; fp32, or bf16 autocast).
* ``onnx.py``   — the same modules exported to onnxruntime (fp32, int8, int8 with fp32 output projections:
  ``onnx-int8-mixed``, the default on CPUs without AMX).
* ``late.py`` / ``static_late.py`` — token MaxSim from contextual token vectors / from the static
  word-piece table (the risk signals ``late_maxsim`` and its query mean).
* ``encode.py`` — ``load_encoder`` (torch or onnx), ``encode_texts`` through the cache, exports.
"""

from core.encoders.cache import (
    EmbeddingCache,
    EmbeddingFile,
    as_cache,
    default_cache_dir,
    load_embeddings,
    seed_cache,
    text_key,
)
from core.encoders.encode import (
    EncodeStats,
    LazyEncoder,
    doc_text,
    encode_texts,
    encode_texts_with_stats,
    export_cache,
    load_encoder,
    save_embeddings,
)
from core.encoders.ids import (
    DEFAULT_ENCODER,
    DEFAULT_MODEL_NAME,
    ENCODERS,
    default_encoder,
    default_model_path,
    encoder_of,
    model_id,
    native_bf16,
)
from core.encoders.torch import load_bi_encoder

__all__ = [
    "DEFAULT_ENCODER",
    "DEFAULT_MODEL_NAME",
    "ENCODERS",
    "EmbeddingCache",
    "EmbeddingFile",
    "EncodeStats",
    "LazyEncoder",
    "as_cache",
    "default_cache_dir",
    "default_encoder",
    "default_model_path",
    "doc_text",
    "encode_texts",
    "encode_texts_with_stats",
    "encoder_of",
    "export_cache",
    "load_bi_encoder",
    "load_embeddings",
    "load_encoder",
    "model_id",
    "native_bf16",
    "save_embeddings",
    "seed_cache",
    "text_key",
]
