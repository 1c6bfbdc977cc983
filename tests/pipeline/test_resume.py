"""Resume after a real SIGKILL: `python -m components.stages train` killed mid-training, run again, ends where an
uninterrupted run ends (same seed, same thread count: bit-identical; asserted to 1e-6)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from components.core import paths
from components.core.io import read_json
from components.stages import features, ingest, validate
from tests.helpers import ROOT, params_with, write_params

pytestmark = pytest.mark.slow

OVERRIDES = {"validate.min_rows": 50, "train.epochs": 14, "train.patience": 14, "train.batch_size": 16,
             "train.progress": False, "train.cnn.channels": [8, 16], "train.cnn.hidden": 32, "train.cnn.dropout": 0.1}


def _train_cmd(params: Path, feats: Path, out: Path, resume: Path) -> list[str]:
    return [sys.executable, "-m", "components.stages", "train", "--params", str(params), "--features", str(feats),
            "--out", str(out), "--resume-dir", str(resume), "--live", f"{out}-live"]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}


def saved_epoch(resume_dir: Path) -> int:
    """The epoch of the newest saved state (0 when none is there yet)."""
    for f in resume_dir.glob(f"*/{'state.pt'}"):
        try:
            return int(torch.load(f, weights_only=True)["epoch"])
        except Exception:  # replaced under us: read it next time
            return 0
    return 0


def kill_during_training(cmd: list[str], resume_dir: Path, after_epoch: int, timeout: float = 300) -> int:
    """Start `cmd`, SIGKILL its whole process group once `after_epoch` is saved; returns the saved epoch."""
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while saved_epoch(resume_dir) < after_epoch:
        assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read()[-2000:]}"
        assert time.monotonic() < deadline, "no saved state in time"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL
    return saved_epoch(resume_dir)


@pytest.fixture
def prepared(tmp_path, mlflow_store):
    params = params_with(OVERRIDES)
    ingest.run(params.ingest, tmp_path / "raw", params.kind)
    validate.run(params.validation, tmp_path / "raw", tmp_path / "validation")
    features.run(params.features, tmp_path / "raw", tmp_path / "validation", tmp_path / "features", params.task)
    return tmp_path, write_params(tmp_path / "params.yaml", OVERRIDES)


def test_killed_training_resumes_and_matches_an_uninterrupted_run(prepared):
    tmp, params = prepared
    feats = tmp / "features"
    whole = subprocess.run(_train_cmd(params, feats, tmp / "whole", tmp / "r1"), cwd=ROOT, env=_env(),
                           capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr[-3000:]
    assert "resuming" not in whole.stderr

    killed_at = kill_during_training(_train_cmd(params, feats, tmp / "cut", tmp / "r2"), tmp / "r2", after_epoch=3)
    assert 3 <= killed_at < OVERRIDES["train.epochs"]
    assert not (tmp / "cut" / paths.HISTORY_FILE).exists()  # it really died mid-training

    again = subprocess.run(_train_cmd(params, feats, tmp / "cut", tmp / "r2"), cwd=ROOT, env=_env(),
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"resuming from epoch {killed_at + 1}" in again.stderr
    assert not list((tmp / "r2").glob("*/state.pt"))  # a finished run forgets its state

    h1, h2 = (read_json(tmp / d / paths.HISTORY_FILE) for d in ("whole", "cut"))
    assert h2["resumed_from_epoch"] == killed_at + 1 and h1["resumed_from_epoch"] is None
    assert [e["epoch"] for e in h2["epochs"]] == list(range(1, OVERRIDES["train.epochs"] + 1))
    for a, b in zip(h1["epochs"], h2["epochs"], strict=True):
        assert abs(a["val_loss"] - b["val_loss"]) <= 1e-6 and abs(a["train_loss"] - b["train_loss"]) <= 1e-6
    assert h1["best_epoch"] == h2["best_epoch"]
    rows = (tmp / "cut-live" / paths.LIVE_METRICS / "val_loss.tsv").read_text().splitlines()[1:]  # dvclive: replayed
    assert [(int(r.split("\t")[0]), float(r.split("\t")[1])) for r in rows] == [(e["epoch"], e["val_loss"])
                                                                                 for e in h2["epochs"]]
    w1, w2 = (torch.load(tmp / d / paths.CHECKPOINT_FILE, weights_only=True)["state_dict"] for d in ("whole", "cut"))
    assert all(torch.allclose(w1[k].float(), w2[k].float(), atol=1e-6) for k in w1)
    last = torch.load(tmp / "cut" / paths.LAST_CHECKPOINT_FILE, weights_only=True)
    assert {"model", "optimizer", "scaler", "rng", "epoch", "best_val_loss", "split_sha256"} <= set(last)


def test_killed_dvc_repro_resumes_on_the_next_repro(tmp_path):
    from tests.helpers import make_repo_copy, venv_env
    from tests.pipeline.dvc_helpers import dvc

    repo = make_repo_copy(tmp_path / "repo")
    write_params(repo / "params.yaml", OVERRIDES | {"register.cnn.min": {"accuracy": 0.5}})
    proc = subprocess.Popen(["dvc", "repro"], cwd=repo, env=venv_env(OMP_NUM_THREADS="1"), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while saved_epoch(repo / paths.RESUME_DIR) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, "dvc repro ended before it could be killed"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed_at = saved_epoch(repo / paths.RESUME_DIR)

    again = dvc(repo, "repro")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"resuming from epoch {killed_at + 1}" in again.stdout + again.stderr
    assert "Running stage 'ingest'" not in again.stdout  # only the interrupted stage and later ones run
    history = read_json(repo / paths.MODEL_DIR / paths.HISTORY_FILE)
    assert history["resumed_from_epoch"] == killed_at + 1 and len(history["epochs"]) == OVERRIDES["train.epochs"]
    assert read_json(repo / "reports/register/registration.json")["version"] == "1"
