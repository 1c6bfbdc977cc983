"""The registry adapter resolves `models:/` URIs through its own client on Keel's store, never through
MLflow's process-wide registry URI (which Keel does not set): with no MLFLOW_TRACKING_URI, the embedded
store in the working directory is the one read."""

import mlflow
import mlflow.pyfunc
import pytest
from mlflow import MlflowClient

from components.core.errors import RegistryError
from components.lifecycle import registry
from components.lifecycle.explanations import pick_version
from components.lifecycle.tracking import tracking_uri


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input


def _point_mlflows_globals_at(uri: str, monkeypatch) -> None:
    """Set MLflow's process-wide tracking and registry URIs for this test only (no env var, undone after)."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    monkeypatch.setattr(tracking_utils, "_tracking_uri", uri)
    monkeypatch.setattr(registry_utils, "_registry_uri", uri)


def test_models_uris_resolve_on_keels_store_without_the_global_uri(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    store = tracking_uri()  # the embedded sqlite store in the working directory
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    exp = client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
    run = client.create_run(exp)
    _point_mlflows_globals_at(store, monkeypatch)
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.pyfunc.log_model(name="model", python_model=Echo(), registered_model_name="echo", pip_requirements=[])
    client.set_registered_model_alias("echo", "staging", "1")
    _point_mlflows_globals_at(f"sqlite:///{tmp_path / 'elsewhere.db'}", monkeypatch)  # a store with no "echo"

    for uri in ("models:/echo/1", "models:/echo@staging"):
        assert registry.load_pyfunc(uri).metadata.run_id == run.info.run_id
    with pytest.raises(RegistryError, match="models:/echo/2"):
        registry.load_pyfunc("models:/echo/2")


def test_an_unregistered_model_is_named_as_such_not_as_a_missing_alias(mlflow_store, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from flows.cli import app

    monkeypatch.chdir(tmp_path)
    client = MlflowClient(tracking_uri=mlflow_store, registry_uri=mlflow_store)
    client.create_registered_model("echo")
    client.create_model_version("echo", source=(tmp_path / "m").as_uri())
    with pytest.raises(RegistryError, match=r"'echo': no version holds @production \(run `keel promote echo`\)"):
        registry.require_alias("echo", "production")
    with pytest.raises(RegistryError, match=r"no version holds @canary \(it has no aliases\)"):
        registry.require_alias("echo", "canary")
    client.create_model_version("echo", source=(tmp_path / "m").as_uri())
    client.set_registered_model_alias("echo", "staging", "2")
    client.set_registered_model_alias("echo", "shadow", "1")
    (tmp_path / "rows.csv").write_text("x\n1\n")
    for argv in (["predict", "echo", "rows.csv", "out.parquet"], ["serve", "echo"]):  # what the user reads
        result = CliRunner().invoke(app, [*argv, "--alias", "canary"])
        assert result.exit_code == 1, result.output
        assert "no version holds @canary (its aliases: @shadow (v1), @staging (v2))" in result.output
        assert "keel promote" not in result.output
    digits = CliRunner().invoke(app, ["predict", "echo", "rows.csv", "out.parquet", "--alias", "1"])
    assert digits.exit_code == 1 and "for version 1 use `keel predict --version 1`" in digits.output, digits.output
    both = CliRunner().invoke(app, ["predict", "echo", "rows.csv", "out.parquet", "--alias", "shadow", "-v", "1"])
    assert both.exit_code == 2 and "pass --alias or --version, not both" in both.output, both.output
    with pytest.raises(RegistryError, match=r"'ecko': not in the registry"):
        registry.require_alias("ecko", "production")
    with pytest.raises(RegistryError, match=r"'ecko': not in the registry"):  # keel explain's choice of version
        pick_version("ecko", None, None)
    runner = CliRunner()
    assert runner.invoke(app, ["history", "echo"]).exit_code == 0  # registered, never moved: an empty history
    result = runner.invoke(app, ["history", "ecko"])
    assert result.exit_code == 1 and "'ecko': not in the registry" in result.output
