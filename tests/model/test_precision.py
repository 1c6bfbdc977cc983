"""Mixed precision and compile: bf16 on CPU matches fp32 on the digits CNN; fp16 goes through a GradScaler."""

import pytest
import torch
from mlflow import MlflowClient

from components.config.sections import TrainConfig
from components.models.cnn import CnnConfig, ConvNet
from components.stages import features, ingest, train, validate
from components.training.loop import Tensors, set_seeds, train_loop, train_step
from components.training.precision import make_amp, precision_free
from tests.helpers import params_with


def test_amp_per_precision():
    cpu = torch.device("cpu")
    assert make_amp("fp32", cpu).dtype is None and make_amp("fp32", cpu).scaler is None
    assert make_amp("bf16", cpu).dtype == torch.bfloat16 and make_amp("bf16", cpu).scaler is None
    fp16 = make_amp("fp16", cpu)
    assert fp16.dtype == torch.float16 and isinstance(fp16.scaler, torch.amp.GradScaler)
    assert precision_free({"lr": 1, "precision": "bf16", "compile": True, "nproc": 2}) == {"lr": 1, "nproc": 2}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_low_precision_step_learns_and_keeps_fp32_weights(precision, small_digits):
    set_seeds(0)
    from components.data.transforms.image import ImageTransform

    t = ImageTransform.fit(small_digits, {"image_shape": [8, 8]})
    batch = Tensors(torch.from_numpy(t.features(small_digits.head(32))),
                    torch.from_numpy(t.targets(small_digits.head(32))))
    model = ConvNet(CnnConfig(channels=[8, 16], hidden=32, dropout=0.0), (1, 8, 8), 10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    amp = make_amp(precision, torch.device("cpu"))
    losses = [float(train_step(model, opt, batch, amp)) for _ in range(25)]
    assert losses[-1] < 0.3 * losses[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    if precision == "fp16":
        assert amp.scaler.get_scale() > 0 and amp.state_dict()["scale"] == amp.scaler.get_scale()


@pytest.mark.slow
def test_compiled_model_trains_and_saves_plain_keys():
    set_seeds(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 1, 8, 8, generator=g)
    y = (x.mean(dim=(1, 2, 3)) > 0).long()
    model = ConvNet(CnnConfig(channels=[4], hidden=0, dropout=0.0, batch_norm=False), (1, 8, 8), 2)
    cfg = TrainConfig(epochs=3, patience=5, batch_size=64, lr=0.01, progress=False, compile=True)
    hist = train_loop(model, Tensors(x, y), Tensors(x, y), cfg, torch.device("cpu"))
    assert hist.epochs[-1].val_loss < hist.epochs[0].val_loss
    assert not any(k.startswith("_orig_mod") for k in model.state_dict())


@pytest.mark.slow
def test_bf16_on_cpu_within_one_point_of_fp32_and_delta_is_logged(tmp_path, mlflow_store):
    """The digits CNN in bf16 against the fp32 run of the same params (trained first, as none exists)."""
    params = params_with({"validate.min_rows": 50, "features.val_size": 0.3, "train.epochs": 10,
                          "train.patience": 10, "train.batch_size": 64, "train.progress": False,
                          "train.cnn.channels": [8, 16], "train.cnn.hidden": 32, "train.cnn.dropout": 0.0,
                          "train.precision": "bf16", "train.fp32_reference": True})
    ingest.run(params.ingest, tmp_path / "raw", params.kind)
    validate.run(params.validation, tmp_path / "raw", tmp_path / "validation")
    features.run(params.features, tmp_path / "raw", tmp_path / "validation", tmp_path / "features", params.task)
    result = train.run(params, tmp_path / "features", tmp_path / "model")
    client = MlflowClient(tracking_uri=mlflow_store)
    runs = client.search_runs([client.get_experiment_by_name("digits-cnn").experiment_id])
    by_precision = {r.data.tags["keel.precision"]: r for r in runs}
    assert sorted(by_precision) == ["bf16", "fp32"]
    fp32, bf16 = by_precision["fp32"].data.metrics, by_precision["bf16"].data.metrics
    assert fp32["best_val_accuracy"] >= 0.9  # both learnt: the comparison means something
    assert abs(bf16["best_val_accuracy"] - fp32["best_val_accuracy"]) <= 0.01
    assert bf16["fp32_delta_best_val_accuracy"] == pytest.approx(bf16["best_val_accuracy"] - fp32["best_val_accuracy"])
    assert result.metrics["train_samples_per_s"] > 0 and "fp32_delta_train_samples_per_s" in result.metrics
    assert by_precision["bf16"].data.tags["keel.fp32_reference_run"] == by_precision["fp32"].info.run_id
    assert by_precision["bf16"].data.tags["keel.reference_digest"] == by_precision["fp32"].data.tags[
        "keel.reference_digest"]
    opt_out = train.run(params.model_copy(update={"train": params.train.model_copy(
        update={"fp32_reference": False})}), tmp_path / "features", tmp_path / "model2")
    assert len(client.search_runs([client.get_experiment_by_name("digits-cnn").experiment_id])) == 3  # no new fp32
    assert not any(k.startswith("fp32_delta") for k in opt_out.metrics)
