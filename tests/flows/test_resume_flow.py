"""The training flow's retry resumes a trainer (`train.isolate`: a child process) that was SIGKILLed mid-training."""

import os
import signal
import threading
import time

import psutil
import pytest
import torch
from mlflow import MlflowClient

from components.core import paths
from components.core.io import read_json
from flows.training_flow import training_flow
from tests.helpers import write_params

pytestmark = pytest.mark.slow


def _kill_worker_after(resume_dir, epoch: int, killed: list, timeout: float = 600) -> None:
    """SIGKILL this process's torchrun worker once it has saved `epoch` (from a watcher thread)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in resume_dir.glob("*/state.pt"):
            try:
                saved = int(torch.load(f, weights_only=True)["epoch"])
            except Exception:
                continue
            if saved >= epoch:
                for child in psutil.Process().children(recursive=True):
                    if "components.training.launcher" in " ".join(child.cmdline()) and "torch.distributed.run" not in \
                            " ".join(child.cmdline()):
                        os.kill(child.pid, signal.SIGKILL)
                        killed.append(saved)
                        return
        time.sleep(0.02)


def test_flow_retry_resumes_after_the_trainer_is_killed(tmp_path, monkeypatch, mlflow_store, tiny_overrides):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path / "params.yaml", tiny_overrides | {"train.epochs": 14, "train.patience": 14,
                                                             "train.batch_size": 16, "train.isolate": True})
    killed: list[int] = []
    watcher = threading.Thread(target=_kill_worker_after, args=(tmp_path / paths.RESUME_DIR, 3, killed), daemon=True)
    watcher.start()
    summary = training_flow("params.yaml")
    watcher.join(timeout=5)
    assert killed, "the trainer was never killed"
    history = read_json(tmp_path / paths.MODEL_DIR / paths.HISTORY_FILE)
    assert history["resumed_from_epoch"] == killed[0] + 1
    assert [e["epoch"] for e in history["epochs"]] == list(range(1, 15))
    run = MlflowClient(tracking_uri=mlflow_store).get_run(summary.run_id)
    assert run.data.tags["keel.resumed_from_epoch"] == str(killed[0] + 1) and run.info.status == "FINISHED"
    assert len(run.data.metrics) and len(MlflowClient(tracking_uri=mlflow_store).get_metric_history(
        summary.run_id, "val_loss")) == 14  # epochs before the kill are in the same run, once each
    assert summary.staged
