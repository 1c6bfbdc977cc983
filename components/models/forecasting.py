"""Forecasting: the hybrid quantile forecaster. The transform gives each sample as the last `input_len`
values plus a classical backbone's `horizon`-step path from the same origin (ETS or AR, fitted on the train
split only; components/data/classical.py). A small network corrects that path and gives the 0.1 / 0.5 / 0.9
quantiles of every step at once (direct multi-horizon), trained with the pinball loss:

  median = path + Linear(x) + MLP(x)    both corrections start at zero: an untrained net returns the path
  q0.1 = median - softplus(.), q0.9 = median + softplus(.)    always ordered; the half-widths read the inputs
                                                              or, with `spread: horizon`, are one per step

Inputs are centred on the mean of the window's last season inside the network (the forecast is shifted back),
so the outputs stay in the transform's units. `members` such networks are trained side by side (the loss is
their mean; Adam's per-parameter steps keep them independent) and averaged quantile by quantile; an optional
L2 penalty (`correction_l2`, on the correction's weights and biases) shrinks the median toward the backbone. Outside
training the 80 % interval is widened around the median by `interval_scale` (chosen on dev origins).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.columns import QUANTILES
from components.core.strict import PositiveInt, Strict


class ForecastConfig(Strict):
    """A `members`-strong ensemble of path corrections; hidden 0 leaves the linear correction only."""

    hidden: int = Field(64, ge=0)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    members: PositiveInt = 5
    interval_scale: float = Field(1.0, gt=0.0)  # widening of [q0.1, q0.9] around the median at prediction time
    # shrinkage of the median's correction toward the backbone: this x the squared correction weights and biases
    # joins the loss (strong: the median stays on the backbone's path; the interval is still learned)
    correction_l2: float = Field(0.0, ge=0.0)
    # what the interval's half-widths read: "inputs" (the window, the path and the MLP's features) or "horizon"
    # (one learned width per step and side, the same at every origin: a learned quantile of the errors; in a
    # transformed space, e.g. sqrt, it still widens with the level once mapped back)
    spread: Literal["inputs", "horizon"] = "inputs"


def pinball_loss(q: torch.Tensor, y: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    """q: (B, Q, H), y: (B, H), tau: (Q,). Mean over batch, quantiles and steps."""
    d = y.unsqueeze(1) - q
    t = tau.view(1, -1, 1)
    return torch.maximum(t * d, (t - 1) * d).mean()


class PathCorrection(nn.Module):
    """(B, L + H) centred window and path -> (B, 3, H) centred quantiles."""

    def __init__(self, cfg: ForecastConfig, input_len: int, horizon: int):
        super().__init__()
        d = input_len + horizon
        self.input_len = input_len
        self.linear = nn.Linear(d, horizon)
        self.mlp = (nn.Sequential(nn.Linear(d, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout),
                                  nn.Linear(cfg.hidden, cfg.hidden), nn.GELU(), nn.Dropout(cfg.dropout))
                    if cfg.hidden else None)
        self.median_head = nn.Linear(cfg.hidden, horizon) if cfg.hidden else None
        self.spread_from_inputs = cfg.spread == "inputs"  # else its input is a constant 0: the bias alone counts
        self.spread_head = nn.Linear(cfg.hidden + d if self.spread_from_inputs else 1, 2 * horizon)
        for layer in (self.linear, self.median_head, self.spread_head):
            if layer is not None:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        nn.init.constant_(self.spread_head.bias, 0.5)

    def correction_norm(self) -> torch.Tensor:
        """Sum of the squared weights and biases that move the median away from the path."""
        heads = [self.linear] + ([self.median_head] if self.median_head is not None else [])
        return sum(h.weight.pow(2).sum() + h.bias.pow(2).sum() for h in heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        median = x[:, self.input_len:] + self.linear(x)  # (B, H)
        feats = x
        if self.mlp is not None:
            hid = self.mlp(x)  # (B, hidden)
            median = median + self.median_head(hid)
            feats = torch.cat([hid, x], 1)
        if not self.spread_from_inputs:
            feats = torch.zeros_like(x[:, :1])
        lo, hi = F.softplus(self.spread_head(feats)).chunk(2, dim=1)  # (B, H) each
        return torch.stack([median - lo, median, median + hi], 1)


class HybridForecaster(nn.Module):
    """(B, L + H) window + backbone path -> (B, 3, H) quantiles 0.1 / 0.5 / 0.9 (transform units)."""

    def __init__(self, cfg: ForecastConfig, input_len: int, horizon: int, season: int):
        super().__init__()
        self.cfg, self.input_len, self.season = cfg, input_len, season
        self.members = nn.ModuleList(PathCorrection(cfg, input_len, horizon) for _ in range(cfg.members))
        self.register_buffer("tau", torch.tensor(QUANTILES))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, L + H); y: (B, H). Returns quantiles (B, 3, H) and, if y, the members' mean pinball loss."""
        ref = x[:, self.input_len - self.season:self.input_len].mean(1, keepdim=True)  # (B, 1)
        qs = [m(x - ref) + ref.unsqueeze(1) for m in self.members]  # each (B, 3, H)
        q = torch.stack(qs).mean(0)
        if y is not None:
            loss = torch.stack([pinball_loss(qm, y, self.tau) for qm in qs]).mean()
            if self.cfg.correction_l2 > 0:
                loss = loss + self.cfg.correction_l2 * torch.stack([m.correction_norm() for m in self.members]).mean()
            return q, loss
        c = self.cfg.interval_scale
        med = q[:, 1:2]
        return torch.cat([med - c * (med - q[:, :1]), med, med + c * (q[:, 2:] - med)], 1), None


def build(cfg: ForecastConfig, input_shape: tuple[int, ...], n_outputs: int, input_len: int,
          season: int) -> HybridForecaster:
    """Build for samples of shape (input_len + horizon,) and `n_outputs` = horizon steps."""
    return HybridForecaster(cfg, input_len, n_outputs, season)
