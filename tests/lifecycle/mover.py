"""A worker process for the concurrency test: moves @production of a model back and forth with
compare-and-set, as fast as it can, starting at a given wall-clock time.

    python -m tests.lifecycle.mover <model> <n_moves> <start_at_epoch> <tag> [--no-lock]

Prints one JSON line: {"moved": [...ledger ids], "conflicts": n}. --no-lock replaces the ledger mutex with
nothing (to show the test catches the race it guards against).
"""

import contextlib
import json
import random
import sys
import time
from types import SimpleNamespace

from components.lifecycle import locks, moves, registry


def main(model: str, n: int, start_at: float, tag: str, no_lock: bool) -> None:
    if no_lock:
        locks.alias_lock = lambda *a, **k: contextlib.nullcontext(SimpleNamespace(holder="none", check=lambda: None))
    versions = ["1", "2", "3", "4"]
    registry.version_by_alias(model, "production")  # warm up connections before the start line
    moves.ledger_engine()
    time.sleep(max(0.0, start_at - time.time()))
    rng = random.Random(tag)
    moved, conflicts = [], 0
    for _ in range(n):
        current = registry.version_by_alias(model, "production")
        now = current.version if current else None
        target = rng.choice([v for v in versions if v != now])
        try:
            entry = moves.move(model, "production", target, now, "force", f"stress {tag}", None, user=tag)
            moved.append(entry.id)
        except moves.ConcurrentMoveError:
            conflicts += 1
    print(json.dumps({"moved": moved, "conflicts": conflicts}))


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], int(a[1]), float(a[2]), a[3], "--no-lock" in a)
