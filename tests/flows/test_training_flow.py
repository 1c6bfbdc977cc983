"""training_flow end to end on the real Prefect engine, with a throw-away MLflow store."""

import json
import shutil

import numpy as np
import pytest
from mlflow import MlflowClient

from components.core import paths
from components.core.errors import DataValidationError, KeelError
from flows.training_flow import training_flow
from tests.helpers import write_params


@pytest.fixture
def project(tmp_path, monkeypatch, mlflow_store, tiny_overrides):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path / "params.yaml", tiny_overrides)
    return tmp_path


def _versions(uri, name="digits-cnn"):
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))


def _runs(uri):
    client = MlflowClient(tracking_uri=uri)
    return [r for e in client.search_experiments() for r in client.search_runs([e.experiment_id])]


def test_flow_trains_registers_and_skips_unchanged_steps(project, mlflow_store):
    summary = training_flow("params.yaml")
    assert summary.model_name == "digits-cnn" and summary.version == "1" and not summary.unchanged
    assert summary.staged and summary.metrics["accuracy"] >= 0.5
    mv = MlflowClient(tracking_uri=mlflow_store).get_model_version_by_alias("digits-cnn", "staging")
    assert str(mv.version) == "1" and mv.tags["gx_success"] == "true" and mv.tags["run_id"] == summary.run_id
    assert json.loads(mv.tags["keel.alias_moves"])[0][2:] == ["staging", None]  # the move, for `keel history`
    flow_run_id = mv.tags["prefect_flow_run_id"]  # an in-process flow (no worker) names its flow run too
    run_tags = MlflowClient(tracking_uri=mlflow_store).get_run(summary.run_id).data.tags
    assert run_tags["keel.prefect_flow_run_id"] == flow_run_id and flow_of(flow_run_id) == "training"
    assert len(mv.tags["keel.inputs_digest"]) == 64
    model_mtime = (project / paths.MODEL_DIR / paths.CHECKPOINT_FILE).stat().st_mtime_ns

    again = training_flow("params.yaml")  # nothing changed: stops after validate, reports v1
    assert again.unchanged and (again.version, again.run_id, again.staged) == ("1", summary.run_id, True)
    assert again.metrics == summary.metrics  # the run's metrics, not the tags' 6 digits
    assert _versions(mlflow_store) == [1] and len(_runs(mlflow_store)) == 1
    assert (project / paths.MODEL_DIR / paths.CHECKPOINT_FILE).stat().st_mtime_ns == model_mtime

    client = MlflowClient(tracking_uri=mlflow_store)
    client.delete_registered_model_alias("digits-cnn", "staging")  # v1 passed its bars but lost @staging
    restaged = training_flow("params.yaml")  # not "unchanged, staged": register runs again and re-stages v1
    assert not restaged.unchanged and (restaged.version, restaged.staged) == ("1", True)
    assert str(client.get_model_version_by_alias("digits-cnn", "staging").version) == "1"
    assert _versions(mlflow_store) == [1]

    for folder in ("data", "models", "reports"):  # a nightly run's fresh clone: no outputs, nothing cached applies
        shutil.rmtree(project / folder)
    nightly = training_flow("params.yaml")  # the same data, params and code: unchanged since v1
    assert nightly.unchanged and nightly.version == "1" and _versions(mlflow_store) == [1]
    assert not (project / paths.MODEL_DIR).exists()  # nothing trained

    raw_mtime = (project / paths.RAW_DIR / paths.RAW_FILE).stat().st_mtime_ns
    changed = training_flow("params.yaml", {"train.lr": 0.002})  # only train and later re-run
    assert changed.version == "2" and changed.run_id != summary.run_id and not changed.unchanged
    assert (project / paths.RAW_DIR / paths.RAW_FILE).stat().st_mtime_ns == raw_mtime
    assert (project / paths.FEATURES_DIR / paths.SPLIT_FILE).is_file()  # deleted outputs are rebuilt
    assert len(_runs(mlflow_store)) == 2

    forced = training_flow("params.yaml", {"train.lr": 0.002}, force=True)  # unchanged, trained anyway
    assert forced.version == "3" and forced.run_id != changed.run_id and not forced.unchanged
    assert _versions(mlflow_store) == [1, 2, 3]

    with pytest.raises(DataValidationError):  # a failed gate leaves its failed summary in reports/validation
        training_flow("params.yaml", {"train.lr": 0.002, "validate.min_rows": 100_000})
    after = training_flow("params.yaml", {"train.lr": 0.002})  # validate's cached success does not hide it
    summary_file = project / paths.VALIDATION_DIR / paths.VALIDATION_FILE
    assert after.unchanged and after.version == "3" and json.loads(summary_file.read_text())["success"]


def test_digest_follows_the_suite_used_and_a_half_registered_version_is_finished(project, mlflow_store, monkeypatch):
    from components.stages import register

    inferred = {"validate.suite": "inferred"}
    first = training_flow("params.yaml", inferred)  # validate writes suites/digits.json, then the digest is taken
    suite = project / "suites" / "digits.json"
    assert not first.unchanged and suite.is_file()
    assert training_flow("params.yaml", inferred).unchanged  # the written suite is no change
    suite.write_text(json.dumps(json.loads(suite.read_text()), indent=1))  # any byte of the suite used counts
    assert not training_flow("params.yaml", inferred).unchanged

    def killed(*_a, **_k):
        raise KeelError("register killed before the version was complete")  # a final error: no retry

    lower = inferred | {"register.cnn.min": {"accuracy": 0.4}}  # a new version of the same run
    with monkeypatch.context() as m:
        m.setattr(register, "attach_files", killed)
        with pytest.raises(KeelError, match="register killed"):
            training_flow("params.yaml", lower)
    assert _versions(mlflow_store) == [1, 2]
    done = training_flow("params.yaml", lower)  # not "unchanged": register finishes v2
    mv = MlflowClient(tracking_uri=mlflow_store).get_model_version("digits-cnn", "2")
    assert not done.unchanged and (done.version, done.staged) == ("2", True) and _versions(mlflow_store) == [1, 2]
    assert mv.tags["keel.registration_complete"] == "true" and len(mv.tags["keel.inputs_digest"]) == 64
    staged = MlflowClient(tracking_uri=mlflow_store).get_model_version_by_alias("digits-cnn", "staging")
    assert str(staged.version) == "2"


def test_bad_data_fails_the_flow_and_registers_nothing(project, mlflow_store, digits_frame):
    bad = digits_frame.copy()
    bad.loc[[5, 9], "px_12"] = np.nan
    bad.to_parquet(project / "bad.parquet", index=False)
    with pytest.raises(DataValidationError) as e:
        training_flow("params.yaml", {"ingest.source": str(project / "bad.parquet")})
    assert "expect_column_values_to_not_be_null(px_12): 2 unexpected" in str(e.value)
    assert _versions(mlflow_store) == [] and _runs(mlflow_store) == []
    assert not (project / paths.FEATURES_DIR).exists()
    logged = run_logs("training")  # the stages' own log lines reach the run's logs in the Prefect API
    assert any(m.startswith("ingest: ") and "bad.parquet" in m for m in logged), logged[:20]


def test_no_flow_run_no_flow_run_tag():
    from components.lifecycle import tracking

    assert "prefect_flow_run_id" not in tracking.origin_tags()  # prefect is imported here, but no flow runs


def flow_of(flow_run_id: str) -> str:
    """The name of the flow of a flow run, as the Prefect API has it."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow(client.read_flow_run(flow_run_id).flow_id).name


def run_logs(flow_name: str) -> list[str]:
    """The log messages of the latest run of `flow_name`, as the Prefect UI shows them."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, LogFilter, LogFilterFlowRunId
    from prefect.client.schemas.sorting import FlowRunSort
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()  # send what is queued
    with get_client(sync_client=True) as client:
        [run] = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])),
                                      sort=FlowRunSort.START_TIME_DESC, limit=1)
        return [log.message for log in client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(
            any_=[run.id])), limit=200)]
