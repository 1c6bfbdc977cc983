"""training_flow: params -> ingest -> validate -> features -> train -> evaluate -> register, as Prefect tasks
built from the same stage declarations that dvc.yaml runs (components/stages/pipeline.py). Run locally,
no server needed:

    python -m flows.training_flow [--params params.yaml] [--force]

When the model's latest version was made from the same data, params and code (its `keel.inputs_digest` tag,
components/stages/inputs.py), the run stops after validate, prints "unchanged since v<N> ...: nothing
registered" and succeeds; `force` (`--force`, `keel train --force`) trains and registers anyway.

Data tasks (ingest, validate, features) go through the flow's task runner. With KEEL_DASK_ADDRESS set
(`tcp://scheduler:8786`), `for_environment()` gives the flow a DaskTaskRunner on that existing cluster:
start `dask scheduler` on one machine and `dask worker tcp://scheduler:8786` on each of the others, in
the project directory on a shared filesystem (stages read and write relative paths), with the same venv.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from components.config.params import load_params
from components.stages import inputs, register
from flows import tasks
from flows.logs import send_component_logs


class TrainSummary(register.Outcome):
    """What one training flow run produced (`unchanged`: nothing; `version` is the latest, made from the same
    inputs)."""

    unchanged: bool = False


@flow(name="training", log_prints=True)
def training_flow(params_path: str = "params.yaml", overrides: dict[str, Any] | None = None,
                  model: str | None = None, force: bool = False) -> TrainSummary:
    """Run the whole pipeline on the params file (with optional dotted-key overrides and model family). When the
    model's latest version was made from the same data, params and code (components/stages/inputs.py), stop
    after validate: nothing is trained or registered, unless `force` (which also bypasses train's, evaluate's
    and register's cache)."""
    send_component_logs()
    get_run_logger().info("working directory: %s", Path.cwd())  # a deployment's run: its own clone
    params = load_params(params_path, {**(overrides or {}), **({"model": model} if model else {})})
    for line in params.shadowed:  # a shared key the family's default replaces
        get_run_logger().warning("%s", line)
    head, rest = inputs.phases()
    done = {stage.name: tasks.run(stage, params) for stage in head}
    plan = inputs.plan(params, force)
    if plan.previous is not None:
        print(f"{plan.model_name}: unchanged since v{plan.previous.version} (same data, params and code): "
              "nothing registered")
        return TrainSummary(**register.outcome(plan.previous, params.registration.alias).model_dump(),
                            unchanged=True)
    for stage in rest:
        done[stage.name] = tasks.run(stage, params, refresh=plan.refresh(stage), **plan.extra(stage))
    reg = done["register"]
    get_run_logger().info("%s version %s %s", reg.model_name, reg.version,
                          f"-> @{reg.alias}" if reg.staged else f"not staged: {'; '.join(reg.reasons)}")
    return TrainSummary(model_name=reg.model_name, version=reg.version, staged=reg.staged, reasons=reg.reasons,
                        metrics=done["evaluate"].metrics, run_id=done["train"].run_id)


def for_environment(address: str | None = None):
    """training_flow on the Dask cluster at `address` (default: $KEEL_DASK_ADDRESS), else as it is."""
    address = address or os.environ.get("KEEL_DASK_ADDRESS")
    if not address:
        return training_flow
    from prefect_dask import DaskTaskRunner

    return training_flow.with_options(task_runner=DaskTaskRunner(address=address))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Run the Keel training flow locally.")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--force", action="store_true", help="train and register even when nothing changed")
    args = parser.parse_args()
    print(for_environment()(args.params, force=args.force).model_dump_json(indent=2))
