"""Confidence intervals of a task's test metrics: a percentile bootstrap over the test rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from components.problems.base import Task


def bootstrap_ci(task: Task, transform: Any, test: pd.DataFrame, predictions: np.ndarray, samples: int = 200,
                 confidence: float = 0.95, seed: int = 0) -> dict[str, list[float]]:
    """metric -> [low, high]: percentiles of task.score over `samples` resamples of the rows (with repeats).
    Empty for tasks whose rows are not exchangeable (one forecast window) or when samples is 0. A task with a
    `rows_scorer` (detection: COCOeval's per-image matching, seconds per call) is matched once and each
    resample re-accumulated from the matches of the drawn rows, repeats counted."""
    n = len(test)
    if samples <= 0 or n < 2 or len(predictions) != n:
        return {}
    on_rows = task.rows_scorer(transform, test, predictions) if task.rows_scorer is not None else (
        lambda rows: task.score(transform, test.iloc[rows], predictions[rows]))
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {}
    for _ in range(samples):
        for metric, value in on_rows(rng.integers(0, n, size=n)).items():
            draws.setdefault(metric, []).append(float(value))
    alpha = (1.0 - confidence) / 2
    return {m: [float(np.nanquantile(v, alpha)), float(np.nanquantile(v, 1 - alpha))] for m, v in draws.items()
            if np.isfinite(v).any()}
