"""Must-show: exported triplet / n-tuple parquet loads with `datasets` and trains one step."""

from __future__ import annotations

import copy

import pytest
from toy_data import DS

from core.export import ExportPolicy, export_dataset


def train_one_step(model, parquet, tmp_path):
    from datasets import load_dataset
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    ds = load_dataset("parquet", data_files=str(parquet), split="train",
                      cache_dir=str(tmp_path / "hf-cache"))
    ds = ds.select(range(min(4, len(ds))))
    args = SentenceTransformerTrainingArguments(
        output_dir=str(tmp_path / "run"), max_steps=1, per_device_train_batch_size=2,
        learning_rate=1e-4, report_to="none", save_strategy="no", logging_steps=1,
        use_cpu=True, seed=0, dataloader_num_workers=0)
    trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds,
                                         loss=MultipleNegativesRankingLoss(model))
    out = trainer.train()
    return ds, out


@pytest.mark.parametrize("fmt,columns", [
    ("triplet", ["anchor", "positive", "negative"]),
    ("n-tuple", ["anchor", "positive", "negative_1", "negative_2"]),
])
def test_exported_parquet_trains_one_step(bi_encoder, store, tmp_path, fmt, columns):
    import torch

    path = tmp_path / f"{fmt}.parquet"
    export_dataset(store, DS, fmt, path, ExportPolicy(num_negatives=2, drop_risk_above=None))
    model = copy.deepcopy(bi_encoder)  # the session model stays untouched
    before = [p.detach().clone() for p in model.parameters()]
    ds, out = train_one_step(model, path, tmp_path)
    assert ds.column_names == columns and len(ds) == 4
    assert out.global_step == 1 and out.training_loss == out.training_loss  # finite, not NaN
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
