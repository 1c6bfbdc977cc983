import numpy as np
import pytest

from components.evaluate import classification_metrics


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
