"""A long-running child (the Prefect worker of `keel worker`) that stops, with its flow runs, on ONE SIGTERM,
SIGINT or SIGHUP.

A process manager (systemd, supervisord, `docker stop`) sends one SIGTERM and waits. `prefect worker start`
takes the first as "stop polling, let the flow runs finish" and only a second one ends it; and Prefect 3.9's
process worker starts each flow run in a session of its own (`isolate_process_group`), so a signal to the
worker's process group never reaches them. So Keel supervises it: on a stop signal it signals the worker and
every process below it (and the process group each flow run leads); whatever is still there `grace_s` later
gets the signal again (Prefect's worker then ends at once) and, ESCALATE_S on, SIGKILL. SIGHUP (the terminal
closed) is passed on as SIGTERM. Keel then ends by the signal it got (status 128+N in a shell; a clean stop
for systemd).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
ESCALATE_S = 2.0  # after the repeated signal, before SIGKILL


def _descendants(child: subprocess.Popen) -> list:
    """Every process below `child` now (psutil.Process objects: a later signal never hits a reused pid)."""
    import psutil

    try:
        return psutil.Process(child.pid).children(recursive=True)
    except psutil.Error:  # the worker is gone already
        return []


def _signal_all(child: subprocess.Popen, procs: list, signum: int) -> None:
    """`signum` to the worker's group and to each of `procs` (and the group it leads, e.g. a flow run's)."""
    import psutil

    groups = {child.pid}
    for p in procs:
        try:
            if os.getpgid(p.pid) == p.pid and p.is_running():
                groups.add(p.pid)
            p.send_signal(signum)
        except (psutil.Error, ProcessLookupError):
            pass
    for group in groups:
        try:
            os.killpg(group, signum)
        except (ProcessLookupError, PermissionError):  # the group is gone already
            pass


def _ended(child: subprocess.Popen, procs: list, wait_s: float) -> bool:
    """Wait up to `wait_s` for the worker and `procs` to end (a zombie has ended); True if they did."""
    import psutil

    def alive(p) -> bool:
        try:
            return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    deadline = time.monotonic() + wait_s
    while True:
        if child.poll() is not None and not any(alive(p) for p in procs):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def supervise(cmd: list[str], grace_s: float) -> int:
    """Run `cmd` until it exits (its status) or a stop signal ends it (128 + the signal's number)."""
    received: list[int] = []
    started: list[subprocess.Popen] = []
    procs: list = []

    def forward(signum: int, _frame) -> None:
        received.append(signum)
        if started:  # a second signal from the user is forwarded too (Prefect: ends it at once)
            procs.extend(p for p in _descendants(started[0]) if p not in procs)
            _signal_all(started[0], procs, _passed(signum))

    previous = {s: signal.signal(s, forward) for s in STOP_SIGNALS}  # before the start: no signal is lost
    try:
        child = subprocess.Popen(cmd, start_new_session=True)  # its own group: a terminal's Ctrl-C reaches it once
        started.append(child)
        if received:  # arrived while it started
            forward(received.pop(), None)
        while not received:
            try:
                status = child.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
            if not received:  # it ended by itself (a signal may have arrived while it did: that counts)
                return status
        signum = received[0]
        for wait_s, then in ((grace_s, _passed(signum)), (ESCALATE_S, signal.SIGKILL)):
            if _ended(child, procs, wait_s):
                break
            print(f"keel: worker or its flow runs still running {wait_s:g} s after {signal.Signals(signum).name}; "
                  f"sending {signal.Signals(then).name}", file=sys.stderr, flush=True)
            procs.extend(p for p in _descendants(child) if p not in procs)
            _signal_all(child, procs, then)
        child.wait()
        _ended(child, procs, ESCALATE_S)
        return 128 + signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _passed(signum: int) -> int:
    """The signal the worker gets for `signum`: SIGHUP (a closed terminal) as SIGTERM, Prefect's stop signal."""
    return signal.SIGTERM if signum == signal.SIGHUP else signum


def exit_like(status: int) -> None:
    """Exit with `status`; a status of 128+N from a stop signal N is re-raised as that signal, so a process
    manager sees a death by SIGTERM (systemd counts it as a clean stop)."""
    signum = status - 128
    if signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # ignored only by PID 1 of a container: then the exit status says it
    raise SystemExit(status)
