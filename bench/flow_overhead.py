"""The Prefect training flow vs calling the same components directly: total wall time and per task.

    python bench/flow_overhead.py [--epochs 5]

Runs in a temporary folder with its own MLflow store and Prefect home, each side in a fresh process.
Direct: the six stage calls, then the same calls again in the same process (warm). Flow: the first run
(which also starts Prefect's temporary server), a warm uncached run in the same process
(PREFECT_TASKS_REFRESH_CACHE: every task runs again, as after a param change that invalidates every step),
then a run with nothing changed (every task served from the cache). The flow side runs twice: on Prefect's
temporary server (started by the flow's own process, as `python -m flows.training_flow` does with no
PREFECT_API_URL) and on a local `prefect server start` that is already up (PREFECT_API_URL set: the path of
`make up` and of a scheduled deployment, where the server outlives the run). Prints `flow/direct = X` for the
first run (goal <= 1.3) and the warm run of each, and the per-task overhead of the warm run (goal <= 50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from pathlib import Path
from components.stages import evaluate, features, ingest, register, train, validate
from components.core import paths
from components.config.params import load_params

mode = sys.argv[1]
params = load_params("params.yaml")
if mode == "direct":
    times = {}
    steps = [
        ("ingest", lambda: ingest.run(params.ingest, paths.RAW_DIR)),
        ("validate", lambda: validate.run(params.validation, paths.RAW_DIR, paths.VALIDATION_DIR)),
        ("features", lambda: features.run(params.features, paths.RAW_DIR, paths.VALIDATION_DIR, paths.FEATURES_DIR)),
        ("train", lambda: train.run(params, paths.FEATURES_DIR, paths.MODEL_DIR)),
        ("evaluate", lambda: evaluate.run(params.evaluate, paths.MODEL_DIR, paths.FEATURES_DIR, paths.REPORTS_DIR,
                                             train=params.train)),
        ("register", lambda: register.run(params.registration)),
    ]
    out = {}
    for label in ("first", "warm"):
        times = {}
        t0 = time.perf_counter()
        for name, fn in steps:
            t = time.perf_counter(); fn(); times[name] = time.perf_counter() - t
        out[label] = {"total": time.perf_counter() - t0, "tasks": times}
    print(json.dumps(out))
else:
    import asyncio
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings
    import flows.tasks
    from components.stages.pipeline import STAGES
    from flows.training_flow import training_flow

    # per-task overhead, measured where it happens: flows.tasks.run (Prefect's task machinery, cache key,
    # state API calls) minus the stage function it calls
    inner, outer, run_task = {}, {}, flows.tasks.run
    def timed_run(stage, params):
        t = time.perf_counter(); r = run_task(stage, params); outer[stage.name] = time.perf_counter() - t; return r
    for st in STAGES:
        def timed_stage(*a, _f=st.run, _n=st.name, **k):
            t = time.perf_counter(); r = _f(*a, **k); inner[_n] = time.perf_counter() - t; return r
        object.__setattr__(st, "run", timed_stage)
    flows.tasks.run = timed_run

    async def task_times(flow_run_id):
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
        async with get_client() as c:
            runs = await c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        return {r.name.rsplit("-", 1)[0]: r.total_run_time.total_seconds() for r in runs}

    out = {}
    for label in ("first", "warm", "cached"):
        t = time.perf_counter()
        with temporary_settings(updates={PREFECT_TASKS_REFRESH_CACHE: label == "warm"}):
            state = training_flow(return_state=True)
        out[label] = {"total": time.perf_counter() - t, "state": state.name,
                      "tasks": asyncio.run(task_times(state.state_details.flow_run_id)),
                      "overhead": {n: outer[n] - inner.get(n, 0.0) for n in outer}}
        inner.clear(); outer.clear()
    print(json.dumps(out))
"""


def run_child(mode: str, cwd: Path, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def local_server(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`prefect server start` on a free loopback port; returns the process and its API URL once healthy."""
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                             "--port", str(port)], env={**env, "PREFECT_HOME": str(home)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url, deadline = f"http://127.0.0.1:{port}/api", time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"prefect server on port {port} did not answer within 180 s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=5)
    args = p.parse_args()
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        text = (root / "params.yaml").read_text().replace("epochs: 40", f"epochs: {args.epochs}")
        env = {**os.environ, "PREFECT_HOME": str(tmp / ".prefect"), "PREFECT_LOGGING_LEVEL": "WARNING",
               "KEEL_LOG_LEVEL": "WARNING", "TQDM_DISABLE": "1", "PYTHONPATH": str(root)}
        env.pop("PREFECT_API_URL", None)
        server, url = local_server(tmp / ".prefect-server", env)
        results = {}
        try:
            for mode in ("direct", "flow", "server"):
                work = tmp / mode
                work.mkdir()
                (work / "params.yaml").write_text(text)
                (work / "prefect.toml").write_text((root / "prefect.toml").read_text())
                child_env = env | {"MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}
                if mode == "server":
                    child_env["PREFECT_API_URL"] = url
                t = time.perf_counter()
                results[mode] = run_child("direct" if mode == "direct" else "flow", work, child_env) | {
                    "process": time.perf_counter() - t}
        finally:
            server.terminate()
            server.wait(timeout=30)
    report(results)
    out = root / "bench/results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow_overhead.json").write_text(json.dumps(results, indent=2))


def report(results: dict) -> None:
    """The per-task table (flow on the temporary server) and the goal lines for both servers."""
    direct, flow = results["direct"], results["flow"]
    print(f"{'task':<10}{'direct s':>10}{'flow s':>10}{'warm direct':>12}{'warm flow':>11}{'overhead':>10}"
          f"{'cached':>8}")
    for name, d in direct["first"]["tasks"].items():
        f, wd = flow["first"]["tasks"].get(name, float("nan")), direct["warm"]["tasks"][name]
        wf, c = flow["warm"]["tasks"].get(name, float("nan")), flow["cached"]["tasks"].get(name, float("nan"))
        print(f"{name:<10}{d:>10.3f}{f:>10.3f}{wd:>12.3f}{wf:>11.3f}{flow['warm']['overhead'][name]:>10.3f}{c:>8.3f}")
    for mode, where in (("flow", "temporary server"), ("server", "local server already running")):
        run = results[mode]
        for label in ("first", "warm"):
            print(f"{where + ', ' + label:<42}direct {direct[label]['total']:.2f} s, flow {run[label]['total']:.2f} s")
        print(f"{where}: first flow run outside its tasks (server start, run/state API calls): "
              f"{run['first']['total'] - sum(run['first']['tasks'].values()):.2f} s")
        per_task = statistics.median(run["warm"]["overhead"].values())
        print(f"flow/direct = {run['first']['total'] / direct['first']['total']:.2f} ({where}: first run in a fresh "
              f"process; goal <= 1.3)")
        print(f"flow/direct = {run['warm']['total'] / direct['warm']['total']:.2f} ({where}: warm, uncached, every "
              f"task runs; Prefect's fixed cost per flow run, the cached re-run: {run['cached']['total']:.2f} s)")
        print(f"per-task overhead (warm, {where}) = {per_task * 1000:.0f} ms median, "
              f"{max(run['warm']['overhead'].values()) * 1000:.0f} ms max (goal <= 50 ms; the task call minus the "
              f"stage function); cached re-run: {run['cached']['total']:.2f} s")


if __name__ == "__main__":
    main()
