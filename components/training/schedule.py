"""Per-batch learning-rate schedules (`train.schedule`) and the channels-last memory order for image batches:
two optional speed/accuracy aids the shared loop (components/training/loop.py) applies when params ask."""

from __future__ import annotations

import torch

from components.config.sections import TrainConfig


def make_schedule(opt: torch.optim.Optimizer, cfg: TrainConfig,
                  steps: int) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The per-batch learning-rate schedule of `cfg.schedule` over `steps` optimizer steps (None: constant lr).
    onecycle: warm up to `cfg.lr` over the first `cfg.warmup` share of the steps, then anneal (Smith 2018);
    cosine: from `cfg.lr` down to 0."""
    total = max(1, steps)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total, pct_start=cfg.warmup)
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    return None


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """4-D (image) tensors in NHWC memory order (same values, faster conv + pool on CPU); others unchanged."""
    return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x
