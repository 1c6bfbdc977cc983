"""Live training curves: train's one per-epoch hook sends the same figures to MLflow and to dvclive."""

from __future__ import annotations

import csv
import json

from mlflow import MlflowClient

from components.config.params import load_params
from components.core import paths
from components.stages import dvcyaml, train


def test_dvclive_files_hold_the_values_mlflow_got(workspace, mlflow_store, tmp_path):
    _, params_file, features = workspace
    live = tmp_path / "live"
    result = train.run(load_params(params_file), features, tmp_path / "model", live_dir=live)
    client = MlflowClient(mlflow_store)
    tsvs = sorted((live / paths.LIVE_METRICS).glob("*.tsv"))
    assert {f.stem for f in tsvs} == {"train_loss", "val_loss", "val_accuracy", "seconds", "samples_per_s", "lr"}
    for f in tsvs:
        with f.open() as fh:
            dvclive = {int(r["step"]): float(r[f.stem]) for r in csv.DictReader(fh, delimiter="\t")}
        mlflow = {m.step: m.value for m in client.get_metric_history(result.run_id, f.stem)}
        assert dvclive == mlflow and sorted(dvclive) == [1, 2], f.stem  # epochs 1 and 2, same numbers
    summary = json.loads((live / paths.METRICS_FILE).read_text())
    assert summary["step"] == 2 and summary["val_loss"] == dvclive_last(live, "val_loss")


def dvclive_last(live, name):
    rows = (live / paths.LIVE_METRICS / f"{name}.tsv").read_text().splitlines()
    return float(rows[-1].split("\t")[1])


def test_dvc_yaml_declares_the_live_metrics_and_plots():
    doc = dvcyaml.dvc_yaml()
    live = paths.LIVE_DIR
    assert {str(live / paths.METRICS_FILE): {"cache": False}} in doc["stages"]["train"]["metrics"]
    assert {str(live / paths.LIVE_METRICS): {"cache": False}} in doc["stages"]["train"]["outs"]
    assert {str(live / paths.LIVE_METRICS): {"x": "step"}} in doc["plots"]
    assert f"--live {live}" in doc["stages"]["train"]["cmd"]
