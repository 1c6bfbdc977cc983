"""Video classifiers: x (B, T, C, H, W) float -> (B, K) logits.

* `CnnGru` (the family's model): a per-frame CNN (shared weights) -> per-frame feature vectors (B, T, F) ->
  GRU -> the last hidden state -> linear. The CNN keeps the spatial layout (flatten, no global pooling), so a
  frame's feature says where things are; the GRU turns positions over time into motion and order.
* `FrameAverage` (the family's baseline, `build_baseline`): the same CNN and a linear head on every frame
  alone, logits averaged over the T frames: a bag of frames, no time.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict


class VideoConfig(Strict):
    """`train.video`: per-frame CNN (conv-[BN]-ReLU-maxpool per entry of `channels`), frame features, GRU."""

    channels: list[PositiveInt] = Field(default_factory=lambda: [8, 16, 32], min_length=1)
    kernel_size: PositiveInt = 3
    batch_norm: bool = True
    frame_dim: PositiveInt = 64  # per-frame feature size
    gru_hidden: PositiveInt = 64
    gru_layers: PositiveInt = 1
    dropout: float = Field(0.1, ge=0.0, lt=1.0)


class FrameEncoder(nn.Module):
    """(N, C, H, W) -> (N, frame_dim): conv blocks, flatten (keeps where), linear, ReLU."""

    def __init__(self, cfg: VideoConfig, in_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = in_shape
        layers: list[nn.Module] = []
        for out in cfg.channels:
            layers.append(nn.Conv2d(c, out, cfg.kernel_size, padding=cfg.kernel_size // 2))
            layers += [nn.BatchNorm2d(out)] if cfg.batch_norm else []
            layers.append(nn.ReLU())
            if min(h, w) >= 2:
                layers.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = out
        self.conv = nn.Sequential(*layers)
        self.proj = nn.Sequential(nn.Flatten(), nn.Dropout(cfg.dropout), nn.Linear(c * h * w, cfg.frame_dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.conv(x))


class CnnGru(nn.Module):
    """(B, T, C, H, W) -> (B, K) logits: per-frame CNN, GRU over time, last hidden state -> linear."""

    def __init__(self, cfg: VideoConfig, in_shape: tuple[int, int, int, int], n_classes: int):
        super().__init__()
        self.encoder = FrameEncoder(cfg, in_shape[1:])
        self.gru = nn.GRU(cfg.frame_dim, cfg.gru_hidden, num_layers=cfg.gru_layers, batch_first=True,
                          dropout=cfg.dropout if cfg.gru_layers > 1 else 0.0)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.gru_hidden, n_classes))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, t = x.shape[:2]
        _, h_n = self.gru(self.encoder(x.flatten(0, 1)).view(b, t, -1))  # (B*T, C, H, W) -> (B, T, F) -> GRU
        logits = self.head(h_n[-1])
        return logits, (F.cross_entropy(logits, y) if y is not None else None)


class FrameAverage(nn.Module):
    """The baseline: (B, T, C, H, W) -> (B, K), the same CNN + a linear head per frame, logits averaged over T."""

    def __init__(self, cfg: VideoConfig, in_shape: tuple[int, int, int, int], n_classes: int):
        super().__init__()
        self.encoder = FrameEncoder(cfg, in_shape[1:])
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(cfg.frame_dim, n_classes))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, t = x.shape[:2]
        logits = self.head(self.encoder(x.flatten(0, 1))).view(b, t, -1).mean(dim=1)
        return logits, (F.cross_entropy(logits, y) if y is not None else None)


def _shape(input_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    if len(input_shape) != 4:
        raise ValueError(f"video input_shape must be (T, C, H, W), got {tuple(input_shape)}")
    return tuple(input_shape)  # type: ignore[return-value]


def build(cfg: VideoConfig, input_shape: tuple[int, ...], n_outputs: int) -> CnnGru:
    """The CNN+GRU for clips of shape (T, C, H, W) and `n_outputs` classes."""
    return CnnGru(cfg, _shape(input_shape), n_outputs)


def build_baseline(cfg: VideoConfig, input_shape: tuple[int, ...], n_outputs: int) -> FrameAverage:
    """The frame-average baseline with the same CNN."""
    return FrameAverage(cfg, _shape(input_shape), n_outputs)
