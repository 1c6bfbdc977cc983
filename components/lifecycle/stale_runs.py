"""Runs a dead Keel process left RUNNING: who owns a run, and marking the orphans FAILED.

A process killed mid-stage (or one whose tracking server was down when its stage ended) cannot end its
MLflow run, which would stay RUNNING forever. So every run Keel starts or resumes (tracking.start_run)
names its owner in tags: `keel.owner.host` (socket.gethostname()), `keel.owner.pid` and
`keel.owner.started` (the process's start time, seconds since the epoch). `sweep` finds the RUNNING runs
owned by this host (one search_runs, filtered on the status and the host tag) and marks FAILED those whose
process is gone: its pid no longer exists (or is a zombie), or belongs to a process started at another time
(the pid was reused). Each gets the tag `keel.failure` = "process gone (...); recovered by <who> at <time>".
A live owner's run is never touched, nor a run of another host (its pids mean nothing here: run
`keel recover-runs` on that host). tracking.start_run sweeps the experiment it starts a run in, once per
process; `keel recover-runs` sweeps every experiment of the store.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable

from pydantic import BaseModel

log = logging.getLogger(__name__)
OWNER_HOST, OWNER_PID, OWNER_STARTED = "keel.owner.host", "keel.owner.pid", "keel.owner.started"
FAILURE_TAG = "keel.failure"
_START_SLACK_S = 1.0  # start times are computed from boot time + ticks: equal to well under a second
_swept: set[tuple[str, str]] = set()  # (store, experiment id) already swept by this process


class Recovered(BaseModel):
    """A run marked FAILED because its process is gone."""

    run_id: str
    experiment_id: str
    run_name: str | None = None
    why: str


def started(pid: int) -> float | None:
    """Start time of process `pid` (seconds since the epoch); None if there is none, or a zombie."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc.create_time()
    except psutil.NoSuchProcess:
        return None


def owner_tags() -> dict[str, str]:
    """The tags naming this process as a run's owner."""
    return {OWNER_HOST: socket.gethostname(), OWNER_PID: str(os.getpid()), OWNER_STARTED: f"{started(os.getpid()):.3f}"}


def gone(tags: dict[str, str]) -> str | None:
    """Why the process owning a run with `tags` is gone, or None: alive, of another host, or cannot tell."""
    import psutil

    if tags.get(OWNER_HOST) != socket.gethostname():
        return None
    try:
        pid, at = int(tags[OWNER_PID]), float(tags[OWNER_STARTED])
        now = started(pid)
    except (KeyError, ValueError, psutil.Error):  # no owner tags, or the process cannot be inspected: leave it
        return None
    if now is None:
        return f"pid {pid} is not running"
    if abs(now - at) > _START_SLACK_S:
        return f"pid {pid} now belongs to a process started at {now:.0f}, not {at:.0f}"
    return None


def recoverer() -> str:
    """Who recovers: user@host:pid."""
    from components.lifecycle.locks import current_user

    return f"{current_user()}@{socket.gethostname()}:{os.getpid()}"


def sweep(client, experiment_ids: list[str], skip: Iterable[str] = ()) -> list[Recovered]:
    """Mark FAILED the RUNNING runs of `experiment_ids` whose owner on this host is gone (not `skip`)."""
    from components.lifecycle.ledger import now_iso

    if not experiment_ids:
        return []
    host = socket.gethostname().replace("'", "\\'")
    where = f"attributes.status = 'RUNNING' and tags.`{OWNER_HOST}` = '{host}'"
    done, who, skip = [], recoverer(), set(skip)
    for run in client.search_runs(experiment_ids, where, max_results=5000):
        why = None if run.info.run_id in skip else gone(run.data.tags)
        if why is None:
            continue
        client.set_tag(run.info.run_id, FAILURE_TAG, f"process gone ({why}); recovered by {who} at {now_iso()}")
        client.set_terminated(run.info.run_id, "FAILED")
        log.warning("MLflow run %s (%s) was left RUNNING by a process that is gone (%s): marked FAILED",
                    run.info.run_id, run.info.run_name, why)
        done.append(Recovered(run_id=run.info.run_id, experiment_id=run.info.experiment_id,
                              run_name=run.info.run_name, why=why))
    return done


def revive(run) -> None:
    """A resumed run that was recovered while its process was away lives again: its `keel.failure` goes
    (to `keel.failure.before`, so the history stays)."""
    why = run.data.tags.get(FAILURE_TAG)
    if why:
        from mlflow import MlflowClient

        client = MlflowClient()
        client.set_tag(run.info.run_id, f"{FAILURE_TAG}.before", why)
        client.delete_tag(run.info.run_id, FAILURE_TAG)


def sweep_once(uri: str, experiment_id: str, skip: Iterable[str] = ()) -> list[Recovered]:
    """`sweep` one experiment, the first time this process starts a run in it (the caller guards the store)."""
    from mlflow import MlflowClient

    from components.lifecycle.outages import unreachable

    if (uri, experiment_id) in _swept:
        return []
    try:
        found = sweep(MlflowClient(), [experiment_id], skip)
    except Exception as e:  # the run starts anyway: a failed recovery is a warning (`keel recover-runs` retries)
        if unreachable(e):
            raise
        log.warning("runs left RUNNING by dead processes were not checked: %s", e)
        return []
    _swept.add((uri, experiment_id))
    return found


def sweep_store(experiments: list[str] | None = None) -> list[Recovered]:
    """`sweep` the named experiments of the configured store (default: all of them); `keel recover-runs`."""
    import mlflow
    from mlflow import MlflowClient

    from components.core.errors import RegistryError
    from components.lifecycle import outages, tracking

    uri, client = tracking.configure(), MlflowClient()
    with outages.guard(uri, "recovering runs of dead processes"):
        if experiments:
            found = {n: client.get_experiment_by_name(n) for n in experiments}
            if missing := sorted(n for n, e in found.items() if e is None):
                raise RegistryError(f"no experiment named {', '.join(map(repr, missing))} in {outages.redact(uri)}")
            ids = [e.experiment_id for e in found.values()]
        else:
            ids = [e.experiment_id for e in mlflow.search_experiments()]  # every page
        return sweep(client, ids)
