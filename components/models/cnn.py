"""CNN image classifier: conv blocks (conv -> [batch-norm] -> ReLU, max-pool every `pool_every` blocks),
then a small MLP head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict


class CnnConfig(Strict):
    """Conv blocks (conv-ReLU per entry of `channels`, max-pool every `pool_every` blocks) + MLP head."""

    channels: list[PositiveInt] = Field(default_factory=lambda: [32, 64], min_length=1)
    kernel_size: PositiveInt = 3
    pool_every: PositiveInt = 1
    hidden: int = Field(128, ge=0)  # 0: no hidden layer in the head
    dropout: float = Field(0.25, ge=0.0, lt=1.0)
    batch_norm: bool = True


class ConvNet(nn.Module):
    """(B, C, H, W) images -> (B, n_classes) logits."""

    def __init__(self, cfg: CnnConfig, in_shape: tuple[int, int, int], n_classes: int):
        super().__init__()
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for i, out in enumerate(cfg.channels):
            layers += [nn.Conv2d(c, out, cfg.kernel_size, padding=cfg.kernel_size // 2)]
            layers += [nn.BatchNorm2d(out)] if cfg.batch_norm else []
            layers += [nn.ReLU()]
            if (i + 1) % cfg.pool_every == 0 and min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = out
        self.features = nn.Sequential(*layers)
        flat = c * h * w
        head: list[nn.Module] = [nn.Flatten(), nn.Dropout(cfg.dropout)]
        if cfg.hidden:
            head += [nn.Linear(flat, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout)]
            flat = cfg.hidden
        head.append(nn.Linear(flat, n_classes))
        self.head = nn.Sequential(*head)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> (B, D): what the last linear layer reads (the penultimate layer); drift monitoring
        compares these between the reference and the scored rows."""
        return self.head[:-1](self.features(x))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, C, H, W) float; y: (B,) int64 class indices. Returns logits (B, K) and the loss if y."""
        logits = self.head(self.features(x))  # (B, C', H', W') -> (B, K)
        loss = F.cross_entropy(logits, y) if y is not None else None
        return logits, loss


def build(cfg: CnnConfig, input_shape: tuple[int, ...], n_outputs: int) -> ConvNet:
    """Build a ConvNet for inputs of shape (C, H, W) and `n_outputs` classes."""
    return ConvNet(cfg, tuple(input_shape), n_outputs)
