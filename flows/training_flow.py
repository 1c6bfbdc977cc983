"""training_flow: ingest -> validate -> features -> train -> evaluate -> register, as Prefect tasks around
the same component functions that `dvc repro` runs. Run locally, no server needed:

    python -m flows.training_flow [--params params.yaml]

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
from pydantic import BaseModel

from components import evaluate, features, ingest, paths, register, train, validate
from components.config import load_params
from flows.cache import files, section, stage
from flows.retries import io_retries

COMPONENTS = Path(ingest.__file__).parent


IO_RETRIES = io_retries()


@stage(code=[COMPONENTS / "ingest.py", COMPONENTS / "sources.py", COMPONENTS / "idx.py"], inputs=lambda p: [],
       outputs=files(paths.MANIFEST_FILE, under="out_dir"),
       config=lambda p: {"cfg": p["cfg"].model_dump(mode="json"), "kind": p["kind"],
                         "source": ingest.source_fingerprint(p["cfg"])}, data=True, **IO_RETRIES)
def ingest_task(cfg, out_dir: Path, kind: str) -> ingest.IngestResult:
    return ingest.run(cfg, out_dir, kind)


@stage(code=[COMPONENTS / "validate.py", COMPONENTS / "suites.py"], inputs=files("raw_dir"),
       outputs=files(paths.VALIDATION_FILE, under="out_dir"), config=section(), data=True)
def validate_task(cfg, raw_dir: Path, out_dir: Path) -> validate.ValidationReport:
    return validate.run(cfg, raw_dir, out_dir)


@stage(code=[COMPONENTS / "features.py", COMPONENTS / "transforms.py", COMPONENTS / "series.py"],
       inputs=files("raw_dir"),
       outputs=files(paths.SPLIT_FILE, under="out_dir"),
       config=lambda p: {"cfg": p["cfg"].model_dump(mode="json"), "task": p["task"]}, data=True)
def features_task(cfg, raw_dir: Path, validation_dir: Path, out_dir: Path, task: str) -> features.FeaturesResult:
    return features.run(cfg, raw_dir, validation_dir, out_dir, task)


@stage(code=[COMPONENTS / "train.py", COMPONENTS / "models"], inputs=files("features_dir"),
       outputs=files(paths.CHECKPOINT_FILE, under="out_dir"), config=lambda p: train.cache_config(p["params"]),
       tracked=True, **IO_RETRIES)
def train_task(params, features_dir: Path, out_dir: Path) -> train.TrainResult:
    # In a child process (torchrun): a killed trainer fails this task, and the retry resumes its state.
    return train.run(params, features_dir, out_dir, paths.RESUME_DIR, isolate=True)


@stage(code=[COMPONENTS / "evaluate.py", COMPONENTS / "inference.py", COMPONENTS / "tasks",
             COMPONENTS / "series.py"],
       inputs=files("model_dir", "features_dir"),
       outputs=files(paths.METRICS_FILE, under="reports_dir"), config=section(), tracked=True)
def evaluate_task(cfg, model_dir: Path, features_dir: Path, reports_dir: Path) -> evaluate.EvalResult:
    return evaluate.run(cfg, model_dir, features_dir, reports_dir)


@stage(code=[COMPONENTS / "register.py", COMPONENTS / "registry.py", COMPONENTS / "pyfunc_model.py"],
       inputs=lambda p: [Path(p["model_dir"]), Path(p["reports_dir"]) / paths.METRICS_FILE],
       outputs=files("registration.json", under="out_dir"), config=section(), tracked=True, **IO_RETRIES)
def register_task(cfg, model_dir: Path, features_dir: Path, raw_dir: Path, validation_dir: Path, reports_dir: Path,
                  out_dir: Path) -> register.RegisterResult:
    return register.run(cfg, model_dir, features_dir, raw_dir, validation_dir, reports_dir, out_dir)


class TrainSummary(BaseModel):
    """What one training flow run produced."""

    model_name: str
    version: str
    staged: bool
    reasons: list[str]
    metrics: dict[str, float]
    run_id: str


@flow(name="training", log_prints=True)
def training_flow(params_path: str = "params.yaml", overrides: dict[str, Any] | None = None,
                  model: str | None = None) -> TrainSummary:
    """Run the whole pipeline on the params file (with optional dotted-key overrides and model family)."""
    params = load_params(params_path, {**(overrides or {}), **({"model": model} if model else {})})
    ingest_task(params.ingest, paths.RAW_DIR, params.kind)
    validate_task(params.validation, paths.RAW_DIR, paths.VALIDATION_DIR)
    features_task(params.features, paths.RAW_DIR, paths.VALIDATION_DIR, paths.FEATURES_DIR, params.task)
    trained = train_task(params, paths.FEATURES_DIR, paths.MODEL_DIR)
    scored = evaluate_task(params.evaluate, paths.MODEL_DIR, paths.FEATURES_DIR, paths.REPORTS_DIR)
    reg = register_task(params.registration, paths.MODEL_DIR, paths.FEATURES_DIR, paths.RAW_DIR,
                        paths.VALIDATION_DIR, paths.REPORTS_DIR, paths.REGISTER_DIR)
    get_run_logger().info("%s version %s %s", reg.model_name, reg.version,
                          f"-> @{reg.alias}" if reg.staged else f"not staged: {'; '.join(reg.reasons)}")
    return TrainSummary(model_name=reg.model_name, version=reg.version, staged=reg.staged, reasons=reg.reasons,
                        metrics=scored.metrics, run_id=trained.run_id)


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
    print(for_environment()(parser.parse_args().params).model_dump_json(indent=2))
