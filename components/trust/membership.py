"""Membership inference: does the model treat its training rows differently from rows it never saw?

A loss-threshold attack (Yeom et al., 2018): the attacker guesses "member" when a row's loss is low. Its
ROC-AUC over training rows (members) vs held-out test rows (non-members, as many of each, seeded) is 0.5
when the model leaks nothing through its losses; the advantage max(TPR - FPR) is what (eps, delta)-DP
bounds by (e^eps - 1 + 2 delta) / (e^eps + 1). Computed for private and non-private models alike, so the
privacy gain is measured, not assumed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from components.inference.checkpoint import Checkpoint
from components.inference.predict import predict, task_of


def per_row_loss(ckpt: Checkpoint, df: pd.DataFrame, batch_size: int = 1024) -> np.ndarray | None:
    """Each row's loss: cross-entropy of the true class for classifiers, squared error for regression;
    None for tasks without a per-row supervised loss (clustering, anomaly, forecasting windows)."""
    task = task_of(ckpt).name
    if task not in ("classification", "text_classification", "regression"):
        return None
    pred = predict(ckpt, df, batch_size)
    if task == "regression":
        y = ckpt.transform.inverse_targets(ckpt.transform.targets(df))
        return (np.asarray(pred, dtype=np.float64).reshape(-1) - y) ** 2
    y = ckpt.transform.targets(df)
    return -np.log(np.clip(pred[np.arange(len(y)), y].astype(np.float64), 1e-12, None))


def loss_threshold_attack(member_loss: np.ndarray, non_member_loss: np.ndarray) -> dict[str, float]:
    """AUC and best advantage of scoring membership by -loss."""
    from sklearn.metrics import roc_auc_score, roc_curve

    labels = np.r_[np.ones(len(member_loss)), np.zeros(len(non_member_loss))]
    scores = -np.r_[member_loss, non_member_loss]
    fpr, tpr, _ = roc_curve(labels, scores)
    return {"auc": float(roc_auc_score(labels, scores)), "advantage": float(np.max(tpr - fpr)),
            "members": int(len(member_loss)), "non_members": int(len(non_member_loss)),
            "mean_loss_members": float(member_loss.mean()), "mean_loss_non_members": float(non_member_loss.mean())}


def membership_inference(ckpt: Checkpoint, train: pd.DataFrame, test: pd.DataFrame, seed: int = 0,
                         batch_size: int = 1024) -> dict[str, Any] | None:
    """The attack on `min(len(train), len(test))` seeded training rows vs as many test rows; None where the
    task has no per-row loss or a split is empty."""
    n = min(len(train), len(test))
    if n == 0 or task_of(ckpt).name not in ("classification", "text_classification", "regression"):
        return None
    rng = np.random.default_rng(seed)
    members = train.iloc[np.sort(rng.choice(len(train), size=n, replace=False))]
    outsiders = test.iloc[np.sort(rng.choice(len(test), size=n, replace=False))]
    return loss_threshold_attack(per_row_loss(ckpt, members, batch_size), per_row_loss(ckpt, outsiders, batch_size))


def dp_advantage_bound(epsilon: float, delta: float) -> float:
    """The largest membership advantage (TPR - FPR) any attack can have against an (eps, delta)-DP model."""
    e = math.exp(min(epsilon, 700.0))
    return float(min(1.0, (e - 1 + 2 * delta) / (e + 1)))
