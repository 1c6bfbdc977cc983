"""Object detection: predictions are (N, max_dets, 6) [x1, y1, x2, y2, score, class index] per image, in the
image's own pixels, after per-class NMS, highest score first, padded with class -1. Metrics: COCO mAP by
pycocotools (components/problems/coco_eval.py); baseline: threshold + connected components + a classifier
(components/problems/baselines.py), fitted on the train split in the same run. The registered model returns
per image `n_boxes`, `boxes` ([[x1, y1, x2, y2], ...]), `labels` and `scores`, scored at least `score_threshold`;
`score_threshold` and `nms_iou` can be changed per call (the pyfunc's params).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from components.core.errors import StageInputError
from components.data.coco import BOXES, CLASSES, as_boxes
from components.data.images import IMAGE, to_array
from components.problems import baselines, coco_eval, plots
from components.problems.base import Task

PLOTTED = 8  # test images drawn with their boxes


def nms(dets: np.ndarray, iou: float) -> np.ndarray:
    """Greedy per-class NMS of (n, 6) detections: the kept rows' indices, highest score first. A box goes when
    its IoU with a kept, higher-scored box of the same class exceeds `iou` (torchvision.ops.nms's rule)."""
    order = np.argsort(-dets[:, 4], kind="stable")
    boxes = dets[order, :4] + dets[order, 5:6] * (dets[:, :4].max(initial=0) + 1)  # classes never overlap
    area = (boxes[:, 2] - boxes[:, 0]).clip(0) * (boxes[:, 3] - boxes[:, 1]).clip(0)
    inter = (np.minimum(boxes[:, None, 2:], boxes[None, :, 2:]) - np.maximum(boxes[:, None, :2], boxes[None, :, :2]))
    inter = inter.clip(0).prod(-1)
    overlap = inter / np.maximum(area[:, None] + area[None, :] - inter, 1e-12)
    keep = np.ones(len(order), bool)
    for i in range(len(order)):  # a few dozen candidates per image: the IoU matrix is computed once
        if keep[i]:
            keep[i + 1:] &= overlap[i, i + 1:] <= iou
    return order[keep]


def _postprocess(transform, out: np.ndarray, nms_iou: float | None = None, **_: Any) -> np.ndarray:
    """Candidates (N, T, 6) -> (N, max_dets, 6): at least `min_score`, per-class NMS at `nms_iou`."""
    iou = transform.nms_iou if nms_iou is None else float(nms_iou)
    out = np.asarray(out, np.float64)
    out = out.reshape(len(out), -1, 6) if out.size else np.zeros((len(out), 0, 6))
    preds = np.zeros((len(out), transform.max_dets, 6))
    preds[..., 5] = -1
    for i, cand in enumerate(out):
        cand = cand[(cand[:, 4] >= transform.min_score) & (cand[:, 5] >= 0)]
        kept = cand[nms(cand, iou)][:transform.max_dets]
        preds[i, :len(kept)] = kept
    return preds


def _frame(transform, preds: np.ndarray, score_threshold: float | None = None, **_: Any) -> pd.DataFrame:
    """One row per image: `n_boxes`, `boxes`, `labels`, `scores` at or above `score_threshold`."""
    low = transform.score_threshold if score_threshold is None else float(score_threshold)
    rows = []
    for dets in preds:
        dets = dets[(dets[:, 5] >= 0) & (dets[:, 4] >= low)]
        rows.append({"n_boxes": len(dets), "boxes": np.round(dets[:, :4], 2).tolist(),
                     "labels": transform.decode(dets[:, 5].astype(int)) if len(dets) else [],
                     "scores": np.round(dets[:, 4], 4).tolist()})
    return pd.DataFrame(rows, columns=["n_boxes", "boxes", "labels", "scores"])


def ground_truth(transform, df: pd.DataFrame) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per image: true boxes (n, 4) xywh in its pixels and class indices (in `transform.classes`)."""
    index = {c: i for i, c in enumerate(transform.classes)}
    try:
        classes = [np.array([index[str(c)] for c in row], np.int64) for row in df[CLASSES]]
    except KeyError as e:
        raise StageInputError(f"class {e.args[0]!r} was not seen in the train split {transform.classes}") from None
    return [as_boxes(b) for b in df[BOXES]], classes


def _score(transform, test: pd.DataFrame, preds: np.ndarray) -> dict[str, float]:
    m = coco_eval.evaluate(*ground_truth(transform, test), preds, list(transform.classes))
    return {"map50": m["map50"], "map": m["map"]}


def _rows(transform, test: pd.DataFrame, preds: np.ndarray):
    return coco_eval.RowScorer(*ground_truth(transform, test), preds, len(transform.classes))


def _gray(df: pd.DataFrame) -> list[np.ndarray]:
    return [to_array(v, 1)[..., 0].astype(np.float64) for v in df[IMAGE]]


def _eval(transform, test: pd.DataFrame, preds: np.ndarray, train: pd.DataFrame):
    """mAP, mAP@0.5, mAP@0.75, AR@100 of the model and of the classical baseline on the same test images."""
    names = list(transform.classes)
    truth = ground_truth(transform, test)
    m = coco_eval.evaluate(*truth, preds, names)
    boxes, classes = ground_truth(transform, train)
    xyxy = [np.c_[b[:, :2], b[:, :2] + b[:, 2:]] for b in boxes]
    base = coco_eval.evaluate(*truth, baselines.classical_detector(_gray(train), xyxy, classes, _gray(test),
                                                                    len(names), transform.max_dets), names)
    headline = {k: m[k] for k in ("map50", "map", "map75", "ar100")} | {
        "n_test": len(test), "n_objects": int(sum(len(c) for c in truth[1])),
        "baseline_map50": base["map50"], "baseline_map": base["map"]}
    return headline, {"per_class_ap": m["per_class_ap"], "per_class_ap50": m["per_class_ap50"],
                      "pr_curves": m["pr_curves"], "baseline_classical": {
                          k: base[k] for k in ("map50", "map", "map75", "ar100", "per_class_ap50")}}


def _plots(transform, test: pd.DataFrame, preds: np.ndarray, plot_dir: Path) -> list[Path]:
    names = list(transform.classes)
    m = coco_eval.evaluate(*ground_truth(transform, test), preds, names)
    shown = test.head(PLOTTED)
    truth = [(np.c_[b[:, :2], b[:, :2] + b[:, 2:]], [str(c) for c in cls]) for b, cls in
             zip(shown[BOXES].map(as_boxes), shown[CLASSES], strict=True)]
    kept = [d[(d[:, 5] >= 0) & (d[:, 4] >= transform.score_threshold)] for d in preds[:PLOTTED]]
    predicted = [(d[:, :4], transform.decode(d[:, 5].astype(int)) if len(d) else [], d[:, 4]) for d in kept]
    images = [to_array(v, transform.channels) for v in shown[IMAGE]]
    return [
        plots.boxes_png(plot_dir / "boxes.png", images, truth, predicted,
                        f"test images: true (green), predicted >= {transform.score_threshold} (red)"),
        plots.pr_curves_png(plot_dir / "pr_curves.png", m["pr_curves"],
                            f"precision-recall at IoU 0.5 (test mAP@0.5 {m['map50']:.4f})"),
        plots.write_csv(plot_dir / "pr.csv", ["class", "recall", "precision"],
                        ((n, r, p) for n, c in m["pr_curves"].items()
                         for r, p in zip(c["recall"], c["precision"], strict=True) if p == p)),
    ]


DETECTION = Task(name="detection", split="random", postprocess=_postprocess, frame=_frame,
                 output_schema=lambda t: [("long", "n_boxes"), ("array<array<double>>", "boxes"),
                                          ("array<string>", "labels"), ("array<double>", "scores")],
                 score=_score, metrics=_eval, plots=_plots,
                 options=lambda t: {"score_threshold": float(t.score_threshold), "nms_iou": float(t.nms_iou)},
                 rows_scorer=_rows)
