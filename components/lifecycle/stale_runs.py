"""Runs a dead Keel process left RUNNING: who owns a run, and marking the orphans FAILED.

A process killed mid-stage (or one whose tracking server was down when its stage ended) cannot end its
MLflow run, which would stay RUNNING forever. So every run Keel starts or resumes (tracking.start_run)
names its owner in tags: `keel.owner.host` (socket.gethostname()), `keel.owner.pid`, `keel.owner.boot`
(/proc/sys/kernel/random/boot_id), `keel.owner.pidns` (the inode of /proc/self/ns/pid: containers sharing a
hostname have pid namespaces of their own), `keel.owner.ticks` (the process's start in clock ticks since
boot, field 22 of /proc/<pid>/stat: unlike a wall-clock start time it does not move when NTP steps the clock)
and `keel.owner.started` (seconds since the epoch, for people). `sweep` finds the RUNNING runs owned by this
host (search_runs filtered on the status and the host tag, page by page) and marks FAILED those whose
process is gone (`gone`). Each gets the tag `keel.failure` = "process gone (...); recovered by <who> at
<time>". A live owner's run is never touched; nor a run of another host or pid namespace (its pids mean
nothing here: run `keel recover-runs` there), nor one without owner tags. tracking.start_run sweeps the
experiment it starts a run in, once per process; `keel recover-runs` sweeps every experiment of the store.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

log = logging.getLogger(__name__)
OWNER_HOST, OWNER_PID, OWNER_STARTED = "keel.owner.host", "keel.owner.pid", "keel.owner.started"
OWNER_BOOT, OWNER_PIDNS, OWNER_TICKS = "keel.owner.boot", "keel.owner.pidns", "keel.owner.ticks"
OWNER_TAGS = (OWNER_HOST, OWNER_PID, OWNER_STARTED, OWNER_BOOT, OWNER_PIDNS, OWNER_TICKS)
FAILURE_TAG = "keel.failure"
PAGE = 1000  # runs per search_runs call
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
    except psutil.Error:
        return None


def boot_id() -> str | None:
    """This boot of the kernel (a new id after each reboot); None off Linux."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def pid_namespace() -> str | None:
    """The inode of this process's pid namespace; None off Linux."""
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return None


def proc_stat(pid: int) -> tuple[str, int] | None:
    """(state, start ticks since boot) of `pid` from /proc/<pid>/stat; None if not visible (absent, hidepid)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": the name may hold spaces and parentheses
    return fields[0], int(fields[19])  # fields 3 and 22 of the line


def absent(pid: int) -> bool:
    """No process `pid` at all: signal 0 says ESRCH (EPERM: one exists, of another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def owner_tags() -> dict[str, str]:
    """The tags naming this process as a run's owner."""
    pid = os.getpid()
    tags = {OWNER_HOST: socket.gethostname(), OWNER_PID: str(pid), OWNER_STARTED: f"{started(pid):.3f}"}
    stat, boot, ns = proc_stat(pid), boot_id(), pid_namespace()
    if stat and boot and ns:
        tags |= {OWNER_BOOT: boot, OWNER_PIDNS: ns, OWNER_TICKS: str(stat[1])}
    return tags


def gone(tags: dict[str, str]) -> str | None:
    """Why the process owning a run with `tags` is gone, or None: alive, of another host or pid namespace, or
    cannot tell."""
    if tags.get(OWNER_HOST) != socket.gethostname():
        return None
    try:
        pid = int(tags[OWNER_PID])
    except (KeyError, ValueError):  # no owner tags: leave it
        return None
    if OWNER_BOOT not in tags:  # tagged before boot ids (or off Linux): only a pid that plainly is not there
        return f"pid {pid} is not running" if absent(pid) else None
    if tags.get(OWNER_PIDNS) != pid_namespace():  # another container's pids: not ours to judge
        return None
    if tags[OWNER_BOOT] != boot_id():
        return f"the host rebooted since pid {pid} started"
    stat = proc_stat(pid)
    if stat is None:  # not in /proc: gone, unless /proc hides it (hidepid) and signal 0 finds it
        return f"pid {pid} is not running" if absent(pid) else None
    if stat[0] == "Z":
        return f"pid {pid} is not running (a zombie)"
    if str(stat[1]) != tags.get(OWNER_TICKS, str(stat[1])):
        return f"pid {pid} now belongs to a process started at tick {stat[1]}, not {tags[OWNER_TICKS]}"
    return None


def claim(run_id: str, owner: dict[str, str]) -> None:
    """Tag `owner` (owner_tags()) as the owner of `run_id`, before it is resumed."""
    from mlflow import MlflowClient
    from mlflow.entities import RunTag

    MlflowClient().log_batch(run_id, tags=[RunTag(k, v) for k, v in owner.items()])


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
    skip = set(skip)
    where = f"attributes.status = 'RUNNING' and tags.`{OWNER_HOST}` = '{host}'"
    candidates, token = [], None
    while True:  # every page first: marking runs FAILED while paging would shift the pages after it
        page = client.search_runs(experiment_ids, where, max_results=PAGE, page_token=token)
        candidates += [(run, why) for run in page if run.info.run_id not in skip and (why := gone(run.data.tags))]
        if not (token := page.token):
            break
    done, who = [], recoverer()
    for run, why in candidates:
        now = client.get_run(run.info.run_id)  # resumed since the search (a live owner took it over)? leave it
        if now.info.status != "RUNNING" or _owner(now.data.tags) != _owner(run.data.tags):
            continue
        client.set_tag(run.info.run_id, FAILURE_TAG, f"process gone ({why}); recovered by {who} at {now_iso()}")
        client.set_terminated(run.info.run_id, "FAILED")
        log.warning("MLflow run %s (%s) was left RUNNING by a process that is gone (%s): marked FAILED",
                    run.info.run_id, run.info.run_name, why)
        done.append(Recovered(run_id=run.info.run_id, experiment_id=run.info.experiment_id,
                              run_name=run.info.run_name, why=why))
    return done


def _owner(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k in OWNER_TAGS}


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
