"""Fitted transforms: fitted on the train split only, saved with the model, applied again at serving time.

A transform maps RAW rows (as ingested) to model-ready arrays and back. The same object is used by
training, evaluation and the registered pyfunc, so there is one code path from raw input to tensor.
Each data kind has one transform class; `TRANSFORMS` maps kind -> class, and `load_transform` rebuilds
a saved one from its `kind` field. Every class has:

  fit(train, manifest, task, cfg) -> transform  (classmethod; statistics of the train split only; cfg: features)
  input_columns                                  raw columns a caller sends (the pyfunc's input schema)
  features(df) -> np.ndarray                     model input
  targets(df) -> np.ndarray                      model target (class indices, or scaled values)
  n_outputs                                      width of the model's output
  classes                                        class labels, or None for numeric targets
"""

from __future__ import annotations

import re
from collections import Counter
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
        return np.asarray(self.classes, dtype=object)[np.asarray(indices, dtype=np.intp)].tolist()


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
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "classification",
            cfg: Any = None) -> ImageTransform:
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
        x = df[self.columns].to_numpy(dtype=np.float32, copy=True)  # owned: normalised in place, no temporaries
        x -= np.float32(self.mean)
        x /= np.float32(self.std)
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
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "classification",
            cfg: Any = None) -> TabularTransform:
        """Fit per-column statistics on the train split; classes, or target scaling for regression.

        For anomaly detection the statistics come from the normal train rows (label 0) only, so that
        anomalies do not stretch the scale the autoencoder learns to reproduce."""
        columns = [str(c) for c in train.columns if c != LABEL]
        rows = train[train[LABEL] == 0] if task == "anomaly" and (train[LABEL] == 0).any() else train
        x = rows[columns].to_numpy(dtype=np.float64)
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
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "forecasting",
            cfg: Any = None) -> SeriesTransform:
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


TEXT = "text"
PAD, UNK = 0, 1  # reserved token ids; vocabulary words start at 2


class TextTransform(_Base):
    """A raw `text` column -> int64 token ids (N, max_len), padded with 0; unknown tokens are 1.

    Tokens are lower-cased runs of letters, digits and apostrophes. The vocabulary holds the train split's
    tokens seen at least `min_freq` times (the `max_vocab` most frequent when capped), sorted by count.
    A text with no known-or-unknown token at all (e.g. only punctuation) becomes one UNK token, so every
    row has a length of at least 1.
    """

    kind: Literal["text"] = "text"
    columns: list[str] = [TEXT]
    vocab: list[str]
    max_len: int
    pattern: str = r"[a-z0-9']+"

    @classmethod
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "classification",
            cfg: Any = None) -> TextTransform:
        """Fit the vocabulary on the train split's texts; `cfg` (TextFeaturesConfig) sets min_freq/max_len."""
        min_freq, max_vocab, max_len = (cfg.min_freq, cfg.max_vocab, cfg.max_len) if cfg is not None else (2, None, 64)
        proto = cls(vocab=[], max_len=max_len)
        counts = Counter(t for s in proto._texts(train) for t in proto.tokenize(s))
        kept = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
        return cls(vocab=kept[:max_vocab], max_len=max_len, classes=_classes(train))

    def tokenize(self, text: str) -> list[str]:
        """One text -> its tokens."""
        return re.findall(self.pattern, text.lower())

    def _texts(self, df: pd.DataFrame) -> list[str]:
        self._require(df, self.columns)
        values = df[TEXT].tolist()
        bad = [i for i, v in enumerate(values) if not isinstance(v, str)]
        if bad:
            raise StageInputError(f"column {TEXT!r}: {len(bad)} value(s) are not strings, first at row {bad[0]} "
                                  f"({values[bad[0]]!r})")
        return values

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw texts -> (N, max_len) int64 token ids, 0-padded at the end."""
        index = {w: i + 2 for i, w in enumerate(self.vocab)}
        texts = self._texts(df)
        out = np.full((len(texts), self.max_len), PAD, dtype=np.int64)
        for row, text in enumerate(texts):
            ids = [index.get(t, UNK) for t in self.tokenize(text)][:self.max_len] or [UNK]
            out[row, :len(ids)] = ids
        return out

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        return self.class_indices(df)

    @property
    def vocab_size(self) -> int:
        """Embedding rows: the words + PAD + UNK."""
        return len(self.vocab) + 2

    @property
    def n_outputs(self) -> int:
        return len(self.classes or [])


Transform = ImageTransform | TabularTransform | ClusterTransform | SeriesTransform | TextTransform

# data kind (or "kind:task" where a task needs its own) -> transform class; kinds added by families register here.
TRANSFORMS: dict[str, type[Any]] = {"image": ImageTransform, "tabular": TabularTransform,
                                    "image:clustering": ClusterTransform, "series": SeriesTransform,
                                    "text": TextTransform}


def load_transform(data: dict[str, Any]) -> Any:
    """Rebuild a fitted transform from its saved dict (the `kind` field picks the class)."""
    kind = data.get("kind")
    if kind not in TRANSFORMS:
        raise StageInputError(f"saved transform has unknown kind {kind!r} (known: {', '.join(TRANSFORMS)})")
    return TRANSFORMS[kind].model_validate(data)
