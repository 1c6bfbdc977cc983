"""A one-stage, anchor-free object detector (CenterNet-style) in plain PyTorch, trained from scratch.

Backbone: conv-BN-ReLU blocks down to stride 8, fused back to an output stride of 4 (the stride-8 map is
upsampled and concatenated with the stride-4 map). Head, per output cell: K class heatmap logits (a peak at
each object's centre, Gaussian around it; penalty-reduced focal loss), 2 sub-cell centre offsets and 2 box
sizes as log(pixels / stride) (L1 at the centre cell, plus 1 - GIoU of the decoded box).

Targets (what the shared loop batches): y (B, M, 5) float = [x1, y1, x2, y2, class index] in input pixels,
padding rows with class -1. `forward(x, y)` returns (raw maps (B, K+4, H/4, W/4), loss); `forward(x)` returns
(candidates (B, topk, 6), None): [x1, y1, x2, y2, score, class] from 3x3 max-pool peak picking, the highest
`topk` first. NMS and score thresholds are the detection task's (components/problems/detection.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from components.core.strict import PositiveInt, Strict

STRIDE = 4  # output stride of the head: two stride-2 convs before it


class DetectionConfig(Strict):
    """`train.detection`: widths at stride 2, 4, 8, extra blocks, head width and loss weights."""

    channels: list[PositiveInt] = Field(default_factory=lambda: [16, 32, 64], min_length=3, max_length=3)
    blocks: int = Field(1, ge=0)  # extra 3x3 conv blocks at stride 4 and at stride 8
    head_channels: PositiveInt = 32
    gaussian_alpha: float = Field(0.54, gt=0)  # heatmap sigma = alpha * box side / 6 (TTFNet)
    focal_alpha: float = Field(2.0, ge=0)
    focal_beta: float = Field(4.0, ge=0)
    offset_weight: float = Field(1.0, ge=0)
    size_weight: float = Field(1.0, ge=0)
    giou_weight: float = Field(1.0, ge=0)  # + weight * (1 - GIoU) of the decoded box at each centre
    prior: float = Field(0.01, gt=0, lt=1)  # initial heatmap probability (bias init)
    topk: PositiveInt = 100  # candidates per image


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class CenterDetector(nn.Module):
    """(B, C, H, W) normalised images, H and W multiples of 8 -> candidates, or the loss given targets."""

    def __init__(self, cfg: DetectionConfig, in_channels: int, n_classes: int):
        super().__init__()
        self.cfg, self.k = cfg, n_classes
        c1, c2, c3 = cfg.channels
        self.stem = nn.Sequential(_block(in_channels, c1), _block(c1, c1, 2))  # stride 2
        self.s4 = nn.Sequential(_block(c1, c2, 2), *[_block(c2, c2) for _ in range(cfg.blocks)])
        self.s8 = nn.Sequential(_block(c2, c3, 2), *[_block(c3, c3) for _ in range(cfg.blocks)])
        h = cfg.head_channels
        self.fuse = _block(c2 + c3, h)
        self.heat = nn.Sequential(_block(h, h), nn.Conv2d(h, n_classes, 1))
        self.reg = nn.Sequential(_block(h, h), nn.Conv2d(h, 4, 1))
        nn.init.constant_(self.heat[-1].bias, -math.log((1 - cfg.prior) / cfg.prior))
        nn.init.zeros_(self.reg[-1].bias)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """x: (B, C, H, W); y: (B, M, 5) targets. Returns (raw maps, loss) with y, (candidates, None) without."""
        raw = self.network(x)
        if y is None:
            return self.postprocess(raw), None
        return raw, self.loss(raw.float(), y.float())

    def network(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C, H, W) -> the raw maps (B, K+4, H/4, W/4): heatmap logits, then offset and log-size."""
        f4 = self.s4(self.stem(x))
        f8 = self.s8(f4)
        f = self.fuse(torch.cat([f4, F.interpolate(f8, size=f4.shape[-2:], mode="nearest")], 1))
        return torch.cat([self.heat(f), self.reg(f)], 1)

    def postprocess(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw maps -> candidates (peak picking, top-k). An ONNX export holds `network` only and runs this after it
        in PyTorch (components/inference/onnxrt.py): ONNX Runtime's top-k orders tied scores differently."""
        return candidates(raw, self.k, self.cfg.topk)

    def loss(self, raw: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Focal loss on Gaussian heatmaps + centre-cell offset/size L1 (+ GIoU), normalised by the object count."""
        k, (_, _, h, w) = self.k, raw.shape
        boxes, labels = y[..., :4], y[..., 4].round().long()
        valid = labels >= 0
        cx, cy = (boxes[..., 0] + boxes[..., 2]) / (2 * STRIDE), (boxes[..., 1] + boxes[..., 3]) / (2 * STRIDE)
        bw = (boxes[..., 2] - boxes[..., 0]).clamp(min=1.0) / STRIDE
        bh = (boxes[..., 3] - boxes[..., 1]).clamp(min=1.0) / STRIDE
        ix, iy = cx.floor().clamp(0, w - 1), cy.floor().clamp(0, h - 1)
        sx = (self.cfg.gaussian_alpha * bw / 6).clamp(min=0.35)
        sy = (self.cfg.gaussian_alpha * bh / 6).clamp(min=0.35)
        gx, gy = torch.arange(w, device=raw.device), torch.arange(h, device=raw.device)
        ex = torch.exp(-((gx[None, None, :] - ix[..., None]) ** 2) / (2 * sx[..., None] ** 2))  # (B, M, w)
        ey = torch.exp(-((gy[None, None, :] - iy[..., None]) ** 2) / (2 * sy[..., None] ** 2))  # (B, M, h)
        g = ey[..., :, None] * ex[..., None, :] * valid[..., None, None]  # (B, M, h, w), 1 at each centre
        onehot = F.one_hot(labels.clamp(min=0), k).to(g.dtype) * valid[..., None]  # (B, M, K)
        heat = (g[:, :, None] * onehot[..., None, None]).amax(1)  # (B, K, h, w)
        p = torch.sigmoid(raw[:, :k]).clamp(1e-4, 1 - 1e-4)
        pos = heat >= 1.0 - 1e-6
        a, b = self.cfg.focal_alpha, self.cfg.focal_beta
        n = valid.sum().clamp(min=1)
        heat_loss = (-(torch.log(p) * (1 - p) ** a)[pos].sum()
                     - (torch.log(1 - p) * p ** a * (1 - heat) ** b)[~pos].sum()) / n
        index = (iy * w + ix).long().clamp(0, h * w - 1)  # (B, M) centre cells
        pr = raw[:, k:].flatten(2).gather(2, index[:, None, :].expand(-1, 4, -1)).transpose(1, 2)[valid]  # (N, 4)
        offset_t = torch.stack([cx - ix, cy - iy], -1)[valid]
        size_t = torch.stack([bw.log(), bh.log()], -1)[valid]
        loss = heat_loss + (self.cfg.offset_weight * F.l1_loss(pr[:, :2], offset_t, reduction="sum")
                            + self.cfg.size_weight * F.l1_loss(pr[:, 2:], size_t, reduction="sum")) / (2 * n)
        if self.cfg.giou_weight:
            centre = torch.stack([ix, iy], -1)[valid] + pr[:, :2]
            half = pr[:, 2:].clamp(max=10).exp() / 2
            loss = loss + self.cfg.giou_weight * (1 - giou(torch.cat([centre - half, centre + half], 1),
                                                           boxes[valid] / STRIDE)).sum() / n
        return loss


def giou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Generalised IoU of paired xyxy boxes (N, 4), (N, 4) -> (N,)."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    inter = (torch.minimum(a[:, 2:], b[:, 2:]) - torch.maximum(a[:, :2], b[:, :2])).clamp(min=0).prod(1)
    union = area_a + area_b - inter
    hull = (torch.maximum(a[:, 2:], b[:, 2:]) - torch.minimum(a[:, :2], b[:, :2])).clamp(min=0).prod(1)
    return inter / union.clamp(min=1e-6) - (hull - union) / hull.clamp(min=1e-6)


@torch.no_grad()
def candidates(raw: torch.Tensor, k: int, topk: int) -> torch.Tensor:
    """raw (B, K+4, h, w) -> (B, topk, 6) [x1, y1, x2, y2, score, class] in input pixels, clipped to the image,
    from the heatmap's local maxima (3x3), highest score first."""
    b, _, h, w = raw.shape
    heat = torch.sigmoid(raw[:, :k].float())
    peaks = heat * (F.max_pool2d(heat, 3, 1, 1) == heat)
    scores, inds = peaks.flatten(1).topk(min(topk, k * h * w))  # (B, T)
    cls, pix = inds // (h * w), inds % (h * w)
    reg = raw[:, k:].float().flatten(2).gather(2, pix[:, None, :].expand(-1, 4, -1))  # (B, 4, T)
    cx, cy = ((pix % w).float() + reg[:, 0]) * STRIDE, ((pix // w).float() + reg[:, 1]) * STRIDE
    bw, bh = reg[:, 2].clamp(max=10).exp() * STRIDE, reg[:, 3].clamp(max=10).exp() * STRIDE
    x1, x2 = (cx - bw / 2).clamp(0, w * STRIDE), (cx + bw / 2).clamp(0, w * STRIDE)
    y1, y2 = (cy - bh / 2).clamp(0, h * STRIDE), (cy + bh / 2).clamp(0, h * STRIDE)
    return torch.stack([x1, y1, x2, y2, scores, cls.float()], -1)


def build(cfg: DetectionConfig, input_shape: tuple[int, ...], n_outputs: int) -> CenterDetector:
    """A CenterDetector for (C, H, W) inputs (H, W multiples of 8) and `n_outputs` classes."""
    c, h, w = input_shape
    if h % 8 or w % 8:
        raise ValueError(f"detection input {h}x{w}: height and width must be multiples of 8")
    return CenterDetector(cfg, c, n_outputs)
