import numpy as np
import pandas as pd
import pytest
import torch

from components.config.sections import TrainConfig
from components.data.transforms.series import SeriesTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.forecasting import ForecastConfig
from components.training.loop import Tensors, set_seeds, train_loop


def _transform(L=12, h=6):
    return SeriesTransform(freq="MS", input_len=L, horizon=h, season=12, mean=300.0, std=1.0, mase_scale=1.0)


def _monthly(n=120):
    t = np.arange(n)
    return pd.DataFrame({"timestamp": pd.date_range("2000-01-01", periods=n, freq="MS"),
                         "value": 300 + 0.1 * t + 2 * np.sin(2 * np.pi * t / 12)})


@pytest.mark.parametrize("cell,layers", [("gru", 1), ("lstm", 2)])
def test_shapes_and_loss_only_with_targets(cell, layers):
    model = build_model("forecasting", ForecastConfig(cell=cell, hidden=8, layers=layers), _transform(), (12,))
    x, y = torch.randn(5, 12), torch.randn(5, 6)
    out, loss = model(x, y)
    assert out.shape == (5, 6) and loss.ndim == 0
    assert model(x)[1] is None


def test_forecast_moves_with_the_level_of_the_history():
    """Invariance: the model works relative to the window's last value, so shifting a history shifts its
    forecast by the same amount (a trend can leave the training range)."""
    model = build_model("forecasting", ForecastConfig(hidden=8), _transform(), (12,)).eval()
    x = torch.randn(3, 12)
    assert torch.allclose(model(x + 5.0)[0], model(x)[0] + 5.0, atol=1e-5)


def test_loss_falls_on_a_seasonal_series():
    set_seeds(0)
    t = SeriesTransform.fit(_monthly(), {"features": {"freq": "MS", "input_len": 12, "horizon": 6, "season": 12}})
    data = Tensors(torch.from_numpy(t.features(_monthly())), torch.from_numpy(t.targets(_monthly())))
    assert data.x.shape == (120 - 12 - 6 + 1, 12) and data.y.shape == (103, 6)
    model = build_model("forecasting", ForecastConfig(hidden=16), t, (12,))
    cfg = TrainConfig(lr=1e-2, batch_size=32, epochs=15, patience=15, progress=False)
    hist = train_loop(model, data, data, cfg, torch.device("cpu"), classification=False)
    assert hist.epochs[-1].train_loss < 0.2 * hist.epochs[0].train_loss


def test_round_trip(tmp_path):
    set_seeds(0)
    cfg = ForecastConfig(cell="lstm", hidden=8)
    model = build_model("forecasting", cfg, _transform(), (12,)).eval()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, "forecasting", cfg, _transform(), (12,)))
    x = torch.randn(4, 12)
    assert torch.equal(model(x)[0], ckpt.model(x)[0]) and ckpt.transform == _transform()
