"""Disk full on state and artifact writes: a named error (StorageFullError naming the file), the previous state
intact, no temporary file left behind.

The small disk is a real 1 MiB tmpfs filled to the last byte (ENOSPC) where this process may mount one (root);
elsewhere, the same folder under RLIMIT_FSIZE (EFBIG, the file-size limit), with every payload larger than
the limit (KEEL_FAULTS_DISK=rlimit forces it). The test's `disk` property (and output) says which ran."""

import errno
import os
import resource
import shutil
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from components.core.errors import StorageFullError
from components.core.io import read_json, write_json
from components.data.transforms.tabular import TabularTransform
from components.inference.checkpoint import build_model, load_checkpoint, save_checkpoint
from components.lifecycle import tracking
from components.models.linear import LinearConfig

LIMIT = 64 * 1024  # RLIMIT_FSIZE fallback; every payload below is larger


class SmallDisk:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True)
        mounted = os.environ.get("KEEL_FAULTS_DISK") != "rlimit" and os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True).returncode == 0
        self.how = "tmpfs" if mounted else "rlimit"

    @contextmanager
    def full(self):
        """Writes into the folder fail for lack of space while inside."""
        if self.how == "tmpfs":
            filler = self.folder / ".filler"
            with open(filler, "wb", buffering=0) as f:
                try:
                    while True:
                        f.write(b"\0" * 4096)
                except OSError as e:
                    assert e.errno == errno.ENOSPC
            try:
                yield
            finally:
                filler.unlink()
            return
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, handler)

    def close(self) -> None:
        if self.how == "tmpfs":
            subprocess.run(["umount", "-l", str(self.folder)], check=True)


@pytest.fixture
def disk(tmp_path, record_property):
    d = SmallDisk(tmp_path / "small")
    record_property("disk", d.how)
    print(f"small disk: {d.how}")
    yield d
    d.close()


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*.tmp")]


def test_state_writes_on_a_full_disk_name_the_file_and_keep_the_previous_one(disk):
    state = disk.folder / "reports" / "metrics.json"
    write_json(state, {"accuracy": 0.9})
    columns = [f"x{i}" for i in range(20_000)]
    transform = TabularTransform(columns=columns, mean=[0.0] * len(columns), std=[1.0] * len(columns),
                                 target_mean=0.0, target_std=1.0)
    model = build_model("linear", LinearConfig(), transform, (len(columns),))  # > LIMIT on disk
    ckpt = save_checkpoint(disk.folder / "models" / "model.pt", model, "linear", LinearConfig(), transform,
                           (len(columns),))
    before = ckpt.read_bytes()
    torch.nn.init.constant_(model.linear.weight, 1.0)
    with disk.full():
        with pytest.raises(StorageFullError) as e:
            write_json(state, {"accuracy": 0.1, "rows": list(range(20_000))})
        with pytest.raises(StorageFullError) as f:
            save_checkpoint(ckpt, model, "linear", LinearConfig(), transform, (len(columns),))
    for err, path in ((e, state), (f, ckpt)):
        assert str(err.value).startswith(f"{path}: cannot write it: ") and "previous file is intact" in str(err.value)
        assert ("No space left on device" if disk.how == "tmpfs" else "File too large") in str(err.value)
    assert read_json(state) == {"accuracy": 0.9} and ckpt.read_bytes() == before  # the previous state
    assert load_checkpoint(ckpt).model.linear.weight.abs().sum() != len(columns)  # the old weights, not the new
    assert leftovers(disk.folder) == []


def test_an_artifact_write_on_a_full_store_names_the_file(disk, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{disk.folder.parent / 'mlflow.db'}")
    shutil.rmtree(disk.folder / "lost+found", ignore_errors=True)
    os.symlink(disk.folder, disk.folder.parent / tracking.DEFAULT_ARTIFACTS)  # the store's artifacts: small disk
    small, big = tmp_path / "history.json", tmp_path / "report.json"
    small.write_text('{"epochs": 3}')
    big.write_bytes(b"1" * (LIMIT * 2))
    with tracking.start_run("disk-full") as ref:
        tracking.log_artifacts([small])
        with disk.full():
            with pytest.raises(StorageFullError) as e:
                tracking.log_artifacts([big], "reports")
    assert f"/{ref.run_id}/artifacts/reports/report.json: cannot write it: " in str(e.value)
    assert "uploading report.json" in str(e.value) and "nothing was registered" in str(e.value)
    kept = list(disk.folder.rglob("history.json"))
    assert len(kept) == 1 and kept[0].read_text() == '{"epochs": 3}'
