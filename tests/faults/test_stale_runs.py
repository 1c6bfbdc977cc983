"""Runs left RUNNING by a killed Keel process: the next run (or `keel recover-runs`) marks them FAILED; runs of
live processes and of other hosts stay RUNNING. Real processes, real SIGKILL, real MLflow on sqlite."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from mlflow import MlflowClient
from typer.testing import CliRunner

from components.lifecycle import stale_runs, tracking
from flows.cli import app

ROOT = Path(__file__).resolve().parents[2]
OWNER = """
import sys, time
from components.lifecycle import tracking
with tracking.start_run(sys.argv[1], run_name=sys.argv[2]) as ref:
    print(ref.run_id, flush=True)
    time.sleep(600)
"""


def owner(experiment: str, name: str) -> tuple[subprocess.Popen, str]:
    """A process that opens a Keel run and keeps it open; returns it and the run id it printed."""
    proc = subprocess.Popen([sys.executable, "-c", OWNER, experiment, name], cwd=ROOT, stdout=subprocess.PIPE,
                            text=True, env=os.environ | {"PYTHONPATH": str(ROOT)})
    return proc, proc.stdout.readline().strip()


def test_killed_owner_is_failed_by_the_next_run_live_and_foreign_ones_are_not(mlflow_store):
    procs = {n: owner(exp, n) for n, exp in (("killed", "m"), ("live", "m"), ("elsewhere", "other"))}
    client = MlflowClient(tracking_uri=mlflow_store)
    try:
        for name in ("killed", "elsewhere"):
            procs[name][0].send_signal(signal.SIGKILL)
            procs[name][0].wait()
        ids = {n: run_id for n, (_, run_id) in procs.items()}
        assert all(client.get_run(i).info.status == "RUNNING" for i in ids.values())
        assert client.get_run(ids["live"]).data.tags[stale_runs.OWNER_HOST] == socket.gethostname()
        exp = client.get_experiment_by_name("m").experiment_id
        live_tags = client.get_run(ids["live"]).data.tags
        reused = client.create_run(exp, tags={k: live_tags[k] for k in stale_runs.OWNER_TAGS}  # a live pid, other start
                                   | {stale_runs.OWNER_TICKS: "1"}).info.run_id
        foreign = client.create_run(exp, tags={stale_runs.OWNER_HOST: "another-host", stale_runs.OWNER_PID: "1",
                                               stale_runs.OWNER_STARTED: "1000.0"}).info.run_id

        with tracking.start_run("m", run_name="next") as ref:  # the next Keel run in the experiment
            assert client.get_run(ref.run_id).data.tags[stale_runs.OWNER_PID] == str(os.getpid())

        def status(run_id):
            run = client.get_run(run_id)
            return run.info.status, run.data.tags.get(stale_runs.FAILURE_TAG, "")

        for run_id in (ids["killed"], reused):
            state, why = status(run_id)
            assert state == "FAILED" and why.startswith("process gone (pid ") and f"@{socket.gethostname()}:" in why
        assert "is not running" in status(ids["killed"])[1] and "now belongs to a process" in status(reused)[1]
        assert client.get_run(ids["killed"]).info.end_time is not None
        for run_id in (ids["live"], foreign, ids["elsewhere"]):  # alive, another host, another experiment
            assert status(run_id) == ("RUNNING", "")

        out = CliRunner().invoke(app, ["recover-runs"])  # the explicit sweep: every experiment of the store
        assert out.exit_code == 0, out.output
        assert [json.loads(line)["run_id"] for line in out.stdout.splitlines()] == [ids["elsewhere"]]
        assert status(ids["elsewhere"])[0] == "FAILED"
        assert status(ids["live"]) == ("RUNNING", "") and status(foreign) == ("RUNNING", "")
        with tracking.start_run("m", run_id=ids["killed"]):  # resumed (train from its state): it lives again
            pass
        tags = client.get_run(ids["killed"]).data.tags
        assert status(ids["killed"]) == ("FINISHED", "") and "is not running" in tags["keel.failure.before"]
        missing = CliRunner().invoke(app, ["recover-runs", "-e", "nope"])
        assert missing.exit_code == 1 and "no experiment named 'nope'" in missing.output
    finally:
        for proc, _ in procs.values():
            proc.kill()
            proc.wait()


def dead_owner_run(client, exp: str) -> str:
    """A RUNNING run whose owner (this host, namespace and boot) is a reaped process."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return client.create_run(exp, tags=stale_runs.owner_tags() | {stale_runs.OWNER_PID: str(proc.pid)}).info.run_id


def test_a_run_resumed_while_the_sweep_runs_is_left_to_its_new_owner(mlflow_store, monkeypatch):
    """evaluate/register resume train's run: the new owner's tags go in before start_run sets it RUNNING, and a
    sweep that found the dead owner re-reads the run before it marks it FAILED."""
    import mlflow

    exp = tracking.ensure_experiment("m")
    client = MlflowClient(tracking_uri=mlflow_store)
    taken, dead = dead_owner_run(client, exp), dead_owner_run(client, exp)

    class Resumed(MlflowClient):  # another process resumes `taken` right after the sweep's search
        def search_runs(self, *args, **kwargs):
            page = super().search_runs(*args, **kwargs)
            self.set_tag(taken, stale_runs.OWNER_PID, "999999")
            return page

    assert [r.run_id for r in stale_runs.sweep(Resumed(tracking_uri=mlflow_store), [exp])] == [dead]
    assert client.get_run(taken).info.status == "RUNNING" and client.get_run(dead).info.status == "FAILED"

    seen, real = [], mlflow.start_run
    monkeypatch.setattr(mlflow, "start_run", lambda **kw: seen.append(client.get_run(kw["run_id"]).data.tags)
                        or real(**kw))
    with tracking.start_run("m", run_id=dead):
        pass
    assert seen[0][stale_runs.OWNER_PID] == str(os.getpid())  # owned before it is RUNNING again


def test_sweep_pages_through_every_running_run(mlflow_store, monkeypatch):
    monkeypatch.setattr(stale_runs, "PAGE", 2)
    exp = tracking.ensure_experiment("m")
    client = MlflowClient(tracking_uri=mlflow_store)
    runs = {dead_owner_run(client, exp) for _ in range(5)}
    assert {r.run_id for r in stale_runs.sweep(client, [exp])} == runs
