"""Fitted transforms: fitted on the train split only, saved with the model, applied again at serving time.

A transform maps RAW rows (as ingested) to model-ready arrays. The same object is used by training,
evaluation and the registered pyfunc, so there is one code path from raw input to tensor.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from components.errors import StageInputError

LABEL = "label"


class ImageTransform(BaseModel):
    """Pixel columns -> float32 (N, 1, H, W), standardised with the train split's global mean/std."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["image"] = "image"
    columns: list[str]
    height: int
    width: int
    mean: float
    std: float
    classes: list[int | str]

    @classmethod
    def fit(cls, train: pd.DataFrame, image_shape: tuple[int, int]) -> ImageTransform:
        """Fit on the train split: pixel statistics and the sorted class list."""
        columns = [str(c) for c in train.columns if c != LABEL]
        pixels = train[columns].to_numpy(dtype=np.float64)
        std = float(pixels.std())
        return cls(columns=columns, height=image_shape[0], width=image_shape[1], mean=float(pixels.mean()),
                   std=std if std > 0 else 1.0, classes=sorted(pd.unique(train[LABEL]).tolist()))

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """Raw rows -> (N, 1, H, W) float32."""
        missing = [c for c in self.columns if c not in df.columns]
        if missing:
            raise StageInputError(f"input lacks {len(missing)} pixel column(s): {missing[:5]}")
        x = df[self.columns].to_numpy(dtype=np.float32)
        x = (x - np.float32(self.mean)) / np.float32(self.std)
        return x.reshape(-1, 1, self.height, self.width)

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        """Labels -> class indices (int64), in the order of `classes`."""
        index = {c: i for i, c in enumerate(self.classes)}
        try:
            return np.fromiter((index[v] for v in df[LABEL].tolist()), dtype=np.int64, count=len(df))
        except KeyError as e:
            raise StageInputError(f"label {e.args[0]!r} was not seen in the train split {self.classes}") from None

    def decode(self, indices: np.ndarray) -> list[Any]:
        """Class indices -> original labels."""
        return [self.classes[int(i)] for i in indices]

    @property
    def n_outputs(self) -> int:
        """Number of classes the model must predict."""
        return len(self.classes)


Transform = Annotated[ImageTransform, Field(discriminator="kind")]
_adapter: TypeAdapter[Transform] = TypeAdapter(Transform)


def load_transform(data: dict[str, Any]) -> Transform:
    """Rebuild a fitted transform from its saved dict (the `kind` field picks the class)."""
    return _adapter.validate_python(data)
