"""The `mlp` family's declaration: what Keel needs to run it, and the data set it brings (`sklearn:wine`)."""

from __future__ import annotations

import pandas as pd

from components.families.family import Family
from keel_wine.model import MlpConfig, build

COLUMNS = ["alcohol", "malic_acid", "ash", "alcalinity_of_ash", "magnesium", "total_phenols", "flavanoids",
           "nonflavanoid_phenols", "proanthocyanins", "color_intensity", "hue", "od280_od315", "proline"]


def read_wine() -> pd.DataFrame:
    """scikit-learn's bundled wine data (178 wines, 3 cultivars), raw units: 13 named columns + `label`."""
    from sklearn.datasets import load_wine

    d = load_wine()
    frame = pd.DataFrame(d.data, columns=COLUMNS).astype("float64")
    frame["label"] = d.target.astype("int64")
    return frame


FAMILY = Family(
    name="mlp",
    kind="tabular",  # named numeric columns: Keel's tabular transform, suite and pyfunc schema
    task="classification",  # stratified split, accuracy / macro-F1, confusion matrix, McNemar in the gate
    config=MlpConfig,
    build=build,
    defaults={
        "ingest": {"source": "sklearn:wine"},
        "validate": {"columns": COLUMNS, "labels": [0, 1, 2],
                     "ranges": {"alcohol": [8, 18], "magnesium": [50, 200], "hue": [0.2, 2.5], "proline": [100, 2000]}},
        "train": {"lr": 0.01, "batch_size": 32, "epochs": 100, "patience": 15},
        "register": {"min": {"accuracy": 0.9}},
    },
    sources={"sklearn:wine": read_wine},
)
