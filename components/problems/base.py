"""The Task record: what differs between tasks, as functions of the fitted transform."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


@dataclass(frozen=True, kw_only=True)
class Task:
    """Task behaviour; every function is pure except `plots`, which writes files.

    score(transform, test, predictions) -> headline metrics; cheap, so the promotion gate can bootstrap it.
    metrics(transform, test, predictions, train) -> (headline for metrics.json, details such as per-class
    figures and baselines fitted on `train`).
    options(transform) -> {name: default}: settings a caller may change per call (the pyfunc's params), passed
    as keyword arguments to `postprocess` and `frame`.
    rows_scorer(transform, test, predictions) -> (rows, metric) -> metrics: `score` on a subset of rows (repeats
    allowed), for a task whose `score` is too slow to call once per bootstrap replicate (the gate uses it when set).
    """

    name: str
    split: str  # how features draws the splits: "stratified" | "random" (families may add e.g. "chronological")
    postprocess: Callable[[Any, np.ndarray], np.ndarray]  # (transform, raw outputs) -> predictions
    frame: Callable[[Any, np.ndarray], pd.DataFrame]  # (transform, predictions) -> pyfunc output
    output_schema: Callable[[Any], list[tuple[str, str]]]  # transform -> [(mlflow type, column)]
    score: Callable[[Any, pd.DataFrame, np.ndarray], dict[str, float]]
    metrics: Callable[[Any, pd.DataFrame, np.ndarray, pd.DataFrame], tuple[dict[str, float], dict[str, Any]]]
    plots: Callable[[Any, pd.DataFrame, np.ndarray, Path], list[Path]]
    val_metric: str | None = None  # a metric the training loop reports on the validation split
    options: Callable[[Any], dict[str, Any]] | None = None
    rows_scorer: Callable[[Any, pd.DataFrame, np.ndarray], Callable[..., dict[str, float]]] | None = None
    backtest: bool = False  # evaluate also refits the family at rolling origins (components/training/backtest.py)
