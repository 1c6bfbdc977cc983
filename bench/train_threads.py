"""Why in-process training can crawl on a busy machine: torch's OpenMP intra-op threads spin-wait between
parallel regions, so when the cores are oversubscribed (other work, or Prefect's server process beside the
trainer) the digits CNN's small ops wait for descheduled spinning threads.

    python bench/train_threads.py [--epochs 1] [--no-flow]

For each OpenMP wait policy (the default, active, and PASSIVE; set before torch is imported, so each in a
fresh process) one epoch of the default digits CNN is timed (wall and CPU seconds of the process) with
torch's default thread count and with 1 thread: directly, and inside a Prefect task of a flow on the
temporary server (`--no-flow`: directly only). Prints one line per case and the ratios
`2 threads / 1 thread` (wall) per policy. Run it on a quiet machine and on a loaded one: the default policy's
ratio is what moves.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
import torch
from bench.train_vs_raw import digits_tensors
from components.config.sections import TrainConfig
from components.models.cnn import CnnConfig, ConvNet
from components.training.loop import set_seeds, train_loop

epochs, with_flow = int(sys.argv[1]), sys.argv[2] == "1"
train, val = digits_tensors()
cfg = TrainConfig(epochs=epochs, patience=epochs + 1, batch_size=32, progress=False)
default = torch.get_num_threads()


def once(threads):
    torch.set_num_threads(threads)
    set_seeds(0)
    model = ConvNet(CnnConfig(), (1, 8, 8), 10)
    t0, c0 = time.perf_counter(), time.process_time()
    train_loop(model, train, val, cfg, torch.device("cpu"))
    out = {"threads": threads, "wall_s": round(time.perf_counter() - t0, 3),
           "cpu_s": round(time.process_time() - c0, 3)}
    torch.set_num_threads(default)
    return out


once(1)  # warm-up: lazy imports, allocator
out = {"direct": [once(default), once(1)]}
if with_flow:
    from prefect import flow, task
    from prefect.testing.utilities import prefect_test_harness

    in_task = task(once)
    with prefect_test_harness(server_startup_timeout=600):
        out["flow_task"] = flow(lambda: [in_task(default), in_task(1)], name="threads")()
print("RESULT " + json.dumps(out))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--no-flow", action="store_true")
    args = p.parse_args()
    root = Path(__file__).resolve().parents[1]
    results = {}
    for policy in ("default", "ACTIVE", "PASSIVE"):
        env = {**os.environ, "PYTHONPATH": str(root), "PREFECT_LOGGING_LEVEL": "WARNING"}
        env.pop("OMP_WAIT_POLICY", None)
        if policy != "default":
            env["OMP_WAIT_POLICY"] = policy
        t = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", CHILD, str(args.epochs), "0" if args.no_flow else "1"],
                              cwd=root, env=env, capture_output=True, text=True)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if done.returncode or line is None:
            sys.exit(f"{policy}: child failed ({done.returncode}):\n{done.stderr[-3000:]}")
        results[policy] = json.loads(line[len("RESULT "):]) | {"process_s": round(time.perf_counter() - t, 1)}
        for where, (many, one) in ((k, v) for k, v in results[policy].items() if isinstance(v, list)):
            print(f"{policy:>8} {where:<10} {many['threads']} threads: {many['wall_s']:8.2f} s wall "
                  f"{many['cpu_s']:7.2f} s CPU | 1 thread: {one['wall_s']:7.2f} s wall {one['cpu_s']:6.2f} s CPU | "
                  f"{many['threads']} threads / 1 thread = {many['wall_s'] / one['wall_s']:.2f}")
    out = root / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_threads.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
