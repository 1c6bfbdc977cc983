"""Regression: values in the target's units, OLS as the baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from components.core.columns import LABEL
from components.problems import baselines, plots
from components.problems.base import Task


def _inverse(transform, out: np.ndarray) -> np.ndarray:
    return transform.inverse_targets(out.reshape(len(out), -1)[:, 0])


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """r2, MAE, RMSE in the target's units."""
    resid = y - pred
    return {"r2": float(1 - (resid ** 2).sum() / ((y - y.mean()) ** 2).sum()),
            "mae": float(np.abs(resid).mean()), "rmse": float(np.sqrt((resid ** 2).mean())), "n_test": int(len(y))}


def _reg_eval(transform, test: pd.DataFrame, pred: np.ndarray, train: pd.DataFrame):
    y = test[LABEL].to_numpy(np.float64)
    m = regression_metrics(y, pred)
    baseline = regression_metrics(y, baselines.ols_predict(train, test, transform.columns))
    return m | {"ols_r2": baseline["r2"]}, {"baseline_ols": baseline}


def _reg_plots(transform, test: pd.DataFrame, pred: np.ndarray, plot_dir: Path) -> list[Path]:
    y = test[LABEL].to_numpy(np.float64)
    return [plots.residuals_png(plot_dir / "residuals.png", y, pred),
            plots.write_csv(plot_dir / "residuals.csv", ["actual", "predicted", "residual"],
                            zip(y, pred, y - pred, strict=True))]


def _reg_score(transform, test: pd.DataFrame, pred: np.ndarray) -> dict[str, float]:
    m = regression_metrics(test[LABEL].to_numpy(np.float64), pred)
    return {k: m[k] for k in ("r2", "mae", "rmse")}


REGRESSION = Task(name="regression", split="random", postprocess=_inverse,
                  frame=lambda t, p: pd.DataFrame({"prediction": p}),
                  output_schema=lambda t: [("double", "prediction")],
                  score=_reg_score, metrics=_reg_eval, plots=_reg_plots)
