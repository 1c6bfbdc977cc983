"""Encoded image files (any size, gray or RGB) -> fixed-size normalised tensors, for classification."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from components.core.errors import StageInputError
from components.data.images import FILE, IMAGE, to_array
from components.data.transforms.base import FittedTransform, sorted_classes


class ImageFileTransform(FittedTransform):
    """An `image` column (encoded bytes, base64 text, a path or an (H, W[, C]) array per row) -> float32
    (N, C, H, W): decoded, converted to gray or RGB, resized (bilinear) to height x width, scaled to [0, 1] and
    standardised per channel with the train split's mean and std."""

    kind: Literal["image_file"] = "image_file"
    columns: list[str] = [IMAGE]
    height: int
    width: int
    channels: int
    mean: list[float]
    std: list[float]

    @classmethod
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "classification",
            cfg: Any = None) -> ImageFileTransform:
        """Per-channel statistics of the resized train images (`cfg`: image_size, channels) and the classes."""
        proto = cls(height=cfg.image_size[0], width=cfg.image_size[1], channels=cfg.channels, mean=[0.0], std=[1.0],
                    **cls.fit_extra(train, cfg))
        x = proto.pixels(train).reshape(-1, proto.channels) / 255.0
        std = x.std(axis=0)
        return proto.model_copy(update={"mean": x.mean(axis=0).tolist(), "std": np.where(std > 0, std, 1.0).tolist()})

    @classmethod
    def fit_extra(cls, train: pd.DataFrame, cfg: Any) -> dict[str, Any]:
        """What else `fit` learns from the train split: the classes."""
        return {"classes": sorted_classes(train)}

    def pixels(self, df: pd.DataFrame) -> np.ndarray:
        """(N, H, W, C) uint8: every row's image decoded and resized; a failure names the file (or row)."""
        self._require(df, self.columns)
        out = np.empty((len(df), self.height, self.width, self.channels), np.uint8)
        for i, value in enumerate(df[IMAGE].tolist()):
            try:
                out[i] = to_array(value, self.channels, (self.height, self.width))
            except (ValueError, OSError) as e:
                name = df[FILE].iloc[i] if FILE in df.columns else f"row {i}"
                raise StageInputError(f"{name}: column {IMAGE!r}: {e}") from None
        return out

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw rows -> (N, C, H, W) float32."""
        x = self.pixels(df).astype(np.float32) / np.float32(255.0)
        x -= np.asarray(self.mean, np.float32)
        x /= np.asarray(self.std, np.float32)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        return self.class_indices(df)

    @property
    def n_outputs(self) -> int:
        return len(self.classes or [])
