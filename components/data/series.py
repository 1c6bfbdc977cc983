"""Time-series helpers (pure): regularise a raw series, split chronologically, and MASE's scale."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.core.columns import TIMESTAMP, VALUE
from components.core.errors import StageInputError


def regularize(df: pd.DataFrame, freq: str) -> pd.Series:
    """Raw rows -> one value per `freq` period (mean), inner gaps interpolated linearly, trailing gap carried
    forward, leading empty periods dropped. Index: period starts."""
    missing = [c for c in (TIMESTAMP, VALUE) if c not in df.columns]
    if missing:
        raise StageInputError(f"series input lacks column(s) {missing} (expected {TIMESTAMP}, {VALUE})")
    s = pd.Series(pd.to_numeric(df[VALUE], errors="coerce").to_numpy(np.float64),
                  index=pd.DatetimeIndex(pd.to_datetime(df[TIMESTAMP]))).sort_index()
    s = s.resample(freq).mean()
    first = s.first_valid_index()
    if first is None:
        return s.iloc[:0]
    return s.loc[first:].interpolate("linear", limit_area="inside").ffill()


def chronological_split(df: pd.DataFrame, freq: str, input_len: int, horizon: int) -> dict[str, pd.DataFrame]:
    """train: raw rows before the last `horizon` periods; val: none; test: the last `horizon` periods with the
    `input_len` periods before them as lead-in (one forecast origin, the baselines' holdout)."""
    periods = regularize(df, freq).index
    need = 2 * input_len + 2 * horizon
    if len(periods) < need:
        raise StageInputError(f"series covers {len(periods)} {freq} periods; needs at least {need} "
                              f"(2 x (input_len {input_len} + horizon {horizon}))")
    test_start, lead_in = periods[-horizon], periods[-horizon - input_len]
    ts = pd.to_datetime(df[TIMESTAMP])
    parts = {"train": df[ts < test_start], "val": df.iloc[:0], "test": df[ts >= lead_in]}
    return {k: v.reset_index(drop=True) for k, v in parts.items()}


def seasonal_scale(history: np.ndarray, season: int) -> float:
    """MASE denominator: mean |y_t - y_{t-m}| over the history (in-sample seasonal naive error)."""
    if len(history) <= season:
        raise StageInputError(f"history of {len(history)} periods is too short for season {season}")
    scale = float(np.abs(history[season:] - history[:-season]).mean())
    return scale if scale > 0 else 1.0
