"""A time series: regularised, cut into (input window + classical path, horizon) samples."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from components.core.columns import TIMESTAMP, VALUE
from components.core.errors import StageInputError
from components.data import classical
from components.data.series import regularize, seasonal_scale
from components.data.transforms.base import FittedTransform


def to_model_space(y: np.ndarray, kind: str) -> np.ndarray:
    """Variance-stabilising transform of the values (sqrt for counts such as sunspots)."""
    y = np.asarray(y, np.float64)
    return np.sqrt(np.clip(y, 0.0, None)) if kind == "sqrt" else y


def from_model_space(z: np.ndarray, kind: str) -> np.ndarray:
    """Inverse of `to_model_space`; monotone, so quantiles map through it exactly."""
    z = np.asarray(z, np.float64)
    return np.clip(z, 0.0, None) ** 2 if kind == "sqrt" else z


class SeriesTransform(FittedTransform):
    """A raw series (`timestamp`, `value`) -> resampled to `freq`, gaps interpolated, values z = f(y)
    (`value_transform`), in units of the train split's in-sample seasonal-naive MAE of z (`scale`) around its
    mean. The classical backbone (components/data/classical.py) is fitted on the train split only; a sample is
    the last `input_len` values plus the backbone's `horizon`-step path from the same origin:
    (input_len + horizon,). `features`/`targets`: every origin of a frame with a full target;
    `serving_features`: the one origin at the end of a history (what the pyfunc forecasts from)."""

    kind: Literal["series"] = "series"
    columns: list[str] = [TIMESTAMP, VALUE]
    freq: str
    input_len: int
    horizon: int
    season: int
    mean: float
    scale: float
    mase_scale: float  # in-sample seasonal-naive MAE of the train split (original units)
    value_transform: Literal["none", "sqrt"] = "none"
    backbone: list[str] = ["ets"]
    start: str  # the first period of the train split: ETS states are indexed from here
    ets: classical.EtsState | None = None
    ar: dict[str, list[float]] = {}

    @classmethod
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "forecasting",
            cfg: Any = None) -> SeriesTransform:
        """Fit on the train split; window and backbone settings come from `manifest["features"]`."""
        f = manifest["features"]
        s = regularize(train, f["freq"])
        kind, members, m = f.get("value_transform", "none"), list(f.get("backbone", ["ets"])), f["season"]
        if max([classical.ar_order(k) or 0 for k in members] + [m]) > f["input_len"]:
            raise StageInputError(f"features.input_len ({f['input_len']}) must cover a season ({m}) and every AR "
                                  f"order of features.backbone {members}")
        z = to_model_space(s.to_numpy(), kind)
        ets, ar = classical.fit_backbone(z, members, m)
        return cls(freq=f["freq"], input_len=f["input_len"], horizon=f["horizon"], season=m, mean=float(z.mean()),
                   scale=seasonal_scale(z, m), mase_scale=seasonal_scale(s.to_numpy(), m), value_transform=kind,
                   backbone=members, start=s.index[0].isoformat(), ets=ets, ar=ar)

    def refit(self, train: pd.DataFrame) -> SeriesTransform:
        """The same settings fitted on another history (a rolling origin's)."""
        return type(self).fit(train, {"features": self.model_dump(include={
            "freq", "input_len", "horizon", "season", "value_transform", "backbone"})})

    def values(self, df: pd.DataFrame) -> np.ndarray:
        """The regularised series in original units."""
        return regularize(df, self.freq).to_numpy()

    def _samples(self, df: pd.DataFrame, origins: str) -> tuple[np.ndarray, np.ndarray]:
        """Inputs (N, input_len + horizon) and targets (N, horizon) in model units, at every origin with a full
        target ("all") or at the end of the frame ("end"; targets empty)."""
        s = regularize(df, self.freq)
        start = pd.Timestamp(self.start)
        s = s.loc[start:]  # the backbone's states begin at the train split's start
        L, H = self.input_len, self.horizon
        if s.empty and origins == "all":  # an empty split (forecasting has no val split)
            return np.zeros((0, L + H), np.float32), np.zeros((0, H), np.float32)
        if len(s) < L or (origins == "all" and len(s) < L + H):
            need = f"input_len={L}" + (f" + horizon={H}" if origins == "all" else "")
            raise StageInputError(f"history covers {len(s)} period(s) of {self.freq!r} from {self.start[:10]}; the "
                                  f"model needs at least {need}")
        offset = len(pd.date_range(start, s.index[0], freq=self.freq)) - 1
        if self.ets is not None and offset >= len(self.ets.level):
            raise StageInputError(f"the history starts at {s.index[0].date()}, after the training history "
                                  f"(from {self.start[:10]}, {len(self.ets.level) - 1} periods): the ETS backbone "
                                  "needs a history that begins inside it")
        z = to_model_space(s.to_numpy(), self.value_transform)
        paths = classical.backbone_paths(z, self.backbone, self.ets, self.ar, offset, H, self.season)
        at = np.arange(L, len(z) - H + 1) if origins == "all" else np.array([len(z)])
        x = np.hstack([z[at[:, None] - L + np.arange(L)], paths[at]])
        y = z[at[:, None] + np.arange(H)] if origins == "all" else np.zeros((0, H))
        return ((x - self.mean) / self.scale).astype(np.float32), ((y - self.mean) / self.scale).astype(np.float32)

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """(N, input_len + horizon) float32 samples that have a full target."""
        return self._samples(df, "all")[0]

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        """(N, horizon) float32, aligned with `features`."""
        return self._samples(df, "all")[1]

    def serving_features(self, df: pd.DataFrame) -> np.ndarray:
        """(1, input_len + horizon): the sample at the end of a history; the forecast starts after it."""
        return self._samples(df, "end")[0]

    def inverse_targets(self, y: np.ndarray) -> np.ndarray:
        """Model units -> original units (any shape: a point forecast or quantiles)."""
        return from_model_space(np.asarray(y, dtype=np.float64) * self.scale + self.mean, self.value_transform)

    def model_kwargs(self) -> dict[str, Any]:
        """The network splits its input into window and path and centres it on the window's last season."""
        return {"input_len": self.input_len, "season": self.season}

    @property
    def example_rows(self) -> int:
        return 10 ** 9  # a pyfunc input example must cover input_len periods: use the whole test split

    @property
    def n_outputs(self) -> int:
        return self.horizon
