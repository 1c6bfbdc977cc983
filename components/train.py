"""Train: the stage that trains the selected family with the shared loop (components/loop.py).

`run` trains in this process or, for `train.nproc > 1`, in N torchrun processes (components/distributed.py);
per-epoch state kept outside the stage's outputs lets a re-run after a kill resume (components/resume.py);
bf16/fp16 runs record their metric deltas against an fp32 run of the same params.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel

from components import distributed, paths, tracking
from components.config import Params, load_params
from components.features import load_fitted, load_split
from components.io import read_json, sha256_json, write_json
from components.loop import (  # noqa: F401  (the loop's API, re-exported: components.train is its home)
    EpochStats,
    History,
    Tensors,
    batches,
    eval_step,
    evaluate_loss,
    get_device,
    make_optimizer,
    set_seeds,
    train_loop,
    train_step,
)
from components.models import build_model, save_checkpoint
from components.precision import precision_free
from components.resume import clear_state, load_state, resume_key, save_state, state_path
from components.stage import stage_main
from components.streaming import ParquetStream
from components.tasks import TASKS

log = logging.getLogger("components.train")  # also under `python -m components.train`


class TrainResult(BaseModel):
    """What train produced."""

    model_dir: Path
    run_id: str
    metrics: dict[str, float]


def cache_config(params: Params) -> dict:
    """The params a trained model depends on (resolved for the selected family)."""
    return {"model": params.model, "train": params.train.model_dump(mode="json", exclude={"progress", "resume"}),
            "arch": params.arch.model_dump(mode="json"), "model_name": params.registration.model_name}


def load_tensors(features_dir: Path, split: str, transform) -> Tensors | ParquetStream:
    """A raw split turned into tensors by the fitted transform (streamed from disk when partitioned)."""
    if (Path(features_dir) / split).is_dir():
        return ParquetStream(Path(features_dir) / split, transform)
    df = load_split(features_dir, split)
    return Tensors(torch.from_numpy(transform.features(df)), torch.from_numpy(transform.targets(df)))


def run(params: Params, features_dir: Path = paths.FEATURES_DIR, out_dir: Path = paths.MODEL_DIR,
        resume_dir: Path | None = None, isolate: bool = False) -> TrainResult:
    """Train the selected family: in this process, or in `train.nproc` processes through torchrun (also
    when `isolate`, so that a killed trainer surfaces as a retryable TrainingInterrupted). bf16/fp16 runs
    are compared with an fp32 run of the same params (looked up in MLflow, trained first if missing).
    `resume_dir`: where per-epoch training state is kept; a re-run after a kill resumes from it."""
    reference = fp32_reference(params, features_dir, resume_dir) if params.train.precision != "fp32" else None
    job = {"params": params, "features_dir": Path(features_dir), "out_dir": Path(out_dir),
           "resume_dir": None if resume_dir is None else Path(resume_dir), "reference": reference}
    if (params.train.nproc > 1 or isolate) and not distributed.in_worker():
        return distributed.launch(params.train.nproc, **job)
    return fit(**job)


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
        reference: dict[str, Any] | None = None) -> TrainResult:
    """Train in this process (one rank under torchrun); rank 0 logs to MLflow and writes `out_dir`."""
    cfg, family, fcfg = params.train, params.model, params.arch
    set_seeds(cfg.seed)
    dist = distributed.init(get_device(cfg.device))
    device = distributed.local_device(dist, get_device(cfg.device))
    transform = load_fitted(features_dir)
    split_info = read_json(Path(features_dir) / paths.SPLIT_FILE)
    train, val = (load_tensors(features_dir, s, transform) for s in ("train", "val"))
    if len(val) == 0:  # features.val_size: 0 -> early stopping watches the training loss
        val = train
    input_shape = tuple(train.x.shape[1:]) if isinstance(train, Tensors) else (len(transform.columns),)
    model = build_model(family, fcfg, transform, input_shape)
    out_dir, main = Path(out_dir), dist.is_main
    resumable = resume_dir is not None and cfg.resume  # else the state only goes to out_dir/last.pt
    spath = (state_path(resume_dir, resume_key(cache_config(params), split_info["sha256"])) if resumable
             else out_dir / paths.LAST_CHECKPOINT_FILE)
    state = distributed.broadcast(load_state(spath, split_info["sha256"]) if main and resumable else None, dist)
    if main:
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
    model_name = params.registered_name(split_info["dataset"])
    commit, dirty = tracking.git_commit()
    no_run = tracking.RunRef(run_id="", experiment_id="", tracking_uri="", model_name=model_name)  # ranks > 0
    with (tracking.start_run(model_name, run_name=f"train-{family}", run_id=state and state["run_id"]) if main
          else nullcontext(no_run)) as ref:
        meta = {"run_id": ref.run_id, "model_name": model_name, "dataset": split_info["dataset"],
                "params_sha256": params.digest(), "split_sha256": split_info["sha256"]}
        if main:
            tracking.write_run_ref(out_dir, ref)
            tracking.log_params(params.to_dict())
            tracking.set_tags({"keel.family": family, "keel.dataset": split_info["dataset"], "keel.seed": cfg.seed,
                               "keel.params_sha256": params.digest(), "keel.split_sha256": split_info["sha256"]["test"],
                               "keel.device": device.type, "mlflow.source.git.commit": commit, "keel.git_dirty": dirty,
                               "keel.precision": cfg.precision, "keel.compile": cfg.compile, "keel.nproc": cfg.nproc,
                               "keel.reference_digest": reference_digest(params)})
        if state is not None:
            log.info("train: resuming from epoch %d (state saved after epoch %d in %s)", state["epoch"] + 1,
                     state["epoch"], spath)
            if main:
                tracking.set_tags({"keel.resumed_from_epoch": state["epoch"] + 1})
                tracking.log_missing_steps(ref.run_id, {e["epoch"]: {k: v for k, v in e.items() if k != "epoch"}
                                                        for e in state["history"]["epochs"]})
        metrics_log = tracking.MetricBuffer(ref.run_id) if main else None

        def on_epoch(stats: EpochStats, improved: bool, opt: torch.optim.Optimizer) -> None:
            metrics_log.add(stats.model_dump(exclude={"epoch"}), step=stats.epoch)
            if improved:
                save_checkpoint(out_dir / paths.CHECKPOINT_FILE, model, family, fcfg, transform, input_shape,
                                meta | {"epoch": stats.epoch})

        def on_state(s: dict[str, Any]) -> None:
            save_state(spath, s | {"run_id": ref.run_id, "split_sha256": split_info["sha256"], "meta": meta})

        try:
            history = train_loop(model, train, val, cfg, device, TASKS[params.task].val_metric == "accuracy",
                                 on_epoch if main else None, resume=state, on_state=on_state if main else None,
                                 dist=dist)
        finally:
            distributed.shutdown(dist)
        if not main:
            return TrainResult(model_dir=out_dir, run_id="", metrics={})
        metrics_log.flush()
        if hasattr(model, "finalize"):  # post-fit step of the family (e.g. cluster centres, a threshold)
            with torch.no_grad():
                fitted = model.finalize(train.to(device), val.to(device)) or {}
            tracking.log_metrics({f"finalize_{k}": v for k, v in fitted.items()})
            save_checkpoint(out_dir / paths.CHECKPOINT_FILE, model, family, fcfg, transform, input_shape,
                            meta | {"epoch": history.best_epoch, "finalize": fitted})
        write_json(out_dir / paths.HISTORY_FILE, history.model_dump(mode="json"))
        summary = summarize(history, reference)
        tracking.log_metrics(summary)
        if reference is not None:
            tracking.set_tags({"keel.fp32_reference_run": reference["run_id"]})
        tracking.log_artifacts([out_dir / paths.HISTORY_FILE])
    if spath != out_dir / paths.LAST_CHECKPOINT_FILE and spath.is_file():
        shutil.move(spath, out_dir / paths.LAST_CHECKPOINT_FILE)  # the finished run's state, kept with the model
        clear_state(spath)
    log.info("train: %s epochs, best epoch %d, val_loss %.4f; run %s", len(history.epochs),
             history.best_epoch, history.best_val_loss, ref.run_id)
    return TrainResult(model_dir=out_dir, run_id=ref.run_id, metrics=summary)


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


def main(argv: list[str] | None = None) -> int:
    """CLI: python -m components.train --params params.yaml --features data/features --out models/train"""
    p = argparse.ArgumentParser(prog="python -m components.train", description=__doc__.splitlines()[0])
    p.add_argument("--params", type=Path, default=paths.PARAMS)
    p.add_argument("--features", type=Path, default=paths.FEATURES_DIR)
    p.add_argument("--out", type=Path, default=paths.MODEL_DIR)
    p.add_argument("--resume-dir", type=Path, default=None,
                   help="keep per-epoch training state here (outside the stage's outputs) and resume from it")
    args = p.parse_args(argv)
    return stage_main(lambda: run(load_params(args.params), args.features, args.out, args.resume_dir))


if __name__ == "__main__":
    raise SystemExit(main())
