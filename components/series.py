"""Time-series helpers (pure): regularise a raw series, cut sliding windows, split chronologically, and the
classical forecasts and MASE that the forecasting family is compared against."""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.errors import StageInputError

TIMESTAMP, VALUE = "timestamp", "value"


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


def windows(values: np.ndarray, input_len: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (input, target) pair: inputs (N, input_len), targets (N, horizon), N = n - input_len - horizon + 1."""
    n = len(values) - input_len - horizon + 1
    if n <= 0:
        return np.zeros((0, input_len), np.float32), np.zeros((0, horizon), np.float32)
    idx = np.arange(n)[:, None]
    return (values[idx + np.arange(input_len)].astype(np.float32),
            values[idx + input_len + np.arange(horizon)].astype(np.float32))


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


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float) -> float:
    """Mean absolute scaled error."""
    return float(np.abs(np.asarray(actual) - np.asarray(forecast)).mean() / scale)


def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Repeat the last `season` values."""
    return np.tile(history[-season:], horizon // season + 1)[:horizon]


def ets_forecast(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Holt-Winters: additive trend and seasonality."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    fit = ExponentialSmoothing(history, trend="add", seasonal="add", seasonal_periods=season).fit()
    return np.asarray(fit.forecast(horizon), dtype=np.float64)


def arima_forecast(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """Seasonal ARIMA (1,1,1)(0,1,1)_m."""
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter; the score says how good it is
        fit = SARIMAX(history, order=(1, 1, 1), seasonal_order=(0, 1, 1, season)).fit(disp=False)
    return np.asarray(fit.forecast(horizon), dtype=np.float64)
