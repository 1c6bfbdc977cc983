"""`make run` after install: `dvc repro` of the default pipeline in a fresh clone, timed per stage.

    python bench/make_run.py [--repeats 1]

Clones this checkout's HEAD (committed files only, as a fresh `git clone` has them) into a temporary folder,
then runs `dvc repro` there with this venv's binaries first on PATH (the install is cached: `make run`
after `make install`), and timestamps every line DVC prints: a stage's time runs from its `Running stage`
line to the next stage's (or the end). Each stage is its own `python -m components.stages <stage>` process,
so its time includes that process's start and imports. Prints the split per stage and `make run after
install = X s` (goal <= 45 s).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 45.0
STAGE_LINE = re.compile(r"Running stage '([^']+)'")


def timed_repro(work: Path, env: dict[str, str]) -> tuple[float, dict[str, float]]:
    """`dvc repro` in `work`: total wall seconds and seconds per stage."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(["dvc", "repro"], cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    marks: list[tuple[str, float]] = []
    tail: list[str] = []
    for line in proc.stdout:
        tail = (tail + [line])[-40:]
        if m := STAGE_LINE.search(line):
            marks.append((m.group(1), time.perf_counter() - t0))
    if proc.wait() != 0:
        raise SystemExit("dvc repro failed:\n" + "".join(tail))
    total = time.perf_counter() - t0
    ends = [t for _, t in marks[1:]] + [total]
    return total, {name: end - start for (name, start), end in zip(marks, ends, strict=True)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=1)
    args = p.parse_args()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "DO_NOT_TRACK": "true", "MLFLOW_DISABLE_TELEMETRY": "true", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
           "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="keel-make-run-") as tmp:
            work = Path(tmp) / "keel"
            subprocess.run(["git", "clone", "--quiet", str(root), str(work)], check=True)
            total, stages = timed_repro(work, env)
        print(f"run {i + 1}: " + ", ".join(f"{name} {s:.1f} s" for name, s in stages.items()))
        print(f"make run after install = {total:.1f} s (goal <= {GOAL:.0f} s: {'met' if total <= GOAL else 'NOT met'})")


if __name__ == "__main__":
    main()
