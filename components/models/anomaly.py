"""Anomaly detection: a dense autoencoder on standardised rows; the anomaly score is the row's mean squared
reconstruction error. The decision threshold is picked on the validation split after training
(`finalize`) and saved in the state_dict with the weights.

Labels: class index 0 is normal (label 0), anything else is an anomaly (label 1).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict
from components.models.layers import mlp


class AnomalyConfig(Strict):
    """Autoencoder (encoder `hidden` -> `latent`, mirrored decoder); score = per-row reconstruction MSE."""

    hidden: list[PositiveInt] = Field(default_factory=lambda: [64, 32], min_length=1)
    latent: PositiveInt = 4
    train_on: Literal["normal", "all"] = "normal"  # reconstruction loss over normal rows only, or all rows
    threshold: Literal["f1", "quantile"] = "f1"  # pick on validation: max F1, or a quantile of normal scores
    quantile: float = Field(0.99, gt=0.0, lt=1.0)  # for threshold: quantile


def best_f1_threshold(scores: np.ndarray, is_anomaly: np.ndarray) -> tuple[float, float]:
    """The score threshold (predict anomaly when score > threshold) with the highest F1, and that F1."""
    from sklearn.metrics import precision_recall_curve

    if is_anomaly.sum() == 0:  # nothing to separate: flag nothing seen so far
        return float(scores.max()), 0.0
    prec, rec, thr = precision_recall_curve(is_anomaly, scores)
    f1 = 2 * prec[:-1] * rec[:-1] / np.clip(prec[:-1] + rec[:-1], 1e-12, None)
    i = int(np.argmax(f1))
    # precision_recall_curve predicts positive for score >= thr[i]: step just below it for the strict `>`
    return float(np.nextafter(thr[i], -np.inf)), float(f1[i])


class AutoEncoder(nn.Module):
    """(B, F) standardised rows -> (B, 2): [reconstruction MSE (the score), 1.0 if score > threshold]."""

    def __init__(self, cfg: AnomalyConfig, n_features: int):
        super().__init__()
        self.cfg = cfg
        self.encoder = mlp([n_features, *cfg.hidden, cfg.latent])
        self.decoder = mlp([cfg.latent, *reversed(cfg.hidden), n_features])
        self.register_buffer("threshold", torch.tensor(float("inf")))  # set by finalize

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, F) -> (B,) mean squared reconstruction error."""
        return ((self.decoder(self.encoder(x)) - x) ** 2).mean(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, F); y: (B,) class indices (0 = normal). Loss: mean error over normal rows (or all rows)."""
        err = self.score(x)  # (B,)
        out = torch.stack([err, (err > self.threshold).to(err.dtype)], dim=1)  # (B, 2)
        if y is None:
            return out, None
        weight = (y == 0).to(err.dtype) if self.cfg.train_on == "normal" else torch.ones_like(err)
        return out, (err * weight).sum() / weight.sum().clamp(min=1.0)

    def finalize(self, train, val) -> dict[str, float]:
        """Pick the threshold on the validation split (max F1, or a quantile of its normal rows' scores)."""
        data = val if len(val) else train
        was_training = self.training
        self.eval()
        scores = torch.cat([self.score(data.x[i:i + 4096]) for i in range(0, len(data), 4096)]).cpu().numpy()
        self.train(was_training)
        is_anomaly = data.y.cpu().numpy() != 0
        if self.cfg.threshold == "f1":
            threshold, f1 = best_f1_threshold(scores, is_anomaly)
        else:
            normal = scores[~is_anomaly] if (~is_anomaly).any() else scores
            threshold = float(np.quantile(normal, self.cfg.quantile))
            pred = scores > threshold
            tp = float((pred & is_anomaly).sum())
            f1 = 2 * tp / max(float(pred.sum() + is_anomaly.sum()), 1.0)
        self.threshold.fill_(threshold)
        return {"threshold": threshold, "val_f1": f1}


def build(cfg: AnomalyConfig, input_shape: tuple[int, ...], n_outputs: int) -> AutoEncoder:
    """Build for rows of shape (F,); `n_outputs` (the classes) is unused: the output is [score, flag]."""
    return AutoEncoder(cfg, input_shape[0])
