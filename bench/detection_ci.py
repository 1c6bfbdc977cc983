"""Detection evaluate's bootstrap CIs: COCOeval per resample (what evaluate did) vs matched once and
re-accumulated per resample (`coco_eval.RowScorer`, what it does now), on a trained project's test split.

    python bench/detection_ci.py <project> [--samples 200] [--slow-samples 5]

`<project>`: a project after `dvc exp run -S model=detection` (its data/features and models/train). The slow
path is timed on `--slow-samples` resamples and extrapolated to `--samples`; the fast path runs them all.
Prints CPU and wall seconds, the load average and both CIs' first resamples' agreement; writes
bench/results/detection_ci.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.explain_cost import timed  # noqa: E402  (value, wall s, CPU s)


def main() -> None:
    from components.core import paths
    from components.data.artifacts import load_split
    from components.inference.checkpoint import load_checkpoint
    from components.inference.predict import predict, task_of
    from components.problems.intervals import bootstrap_ci

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("project", type=Path)
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--slow-samples", type=int, default=5)
    args = p.parse_args()
    load_before = os.getloadavg()
    ckpt = load_checkpoint(args.project / paths.MODEL_DIR / paths.CHECKPOINT_FILE)
    test = load_split(args.project / paths.FEATURES_DIR, "test")
    task = task_of(ckpt)
    preds, pw, pc = timed(lambda: predict(ckpt, test))
    score, sw, sc = timed(lambda: task.score(ckpt.transform, test, preds))
    fast, fw, fc = timed(lambda: bootstrap_ci(task, ckpt.transform, test, preds, args.samples))
    few_fast = bootstrap_ci(task, ckpt.transform, test, preds, args.slow_samples)
    few_slow, lw, lc = timed(lambda: bootstrap_ci(replace(task, rows_scorer=None), ckpt.transform, test, preds,
                                                  args.slow_samples))
    per = {"wall": lw / args.slow_samples, "cpu": lc / args.slow_samples}
    result = {"n_test": len(test), "samples": args.samples, "point": score,
              "predict_s": {"wall": pw, "cpu": pc}, "one_cocoeval_s": {"wall": sw, "cpu": sc},
              "fast_s": {"wall": fw, "cpu": fc},
              "slow_s_extrapolated": {"wall": per["wall"] * args.samples, "cpu": per["cpu"] * args.samples},
              "slow_per_resample_s": per, "ci95_fast": fast,
              "same_ci_on_slow_samples": all(abs(a - b) < 1e-9 for m in few_slow
                                             for a, b in zip(few_slow[m], few_fast[m], strict=True)),
              "load_avg_1_5_15": {"before": load_before, "after": os.getloadavg()}}
    print(f"load average (1, 5, 15 min): before {load_before}, after {result['load_avg_1_5_15']['after']}")
    print(f"{len(test)} test images, point {score}; one COCOeval {sc:.2f} CPU s")
    print(f"bootstrap CIs, {args.samples} resamples: matched once {fc:.2f} CPU s ({fw:.2f} s wall) vs COCOeval per "
          f"resample {result['slow_s_extrapolated']['cpu']:.0f} CPU s (extrapolated from {args.slow_samples}: "
          f"{per['cpu']:.2f} CPU s each); ratio {result['slow_s_extrapolated']['cpu'] / fc:.0f}x; "
          f"equal CIs on {args.slow_samples} resamples: {result['same_ci_on_slow_samples']}")
    out = ROOT / "bench/results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "detection_ci.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
