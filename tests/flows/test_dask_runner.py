"""The flow's data tasks on an existing Dask cluster (a real scheduler + worker on 127.0.0.1)."""

import pytest

from flows.training_flow import for_environment, training_flow
from tests.helpers import write_params

pytestmark = pytest.mark.slow


def test_data_tasks_run_on_the_dask_cluster_from_the_environment(tmp_path, monkeypatch, mlflow_store,
                                                                 tiny_overrides):
    from distributed import LocalCluster

    monkeypatch.chdir(tmp_path)
    write_params(tmp_path / "params.yaml", tiny_overrides)
    assert for_environment() is training_flow  # no KEEL_DASK_ADDRESS: the default runner
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        monkeypatch.setenv("KEEL_DASK_ADDRESS", cluster.scheduler_address)
        summary = for_environment()("params.yaml")
        done = set(cluster.scheduler.task_prefixes)
    assert summary.staged and summary.version == "1"
    assert done == {"ingest_task", "validate_task", "features_task"}  # train, evaluate, register: in the flow
