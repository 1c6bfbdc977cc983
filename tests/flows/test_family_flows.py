"""The Prefect flow runs the series family too (same components as `dvc exp run`), on tiny settings."""

import pytest

from flows.training_flow import training_flow
from tests.helpers import write_params

pytestmark = pytest.mark.slow


def test_forecasting_flow_scores_against_the_baselines_and_registers(tmp_path, monkeypatch, mlflow_store):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path / "params.yaml", {"model": "forecasting", "train.progress": False,
                                            "train.forecasting.epochs": 3, "train.forecasting.hidden": 8,
                                            "train.forecasting.members": 1, "evaluate.forecasting.backtest.origins": 1,
                                            "register.forecasting.max": {"mase": 100.0,
                                                                         "mase_vs_best_baseline": 100.0}})
    summary = training_flow("params.yaml")
    assert summary.model_name == "co2-forecasting" and summary.staged
    assert {"mase", "coverage80", "pinball", "snaive_mase", "ets_mase", "arima_mase"} <= set(summary.metrics)
    assert summary.metrics["snaive_mase"] == pytest.approx(1.4496, abs=1e-3)  # one origin: the holdout


def test_a_plugin_family_runs_in_the_flow_without_editing_keel(tmp_path, monkeypatch, mlflow_store):
    """`mlp` comes from the installed example package (examples/keel-wine), through `keel.families`."""
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path / "params.yaml", {"train.progress": False, "train.mlp.epochs": 30})
    summary = training_flow("params.yaml", model="mlp")
    assert summary.model_name == "wine-mlp" and summary.staged and summary.metrics["accuracy"] >= 0.9
