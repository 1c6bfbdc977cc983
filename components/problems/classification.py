"""Classification (class probabilities) and text classification (plus TF-IDF + LR on the same split)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from components.core.columns import TEXT
from components.problems import baselines, plots
from components.problems.base import Task

# ---- classification --------------------------------------------------------------------------


def _softmax(transform, out: np.ndarray) -> np.ndarray:
    e = np.exp(out - out.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _class_frame(transform, proba: np.ndarray) -> pd.DataFrame:
    columns = {f"p_{c}": proba[:, i].astype(np.float64) for i, c in enumerate(transform.classes)}
    return pd.DataFrame({"prediction": transform.decode(proba.argmax(1))} | columns)  # one build: ~10x faster


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


# ---- text classification: classification + TF-IDF/LR on the same split ----------------------------


def _text_eval(transform, test: pd.DataFrame, proba: np.ndarray, train: pd.DataFrame):
    from sklearn.metrics import f1_score

    headline, details = _class_eval(transform, test, proba, train)
    y_test = transform.targets(test)
    pred = baselines.tfidf_lr_predict(train[TEXT].tolist(), transform.targets(train), test[TEXT].tolist())
    labels = list(range(len(transform.classes)))
    base = {"tfidf_lr_accuracy": float((pred == y_test).mean()),
            "tfidf_lr_macro_f1": float(f1_score(y_test, pred, labels=labels, average="macro", zero_division=0))}
    return headline | base, details | {"baseline_tfidf_lr": base}


TEXT_CLASSIFICATION = replace(CLASSIFICATION, name="text_classification", metrics=_text_eval)
