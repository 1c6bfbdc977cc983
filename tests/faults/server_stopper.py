"""Keel commands that stop at a named point while the tracking server is up, for the server-kill tests: each
prints `AT <point> <pid>` and waits there until the file `go` appears in its project; the test kills the
`mlflow server` in between, so the command goes on against a dead server. One process imports Keel once
and forks one command per point (a fresh interpreter per point would cost seconds of imports each).

    python -m tests.faults.server_stopper <point>=<project dir> ...

Points (the command, and where it stops):
    train     `python -m components.stages train`, in the second epoch's hook (the first epoch's state is
              saved), which then sends its metrics: mid-training
    register  `python -m components.stages register`, after the version is created, before its files
    promote   `keel promote`, after the gate and the ledger's intent, before the alias moves
Each child's output goes to `<project>/keel-<point>.log`; its exit status is the command's.
"""

import os
import sys
import time
from pathlib import Path

from components.lifecycle import registry
from components.stages import train
from components.stages.__main__ import main as stages
from flows.cli import app

COMMANDS = {
    "train": lambda: stages(["train", "--resume-dir", ".resume"]),
    "register": lambda: stages(["register"]),
    "promote": lambda: app(["promote", "digits-cnn"], standalone_mode=False),
}


def stop_second_epoch(report) -> None:
    real, calls = train.Hooks.on_epoch, []

    def on_epoch(self, stats, improved):
        calls.append(stats)
        if len(calls) == 2:
            pause("train", report)
            self.metrics.every_s = 0  # send this epoch's metrics now, to the dead server
        return real(self, stats, improved)

    train.Hooks.on_epoch = on_epoch


def stop_at(point: str, report) -> None:
    """Wrap the call `point` stops at (once: the first call only)."""
    if point == "train":
        return stop_second_epoch(report)
    module, name, when = {"register": (registry, "register_version", "after"),
                          "promote": (registry, "set_alias", "before")}[point]
    real = getattr(module, name)
    stopped = []

    def wrapper(*args, **kwargs):
        if when == "before" and not stopped:
            stopped.append(pause(point, report))
        out = real(*args, **kwargs)
        if when == "after" and not stopped:
            stopped.append(pause(point, report))
        return out

    setattr(module, name, wrapper)


def pause(point: str, report) -> None:
    report.write(f"AT {point} {os.getpid()}\n")
    report.flush()
    while not Path("go").exists():
        time.sleep(0.05)


def run(point: str, project: str) -> int:
    os.chdir(project)
    report = os.fdopen(os.dup(1), "w")
    log = os.open(f"keel-{point}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    stop_at(point, report)
    try:
        code = COMMANDS[point]()
    except SystemExit as e:
        code = e.code
    except Exception as e:  # noqa: BLE001 - a raw exception is what the test must see, not hide
        import traceback

        traceback.print_exc()
        code = f"raised {type(e).__name__}"
    sys.stdout.flush()
    sys.stderr.flush()
    report.write(f"EXIT {point} {code if isinstance(code, str) else int(code or 0)}\n")
    report.flush()
    return 0


if __name__ == "__main__":
    children = []
    for arg in sys.argv[1:]:  # nothing has touched a server or database yet: each child opens its own
        point, project = arg.split("=", 1)
        pid = os.fork()
        if pid == 0:
            os._exit(run(point, project))
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
