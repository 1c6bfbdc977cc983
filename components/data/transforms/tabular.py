"""Named numeric columns, standardised with train statistics; class or (scaled) numeric targets."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from components.core.columns import LABEL
from components.core.errors import StageInputError
from components.data.transforms.base import FittedTransform, sorted_classes


class TabularTransform(FittedTransform):
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
        require_numeric(train, columns + ([LABEL] if task == "regression" else []))
        rows = train[train[LABEL] == 0] if task == "anomaly" and (train[LABEL] == 0).any() else train
        x = rows[columns].to_numpy(dtype=np.float64)
        std = x.std(axis=0)
        std[std == 0] = 1.0
        if task == "regression":
            y = train[LABEL].to_numpy(dtype=np.float64)
            return cls(columns=columns, mean=x.mean(axis=0).tolist(), std=std.tolist(),
                       target_mean=float(y.mean()), target_std=float(y.std()) or 1.0)
        return cls(columns=columns, mean=x.mean(axis=0).tolist(), std=std.tolist(), classes=sorted_classes(train))

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw rows -> (N, F) float32."""
        self._require(df, self.columns)
        return self.features_array(df[self.columns].to_numpy(dtype=np.float64))

    def features_array(self, x: np.ndarray) -> np.ndarray:
        """Raw rows as an (N, F) array in `columns` order -> model input (the lean serving path)."""
        return ((np.asarray(x, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.std)).astype(np.float32)

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


def require_numeric(frame: pd.DataFrame, columns: list[str]) -> None:
    """Every column numeric (a tabular model standardises each); else StageInputError naming each column that
    is not, with up to two of its values that are not numbers."""
    bad = [c for c in columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if bad:
        shown = []
        for c in bad:
            s = frame[c]
            examples = s[s.notna() & pd.to_numeric(s, errors="coerce").isna()].head(2).tolist()
            shown.append(f"{c!r} ({s.dtype}, e.g. {examples})")
        raise StageInputError(f"column(s) not numeric, as a tabular model needs: {'; '.join(shown)}")
