"""Mixed precision and compilation, chosen in params: `train.precision` (fp32 | bf16 | fp16) and
`train.compile`.

bf16 and fp16 run the forward pass (and the loss) under `torch.autocast`; the weights and the optimizer
stay fp32. fp16 also scales the loss with a GradScaler so that small gradients do not flush to zero
(bf16 has fp32's exponent range and needs none). Both work on CPU too: CPU autocast supports bf16 and
fp16 (fp16 is slow there; bf16 is fast on CPUs with AVX512-BF16/AMX).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch

DTYPES: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Amp:
    """How one training run does arithmetic: autocast dtype (None: plain fp32) and an optional GradScaler."""

    device_type: str
    dtype: torch.dtype | None = None
    scaler: torch.amp.GradScaler | None = None

    def autocast(self) -> AbstractContextManager:
        """The context to run forward passes in."""
        return torch.autocast(self.device_type, dtype=self.dtype) if self.dtype is not None else nullcontext()

    def state_dict(self) -> dict[str, Any] | None:
        """The scaler's state (scale, growth tracker) for checkpoints; None without a scaler."""
        return self.scaler.state_dict() if self.scaler is not None else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Restore the scaler's state saved by `state_dict`."""
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def make_amp(precision: str, device: torch.device) -> Amp:
    """The Amp for `train.precision` on `device`."""
    if precision not in DTYPES:
        raise ValueError(f"train.precision: unknown {precision!r} (known: {', '.join(DTYPES)})")
    dtype = DTYPES[precision]
    if device.type == "cuda" and precision == "bf16" and not torch.cuda.is_bf16_supported():
        raise RuntimeError("train.precision is 'bf16' but this GPU does not support bfloat16; use fp16")
    scaler = torch.amp.GradScaler(device.type) if precision == "fp16" else None
    return Amp(device_type=device.type, dtype=dtype, scaler=scaler)


def backward_step(loss: torch.Tensor, opt: torch.optim.Optimizer, amp: Amp | None, clip: float | None = None) -> None:
    """loss.backward() + opt.step(), through the GradScaler when there is one; `clip`: the largest global
    gradient norm (unscaled first under a GradScaler)."""
    scaler = amp.scaler if amp is not None else None
    (scaler.scale(loss) if scaler is not None else loss).backward()
    if clip is not None:
        if scaler is not None:
            scaler.unscale_(opt)
        torch.nn.utils.clip_grad_norm_([p for g in opt.param_groups for p in g["params"]], clip)
    if scaler is None:
        opt.step()
        return
    scaler.step(opt)  # skips the step when gradients overflowed
    scaler.update()


def maybe_compile(model: torch.nn.Module, enabled: bool) -> torch.nn.Module:
    """`torch.compile(model)` when enabled. The returned module shares parameters with `model`; save
    `model.state_dict()` (the compiled wrapper prefixes keys with `_orig_mod.`)."""
    return torch.compile(model) if enabled else model


def precision_free(train_section: dict[str, Any]) -> dict[str, Any]:
    """A train section without the settings that should not change the result (precision, compile), so
    an fp32 run with the same remaining params serves as the reference of a bf16/fp16 one."""
    return {k: v for k, v in train_section.items() if k not in ("precision", "compile", "progress", "resume")}
