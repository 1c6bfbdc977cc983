"""Train: the one shared PyTorch loop for every family, and the stage that runs it.

`train_loop(model, data, cfg, device)` knows nothing about families: a module's `forward(x, y)` returns
`(output, loss)`. Data is preloaded as tensors and batched by index (a DataLoader's per-sample
collation costs more than a small model's step). Early stopping watches the validation loss and the
best weights are restored at the end. A self-describing checkpoint is written every epoch.
"""

from __future__ import annotations

import argparse
import copy
import logging
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel
from tqdm.auto import tqdm

from components import paths, tracking
from components.config import Params, TrainConfig, load_params
from components.features import load_fitted, load_split
from components.io import read_json, write_json
from components.models import build_model, save_checkpoint
from components.stage import stage_main
from components.tasks import TASKS

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


class History(BaseModel):
    """Per-epoch figures plus where early stopping settled."""

    epochs: list[EpochStats] = []
    best_epoch: int = 0
    best_val_loss: float = float("inf")
    stopped_early: bool = False


class TrainResult(BaseModel):
    """What train produced."""

    model_dir: Path
    run_id: str
    metrics: dict[str, float]


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
    """sgd | momentum (SGD + momentum) | rmsprop | adam, from params."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, momentum=0.0, alpha=0.99, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def batches(data: Tensors, batch_size: int, generator: torch.Generator | None = None) -> Iterator[Tensors]:
    """Mini-batches by index; shuffled when a generator is given."""
    n = len(data)
    order = torch.randperm(n, generator=generator).to(data.x.device) if generator is not None else None
    for i in range(0, n, batch_size):
        if order is None:
            yield Tensors(data.x[i:i + batch_size], data.y[i:i + batch_size])
        else:
            idx = order[i:i + batch_size]
            yield Tensors(data.x[idx], data.y[idx])


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer, batch: Tensors) -> torch.Tensor:
    """One forward/backward/step; returns the detached batch loss."""
    opt.zero_grad(set_to_none=True)
    _, loss = model(batch.x, batch.y)
    loss.backward()
    opt.step()
    return loss.detach()


@torch.no_grad()
def eval_step(model: torch.nn.Module, batch: Tensors) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward only; returns (outputs, batch loss)."""
    out, loss = model(batch.x, batch.y)
    return out, loss


def evaluate_loss(model: torch.nn.Module, data: Tensors, batch_size: int,
                  classification: bool) -> tuple[float, float | None]:
    """Mean loss over `data` and, for classifiers, accuracy."""
    model.eval()
    total, correct = torch.zeros(()), 0
    for b in batches(data, batch_size):
        out, loss = eval_step(model, b)
        total += loss.cpu() * len(b)
        if classification:
            correct += int((out.argmax(1) == b.y).sum())
    model.train()
    return float(total) / len(data), (correct / len(data) if classification else None)


def train_loop(model: torch.nn.Module, train: Tensors, val: Tensors, cfg: TrainConfig, device: torch.device,
               classification: bool = True,
               on_epoch: Callable[[EpochStats, bool, torch.optim.Optimizer], None] | None = None) -> History:
    """Train with early stopping on validation loss; restores the best weights before returning."""
    model.to(device).train()
    train, val = train.to(device), val.to(device)
    opt = make_optimizer(model.parameters(), cfg)
    gen = torch.Generator().manual_seed(cfg.seed)
    history, best_state, stale = History(), None, 0
    bar = tqdm(range(1, cfg.epochs + 1), desc="train", unit="epoch", disable=None if cfg.progress else True,
               leave=False)  # None: shown on a terminal only
    for epoch in bar:
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        for b in batches(train, cfg.batch_size, gen):
            loss_sum += train_step(model, opt, b) * len(b)
        train_loss = float(loss_sum) / len(train)  # one device sync per epoch
        seconds = time.perf_counter() - t0
        val_loss, val_acc = evaluate_loss(model, val, max(cfg.batch_size, 256), classification)
        improved = val_loss < history.best_val_loss - cfg.min_delta
        if improved:
            history.best_val_loss, history.best_epoch, stale = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            stale += 1
        stats = EpochStats(epoch=epoch, train_loss=train_loss, val_loss=val_loss, val_accuracy=val_acc,
                           seconds=seconds, samples_per_s=len(train) / seconds, lr=opt.param_groups[0]["lr"])
        history.epochs.append(stats)
        bar.set_postfix(train_loss=f"{train_loss:.4f}", val_loss=f"{val_loss:.4f}")
        if on_epoch is not None:
            on_epoch(stats, improved, opt)
        if stale >= cfg.patience:
            history.stopped_early = True
            log.info("early stop at epoch %d; best epoch %d (val_loss %.4f)", epoch, history.best_epoch,
                     history.best_val_loss)
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def cache_config(params: Params) -> dict:
    """The params a trained model depends on (resolved for the selected family)."""
    return {"model": params.model, "train": params.train.model_dump(mode="json", exclude={"progress"}),
            "arch": params.arch.model_dump(mode="json"), "model_name": params.registration.model_name}


def load_tensors(features_dir: Path, split: str, transform) -> Tensors:
    """A raw split turned into tensors by the fitted transform."""
    df = load_split(features_dir, split)
    return Tensors(torch.from_numpy(transform.features(df)), torch.from_numpy(transform.targets(df)))


def run(params: Params, features_dir: Path = paths.FEATURES_DIR, out_dir: Path = paths.MODEL_DIR) -> TrainResult:
    """Train the selected family on the features; log to MLflow; write checkpoints and history."""
    cfg, family, fcfg = params.train, params.model, params.arch
    set_seeds(cfg.seed)
    device = get_device(cfg.device)
    transform = load_fitted(features_dir)
    split_info = read_json(Path(features_dir) / paths.SPLIT_FILE)
    train, val = (load_tensors(features_dir, s, transform) for s in ("train", "val"))
    if len(val) == 0:  # features.val_size: 0 -> early stopping watches the training loss
        val = train
    input_shape = tuple(train.x.shape[1:])
    model = build_model(family, fcfg, transform, input_shape)
    out_dir = Path(out_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    model_name = params.registered_name(split_info["dataset"])
    commit, dirty = tracking.git_commit()
    with tracking.start_run(model_name, run_name=f"train-{family}") as ref:
        tracking.write_run_ref(out_dir, ref)
        tracking.log_params(params.to_dict())
        tracking.set_tags({"keel.family": family, "keel.dataset": split_info["dataset"], "keel.seed": cfg.seed,
                           "keel.params_sha256": params.digest(), "keel.split_sha256": split_info["sha256"]["test"],
                           "keel.device": device.type, "mlflow.source.git.commit": commit, "keel.git_dirty": dirty})
        meta = {"run_id": ref.run_id, "model_name": model_name, "dataset": split_info["dataset"],
                "params_sha256": params.digest(), "split_sha256": split_info["sha256"]}

        metrics_log = tracking.MetricBuffer(ref.run_id)

        def on_epoch(stats: EpochStats, improved: bool, opt: torch.optim.Optimizer) -> None:
            metrics_log.add(stats.model_dump(exclude={"epoch"}), step=stats.epoch)
            state = {"epoch": stats.epoch, "optimizer": opt.state_dict()}
            save_checkpoint(out_dir / paths.LAST_CHECKPOINT_FILE, model, family, fcfg, transform, input_shape,
                            meta | {"epoch": stats.epoch}, state)
            if improved:
                save_checkpoint(out_dir / paths.CHECKPOINT_FILE, model, family, fcfg, transform, input_shape,
                                meta | {"epoch": stats.epoch})

        history = train_loop(model, train, val, cfg, device, TASKS[params.task].val_metric == "accuracy", on_epoch)
        metrics_log.flush()
        if hasattr(model, "finalize"):  # post-fit step of the family (e.g. cluster centres, a threshold)
            with torch.no_grad():
                fitted = model.finalize(train.to(device), val.to(device)) or {}
            tracking.log_metrics({f"finalize_{k}": v for k, v in fitted.items()})
            save_checkpoint(out_dir / paths.CHECKPOINT_FILE, model, family, fcfg, transform, input_shape,
                            meta | {"epoch": history.best_epoch, "finalize": fitted})
        write_json(out_dir / paths.HISTORY_FILE, history.model_dump(mode="json"))
        summary = {"best_epoch": history.best_epoch, "best_val_loss": history.best_val_loss,
                   "epochs_run": len(history.epochs),
                   "train_samples_per_s": float(np.median([e.samples_per_s for e in history.epochs]))}
        tracking.log_metrics(summary)
        tracking.log_artifacts([out_dir / paths.HISTORY_FILE])
    log.info("train: %s epochs, best epoch %d, val_loss %.4f; run %s", len(history.epochs),
             history.best_epoch, history.best_val_loss, ref.run_id)
    return TrainResult(model_dir=out_dir, run_id=ref.run_id, metrics=summary)


def main(argv: list[str] | None = None) -> int:
    """CLI: python -m components.train --params params.yaml --features data/features --out models/train"""
    p = argparse.ArgumentParser(prog="python -m components.train", description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=paths.PARAMS)
    p.add_argument("--features", type=Path, default=paths.FEATURES_DIR)
    p.add_argument("--out", type=Path, default=paths.MODEL_DIR)
    args = p.parse_args(argv)
    return stage_main(lambda: run(load_params(args.params), args.features, args.out))


if __name__ == "__main__":
    raise SystemExit(main())
