"""The team path end to end: PostgreSQL-backed MLflow and Prefect servers with auth, work pools, deployments
with schedules, a worker that runs two training runs of the deployment at once (each in its own clone), and
the versions, alias and ledger they leave on PostgreSQL."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import datetime

import httpx
import psycopg2
import pytest
from mlflow import MlflowClient

from tests.conftest import TINY
from tests.helpers import write_params

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def api(stack, method: str, path: str, auth: bool = True, **kw) -> httpx.Response:
    user, _, pw = stack.env["PREFECT_API_AUTH_STRING"].partition(":")
    return httpx.request(method, f"{stack.prefect_url}{path}", auth=(user, pw) if auth else None, timeout=30, **kw)


def test_services_come_up_healthy_and_fast(stack):
    assert float(stack.env["KEEL_UP_SECONDS"]) < 240  # the bar is 120 s on a quiet machine; CI boxes are shared
    assert httpx.get(f"{stack.mlflow_url}/health", timeout=10).status_code == 200
    assert api(stack, "GET", "/health").json() is True


def test_requests_without_credentials_are_refused(stack):
    search = f"{stack.mlflow_url}/api/2.0/mlflow/experiments/search"
    assert httpx.post(search, json={"max_results": 1}, timeout=10).status_code == 401
    assert httpx.post(search, json={"max_results": 1}, timeout=10, auth=("admin", "wrong")).status_code == 401
    creds = (stack.env["MLFLOW_TRACKING_USERNAME"], stack.env["MLFLOW_TRACKING_PASSWORD"])
    assert httpx.post(search, json={"max_results": 1}, timeout=10, auth=creds).status_code == 200
    assert api(stack, "POST", "/flows/filter", auth=False, json={}).status_code == 401
    assert api(stack, "POST", "/flows/filter", json={}).status_code == 200


def test_work_pools_exist(stack):
    pools = {p["name"]: p for p in api(stack, "POST", "/work_pools/filter", json={}).json()}
    assert {"cpu", "gpu"} <= set(pools) and pools["cpu"]["type"] == "process"


@pytest.fixture(scope="module")
def deployments(stack):
    stack.sh("prefect", "deploy", "--all", "--no-prompt")
    found = api(stack, "POST", "/deployments/filter", json={}).json()
    return {d["name"]: d for d in found}


def test_deployments_carry_their_schedules_and_pools(stack, deployments):
    nightly = deployments["nightly-training"]
    assert nightly["work_pool_name"] == "cpu" and nightly["parameters"] == {"model": "cnn"}
    assert [s["schedule"]["cron"] for s in nightly["schedules"]] == ["0 2 * * *"]
    assert deployments["weekly-training-gpu"]["work_pool_name"] == "gpu"
    assert [s["schedule"]["cron"] for s in deployments["nightly-batch-scoring"]["schedules"]] == ["0 5 * * *"]
    assert deployments["promotion"]["schedules"] == [] and deployments["promotion"]["parameters"]["model"]


@pytest.fixture(scope="module")
def worker(stack):
    return stack.spawn(sys.executable, "-m", "flows.cli", "worker", "--pool", "cpu")


def wait_for(stack, run_id: str, timeout: float = 900) -> tuple[dict, str]:
    """The run's final flow run record and its log text."""
    deadline, run = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        run = api(stack, "GET", f"/flow_runs/{run_id}").json()
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            break
        time.sleep(3)
    logs = api(stack, "POST", "/logs/filter", json={"logs": {"flow_run_id": {"any_": [run_id]}}}).json()
    return run, "\n".join(x["message"] for x in logs)


# tiny training (~the CI pipeline's size); the register bar low enough that both runs stage their version
TWO_RUNS = {"model": "cnn", "overrides": {**TINY, "train.epochs": 3}}


def test_two_training_runs_at_once_each_in_its_own_clone(stack, deployments, worker, monkeypatch):
    dep = deployments["nightly-training"]
    ids = [api(stack, "POST", f"/deployments/{dep['id']}/create_flow_run", json={"parameters": TWO_RUNS}).json()["id"]
           for _ in range(2)]
    done = [wait_for(stack, i) for i in ids]
    for run, messages in done:
        assert run["state"]["type"] == "COMPLETED", json.dumps(run["state"])[:500] + messages[-3000:]
    starts = [datetime.fromisoformat(run["start_time"]) for run, _ in done]
    ends = [datetime.fromisoformat(run["end_time"]) for run, _ in done]
    assert max(starts) < min(ends), f"the runs did not overlap: {starts} {ends}"  # at once, not queued
    folders = [re.search(r"working directory: (\S+)", messages).group(1) for _, messages in done]
    assert folders[0] != folders[1] and not any(f.startswith(str(stack.repo)) for f in folders), folders

    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.setenv(key, stack.env[key])
    client = MlflowClient(tracking_uri=stack.mlflow_url, registry_uri=stack.mlflow_url)
    versions = client.search_model_versions("name='digits-cnn'")
    assert sorted(int(v.version) for v in versions) == [1, 2]  # one version each, none lost or doubled
    assert len({v.run_id for v in versions}) == 2
    for v in versions:  # each complete: its own finished run, split and lineage
        assert client.get_run(v.run_id).info.status == "FINISHED" and v.tags["family"] == "cnn"
        assert v.tags["split_uri"].startswith("runs:/" + v.run_id) and v.tags["gate.absolute"] == "pass"
        assert client.get_run(v.run_id).info.artifact_uri.startswith("mlflow-artifacts:")
    assert len({v.tags["split_sha256"] for v in versions}) == 1  # same data and params: the same frozen split
    staged = client.get_model_version_by_alias("digits-cnn", "staging")
    with psycopg2.connect(**admin(stack, stack.env["KEEL_PG_MLFLOW_DB"])) as conn:
        cur = conn.cursor()
        cur.execute("SELECT version FROM registered_model_aliases WHERE name = %s", ("digits-cnn",))
        assert cur.fetchall() == [(int(staged.version),)]  # one alias, on the version the later run staged


def test_promotion_writes_the_ledger_in_the_postgres_registry(stack, monkeypatch):
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.setenv(key, stack.env[key])
    staged = MlflowClient(tracking_uri=stack.mlflow_url).get_model_version_by_alias("digits-cnn", "staging").version
    params = write_params(stack.repo / "two-runs-params.yaml", TWO_RUNS["overrides"])  # the bar they trained to
    stack.sh(sys.executable, "-m", "flows.cli", "promote", "digits-cnn", "--params", str(params))
    assert "production" in stack.sh(sys.executable, "-m", "flows.cli", "history", "digits-cnn").stdout
    with psycopg2.connect(stack.env["KEEL_LEDGER_DB_URL"].replace("+psycopg2", "")) as conn:
        cur = conn.cursor()
        cur.execute("SELECT model, to_version FROM keel_ledger")
        rows = cur.fetchall()
        cur.execute("SELECT state FROM keel_alias_intents")
        assert cur.fetchall() == [("done",)]  # no move left pending by the concurrent runs or the promotion
    with psycopg2.connect(**admin(stack, stack.env["KEEL_PG_MLFLOW_DB"])) as conn:  # the ledger role cannot read it
        cur = conn.cursor()
        cur.execute("SELECT version FROM registered_model_aliases WHERE name = 'digits-cnn' AND alias = 'production'")
        assert rows == [("digits-cnn", str(staged))] and cur.fetchone() == (int(staged),)


def admin(stack, db: str, role: str = "", password: str = "") -> dict:
    """psycopg2 connection settings for `role` (default: the admin role) on `db`."""
    e = stack.env
    return {"host": e["KEEL_HOST"], "port": e["KEEL_PG_PORT"], "dbname": db, "user": role or e["KEEL_PG_USER"],
            "password": password or e["KEEL_PG_PASSWORD"]}


def test_each_service_has_its_own_least_privileged_role(stack):
    e = stack.env
    mlflow_db, prefect_db = e["KEEL_PG_MLFLOW_DB"], e["KEEL_PG_PREFECT_DB"]
    roles = {"mlflow": (e["KEEL_PG_MLFLOW_ROLE"], e["KEEL_PG_MLFLOW_PASSWORD"]),
             "prefect": (e["KEEL_PG_PREFECT_ROLE"], e["KEEL_PG_PREFECT_PASSWORD"]),
             "ledger": (e["KEEL_PG_LEDGER_ROLE"], e["KEEL_PG_LEDGER_PASSWORD"])}
    assert e["KEEL_LEDGER_DB_URL"].startswith(f"postgresql+psycopg2://{roles['ledger'][0]}:")
    with psycopg2.connect(**admin(stack, "postgres")) as conn:
        cur = conn.cursor()
        cur.execute("SELECT rolname, rolsuper OR rolcreatedb OR rolcreaterole OR rolbypassrls FROM pg_roles "
                    "WHERE rolname = ANY(%s)", ([r for r, _ in roles.values()],))
        assert sorted(cur.fetchall()) == sorted((r, False) for r, _ in roles.values())
        cur.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ANY(%s)",
                    ([mlflow_db, prefect_db],))
        assert dict(cur.fetchall()) == {mlflow_db: roles["mlflow"][0], prefect_db: roles["prefect"][0]}
        cur.execute("SELECT DISTINCT datname, usename FROM pg_stat_activity WHERE datname = ANY(%s)",
                    ([mlflow_db, prefect_db],))
        servers = set(cur.fetchall())  # the servers' connections, each under its own role
        assert (mlflow_db, roles["mlflow"][0]) in servers and (prefect_db, roles["prefect"][0]) in servers
        assert not {u for _, u in servers} & {e["KEEL_PG_USER"]}
    for who, db in (("mlflow", prefect_db), ("prefect", mlflow_db), ("ledger", prefect_db)):
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            psycopg2.connect(**admin(stack, db, *roles[who]))
    from components.lifecycle import ledger

    assert ledger.history(ledger.engine_for(e["KEEL_LEDGER_DB_URL"]), "no-such-model") == []  # creates its tables
    with psycopg2.connect(**admin(stack, mlflow_db, *roles["ledger"])) as conn:  # its own schema, nothing else
        cur = conn.cursor()
        cur.execute("SELECT current_schema(), to_regclass('ledger.keel_ledger') IS NOT NULL")
        assert cur.fetchone() == ("ledger", True)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("SELECT count(*) FROM public.registered_models")


def test_screenshots_show_schedules_and_aliases(stack, deployments, tmp_path):
    if subprocess.run(["which", "chromium"], capture_output=True).returncode:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    done = stack.sh(sys.executable, "infra/screenshots.py", "--out", str(tmp_path), "--model", "digits-cnn",
                    timeout=240)
    seen = json.loads(done.stdout)
    assert "nightly-training" in seen["prefect"] and "At 02:00 AM every day" in seen["prefect"]
    assert "digits-cnn" in seen["mlflow"] and "staging" in seen["mlflow"]
    assert (tmp_path / "prefect-deployments.png").stat().st_size > 10_000
    assert (tmp_path / "mlflow-model.png").stat().st_size > 10_000


def test_backup_then_restore_keeps_the_registry_the_ledger_and_the_roles(stack, tmp_path, monkeypatch):
    out = tmp_path / "backup"
    stack.sh("bash", "infra/backup.sh", str(out))
    dumps = {p.name: p.stat().st_size for p in out.iterdir()}
    assert set(dumps) == {"mlflow.dump", "prefect.dump", "artifacts.tar.gz"} and min(dumps.values()) > 10_000
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.setenv(key, stack.env[key])
    client = MlflowClient(tracking_uri=stack.mlflow_url)
    before = sorted((v.version, v.run_id) for v in client.search_model_versions("name = 'digits-cnn'"))
    history = stack.sh(sys.executable, "-m", "flows.cli", "history", "digits-cnn").stdout
    stack.sh("bash", "infra/restore.sh", str(out), timeout=600)  # drops both databases, restores, restarts
    assert sorted((v.version, v.run_id) for v in client.search_model_versions("name = 'digits-cnn'")) == before
    assert stack.sh(sys.executable, "-m", "flows.cli", "history", "digits-cnn").stdout == history  # the ledger role
    e = stack.env
    with psycopg2.connect(**admin(stack, "postgres")) as conn:  # the restored databases keep their service owners
        cur = conn.cursor()
        cur.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ANY(%s)",
                    ([e["KEEL_PG_MLFLOW_DB"], e["KEEL_PG_PREFECT_DB"]],))
        assert dict(cur.fetchall()) == {e["KEEL_PG_MLFLOW_DB"]: e["KEEL_PG_MLFLOW_ROLE"],
                                        e["KEEL_PG_PREFECT_DB"]: e["KEEL_PG_PREFECT_ROLE"]}
    assert api(stack, "GET", "/health").status_code == 200 and api(stack, "POST", "/deployments/filter").json()


EMIT = """
import sys
from types import SimpleNamespace
from prefect.events import emit_event
from prefect.events.worker import EventsWorker
from flows.monitor_flow import event_of
drift = sys.argv[1] == "drift"
emit_event(**event_of(SimpleNamespace(model="digits-cnn", version="1", family="cnn", rows=300, drift=drift,
                                      status=sys.argv[1], fired=["embedding"] if drift else [], report_dir=None,
                                      report_uri=None)))
EventsWorker.drain_all()
"""


def _runs_of(stack, deployment: dict) -> list[dict]:
    return api(stack, "POST", "/flow_runs/filter", json={"flow_runs": {"deployment_id": {"any_": [deployment["id"]]}}}
               ).json()


def test_a_drift_event_starts_retrain_on_drift_and_a_clean_check_does_not(stack, deployments):
    retrain = deployments["retrain-on-drift"]
    assert deployments["hourly-monitoring"]["schedules"][0]["schedule"]["cron"] == "15 * * * *"
    automations = api(stack, "POST", "/automations/filter", json={}).json()
    assert "keel-retrain-on-drift" in [a["name"] for a in automations]

    stack.sh(sys.executable, "-c", EMIT, "no_drift")  # the event a clean check emits: keel.model.checked
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not api(stack, "POST", "/events/filter", json={
            "filter": {"event": {"name": ["keel.model.checked"]}}}).json()["events"]:
        time.sleep(1)
    time.sleep(5)
    assert _runs_of(stack, retrain) == []

    stack.sh(sys.executable, "-c", EMIT, "drift")
    deadline, runs = time.monotonic() + 90, []
    while time.monotonic() < deadline and not runs:
        runs = _runs_of(stack, retrain)
        time.sleep(1)
    assert len(runs) == 1 and runs[0]["parameters"] == {"model": "cnn"}, runs
    # what the run trains is test_worker_runs_the_training_deployment's business: do not keep the worker busy
    api(stack, "POST", f"/flow_runs/{runs[0]['id']}/set_state", json={"state": {"type": "CANCELLED"}, "force": True})
