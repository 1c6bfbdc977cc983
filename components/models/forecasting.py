"""Forecasting: a GRU or LSTM reads the input window and a linear head emits all `horizon` steps at once
(direct multi-step), as changes relative to the window's last value, so a trend can leave the train range."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict


class ForecastConfig(Strict):
    """GRU/LSTM over the input window -> `horizon` values at once (relative to the window's last value)."""

    cell: Literal["gru", "lstm"] = "gru"
    hidden: PositiveInt = 64
    layers: PositiveInt = 1
    dropout: float = Field(0.0, ge=0.0, lt=1.0)  # between stacked layers


class Forecaster(nn.Module):
    """(B, L) scaled history -> (B, H) scaled forecast."""

    def __init__(self, cfg: ForecastConfig, input_len: int, horizon: int):
        super().__init__()
        rnn = nn.GRU if cfg.cell == "gru" else nn.LSTM
        self.rnn = rnn(1, cfg.hidden, cfg.layers, batch_first=True, dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.head = nn.Linear(cfg.hidden, horizon)
        self.input_len = input_len

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, L); y: (B, H). Returns the forecast (B, H) and the MSE if y."""
        last = x[:, -1:]  # (B, 1)
        seq, _ = self.rnn((x - last).unsqueeze(-1))  # (B, L, 1) -> (B, L, hidden)
        out = last + self.head(seq[:, -1])  # (B, H)
        return out, (F.mse_loss(out, y) if y is not None else None)


def build(cfg: ForecastConfig, input_shape: tuple[int, ...], n_outputs: int) -> Forecaster:
    """Build for windows of shape (L,) and `n_outputs` = horizon steps."""
    return Forecaster(cfg, input_shape[0], n_outputs)
