"""Forecasting: predictions are (N origins, horizon) in original units."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from components.data.series import regularize
from components.problems import baselines, plots
from components.problems.base import Task


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error."""
    return float(np.abs(np.asarray(actual) - np.asarray(forecast)).mean() / scale)


def _actual(transform, test: pd.DataFrame) -> np.ndarray:
    return transform.inverse_targets(transform.targets(test))


def _forecast_score(transform, test: pd.DataFrame, pred: np.ndarray) -> dict[str, float]:
    actual = _actual(transform, test)
    return {"mase": mase(actual, pred, transform.mase_scale), "mae": float(np.abs(actual - pred).mean())}


def _forecast_eval(transform, test: pd.DataFrame, pred: np.ndarray, train: pd.DataFrame):
    """MASE (scale: the train split's in-sample seasonal naive) of the model's forecast from the end of the
    train split, and of seasonal naive, Holt-Winters (ETS) and seasonal ARIMA fitted on the same history."""
    history = regularize(train, transform.freq).to_numpy()
    actual, h, m = _actual(transform, test)[-1], transform.horizon, transform.season
    forecasts = {"model": pred[-1], "snaive": baselines.seasonal_naive(history, h, m),
                 "ets": baselines.ets_forecast(history, h, m), "arima": baselines.arima_forecast(history, h, m)}
    scores = {k: mase(actual, f, transform.mase_scale) for k, f in forecasts.items()}
    metrics = _forecast_score(transform, test, pred) | {
        "rmse": float(np.sqrt(((actual - pred[-1]) ** 2).mean())), "horizon": h, "n_origins": int(len(pred)),
        "snaive_mase": scores["snaive"], "ets_mase": scores["ets"], "arima_mase": scores["arima"]}
    return metrics, {"forecasts": {k: np.asarray(f).tolist() for k, f in forecasts.items()},
                     "actual": actual.tolist(), "mase_scale": transform.mase_scale}


def _forecast_plots(transform, test: pd.DataFrame, pred: np.ndarray, plot_dir: Path) -> list[Path]:
    y = regularize(test, transform.freq)
    when = y.index[-transform.horizon:]
    return [plots.forecast_png(plot_dir / "forecast.png", y, when, pred[-1],
                               f"{transform.horizon}-step forecast ({transform.freq})"),
            plots.write_csv(plot_dir / "forecast.csv", ["timestamp", "actual", "forecast"],
                            zip(when.strftime("%Y-%m-%d"), y.iloc[-transform.horizon:], pred[-1], strict=True))]


FORECASTING = Task(name="forecasting", split="chronological", postprocess=lambda t, out: t.inverse_targets(out),
                   frame=lambda t, p: pd.DataFrame({"step": np.tile(np.arange(1, p.shape[1] + 1), len(p)),
                                                    "forecast": p.reshape(-1)}),
                   output_schema=lambda t: [("long", "step"), ("double", "forecast")],
                   score=_forecast_score, metrics=_forecast_eval, plots=_forecast_plots)
