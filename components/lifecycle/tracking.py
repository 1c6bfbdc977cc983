"""The MLflow tracking helper: where runs go, and starting or resuming a stage's run.

Default store: `sqlite:///mlflow.db` in the working directory (the project root under `dvc repro`),
artifacts in `mlartifacts/` beside it. `MLFLOW_TRACKING_URI` overrides both (a server decides its own
artifact store). Nothing here runs on import. Every call to the store goes through `outages.guard`: a store
that does not answer is a TrackingUnavailableError naming it (without credentials), within seconds.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from components.core import paths
from components.core.errors import StageInputError, TrackingUnavailableError
from components.core.io import read_json, write_json
from components.lifecycle import outages, stale_runs

log = logging.getLogger(__name__)
DEFAULT_DB = "mlflow.db"
DEFAULT_ARTIFACTS = "mlartifacts"


class RunRef(BaseModel):
    """Pointer from a model folder to its MLflow run (written by train, read by later stages)."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    model_name: str


def tracking_uri() -> str:
    """`MLFLOW_TRACKING_URI`, or the embedded sqlite store in the working directory."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / DEFAULT_DB}"


def artifact_root(uri: str) -> str | None:
    """For a sqlite store, the `mlartifacts/` folder beside the database file; else None (server decides)."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).resolve().parent / DEFAULT_ARTIFACTS).as_uri()
    return None


def configure() -> str:
    """Point MLflow at the tracking store; quiet its import-time chatter. Returns the URI."""
    import mlflow

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    outages.fail_fast()
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def ensure_experiment(name: str) -> str:
    """Id of the experiment `name`, created (with the local artifact root) if missing."""
    import mlflow

    uri = configure()
    with outages.guard(uri, f"experiment {name!r}"):
        exp = mlflow.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        try:
            return mlflow.create_experiment(name, artifact_location=artifact_root(uri))
        except mlflow.exceptions.MlflowException as e:  # created concurrently by another process
            if outages.unreachable(e):
                raise
            return mlflow.get_experiment_by_name(name).experiment_id


@contextmanager
def start_run(model_name: str, run_name: str | None = None, run_id: str | None = None,
              parent_run_id: str | None = None) -> Iterator[RunRef]:
    """Start a new run in experiment `model_name`, or resume `run_id`; `parent_run_id`: nested under that
    (active) run, e.g. a tuning trial under its study's run."""
    import mlflow

    exp_id = ensure_experiment(model_name)
    with outages.guard(tracking_uri(), f"run {run_id} of {model_name!r}" if run_id else f"a run of {model_name!r}"):
        stale_runs.sweep_once(tracking_uri(), exp_id, skip=[run_id] if run_id else [])  # runs dead processes left
        owner = stale_runs.owner_tags()
        if run_id:  # owner first: start_run sets RUNNING before its tags, and a sweep in between saw a dead owner
            stale_runs.claim(run_id, owner)
        run = mlflow.start_run(run_id=run_id, experiment_id=None if run_id else exp_id, run_name=run_name,
                               nested=parent_run_id is not None, parent_run_id=parent_run_id,
                               tags=owner)  # this process owns it now (also when resumed)
        stale_runs.revive(run)
    finished = False
    try:  # only the start and the end are the store's: the body's own errors pass unchanged
        yield RunRef(run_id=run.info.run_id, experiment_id=run.info.experiment_id,
                     tracking_uri=outages.redact(tracking_uri()), model_name=model_name)
        finished = True
    finally:
        try:
            with outages.guard(tracking_uri(), f"ending run {run.info.run_id}"):
                mlflow.end_run("FINISHED" if finished else "FAILED")
        except TrackingUnavailableError:
            if finished:
                raise
            log.warning("run %s could not be marked FAILED (the store did not answer): the next Keel run in its "
                        "experiment on this host, or `keel recover-runs`, marks it FAILED", run.info.run_id)


@contextmanager
def resume_run(model_dir: Path) -> Iterator[RunRef]:
    """Resume the run that trained the model in `model_dir` (as recorded in its run.json)."""
    ref = read_run_ref(model_dir)
    if ref.tracking_uri != outages.redact(tracking_uri()):
        raise_mismatch(model_dir, ref)
    with start_run(ref.model_name, run_id=ref.run_id) as live:
        yield live


def raise_mismatch(model_dir: Path, ref: RunRef) -> None:
    """The model was trained against another tracking store: refuse rather than log to the wrong one."""
    raise StageInputError(f"{model_dir}/{paths.RUN_FILE}: trained with MLFLOW_TRACKING_URI={ref.tracking_uri}, "
                          f"but this process uses {outages.redact(tracking_uri())}; set the same store or re-run "
                          "train")


def write_run_ref(model_dir: Path, ref: RunRef) -> None:
    """Record the run in `<model_dir>/run.json`."""
    write_json(Path(model_dir) / paths.RUN_FILE, ref.model_dump())


def read_run_ref(model_dir: Path) -> RunRef:
    """Read `<model_dir>/run.json`."""
    return RunRef.model_validate(read_json(Path(model_dir) / paths.RUN_FILE))


def log_params(params: Mapping[str, Any]) -> None:
    """Log a nested mapping as flattened `a.b.c` params (MLflow values are strings of <= 6000 chars)."""
    import mlflow

    with outages.guard(tracking_uri(), "logging params"):
        mlflow.log_params({k: str(v)[:6000] for k, v in flatten(params).items()})


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Log numeric metrics (non-numbers are skipped)."""
    import mlflow

    with outages.guard(tracking_uri(), "logging metrics"):
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}, step=step)


class MetricBuffer:
    """Per-step metrics collected in memory and sent in batches (one call per second at most), so a
    thousand short epochs do not cost a thousand round trips to the tracking store."""

    def __init__(self, run_id: str, every_s: float = 1.0):
        import time

        self.run_id, self.every_s, self._clock = run_id, every_s, time.monotonic
        self._pending: list = []
        self._last = self._clock()

    def add(self, metrics: Mapping[str, Any], step: int) -> None:
        """Queue numeric metrics for `step`; flush if the last flush is older than `every_s`."""
        import time

        from mlflow.entities import Metric

        ts = int(time.time() * 1000)
        self._pending += [Metric(k, float(v), ts, step) for k, v in metrics.items() if isinstance(v, (int, float))]
        if self._clock() - self._last >= self.every_s:
            self.flush()

    def flush(self) -> None:
        """Send everything queued (MLflow takes at most 1000 metrics per batch)."""
        from mlflow import MlflowClient

        client = MlflowClient()
        with outages.guard(tracking_uri(), f"logging metrics of run {self.run_id}"):
            for i in range(0, len(self._pending), 1000):
                client.log_batch(self.run_id, metrics=self._pending[i:i + 1000])
        self._pending, self._last = [], self._clock()


def find_run(experiment: str, tags: Mapping[str, Any]) -> dict[str, Any] | None:
    """The latest finished run of `experiment` carrying all `tags`: {"run_id", "metrics"}; None if none."""
    import mlflow

    with outages.guard(configure(), f"searching runs of {experiment!r}"):
        if mlflow.get_experiment_by_name(experiment) is None:
            return None
        where = " and ".join([f"tags.`{k}` = '{v}'" for k, v in tags.items()] + ["attributes.status = 'FINISHED'"])
        runs = mlflow.search_runs(experiment_names=[experiment], filter_string=where, order_by=["start_time DESC"],
                                  max_results=1, output_format="list")
    return {"run_id": runs[0].info.run_id, "metrics": dict(runs[0].data.metrics)} if runs else None


def log_missing_steps(run_id: str, per_step: Mapping[int, Mapping[str, Any]]) -> None:
    """Log per-step metrics the run does not have yet (a killed process may not have sent its last ones)."""
    from mlflow import MlflowClient

    client, buf = MlflowClient(), MetricBuffer(run_id, every_s=float("inf"))
    keys = {k for m in per_step.values() for k in m}
    with outages.guard(tracking_uri(), f"reading metrics of run {run_id}"):
        have = {k: {m.step for m in client.get_metric_history(run_id, k)} for k in keys}
    for step, metrics in sorted(per_step.items()):
        buf.add({k: v for k, v in metrics.items() if step not in have[k]}, step=step)
    buf.flush()


def log_artifacts(files: list[Path], artifact_path: str | None = None) -> None:
    """Upload local files to the active run."""
    import mlflow

    for f in files:
        target = f"{mlflow.get_artifact_uri(artifact_path).rstrip('/')}/{Path(f).name}"
        with outages.guard(tracking_uri(), f"uploading {Path(f).name}", target=target):
            mlflow.log_artifact(str(f), artifact_path=artifact_path)


def log_split(path: Path, name: str, sha256: str, context: str = "test") -> str:
    """Attach a frozen split to the active run: the file as an artifact (`split/<file>`) and an MLflow dataset
    input (`context`, digest = its sha256 prefix); returns the artifact's runs:/ URI."""
    import mlflow
    import mlflow.data
    import pandas as pd

    path = Path(path)
    with outages.guard(tracking_uri(), f"uploading the {context} split {path.name}"):
        mlflow.log_artifact(str(path), artifact_path="split")
        dataset = mlflow.data.from_pandas(pd.read_parquet(path), source=path.resolve().as_uri(), name=name,
                                          digest=sha256[:32])
        mlflow.log_input(dataset, context=context)
        run_id = mlflow.active_run().info.run_id
    return f"runs:/{run_id}/split/{path.name}"


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set string tags on the active run."""
    import mlflow

    with outages.guard(tracking_uri(), "setting run tags"):
        mlflow.set_tags({k: str(v) for k, v in tags.items()})


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, f"{key}."))
        else:
            out[key] = v
    return out


def git_commit(cwd: Path | None = None) -> tuple[str, bool]:
    """(HEAD commit, dirty?) of tracked sources; pipeline outputs (dvc.lock, reports/) don't count.
    ("unknown", True) outside git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True,
                              check=True).stdout.strip()
        status = ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":(exclude)dvc.lock",
                  ":(exclude)reports"]
        dirty = subprocess.run(status, cwd=cwd, capture_output=True, text=True, check=True).stdout
        return head, bool(dirty.strip())
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "unknown", True


# what started this process, as the orchestrators tell their children: `dvc exp run` sets the experiment's name
# and baseline commit for its stages; a Prefect worker sets the flow run's id for the run it starts
ORIGIN_ENV = {"dvc_exp_name": "DVC_EXP_NAME", "dvc_exp_baseline": "DVC_EXP_BASELINE_REV",
              "prefect_flow_run_id": "PREFECT__FLOW_RUN_ID"}
# the flow run of a stage a flow calls in this process: set by its task (flows/tasks.py; components know no Prefect)
flow_run_origin: ContextVar[str | None] = ContextVar("keel_flow_run_origin", default=None)


@contextmanager
def in_flow_run(flow_run_id: str | None) -> Iterator[None]:
    """Within the block, `origin_tags` names `flow_run_id` (None: no flow run) as the run's Prefect flow run."""
    token = flow_run_origin.set(flow_run_id)
    try:
        yield
    finally:
        flow_run_origin.reset(token)


def origin_tags() -> dict[str, str]:
    """The DVC experiment and/or Prefect flow run this process belongs to, where the environment says so: with
    them a version made by `dvc exp run` names its experiment (its commit is made after the stages ran, so
    `git_commit` is the baseline's) and a run started by a deployment (or in a flow: `in_flow_run`) its flow run."""
    tags = {tag: os.environ[var] for tag, var in ORIGIN_ENV.items() if os.environ.get(var)}
    if "prefect_flow_run_id" not in tags and (flow_run_id := flow_run_origin.get()):
        tags["prefect_flow_run_id"] = flow_run_id
    return tags
