"""The one shared training loop for every family: `train_loop(model, train, val, cfg, device) -> History`.

It knows nothing about families: a module's `forward(x, y)` returns `(output, loss)`. Data is preloaded
as tensors and batched by index (a DataLoader's per-sample collation costs more than a small model's
step). Early stopping watches the validation loss and the best weights are restored at the end.
Precision (autocast, GradScaler), torch.compile, DDP sharding, the per-batch LR schedule (`train.schedule`),
channels-last image batches, gradient-norm clipping (`train.clip_grad_norm`), DP-SGD
(components/training/privacy.py) and resumable state are handled here once.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel
from tqdm.auto import tqdm

from components.config.sections import TrainConfig
from components.training import distributed, privacy
from components.training.precision import Amp, backward_step, make_amp, maybe_compile
from components.training.resume import rng_state, set_rng_state
from components.training.schedule import channels_last, make_schedule

log = logging.getLogger(__name__)


@dataclass
class Tensors:
    """Model-ready inputs and targets, on one device."""

    x: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return len(self.x)

    def to(self, device: torch.device) -> Tensors:
        return Tensors(self.x.to(device), self.y.to(device))


class EpochStats(BaseModel):
    """One epoch's figures."""

    epoch: int
    train_loss: float
    val_loss: float
    val_accuracy: float | None = None
    seconds: float  # training phase only (forward, backward, step)
    samples_per_s: float
    lr: float
    epsilon: float | None = None  # DP-SGD: privacy spent so far


class History(BaseModel):
    """Per-epoch figures plus where early stopping settled."""

    epochs: list[EpochStats] = []
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    best_val_accuracy: float | None = None
    stopped_early: bool = False
    stopped_by: str | None = None  # patience (early stopping) | callback (on_epoch asked, e.g. a pruned trial)
    resumed_from_epoch: int | None = None  # set when training continued from a saved state
    privacy: dict[str, Any] | None = None  # DP-SGD: what was spent (privacy.Private.report)


def set_seeds(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def get_device(preference: str = "auto") -> torch.device:
    """`cuda` when asked for or available (with `auto`), else `cpu`."""
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but torch.cuda.is_available() is False")
    return torch.device("cuda" if preference != "cpu" and torch.cuda.is_available() else "cpu")


def make_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """sgd | momentum (SGD + momentum) | rmsprop | adam | adamw (decoupled weight decay), from params."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=0.0, alpha=0.99, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def batches(data: Tensors, batch_size: int, generator: torch.Generator | None = None,
            order: torch.Tensor | None = None) -> Iterator[Tensors]:
    """Mini-batches by index: in `order` when given (a DDP shard), shuffled with `generator`, else in turn."""
    n = len(data) if order is None else len(order)
    if order is None and generator is not None:
        order = torch.randperm(n, generator=generator)
    order = order.to(data.x.device) if order is not None else None
    for i in range(0, n, batch_size):
        if order is None:
            yield Tensors(data.x[i:i + batch_size], data.y[i:i + batch_size])
        else:
            idx = order[i:i + batch_size]
            yield Tensors(data.x[idx], data.y[idx])


def epoch_batches(data, batch_size: int, generator: torch.Generator | None = None,
                  dist: distributed.Dist | None = None, epoch: int = 0, seed: int = 0) -> Iterator[Tensors]:
    """One pass over preloaded `Tensors` (a DistributedSampler shard under DDP) or a streamed split
    (components.streaming.ParquetStream: whole parts per rank)."""
    dist = dist or distributed.Dist()
    if isinstance(data, Tensors):
        order = distributed.shard_order(len(data), dist, seed, epoch) if dist.enabled else None
        yield from batches(data, batch_size, generator, order)
        return
    for x, y in data.iter_batches(batch_size, generator, dist.rank, dist.world_size):
        yield Tensors(x, y)


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: Tensors,
               amp: Amp | None = None, clip: float | None = None) -> torch.Tensor:
    """One forward/backward/step (under `amp`'s autocast and GradScaler, the gradient norm clipped to `clip`);
    returns the detached batch loss."""
    opt.zero_grad(set_to_none=True)
    with amp.autocast() if amp is not None else nullcontext():
        _, loss = model(batch.x, batch.y)
    backward_step(loss, opt, amp, clip)
    return loss.detach().float()


@torch.no_grad()
def eval_step(model: torch.nn.Module, batch: Tensors, amp: Amp | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward only; returns (outputs, batch loss)."""
    with amp.autocast() if amp is not None else nullcontext():
        out, loss = model(batch.x, batch.y)
    return out, loss.float()


def evaluate_loss(model: torch.nn.Module, data: Tensors, batch_size: int,
                  classification: bool, amp: Amp | None = None) -> tuple[float, float | None]:
    """Mean loss over `data` and, for classifiers, accuracy. Sums stay on the device: one host sync at the end,
    not one per batch."""
    model.eval()
    sums, n = None, 0
    for b in epoch_batches(data, batch_size):
        out, loss = eval_step(model, b, amp)
        hits = (out.argmax(1) == b.y).sum() if classification else loss.new_zeros(())
        batch = torch.stack([loss * len(b), hits.to(loss.dtype)])
        sums = batch if sums is None else sums + batch
        n += len(b)
    model.train()
    total, correct = sums.tolist() if sums is not None else (0.0, 0.0)
    n = max(n, 1)
    return total / n, (correct / n if classification else None)


def train_loop(model: torch.nn.Module, train: Tensors, val: Tensors, cfg: TrainConfig, device: torch.device,
               classification: bool = True,
               on_epoch: Callable[[EpochStats, bool], bool | None] | None = None, *,
               resume: dict[str, Any] | None = None, on_state: Callable[[dict[str, Any]], None] | None = None,
               dist: distributed.Dist | None = None) -> History:
    """Train with early stopping on validation loss; restores the best weights before returning.

    `cfg.precision` and `cfg.compile` apply here. `on_epoch(stats, improved)` sees each epoch's figures (the one
    per-epoch hook: metrics logging, checkpoints, pruning); returning True stops training there, as early stopping
    does (`History.stopped_by` says which). `on_state` gets the full training state after every
    epoch; passing it back as `resume` continues from there. `dist`: this process's DDP rank (every rank
    evaluates the whole validation split, so early stopping agrees across ranks).
    """
    dist = dist or distributed.Dist()
    model.to(device).train()
    train, val = train.to(device), val.to(device)
    if cfg.channels_last:  # the weights and every 4-D batch in NHWC order (batches index rows: the layout stays)
        model.to(memory_format=torch.channels_last)
        train, val = (Tensors(channels_last(d.x), d.y) if isinstance(d, Tensors) else d for d in (train, val))
    opt = make_optimizer(model.parameters(), cfg)
    amp = make_amp(cfg.precision, device)
    ddp = distributed.wrap(model, dist, device)
    fwd = maybe_compile(ddp, cfg.compile)
    gen = torch.Generator().manual_seed(cfg.seed)
    history, best_state, stale = History(), None, 0
    per_rank = -(-cfg.batch_size // dist.world_size)  # train.batch_size is the global batch: same steps per epoch
    steps = cfg.epochs * math.ceil(math.ceil(len(train) / dist.world_size) / per_rank)  # optimizer steps, all epochs
    sched = make_schedule(opt, cfg, steps)
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        if sched is not None and resume.get("schedule"):
            sched.load_state_dict(resume["schedule"])
        amp.load_state_dict(resume["scaler"])
        set_rng_state(resume["rng"], gen)
        history, best_state, stale = History.model_validate(resume["history"]), resume["best_state"], resume["stale"]
        history.resumed_from_epoch = len(history.epochs) + 1
    private, step_opt = None, opt
    if cfg.privacy.enabled:  # per-sample gradients, clipping + noise, Poisson batches, the accountant
        if not isinstance(train, Tensors):
            raise ValueError("train.privacy: DP-SGD needs the training split in memory, not streamed")
        private = privacy.Private(model, opt, len(train), cfg, resume and resume.get("privacy"))
        fwd, step_opt = private.module, private.optimizer
    bar = tqdm(range(len(history.epochs) + 1, cfg.epochs + 1), desc="train", unit="epoch", leave=False,
               disable=None if cfg.progress and dist.is_main else True)  # None: shown on a terminal only
    for epoch in bar:
        if history.stopped_early:  # resumed from the state of the epoch that stopped it
            break
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        seen = 0
        with ddp.join() if dist.enabled else nullcontext():  # streamed shards may differ in length
            for b in (private.batches(train, gen) if private else epoch_batches(train, per_rank, gen, dist, epoch,
                                                                                  cfg.seed)):
                # train.clip_grad_norm clips the batch's global gradient norm; under DP-SGD the per-sample
                # clipping (train.privacy.max_grad_norm) is the one bound
                loss_sum += train_step(fwd, step_opt, b, amp, None if private else cfg.clip_grad_norm) * len(b)
                seen += len(b)
                if sched is not None and sched.last_epoch < steps - 1:  # batch k used step k-1's lr; none after
                    sched.step()  # the last batch (nor a DDP shard's one batch more): the lr logged is the last used
        totals = distributed.all_sum(torch.stack([loss_sum, torch.tensor(float(seen), device=device)]), dist)
        train_loss = float(totals[0] / totals[1])  # one device sync per epoch
        seconds = time.perf_counter() - t0
        distributed.sync_buffers(model, dist)  # every rank scores the same model: early stopping agrees
        val_loss, val_acc = evaluate_loss(model, val, max(cfg.batch_size, 256), classification, amp)
        improved = val_loss < history.best_val_loss - cfg.min_delta
        if improved:
            history.best_val_loss, history.best_epoch, stale = val_loss, epoch, 0
            history.best_val_accuracy = val_acc
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        stats = EpochStats(epoch=epoch, train_loss=train_loss, val_loss=val_loss, val_accuracy=val_acc,
                           seconds=seconds, samples_per_s=float(totals[1]) / seconds, lr=opt.param_groups[0]["lr"],
                           epsilon=private.epsilon() if private else None)
        history.epochs.append(stats)
        bar.set_postfix(train_loss=f"{train_loss:.4f}", val_loss=f"{val_loss:.4f}")
        stop = bool(on_epoch(stats, improved)) if on_epoch is not None else False
        if stale >= cfg.patience or stop:
            history.stopped_early, history.stopped_by = True, "patience" if stale >= cfg.patience else "callback"
            log.info("%s at epoch %d; best epoch %d (val_loss %.4f)", "early stop" if history.stopped_by == "patience"
                     else "stopped by on_epoch", epoch, history.best_epoch, history.best_val_loss)
        if on_state is not None:
            on_state({"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
                      "scaler": amp.state_dict(), "rng": rng_state(gen), "stale": stale, "best_state": best_state,
                      "schedule": sched.state_dict() if sched is not None else None,
                      "best_val_loss": history.best_val_loss, "history": history.model_dump(),
                      "privacy": private.state_dict() if private else None})
    if private is not None:
        history.privacy = private.report()
        private.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
