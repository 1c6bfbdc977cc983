"""The inference log (components/inference/scorelog): rows land in Parquet by model and day with their
features, prediction and embedding; sampling and back-pressure are counted; a writer killed with SIGKILL
loses nothing it acknowledged; the size bound deletes the oldest days."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from components.config.monitor import InferenceLogConfig
from components.data.transforms.image import ImageTransform
from components.inference.checkpoint import Checkpoint, build_model, save_checkpoint
from components.inference.scorelog import store
from components.inference.scorelog.rows import RowSummarizer, image_summary
from components.inference.scorelog.segments import read_segment
from components.inference.scorelog.writer import InferenceLog, recover
from components.models.cnn import CnnConfig
from tests.helpers import ROOT


def _checkpoint(frame: pd.DataFrame, side: int) -> Checkpoint:
    t = ImageTransform.fit(frame, {"image_shape": [side, side]})
    cfg = CnnConfig(channels=[4], hidden=8)
    model = build_model("cnn", cfg, t, (1, side, side)).eval()
    return Checkpoint(model=model, family="cnn", config=cfg, transform=t, input_shape=(1, side, side), meta={})


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory):
    from sklearn.datasets import load_digits

    d = load_digits()
    frame = pd.DataFrame(d.data, columns=[f"px_{i}" for i in range(64)]).assign(label=d.target)
    return _checkpoint(frame.head(200), 8)


def outputs(n: int) -> pd.DataFrame:
    return pd.DataFrame({"prediction": np.arange(n) % 10, "p_0": np.zeros(n)})


def test_rows_land_in_parquet_with_features_prediction_and_embedding(ckpt, tmp_path):
    rows = pd.DataFrame(np.random.default_rng(0).integers(0, 17, (50, 64)).astype(float),
                        columns=ckpt.transform.columns)
    cfg = InferenceLogConfig(flush_s=3600)
    log = InferenceLog(tmp_path, "digits-cnn", "3", RowSummarizer(ckpt, cfg), cfg, "batch")
    first = log.record(rows.head(30), outputs(30), "req-a")
    log.record(rows.tail(20), outputs(20), "req-a")  # the next chunk of the same file: rows 30..49
    other = log.record(rows.head(5), outputs(5))
    log.close()
    frame, files = store.read_window(tmp_path, "digits-cnn")
    assert first == "req-a" and len(other) == 32 and len(files) == 1
    assert files[0].parent.name.startswith("date=") and files[0].parent.parent.name == "model=digits-cnn"
    a = frame[frame.request_id == "req-a"].sort_values("row")
    assert a["row"].tolist() == list(range(50)) and set(frame["version"]) == {"3"} and set(frame["source"]) == {"batch"}
    assert np.array_equal(a[[f"f.px_{i}" for i in range(64)]].to_numpy(), rows.to_numpy())
    assert a["prediction"].tolist() == outputs(30)["prediction"].tolist() + outputs(20)["prediction"].tolist()
    assert len(frame["embedding"].iloc[0]) == 8  # the CNN's penultimate layer (hidden=8)
    assert log.counts == {"seen": 55, "sampled_out": 0, "logged": 55, "dropped": 0, "flushed": 55}
    assert store.read_stats(tmp_path, "digits-cnn")["flushed"] == 55
    assert not list(store.wal_dir(tmp_path, "digits-cnn").glob("*.arrows"))  # converted and deleted


def test_sampling_and_back_pressure_are_counted(ckpt, tmp_path):
    rows = pd.DataFrame(np.ones((1000, 64)), columns=ckpt.transform.columns)
    cfg = InferenceLogConfig(flush_s=3600, sample=0.5, max_pending_rows=800)
    log = InferenceLog(tmp_path, "m", "1", RowSummarizer(ckpt, cfg), cfg, "serve")
    for _ in range(3):  # ~500 rows each; the converter never runs in between: past 800 pending, rows are shed
        log.record(rows, outputs(1000))
    log.close()
    c = log.counts
    assert c["seen"] == 3000 and c["seen"] == c["sampled_out"] + c["logged"] + c["dropped"]
    assert 400 < c["logged"] <= 800 and c["dropped"] > 0 and c["flushed"] == c["logged"]
    assert len(store.read_window(tmp_path, "m")[0]) == c["logged"]


WRITER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np, pandas as pd
    from components.config.monitor import InferenceLogConfig
    from components.inference.checkpoint import load_checkpoint
    from components.inference.scorelog.rows import RowSummarizer
    from components.inference.scorelog.writer import InferenceLog
    ckpt = load_checkpoint(sys.argv[1])
    cfg = InferenceLogConfig(flush_s=3600)  # nothing reaches Parquet before the kill
    log = InferenceLog(sys.argv[2], "digits-cnn", "1", RowSummarizer(ckpt, cfg), cfg, "serve")
    rows = pd.DataFrame(np.full((7, 64), 3.0), columns=ckpt.transform.columns)
    out = pd.DataFrame({"prediction": np.arange(7)})
    for i in range(12):
        print(log.record(rows, out, f"req-{i}"), flush=True)  # acknowledged
    os.kill(os.getpid(), signal.SIGKILL)
""")


def test_a_killed_writer_loses_nothing_it_acknowledged(ckpt, tmp_path):
    path = save_checkpoint(tmp_path / "model.pt", ckpt.model, "cnn", ckpt.config, ckpt.transform, ckpt.input_shape)
    done = subprocess.run([sys.executable, "-c", WRITER, str(path), str(tmp_path / "log")], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == -9, done.stderr[-2000:]
    acknowledged = done.stdout.split()
    segments = list(store.wal_dir(tmp_path / "log", "digits-cnn").glob("*.arrows"))
    assert len(acknowledged) == 12 and len(segments) == 1 and store.part_files(tmp_path / "log", "digits-cnn") == []
    with open(segments[0], "ab") as f:
        f.write(b"\xff\xff\xff\xff\x88\x00")  # a torn message after the last acknowledged one
    assert read_segment(segments[0]).num_rows == 84
    summarizer = RowSummarizer(ckpt, InferenceLogConfig())
    assert recover(tmp_path / "log", "digits-cnn", lambda v: None) == 0  # no summarizer for v1: left alone
    assert recover(tmp_path / "log", "digits-cnn", lambda v: summarizer if v == "1" else None) == 84
    frame, _ = store.read_window(tmp_path / "log", "digits-cnn")
    assert sorted(set(frame["request_id"])) == sorted(acknowledged) and len(frame) == 84
    assert not segments[0].exists()
    assert recover(tmp_path / "log", "digits-cnn", lambda v: summarizer) == 0  # idempotent


def test_wide_images_are_logged_as_a_summary(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(0, 256, (40, 784)).astype(float), columns=[f"px_{i}" for i in range(784)])
    ckpt = _checkpoint(frame.assign(label=rng.integers(0, 3, 40)), 28)
    features = RowSummarizer(ckpt, InferenceLogConfig()).features(frame)
    assert list(features.columns[:5]) == ["pixel_mean", "pixel_std", "pixel_min", "pixel_max", "pixel_at_min"]
    assert features.shape == (40, 5 + 16) and np.allclose(features["pixel_mean"], frame.mean(axis=1))
    cells = image_summary(np.arange(16.0)[None, :], 4, 4)
    assert cells["cell_0_0"].item() == 0 and cells["cell_3_3"].item() == 15


def test_the_size_bound_deletes_the_oldest_days(tmp_path):
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        folder = store.model_dir(tmp_path, "m") / f"date={day}"
        folder.mkdir(parents=True)
        (folder / f"part-1-{day}.parquet").write_bytes(b"x" * 1000)
    removed = store.prune(tmp_path, "m", max_bytes=1500)
    assert [p.name for p in removed] == ["date=2026-01-01", "date=2026-01-02"]
    assert store.log_bytes(tmp_path, "m") == 1000


def test_feedback_keeps_the_latest_label_per_row(tmp_path):
    store.write_feedback(tmp_path, "m", pd.DataFrame({"request_id": ["a", "a"], "row": [0, 1], "label": [3, 4]}))
    store.write_feedback(tmp_path, "m", pd.DataFrame({"request_id": ["a"], "row": [1], "label": [5]}))
    got = store.read_feedback(tmp_path, "m").sort_values("row")
    assert got["label"].tolist() == [3, 5]
    with pytest.raises(Exception, match="missing \\['row'\\]"):
        store.write_feedback(tmp_path, "m", pd.DataFrame({"request_id": ["a"], "label": [1]}))
