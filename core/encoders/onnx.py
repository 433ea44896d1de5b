"""The bi-encoder on onnxruntime (fp32 or dynamic int8), without ``optimum``.

sentence-transformers' ``backend="onnx"`` needs ``optimum``, which conflicts with
sentence-transformers 6.x here (see DESIGN.md), so the model is exported with
``torch.onnx.export`` once and run with onnxruntime directly. The graph is the model's own modules:
the transformer, mean pooling over the attention mask, L2 normalisation (the packaged MiniLM's
``modules.json``); tokenisation is the model's ``tokenizer.json`` through ``tokenizers`` with
sentence-transformers' settings (truncate at ``max_seq_length``, pad to the longest in the batch).

Exports live next to the embedding cache (``<cache root>/onnx/<model id>/``, or under
``$NEGAUDIT_ONNX_DIR``) and are made on first use; running an exported model imports neither torch
nor sentence-transformers.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from core.encoders.cache import ONNX_FOLDER, default_cache_dir, safe_name
from core.encoders.ids import ID_ATTR, check_encoder, model_id, resolve_model_path
from core.encoders.torch import load_bi_encoder

# onnx-int8-mixed (the default): int8 except the feed-forward output projections, which stay fp32;
# onnx-int8: every weight MatMul int8 (the default before; its cached vectors keep their own key).
VARIANTS = {"onnx": "model.onnx", "onnx-int8": "model.int8.onnx",
            "onnx-int8-mixed": "model.int8-mixed.onnx"}
INT8_MAX_BATCH = 16  # texts per int8 batch (see OnnxEncoder.encode)
_LOADED: dict[tuple[str, str], OnnxEncoder] = {}  # (variant, model folder) -> encoder


def onnx_dir(mid: str, root: str | os.PathLike | None = None) -> Path:
    """Where a model's exports live: ``$NEGAUDIT_ONNX_DIR`` if set, else ``<cache root>/onnx``.

    The exports are model files, not embeddings: a separate folder lets a run start with an empty
    embedding cache (the mining bench's cold side) without re-exporting the model.
    """
    base = Path(root) / ONNX_FOLDER if root else (
        Path(os.environ["NEGAUDIT_ONNX_DIR"]) if os.environ.get("NEGAUDIT_ONNX_DIR")
        else default_cache_dir() / ONNX_FOLDER)
    return base / safe_name(mid)


def export_onnx(folder: Path, out_dir: Path) -> Path:
    """Export transformer + mean pooling + normalise of a sentence-transformers folder to ONNX (fp32)."""
    import torch

    st = load_bi_encoder(folder)
    modules = [type(m).__name__ for m in st]
    if modules[:2] != ["Transformer", "Pooling"] or not set(modules[2:]) <= {"Normalize"}:
        raise ValueError(f"the ONNX encoder supports Transformer + Pooling (+ Normalize) models, not {modules}")
    pool = st[1].get_config_dict()
    if pool.get("pooling_mode", "mean" if pool.get("pooling_mode_mean_tokens") else None) != "mean":
        raise ValueError("the ONNX encoder supports mean pooling only")
    bert = st[0].auto_model

    class Pooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / VARIANTS["onnx"]
    tmp = out_dir / f".{os.getpid()}.{path.name}.tmp"
    ids = torch.ones((2, 8), dtype=torch.long)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shapes; the dynamic axes are tested
        torch.onnx.export(
            Pooled().eval(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["sentence_embedding"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "token_type_ids")}
            | {"sentence_embedding": {0: "batch"}},
            opset_version=17, dynamo=False,
        )
    os.replace(tmp, path)
    return path


def down_projections(fp32: Path) -> list[str]:
    """Names of the MatMuls whose weight maps a wider input to a narrower output (K > N): in a BERT
    layer only the feed-forward output (intermediate -> hidden), whose post-GELU input has the
    widest activation range and, int8, lost the most (NFCorpus docs: 1 - cosine to torch 0.0059
    all int8, 0.0025 with these fp32; excluding Q/K/V, attention output or FFN input: 0.0045-0.0055)."""
    import onnx

    graph = onnx.load(str(fp32), load_external_data=False).graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    return [n.name for n in graph.node if n.op_type == "MatMul" and len(shapes.get(n.input[1], ())) == 2
            and shapes[n.input[1]][0] > shapes[n.input[1]][1]]


@contextmanager
def _root_logging_untouched() -> Iterator[None]:
    """onnxruntime's quantiser warns through `logging.warning` ("consider pre-processing"), which also
    installs a root handler: the warning, and every library's debug lines after it, reached the CLI's
    output. Its root warnings are dropped and any handler it adds is removed."""
    import logging

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for h in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(h)
        root.setLevel(level)


def quantize_int8(fp32: Path, variant: str = "onnx-int8-mixed") -> Path:
    """Dynamic int8 quantisation, per output channel (per-tensor loses too much: cosine 0.94 to fp32);
    ``onnx-int8-mixed`` keeps the feed-forward output projections fp32 (:func:`down_projections`)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = fp32.with_name(VARIANTS[variant])
    tmp = out.with_name(f".{os.getpid()}.{out.name}.tmp")
    exclude = down_projections(fp32) if variant == "onnx-int8-mixed" else []
    with _root_logging_untouched():
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=exclude)
    os.replace(tmp, out)
    return out


def ensure_exported(folder: Path, mid: str, variant: str, root: str | os.PathLike | None = None) -> Path:
    """The ONNX file of ``variant`` for this model, exporting (and quantising) it on first use."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown ONNX variant {variant!r}; choose from {sorted(VARIANTS)}")
    out_dir = onnx_dir(mid, root)
    path = out_dir / VARIANTS[variant]
    if path.exists():
        return path
    fp32 = out_dir / VARIANTS["onnx"]
    if not fp32.exists():
        export_onnx(folder, out_dir)
    return fp32 if variant == "onnx" else quantize_int8(fp32, variant)


class OnnxEncoder:
    """``encode`` like SentenceTransformer's (the subset negaudit uses), on onnxruntime."""

    def __init__(self, onnx_path: Path, folder: Path, mid: str, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        cfg = json.loads((folder / "sentence_bert_config.json").read_text())
        self.max_seq_length = int(cfg.get("max_seq_length", 256))
        self.do_lower_case = bool(cfg.get("do_lower_case", False))
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=self.max_seq_length)
        pad = self.tokenizer.padding or {}
        self._pad = {"pad_id": pad.get("pad_id", 0), "pad_token": pad.get("pad_token", "[PAD]")}
        self.tokenizer.no_padding()
        opts = ort.SessionOptions()
        # batches run side by side, one thread each: int8 batches are small (<= 16 texts) and two
        # intra-op threads on one batch kept ~1.5 of 2 cores busy; one batch per thread encodes the
        # same vectors in 16% less wall (800 NFCorpus docs, quiet: 18.3-19.6 vs 21.9-22.8 ms/passage)
        self.workers = max(1, threads or (os.cpu_count() or 1))
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        # idle worker threads sleep instead of spinning: on shared cores a spinning pool steals the
        # CPU other processes (and its own busy threads) need; measured 1.9-3x faster wall at load 7
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # no memory plan per input shape: length-sorted batches give ~1 shape per batch, and keeping a
        # plan for each held 1,049 vs 882 MB peak RSS encoding the NFCorpus docs, at the same speed
        opts.enable_mem_pattern = False
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.path = onnx_path
        self.int8 = onnx_path.name != VARIANTS["onnx"]  # dynamic int8: activation scales per batch
        setattr(self, ID_ATTR, mid)

    def encode(self, sentences: Sequence[str], batch_size: int = 64, show_progress_bar: bool = False,
               convert_to_numpy: bool = True, normalize_embeddings: bool = True,
               progress: Callable[[int], None] | None = None, **_: Any) -> np.ndarray:
        """Float32 (n, dim), L2-normalised, in input order.

        Every text is tokenised once (truncated at ``max_seq_length``) and texts are sorted by token
        count, longest first, so a batch pads only to its neighbours' length; a batch holds at most
        ``batch_size x max_seq_length`` padded tokens. int8 batches hold at most
        :data:`INT8_MAX_BATCH` texts: dynamic quantisation scales activations per batch, and bigger
        batches (a wider range) cost precision — SciFact test nDCG@10 with int8 queries encoded 1,
        16, 64, 512 at a time: 0.6480, 0.6457, 0.6391, 0.6400 (torch: 0.6451). ``progress`` hears the number
        of texts encoded so far after each batch (the batches are the same with or without it).
        """
        texts = [t.lower() for t in sentences] if self.do_lower_case else list(sentences)
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        enc = self.tokenizer.encode_batch(texts)  # unpadded: batches pad themselves below
        lengths = np.fromiter((len(e.ids) for e in enc), dtype=np.int64, count=len(enc))
        order = np.argsort(-lengths, kind="stable")
        max_texts = min(batch_size, INT8_MAX_BATCH) if self.int8 else batch_size
        batches = token_batches(lengths[order], max_texts, batch_size * self.max_seq_length)

        def run(sl: slice) -> tuple[np.ndarray, np.ndarray]:
            rows = order[sl]
            width = int(lengths[rows[0]])
            feed = {name: np.zeros((len(rows), width), dtype=np.int64)
                    for name in ("input_ids", "attention_mask", "token_type_ids")}
            if self._pad["pad_id"]:
                feed["input_ids"][:] = self._pad["pad_id"]
            for r, i in enumerate(rows):
                e, n = enc[i], int(lengths[i])
                feed["input_ids"][r, :n] = e.ids
                feed["attention_mask"][r, :n] = 1
                feed["token_type_ids"][r, :n] = e.type_ids
            return rows, self.session.run(["sentence_embedding"], feed)[0]  # releases the GIL

        workers = min(self.workers, len(batches))
        done: list[tuple[np.ndarray, np.ndarray]] = []
        encoded = 0
        with ThreadPoolExecutor(workers) if workers > 1 else nullcontext() as pool:
            for result in (pool.map(run, batches) if pool is not None else map(run, batches)):
                done.append(result)  # in batch order, as each finishes
                encoded += len(result[0])
                if progress is not None:
                    progress(encoded)
        out = np.empty((len(texts), done[0][1].shape[1]), dtype=np.float32)
        for rows, emb in done:
            out[rows] = emb
        return out


def token_batches(lengths: np.ndarray, max_texts: int, max_tokens: int) -> list[slice]:
    """Consecutive slices over token counts sorted longest first, each <= max_texts texts and
    <= max_tokens padded tokens (a batch pads to its first, longest, text)."""
    out, start = [], 0
    while start < len(lengths):
        width = max(1, int(lengths[start]))
        n = max(1, min(max_texts, max_tokens // width, len(lengths) - start))
        out.append(slice(start, start + n))
        start += n
    return out


def load_onnx_encoder(folder: Path, base_mid: str, variant: str, threads: int | None = None,
                      root: str | os.PathLike | None = None) -> OnnxEncoder:
    """A new session over the ``variant`` export of the model in ``folder`` (exported on first use)."""
    mid = f"{base_mid}-{variant}"
    return OnnxEncoder(ensure_exported(folder, base_mid, variant, root), folder, mid, threads)


def load_onnx(path: str | os.PathLike | None, variant: str) -> OnnxEncoder:
    """The ONNX encoder of a local model folder (default: the packaged MiniLM), memoised per process."""
    check_encoder(variant)
    resolved = resolve_model_path(path)
    key = (variant, str(resolved))
    if key not in _LOADED:
        _LOADED[key] = load_onnx_encoder(resolved, model_id(resolved, encoder="torch"), variant)
    return _LOADED[key]


def clear_loaded() -> None:
    """Forget memoised sessions (tests that point ``$NEGAUDIT_CACHE`` elsewhere)."""
    _LOADED.clear()
