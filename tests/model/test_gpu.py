"""CUDA-only paths of the loop: autocast on GPU, compile, streamed batches from pinned memory, NCCL DDP.
Skipped where torch.cuda.is_available() is False (see tests/conftest.py)."""

import numpy as np
import pandas as pd
import pytest
import torch

from components.config.sections import TrainConfig
from components.data.streaming import ParquetStream
from components.data.transforms.tabular import TabularTransform
from components.models.cnn import CnnConfig, ConvNet
from components.training.loop import Tensors, set_seeds, train_loop, train_step
from components.training.precision import make_amp

pytestmark = pytest.mark.gpu
CUDA = torch.device("cuda")


def _blobs(n=512, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=g)
    return Tensors(x, (x.mean(dim=(1, 2, 3)) > 0).long())


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_step_on_cuda(precision):
    set_seeds(0)
    model = ConvNet(CnnConfig(channels=[8], hidden=0, dropout=0.0), (1, 8, 8), 2).to(CUDA)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    amp = make_amp(precision, CUDA)
    batch = _blobs().to(CUDA)
    losses = [float(train_step(model, opt, batch, amp)) for _ in range(30)]
    assert np.isfinite(losses).all() and losses[-1] < 0.5 * losses[0]
    assert all(p.dtype == torch.float32 and p.is_cuda for p in model.parameters())


def test_bf16_compiled_loop_on_cuda():
    set_seeds(0)
    model = ConvNet(CnnConfig(channels=[8], hidden=0, dropout=0.0), (1, 8, 8), 2)
    cfg = TrainConfig(epochs=4, patience=5, batch_size=64, lr=0.01, progress=False, precision="bf16", compile=True)
    hist = train_loop(model, _blobs(), _blobs(256, seed=1), cfg, CUDA)
    assert hist.epochs[-1].val_loss < hist.epochs[0].val_loss and next(model.parameters()).is_cuda


def test_stream_batches_arrive_on_cuda_from_pinned_workers(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(4):
        pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000), "label": rng.integers(0, 2, 1000)}
                     ).to_parquet(tmp_path / f"part-{i:05d}.parquet", index=False)
    t = TabularTransform(columns=["a", "b"], mean=[0.0, 0.0], std=[1.0, 1.0], classes=[0, 1])
    stream = ParquetStream(tmp_path, t).to(CUDA)
    batches = list(stream.iter_batches(256, torch.Generator().manual_seed(0), workers=2))
    assert all(x.is_cuda and y.is_cuda for x, y in batches)
    assert sum(len(y) for _, y in batches) == 4000


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 GPUs for NCCL DDP")
def test_nccl_ddp_two_gpus(tmp_path, mlflow_store):
    from components.stages import features, ingest, train, validate
    from tests.helpers import params_with

    params = params_with({"validate.min_rows": 50, "train.epochs": 5, "train.patience": 5, "train.progress": False,
                          "train.device": "cuda", "train.nproc": 2, "train.cnn.channels": [8, 16]})
    ingest.run(params.ingest, tmp_path / "raw", params.kind)
    validate.run(params.validation, tmp_path / "raw", tmp_path / "validation")
    features.run(params.features, tmp_path / "raw", tmp_path / "validation", tmp_path / "features", params.task)
    result = train.run(params, tmp_path / "features", tmp_path / "model")
    assert result.metrics["best_val_accuracy"] > 0.8 and result.metrics["epochs_run"] == 5
