"""The media families through the Prefect flow (the same components as `dvc exp run`), on small settings where
the model learns enough to be checked against its baseline: generated real-image data -> validate -> features ->
train (+ the family's baseline) -> evaluate -> register @staging -> the registered pyfunc scores raw files
(bytes, as a client sends) with its per-call options. `quality`: minutes of CPU training. CI runs the tiny
`dvc exp run` of each family (tests/pipeline/test_family_{detection,video}.py: clean-venv scoring, `keel
predict` on a folder, `keel serve` uploads); the full-size bars are the `quality` tests there."""

from pathlib import Path

import pandas as pd
import pytest

from flows.training_flow import training_flow
from tests.helpers import write_params

pytestmark = [pytest.mark.slow, pytest.mark.quality]  # 200-400 s each on a shared 2-core machine

DETECTION = {"model": "detection", "train.progress": False, "validate.min_rows": 10,
             "ingest.detection.scenes": {"n_train": 300, "n_val": 40, "n_test": 80},
             "train.detection": {"epochs": 8, "batch_size": 16, "lr": 0.006, "patience": 10, "channels": [8, 16, 32],
                                 "blocks": 0, "head_channels": 16, "giou_weight": 0.0},
             "register.detection.min": {"map50": 0.3}}
VIDEO = {"model": "video", "train.progress": False, "validate.min_rows": 10,
         "ingest.video.clips": {"n_train": 400, "n_val": 60, "n_test": 100, "height": 32, "width": 32, "n_frames": 16,
                                "min_size": 10, "max_size": 14, "min_steps": 6},
         "ingest.video.decode": {"frames": 16, "height": 24, "width": 24},
         "validate.video.frame_size": [32, 32],
         "train.video": {"epochs": 10, "channels": [8, 16], "frame_dim": 32, "gru_hidden": 32},
         "register.video.min": {"accuracy": 0.45}}


def registered(uri: str, name: str):
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return mlflow.pyfunc.load_model(f"models:/{name}@staging")


def test_detection_flow_trains_registers_and_scores_raw_images(tmp_path, monkeypatch, mlflow_store):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path / "params.yaml", DETECTION)
    summary = training_flow("params.yaml")
    m = summary.metrics
    assert summary.model_name == "scenes-detection" and summary.staged, summary
    assert m["map50"] >= 0.3 and m["map"] <= m["map50"] and m["n_test"] == 80, m
    assert 0.2 < m["baseline_map50"] < 0.9, m  # the classical pipeline, same test scenes
    assert Path("reports/plots/boxes.png").is_file() and Path("reports/plots/pr_curves.png").is_file()

    files = sorted(Path("data/raw/scenes/images").glob("test-*.png"))[:6]
    model = registered(mlflow_store, "scenes-detection")
    out = model.predict(pd.DataFrame({"image": [f.read_bytes() for f in files]}))
    assert list(out.columns) == ["n_boxes", "boxes", "labels", "scores"] and out["n_boxes"].sum() > 0
    strict = model.predict(pd.DataFrame({"image": [f.read_bytes() for f in files]}), params={"score_threshold": 0.99})
    assert strict["n_boxes"].sum() < out["n_boxes"].sum()


def test_video_flow_beats_the_frame_average_and_scores_raw_clips(tmp_path, monkeypatch, mlflow_store):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path / "params.yaml", VIDEO)
    summary = training_flow("params.yaml")
    m = summary.metrics
    assert summary.model_name == "crossings-video" and summary.staged, summary
    assert m["accuracy"] >= 0.45 and m["accuracy"] - m["baseline_accuracy"] >= 0.15, m

    clips = sorted(Path("data/raw/clips/test/left-right").glob("*.mp4"))[:3]
    model = registered(mlflow_store, "crossings-video")
    out = model.predict(pd.DataFrame({"video": [c.read_bytes() for c in clips]}))
    assert out.filter(like="p_").shape[1] == 4 and out["prediction"].isin(
        ["left-left", "left-right", "right-left", "right-right"]).all()
