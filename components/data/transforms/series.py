"""A time series: regularised, scaled and cut into (input window, horizon) samples."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from components.core.errors import StageInputError
from components.data.series import regularize, seasonal_scale, windows
from components.data.transforms.base import FittedTransform


class SeriesTransform(FittedTransform):
    """A raw series (`timestamp`, `value`) -> resampled to `freq`, gaps interpolated, standardised with the
    train split's mean and the std of its one-step changes. Samples are sliding windows: `features` gives
    every input window that has a full target, `targets` those targets (N, horizon); `serving_features`
    gives the one window at the end of a history (what the pyfunc forecasts from)."""

    kind: Literal["series"] = "series"
    columns: list[str] = ["timestamp", "value"]
    freq: str
    input_len: int
    horizon: int
    season: int
    mean: float
    std: float
    mase_scale: float  # in-sample seasonal-naive MAE of the train split (original units)

    @classmethod
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "forecasting",
            cfg: Any = None) -> SeriesTransform:
        """Fit on the train split; window settings come from `manifest["features"]` (the features config)."""
        f = manifest["features"]
        y = regularize(train, f["freq"]).to_numpy()
        step = float(np.diff(y).std()) if len(y) > 2 else 0.0
        return cls(freq=f["freq"], input_len=f["input_len"], horizon=f["horizon"], season=f["season"],
                   mean=float(y.mean()), std=step if step > 0 else 1.0, mase_scale=seasonal_scale(y, f["season"]))

    def scaled(self, df: pd.DataFrame) -> np.ndarray:
        """The regularised series in model units."""
        return (regularize(df, self.freq).to_numpy() - self.mean) / self.std

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """(N, input_len) float32 input windows that have a full target."""
        return windows(self.scaled(df), self.input_len, self.horizon)[0]

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        """(N, horizon) float32, aligned with `features`."""
        return windows(self.scaled(df), self.input_len, self.horizon)[1]

    def serving_features(self, df: pd.DataFrame) -> np.ndarray:
        """(1, input_len): the last `input_len` periods of a history; the forecast starts after them."""
        v = self.scaled(df)
        if len(v) < self.input_len:
            raise StageInputError(f"history covers {len(v)} period(s) of {self.freq!r} after resampling; the "
                                  f"model needs at least input_len={self.input_len}")
        return v[-self.input_len:].astype(np.float32)[None]

    def inverse_targets(self, y: np.ndarray) -> np.ndarray:
        """Model units -> original units."""
        return np.asarray(y, dtype=np.float64) * self.std + self.mean

    @property
    def example_rows(self) -> int:
        return 10 ** 9  # a pyfunc input example must cover input_len periods: use the whole test split

    @property
    def n_outputs(self) -> int:
        return self.horizon
