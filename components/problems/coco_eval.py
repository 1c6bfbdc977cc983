"""COCO detection metrics by pycocotools (the reference COCOeval), in memory.

Ground truth is per image (N rows): boxes (n, 4) [x, y, w, h] and class indices; predictions are one array
(N, D, 6) [x1, y1, x2, y2, score, class index], rows with class -1 being padding. Image i is COCO image id
i + 1, class k category id k + 1. `evaluate` gives mAP@[.5:.95], mAP@0.5, mAP@0.75, AR@100, per-class AP and
AP@0.5 and per-class precision-recall curves at IoU 0.5 (area "all", 100 detections per image).

`RowScorer` serves the promotion gate's bootstrap: COCOeval matches detections to ground truth once per image,
then mAP of any multiset of images (rows drawn with repeats) is accumulated exactly as COCOeval.accumulate
would, from those per-image matches weighted by how often each image was drawn.
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np

AREA_ALL = 0  # COCOeval's area ranges: all, small, medium, large


def coco_dicts(gt_boxes: list[np.ndarray], gt_classes: list[np.ndarray], predictions: np.ndarray,
               n_classes: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(ground-truth dataset, detection results) in COCO's formats."""
    images = [{"id": i + 1, "width": 1, "height": 1} for i in range(len(gt_boxes))]
    annotations = [{"id": len(images) + j, "image_id": i + 1, "category_id": int(c) + 1, "bbox": [float(v) for v in b],
                    "area": float(b[2] * b[3]), "iscrowd": 0}
                   for i, (boxes, classes) in enumerate(zip(gt_boxes, gt_classes, strict=True))
                   for j, (b, c) in enumerate(zip(boxes, classes, strict=True))]
    for n, a in enumerate(annotations):
        a["id"] = n + 1
    dt = [{"image_id": i + 1, "category_id": int(d[5]) + 1, "score": float(d[4]),
           "bbox": [float(d[0]), float(d[1]), float(d[2] - d[0]), float(d[3] - d[1])]}
          for i, dets in enumerate(predictions) for d in dets if d[5] >= 0]
    return {"images": images, "annotations": annotations,
            "categories": [{"id": k + 1, "name": str(k)} for k in range(n_classes)]}, dt


def run_cocoeval(gt_boxes, gt_classes, predictions: np.ndarray, n_classes: int):
    """A COCOeval that has evaluated (per-image matches) and accumulated; None when nothing was detected."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt, dt = coco_dicts(gt_boxes, gt_classes, predictions, n_classes)
    if not dt:  # loadRes cannot take an empty list: nothing detected
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        ev = COCOeval(coco_gt, coco_gt.loadRes(copy.deepcopy(dt)), iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def evaluate(gt_boxes, gt_classes, predictions: np.ndarray, names: list[str]) -> dict[str, Any]:
    """map, map50, map75, ar100; per_class_ap, per_class_ap50 and pr_curves (IoU 0.5) by class name."""
    ev = run_cocoeval(gt_boxes, gt_classes, predictions, len(names))
    has_gt = {k: any(k in set(np.asarray(c).tolist()) for c in gt_classes) for k in range(len(names))}
    if ev is None:
        per = {n: 0.0 if has_gt[k] else float("nan") for k, n in enumerate(names)}
        return {"map": 0.0, "map50": 0.0, "map75": 0.0, "ar100": 0.0, "per_class_ap": per,
                "per_class_ap50": dict(per), "pr_curves": {}}
    prec = ev.eval["precision"][:, :, :, AREA_ALL, -1]  # (T IoU thresholds, R recall points, K classes)
    t50 = int(np.argmin(np.abs(ev.params.iouThrs - 0.5)))
    mean = lambda p: float(p[p > -1].mean()) if (p > -1).any() else float("nan")  # noqa: E731
    return {"map": float(ev.stats[0]), "map50": float(ev.stats[1]), "map75": float(ev.stats[2]),
            "ar100": float(ev.stats[8]),
            "per_class_ap": {n: mean(prec[:, :, k]) for k, n in enumerate(names)},
            "per_class_ap50": {n: mean(prec[t50, :, k]) for k, n in enumerate(names)},
            "pr_curves": {n: {"recall": ev.params.recThrs.tolist(),
                              "precision": np.where(prec[t50, :, k] > -1, prec[t50, :, k], np.nan).tolist()}
                          for k, n in enumerate(names) if has_gt[k]}}


class RowScorer:
    """mAP and mAP@0.5 of any multiset of the evaluated images, from COCOeval's per-image matches."""

    def __init__(self, gt_boxes, gt_classes, predictions: np.ndarray, n_classes: int):
        self.n = len(gt_boxes)
        self.ev = run_cocoeval(gt_boxes, gt_classes, predictions, n_classes)
        self.per_class = [] if self.ev is None else [self._class(k) for k in range(len(self.ev.params.catIds))]

    def _class(self, k: int) -> dict[str, np.ndarray]:
        """One class's detections over all images in COCOeval's order (score descending, stable), with their
        image, match flags per IoU threshold, ignore flags; and its ground-truth count per image."""
        p, n_area = self.ev.params, len(self.ev.params.areaRng)
        found = [(i, e) for i in range(self.n) if (e := self.ev.evalImgs[k * n_area * self.n + AREA_ALL * self.n + i])]
        maxdet = p.maxDets[-1]
        n_gt = np.zeros(self.n)
        for i, e in found:
            n_gt[i] = np.count_nonzero(np.asarray(e["gtIgnore"]) == 0)
        if not found:
            return {"n_gt": n_gt, "image": np.zeros(0, np.int64), "tp": np.zeros((len(p.iouThrs), 0), bool),
                    "keep": np.zeros((len(p.iouThrs), 0), bool)}
        scores = np.concatenate([e["dtScores"][:maxdet] for _, e in found])
        order = np.argsort(-scores, kind="mergesort")
        image = np.concatenate([np.full(len(e["dtScores"][:maxdet]), i) for i, e in found])[order]
        matched = np.concatenate([e["dtMatches"][:, :maxdet] for _, e in found], axis=1)[:, order] > 0
        ignored = np.concatenate([e["dtIgnore"][:, :maxdet] for _, e in found], axis=1)[:, order] > 0
        return {"n_gt": n_gt, "image": image, "tp": matched & ~ignored, "keep": ~ignored}

    def __call__(self, rows: np.ndarray, metric: str | None = None) -> dict[str, float]:
        """{"map", "map50"} of the images `rows` (indices, repeats allowed); with `metric`, only that one (map50
        then accumulates one IoU threshold instead of ten: what the gate's bootstrap asks for)."""
        if self.ev is None:
            return {"map": 0.0, "map50": 0.0}
        weight = np.bincount(np.asarray(rows, np.int64), minlength=self.n).astype(np.float64)
        thresholds = self.ev.params.recThrs
        t50 = int(np.argmin(np.abs(self.ev.params.iouThrs - 0.5)))
        ious = [t50] if metric == "map50" else list(range(len(self.ev.params.iouThrs)))
        precision = np.full((len(ious), len(thresholds), len(self.per_class)), -1.0)
        for k, c in enumerate(self.per_class):
            npig = float(weight @ c["n_gt"])
            if npig == 0:
                continue
            w = weight[c["image"]]
            tp_sum = np.cumsum(c["tp"][ious] * w, axis=1)
            fp_sum = np.cumsum((c["keep"][ious] & ~c["tp"][ious]) * w, axis=1)
            for t in range(len(ious)):
                tp, fp = tp_sum[t], fp_sum[t]
                q = np.zeros(len(thresholds))
                if len(tp):
                    pr = np.maximum.accumulate((tp / (fp + tp + np.spacing(1)))[::-1])[::-1]  # interpolated
                    idx = np.searchsorted(tp / npig, thresholds, side="left")
                    q[idx < len(pr)] = pr[idx[idx < len(pr)]]
                precision[t, :, k] = q
        mean = lambda p: float(p[p > -1].mean()) if (p > -1).any() else 0.0  # noqa: E731
        if metric == "map50":
            return {"map50": mean(precision[0])}
        return {"map": mean(precision), "map50": mean(precision[ious.index(t50)])}
