"""What the dead-owner sweep (components/lifecycle/stale_runs.py) adds to the start of a Keel run: one
search_runs filtered on status and host, in a store that already holds many runs, against a plain
`mlflow.start_run` + `end_run` in the same store. Prints milliseconds (median) and the ratio.

    python bench/stale_runs.py [--runs 1000] [--running 20] [--repeats 7]

`--runs` finished runs and `--running` RUNNING runs of live owners (this process: they must not be touched)
are created first in a temporary sqlite store; none is recovered, so the sweep's cost is the search alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)  # docs/lifecycle.md quotes this
    ap.add_argument("--running", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="keel-bench-") as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        import mlflow
        from mlflow import MlflowClient

        from components.lifecycle import stale_runs, tracking

        exp = tracking.ensure_experiment("bench")
        client, owner = MlflowClient(), stale_runs.owner_tags()
        for i in range(args.runs + args.running):
            run = client.create_run(exp, tags=owner | {"i": str(i)})
            if i < args.runs:
                client.set_terminated(run.info.run_id, "FINISHED")
        sweep, plain = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            assert stale_runs.sweep(client, [exp]) == []
            sweep.append(time.perf_counter() - t)
            t = time.perf_counter()
            mlflow.start_run(experiment_id=exp)
            mlflow.end_run()
            plain.append(time.perf_counter() - t)
    s, p = statistics.median(sweep) * 1e3, statistics.median(plain) * 1e3
    print(f"store: {args.runs} finished + {args.running} running runs of this host")
    print(f"sweep (search_runs on status + host): {s:.1f} ms; plain start_run+end_run: {p:.1f} ms; "
          f"sweep / plain = {s / p:.2f}")


if __name__ == "__main__":
    main()
