"""Detection: images resized to the model's size (boxes with them); predicted boxes mapped back to each image."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from components.core.errors import StageInputError
from components.data.coco import BOXES, CLASSES, as_boxes
from components.data.images import IMAGE, sizes
from components.data.transforms.image_file import ImageFileTransform


class DetectionTransform(ImageFileTransform):
    """Images as for image files; targets (N, M, 5) float32 [x1, y1, x2, y2, class index] in model pixels,
    padded with class -1 (M: the most boxes of any image in the frame), so the shared loop batches them by
    index. `restore` scales predicted boxes back to each image's own pixels. The thresholds are what the
    registered model returns by default (components/problems/detection.py)."""

    kind: Literal["detection"] = "detection"
    score_threshold: float = 0.3
    nms_iou: float = 0.5
    max_dets: int = 100
    min_score: float = 0.01

    @classmethod
    def fit_extra(cls, train: pd.DataFrame, cfg: Any) -> dict[str, Any]:
        """The classes (sorted category names of the train boxes) and the thresholds."""
        names = sorted({str(c) for row in train[CLASSES] for c in row})
        return {"classes": names, "score_threshold": cfg.score_threshold, "nms_iou": cfg.nms_iou,
                "max_dets": cfg.max_dets, "min_score": cfg.min_score}

    def scales(self, df: pd.DataFrame) -> np.ndarray:
        """(N, 2) [x, y] factors from each image's pixels to the model's."""
        self._require(df, [IMAGE])
        hw = sizes(df[IMAGE].tolist()).astype(np.float64)
        return np.stack([self.width / hw[:, 1], self.height / hw[:, 0]], 1)

    def targets(self, df: pd.DataFrame) -> np.ndarray:
        self._require(df, [BOXES, CLASSES])
        index = {c: i for i, c in enumerate(self.classes or [])}
        boxes = [as_boxes(b) for b in df[BOXES]]
        out = np.zeros((len(df), max([1] + [len(b) for b in boxes]), 5), np.float32)
        out[..., 4] = -1
        for i, (b, names, (sx, sy)) in enumerate(zip(boxes, df[CLASSES], self.scales(df), strict=True)):
            unknown = [c for c in names if str(c) not in index]
            if unknown:
                raise StageInputError(f"row {i}: class {unknown[0]!r} was not seen in the train split {self.classes}")
            out[i, :len(b), :4] = np.c_[b[:, :2], b[:, :2] + b[:, 2:]] * [sx, sy, sx, sy]
            out[i, :len(b), 4] = [index[str(c)] for c in names]
        return out

    def restore(self, df: pd.DataFrame, predictions: np.ndarray) -> np.ndarray:
        """(N, D, 6) boxes in model pixels -> in each image's own pixels."""
        out = np.array(predictions, np.float64, copy=True)
        if len(out):
            out[..., :4] /= np.tile(self.scales(df), 2)[:, None, :]
        return out
