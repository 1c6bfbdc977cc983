"""Row-wise recurrent image classifier: an image is read top to bottom, one row per time step
(digits: 8 steps x 8 features; 28x28 images: 28 x 28), by an RNN, GRU or LSTM (`train.rnn.cell`);
the last step's top-layer state (both directions when bidirectional) feeds a linear head."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict


class RnnConfig(Strict):
    """Row-wise recurrent classifier: one image row per time step (components/models/rnn.py)."""

    cell: Literal["rnn", "gru", "lstm"] = "gru"
    hidden: PositiveInt = 128
    layers: PositiveInt = 1
    bidirectional: bool = False
    dropout: float = Field(0.0, ge=0.0, lt=1.0)  # on the last state (and between layers when layers > 1)


CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RowRnn(nn.Module):
    """(B, C, H, W) images -> (B, n_classes) logits, reading H steps of C*W features."""

    def __init__(self, cfg: RnnConfig, in_shape: tuple[int, int, int], n_classes: int):
        super().__init__()
        c, _, w = in_shape
        self.rnn = CELLS[cfg.cell](input_size=c * w, hidden_size=cfg.hidden, num_layers=cfg.layers,
                                   batch_first=True, bidirectional=cfg.bidirectional,
                                   dropout=cfg.dropout if cfg.layers > 1 else 0.0)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden * (2 if cfg.bidirectional else 1), n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, dirs*hidden): the top layer's last state, what the head reads."""
        b, c, h, w = x.shape
        seq = x.permute(0, 2, 1, 3).reshape(b, h, c * w)  # (B, H steps, C*W features)
        _, state = self.rnn(seq)
        h_n = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n); h_n: (layers*dirs, B, hidden)
        dirs = 2 if self.rnn.bidirectional else 1
        return h_n[-dirs:].transpose(0, 1).reshape(b, -1)  # top layer, all directions: (B, dirs*hidden)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, C, H, W) float; y: (B,) int64 class indices. Returns logits (B, K) and the loss if y."""
        logits = self.head(self.dropout(self.embed(x)))
        loss = F.cross_entropy(logits, y) if y is not None else None
        return logits, loss


def build(cfg: RnnConfig, input_shape: tuple[int, ...], n_outputs: int) -> RowRnn:
    """Build a RowRnn for image inputs of shape (C, H, W) and `n_outputs` classes."""
    return RowRnn(cfg, tuple(input_shape), n_outputs)
