"""Anomaly detection: outputs are (N, 2) [score, flag]; label 0 = normal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from components.problems import baselines, plots
from components.problems.base import Task


def anomaly_metrics(is_anomaly: np.ndarray, scores: np.ndarray, flags: np.ndarray) -> dict[str, float]:
    """ROC-AUC and PR-AUC (average precision) of the scores; precision/recall/F1 of the thresholded flags."""
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

    both = len(np.unique(is_anomaly)) == 2
    prec, rec, f1, _ = precision_recall_fscore_support(is_anomaly, flags, average="binary", zero_division=0)
    return {"roc_auc": float(roc_auc_score(is_anomaly, scores)) if both else float("nan"),
            "pr_auc": float(average_precision_score(is_anomaly, scores)) if both else float("nan"),
            "precision": float(prec), "recall": float(rec), "f1": float(f1),
            "n_test": int(len(scores)), "anomaly_rate": float(np.mean(is_anomaly))}


def _anomaly_out(transform, out: np.ndarray) -> np.ndarray:
    return np.asarray(out, dtype=np.float64).reshape(len(out), 2)


def _anomaly_parts(transform, test: pd.DataFrame, out: np.ndarray):
    return transform.targets(test) != 0, out[:, 0], out[:, 1] > 0.5


def _anomaly_score(transform, test: pd.DataFrame, out: np.ndarray) -> dict[str, float]:
    m = anomaly_metrics(*_anomaly_parts(transform, test, out))
    return {"roc_auc": m["roc_auc"], "pr_auc": m["pr_auc"]}


def _anomaly_eval(transform, test: pd.DataFrame, out: np.ndarray, train: pd.DataFrame):
    is_anomaly, scores, flags = _anomaly_parts(transform, test, out)
    m = anomaly_metrics(is_anomaly, scores, flags)
    cols = transform.columns
    forest = baselines.iforest_scores(train[cols].to_numpy(np.float64), test[cols].to_numpy(np.float64))
    base = anomaly_metrics(is_anomaly, forest, np.zeros_like(flags))
    return m | {"iforest_roc_auc": base["roc_auc"], "iforest_pr_auc": base["pr_auc"]}, \
        {"baseline_iforest": {k: base[k] for k in ("roc_auc", "pr_auc")}}


def _anomaly_plots(transform, test: pd.DataFrame, out: np.ndarray, plot_dir: Path) -> list[Path]:
    from sklearn.metrics import confusion_matrix, roc_curve

    is_anomaly, scores, flags = _anomaly_parts(transform, test, out)
    names = np.array(["normal", "anomaly"])
    matrix = confusion_matrix(is_anomaly, flags, labels=[False, True])
    fpr, tpr, _ = roc_curve(is_anomaly, scores)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 500)).astype(int))  # a readable curve
    return [
        plots.confusion_matrix_png(plot_dir / "confusion_matrix.png", matrix, list(names),
                                   f"test F1 {anomaly_metrics(is_anomaly, scores, flags)['f1']:.4f} (n={len(test)})"),
        plots.write_csv(plot_dir / "confusion.csv", ["actual", "predicted"],
                        zip(names[is_anomaly.astype(int)], names[flags.astype(int)], strict=True)),
        plots.write_csv(plot_dir / "roc.csv", ["fpr", "tpr"], zip(fpr[keep], tpr[keep], strict=True)),
    ]


ANOMALY = Task(name="anomaly", split="stratified", postprocess=_anomaly_out,
               frame=lambda t, out: pd.DataFrame({"prediction": (out[:, 1] > 0.5).astype(np.int64),
                                                  "score": out[:, 0]}),
               output_schema=lambda t: [("long", "prediction"), ("double", "score")],
               score=_anomaly_score, metrics=_anomaly_eval, plots=_anomaly_plots)
