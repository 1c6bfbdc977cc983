"""Fitted transforms: fitted on the train split only, saved with the model, applied again at serving time.

A transform maps RAW rows (as ingested) to model-ready arrays and back. The same object is used by
training, evaluation and the registered pyfunc, so there is one code path from raw input to tensor.
Each data kind has one transform class; `TRANSFORMS` maps kind -> class, and `load_transform` rebuilds
a saved one from its `kind` field. Every class has:

  fit(train, manifest, task) -> transform       (classmethod; statistics of the train split only)
  input_columns                                  raw columns a caller sends (the pyfunc's input schema)
  features(df) -> np.ndarray                     model input
  targets(df) -> np.ndarray                      model target (class indices, or scaled values)
  n_outputs                                      width of the model's output
  classes                                        class labels, or None for numeric targets
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from components.errors import StageInputError

LABEL = "label"


class _Base(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    classes: list[int | str] | None = None

    @property
    def input_columns(self) -> list[str]:
        return list(self.columns)  # type: ignore[attr-defined]

    def _require(self, df: pd.DataFrame, columns: list[str]) -> None:
        missing = [c for c in columns if c not in df.columns]
        if missing:
            raise StageInputError(f"input lacks {len(missing)} column(s): {missing[:5]}")

    def class_indices(self, df: pd.DataFrame) -> np.ndarray:
        """Labels -> class indices (int64), in the order of `classes`."""
        self._require(df, [LABEL])
        index = {c: i for i, c in enumerate(self.classes or [])}
        try:
            return np.fromiter((index[v] for v in df[LABEL].tolist()), dtype=np.int64, count=len(df))
        except KeyError as e:
            raise StageInputError(f"label {e.args[0]!r} was not seen in the train split {self.classes}") from None

    def decode(self, indices: np.ndarray) -> list[Any]:
        """Class indices -> original labels."""
        return [self.classes[int(i)] for i in indices]  # type: ignore[index]


def _classes(train: pd.DataFrame) -> list[Any]:
    return sorted(pd.unique(train[LABEL]).tolist())


class ImageTransform(_Base):
    """Pixel columns -> float32 (N, 1, H, W), standardised with the train split's global mean/std."""

    kind: Literal["image"] = "image"
    columns: list[str]
    height: int
    width: int
    mean: float
    std: float

    @classmethod
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "classification") -> ImageTransform:
        """Fit on the train split: pixel statistics and the sorted class list."""
        columns = [str(c) for c in train.columns if c != LABEL]
        pixels = train[columns].to_numpy(dtype=np.float64)
        std = float(pixels.std())
        h, w = manifest["image_shape"]
        return cls(columns=columns, height=h, width=w, mean=float(pixels.mean()), std=std if std > 0 else 1.0,
                   classes=_classes(train))

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw rows -> (N, 1, H, W) float32."""
        self._require(df, self.columns)
        x = df[self.columns].to_numpy(dtype=np.float32)
        x = (x - np.float32(self.mean)) / np.float32(self.std)
        return x.reshape(-1, 1, self.height, self.width)

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        return self.class_indices(df)

    @property
    def n_outputs(self) -> int:
        return len(self.classes or [])


class TabularTransform(_Base):
    """Named numeric columns -> float32 (N, F), each standardised with train statistics. The target is
    a class index, or (regression) a value standardised with the train target's mean/std."""

    kind: Literal["tabular"] = "tabular"
    columns: list[str]
    mean: list[float]
    std: list[float]
    target_mean: float | None = None
    target_std: float | None = None

    @classmethod
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "classification") -> TabularTransform:
        """Fit per-column statistics on the train split; classes, or target scaling for regression."""
        columns = [str(c) for c in train.columns if c != LABEL]
        x = train[columns].to_numpy(dtype=np.float64)
        std = x.std(axis=0)
        std[std == 0] = 1.0
        if task == "regression":
            y = train[LABEL].to_numpy(dtype=np.float64)
            return cls(columns=columns, mean=x.mean(axis=0).tolist(), std=std.tolist(),
                       target_mean=float(y.mean()), target_std=float(y.std()) or 1.0)
        return cls(columns=columns, mean=x.mean(axis=0).tolist(), std=std.tolist(), classes=_classes(train))

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw rows -> (N, F) float32."""
        self._require(df, self.columns)
        x = df[self.columns].to_numpy(dtype=np.float64)
        return ((x - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        """Class indices, or standardised float32 values for regression."""
        if self.classes is not None:
            return self.class_indices(df)
        self._require(df, [LABEL])
        return ((df[LABEL].to_numpy(dtype=np.float64) - self.target_mean) / self.target_std).astype(np.float32)

    def inverse_targets(self, y: np.ndarray) -> np.ndarray:
        """Standardised regression outputs -> the target's units."""
        return np.asarray(y, dtype=np.float64) * self.target_std + self.target_mean

    @property
    def n_outputs(self) -> int:
        return len(self.classes) if self.classes is not None else 1


class ClusterTransform(ImageTransform):
    """Images for unsupervised models: pixel rows -> (N, H*W) float32 with the train split's global mean/std.
    The target is the input itself (reconstruction): labels never reach the model."""

    kind: Literal["image:clustering"] = "image:clustering"

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw rows -> (N, H*W) float32."""
        return super().features(df).reshape(len(df), -1)

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        return self.features(df)

    @property
    def n_outputs(self) -> int:
        return self.height * self.width


class SeriesTransform(_Base):
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
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "forecasting") -> SeriesTransform:
        """Fit on the train split; window settings come from `manifest["features"]` (the features config)."""
        from components.series import regularize, seasonal_scale

        f = manifest["features"]
        y = regularize(train, f["freq"]).to_numpy()
        step = float(np.diff(y).std()) if len(y) > 2 else 0.0
        return cls(freq=f["freq"], input_len=f["input_len"], horizon=f["horizon"], season=f["season"],
                   mean=float(y.mean()), std=step if step > 0 else 1.0, mase_scale=seasonal_scale(y, f["season"]))

    def scaled(self, df: pd.DataFrame) -> np.ndarray:
        """The regularised series in model units."""
        from components.series import regularize

        return (regularize(df, self.freq).to_numpy() - self.mean) / self.std

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """(N, input_len) float32 input windows that have a full target."""
        from components.series import windows

        return windows(self.scaled(df), self.input_len, self.horizon)[0]

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        """(N, horizon) float32, aligned with `features`."""
        from components.series import windows

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


Transform = ImageTransform | TabularTransform | ClusterTransform | SeriesTransform

# data kind (or "kind:task" where a task needs its own) -> transform class; kinds added by families register here.
TRANSFORMS: dict[str, type[Any]] = {"image": ImageTransform, "tabular": TabularTransform,
                                    "image:clustering": ClusterTransform, "series": SeriesTransform}


def load_transform(data: dict[str, Any]) -> Any:
    """Rebuild a fitted transform from its saved dict (the `kind` field picks the class)."""
    kind = data.get("kind")
    if kind not in TRANSFORMS:
        raise StageInputError(f"saved transform has unknown kind {kind!r} (known: {', '.join(TRANSFORMS)})")
    return TRANSFORMS[kind].model_validate(data)
