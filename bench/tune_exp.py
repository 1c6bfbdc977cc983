"""What saving each `keel tune` trial as a DVC experiment costs: the same study (same seed, so the same sampled
values and the same training) run in a git + DVC copy of this repo (trials saved as experiments: dvclive files
plus one commit each) and in a plain folder (MLflow only), interleaved per round. Also times
`dvc exp show --json` over the saved trials.

    python bench/tune_exp.py [--trials 4] [--epochs 2] [--rounds 3]

Prints the per-trial wall and CPU seconds of each, the experiment's own share (components.tuning.experiments
.save_trial, timed inside the run) and the ratio with/without (goal: <= 1.05).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY = {"train.progress": False, "train.cnn.channels": [4, 8], "train.cnn.hidden": 16}


def timed_saves() -> list[float]:
    """Wrap save_trial so each call's wall seconds are recorded."""
    from components.tuning import experiments

    spent: list[float] = []
    original = experiments.save_trial

    def wrapper(*a, **kw):
        t = time.perf_counter()
        try:
            return original(*a, **kw)
        finally:
            spent.append(time.perf_counter() - t)

    experiments.save_trial = wrapper
    return spent


def main(trials: int, epochs: int, rounds: int) -> None:
    import os

    from components.config.params import load_params
    from components.core import paths
    from components.tuning.data import prepare
    from components.tuning.tune import tune
    from tests.helpers import make_repo_copy, write_params

    spent = timed_saves()
    with tempfile.TemporaryDirectory(prefix="keel-bench-tune-") as tmp:
        tmp = Path(tmp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
        params = write_params(tmp / "params.yaml", TINY)
        features = prepare(load_params(params), tmp / "prepared")
        repo, plain = make_repo_copy(tmp / "repo"), tmp / "plain"
        shutil.copy(params, repo / "params.yaml")
        subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qam", "tiny"], cwd=repo,
                       check=True)
        for root in (repo, plain):
            shutil.copytree(features.parents[1], root / paths.TUNE_STATE_DIR / features.parents[1].name)
        for root in (repo, plain):  # imports and first-call costs (dvclive, DVC's -S parser), then not timed
            tune(root / "params.yaml" if root == repo else params, "cnn", 1, {"train.epochs": 1},
                 study_name="warmup", root=root)
        spent.clear()
        per: dict[str, list[tuple[float, float]]] = {"dvc": [], "plain": []}
        for r in range(rounds):
            for label, root in (("dvc", repo), ("plain", plain))[::1 if r % 2 == 0 else -1]:  # alternate the order
                wall, cpu = time.perf_counter(), time.process_time()
                tune(root / "params.yaml" if root == repo else params, "cnn", trials, {"train.epochs": epochs},
                     study_name=f"round{r}", root=root)
                per[label].append(((time.perf_counter() - wall) / trials, (time.process_time() - cpu) / trials))
        wall = time.perf_counter()
        dvc = str(Path(sys.executable).parent / "dvc")
        shown = subprocess.run([dvc, "exp", "show", "--json"], cwd=repo, capture_output=True, check=True)
        show_s = time.perf_counter() - wall
    for label, xs in per.items():
        print(f"{label:5s}: {statistics.median(w for w, _ in xs):.2f} s wall, "
              f"{statistics.median(c for _, c in xs):.2f} s CPU per trial (median of {rounds} rounds)")
    ratio = statistics.median(w for w, _ in per["dvc"]) / statistics.median(w for w, _ in per["plain"])
    print(f"save_trial: median {statistics.median(spent):.3f} s, max {max(spent):.3f} s ({len(spent)} trials)")
    print(f"with / without DVC experiments, wall per trial: {ratio:.2f}x (goal <= 1.05)")
    print(f"dvc exp show --json over {len(spent)} trials: {show_s:.2f} s ({len(shown.stdout) // 1024} KiB)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    main(a.trials, a.epochs, a.rounds)
