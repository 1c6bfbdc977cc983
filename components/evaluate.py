"""Evaluate: score the trained model on the held-out test split (raw rows through the model's own transform).

Writes `reports/metrics.json` (top-level `accuracy`, `macro_f1`, `loss`), `reports/per_class.json` and plots under
`reports/plots/` (confusion matrix PNG + CSV, loss curves PNG + CSV), and logs all of it to the training run.
"""

from __future__ import annotations

import argparse
import csv
import logging
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel
from sklearn.metrics import confusion_matrix, f1_score, log_loss, precision_recall_fscore_support

from components import paths, plots, tracking
from components.config import EvaluateConfig, load_params
from components.features import load_split
from components.inference import predict_outputs
from components.io import atomic_path, read_json, require_files, write_json
from components.models import load_checkpoint
from components.stage import stage_main

log = logging.getLogger(__name__)


class EvalResult(BaseModel):
    """Headline test metrics and where the reports went."""

    metrics: dict[str, float]
    metrics_file: Path
    plots: list[Path]


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: list[Any]) -> dict[str, Any]:
    """accuracy, macro-F1, log-loss and per-class precision/recall/F1/support (indices into `classes`)."""
    y_pred = proba.argmax(1)
    labels = list(range(len(classes)))
    prec, rec, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return {
        "accuracy": float((y_pred == y_true).mean()),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "loss": float(log_loss(y_true, proba, labels=labels)),  # clips at float eps itself
        "n_test": int(len(y_true)),
        "per_class": {str(c): {"precision": float(prec[i]), "recall": float(rec[i]), "f1": float(f1[i]),
                               "support": int(support[i])} for i, c in enumerate(classes)},
    }


def run(cfg: EvaluateConfig, model_dir: Path = paths.MODEL_DIR, features_dir: Path = paths.FEATURES_DIR,
        reports_dir: Path = paths.REPORTS_DIR) -> EvalResult:
    """Score the test split, write metrics.json and plots, log them to the model's MLflow run."""
    model_dir, reports_dir = Path(model_dir), Path(reports_dir)
    require_files(model_dir, [paths.CHECKPOINT_FILE, paths.HISTORY_FILE, paths.RUN_FILE])
    ckpt = load_checkpoint(model_dir / paths.CHECKPOINT_FILE)
    test = load_split(features_dir, "test")
    proba = predict_outputs(ckpt, test, cfg.batch_size)
    y_true = ckpt.transform.targets(test)
    metrics = classification_metrics(y_true, proba, ckpt.transform.classes)
    history = read_json(model_dir / paths.HISTORY_FILE)

    plot_dir = reports_dir / paths.PLOTS_DIR
    matrix = confusion_matrix(y_true, proba.argmax(1), labels=list(range(len(ckpt.transform.classes))))
    written = [
        plots.confusion_matrix_png(plot_dir / "confusion_matrix.png", matrix, ckpt.transform.classes,
                                   f"test accuracy {metrics['accuracy']:.4f} (n={len(test)})"),
        plots.loss_curves_png(plot_dir / "loss.png", history["epochs"], history["best_epoch"]),
        _csv(plot_dir / "confusion.csv", ["actual", "predicted"],
             zip(ckpt.transform.decode(y_true), ckpt.transform.decode(proba.argmax(1)), strict=True)),
        _csv(plot_dir / "loss.csv", ["epoch", "train_loss", "val_loss"],
             ((e["epoch"], e["train_loss"], e["val_loss"]) for e in history["epochs"])),
    ]
    # Headline numbers are DVC metrics; per-class detail goes beside them so `dvc metrics show` stays readable.
    details = {k: metrics.pop(k) for k in [k for k, v in metrics.items() if isinstance(v, dict)]}
    metrics_file = write_json(reports_dir / paths.METRICS_FILE, metrics)
    details_file = write_json(reports_dir / paths.PER_CLASS_FILE, details)
    headline = {k: v for k, v in metrics.items() if isinstance(v, float)}
    with tracking.resume_run(model_dir):
        tracking.log_metrics({f"test_{k}": v for k, v in headline.items()})
        tracking.log_artifacts([metrics_file, details_file], "evaluation")
        tracking.log_artifacts(written, "evaluation/plots")
    log.info("evaluate: %s", ", ".join(f"{k}={v:.4f}" for k, v in headline.items()))
    return EvalResult(metrics=headline, metrics_file=metrics_file, plots=written)


def _csv(path: Path, header: list[str], rows) -> Path:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return Path(path)


def main(argv: list[str] | None = None) -> int:
    """CLI: python -m components.evaluate --params params.yaml --model models/train --features ... --reports ..."""
    p = argparse.ArgumentParser(prog="python -m components.evaluate", description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=paths.PARAMS)
    p.add_argument("--model", type=Path, default=paths.MODEL_DIR)
    p.add_argument("--features", type=Path, default=paths.FEATURES_DIR)
    p.add_argument("--reports", type=Path, default=paths.REPORTS_DIR)
    args = p.parse_args(argv)
    return stage_main(lambda: run(load_params(args.params).evaluate, args.model, args.features, args.reports))


if __name__ == "__main__":
    raise SystemExit(main())
