"""Differentially private training (DP-SGD with Opacus) inside the shared loop: `train.privacy`.

What changes when `train.privacy.enabled` (components/training/loop.py calls this module, nothing else does):
- the model is made Opacus-compatible once, before training (`prepare`): BatchNorm -> GroupNorm (recorded in
  the checkpoint, which is rebuilt with it), nn.GRU/LSTM/RNN -> Opacus' DPGRU/DPLSTM/DPRNN (same state_dict
  keys as the torch layers, so the registered model loads into plain torch layers: no Opacus at serving);
- per-sample gradients come from Opacus' GradSampleModule hooks; the loss may stay inside forward as long as
  it is a plain batch MEAN (loss_reduction="mean") and every layer sees the rows in one order;
- batches are Poisson samples (each row in with probability q = batch_size / n, sizes vary), drawn by index
  from the preloaded tensors with the loop's seeded generator, as the RDP/PRV/GDP accountants assume;
- a DPOptimizer clips each row's gradient to `max_grad_norm` and adds Gaussian noise whose multiplier is
  calibrated (Opacus' get_noise_multiplier) so that `train.epochs` epochs spend `target_epsilon` at
  `target_delta`; early stopping spends less, and the epsilon actually spent is what is reported;
- the accountant's history is part of the resumable training state, so a resumed run keeps counting.

Refused (ParamsError, before anything trains): families Opacus cannot make private here (see UNSUPPORTED),
precision other than fp32, torch.compile, DDP (nproc > 1) and streamed (partitioned) training data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from components.config.sections import PrivacyConfig, TrainConfig
from components.core.errors import ParamsError
from components.models.layers import batch_norm_to_group_norm

log = logging.getLogger(__name__)

# Keyed by architecture (a family that reuses one, e.g. fashion_cnn -> cnn, inherits its entry).
SUPPORTED = {
    "cnn": "Conv2d/Linear have per-sample gradients; BatchNorm (mixes the rows of a batch) becomes GroupNorm",
    "rnn": "nn.GRU/LSTM/RNN become Opacus' DPGRU/DPLSTM/DPRNN (unpacked (B, T, F) input)",
    "text_gru": "nn.GRU becomes DPGRU; the model sorts each batch by length before its first layer, so every "
                "layer's per-sample gradients belong to the same row",
}
UNSUPPORTED = {
    "forecasting": "one series is cut into overlapping windows: an observation sits in up to input_len + horizon "
                   "training rows, so per-row DP bounds nothing about an observation (the privacy unit would "
                   "have to be the whole series)",
    "clustering": "`finalize` fits KMeans on the train split's embeddings without any privacy mechanism",
    "anomaly": "the loss is a mean over the NORMAL rows of a batch, not over all rows (Opacus' mean-reduction "
               "scaling would be wrong), and the threshold is picked on the validation split without a private "
               "mechanism",
    "linear": "353 rows trained full-batch: DP-SGD with delta < 1/353 leaves little signal; a DP linear "
              "regression (sufficient-statistics perturbation) is the right tool",
}


def check(architecture: str, cfg: TrainConfig) -> None:
    """Refuse DP where it cannot hold: unsupported family, reduced precision, compile, DDP."""
    if not cfg.privacy.enabled:
        return
    if architecture not in SUPPORTED:
        why = UNSUPPORTED.get(architecture, "it declares no DP support (Keel knows Opacus works for "
                                            f"{', '.join(SUPPORTED)})")
        raise ParamsError(f"train.privacy.enabled: family {architecture!r} cannot be trained privately: {why}. "
                          f"Supported: {', '.join(SUPPORTED)}")
    problems = [f"train.precision is {cfg.precision!r} (DP needs fp32: Opacus' per-sample gradient hooks and "
                "clipping are not autocast/GradScaler-aware)"] if cfg.precision != "fp32" else []
    problems += ["train.compile is true (the per-sample gradient hooks do not survive torch.compile)"] \
        if cfg.compile else []
    problems += [f"train.nproc is {cfg.nproc} (DP with DDP would need Opacus' DPDDP and a distributed Poisson "
                 "sampler; not wired)"] if cfg.nproc > 1 else []
    if problems:
        raise ParamsError("train.privacy.enabled cannot be combined with: " + "; ".join(problems))


def prepare(model: nn.Module) -> tuple[nn.Module, list[str]]:
    """The Opacus-trainable version of `model` and the checkpoint fixes it needs to be rebuilt (`group_norm`)."""
    from opacus.layers.param_rename import RenameParamsMixin, filter_out_old_keys
    from opacus.validators import ModuleValidator

    fixes = ["group_norm"] if batch_norm_to_group_norm(model) else []
    fixed = ModuleValidator.fix(model)  # the recurrent layers -> DP layers
    errors = ModuleValidator.validate(fixed, strict=False)
    if errors:
        raise ParamsError(f"train.privacy.enabled: Opacus cannot train this model: {errors}")
    for m in fixed.modules():
        if isinstance(m, RenameParamsMixin):  # DPGRU etc.: keep state_dict keys those of the torch layer
            # Opacus' own filter returns a copy, which only takes effect when the DP layer is the top module
            for key in [k for k, h in m._state_dict_hooks.items() if h is filter_out_old_keys]:
                del m._state_dict_hooks[key]
            m.register_state_dict_post_hook(_drop_aliases)
            m.register_load_state_dict_pre_hook(_add_aliases)
    return fixed, fixes


def _drop_aliases(module: nn.Module, state: dict[str, Any], prefix: str, local_metadata: Any) -> None:
    for old in module.old_to_new:  # e.g. "l0.ih.weight", the same tensor as "weight_ih_l0"
        state.pop(prefix + old, None)


def _add_aliases(module: nn.Module, state: dict[str, Any], prefix: str, *args: Any) -> None:
    for old, new in module.old_to_new.items():
        if prefix + new in state:
            state[prefix + old] = state[prefix + new]


class Private:
    """One DP-SGD training run: the hooked module, the DP optimizer, the accountant, the Poisson batches."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer, n_rows: int, cfg: TrainConfig,
                 state: dict[str, Any] | None = None):
        import warnings

        from opacus import GradSampleModule
        from opacus.accountants import create_accountant
        from opacus.accountants.utils import get_noise_multiplier
        from opacus.optimizers import DPOptimizer

        # Opacus' backward hooks on a first layer whose input needs no gradient: expected, once per step
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        p: PrivacyConfig = cfg.privacy
        if p.target_delta >= 1.0 / n_rows:
            raise ParamsError(f"train.privacy.target_delta {p.target_delta:g} must be below 1 / (training rows) = "
                              f"{1.0 / n_rows:.3g}, or the guarantee is void (one row may leak outright)")
        self.cfg, self.n = p, n_rows
        self.steps_per_epoch = -(-n_rows // cfg.batch_size)
        self.sample_rate = 1.0 / self.steps_per_epoch  # expected batch = batch_size rows
        self.noise_multiplier = get_noise_multiplier(
            target_epsilon=p.target_epsilon, target_delta=p.target_delta, sample_rate=self.sample_rate,
            epochs=cfg.epochs, accountant=p.accountant)
        self.module = GradSampleModule(model, loss_reduction="mean")
        self.params = [q for q in model.parameters() if q.requires_grad]
        self.optimizer = DPOptimizer(optimizer, noise_multiplier=self.noise_multiplier, max_grad_norm=p.max_grad_norm,
                                     expected_batch_size=round(self.sample_rate * n_rows), loss_reduction="mean")
        self.accountant = create_accountant(p.accountant)
        if state:
            self.accountant.load_state_dict(state["accountant"] | {"history": [tuple(h) for h in
                                                                              state["accountant"]["history"]]})
        self.optimizer.attach_step_hook(self.accountant.get_optimizer_hook_fn(self.sample_rate))
        log.info("privacy: noise multiplier %.4f for eps %.3g, delta %.3g, q %.4f, %d epochs x %d steps",
                 self.noise_multiplier, p.target_epsilon, p.target_delta, self.sample_rate, cfg.epochs,
                 self.steps_per_epoch)

    def batches(self, data, generator: torch.Generator) -> Iterator[Any]:
        """One epoch of Poisson-sampled batches (`steps_per_epoch` draws). An empty draw still takes a step
        (noise only), as the accountant counts it."""
        for _ in range(self.steps_per_epoch):
            idx = torch.nonzero(torch.rand(self.n, generator=generator) < self.sample_rate).flatten()
            if len(idx) == 0:
                self.optimizer.zero_grad(set_to_none=True)
                for q in self.params:
                    q.grad_sample = torch.zeros((0, *q.shape), device=q.device, dtype=q.dtype)
                self.optimizer.step()
                continue
            idx = idx.to(data.x.device)
            yield type(data)(data.x[idx], data.y[idx])

    def epsilon(self) -> float:
        """Epsilon spent so far at the target delta (0 before the first step)."""
        return float(self.accountant.get_epsilon(self.cfg.target_delta)) if self.accountant.history else 0.0

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to keep counting (plain types: the state file loads with weights_only)."""
        return {"accountant": {"history": [list(h) for h in self.accountant.history],
                               "mechanism": self.accountant.mechanism()}}

    def report(self) -> dict[str, Any]:
        """The privacy spent: what is logged and tagged on the version."""
        steps = sum(int(s) for _, _, s in self.accountant.history)
        return {"epsilon": self.epsilon(), "delta": self.cfg.target_delta, "target_epsilon": self.cfg.target_epsilon,
                "accountant": self.cfg.accountant, "noise_multiplier": float(self.noise_multiplier),
                "sample_rate": float(self.sample_rate), "steps": steps, "max_grad_norm": self.cfg.max_grad_norm,
                "expected_batch_size": round(self.sample_rate * self.n), "train_rows": self.n}

    def close(self) -> None:
        """Remove the per-sample gradient hooks: the model is a plain module again."""
        self.module._close()
