"""Linear regression: one affine layer on standardised inputs, trained with MSE."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from components.core.strict import Strict


class LinearConfig(Strict):
    """Linear regression: one affine layer on standardised inputs (no architecture choices)."""


class LinearRegressor(nn.Module):
    """(B, F) features -> (B,) predictions (standardised target units)."""

    def __init__(self, n_features: int, n_outputs: int = 1):
        super().__init__()
        self.linear = nn.Linear(n_features, n_outputs)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, F); y: (B,) float. Returns predictions (B,) and the MSE loss if y."""
        out = self.linear(x).squeeze(-1)  # (B, 1) -> (B,)
        return out, (F.mse_loss(out, y) if y is not None else None)


def build(cfg: LinearConfig, input_shape: tuple[int, ...], n_outputs: int) -> LinearRegressor:
    """Build for inputs of shape (F,)."""
    return LinearRegressor(input_shape[0], n_outputs)
