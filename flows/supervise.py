"""A long-running child (the Prefect worker of `keel worker`) that stops on ONE SIGTERM or SIGINT.

A process manager (systemd, supervisord, `docker stop`) sends one SIGTERM and waits. `prefect worker start`
takes the first as "stop polling, let the flow runs finish" and only a second one ends it, so Keel runs it
in its own process group and supervises it: the signal goes to the group (worker and flow-run processes);
a child still there `grace_s` later gets it again (Prefect's worker then ends at once) and, ESCALATE_S on,
SIGKILL. Keel then ends by the same signal (status 128+N in a shell; a clean stop for systemd).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
ESCALATE_S = 2.0  # after the repeated signal, before SIGKILL


def _to_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except ProcessLookupError:  # the group is gone already
        pass


def supervise(cmd: list[str], grace_s: float) -> int:
    """Run `cmd` until it exits (its status) or a stop signal ends it (128 + the signal's number)."""
    child = subprocess.Popen(cmd, start_new_session=True)  # its own group: a terminal's Ctrl-C reaches it once
    received: list[int] = []

    def forward(signum: int, _frame) -> None:
        received.append(signum)
        _to_group(child, signum)  # a second signal from the user is forwarded too (Prefect: ends it at once)

    previous = {s: signal.signal(s, forward) for s in STOP_SIGNALS}
    try:
        while not received:
            try:
                status = child.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                continue
            if not received:  # it ended by itself (a signal may have arrived while it did: that counts)
                return status
        signum = received[0]
        for wait_s, then in ((grace_s, signum), (ESCALATE_S, signal.SIGKILL)):
            try:
                child.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                name = signal.Signals(then).name
                print(f"keel: worker still running {wait_s:g} s after {signal.Signals(signum).name}; sending {name}",
                      file=sys.stderr, flush=True)
                _to_group(child, then)
        child.wait()
        return 128 + signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def exit_like(status: int) -> None:
    """Exit with `status`; a status of 128+N from a stop signal N is re-raised as that signal, so a process
    manager sees a death by SIGTERM (systemd counts it as a clean stop)."""
    signum = status - 128
    if signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)  # ignored only by PID 1 of a container: then the exit status says it
    raise SystemExit(status)
