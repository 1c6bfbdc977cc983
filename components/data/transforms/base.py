"""Fitted transforms: fitted on the train split only, saved with the model, applied again at serving time.

A transform maps RAW rows (as ingested) to model-ready arrays and back. The same object is used by
training, evaluation and the registered pyfunc, so there is one code path from raw input to tensor.
Each data kind has one transform class (one module each here); `registry.load_transform` rebuilds a saved
one from its `kind` field. Every class has:

  fit(train, manifest, task, cfg) -> transform  (classmethod; statistics of the train split only; cfg: features)
  input_columns                                  raw columns a caller sends (the pyfunc's input schema)
  features(df) -> np.ndarray                     model input
  targets(df) -> np.ndarray                      model target (class indices, or scaled values)
  n_outputs                                      width of the model's output
  classes                                        class labels, or None for numeric targets
  model_kwargs()                                 what the model's build needs beyond shapes (text: vocab_size)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from components.core.columns import LABEL
from components.core.errors import StageInputError


class FittedTransform(BaseModel):
    """Shared behaviour: class bookkeeping, column checks."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    classes: list[int | str] | None = None

    @property
    def input_columns(self) -> list[str]:
        return list(self.columns)  # type: ignore[attr-defined]

    @property
    def renames(self) -> dict[str, str]:
        """Column names a caller may send instead of the model's own (the training data's name -> the model's)."""
        return {}

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

    def model_kwargs(self) -> dict[str, Any]:
        """Extra arguments for the family's `build` (none by default)."""
        return {}

    def decode(self, indices: np.ndarray) -> list[Any]:
        """Class indices -> original labels."""
        return np.asarray(self.classes, dtype=object)[np.asarray(indices, dtype=np.intp)].tolist()


def sorted_classes(train: pd.DataFrame) -> list[Any]:
    return sorted(pd.unique(train[LABEL]).tolist())
