"""The Prefect training flow vs calling the same components directly: total wall time and per task.

    python bench/flow_overhead.py [--epochs 5]

Runs in a temporary folder with its own MLflow store and Prefect home. Order: direct calls, then the
flow (its first call also starts Prefect's temporary server, timed separately), then the flow again
with nothing changed (every task served from the cache).
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
    t0 = time.perf_counter()
    for name, fn in steps:
        t = time.perf_counter(); fn(); times[name] = time.perf_counter() - t
    print(json.dumps({"total": time.perf_counter() - t0, "tasks": times}))
else:
    import asyncio
    from prefect.client.orchestration import get_client
    from flows.training_flow import training_flow

    async def task_times(flow_run_id):
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
        async with get_client() as c:
            runs = await c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        return {r.name.rsplit("-", 1)[0]: r.total_run_time.total_seconds() for r in runs}

    out = {}
    for label in ("first", "cached"):
        t = time.perf_counter()
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
    print(f"{'task':<10}{'direct s':>10}{'flow s':>10}{'overhead s':>12}{'cached s':>10}")
    for name, d in direct["tasks"].items():
        f = flow["first"]["tasks"].get(name, float("nan"))
        c = flow["cached"]["tasks"].get(name, float("nan"))
        print(f"{name:<10}{d:>10.3f}{f:>10.3f}{f - d:>12.3f}{c:>10.3f}")
    print(f"{'total':<10}{direct['total']:>10.2f}{flow['first']['total']:>10.2f}"
          f"{flow['first']['total'] - direct['total']:>12.2f}{flow['cached']['total']:>10.2f}")
    in_tasks = sum(flow["first"]["tasks"].values())
    print(f"flow run outside its tasks (temporary server start, run/state API calls): "
          f"{flow['first']['total'] - in_tasks:.2f} s; tasks sum {in_tasks:.2f} s vs direct {direct['total']:.2f} s")
    print(f"flow / direct (first run, incl. temporary-server start): {flow['first']['total'] / direct['total']:.2f}x; "
          f"cached re-run: {flow['cached']['total']:.2f} s")
    out = root / "bench/results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "flow_overhead.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
