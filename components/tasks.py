"""What differs between tasks (classification, regression, ...): how the split is drawn, how raw model
outputs become predictions, what the registered pyfunc returns, which metrics and plots evaluate makes.

`TASKS` maps a task name to its `Task`; a model family names its task in components/models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from components import baselines, plots

LABEL = "label"


@dataclass(frozen=True, kw_only=True)
class Task:
    """Task behaviour; every function is pure except `plots`, which writes files.

    score(transform, test, predictions) -> headline metrics; cheap, so the promotion gate can bootstrap it.
    metrics(transform, test, predictions, train) -> (headline for metrics.json, details such as per-class
    figures and baselines fitted on `train`).
    """

    name: str
    split: str  # how features draws the splits: "stratified" | "random" (families may add e.g. "chronological")
    postprocess: Callable[[Any, np.ndarray], np.ndarray]  # (transform, raw outputs) -> predictions
    frame: Callable[[Any, np.ndarray], pd.DataFrame]  # (transform, predictions) -> pyfunc output
    output_schema: Callable[[Any], list[tuple[str, str]]]  # transform -> [(mlflow type, column)]
    score: Callable[[Any, pd.DataFrame, np.ndarray], dict[str, float]]
    metrics: Callable[[Any, pd.DataFrame, np.ndarray, pd.DataFrame], tuple[dict[str, float], dict[str, Any]]]
    plots: Callable[[Any, pd.DataFrame, np.ndarray, Path], list[Path]]
    val_metric: str | None = None  # a metric the training loop reports on the validation split


# ---- classification --------------------------------------------------------------------------


def _softmax(transform, out: np.ndarray) -> np.ndarray:
    e = np.exp(out - out.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _class_frame(transform, proba: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"prediction": transform.decode(proba.argmax(1))})
    for i, c in enumerate(transform.classes):
        frame[f"p_{c}"] = proba[:, i].astype(np.float64)
    return frame


def _class_schema(transform) -> list[tuple[str, str]]:
    label_type = "long" if all(isinstance(c, int) for c in transform.classes) else "string"
    return [(label_type, "prediction")] + [("double", f"p_{c}") for c in transform.classes]


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: list[Any]) -> dict[str, Any]:
    """accuracy, macro-F1, log-loss and per-class precision/recall/F1/support (indices into `classes`)."""
    from sklearn.metrics import f1_score, log_loss, precision_recall_fscore_support

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


def _class_score(transform, test: pd.DataFrame, proba: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import f1_score

    y, pred = transform.targets(test), proba.argmax(1)
    labels = list(range(len(transform.classes)))
    return {"accuracy": float((pred == y).mean()),
            "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0))}


def _class_eval(transform, test: pd.DataFrame, proba: np.ndarray, train: pd.DataFrame):
    m = classification_metrics(transform.targets(test), proba, transform.classes)
    return {k: v for k, v in m.items() if not isinstance(v, dict)}, {"per_class": m["per_class"]}


def _class_plots(transform, test: pd.DataFrame, proba: np.ndarray, plot_dir: Path) -> list[Path]:
    from sklearn.metrics import confusion_matrix

    y_true, y_pred = transform.targets(test), proba.argmax(1)
    matrix = confusion_matrix(y_true, y_pred, labels=list(range(len(transform.classes))))
    return [
        plots.confusion_matrix_png(plot_dir / "confusion_matrix.png", matrix, transform.classes,
                                   f"test accuracy {(y_true == y_pred).mean():.4f} (n={len(test)})"),
        plots.write_csv(plot_dir / "confusion.csv", ["actual", "predicted"],
                        zip(transform.decode(y_true), transform.decode(y_pred), strict=True)),
    ]


CLASSIFICATION = Task(name="classification", split="stratified", postprocess=_softmax, frame=_class_frame,
                      output_schema=_class_schema, score=_class_score, metrics=_class_eval, plots=_class_plots,
                      val_metric="accuracy")


# ---- regression ------------------------------------------------------------------------------


def _inverse(transform, out: np.ndarray) -> np.ndarray:
    return transform.inverse_targets(out.reshape(len(out), -1)[:, 0])


def regression_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """r2, MAE, RMSE in the target's units."""
    resid = y - pred
    return {"r2": float(1 - (resid ** 2).sum() / ((y - y.mean()) ** 2).sum()),
            "mae": float(np.abs(resid).mean()), "rmse": float(np.sqrt((resid ** 2).mean())), "n_test": int(len(y))}


def ols_predict(train: pd.DataFrame, test: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Closed-form least squares with an intercept, fitted on train: the classical baseline."""
    design = lambda df: np.c_[np.ones(len(df)), df[columns].to_numpy(np.float64)]  # noqa: E731
    coef, *_ = np.linalg.lstsq(design(train), train[LABEL].to_numpy(np.float64), rcond=None)
    return design(test) @ coef


def _reg_eval(transform, test: pd.DataFrame, pred: np.ndarray, train: pd.DataFrame):
    y = test[LABEL].to_numpy(np.float64)
    m = regression_metrics(y, pred)
    baseline = regression_metrics(y, ols_predict(train, test, transform.columns))
    return m | {"ols_r2": baseline["r2"]}, {"baseline_ols": baseline}


def _reg_plots(transform, test: pd.DataFrame, pred: np.ndarray, plot_dir: Path) -> list[Path]:
    y = test[LABEL].to_numpy(np.float64)
    return [plots.residuals_png(plot_dir / "residuals.png", y, pred),
            plots.write_csv(plot_dir / "residuals.csv", ["actual", "predicted", "residual"],
                            zip(y, pred, y - pred, strict=True))]


def _reg_score(transform, test: pd.DataFrame, pred: np.ndarray) -> dict[str, float]:
    m = regression_metrics(test[LABEL].to_numpy(np.float64), pred)
    return {k: m[k] for k in ("r2", "mae", "rmse")}


REGRESSION = Task(name="regression", split="random", postprocess=_inverse,
                  frame=lambda t, p: pd.DataFrame({"prediction": p}),
                  output_schema=lambda t: [("double", "prediction")],
                  score=_reg_score, metrics=_reg_eval, plots=_reg_plots)


# ---- text classification: classification + TF-IDF/LR on the same split ----------------------------


def _text_eval(transform, test: pd.DataFrame, proba: np.ndarray, train: pd.DataFrame):
    from sklearn.metrics import f1_score

    headline, details = _class_eval(transform, test, proba, train)
    y_test = transform.targets(test)
    pred = baselines.tfidf_lr_predict(train["text"].tolist(), transform.targets(train), test["text"].tolist())
    labels = list(range(len(transform.classes)))
    base = {"tfidf_lr_accuracy": float((pred == y_test).mean()),
            "tfidf_lr_macro_f1": float(f1_score(y_test, pred, labels=labels, average="macro", zero_division=0))}
    return headline | base, details | {"baseline_tfidf_lr": base}


TEXT_CLASSIFICATION = replace(CLASSIFICATION, name="text_classification", metrics=_text_eval)


# ---- anomaly detection: outputs are (N, 2) [score, flag]; label 0 = normal ------------------------


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


# task name -> Task; tasks added by families register here.
TASKS: dict[str, Task] = {"classification": CLASSIFICATION, "regression": REGRESSION,
                          "text_classification": TEXT_CLASSIFICATION, "anomaly": ANOMALY}
