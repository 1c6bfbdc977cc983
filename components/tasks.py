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


# ---- clustering (predictions: (N, 1 + D) = cluster id, then the embedding) ------------------------


def _ids(pred: np.ndarray) -> np.ndarray:
    return pred[:, 0].astype(np.int64)


def kmeans_baseline(train: pd.DataFrame, test: pd.DataFrame, columns: list[str], k: int,
                    standardize: bool) -> tuple[np.ndarray, np.ndarray]:
    """KMeans(k, n_init=10, random_state=42) fitted on the train split's raw (or per-column standardised)
    features; returns (test cluster ids, the test features it clustered)."""
    from sklearn.cluster import KMeans

    fit, x = train[columns].to_numpy(np.float64), test[columns].to_numpy(np.float64)
    if standardize:
        mean, std = fit.mean(0), fit.std(0)
        std[std == 0] = 1.0
        fit, x = (fit - mean) / std, (x - mean) / std
    return KMeans(k, n_init=10, random_state=42).fit(fit).predict(x), x


def _silhouette(x: np.ndarray, ids: np.ndarray) -> float:
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(x, ids)) if 1 < len(set(ids.tolist())) < len(ids) else float("nan")


def _cluster_score(transform, test: pd.DataFrame, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score

    return {"ari": float(adjusted_rand_score(test[LABEL].to_numpy(), _ids(pred))),
            "silhouette": _silhouette(pred[:, 1:], _ids(pred))}


def _cluster_eval(transform, test: pd.DataFrame, pred: np.ndarray, train: pd.DataFrame):
    """ari/silhouette of the deep variant (silhouette in its embedding), against KMeans on raw pixels
    (`kmeans_*`, silhouette on raw pixels) and on standardised pixels (`kmeans_std_*`), fitted on train."""
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    y, ids, k = test[LABEL].to_numpy(), _ids(pred), len(transform.classes)
    raw = test[transform.columns].to_numpy(np.float64)
    m = _cluster_score(transform, test, pred) | {
        "nmi": float(normalized_mutual_info_score(y, ids)), "silhouette_pixels": _silhouette(raw, ids),
        "n_test": int(len(test))}
    for prefix, std in (("kmeans", False), ("kmeans_std", True)):
        base, x = kmeans_baseline(train, test, transform.columns, k, std)
        m |= {f"{prefix}_ari": float(adjusted_rand_score(y, base)), f"{prefix}_silhouette": _silhouette(x, base)}
    return m, {"cluster_sizes": np.bincount(ids).tolist()}


def _cluster_plots(transform, test: pd.DataFrame, pred: np.ndarray, plot_dir: Path) -> list[Path]:
    from sklearn.decomposition import PCA
    from sklearn.metrics import confusion_matrix

    ids, y = _ids(pred), test[LABEL].to_numpy()
    xy = PCA(2, random_state=0).fit_transform(pred[:, 1:])
    k = max(int(ids.max()) + 1, len(transform.classes))
    table = confusion_matrix(transform.class_indices(test), ids, labels=list(range(k)))[:len(transform.classes)]
    return [plots.clusters_png(plot_dir / "clusters.png", xy, ids, "test embedding (PCA), coloured by cluster"),
            plots.confusion_matrix_png(plot_dir / "cluster_vs_label.png", table, transform.classes,
                                       "rows: label, columns: cluster"),
            plots.write_csv(plot_dir / "clusters.csv", ["pc1", "pc2", "cluster", "label"],
                            zip(xy[:, 0], xy[:, 1], ids, y, strict=True))]


CLUSTERING = Task(name="clustering", split="stratified", postprocess=lambda t, out: np.asarray(out, np.float64),
                  frame=lambda t, p: pd.DataFrame({"cluster": _ids(p)}),
                  output_schema=lambda t: [("long", "cluster")],
                  score=_cluster_score, metrics=_cluster_eval, plots=_cluster_plots)


# ---- forecasting (predictions: (N origins, horizon) in original units) --------------------------------


def _actual(transform, test: pd.DataFrame) -> np.ndarray:
    return transform.inverse_targets(transform.targets(test))


def _forecast_score(transform, test: pd.DataFrame, pred: np.ndarray) -> dict[str, float]:
    from components.series import mase

    actual = _actual(transform, test)
    return {"mase": mase(actual, pred, transform.mase_scale), "mae": float(np.abs(actual - pred).mean())}


def _forecast_eval(transform, test: pd.DataFrame, pred: np.ndarray, train: pd.DataFrame):
    """MASE (scale: the train split's in-sample seasonal naive) of the model's forecast from the end of the
    train split, and of seasonal naive, Holt-Winters (ETS) and seasonal ARIMA fitted on the same history."""
    from components import series

    history = series.regularize(train, transform.freq).to_numpy()
    actual, h, m = _actual(transform, test)[-1], transform.horizon, transform.season
    forecasts = {"model": pred[-1], "snaive": series.seasonal_naive(history, h, m),
                 "ets": series.ets_forecast(history, h, m), "arima": series.arima_forecast(history, h, m)}
    scores = {k: series.mase(actual, f, transform.mase_scale) for k, f in forecasts.items()}
    metrics = _forecast_score(transform, test, pred) | {
        "rmse": float(np.sqrt(((actual - pred[-1]) ** 2).mean())), "horizon": h, "n_origins": int(len(pred)),
        "snaive_mase": scores["snaive"], "ets_mase": scores["ets"], "arima_mase": scores["arima"]}
    return metrics, {"forecasts": {k: np.asarray(f).tolist() for k, f in forecasts.items()},
                     "actual": actual.tolist(), "mase_scale": transform.mase_scale}


def _forecast_plots(transform, test: pd.DataFrame, pred: np.ndarray, plot_dir: Path) -> list[Path]:
    from components.series import regularize

    y = regularize(test, transform.freq)
    when = y.index[-transform.horizon:]
    return [plots.forecast_png(plot_dir / "forecast.png", y, when, pred[-1],
                               f"{transform.horizon}-step forecast ({transform.freq})"),
            plots.write_csv(plot_dir / "forecast.csv", ["timestamp", "actual", "forecast"],
                            zip(when.strftime("%Y-%m-%d"), y.iloc[-transform.horizon:], pred[-1], strict=True))]


FORECASTING = Task(name="forecasting", split="chronological", postprocess=lambda t, out: t.inverse_targets(out),
                   frame=lambda t, p: pd.DataFrame({"step": np.tile(np.arange(1, p.shape[1] + 1), len(p)),
                                                    "forecast": p.reshape(-1)}),
                   output_schema=lambda t: [("long", "step"), ("double", "forecast")],
                   score=_forecast_score, metrics=_forecast_eval, plots=_forecast_plots)


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
TASKS: dict[str, Task] = {"classification": CLASSIFICATION, "regression": REGRESSION, "clustering": CLUSTERING,
                          "forecasting": FORECASTING, "text_classification": TEXT_CLASSIFICATION, "anomaly": ANOMALY}
