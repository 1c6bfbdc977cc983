"""Train: the stage that trains the selected family with the shared loop (components/training/loop.py).

`run` trains in this process, or in child processes through torchrun (components/training/launcher.py):
`train.nproc > 1` (DDP), or `train.isolate` (one child, so that a killed trainer surfaces as a retryable error).
Per-epoch state kept outside the stage's outputs lets a re-run after a kill resume
(components/training/resume.py). With `train.fp32_reference: true`, a bf16/fp16 run also records its
metric deltas against an fp32 run of the same params.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from components.config import views
from components.config.params import Params
from components.core import paths
from components.core.errors import StageInputError
from components.core.io import read_json, sha256_json, write_json
from components.data.artifacts import load_fitted, load_split
from components.data.streaming import ParquetStream
from components.data.transforms.registry import Transform
from components.families.registry import get
from components.inference.checkpoint import BASELINE, build_model, save_checkpoint
from components.lifecycle import tracking
from components.lifecycle.epochlog import EpochLog
from components.problems.registry import TASKS
from components.stages.spec import Io, Stage
from components.training import distributed, launcher, privacy
from components.training.loop import EpochStats, History, Tensors, get_device, set_seeds, train_loop
from components.training.precision import precision_free
from components.training.resume import clear_state, load_state, resume_key, save_state, state_path

log = logging.getLogger(__name__)
FIT = "components.stages.train:fit"  # what the launcher runs in its child processes


class TrainResult(BaseModel):
    """What train produced."""

    model_dir: Path
    run_id: str
    metrics: dict[str, float]


@dataclass
class Inputs:
    """The features stage's output, ready to train on."""

    transform: Transform
    split: dict[str, Any]  # split.json: dataset, sizes, sha256 per split
    train: Tensors | ParquetStream
    val: Tensors | ParquetStream
    input_shape: tuple[int, ...]


def load_tensors(features_dir: Path, split: str, transform) -> Tensors | ParquetStream:
    """A raw split turned into tensors by the fitted transform (streamed from disk when partitioned)."""
    if (Path(features_dir) / split).is_dir():
        return ParquetStream(Path(features_dir) / split, transform)
    df = load_split(features_dir, split)
    return Tensors(torch.from_numpy(transform.features(df)), torch.from_numpy(transform.targets(df)))


def load_inputs(features_dir: Path) -> Inputs:
    """Transform, split info and the train/val tensors (val falls back to train when features made none)."""
    transform = load_fitted(features_dir)
    train, val = (load_tensors(features_dir, s, transform) for s in ("train", "val"))
    if len(val) == 0:  # features.val_size: 0 -> early stopping watches the training loss
        val = train
    shape = tuple(train.x.shape[1:]) if isinstance(train, Tensors) else (len(transform.columns),)
    return Inputs(transform, read_json(Path(features_dir) / paths.SPLIT_FILE), train, val, shape)


def run(params: Params, features_dir: Path = paths.FEATURES_DIR, out_dir: Path = paths.MODEL_DIR,
        resume_dir: Path | None = None, live_dir: Path | None = None, *,
        parent_run_id: str | None = None, on_epoch: Callable[[EpochStats], bool | None] | None = None) -> TrainResult:
    """Train the selected family here, or in `train.nproc` torchrun processes (also when `train.isolate`).
    `resume_dir`: where per-epoch training state is kept; a re-run after a kill resumes from it.
    `live_dir`: dvclive's folder for the per-epoch metrics (None: MLflow only). In-process callers
    (components/tuning) may nest the run under `parent_run_id` and watch each epoch with `on_epoch`
    (True stops training after that epoch, like early stopping)."""
    privacy.check(get(params.model).registered_as, params.train)  # DP where it cannot hold: refused up front
    reference = (fp32_reference(params, features_dir, resume_dir)
                 if params.train.precision != "fp32" and params.train.fp32_reference else None)
    job = {"params": params, "features_dir": Path(features_dir), "out_dir": Path(out_dir),
           "resume_dir": None if resume_dir is None else Path(resume_dir), "reference": reference,
           "live_dir": None if live_dir is None else Path(live_dir)}
    if (params.train.nproc > 1 or params.train.isolate) and not distributed.in_worker():
        if parent_run_id or on_epoch:
            raise StageInputError("train: parent_run_id and on_epoch work in this process only (train.nproc=1)")
        return launcher.launch(params.train.nproc, FIT, **job)
    return fit(**job, parent_run_id=parent_run_id, on_epoch=on_epoch)


def fp32_reference(params: Params, features_dir: Path, resume_dir: Path | None) -> dict[str, Any]:
    """Metrics of the fp32 run with the same params (but precision and compile): the latest finished one
    in MLflow, else one trained now (and recorded, so the next bf16/fp16 run finds it)."""
    ref_params = params.model_copy(update={"train": params.train.model_copy(update={"precision": "fp32"})})
    dataset = read_json(Path(features_dir) / paths.SPLIT_FILE)["dataset"]
    found = tracking.find_run(params.registered_name(dataset), {"keel.reference_digest": reference_digest(params),
                                                                  "keel.precision": "fp32"})
    if found is None:
        log.info("train: no fp32 run with these params in MLflow; training the reference first")
        with tempfile.TemporaryDirectory(prefix="keel-fp32-") as tmp:
            done = run(ref_params, features_dir, Path(tmp) / "model", resume_dir)
        found = {"run_id": done.run_id, "metrics": done.metrics}
    return found


def reference_digest(params: Params) -> str:
    """Hash of the params minus precision and compile: equal for a run and its fp32 reference."""
    d = params.to_dict()
    return sha256_json(d | {"train": precision_free(d["train"])})


def fit(params: Params, features_dir: Path, out_dir: Path, resume_dir: Path | None = None,
        reference: dict[str, Any] | None = None, live_dir: Path | None = None, *, parent_run_id: str | None = None,
        on_epoch: Callable[[EpochStats], bool | None] | None = None) -> TrainResult:
    """Train in this process (one rank under torchrun); rank 0 logs to MLflow (and dvclive) and writes `out_dir`."""
    cfg = params.train
    set_seeds(cfg.seed)
    dist = distributed.init(get_device(cfg.device))
    device = distributed.local_device(dist, get_device(cfg.device))
    data = load_inputs(features_dir)
    model = build_model(params.model, params.arch, data.transform, data.input_shape)
    if hasattr(model, "prepare"):  # the family's pre-fit step (a target computed from the train split)
        data.train, data.val = model.prepare(data.train, data.val)
    fixes: list[str] = []
    if cfg.privacy.enabled:  # Opacus-compatible layers; the checkpoint records the fixes it is rebuilt with
        model, fixes = privacy.prepare(model)
    out_dir, main = Path(out_dir), dist.is_main
    resumable = resume_dir is not None and cfg.resume  # else the state only goes to out_dir/last.pt
    spath = (state_path(resume_dir, resume_key(views.view('train', params), data.split["sha256"])) if resumable
             else out_dir / paths.LAST_CHECKPOINT_FILE)
    state = distributed.broadcast(load_state(spath, data.split["sha256"]) if main and resumable else None, dist)
    if main:
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
    model_name = params.registered_name(data.split["dataset"])
    no_run = tracking.RunRef(run_id="", experiment_id="", tracking_uri="", model_name=model_name)  # ranks > 0
    with (tracking.start_run(model_name, run_name=f"train-{params.model}", run_id=state and state["run_id"],
                             parent_run_id=parent_run_id) if main else nullcontext(no_run)) as ref:
        meta = {"run_id": ref.run_id, "model_name": model_name, "dataset": data.split["dataset"],
                "params_sha256": params.digest(), "split_sha256": data.split["sha256"], "module_fixes": fixes}
        hooks = Hooks(model, params, data, out_dir, spath, meta, live_dir, on_epoch) if main else None
        if main:
            log_start(ref, out_dir, params, data, device, state, hooks.metrics)
        classification = TASKS[params.task].val_metric == "accuracy"
        try:
            history = train_loop(model, data.train, data.val, cfg, device, classification,
                                 hooks.on_epoch if hooks else None, resume=state,
                                 on_state=hooks.on_state if hooks else None, dist=dist)
            baseline = fit_baseline(params, data, device, classification, dist) if get(params.model).baseline else None
        finally:
            distributed.shutdown(dist)
            if hooks:
                hooks.metrics.close()
        if not main:
            return TrainResult(model_dir=out_dir, run_id="", metrics={})
        summary = finish(hooks, history, reference, device)
        if baseline is not None:
            base_model, base_history = baseline
            save_checkpoint(out_dir / paths.BASELINE_FILE, base_model, params.model, params.arch, data.transform,
                            data.input_shape, meta | {"role": BASELINE, "epoch": base_history.best_epoch})
            base_summary = {f"baseline_{k}": v for k, v in summarize(base_history, None).items()}
            tracking.log_metrics(base_summary)
            summary |= base_summary
    if spath != out_dir / paths.LAST_CHECKPOINT_FILE and spath.is_file():
        shutil.move(spath, out_dir / paths.LAST_CHECKPOINT_FILE)  # the finished run's state, kept with the model
        clear_state(spath)
    log.info("train: %s epochs, best epoch %d, val_loss %.4f; run %s", len(history.epochs),
             history.best_epoch, history.best_val_loss, ref.run_id)
    return TrainResult(model_dir=out_dir, run_id=ref.run_id, metrics=summary)


def fit_baseline(params: Params, data: Inputs, device: torch.device, classification: bool,
                 dist: distributed.Dist) -> tuple[torch.nn.Module, History]:
    """The family's neural baseline (Family.baseline), trained after the model by the same loop, on the same
    splits, with the same settings and seed: what the model is compared with in this run."""
    set_seeds(params.train.seed)
    model = build_model(params.model, params.arch, data.transform, data.input_shape, BASELINE)
    return model, train_loop(model, data.train, data.val, params.train, device, classification, dist=dist)


def log_start(ref: tracking.RunRef, out_dir: Path, params: Params, data: Inputs, device: torch.device,
              state: dict[str, Any] | None, metrics: EpochLog) -> None:
    """Record the run: run.json beside the model, the resolved params and lineage tags, resumed epochs."""
    cfg = params.train
    tracking.write_run_ref(out_dir, ref)
    tracking.log_params(params.to_dict())
    commit, dirty = tracking.git_commit()
    tracking.set_tags({"keel.family": params.model, "keel.dataset": data.split["dataset"], "keel.seed": cfg.seed,
                       "keel.params_sha256": params.digest(), "keel.split_sha256": data.split["sha256"]["test"],
                       "keel.device": device.type, "mlflow.source.git.commit": commit, "keel.git_dirty": dirty,
                       "keel.precision": cfg.precision, "keel.compile": cfg.compile, "keel.nproc": cfg.nproc,
                       "keel.reference_digest": reference_digest(params),
                       "keel.privacy": "dp-sgd" if cfg.privacy.enabled else "none"}
                      | {f"keel.{k}": v for k, v in tracking.origin_tags().items()})
    if state is not None:
        log.info("train: resuming from epoch %d (state saved after epoch %d)", state["epoch"] + 1, state["epoch"])
        tracking.set_tags({"keel.resumed_from_epoch": state["epoch"] + 1})
        metrics.replay({e["epoch"]: {k: v for k, v in e.items() if k != "epoch"} for e in state["history"]["epochs"]})


class Hooks:
    """What rank 0 does after each epoch: metrics to MLflow and dvclive, the best checkpoint, the resumable state,
    then the caller's `watch` (True: stop)."""

    def __init__(self, model: torch.nn.Module, params: Params, data: Inputs, out_dir: Path, spath: Path,
                 meta: dict[str, Any], live_dir: Path | None = None,
                 watch: Callable[[EpochStats], bool | None] | None = None):
        self.model, self.params, self.data, self.out_dir = model, params, data, out_dir
        self.spath, self.meta, self.watch = spath, meta, watch
        self.metrics = EpochLog(meta["run_id"], live_dir)

    def save(self, extra: dict[str, Any]) -> None:
        """Write the self-describing checkpoint (weights + config + transform) with `meta` | `extra`."""
        save_checkpoint(self.out_dir / paths.CHECKPOINT_FILE, self.model, self.params.model, self.params.arch,
                        self.data.transform, self.data.input_shape, self.meta | extra)

    def on_epoch(self, stats: EpochStats, improved: bool) -> bool:
        self.metrics.add(stats.model_dump(exclude={"epoch"}), step=stats.epoch)
        if improved:
            self.save({"epoch": stats.epoch})
        return bool(self.watch(stats)) if self.watch is not None else False

    def on_state(self, s: dict[str, Any]) -> None:
        save_state(self.spath, s | {"run_id": self.meta["run_id"], "split_sha256": self.data.split["sha256"],
                                    "meta": self.meta})


def finish(hooks: Hooks, history: History, reference: dict[str, Any] | None, device: torch.device) -> dict[str, float]:
    """The family's post-fit step (cluster centres, a threshold), history.json, the summary metrics."""
    model, data, out_dir = hooks.model, hooks.data, hooks.out_dir
    extra: dict[str, Any] = {}
    if hasattr(model, "finalize"):
        with torch.no_grad():
            extra["finalize"] = model.finalize(data.train.to(device), data.val.to(device)) or {}
        tracking.log_metrics({f"finalize_{k}": v for k, v in extra["finalize"].items()})
    if history.privacy is not None:  # the privacy spent, with the model and on the run
        extra["privacy"] = history.privacy
        tracking.log_metrics({f"privacy_{k}": v for k, v in history.privacy.items()})
        tracking.set_tags({f"keel.privacy.{k}": v for k, v in history.privacy.items()})
    if extra:
        hooks.save({"epoch": history.best_epoch} | extra)
    write_json(out_dir / paths.HISTORY_FILE, history.model_dump(mode="json"))
    summary = summarize(history, reference)
    tracking.log_metrics(summary)
    if reference is not None:
        tracking.set_tags({"keel.fp32_reference_run": reference["run_id"]})
    tracking.log_artifacts([out_dir / paths.HISTORY_FILE])
    return summary


def summarize(history: History, reference: dict[str, Any] | None) -> dict[str, float]:
    """The run's headline figures; with an fp32 reference, the differences from it (this - fp32)."""
    out = {"best_epoch": history.best_epoch, "best_val_loss": history.best_val_loss,
           "epochs_run": len(history.epochs),
           "train_samples_per_s": float(np.median([e.samples_per_s for e in history.epochs]))}
    if history.best_val_accuracy is not None:
        out["best_val_accuracy"] = history.best_val_accuracy
    for k in ("best_val_loss", "best_val_accuracy", "train_samples_per_s"):
        if reference is not None and k in out and k in reference["metrics"]:
            out[f"fp32_delta_{k}"] = out[k] - reference["metrics"][k]
    return out


# Per-epoch training state lives in .keel/resume (not an out: DVC deletes outs before running a stage);
# re-running after a kill resumes from the last finished epoch. The flow trains in its own process unless
# train.isolate or train.nproc > 1 asks for a child.
STAGE = Stage("train", run, (Io("features_dir", paths.FEATURES_DIR, "in"),
                             Io("out_dir", paths.MODEL_DIR, "out", marker=paths.CHECKPOINT_FILE),
                             Io("resume_dir", paths.RESUME_DIR, "state", option="--resume-dir"),
                             Io("live_dir", paths.LIVE_DIR, "out", files=(paths.METRICS_FILE, paths.LIVE_METRICS),
                                metrics=(paths.METRICS_FILE,), plots=(paths.LIVE_METRICS,), cache=False)),
              args=lambda p: {"params": p}, tracked=True, retries=True)
