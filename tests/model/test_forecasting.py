"""The hybrid quantile forecaster: shapes, ordered quantiles, the backbone path as its starting point, the
loss falling through the shared loop, the checkpoint round trip, and no look at the future."""

import numpy as np
import pandas as pd
import pytest
import torch

from components.config.sections import TrainConfig
from components.data.transforms.series import SeriesTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.models.forecasting import ForecastConfig, pinball_loss
from components.training.backtest import fit_forecast
from components.training.loop import Tensors, set_seeds, train_loop

FEATURES = {"features": {"freq": "MS", "input_len": 24, "horizon": 6, "season": 12}}


def _monthly(n=120, seed=0):
    t = np.arange(n)
    noise = np.random.default_rng(seed).normal(0, 0.3, n)
    return pd.DataFrame({"timestamp": pd.date_range("2000-01-01", periods=n, freq="MS"),
                         "value": 300 + 0.1 * t + 2 * np.sin(2 * np.pi * t / 12) + noise})


@pytest.fixture(scope="module")
def transform():
    return SeriesTransform.fit(_monthly(), FEATURES)


def test_quantiles_are_ordered_and_the_loss_comes_only_with_targets(transform):
    set_seeds(0)
    model = build_model("forecasting", ForecastConfig(hidden=8, members=3), transform, (30,))
    for p in model.parameters():  # random weights: the order holds by construction, not by initialisation
        torch.nn.init.normal_(p)
    x, y = torch.randn(5, 30), torch.randn(5, 6)
    q, loss = model(x, y)
    assert q.shape == (5, 3, 6) and loss.ndim == 0 and model(x)[1] is None
    assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all()
    assert loss > pinball_loss(q, y, model.tau) - 1e-6  # mean of the members' losses >= the mean forecast's


def test_an_untrained_net_returns_the_backbone_path_and_shifts_with_the_history(transform):
    model = build_model("forecasting", ForecastConfig(hidden=8, interval_scale=2.0), transform, (30,)).eval()
    x = torch.from_numpy(transform.features(_monthly()))
    q = model(x)[0]
    assert torch.allclose(q[:, 1], x[:, 24:], atol=1e-6)  # the median starts at the ETS path
    spread = q[:, 2] - q[:, 1]
    assert torch.allclose(spread, torch.full_like(spread, 2.0 * float(torch.nn.functional.softplus(torch.tensor(0.5)))))
    assert torch.allclose(model(x + 5.0)[0], q + 5.0, atol=1e-5)  # centred on the window's last season


def test_loss_falls_through_the_shared_loop_and_shrinkage_keeps_the_path(transform):
    df = _monthly()
    data = Tensors(torch.from_numpy(transform.features(df)), torch.from_numpy(transform.targets(df)))
    cfg = TrainConfig(optimizer="adamw", lr=3e-3, batch_size=4096, epochs=25, patience=25, schedule="cosine",
                      progress=False)
    set_seeds(0)
    model = build_model("forecasting", ForecastConfig(hidden=16, members=1), transform, (30,))
    hist = train_loop(model, data, data, cfg, torch.device("cpu"), classification=False)
    assert hist.epochs[-1].train_loss < 0.8 * hist.epochs[0].train_loss
    set_seeds(0)
    shrunk = build_model("forecasting", ForecastConfig(hidden=0, members=1, correction_l2=1e4), transform, (30,))
    train_loop(shrunk, data, data, cfg.model_copy(update={"epochs": 10}), torch.device("cpu"), classification=False)
    q = shrunk.eval()(data.x)[0]
    assert torch.allclose(q[:, 1], data.x[:, 24:], atol=0.05)  # the median stays on the path; spreads were fitted


def test_horizon_spread_is_one_width_per_step_and_shrinkage_holds_the_median_bias_too(transform):
    """spread "horizon": the trained widths are the same at every origin (per step and side); correction_l2 also
    holds the correction's biases, so a strongly shrunk median is the backbone path itself."""
    df = _monthly()
    data = Tensors(torch.from_numpy(transform.features(df)), torch.from_numpy(transform.targets(df)))
    cfg = TrainConfig(optimizer="adamw", lr=3e-3, batch_size=4096, epochs=30, patience=30, progress=False)
    set_seeds(0)
    model = build_model("forecasting", ForecastConfig(hidden=0, members=1, correction_l2=1e4, spread="horizon"),
                        transform, (30,))
    train_loop(model, data, data, cfg, torch.device("cpu"), classification=False)
    q = model.eval()(data.x)[0]
    widths = q[:, 2] - q[:, 0]
    assert torch.allclose(widths, widths[:1].expand_as(widths), atol=1e-5)
    assert not torch.allclose(widths[0], torch.full_like(widths[0], 2 * 0.974077), atol=1e-2)  # trained, not init
    assert model.members[0].linear.bias.abs().max() < 2e-3
    assert torch.allclose(q[:, 1], data.x[:, 24:], atol=5e-3)


def test_round_trip(tmp_path, transform):
    set_seeds(0)
    cfg = ForecastConfig(hidden=8, members=2)
    model = build_model("forecasting", cfg, transform, (30,)).eval()
    ckpt = load_checkpoint(save_checkpoint(tmp_path / "m.pt", model, "forecasting", cfg, transform, (30,)))
    x = torch.randn(4, 30)
    assert torch.equal(model(x)[0], ckpt.model(x)[0]) and ckpt.transform == transform


def test_a_refit_forecast_sees_only_its_history():
    """Two series equal before the origin and different after it give the same forecast at the origin."""
    from types import SimpleNamespace

    a, b = _monthly(), _monthly()
    b.loc[96:, "value"] += 40.0
    cfg = TrainConfig(optimizer="adamw", lr=3e-3, batch_size=4096, epochs=5, patience=5, progress=False)
    got = []
    for df in (a, b):
        ckpt = SimpleNamespace(transform=SeriesTransform.fit(df, FEATURES), family="forecasting",
                               config=ForecastConfig(hidden=8, members=2))
        got.append(fit_forecast(ckpt, df[df["timestamp"] < df["timestamp"][96]], cfg))
    assert got[0].shape == (3, 6) and np.array_equal(got[0], got[1])
