"""A small MLP classifier for named numeric columns: the model file of the `mlp` family (config + module)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict


class MlpConfig(Strict):
    """`train.mlp`: hidden layer widths and dropout."""

    hidden: list[PositiveInt] = Field(default_factory=lambda: [32], min_length=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)


class Mlp(nn.Module):
    """(B, F) standardised features -> (B, K) class logits."""

    def __init__(self, cfg: MlpConfig, n_features: int, n_classes: int):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in cfg.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(cfg.dropout)]
            width = h
        self.net = nn.Sequential(*layers, nn.Linear(width, n_classes))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, F) float; y: (B,) int64 class indices. Returns logits (B, K) and the loss if y."""
        logits = self.net(x)
        return logits, (F.cross_entropy(logits, y) if y is not None else None)


def build(cfg: MlpConfig, input_shape: tuple[int, ...], n_outputs: int) -> Mlp:
    """Keel calls this with the transform's input shape (F,) and number of classes."""
    return Mlp(cfg, input_shape[0], n_outputs)
