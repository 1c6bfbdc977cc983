"""Movers that stop at named points of an alias move, for the SIGKILL tests: each prints `AT <point> <pid>`
and waits there until it is killed. One process imports Keel once and forks one mover per point (a fresh
interpreter per point would cost seconds of imports each).

    python -m tests.faults.stopper <to_version> <from_version> <point>...

The model moved is named after the point. Points: before-alias, after-alias (the registry's alias move),
before-ledger, after-ledger (the ledger row and the intent's completion, one transaction).
"""

import os
import sys
import time

from components.lifecycle import ledger, moves, registry


def stop_at(point: str) -> None:
    """Wrap the registry's alias move or the ledger's completion so that this process stops at `point`."""
    when, what = point.split("-")
    module, name = (registry, "set_alias") if what == "alias" else (ledger, "complete")
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        if when == "before":
            pause(point)
        out = real(*args, **kwargs)
        if when == "after":
            pause(point)
        return out

    setattr(module, name, wrapper)


def pause(point: str) -> None:
    print(f"AT {point} {os.getpid()}", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    to_version, from_version, points = sys.argv[1], sys.argv[2], sys.argv[3:]
    children = []
    for point in points:  # nothing has touched a database yet: each child opens its own connections
        pid = os.fork()
        if pid == 0:
            stop_at(point)
            moves.move(point, "production", to_version, from_version, "promote", "fault test", None, user="killed")
            print(f"FINISHED {point}", flush=True)
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
