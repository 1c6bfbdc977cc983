"""Clustering: predictions are (N, 1 + D) = cluster id, then the embedding; KMeans as the baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from components.core.columns import LABEL
from components.problems import baselines, plots
from components.problems.base import Task


def _ids(pred: np.ndarray) -> np.ndarray:
    return pred[:, 0].astype(np.int64)


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
        base, x = baselines.kmeans_baseline(train, test, transform.columns, k, std)
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
