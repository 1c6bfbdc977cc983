"""`keel tune`: a tiny real study (digits CNN, 2 epochs): child runs under one parent, a pruned trial, the
proposal (params.yaml untouched, its `dvc exp run -S` line applies through DVC's own parser), resumption."""

from __future__ import annotations

import shlex
import shutil

import optuna
import yaml
from mlflow import MlflowClient
from typer.testing import CliRunner

from components.config.params import load_params
from components.tuning.tune import tune
from flows.cli import app
from tests.helpers import ROOT


class OddTrialsPruned(optuna.pruners.BasePruner):
    """Prunes odd-numbered trials at their first report, so a pruned trial is certain and the others complete."""

    def prune(self, study, trial) -> bool:
        return trial.number % 2 == 1


def children(client, parent):
    exp = client.get_run(parent).info.experiment_id
    return client.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")


def test_tune_nests_prunes_proposes_and_resumes(workspace, mlflow_store, tmp_path):
    root, params_file, _ = workspace
    before = params_file.read_bytes()
    first = tune(params_file, "cnn", 2, {"train.epochs": 2}, root=root, pruner=OddTrialsPruned())
    assert first.trials == {"complete": 1, "pruned": 1} and first.best_trial == 0
    client = MlflowClient(mlflow_store)
    runs = {int(r.data.tags["keel.tune.trial"]): r for r in children(client, first.parent_run_id)}
    assert sorted(runs) == [0, 1]
    epochs = {n: len(client.get_metric_history(r.info.run_id, "val_loss")) for n, r in runs.items()}
    assert epochs == {0: 2, 1: 1} and runs[1].data.tags["keel.tune.pruned_at_epoch"] == "1"  # stopped there
    assert float(runs[0].data.params["train.lr"]) == first.best["lr"]  # the child trained with its trial's values
    assert runs[0].data.metrics["best_val_loss"] == first.best_val_loss

    doc = yaml.safe_load(first.proposal.read_text())
    assert doc["params"] == {f"train.cnn.{k}": v for k, v in first.best.items()} and doc["apply"] == first.command
    assert params_file.read_bytes() == before  # proposed, never applied
    from dvc.utils.hydra import apply_overrides  # the printed line, through DVC's own `-S` parser

    applied = shutil.copy(params_file, tmp_path / "params.yaml")
    apply_overrides(applied, shlex.split(first.command)[4::2])
    p = load_params(applied)
    assert p.model == "cnn" and p.train.lr == first.best["lr"] and p.train.batch_size == first.best["batch_size"]
    assert p.arch.dropout == first.best["dropout"] and p.arch.hidden == first.best["hidden"]

    again = tune(params_file, "cnn", 1, {"train.epochs": 2}, root=root, pruner=OddTrialsPruned())
    assert again.trials == {"complete": 2, "pruned": 1} and again.parent_run_id == first.parent_run_id
    assert sorted(int(r.data.tags["keel.tune.trial"]) for r in children(client, first.parent_run_id)) == [0, 1, 2]


def test_tune_refuses_a_family_without_a_space_and_a_missing_val_split():
    runner = CliRunner()
    out = runner.invoke(app, ["tune", "forecasting", "--trials", "1", "-p", str(ROOT / "params.yaml")])
    assert out.exit_code == 1 and "declares no search space" in out.output
    out = runner.invoke(app, ["tune", "cnn", "-p", str(ROOT / "params.yaml"), "-S", "features.cnn.val_size=0"])
    assert out.exit_code == 1 and "tuning needs a validation split" in out.output
