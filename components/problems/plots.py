"""Static plots (PNG) for reports and MLflow. Uses matplotlib's object API: no pyplot state, no GUI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from components.core.io import atomic_path


def confusion_matrix_png(path: Path, matrix: np.ndarray, labels: list[Any], title: str) -> Path:
    """Annotated confusion matrix (rows: actual, columns: predicted)."""
    n = len(labels)
    fig = Figure(figsize=(1.2 + 0.55 * n, 1.0 + 0.5 * n), dpi=110)
    ax = fig.add_subplot()
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(n), [str(x) for x in labels], rotation=45 if n > 12 else 0)
    ax.set_yticks(range(n), [str(x) for x in labels])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    top = matrix.max() if matrix.size else 0
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > top / 2 else "black")
    fig.tight_layout()
    return _save(fig, path)


def loss_curves_png(path: Path, epochs: list[dict[str, float]], best_epoch: int) -> Path:
    """Train and validation loss per epoch, with the restored best epoch marked."""
    fig = Figure(figsize=(6, 4), dpi=110)
    ax = fig.add_subplot()
    x = [e["epoch"] for e in epochs]
    ax.plot(x, [e["train_loss"] for e in epochs], label="train")
    ax.plot(x, [e["val_loss"] for e in epochs], label="validation")
    ax.axvline(best_epoch, color="grey", linestyle=":", label=f"best epoch ({best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def residuals_png(path: Path, actual: np.ndarray, predicted: np.ndarray) -> Path:
    """Predicted vs actual (with the identity line) and residuals vs predicted."""
    fig = Figure(figsize=(9, 4), dpi=110)
    left, right = fig.subplots(1, 2)
    left.scatter(actual, predicted, s=10, alpha=0.7)
    lo, hi = float(min(actual.min(), predicted.min())), float(max(actual.max(), predicted.max()))
    left.plot([lo, hi], [lo, hi], color="grey", linestyle=":")
    left.set_xlabel("actual")
    left.set_ylabel("predicted")
    right.scatter(predicted, actual - predicted, s=10, alpha=0.7)
    right.axhline(0, color="grey", linestyle=":")
    right.set_xlabel("predicted")
    right.set_ylabel("residual (actual - predicted)")
    fig.tight_layout()
    return _save(fig, path)


def write_csv(path: Path, header: list[str], rows) -> Path:
    """A small CSV for `dvc plots`, written atomically."""
    import csv

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return Path(path)


def clusters_png(path: Path, xy: np.ndarray, clusters: np.ndarray, title: str) -> Path:
    """2-D scatter (e.g. PCA of an embedding), one colour per cluster."""
    fig = Figure(figsize=(6, 5), dpi=110)
    ax = fig.add_subplot()
    points = ax.scatter(xy[:, 0], xy[:, 1], c=clusters, cmap="tab10" if clusters.max() < 10 else "tab20", s=12)
    ax.legend(*points.legend_elements(), title="cluster", fontsize=7, loc="best")
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    ax.set_title(title)
    fig.tight_layout()
    return _save(fig, path)


def forecast_png(path: Path, series, windows: list[tuple[Any, np.ndarray]], title: str,
                 label: str = "forecast (median, 80 % interval)") -> Path:
    """The actual series and one forecast per origin: (period index, quantiles (3, h): 0.1 / 0.5 / 0.9)
    drawn as the median line inside its shaded 80 % interval, a dotted line at each origin."""
    fig = Figure(figsize=(9, 4), dpi=110)
    ax = fig.add_subplot()
    ax.plot(series.index, series.to_numpy(), color="black", linewidth=1, label="actual")
    for i, (when, q) in enumerate(windows):
        ax.fill_between(when, q[0], q[2], color="tab:red", alpha=0.25, linewidth=0)
        ax.plot(when, q[1], color="tab:red", linewidth=1.2, label=label if i == 0 else None)
        ax.axvline(when[0], color="grey", linestyle=":", linewidth=0.8)
    ax.set_title(title)
    ax.legend(loc="upper left")
    fig.tight_layout()
    return _save(fig, path)


def boxes_png(path: Path, images: list[np.ndarray], truth: list[tuple[np.ndarray, list[str]]],
              predicted: list[tuple[np.ndarray, list[str], np.ndarray]], title: str) -> Path:
    """Images (H, W, C) uint8 with their true boxes (green) and predicted boxes (red, with class and score);
    boxes xyxy in the image's pixels."""
    from matplotlib.patches import Rectangle

    cols = min(4, len(images)) or 1
    rows = -(-len(images) // cols) or 1
    fig = Figure(figsize=(3 * cols, 3 * rows + 0.4), dpi=110)
    for n, (img, (t_boxes, t_names), (p_boxes, p_names, p_scores)) in enumerate(zip(images, truth, predicted,
                                                                                   strict=True)):
        ax = fig.add_subplot(rows, cols, n + 1)
        ax.imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255)
        for boxes, names, colour, scores in ((t_boxes, t_names, "lime", None), (p_boxes, p_names, "red", p_scores)):
            for j, (x0, y0, x1, y1) in enumerate(boxes):
                ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color=colour, lw=1))
                text = names[j] if scores is None else f"{names[j]} {scores[j]:.2f}"
                ax.text(x0, y0 if scores is None else y1, text, color=colour, fontsize=6,
                        va="bottom" if scores is None else "top")
        ax.set_axis_off()
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def pr_curves_png(path: Path, curves: dict[str, dict[str, list[float]]], title: str) -> Path:
    """Precision against recall, one line per class."""
    fig = Figure(figsize=(6, 4.5), dpi=110)
    ax = fig.add_subplot()
    for name, c in curves.items():
        ax.plot(c["recall"], c["precision"], label=name, lw=1)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(fontsize=6, ncol=2, loc="lower left")
    fig.tight_layout()
    return _save(fig, path)
