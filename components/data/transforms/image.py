"""Images as pixel columns: standardised (N, 1, H, W) for image models, flat (N, H*W) for clustering."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from components.core.columns import LABEL
from components.data.transforms.base import FittedTransform, sorted_classes


class ImageTransform(FittedTransform):
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
                   classes=sorted_classes(train))

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw rows -> (N, 1, H, W) float32."""
        self._require(df, self.columns)
        return self.features_array(df[self.columns].to_numpy(dtype=np.float32, copy=True), owned=True)

    def features_array(self, x: np.ndarray, owned: bool = False) -> np.ndarray:
        """Raw pixel rows as an (N, H*W) array in `columns` order -> model input (the lean serving path).
        `owned`: x is a float32 array the caller gives up (normalised in place, no temporaries)."""
        x = x if owned else np.array(x, dtype=np.float32)
        x -= np.float32(self.mean)
        x /= np.float32(self.std)
        return x.reshape(-1, 1, self.height, self.width)

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        return self.class_indices(df)

    @property
    def n_outputs(self) -> int:
        return len(self.classes or [])


class ClusterTransform(ImageTransform):
    """Images for unsupervised models: pixel rows -> (N, H*W) float32 with the train split's global mean/std.
    The target is the input itself (reconstruction): labels never reach the model."""

    kind: Literal["image:clustering"] = "image:clustering"

    def features_array(self, x: np.ndarray, owned: bool = False) -> np.ndarray:
        """Raw pixel rows (N, H*W) -> (N, H*W) float32."""
        return super().features_array(x, owned).reshape(len(x), -1)

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        return self.features(df)

    @property
    def n_outputs(self) -> int:
        return self.height * self.width
