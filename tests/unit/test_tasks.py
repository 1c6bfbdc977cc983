import numpy as np
import pandas as pd
import pytest

from components.problems.baselines import ols_predict
from components.problems.classification import classification_metrics
from components.problems.regression import regression_metrics


def test_metrics_by_hand():
    # 4 samples, 3 classes; predictions: 0 ok, 1 ok, 2 -> 1 (wrong), 2 ok
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.6, 0.3], [0.0, 0.2, 0.8]])
    m = classification_metrics(y, proba, ["a", "b", "c"])
    assert m["accuracy"] == 0.75
    # class f1: a=1, b=2/3 (p=.5, r=1), c=2/3 (p=1, r=.5)
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert m["per_class"]["b"] == {"precision": 0.5, "recall": 1.0, "f1": pytest.approx(2 / 3), "support": 1}
    assert m["loss"] == pytest.approx(-np.mean(np.log([0.8, 0.8, 0.3, 0.8])))


def test_absent_class_scores_zero_not_error():
    m = classification_metrics(np.array([0, 0]), np.array([[0.9, 0.1], [0.8, 0.2]]), [0, 1])
    assert m["accuracy"] == 1.0 and m["per_class"]["1"]["support"] == 0


def test_run_splits_headline_metrics_from_detail(tmp_path, small_digits, mlflow_store, monkeypatch):
    from components.core.io import read_json
    from components.stages import evaluate, features, ingest, train, validate
    from tests.helpers import params_with

    monkeypatch.chdir(tmp_path)
    small_digits.to_parquet("d.parquet", index=False)
    p = params_with({"ingest.source": "d.parquet", "validate.min_rows": 50, "train.epochs": 2, "train.progress": False,
                     "train.cnn.channels": [4], "train.cnn.hidden": 0})
    ingest.run(p.ingest)
    validate.run(p.validation)
    features.run(p.features)
    train.run(p)
    result = evaluate.run(p.evaluate, train=p.train)
    metrics, detail = read_json(tmp_path / "reports/metrics.json"), read_json(tmp_path / "reports/details.json")
    trust = {k for k in metrics if k.startswith(("robust_", "mia_"))}  # evaluate.robustness / membership test
    assert set(metrics) - trust == {"accuracy", "macro_f1", "loss", "n_test"}
    assert {"robust_accuracy_noise", "mia_auc"} <= trust
    assert set(detail["per_class"]) == {str(i) for i in range(10)}
    assert result.metrics["accuracy"] == metrics["accuracy"]
    assert {p.name for p in result.plots} == {"confusion_matrix.png", "loss.png", "confusion.csv", "loss.csv"}


def test_regression_metrics_by_hand():
    m = regression_metrics(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 4.0]))
    assert m["r2"] == pytest.approx(0.5) and m["mae"] == pytest.approx(1 / 3)
    assert m["rmse"] == pytest.approx(np.sqrt(1 / 3))


def test_ols_baseline_recovers_a_linear_law():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a": rng.normal(size=50), "b": rng.normal(size=50)})
    df["label"] = 3 * df["a"] - 2 * df["b"] + 5
    assert np.allclose(ols_predict(df.iloc[:40], df.iloc[40:], ["a", "b"]), df["label"].iloc[40:])


def test_score_agrees_with_metrics_for_every_task():
    from components.data.transforms.image import ImageTransform
    from components.data.transforms.tabular import TabularTransform
    from components.problems.registry import TASKS

    rng = np.random.default_rng(0)
    img = pd.DataFrame({"px_0": rng.random(30), "label": np.arange(30) % 3})
    t_img = ImageTransform(columns=["px_0"], height=1, width=1, mean=0.0, std=1.0, classes=[0, 1, 2])
    proba = rng.dirichlet(np.ones(3), size=30)
    tab = pd.DataFrame({"a": rng.random(30), "label": rng.random(30)})
    t_tab = TabularTransform(columns=["a"], mean=[0.0], std=[1.0], target_mean=0.0, target_std=1.0)
    for task, t, df, pred in [(TASKS["classification"], t_img, img, proba),
                              (TASKS["regression"], t_tab, tab, rng.random(30))]:
        headline, _ = task.metrics(t, df, pred, df)
        for k, v in task.score(t, df, pred).items():
            assert headline[k] == pytest.approx(v), (task.name, k)
