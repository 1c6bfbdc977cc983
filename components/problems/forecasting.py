"""Forecasting: predictions are (N origins, 3, horizon) quantiles 0.1 / 0.5 / 0.9 in original units; the median is
the point forecast. Scores: MASE (scale: the history's in-sample seasonal naive), the empirical coverage of
the 80 % interval [q0.1, q0.9], and the pinball loss over the three quantiles and the horizon divided by the
same scale (a point forecast with no spread scores MASE / 2). The headline figures come from the rolling-
origin backtest (components/training/backtest.py); `metrics` here scores the trained model's own holdout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from components.core.columns import QUANTILES
from components.data.series import regularize
from components.problems import plots
from components.problems.base import Task


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error."""
    return float(np.abs(np.asarray(actual) - np.asarray(forecast)).mean() / scale)


def pinball(actual: np.ndarray, q: np.ndarray, scale: float) -> float:
    """q: (3, h). Mean pinball loss over the quantiles and steps, divided by `scale`."""
    tau = np.asarray(QUANTILES)[:, None]
    d = np.asarray(actual)[None] - q
    return float(np.maximum(tau * d, (tau - 1) * d).mean() / scale)


def coverage(actual: np.ndarray, q: np.ndarray) -> float:
    """Share of the actual values inside [q0.1, q0.9]."""
    return float(((actual >= q[0]) & (actual <= q[-1])).mean())


def scores(actual: np.ndarray, q: np.ndarray, scale: float) -> dict[str, float]:
    """MASE of the point forecast q[1], 80 % coverage and scaled pinball loss of one forecast (q: (3, h); a
    baseline's interval need not contain its point forecast: seasonal naive's comes from its past errors)."""
    return {"mase": mase(actual, q[1], scale), "coverage80": coverage(actual, q), "pinball": pinball(actual, q, scale)}


def _actual(transform, test: pd.DataFrame) -> np.ndarray:
    return transform.values(test)[-transform.horizon:]


def _forecast_score(transform, test: pd.DataFrame, pred: np.ndarray) -> dict[str, float]:
    """The trained model's forecast over the holdout (the last window of the test split)."""
    actual = _actual(transform, test)
    return scores(actual, pred[-1], transform.mase_scale) | {"mae": float(np.abs(actual - pred[-1][1]).mean())}


def _forecast_eval(transform, test: pd.DataFrame, pred: np.ndarray, train: pd.DataFrame):
    """The trained model on the holdout, as `holdout_<metric>` (the backtest gives the headline figures)."""
    got = _forecast_score(transform, test, pred)
    return {f"holdout_{k}": v for k, v in got.items()}, {"holdout": {
        "quantiles": np.asarray(pred[-1]).tolist(), "actual": _actual(transform, test).tolist(),
        "mase_scale": transform.mase_scale}}


def _forecast_plots(transform, test: pd.DataFrame, pred: np.ndarray, plot_dir: Path) -> list[Path]:
    y = regularize(test, transform.freq)
    when, q = y.index[-transform.horizon:], pred[-1]
    return [plots.forecast_png(plot_dir / "forecast.png", y, [(when, q)],
                               f"{transform.horizon}-step forecast from the end of the train split ({transform.freq})"),
            plots.write_csv(plot_dir / "forecast.csv", ["timestamp", "actual", "forecast", "q10", "q90"],
                            zip(when.strftime("%Y-%m-%d"), y.iloc[-transform.horizon:], q[1], q[0], q[2], strict=True))]


def _frame(transform, p: np.ndarray) -> pd.DataFrame:
    # p: (N, 3, H)
    return pd.DataFrame({"step": np.tile(np.arange(1, p.shape[2] + 1), len(p)), "forecast": p[:, 1].reshape(-1),
                         "q10": p[:, 0].reshape(-1), "q90": p[:, 2].reshape(-1)})


FORECASTING = Task(name="forecasting", split="chronological", postprocess=lambda t, out: t.inverse_targets(out),
                   frame=_frame, output_schema=lambda t: [("long", "step"), ("double", "forecast"), ("double", "q10"),
                                                          ("double", "q90")],
                   score=_forecast_score, metrics=_forecast_eval, plots=_forecast_plots, backtest=True)
