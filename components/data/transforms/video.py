"""Video clips -> (N, T, C, H, W) float32 frames, standardised with the train split's mean and std."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from components.config.media import DecodeConfig
from components.core.errors import StageInputError
from components.data.transforms.base import FittedTransform, sorted_classes
from components.data.video import FRAMES, VIDEO, ClipError, decode


class VideoTransform(FittedTransform):
    """A `video` column (a path, encoded bytes or base64 text per row) -> float32 (N, T, C, H, W). Ingest has
    already decoded the raw rows (`frames`); what a caller sends is decoded here with the same settings."""

    kind: Literal["video"] = "video"
    columns: list[str] = [VIDEO]
    decoding: DecodeConfig  # how ingest decoded the clips (`decode` is the base class's label mapping)
    mean: float
    std: float

    @classmethod
    def fit(cls, train: pd.DataFrame, manifest: dict[str, Any], task: str = "classification",
            cfg: Any = None) -> VideoTransform:
        """The decode settings ingest used, the train clips' pixel mean/std, the classes."""
        proto = cls(decoding=DecodeConfig.model_validate(manifest["decode"]), mean=0.0, std=1.0,
                    classes=sorted_classes(train))
        x = proto.clips(train).astype(np.float32) / 255.0
        return proto.model_copy(update={"mean": float(x.mean()), "std": float(x.std()) or 1.0})

    def clips(self, df: pd.DataFrame) -> np.ndarray:
        """(N, T, H, W, C) uint8: the frames ingest decoded, or each clip decoded now; a failure names the clip."""
        d = self.decoding
        shape = (d.frames, d.height, d.width, d.channels)
        out = np.empty((len(df), *shape), np.uint8)
        ready = df[FRAMES].tolist() if FRAMES in df.columns else [None] * len(df)
        if not all(r is not None for r in ready):
            self._require(df, self.columns)
        for i, frames in enumerate(ready):
            try:
                out[i] = np.frombuffer(frames, np.uint8).reshape(shape) if frames is not None else \
                    decode(df[VIDEO].iloc[i], d)
            except ClipError as e:
                name = df[VIDEO].iloc[i]
                raise StageInputError(f"{name if isinstance(name, str) and len(name) < 300 else f'row {i}'}: "
                                      f"clip failed check {e}") from None
        return out

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw rows -> (N, T, C, H, W) float32."""
        x = self.clips(df).astype(np.float32) / np.float32(255.0)
        x -= np.float32(self.mean)
        x /= np.float32(self.std)
        return np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3))

    def example(self, df: pd.DataFrame, rows: int = 2) -> pd.DataFrame:
        """What a client sends (the pyfunc's input example): the first clips' encoded bytes."""
        self._require(df, self.columns)
        return pd.DataFrame({VIDEO: [Path(p).read_bytes() for p in df[VIDEO].head(rows)]})

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        return self.class_indices(df)

    @property
    def n_outputs(self) -> int:
        return len(self.classes or [])
