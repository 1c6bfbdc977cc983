"""The monitoring loop on real parts: a registered digits-cnn scores a clean file and a rotated one with
`keel predict`; monitor_flow (real Prefect engine) reports no drift then drift with the columns and the
embedding test named, emits its events, keeps the reports offline-readable and attaches them to the version
in MLflow. The `retrain-on-drift` deployment of prefect.yaml, applied with its trigger, gets a training run
from the drift event and none from the clean check; that run completes and never promotes. `keel serve`
logs what it answered even when killed with SIGKILL; `keel feedback` labels turn into the performance test;
`keel suite infer` feeds `validate.suite: both`, visible in Data Docs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow import MlflowClient
from prefect import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
from prefect.events import DeploymentTriggerTypes
from prefect.flow_engine import run_flow
from pydantic import TypeAdapter
from typer.testing import CliRunner

from components.core import paths
from components.inference.scorelog import store
from components.lifecycle import promote
from components.serving import batch
from flows.cli import app
from flows.monitor_flow import monitor_flow
from flows.training_flow import training_flow
from tests.conftest import TINY
from tests.helpers import ROOT, write_params

pytestmark = pytest.mark.slow
MODEL = "digits-cnn"


@pytest.fixture(scope="module")
def project(tmp_path_factory, digits_frame):
    from scipy.ndimage import rotate

    root = tmp_path_factory.mktemp("monitoring")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("PYTHONPATH", str(ROOT))  # train's worker processes start in `root`: import this checkout
        write_params(root / "params.yaml", TINY)
        assert training_flow("params.yaml").version == "1"  # through Prefect: the retrain below reuses its cache
        assert promote.run(MODEL, "1").promoted
        # the log stays in the write-ahead segments until a writer closes (the serve test kills one)
        write_params(root / "params.yaml", {"monitor.log.flush_s": 3600.0}, base=root / "params.yaml")
        sample = digits_frame.sample(n=300, random_state=3)
        sample.drop(columns="label").to_csv(root / "clean.csv", index=False)
        images = sample.drop(columns="label").to_numpy().reshape(-1, 8, 8)
        turned = np.stack([rotate(im, 20, reshape=False, order=1) for im in images]).reshape(-1, 64)
        pd.DataFrame(np.clip(np.rint(turned), 0, 16), columns=sample.columns[:-1]).to_csv(root / "rotated.csv",
                                                                                           index=False)
        sample[["label"]].to_csv(root / "labels.csv", index=False)
        yield root


@pytest.fixture(scope="module")
def retrain(project):
    """prefect.yaml's `retrain-on-drift` deployment of training_flow, applied with its trigger: its id."""
    spec = next(d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]
                if d["name"] == "retrain-on-drift")
    assert spec["entrypoint"] == "flows/training_flow.py:training_flow"
    triggers = [TypeAdapter(DeploymentTriggerTypes).validate_python(t) for t in spec["triggers"]]
    return training_flow.to_deployment(name=spec["name"], parameters=spec["parameters"], triggers=triggers).apply()


def retrain_runs(deployment_id, want: int = 0, timeout: float = 60) -> list:
    """The flow runs of the retrain deployment (the automation creates them asynchronously)."""
    deadline = time.time() + timeout
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))
            if len(runs) >= want or time.time() > deadline:
                return runs
            time.sleep(1)


def events(prefix: str, want: int, timeout: float = 60) -> list[dict]:
    """Events of the harness's server whose name starts with `prefix` (they arrive asynchronously)."""
    from prefect.settings import PREFECT_API_URL

    deadline, found = time.time() + timeout, []
    while time.time() < deadline and len(found) < want:
        page = httpx.post(f"{PREFECT_API_URL.value()}/events/filter", timeout=30,
                          json={"filter": {"event": {"prefix": [prefix]}}, "limit": 50}).json()
        found = page["events"]
        time.sleep(1)
    return found


def test_clean_then_rotated_batch_no_drift_then_drift_with_events_and_reports(project, retrain):
    clean = batch.run(MODEL, project / "clean.csv", project / "p1.parquet")
    first = monitor_flow(MODEL)
    assert (first.status, first.rows, first.version, first.family) == ("no_drift", 300, "1", "cnn"), first.summary
    assert store.read_window(paths.INFERENCE_LOG_DIR, MODEL)[0]["request_id"].unique().tolist() == [clean.request_id]
    assert len(events("keel.model.checked", 1)) == 1  # the clean check's event went through the server...
    time.sleep(5)
    assert retrain_runs(retrain) == []  # ...and started no training run

    batch.run(MODEL, project / "rotated.csv", project / "p2.parquet")
    second = monitor_flow(MODEL)  # window `new`: only the rotated rows
    assert second.status == "drift" and second.rows == 300, second.summary
    assert "embedding" in second.fired and any(f.startswith("column:px_") for f in second.fired)
    assert second.summary.startswith("DRIFT:")

    history = [json.loads(line) for line in (project / "reports/monitor" / MODEL / "history.jsonl").open()]
    assert [h["status"] for h in history] == ["no_drift", "drift"]
    page = (second.report_dir / "drift_report.html").read_text()
    assert "<script" not in page and "<link" not in page and "http://" not in page and "https://" not in page
    assert "embedding" in page and json.loads((second.report_dir / "drift_report.json").read_text())["drift"]
    uri = f"sqlite:///{project / 'mlflow.db'}"
    tags = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version(MODEL, "1").tags
    assert tags["monitor.drift"] == "true" and tags["monitor.report"].endswith(second.report_dir.name)
    assert (project / "mlartifacts").exists() and list((project / "mlartifacts").rglob("monitor/*/drift_report.html"))

    got = events("keel.model.", 2)
    by_name = {e["event"]: e for e in got}
    assert set(by_name) == {"keel.model.checked", "keel.model.drift"}, got
    drift = by_name["keel.model.drift"]
    assert drift["resource"]["prefect.resource.id"] == f"keel.model.{MODEL}"
    assert drift["resource"]["keel.family"] == "cnn"
    assert "embedding" in drift["payload"]["fired"]

    started = retrain_runs(retrain, want=1)  # the trigger of prefect.yaml turned the drift event into a run
    assert len(started) == 1 and started[0].parameters == {"model": "cnn"}, started
    assert started[0].state.is_scheduled(), started[0]


def test_the_run_drift_started_runs_the_pipeline_and_never_promotes(project, retrain):
    (run,) = retrain_runs(retrain)
    # what a worker does with the run, in-process: the whole pipeline on the current data and params. Nothing
    # changed since v1 here, so every step comes from the cache and the run ends at version 1 (with a changed
    # param, train re-runs and registers v2 at the bar: ~90 s more, left to tests/flows/test_training_flow.py)
    summary = run_flow(training_flow, flow_run=run, parameters=run.parameters)
    assert (summary.model_name, summary.version) == (MODEL, "1")
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run.id).state.is_completed()
    uri = f"sqlite:///{project / 'mlflow.db'}"
    registry = MlflowClient(tracking_uri=uri, registry_uri=uri)
    assert str(registry.get_model_version_by_alias(MODEL, "production").version) == "1"  # drift never promotes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_logs_what_it_acknowledged_even_when_killed(project, digits_frame):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", MODEL, "--port", str(port)], cwd=project,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    url, deadline = f"http://127.0.0.1:{port}", time.time() + 180
    while time.time() < deadline:
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        try:
            urllib.request.urlopen(f"{url}/ping", timeout=5)
            break
        except OSError:
            time.sleep(0.5)
    pixels = digits_frame.drop(columns="label").head(10)
    acknowledged = []
    for i in range(4):
        body = json.dumps({"dataframe_split": {"columns": list(pixels.columns), "data": pixels.values.tolist()}})
        req = urllib.request.Request(f"{url}/invocations", data=body.encode(), headers={
            "Content-Type": "application/json", "X-Request-ID": f"serve-{i}"})
        with urllib.request.urlopen(req, timeout=60) as r:
            acknowledged.append(json.loads(r.read())["request_id"])
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert acknowledged == [f"serve-{i}" for i in range(4)]
    assert list(store.wal_dir(paths.INFERENCE_LOG_DIR, MODEL).glob("*.arrows"))  # on disk, not yet Parquet

    result = CliRunner().invoke(app, ["monitor", MODEL, "--window", "all"])  # recovers the dead writer's rows
    assert result.exit_code == 2, result.output  # the window holds the rotated batch: drift, exit 2
    frame, _ = store.read_window(paths.INFERENCE_LOG_DIR, MODEL)
    served = frame[frame["source"] == "serve"]
    assert sorted(served["request_id"].unique()) == acknowledged and len(served) == 40
    assert not list(store.wal_dir(paths.INFERENCE_LOG_DIR, MODEL).glob("*.arrows"))


def test_feedback_labels_score_the_window(project):
    rotated = pd.read_parquet(project / "p2.parquet")
    request_id = batch.read_metadata(project / "p2.parquet")["request_id"]
    garbage = project / "garbage.csv"
    pd.read_csv(project / "labels.csv").astype(str).replace({"0": "0x"}).to_csv(garbage, index=False)
    refused = CliRunner().invoke(app, ["feedback", MODEL, str(garbage), "--request-id", request_id])
    assert refused.exit_code == 1 and f"{garbage}: column 'label':" in refused.output, refused.output
    assert "not among the classes of digits-cnn v1 [0, 1, 2" in refused.output and "'0x'" in refused.output
    assert store.read_feedback(paths.INFERENCE_LOG_DIR, MODEL).empty  # nothing stored
    stored = CliRunner().invoke(app, ["feedback", MODEL, str(project / "labels.csv"), "--request-id", request_id])
    assert stored.exit_code == 0, stored.output
    history_file = project / "reports/monitor" / MODEL / "history.jsonl"
    # window `new` (the default): no new rows, but the rotated rows, checked before, got their labels since
    late = CliRunner().invoke(app, ["monitor", MODEL])
    assert late.exit_code in (0, 2) and "performance test on 300 rows labelled since" in late.output, late.output
    assert "performance:accuracy" in late.output and "not checked" not in late.output, late.output
    entry = json.loads(history_file.read_text().splitlines()[-1])
    assert (entry["status"] != "too_small", entry["rows"], entry["labelled"]) == (True, 0, 300), entry
    again = CliRunner().invoke(app, ["monitor", MODEL])  # nothing new: neither rows nor labels
    assert again.exit_code == 0 and "0 rows in the window" in again.output, again.output
    assert json.loads(history_file.read_text().splitlines()[-1])["labelled"] == 0
    result = CliRunner().invoke(app, ["monitor", MODEL, "--window", "all"])
    assert result.exit_code == 2 and "performance:accuracy" in result.output, result.output
    history = [json.loads(line) for line in history_file.open()]
    assert history[-1]["labelled"] == len(rotated) == 300


def test_inferred_suite_runs_in_validate_and_shows_in_data_docs(project):
    from components.config.params import load_params
    from components.stages import validate

    out = CliRunner().invoke(app, ["suite", "infer", MODEL])
    assert out.exit_code == 0, out.output
    suite = json.loads((project / "suites" / "digits.json").read_text())
    assert len(suite["expectations"]) > 100 and (project / "reports/suites/digits/index.html").is_file()
    # the command's JSON is its last output, opening at a line's start (a log line before it may hold a brace)
    start = max(i for i, line in enumerate(out.output.splitlines()) if line.startswith("{"))
    printed, _ = json.JSONDecoder().raw_decode("\n".join(out.output.splitlines()[start:]))
    page = Path(printed["data_docs"])  # the suite's own page, readable offline
    assert page.is_file() and "inferred by keel suite infer" in page.read_text()
    params = load_params(project / "params.yaml", {"validate.suite": "both"})
    report = validate.run(params.validation, paths.RAW_DIR, project / "validation-both", suites_dir=project / "suites")
    assert report.success and report.evaluated > 192  # the params suite (3 checks x 64 pixels, ...) and more
    docs = project / "validation-both/data_docs"
    suite_pages = "".join(p.read_text() for p in docs.rglob("expectations/**/*.html"))
    result_pages = "".join(p.read_text() for p in docs.rglob("validations/**/*.html"))
    assert "inferred by keel suite infer" in suite_pages and "derived_pixel_mean" in result_pages
