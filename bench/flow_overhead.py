"""The Prefect training flow vs calling the same components directly: total wall time and per task.

    python bench/flow_overhead.py [--epochs 5]

Runs in a temporary folder with its own MLflow store and Prefect home, each side in a fresh process.
Direct: the six stage calls, then the same calls again in the same process (warm). Flow: the first run
(which also starts Prefect's temporary server), a warm uncached run in the same process
(PREFECT_TASKS_REFRESH_CACHE: every task runs again, as after a param change that invalidates every step),
then a run with nothing changed (every task served from the cache). Prints `flow/direct = X` for the first
and the warm run (goal <= 1.3) and the per-task overhead of the warm run (goal <= 50 ms).
"""

from __future__ import annotations

import argparse
import json
import os
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
        ("evaluate", lambda: evaluate.run(params.evaluate, paths.MODEL_DIR, paths.FEATURES_DIR, paths.REPORTS_DIR)),
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
    from flows.training_flow import training_flow

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
                      "tasks": asyncio.run(task_times(state.state_details.flow_run_id))}
    print(json.dumps(out))
"""


def run_child(mode: str, cwd: Path, env: dict[str, str]) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, mode], cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


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
        results = {}
        for mode in ("direct", "flow"):
            work = tmp / mode
            work.mkdir()
            (work / "params.yaml").write_text(text)
            (work / "prefect.toml").write_text((root / "prefect.toml").read_text())
            env["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
            t = time.perf_counter()
            results[mode] = run_child(mode, work, env) | {"process": time.perf_counter() - t}
    direct, flow = results["direct"], results["flow"]
    print(f"{'task':<10}{'direct s':>10}{'flow s':>10}{'warm direct':>12}{'warm flow':>11}{'overhead':>10}"
          f"{'cached':>8}")
    for name, d in direct["first"]["tasks"].items():
        f, wd = flow["first"]["tasks"].get(name, float("nan")), direct["warm"]["tasks"][name]
        wf, c = flow["warm"]["tasks"].get(name, float("nan")), flow["cached"]["tasks"].get(name, float("nan"))
        print(f"{name:<10}{d:>10.3f}{f:>10.3f}{wd:>12.3f}{wf:>11.3f}{wf - wd:>10.3f}{c:>8.3f}")
    for label in ("first", "warm"):
        d, f = direct[label]["total"], flow[label]["total"]
        print(f"{'total ' + label:<20}direct {d:.2f} s, flow {f:.2f} s")
    in_tasks = sum(flow["first"]["tasks"].values())
    print(f"first flow run outside its tasks (temporary server start, run/state API calls): "
          f"{flow['first']['total'] - in_tasks:.2f} s")
    per_task = (flow["warm"]["total"] - direct["warm"]["total"]) / len(direct["warm"]["tasks"])
    print(f"flow/direct = {flow['first']['total'] / direct['first']['total']:.2f} (first run in a fresh process, "
          f"temporary server included; goal <= 1.3)")
    print(f"flow/direct = {flow['warm']['total'] / direct['warm']['total']:.2f} (warm, uncached: every task runs; "
          f"goal <= 1.3)")
    print(f"per-task overhead (warm) = {per_task * 1000:.0f} ms (goal <= 50 ms); cached re-run: "
          f"{flow['cached']['total']:.2f} s")
    out = root / "bench/results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow_overhead.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
