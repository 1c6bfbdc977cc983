"""monitor_flow: one drift check of a model's inference log (as `keel monitor` does); on drift it emits the
Prefect event `keel.model.drift` about the model, which the `retrain-on-drift` deployment's trigger in
prefect.yaml turns into a training run on the current data. The new version meets the family's register bar
for @staging like any other; @production moves only through `keel promote`. Run locally:

    python -m flows.monitor_flow digits-cnn [--window all]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.events import emit_event

from components.core import paths
from components.monitoring import check
from flows.retries import io_retries

DRIFT_EVENT, CHECKED_EVENT = "keel.model.drift", "keel.model.checked"


@task(name="check-drift", **io_retries())
def check_task(model: str, params_path: Path, window: str | None, log_dir: Path, out_dir: Path,
               features_dir: Path) -> check.MonitorResult:
    return check.run(model, check.config_for(model, params_path), log_dir, out_dir, features_dir, window=window)


def event_of(result: check.MonitorResult) -> dict:
    """The event a check emits: `keel.model.drift` when it drifted, else `keel.model.checked`."""
    resource = {"prefect.resource.id": f"keel.model.{result.model}", "prefect.resource.name": result.model,
                "keel.model": result.model, "keel.version": str(result.version), "keel.family": str(result.family)}
    payload = {"status": result.status, "fired": result.fired, "rows": result.rows,
               "report": str(result.report_dir) if result.report_dir else None, "report_uri": result.report_uri}
    return {"event": DRIFT_EVENT if result.drift else CHECKED_EVENT, "resource": resource, "payload": payload}


@flow(name="monitor", log_prints=True)
def monitor_flow(model: str = "digits-cnn", params_path: str = str(paths.PARAMS), window: str | None = None,
                 log_dir: str = str(paths.INFERENCE_LOG_DIR), out_dir: str = str(paths.MONITOR_DIR),
                 features_dir: str = str(paths.FEATURES_DIR)) -> check.MonitorResult:
    """Check `model`'s latest window for drift; emit the event that starts retraining when it drifted."""
    result = check_task(model, Path(params_path), window, Path(log_dir), Path(out_dir), Path(features_dir))
    logger = get_run_logger()
    logger.info(result.summary)
    if result.status != "too_small":
        emit_event(**event_of(result))
    if result.drift:
        logger.warning("%s v%s drifted (%s): %s emitted", model, result.version, ", ".join(result.fired), DRIFT_EVENT)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Check a model's inference log for drift.")
    parser.add_argument("model")
    parser.add_argument("--window", default=None, help="new | all | a duration such as 24h")
    parser.add_argument("--params", default=str(paths.PARAMS))
    a = parser.parse_args()
    print(monitor_flow(a.model, a.params, a.window).model_dump_json(indent=2, exclude={"summary"}))
