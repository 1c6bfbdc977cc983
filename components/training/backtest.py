"""Rolling-origin evaluation of a forecasting family, the classical baselines fitted in the same run.

At each origin t the family sees the raw rows before period t only: its transform (classical backbone
included) is refitted on them, a network is built and trained by the shared loop with the run's train
settings and seed, and it forecasts periods t .. t+h-1 as quantiles. The origin at the end of the train split
is the trained model itself (the same history, seed and settings would give the same weights). Each baseline
(components/problems/baselines.py) is fitted on the same history. Scores per origin: MASE (scale: the
history's in-sample seasonal naive), 80 % coverage and scaled pinball loss (components/problems/forecasting.py).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from components.config.backtest import BacktestConfig
from components.config.sections import TrainConfig
from components.core.columns import TIMESTAMP
from components.core.errors import StageInputError
from components.data.series import regularize, seasonal_scale
from components.inference.checkpoint import Checkpoint, build_model
from components.inference.predict import predict
from components.problems import baselines, plots
from components.problems.forecasting import scores
from components.training.loop import Tensors, get_device, set_seeds, train_loop

log = logging.getLogger(__name__)
MODEL = "model"
SCORES = ("mase", "coverage80", "pinball")


@dataclass
class Backtest:
    """Per-origin forecasts and scores of the model and each baseline."""

    series: pd.Series  # the whole series (train + test), regularized: what the origins cut
    origins: list[pd.Timestamp]  # first forecast period of each origin, oldest first
    positions: list[int]  # the origins as period indices of the series
    actuals: list[np.ndarray]
    scales: list[float]
    quantiles: dict[str, list[np.ndarray]] = field(default_factory=dict)  # method -> (3, h) per origin
    scores: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # method -> metric -> per origin
    seconds: dict[str, float] = field(default_factory=dict)

    def mean(self, method: str, metric: str) -> float:
        return float(np.mean(self.scores[method][metric]))


def origins(n: int, horizon: int, cfg: BacktestConfig) -> list[int]:
    """Period indices of the origins, oldest first: the last at n - skip - horizon, `step` apart."""
    step = cfg.step or horizon
    out = [n - cfg.skip - horizon - step * (cfg.origins - 1 - i) for i in range(cfg.origins)]
    if out[0] < 1:
        raise StageInputError(f"evaluate.backtest: {cfg.origins} origins {step} apart (skip {cfg.skip}, horizon "
                              f"{horizon}) do not fit in a series of {n} periods")
    return out


def full_series(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
    """The train split's rows and the test split's rows after them (the test split's lead-in repeats train)."""
    last = pd.to_datetime(train[TIMESTAMP]).max()
    return pd.concat([train, test[pd.to_datetime(test[TIMESTAMP]) > last]], ignore_index=True)


def fit_forecast(ckpt: Checkpoint, history: pd.DataFrame, train_cfg: TrainConfig) -> np.ndarray:
    """Refit the checkpoint's transform and family on `history` (raw rows) and forecast what follows: (3, h)."""
    transform = ckpt.transform.refit(history)
    x, y = transform.features(history), transform.targets(history)
    set_seeds(train_cfg.seed)
    model = build_model(ckpt.family, ckpt.config, transform, tuple(x.shape[1:]))
    data = Tensors(torch.from_numpy(x), torch.from_numpy(y))
    train_loop(model, data, data, train_cfg.model_copy(update={"progress": False}), get_device(train_cfg.device),
               classification=False)
    refitted = Checkpoint(model=model, family=ckpt.family, config=ckpt.config, transform=transform,
                          input_shape=tuple(x.shape[1:]), meta={})
    return predict(refitted, history, serving=True)[0]


def run(ckpt: Checkpoint, train: pd.DataFrame, test: pd.DataFrame, cfg: BacktestConfig,
        train_cfg: TrainConfig) -> Backtest:
    """Forecast from every origin with the family (refitted) and the baselines."""
    t_ = ckpt.transform
    raw = full_series(train, test)
    series = regularize(raw, t_.freq)
    y, stamps = series.to_numpy(), pd.to_datetime(raw[TIMESTAMP])
    at = origins(len(y), t_.horizon, cfg)
    train_end = len(regularize(train, t_.freq))
    bt = Backtest(series=series, origins=[series.index[t] for t in at], positions=at,
                  actuals=[y[t:t + t_.horizon] for t in at], scales=[seasonal_scale(y[:t], t_.season) for t in at])
    histories = [raw[stamps < start].reset_index(drop=True) for start in bt.origins]  # the model's raw inputs
    fitters: dict[str, Any] = {MODEL: None} | {b: baselines.FORECASTERS[b] for b in cfg.baselines}
    for method, fit in fitters.items():
        t0, qs = time.perf_counter(), []
        for t, history in zip(at, histories, strict=True):
            if fit is not None:
                qs.append(fit(y[:t].copy(), t_.horizon, t_.season))
            elif t == train_end:  # the trained model's own history
                qs.append(predict(ckpt, history, serving=True)[0])
            else:
                qs.append(fit_forecast(ckpt, history, train_cfg))
        bt.seconds[method] = time.perf_counter() - t0
        bt.quantiles[method] = [np.asarray(q, dtype=np.float64) for q in qs]
        per = [scores(a, q, s) for a, q, s in zip(bt.actuals, bt.quantiles[method], bt.scales, strict=True)]
        bt.scores[method] = {k: [p[k] for p in per] for k in SCORES}
        log.info("backtest %s: mean MASE %.3f over %d origins (%.1f s)", method, bt.mean(method, "mase"), len(at),
                 bt.seconds[method])
    return bt


def metrics(bt: Backtest) -> dict[str, float]:
    """Flat figures for metrics.json: the model's mean `mase`, `coverage80`, `pinball` and `mase_o<i>` per
    origin (oldest first), the same prefixed `<baseline>_`, and `mase_vs_best_baseline` (the model's mean MASE
    over the best baseline's; below 1: the model wins on the mean)."""
    out: dict[str, float] = {"n_origins": len(bt.origins)}
    for method in bt.scores:
        prefix = "" if method == MODEL else f"{method}_"
        out |= {f"{prefix}{k}": bt.mean(method, k) for k in SCORES}
        out |= {f"{prefix}mase_o{i + 1}": v for i, v in enumerate(bt.scores[method]["mase"])}
    others = [bt.mean(m, "mase") for m in bt.scores if m != MODEL]
    if others:
        out["mase_vs_best_baseline"] = bt.mean(MODEL, "mase") / min(others)
    return out


def details(bt: Backtest) -> dict[str, Any]:
    """Everything per origin, for details.json."""
    return {"origins": [o.strftime("%Y-%m-%d") for o in bt.origins], "positions": bt.positions,
            "mase_scales": bt.scales, "actuals": [a.tolist() for a in bt.actuals], "seconds": bt.seconds,
            "methods": {m: {**s, "quantiles": [q.tolist() for q in bt.quantiles[m]]} for m, s in bt.scores.items()}}


def write_plots(bt: Backtest, plot_dir: Path) -> list[Path]:
    """backtest.png (the model's median and 80 % interval at each origin over the actual series) and
    backtest.csv (one row per method and origin)."""
    h = len(bt.actuals[0])
    shown = bt.series.iloc[max(bt.positions[0] - 3 * h, 0):]
    windows = [(bt.series.index[t:t + h], q) for t, q in zip(bt.positions, bt.quantiles[MODEL], strict=True)]
    rows = ((m, o.strftime("%Y-%m-%d"), *(bt.scores[m][k][i] for k in SCORES))
            for m in bt.scores for i, o in enumerate(bt.origins))
    return [plots.forecast_png(plot_dir / "backtest.png", shown, windows,
                               f"Rolling origins: MASE {bt.mean(MODEL, 'mase'):.3f} (mean of {len(bt.origins)}), "
                               f"80 % coverage {bt.mean(MODEL, 'coverage80'):.2f}"),
            plots.write_csv(plot_dir / "backtest.csv", ["method", "origin", *SCORES], rows)]
